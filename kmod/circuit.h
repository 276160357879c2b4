/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _MAQ_CIRCUIT_H
#define _MAQ_CIRCUIT_H

#include <linux/bitops.h>
#include <linux/rhashtable-types.h>
#include <linux/spinlock.h>

#include <maquis/wire.h>

#include "device.h"

/* Data counters and bases stay below this; control counters are above. */
#define MAQ_DATA_CTR_LIMIT	BIT_ULL(61)
/* Backward control cells from a hop carry a random counter in [2^62, 2^63). */
#define MAQ_CTL_CTR_MIN		BIT_ULL(62)
/* A key slot may seal or open at most 2^40 cells; warn at 2^39. */
#define MAQ_KEY_SOFT_LIMIT	BIT_ULL(39)
#define MAQ_KEY_HARD_LIMIT	BIT_ULL(40)
/*
 * The origin flips the phase after this many cells or seconds an epoch;
 * the seconds are the module parameter epoch_secs (tests shorten them).
 */
#define MAQ_EPOCH_CELLS		BIT_ULL(20)
#define MAQ_EPOCH_SECS		120
extern unsigned int maq_epoch_secs;
#define MAQ_DEFAULT_LIFETIME	600
#define MAQ_MAX_ROUTES		64

#define MAQ_REPLAY_BITS		256

/* WireGuard's sliding window: the highest counter and 256 below it. */
struct maq_replay {
	u64 next;			/* highest accepted + 1; 0: none yet */
	/* bit i: counter next - 1 - i seen */
	unsigned long bits[BITS_TO_LONGS(MAQ_REPLAY_BITS)];
};

/* Counters of one direction; every cell is MAQ_CELL_SIZE bytes. */
struct maq_circ_stats {
	u64 cells_in;
	u64 cells_out;
	u64 ctl_up;
	u64 drops[MAQ_N_DROPS];
};

/*
 * One direction of a circuit.  in[MAQUIS_DIR_FWD] receives forward cells
 * (relay, terminus) or, on an origin, seals them; in[MAQUIS_DIR_BACK]
 * receives backward cells (relay, origin) or, on a terminus, seals them.
 * A receiving direction is hashed in its device's cid table.  The lock
 * covers everything below it and the keys of this direction.
 */
struct maq_dir {
	struct rhash_head node;
	u32 cid;			/* the incoming cid: the table key */
	u8 dir;				/* index in maq_circuit.in[] */
	u8 phase;			/* last phase opened (rx) or sealed (tx) */
	u8 hashed;
	spinlock_t lock;		/* this direction: all below, keys */
	u64 ctr;			/* tx: the next cell counter */
	struct maq_replay replay;
	unsigned long tamper_ts;
	unsigned long replay_ts;
	u32 tamper_n;			/* not yet reported */
	u32 replay_n;
	struct maq_circ_stats stats;
};

/* Keys of one hop: [direction][slot], slot = phase bit. */
#define MAQ_FRESH(dir, slot)	BIT(2 * (dir) + (slot))

struct maq_hop {
	u8 key[2][2][MAQ_KEY_LEN];
	u8 ctl_key[2][MAQ_KEY_LEN];
	u64 seq[2];			/* base (origin, terminus) or delta */
	u64 used[2][2];			/* cells each slot sealed or opened */
	u8 valid[2];			/* per direction: slots holding a key */
	u8 fresh;			/* origin: MAQ_FRESH() slots not yet used */
};

struct maq_route {
	struct list_head dev_node;	/* maq_device.routes, RCU */
	struct list_head circ_node;	/* maq_circuit.routes */
	struct maq_circuit *circ;
	union {
		__be32 v4;
		struct in6_addr v6;
	} addr;				/* host bits cleared */
	u8 family;
	u8 len;
	struct rcu_head rcu;
};

/*
 * End-to-end keys of an origin (circuit-new e2e-key).  The keys never
 * change; the receive window is under the origin's in[MAQUIS_DIR_BACK].lock.
 */
struct maq_e2e {
	u8 key[2][MAQ_KEY_LEN];		/* [0] send, [1] receive */
	atomic64_t tx_ctr;		/* the next send counter */
	struct maq_replay rx;
};

struct maq_circuit {
	struct maq_dir in[2];
	struct maq_addr peer[2];	/* [FWD] next hop, [BACK] previous */
	u32 cid_out[2];			/* [FWD] fwd-cid-out, [BACK] back-cid-out */
	u32 id;
	u32 lifetime;			/* seconds */
	u8 role;
	u8 n_hops;
	/*
	 * A terminus joined at a rendezvous: its data goes out along @join,
	 * or is dropped once @join is gone, never to the device.
	 */
	u8 joined;
	struct maq_circuit __rcu *join;	/* under maq_device.lock to set */
	struct maq_e2e *e2e;		/* origin, optional */
	unsigned long expires;		/* jiffies */
	unsigned long epoch_start;	/* origin: jiffies of the last flip */
	u64 created;			/* boot time, seconds */
	struct list_head routes;
	struct rcu_head rcu;
	struct maq_hop hops[];
};

static inline struct maq_circuit *maq_dir_circuit(struct maq_dir *d)
{
	return container_of(d - d->dir, struct maq_circuit, in[0]);
}

int maq_circuit_cache_init(void);
void maq_circuit_cache_uninit(void);
int maq_circuits_init(struct maq_device *md);
void maq_circuits_uninit(struct maq_device *md);
void maq_circuits_gc_start(struct maq_device *md);
void maq_circuits_gc_stop(struct maq_device *md);
extern atomic_t maq_circuits_live;

struct maq_circuit *maq_circuit_alloc(u8 role, u8 n_hops);
void maq_circuit_free(struct maq_circuit *c);
int maq_circuit_insert(struct maq_device *md, struct maq_circuit *c,
		       struct netlink_ext_ack *extack);
void maq_circuit_remove(struct maq_device *md, struct maq_circuit *c);
struct maq_circuit *maq_circuit_find(struct maq_device *md, u32 id);
void maq_circuit_stats(struct maq_circuit *c, struct maq_stats *st);
void maq_circuit_stats_reset(struct maq_circuit *c);
void maq_circuit_key_set(struct maq_circuit *c, int hop, int dir, int slot,
			 const u8 key[MAQ_KEY_LEN]);
u32 maq_circuit_age(const struct maq_circuit *c);
void maq_circuit_join(struct maq_device *md, struct maq_circuit *a,
		      struct maq_circuit *b);
void maq_circuit_unjoin(struct maq_device *md, struct maq_circuit *c);
struct maq_circuit *maq_circuit_joined(struct maq_device *md,
				       struct maq_circuit *c);

struct maq_dir *maq_dir_lookup(struct maq_device *md, u32 cid);
struct maq_circuit *maq_route_lookup(struct maq_device *md,
				     struct sk_buff *skb);

bool maq_replay_check(const struct maq_replay *r, u64 ctr);
bool maq_replay_update(struct maq_replay *r, u64 ctr);

#endif /* _MAQ_CIRCUIT_H */
