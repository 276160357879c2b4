// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark baseline for relay.bpf.c: the same parse, circuit lookup, FIB
 * lookup and redirect, but no crypto and no copy of the cell.  The cid is
 * relabelled and the outer addresses and ports rewritten in place, checksums
 * patched incrementally.  What this costs per cell is the floor under the
 * relay; the difference is the price of the layer transform.
 *
 * Same maps and configuration as the relay (maquis_common.h); of a hop only
 * cid_out and next are used, both directions alike.  A family change between
 * links needs the relay's header rebuild, so such cells are passed here.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "maquis_common.h"
#include "maq_maps.bpf.h"
#include "xdp_pkt.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int maq_xdp_fwd(struct xdp_md *ctx)
{
	struct maq_circuit_key key = {};
	struct bpf_fib_lookup fib;
	struct maq_xdp_config *cfg;
	__be32 from[10], to[10];
	void *data, *end;
	struct maq_eth *eth;
	struct maq_udp *udp;
	struct maq_xdp_hop *hop;
	struct maq_pkt pk;
	__be32 *cid;
	__u32 zero = 0;
	int n;
	long c;

	cfg = bpf_map_lookup_elem(&maq_config, &zero);
	if (!cfg || !cfg->port)
		goto pass;
	switch (maq_parse(ctx, cfg->port, &pk)) {
	case MAQ_PARSE_CELL:
		break;
	case MAQ_PARSE_MALFORMED:
		maq_stat(MAQ_STAT_MALFORMED);
		return XDP_DROP;
	default:
		goto pass;
	}

	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if (pk.hlen != MAQ_HLEN4 && pk.hlen != MAQ_HLEN6)
		goto pass;
	if (data + pk.hlen + sizeof(*cid) > end)
		goto pass;
	cid = data + pk.hlen;
	udp = data + pk.hlen - sizeof(*udp);

	key.cid = bpf_ntohl(*cid);
	if (!key.cid) {
		maq_stat(MAQ_STAT_PASS_CTL);
		return XDP_PASS;
	}
	hop = bpf_map_lookup_elem(&maq_circuits, &key);
	if (!hop) {
		maq_stat(MAQ_STAT_UNKNOWN_CID);
		return XDP_PASS;
	}
	if (hop->next.family != pk.family)
		goto pass;
	maq_stat(MAQ_STAT_CELLS_IN);
	maq_stat_add(MAQ_STAT_BYTES_IN, pk.flen);
	if (maq_route(ctx, cfg, &hop->next, &fib)) {
		maq_stat(MAQ_STAT_NO_ROUTE);
		return XDP_PASS;
	}

	/* Old and new values of every word the UDP checksum covers. */
	from[0] = *cid;
	to[0] = bpf_htonl(hop->cid_out);
	from[1] = *(__be32 *)udp;
	udp->sport = cfg->port;
	udp->dport = hop->next.port;
	to[1] = *(__be32 *)udp;
	*cid = to[0];
	if (pk.family == MAQ_AF_INET) {
		struct maq_ip4 *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end)
			goto pass;
		from[2] = ip->saddr;
		from[3] = ip->daddr;
		ip->saddr = fib.ipv4_src;
		ip->daddr = hop->next.addr.v4;
		to[2] = ip->saddr;
		to[3] = ip->daddr;
		ip->ttl = MAQ_TTL;
		ip->csum = 0;
		ip->csum = maq_csum_fold(maq_csum_words(ip, 10));
		n = 4;
	} else {
		struct maq_ip6 *ip6 = (void *)(eth + 1);
		int i;

		if ((void *)(ip6 + 1) > end)
			goto pass;
		for (i = 0; i < 4; i++) {
			from[2 + i] = ip6->saddr[i];
			from[6 + i] = ip6->daddr[i];
			ip6->saddr[i] = fib.ipv6_src[i];
			ip6->daddr[i] = hop->next.addr.v6[i];
			to[2 + i] = ip6->saddr[i];
			to[6 + i] = ip6->daddr[i];
		}
		ip6->hlim = MAQ_TTL;
		n = 10;
	}
	/* IPv4 may carry no UDP checksum; then there is nothing to patch. */
	if (udp->csum || pk.family == MAQ_AF_INET6) {
		c = bpf_csum_diff(from, n * 4, to, n * 4, (__u16)~udp->csum);
		if (c < 0)
			goto error;
		udp->csum = maq_csum_fold((__u32)c) ?: 0xffff;
	}
	__builtin_memcpy(eth->dst, fib.dmac, 6);
	__builtin_memcpy(eth->src, fib.smac, 6);

	maq_stat(MAQ_STAT_CELLS_OUT);
	maq_stat_add(MAQ_STAT_BYTES_OUT, pk.flen);
	return maq_xmit(ctx, fib.ifindex, &maq_tx_ports);

error:
	maq_stat(MAQ_STAT_ERROR);
	return XDP_ABORTED;
pass:
	maq_stat(MAQ_STAT_PASS);
	return XDP_PASS;
}
