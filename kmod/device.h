/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _MAQ_DEVICE_H
#define _MAQ_DEVICE_H

#include <linux/in6.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/rhashtable.h>
#include <linux/u64_stats_sync.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <net/gro_cells.h>

#include <linux/maquis.h>

#include "rate.h"

#define MAQ_N_DROPS		(MAQUIS_DROP_RATE + 1)
#define MAQ_DEFAULT_MAX_CIRCUITS	BIT(20)

/* An underlay endpoint; family 0 means unset (any). */
struct maq_addr {
	union {
		__be32 v4;
		struct in6_addr v6;
	};
	__be16 port;
	u8 family;
};

/* Per-CPU overlay counters of a device (the genl stats nest). */
struct maq_pcpu_stats {
	u64_stats_t cells_in;
	u64_stats_t cells_out;
	u64_stats_t bytes_in;
	u64_stats_t bytes_out;
	u64_stats_t ctl_up;
	u64_stats_t drops[MAQ_N_DROPS];
	struct u64_stats_sync syncp;
};

/* Summed counters, as reported; also the per-circuit counters. */
struct maq_stats {
	u64 cells_in;
	u64 cells_out;
	u64 bytes_in;
	u64 bytes_out;
	u64 ctl_up;
	u64 drops[MAQ_N_DROPS];
};

struct maq_device {
	struct net_device *dev;
	/* The namespace the device was created in: its sockets live there. */
	struct net __rcu *creating_net;
	struct list_head device_list;	/* maq_device_list, under RTNL */

	/*
	 * Serialises configuration: sockets, circuits, routes, settings.
	 * Taken under RTNL (ndo_open/stop), never the other way round.
	 */
	struct mutex lock;
	struct sock __rcu *sock4;
	struct sock __rcu *sock6;
	struct maq_addr local;		/* bind address, family 0 = any */
	u16 port;			/* host order */
	bool up;			/* sockets wanted (device open) */
	bool dead;			/* unregistering: no new circuits */

	u32 max_circuits;
	u32 n_circuits;
	struct rhashtable cids;		/* incoming cid -> struct maq_dir */
	struct xarray ids;		/* daemon id -> struct maq_circuit */
	struct list_head routes;	/* RCU, longest prefix first */
	struct delayed_work gc;		/* expiry, once a second */

	struct gro_cells gro_cells;
	struct maq_pcpu_stats __percpu *stats;

	/* What the operator gives as a relay (rate.c); under @lock to set. */
	struct maq_rate relay_rate;

	/* Token bucket bounding what goes up to the daemon (cell-ntf). */
	spinlock_t ntf_lock;
	u32 ntf_tokens;
	unsigned long ntf_stamp;
};

extern struct rtnl_link_ops maq_link_ops;

int maq_device_init(void);
void maq_device_uninit(void);

/* Look a device up for netlink: a reference is held on success. */
struct maq_device *maq_device_get(struct net *net, int ifindex,
				  netdevice_tracker *tracker);
void maq_device_put(struct maq_device *md, netdevice_tracker *tracker);
/* The first device from *@ifindex on, for dumps; a reference is held. */
struct maq_device *maq_device_next(struct net *net, unsigned long *ifindex,
				   netdevice_tracker *tracker);

void maq_device_stats_fold(struct maq_device *md, struct maq_stats *st);
void maq_device_stats_reset(struct maq_device *md);

static inline void maq_dev_drop(struct maq_device *md, enum maquis_drop why)
{
	struct maq_pcpu_stats *s = this_cpu_ptr(md->stats);

	u64_stats_update_begin(&s->syncp);
	u64_stats_inc(&s->drops[why]);
	u64_stats_update_end(&s->syncp);
}

static inline void maq_dev_count(struct maq_device *md, bool in,
				 unsigned int bytes)
{
	struct maq_pcpu_stats *s = this_cpu_ptr(md->stats);

	u64_stats_update_begin(&s->syncp);
	if (in) {
		u64_stats_inc(&s->cells_in);
		u64_stats_add(&s->bytes_in, bytes);
	} else {
		u64_stats_inc(&s->cells_out);
		u64_stats_add(&s->bytes_out, bytes);
	}
	u64_stats_update_end(&s->syncp);
}

static inline void maq_dev_ctl_up(struct maq_device *md)
{
	struct maq_pcpu_stats *s = this_cpu_ptr(md->stats);

	u64_stats_update_begin(&s->syncp);
	u64_stats_inc(&s->ctl_up);
	u64_stats_update_end(&s->syncp);
}

bool maq_device_ntf_allow(struct maq_device *md);

#endif /* _MAQ_DEVICE_H */
