// SPDX-License-Identifier: GPL-2.0
/*
 * setup_test: daemon/setup.c, the 1-RTT circuit setup and key ratchet of
 * docs/PROTOCOL.md sections 4, 7.1 and 7.2.  It proves:
 *
 *  - the hop KDF and the ratchet are the documented libsodium calls
 *    (recomputed here with crypto_generichash / crypto_kdf directly);
 *  - for every circuit length 1..8, a CREATE built by the origin passes
 *    simulated relays, each with its own onion key, that each learn only
 *    their next hop's address (the terminus: that it is one), and the
 *    CREATED that comes back opens at the origin; every hop's message is
 *    decrypted again here with libsodium's AEAD and its routing block read
 *    byte by byte, and the filler it appends is the documented keystream;
 *  - the keys and counter offsets both ends derive agree, so a forward cell
 *    sealed with maq_onion_seal() passes maq_relay_fwd() at every relay and
 *    opens at the terminus, and a backward cell comes back through
 *    maq_relay_back() and opens with maq_onion_open(), in epoch 0 and,
 *    after one ratchet step on both sides, in epoch 1;
 *  - a hop refusing, a hop without the right onion key, a damaged CREATE
 *    on any link and a damaged CREATED are each reported as the right hop
 *    with the right reason;
 *  - hand-built routing blocks with every field wrong are refused with the
 *    right reason, and bit flips, truncation and oversize never pass.
 *
 * Messages handed to setup.c are heap blocks of exactly their size, so the
 * ASan build catches any overrun.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sodium.h>

#include "setup.h"
#include "kselftest_harness.h"

/*
 * EXPECT_EQ(7, r.bcid) compares typeof() copies, so a literal against an
 * unsigned field trips -Wsign-compare; every such value here is small and
 * non-negative.
 */
#pragma GCC diagnostic ignored "-Wsign-compare"

#define MSG	MAQ_CTL_MSG_LEN
#define ONION	MAQ_SETUP_ONION_LEN
#define CT	MAQ_SETUP_CT_LEN
#define B	MAQ_BODY_LEN
#define T	MAQ_TAG_LEN
#define H	MAQ_PAD_LEN
#define HDR	MAQ_HDR_LEN
#define CELL	MAQ_CELL_SIZE
#define MASK	MAQ_SEQ_CTR_MASK
#define PHASE	MAQ_SEQ_PHASE

static const u8 nonce0[12];

static u32 rnd_cid(void)
{
	u32 x;

	do
		randombytes_buf(&x, sizeof(x));
	while (!x);
	return x;
}

static u64 rnd64(void)
{
	u64 x;

	randombytes_buf(&x, sizeof(x));
	return x;
}

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

static u16 be16_at(const u8 *p)
{
	u16 v;

	memcpy(&v, p, 2);
	return be16toh(v);
}

static bool sa_equal(const union maq_sockaddr *a, const union maq_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in4.sin_port == b->in4.sin_port &&
		       a->in4.sin_addr.s_addr == b->in4.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == b->in6.sin6_port &&
		       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16);
	return a->sa.sa_family == AF_UNSPEC;
}

/* ---------------------------------------------------------------------- */
/* Reference key schedule, straight from PROTOCOL.md with libsodium       */
/* ---------------------------------------------------------------------- */

static void ref_m(u8 m[32], const u8 ss[32], const u8 x[32], const u8 o[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, ss, 32);
	crypto_generichash_update(&st, x, 32);
	crypto_generichash_update(&st, o, 32);
	crypto_generichash_final(&st, m, 32);
}

static void ref_hop(u8 out[32], const u8 m[32], int id)
{
	crypto_kdf_derive_from_key(out, 32, id, "maqhop01", m);
}

/* key of epoch @e from chain_0 */
static void ref_epoch_key(u8 key[32], const u8 chain0[32], int e)
{
	u8 c[32], next[32];

	memcpy(c, chain0, 32);
	while (e--) {
		crypto_kdf_derive_from_key(next, 32, 2, "maqratch", c);
		memcpy(c, next, 32);
	}
	crypto_kdf_derive_from_key(key, 32, 1, "maqratch", c);
}

/* The 112 filler bytes of a hop: setup keystream at block 2^20. */
static void ref_filler(u8 out[112], const u8 setup[32])
{
	memset(out, 0, 112);
	crypto_stream_chacha20_ietf_xor_ic(out, out, 112, nonce0, 1U << 20,
					   setup);
}

/* Everything hop @onion learns from CREATE @msg, via libsodium only. */
struct ref_view {
	u8 m[32];
	u8 keys[7][32];			/* [id] */
	u8 plain[CT];
	int ok;
};

static void ref_open(struct ref_view *v, const u8 *msg,
		     const struct maq_onion_key *onion)
{
	u8 ss[32];
	int i;

	memset(v, 0, sizeof(*v));
	if (crypto_scalarmult(ss, onion->sk, msg + 4))
		return;
	ref_m(v->m, ss, msg + 4, onion->pk);
	for (i = 1; i <= 6; i++)
		ref_hop(v->keys[i], v->m, i);
	v->ok = !crypto_aead_chacha20poly1305_ietf_decrypt_detached(v->plain,
			NULL, msg + 4 + 32 + 16, CT, msg + 4 + 32, NULL, 0,
			nonce0, v->keys[1]);
}

/* ---------------------------------------------------------------------- */
/* Key schedule                                                           */
/* ---------------------------------------------------------------------- */

TEST(hop_kdf_is_blake2b_then_crypto_kdf)
{
	struct maq_hop_keys k;
	u8 ss[32], x[32], o[32], m[32], want[32], cat[96];
	u8 *got[7];
	int i, round;

	ASSERT_EQ(0, maq_crypto_init());
	for (round = 0; round < 16; round++) {
		randombytes_buf(ss, 32);
		randombytes_buf(x, 32);
		randombytes_buf(o, 32);
		maq_hop_kdf(&k, ss, x, o);
		/* BLAKE2b-256 of the 96-byte concatenation, unkeyed */
		memcpy(cat, ss, 32);
		memcpy(cat + 32, x, 32);
		memcpy(cat + 64, o, 32);
		crypto_generichash(m, 32, cat, 96, NULL, 0);
		ref_m(want, ss, x, o);
		ASSERT_EQ(0, memcmp(m, want, 32));
		got[1] = k.setup;
		got[2] = k.reply;
		got[3] = k.fwd_chain;
		got[4] = k.back_chain;
		got[5] = k.fwd_ctl;
		got[6] = k.back_ctl;
		for (i = 1; i <= 6; i++) {
			crypto_kdf_derive_from_key(want, 32, i, "maqhop01", m);
			EXPECT_EQ(0, memcmp(got[i], want, 32));
		}
		/* six different keys */
		for (i = 2; i <= 6; i++)
			EXPECT_NE(0, memcmp(got[i - 1], got[i], 32));
	}
	maq_hop_keys_wipe(&k);
	EXPECT_TRUE(sodium_is_zero((u8 *)&k, sizeof(k)));
}

TEST(ratchet_is_crypto_kdf_chain)
{
	struct maq_ratchet r;
	u8 chain[32], c[32], next[32], key[32], want[32];
	u32 e;

	ASSERT_EQ(0, maq_crypto_init());
	randombytes_buf(chain, 32);
	maq_ratchet_init(&r, chain);
	memcpy(c, chain, 32);
	for (e = 0; e < 10; e++) {
		EXPECT_EQ(e, r.epoch);
		maq_ratchet_next(&r, key);
		crypto_kdf_derive_from_key(want, 32, 1, "maqratch", c);
		EXPECT_EQ(0, memcmp(key, want, 32));
		crypto_kdf_derive_from_key(next, 32, 2, "maqratch", c);
		memcpy(c, next, 32);
		/* the old chain is gone, only chain_{e+1} is kept */
		EXPECT_EQ(0, memcmp(r.chain, c, 32));
	}
	maq_ratchet_wipe(&r);
	EXPECT_TRUE(sodium_is_zero((u8 *)&r, sizeof(r)));
}

TEST(ratchet_hop_fills_key_set)
{
	struct maq_ratchet f, b;
	struct maq_hop h;
	u8 cf[32], cb[32], want[32];

	ASSERT_EQ(0, maq_crypto_init());
	randombytes_buf(cf, 32);
	randombytes_buf(cb, 32);
	maq_ratchet_init(&f, cf);
	maq_ratchet_init(&b, cb);
	EXPECT_EQ(0, maq_ratchet_hop(&f, &b, 3, &h));
	EXPECT_EQ(1, maq_ratchet_hop(&f, &b, 3, &h));
	EXPECT_EQ(3, h.index);
	EXPECT_EQ(MAQ_HOP_FWD_KEY | MAQ_HOP_BACK_KEY, h.has);
	ref_epoch_key(want, cf, 1);
	EXPECT_EQ(0, memcmp(h.fwd_key, want, 32));
	ref_epoch_key(want, cb, 1);
	EXPECT_EQ(0, memcmp(h.back_key, want, 32));
	EXPECT_EQ(2, f.epoch);
	EXPECT_EQ(2, b.epoch);
}

TEST(reason_names)
{
	int i, j;

	for (i = 0; i < MAQ_CREATE_N_ERRS; i++) {
		EXPECT_STRNE("unknown", maq_create_err_name(i));
		for (j = 0; j < i; j++)
			EXPECT_STRNE(maq_create_err_name(j),
				     maq_create_err_name(i));
	}
	EXPECT_STREQ("unknown", maq_create_err_name(-1));
	EXPECT_STREQ("unknown", maq_create_err_name(MAQ_CREATE_N_ERRS));
	EXPECT_STREQ("ok", maq_setup_reason_name(MAQ_SETUP_OK));
	EXPECT_STREQ("unreachable", maq_setup_reason_name(1));
	EXPECT_STREQ("no-capacity", maq_setup_reason_name(2));
	EXPECT_STREQ("bad-routing", maq_setup_reason_name(3));
	EXPECT_STREQ("timeout", maq_setup_reason_name(4));
	EXPECT_STREQ("bad-conf", maq_setup_reason_name(MAQ_SETUP_BAD_CONF));
	EXPECT_STREQ("bad-reply", maq_setup_reason_name(MAQ_SETUP_BAD_REPLY));
	EXPECT_STREQ("unknown", maq_setup_reason_name(5));
	EXPECT_STREQ("unknown", maq_setup_reason_name(-1));
}

/* ---------------------------------------------------------------------- */
/* Simulated circuits                                                     */
/* ---------------------------------------------------------------------- */

/*
 * Hop i (0-based) has onion key onion[i] and address path[i].addr; it
 * receives create[i] from hop i-1 (or the origin) and sends created[i]
 * back.  Relays choose fcid[i] for the forward cells they receive and
 * bcid[i + 1] for the backward cells they receive; bcid[0] is the origin's.
 */
struct sim {
	int n;
	struct maq_onion_key onion[MAQ_MAX_HOPS];
	struct maq_path_hop path[MAQ_MAX_HOPS];
	struct maq_origin o;
	struct maq_relay_setup r[MAQ_MAX_HOPS];
	enum maq_create_err err[MAQ_MAX_HOPS];
	u8 *create[MAQ_MAX_HOPS];
	u8 *created[MAQ_MAX_HOPS];
	u32 fcid[MAQ_MAX_HOPS];
	u32 bcid[MAQ_MAX_HOPS + 1];
	int built[MAQ_MAX_HOPS];	/* what maq_created_wrap() said */
	u32 lifetime;
	struct maq_route_claim route;	/* the terminus's return route */
};

/* How to disturb a run. */
struct sim_fault {
	int refuse_at;			/* hop that refuses, -1 none */
	int reason;
	int wrong_key_at;		/* hop without the right onion key */
	int flip_link;			/* CREATE damaged on the way to hop */
	int flip_byte;
};

static const struct sim_fault no_fault = {
	.refuse_at = -1, .wrong_key_at = -1, .flip_link = -1,
};

static void sim_init(struct sim *s, int n)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->n = n;
	s->lifetime = 1 + randombytes_uniform(MAQ_MAX_LIFETIME);
	/* odd lengths claim an IPv4 /32, even ones an IPv6 /64 */
	if (n & 1) {
		s->route.prefix.family = AF_INET;
		s->route.prefix.len = 32;
		s->route.prefix.addr.v4.s_addr = htonl(0xac1f0000 + n);
	} else {
		s->route.prefix.family = AF_INET6;
		s->route.prefix.len = 64;
		inet_pton(AF_INET6, "fd31::", &s->route.prefix.addr.v6);
		s->route.prefix.addr.v6.s6_addr[7] = (u8)n;
	}
	randombytes_buf(s->route.token, sizeof(s->route.token));
	for (i = 0; i < MAQ_MAX_HOPS; i++) {
		union maq_sockaddr *a = &s->path[i].addr;

		if (maq_onion_generate(&s->onion[i]))
			abort();
		memcpy(s->path[i].onion_key, s->onion[i].pk, 32);
		/* both families along the way */
		if (i & 1) {
			a->in6.sin6_family = AF_INET6;
			a->in6.sin6_port = htons(7720 + i);
			inet_pton(AF_INET6, "fd00::1", &a->in6.sin6_addr);
			a->in6.sin6_addr.s6_addr[15] = (u8)(i + 1);
		} else {
			a->in4.sin_family = AF_INET;
			a->in4.sin_port = htons(7720 + i);
			a->in4.sin_addr.s_addr = htonl(0x0a000001 + i);
		}
		s->create[i] = xmalloc(MSG);
		s->created[i] = xmalloc(MSG);
		s->fcid[i] = rnd_cid();
	}
	for (i = 0; i <= MAQ_MAX_HOPS; i++)
		s->bcid[i] = rnd_cid();
}

static void sim_free(struct sim *s)
{
	int i;

	for (i = 0; i < MAQ_MAX_HOPS; i++) {
		free(s->create[i]);
		free(s->created[i]);
		maq_relay_setup_wipe(&s->r[i]);
		maq_onion_wipe(&s->onion[i]);
	}
	maq_origin_wipe(&s->o);
}

/*
 * Run a setup with @f: CREATE forward until a hop refuses or is the
 * terminus, CREATED back to the origin.  Returns maq_created_open()'s
 * result; @fail is filled.  The hop that wrote the first CREATED is the
 * return of *first.
 */
static int sim_run(struct sim *s, const struct sim_fault *f,
		   struct maq_setup_fail *fail, int *first)
{
	struct maq_onion_key other;
	int i, last = -1, ret = -1;

	if (maq_create_build_route(&s->o, s->create[0], s->path, s->n,
				   s->bcid[0], s->lifetime, &s->route))
		return -100;
	for (i = 0; i < s->n; i++) {
		if (f->flip_link == i)
			s->create[i][f->flip_byte] ^= 1 << (f->flip_byte & 7);
		if (f->wrong_key_at == i) {
			maq_onion_generate(&other);
			s->err[i] = maq_create_process(&s->r[i], s->create[i],
						       MSG, &other, 1);
			maq_onion_wipe(&other);
		} else {
			s->err[i] = maq_create_process(&s->r[i], s->create[i],
						       MSG, &s->onion[i], 1);
		}
		last = i;
		if (s->err[i]) {
			ret = maq_created_build(s->created[i], 0,
						s->r[i].reply_key,
						MAQ_SETUP_BAD_ROUTING);
			break;
		}
		if (f->refuse_at == i) {
			ret = maq_created_build(s->created[i], 0,
						s->r[i].reply_key, f->reason);
			break;
		}
		if (s->r[i].terminus) {
			ret = maq_created_build(s->created[i], s->fcid[i],
						s->r[i].reply_key, 0);
			break;
		}
		if (i + 1 < s->n)
			maq_create_next(s->create[i + 1], &s->r[i],
					s->bcid[i + 1]);
	}
	if (ret)
		return -101;
	*first = last;
	for (i = last - 1; i >= 0; i--)
		s->built[i] = maq_created_wrap(s->created[i], s->created[i + 1],
					       MSG, s->fcid[i],
					       s->r[i].reply_key);
	return maq_created_open(&s->o, s->created[0], MSG, fail);
}

FIXTURE(setup) {
	struct sim s;
	u8 *obuf;			/* H + B + T: origin onion buffer */
	u8 *cell;			/* T + CELL: forward relay, headroom */
	u8 *bcell;			/* CELL + T: backward relay, tailroom */
};

FIXTURE_VARIANT(setup) {
	int n;
};

FIXTURE_VARIANT_ADD(setup, hops1) { .n = 1 };
FIXTURE_VARIANT_ADD(setup, hops2) { .n = 2 };
FIXTURE_VARIANT_ADD(setup, hops3) { .n = 3 };
FIXTURE_VARIANT_ADD(setup, hops4) { .n = 4 };
FIXTURE_VARIANT_ADD(setup, hops5) { .n = 5 };
FIXTURE_VARIANT_ADD(setup, hops6) { .n = 6 };
FIXTURE_VARIANT_ADD(setup, hops7) { .n = 7 };
FIXTURE_VARIANT_ADD(setup, hops8) { .n = 8 };

FIXTURE_SETUP(setup)
{
	ASSERT_EQ(0, maq_crypto_init());
	sim_init(&self->s, variant->n);
	self->obuf = xmalloc(H + B + T);
	self->cell = xmalloc(T + CELL);
	self->bcell = xmalloc(CELL + T);
}

FIXTURE_TEARDOWN(setup)
{
	sim_free(&self->s);
	free(self->obuf);
	free(self->cell);
	free(self->bcell);
}

/*
 * One forward cell with counter @ctr in key slot @slot (keys given per hop
 * for the origin and the relays), through every relay to the terminus.
 * Returns 0 when the terminus got the payload.
 */
static int sim_forward_cell(FIXTURE_DATA(setup) *self,
			    u8 okeys[][MAQ_KEY_LEN], u8 rkeys[][MAQ_KEY_LEN],
			    u64 ctr, u64 phase)
{
	struct sim *s = &self->s;
	struct maq_hop_key hk[MAQ_MAX_HOPS];
	u8 payload[B], *c, *out;
	u64 seq;
	int i, n = s->n;

	randombytes_buf(payload, B);
	memcpy(self->obuf, payload, B);
	for (i = 0; i < n; i++) {
		memcpy(hk[i].key, okeys[i], MAQ_KEY_LEN);
		hk[i].seq = (s->o.circ.hops[i].fwd_seq + ctr) & MASK;
	}
	maq_onion_seal(self->obuf, hk, n);
	/* onto the first link */
	c = self->cell + T;
	maq_cell_put_hdr(c, s->o.circ.fwd_cid_out, phase | hk[0].seq);
	memcpy(c + HDR, self->obuf + maq_onion_fwd_off(n), B + T);
	for (i = 0; i + 1 < n; i++) {
		struct maq_circuit rc;

		maq_relay_circuit(&s->r[i], &rc);
		seq = be64_at(c + 4);
		out = maq_relay_fwd(c, rkeys[i], seq, s->fcid[i + 1],
				    rc.hops[0].fwd_seq);
		if (!out)
			return -(i + 1);
		memmove(c, out, CELL);
		if ((be64_at(c + 4) & MASK) != hk[i + 1].seq ||
		    (be64_at(c + 4) & PHASE) != phase)
			return -50;
		maq_circuit_wipe(&rc);
	}
	seq = be64_at(c + 4);
	if (maq_layer_open(c + HDR, c + HDR + B, rkeys[n - 1], seq & MASK,
			   NULL))
		return -n;
	/* the filler residue aside, the terminus reads what the origin sent */
	return memcmp(c + HDR + H, payload + H, B - H) ? -60 : 0;
}

/* One backward cell from the terminus to the origin. */
static int sim_backward_cell(FIXTURE_DATA(setup) *self,
			     u8 okeys[][MAQ_KEY_LEN], u8 rkeys[][MAQ_KEY_LEN],
			     u64 ctr, u64 phase)
{
	struct sim *s = &self->s;
	struct maq_hop_key hk[MAQ_MAX_HOPS];
	u8 payload[B], *c = self->bcell, *out;
	u64 seq;
	int i, n = s->n;

	randombytes_buf(payload, B);
	memset(payload, 0, H);
	/* the terminus seals with its backward base + ctr */
	seq = phase | ((s->r[n - 1].hop.back_seq + ctr) & MASK);
	memcpy(c + HDR, payload, B);
	maq_layer_seal(c + HDR, c + HDR + B, rkeys[n - 1], seq & MASK);
	maq_cell_put_hdr(c, s->r[n - 1].bcid, seq);
	for (i = n - 2; i >= 0; i--) {
		seq = maq_seq_next(be64_at(c + 4), s->r[i].hop.back_seq);
		out = maq_relay_back(c, rkeys[i], s->r[i].bcid, seq);
		memmove(c, out, CELL);
	}
	/* the origin receives on its bcid */
	if (be32_at(c) != s->o.circ.back_cid_in)
		return -70;
	for (i = 0; i < n; i++) {
		memcpy(hk[i].key, okeys[i], MAQ_KEY_LEN);
		hk[i].seq = (s->o.circ.hops[i].back_seq + ctr) & MASK;
	}
	if ((be64_at(c + 4) & MASK) != hk[0].seq)
		return -71;
	memcpy(self->obuf + maq_onion_fwd_off(n), c + HDR, B + T);
	i = maq_onion_open(self->obuf, hk, n, n);
	if (i)
		return i;
	return memcmp(self->obuf, payload, B) ? -72 : 0;
}

TEST_F(setup, full)
{
	struct sim *s = &self->s;
	struct maq_setup_fail fail;
	struct maq_circuit rc;
	u8 ofk[MAQ_MAX_HOPS][32], obk[MAQ_MAX_HOPS][32];
	u8 rfk[MAQ_MAX_HOPS][32], rbk[MAQ_MAX_HOPS][32];
	int i, first = -1, n = s->n, round;

	ASSERT_EQ(0, sim_run(s, &no_fault, &fail, &first));
	EXPECT_EQ(n - 1, first);
	EXPECT_EQ(0, fail.hop);
	EXPECT_EQ(MAQ_SETUP_OK, fail.reason);

	/* the origin's circuit-new */
	EXPECT_EQ(MAQUIS_ROLE_ORIGIN, s->o.circ.role);
	EXPECT_EQ((unsigned int)n, s->o.circ.n_hops);
	EXPECT_EQ(s->fcid[0], s->o.circ.fwd_cid_out);
	EXPECT_EQ(s->bcid[0], s->o.circ.back_cid_in);
	EXPECT_EQ(s->lifetime, s->o.circ.lifetime);
	EXPECT_TRUE(sa_equal(&s->o.circ.next, &s->path[0].addr));

	for (i = 0; i < n; i++) {
		const struct maq_hop *oh = &s->o.circ.hops[i];
		const struct maq_relay_setup *r = &s->r[i];
		bool term = i == n - 1;

		EXPECT_EQ(MAQ_CREATE_OK, s->err[i]);
		/* only the terminus learns the return route */
		if (term) {
			EXPECT_EQ(0, memcmp(&s->route, &r->route,
					    sizeof(s->route)));
		} else {
			EXPECT_EQ(0, r->route.prefix.family);
		}
		EXPECT_EQ(i, oh->index);
		EXPECT_EQ((u32)MAQ_HOP_ALL, oh->has);
		EXPECT_LT(oh->fwd_seq, MAQ_BASE_LIMIT);
		EXPECT_LT(oh->back_seq, MAQ_BASE_LIMIT);
		/* both ends hold the same keys */
		EXPECT_EQ(0, memcmp(oh->fwd_key, r->hop.fwd_key, 32));
		EXPECT_EQ(0, memcmp(oh->back_key, r->hop.back_key, 32));
		EXPECT_EQ(0, memcmp(oh->fwd_ctl_key, r->hop.fwd_ctl_key, 32));
		EXPECT_EQ(0, memcmp(oh->back_ctl_key, r->hop.back_ctl_key,
				    32));
		EXPECT_EQ(0, memcmp(s->o.reply_key[i], r->reply_key, 32));
		/* what the hop learnt: its bcid, next hop, lifetime, role */
		EXPECT_EQ(term, r->terminus);
		EXPECT_EQ(s->bcid[i], r->bcid);
		EXPECT_EQ(s->lifetime, r->lifetime);
		EXPECT_EQ(0, r->key_index);
		if (term) {
			EXPECT_EQ(AF_UNSPEC, r->next.sa.sa_family);
			EXPECT_EQ(oh->back_seq, r->hop.back_seq);
			EXPECT_EQ(0, r->hop.fwd_seq);
			EXPECT_EQ((u32)(MAQ_HOP_KEYS | MAQ_HOP_BACK_SEQ),
				  r->hop.has);
		} else {
			const struct maq_hop *nh = &s->o.circ.hops[i + 1];

			EXPECT_TRUE(sa_equal(&r->next, &s->path[i + 1].addr));
			EXPECT_EQ((nh->fwd_seq - oh->fwd_seq) & MASK,
				  r->hop.fwd_seq);
			EXPECT_EQ((oh->back_seq - nh->back_seq) & MASK,
				  r->hop.back_seq);
			EXPECT_EQ((u32)MAQ_HOP_ALL, r->hop.has);
			EXPECT_EQ(1, s->built[i]);
		}
		/* circuit-new for the hop */
		maq_relay_circuit(r, &rc);
		EXPECT_EQ(term ? MAQUIS_ROLE_TERMINUS : MAQUIS_ROLE_RELAY,
			  rc.role);
		EXPECT_EQ(1, rc.n_hops);
		EXPECT_EQ(s->bcid[i], rc.back_cid_out);
		EXPECT_EQ(s->lifetime, rc.lifetime);
		EXPECT_EQ(0, memcmp(&rc.hops[0], &r->hop, sizeof(r->hop)));
		maq_circuit_wipe(&rc);
		memcpy(ofk[i], oh->fwd_key, 32);
		memcpy(obk[i], oh->back_key, 32);
		memcpy(rfk[i], r->hop.fwd_key, 32);
		memcpy(rbk[i], r->hop.back_key, 32);
	}

	/* epoch 0: cells both ways, counters small and near the limit */
	for (round = 0; round < 4; round++) {
		u64 ctr = round == 3 ? MAQ_BASE_LIMIT - 1 - (rnd64() & 0xff) :
				       rnd64() >> 24;

		EXPECT_EQ(0, sim_forward_cell(self, ofk, rfk, ctr, 0));
		EXPECT_EQ(0, sim_backward_cell(self, obk, rbk, ctr, 0));
	}

	/* epoch 1 (slot 1, phase bit set), one ratchet step on each side */
	for (i = 0; i < n; i++) {
		struct maq_hop oh, rh;

		EXPECT_EQ(1, maq_ratchet_hop(&s->o.fwd[i], &s->o.back[i], i,
					     &oh));
		EXPECT_EQ(1, maq_ratchet_hop(&s->r[i].fwd, &s->r[i].back, 0,
					     &rh));
		EXPECT_EQ(0, memcmp(oh.fwd_key, rh.fwd_key, 32));
		EXPECT_EQ(0, memcmp(oh.back_key, rh.back_key, 32));
		EXPECT_NE(0, memcmp(oh.fwd_key, ofk[i], 32));
		memcpy(ofk[i], oh.fwd_key, 32);
		memcpy(obk[i], oh.back_key, 32);
		memcpy(rfk[i], rh.fwd_key, 32);
		memcpy(rbk[i], rh.back_key, 32);
	}
	EXPECT_EQ(0, sim_forward_cell(self, ofk, rfk, rnd64() >> 24, PHASE));
	EXPECT_EQ(0, sim_backward_cell(self, obk, rbk, rnd64() >> 24, PHASE));
}

/* Every hop's CREATE, decrypted again with libsodium alone. */
TEST_F(setup, wire_matches_libsodium)
{
	struct sim *s = &self->s;
	struct maq_setup_fail fail;
	struct ref_view v;
	u8 filler[112], r[MAQ_REPLY_LEN], ks[MAQ_REPLY_LEN], b0[64], want[32];
	int i, first, n = s->n, j;

	ASSERT_EQ(0, sim_run(s, &no_fault, &fail, &first));
	for (i = 0; i < n; i++) {
		const u8 *p = v.plain;
		const struct maq_hop *oh = &s->o.circ.hops[i];
		bool term = i == n - 1;

		ref_open(&v, s->create[i], &s->onion[i]);
		ASSERT_TRUE(v.ok);
		EXPECT_EQ(s->bcid[i], be32_at(s->create[i]));
		/* data keys: epoch 0 of the chains 3 and 4, control 5 and 6 */
		ref_epoch_key(want, v.keys[3], 0);
		EXPECT_EQ(0, memcmp(oh->fwd_key, want, 32));
		ref_epoch_key(want, v.keys[4], 0);
		EXPECT_EQ(0, memcmp(oh->back_key, want, 32));
		EXPECT_EQ(0, memcmp(oh->fwd_ctl_key, v.keys[5], 32));
		EXPECT_EQ(0, memcmp(oh->back_ctl_key, v.keys[6], 32));
		EXPECT_EQ(0, memcmp(s->o.reply_key[i], v.keys[2], 32));

		/* routing block, byte by byte */
		EXPECT_EQ(term ? 1 : 0, p[0]);
		EXPECT_EQ(s->lifetime, be32_at(p + 20));
		EXPECT_EQ(1, p[40]);
		for (j = term ? 58 : 41; j < 64; j++)
			EXPECT_EQ(0, p[j]);
		if (term) {
			const struct maq_prefix *rt = &s->route.prefix;
			bool v4 = rt->family == AF_INET;

			/* the return route: family, address, length, token */
			EXPECT_EQ(v4 ? 4 : 6, p[1]);
			EXPECT_EQ(0, be16_at(p + 2));
			EXPECT_EQ(0, memcmp(p + 4, v4 ? (const void *)&rt->addr.v4 :
					    (const void *)&rt->addr.v6,
					    v4 ? 4 : 16));
			for (j = v4 ? 8 : 20; j < 20; j++)
				EXPECT_EQ(0, p[j]);
			EXPECT_EQ(rt->len, p[41]);
			EXPECT_EQ(0, memcmp(p + 42, s->route.token, 16));
			EXPECT_EQ(0, be64_at(p + 24));
			EXPECT_EQ(oh->back_seq, be64_at(p + 32));
		} else {
			const union maq_sockaddr *a = &s->path[i + 1].addr;

			if (a->sa.sa_family == AF_INET) {
				EXPECT_EQ(4, p[1]);
				EXPECT_EQ(ntohs(a->in4.sin_port),
					  be16_at(p + 2));
				EXPECT_EQ(0, memcmp(p + 4, &a->in4.sin_addr,
						    4));
				for (j = 8; j < 20; j++)
					EXPECT_EQ(0, p[j]);
			} else {
				EXPECT_EQ(6, p[1]);
				EXPECT_EQ(ntohs(a->in6.sin6_port),
					  be16_at(p + 2));
				EXPECT_EQ(0, memcmp(p + 4, &a->in6.sin6_addr,
						    16));
			}
			EXPECT_EQ(s->r[i].hop.fwd_seq, be64_at(p + 24));
			EXPECT_EQ(s->r[i].hop.back_seq, be64_at(p + 32));
			/* next onion = rest || setup keystream at 2^20 */
			ref_filler(filler, v.keys[1]);
			EXPECT_EQ(0, memcmp(s->create[i + 1] + 4, p + 64,
					    CT - 64));
			EXPECT_EQ(0, memcmp(s->create[i + 1] + 4 + CT - 64,
					    filler, 112));
		}
		/*
		 * No hop learns its position: after the routing block there
		 * are no runs of zeros telling how much the fillers took.
		 */
		for (j = 64; j + 16 <= CT; j += 16)
			EXPECT_FALSE(sodium_is_zero(p + j, 16));
	}

	/* the CREATED region, peeled with libsodium */
	memcpy(r, s->created[0] + 4, MAQ_REPLY_LEN);
	for (i = 0; i < n; i++) {
		int known = MAQ_REPLY_LEN - 32 * i;

		ref_open(&v, s->create[i], &s->onion[i]);
		memset(b0, 0, 64);
		crypto_stream_chacha20_ietf_xor_ic(b0, b0, 64, nonce0, 0,
						   v.keys[2]);
		memset(ks, 0, sizeof(ks));
		crypto_stream_chacha20_ietf_xor_ic(ks, ks, known, nonce0, 1,
						   v.keys[2]);
		for (j = 0; j < known; j++)
			r[j] ^= ks[j];
		EXPECT_EQ(0, r[0]);
		EXPECT_EQ(0, r[1]);
		EXPECT_TRUE(sodium_is_zero(r + 2, 14));
		EXPECT_EQ(0, crypto_onetimeauth_poly1305_verify(r + 16, r, 16,
								b0));
		memmove(r, r + 32, known - 32);
	}
	/* each hop's CREATED carries its own fcid */
	for (i = 0; i < n; i++)
		EXPECT_EQ(s->fcid[i], be32_at(s->created[i]));
}

TEST_F(setup, refusal_names_the_hop)
{
	struct sim *s = &self->s;
	struct maq_setup_fail fail;
	int k, first, i, reason;

	for (k = 0; k < s->n; k++) {
		struct sim_fault f = no_fault;

		reason = 1 + k % 4;
		f.refuse_at = k;
		f.reason = reason;
		EXPECT_EQ(-1, sim_run(s, &f, &fail, &first));
		EXPECT_EQ(k, first);
		EXPECT_EQ(k + 1, fail.hop);
		EXPECT_EQ(reason, fail.reason);
		/* fcid 0 all the way back: nobody installs */
		for (i = 0; i <= k; i++)
			EXPECT_EQ(0, be32_at(s->created[i]));
		for (i = 0; i < k; i++)
			EXPECT_EQ(0, s->built[i]);
		EXPECT_EQ(0, s->o.circ.fwd_cid_out);
	}
}

TEST_F(setup, wrong_onion_key_names_the_hop)
{
	struct sim *s = &self->s;
	struct maq_setup_fail fail;
	struct maq_onion_key keys[2];
	int k, first;

	for (k = 0; k < s->n; k++) {
		struct sim_fault f = no_fault;

		f.wrong_key_at = k;
		EXPECT_EQ(-1, sim_run(s, &f, &fail, &first));
		EXPECT_EQ(MAQ_CREATE_BAD_TAG, s->err[k]);
		EXPECT_EQ(k, first);
		/* it answered under a key the origin does not share */
		EXPECT_EQ(k + 1, fail.hop);
		EXPECT_EQ(MAQ_SETUP_BAD_CONF, fail.reason);
		/* a refused hop keeps nothing but what it answers with */
		EXPECT_EQ(s->bcid[k], s->r[k].bcid);
		EXPECT_TRUE(sodium_is_zero(s->r[k].hop.fwd_key, 32));
		EXPECT_TRUE(sodium_is_zero(s->r[k].onion, ONION));
	}

	/* after a rotation the previous onion key still opens the CREATE */
	ASSERT_EQ(0, maq_create_build(&s->o, s->create[0], s->path, s->n,
				      s->bcid[0], s->lifetime));
	ASSERT_EQ(0, maq_onion_generate(&keys[0]));
	keys[1] = s->onion[0];
	EXPECT_EQ(MAQ_CREATE_OK, maq_create_process(&s->r[0], s->create[0],
						    MSG, keys, 2));
	EXPECT_EQ(1, s->r[0].key_index);
	EXPECT_EQ(0, memcmp(s->r[0].hop.fwd_key, s->o.circ.hops[0].fwd_key,
			    32));
	EXPECT_EQ(MAQ_CREATE_BAD_TAG, maq_create_process(&s->r[0],
						s->create[0], MSG, keys, 1));
	EXPECT_EQ(MAQ_CREATE_BAD_TAG, maq_create_process(&s->r[0],
						s->create[0], MSG, keys, 0));
	maq_onion_wipe(&keys[0]);
}

/* A bit flipped on the link to hop k (X, tag or C) stops at hop k. */
TEST_F(setup, damaged_create_stops_at_that_hop)
{
	struct sim *s = &self->s;
	struct maq_setup_fail fail;
	int k, first, at[] = { 4, 20, 35, 36, 51, 52, 700, MSG - 1 };
	unsigned int j;

	for (k = 0; k < s->n; k++) {
		for (j = 0; j < sizeof(at) / sizeof(at[0]); j++) {
			struct sim_fault f = no_fault;

			f.flip_link = k;
			f.flip_byte = at[j];
			EXPECT_EQ(-1, sim_run(s, &f, &fail, &first));
			EXPECT_EQ(k, first);
			EXPECT_EQ(MAQ_CREATE_BAD_TAG, s->err[k]);
			EXPECT_EQ(k + 1, fail.hop);
		}
	}
}

/* A CREATED damaged in conf j's bytes fails at hop j; beyond, harmless. */
TEST_F(setup, damaged_created_blames_the_hop)
{
	struct sim *s = &self->s;
	struct maq_setup_fail fail;
	int j, t, first;
	u8 *m = xmalloc(MSG);

	ASSERT_EQ(0, sim_run(s, &no_fault, &fail, &first));
	for (j = 0; j < s->n; j++) {
		for (t = 0; t < 32; t += 5) {
			memcpy(m, s->created[0], MSG);
			m[4 + 32 * j + t] ^= 0x10;
			EXPECT_EQ(-1, maq_created_open(&s->o, m, MSG, &fail));
			EXPECT_EQ(j + 1, fail.hop);
			EXPECT_EQ(MAQ_SETUP_BAD_CONF, fail.reason);
		}
	}
	/* the region past the last conf and the padding are not read */
	memcpy(m, s->created[0], MSG);
	for (t = 4 + 32 * s->n; t < MSG; t++)
		m[t] ^= 0xff;
	EXPECT_EQ(0, maq_created_open(&s->o, m, MSG, &fail));

	/* every hop fine, yet "not built": the origin says so */
	memcpy(m, s->created[0], MSG);
	memset(m, 0, 4);
	EXPECT_EQ(-1, maq_created_open(&s->o, m, MSG, &fail));
	EXPECT_EQ(1, fail.hop);
	EXPECT_EQ(MAQ_SETUP_BAD_REPLY, fail.reason);

	/* wrong sizes */
	EXPECT_EQ(-1, maq_created_open(&s->o, m, MSG - 1, &fail));
	EXPECT_EQ(0, fail.hop);
	EXPECT_EQ(MAQ_SETUP_BAD_REPLY, fail.reason);
	EXPECT_EQ(-1, maq_created_open(&s->o, m, MSG + 1, &fail));
	EXPECT_EQ(-1, maq_created_open(&s->o, NULL, 0, &fail));
	free(m);
}

/* Every bit position class of the whole message, for this length. */
TEST_F(setup, bit_flips_never_pass)
{
	struct sim *s = &self->s;
	struct maq_relay_setup r;
	u8 *m = xmalloc(MSG);
	int i;

	ASSERT_EQ(0, maq_create_build(&s->o, s->create[0], s->path, s->n,
				      s->bcid[0], s->lifetime));
	/* bcid is not authenticated (the link chooses it); all else is */
	for (i = 4; i < MSG; i += 1 + (s->n > 1) * 6) {
		enum maq_create_err e;

		memcpy(m, s->create[0], MSG);
		m[i] ^= 1 << (i % 8);
		e = maq_create_process(&r, m, MSG, &s->onion[0], 1);
		EXPECT_TRUE(e == MAQ_CREATE_BAD_TAG || e == MAQ_CREATE_BAD_KEY);
		if (e == MAQ_CREATE_OK)
			break;
	}
	maq_relay_setup_wipe(&r);
	free(m);
}

/* ---------------------------------------------------------------------- */
/* Hand-built CREATEs: the routing block checks                           */
/* ---------------------------------------------------------------------- */

/* A single-hop CREATE for @onion around plaintext @p, via libsodium. */
static void craft(u8 *msg, const struct maq_onion_key *onion, const u8 p[CT],
		  u8 setup_out[32])
{
	u8 x[32], ss[32], m[32], setup[32];

	randombytes_buf(x, 32);
	memset(msg, 0, 4);
	msg[3] = 7;				/* bcid 7 */
	crypto_scalarmult_base(msg + 4, x);
	if (crypto_scalarmult(ss, x, onion->pk))
		abort();
	ref_m(m, ss, msg + 4, onion->pk);
	ref_hop(setup, m, 1);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(msg + 52, msg + 36,
			NULL, p, CT, NULL, 0, NULL, nonce0, setup);
	if (setup_out)
		memcpy(setup_out, setup, 32);
}

static void put_be(u8 *p, u64 v, int len)
{
	while (len--) {
		p[len] = (u8)v;
		v >>= 8;
	}
}

/* A valid relay routing block towards 192.0.2.9:7725. */
static void rb_relay(u8 p[CT])
{
	randombytes_buf(p, CT);
	memset(p, 0, 64);
	p[1] = 4;
	put_be(p + 2, 7725, 2);
	p[4] = 192;
	p[6] = 2;
	p[7] = 9;
	put_be(p + 20, 600, 4);
	put_be(p + 24, MASK, 8);
	put_be(p + 32, 12345, 8);
	p[40] = 1;
}

static void rb_terminus(u8 p[CT])
{
	randombytes_buf(p, CT);
	memset(p, 0, 64);
	p[0] = 1;
	put_be(p + 20, 86400, 4);
	put_be(p + 32, MAQ_BASE_LIMIT - 1, 8);
	p[40] = 1;
}

TEST(crafted_routing_blocks)
{
	struct maq_circuit rc;
	struct maq_onion_key onion;
	struct maq_relay_setup r;
	u8 *msg = xmalloc(MSG), p[CT], setup[32], filler[112];
	static const struct {
		const char *what;
		bool terminus;
		int off, len;		/* field to overwrite */
		u64 val;
		enum maq_create_err want;
	} bad[] = {
		{ "version 0", false, 40, 1, 0, MAQ_CREATE_BAD_VERSION },
		{ "version 2", true, 40, 1, 2, MAQ_CREATE_BAD_VERSION },
		{ "flag bit 1", false, 0, 1, 2, MAQ_CREATE_BAD_FLAGS },
		{ "flag bit 7", true, 0, 1, 0x81, MAQ_CREATE_BAD_FLAGS },
		{ "zero byte 41", false, 41, 1, 1, MAQ_CREATE_BAD_PADDING },
		{ "zero byte 63", true, 63, 1, 0x80, MAQ_CREATE_BAD_PADDING },
		{ "family 0", false, 1, 1, 0, MAQ_CREATE_BAD_ADDRESS },
		{ "family 5", false, 1, 1, 5, MAQ_CREATE_BAD_ADDRESS },
		{ "ipv4 tail", false, 19, 1, 1, MAQ_CREATE_BAD_ADDRESS },
		{ "0.0.0.0", false, 4, 4, 0, MAQ_CREATE_BAD_ADDRESS },
		{ "port 0", false, 2, 2, 0, MAQ_CREATE_BAD_PORT },
		{ "fwd delta 2^63", false, 24, 8, 1ULL << 63,
		  MAQ_CREATE_BAD_DELTA },
		{ "back delta ~0", false, 32, 8, ~0ULL, MAQ_CREATE_BAD_DELTA },
		{ "lifetime 0", false, 20, 4, 0, MAQ_CREATE_BAD_LIFETIME },
		{ "lifetime 86401", true, 20, 4, 86401,
		  MAQ_CREATE_BAD_LIFETIME },
		{ "terminus family 5", true, 1, 1, 5, MAQ_CREATE_BAD_ROUTE },
		{ "terminus address, no family", true, 10, 1, 1,
		  MAQ_CREATE_BAD_ROUTE },
		{ "terminus length, no family", true, 41, 1, 8,
		  MAQ_CREATE_BAD_ROUTE },
		{ "terminus token, no family", true, 50, 1, 1,
		  MAQ_CREATE_BAD_ROUTE },
		{ "relay token byte", false, 42, 1, 1, MAQ_CREATE_BAD_PADDING },
		{ "terminus zero byte 58", true, 58, 1, 1,
		  MAQ_CREATE_BAD_PADDING },
		{ "terminus port", true, 2, 2, 7720, MAQ_CREATE_BAD_PORT },
		{ "terminus fwd delta", true, 24, 8, 1, MAQ_CREATE_BAD_DELTA },
		{ "terminus base 2^61", true, 32, 8, MAQ_BASE_LIMIT,
		  MAQ_CREATE_BAD_DELTA },
	};
	unsigned int i;

	ASSERT_EQ(0, maq_crypto_init());
	ASSERT_EQ(0, maq_onion_generate(&onion));

	/* the valid ones first: what the relay reads is what we wrote */
	rb_relay(p);
	craft(msg, &onion, p, setup);
	ASSERT_EQ(MAQ_CREATE_OK, maq_create_process(&r, msg, MSG, &onion, 1));
	EXPECT_FALSE(r.terminus);
	EXPECT_EQ(7, r.bcid);
	EXPECT_EQ(AF_INET, r.next.sa.sa_family);
	EXPECT_EQ(htonl(0xc0000209), r.next.in4.sin_addr.s_addr);
	EXPECT_EQ(htons(7725), r.next.in4.sin_port);
	EXPECT_EQ(600, r.lifetime);
	EXPECT_EQ(MASK, r.hop.fwd_seq);
	EXPECT_EQ(12345, r.hop.back_seq);
	ref_filler(filler, setup);
	EXPECT_EQ(0, memcmp(r.onion, p + 64, CT - 64));
	EXPECT_EQ(0, memcmp(r.onion + CT - 64, filler, 112));

	rb_terminus(p);
	craft(msg, &onion, p, NULL);
	ASSERT_EQ(MAQ_CREATE_OK, maq_create_process(&r, msg, MSG, &onion, 1));
	EXPECT_TRUE(r.terminus);
	EXPECT_EQ(86400, r.lifetime);
	EXPECT_EQ(MAQ_BASE_LIMIT - 1, r.hop.back_seq);
	EXPECT_TRUE(sodium_is_zero(r.onion, ONION));
	EXPECT_EQ(0, r.route.prefix.family);

	/* a terminus with a return route: 172.31.0.0/24 and a token */
	rb_terminus(p);
	p[1] = 4;
	put_be(p + 4, 0xac1f0000, 4);
	p[41] = 24;
	memset(p + 42, 0x5a, 16);
	craft(msg, &onion, p, NULL);
	ASSERT_EQ(MAQ_CREATE_OK, maq_create_process(&r, msg, MSG, &onion, 1));
	EXPECT_EQ(AF_INET, r.route.prefix.family);
	EXPECT_EQ(24, r.route.prefix.len);
	EXPECT_EQ(htonl(0xac1f0000), r.route.prefix.addr.v4.s_addr);
	EXPECT_EQ(0x5a, r.route.token[15]);
	maq_relay_circuit(&r, &rc);
	ASSERT_EQ(1, rc.n_routes);
	EXPECT_EQ(24, rc.routes[0].len);
	maq_circuit_wipe(&rc);
	/* longer than IPv4 allows */
	p[41] = 33;
	craft(msg, &onion, p, NULL);
	EXPECT_EQ(MAQ_CREATE_BAD_ROUTE,
		  maq_create_process(&r, msg, MSG, &onion, 1));
	/* host bits beyond the length */
	p[41] = 15;
	craft(msg, &onion, p, NULL);
	EXPECT_EQ(MAQ_CREATE_BAD_ROUTE,
		  maq_create_process(&r, msg, MSG, &onion, 1));
	/* IPv6 /128 */
	rb_terminus(p);
	p[1] = 6;
	memset(p + 4, 0xfd, 16);
	p[41] = 128;
	craft(msg, &onion, p, NULL);
	ASSERT_EQ(MAQ_CREATE_OK, maq_create_process(&r, msg, MSG, &onion, 1));
	EXPECT_EQ(AF_INET6, r.route.prefix.family);
	EXPECT_EQ(128, r.route.prefix.len);

	/* IPv6 next hop */
	rb_relay(p);
	p[1] = 6;
	memset(p + 4, 0xfd, 16);
	craft(msg, &onion, p, NULL);
	ASSERT_EQ(MAQ_CREATE_OK, maq_create_process(&r, msg, MSG, &onion, 1));
	EXPECT_EQ(AF_INET6, r.next.sa.sa_family);
	EXPECT_EQ(0xfd, r.next.in6.sin6_addr.s6_addr[15]);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum maq_create_err e;

		if (bad[i].terminus)
			rb_terminus(p);
		else
			rb_relay(p);
		put_be(p + bad[i].off, bad[i].val, bad[i].len);
		craft(msg, &onion, p, NULL);
		e = maq_create_process(&r, msg, MSG, &onion, 1);
		EXPECT_EQ(bad[i].want, e)
			TH_LOG("%s: got %s", bad[i].what,
			       maq_create_err_name(e));
		/* refused: only what the answer needs is left */
		EXPECT_EQ(7, r.bcid);
		EXPECT_FALSE(sodium_is_zero(r.reply_key, 32));
		EXPECT_TRUE(sodium_is_zero(r.hop.fwd_key, 32));
		EXPECT_TRUE(sodium_is_zero((u8 *)&r.next, sizeof(r.next)));
	}
	maq_relay_setup_wipe(&r);
	maq_onion_wipe(&onion);
	free(msg);
}

TEST(create_sizes_and_small_order_keys)
{
	struct maq_onion_key onion;
	struct maq_relay_setup r;
	u8 *big = xmalloc(MSG + 1), p[CT];
	/* u = 0 and u = 1 are points of small order */
	static const u8 small[2][32] = { { 0 }, { 1 } };
	int i;

	ASSERT_EQ(0, maq_crypto_init());
	ASSERT_EQ(0, maq_onion_generate(&onion));
	rb_terminus(p);
	craft(big, &onion, p, NULL);
	EXPECT_EQ(MAQ_CREATE_OK, maq_create_process(&r, big, MSG, &onion, 1));
	EXPECT_EQ(MAQ_CREATE_OVERSIZED,
		  maq_create_process(&r, big, MSG + 1, &onion, 1));
	EXPECT_EQ(MAQ_CREATE_TRUNCATED,
		  maq_create_process(&r, big, MSG - 1, &onion, 1));
	EXPECT_EQ(MAQ_CREATE_TRUNCATED,
		  maq_create_process(&r, big, 0, &onion, 1));
	EXPECT_EQ(MAQ_CREATE_TRUNCATED,
		  maq_create_process(&r, NULL, 0, &onion, 1));
	for (i = 0; i < 2; i++) {
		memcpy(big + 4, small[i], 32);
		EXPECT_EQ(MAQ_CREATE_BAD_KEY,
			  maq_create_process(&r, big, MSG, &onion, 1));
		/* still something to answer with */
		EXPECT_FALSE(sodium_is_zero(r.reply_key, 32));
	}
	maq_relay_setup_wipe(&r);
	maq_onion_wipe(&onion);
	free(big);
}

TEST(build_refuses_bad_arguments)
{
	struct maq_path_hop path[MAQ_MAX_HOPS + 1];
	struct maq_onion_key k;
	struct maq_origin o;
	u8 *msg = xmalloc(MSG);
	int i;

	ASSERT_EQ(0, maq_crypto_init());
	memset(path, 0, sizeof(path));
	for (i = 0; i <= MAQ_MAX_HOPS; i++) {
		ASSERT_EQ(0, maq_onion_generate(&k));
		memcpy(path[i].onion_key, k.pk, 32);
		path[i].addr.in4.sin_family = AF_INET;
		path[i].addr.in4.sin_port = htons(7720);
		path[i].addr.in4.sin_addr.s_addr = htonl(0x0a000001 + i);
	}
	ASSERT_EQ(0, maq_create_build(&o, msg, path, 3, 1, 600));
	EXPECT_EQ(-EINVAL, maq_create_build(&o, msg, path, 0, 1, 600));
	EXPECT_TRUE(sodium_is_zero((u8 *)&o, sizeof(o)));
	EXPECT_EQ(-EINVAL, maq_create_build(&o, msg, path, 9, 1, 600));
	EXPECT_EQ(-EINVAL, maq_create_build(&o, msg, NULL, 1, 1, 600));
	EXPECT_EQ(-EINVAL, maq_create_build(&o, msg, path, 3, 0, 600));
	EXPECT_EQ(-EINVAL, maq_create_build(&o, msg, path, 3, 1, 0));
	EXPECT_EQ(-EINVAL, maq_create_build(&o, msg, path, 3, 1, 86401));
	ASSERT_EQ(0, maq_create_build(&o, msg, path, 3, 1, 86400));

	path[2].addr.in4.sin_port = 0;
	EXPECT_EQ(-EINVAL, maq_create_build(&o, msg, path, 3, 1, 600));
	path[2].addr.in4.sin_port = htons(1);
	path[2].addr.in4.sin_addr.s_addr = 0;
	EXPECT_EQ(-EINVAL, maq_create_build(&o, msg, path, 3, 1, 600));
	path[2].addr.sa.sa_family = AF_UNSPEC;
	EXPECT_EQ(-EINVAL, maq_create_build(&o, msg, path, 3, 1, 600));
	path[2].addr.sa.sa_family = AF_INET;
	path[2].addr.in4.sin_addr.s_addr = htonl(1);
	ASSERT_EQ(0, maq_create_build(&o, msg, path, 3, 1, 600));

	/* an onion key of small order gives no shared secret */
	memset(path[1].onion_key, 0, 32);
	EXPECT_EQ(-EINVAL, maq_create_build(&o, msg, path, 3, 1, 600));
	EXPECT_TRUE(sodium_is_zero((u8 *)&o, sizeof(o)));
	free(msg);
}

/* A conf that authenticates but does not make sense is the hop's fault. */
TEST(malformed_conf)
{
	static const struct {
		u8 status, reason, junk_at;	/* junk_at: 2..15, 0 none */
		int want;
	} c[] = {
		{ 0, 0, 0, MAQ_SETUP_OK },
		{ 1, 2, 0, MAQ_SETUP_NO_CAPACITY },
		{ 1, 9, 0, 9 },			/* unknown reasons pass */
		{ 0, 0, 2, MAQ_SETUP_BAD_REPLY },
		{ 0, 0, 15, MAQ_SETUP_BAD_REPLY },
		{ 1, 0, 0, MAQ_SETUP_BAD_REPLY },	/* failed, no reason */
		{ 0, 3, 0, MAQ_SETUP_BAD_REPLY },	/* ok with a reason */
		{ 2, 1, 0, MAQ_SETUP_BAD_REPLY },	/* unknown status */
	};
	struct maq_path_hop path;
	struct maq_onion_key k;
	struct maq_setup_fail fail;
	struct maq_origin o;
	u8 *msg = xmalloc(MSG), b0[64], ks[MAQ_REPLY_LEN], conf[32];
	unsigned int i, j;

	ASSERT_EQ(0, maq_crypto_init());
	ASSERT_EQ(0, maq_onion_generate(&k));
	memset(&path, 0, sizeof(path));
	memcpy(path.onion_key, k.pk, 32);
	path.addr.in4.sin_family = AF_INET;
	path.addr.in4.sin_port = htons(7720);
	path.addr.in4.sin_addr.s_addr = htonl(0x0a000001);
	ASSERT_EQ(0, maq_create_build(&o, msg, &path, 1, 1, 600));
	memset(b0, 0, 64);
	crypto_stream_chacha20_ietf_xor_ic(b0, b0, 64, nonce0, 0,
					   o.reply_key[0]);
	memset(ks, 0, sizeof(ks));
	crypto_stream_chacha20_ietf_xor_ic(ks, ks, sizeof(ks), nonce0, 1,
					   o.reply_key[0]);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		randombytes_buf(msg, MSG);
		memset(msg, 0, 4);
		if (c[i].status == 0)
			msg[3] = 1;		/* fcid 1: built */
		memset(conf, 0, 16);
		conf[0] = c[i].status;
		conf[1] = c[i].reason;
		if (c[i].junk_at)
			conf[c[i].junk_at] = 0x40;
		crypto_onetimeauth_poly1305(conf + 16, conf, 16, b0);
		for (j = 0; j < 32; j++)
			msg[4 + j] = conf[j] ^ ks[j];
		EXPECT_EQ(c[i].want ? -1 : 0,
			  maq_created_open(&o, msg, MSG, &fail));
		EXPECT_EQ(c[i].want ? 1 : 0, fail.hop);
		EXPECT_EQ(c[i].want, fail.reason);
	}
	maq_origin_wipe(&o);
	maq_onion_wipe(&k);
	free(msg);
}

TEST(created_build_and_wrap_arguments)
{
	u8 *a = xmalloc(MSG), *b = xmalloc(MSG), key[32];

	ASSERT_EQ(0, maq_crypto_init());
	randombytes_buf(key, 32);
	EXPECT_EQ(-EINVAL, maq_created_build(a, 0, key, 0));
	EXPECT_EQ(-EINVAL, maq_created_build(a, 1, key, -1));
	EXPECT_EQ(-EINVAL, maq_created_build(a, 1, key, 256));
	/* a refusal never carries a cid */
	EXPECT_EQ(0, maq_created_build(a, 99, key, MAQ_SETUP_NO_CAPACITY));
	EXPECT_EQ(0, be32_at(a));
	EXPECT_EQ(0, maq_created_wrap(b, a, MSG, 5, key));
	EXPECT_EQ(0, be32_at(b));
	EXPECT_EQ(0, maq_created_build(a, 99, key, 0));
	EXPECT_EQ(99, be32_at(a));
	EXPECT_EQ(1, maq_created_wrap(b, a, MSG, 5, key));
	EXPECT_EQ(5, be32_at(b));
	/* the padding is new at every hop, or it would link the cells */
	EXPECT_NE(0, memcmp(a + 4 + MAQ_REPLY_LEN, b + 4 + MAQ_REPLY_LEN,
			    MSG - 4 - MAQ_REPLY_LEN));
	EXPECT_EQ(-EINVAL, maq_created_wrap(b, a, MSG - 1, 5, key));
	EXPECT_EQ(-EINVAL, maq_created_wrap(b, a, MSG + 1, 5, key));
	EXPECT_EQ(-EINVAL, maq_created_wrap(b, NULL, 0, 5, key));
	EXPECT_EQ(-EINVAL, maq_created_wrap(b, a, MSG, 0, key));
	free(a);
	free(b);
}

TEST_HARNESS_MAIN
