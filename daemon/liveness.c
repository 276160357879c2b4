// SPDX-License-Identifier: GPL-2.0
/*
 * maquisd's liveness checks and local trust (docs/PROTOCOL.md 7.5,
 * docs/DESIGN.md "Liveness and local trust").
 *
 * Origin: a PING to the terminus every `keepalive` ms (jittered), answered
 * by a PONG with its nonce.  No PONG for MISS intervals: every hop is
 * PINGed at once, and the first that does not answer locates the failure.
 * Its relay (and, for less, the one before it) is blamed in the view's
 * trust table, the destination gets a replacement that leaves both out,
 * and once that is up the old circuit is torn down from the last hop that
 * answered.
 *
 * Relay and terminus: a PING is answered; a hop whose kernel counters show
 * no cell in for `hop-idle` seconds lost its origin or a relay before it,
 * and is removed with a DESTROYED sent back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "maquisd.h"

#define MISS		3	/* keepalive intervals without a PONG */
#define PROBE_MIN_MS	300	/* a probe waits at least this long */
#define IDLE_CHECK_MS	1000	/* served hops' counters read this often */
#define TRUST_CHECK_MS	60000	/* old trust records dropped this often */
/* a located failure waits this long for its replacement, then closes */
#define DEAD_WAIT_MS	(2 * MAQD_ORIGIN_WAIT_MS)

static u64 next_idle_check, next_trust_check;

static u64 nonce_fresh(void)
{
	u64 n;

	do
		randombytes_buf(&n, sizeof(n));
	while (!n);
	return n;
}

/*
 * A circuit adopted after a restart has no hop count (the kernel does not
 * report it): it is not checked, and is replaced at once anyway.
 */
static bool live_origin(const struct maqd_origin *o)
{
	return o->id && o->n && !o->live.dead_hop &&
	       (o->state == MAQD_UP || o->state == MAQD_REPLACING);
}

/* Hop @k (1-based) of @o in logs: "hop 2 (0a1b2c3d4e5f6071)". */
static const char *hop_name(const struct maqd_origin *o, int k, char *buf,
			    size_t len)
{
	char hex[17];

	if (o->adopted)
		snprintf(buf, len, "hop %d", k);
	else
		snprintf(buf, len, "hop %d (%s)", k,
			 maqd_id_hex(o->path[k - 1], hex));
	return buf;
}

static void blame(struct maqd *d, const u8 id[MAQ_ID_PK_LEN],
		  unsigned int points, const char *why)
{
	u64 now = maqd_wall();
	char hex[17];

	d->st.trust_blames++;
	if (!maq_view_blame(&d->view, id, points, now))
		return;
	d->st.trust_avoided++;
	log_warn("relay %s avoided for %llu s: %s", maqd_id_hex(id, hex),
		 (unsigned long long)maq_view_avoided(&d->view, id, now), why);
}

/*
 * Hop @k (1-based) of @o did not answer.  It is dead, or the link into it
 * is broken, or hop k - 1 drops or tampers what it sends on: the relays at
 * both ends are suspects, the silent one more (DESIGN.md).
 */
static void blame_link(struct maqd *d, const struct maqd_origin *o, int k,
		       const char *why)
{
	if (o->adopted || k < 1 || k > (int)o->n)
		return;
	blame(d, o->path[k - 1], MAQ_BLAME_SILENT, why);
	if (k > 1)
		blame(d, o->path[k - 2], MAQ_BLAME_NEIGHBOUR, why);
}

void maqd_live_setup_failed(struct maqd *d, const struct maqd_origin *o,
			    int silent)
{
	blame_link(d, o, silent, "no answer to a CREATE");
}

/* End to end works: every relay of the path did its part once. */
static void credit(struct maqd *d, struct maqd_origin *o)
{
	unsigned int i;

	if (o->live.worked || o->adopted)
		return;
	o->live.worked = true;
	for (i = 0; i < o->n; i++)
		maq_view_credit(&d->view, o->path[i], maqd_wall());
}

/* --- origin ---------------------------------------------------------------- */

static void ping_keepalive(struct maqd *d, struct maqd_origin *o, u32 ka,
			   u64 now)
{
	struct maqd_live *l = &o->live;
	u32 gap;

	/* the oldest slot goes: its PONG is overdue by then anyway */
	l->slot = (l->slot + 1) % MAQD_LIVE_SLOTS;
	l->nonce[l->slot] = nonce_fresh();
	l->sent_ms[l->slot] = now;
	maqd_hopctl_send(d, o->id, (u8)(o->n - 1), MAQ_HOPCTL_PING,
			 l->nonce[l->slot]);
	d->st.live_pings++;
	/*
	 * Jittered, so circuits' keepalives do not tick together, but never
	 * further apart than the largest interval: relays' hop-idle counts on
	 * a cell at least that often.
	 */
	gap = ka / 2 + randombytes_uniform(ka + 1);
	if (gap > MAQ_CONF_MAX_KEEPALIVE)
		gap = MAQ_CONF_MAX_KEEPALIVE;
	l->next_ping_ms = now + gap;
}

static void probe_start(struct maqd *d, struct maqd_origin *o, u64 now,
			const char *why)
{
	struct maqd_live *l = &o->live;
	u64 wait = 2 * (u64)l->srtt_ms + PROBE_MIN_MS / 2;
	unsigned int j;

	if (wait < PROBE_MIN_MS)
		wait = PROBE_MIN_MS;
	l->probing = true;
	l->probe_answered = 0;
	l->probe_ms = now;
	l->probe_deadline_ms = now + wait;
	for (j = 0; j < o->n; j++) {
		l->probe_nonce[j] = nonce_fresh();
		maqd_hopctl_send(d, o->id, (u8)j, MAQ_HOPCTL_PING,
				 l->probe_nonce[j]);
	}
	d->st.live_probes++;
	log_info("circuit %u: %s; probing its %u hops", o->id, why, o->n);
}

/* A circuit of @w's being built. */
static bool want_building(struct maqd *d, const struct maqd_want *w)
{
	const struct maqd_origin *x;

	for (x = d->origins; x; x = x->next)
		if (x->want == w && x->state == MAQD_BUILDING)
			return true;
	return false;
}

/* Another circuit of @o's destination, newer and alive. */
static bool has_successor(struct maqd *d, const struct maqd_origin *o)
{
	const struct maqd_origin *x;

	for (x = d->origins; x; x = x->next)
		if (x != o && o->want && x->want == o->want &&
		    live_origin(x) && x->built_ms > o->built_ms)
			return true;
	return false;
}

static void located(struct maqd *d, struct maqd_origin *o, int k, u64 now)
{
	struct maqd_live *l = &o->live;
	struct maqd_want *w = o->want;
	char name[48], err[256];

	l->probing = false;
	l->dead_hop = k;
	l->dead_ms = now;
	d->st.live_failed++;
	hop_name(o, k, name, sizeof(name));
	log_warn("circuit %u: %s silent (no answer for %llu ms); replacing it",
		 o->id, name, (unsigned long long)(now - l->last_pong_ms));
	blame_link(d, o, k, "silent on a circuit");
	if (!w || has_successor(d, o)) {
		maqd_origin_close(d, o, k - 2);
		return;
	}
	w->n_exclude = 0;
	if (!o->adopted) {
		memcpy(w->exclude[w->n_exclude++], o->path[k - 1],
		       MAQ_ID_PK_LEN);
		if (k > 1)
			memcpy(w->exclude[w->n_exclude++], o->path[k - 2],
			       MAQ_ID_PK_LEN);
	}
	o->state = MAQD_REPLACING;
	w->retry_ms = now;
	/* now, not on the next tick: the 2 s goal has no 200 ms to spare */
	if (!want_building(d, w) && maqd_build(d, w, NULL, err, sizeof(err)))
		log_debug("circuit to %s: %s", w->to, err);
}

static void probe_end(struct maqd *d, struct maqd_origin *o, u64 now)
{
	struct maqd_live *l = &o->live;
	unsigned int j;

	for (j = 0; j < o->n && (l->probe_answered & (1U << j)); j++)
		;
	if (j < o->n) {
		located(d, o, (int)j + 1, now);
		return;
	}
	/* every hop answered: late, not lost (congestion, a slow daemon) */
	l->probing = false;
	l->last_pong_ms = now;
	d->st.live_false_alarms++;
	log_info("circuit %u: every hop answered the probe", o->id);
}

static void origin_tick(struct maqd *d, struct maqd_origin *o, u64 now)
{
	struct maqd_live *l = &o->live;
	u32 ka = d->conf.keepalive;

	if (l->dead_hop) {
		if (o->state != MAQD_CLOSING &&
		    now >= l->dead_ms + DEAD_WAIT_MS) {
			log_info("circuit %u: no replacement yet, closing it",
				 o->id);
			maqd_origin_close(d, o, l->dead_hop - 2);
		}
		return;
	}
	if (!live_origin(o))
		return;
	if (!ka) {
		credit(d, o);
		/*
		 * Keepalives off end the checks, not the need to hold a
		 * circuit that must stay up idle: the relays would drop a
		 * service's introduction circuits after hop-idle and its
		 * alias would keep going dark.  These PINGs only hold it.
		 */
		if (o->want && o->want->hold &&
		    (!l->next_ping_ms || now >= l->next_ping_ms))
			ping_keepalive(d, o, MAQ_CONF_MAX_KEEPALIVE / 2, now);
		return;
	}
	if (!l->next_ping_ms) {
		l->next_ping_ms = now;
		l->last_pong_ms = now;
	}
	if (now >= l->next_ping_ms)
		ping_keepalive(d, o, ka, now);
	if (l->probing) {
		if (now >= l->probe_deadline_ms ||
		    l->probe_answered == (1U << o->n) - 1)
			probe_end(d, o, now);
	} else if (now >= l->last_pong_ms + MISS * (u64)ka + l->srtt_ms) {
		probe_start(d, o, now, "no keepalive answer");
	}
}

static struct maqd_origin *origin_find(struct maqd *d, u32 id)
{
	struct maqd_origin *o;

	for (o = d->origins; o; o = o->next)
		if (o->id == id)
			return o;
	return NULL;
}

static void pong_rx(struct maqd *d, struct maqd_origin *o, int hop,
		    u64 nonce)
{
	struct maqd_live *l = &o->live;
	u64 now = maqd_now_ms(), rtt;
	unsigned int i;

	if (hop == (int)o->n - 1) {
		for (i = 0; i < MAQD_LIVE_SLOTS; i++)
			if (l->nonce[i] && l->nonce[i] == nonce)
				break;
		if (i < MAQD_LIVE_SLOTS) {
			/* each nonce once: a relay may replay a PONG cell */
			l->nonce[i] = 0;
			rtt = now - l->sent_ms[i];
			l->srtt_ms = l->srtt_ms ?
				     (u32)((7 * (u64)l->srtt_ms + rtt) / 8) :
				     (u32)rtt;
			l->last_pong_ms = now;
			d->st.live_pongs++;
			credit(d, o);
			/* the terminus answers: nothing on the path is lost */
			if (l->probing) {
				l->probing = false;
				d->st.live_false_alarms++;
			}
			return;
		}
	}
	if (l->probing && hop >= 0 && hop < (int)o->n &&
	    l->probe_nonce[hop] == nonce) {
		l->probe_nonce[hop] = 0;
		l->probe_answered |= 1U << hop;
		d->st.live_pongs++;
		return;
	}
	d->st.live_pongs_stale++;
}

bool maqd_live_hopctl(struct maqd *d, const struct maq_event *ev, u8 type,
		      u64 nonce)
{
	struct maqd_origin *o;
	struct maqd_hop *h;

	if (type != MAQ_HOPCTL_PING && type != MAQ_HOPCTL_PONG)
		return false;
	o = origin_find(d, ev->id);
	if (o) {
		if (type == MAQ_HOPCTL_PONG && o->state != MAQD_CLOSING)
			pong_rx(d, o, ev->hop, nonce);
		else
			d->st.ctl_bad++;
		return true;
	}
	for (h = d->hops; h; h = h->next)
		if (h->id && h->id == ev->id)
			break;
	if (h && type == MAQ_HOPCTL_PING) {
		maqd_hopctl_send(d, h->id, 0, MAQ_HOPCTL_PONG, nonce);
		d->st.live_answered++;
	} else {
		d->st.ctl_bad++;
	}
	return true;
}

void maqd_live_tamper(struct maqd *d, const struct maq_event *ev)
{
	struct maqd_origin *o = origin_find(d, ev->id);
	struct maqd_hop *h;
	char a[64], b[64];
	size_t i, k;

	if (o) {
		/* backward cells failed: someone on the way back tampers */
		if (live_origin(o) && !o->live.probing && d->conf.keepalive)
			probe_start(d, o, maqd_now_ms(),
				    "backward cells failed authentication");
		return;
	}
	for (h = d->hops; h; h = h->next)
		if (h->id && h->id == ev->id)
			break;
	if (!h)
		return;
	/* forward cells from the previous hop failed: it, or its link */
	maq_sockaddr_str(&h->prev, a, sizeof(a));
	for (i = 0; i < d->view.n; i++)
		for (k = 0; k < 2; k++)
			if (d->view.relay[i].d.addr[k].sa.sa_family &&
			    !strcmp(a, maq_sockaddr_str(
					&d->view.relay[i].d.addr[k], b,
					sizeof(b)))) {
				blame(d, d->view.relay[i].d.identity,
				      MAQ_BLAME_NEIGHBOUR,
				      "sent cells that failed authentication");
				return;
			}
}

int maqd_live_path(struct maqd *d, struct maqd_want *w,
		   struct maq_path_req *req, const struct maq_relay **out,
		   char *err, size_t errlen)
{
	int ret;

	if (w->n_exclude) {
		req->exclude = (const u8 (*)[MAQ_ID_PK_LEN])w->exclude;
		req->n_exclude = w->n_exclude;
		ret = maq_view_path(&d->view, req, out, err, errlen);
		if (ret != -ENOENT)
			return ret;
		/* too few relays without the suspects: they may be innocent */
		log_debug("circuit to %s: %s; trying with the suspects", w->to,
			  err);
		req->exclude = NULL;
		req->n_exclude = 0;
	}
	return maq_view_path(&d->view, req, out, err, errlen);
}

int maqd_live_replaced(struct maqd *d, struct maqd_origin *old,
		       const struct maqd_origin *newer)
{
	const struct maqd_live *l = &old->live;
	char name[48];

	if (!l->dead_hop)
		return (int)old->n - 1;
	d->st.live_replaced++;
	if (old->want)
		old->want->n_exclude = 0;
	log_warn("circuit %u: %s silent; replaced by %u in %llu ms (%llu ms after its last answer)",
		 old->id, hop_name(old, l->dead_hop, name, sizeof(name)),
		 newer->id, (unsigned long long)(newer->built_ms - l->dead_ms),
		 (unsigned long long)(newer->built_ms - l->last_pong_ms));
	/* the hops from the silent one on cannot be reached */
	return l->dead_hop - 2;
}

/* --- relay and terminus ---------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
	u32 x = ((const struct maq_circuit *)a)->id;
	u32 y = ((const struct maq_circuit *)b)->id;

	return x < y ? -1 : x > y;
}

/*
 * Every live circuit carries a forward cell at least every keepalive
 * interval, so a hop with no cell in for hop-idle seconds lost what is
 * before it.  A relay's counters count both directions (the kernel does
 * not count forward cells apart): cells the far side still sends back
 * keep it a while, until the terminus, which counts only forward cells,
 * has gone.  The DESTROYED the terminus then sends back is one cell in,
 * while a live circuit's keepalive is two at a relay (PING and PONG), so
 * a relay needs two cells to restart its wait: the hops behind a failure
 * go after hop-idle, a relay that two DESTROYEDs reach (two hops or more
 * behind it) after one more.
 */
static void hops_idle(struct maqd *d, u64 now)
{
	struct maq_circuit *cs = NULL, key;
	struct maqd_hop *h, *next;
	size_t n = 0, i;
	const struct maq_circuit *c;
	u64 cells;

	for (h = d->hops; h && (!h->id || h->pending); h = h->next)
		;
	if (!h)
		return;
	if (maq_dp_circuit_dump(d->dp, &cs, &n))
		return;
	qsort(cs, n, sizeof(*cs), cmp_id);
	for (h = d->hops; h; h = next) {
		next = h->next;
		if (!h->id || h->pending)
			continue;
		key.id = h->id;
		c = bsearch(&key, cs, n, sizeof(*cs), cmp_id);
		if (!c || !MAQ_HAS(c, MAQUIS_A_STATS))
			continue;
		cells = c->stats.val[MAQUIS_A_STATS_CELLS_IN];
		if (!h->live.since_ms || cells < h->live.cells ||
		    cells >= h->live.cells +
			     (c->role == MAQUIS_ROLE_RELAY ? 2 : 1)) {
			h->live.cells = cells;
			h->live.since_ms = now;
			continue;
		}
		if (now < h->live.since_ms + (u64)d->conf.hop_idle * 1000)
			continue;
		d->st.live_hops_silent++;
		log_warn("circuit %u: upstream silent for %llu s; removed, DESTROYED sent back",
			 h->id,
			 (unsigned long long)(now - h->live.since_ms) / 1000);
		maqd_hop_remove(d, h);
	}
	for (i = 0; i < n; i++)
		maq_circuit_wipe(&cs[i]);
	free(cs);
}

void maqd_live_tick(struct maqd *d, u64 now)
{
	struct maqd_origin *o, *next;

	for (o = d->origins; o; o = next) {
		next = o->next;
		origin_tick(d, o, now);
	}
	if (d->conf.hop_idle && now >= next_idle_check) {
		next_idle_check = now + IDLE_CHECK_MS;
		hops_idle(d, now);
	}
	if (now >= next_trust_check) {
		next_trust_check = now + TRUST_CHECK_MS;
		maq_view_trust_expire(&d->view, maqd_wall());
	}
}
