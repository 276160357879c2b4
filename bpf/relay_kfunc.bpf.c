// SPDX-License-Identifier: GPL-2.0
/*
 * maquis XDP relay for hosts with maquis.ko: the relay step is the module's
 * own, through its kfuncs (kmod/xdp.c, include/maquis/xdp.h), on its circuit
 * table and with the kernel's SIMD ChaCha20 and Poly1305.  This program only
 * parses the frame, routes and writes the outer headers, with the code
 * relay.bpf.c uses for that (xdp_pkt.bpf.h).  A hop installed over netlink is
 * served here at once and stops being served at once (docs/DESIGN.md, "One
 * source of truth"); circuit and device counters are the module's (`maquis
 * stats` shows cells relayed here too), maq_stats only says what XDP did.
 *
 * The loader writes struct maq_xdp_config with dev_ifindex, the maquis
 * device whose circuits apply.  Verdicts, and what maq_stats counts:
 *
 *   not a cell of the fast-path shape (see maq_parse)     PASS   pass
 *   UDP to our port, length not MAQ_CELL_SIZE             PASS   malformed
 *   not a relay circuit's cell (lookup says PASS)         PASS   unknown_cid
 *   FIB lookup fails (no route, no neighbour yet, ...)    PASS   no_route
 *   a control cell for this hop, or the circuit changed   PASS   pass_ctl
 *   dropped by the module (bad tag, replay, key limit,    DROP   its reason
 *   over the device's relay-rate)
 *   relayed                                               TX / REDIRECT
 *   a kfunc refused its arguments                         PASS   error
 *   a helper failed after the relay step                  ABORTED error
 *
 * PASS hands the frame over untouched and the module's state unchanged, so
 * the socket path processes (and counts) it as if XDP were not there; that
 * is why the route is looked up between the kfuncs' lookup and relay steps.
 * Malformed cells are passed too, for the module to count.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAQ_NO_CIRCUIT_MAP
#include "maquis_common.h"
#include "maq_maps.bpf.h"
#include "xdp_pkt.bpf.h"
#include <maquis/xdp.h>

char LICENSE[] SEC("license") = "GPL";

extern int bpf_maquis_xdp_lookup(struct xdp_md *ctx, __u32 cell_off,
				 __u32 ifindex, struct maq_xdp_step *step,
				 __u32 step__sz) __ksym;
extern int bpf_maquis_xdp_relay(struct xdp_md *ctx, __u32 cell_off,
				__u32 ifindex, struct maq_xdp_step *step,
				__u32 step__sz) __ksym;

SEC("xdp")
int maq_relay_kfunc(struct xdp_md *ctx)
{
	struct maq_xdp_config *cfg;
	struct bpf_fib_lookup fib;
	struct maq_xdp_step st;
	struct maq_underlay to;
	struct maq_pkt pk;
	__u8 hdr[sizeof(struct maq_hdr6)];
	__u32 zero = 0, hlen;
	int ret, tail;

	cfg = bpf_map_lookup_elem(&maq_config, &zero);
	if (!cfg || !cfg->port || !cfg->dev_ifindex)
		goto pass;

	switch (maq_parse(ctx, cfg->port, &pk)) {
	case MAQ_PARSE_CELL:
		break;
	case MAQ_PARSE_MALFORMED:
		maq_stat(MAQ_STAT_MALFORMED);
		return XDP_PASS;
	default:
		goto pass;
	}

	__builtin_memset(&st, 0, sizeof(st));
	ret = bpf_maquis_xdp_lookup(ctx, pk.hlen, cfg->dev_ifindex, &st,
				    sizeof(st));
	if (ret != MAQ_XDP_FORWARD) {
		maq_stat(ret < 0 ? MAQ_STAT_ERROR : MAQ_STAT_UNKNOWN_CID);
		return XDP_PASS;
	}
	maq_stat(MAQ_STAT_CELLS_IN);
	maq_stat_add(MAQ_STAT_BYTES_IN, pk.flen);

	to.family = st.family;
	to.pad = 0;
	to.port = st.port;
	to.addr.v6[0] = st.addr[0];
	to.addr.v6[1] = st.addr[1];
	to.addr.v6[2] = st.addr[2];
	to.addr.v6[3] = st.addr[3];
	if (maq_route(ctx, cfg, &to, &fib)) {
		maq_stat(MAQ_STAT_NO_ROUTE);
		return XDP_PASS;
	}

	ret = bpf_maquis_xdp_relay(ctx, pk.hlen, cfg->dev_ifindex, &st,
				   sizeof(st));
	if (ret == MAQ_XDP_DROP) {
		maq_stat(st.drop);
		return XDP_DROP;
	}
	if (ret != MAQ_XDP_FORWARD) {
		maq_stat(ret < 0 ? MAQ_STAT_ERROR : MAQ_STAT_PASS_CTL);
		return XDP_PASS;
	}

	/* Outer headers right in front of the outgoing cell, nothing after. */
	hlen = to.family == MAQ_AF_INET ? MAQ_HLEN4 : MAQ_HLEN6;
	if (st.cell_off != hlen &&
	    bpf_xdp_adjust_head(ctx, (int)st.cell_off - (int)hlen))
		goto error;
	tail = (int)(MAQ_CELL_SIZE + st.cell_off) - (int)pk.flen;
	if (tail && bpf_xdp_adjust_tail(ctx, tail))
		goto error;
	if (maq_put_outer(ctx, hdr, &to, cfg->port, &fib, st.csum))
		goto error;
	maq_stat(MAQ_STAT_CELLS_OUT);
	maq_stat_add(MAQ_STAT_BYTES_OUT, hlen + MAQ_CELL_SIZE);
	return maq_xmit(ctx, fib.ifindex, &maq_tx_ports);

error:
	maq_stat(MAQ_STAT_ERROR);
	return XDP_ABORTED;
pass:
	maq_stat(MAQ_STAT_PASS);
	return XDP_PASS;
}
