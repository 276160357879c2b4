// SPDX-License-Identifier: GPL-2.0
/*
 * descriptor_test: daemon/descriptor.c, relay descriptors and gossip
 * messages of docs/PROTOCOL.md section 8.  It proves:
 *
 *  - a descriptor round-trips, sits at the documented byte offsets and its
 *    signature is libsodium's Ed25519 over bytes 0..192
 *    (crypto_sign_verify_detached);
 *  - every kind of bad input is refused with its own reason: wrong size,
 *    any flipped bit, a wrong signature, expired, from the future, too long
 *    a lifetime, non-zero padding, bad version, flags, port, addresses,
 *    onion key and inner prefix (each re-signed with libsodium, so only
 *    that flaw is left);
 *  - the inner prefix (none, IPv4, IPv6) round-trips at offsets 154..172;
 *  - the encoder refuses to sign what a decoder would refuse;
 *  - digests and pushes round-trip through whole GOSSIP cells with the
 *    right header, and the parser refuses every malformed field and never
 *    reads out of bounds on random cells (ASan build).
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sodium.h>

#include "descriptor.h"
#include "kselftest_harness.h"

/* literals against unsigned fields in EXPECT_EQ; all small, non-negative */
#pragma GCC diagnostic ignored "-Wsign-compare"

#define DL	MAQ_DESC_LEN
#define NOW	1700000000ULL

static u8 *xmalloc(size_t len)
{
	u8 *p = malloc(len);

	if (!p)
		abort();
	return p;
}

static u64 be64_at(const u8 *p)
{
	u64 v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

static u32 be32_at(const u8 *p)
{
	u32 v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

static void put_be(u8 *p, u64 v, int len)
{
	while (len--) {
		p[len] = (u8)v;
		v >>= 8;
	}
}

struct keys {
	struct maq_identity id;
	struct maq_onion_key onion;
};

static void keys_new(struct keys *k)
{
	if (maq_crypto_init() || maq_identity_generate(&k->id) ||
	    maq_onion_generate(&k->onion))
		abort();
}

static void desc_fill(struct maq_desc *d, const struct keys *k, u64 published)
{
	memset(d, 0, sizeof(*d));
	d->version = MAQ_DESC_VERSION;
	d->flags = MAQ_DESC_F_RELAY | MAQ_DESC_F_EXIT;
	d->port = 7720;
	d->bandwidth = 5000;
	d->published = published;
	d->expires = published + 3600;
	d->addr[0].in4.sin_family = AF_INET;
	inet_pton(AF_INET, "198.51.100.7", &d->addr[0].in4.sin_addr);
	d->addr[1].in6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::7", &d->addr[1].in6.sin6_addr);
	memcpy(d->onion_key, k->onion.pk, 32);
	randombytes_buf(d->family, 32);
}

/* Sign bytes 0..192 again with libsodium, as a (broken) relay would. */
static void resign(u8 *buf, const struct maq_identity *id)
{
	crypto_sign_detached(buf + 192, NULL, buf, 192, id->sk);
}

TEST(desc_round_trip)
{
	struct maq_desc d, got;
	struct keys k;
	u8 *buf = xmalloc(DL);

	keys_new(&k);
	desc_fill(&d, &k, NOW - 10);
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_encode(buf, &d, &k.id));
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_decode(&got, buf, DL, NOW));
	EXPECT_EQ(d.version, got.version);
	EXPECT_EQ(d.flags, got.flags);
	EXPECT_EQ(d.port, got.port);
	EXPECT_EQ(d.bandwidth, got.bandwidth);
	EXPECT_EQ(d.published, got.published);
	EXPECT_EQ(d.expires, got.expires);
	EXPECT_EQ(AF_INET, got.addr[0].sa.sa_family);
	EXPECT_EQ(d.addr[0].in4.sin_addr.s_addr,
		  got.addr[0].in4.sin_addr.s_addr);
	EXPECT_EQ(htons(7720), got.addr[0].in4.sin_port);
	EXPECT_EQ(AF_INET6, got.addr[1].sa.sa_family);
	EXPECT_EQ(0, memcmp(&d.addr[1].in6.sin6_addr,
			    &got.addr[1].in6.sin6_addr, 16));
	EXPECT_EQ(htons(7720), got.addr[1].in6.sin6_port);
	EXPECT_EQ(0, memcmp(got.identity, k.id.pk, 32));
	EXPECT_EQ(0, memcmp(got.onion_key, k.onion.pk, 32));
	EXPECT_EQ(0, memcmp(got.family, d.family, 32));

	/* one address is enough; no family is fine */
	memset(&d.addr[1], 0, sizeof(d.addr[1]));
	memset(d.family, 0, 32);
	d.flags = 0;
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_encode(buf, &d, &k.id));
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_decode(&got, buf, DL, NOW));
	EXPECT_EQ(AF_UNSPEC, got.addr[1].sa.sa_family);
	EXPECT_TRUE(sodium_is_zero(got.family, 32));
	free(buf);
}

TEST(desc_layout_and_signature_vs_libsodium)
{
	struct maq_desc d;
	struct keys k, other;
	u8 *b = xmalloc(DL), sig[64];
	int i;

	keys_new(&k);
	keys_new(&other);
	desc_fill(&d, &k, NOW);
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_encode(b, &d, &k.id));
	EXPECT_EQ(1, b[0]);
	EXPECT_EQ(3, b[1]);
	EXPECT_EQ(7720, b[2] << 8 | b[3]);
	EXPECT_EQ(5000, be32_at(b + 4));
	EXPECT_EQ(NOW, be64_at(b + 8));
	EXPECT_EQ(NOW + 3600, be64_at(b + 16));
	EXPECT_EQ(4, b[24]);
	EXPECT_EQ(0, memcmp(b + 25, &d.addr[0].in4.sin_addr, 4));
	for (i = 29; i < 41; i++)
		EXPECT_EQ(0, b[i]);
	EXPECT_EQ(6, b[41]);
	EXPECT_EQ(0, memcmp(b + 42, &d.addr[1].in6.sin6_addr, 16));
	EXPECT_EQ(0, memcmp(b + 58, k.id.pk, 32));
	EXPECT_EQ(0, memcmp(b + 90, k.onion.pk, 32));
	EXPECT_EQ(0, memcmp(b + 122, d.family, 32));
	for (i = 154; i < 192; i++)	/* no prefix: all zero */
		EXPECT_EQ(0, b[i]);
	EXPECT_EQ(0, crypto_sign_verify_detached(b + 192, b, 192, k.id.pk));
	EXPECT_NE(0, crypto_sign_verify_detached(b + 192, b, 192,
						 other.id.pk));
	/* Ed25519 is deterministic: libsodium signs the same bytes alike */
	crypto_sign_detached(sig, NULL, b, 192, k.id.sk);
	EXPECT_EQ(0, memcmp(sig, b + 192, 64));
	free(b);
}

TEST(desc_sizes)
{
	static const size_t lens[] = { 0, 1, 64, 192, 255, 257, 300, 512 };
	struct maq_desc d, got;
	struct keys k;
	u8 *good = xmalloc(DL);
	unsigned int i;

	keys_new(&k);
	desc_fill(&d, &k, NOW);
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_encode(good, &d, &k.id));
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		u8 *b = xmalloc(lens[i] ? lens[i] : 1);

		memcpy(b, good, lens[i] < DL ? lens[i] : DL);
		if (lens[i] > DL)
			memset(b + DL, 0, lens[i] - DL);
		EXPECT_EQ(lens[i] < DL ? MAQ_DESC_TRUNCATED :
					 MAQ_DESC_OVERSIZED,
			  maq_desc_decode(&got, b, lens[i], NOW));
		EXPECT_TRUE(sodium_is_zero((u8 *)&got, sizeof(got)));
		free(b);
	}
	EXPECT_EQ(MAQ_DESC_TRUNCATED, maq_desc_decode(&got, NULL, 0, NOW));
	free(good);
}

TEST(desc_every_bit_flip_refused)
{
	struct maq_desc d, got;
	struct keys k;
	u8 *good = xmalloc(DL), *b = xmalloc(DL);
	int bit, n_sig = 0;

	keys_new(&k);
	desc_fill(&d, &k, NOW);
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_encode(good, &d, &k.id));
	for (bit = 0; bit < DL * 8; bit++) {
		enum maq_desc_err e;

		memcpy(b, good, DL);
		b[bit / 8] ^= 1 << (bit % 8);
		e = maq_desc_decode(&got, b, DL, NOW);
		EXPECT_NE(MAQ_DESC_OK, e)
			TH_LOG("bit %d passed", bit);
		if (bit >= 192 * 8 || (bit >= 58 * 8 && bit < 90 * 8))
			EXPECT_EQ(MAQ_DESC_BAD_SIGNATURE, e)
				TH_LOG("bit %d: %s", bit, maq_desc_err_name(e));
		n_sig += e == MAQ_DESC_BAD_SIGNATURE;
	}
	/* most flips leave a well-formed but forged descriptor */
	EXPECT_GT(n_sig, DL * 4);
	free(good);
	free(b);
}

TEST(desc_wrong_signature)
{
	struct maq_desc d, got;
	struct keys k, other;
	u8 *b = xmalloc(DL);

	keys_new(&k);
	keys_new(&other);
	desc_fill(&d, &k, NOW);
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_encode(b, &d, &k.id));
	/* signed by someone else, claiming k's identity */
	resign(b, &other.id);
	EXPECT_EQ(MAQ_DESC_BAD_SIGNATURE, maq_desc_decode(&got, b, DL, NOW));
	/* k's signature, someone else's identity */
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_encode(b, &d, &k.id));
	memcpy(b + 58, other.id.pk, 32);
	EXPECT_EQ(MAQ_DESC_BAD_SIGNATURE, maq_desc_decode(&got, b, DL, NOW));
	/* an all-zero signature */
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_encode(b, &d, &k.id));
	memset(b + 192, 0, 64);
	EXPECT_EQ(MAQ_DESC_BAD_SIGNATURE, maq_desc_decode(&got, b, DL, NOW));
	EXPECT_TRUE(sodium_is_zero((u8 *)&got, sizeof(got)));
	free(b);
}

TEST(desc_clock)
{
	struct maq_desc d, got;
	struct keys k;
	u8 *b = xmalloc(DL);

	keys_new(&k);
	desc_fill(&d, &k, NOW);
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_encode(b, &d, &k.id));
	EXPECT_EQ(MAQ_DESC_OK, maq_desc_decode(&got, b, DL, NOW + 3599));
	EXPECT_EQ(MAQ_DESC_EXPIRED, maq_desc_decode(&got, b, DL, NOW + 3600));
	EXPECT_EQ(MAQ_DESC_EXPIRED, maq_desc_decode(&got, b, DL, ~0ULL));
	/* published up to 5 minutes ahead of our clock is skew, beyond not */
	EXPECT_EQ(MAQ_DESC_OK, maq_desc_decode(&got, b, DL, NOW - 300));
	EXPECT_EQ(MAQ_DESC_FUTURE, maq_desc_decode(&got, b, DL, NOW - 301));
	EXPECT_EQ(MAQ_DESC_FUTURE, maq_desc_decode(&got, b, DL, 0));
	EXPECT_TRUE(sodium_is_zero((u8 *)&got, sizeof(got)));

	/* at most 24 h between published and expires */
	d.expires = d.published + 86400;
	EXPECT_EQ(MAQ_DESC_OK, maq_desc_encode(b, &d, &k.id));
	EXPECT_EQ(MAQ_DESC_OK, maq_desc_decode(&got, b, DL, NOW + 86399));
	d.expires = d.published + 86401;
	EXPECT_EQ(MAQ_DESC_BAD_LIFETIME, maq_desc_encode(b, &d, &k.id));
	EXPECT_TRUE(sodium_is_zero(b, DL));
	d.expires = d.published;
	EXPECT_EQ(MAQ_DESC_BAD_LIFETIME, maq_desc_encode(b, &d, &k.id));

	/* and as a decoder sees them, signed by a careless relay */
	d.expires = d.published + 10;
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_encode(b, &d, &k.id));
	put_be(b + 16, NOW + 86401, 8);
	resign(b, &k.id);
	EXPECT_EQ(MAQ_DESC_BAD_LIFETIME, maq_desc_decode(&got, b, DL, NOW));
	put_be(b + 16, NOW, 8);
	resign(b, &k.id);
	EXPECT_EQ(MAQ_DESC_BAD_LIFETIME, maq_desc_decode(&got, b, DL, NOW));
	put_be(b + 16, NOW - 1, 8);
	resign(b, &k.id);
	EXPECT_EQ(MAQ_DESC_BAD_LIFETIME, maq_desc_decode(&got, b, DL, NOW));
	free(b);
}

/* One field spoiled and the descriptor signed again: that reason only. */
TEST(desc_bad_fields)
{
	static const struct {
		const char *what;
		int off, len;
		u64 val;
		enum maq_desc_err want;
	} c[] = {
		{ "version 0", 0, 1, 0, MAQ_DESC_BAD_VERSION },
		{ "version 2", 0, 1, 2, MAQ_DESC_BAD_VERSION },
		{ "flag 0x04", 1, 1, 0x07, MAQ_DESC_BAD_FLAGS },
		{ "flag 0x80", 1, 1, 0x80, MAQ_DESC_BAD_FLAGS },
		{ "port 0", 2, 2, 0, MAQ_DESC_BAD_PORT },
		{ "no address 1", 24, 1, 0, MAQ_DESC_BAD_ADDRESS },
		{ "family 5", 24, 1, 5, MAQ_DESC_BAD_ADDRESS },
		{ "family 255", 41, 1, 255, MAQ_DESC_BAD_ADDRESS },
		{ "ipv4 tail", 40, 1, 1, MAQ_DESC_BAD_ADDRESS },
		{ "0.0.0.0", 25, 4, 0, MAQ_DESC_BAD_ADDRESS },
		{ "none with bytes", 41, 1, 0, MAQ_DESC_BAD_ADDRESS },
		{ "padding 172", 172, 1, 1, MAQ_DESC_BAD_PADDING },
		{ "padding 191", 191, 1, 0x80, MAQ_DESC_BAD_PADDING },
		{ "onion key 0", 90, 8, 0, MAQ_DESC_BAD_ONION_KEY },
		{ "onion key 1", 90, 8, 0, MAQ_DESC_BAD_ONION_KEY },
	};
	struct maq_desc d, got;
	struct keys k;
	u8 *b = xmalloc(DL);
	unsigned int i;

	keys_new(&k);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		enum maq_desc_err e;

		desc_fill(&d, &k, NOW);
		ASSERT_EQ(MAQ_DESC_OK, maq_desc_encode(b, &d, &k.id));
		put_be(b + c[i].off, c[i].val, c[i].len);
		if (c[i].off == 90) {
			/* small-order points u = 0 and u = 1 */
			memset(b + 90, 0, 32);
			b[90] = i & 1 ? 0 : 1;
		}
		resign(b, &k.id);
		e = maq_desc_decode(&got, b, DL, NOW);
		EXPECT_EQ(c[i].want, e)
			TH_LOG("%s: got %s", c[i].what, maq_desc_err_name(e));
		EXPECT_TRUE(sodium_is_zero((u8 *)&got, sizeof(got)));
	}
	free(b);
}

TEST(desc_encode_refuses)
{
	struct maq_desc d;
	struct keys k;
	u8 *b = xmalloc(DL);

	keys_new(&k);
	desc_fill(&d, &k, NOW);
	d.version = 2;
	EXPECT_EQ(MAQ_DESC_BAD_VERSION, maq_desc_encode(b, &d, &k.id));
	desc_fill(&d, &k, NOW);
	d.flags = 0x10;
	EXPECT_EQ(MAQ_DESC_BAD_FLAGS, maq_desc_encode(b, &d, &k.id));
	desc_fill(&d, &k, NOW);
	d.port = 0;
	EXPECT_EQ(MAQ_DESC_BAD_PORT, maq_desc_encode(b, &d, &k.id));
	desc_fill(&d, &k, NOW);
	d.addr[0].sa.sa_family = AF_UNIX;
	EXPECT_EQ(MAQ_DESC_BAD_ADDRESS, maq_desc_encode(b, &d, &k.id));
	desc_fill(&d, &k, NOW);
	memset(&d.addr[0], 0, sizeof(d.addr[0]));
	EXPECT_EQ(MAQ_DESC_BAD_ADDRESS, maq_desc_encode(b, &d, &k.id));
	desc_fill(&d, &k, NOW);
	memset(d.onion_key, 0, 32);
	EXPECT_EQ(MAQ_DESC_BAD_ONION_KEY, maq_desc_encode(b, &d, &k.id));
	EXPECT_TRUE(sodium_is_zero(b, DL));
	free(b);
}

static void prefix_set(struct maq_prefix *p, const char *s)
{
	if (maq_prefix_parse(s, p))
		abort();
}

TEST(desc_prefix_round_trip)
{
	static const struct {
		const char *pfx;
		u8 family;
	} c[] = {
		{ "172.31.0.2/32", 4 },
		{ "172.31.0.0/16", 4 },
		{ "10.0.0.0/8", 4 },
		{ "0.0.0.0/0", 4 },
		{ "198.51.100.128/25", 4 },
		{ "fd00:1:2:3::/64", 6 },
		{ "fd00::1/128", 6 },
		{ "2001:db8::/33", 6 },
		{ "::/0", 6 },
	};
	struct maq_desc d, got;
	struct keys k;
	u8 *b = xmalloc(DL);
	unsigned int i, j;

	keys_new(&k);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		desc_fill(&d, &k, NOW);
		prefix_set(&d.prefix, c[i].pfx);
		ASSERT_EQ(MAQ_DESC_OK, maq_desc_encode(b, &d, &k.id))
			TH_LOG("%s", c[i].pfx);
		EXPECT_EQ(c[i].family, b[154]);
		EXPECT_EQ(d.prefix.len, b[155]);
		EXPECT_EQ(0, memcmp(b + 156, &d.prefix.addr,
				    c[i].family == 4 ? 4 : 16));
		for (j = c[i].family == 4 ? 160 : 172; j < 192; j++)
			EXPECT_EQ(0, b[j]);
		ASSERT_EQ(MAQ_DESC_OK, maq_desc_decode(&got, b, DL, NOW))
			TH_LOG("%s", c[i].pfx);
		EXPECT_EQ(d.prefix.family, got.prefix.family);
		EXPECT_EQ(d.prefix.len, got.prefix.len);
		EXPECT_EQ(0, memcmp(&d.prefix.addr, &got.prefix.addr,
				    c[i].family == 4 ? 4 : 16));
	}
	/* none */
	desc_fill(&d, &k, NOW);
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_encode(b, &d, &k.id));
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_decode(&got, b, DL, NOW));
	EXPECT_EQ(0, got.prefix.family);
	EXPECT_EQ(0, got.prefix.len);
	EXPECT_TRUE(sodium_is_zero((u8 *)&got.prefix.addr,
				   sizeof(got.prefix.addr)));
	free(b);
}

/* Every malformed prefix, signed by its relay, and what the encoder says. */
TEST(desc_prefix_refused)
{
	static const struct {
		const char *what;
		u8 family, len;
		int byte;		/* of the address, or -1 */
		u8 val;
	} c[] = {
		{ "family 1", 1, 0, -1, 0 },
		{ "family 5", 5, 8, -1, 0 },
		{ "family 10 (AF_INET6)", 10, 8, -1, 0 },
		{ "family 255", 255, 0, -1, 0 },
		{ "none with a length", 0, 8, -1, 0 },
		{ "none with an address", 0, 0, 0, 10 },
		{ "none with byte 15", 0, 0, 15, 1 },
		{ "ipv4 /33", 4, 33, -1, 0 },
		{ "ipv4 /255", 4, 255, -1, 0 },
		{ "ipv4 host bit /24", 4, 24, 3, 1 },
		{ "ipv4 host bit /25", 4, 25, 3, 0x40 },
		{ "ipv4 host bit /0", 4, 0, 0, 0x80 },
		{ "ipv4 /32 byte 4", 4, 32, 4, 1 },
		{ "ipv4 /32 byte 15", 4, 32, 15, 0x80 },
		{ "ipv6 /129", 6, 129, -1, 0 },
		{ "ipv6 host bit /64", 6, 64, 8, 0x80 },
		{ "ipv6 host bit /127", 6, 127, 15, 1 },
		{ "ipv6 host bit /0", 6, 0, 0, 1 },
	};
	struct maq_desc d, got;
	struct keys k;
	u8 *b = xmalloc(DL);
	unsigned int i;

	keys_new(&k);
	desc_fill(&d, &k, NOW);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		enum maq_desc_err e;

		ASSERT_EQ(MAQ_DESC_OK, maq_desc_encode(b, &d, &k.id));
		b[154] = c[i].family;
		b[155] = c[i].len;
		if (c[i].family == 4 || c[i].family == 6)
			b[156] = 10;	/* a plausible network */
		if (c[i].byte >= 0)
			b[156 + c[i].byte] |= c[i].val;
		resign(b, &k.id);
		e = maq_desc_decode(&got, b, DL, NOW);
		EXPECT_EQ(MAQ_DESC_BAD_PREFIX, e)
			TH_LOG("%s: got %s", c[i].what, maq_desc_err_name(e));
		EXPECT_TRUE(sodium_is_zero((u8 *)&got, sizeof(got)));
	}

	/* the last bits of a valid prefix are still network bits */
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_encode(b, &d, &k.id));
	b[154] = 4;
	b[155] = 25;
	b[156] = 10;
	b[159] = 0x80;
	resign(b, &k.id);
	ASSERT_EQ(MAQ_DESC_OK, maq_desc_decode(&got, b, DL, NOW));
	EXPECT_EQ(htonl(0x0a000080), got.prefix.addr.v4.s_addr);

	/* the encoder signs none of them */
	prefix_set(&d.prefix, "172.31.0.1/24");
	EXPECT_EQ(MAQ_DESC_BAD_PREFIX, maq_desc_encode(b, &d, &k.id));
	EXPECT_TRUE(sodium_is_zero(b, DL));
	prefix_set(&d.prefix, "fd00::1/64");
	EXPECT_EQ(MAQ_DESC_BAD_PREFIX, maq_desc_encode(b, &d, &k.id));
	prefix_set(&d.prefix, "10.0.0.0/8");
	d.prefix.len = 33;
	EXPECT_EQ(MAQ_DESC_BAD_PREFIX, maq_desc_encode(b, &d, &k.id));
	d.prefix.family = AF_UNIX;
	d.prefix.len = 8;
	EXPECT_EQ(MAQ_DESC_BAD_PREFIX, maq_desc_encode(b, &d, &k.id));
	d.prefix.family = 0;
	EXPECT_EQ(MAQ_DESC_BAD_PREFIX, maq_desc_encode(b, &d, &k.id));
	d.prefix.len = 0;
	EXPECT_EQ(MAQ_DESC_OK, maq_desc_encode(b, &d, &k.id));
	EXPECT_TRUE(sodium_is_zero(b + 154, 38));
	free(b);
}

TEST(desc_err_names)
{
	int i, j;

	for (i = 0; i < MAQ_DESC_N_ERRS; i++) {
		EXPECT_STRNE("unknown", maq_desc_err_name(i));
		for (j = 0; j < i; j++)
			EXPECT_STRNE(maq_desc_err_name(i),
				     maq_desc_err_name(j));
	}
	EXPECT_STREQ("unknown", maq_desc_err_name(MAQ_DESC_N_ERRS));
	EXPECT_STREQ("unknown", maq_desc_err_name(-1));
	EXPECT_STREQ("bad-signature",
		     maq_desc_err_name(MAQ_DESC_BAD_SIGNATURE));
	EXPECT_STREQ("bad-prefix", maq_desc_err_name(MAQ_DESC_BAD_PREFIX));
	for (i = 0; i < MAQ_GOSSIP_N_ERRS; i++) {
		EXPECT_STRNE("unknown", maq_gossip_err_name(i));
		for (j = 0; j < i; j++)
			EXPECT_STRNE(maq_gossip_err_name(i),
				     maq_gossip_err_name(j));
	}
	EXPECT_STREQ("unknown", maq_gossip_err_name(MAQ_GOSSIP_N_ERRS));
}

TEST(desc_related)
{
	struct maq_desc a, b;
	struct keys ka, kb;

	keys_new(&ka);
	keys_new(&kb);
	desc_fill(&a, &ka, NOW);
	desc_fill(&b, &kb, NOW);
	memcpy(a.identity, ka.id.pk, 32);
	memcpy(b.identity, kb.id.pk, 32);
	inet_pton(AF_INET, "203.0.113.1", &b.addr[0].in4.sin_addr);
	inet_pton(AF_INET6, "2001:db9::1", &b.addr[1].in6.sin6_addr);
	EXPECT_FALSE(maq_desc_related(&a, &b));
	/* one /16 */
	inet_pton(AF_INET, "198.51.1.1", &b.addr[0].in4.sin_addr);
	EXPECT_TRUE(maq_desc_related(&a, &b));
	inet_pton(AF_INET, "198.52.1.1", &b.addr[0].in4.sin_addr);
	EXPECT_FALSE(maq_desc_related(&a, &b));
	/* one IPv6 /32 */
	inet_pton(AF_INET6, "2001:db8:ffff::1", &b.addr[1].in6.sin6_addr);
	EXPECT_TRUE(maq_desc_related(&a, &b));
	inet_pton(AF_INET6, "2001:db9::1", &b.addr[1].in6.sin6_addr);
	/* a declared family */
	memcpy(b.family, a.family, 32);
	EXPECT_TRUE(maq_desc_related(&a, &b));
	memset(a.family, 0, 32);
	memset(b.family, 0, 32);
	EXPECT_FALSE(maq_desc_related(&a, &b));
	/* the same relay */
	EXPECT_TRUE(maq_desc_related(&a, &a));
}

/* ---------------------------------------------------------------------- */
/* Gossip                                                                 */
/* ---------------------------------------------------------------------- */

static int cmp_entry(const void *x, const void *y)
{
	const struct maq_digest_entry *a = x, *b = y;

	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return a->published < b->published ? -1 : a->published > b->published;
}

TEST(digest_round_trip)
{
	static const unsigned int ns[] = { 0, 1, 2, 40, MAQ_DIGEST_MAX };
	struct maq_digest_entry e[MAQ_DIGEST_MAX];
	struct maq_gossip *g = malloc(sizeof(*g));
	u8 *cell = xmalloc(MAQ_CELL_SIZE), *m = cell + 12, pk[32];
	unsigned int t, i;
	u64 lo = 0x1000000000000000ULL, hi = 0x1fffffffffffffffULL;

	ASSERT_EQ(0, maq_crypto_init());
	ASSERT_NE(NULL, g);
	for (t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
		unsigned int n = ns[t];

		for (i = 0; i < n; i++) {
			randombytes_buf(&e[i], sizeof(e[i]));
			e[i].id = lo + e[i].id % (hi - lo + 1);
		}
		if (n > 2)
			e[1].id = e[0].id;	/* prefixes may collide */
		ASSERT_EQ(0, maq_gossip_digest_encode(cell, 0xabcdef01, lo, hi,
						      e, n));
		/* header: cid 0, GOSSIP, version 1, reserved 0, handle */
		EXPECT_EQ(0, be32_at(cell));
		EXPECT_EQ(MAQ_CTL_GOSSIP, cell[4]);
		EXPECT_EQ(1, cell[5]);
		EXPECT_EQ(0, cell[6] | cell[7]);
		EXPECT_EQ(0xabcdef01, be32_at(cell + 8));
		/* message: kind, count, reserved, lo, hi, sorted entries */
		EXPECT_EQ(1, m[0]);
		EXPECT_EQ(n, m[1]);
		EXPECT_EQ(0, m[2] | m[3]);
		EXPECT_EQ(lo, be64_at(m + 4));
		EXPECT_EQ(hi, be64_at(m + 12));
		qsort(e, n, sizeof(e[0]), cmp_entry);
		for (i = 0; i < n; i++) {
			EXPECT_EQ(e[i].id, be64_at(m + 20 + 16 * i));
			EXPECT_EQ(e[i].published, be64_at(m + 28 + 16 * i));
		}

		ASSERT_EQ(MAQ_GOSSIP_OK,
			  maq_gossip_decode(g, cell, MAQ_CELL_SIZE));
		EXPECT_EQ(MAQ_GOSSIP_DIGEST, g->kind);
		EXPECT_EQ(0xabcdef01, g->handle);
		EXPECT_EQ(n, g->count);
		EXPECT_EQ(lo, g->lo);
		EXPECT_EQ(hi, g->hi);
		for (i = 0; i < n; i++) {
			EXPECT_EQ(e[i].id, g->entry[i].id);
			EXPECT_EQ(e[i].published, g->entry[i].published);
		}
	}
	/* the whole space in one digest; the identity prefix helper */
	randombytes_buf(pk, 32);
	e[0].id = maq_digest_id(pk);
	EXPECT_EQ(be64_at(pk), e[0].id);
	ASSERT_EQ(0, maq_gossip_digest_encode(cell, 1, 0, ~0ULL, e, 1));
	ASSERT_EQ(MAQ_GOSSIP_OK, maq_gossip_decode(g, cell, MAQ_CELL_SIZE));
	free(g);
	free(cell);
}

TEST(digest_encode_refuses)
{
	struct maq_digest_entry e[MAQ_DIGEST_MAX + 1];
	u8 *cell = xmalloc(MAQ_CELL_SIZE);

	ASSERT_EQ(0, maq_crypto_init());
	memset(e, 0, sizeof(e));
	EXPECT_EQ(-EINVAL, maq_gossip_digest_encode(cell, 1, 0, ~0ULL, e,
						    MAQ_DIGEST_MAX + 1));
	EXPECT_EQ(-EINVAL, maq_gossip_digest_encode(cell, 1, 2, 1, e, 0));
	e[3].id = 10;
	EXPECT_EQ(-EINVAL, maq_gossip_digest_encode(cell, 1, 0, 9, e, 4));
	EXPECT_EQ(0, maq_gossip_digest_encode(cell, 1, 0, 10, e, 4));
	EXPECT_EQ(-EINVAL, maq_gossip_digest_encode(cell, 1, 11, 20, e, 4));
	EXPECT_EQ(-EINVAL, maq_gossip_digest_encode(cell, 1, 0, 1, NULL, 1));
	free(cell);
}

TEST(push_round_trip)
{
	u8 (*descs)[DL] = malloc(MAQ_PUSH_MAX * DL);
	struct maq_gossip *g = malloc(sizeof(*g));
	u8 *cell = xmalloc(MAQ_CELL_SIZE);
	struct keys k[MAQ_PUSH_MAX];
	struct maq_desc d, got;
	unsigned int n, i;

	ASSERT_NE(NULL, descs);
	ASSERT_NE(NULL, g);
	for (i = 0; i < MAQ_PUSH_MAX; i++) {
		keys_new(&k[i]);
		desc_fill(&d, &k[i], NOW);
		ASSERT_EQ(MAQ_DESC_OK, maq_desc_encode(descs[i], &d, &k[i].id));
	}
	for (n = 1; n <= MAQ_PUSH_MAX; n++) {
		ASSERT_EQ(0, maq_gossip_push_encode(cell, 77, descs, n));
		EXPECT_EQ(2, cell[12]);
		EXPECT_EQ(n, cell[13]);
		for (i = 0; i < n; i++)
			EXPECT_EQ(0, memcmp(cell + 16 + i * DL, descs[i], DL));
		ASSERT_EQ(MAQ_GOSSIP_OK,
			  maq_gossip_decode(g, cell, MAQ_CELL_SIZE));
		EXPECT_EQ(MAQ_GOSSIP_PUSH, g->kind);
		EXPECT_EQ(77, g->handle);
		EXPECT_EQ(n, g->count);
		for (i = 0; i < n; i++) {
			EXPECT_EQ(MAQ_DESC_OK,
				  maq_desc_decode(&got, g->desc[i], DL, NOW));
			EXPECT_EQ(0, memcmp(got.identity, k[i].id.pk, 32));
		}
	}
	EXPECT_EQ(-EINVAL, maq_gossip_push_encode(cell, 1, descs, 0));
	EXPECT_EQ(-EINVAL, maq_gossip_push_encode(cell, 1, descs,
						  MAQ_PUSH_MAX + 1));
	EXPECT_EQ(-EINVAL, maq_gossip_push_encode(cell, 1, NULL, 1));
	free(descs);
	free(g);
	free(cell);
}

TEST(gossip_padding_is_random)
{
	struct maq_digest_entry e = { .id = 5, .published = 6 };
	u8 *a = xmalloc(MAQ_CELL_SIZE), *b = xmalloc(MAQ_CELL_SIZE);
	size_t used = 12 + 20 + 16;

	ASSERT_EQ(0, maq_crypto_init());
	ASSERT_EQ(0, maq_gossip_digest_encode(a, 1, 0, 9, &e, 1));
	ASSERT_EQ(0, maq_gossip_digest_encode(b, 1, 0, 9, &e, 1));
	EXPECT_EQ(0, memcmp(a, b, used));
	EXPECT_NE(0, memcmp(a + used, b + used, MAQ_CELL_SIZE - used));
	free(a);
	free(b);
}

TEST(gossip_decode_refuses)
{
	struct maq_digest_entry e[3] = {
		{ .id = 10, .published = 1 },
		{ .id = 20, .published = 1 },
		{ .id = 30, .published = 1 },
	};
	struct maq_gossip *g = malloc(sizeof(*g));
	u8 *good = xmalloc(MAQ_CELL_SIZE), *c = xmalloc(MAQ_CELL_SIZE);
	u8 *big = xmalloc(MAQ_CELL_SIZE + 1), *m = c + 12;
	u8 (*desc)[DL] = calloc(1, DL);

	ASSERT_EQ(0, maq_crypto_init());
	ASSERT_NE(NULL, g);
	ASSERT_EQ(0, maq_gossip_digest_encode(good, 1, 10, 30, e, 3));
#define RESET()	memcpy(c, good, MAQ_CELL_SIZE)
#define DECODE()	maq_gossip_decode(g, c, MAQ_CELL_SIZE)
	RESET();
	ASSERT_EQ(MAQ_GOSSIP_OK, DECODE());

	EXPECT_EQ(MAQ_GOSSIP_TRUNCATED,
		  maq_gossip_decode(g, c, MAQ_CELL_SIZE - 1));
	EXPECT_EQ(MAQ_GOSSIP_TRUNCATED, maq_gossip_decode(g, NULL, 0));
	memcpy(big, good, MAQ_CELL_SIZE);
	big[MAQ_CELL_SIZE] = 0;
	EXPECT_EQ(MAQ_GOSSIP_OVERSIZED,
		  maq_gossip_decode(g, big, MAQ_CELL_SIZE + 1));
	c[3] = 1;				/* cid 1 */
	EXPECT_EQ(MAQ_GOSSIP_BAD_HEADER, DECODE());
	RESET();
	c[5] = 2;				/* version 2 */
	EXPECT_EQ(MAQ_GOSSIP_BAD_HEADER, DECODE());
	RESET();
	c[7] = 1;				/* header reserved */
	EXPECT_EQ(MAQ_GOSSIP_BAD_HEADER, DECODE());
	RESET();
	c[4] = MAQ_CTL_CREATE;
	EXPECT_EQ(MAQ_GOSSIP_NOT_GOSSIP, DECODE());
	RESET();
	m[0] = 0;
	EXPECT_EQ(MAQ_GOSSIP_BAD_KIND, DECODE());
	m[0] = 3;
	EXPECT_EQ(MAQ_GOSSIP_BAD_KIND, DECODE());
	RESET();
	m[3] = 1;				/* message reserved */
	EXPECT_EQ(MAQ_GOSSIP_BAD_RESERVED, DECODE());
	RESET();
	m[1] = MAQ_DIGEST_MAX + 1;
	EXPECT_EQ(MAQ_GOSSIP_BAD_COUNT, DECODE());
	m[1] = 255;
	EXPECT_EQ(MAQ_GOSSIP_BAD_COUNT, DECODE());
	RESET();
	put_be(m + 4, 31, 8);			/* lo > hi */
	EXPECT_EQ(MAQ_GOSSIP_BAD_RANGE, DECODE());
	RESET();
	put_be(m + 4, 11, 8);			/* entry 10 below lo */
	EXPECT_EQ(MAQ_GOSSIP_BAD_RANGE, DECODE());
	RESET();
	put_be(m + 12, 29, 8);			/* entry 30 above hi */
	EXPECT_EQ(MAQ_GOSSIP_BAD_RANGE, DECODE());
	RESET();
	put_be(m + 20 + 16, 25, 8);		/* 10, 25, ... fine */
	EXPECT_EQ(MAQ_GOSSIP_OK, DECODE());
	put_be(m + 20 + 16, 5 + 0, 8);		/* 10, 5: below lo first */
	EXPECT_EQ(MAQ_GOSSIP_BAD_RANGE, DECODE());
	RESET();
	put_be(m + 20, 25, 8);			/* 25, 20, 30 */
	EXPECT_EQ(MAQ_GOSSIP_UNSORTED, DECODE());
	RESET();
	put_be(m + 20 + 8, 2, 8);		/* same id, published 2, 1 */
	put_be(m + 20 + 16, 10, 8);
	EXPECT_EQ(MAQ_GOSSIP_UNSORTED, DECODE());
	EXPECT_TRUE(sodium_is_zero((u8 *)g, sizeof(*g)));

	ASSERT_EQ(0, maq_gossip_push_encode(c, 1,
					    (const u8 (*)[MAQ_DESC_LEN])desc,
					    1));
	EXPECT_EQ(MAQ_GOSSIP_OK, DECODE());
	m[1] = 0;
	EXPECT_EQ(MAQ_GOSSIP_BAD_COUNT, DECODE());
	m[1] = MAQ_PUSH_MAX + 1;
	EXPECT_EQ(MAQ_GOSSIP_BAD_COUNT, DECODE());
	m[1] = MAQ_PUSH_MAX;			/* 5 of random bytes: parses */
	EXPECT_EQ(MAQ_GOSSIP_OK, DECODE());
#undef RESET
#undef DECODE
	free(g);
	free(good);
	free(c);
	free(big);
	free(desc);
}

/* Random cells, some with a plausible header: never out of bounds. */
TEST(gossip_random_cells)
{
	struct maq_gossip *g = malloc(sizeof(*g));
	u8 *c = xmalloc(MAQ_CELL_SIZE);
	int i, ok = 0;

	ASSERT_EQ(0, maq_crypto_init());
	ASSERT_NE(NULL, g);
	for (i = 0; i < 20000; i++) {
		enum maq_gossip_err e;

		randombytes_buf(c, MAQ_CELL_SIZE);
		if (i & 1) {
			maq_ctl_put(c, MAQ_CTL_GOSSIP, (u32)i);
			c[12] = 1 + (i >> 1) % 3;
			c[13] %= 8 + (i & 2) * 50;
			c[14] = c[15] = 0;
			if (i & 4) {		/* a full range */
				memset(c + 16, 0, 8);
				memset(c + 24, 0xff, 8);
			}
		}
		e = maq_gossip_decode(g, c, MAQ_CELL_SIZE);
		EXPECT_TRUE(e >= 0 && e < MAQ_GOSSIP_N_ERRS);
		if (e == MAQ_GOSSIP_OK) {
			ok++;
			EXPECT_TRUE(g->kind == 1 || g->kind == 2);
			EXPECT_LE(g->count, g->kind == 1 ? MAQ_DIGEST_MAX :
							   MAQ_PUSH_MAX);
		}
	}
	EXPECT_GT(ok, 100);
	free(g);
	free(c);
}

TEST_HARNESS_MAIN
