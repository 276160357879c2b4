// SPDX-License-Identifier: GPL-2.0
/*
 * alias_test: daemon/alias_rec.c (PROTOCOL 9).  It proves:
 *
 *  - an alias is base32 of the key, round trips, and only its one spelling
 *    of a valid key decodes (stray bits, other characters, lengths and
 *    non-points refused); its inner address is fd00::/8 and the key's own;
 *  - where an alias may stand, upper case is taken, relay names and
 *    addresses are not mistaken for one, and each bad alias gets its
 *    reason; alias names are 1 to 32 of a-z 0-9 - _;
 *  - the blinded key depends on the day, and the blinded signature is an
 *    ordinary Ed25519 signature under A' = h * A (libsodium verifies it);
 *  - a sealed record passes a relay's check and opens for the alias, its
 *    content intact; any flipped bit is refused, another alias or another
 *    day's key is refused as other-key, and the clock's rules hold
 *    (expired, from the future); a record holds neither the alias key nor
 *    the intro tokens in clear;
 *  - the introduction messages round trip, refuse padding and unknown
 *    types, INTRODUCE opens only with the service's key, and both ends of
 *    a rendezvous derive mirrored end-to-end keys and the same auth, which
 *    differ for another record key or alias.
 */
#include <string.h>
#include <sodium.h>

#include "alias_rec.h"
#include "ctl.h"
#include "kselftest_harness.h"

#pragma GCC diagnostic ignored "-Wsign-compare"

#define NOW	1800000000ULL	/* a fixed wall time, mid-day */

static void alias_key(struct maq_identity *id, u8 fill)
{
	u8 seed[32];

	memset(seed, fill, sizeof(seed));
	maq_identity_from_seed(id, seed);
}

TEST(alias_string)
{
	struct maq_identity id;
	char s[MAQ_ALIAS_STR_LEN + 1], t[MAQ_ALIAS_STR_LEN + 1];
	struct in6_addr a, b;
	u8 pk[32];
	int i;

	ASSERT_EQ(0, maq_crypto_init());
	for (i = 1; i < 20; i++) {
		alias_key(&id, (u8)i);
		maq_alias_encode(s, id.pk);
		ASSERT_EQ(MAQ_ALIAS_STR_LEN, strlen(s));
		ASSERT_TRUE(maq_alias_form(s));
		ASSERT_EQ(0, maq_alias_decode(s, pk));
		ASSERT_EQ(0, memcmp(pk, id.pk, 32));
		/* the last character carries 1 key bit and 4 zero bits */
		strcpy(t, s);
		t[MAQ_ALIAS_STR_LEN - 1] = t[MAQ_ALIAS_STR_LEN - 1] == 'a' ?
					   'b' : 'a';
		ASSERT_EQ(-EINVAL, maq_alias_decode(t, pk));
	}
	ASSERT_FALSE(maq_alias_form("abc"));
	strcpy(t, s);
	t[3] = 'A';
	ASSERT_FALSE(maq_alias_form(t));
	ASSERT_EQ(-EINVAL, maq_alias_decode(t, pk));
	t[3] = '1';
	ASSERT_EQ(-EINVAL, maq_alias_decode(t, pk));
	/* 52 'a': the zero key, not a point anyone can sign for */
	memset(t, 'a', MAQ_ALIAS_STR_LEN);
	ASSERT_TRUE(maq_alias_form(t));
	ASSERT_EQ(-EINVAL, maq_alias_decode(t, pk));

	alias_key(&id, 1);
	maq_alias_addr(id.pk, &a);
	ASSERT_EQ(0xfd, a.s6_addr[0]);
	maq_alias_addr(id.pk, &b);
	ASSERT_EQ(0, memcmp(&a, &b, 16));
	alias_key(&id, 2);
	maq_alias_addr(id.pk, &b);
	ASSERT_NE(0, memcmp(&a, &b, 16));
}

/* Where an alias may stand: what is taken for one, and why one is bad. */
TEST(alias_arg)
{
	struct maq_identity id;
	char s[MAQ_ALIAS_STR_LEN + 1], t[80];
	const char *why;
	u8 pk[32];
	unsigned int i;

	ASSERT_EQ(0, maq_crypto_init());
	alias_key(&id, 3);
	maq_alias_encode(s, id.pk);
	strcpy(t, s);
	ASSERT_EQ(1, maq_alias_arg(t, pk, &why));
	ASSERT_EQ(0, memcmp(pk, id.pk, 32));
	for (i = 0; t[i]; i++)
		t[i] = (char)(t[i] >= 'a' && t[i] <= 'z' ? t[i] - 32 : t[i]);
	ASSERT_EQ(1, maq_alias_arg(t, pk, &why));
	ASSERT_STREQ(s, t);	/* lower-cased in place */
	/* relay names and addresses are left alone */
	strcpy(t, "10.11.0.1");
	ASSERT_EQ(0, maq_alias_arg(t, pk, &why));
	strcpy(t, "fd00::1");
	ASSERT_EQ(0, maq_alias_arg(t, pk, &why));
	strcpy(t, "Oron5TMcwS72clQXBorNiPWIFkEELWQQ/SN7b/OHtM0=");
	ASSERT_EQ(0, maq_alias_arg(t, pk, &why));
	memcpy(t, s, 47);
	t[47] = 0;
	ASSERT_EQ(0, maq_alias_arg(t, pk, &why));
	/* meant as one, and wrong */
	t[47] = 'a';
	t[48] = 0;
	why = NULL;
	ASSERT_EQ(-EINVAL, maq_alias_arg(t, pk, &why));
	ASSERT_STREQ("an alias is 52 characters", why);
	strcpy(t, s);
	t[MAQ_ALIAS_STR_LEN - 1] = 'b';
	ASSERT_EQ(-EINVAL, maq_alias_arg(t, pk, &why));
	ASSERT_NE(NULL, strstr(why, "'a' or 'q'"));
	memset(t, 'a', MAQ_ALIAS_STR_LEN);
	t[MAQ_ALIAS_STR_LEN] = 0;
	ASSERT_EQ(-EINVAL, maq_alias_arg(t, pk, &why));
	ASSERT_STREQ("not an Ed25519 public key", why);

	ASSERT_TRUE(maq_alias_name_ok("svc-1_a"));
	ASSERT_TRUE(maq_alias_name_ok("abcdefghijklmnopqrstuvwxyz012345"));
	ASSERT_FALSE(maq_alias_name_ok("abcdefghijklmnopqrstuvwxyz0123456"));
	ASSERT_FALSE(maq_alias_name_ok(""));
	ASSERT_FALSE(maq_alias_name_ok("Svc"));
	ASSERT_FALSE(maq_alias_name_ok("a/b"));
	ASSERT_FALSE(maq_alias_name_ok("../x"));
}

TEST(blinded_signature)
{
	struct maq_identity id;
	u8 b1[32], b2[32], sig[64], msg[100];
	u32 day = maq_alias_day(NOW);

	ASSERT_EQ(0, maq_crypto_init());
	alias_key(&id, 7);
	randombytes_buf(msg, sizeof(msg));
	ASSERT_EQ(0, maq_alias_blind(id.pk, day, b1));
	ASSERT_EQ(0, maq_alias_blind(id.pk, day + 1, b2));
	ASSERT_NE(0, memcmp(b1, b2, 32));
	ASSERT_NE(0, memcmp(b1, id.pk, 32));
	ASSERT_EQ(0, maq_alias_blind_sign(sig, msg, sizeof(msg), &id, day));
	ASSERT_EQ(0, crypto_sign_verify_detached(sig, msg, sizeof(msg), b1));
	/* not under the key itself, nor another day's blinding */
	ASSERT_NE(0, crypto_sign_verify_detached(sig, msg, sizeof(msg),
						 id.pk));
	ASSERT_NE(0, crypto_sign_verify_detached(sig, msg, sizeof(msg), b2));
	msg[5] ^= 1;
	ASSERT_NE(0, crypto_sign_verify_detached(sig, msg, sizeof(msg), b1));
}

static void make_rec(u8 out[MAQ_ALIAS_REC_LEN], struct maq_alias_rec *r,
		     const struct maq_identity *id, u32 day, u64 published)
{
	unsigned int i;

	memset(r, 0, sizeof(*r));
	r->day = day;
	r->published = published;
	r->expires = published + 3600;
	memset(r->service_x, 0x5a, 32);
	r->n_intro = 3;
	for (i = 0; i < 3; i++) {
		memset(r->intro[i].relay, 0x10 + i, 32);
		memset(r->intro[i].token, 0xc0 + i, 32);
	}
	maq_alias_rec_seal(out, r, id);
}

static bool contains(const u8 *hay, size_t n, const u8 *needle, size_t k)
{
	size_t i;

	for (i = 0; i + k <= n; i++)
		if (!memcmp(hay + i, needle, k))
			return true;
	return false;
}

TEST(record)
{
	struct maq_identity id, other;
	struct maq_alias_rec r, o;
	u8 rec[MAQ_ALIAS_REC_LEN], bad[MAQ_ALIAS_REC_LEN];
	u32 day = maq_alias_day(NOW);
	unsigned int i, bit;

	ASSERT_EQ(0, maq_crypto_init());
	alias_key(&id, 3);
	alias_key(&other, 4);
	make_rec(rec, &r, &id, day, NOW);
	ASSERT_EQ(MAQ_AREC_OK, maq_alias_rec_check(rec, sizeof(rec), NOW, &o));
	ASSERT_EQ(0, memcmp(o.blinded, r.blinded, 32));
	ASSERT_EQ(MAQ_AREC_OK, maq_alias_rec_open(rec, sizeof(rec), NOW,
						  id.pk, &o));
	ASSERT_EQ(3, o.n_intro);
	ASSERT_EQ(0, memcmp(o.service_x, r.service_x, 32));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, memcmp(o.intro[i].relay, r.intro[i].relay, 32));
		ASSERT_EQ(0, memcmp(o.intro[i].token, r.intro[i].token, 32));
	}
	/* what a relay stores shows neither the alias nor the content */
	ASSERT_FALSE(contains(rec, sizeof(rec), id.pk, 8));
	ASSERT_FALSE(contains(rec, sizeof(rec), r.intro[0].token, 8));
	ASSERT_FALSE(contains(rec, sizeof(rec), r.intro[0].relay, 8));
	ASSERT_FALSE(contains(rec, sizeof(rec), r.service_x, 8));

	/* every single flipped bit is caught by someone */
	for (bit = 0; bit < MAQ_ALIAS_REC_LEN * 8; bit += 7) {
		memcpy(bad, rec, sizeof(bad));
		bad[bit / 8] ^= (u8)(1 << bit % 8);
		ASSERT_NE(MAQ_AREC_OK, maq_alias_rec_open(bad, sizeof(bad),
							  NOW, id.pk, &o));
		ASSERT_EQ(0, o.n_intro);
	}
	memcpy(bad, rec, sizeof(bad));
	bad[300] ^= 0x40;
	ASSERT_EQ(MAQ_AREC_SIGNATURE, maq_alias_rec_check(bad, sizeof(bad),
							  NOW, &o));
	bad[300] ^= 0x40;
	bad[1] = 1;
	ASSERT_EQ(MAQ_AREC_STRUCTURE, maq_alias_rec_check(bad, sizeof(bad),
							  NOW, &o));
	ASSERT_EQ(MAQ_AREC_SIZE, maq_alias_rec_check(rec, sizeof(rec) - 1,
						     NOW, &o));

	/* another alias: valid for relays, not ours */
	ASSERT_EQ(MAQ_AREC_OTHER_KEY, maq_alias_rec_open(rec, sizeof(rec),
							 NOW, other.pk, &o));
	/* tomorrow's record made today: filed under tomorrow's A' */
	make_rec(rec, &r, &id, day + 1, NOW);
	ASSERT_EQ(MAQ_AREC_OK, maq_alias_rec_open(rec, sizeof(rec), NOW,
						  id.pk, &o));
	ASSERT_EQ(day + 1, o.day);
	/* a day's record re-labelled with another day: signature fails */
	memcpy(bad, rec, sizeof(bad));
	maq_put_be32(bad + 4, day);
	ASSERT_EQ(MAQ_AREC_SIGNATURE, maq_alias_rec_check(bad, sizeof(bad),
							  NOW, &o));
	/* yesterday's key for a record of today: no */
	make_rec(rec, &r, &id, day, NOW);
	{
		u8 y[32];

		ASSERT_EQ(0, maq_alias_blind(id.pk, day - 1, y));
		ASSERT_NE(0, memcmp(y, r.blinded, 32));
		ASSERT_NE(0, crypto_sign_verify_detached(
				rec + MAQ_ALIAS_REC_SIGNED, rec,
				MAQ_ALIAS_REC_SIGNED, y));
	}
	/* the clock */
	ASSERT_EQ(MAQ_AREC_EXPIRED, maq_alias_rec_check(rec, sizeof(rec),
							NOW + 3600, &o));
	ASSERT_EQ(MAQ_AREC_FUTURE, maq_alias_rec_check(rec, sizeof(rec),
						       NOW - 301, &o));
	ASSERT_EQ(MAQ_AREC_OK, maq_alias_rec_check(rec, sizeof(rec),
						   NOW - 300, &o));
	/* the sealer refuses what it could not sign sensibly */
	r.n_intro = 0;
	ASSERT_EQ(-EINVAL, maq_alias_rec_seal(rec, &r, &id));
	r.n_intro = 4;
	ASSERT_EQ(-EINVAL, maq_alias_rec_seal(rec, &r, &id));
	r.n_intro = 1;
	r.day = day + 2;
	ASSERT_EQ(-EINVAL, maq_alias_rec_seal(rec, &r, &id));
	r.day = day;
	r.expires = r.published;
	ASSERT_EQ(-EINVAL, maq_alias_rec_seal(rec, &r, &id));
}

TEST(messages)
{
	static const u8 types[] = { 16, 17, 18, 19, 20, 21, 22, 23, 24 };
	struct maq_amsg m, g;
	u8 buf[MAQ_AMSG_LEN];
	unsigned int i;

	for (i = 0; i < sizeof(types); i++) {
		memset(&m, 0, sizeof(m));
		m.type = types[i];
		m.nonce = 0x0102030405060708ULL + i;
		m.status = (types[i] == 17 || types[i] == 19 ||
			    types[i] == 21) ? 2 : 0;
		randombytes_buf(m.token, sizeof(m.token));
		randombytes_buf(m.cookie, sizeof(m.cookie));
		randombytes_buf(m.sealed, sizeof(m.sealed));
		randombytes_buf(m.auth, sizeof(m.auth));
		maq_amsg_put(buf, &m);
		ASSERT_TRUE(maq_amsg_is(buf, sizeof(buf)));
		ASSERT_EQ(0, maq_amsg_get(buf, sizeof(buf), &g));
		ASSERT_EQ(m.type, g.type);
		ASSERT_EQ(m.nonce, g.nonce);
		ASSERT_EQ(m.status, g.status);
		maq_amsg_put(buf + 0, &g);
		/* the last byte is padding for every type: must be zero */
		buf[MAQ_AMSG_LEN - 1] = 1;
		ASSERT_EQ(-EPROTO, maq_amsg_get(buf, sizeof(buf), &g));
		buf[MAQ_AMSG_LEN - 1] = 0;
		buf[1] = 2;
		ASSERT_EQ(-EPROTO, maq_amsg_get(buf, sizeof(buf), &g));
	}
	memset(buf, 0, sizeof(buf));
	buf[0] = 1;	/* DESTROY is the teardown's */
	buf[1] = 1;
	ASSERT_FALSE(maq_amsg_is(buf, sizeof(buf)));
	ASSERT_EQ(-EPROTO, maq_amsg_get(buf, sizeof(buf), &g));
	ASSERT_EQ(-EMSGSIZE, maq_amsg_get(buf, 255, &g));
	/* a status beyond the defined ones */
	memset(&m, 0, sizeof(m));
	m.type = MAQ_AMSG_INTRODUCE_ACK;
	m.status = 9;
	maq_amsg_put(buf, &m);
	ASSERT_EQ(-EPROTO, maq_amsg_get(buf, sizeof(buf), &g));
}

TEST(introduce_and_keys)
{
	struct maq_onion_key svc, eph_c, eph_s, wrong;
	struct maq_intro_plain p, q;
	struct maq_identity id;
	u8 sealed[MAQ_AMSG_INTRO_SEALED], ec[64], es[64], ac[32], as[32];

	ASSERT_EQ(0, maq_crypto_init());
	alias_key(&id, 9);
	ASSERT_EQ(0, maq_onion_generate(&svc));
	ASSERT_EQ(0, maq_onion_generate(&eph_c));
	ASSERT_EQ(0, maq_onion_generate(&eph_s));
	ASSERT_EQ(0, maq_onion_generate(&wrong));
	randombytes_buf(p.rp, 32);
	randombytes_buf(p.cookie, sizeof(p.cookie));
	memcpy(p.client_x, eph_c.pk, 32);
	memset(&p.client_addr, 0x11, 16);
	p.client_addr.s6_addr[0] = 0xfd;
	ASSERT_EQ(0, maq_intro_seal(sealed, &p, svc.pk));
	ASSERT_EQ(-EBADMSG, maq_intro_open(&q, sealed, &wrong));
	ASSERT_EQ(0, maq_intro_open(&q, sealed, &svc));
	ASSERT_EQ(0, memcmp(&p, &q, sizeof(p)));
	sealed[60] ^= 1;
	ASSERT_EQ(-EBADMSG, maq_intro_open(&q, sealed, &svc));
	p.client_addr.s6_addr[0] = 0x20;
	ASSERT_EQ(0, maq_intro_seal(sealed, &p, svc.pk));
	ASSERT_EQ(-EINVAL, maq_intro_open(&q, sealed, &svc));

	ASSERT_EQ(0, maq_alias_e2e(ec, ac, true, eph_c.sk, svc.pk, eph_c.pk,
				   svc.pk, id.pk));
	ASSERT_EQ(0, maq_alias_e2e(es, as, false, svc.sk, eph_c.pk, eph_c.pk,
				   svc.pk, id.pk));
	ASSERT_EQ(0, memcmp(ac, as, 32));
	ASSERT_EQ(0, memcmp(ec, es + 32, 32));	/* client send = svc recv */
	ASSERT_EQ(0, memcmp(ec + 32, es, 32));
	ASSERT_NE(0, memcmp(ec, ec + 32, 32));
	/* a service without the record key derives something else */
	ASSERT_EQ(0, maq_alias_e2e(es, as, false, wrong.sk, eph_c.pk,
				   eph_c.pk, svc.pk, id.pk));
	ASSERT_NE(0, memcmp(ac, as, 32));
	/* another alias, another key */
	ASSERT_EQ(0, maq_alias_e2e(es, as, false, svc.sk, eph_c.pk, eph_c.pk,
				   svc.pk, eph_s.pk));
	ASSERT_NE(0, memcmp(ac, as, 32));
	/* a small-order key is refused */
	memset(wrong.pk, 0, 32);
	ASSERT_EQ(-EINVAL, maq_alias_e2e(ec, ac, true, eph_c.sk, wrong.pk,
					 eph_c.pk, wrong.pk, id.pk));
}

TEST_HARNESS_MAIN
