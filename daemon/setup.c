// SPDX-License-Identifier: GPL-2.0
/*
 * 1-RTT circuit setup and the key ratchet (see setup.h).
 *
 * The CREATE onion is Sphinx-like: hop i decrypts its 1372 bytes, keeps the
 * first 64 (its routing block) and passes the other 1308 on with 112 bytes
 * of its own keystream appended, so every hop sees 1420 bytes of X || tag
 * || C and nothing tells it how many hops came before or follow.  The
 * origin knows every appended filler in advance, so it can make the tag of
 * every hop cover them: it computes what the fillers of hops 1..k-1 look
 * like once they reach hop k (phi), and makes hop n's ciphertext end in
 * exactly those bytes.
 */
#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "setup.h"

/* The CREATE message: bcid, then the onion X || tag || C. */
#define M_BCID		0
#define M_ONION		4
/* The onion. */
#define O_X		0
#define O_TAG		MAQ_SETUP_X_LEN				/* 32 */
#define O_CT		(O_TAG + MAQ_TAG_LEN)			/* 48 */
#define CT		MAQ_SETUP_CT_LEN
#define REST		(CT - MAQ_ROUTING_LEN)			/* 1308 */
#define STEP		MAQ_SETUP_HOP_LEN			/* 112 */
/* The routing block. */
#define R_FLAGS		0
#define R_FAMILY	1
#define R_PORT		2
#define R_ADDR		4
#define R_LIFETIME	20
#define R_FWD		24
#define R_BACK		32
#define R_VERSION	40
#define R_PLEN		41	/* terminus: return route length */
#define R_TOKEN		42	/* terminus: return route token */
#define R_ZERO		(R_TOKEN + MAQ_ROUTE_TOKEN_LEN)	/* 58 */
/* The CREATED message. */
#define C_FCID		0
#define C_REGION	4

#define CTR_MASK	MAQ_SEQ_CTR_MASK

_Static_assert(O_CT + CT == MAQ_SETUP_ONION_LEN, "onion layout");
_Static_assert(REST + STEP == MAQ_SETUP_ONION_LEN, "filler scheme");
_Static_assert(STEP * MAQ_MAX_HOPS <= MAQ_SETUP_ONION_LEN, "depth");
_Static_assert(MAQ_CONF_LEN * MAQ_MAX_HOPS == MAQ_REPLY_LEN, "reply region");
_Static_assert(C_REGION + MAQ_REPLY_LEN <= MAQ_CTL_MSG_LEN, "created");
_Static_assert(MAQ_MAX_LIFETIME == MAQUIS_MAX_LIFETIME, "uapi lifetime");
_Static_assert(MAQ_MAX_HOPS == MAQUIS_MAX_HOPS, "uapi hops");

static const u8 nonce0[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

static const char *const reason_name[] = {
	[MAQ_SETUP_OK]		= "ok",
	[MAQ_SETUP_UNREACHABLE]	= "unreachable",
	[MAQ_SETUP_NO_CAPACITY]	= "no-capacity",
	[MAQ_SETUP_BAD_ROUTING]	= "bad-routing",
	[MAQ_SETUP_TIMEOUT]	= "timeout",
};

const char *maq_setup_reason_name(int reason)
{
	if (reason == MAQ_SETUP_BAD_CONF)
		return "bad-conf";
	if (reason == MAQ_SETUP_BAD_REPLY)
		return "bad-reply";
	if (reason < 0 || reason >= (int)(sizeof(reason_name) /
					  sizeof(reason_name[0])))
		return "unknown";
	return reason_name[reason];
}

static const char *const create_err_name[MAQ_CREATE_N_ERRS] = {
	[MAQ_CREATE_OK]			= "ok",
	[MAQ_CREATE_TRUNCATED]		= "truncated",
	[MAQ_CREATE_OVERSIZED]		= "oversized",
	[MAQ_CREATE_BAD_KEY]		= "bad-key",
	[MAQ_CREATE_BAD_TAG]		= "bad-tag",
	[MAQ_CREATE_BAD_VERSION]	= "bad-version",
	[MAQ_CREATE_BAD_FLAGS]		= "bad-flags",
	[MAQ_CREATE_BAD_ADDRESS]	= "bad-address",
	[MAQ_CREATE_BAD_PORT]		= "bad-port",
	[MAQ_CREATE_BAD_LIFETIME]	= "bad-lifetime",
	[MAQ_CREATE_BAD_DELTA]		= "bad-delta",
	[MAQ_CREATE_BAD_PADDING]	= "bad-padding",
	[MAQ_CREATE_BAD_ROUTE]		= "bad-route",
};

const char *maq_create_err_name(int err)
{
	if (err < 0 || err >= MAQ_CREATE_N_ERRS)
		return "unknown";
	return create_err_name[err];
}

/* --- key schedule ------------------------------------------------------ */

void maq_hop_kdf(struct maq_hop_keys *k, const u8 ss[32], const u8 x_pub[32],
		 const u8 onion_pub[32])
{
	u8 in[96], m[crypto_kdf_KEYBYTES];

	memcpy(in, ss, 32);
	memcpy(in + 32, x_pub, 32);
	memcpy(in + 64, onion_pub, 32);
	crypto_generichash(m, sizeof(m), in, sizeof(in), NULL, 0);
	crypto_kdf_derive_from_key(k->setup, MAQ_KEY_LEN, MAQ_KDF_SETUP,
				   MAQ_KDF_HOP_CTX, m);
	crypto_kdf_derive_from_key(k->reply, MAQ_KEY_LEN, MAQ_KDF_REPLY,
				   MAQ_KDF_HOP_CTX, m);
	crypto_kdf_derive_from_key(k->fwd_chain, MAQ_KEY_LEN, MAQ_KDF_FWD_CHAIN,
				   MAQ_KDF_HOP_CTX, m);
	crypto_kdf_derive_from_key(k->back_chain, MAQ_KEY_LEN,
				   MAQ_KDF_BACK_CHAIN, MAQ_KDF_HOP_CTX, m);
	crypto_kdf_derive_from_key(k->fwd_ctl, MAQ_KEY_LEN, MAQ_KDF_FWD_CTL,
				   MAQ_KDF_HOP_CTX, m);
	crypto_kdf_derive_from_key(k->back_ctl, MAQ_KEY_LEN, MAQ_KDF_BACK_CTL,
				   MAQ_KDF_HOP_CTX, m);
	sodium_memzero(in, sizeof(in));
	sodium_memzero(m, sizeof(m));
}

void maq_hop_keys_wipe(struct maq_hop_keys *k)
{
	sodium_memzero(k, sizeof(*k));
}

void maq_ratchet_init(struct maq_ratchet *r, const u8 chain[MAQ_KEY_LEN])
{
	memmove(r->chain, chain, MAQ_KEY_LEN);
	r->epoch = 0;
}

void maq_ratchet_next(struct maq_ratchet *r, u8 key[MAQ_KEY_LEN])
{
	u8 next[MAQ_KEY_LEN];

	crypto_kdf_derive_from_key(key, MAQ_KEY_LEN, 1, MAQ_KDF_RATCHET_CTX,
				   r->chain);
	crypto_kdf_derive_from_key(next, MAQ_KEY_LEN, 2, MAQ_KDF_RATCHET_CTX,
				   r->chain);
	/* forward secrecy: chain_e must not outlive key_e's derivation */
	memcpy(r->chain, next, MAQ_KEY_LEN);
	sodium_memzero(next, sizeof(next));
	r->epoch++;
}

void maq_ratchet_wipe(struct maq_ratchet *r)
{
	sodium_memzero(r, sizeof(*r));
}

u32 maq_ratchet_hop(struct maq_ratchet *fwd, struct maq_ratchet *back,
		    u8 index, struct maq_hop *out)
{
	u32 epoch = fwd->epoch;

	memset(out, 0, sizeof(*out));
	out->index = index;
	out->has = MAQ_HOP_FWD_KEY | MAQ_HOP_BACK_KEY;
	maq_ratchet_next(fwd, out->fwd_key);
	maq_ratchet_next(back, out->back_key);
	return epoch;
}

/* Epoch 0 into @hop, both chains left at epoch 1. */
static void hop_epoch0(struct maq_hop *hop, struct maq_ratchet *fwd,
		       struct maq_ratchet *back, const struct maq_hop_keys *k)
{
	maq_ratchet_init(fwd, k->fwd_chain);
	maq_ratchet_init(back, k->back_chain);
	maq_ratchet_next(fwd, hop->fwd_key);
	maq_ratchet_next(back, hop->back_key);
	memcpy(hop->fwd_ctl_key, k->fwd_ctl, MAQ_KEY_LEN);
	memcpy(hop->back_ctl_key, k->back_ctl, MAQ_KEY_LEN);
}

/* --- CREATE pieces ----------------------------------------------------- */

/* The setup keystream KS(setup, 0)[0..CT): what encrypts C. */
static void setup_ks(u8 ks[CT], const u8 key[MAQ_KEY_LEN])
{
	memset(ks, 0, CT);
	maq_chacha20(ks, ks, CT, key, 0, 1);
}

/* The 112 bytes a hop appends: its setup keystream from block 2^20, far
 * from anything the AEAD uses.
 */
static void setup_filler(u8 out[STEP], const u8 key[MAQ_KEY_LEN])
{
	memset(out, 0, STEP);
	maq_chacha20(out, out, STEP, key, 0, MAQ_SETUP_FILLER_BLOCK);
}

/* X || tag || C for plaintext @p under @key. */
static void onion_seal(u8 onion[MAQ_SETUP_ONION_LEN], const u8 x_pub[32],
		       const u8 p[CT], const u8 key[MAQ_KEY_LEN])
{
	memcpy(onion + O_X, x_pub, MAQ_SETUP_X_LEN);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(onion + O_CT,
			onion + O_TAG, NULL, p, CT, NULL, 0, NULL, nonce0, key);
}

/* The terminus's return route, when the origin gives one. */
static void route_put(u8 rb[MAQ_ROUTING_LEN], const struct maq_route_claim *rt)
{
	if (!rt || !rt->prefix.family)
		return;
	if (rt->prefix.family == AF_INET) {
		rb[R_FAMILY] = MAQ_WIRE_IPV4;
		memcpy(rb + R_ADDR, &rt->prefix.addr.v4, 4);
	} else {
		rb[R_FAMILY] = MAQ_WIRE_IPV6;
		memcpy(rb + R_ADDR, &rt->prefix.addr.v6, 16);
	}
	rb[R_PLEN] = rt->prefix.len;
	memcpy(rb + R_TOKEN, rt->token, MAQ_ROUTE_TOKEN_LEN);
}

static void routing_put(u8 rb[MAQ_ROUTING_LEN], const union maq_sockaddr *next,
			u32 lifetime, u64 fwd, u64 back,
			const struct maq_route_claim *rt)
{
	u8 wa[MAQ_WIRE_ADDR_LEN];

	memset(rb, 0, MAQ_ROUTING_LEN);
	if (!next) {
		rb[R_FLAGS] = MAQ_ROUTING_TERMINUS;
		route_put(rb, rt);
	} else {
		/* checked by the caller: IPv4 or IPv6 */
		maq_wire_addr_put(wa, next);
		rb[R_FAMILY] = wa[0];
		memcpy(rb + R_ADDR, wa + 1, 16);
		maq_put_be16(rb + R_PORT, ntohs(next->sa.sa_family == AF_INET ?
						next->in4.sin_port :
						next->in6.sin6_port));
	}
	maq_put_be32(rb + R_LIFETIME, lifetime);
	maq_put_be64(rb + R_FWD, fwd);
	maq_put_be64(rb + R_BACK, back);
	rb[R_VERSION] = MAQ_HOP_VERSION;
}

static u16 sockaddr_port(const union maq_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET)
		return ntohs(a->in4.sin_port);
	if (a->sa.sa_family == AF_INET6)
		return ntohs(a->in6.sin6_port);
	return 0;
}

static bool hop_addr_ok(const union maq_sockaddr *a)
{
	return (a->sa.sa_family == AF_INET || a->sa.sa_family == AF_INET6) &&
	       sockaddr_port(a) && !maq_addr_unspecified(a);
}

static u64 random_base(void)
{
	u64 v;

	randombytes_buf(&v, sizeof(v));
	return v & (MAQ_BASE_LIMIT - 1);
}

/* --- origin ------------------------------------------------------------ */

/* Everything maq_create_build() keeps on its stack, wiped in one go. */
struct build_tmp {
	struct maq_hop_keys k[MAQ_MAX_HOPS];
	u8 x_pub[MAQ_MAX_HOPS][32];
	u8 x[32], ss[32];
	u64 fbase[MAQ_MAX_HOPS], bbase[MAQ_MAX_HOPS];
	u8 phi[STEP * (MAQ_MAX_HOPS - 1)];
	u8 ks[CT];
	u8 p[CT];
	u8 onion[MAQ_SETUP_ONION_LEN];
};

int maq_create_build(struct maq_origin *o, u8 msg[MAQ_CTL_MSG_LEN],
		     const struct maq_path_hop *path, unsigned int n,
		     u32 bcid, u32 lifetime)
{
	return maq_create_build_route(o, msg, path, n, bcid, lifetime, NULL);
}

int maq_create_build_route(struct maq_origin *o, u8 msg[MAQ_CTL_MSG_LEN],
			   const struct maq_path_hop *path, unsigned int n,
			   u32 bcid, u32 lifetime,
			   const struct maq_route_claim *route)
{
	struct build_tmp t;
	unsigned int i, j, len;
	int ret = -EINVAL;

	memset(o, 0, sizeof(*o));
	memset(&t, 0, sizeof(t));
	if (!path || !n || n > MAQ_MAX_HOPS || !bcid || !lifetime ||
	    lifetime > MAQ_MAX_LIFETIME)
		goto out;
	if (route && route->prefix.family && !maq_prefix_canonical(&route->prefix))
		goto out;
	for (i = 0; i < n; i++)
		if (!hop_addr_ok(&path[i].addr))
			goto out;

	for (i = 0; i < n; i++) {
		randombytes_buf(t.x, sizeof(t.x));
		crypto_scalarmult_base(t.x_pub[i], t.x);
		/* fails for an onion key of small order: no shared secret */
		if (crypto_scalarmult(t.ss, t.x, path[i].onion_key))
			goto out;
		maq_hop_kdf(&t.k[i], t.ss, t.x_pub[i], path[i].onion_key);
		t.fbase[i] = random_base();
		t.bbase[i] = random_base();
	}

	/*
	 * phi: the last len bytes of hop i+1's onion, fixed by the fillers of
	 * hops 1..i.  Hop i decrypts the previous phi (the end of its C) and
	 * appends its filler.
	 */
	for (i = 0, len = 0; i + 1 < n; i++, len += STEP) {
		setup_ks(t.ks, t.k[i].setup);
		for (j = 0; j < len; j++)
			t.phi[j] ^= t.ks[CT - len + j];
		setup_filler(t.phi + len, t.k[i].setup);
	}

	/*
	 * The terminus: routing block, random bytes (zeros would show how
	 * much of its plaintext the fillers took, i.e. its position), and a
	 * tail chosen so that its ciphertext ends in phi.
	 */
	routing_put(t.p, NULL, lifetime, 0, t.bbase[n - 1], route);
	randombytes_buf(t.p + MAQ_ROUTING_LEN, REST);
	if (len) {
		setup_ks(t.ks, t.k[n - 1].setup);
		for (j = 0; j < len; j++)
			t.p[CT - len + j] = t.phi[j] ^ t.ks[CT - len + j];
	}
	onion_seal(t.onion, t.x_pub[n - 1], t.p, t.k[n - 1].setup);

	/* Relays, innermost first: their rest is the next onion's head. */
	for (i = n - 1; i-- > 0; ) {
		routing_put(t.p, &path[i + 1].addr, lifetime,
			    (t.fbase[i + 1] - t.fbase[i]) & CTR_MASK,
			    (t.bbase[i] - t.bbase[i + 1]) & CTR_MASK, NULL);
		memcpy(t.p + MAQ_ROUTING_LEN, t.onion, REST);
		onion_seal(t.onion, t.x_pub[i], t.p, t.k[i].setup);
	}
	maq_put_be32(msg + M_BCID, bcid);
	memcpy(msg + M_ONION, t.onion, MAQ_SETUP_ONION_LEN);

	o->n = n;
	o->circ.role = MAQUIS_ROLE_ORIGIN;
	o->circ.n_hops = n;
	o->circ.next = path[0].addr;
	o->circ.back_cid_in = bcid;
	o->circ.lifetime = lifetime;
	for (i = 0; i < n; i++) {
		struct maq_hop *h = &o->circ.hops[i];

		h->index = (u8)i;
		h->has = MAQ_HOP_ALL;
		hop_epoch0(h, &o->fwd[i], &o->back[i], &t.k[i]);
		h->fwd_seq = t.fbase[i];
		h->back_seq = t.bbase[i];
		memcpy(o->reply_key[i], t.k[i].reply, MAQ_KEY_LEN);
	}
	ret = 0;
out:
	sodium_memzero(&t, sizeof(t));
	if (ret)
		maq_origin_wipe(o);
	return ret;
}

/* The reply stream of a hop: Poly1305 key from block 0, region keystream
 * from block 1 (PROTOCOL 7.2).
 */
static void reply_stream(u8 ks[MAQ_REPLY_LEN], u8 otk[32],
			 const u8 key[MAQ_KEY_LEN])
{
	u8 b0[64];

	memset(b0, 0, sizeof(b0));
	maq_chacha20(b0, b0, sizeof(b0), key, 0, 0);
	memcpy(otk, b0, 32);
	memset(ks, 0, MAQ_REPLY_LEN);
	maq_chacha20(ks, ks, MAQ_REPLY_LEN, key, 0, 1);
	sodium_memzero(b0, sizeof(b0));
}

int maq_created_open(struct maq_origin *o, const u8 *msg, size_t len,
		     struct maq_setup_fail *fail)
{
	u8 r[MAQ_REPLY_LEN], ks[MAQ_REPLY_LEN], otk[32];
	unsigned int i, j, known = MAQ_REPLY_LEN;
	u32 fcid;
	int ret = -1;

	fail->hop = 0;
	fail->reason = MAQ_SETUP_BAD_REPLY;
	if (!msg || len != MAQ_CTL_MSG_LEN || !o->n || o->n > MAQ_MAX_HOPS)
		return -1;
	fcid = maq_get_be32(msg + C_FCID);
	memcpy(r, msg + C_REGION, MAQ_REPLY_LEN);
	for (i = 0; i < o->n; i++) {
		fail->hop = i + 1;
		reply_stream(ks, otk, o->reply_key[i]);
		for (j = 0; j < known; j++)
			r[j] ^= ks[j];
		if (crypto_onetimeauth_poly1305_verify(r + 16, r, 16, otk)) {
			fail->reason = MAQ_SETUP_BAD_CONF;
			goto out;
		}
		/* authentic, but must still make sense */
		fail->reason = MAQ_SETUP_BAD_REPLY;
		if (!maq_all_zero(r + 2, 14) || r[0] > 1 ||
		    (r[0] == 0) != (r[1] == 0))
			goto out;
		if (r[0]) {
			fail->reason = r[1];
			goto out;
		}
		known -= MAQ_CONF_LEN;
		memmove(r, r + MAQ_CONF_LEN, known);
	}
	/* every hop accepted, yet hop 1 says "not built" */
	if (!fcid) {
		fail->hop = 1;
		fail->reason = MAQ_SETUP_BAD_REPLY;
		goto out;
	}
	o->circ.fwd_cid_out = fcid;
	fail->hop = 0;
	fail->reason = MAQ_SETUP_OK;
	ret = 0;
out:
	sodium_memzero(r, sizeof(r));
	sodium_memzero(ks, sizeof(ks));
	sodium_memzero(otk, sizeof(otk));
	return ret;
}

void maq_origin_wipe(struct maq_origin *o)
{
	sodium_memzero(o, sizeof(*o));
}

/* --- relay ------------------------------------------------------------- */

static int route_get(struct maq_relay_setup *r, const u8 rb[MAQ_ROUTING_LEN])
{
	struct maq_prefix *p = &r->route.prefix;

	memset(&r->route, 0, sizeof(r->route));
	switch (rb[R_FAMILY]) {
	case MAQ_WIRE_NONE:
		return maq_all_zero(rb + R_ADDR, 16) && !rb[R_PLEN] &&
		       maq_all_zero(rb + R_TOKEN, MAQ_ROUTE_TOKEN_LEN) ? 0 : -1;
	case MAQ_WIRE_IPV4:
		if (!maq_all_zero(rb + R_ADDR + 4, 12))
			return -1;
		p->family = AF_INET;
		memcpy(&p->addr.v4, rb + R_ADDR, 4);
		break;
	case MAQ_WIRE_IPV6:
		p->family = AF_INET6;
		memcpy(&p->addr.v6, rb + R_ADDR, 16);
		break;
	default:
		return -1;
	}
	p->len = rb[R_PLEN];
	memcpy(r->route.token, rb + R_TOKEN, MAQ_ROUTE_TOKEN_LEN);
	if (!maq_prefix_canonical(p)) {
		memset(&r->route, 0, sizeof(r->route));
		return -1;
	}
	return 0;
}

static enum maq_create_err routing_get(struct maq_relay_setup *r,
				       const u8 rb[MAQ_ROUTING_LEN])
{
	u8 wa[MAQ_WIRE_ADDR_LEN];
	u16 port = maq_get_be16(rb + R_PORT);
	u64 fwd = maq_get_be64(rb + R_FWD);
	u64 back = maq_get_be64(rb + R_BACK);

	/* the version first: another version may mean another layout */
	if (rb[R_VERSION] != MAQ_HOP_VERSION)
		return MAQ_CREATE_BAD_VERSION;
	if (rb[R_FLAGS] & ~MAQ_ROUTING_TERMINUS)
		return MAQ_CREATE_BAD_FLAGS;
	if (!maq_all_zero(rb + R_ZERO, MAQ_ROUTING_LEN - R_ZERO))
		return MAQ_CREATE_BAD_PADDING;
	r->terminus = rb[R_FLAGS] & MAQ_ROUTING_TERMINUS;
	wa[0] = rb[R_FAMILY];
	memcpy(wa + 1, rb + R_ADDR, 16);
	if (r->terminus) {
		/* no next hop; the address is the return route, if any */
		if (route_get(r, rb))
			return MAQ_CREATE_BAD_ROUTE;
		if (port)
			return MAQ_CREATE_BAD_PORT;
		if (fwd || back >= MAQ_BASE_LIMIT)
			return MAQ_CREATE_BAD_DELTA;
	} else {
		if (rb[R_PLEN] ||
		    !maq_all_zero(rb + R_TOKEN, MAQ_ROUTE_TOKEN_LEN))
			return MAQ_CREATE_BAD_PADDING;
		if (maq_wire_addr_get(wa, port, &r->next) ||
		    r->next.sa.sa_family == AF_UNSPEC ||
		    maq_addr_unspecified(&r->next))
			return MAQ_CREATE_BAD_ADDRESS;
		if (!port)
			return MAQ_CREATE_BAD_PORT;
		if (fwd > CTR_MASK || back > CTR_MASK)
			return MAQ_CREATE_BAD_DELTA;
	}
	r->lifetime = maq_get_be32(rb + R_LIFETIME);
	if (!r->lifetime || r->lifetime > MAQ_MAX_LIFETIME)
		return MAQ_CREATE_BAD_LIFETIME;
	r->hop.index = 0;
	r->hop.has = r->terminus ? MAQ_HOP_KEYS | MAQ_HOP_BACK_SEQ :
				   MAQ_HOP_ALL;
	r->hop.fwd_seq = fwd;
	r->hop.back_seq = back;
	return MAQ_CREATE_OK;
}

enum maq_create_err maq_create_process(struct maq_relay_setup *r,
				       const u8 *msg, size_t len,
				       const struct maq_onion_key *keys,
				       unsigned int n_keys)
{
	u8 reply[MAQ_KEY_LEN], p[CT], ss[32];
	enum maq_create_err err;
	struct maq_hop_keys k;
	const u8 *x_pub;
	unsigned int i;
	u32 bcid = 0;

	memset(r, 0, sizeof(*r));
	memset(&k, 0, sizeof(k));
	/* something to answer with even when no key applies */
	randombytes_buf(reply, sizeof(reply));
	if (!msg || len < MAQ_CTL_MSG_LEN) {
		err = MAQ_CREATE_TRUNCATED;
		goto fail;
	}
	if (len > MAQ_CTL_MSG_LEN) {
		err = MAQ_CREATE_OVERSIZED;
		goto fail;
	}
	bcid = maq_get_be32(msg + M_BCID);
	x_pub = msg + M_ONION + O_X;

	err = MAQ_CREATE_BAD_TAG;
	for (i = 0; i < n_keys; i++) {
		/* X of small order: the same for every key of ours */
		if (crypto_scalarmult(ss, keys[i].sk, x_pub)) {
			err = MAQ_CREATE_BAD_KEY;
			break;
		}
		maq_hop_kdf(&k, ss, x_pub, keys[i].pk);
		if (!i)
			memcpy(reply, k.reply, sizeof(reply));
		if (!crypto_aead_chacha20poly1305_ietf_decrypt_detached(p, NULL,
				msg + M_ONION + O_CT, CT, msg + M_ONION + O_TAG,
				NULL, 0, nonce0, k.setup)) {
			memcpy(reply, k.reply, sizeof(reply));
			r->key_index = i;
			err = MAQ_CREATE_OK;
			break;
		}
		maq_hop_keys_wipe(&k);
	}
	if (err)
		goto fail;
	err = routing_get(r, p);
	if (err)
		goto fail;

	r->bcid = bcid;
	memcpy(r->reply_key, reply, MAQ_KEY_LEN);
	hop_epoch0(&r->hop, &r->fwd, &r->back, &k);
	if (!r->terminus) {
		memcpy(r->onion, p + MAQ_ROUTING_LEN, REST);
		setup_filler(r->onion + REST, k.setup);
	}
	goto out;

fail:
	maq_relay_setup_wipe(r);
	r->bcid = bcid;
	memcpy(r->reply_key, reply, MAQ_KEY_LEN);
out:
	maq_hop_keys_wipe(&k);
	sodium_memzero(p, sizeof(p));
	sodium_memzero(ss, sizeof(ss));
	sodium_memzero(reply, sizeof(reply));
	return err;
}

void maq_create_next(u8 msg[MAQ_CTL_MSG_LEN], const struct maq_relay_setup *r,
		     u32 bcid)
{
	maq_put_be32(msg + M_BCID, bcid);
	memcpy(msg + M_ONION, r->onion, MAQ_SETUP_ONION_LEN);
}

/* region' = KS(reply) xor (conf || in[0..224)) into @out (may be @in). */
static void region_wrap(u8 *out, const u8 *in, const u8 key[MAQ_KEY_LEN],
			int reason)
{
	u8 plain[MAQ_REPLY_LEN], ks[MAQ_REPLY_LEN], otk[32];
	int j;

	reply_stream(ks, otk, key);
	memset(plain, 0, MAQ_CONF_LEN);
	plain[0] = reason ? 1 : 0;
	plain[1] = (u8)reason;
	crypto_onetimeauth_poly1305(plain + 16, plain, 16, otk);
	memcpy(plain + MAQ_CONF_LEN, in, MAQ_REPLY_LEN - MAQ_CONF_LEN);
	for (j = 0; j < MAQ_REPLY_LEN; j++)
		out[j] = plain[j] ^ ks[j];
	sodium_memzero(plain, sizeof(plain));
	sodium_memzero(ks, sizeof(ks));
	sodium_memzero(otk, sizeof(otk));
}

int maq_created_build(u8 msg[MAQ_CTL_MSG_LEN], u32 fcid,
		      const u8 reply_key[MAQ_KEY_LEN], int reason)
{
	if (reason < 0 || reason > 255 || (!reason && !fcid))
		return -EINVAL;
	/* Random region below our conf (no hop behind us wrote one) and
	 * random padding: a CREATED is as random as any other cell.
	 */
	randombytes_buf(msg, MAQ_CTL_MSG_LEN);
	maq_put_be32(msg + C_FCID, reason ? 0 : fcid);
	region_wrap(msg + C_REGION, msg + C_REGION, reply_key, reason);
	return 0;
}

int maq_created_wrap(u8 out[MAQ_CTL_MSG_LEN], const u8 *in, size_t len,
		     u32 fcid, const u8 reply_key[MAQ_KEY_LEN])
{
	u8 region[MAQ_REPLY_LEN];
	u32 got;

	if (!in || len != MAQ_CTL_MSG_LEN || !fcid)
		return -EINVAL;
	got = maq_get_be32(in + C_FCID);
	memcpy(region, in + C_REGION, MAQ_REPLY_LEN);
	/* fresh padding: passing the next hop's on would link the cells */
	randombytes_buf(out, MAQ_CTL_MSG_LEN);
	maq_put_be32(out + C_FCID, got ? fcid : 0);
	region_wrap(out + C_REGION, region, reply_key, MAQ_SETUP_OK);
	sodium_memzero(region, sizeof(region));
	return got ? 1 : 0;
}

void maq_relay_circuit(const struct maq_relay_setup *r, struct maq_circuit *c)
{
	memset(c, 0, sizeof(*c));
	c->role = r->terminus ? MAQUIS_ROLE_TERMINUS : MAQUIS_ROLE_RELAY;
	c->n_hops = 1;
	c->hops[0] = r->hop;
	if (!r->terminus)
		c->next = r->next;
	c->back_cid_out = r->bcid;
	c->lifetime = r->lifetime;
	if (r->terminus && r->route.prefix.family) {
		c->routes[0] = r->route.prefix;
		c->n_routes = 1;
	}
}

void maq_relay_setup_wipe(struct maq_relay_setup *r)
{
	sodium_memzero(r, sizeof(*r));
}
