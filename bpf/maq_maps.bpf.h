/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The maps of maquis_common.h, as BPF definitions.  Every XDP object gets its
 * own instances; a loader that wants two objects to share state reuses the
 * fds (bpf_map__reuse_fd) or pins them.
 */
#ifndef _MAQ_MAPS_BPF_H
#define _MAQ_MAPS_BPF_H

/* Not in relay_kfunc.bpf.c, which works on the module's circuit table. */
#ifndef MAQ_NO_CIRCUIT_MAP
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAQ_XDP_MAX_CIRCUITS);
	__type(key, struct maq_circuit_key);
	__type(value, struct maq_xdp_hop);
} maq_circuits SEC(".maps");
#endif

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAQ_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} maq_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct maq_xdp_config);
} maq_config SEC(".maps");

/*
 * Egress devices for bpf_redirect_map(), keyed by ifindex.  An egress device
 * missing here still works through bpf_redirect(); listing it buys the
 * devmap's bulk flushing.
 */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} maq_tx_ports SEC(".maps");

static __always_inline void maq_stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&maq_stats, &idx);

	if (v)
		*v += n;
}

static __always_inline void maq_stat(__u32 idx)
{
	maq_stat_add(idx, 1);
}

#endif /* _MAQ_MAPS_BPF_H */
