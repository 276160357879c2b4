/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * The kfuncs maquis.ko offers XDP programs (kmod/xdp.c): the relay step of
 * the module's own datapath, on its circuit table, with the kernel's SIMD
 * ChaCha20 and Poly1305.  bpf/relay_kfunc.bpf.c is their user; docs/DESIGN.md,
 * "One source of truth for circuit state", says why.
 *
 *   int bpf_maquis_xdp_lookup(struct xdp_md *ctx, __u32 cell_off,
 *                             __u32 ifindex, struct maq_xdp_step *step,
 *                             __u32 step__sz);
 *   int bpf_maquis_xdp_relay(struct xdp_md *ctx, __u32 cell_off,
 *                            __u32 ifindex, struct maq_xdp_step *step,
 *                            __u32 step__sz);
 *
 * @cell_off: where the cell (MAQ_CELL_SIZE bytes) starts in the frame, right
 *	behind its UDP header; the program has checked the frame's shape
 *	and lengths.  A cell outside the linear part is passed.
 * @ifindex: the maquis device whose circuits apply, an ifindex of the
 *	receiving interface's namespace.  Its sockets must live there (it was
 *	created there) and be bound to the cell's UDP destination port, so
 *	that the kfuncs take exactly the cells the socket would get.  A device
 *	moved into another namespace is served by the socket path only.
 * @step, @step__sz: sizeof(struct maq_xdp_step), on the program's stack.
 *
 * Return values: enum maq_xdp_verdict, or -EINVAL for a short @step__sz or
 * a @cell_off below MAQ_SHIFT (nothing happened then either).  PASS always
 * means that neither the frame nor any state or counter changed, so the
 * socket path sees the cell as if XDP were not there.
 *
 * lookup() changes nothing.  FORWARD: the cell is for a relay circuit of the
 * device; @step holds the next hop (family, addr, port, dir).  PASS: cid 0,
 * unknown cid, an origin's or terminus's cell, no such device.
 *
 * relay(), with @step as lookup() left it, once the program knows it can
 * route to that next hop: the whole relay step (replay window, key slot by
 * phase, control key, counters of the circuit and the device, events).
 * FORWARD: the outgoing cell, byte for byte what the socket path would send,
 * is MAQ_CELL_SIZE bytes at step->cell_off (@cell_off - MAQ_SHIFT forward,
 * @cell_off backward; the rest of the frame is garbage), step->csum its
 * 32-bit one's complement sum (csum_partial) for the UDP checksum; it is
 * counted as sent.  DROP: step->drop is the enum maquis_drop, counted.
 * PASS: a control cell for this hop (the socket path hands it to the
 * daemon), or the circuit's next hop is no longer the one in @step.
 */
#ifndef _MAQUIS_XDP_H
#define _MAQUIS_XDP_H

#include "wire.h"

enum maq_xdp_verdict {
	MAQ_XDP_PASS,
	MAQ_XDP_FORWARD,
	MAQ_XDP_DROP,
};

struct maq_xdp_step {
	/* lookup() fills, relay() checks: where the cell goes */
	__u8 family;		/* AF_INET (2) or AF_INET6 (10) */
	__u8 dir;		/* enum maquis_dir the cell travels in */
	__be16 port;
	__be32 addr[4];		/* IPv4 in addr[0] */
	/* relay() fills */
	__u32 cell_off;		/* FORWARD: the outgoing cell */
	__u32 csum;		/* FORWARD: its one's complement sum */
	__u32 drop;		/* DROP: enum maquis_drop */
	__u32 pad;
};

#endif /* _MAQUIS_XDP_H */
