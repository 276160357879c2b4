/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by bench.bpf.c and xdp_rate.c: the feeder's frame store and
 * parameters (see bench.bpf.c for what they mean).
 */
#ifndef _MAQ_BENCH_H
#define _MAQ_BENCH_H

/* IPv4 frames only: Ethernet + IPv4 + UDP + one cell. */
#define BENCH_FRAME_LEN		(14 + 20 + 8 + MAQ_CELL_SIZE)	/* 1478 */
#define BENCH_CID_OFF		(14 + 20 + 8)
#define BENCH_FRAME_MAX		1536
/* Pre-sealed frames: counters base .. base + BENCH_NFRAMES - 1. */
#define BENCH_NFRAMES		1024

struct bench_frame {
	__u8 data[BENCH_FRAME_MAX];
};

struct bench_params {
	__u64 limit;		/* runs that get a frame; the rest drop */
	__u64 nframes;		/* frames in bench_frames to use */
	__u64 ncirc;		/* circuits installed: cid_base .. + ncirc - 1 */
	__u64 burst;		/* consecutive cells per circuit */
	__u64 stride;		/* coprime with ncirc: visiting order */
	__u64 cid_base;
	__u64 wrap;		/* reuse frames: for programs without a window */
	__u64 first;		/* frames first ..: the ones before were
				 * taken by an earlier run on the same replay
				 * windows (the module's table) */
};

#endif /* _MAQ_BENCH_H */
