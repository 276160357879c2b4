// SPDX-License-Identifier: GPL-2.0
/*
 * The relay rate limit: what an operator gives (dev-set relay-rate and
 * relay-burst), enforced on every cell this host relays, in both
 * directions, on the socket path and the XDP kfunc path alike (both go
 * through cell.c's relay step).  Cells this host originates or terminates,
 * control addressed to it and link control cells (cid 0) are never
 * limited, so a saturated relay still takes CREATEs and its own traffic.
 *
 * The bucket is a GCRA (the virtual-scheduling form of a token bucket):
 * one 64-bit "theoretical arrival time" per device, advanced by one cell's
 * cost for each cell let through, which may run at most burst_ns ahead of
 * the clock.  That is exactly a bucket of @burst bytes refilled at @rate,
 * held in a single word, so a cell costs one clock read and one cmpxchg,
 * with no lock.
 *
 * Why one shared word and not per-CPU buckets: RSS steers all of a
 * circuit's cells (one UDP 4-tuple) to one CPU, so per-CPU buckets holding
 * rate/ncpus each would cap a lone circuit at a fraction of what the
 * operator gave, and per-CPU buckets borrowing from a global one are exact
 * only up to what the CPUs hold back.  The shared word costs a cache line
 * moving between CPUs that relay at the same moment, tens of nanoseconds
 * against the microsecond of ChaCha20-Poly1305 each cell costs anyway;
 * an unlimited device (the default) never writes it.
 */

#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/time64.h>
#include <linux/timekeeping.h>

#include <maquis/wire.h>

#include "rate.h"

void maq_rate_init(struct maq_rate *r)
{
	r->rate = 0;
	r->burst = MAQ_RATE_DEFAULT_BURST;
	r->cell_ns = 0;
	r->burst_ns = 0;
	atomic64_set(&r->tat, 0);
}

/*
 * Under the device mutex.  The netlink policy bounds @rate (at most
 * MAQUIS_MAX_RELAY_RATE, so a cell costs at least 114 ns) and @burst (at
 * most 2^30, so burst_ns fits even at 1 byte/s).  The bucket starts full.
 */
void maq_rate_set(struct maq_rate *r, u64 rate, u32 burst)
{
	u64 cell_ns = 0, burst_ns = 0;

	if (rate) {
		cell_ns = div64_u64((u64)MAQ_CELL_SIZE * NSEC_PER_SEC, rate);
		burst_ns = div64_u64((u64)burst * NSEC_PER_SEC, rate);
	}
	WRITE_ONCE(r->rate, rate);
	WRITE_ONCE(r->burst, burst);
	/*
	 * A cell racing with the change may pair the old cost with the new
	 * depth: one cell early or late, once.
	 */
	WRITE_ONCE(r->burst_ns, burst_ns);
	WRITE_ONCE(r->cell_ns, cell_ns);
	atomic64_set(&r->tat, 0);
}

/* May one more relayed cell go out now?  Any context. */
bool maq_rate_allow(struct maq_rate *r)
{
	u64 cell_ns = READ_ONCE(r->cell_ns);
	u64 burst_ns, now, next;
	s64 tat;

	if (!cell_ns)
		return true;
	burst_ns = READ_ONCE(r->burst_ns);
	now = ktime_get_ns();
	tat = atomic64_read(&r->tat);
	do {
		next = max_t(u64, tat, now) + cell_ns;
		if (next - now > burst_ns)
			return false;
	} while (!atomic64_try_cmpxchg(&r->tat, &tat, next));
	return true;
}
