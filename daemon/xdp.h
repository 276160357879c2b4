/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Loader for the XDP relay (bpf/relay.bpf.c, skeleton bpf/relay.skel.h) on
 * hosts without maquis.ko: docs/DESIGN.md, "One source of truth", second
 * case.  The daemon (and `maquis xdp ...`) programs pinned maps with the
 * same struct maq_circuit a module relay gets over netlink.
 *
 * Pinned layout under a root (default MAQ_XDP_PIN_ROOT):
 *
 *   <root>/maq_circuits         the hop table, one for the host
 *   <root>/maq_tx_ports         egress devmap, one for the host
 *   <root>/<ifname>/maq_config  what that interface's program is told
 *   <root>/<ifname>/maq_stats   its per-CPU counters
 *
 * bpffs takes no dot in a name: one in <ifname> (eth0.100) is a colon
 * there, and the root must not have one.
 * The hop table is shared by every interface because cids are unique per
 * host (bpf/maquis_common.h): a forward cell must meet one replay window,
 * whichever NIC it arrives on, or it could be replayed once per NIC.
 * bpffs belongs to the mount namespace, not the network namespace: hosts
 * simulated in network namespaces of one machine need one root each.
 *
 * Every function returns 0 (or a count) or -errno.  Not thread-safe.
 */
#ifndef _MAQUIS_DAEMON_XDP_H
#define _MAQUIS_DAEMON_XDP_H

#include <stdbool.h>
#include <stdint.h>

#include "nl.h"

/*
 * bpf/maquis_common.h names its map record struct maq_hop, as nl.h names
 * the netlink hop; here the BPF one is struct maq_xdp_hop.
 */
#define maq_hop maq_xdp_hop
#include "../bpf/maquis_common.h"
#undef maq_hop

#define MAQ_XDP_PIN_ROOT	"/sys/fs/bpf/maquis"

enum maq_xdp_mode {
	MAQ_XDP_MODE_AUTO,		/* native, generic if the driver refuses */
	MAQ_XDP_MODE_NATIVE,		/* XDP_FLAGS_DRV_MODE */
	MAQ_XDP_MODE_GENERIC,	/* XDP_FLAGS_SKB_MODE */
};

struct maq_xdp_opts {
	const char *pin_root;	/* NULL: MAQ_XDP_PIN_ROOT */
	uint16_t port;		/* host order; 0: MAQ_DEFAULT_PORT */
	/*
	 * Device bpf_fib_lookup() asks from: 0 is lo (the default, and then
	 * net.ipv{4,6}.conf.lo.forwarding are set to 1 in the caller's
	 * network namespace), MAQ_XDP_FIB_INGRESS the receiving device (its
	 * forwarding must be on, which routes transit traffic too).
	 */
	uint32_t fib_ifindex;
	uint32_t max_circuits;	/* 0: MAQ_XDP_MAX_CIRCUITS */
	enum maq_xdp_mode mode;
};

#define MAQ_XDP_FIB_INGRESS	UINT32_MAX

struct maq_xdp;

/*
 * Open the relay skeleton, reuse or create the pinned maps, write the
 * config, load, and attach to @ifname (in the caller's network namespace).
 * -EMEDIUMTYPE when the root is not on bpffs (in `ip netns exec`, whose
 * fresh /sys hides /sys/fs/bpf: enter the namespace with setns instead).
 * A maquis relay program already on the interface (maq_relay, or the
 * module's maq_relay_kfunc) is replaced; any other XDP program is left
 * alone (-EBUSY).  The program stays attached and the maps
 * pinned after maq_xdp_close(): a restarted daemon finds its hops again.
 */
int maq_xdp_open(const char *ifname, const struct maq_xdp_opts *opts,
		 struct maq_xdp **xp);
/*
 * A handle on what an earlier maq_xdp_open() left pinned for @ifname,
 * without loading or attaching anything: for stats and for installing
 * hops from another process.  -ENOENT when nothing is pinned.
 */
int maq_xdp_open_pinned(const char *ifname, const char *pin_root,
			struct maq_xdp **xp);
/* Releases our handles only. */
void maq_xdp_close(struct maq_xdp *x);

/* MAQ_XDP_MODE_NATIVE or MAQ_XDP_MODE_GENERIC: how it is attached. */
enum maq_xdp_mode maq_xdp_mode(const struct maq_xdp *x);
const char *maq_xdp_mode_name(enum maq_xdp_mode mode);
uint32_t maq_xdp_prog_id(const struct maq_xdp *x);

/*
 * A relay's part of a circuit (role MAQUIS_ROLE_RELAY, hops[0] with the
 * forward and backward keys in its has bits) becomes two entries:
 *
 *   fwd_cid_in  -> verify and strip, to fwd_cid_out at next,
 *                  delta hops[0].fwd_seq, key slot 0 fwd_key (and the
 *                  forward control key when present)
 *   back_cid_in -> wrap, to back_cid_out at prev,
 *                  delta hops[0].back_seq, key slot 0 back_key
 *
 * Addresses without a port get the configured port.  -EEXIST when either
 * cid is taken (nothing is changed then).  The neighbours of next and prev
 * are resolved on the way (see maq_xdp_prime()).
 */
int maq_xdp_hop_add(struct maq_xdp *x, const struct maq_circuit *c);
/* Removes both entries; -ENOENT if neither existed. */
int maq_xdp_hop_del(struct maq_xdp *x, const struct maq_circuit *c);
/* Key rotation: install @key into @slot (0/1) of the entry for @cid_in,
 * keeping its replay window.
 */
int maq_xdp_key_set(struct maq_xdp *x, uint32_t cid_in, int slot,
		    const uint8_t key[MAQ_KEY_LEN]);

/* One entry's counters and window position (no keys). */
struct maq_xdp_hop_stats {
	uint8_t dir;		/* enum maquis_dir */
	uint32_t cid_out;
	uint64_t cells, bytes, bad_tag, replay;
	uint64_t slot_cells[2];
	uint64_t replay_next;
	uint64_t last_ns;
};
int maq_xdp_hop_stats(struct maq_xdp *x, uint32_t cid_in,
		      struct maq_xdp_hop_stats *st);
/* cids of every entry in the table; returns how many (at most @max). */
int maq_xdp_hop_list(struct maq_xdp *x, uint32_t *cids, int max);

/* This interface's counters (enum maq_xdp_stat), summed over CPUs. */
int maq_xdp_stats(struct maq_xdp *x, uint64_t val[MAQ_STAT_MAX]);
/* "unknown-cid", ..., "cells-in", ...; NULL out of range. */
const char *maq_xdp_stat_name(int stat);

/*
 * The XDP program forwards only to neighbours the kernel already knows
 * (bpf_fib_lookup() fails otherwise and the cell goes to the stack, where
 * without the module nobody listens).  This asks the kernel to resolve the
 * neighbour @to is reached through (RTM_NEWNEIGH with NTF_USE), as a send
 * from a socket would.  The daemon calls it again when the no_route
 * counter moves.  Asynchronous: returns once the request is accepted.
 */
int maq_xdp_prime(const union maq_sockaddr *to);

/*
 * Detach the program from the interface (if it is a maquis relay) and unpin
 * that interface's maps; the shared maps go with the last interface.
 * maq_xdp_detach_ifname() does the same without an open handle, for
 * `maquis xdp detach`, and also cleans up after an interface that is gone.
 * The handle is closed either way.
 */
int maq_xdp_detach(struct maq_xdp *x);
int maq_xdp_detach_ifname(const char *ifname, const char *pin_root);

#endif /* _MAQUIS_DAEMON_XDP_H */
