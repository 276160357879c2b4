/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _MAQ_RATE_H
#define _MAQ_RATE_H

#include <linux/atomic.h>
#include <linux/types.h>

#include <maquis/wire.h>

/*
 * The relay rate limit of a device (dev-set relay-rate, relay-burst): a
 * token bucket kept as a GCRA, see rate.c.  Writers hold the device mutex;
 * the datapath only reads the figures and moves @tat.
 */
struct maq_rate {
	u64 rate;		/* bytes/s; 0: unlimited */
	u32 burst;		/* bytes */
	u64 cell_ns;		/* what one cell costs; 0: unlimited */
	u64 burst_ns;		/* how far @tat may run ahead of now */
	atomic64_t tat;		/* theoretical arrival time, ktime ns */
};

#define MAQ_RATE_DEFAULT_BURST	(64 * MAQ_CELL_SIZE)

void maq_rate_init(struct maq_rate *r);
void maq_rate_set(struct maq_rate *r, u64 rate, u32 burst);
bool maq_rate_allow(struct maq_rate *r);

#endif /* _MAQ_RATE_H */
