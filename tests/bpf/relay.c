// SPDX-License-Identifier: GPL-2.0
/*
 * bpf/relay.bpf.c against include/maquis/layer.h: the XDP relay must emit
 * exactly the cell maq_relay_fwd()/maq_relay_back() produce, behind correct
 * outer headers, and give every other frame the documented verdict and
 * counter.  Runs in a private netns (veth pairs, permanent neighbours) so
 * that bpf_fib_lookup() has something to find.
 */
#include "maq_test.h"
#include "relay.skel.h"

#include "kselftest_harness.h"
#include "xdp_check.h"

FIXTURE(relay) {
	struct maq_relay *skel;
	int prog, circuits, stats;
	int ve0, ve2;
	/* prev: who sends us cells on ve0; us*: our addresses */
	struct endpoint prev4, prev6, us4, us6, us4b, us6b;
	/* next hops: on ve0 (XDP_TX) and on ve2 (redirect) */
	struct endpoint peer4, peer6, far4, far6;
};

FIXTURE_SETUP(relay)
{
	XDP_FIXTURE_LOAD(maq_relay, maq_relay);

	self->ve0 = if_nametoindex("ve0");
	self->ve2 = if_nametoindex("ve2");
	ASSERT_NE(0, self->ve0);
	ASSERT_NE(0, self->ve2);

	endpoint_set(&self->prev4, "10.0.0.2", MAQ_PORT, MAC_VE1);
	endpoint_set(&self->prev6, "fd00::2", MAQ_PORT, MAC_VE1);
	endpoint_set(&self->us4, "10.0.0.1", MAQ_PORT, MAC_VE0);
	endpoint_set(&self->us6, "fd00::1", MAQ_PORT, MAC_VE0);
	endpoint_set(&self->us4b, "10.0.1.1", MAQ_PORT, MAC_VE2);
	endpoint_set(&self->us6b, "fd01::1", MAQ_PORT, MAC_VE2);
	endpoint_set(&self->peer4, "10.0.0.2", 7721, MAC_VE1);
	endpoint_set(&self->peer6, "fd00::2", 7722, MAC_VE1);
	endpoint_set(&self->far4, "10.0.1.2", 7723, MAC_VE3);
	endpoint_set(&self->far6, "fd01::2", 7724, MAC_VE3);
}

FIXTURE_TEARDOWN(relay)
{
	maq_relay__destroy(self->skel);
}

static size_t frame_in(__u8 *f, FIXTURE_DATA(relay) *self, int family,
		       const __u8 *payload, size_t plen)
{
	if (family == AF_INET)
		return build_frame(f, &self->prev4, &self->us4, payload, plen);
	return build_frame(f, &self->prev6, &self->us6, payload, plen);
}

#define STAT(idx)	percpu_sum(self->stats, (idx))

/* ---- equivalence with layer.h ------------------------------------------- */

/*
 * One forward cell for every combination of families in and out, phase and
 * egress (same link: XDP_TX; other link: XDP_REDIRECT).
 */
TEST_F(relay, fwd_equivalence)
{
	static const struct {
		int in_family, phase, far, v6_out;
	} c[] = {
		{ AF_INET, 0, 0, 0 }, { AF_INET, 1, 1, 0 },
		{ AF_INET6, 0, 0, 1 }, { AF_INET6, 1, 1, 1 },
		{ AF_INET, 0, 0, 1 }, { AF_INET6, 1, 1, 0 },
	};
	__u8 cell[MAQ_CELL_SIZE], want[MAQ_CELL_SIZE], f[FRAME_MAX];
	struct xdp_result r;
	struct maq_xdp_hop h, got;
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(c); i++) {
		const struct endpoint *next, *us;
		__u32 cid = 0x100 + i, cid_out = 0xabc00000 + i;
		__u64 seq = rand_ctr() | ((__u64)c[i].phase << 63);

		if (c[i].far) {
			next = c[i].v6_out ? &self->far6 : &self->far4;
			us = c[i].v6_out ? &self->us6b : &self->us4b;
		} else {
			next = c[i].v6_out ? &self->peer6 : &self->peer4;
			us = c[i].v6_out ? &self->us6 : &self->us4;
		}
		hop_init(&h, MAQUIS_DIR_FWD, cid_out, rand64(), next);
		ASSERT_EQ(0, hop_put(self->circuits, cid, &h));
		make_fwd(cell, &h, cid, seq);
		want_fwd(want, cell, &h, seq);
		len = frame_in(f, self, c[i].in_family, cell, sizeof(cell));

		xdp_run(self->prog, f, len, self->ve0, 1, &r);
		ASSERT_EQ(0, r.err);
		EXPECT_STREQ(c[i].far ? "REDIRECT" : "TX", xdp_name(r.verdict))
			TH_LOG("case %zu", i);
		check_out(_metadata, &r, us, next, want);

		ASSERT_EQ(0, hop_get(self->circuits, cid, &got));
		EXPECT_EQ(1, got.cells);
		EXPECT_EQ(len, got.bytes);
		EXPECT_EQ(1, got.slot_cells[c[i].phase]);
		EXPECT_EQ(0, got.slot_cells[!c[i].phase]);
		EXPECT_EQ((seq & MAQ_SEQ_CTR_MASK) + 1, got.replay_next);
		EXPECT_NE(0, got.last_ns);
	}
	EXPECT_EQ(i, STAT(MAQ_STAT_CELLS_IN));
	EXPECT_EQ(i, STAT(MAQ_STAT_CELLS_OUT));
	EXPECT_EQ(0, STAT(MAQ_STAT_BAD_TAG));
	EXPECT_EQ(0, STAT(MAQ_STAT_ERROR));
}

TEST_F(relay, back_equivalence)
{
	static const struct {
		int in_family, phase, far, v6_out;
	} c[] = {
		{ AF_INET, 0, 0, 0 }, { AF_INET, 1, 1, 0 },
		{ AF_INET6, 0, 0, 1 }, { AF_INET6, 1, 1, 1 },
		{ AF_INET6, 0, 0, 0 }, { AF_INET, 1, 1, 1 },
	};
	__u8 cell[MAQ_CELL_SIZE], want[MAQ_CELL_SIZE], f[FRAME_MAX];
	struct xdp_result r;
	struct maq_xdp_hop h, got;
	size_t i, len;
	int n;

	for (i = 0; i < ARRAY_SIZE(c); i++) {
		const struct endpoint *next, *us;
		__u32 cid = 0x200 + i, cid_out = 0xdef00000 + i;
		__u64 seq = rand_ctr() | ((__u64)c[i].phase << 63);

		if (c[i].far) {
			next = c[i].v6_out ? &self->far6 : &self->far4;
			us = c[i].v6_out ? &self->us6b : &self->us4b;
		} else {
			next = c[i].v6_out ? &self->peer6 : &self->peer4;
			us = c[i].v6_out ? &self->us6 : &self->us4;
		}
		/* the largest delta: the counter wraps, the phase stays */
		hop_init(&h, MAQUIS_DIR_BACK, cid_out,
			 i == 0 ? MAQ_SEQ_CTR_MASK : rand64(), next);
		ASSERT_EQ(0, hop_put(self->circuits, cid, &h));
		/* backward cells cannot be verified: any bytes will do */
		randombytes_buf(cell, sizeof(cell));
		cell_put_hdr(cell, cid, seq);
		want_back(want, cell, &h, seq);
		len = frame_in(f, self, c[i].in_family, cell, sizeof(cell));

		/* and relays keep no backward window: twice is fine */
		for (n = 0; n < 2; n++) {
			xdp_run(self->prog, f, len, self->ve0, 1, &r);
			ASSERT_EQ(0, r.err);
			EXPECT_STREQ(c[i].far ? "REDIRECT" : "TX",
				     xdp_name(r.verdict)) TH_LOG("case %zu", i);
			check_out(_metadata, &r, us, next, want);
		}
		ASSERT_EQ(0, hop_get(self->circuits, cid, &got));
		EXPECT_EQ(2, got.cells);
		EXPECT_EQ(2, got.slot_cells[c[i].phase]);
		EXPECT_EQ(0, got.replay_next);
	}
	EXPECT_EQ(2 * i, STAT(MAQ_STAT_CELLS_OUT));
}

/* ---- verdicts and counters ---------------------------------------------- */

/* Any flipped bit of seq, body or tag: DROP, bad_tag, window untouched. */
TEST_F(relay, tampered)
{
	static const size_t where[] = { 4, 11, 12, 700, MAQ_CELL_SIZE - 17,
					MAQ_CELL_SIZE - 16, MAQ_CELL_SIZE - 1 };
	__u8 cell[MAQ_CELL_SIZE], bad[MAQ_CELL_SIZE], f[FRAME_MAX];
	__u64 seq = rand_ctr();
	struct xdp_result r;
	struct maq_xdp_hop h, got;
	size_t i, len;

	hop_init(&h, MAQUIS_DIR_FWD, 77, rand64(), &self->peer4);
	ASSERT_EQ(0, hop_put(self->circuits, 7, &h));
	make_fwd(cell, &h, 7, seq);
	for (i = 0; i < ARRAY_SIZE(where); i++) {
		memcpy(bad, cell, sizeof(bad));
		bad[where[i]] ^= 1 << (i % 8);
		len = frame_in(f, self, AF_INET, bad, sizeof(bad));
		xdp_run(self->prog, f, len, self->ve0, 1, &r);
		ASSERT_EQ(0, r.err);
		EXPECT_STREQ("DROP", xdp_name(r.verdict)) TH_LOG("byte %zu", where[i]);
	}
	EXPECT_EQ(i, STAT(MAQ_STAT_BAD_TAG));
	ASSERT_EQ(0, hop_get(self->circuits, 7, &got));
	EXPECT_EQ(i, got.bad_tag);
	EXPECT_EQ(0, got.replay_next);
	EXPECT_EQ(0, got.cells);

	/* the genuine cell still goes through */
	len = frame_in(f, self, AF_INET, cell, sizeof(cell));
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	EXPECT_STREQ("TX", xdp_name(r.verdict));
}

/* The window: once only, 255 below the highest still fine, 256 not. */
TEST_F(relay, replay)
{
	static const struct {
		__s64 off;	/* from base */
		const char *verdict;
	} steps[] = {
		{ 1000, "TX" }, { 1000, "DROP" },	/* same cell twice */
		{ 1000 - 255, "TX" }, { 1000 - 255, "DROP" },
		{ 1000 - 256, "DROP" },			/* too old, never opened */
		{ 999, "TX" }, { 1001, "TX" },		/* slide by 1 */
		{ 1064, "TX" }, { 1000, "DROP" },	/* by 63 */
		{ 1300, "TX" },				/* by 236 */
		{ 1044, "DROP" }, { 1045, "TX" }, { 1045, "DROP" },
		{ 1064, "DROP" },
		{ 5000, "TX" },				/* by more than 256 */
		{ 4870, "TX" }, { 4870, "DROP" },
		{ 5063, "TX" }, { 5192, "TX" },		/* by 63, by 129 */
		{ 4870, "DROP" }, { 5063, "DROP" },
		{ 5000, "DROP" }, { 5001, "TX" },	/* bits 192 and 191 */
		{ 5292, "TX" },				/* by 100 */
		{ 5063, "DROP" }, { 5192, "DROP" }, { 5191, "TX" },
		{ 5001, "DROP" },
	};
	__u8 cell[MAQ_CELL_SIZE], f[FRAME_MAX];
	__u64 base = rand_ctr(), drops = 0;
	struct xdp_result r;
	struct maq_xdp_hop h, got;
	size_t i, len;

	hop_init(&h, MAQUIS_DIR_FWD, 78, 5, &self->peer4);
	ASSERT_EQ(0, hop_put(self->circuits, 8, &h));
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		make_fwd(cell, &h, 8, base + steps[i].off);
		len = frame_in(f, self, AF_INET, cell, sizeof(cell));
		xdp_run(self->prog, f, len, self->ve0, 1, &r);
		ASSERT_EQ(0, r.err);
		EXPECT_STREQ(steps[i].verdict, xdp_name(r.verdict))
			TH_LOG("step %zu: counter base%+lld", i,
			       (long long)steps[i].off);
		drops += !strcmp(steps[i].verdict, "DROP");
	}
	EXPECT_EQ(drops, STAT(MAQ_STAT_REPLAY));
	EXPECT_EQ(0, STAT(MAQ_STAT_BAD_TAG));
	ASSERT_EQ(0, hop_get(self->circuits, 8, &got));
	EXPECT_EQ(drops, got.replay);
	EXPECT_EQ(base + 5292 + 1, got.replay_next);
}

/* The window against a model of it, over random slides and probes. */
TEST_F(relay, replay_random)
{
	enum { SPAN = 1 << 14, STEPS = 3000 };
	static __u8 seen[SPAN];
	__u8 cell[MAQ_CELL_SIZE], f[FRAME_MAX];
	__u64 base = rand_ctr(), drops = 0;
	__s64 top = -1, c;
	struct xdp_result r;
	struct maq_xdp_hop h;
	size_t len;
	int i, ok;

	memset(seen, 0, sizeof(seen));
	hop_init(&h, MAQUIS_DIR_FWD, 86, 5, &self->peer4);
	ASSERT_EQ(0, hop_put(self->circuits, 19, &h));
	for (i = 0; i < STEPS; i++) {
		__u32 k = randombytes_uniform(8);

		if (top < 0 || k < 3)		/* slide by 1..64 */
			c = top + 1 + randombytes_uniform(64);
		else if (k == 3)		/* by up to 320 */
			c = top + 1 + randombytes_uniform(320);
		else				/* probe below */
			c = top - randombytes_uniform(300);
		if (c < 0)
			c = 0;
		if (c >= SPAN)
			break;
		ok = c > top || (top - c < MAQ_REPLAY_WINDOW && !seen[c]);
		make_fwd(cell, &h, 19, base + c);
		len = frame_in(f, self, AF_INET, cell, sizeof(cell));
		xdp_run(self->prog, f, len, self->ve0, 1, &r);
		ASSERT_EQ(0, r.err);
		ASSERT_STREQ(ok ? "TX" : "DROP", xdp_name(r.verdict))
			TH_LOG("step %d: counter %lld, highest %lld", i,
			       (long long)c, (long long)top);
		if (ok) {
			seen[c] = 1;
			if (c > top)
				top = c;
		}
		drops += !ok;
	}
	EXPECT_EQ(drops, STAT(MAQ_STAT_REPLAY));
}

/* UDP to our port whose payload is not one cell: DROP, malformed. */
TEST_F(relay, malformed)
{
	__u8 cell[MAQ_CELL_SIZE + 1], f[FRAME_MAX];
	struct xdp_result r;
	struct maq_xdp_hop h;
	size_t len;
	int n = 0;

	hop_init(&h, MAQUIS_DIR_FWD, 79, 5, &self->peer4);
	ASSERT_EQ(0, hop_put(self->circuits, 9, &h));
	make_fwd(cell, &h, 9, rand_ctr());

	len = frame_in(f, self, AF_INET, cell, MAQ_CELL_SIZE - 1);
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	EXPECT_STREQ("DROP", xdp_name(r.verdict));
	n++;
	len = frame_in(f, self, AF_INET6, cell, MAQ_CELL_SIZE + 1);
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	EXPECT_STREQ("DROP", xdp_name(r.verdict));
	n++;
	len = frame_in(f, self, AF_INET, cell, 64);
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	EXPECT_STREQ("DROP", xdp_name(r.verdict));
	n++;
	/* lengths right, frame cut short */
	len = frame_in(f, self, AF_INET, cell, MAQ_CELL_SIZE);
	xdp_run(self->prog, f, len - 1, self->ve0, 1, &r);
	EXPECT_STREQ("DROP", xdp_name(r.verdict));
	n++;
	/* IP and UDP lengths disagree */
	len = frame_in(f, self, AF_INET6, cell, MAQ_CELL_SIZE);
	f[ETH_HLEN + IP6_HLEN + 5]++;
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	EXPECT_STREQ("DROP", xdp_name(r.verdict));
	n++;

	EXPECT_EQ(n, STAT(MAQ_STAT_MALFORMED));
	EXPECT_EQ(0, STAT(MAQ_STAT_CELLS_IN));
}

/* Everything that is not a fast-path cell reaches the stack untouched. */
TEST_F(relay, pass_untouched)
{
	__u8 cell[MAQ_CELL_SIZE], f[FRAME_MAX], g[FRAME_MAX];
	struct endpoint other;
	struct xdp_result r;
	struct maq_xdp_hop h;
	size_t len;
	int pass = 0;

	hop_init(&h, MAQUIS_DIR_FWD, 80, 5, &self->peer4);
	ASSERT_EQ(0, hop_put(self->circuits, 10, &h));
	make_fwd(cell, &h, 10, rand_ctr());

	/* other UDP port, even with a valid cell in it */
	other = self->us4;
	other.port = MAQ_PORT + 1;
	len = build_frame(f, &self->prev4, &other, cell, sizeof(cell));
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	check_untouched(_metadata, &r, f, len);
	pass++;

	/* IPv4 with options (4 bytes of NOP): header length 24 */
	len = frame_in(f, self, AF_INET, cell, sizeof(cell));
	memcpy(g, f, ETH_HLEN + IP4_HLEN);
	memset(g + ETH_HLEN + IP4_HLEN, 1, 4);
	memcpy(g + ETH_HLEN + IP4_HLEN + 4, f + ETH_HLEN + IP4_HLEN,
	       len - ETH_HLEN - IP4_HLEN);
	g[ETH_HLEN] = 0x46;
	g[ETH_HLEN + 3] += 4;
	xdp_run(self->prog, g, len + 4, self->ve0, 1, &r);
	check_untouched(_metadata, &r, g, len + 4);
	pass++;

	/* IPv6 with a hop-by-hop header (PadN) before UDP */
	len = frame_in(f, self, AF_INET6, cell, sizeof(cell));
	memcpy(g, f, ETH_HLEN + IP6_HLEN);
	g[ETH_HLEN + 6] = 0;			/* next header: hop-by-hop */
	g[ETH_HLEN + 5] += 8;			/* payload length */
	memset(g + ETH_HLEN + IP6_HLEN, 0, 8);
	g[ETH_HLEN + IP6_HLEN] = IPPROTO_UDP;
	g[ETH_HLEN + IP6_HLEN + 2] = 1;		/* PadN, 4 bytes */
	g[ETH_HLEN + IP6_HLEN + 3] = 4;
	memcpy(g + ETH_HLEN + IP6_HLEN + 8, f + ETH_HLEN + IP6_HLEN,
	       len - ETH_HLEN - IP6_HLEN);
	xdp_run(self->prog, g, len + 8, self->ve0, 1, &r);
	check_untouched(_metadata, &r, g, len + 8);
	pass++;

	/* IPv4 fragments: first (MF) and a later one (offset) */
	len = frame_in(f, self, AF_INET, cell, sizeof(cell));
	f[ETH_HLEN + 6] = 0x20;			/* MF */
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	check_untouched(_metadata, &r, f, len);
	pass++;
	f[ETH_HLEN + 6] = 0x00;
	f[ETH_HLEN + 7] = 0xb9;			/* offset 185 * 8 */
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	check_untouched(_metadata, &r, f, len);
	pass++;

	/* not IP at all: ARP */
	memset(g, 0, 60);
	memcpy(g, f, 12);
	g[12] = 0x08;
	g[13] = 0x06;
	xdp_run(self->prog, g, 60, self->ve0, 1, &r);
	check_untouched(_metadata, &r, g, 60);
	pass++;

	EXPECT_EQ(pass, STAT(MAQ_STAT_PASS));
	EXPECT_EQ(0, STAT(MAQ_STAT_MALFORMED));

	/* cid 0: link control, for the daemon */
	cell_put_hdr(cell, 0, 0x0101000000000001ULL);
	len = frame_in(f, self, AF_INET6, cell, sizeof(cell));
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	check_untouched(_metadata, &r, f, len);
	EXPECT_EQ(1, STAT(MAQ_STAT_PASS_CTL));

	/* a cid we do not know */
	make_fwd(cell, &h, 11, rand_ctr());
	len = frame_in(f, self, AF_INET, cell, sizeof(cell));
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	check_untouched(_metadata, &r, f, len);
	EXPECT_EQ(1, STAT(MAQ_STAT_UNKNOWN_CID));
	EXPECT_EQ(0, STAT(MAQ_STAT_CELLS_IN));
}

/* No route or no neighbour yet: PASS untouched, window untouched. */
TEST_F(relay, no_route)
{
	static const char *const dst[] = { "10.0.0.9", "fd00::9", "192.0.2.1",
					   "2001:db8::1" };
	__u8 cell[MAQ_CELL_SIZE], f[FRAME_MAX];
	struct endpoint nowhere;
	struct xdp_result r;
	struct maq_xdp_hop h, got;
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(dst); i++) {
		endpoint_set(&nowhere, dst[i], 7725, "00:00:00:00:00:00");
		hop_init(&h, i & 1 ? MAQUIS_DIR_BACK : MAQUIS_DIR_FWD, 81, 5,
			 &nowhere);
		ASSERT_EQ(0, hop_put(self->circuits, 12, &h));
		make_fwd(cell, &h, 12, rand_ctr());
		len = frame_in(f, self, AF_INET, cell, sizeof(cell));
		xdp_run(self->prog, f, len, self->ve0, 1, &r);
		check_untouched(_metadata, &r, f, len);
		ASSERT_EQ(0, hop_get(self->circuits, 12, &got));
		EXPECT_EQ(0, got.replay_next);
		EXPECT_EQ(0, got.slot_cells[0]);
	}
	EXPECT_EQ(i, STAT(MAQ_STAT_NO_ROUTE));
}

/* Slot missing or used up: DROP, key_limit, in both directions. */
TEST_F(relay, key_limit)
{
	__u8 cell[MAQ_CELL_SIZE], f[FRAME_MAX];
	struct xdp_result r;
	struct maq_xdp_hop h;
	__u64 seq = rand_ctr();
	size_t len;
	int dir, n = 0;

	for (dir = MAQUIS_DIR_FWD; dir <= MAQUIS_DIR_BACK; dir++) {
		hop_init(&h, dir, 82, 5, &self->peer4);
		h.slot_cells[0] = MAQ_KEY_LIMIT;
		h.flags = MAQ_HOP_SLOT0;	/* slot 1 not installed */
		ASSERT_EQ(0, hop_put(self->circuits, 13, &h));

		make_fwd(cell, &h, 13, seq);
		len = frame_in(f, self, AF_INET, cell, sizeof(cell));
		xdp_run(self->prog, f, len, self->ve0, 1, &r);
		EXPECT_STREQ("DROP", xdp_name(r.verdict));
		n++;
		make_fwd(cell, &h, 13, seq | MAQ_SEQ_PHASE);
		len = frame_in(f, self, AF_INET, cell, sizeof(cell));
		xdp_run(self->prog, f, len, self->ve0, 1, &r);
		EXPECT_STREQ("DROP", xdp_name(r.verdict));
		n++;

		/* one below the limit still works */
		h.slot_cells[0] = MAQ_KEY_LIMIT - 1;
		ASSERT_EQ(0, hop_put(self->circuits, 13, &h));
		make_fwd(cell, &h, 13, seq + 1);
		len = frame_in(f, self, AF_INET, cell, sizeof(cell));
		xdp_run(self->prog, f, len, self->ve0, 1, &r);
		EXPECT_STREQ("TX", xdp_name(r.verdict));
	}
	EXPECT_EQ(n, STAT(MAQ_STAT_KEY_LIMIT));
	EXPECT_EQ(0, STAT(MAQ_STAT_BAD_TAG));
}

/* A forward cell under the hop control key is the daemon's (PROTOCOL 6). */
TEST_F(relay, hop_control)
{
	__u8 cell[MAQ_CELL_SIZE], plain[MAQ_BODY_LEN], f[FRAME_MAX];
	__u64 seq = rand_ctr();
	struct xdp_result r;
	struct maq_xdp_hop h, got;
	size_t len;

	hop_init(&h, MAQUIS_DIR_FWD, 83, 5, &self->peer4);
	h.flags |= MAQ_HOP_CTL;
	ASSERT_EQ(0, hop_put(self->circuits, 14, &h));
	randombytes_buf(plain, sizeof(plain));
	cell_seal_fwd(cell, 14, seq, plain, h.ctl_key);
	len = frame_in(f, self, AF_INET, cell, sizeof(cell));
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	check_untouched(_metadata, &r, f, len);
	EXPECT_EQ(1, STAT(MAQ_STAT_PASS_CTL));
	EXPECT_EQ(0, STAT(MAQ_STAT_BAD_TAG));
	ASSERT_EQ(0, hop_get(self->circuits, 14, &got));
	EXPECT_EQ(0, got.replay_next);

	/* without the flag the key is not tried */
	h.flags &= ~MAQ_HOP_CTL;
	ASSERT_EQ(0, hop_put(self->circuits, 14, &h));
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	EXPECT_STREQ("DROP", xdp_name(r.verdict));
	EXPECT_EQ(1, STAT(MAQ_STAT_BAD_TAG));
}

/*
 * FIB lookups from the ingress device need forwarding enabled there: until
 * then cells are the stack's (no_route), afterwards relayed.
 */
TEST_F(relay, fib_ingress)
{
	struct maq_xdp_config cfg = { .port = htons(MAQ_PORT) };
	__u8 cell[MAQ_CELL_SIZE], want[MAQ_CELL_SIZE], f[FRAME_MAX];
	__u64 seq = rand_ctr();
	struct xdp_result r;
	struct maq_xdp_hop h;
	__u32 zero = 0;
	size_t len;

	ASSERT_EQ(0, bpf_map_update_elem(bpf_map__fd(self->skel->maps.maq_config),
					 &zero, &cfg, BPF_ANY));
	hop_init(&h, MAQUIS_DIR_FWD, 85, 5, &self->far4);
	ASSERT_EQ(0, hop_put(self->circuits, 18, &h));
	make_fwd(cell, &h, 18, seq);
	want_fwd(want, cell, &h, seq);
	len = frame_in(f, self, AF_INET, cell, sizeof(cell));
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	check_untouched(_metadata, &r, f, len);
	EXPECT_EQ(1, STAT(MAQ_STAT_NO_ROUTE));

	ASSERT_EQ(0, system("echo 1 > /proc/sys/net/ipv4/conf/ve0/forwarding"));
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	EXPECT_STREQ("REDIRECT", xdp_name(r.verdict));
	check_out(_metadata, &r, &self->us4b, &self->far4, want);
}

/* A packet socket on @ifname, for frames whose UDP destination is @port. */
static int sniff_open(const char *ifname)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = if_nametoindex(ifname),
	};
	struct timeval tv = { .tv_sec = 2 };
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));

	if (fd < 0)
		return -1;
	if (bind(fd, (void *)&sll, sizeof(sll)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int sniff(int fd, __u16 port, struct xdp_result *r)
{
	int i;

	for (i = 0; i < 100; i++) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, r->data, sizeof(r->data), 0,
				     (void *)&from, &fl);
		const __u8 *udp;

		if (n < 0)
			return -1;
		if (from.sll_pkttype == PACKET_OUTGOING || n < ETH_HLEN + 48)
			continue;
		if (r->data[12] == 0x08 && r->data[13] == 0x00)
			udp = r->data + ETH_HLEN + IP4_HLEN;
		else if (r->data[12] == 0x86 && r->data[13] == 0xdd)
			udp = r->data + ETH_HLEN + IP6_HLEN;
		else
			continue;
		if ((udp[2] << 8 | udp[3]) == port) {
			r->len = n;
			return 0;
		}
	}
	return -1;
}

/*
 * On the wire for real (live frames): XDP_TX leaves by ve0 and arrives at
 * ve1, the redirect leaves by ve2 and arrives at ve3.  veth delivers XDP
 * frames only to a peer running NAPI, which an XDP program turns on; the
 * relay itself serves, passing what is not for its port.
 */
TEST_F(relay, live)
{
	__u8 cell[MAQ_CELL_SIZE], want[MAQ_CELL_SIZE], f[FRAME_MAX];
	struct xdp_result r;
	struct maq_xdp_hop h;
	__u64 seq = rand_ctr();
	int s1, s3, err;
	size_t len;

	err = bpf_xdp_attach(if_nametoindex("ve1"), self->prog,
			     XDP_FLAGS_DRV_MODE, NULL);
	if (err)
		SKIP(return, "cannot attach XDP to veth: %s", strerror(-err));
	ASSERT_EQ(0, bpf_xdp_attach(if_nametoindex("ve3"), self->prog,
				    XDP_FLAGS_DRV_MODE, NULL));
	s1 = sniff_open("ve1");
	s3 = sniff_open("ve3");
	ASSERT_LE(0, s1);
	ASSERT_LE(0, s3);

	hop_init(&h, MAQUIS_DIR_FWD, 87, rand64(), &self->peer6);
	ASSERT_EQ(0, hop_put(self->circuits, 20, &h));
	make_fwd(cell, &h, 20, seq);
	want_fwd(want, cell, &h, seq);
	len = frame_in(f, self, AF_INET6, cell, sizeof(cell));
	ASSERT_EQ(0, xdp_run_live(self->prog, f, len, self->ve0));
	ASSERT_EQ(0, sniff(s1, self->peer6.port, &r));
	check_out(_metadata, &r, &self->us6, &self->peer6, want);

	hop_init(&h, MAQUIS_DIR_BACK, 88, rand64(), &self->far4);
	ASSERT_EQ(0, hop_put(self->circuits, 21, &h));
	randombytes_buf(cell, sizeof(cell));
	cell_put_hdr(cell, 21, seq);
	want_back(want, cell, &h, seq);
	len = frame_in(f, self, AF_INET, cell, sizeof(cell));
	ASSERT_EQ(0, xdp_run_live(self->prog, f, len, self->ve0));
	ASSERT_EQ(0, sniff(s3, self->far4.port, &r));
	check_out(_metadata, &r, &self->us4b, &self->far4, want);

	EXPECT_EQ(2, STAT(MAQ_STAT_CELLS_OUT));
	close(s1);
	close(s3);
}

/* Not configured (port 0): everything passes. */
TEST_F(relay, unconfigured)
{
	struct maq_xdp_config cfg = {};
	__u8 cell[MAQ_CELL_SIZE], f[FRAME_MAX];
	struct xdp_result r;
	struct maq_xdp_hop h;
	__u32 zero = 0;
	size_t len;

	ASSERT_EQ(0, bpf_map_update_elem(bpf_map__fd(self->skel->maps.maq_config),
					 &zero, &cfg, BPF_ANY));
	hop_init(&h, MAQUIS_DIR_FWD, 84, 5, &self->peer4);
	ASSERT_EQ(0, hop_put(self->circuits, 15, &h));
	make_fwd(cell, &h, 15, rand_ctr());
	len = frame_in(f, self, AF_INET, cell, sizeof(cell));
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	check_untouched(_metadata, &r, f, len);
}

/*
 * Cost per cell.  Backward: a hop that relabels onto itself and sends to our
 * own port, so test_run's repeat feeds the output back in.  Forward: the
 * window forbids repeats, so distinct cells, one run each.
 */
TEST_F(relay, cost)
{
	__u8 cell[MAQ_CELL_SIZE], f[FRAME_MAX];
	struct endpoint self_loop = self->peer4;
	__u64 base = rand_ctr(), sum = 0;
	struct xdp_result r;
	struct maq_xdp_hop h;
	size_t len;
	int i, n = 256;

	self_loop.port = MAQ_PORT;
	hop_init(&h, MAQUIS_DIR_BACK, 16, 3, &self_loop);
	ASSERT_EQ(0, hop_put(self->circuits, 16, &h));
	randombytes_buf(cell, sizeof(cell));
	cell_put_hdr(cell, 16, base);
	len = frame_in(f, self, AF_INET, cell, sizeof(cell));
	xdp_run(self->prog, f, len, self->ve0, 20000, &r);
	ASSERT_EQ(0, r.err);
	EXPECT_STREQ("TX", xdp_name(r.verdict));
	EXPECT_EQ(20000, STAT(MAQ_STAT_CELLS_OUT));
	TH_LOG("backward cell, IPv4, XDP_TX: %u ns", r.duration);

	hop_init(&h, MAQUIS_DIR_FWD, 17, 3, &self->peer4);
	ASSERT_EQ(0, hop_put(self->circuits, 17, &h));
	for (i = 0; i < n; i++) {
		make_fwd(cell, &h, 17, base + i);
		len = frame_in(f, self, AF_INET, cell, sizeof(cell));
		xdp_run(self->prog, f, len, self->ve0, 1, &r);
		ASSERT_STREQ("TX", xdp_name(r.verdict));
		sum += r.duration;
	}
	TH_LOG("forward cell, IPv4, XDP_TX: %llu ns (mean of %d)",
	       (unsigned long long)(sum / n), n);

	/* what a forged cell costs us before it is dropped */
	make_fwd(cell, &h, 17, base + n);
	cell[100] ^= 1;
	len = frame_in(f, self, AF_INET, cell, sizeof(cell));
	xdp_run(self->prog, f, len, self->ve0, 10000, &r);
	EXPECT_STREQ("DROP", xdp_name(r.verdict));
	TH_LOG("forged forward cell, DROP: %u ns", r.duration);
}

TEST_HARNESS_MAIN
