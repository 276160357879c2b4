// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only XDP programs for xdp_rate.c.
 *
 * bench_feed: the program BPF_PROG_TEST_RUN runs.  In live-frame mode the
 * kernel fills a page pool with copies of one input frame and recycles the
 * pages without restoring their contents, so a program that rewrites the
 * frame (every relay does) sees its own output again on later runs.  For the
 * relay's forward direction that is fatal twice over: the output is not a
 * cell sealed for this hop, and the replay window accepts each counter once.
 * So the feeder writes a fresh, pre-sealed frame into the page on every run
 * and tail-calls the program under test (bench_target[0]).
 *
 * Which frame and which circuit, for run number idx (0, 1, ...):
 *
 *   g = idx / burst, w = idx % burst          bursts of `burst` cells
 *   pos = g % ncirc                           circuits take turns ...
 *   c = pos * stride % ncirc                  ... in a scrambled order
 *   frame = first + (g / ncirc) * burst + w   frame i holds counter base + i
 *   cid = cid_base + c
 *
 * Every circuit shares one key, so the pre-sealed cell of counter base + i is
 * valid on all of them (the cid is not authenticated), and each circuit sees
 * its counters in increasing order: no replay, no bad tag, ever, as long as
 * frame < nframes.  Past that (idx >= limit) the feeder drops and counts
 * `exhausted`; xdp_rate never asks for that many.  Programs without a
 * replay window (xdp_fwd, the relay's backward direction) may see a counter
 * again: with `wrap` set, frame is taken modulo nframes and there is no
 * limit.
 *
 * The copy (one frame, from a map that stays in cache) is the feeder's cost;
 * xdp_rate measures it by running the baseline both ways.
 *
 * bench_pass: a program under test that passes every frame up the stack,
 * to the UDP socket of maquis.ko's device: the module's own relay path
 * (encap_rcv, no XDP) measured with the same feeder.
 *
 * bench_sink: attached to the veth peer, where the relayed frames arrive:
 * counts and drops them (veth only delivers XDP frames to a peer that runs
 * XDP itself, in NAPI mode).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "maquis_common.h"
#include "bench.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_NFRAMES);
	__type(key, __u32);
	__type(value, struct bench_frame);
} bench_frames SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_target SEC(".maps");

/* Set by xdp_rate between runs (skeleton .bss). */
struct bench_params params;

/* Counters, read by xdp_rate. */
__u64 fed;		/* feeder runs, including exhausted ones */
__u64 exhausted;	/* runs past the supply of fresh cells */
__u64 sunk;		/* frames that arrived at the sink */

SEC("xdp")
int bench_feed(struct xdp_md *ctx)
{
	__u64 idx = fed++, g, w, pos, c, frame;
	struct bench_frame *f;
	__be32 cid;
	__u32 fi;

	if (idx >= params.limit || !params.burst || !params.ncirc)
		goto out;
	g = idx / params.burst;
	w = idx % params.burst;
	pos = g % params.ncirc;
	frame = params.first + (g / params.ncirc) * params.burst + w;
	if (params.wrap && params.nframes)
		frame %= params.nframes;
	if (frame >= params.nframes || frame >= BENCH_NFRAMES)
		goto out;
	fi = frame;
	f = bpf_map_lookup_elem(&bench_frames, &fi);
	if (!f)
		return XDP_ABORTED;
	if (bpf_xdp_store_bytes(ctx, 0, f->data, BENCH_FRAME_LEN))
		return XDP_ABORTED;
	c = pos * params.stride % params.ncirc;
	cid = bpf_htonl((__u32)(params.cid_base + c));
	if (bpf_xdp_store_bytes(ctx, BENCH_CID_OFF, &cid, sizeof(cid)))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &bench_target, 0);
	return XDP_ABORTED;
out:
	exhausted++;
	return XDP_DROP;
}

SEC("xdp")
int bench_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int bench_sink(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&sunk, 1);
	return XDP_DROP;
}
