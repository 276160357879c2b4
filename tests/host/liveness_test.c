// SPDX-License-Identifier: GPL-2.0
/*
 * liveness_test: daemon/liveness.c, maquisd's keepalives, probes, local
 * trust and served hops' idle check (docs/PROTOCOL.md 7.5, DESIGN.md
 * "Liveness and local trust"), driven through its maqd_live_* entry points
 * only.  liveness.c is compiled in; what it calls of the rest of maquisd is
 * stubbed below: the clock is the test's, hop control messages, closes,
 * builds and hop removals are recorded, and the kernel's circuit dump is a
 * table the test fills.  The trust table is view.c's own.  It proves:
 *
 *  - keepalives: a PING to the terminus at once, then gaps within 0.5..1.5
 *    times the interval and never above MAQ_CONF_MAX_KEEPALIVE, nonces
 *    non-zero and distinct, and no probe while PONGs come back;
 *  - a PONG to an outstanding nonce sets the smoothed RTT and credits the
 *    relays once; an unknown, replayed or misaddressed one changes nothing,
 *    so a relay replaying PONGs does not hide a dead terminus;
 *  - MISS intervals without a PONG probe every hop once; the first silent
 *    hop k is blamed (relay k avoided, k - 1 one point), both are excluded
 *    from the want's replacement, which starts at once; every hop
 *    answering, or a late keepalive PONG, is a false alarm and blames none;
 *  - keepalive = 0: nothing is sent nor probed, save a holding PING at
 *    most every 1.5 s on a want with hold, which is never probed nor
 *    replaced;
 *  - served hops: a terminus goes hop-idle after its counter last moved, a
 *    relay needs two cells to wait again, a counter going back restarts the
 *    wait, hop-idle = 0 never removes, pending and unreported hops stay;
 *  - a located circuit with no replacement closes DEAD_WAIT_MS later, or at
 *    once when a newer circuit serves its want or it serves none; adopted
 *    circuits are never checked; setup failures blame like silence;
 *    maqd_live_replaced tears down from the hop before the silent one;
 *    served hops answer PINGs; a tamper event starts one probe, or at a
 *    served hop blames the relay it came from;
 *  - a replacement's path leaves the suspects out while enough relays
 *    remain, and takes them back rather than fail.
 *
 * The loop is the daemon's: PONGs handled as they arrive (the clock moves
 * a millisecond at a time), maqd_live_tick() every `step` ms.  Most tests
 * tick every millisecond so that gaps are exact; the detection figures use
 * the daemon's 200 ms tick.  Relays outside the view lose their trust
 * records at the first tick and every minute (maq_view_trust_expire), so
 * credits are read before then.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sodium.h>

#include "maquisd.h"
#include "kselftest_harness.h"

/* literals against unsigned fields in EXPECT_EQ; all small, non-negative */
#pragma GCC diagnostic ignored "-Wsign-compare"

#define T0		1000000ULL	/* ms: never 0, like CLOCK_MONOTONIC */
#define WALL0		1700000000ULL	/* s */
#define TICK		200		/* maquisd's loop, ms */
#define MISS		3		/* liveness.c's */
#define PROBE_MIN	300
#define DEAD_WAIT	(2 * MAQD_ORIGIN_WAIT_MS)
#define MAX_IDS		64		/* circuit ids the tests use: 1..63 */

/* --- maquisd as liveness.c sees it ---------------------------------------- */

static u64 now_ms = T0;

u64 maqd_now_ms(void)
{
	return now_ms;
}

u64 maqd_wall(void)
{
	return WALL0 + now_ms / 1000;
}

/* Quiet unless LIVENESS_LOG is set: the tests check what was done. */
void maqd_log(enum maq_log_level l, const char *fmt, ...)
{
	va_list ap;

	if (!getenv("LIVENESS_LOG"))
		return;
	va_start(ap, fmt);
	fprintf(stderr, "# [%llu] ", (unsigned long long)(now_ms - T0));
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

const char *maqd_id_hex(const u8 id[MAQ_ID_PK_LEN], char buf[17])
{
	return sodium_bin2hex(buf, 17, id, 8);
}

/* A hop control message liveness.c sent. */
struct sent {
	u32 id;
	u8 hop, type;
	u64 nonce, at;
};

#define MAX_SENT	(1 << 16)
#define MAX_REC		64

static struct sent sent[MAX_SENT];
static size_t n_sent;

static struct {
	u32 id;
	int from_hop;
	u64 at;
} closes[MAX_REC];
static size_t n_closes;

static struct {
	struct maqd_want *w;
	u64 at;
} builds[MAX_REC];
static size_t n_builds;
static int build_ret;			/* what maqd_build() returns */

static struct {
	u32 id;
	u64 at;
} removed[MAX_REC];
static size_t n_removed;

/* The kernel's circuits as a dump reports them. */
static struct maq_circuit kernel[MAX_REC];
static size_t n_kernel, n_dumps;

void maqd_hopctl_send(struct maqd *d, u32 id, u8 hop, u8 type, u64 nonce)
{
	if (n_sent == MAX_SENT)
		abort();
	sent[n_sent++] = (struct sent){ id, hop, type, nonce, now_ms };
}

/* Only the state change of circuits.c's origin_close(): it stays listed. */
void maqd_origin_close(struct maqd *d, struct maqd_origin *o, int from_hop)
{
	if (n_closes == MAX_REC)
		abort();
	closes[n_closes].id = o->id;
	closes[n_closes].from_hop = from_hop;
	closes[n_closes++].at = now_ms;
	o->state = MAQD_CLOSING;
}

int maqd_build(struct maqd *d, struct maqd_want *w, struct maqd_conn *waiter,
	       char *err, size_t errlen)
{
	if (n_builds == MAX_REC)
		abort();
	builds[n_builds].w = w;
	builds[n_builds++].at = now_ms;
	if (build_ret)
		snprintf(err, errlen, "stub: build refused");
	return build_ret;
}

/* Freed as circuits.c frees it, so that ASan sees any later use. */
void maqd_hop_remove(struct maqd *d, struct maqd_hop *h)
{
	struct maqd_hop **p;

	if (n_removed == MAX_REC)
		abort();
	removed[n_removed].id = h->id;
	removed[n_removed++].at = now_ms;
	for (p = &d->hops; *p != h; p = &(*p)->next)
		;
	*p = h->next;
	free(h);
}

/* In reverse id order: liveness.c must not count on the kernel's. */
int maq_dp_circuit_dump(struct maq_dp *dp, struct maq_circuit **cs,
			size_t *n)
{
	size_t i;

	n_dumps++;
	*cs = calloc(n_kernel + 1, sizeof(**cs));
	if (!*cs)
		return -ENOMEM;
	for (i = 0; i < n_kernel; i++)
		(*cs)[i] = kernel[n_kernel - 1 - i];
	*n = n_kernel;
	return 0;
}

/* --- the network and the loop --------------------------------------------- */

/* Hops 0 .. reach[id] - 1 of circuit id answer a PING after rtt ms. */
static unsigned int reach[MAX_IDS];
static u64 rtt = 20;
static size_t delivered;		/* sent[] looked at by the network */

static bool hopctl(struct maqd *d, u32 id, int hop, u8 type, u64 nonce)
{
	struct maq_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.id = id;
	ev.hop = hop;
	return maqd_live_hopctl(d, &ev, type, nonce);
}

static void net_deliver(struct maqd *d)
{
	const struct sent *s;

	for (; delivered < n_sent && sent[delivered].at + rtt <= now_ms;
	     delivered++) {
		s = &sent[delivered];
		if (s->type == MAQ_HOPCTL_PING && s->id < MAX_IDS &&
		    s->hop < reach[s->id])
			hopctl(d, s->id, s->hop, MAQ_HOPCTL_PONG, s->nonce);
	}
}

static void tamper(struct maqd *d, u32 id)
{
	struct maq_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.id = id;
	ev.event = MAQUIS_EVENT_TAMPER;
	maqd_live_tamper(d, &ev);
}

static void tick(struct maqd *d)
{
	net_deliver(d);
	maqd_live_tick(d, now_ms);
}

/*
 * The daemon's loop up to @until: PONGs as they come in, rtt ms after their
 * PING, and the tick whenever the clock is on a multiple of @step ms.
 */
static void run(struct maqd *d, u64 until, u64 step)
{
	while (now_ms < until) {
		now_ms++;
		net_deliver(d);
		if ((now_ms - T0) % step == 0)
			maqd_live_tick(d, now_ms);
	}
}

/* Messages of @type on circuit @id to @hop (-1: any) in sent[from..]. */
static unsigned int count(size_t from, u32 id, int hop, u8 type)
{
	unsigned int c = 0;

	for (; from < n_sent; from++)
		if (sent[from].id == id && sent[from].type == type &&
		    (hop < 0 || sent[from].hop == hop))
			c++;
	return c;
}

static struct maqd_want *want_add(struct maqd *d, const char *to)
{
	struct maqd_want *w = calloc(1, sizeof(*w));

	if (!w)
		abort();
	snprintf(w->to, sizeof(w->to), "%s", to);
	w->hops = 3;
	w->from_config = true;
	w->next = d->wants;
	d->wants = w;
	return w;
}

/* An UP circuit @id of @n hops through fresh random relays. */
static struct maqd_origin *origin_add(struct maqd *d, u32 id, unsigned int n,
				      struct maqd_want *w)
{
	struct maqd_origin *o = calloc(1, sizeof(*o));

	if (!o || id >= MAX_IDS)
		abort();
	o->id = id;
	o->n = n;
	o->state = MAQD_UP;
	o->want = w;
	o->built_ms = now_ms;
	randombytes_buf(o->path, sizeof(o->path));
	o->next = d->origins;
	d->origins = o;
	reach[id] = n;
	return o;
}

static struct maqd_hop *hop_add(struct maqd *d, u32 id, bool terminus)
{
	struct maqd_hop *h = calloc(1, sizeof(*h));

	if (!h)
		abort();
	h->id = id;
	h->terminus = terminus;
	h->next = d->hops;
	d->hops = h;
	return h;
}

static struct maq_circuit *kernel_add(u32 id, u8 role, u64 cells)
{
	struct maq_circuit *c = &kernel[n_kernel++];

	c->id = id;
	c->role = role;
	c->stats.val[MAQUIS_A_STATS_CELLS_IN] = cells;
	c->present = 1ULL << MAQUIS_A_STATS;
	return c;
}

/* The kernel's cells-in counter of circuit @id. */
static u64 *cells_in(u32 id)
{
	size_t i;

	for (i = 0; i < n_kernel; i++)
		if (kernel[i].id == id)
			return &kernel[i].stats.val[MAQUIS_A_STATS_CELLS_IN];
	abort();
}

static bool hop_listed(const struct maqd *d, u32 id)
{
	const struct maqd_hop *h;

	for (h = d->hops; h; h = h->next)
		if (h->id == id)
			return true;
	return false;
}

/* When hop @id was removed, or 0. */
static u64 removed_at(u32 id)
{
	size_t i;

	for (i = 0; i < n_removed; i++)
		if (removed[i].id == id)
			return removed[i].at;
	return 0;
}

static const struct maq_trust *trust(const struct maqd *d, const u8 *id)
{
	static const struct maq_trust none;
	const struct maq_trust *t = maq_view_trust(&d->view, id);

	return t ? t : &none;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

FIXTURE(live) {
	struct maqd *d;
	struct maqd_want *w;
};

FIXTURE_SETUP(live)
{
	static const u8 me[MAQ_ID_PK_LEN] = { 0xee };

	ASSERT_LE(0, sodium_init());
	self->d = calloc(1, sizeof(*self->d));
	ASSERT_NE(NULL, self->d);
	maq_config_init(&self->d->conf);
	maq_view_init(&self->d->view, me);
	self->w = want_add(self->d, "10.9.0.0/16");
}

FIXTURE_TEARDOWN(live)
{
	struct maqd_origin *o;
	struct maqd_hop *h;
	struct maqd_want *w;

	while ((o = self->d->origins)) {
		self->d->origins = o->next;
		free(o);
	}
	while ((h = self->d->hops)) {
		self->d->hops = h->next;
		free(h);
	}
	while ((w = self->d->wants)) {
		self->d->wants = w->next;
		free(w);
	}
	maq_view_free(&self->d->view);
	free(self->d);
}

/* --- keepalive ------------------------------------------------------------ */

TEST_F(live, keepalive_gaps)
{
	static const u32 ka[] = {
		MAQ_CONF_MIN_KEEPALIVE, MAQ_CONF_DEFAULT_KEEPALIVE, 1400,
		MAQ_CONF_MAX_KEEPALIVE,
	};
	static u64 nonces[MAX_SENT];
	struct maqd *d = self->d;
	size_t n_nonces = 0, i, k, first;
	u64 lo, hi, min, max, sum, prev;
	struct maqd_origin *o;
	unsigned int pings;

	for (k = 0; k < ARRAY_SIZE(ka); k++) {
		d->conf.keepalive = ka[k];
		o = origin_add(d, 1 + k, 3, self->w);
		first = n_sent;
		tick(d);
		ASSERT_EQ(first + 1, n_sent) TH_LOG("no PING at once");
		EXPECT_EQ(MAQ_HOPCTL_PING, sent[first].type);
		EXPECT_EQ(2, sent[first].hop) TH_LOG("not to the terminus");
		/* about 200 keepalives, every one answered */
		run(d, now_ms + 200 * (u64)ka[k], 1);
		pings = count(first, o->id, -1, MAQ_HOPCTL_PING);
		EXPECT_EQ(pings, count(first, o->id, 2, MAQ_HOPCTL_PING))
			TH_LOG("keepalive %u: PINGs to other hops", ka[k]);
		lo = ka[k] / 2;
		hi = 3 * (u64)ka[k] / 2;
		if (hi > MAQ_CONF_MAX_KEEPALIVE)
			hi = MAQ_CONF_MAX_KEEPALIVE;
		min = UINT64_MAX;
		max = sum = 0;
		prev = sent[first].at;
		for (i = first; i < n_sent; i++) {
			if (sent[i].id != o->id)
				continue;
			EXPECT_NE(0, sent[i].nonce);
			nonces[n_nonces++] = sent[i].nonce;
			if (i == first)
				continue;
			min = sent[i].at - prev < min ? sent[i].at - prev : min;
			max = sent[i].at - prev > max ? sent[i].at - prev : max;
			sum += sent[i].at - prev;
			prev = sent[i].at;
		}
		TH_LOG("keepalive %u ms: %u PINGs, gaps %llu..%llu ms, mean %llu",
		       ka[k], pings, (unsigned long long)min,
		       (unsigned long long)max,
		       (unsigned long long)(sum / (pings - 1)));
		EXPECT_LE(lo, min);
		EXPECT_GE(hi, max);
		/* jittered over the whole range, not bunched */
		EXPECT_GT(lo + (hi - lo) / 5, min);
		EXPECT_LT(hi - (hi - lo) / 5, max);
		EXPECT_EQ(0, d->st.live_probes);
		EXPECT_EQ(0, d->st.live_pongs_stale);
		o->state = MAQD_CLOSING;
	}
	EXPECT_EQ(n_nonces, d->st.live_pings);
	/* every one answered but those still in flight at each end */
	EXPECT_GE(d->st.live_pongs + ARRAY_SIZE(ka), n_nonces);
	qsort(nonces, n_nonces, sizeof(nonces[0]), cmp_u64);
	for (i = 1; i < n_nonces; i++)
		EXPECT_NE(nonces[i - 1], nonces[i]) TH_LOG("nonce twice");
}

TEST_F(live, pong_rtt_and_replays)
{
	struct maqd *d = self->d;
	struct maqd_origin *o = origin_add(d, 1, 3, self->w);
	struct maqd_live *l = &o->live;
	u64 n1, n2, last, probe_at;
	unsigned int i, probes;
	size_t from;

	d->conf.keepalive = 250;
	reach[1] = 0;			/* the test answers */
	tick(d);
	ASSERT_EQ(1, n_sent);
	n1 = sent[0].nonce;
	EXPECT_EQ(0, trust(d, o->path[0])->ok) TH_LOG("credited unanswered");

	now_ms += 40;
	EXPECT_TRUE(hopctl(d, 1, 2, MAQ_HOPCTL_PONG, n1));
	EXPECT_EQ(40, l->srtt_ms);
	EXPECT_EQ(now_ms, l->last_pong_ms);
	EXPECT_EQ(1, d->st.live_pongs);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(1, trust(d, o->path[i])->ok) TH_LOG("hop %u", i + 1);
	last = now_ms;

	/* a replay, a nonce never sent, 0 (a free slot's), the wrong hop */
	now_ms += 10;
	EXPECT_TRUE(hopctl(d, 1, 2, MAQ_HOPCTL_PONG, n1));
	EXPECT_TRUE(hopctl(d, 1, 2, MAQ_HOPCTL_PONG, n1 ^ 1));
	EXPECT_TRUE(hopctl(d, 1, 2, MAQ_HOPCTL_PONG, 0));
	while (n_sent < 2 && now_ms < T0 + 400)
		run(d, now_ms + 1, 1);
	ASSERT_EQ(2, n_sent) TH_LOG("no second keepalive by 400 ms");
	n2 = sent[1].nonce;
	EXPECT_TRUE(hopctl(d, 1, 0, MAQ_HOPCTL_PONG, n2));
	EXPECT_TRUE(hopctl(d, 1, 3, MAQ_HOPCTL_PONG, n2));
	EXPECT_EQ(5, d->st.live_pongs_stale);
	EXPECT_EQ(1, d->st.live_pongs);
	EXPECT_EQ(40, l->srtt_ms);
	EXPECT_EQ(last, l->last_pong_ms);

	/* smoothed 7/8 old, 1/8 new; relays credited once per circuit */
	now_ms = sent[1].at + 120;
	EXPECT_TRUE(hopctl(d, 1, 2, MAQ_HOPCTL_PONG, n2));
	EXPECT_EQ((7 * 40 + 120) / 8, l->srtt_ms);
	EXPECT_EQ(1, trust(d, o->path[1])->ok);

	/*
	 * The terminus dies and a relay replays its last PONG at every
	 * tick: the probe still starts MISS intervals plus the smoothed
	 * time after the last real answer.
	 */
	last = now_ms;
	from = n_sent;
	while (!d->st.live_probes && now_ms < last + 5000) {
		now_ms++;
		hopctl(d, 1, 2, MAQ_HOPCTL_PONG, n2);
		tick(d);
	}
	probe_at = now_ms;
	TH_LOG("probe %llu ms after the last PONG (srtt %u)",
	       (unsigned long long)(probe_at - last), l->srtt_ms);
	EXPECT_EQ(last + MISS * 250 + l->srtt_ms, probe_at);
	EXPECT_TRUE(l->probing);
	probes = 0;
	for (i = 0; i < 3; i++)
		probes += count(from, 1, i, MAQ_HOPCTL_PING) ? 1 : 0;
	EXPECT_EQ(3, probes) TH_LOG("not every hop probed");
	EXPECT_EQ(1, count(from, 1, 0, MAQ_HOPCTL_PING));
	EXPECT_EQ(1, count(from, 1, 1, MAQ_HOPCTL_PING));
}

/* --- probe: locating the silent hop --------------------------------------- */

TEST_F(live, probe_locates)
{
	static const unsigned int lens[] = { 1, 3, 5 };
	struct maqd *d = self->d;
	unsigned int li, n, k, j, failed = 0;
	struct maqd_origin *o;
	struct maqd_want *w;
	u64 silent, took, worst = 0;
	char to[32];
	size_t from;
	u32 id = 1;

	d->conf.keepalive = MAQ_CONF_DEFAULT_KEEPALIVE;
	for (li = 0; li < ARRAY_SIZE(lens); li++) {
		n = lens[li];
		for (k = 1; k <= n; k++, id++) {
			snprintf(to, sizeof(to), "10.%u.0.0/16", id);
			w = want_add(d, to);
			o = origin_add(d, id, n, w);
			/* a few seconds answered: srtt settles at rtt */
			run(d, now_ms + 3000, TICK);
			ASSERT_EQ(0, o->live.dead_hop);
			ASSERT_EQ(rtt, o->live.srtt_ms);
			reach[id] = k - 1;
			silent = o->live.last_pong_ms;
			from = n_sent;
			while (!o->live.dead_hop && now_ms < silent + 10000)
				run(d, now_ms + TICK, TICK);
			failed++;
			ASSERT_EQ(k, o->live.dead_hop)
				TH_LOG("%u hops, hop %u silent", n, k);
			took = o->live.dead_ms - silent;
			worst = took > worst ? took : worst;
			/* MISS intervals, the probe's 300 ms, two ticks late */
			EXPECT_LE(MISS * 250 + rtt + PROBE_MIN, took);
			EXPECT_GE(MISS * 250 + rtt + PROBE_MIN + 2 * TICK,
				  took);
			EXPECT_EQ(failed, d->st.live_failed);
			EXPECT_EQ(failed, d->st.live_probes);
			for (j = 0; j + 1 < n; j++)
				EXPECT_EQ(1, count(from, id, j,
						   MAQ_HOPCTL_PING))
					TH_LOG("hop %u PINGed again", j + 1);
			EXPECT_EQ(MAQD_REPLACING, o->state);

			/* relay k avoided, k - 1 one point, no one else */
			EXPECT_EQ(1, trust(d, o->path[k - 1])->blamed);
			EXPECT_EQ(MAQ_TRUST_AVOID_SECS,
				  maq_view_avoided(&d->view, o->path[k - 1],
						   maqd_wall()));
			for (j = 0; j < n; j++) {
				if (j == k - 1)
					continue;
				EXPECT_EQ(j == k - 2 ? 1 : 0,
					  trust(d, o->path[j])->points)
					TH_LOG("%u hops, %u silent: hop %u",
					       n, k, j + 1);
				EXPECT_EQ(0, maq_view_avoided(&d->view,
							      o->path[j],
							      maqd_wall()));
			}

			/* the replacement leaves both out, and starts now */
			ASSERT_EQ(k > 1 ? 2 : 1, w->n_exclude);
			EXPECT_EQ(0, memcmp(w->exclude[0], o->path[k - 1],
					    MAQ_ID_PK_LEN));
			if (k > 1)
				EXPECT_EQ(0, memcmp(w->exclude[1],
						    o->path[k - 2],
						    MAQ_ID_PK_LEN));
			ASSERT_EQ(failed, n_builds);
			EXPECT_EQ(w, builds[n_builds - 1].w);
			EXPECT_EQ(o->live.dead_ms, builds[n_builds - 1].at);
			EXPECT_EQ(0, n_closes);
			o->state = MAQD_CLOSING;
		}
	}
	EXPECT_EQ(failed, d->st.trust_avoided);
	EXPECT_EQ(0, d->st.live_false_alarms);
	TH_LOG("%u located, at most %llu ms after the last PONG (200 ms tick)",
	       failed, (unsigned long long)worst);
}

TEST_F(live, false_alarms)
{
	struct maqd *d = self->d;
	struct maqd_origin *o = origin_add(d, 1, 3, self->w);
	struct maqd_live *l = &o->live;
	size_t p, ka_last;
	unsigned int i;

	d->conf.keepalive = 250;
	reach[1] = 0;
	tick(d);
	while (!d->st.live_probes && now_ms < T0 + 5000)
		run(d, now_ms + 1, 1);
	ASSERT_TRUE(l->probing);
	/* the probe's PINGs go last, after any keepalive of the same tick */
	p = n_sent - 3;
	for (i = 0; i < 3; i++)
		ASSERT_EQ(i, sent[p + i].hop);

	/* all three answer, out of order, one twice: no one is blamed */
	now_ms += 30;
	EXPECT_TRUE(hopctl(d, 1, 2, MAQ_HOPCTL_PONG, sent[p + 2].nonce));
	EXPECT_TRUE(hopctl(d, 1, 0, MAQ_HOPCTL_PONG, sent[p + 0].nonce));
	EXPECT_TRUE(hopctl(d, 1, 0, MAQ_HOPCTL_PONG, sent[p + 0].nonce));
	EXPECT_EQ(1, d->st.live_pongs_stale);
	EXPECT_TRUE(hopctl(d, 1, 1, MAQ_HOPCTL_PONG, sent[p + 1].nonce));
	now_ms += 1;
	tick(d);
	EXPECT_FALSE(l->probing);
	EXPECT_EQ(1, d->st.live_false_alarms);
	EXPECT_EQ(now_ms, l->last_pong_ms);
	EXPECT_EQ(0, l->dead_hop);
	EXPECT_EQ(0, d->st.trust_blames);
	EXPECT_EQ(0, n_builds);
	EXPECT_EQ(0, self->w->n_exclude);

	/* the next probe, MISS intervals on; a late keepalive PONG ends it */
	while (d->st.live_probes < 2 && now_ms < T0 + 10000)
		run(d, now_ms + 1, 1);
	ASSERT_TRUE(l->probing);
	for (ka_last = n_sent - 4; sent[ka_last].hop != 2; ka_last--)
		;
	now_ms += 1;
	EXPECT_TRUE(hopctl(d, 1, 2, MAQ_HOPCTL_PONG, sent[ka_last].nonce));
	EXPECT_FALSE(l->probing);
	EXPECT_EQ(2, d->st.live_false_alarms);
	/* the probe's own PONGs, late: stale */
	EXPECT_TRUE(hopctl(d, 1, 0, MAQ_HOPCTL_PONG, sent[n_sent - 3].nonce));
	EXPECT_EQ(2, d->st.live_pongs_stale);
	run(d, now_ms + 500, 1);
	EXPECT_EQ(0, l->dead_hop);
	EXPECT_EQ(0, d->st.trust_blames);
	EXPECT_EQ(2, d->st.live_probes);
}

/* --- keepalive = 0 -------------------------------------------------------- */

TEST_F(live, keepalive_off_holds_only)
{
	struct maqd *d = self->d;
	struct maqd_want *hw = want_add(d, "relay");
	struct maqd_origin *plain, *held;
	u64 min = UINT64_MAX, max = 0, prev = 0, gap;
	unsigned int pings = 0;
	size_t i;

	d->conf.keepalive = 0;
	hw->bare = hw->hold = true;
	/*
	 * The first tick also empties the trust table of relays outside the
	 * view, as it does every minute: the credits below are read before.
	 */
	tick(d);
	now_ms++;
	plain = origin_add(d, 1, 3, self->w);
	held = origin_add(d, 2, 3, hw);
	/* nothing answers: holding PINGs are not checked */
	reach[1] = reach[2] = 0;
	tick(d);
	/* a circuit that came up did its part: credited with no PONG */
	EXPECT_EQ(1, trust(d, plain->path[0])->ok);
	EXPECT_EQ(1, trust(d, held->path[2])->ok);
	run(d, T0 + 60000, 1);
	tamper(d, 1);
	tamper(d, 2);
	run(d, T0 + 90000, 1);

	EXPECT_EQ(0, count(0, 1, -1, MAQ_HOPCTL_PING));
	ASSERT_LT(0, n_sent);
	EXPECT_EQ(T0 + 1, sent[0].at) TH_LOG("no holding PING at once");
	for (i = 0; i < n_sent; i++) {
		EXPECT_EQ(2, sent[i].id);
		EXPECT_EQ(2, sent[i].hop);
		if (pings++) {
			gap = sent[i].at - prev;
			min = gap < min ? gap : min;
			max = gap > max ? gap : max;
		}
		prev = sent[i].at;
	}
	TH_LOG("keepalive 0: %u holding PINGs in 90 s, gaps %llu..%llu ms",
	       pings, (unsigned long long)min, (unsigned long long)max);
	EXPECT_LE(MAQ_CONF_MAX_KEEPALIVE / 4, min);
	EXPECT_GE(MAQ_CONF_MAX_KEEPALIVE / 4 * 3, max);
	EXPECT_EQ(0, d->st.live_probes);
	EXPECT_EQ(0, n_builds);
	EXPECT_EQ(0, n_closes);
	EXPECT_EQ(0, held->live.dead_hop);
	EXPECT_EQ(MAQD_UP, held->state);
	EXPECT_EQ(MAQD_UP, plain->state);
}

/* --- served hops ---------------------------------------------------------- */

TEST_F(live, hops_idle)
{
	enum {
		T_SILENT = 11, T_ONE = 12, T_BACK = 13, T_LATE = 14,
		R_ONE = 21, R_TWO = 22, R_BACK = 23, R_SPREAD = 24,
		PENDING = 31, UNREPORTED = 32, NO_STATS = 33,
	};
	struct maqd *d = self->d;
	unsigned int s;
	u64 t;

	ASSERT_EQ(MAQ_CONF_DEFAULT_HOP_IDLE, d->conf.hop_idle);
	for (s = T_SILENT; s <= T_LATE; s++) {
		hop_add(d, s, true);
		kernel_add(s, MAQUIS_ROLE_TERMINUS, 100);
	}
	for (s = R_ONE; s <= R_SPREAD; s++) {
		hop_add(d, s, false);
		kernel_add(s, MAQUIS_ROLE_RELAY, 100);
	}
	hop_add(d, PENDING, false)->pending = true;
	kernel_add(PENDING, MAQUIS_ROLE_RELAY, 0);
	hop_add(d, 0, false)->pending = true;
	hop_add(d, UNREPORTED, true);
	hop_add(d, NO_STATS, true);
	kernel_add(NO_STATS, MAQUIS_ROLE_TERMINUS, 0)->present = 0;

	/*
	 * One cell every 6 s is within hop-idle (10 s) for a terminus and
	 * not for a relay, whose wait it restarts every other time at best;
	 * two cells (PING and PONG) every 6 s hold a relay.
	 */
	for (t = 0; t <= 60000; t += TICK) {
		now_ms = T0 + t;
		if (t && t % 6000 == 0) {
			++*cells_in(T_ONE);
			++*cells_in(R_ONE);
			*cells_in(R_TWO) += 2;
		}
		/* two single cells 4 s apart are two: the wait restarts */
		if (t && t % 4000 == 0)
			++*cells_in(R_SPREAD);
		if (t == 4000)
			++*cells_in(T_LATE);
		/* a counter going back (the circuit replaced under the id) */
		if (t == 8000) {
			*cells_in(T_BACK) = 3;
			*cells_in(R_BACK) = 3;
		}
		tick(d);
	}
	TH_LOG("removed at: silent terminus %llu ms, relay with a cell / 6 s %llu ms",
	       (unsigned long long)(removed_at(T_SILENT) - T0),
	       (unsigned long long)(removed_at(R_ONE) - T0));
	TH_LOG("removed at: terminus with a cell at 4 s %llu ms, counters back at 8 s %llu / %llu ms",
	       (unsigned long long)(removed_at(T_LATE) - T0),
	       (unsigned long long)(removed_at(T_BACK) - T0),
	       (unsigned long long)(removed_at(R_BACK) - T0));
	/* checked once a second: hop-idle after the last move, < 1 s late */
	EXPECT_EQ(T0 + 10000, removed_at(T_SILENT));
	EXPECT_EQ(T0 + 10000, removed_at(R_ONE));
	EXPECT_LE(T0 + 14000, removed_at(T_LATE));
	EXPECT_GT(T0 + 15000, removed_at(T_LATE));
	EXPECT_LE(T0 + 18000, removed_at(T_BACK));
	EXPECT_GT(T0 + 19000, removed_at(T_BACK));
	EXPECT_LE(T0 + 18000, removed_at(R_BACK));
	EXPECT_GT(T0 + 19000, removed_at(R_BACK));
	EXPECT_EQ(5, n_removed);
	EXPECT_EQ(5, d->st.live_hops_silent);
	EXPECT_TRUE(hop_listed(d, T_ONE));
	EXPECT_TRUE(hop_listed(d, R_TWO));
	EXPECT_TRUE(hop_listed(d, R_SPREAD));
	EXPECT_TRUE(hop_listed(d, PENDING));
	EXPECT_TRUE(hop_listed(d, 0));
	EXPECT_TRUE(hop_listed(d, UNREPORTED));
	EXPECT_TRUE(hop_listed(d, NO_STATS));
	/* the dump is read once a second, not every tick */
	EXPECT_EQ(61, n_dumps);
}

TEST_F(live, hop_idle_off)
{
	struct maqd *d = self->d;

	d->conf.hop_idle = 0;
	hop_add(d, 11, true);
	kernel_add(11, MAQUIS_ROLE_TERMINUS, 7);
	hop_add(d, 21, false);
	kernel_add(21, MAQUIS_ROLE_RELAY, 7);
	tick(d);
	run(d, T0 + 600 * 1000, 1000);
	EXPECT_EQ(0, n_removed);
	EXPECT_EQ(0, n_dumps);
	EXPECT_TRUE(hop_listed(d, 11));
	EXPECT_TRUE(hop_listed(d, 21));
}

/* --- what follows a location ---------------------------------------------- */

/* Run @o (answered until now) into a located failure at hop @k. */
static void fail_at(struct maqd *d, struct maqd_origin *o, unsigned int k)
{
	u64 until = now_ms + 10000;

	reach[o->id] = k - 1;
	while (!o->live.dead_hop && now_ms < until)
		run(d, now_ms + TICK, TICK);
}

TEST_F(live, dead_wait_close)
{
	struct maqd *d = self->d;
	struct maqd_origin *o = origin_add(d, 1, 3, self->w);
	size_t after;

	build_ret = -ENOENT;		/* no replacement to be had */
	tick(d);
	run(d, T0 + 2000, TICK);
	fail_at(d, o, 2);
	ASSERT_EQ(2, o->live.dead_hop);
	EXPECT_EQ(1, n_builds);
	after = n_sent;
	run(d, o->live.dead_ms + DEAD_WAIT - TICK, TICK);
	EXPECT_EQ(0, n_closes) TH_LOG("closed before DEAD_WAIT_MS");
	run(d, o->live.dead_ms + DEAD_WAIT + 20000, TICK);
	ASSERT_EQ(1, n_closes) TH_LOG("not closed once, or twice");
	EXPECT_EQ(o->live.dead_ms + DEAD_WAIT, closes[0].at);
	/* hop 2 silent: DESTROY from hop 1 (index 0) */
	EXPECT_EQ(0, closes[0].from_hop);
	/* located: no keepalive nor probe since */
	EXPECT_EQ(after, n_sent);
	EXPECT_EQ(1, n_builds);
}

TEST_F(live, located_with_successor_or_none)
{
	struct maqd *d = self->d;
	struct maqd_origin *old = origin_add(d, 1, 3, self->w), *newer, *bare;
	struct maqd_want *w2 = want_add(d, "10.8.0.0/16");
	struct maqd_origin *prev, *building;

	d->conf.keepalive = 250;
	tick(d);
	run(d, T0 + 1000, TICK);
	newer = origin_add(d, 2, 3, self->w);
	bare = origin_add(d, 3, 2, NULL);
	run(d, T0 + 3000, TICK);

	/* a newer live circuit serves the want: close from the last answer */
	fail_at(d, old, 3);
	ASSERT_EQ(3, old->live.dead_hop);
	ASSERT_EQ(1, n_closes);
	EXPECT_EQ(1, closes[0].id);
	EXPECT_EQ(1, closes[0].from_hop);
	EXPECT_EQ(0, n_builds);
	EXPECT_EQ(0, self->w->n_exclude);
	EXPECT_EQ(MAQD_UP, newer->state);

	/* no want: nothing to replace it with; hop 1 silent, delete only */
	fail_at(d, bare, 1);
	ASSERT_EQ(1, bare->live.dead_hop);
	ASSERT_EQ(2, n_closes);
	EXPECT_EQ(3, closes[1].id);
	EXPECT_EQ(-1, closes[1].from_hop);
	EXPECT_EQ(0, n_builds);

	/* a build of the want under way: excluded, not built twice */
	prev = origin_add(d, 4, 3, w2);
	building = origin_add(d, 0, 0, w2);
	building->state = MAQD_BUILDING;
	run(d, now_ms + 2000, TICK);
	fail_at(d, prev, 2);
	ASSERT_EQ(2, prev->live.dead_hop);
	EXPECT_EQ(MAQD_REPLACING, prev->state);
	EXPECT_EQ(2, w2->n_exclude);
	EXPECT_EQ(0, n_builds);
	EXPECT_EQ(2, n_closes);

	/* the replacement is up: DESTROY from the hop before the silent one */
	building->built_ms = now_ms;
	building->id = 5;
	building->n = 3;
	building->state = MAQD_UP;
	EXPECT_EQ(0, maqd_live_replaced(d, prev, building));
	EXPECT_EQ(0, w2->n_exclude);
	EXPECT_EQ(1, d->st.live_replaced);
	/* a healthy circuit rotated out: from the terminus */
	EXPECT_EQ(2, maqd_live_replaced(d, newer, building));
	EXPECT_EQ(1, d->st.live_replaced);
}

TEST_F(live, adopted_not_checked)
{
	struct maqd *d = self->d;
	struct maqd_origin *o = origin_add(d, 1, 0, self->w);

	/* the kernel does not report an adopted circuit's hop count */
	o->adopted = true;
	reach[1] = 0;
	tick(d);
	run(d, T0 + 10000, TICK);
	tamper(d, 1);
	maqd_live_setup_failed(d, o, 1);
	run(d, T0 + 20000, TICK);
	EXPECT_EQ(0, n_sent);
	EXPECT_EQ(0, d->st.live_probes);
	EXPECT_EQ(0, d->st.trust_blames);
	EXPECT_EQ(0, n_builds);
	EXPECT_EQ(0, n_closes);
	EXPECT_EQ(-1, maqd_live_replaced(d, o, o));
}

TEST_F(live, setup_failed_blames)
{
	struct maqd *d = self->d;
	struct maqd_origin *o = origin_add(d, 1, 3, self->w);
	u64 now = maqd_wall();

	o->state = MAQD_BUILDING;
	maqd_live_setup_failed(d, o, 0);
	maqd_live_setup_failed(d, o, 4);
	EXPECT_EQ(0, d->st.trust_blames) TH_LOG("a hop out of the path");
	/* hop 3 silent: it is avoided, hop 2 gets one point */
	maqd_live_setup_failed(d, o, 3);
	EXPECT_EQ(MAQ_TRUST_AVOID_SECS,
		  maq_view_avoided(&d->view, o->path[2], now));
	EXPECT_EQ(1, trust(d, o->path[1])->points);
	EXPECT_EQ(0, maq_view_avoided(&d->view, o->path[1], now));
	/* again: hop 2, next to a second failure, goes too; hop 3 longer */
	maqd_live_setup_failed(d, o, 3);
	EXPECT_EQ(MAQ_TRUST_AVOID_SECS,
		  maq_view_avoided(&d->view, o->path[1], now));
	EXPECT_EQ(2 * MAQ_TRUST_AVOID_SECS,
		  maq_view_avoided(&d->view, o->path[2], now));
	EXPECT_EQ(0, trust(d, o->path[0])->blamed);
	/* hop 1 silent: nobody before it to blame */
	maqd_live_setup_failed(d, o, 1);
	EXPECT_EQ(MAQ_TRUST_AVOID_SECS,
		  maq_view_avoided(&d->view, o->path[0], now));
	EXPECT_EQ(5, d->st.trust_blames);
	EXPECT_EQ(4, d->st.trust_avoided);
}

TEST_F(live, hopctl_and_tamper)
{
	struct maqd *d = self->d;
	struct maqd_origin *o = origin_add(d, 1, 4, self->w);

	hop_add(d, 40, true);
	reach[1] = 0;
	d->conf.keepalive = 250;

	/* a hop this host serves answers on hop 0 with the nonce */
	EXPECT_TRUE(hopctl(d, 40, 0, MAQ_HOPCTL_PING, 0x1234));
	ASSERT_EQ(1, n_sent);
	EXPECT_EQ(40, sent[0].id);
	EXPECT_EQ(0, sent[0].hop);
	EXPECT_EQ(MAQ_HOPCTL_PONG, sent[0].type);
	EXPECT_EQ(0x1234, sent[0].nonce);
	EXPECT_EQ(1, d->st.live_answered);
	/* nobody's, or an origin's, or a PONG to a hop: not answered */
	EXPECT_TRUE(hopctl(d, 41, 0, MAQ_HOPCTL_PING, 1));
	EXPECT_TRUE(hopctl(d, 1, 3, MAQ_HOPCTL_PING, 1));
	EXPECT_TRUE(hopctl(d, 40, 0, MAQ_HOPCTL_PONG, 1));
	EXPECT_EQ(3, d->st.ctl_bad);
	EXPECT_FALSE(hopctl(d, 40, 0, MAQ_HOPCTL_DESTROY, 1));
	EXPECT_EQ(1, n_sent);

	/* backward cells failing at the origin: one probe at once */
	tick(d);
	tamper(d, 1);
	EXPECT_TRUE(o->live.probing);
	EXPECT_EQ(1, d->st.live_probes);
	EXPECT_EQ(6, n_sent);
	EXPECT_EQ(4, count(2, 1, -1, MAQ_HOPCTL_PING));
	tamper(d, 1);
	EXPECT_EQ(1, d->st.live_probes);
	/* a PONG to a closing circuit is not taken */
	o->state = MAQD_CLOSING;
	EXPECT_TRUE(hopctl(d, 1, 0, MAQ_HOPCTL_PONG, o->live.probe_nonce[0]));
	EXPECT_EQ(4, d->st.ctl_bad);
	EXPECT_EQ(0, o->live.probe_answered);
}

/* --- paths and relays' tamper --------------------------------------------- */

/* @n relays into the view, relay i at 172.(16 + i).0.1; their ids in @id. */
static void relays_add(struct maqd *d, unsigned int n,
		       u8 id[][MAQ_ID_PK_LEN])
{
	struct maq_identity ident;
	struct maq_onion_key onion;
	u8 raw[MAQ_DESC_LEN];
	struct maq_desc desc;
	bool changed;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (maq_identity_generate(&ident) ||
		    maq_onion_generate(&onion))
			abort();
		memset(&desc, 0, sizeof(desc));
		desc.version = MAQ_DESC_VERSION;
		desc.flags = MAQ_DESC_F_RELAY;
		desc.port = 7720;
		desc.bandwidth = 1000;
		desc.published = maqd_wall() - 10;
		desc.expires = desc.published + 3600;
		desc.addr[0].in4.sin_family = AF_INET;
		desc.addr[0].in4.sin_addr.s_addr =
			htonl(0xac100001 + (i << 16));
		memcpy(desc.onion_key, onion.pk, MAQ_ONION_LEN);
		if (maq_desc_encode(raw, &desc, &ident) ||
		    maq_view_offer(&d->view, raw, sizeof(raw), maqd_wall(),
				   &changed) != MAQ_DESC_OK)
			abort();
		memcpy(id[i], ident.pk, MAQ_ID_PK_LEN);
	}
}

/* A path for @w of two relays before @terminus; req.n_exclude, or -errno. */
static int path_draw(struct maqd *d, struct maqd_want *w, const u8 *terminus,
		     const struct maq_relay **out)
{
	struct maq_path_req req;
	char err[128];
	int ret;

	memset(&req, 0, sizeof(req));
	req.n_relays = 2;
	req.terminus = maq_view_find(&d->view, terminus);
	req.now = maqd_wall();
	ret = maqd_live_path(d, w, &req, out, err, sizeof(err));
	if (ret)
		fprintf(stderr, "# path: %s\n", err);
	return ret ? ret : (int)req.n_exclude;
}

TEST_F(live, path_leaves_suspects_out)
{
	/* static: on the stack they trip -Wclobbered in the harness */
	static const struct maq_relay *out[MAQ_MAX_HOPS];
	static u8 id[4][MAQ_ID_PK_LEN];
	static unsigned int seen[4];
	struct maqd *d = self->d;
	struct maqd_want *w = self->w;
	unsigned int i, j;

	ASSERT_EQ(0, maq_crypto_init());
	relays_add(d, 4, id);
	/* relays 0..2 for two hops before relay 3, the terminus */
	memcpy(w->exclude[0], id[0], MAQ_ID_PK_LEN);
	w->n_exclude = 1;
	for (i = 0; i < 200; i++) {
		ASSERT_EQ(1, path_draw(d, w, id[3], out));
		for (j = 0; j < 2; j++)
			EXPECT_NE(0, memcmp(out[j]->d.identity, id[0],
					    MAQ_ID_PK_LEN))
				TH_LOG("suspect picked");
	}
	/* two suspects leave one relay for two hops: they are taken back */
	memcpy(w->exclude[1], id[1], MAQ_ID_PK_LEN);
	w->n_exclude = 2;
	for (i = 0; i < 200; i++) {
		ASSERT_EQ(0, path_draw(d, w, id[3], out));
		for (j = 0; j < 4; j++)
			seen[j] += !memcmp(out[0]->d.identity, id[j],
					   MAQ_ID_PK_LEN) ||
				   !memcmp(out[1]->d.identity, id[j],
					   MAQ_ID_PK_LEN);
	}
	TH_LOG("without room for the suspects, in 200 paths: relay 1 %u, 2 %u, 3 %u times",
	       seen[0], seen[1], seen[2]);
	/* any two of the three, the suspects as likely as the other */
	EXPECT_LT(40, seen[0]);
	EXPECT_LT(40, seen[1]);
	EXPECT_EQ(400, seen[0] + seen[1] + seen[2]);
	EXPECT_EQ(0, seen[3]);
}

TEST_F(live, hop_tamper_blames_previous)
{
	struct maqd *d = self->d;
	u8 id[3][MAQ_ID_PK_LEN];
	struct maqd_hop *h, *stranger;
	u64 now = maqd_wall();

	ASSERT_EQ(0, maq_crypto_init());
	relays_add(d, 3, id);
	h = hop_add(d, 40, false);
	h->prev = maq_view_find(&d->view, id[1])->d.addr[0];
	stranger = hop_add(d, 41, true);
	stranger->prev.in4.sin_family = AF_INET;
	stranger->prev.in4.sin_addr.s_addr = htonl(0x0a000001);

	tamper(d, 41);
	tamper(d, 42);
	EXPECT_EQ(0, d->st.trust_blames) TH_LOG("no relay to blame");
	/* one point a tamper event: the second makes it avoided */
	tamper(d, 40);
	EXPECT_EQ(1, trust(d, id[1])->points);
	EXPECT_EQ(0, maq_view_avoided(&d->view, id[1], now));
	tamper(d, 40);
	EXPECT_EQ(MAQ_TRUST_AVOID_SECS, maq_view_avoided(&d->view, id[1], now));
	EXPECT_EQ(0, trust(d, id[0])->blamed);
	EXPECT_EQ(0, trust(d, id[2])->blamed);
	EXPECT_EQ(2, d->st.trust_blames);
	EXPECT_EQ(1, d->st.trust_avoided);
}

TEST_HARNESS_MAIN
