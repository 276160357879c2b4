/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Map layouts shared by the maquis XDP programs and whoever loads them (the
 * daemon, tests).  BPF objects include vmlinux.h first; userspace gets the
 * types from the UAPI headers below.
 *
 * Byte order: addresses and ports are network order (as in struct
 * bpf_fib_lookup, so they go to the wire untouched); every other integer is
 * host order.
 *
 * Maps (names as in the object, so bpf_object__find_map_by_name() and
 * skeletons find them):
 *
 *   maq_circuits  HASH      struct maq_circuit_key -> struct maq_xdp_hop
 *   maq_stats     PERCPU_ARRAY  u32 (enum maq_xdp_stat) -> u64
 *   maq_config    ARRAY     u32 0 -> struct maq_xdp_config
 *   maq_rate      ARRAY     u32 0 -> struct maq_xdp_rate (relay.bpf.c)
 *   maq_tx_ports  DEVMAP_HASH   u32 ifindex -> u32 ifindex
 *   maq_scratch   PERCPU_ARRAY  u32 0 -> struct maq_scratch (internal)
 *
 * relay_kfunc.bpf.c (with maquis.ko) has neither maq_circuits nor
 * maq_scratch: the circuits are the module's.
 */
#ifndef _MAQUIS_COMMON_H
#define _MAQUIS_COMMON_H

#ifndef __BPF__
#include <linux/types.h>
#include <linux/bpf.h>
#endif

#include <maquis/wire.h>
#include <linux/maquis.h>

/* Same values as AF_INET/AF_INET6, which BPF programs cannot include. */
#define MAQ_AF_INET		2
#define MAQ_AF_INET6		10

#define MAQ_XDP_MAX_CIRCUITS	16384	/* default; loaders may resize */

/* Relays keep no window for backward cells: only forward ones use it. */
#define MAQ_REPLAY_WINDOW	256

/* A key slot refuses to be used for more cells than this (PROTOCOL 4). */
#define MAQ_KEY_LIMIT		(1ULL << 40)

/*
 * Circuit key.  cids are allocated by the receiving daemon and are unique per
 * host, not per interface, so the XDP program always looks up ifindex 0: a
 * cell stays on its circuit when multipath or a route change moves it to
 * another NIC.  The field is there so that a per-interface cid space can be
 * added without changing the layout; entries with ifindex != 0 are never
 * matched today.
 */
struct maq_circuit_key {
	__u32 ifindex;		/* 0 */
	__u32 cid;		/* cid of the incoming link, host order */
};

/* An underlay endpoint: where the next hop listens. */
struct maq_underlay {
	__u8 family;		/* MAQ_AF_INET or MAQ_AF_INET6 */
	__u8 pad;
	__be16 port;
	union {
		__be32 v4;
		__be32 v6[4];
	} addr;
};

/* struct maq_xdp_hop.flags */
#define MAQ_HOP_SLOT0		(1 << 0)	/* key[0] is installed */
#define MAQ_HOP_SLOT1		(1 << 1)	/* key[1] is installed */
#define MAQ_HOP_CTL		(1 << 2)	/* ctl_key is installed */

/*
 * One direction of one circuit at this relay.
 *
 * dir MAQUIS_DIR_FWD: verify and strip a layer (maq_relay_fwd), replay window
 * on; dir MAQUIS_DIR_BACK: drop 16 bytes and wrap a layer (maq_relay_back).
 * The key slot is the phase bit of the incoming seq in both directions.
 *
 * Updating an entry from userspace replaces it whole; to change keys without
 * resetting the window, read and write it with BPF_F_LOCK.  Counters updated
 * by the program between the read and the write are lost, which is harmless.
 */
struct maq_xdp_hop {
	struct bpf_spin_lock lock;	/* guards replay_*, nothing else */
	__u8 dir;			/* enum maquis_dir */
	__u8 flags;			/* MAQ_HOP_* */
	__u16 pad0;
	__u32 cid_out;			/* cid on the outgoing link */
	__u32 pad1;
	__u64 delta;			/* counter out = counter in + delta, mod 2^63 */
	struct maq_underlay next;	/* next hop in this direction */
	__u32 pad2;
	__u8 key[2][MAQ_KEY_LEN];	/* indexed by the seq phase bit */
	/*
	 * Forward hop control key (PROTOCOL 6): a forward cell that fails the
	 * data key but opens with this one is for the daemon, so it is passed
	 * up untouched instead of dropped.
	 */
	__u8 ctl_key[MAQ_KEY_LEN];

	/*
	 * Replay window (forward), as in the kernel module: replay_next =
	 * highest counter accepted + 1 (0: none yet), bit i of replay_win =
	 * counter replay_next - 1 - i was accepted; a counter 256 or more
	 * below the highest is refused.
	 */
	__u64 replay_next;
	__u64 replay_win[MAQ_REPLAY_WINDOW / 64];

	/* Counters, updated atomically by the program. */
	__u64 cells;			/* cells relayed */
	__u64 bytes;			/* their frame bytes, as received */
	__u64 bad_tag;
	__u64 replay;
	/*
	 * Cells opened (forward) or sealed (backward) with each slot: the
	 * daemon derives key-phase (a slot starts moving) and key-limit
	 * (>= 2^39) events from these; the program refuses a slot at
	 * MAQ_KEY_LIMIT.
	 */
	__u64 slot_cells[2];
	__u64 last_ns;			/* bpf_ktime_get_coarse_ns(), last relayed */
};

/*
 * Per-CPU counters, indexed by this enum.  The first six share the numbering
 * of enum maquis_drop.  Verdicts: PASS means the stack (kernel module or
 * daemon) gets the frame untouched, DROP that XDP is the last to see it.
 */
enum maq_xdp_stat {
	MAQ_STAT_UNKNOWN_CID = MAQUIS_DROP_UNKNOWN_CID, /* PASS: no entry */
	MAQ_STAT_BAD_TAG = MAQUIS_DROP_BAD_TAG,		/* DROP */
	MAQ_STAT_REPLAY = MAQUIS_DROP_REPLAY,		/* DROP */
	MAQ_STAT_MALFORMED = MAQUIS_DROP_MALFORMED,	/* DROP, see relay.bpf.c */
	MAQ_STAT_NO_ROUTE = MAQUIS_DROP_NO_ROUTE,	/* PASS: FIB lookup failed */
	MAQ_STAT_KEY_LIMIT = MAQUIS_DROP_KEY_LIMIT,	/* DROP: slot refused */
	MAQ_STAT_RATE = MAQUIS_DROP_RATE,		/* DROP: over the relay rate */
	MAQ_STAT_CELLS_IN,		/* cells of a known circuit */
	MAQ_STAT_BYTES_IN,		/* their frame bytes */
	MAQ_STAT_CELLS_OUT,		/* cells sent by XDP_TX / redirect */
	MAQ_STAT_BYTES_OUT,		/* their frame bytes */
	MAQ_STAT_PASS,			/* not for the fast path: PASS */
	MAQ_STAT_PASS_CTL,		/* cid 0 or hop control cell: PASS */
	MAQ_STAT_ERROR,			/* helper failure: ABORTED */
	MAQ_STAT_MAX,
};

/*
 * The relay rate limit of the pure variant, the module's dev-set relay-rate
 * and relay-burst (kmod/rate.c) for hosts without it: one bucket for the
 * host, shared by every interface like the hop table, as a GCRA.  A relayed
 * cell may go when max(tat, now) + cell_ns - now <= burst_ns, and then
 * moves tat there (ns of bpf_ktime_get_ns()).  The loader writes the whole
 * entry (tat 0: a full bucket) with maq_xdp_rate_fill(); the program only
 * moves tat, under the lock.
 */
struct maq_xdp_rate {
	struct bpf_spin_lock lock;	/* guards tat */
	__u32 burst;			/* bytes, as set */
	__u64 rate;			/* bytes/s, as set; 0: unlimited */
	__u64 cell_ns;			/* what one cell costs; 0: unlimited */
	__u64 burst_ns;			/* how far tat may run ahead */
	__u64 tat;			/* theoretical arrival time */
};

#ifndef __BPF__
/* The figures as kmod/rate.c derives them, for the same limit. */
static inline void maq_xdp_rate_fill(struct maq_xdp_rate *r, __u64 rate,
				     __u32 burst)
{
	__builtin_memset(r, 0, sizeof(*r));
	r->rate = rate;
	r->burst = burst;
	if (rate) {
		r->cell_ns = (__u64)MAQ_CELL_SIZE * 1000000000ULL / rate;
		r->burst_ns = (__u64)burst * 1000000000ULL / rate;
	}
}
#endif

/*
 * bpf_fib_lookup() answers only for a device with IP forwarding enabled
 * (BPF_FIB_LKUP_RET_FWD_DISABLED otherwise).  Looking up from the ingress
 * device means enabling forwarding there, which also makes the host route
 * anybody's transit traffic.  Looking up from loopback (fib_ifindex 1) only
 * needs net.ipv{4,6}.conf.lo.forwarding=1, harmless since nothing arrives
 * on lo from outside, and it is the lookup a local socket's output does
 * (input interface lo, no output interface): the recommended setting.
 */
struct maq_xdp_config {
	__be16 port;		/* maquis UDP port; 0: pass everything */
	__u16 pad;
	__u32 fib_ifindex;	/* device for bpf_fib_lookup(); 0: ingress */
	/*
	 * relay_kfunc.bpf.c only: the maquis device (an ifindex of the
	 * namespace the program runs in) whose circuits the module's kfuncs
	 * apply; 0: pass everything.  See include/maquis/xdp.h.
	 */
	__u32 dev_ifindex;
};

#endif /* _MAQUIS_COMMON_H */
