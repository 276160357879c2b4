// SPDX-License-Identifier: GPL-2.0
/*
 * view_test: daemon/view.c, a daemon's view of the network (PROTOCOL 8,
 * 10), on descriptors signed with real keys.  It proves:
 *
 *  - offers are accepted, updated, refused as stale, expired, forged, when
 *    the view is full or a prefix crowded, each counted; the store stays
 *    sorted; expiry drops what it should;
 *  - lookup by base64 and hex prefix, and its errors (ambiguous, unknown,
 *    malformed); the terminus serving a destination, longest prefix first;
 *  - digests of 0..500 relays parse, cover [0, 2^64 - 1] without gaps,
 *    list the view exactly, never split a prefix; two and three views
 *    exchanging digests and pushes through the real cell encoders converge;
 *  - paths honour the diversity rules over many draws, via relays are used
 *    and checked, too few relays is an error naming the numbers, bandwidth
 *    weighting and gossip sampling have the right frequencies;
 *  - local trust: blame points, the avoid window growing on repeat and its
 *    end, forgetting, the bounded table; avoided and excluded relays are
 *    never picked while the diversity rules still hold, via relays are the
 *    user's choice, and relays seen working are preferred by the factor
 *    view.h gives.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sodium.h>

#include "view.h"
#include "kselftest_harness.h"

/* literals against unsigned fields in EXPECT_EQ; all small, non-negative */
#pragma GCC diagnostic ignored "-Wsign-compare"

#define NOW	1700000000ULL
#define DL	MAQ_DESC_LEN

struct node {
	struct maq_identity id;
	struct maq_onion_key onion;
};

/* What a test varies in a descriptor; zero fields take defaults. */
struct spec {
	u8 flags;			/* 0: relay; use NO_FLAGS for none */
	u32 bw;				/* 0: 1000; BW_ZERO for 0 */
	const char *a4;			/* 0: <11 + i / 250>.<i % 250>.0.1 */
	const char *a6;			/* optional second address */
	u8 family;			/* non-zero: family id byte */
	u64 published;			/* 0: NOW - 60 */
	u64 life;			/* 0: 3600 */
	const char *prefix;		/* inner prefix, or none */
};

#define NO_FLAGS	0x80
#define BW_ZERO		0xffffffff

static struct node *nodes_new(unsigned int n)
{
	struct node *nd = calloc(n, sizeof(*nd));
	unsigned int i;

	if (!nd || maq_crypto_init())
		abort();
	for (i = 0; i < n; i++)
		if (maq_identity_generate(&nd[i].id) ||
		    maq_onion_generate(&nd[i].onion))
			abort();
	return nd;
}

/* Descriptor of node @i of @nd as @s says, in @raw. */
static void mk(u8 raw[DL], const struct node *nd, unsigned int i,
	       const struct spec *s)
{
	static const struct spec none;
	struct maq_desc d;
	char a4[32];

	if (!s)
		s = &none;
	memset(&d, 0, sizeof(d));
	d.version = MAQ_DESC_VERSION;
	d.flags = s->flags == NO_FLAGS ? 0 :
		  s->flags ? s->flags : MAQ_DESC_F_RELAY;
	d.port = 7720;
	d.bandwidth = s->bw == BW_ZERO ? 0 : s->bw ? s->bw : 1000;
	d.published = s->published ? s->published : NOW - 60;
	d.expires = d.published + (s->life ? s->life : 3600);
	/* a /16 of its own (10.x is left for the tests) */
	snprintf(a4, sizeof(a4), "%u.%u.0.1", 11 + i / 250, i % 250);
	d.addr[0].in4.sin_family = AF_INET;
	if (inet_pton(AF_INET, s->a4 ? s->a4 : a4,
		      &d.addr[0].in4.sin_addr) != 1)
		abort();
	if (s->a6) {
		d.addr[1].in6.sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, s->a6, &d.addr[1].in6.sin6_addr) != 1)
			abort();
	}
	d.family[0] = s->family;
	memcpy(d.onion_key, nd[i].onion.pk, MAQ_ONION_LEN);
	if (s->prefix && maq_prefix_parse(s->prefix, &d.prefix))
		abort();
	if (maq_desc_encode(raw, &d, &nd[i].id))
		abort();
}

/*
 * Offer node @i's descriptor per @s, a little before NOW (so that a short
 * life can have ended at NOW); returns what the view said.
 */
static enum maq_desc_err offer(struct maq_view *v, const struct node *nd,
			       unsigned int i, const struct spec *s,
			       bool *changed)
{
	u8 raw[DL];

	mk(raw, nd, i, s);
	return maq_view_offer(v, raw, DL, NOW - 50, changed);
}

static bool sorted(const struct maq_view *v)
{
	size_t i;

	for (i = 1; i < v->n; i++)
		if (memcmp(v->relay[i - 1].d.identity, v->relay[i].d.identity,
			   MAQ_ID_PK_LEN) >= 0)
			return false;
	return true;
}

/*
 * A relay the test writes into the view directly, keeping it sorted: for
 * identities real keys cannot have (shared prefixes), to test what the
 * view does with them.  @tmpl gives everything but the identity.
 */
static void inject(struct maq_view *v, const struct maq_relay *tmpl,
		   const u8 id[MAQ_ID_PK_LEN])
{
	size_t i;

	if (v->n == v->cap) {
		v->cap = v->cap ? 2 * v->cap : 64;
		v->relay = realloc(v->relay, v->cap * sizeof(*v->relay));
		if (!v->relay)
			abort();
	}
	for (i = 0; i < v->n; i++)
		if (memcmp(v->relay[i].d.identity, id, MAQ_ID_PK_LEN) > 0)
			break;
	memmove(&v->relay[i + 1], &v->relay[i],
		(v->n - i) * sizeof(*v->relay));
	v->relay[i] = *tmpl;
	memcpy(v->relay[i].d.identity, id, MAQ_ID_PK_LEN);
	v->n++;
}

TEST(offer_counters)
{
	struct node *nd = nodes_new(40);
	struct spec s = { 0 };
	struct maq_view v;
	bool changed;
	u8 raw[DL];
	unsigned int i;

	maq_view_init(&v, nd[0].id.pk);
	for (i = 0; i < 40; i++) {
		EXPECT_EQ(MAQ_DESC_OK, offer(&v, nd, i, NULL, &changed));
		EXPECT_TRUE(changed);
	}
	EXPECT_EQ(40, v.n);
	EXPECT_EQ(40, v.accepted);
	EXPECT_TRUE(sorted(&v));
	/* self is stored like the others */
	ASSERT_NE(NULL, maq_view_find(&v, nd[0].id.pk));

	/* the same again, and older: stale */
	EXPECT_EQ(MAQ_DESC_OK, offer(&v, nd, 5, NULL, &changed));
	EXPECT_FALSE(changed);
	s.published = NOW - 600;
	EXPECT_EQ(MAQ_DESC_OK, offer(&v, nd, 5, &s, &changed));
	EXPECT_FALSE(changed);
	EXPECT_EQ(2, v.stale);
	EXPECT_EQ(NOW - 60, maq_view_find(&v, nd[5].id.pk)->d.published);

	/* newer: replaces, raw bytes and all */
	s.published = NOW - 10;
	s.bw = 4242;
	mk(raw, nd, 5, &s);
	EXPECT_EQ(MAQ_DESC_OK, maq_view_offer(&v, raw, DL, NOW + 5, &changed));
	EXPECT_TRUE(changed);
	EXPECT_EQ(1, v.updated);
	EXPECT_EQ(4242, maq_view_find(&v, nd[5].id.pk)->d.bandwidth);
	EXPECT_EQ(0, memcmp(raw, maq_view_find(&v, nd[5].id.pk)->raw, DL));
	EXPECT_EQ(NOW + 5, maq_view_find(&v, nd[5].id.pk)->received);
	EXPECT_EQ(40, v.n);

	/* expired, forged, truncated, future: refused and counted */
	s.published = NOW - 7200;
	s.life = 3600;
	EXPECT_EQ(MAQ_DESC_EXPIRED, offer(&v, nd, 6, &s, &changed));
	EXPECT_FALSE(changed);
	EXPECT_EQ(1, v.rejected[MAQ_DESC_EXPIRED]);
	mk(raw, nd, 7, NULL);
	raw[4] ^= 1;				/* bandwidth, under the sig */
	EXPECT_EQ(MAQ_DESC_BAD_SIGNATURE,
		  maq_view_offer(&v, raw, DL, NOW, NULL));
	EXPECT_EQ(1, v.rejected[MAQ_DESC_BAD_SIGNATURE]);
	EXPECT_EQ(MAQ_DESC_TRUNCATED, maq_view_offer(&v, raw, DL - 1, NOW,
						     NULL));
	EXPECT_EQ(1, v.rejected[MAQ_DESC_TRUNCATED]);
	memset(&s, 0, sizeof(s));
	s.published = NOW + 3600;
	EXPECT_EQ(MAQ_DESC_FUTURE, offer(&v, nd, 8, &s, NULL));
	EXPECT_EQ(1, v.rejected[MAQ_DESC_FUTURE]);
	EXPECT_EQ(40, v.n);
	EXPECT_EQ(40, v.accepted);
	EXPECT_EQ(0, v.full);
	EXPECT_EQ(1000, maq_view_find(&v, nd[7].id.pk)->d.bandwidth);
	maq_view_free(&v);
	EXPECT_EQ(0, v.n);
	EXPECT_EQ(NULL, v.relay);
	free(nd);
}

TEST(offer_full)
{
	unsigned int n = MAQ_VIEW_MAX + 2, i;
	struct node *nd = nodes_new(n);
	struct spec s = { .published = NOW - 30 };
	struct maq_view v;
	bool changed;

	maq_view_init(&v, NULL);
	for (i = 0; i < MAQ_VIEW_MAX; i++)
		ASSERT_EQ(MAQ_DESC_OK, offer(&v, nd, i, NULL, NULL));
	EXPECT_EQ(MAQ_VIEW_MAX, v.n);
	EXPECT_TRUE(sorted(&v));
	for (i = MAQ_VIEW_MAX; i < n; i++) {
		EXPECT_EQ(MAQ_DESC_OK, offer(&v, nd, i, NULL, &changed));
		EXPECT_FALSE(changed);
		EXPECT_EQ(NULL, maq_view_find(&v, nd[i].id.pk));
	}
	EXPECT_EQ(2, v.full);
	EXPECT_EQ(MAQ_VIEW_MAX, v.accepted);
	/* a full view still takes newer descriptors of what it holds */
	EXPECT_EQ(MAQ_DESC_OK, offer(&v, nd, 17, &s, &changed));
	EXPECT_TRUE(changed);
	EXPECT_EQ(1, v.updated);
	/* and room made by expiry is used again */
	EXPECT_EQ(MAQ_VIEW_MAX - 1, maq_view_expire(&v, NOW + 3540));
	EXPECT_EQ(1, v.n);
	EXPECT_EQ(MAQ_VIEW_MAX - 1, v.expired);
	EXPECT_EQ(MAQ_DESC_OK, offer(&v, nd, n - 1, NULL, &changed));
	EXPECT_TRUE(changed);
	maq_view_free(&v);
	free(nd);
}

/* MAQ_DIGEST_MAX identities of one 8-byte prefix, then the real key. */
TEST(offer_crowded_prefix)
{
	struct node *nd = nodes_new(2);
	struct maq_relay tmpl;
	struct maq_view v;
	u8 id[MAQ_ID_PK_LEN];
	unsigned int i;
	bool changed;

	maq_view_init(&v, NULL);
	mk(tmpl.raw, nd, 1, NULL);
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_decode(&tmpl.d, tmpl.raw, DL, NOW));
	for (i = 0; i < MAQ_DIGEST_MAX; i++) {
		memcpy(id, nd[0].id.pk, MAQ_ID_PK_LEN);
		id[31] ^= (u8)(i + 1);
		id[30] ^= (u8)((i + 1) >> 8);
		inject(&v, &tmpl, id);
	}
	EXPECT_EQ(MAQ_DESC_OK, offer(&v, nd, 0, NULL, &changed));
	EXPECT_FALSE(changed);
	EXPECT_EQ(1, v.crowded);
	EXPECT_EQ(NULL, maq_view_find(&v, nd[0].id.pk));
	/* one fewer, and it fits */
	memmove(&v.relay[0], &v.relay[1], (v.n - 1) * sizeof(v.relay[0]));
	v.n--;
	EXPECT_EQ(MAQ_DESC_OK, offer(&v, nd, 0, NULL, &changed));
	EXPECT_TRUE(changed);
	EXPECT_TRUE(sorted(&v));
	maq_view_free(&v);
	free(nd);
}

TEST(expire)
{
	struct node *nd = nodes_new(30);
	struct maq_view v;
	unsigned int i;

	maq_view_init(&v, NULL);
	for (i = 0; i < 30; i++) {
		struct spec s = { .published = NOW - 60,
				  .life = 600 * (1 + i % 3) };

		ASSERT_EQ(MAQ_DESC_OK, offer(&v, nd, i, &s, NULL));
	}
	EXPECT_EQ(0, maq_view_expire(&v, NOW));
	EXPECT_EQ(0, maq_view_expire(&v, NOW - 60 + 599));
	EXPECT_EQ(10, maq_view_expire(&v, NOW - 60 + 600));
	EXPECT_EQ(20, v.n);
	EXPECT_TRUE(sorted(&v));
	for (i = 0; i < 30; i++)
		EXPECT_EQ(i % 3 != 0, !!maq_view_find(&v, nd[i].id.pk));
	EXPECT_EQ(20, maq_view_expire(&v, NOW + 100000));
	EXPECT_EQ(0, v.n);
	EXPECT_EQ(30, v.expired);
	EXPECT_EQ(0, maq_view_expire(&v, NOW + 100000));
	maq_view_free(&v);
	free(nd);
}

TEST(lookup)
{
	struct node *nd = nodes_new(20);
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
	char hex[65], name[80];
	const struct maq_relay *r;
	struct maq_relay tmpl;
	struct maq_view v;
	u8 id[MAQ_ID_PK_LEN];
	unsigned int i;

	maq_view_init(&v, NULL);
	for (i = 0; i < 20; i++)
		ASSERT_EQ(MAQ_DESC_OK, offer(&v, nd, i, NULL, NULL));
	for (i = 0; i < 20; i++) {
		sodium_bin2base64(b64, sizeof(b64), nd[i].id.pk, 32,
				  sodium_base64_VARIANT_ORIGINAL);
		r = maq_view_lookup(&v, b64);
		ASSERT_NE(NULL, r) TH_LOG("%s", b64);
		EXPECT_EQ(0, memcmp(r->d.identity, nd[i].id.pk, 32));
		sodium_bin2hex(hex, sizeof(hex), nd[i].id.pk, 32);
		EXPECT_EQ(r, maq_view_lookup(&v, hex));
		hex[8] = '\0';
		EXPECT_EQ(r, maq_view_lookup(&v, hex));
		hex[0] = (char)toupper(hex[0]);
		hex[5] = (char)toupper(hex[5]);
		EXPECT_EQ(r, maq_view_lookup(&v, hex)) TH_LOG("%s", hex);
	}

	/* a prefix that two identities share: 9 digits tell them apart */
	memcpy(id, nd[3].id.pk, 32);
	id[4] ^= 0x01;
	mk(tmpl.raw, nd, 3, NULL);
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_decode(&tmpl.d, tmpl.raw, DL, NOW));
	inject(&v, &tmpl, id);
	sodium_bin2hex(hex, sizeof(hex), nd[3].id.pk, 32);
	hex[8] = '\0';
	errno = 0;
	EXPECT_EQ(NULL, maq_view_lookup(&v, hex));
	EXPECT_EQ(EEXIST, errno);
	sodium_bin2hex(hex, sizeof(hex), nd[3].id.pk, 32);
	hex[10] = '\0';
	r = maq_view_lookup(&v, hex);
	ASSERT_NE(NULL, r) TH_LOG("%s", hex);
	EXPECT_EQ(0, memcmp(r->d.identity, nd[3].id.pk, 32));
	sodium_bin2hex(hex, sizeof(hex), id, 32);
	hex[10] = '\0';
	r = maq_view_lookup(&v, hex);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(0, memcmp(r->d.identity, id, 32));
	/* odd length: the ninth digit is compared too */
	hex[9] = '\0';
	errno = 0;
	EXPECT_EQ(NULL, maq_view_lookup(&v, hex));
	EXPECT_EQ((id[4] >> 4) == (nd[3].id.pk[4] >> 4) ? EEXIST : 0, errno);

	/* unknown */
	randombytes_buf(id, 32);
	sodium_bin2base64(b64, sizeof(b64), id, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	errno = 0;
	EXPECT_EQ(NULL, maq_view_lookup(&v, b64));
	EXPECT_EQ(ENOENT, errno);
	sodium_bin2hex(hex, sizeof(hex), nd[0].id.pk, 32);
	hex[0] = hex[0] == 'f' ? '0' : 'f';	/* no key of 20 starts so */
	hex[1] = hex[2] = hex[3] = hex[4] = 'f';
	hex[12] = '\0';
	errno = 0;
	r = maq_view_lookup(&v, hex);
	EXPECT_TRUE(r == NULL && errno == ENOENT) TH_LOG("%s", hex);

	/* malformed */
	{
		static const char *const bad[] = {
			"", "1234567", "zzzzzzzz", "12345678 ", " 12345678",
			"0x12345678", "relay1",
			/* 65 digits */
			"00000000000000000000000000000000"
			"000000000000000000000000000000000",
			/*
			 * base64 of 31 bytes, 33 bytes, unpadded, url-safe
			 * (Q: not a hex digit)
			 */
			"QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ==",
			"QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ",
			"QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ",
			"_-QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ=",
		};

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			errno = 0;
			EXPECT_EQ(NULL, maq_view_lookup(&v, bad[i]));
			EXPECT_EQ(EINVAL, errno) TH_LOG("'%s'", bad[i]);
		}
		sodium_bin2base64(b64, sizeof(b64), nd[1].id.pk, 32,
				  sodium_base64_VARIANT_ORIGINAL);
		snprintf(name, sizeof(name), "%sA", b64);
		errno = 0;
		EXPECT_EQ(NULL, maq_view_lookup(&v, name));
		EXPECT_EQ(EINVAL, errno);
		errno = 0;
		EXPECT_EQ(NULL, maq_view_lookup(&v, NULL));
		EXPECT_EQ(EINVAL, errno);
	}
	maq_view_free(&v);
	free(nd);
}

TEST(serving)
{
	static const struct {
		const char *prefix;
		u64 published;
	} hosts[] = {
		{ "172.31.0.0/16", NOW - 100 },		/* 0 */
		{ "172.31.0.0/24", NOW - 100 },		/* 1 */
		{ "172.31.0.0/24", NOW - 50 },		/* 2: newer /24 */
		{ "172.31.0.2/32", NOW - 100 },		/* 3 */
		{ "fd00:1::/64", NOW - 100 },		/* 4 */
		{ "0.0.0.0/0", NOW - 100 },		/* 5 */
		{ NULL, NOW - 100 },			/* 6 */
		{ "172.31.0.9/32", NOW - 100 },		/* 7: self */
	};
	static const struct {
		const char *dst;
		int host;		/* -1: none */
	} q[] = {
		{ "172.31.0.2", 3 },
		{ "172.31.0.2/32", 3 },
		{ "172.31.0.3", 2 },
		{ "172.31.0.0/24", 2 },
		{ "172.31.0.128/25", 2 },
		{ "172.31.0.0/23", 0 },		/* not all inside the /24 */
		{ "172.31.1.1", 0 },
		{ "172.31.0.9", 2 },		/* self's /32 never answers */
		{ "172.32.0.1", 5 },
		{ "0.0.0.0/0", 5 },
		{ "fd00:1::5", 4 },
		{ "fd00:1::/64", 4 },
		{ "fd00:1::/63", -1 },
		{ "fd00:2::1", -1 },
	};
	unsigned int n = sizeof(hosts) / sizeof(hosts[0]), i;
	struct node *nd = nodes_new(n);
	const struct maq_relay *r;
	struct maq_prefix dst;
	struct maq_view v;
	char name[64];

	maq_view_init(&v, nd[7].id.pk);
	for (i = 0; i < n; i++) {
		struct spec s = { .prefix = hosts[i].prefix,
				  .published = hosts[i].published };

		ASSERT_EQ(MAQ_DESC_OK, offer(&v, nd, i, &s, NULL));
	}
	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		ASSERT_EQ(0, maq_prefix_parse(q[i].dst, &dst));
		errno = 0;
		r = maq_view_serving(&v, &dst);
		if (q[i].host < 0) {
			EXPECT_EQ(NULL, r) TH_LOG("%s", q[i].dst);
			EXPECT_EQ(ENOENT, errno);
			continue;
		}
		ASSERT_NE(NULL, r) TH_LOG("%s", q[i].dst);
		EXPECT_EQ(0, memcmp(r->d.identity, nd[q[i].host].id.pk, 32))
			TH_LOG("%s: got %s", q[i].dst,
			       maq_prefix_str(&r->d.prefix, name,
					      sizeof(name)));
	}
	/* no /0 announced: an IPv4 address no one serves */
	ASSERT_EQ(0, maq_prefix_parse("8.8.8.8", &dst));
	r = maq_view_serving(&v, &dst);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(0, memcmp(r->d.identity, nd[5].id.pk, 32));
	/* bad destinations */
	dst.family = AF_UNIX;
	errno = 0;
	EXPECT_EQ(NULL, maq_view_serving(&v, &dst));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, maq_prefix_parse("10.0.0.0/8", &dst));
	dst.len = 33;
	errno = 0;
	EXPECT_EQ(NULL, maq_view_serving(&v, &dst));
	EXPECT_EQ(EINVAL, errno);
	maq_view_free(&v);
	free(nd);
}

/* ---------------------------------------------------------------------- */
/* Gossip                                                                 */
/* ---------------------------------------------------------------------- */

/*
 * Decode every digest cell of @v and check they tile [0, 2^64 - 1] in
 * order, list exactly the view, and never put one prefix in two ranges.
 * Returns the number of cells, or 0 after a failed expectation.
 */
static unsigned int check_digests(struct __test_metadata *_metadata,
				  const struct maq_view *v)
{
	u8 (*cells)[MAQ_CELL_SIZE] = malloc(MAQ_VIEW_MAX_DIGESTS *
					     MAQ_CELL_SIZE);
	struct maq_gossip *g = malloc(sizeof(*g));
	unsigned int k, n, e;
	size_t at = 0;
	u64 next = 0;
	bool ok = true, end = false;

	if (!cells || !g)
		abort();
	n = maq_view_digests(v, cells, MAQ_VIEW_MAX_DIGESTS, 0x5eed);
	EXPECT_GE(n, 1);
	EXPECT_LE(n, MAQ_VIEW_MAX_DIGESTS);
	for (k = 0; k < n && ok; k++) {
		ok = false;
		ASSERT_EQ(MAQ_GOSSIP_OK,
			  maq_gossip_decode(g, cells[k], MAQ_CELL_SIZE));
		ASSERT_EQ(MAQ_GOSSIP_DIGEST, g->kind);
		EXPECT_EQ(0x5eed, g->handle);
		ASSERT_FALSE(end);
		ASSERT_EQ(next, g->lo) TH_LOG("cell %u", k);
		ASSERT_LE(g->count, MAQ_DIGEST_MAX);
		for (e = 0; e < g->count; e++, at++) {
			const struct maq_relay *r = &v->relay[at];

			ASSERT_LT(at, v->n);
			EXPECT_EQ(maq_digest_id(r->d.identity),
				  g->entry[e].id);
			EXPECT_EQ(r->d.published, g->entry[e].published);
		}
		/* the next relay, if any, has a prefix beyond this range */
		if (at < v->n)
			ASSERT_GT(maq_digest_id(v->relay[at].d.identity),
				  g->hi);
		end = g->hi == ~0ULL;
		next = g->hi + 1;
		ok = true;
	}
	EXPECT_TRUE(end);
	EXPECT_EQ(v->n, at);
	free(cells);
	free(g);
	return ok && end && at == v->n ? n : 0;
}

TEST(digests_cover_the_view)
{
	static const unsigned int sizes[] = { 0, 1, 87, 88, 174, 175, 500 };
	struct node *nd = nodes_new(500);
	unsigned int t, i;

	for (t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++) {
		unsigned int n = sizes[t], cells;
		struct maq_view v;

		maq_view_init(&v, nd[0].id.pk);
		for (i = 0; i < n; i++)
			ASSERT_EQ(MAQ_DESC_OK, offer(&v, nd, i, NULL, NULL));
		cells = check_digests(_metadata, &v);
		EXPECT_EQ(n ? (n + MAQ_DIGEST_MAX - 1) / MAQ_DIGEST_MAX : 1,
			  cells) TH_LOG("%u relays", n);
		printf("# %u relays: %u digest cells\n", n, cells);
		maq_view_free(&v);
	}
	free(nd);
}

TEST(digests_short_array)
{
	struct node *nd = nodes_new(200);
	u8 (*cells)[MAQ_CELL_SIZE] = malloc(4 * MAQ_CELL_SIZE);
	u64 lo = 1ULL << 62, hi = (3ULL << 62) - 1, next;
	unsigned int i, n, k, listed = 0, want = 0;
	struct maq_gossip g;
	struct maq_view v;

	ASSERT_NE(NULL, cells);
	maq_view_init(&v, NULL);
	for (i = 0; i < 200; i++)
		ASSERT_EQ(MAQ_DESC_OK, offer(&v, nd, i, NULL, NULL));
	memset(cells, 0xa5, 4 * MAQ_CELL_SIZE);
	EXPECT_EQ(3, maq_view_digests(&v, cells, 1, 1));
	for (i = 0; i < 3 * MAQ_CELL_SIZE; i++)
		if (((u8 *)cells)[MAQ_CELL_SIZE + i] != 0xa5)
			break;
	EXPECT_EQ(3 * MAQ_CELL_SIZE, i);
	EXPECT_EQ(3, maq_view_digests(&v, NULL, 0, 1));

	/* a sub-range: only the relays in it, and only it */
	n = maq_view_digests_range(&v, lo, hi, cells, 4, 7);
	ASSERT_GE(n, 1);
	ASSERT_LE(n, 4);
	next = lo;
	for (k = 0; k < n; k++) {
		ASSERT_EQ(MAQ_GOSSIP_OK,
			  maq_gossip_decode(&g, cells[k], MAQ_CELL_SIZE));
		EXPECT_EQ(next, g.lo);
		next = g.hi + 1;
		listed += g.count;
	}
	EXPECT_EQ(hi, g.hi);
	for (i = 0; i < v.n; i++) {
		u64 x = maq_digest_id(v.relay[i].d.identity);

		want += x >= lo && x <= hi;
	}
	EXPECT_EQ(want, listed);
	EXPECT_EQ(0, maq_view_digests_range(&v, 5, 4, cells, 4, 7));
	maq_view_free(&v);
	free(cells);
	free(nd);
}

/* Runs of one 8-byte prefix (as only forged keys make): never split. */
TEST(digests_keep_prefixes_whole)
{
	static const unsigned int runs[] = { 44, 44, 44, 87, 1, 87, 86, 2,
					     30, 30, 30, 87, 43, 45, 5 };
	struct node *nd = nodes_new(1);
	struct maq_relay tmpl;
	struct maq_view v;
	u8 id[MAQ_ID_PK_LEN];
	unsigned int r, j, total = 0, cells;

	maq_view_init(&v, NULL);
	mk(tmpl.raw, nd, 0, NULL);
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_decode(&tmpl.d, tmpl.raw, DL, NOW));
	for (r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
		for (j = 0; j < runs[r]; j++) {
			memset(id, 0, sizeof(id));
			maq_put_be64(id, 0x1000000000000000ULL * (r + 1));
			id[31] = (u8)j;
			inject(&v, &tmpl, id);
			total++;
		}
	}
	/* and the top prefix, so the last range ends on an entry */
	memset(id, 0xff, sizeof(id));
	inject(&v, &tmpl, id);
	ASSERT_EQ(total + 1, v.n);
	cells = check_digests(_metadata, &v);
	/*
	 * Greedy, a run that does not fit starts the next range: 44 | 44 |
	 * 44 | 87 | 1 | 87 | 86 | 2 30 30 | 30 | 87 | 43 | 45 5 1.
	 */
	EXPECT_EQ(12, cells);
	printf("# %zu relays in %zu prefix runs: %u digest cells\n", v.n,
	       sizeof(runs) / sizeof(runs[0]) + 1, cells);
	maq_view_free(&v);
	free(nd);
}

/*
 * More identities of one prefix than a digest holds, which offers never
 * let in: the ranges still tile the space, the run gets one range of its
 * own with the first MAQ_DIGEST_MAX of it, the rest go unlisted.
 */
TEST(digests_overfull_prefix)
{
	u8 (*cells)[MAQ_CELL_SIZE] = malloc(8 * MAQ_CELL_SIZE);
	struct node *nd = nodes_new(1);
	unsigned int j, k, n, listed = 0;
	u64 x = 0x4000000000000000ULL, next = 0;
	struct maq_relay tmpl;
	struct maq_gossip g;
	struct maq_view v;
	u8 id[MAQ_ID_PK_LEN];

	ASSERT_NE(NULL, cells);
	maq_view_init(&v, NULL);
	mk(tmpl.raw, nd, 0, NULL);
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_decode(&tmpl.d, tmpl.raw, DL, NOW));
	for (j = 0; j < 120; j++) {
		memset(id, 0, sizeof(id));
		/* 10 below, 100 of prefix x, 10 above */
		maq_put_be64(id, j < 10 ? j : j < 110 ? x : x + j);
		id[31] = (u8)j;
		inject(&v, &tmpl, id);
	}
	n = maq_view_digests(&v, cells, 8, 3);
	/* [0, x - 1] with 10, [x, x] with 87, [x + 1, 2^64 - 1] with 10 */
	ASSERT_EQ(3, n);
	for (k = 0; k < n; k++) {
		ASSERT_EQ(MAQ_GOSSIP_OK,
			  maq_gossip_decode(&g, cells[k], MAQ_CELL_SIZE));
		EXPECT_EQ(next, g.lo);
		next = g.hi + 1;
		listed += g.count;
		EXPECT_EQ(k == 1 ? MAQ_DIGEST_MAX : 10, g.count);
		if (k == 1)
			EXPECT_TRUE(g.lo == x && g.hi == x);
	}
	EXPECT_EQ(~0ULL, g.hi);
	EXPECT_EQ(120 - (100 - MAQ_DIGEST_MAX), listed);
	/* the run at the very top of the space ends the last range */
	maq_view_free(&v);
	maq_view_init(&v, NULL);
	for (j = 0; j < 100; j++) {
		memset(id, 0xff, sizeof(id));
		id[31] = (u8)j;
		inject(&v, &tmpl, id);
	}
	ASSERT_EQ(1, maq_view_digests(&v, cells, 8, 3));
	ASSERT_EQ(MAQ_GOSSIP_OK, maq_gossip_decode(&g, cells[0],
						   MAQ_CELL_SIZE));
	EXPECT_EQ(0, g.lo);
	EXPECT_EQ(~0ULL, g.hi);
	EXPECT_EQ(MAQ_DIGEST_MAX, g.count);
	maq_view_free(&v);
	free(cells);
	free(nd);
}

/* --- convergence --------------------------------------------------------- */

struct peer {
	struct maq_view v;
	unsigned int cells_sent, pushed;
};

/* @from answers digest @g from @to with push cells, which @to takes. */
static void push_back(struct __test_metadata *_metadata, struct peer *from,
		      struct peer *to, const struct maq_gossip *g, u64 now)
{
	const struct maq_relay **out = malloc(MAQ_VIEW_MAX * sizeof(*out));
	u8 desc[MAQ_PUSH_MAX][MAQ_DESC_LEN], cell[MAQ_CELL_SIZE];
	struct maq_gossip *p = malloc(sizeof(*p));
	unsigned int n, i, k;

	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, p);
	n = maq_view_answer(&from->v, g, out, MAQ_VIEW_MAX);
	for (i = 0; i < n; i += k) {
		for (k = 0; k < MAQ_PUSH_MAX && i + k < n; k++)
			memcpy(desc[k], out[i + k]->raw, MAQ_DESC_LEN);
		ASSERT_EQ(0, maq_gossip_push_encode(cell, 9,
						    (const u8 (*)[DL])desc,
						    k));
		from->cells_sent++;
		ASSERT_EQ(MAQ_GOSSIP_OK,
			  maq_gossip_decode(p, cell, MAQ_CELL_SIZE));
		ASSERT_EQ(MAQ_GOSSIP_PUSH, p->kind);
		for (unsigned int j = 0; j < p->count; j++)
			EXPECT_EQ(MAQ_DESC_OK,
				  maq_view_offer(&to->v, p->desc[j], DL, now,
						 NULL));
		from->pushed += k;
	}
	free(out);
	free(p);
}

/* One push-pull exchange: @a sends its digests to @b. */
static void exchange(struct __test_metadata *_metadata, struct peer *a,
		     struct peer *b, u64 now)
{
	u8 (*cells)[MAQ_CELL_SIZE] = malloc(MAQ_VIEW_MAX_DIGESTS *
					     MAQ_CELL_SIZE);
	u8 (*back)[MAQ_CELL_SIZE] = malloc(MAQ_VIEW_MAX_DIGESTS *
					    MAQ_CELL_SIZE);
	struct maq_gossip *g = malloc(sizeof(*g)), *h = malloc(sizeof(*h));
	unsigned int n, k, m, j;

	ASSERT_TRUE(cells && back && g && h);
	n = maq_view_digests(&a->v, cells, MAQ_VIEW_MAX_DIGESTS, 1);
	ASSERT_LE(n, MAQ_VIEW_MAX_DIGESTS);
	a->cells_sent += n;
	for (k = 0; k < n; k++) {
		ASSERT_EQ(MAQ_GOSSIP_OK,
			  maq_gossip_decode(g, cells[k], MAQ_CELL_SIZE));
		/* push: what a lacks */
		push_back(_metadata, b, a, g, now);
		/* pull: b lacks something a listed */
		if (!maq_view_behind(&b->v, g))
			continue;
		m = maq_view_digests_range(&b->v, g->lo, g->hi, back,
					   MAQ_VIEW_MAX_DIGESTS, 2);
		ASSERT_LE(m, MAQ_VIEW_MAX_DIGESTS);
		b->cells_sent += m;
		for (j = 0; j < m; j++) {
			ASSERT_EQ(MAQ_GOSSIP_OK,
				  maq_gossip_decode(h, back[j],
						    MAQ_CELL_SIZE));
			push_back(_metadata, a, b, h, now);
		}
	}
	free(cells);
	free(back);
	free(g);
	free(h);
}

static bool views_equal(const struct maq_view *a, const struct maq_view *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (memcmp(a->relay[i].raw, b->relay[i].raw, DL))
			return false;
	return true;
}

/*
 * @np views, each starting with its own part of @nn identities, some in
 * several views with different versions: run rounds (each peer sends its
 * digests to the next) until all are equal, at most @max_rounds.
 */
static unsigned int converge(struct __test_metadata *_metadata,
			     unsigned int np, unsigned int nn,
			     unsigned int max_rounds)
{
	struct node *nd = nodes_new(nn);
	struct peer *p = calloc(np, sizeof(*p));
	unsigned int i, j, round, want = 0, cells = 0, pushed = 0;
	bool done = false;

	if (!p)
		abort();
	for (j = 0; j < np; j++)
		maq_view_init(&p[j].v, nd[j].id.pk);
	for (i = 0; i < nn; i++) {
		bool held = false;

		for (j = 0; j < np; j++) {
			/* about half of each, versions 1..3 */
			struct spec s = { .published = NOW - 600 +
						       (i + j) % 3 * 100 };

			if (randombytes_uniform(2) && !(i % 7 == 0 && j))
				continue;
			held = true;
			if (offer(&p[j].v, nd, i, &s, NULL))
				abort();
		}
		want += held;
	}
	for (round = 1; round <= max_rounds && !done; round++) {
		for (j = 0; j < np; j++)
			exchange(_metadata, &p[j], &p[(j + 1) % np], NOW);
		done = true;
		for (j = 1; j < np; j++)
			done &= views_equal(&p[0].v, &p[j].v);
	}
	EXPECT_TRUE(done);
	EXPECT_EQ(want, p[0].v.n);
	/* each holds the newest version of each identity */
	for (i = 0; i < p[0].v.n; i++) {
		const struct maq_desc *d = &p[0].v.relay[i].d;

		EXPECT_TRUE(d->published >= NOW - 600 &&
			    d->published <= NOW - 400);
	}
	for (j = 0; j < np; j++) {
		cells += p[j].cells_sent;
		pushed += p[j].pushed;
		EXPECT_EQ(0, p[j].v.rejected[MAQ_DESC_BAD_SIGNATURE]);
		maq_view_free(&p[j].v);
	}
	printf("# %u views, %u relays: converged after %u rounds, %u cells, %u descriptors pushed\n",
	       np, want, round - 1, cells, pushed);
	free(p);
	free(nd);
	return done ? round - 1 : 0;
}

TEST(gossip_two_views_converge)
{
	unsigned int rounds = converge(_metadata, 2, 300, 5);

	EXPECT_GE(rounds, 1);
	/* push-pull: one exchange each way is enough for two */
	EXPECT_LE(rounds, 1);
}

TEST(gossip_three_views_converge)
{
	unsigned int rounds = converge(_metadata, 3, 400, 6);

	EXPECT_GE(rounds, 1);
	EXPECT_LE(rounds, 2);
}

/* Newest wins both ways, and an equal view is neither behind nor answered. */
TEST(gossip_answer_behind)
{
	struct node *nd = nodes_new(3);
	struct spec old = { .published = NOW - 500 };
	struct spec new = { .published = NOW - 100 };
	const struct maq_relay *out[4];
	u8 (*cells)[MAQ_CELL_SIZE] = malloc(2 * MAQ_CELL_SIZE);
	struct maq_gossip g;
	struct maq_view a, b;

	ASSERT_NE(NULL, cells);
	maq_view_init(&a, NULL);
	maq_view_init(&b, NULL);
	ASSERT_EQ(MAQ_DESC_OK, offer(&a, nd, 0, &old, NULL));
	ASSERT_EQ(MAQ_DESC_OK, offer(&a, nd, 1, &new, NULL));
	ASSERT_EQ(MAQ_DESC_OK, offer(&b, nd, 0, &new, NULL));
	ASSERT_EQ(MAQ_DESC_OK, offer(&b, nd, 1, &new, NULL));
	ASSERT_EQ(MAQ_DESC_OK, offer(&b, nd, 2, &old, NULL));

	ASSERT_EQ(1, maq_view_digests(&a, cells, 2, 1));
	ASSERT_EQ(MAQ_GOSSIP_OK, maq_gossip_decode(&g, cells[0],
						   MAQ_CELL_SIZE));
	/* b has 0 newer and 2 that a lacks; 1 is the same */
	EXPECT_EQ(2, maq_view_answer(&b, &g, out, 4));
	EXPECT_EQ(0, memcmp(out[0]->d.identity, nd[0].id.pk, 32) &&
		     memcmp(out[1]->d.identity, nd[0].id.pk, 32));
	out[1] = NULL;
	EXPECT_EQ(2, maq_view_answer(&b, &g, out, 1));	/* counts beyond */
	EXPECT_EQ(NULL, out[1]);
	EXPECT_FALSE(maq_view_behind(&b, &g));
	/* a is behind b, and has nothing to give */
	ASSERT_EQ(1, maq_view_digests(&b, cells, 2, 1));
	ASSERT_EQ(MAQ_GOSSIP_OK, maq_gossip_decode(&g, cells[0],
						   MAQ_CELL_SIZE));
	EXPECT_TRUE(maq_view_behind(&a, &g));
	EXPECT_EQ(0, maq_view_answer(&a, &g, out, 4));
	/* only an older version of 0 than b's: still behind */
	ASSERT_EQ(MAQ_DESC_OK, offer(&a, nd, 2, &old, NULL));
	EXPECT_TRUE(maq_view_behind(&a, &g));
	/* equal views: nothing either way */
	ASSERT_EQ(MAQ_DESC_OK, offer(&a, nd, 0, &new, NULL));
	EXPECT_FALSE(maq_view_behind(&a, &g));
	EXPECT_EQ(0, maq_view_answer(&a, &g, out, 4));
	/* a push is not a digest */
	g.kind = MAQ_GOSSIP_PUSH;
	EXPECT_FALSE(maq_view_behind(&a, &g));
	EXPECT_EQ(0, maq_view_answer(&a, &g, out, 4));
	maq_view_free(&a);
	maq_view_free(&b);
	free(cells);
	free(nd);
}

/* Shared prefixes on one side: pushes whatever the digest does not list. */
TEST(gossip_shared_prefix)
{
	struct node *nd = nodes_new(1);
	const struct maq_relay *out[8];
	struct maq_digest_entry e[2];
	u8 cell[MAQ_CELL_SIZE], id[MAQ_ID_PK_LEN];
	struct maq_relay tmpl;
	struct maq_gossip g;
	struct maq_view v;
	u64 x;

	maq_view_init(&v, NULL);
	mk(tmpl.raw, nd, 0, NULL);
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_decode(&tmpl.d, tmpl.raw, DL, NOW));
	memcpy(id, nd[0].id.pk, 32);
	x = maq_digest_id(id);
	tmpl.d.published = 100;
	inject(&v, &tmpl, id);
	id[31] ^= 1;
	tmpl.d.published = 200;
	inject(&v, &tmpl, id);

	/* the peer lists (x, 100) only: we push the 200 one */
	e[0].id = x;
	e[0].published = 100;
	ASSERT_EQ(0, maq_gossip_digest_encode(cell, 1, 0, ~0ULL, e, 1));
	ASSERT_EQ(MAQ_GOSSIP_OK, maq_gossip_decode(&g, cell, MAQ_CELL_SIZE));
	ASSERT_EQ(1, maq_view_answer(&v, &g, out, 8));
	EXPECT_EQ(200, out[0]->d.published);
	EXPECT_FALSE(maq_view_behind(&v, &g));
	/* (x, 300) is news to us, though (x, 100) is older than ours */
	e[1].id = x;
	e[1].published = 300;
	ASSERT_EQ(0, maq_gossip_digest_encode(cell, 1, 0, ~0ULL, e, 2));
	ASSERT_EQ(MAQ_GOSSIP_OK, maq_gossip_decode(&g, cell, MAQ_CELL_SIZE));
	EXPECT_TRUE(maq_view_behind(&v, &g));
	EXPECT_EQ(1, maq_view_answer(&v, &g, out, 8));
	/* out of the digest's range: nothing */
	ASSERT_EQ(0, maq_gossip_digest_encode(cell, 1, x + 1, ~0ULL, NULL,
					      0));
	ASSERT_EQ(MAQ_GOSSIP_OK, maq_gossip_decode(&g, cell, MAQ_CELL_SIZE));
	EXPECT_EQ(0, maq_view_answer(&v, &g, out, 8));
	maq_view_free(&v);
	free(nd);
}

TEST(sample_uniform)
{
	struct node *nd = nodes_new(14);
	const struct maq_relay *out[16];
	unsigned int count[14] = { 0 }, i, t, k;
	struct maq_view v;

	maq_view_init(&v, nd[0].id.pk);
	for (i = 0; i < 14; i++) {
		struct spec s = { 0 };

		if (i == 11)
			s.flags = NO_FLAGS;		/* not a relay */
		if (i == 12)
			s.life = 30;			/* expired at NOW */
		ASSERT_EQ(MAQ_DESC_OK, offer(&v, nd, i, &s, NULL));
	}
	/* 0 self, 11, 12 out, 13 is a relay: 11 eligible */
	for (t = 0; t < 3000; t++) {
		k = maq_view_sample(&v, NOW, out, 3);
		ASSERT_EQ(3, k);
		ASSERT_NE(out[0], out[1]);
		ASSERT_NE(out[0], out[2]);
		ASSERT_NE(out[1], out[2]);
		for (k = 0; k < 3; k++)
			for (i = 0; i < 14; i++)
				if (!memcmp(out[k]->d.identity, nd[i].id.pk,
					    32))
					count[i]++;
	}
	EXPECT_EQ(0, count[0]);
	EXPECT_EQ(0, count[11]);
	EXPECT_EQ(0, count[12]);
	/* expected 3000 * 3 / 11 = 818 each, sd about 25 */
	for (i = 0; i < 14; i++) {
		if (i == 0 || i == 11 || i == 12)
			continue;
		EXPECT_GT(count[i], 650) TH_LOG("relay %u: %u", i, count[i]);
		EXPECT_LT(count[i], 990) TH_LOG("relay %u: %u", i, count[i]);
	}
	printf("# sample 3 of 11, 3000 draws: relay 1 %u, relay 13 %u (818 expected)\n",
	       count[1], count[13]);
	EXPECT_EQ(11, maq_view_sample(&v, NOW, out, 16));
	EXPECT_EQ(0, maq_view_sample(&v, NOW, out, 0));
	EXPECT_EQ(0, maq_view_sample(&v, NOW + 100000, out, 16));
	maq_view_free(&v);
	free(nd);
}

/* ---------------------------------------------------------------------- */
/* Path selection                                                         */
/* ---------------------------------------------------------------------- */

/* Independent of maq_desc_related: PROTOCOL 10 spelled out. */
static bool share_net(const struct maq_desc *a, const struct maq_desc *b)
{
	int i, j;

	if (!memcmp(a->identity, b->identity, 32))
		return true;
	if (a->family[0] && !memcmp(a->family, b->family, 32))
		return true;
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++) {
			const union maq_sockaddr *x = &a->addr[i];
			const union maq_sockaddr *y = &b->addr[j];

			if (x->sa.sa_family != y->sa.sa_family)
				continue;
			if (x->sa.sa_family == AF_INET &&
			    (ntohl(x->in4.sin_addr.s_addr) >> 16) ==
			    (ntohl(y->in4.sin_addr.s_addr) >> 16))
				return true;
			if (x->sa.sa_family == AF_INET6 &&
			    !memcmp(&x->in6.sin6_addr, &y->in6.sin6_addr, 4))
				return true;
		}
	return false;
}

/* What a path test works with: node 0 is self. */
struct pathenv {
	struct node *nd;
	struct maq_view v;
	struct maq_path_req req;
	const struct maq_relay *out[MAQ_MAX_HOPS + 1];
	char err[128];
};

static void env_init(struct pathenv *e, unsigned int n)
{
	memset(e, 0, sizeof(*e));
	e->nd = nodes_new(n);
	maq_view_init(&e->v, e->nd[0].id.pk);
	e->req.now = NOW;
}

static void env_free(struct pathenv *e)
{
	maq_view_free(&e->v);
	free(e->nd);
}

static int path(struct pathenv *e)
{
	return maq_view_path(&e->v, &e->req, e->out, e->err, sizeof(e->err));
}

/* What the view holds for node @i. */
static const struct maq_relay *R(const struct pathenv *e, unsigned int i)
{
	return maq_view_find(&e->v, e->nd[i].id.pk);
}

/*
 * 40 relays: 0 is self, 1 the terminus.  2..9 share 10.200/16, 10..15
 * family 7, 16..21 IPv6 2001:db8::/32, 22 not a relay, 23 expired, 25
 * shares the terminus' /16, 26 self's; the rest are apart.
 */
static void diverse_view(struct pathenv *e)
{
	unsigned int i;

	env_init(e, 40);
	for (i = 0; i < 40; i++) {
		struct spec s = { 0 };
		char a4[32], a6[64];

		if (i >= 2 && i <= 9) {
			snprintf(a4, sizeof(a4), "10.200.%u.1", i);
			s.a4 = a4;
		} else if (i >= 10 && i <= 15) {
			s.family = 7;
		} else if (i >= 16 && i <= 21) {
			snprintf(a6, sizeof(a6), "2001:db8:%x::1", i);
			s.a6 = a6;
		} else if (i == 22) {
			s.flags = NO_FLAGS;
		} else if (i == 23) {
			s.life = 30;
		} else if (i == 25) {
			s.a4 = "11.1.99.1";	/* the terminus is 11.1.0.1 */
		} else if (i == 26) {
			s.a4 = "11.0.77.1";	/* self is 11.0.0.1 */
		}
		if (!i)
			s.prefix = "172.31.0.1/32";
		if (i == 1)
			s.prefix = "172.31.0.2/32";
		if (offer(&e->v, e->nd, i, &s, NULL))
			abort();
	}
}

TEST(path_diversity)
{
	struct pathenv e;
	unsigned int seen[40] = { 0 }, t, i, j, n;

	diverse_view(&e);
	e.req.terminus = R(&e, 1);
	for (t = 0; t < 3000; t++) {
		n = 1 + t % (MAQ_MAX_HOPS - 1);
		e.req.n_relays = n;
		ASSERT_EQ(0, path(&e))
			TH_LOG("%u relays: %s", n, e.err);
		ASSERT_EQ(e.req.terminus, e.out[n]);
		for (i = 0; i < n; i++) {
			ASSERT_NE(NULL, e.out[i]);
			ASSERT_TRUE(e.out[i]->d.flags & MAQ_DESC_F_RELAY);
			ASSERT_LT(NOW, e.out[i]->d.expires);
			/* self is judged by its descriptor, held in v */
			ASSERT_FALSE(share_net(&e.out[i]->d, &R(&e, 0)->d));
			for (j = i + 1; j <= n; j++)
				ASSERT_FALSE(share_net(&e.out[i]->d,
						       &e.out[j]->d))
					TH_LOG("hops %u and %u", i, j);
			for (j = 0; j < 40; j++)
				if (e.out[i] == R(&e, j))
					seen[j]++;
		}
	}
	for (i = 0; i < 40; i++) {
		bool never = i <= 1 || i == 22 || i == 23 || i == 25 ||
			     i == 26;

		EXPECT_EQ(never, !seen[i]) TH_LOG("relay %u: %u", i, seen[i]);
	}
	printf("# 3000 paths: relay 2 (one of 8 in a /16) in %u, relay 30 in %u\n",
	       seen[2], seen[30]);
	env_free(&e);
}

TEST(path_via)
{
	static const struct {
		unsigned int relay;
		const char *why;
	} c[] = {
		{ 22, "is not a relay" },
		{ 23, "has expired" },
		{ 0, "is this host" },
		{ 1, "is the terminus" },
		{ 25, "is related to the terminus" },
		{ 26, "is related to this host" },
		{ 4, "is related to via 2" },	/* 10.200/16 */
		{ 3, "is related to via 2" },	/* itself */
	};
	struct pathenv e;
	char h[9];
	unsigned int t;
	int ret;

	diverse_view(&e);
	e.req.terminus = R(&e, 1);
	e.req.n_relays = 3;
	e.req.n_via = 2;
	e.req.via[0] = R(&e, 30);
	e.req.via[1] = R(&e, 3);
	for (t = 0; t < 200; t++) {
		ASSERT_EQ(0, path(&e)) TH_LOG("%s", e.err);
		EXPECT_EQ(e.req.via[0], e.out[0]);
		EXPECT_EQ(e.req.via[1], e.out[1]);
		/* the third avoids 10.200/16 (via 2's) */
		EXPECT_FALSE(share_net(&e.out[2]->d, &e.req.via[1]->d));
		EXPECT_FALSE(share_net(&e.out[2]->d, &e.req.via[0]->d));
		EXPECT_EQ(e.req.terminus, e.out[3]);
	}
	/* all forced */
	e.req.n_via = 3;
	e.req.via[2] = R(&e, 12);
	ASSERT_EQ(0, path(&e));
	EXPECT_EQ(e.req.via[2], e.out[2]);

	/* each bad via, named by its 8 hex digits */
	for (t = 0; t < sizeof(c) / sizeof(c[0]); t++) {
		e.req.n_via = 2;
		e.req.via[0] = R(&e, c[t].relay);
		e.req.via[1] = R(&e, 3);
		ret = path(&e);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("relay %u", c[t].relay);
		sodium_bin2hex(h, sizeof(h), e.nd[c[t].relay].id.pk, 4);
		EXPECT_NE(NULL, strstr(e.err, h)) TH_LOG("%s", e.err);
		EXPECT_NE(NULL, strstr(e.err, c[t].why)) TH_LOG("%s", e.err);
		EXPECT_EQ(0, strncmp(e.err, "via 1 ", 6)) TH_LOG("%s", e.err);
	}
	printf("# e.g. \"%s\"\n", e.err);
	e.req.via[0] = R(&e, 30);
	e.req.via[1] = NULL;
	EXPECT_EQ(-EINVAL, path(&e));
	EXPECT_STREQ("via 2 is missing", e.err);
	env_free(&e);
}

TEST(path_bad_requests)
{
	struct pathenv e;

	diverse_view(&e);
	e.req.terminus = R(&e, 1);
	e.req.n_relays = 0;
	EXPECT_EQ(-EINVAL, path(&e));
	EXPECT_STREQ("0 relays: must be 1 to 7", e.err);
	e.req.n_relays = MAQ_MAX_HOPS;
	EXPECT_EQ(-EINVAL, path(&e));
	e.req.n_relays = MAQ_MAX_HOPS - 1;
	EXPECT_EQ(0, path(&e)) TH_LOG("%s", e.err);
	e.req.n_relays = 2;
	e.req.n_via = 3;
	EXPECT_EQ(-EINVAL, path(&e));
	EXPECT_STREQ("3 via relays for a path of 2 relays", e.err);
	e.req.n_via = 0;
	e.req.terminus = NULL;
	EXPECT_EQ(-EINVAL, path(&e));
	EXPECT_STREQ("no terminus", e.err);
	e.req.terminus = R(&e, 23);
	EXPECT_EQ(-EINVAL, path(&e));
	EXPECT_NE(NULL, strstr(e.err, "has expired")) TH_LOG("%s", e.err);
	e.req.terminus = R(&e, 0);
	EXPECT_EQ(-EINVAL, path(&e));
	EXPECT_NE(NULL, strstr(e.err, "is this host")) TH_LOG("%s", e.err);
	/* a terminus need not be a relay */
	e.req.terminus = R(&e, 22);
	EXPECT_EQ(0, path(&e));
	/* a NULL or short err buffer is fine */
	e.req.terminus = NULL;
	EXPECT_EQ(-EINVAL, maq_view_path(&e.v, &e.req, e.out, NULL, 0));
	EXPECT_EQ(-EINVAL, maq_view_path(&e.v, &e.req, e.out, e.err, 4));
	EXPECT_STREQ("no ", e.err);
	env_free(&e);
}

TEST(path_not_enough)
{
	struct pathenv e;
	unsigned int i, t;

	/* 2: terminus; 3..5 apart; 6, 7 in 10.9/16 */
	env_init(&e, 8);
	for (i = 0; i < 8; i++) {
		struct spec s = { .a4 = i >= 6 ? (i == 6 ? "10.9.0.1" :
						 "10.9.0.2") : NULL };

		ASSERT_EQ(MAQ_DESC_OK, offer(&e.v, e.nd, i, &s, NULL));
	}
	e.req.terminus = R(&e, 2);
	/* 1, 3, 4, 5 and one of 6/7: at most 5 */
	e.req.n_relays = 5;
	for (t = 0; t < 100; t++)
		ASSERT_EQ(0, path(&e)) TH_LOG("%s", e.err);
	e.req.n_relays = 6;
	EXPECT_EQ(-ENOENT, path(&e));
	EXPECT_STREQ("need 6 relays, 5 eligible", e.err);
	for (i = 0; i <= 6; i++)
		EXPECT_EQ(NULL, e.out[i]);
	/* with via relays counted in */
	e.req.n_via = 1;
	e.req.via[0] = R(&e, 6);
	EXPECT_EQ(-ENOENT, path(&e));
	EXPECT_STREQ("need 6 relays, 5 eligible", e.err);
	/* nothing at all */
	e.req.n_via = 0;
	e.req.n_relays = 1;
	maq_view_free(&e.v);
	maq_view_init(&e.v, e.nd[0].id.pk);
	ASSERT_EQ(MAQ_DESC_OK, offer(&e.v, e.nd, 2, NULL, NULL));
	e.req.terminus = R(&e, 2);
	EXPECT_EQ(-ENOENT, path(&e));
	EXPECT_STREQ("need 1 relay, 0 eligible", e.err);
	env_free(&e);
}

/* One relay (a) related to both others (b by /16, c by family). */
TEST(path_retries_an_unlucky_pick)
{
	struct pathenv e;
	unsigned int t, used_a = 0;

	env_init(&e, 5);
	{
		struct spec self = { .a4 = "10.1.0.1" };
		struct spec term = { .a4 = "10.2.0.1" };
		struct spec a = { .a4 = "10.3.0.1", .family = 9 };
		struct spec b = { .a4 = "10.3.0.2" };
		struct spec c = { .a4 = "10.4.0.1", .family = 9 };

		ASSERT_EQ(MAQ_DESC_OK, offer(&e.v, e.nd, 0, &self, NULL));
		ASSERT_EQ(MAQ_DESC_OK, offer(&e.v, e.nd, 1, &term, NULL));
		ASSERT_EQ(MAQ_DESC_OK, offer(&e.v, e.nd, 2, &a, NULL));
		ASSERT_EQ(MAQ_DESC_OK, offer(&e.v, e.nd, 3, &b, NULL));
		ASSERT_EQ(MAQ_DESC_OK, offer(&e.v, e.nd, 4, &c, NULL));
	}
	e.req.terminus = R(&e, 1);
	e.req.n_relays = 2;
	/* a first (1/3 of tries) leaves nothing: only {b, c} works */
	for (t = 0; t < 300; t++) {
		ASSERT_EQ(0, path(&e)) TH_LOG("%s", e.err);
		used_a += e.out[0] == R(&e, 2) || e.out[1] == R(&e, 2);
	}
	EXPECT_EQ(0, used_a);
	e.req.n_relays = 1;
	for (t = 0; t < 300; t++) {
		ASSERT_EQ(0, path(&e));
		used_a += e.out[0] == R(&e, 2);
	}
	EXPECT_GT(used_a, 0);
	env_free(&e);
}

TEST(path_bandwidth_weighting)
{
	struct pathenv e;
	struct spec heavy = { .bw = 9000 }, light = { .bw = 1000 };
	struct spec zero = { .bw = BW_ZERO }, one = { .bw = 1 };
	unsigned int t, n_heavy = 0;

	env_init(&e, 4);
	ASSERT_EQ(MAQ_DESC_OK, offer(&e.v, e.nd, 0, NULL, NULL));
	ASSERT_EQ(MAQ_DESC_OK, offer(&e.v, e.nd, 1, NULL, NULL));
	ASSERT_EQ(MAQ_DESC_OK, offer(&e.v, e.nd, 2, &heavy, NULL));
	ASSERT_EQ(MAQ_DESC_OK, offer(&e.v, e.nd, 3, &light, NULL));
	e.req.terminus = R(&e, 1);
	e.req.n_relays = 1;
	for (t = 0; t < 10000; t++) {
		ASSERT_EQ(0, path(&e));
		n_heavy += e.out[0] == R(&e, 2);
	}
	/* expected 9000, sd 30 */
	EXPECT_GT(n_heavy, 8000);
	EXPECT_LT(n_heavy, 9600);
	printf("# bandwidth 9:1, 10000 paths: %u heavy (9000 expected)\n",
	       n_heavy);
	maq_view_free(&e.v);

	/* a relay declaring 0 weighs as 1: still usable */
	maq_view_init(&e.v, e.nd[0].id.pk);
	ASSERT_EQ(MAQ_DESC_OK, offer(&e.v, e.nd, 1, NULL, NULL));
	ASSERT_EQ(MAQ_DESC_OK, offer(&e.v, e.nd, 2, &zero, NULL));
	ASSERT_EQ(MAQ_DESC_OK, offer(&e.v, e.nd, 3, &one, NULL));
	e.req.terminus = R(&e, 1);
	n_heavy = 0;
	for (t = 0; t < 2000; t++) {
		ASSERT_EQ(0, path(&e));
		n_heavy += e.out[0] == R(&e, 2);
	}
	/* expected 1000, sd 22 */
	EXPECT_GT(n_heavy, 850);
	EXPECT_LT(n_heavy, 1150);
	env_free(&e);
}

/* ---------------------------------------------------------------------- */
/* Local trust                                                            */
/* ---------------------------------------------------------------------- */

TEST(trust_blame_and_avoid_window)
{
	struct node *nd = nodes_new(3);
	const struct maq_trust *t;
	struct maq_view v;
	const u8 *a = nd[1].id.pk, *b = nd[2].id.pk;
	u64 now = NOW;

	maq_view_init(&v, nd[0].id.pk);
	/* unknown relays: no record, not avoided */
	EXPECT_EQ(NULL, maq_view_trust(&v, a));
	EXPECT_EQ(0, maq_view_avoided(&v, a, now));

	/* the silent one: avoided at once, for the first window */
	EXPECT_TRUE(maq_view_blame(&v, a, MAQ_BLAME_SILENT, now));
	EXPECT_EQ(MAQ_TRUST_AVOID_SECS, maq_view_avoided(&v, a, now));
	EXPECT_EQ(MAQ_TRUST_AVOID_SECS - 1, maq_view_avoided(&v, a, now + 1));
	EXPECT_EQ(0, maq_view_avoided(&v, a, now + MAQ_TRUST_AVOID_SECS));
	t = maq_view_trust(&v, a);
	ASSERT_NE(NULL, t);
	EXPECT_EQ(1, t->blamed);
	EXPECT_EQ(1, t->strikes);
	EXPECT_EQ(0, t->points);

	/* each next avoidance is twice as long */
	now += MAQ_TRUST_AVOID_SECS;
	EXPECT_TRUE(maq_view_blame(&v, a, MAQ_BLAME_SILENT, now));
	EXPECT_EQ(2 * MAQ_TRUST_AVOID_SECS, maq_view_avoided(&v, a, now));
	now += 2 * MAQ_TRUST_AVOID_SECS;
	EXPECT_TRUE(maq_view_blame(&v, a, MAQ_BLAME_SILENT, now));
	EXPECT_EQ(4 * MAQ_TRUST_AVOID_SECS, maq_view_avoided(&v, a, now));
	/* ... up to the cap */
	for (int i = 0; i < 20; i++)
		maq_view_blame(&v, a, MAQ_BLAME_SILENT, now);
	EXPECT_EQ(MAQ_TRUST_AVOID_MAX, maq_view_avoided(&v, a, now));
	EXPECT_EQ(23, maq_view_trust(&v, a)->blamed);

	/* the neighbour: a suspect, avoided only when blamed again */
	now = NOW;
	EXPECT_FALSE(maq_view_blame(&v, b, MAQ_BLAME_NEIGHBOUR, now));
	EXPECT_EQ(0, maq_view_avoided(&v, b, now));
	EXPECT_TRUE(maq_view_blame(&v, b, MAQ_BLAME_NEIGHBOUR, now + 100));
	EXPECT_EQ(MAQ_TRUST_AVOID_SECS, maq_view_avoided(&v, b, now + 100));
	/* points of one incident are forgotten after the forget window */
	now += 100 + MAQ_TRUST_AVOID_SECS;
	EXPECT_FALSE(maq_view_blame(&v, b, MAQ_BLAME_NEIGHBOUR, now));
	now += MAQ_TRUST_FORGET_SECS;
	EXPECT_FALSE(maq_view_blame(&v, b, MAQ_BLAME_NEIGHBOUR, now));
	EXPECT_EQ(0, maq_view_avoided(&v, b, now));
	EXPECT_EQ(1, maq_view_trust(&v, b)->points);
	/* zero points is no blame */
	EXPECT_FALSE(maq_view_blame(&v, b, 0, now));
	EXPECT_EQ(4, maq_view_trust(&v, b)->blamed);

	/* credit counts circuits that worked, and blames nothing */
	maq_view_credit(&v, b, now);
	maq_view_credit(&v, b, now);
	EXPECT_EQ(2, maq_view_trust(&v, b)->ok);
	EXPECT_EQ(0, maq_view_avoided(&v, b, now));

	/* records of relays outside the view go once nothing is pending */
	EXPECT_EQ(2, v.n_trust);
	EXPECT_EQ(0, maq_view_trust_expire(&v, now));
	EXPECT_EQ(1, maq_view_trust_expire(&v, now + MAQ_TRUST_FORGET_SECS));
	EXPECT_EQ(NULL, maq_view_trust(&v, b));
	EXPECT_NE(NULL, maq_view_trust(&v, a));	/* still avoided */
	EXPECT_EQ(1, maq_view_trust_expire(&v, now + MAQ_TRUST_AVOID_MAX +
					      MAQ_TRUST_FORGET_SECS));
	EXPECT_EQ(0, v.n_trust);

	/* ... but a relay the view holds keeps what it earned */
	ASSERT_EQ(MAQ_DESC_OK, offer(&v, nd, 1, NULL, NULL));
	maq_view_credit(&v, a, NOW);
	EXPECT_EQ(0, maq_view_trust_expire(&v, NOW + 100));
	EXPECT_EQ(1, maq_view_trust(&v, a)->ok);
	maq_view_free(&v);
	free(nd);
}

/* The table is bounded: full of avoided relays, a new blame is dropped. */
TEST(trust_table_bounded)
{
	struct node *nd = nodes_new(1);
	struct maq_view v;
	u8 id[MAQ_ID_PK_LEN];
	unsigned int i;

	maq_view_init(&v, nd[0].id.pk);
	memset(id, 0, sizeof(id));
	for (i = 0; i < MAQ_TRUST_MAX; i++) {
		id[0] = (u8)(i >> 8);
		id[1] = (u8)i;
		ASSERT_TRUE(maq_view_blame(&v, id, MAQ_BLAME_SILENT, NOW));
	}
	EXPECT_EQ(MAQ_TRUST_MAX, v.n_trust);
	for (i = 1; i < v.n_trust; i++)
		ASSERT_LT(memcmp(v.trust[i - 1].id, v.trust[i].id, 32), 0);
	id[0] = 0xff;
	EXPECT_FALSE(maq_view_blame(&v, id, MAQ_BLAME_SILENT, NOW));
	EXPECT_EQ(NULL, maq_view_trust(&v, id));
	EXPECT_EQ(MAQ_TRUST_MAX, v.n_trust);
	/* once their windows are over the old records make room */
	EXPECT_TRUE(maq_view_blame(&v, id, MAQ_BLAME_SILENT,
				   NOW + MAQ_TRUST_FORGET_SECS));
	EXPECT_EQ(1, v.n_trust);
	maq_view_free(&v);
	free(nd);
}

TEST(trust_path_leaves_out_avoided_and_excluded)
{
	struct pathenv e;
	unsigned int seen[40] = { 0 }, t, i, j, n;
	u8 excl[2][MAQ_ID_PK_LEN];

	diverse_view(&e);
	e.req.terminus = R(&e, 1);
	/* 30..35 avoided, 36 and 37 excluded for this path only */
	for (i = 30; i <= 35; i++)
		ASSERT_TRUE(maq_view_blame(&e.v, e.nd[i].id.pk,
					   MAQ_BLAME_SILENT, NOW - 10));
	memcpy(excl[0], e.nd[36].id.pk, 32);
	memcpy(excl[1], e.nd[37].id.pk, 32);
	e.req.exclude = (const u8 (*)[MAQ_ID_PK_LEN])excl;
	e.req.n_exclude = 2;
	for (t = 0; t < 3000; t++) {
		n = 1 + t % (MAQ_MAX_HOPS - 1);
		e.req.n_relays = n;
		ASSERT_EQ(0, path(&e)) TH_LOG("%u relays: %s", n, e.err);
		for (i = 0; i < n; i++) {
			ASSERT_FALSE(share_net(&e.out[i]->d, &R(&e, 0)->d));
			for (j = i + 1; j <= n; j++)
				ASSERT_FALSE(share_net(&e.out[i]->d,
						       &e.out[j]->d));
			for (j = 0; j < 40; j++)
				if (e.out[i] == R(&e, j))
					seen[j]++;
		}
	}
	for (i = 0; i < 40; i++) {
		bool never = i <= 1 || i == 22 || i == 23 || i == 25 ||
			     i == 26 || (i >= 30 && i <= 37);

		EXPECT_EQ(never, !seen[i]) TH_LOG("relay %u: %u", i, seen[i]);
	}
	/* a via relay is the user's choice, avoided or not */
	e.req.n_relays = 2;
	e.req.n_via = 1;
	e.req.via[0] = R(&e, 30);
	ASSERT_EQ(0, path(&e)) TH_LOG("%s", e.err);
	EXPECT_EQ(R(&e, 30), e.out[0]);
	EXPECT_NE(R(&e, 36), e.out[1]);
	/* the window over, it is picked again */
	e.req.n_via = 0;
	e.req.n_exclude = 0;
	e.req.n_relays = 1;
	e.req.now = NOW + MAQ_TRUST_AVOID_SECS;
	for (t = 0, n = 0; t < 2000; t++) {
		ASSERT_EQ(0, path(&e));
		n += e.out[0] == R(&e, 30);
	}
	EXPECT_GT(n, 0);
	env_free(&e);
}

TEST(trust_too_few_says_how_many_avoided)
{
	struct pathenv e;
	unsigned int i;

	/* 0 self, 1 terminus, 2..4 relays */
	env_init(&e, 5);
	for (i = 0; i < 5; i++)
		ASSERT_EQ(MAQ_DESC_OK, offer(&e.v, e.nd, i, NULL, NULL));
	e.req.terminus = R(&e, 1);
	e.req.n_relays = 3;
	ASSERT_EQ(0, path(&e)) TH_LOG("%s", e.err);
	/* the terminus's own record does not count as avoided */
	maq_view_blame(&e.v, e.nd[1].id.pk, MAQ_BLAME_SILENT, NOW);
	maq_view_blame(&e.v, e.nd[3].id.pk, MAQ_BLAME_SILENT, NOW);
	EXPECT_EQ(-ENOENT, path(&e));
	EXPECT_STREQ("need 3 relays, 2 eligible, 1 avoided", e.err);
	e.req.n_relays = 2;
	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, path(&e)) TH_LOG("%s", e.err);
		EXPECT_NE(R(&e, 3), e.out[0]);
		EXPECT_NE(R(&e, 3), e.out[1]);
		EXPECT_EQ(R(&e, 1), e.out[2]);
	}
	env_free(&e);
}

TEST(trust_prefers_relays_seen_working)
{
	struct pathenv e;
	unsigned int t, i, n_a = 0;
	double expect;

	/* 0 self, 1 terminus, 2 (A) and 3 (B) at one bandwidth */
	env_init(&e, 4);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(MAQ_DESC_OK, offer(&e.v, e.nd, i, NULL, NULL));
	e.req.terminus = R(&e, 1);
	e.req.n_relays = 1;
	/* more credit than the cap counts */
	for (i = 0; i < 3 * MAQ_TRUST_OK_CAP; i++)
		maq_view_credit(&e.v, e.nd[2].id.pk, NOW);
	for (t = 0; t < 10000; t++) {
		ASSERT_EQ(0, path(&e));
		n_a += e.out[0] == R(&e, 2);
	}
	expect = 10000.0 * (MAQ_TRUST_BASE + MAQ_TRUST_OK_CAP) /
		 (2 * MAQ_TRUST_BASE + MAQ_TRUST_OK_CAP);
	/* 8000 expected with the defaults, sd 40 */
	EXPECT_GT(n_a, expect - 400);
	EXPECT_LT(n_a, expect + 400);
	printf("# worked %u times vs never, 10000 paths: %u (%.0f expected)\n",
	       3 * MAQ_TRUST_OK_CAP, n_a, expect);
	/* a blame that does not avoid leaves the preference alone */
	maq_view_blame(&e.v, e.nd[2].id.pk, MAQ_BLAME_NEIGHBOUR, NOW);
	for (t = 0, n_a = 0; t < 2000; t++) {
		ASSERT_EQ(0, path(&e));
		n_a += e.out[0] == R(&e, 2);
	}
	EXPECT_GT(n_a, 1400);
	env_free(&e);
}

TEST_HARNESS_MAIN
