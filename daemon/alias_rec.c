// SPDX-License-Identifier: GPL-2.0
/*
 * Aliases, alias records and the introduction and rendezvous messages
 * (docs/PROTOCOL.md section 9); see alias_rec.h.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "alias_rec.h"
#include "ctl.h"

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

void maq_alias_encode(char out[MAQ_ALIAS_STR_LEN + 1],
		      const u8 pk[MAQ_ALIAS_PK_LEN])
{
	unsigned int i, bit;

	for (i = 0; i < MAQ_ALIAS_STR_LEN; i++) {
		unsigned int v = 0, k;

		for (k = 0; k < 5; k++) {
			bit = i * 5 + k;
			v <<= 1;
			if (bit < MAQ_ALIAS_PK_LEN * 8)
				v |= (pk[bit / 8] >> (7 - bit % 8)) & 1;
		}
		out[i] = b32[v];
	}
	out[MAQ_ALIAS_STR_LEN] = 0;
}

static int b32_val(char c)
{
	const char *p = c ? strchr(b32, c) : NULL;

	return p ? (int)(p - b32) : -1;
}

bool maq_alias_form(const char *s)
{
	unsigned int i;

	for (i = 0; i < MAQ_ALIAS_STR_LEN; i++)
		if (b32_val(s[i]) < 0)
			return false;
	return !s[MAQ_ALIAS_STR_LEN];
}

int maq_alias_decode(const char *s, u8 pk[MAQ_ALIAS_PK_LEN])
{
	unsigned int i, k, bit;

	if (!maq_alias_form(s))
		return -EINVAL;
	memset(pk, 0, MAQ_ALIAS_PK_LEN);
	for (i = 0; i < MAQ_ALIAS_STR_LEN; i++) {
		int v = b32_val(s[i]);

		for (k = 0; k < 5; k++) {
			bit = i * 5 + k;
			if (!(v >> (4 - k) & 1))
				continue;
			/* one spelling per key: the 4 bits past it are 0 */
			if (bit >= MAQ_ALIAS_PK_LEN * 8)
				return -EINVAL;
			pk[bit / 8] |= (u8)(0x80 >> bit % 8);
		}
	}
	/* a key no signature can be checked under is no alias */
	if (!crypto_core_ed25519_is_valid_point(pk))
		return -EINVAL;
	return 0;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int maq_alias_arg(char *s, u8 pk[MAQ_ALIAS_PK_LEN], const char **why)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n; i++)
		if (b32_val(lower(s[i])) < 0)
			return 0;
	if (n < 48)
		return 0;
	if (n != MAQ_ALIAS_STR_LEN) {
		*why = "an alias is 52 characters";
		return -EINVAL;
	}
	for (i = 0; i < n; i++)
		s[i] = lower(s[i]);
	if (b32_val(s[n - 1]) & 15) {
		*why = "an alias ends in 'a' or 'q' (bits past the key are 0)";
		return -EINVAL;
	}
	if (maq_alias_decode(s, pk)) {
		*why = "not an Ed25519 public key";
		return -EINVAL;
	}
	return 1;
}

bool maq_alias_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n > MAQ_ALIAS_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '_'))
			return false;
	return true;
}

void maq_alias_addr(const u8 pk[MAQ_ALIAS_PK_LEN], struct in6_addr *a)
{
	crypto_generichash_state st;
	u8 h[16];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const u8 *)"maqalias", 8);
	crypto_generichash_update(&st, pk, MAQ_ALIAS_PK_LEN);
	crypto_generichash_final(&st, h, sizeof(h));
	a->s6_addr[0] = 0xfd;
	memcpy(a->s6_addr + 1, h, 15);
}

/* h = BLAKE2b-512("maqblind" || A || be32 day) mod L */
static void blind_factor(u8 h[crypto_core_ed25519_SCALARBYTES],
			 const u8 pk[MAQ_ALIAS_PK_LEN], u32 day)
{
	crypto_generichash_state st;
	u8 wide[64], d[4];

	maq_put_be32(d, day);
	crypto_generichash_init(&st, NULL, 0, sizeof(wide));
	crypto_generichash_update(&st, (const u8 *)"maqblind", 8);
	crypto_generichash_update(&st, pk, MAQ_ALIAS_PK_LEN);
	crypto_generichash_update(&st, d, sizeof(d));
	crypto_generichash_final(&st, wide, sizeof(wide));
	crypto_core_ed25519_scalar_reduce(h, wide);
}

int maq_alias_blind(const u8 pk[MAQ_ALIAS_PK_LEN], u32 day,
		    u8 out[MAQ_ALIAS_PK_LEN])
{
	u8 h[crypto_core_ed25519_SCALARBYTES];

	blind_factor(h, pk, day);
	return crypto_scalarmult_ed25519_noclamp(out, h, pk) ? -EINVAL : 0;
}

/* SHA-512 of the parts, reduced mod L. */
static void hash_scalar(u8 out[crypto_core_ed25519_SCALARBYTES],
			const u8 *a, size_t alen, const u8 *b, size_t blen,
			const u8 *c, size_t clen)
{
	crypto_hash_sha512_state st;
	u8 wide[64];

	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, a, alen);
	crypto_hash_sha512_update(&st, b, blen);
	crypto_hash_sha512_update(&st, c, clen);
	crypto_hash_sha512_final(&st, wide);
	crypto_core_ed25519_scalar_reduce(out, wide);
	sodium_memzero(wide, sizeof(wide));
}

/*
 * Ed25519 with the blinded scalar a' = h * a: R = r B, S = r + k a' with
 * r from a blinded nonce prefix and k = H(R || A' || M), so the signature
 * is an ordinary one under A' = a' B = h A.
 */
int maq_alias_blind_sign(u8 sig[MAQ_ID_SIG_LEN], const u8 *msg, size_t len,
			 const struct maq_identity *alias, u32 day)
{
	u8 az[64], wide[64], a[32], h[32], ab[32], pub[32], prefix[64];
	u8 r[32], k[32], t[32];
	crypto_hash_sha512_state st;
	int ret = -EINVAL;

	memset(&st, 0, sizeof(st));
	crypto_hash_sha512(az, alias->sk, 32);
	az[0] &= 248;
	az[31] &= 127;
	az[31] |= 64;
	memset(wide, 0, sizeof(wide));
	memcpy(wide, az, 32);
	crypto_core_ed25519_scalar_reduce(a, wide);
	blind_factor(h, alias->pk, day);
	crypto_core_ed25519_scalar_mul(ab, h, a);
	if (crypto_scalarmult_ed25519_base_noclamp(pub, ab))
		goto out;
	/* the nonce prefix, blinded too: a' alone must not reveal it */
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, (const u8 *)"maqbpfx", 7);
	crypto_hash_sha512_update(&st, az + 32, 32);
	crypto_hash_sha512_update(&st, pub, 32);
	crypto_hash_sha512_final(&st, prefix);
	hash_scalar(r, prefix, 32, msg, len, NULL, 0);
	if (crypto_scalarmult_ed25519_base_noclamp(sig, r))
		goto out;
	hash_scalar(k, sig, 32, pub, 32, msg, len);
	crypto_core_ed25519_scalar_mul(t, k, ab);
	crypto_core_ed25519_scalar_add(sig + 32, t, r);
	ret = 0;
out:
	sodium_memzero(az, sizeof(az));
	sodium_memzero(wide, sizeof(wide));
	sodium_memzero(a, sizeof(a));
	sodium_memzero(ab, sizeof(ab));
	sodium_memzero(prefix, sizeof(prefix));
	sodium_memzero(r, sizeof(r));
	sodium_memzero(t, sizeof(t));
	sodium_memzero(&st, sizeof(st));
	return ret;
}

/* --- the record ------------------------------------------------------------ */

const char *maq_arec_err_name(enum maq_arec_err e)
{
	static const char *const name[MAQ_AREC_N_ERRS] = {
		[MAQ_AREC_OK] = "ok",
		[MAQ_AREC_SIZE] = "size",
		[MAQ_AREC_STRUCTURE] = "structure",
		[MAQ_AREC_SIGNATURE] = "bad-signature",
		[MAQ_AREC_EXPIRED] = "expired",
		[MAQ_AREC_FUTURE] = "from-the-future",
		[MAQ_AREC_OTHER_KEY] = "other-key",
		[MAQ_AREC_DECRYPT] = "decrypt",
		[MAQ_AREC_CONTENT] = "content",
	};

	return (unsigned int)e < MAQ_AREC_N_ERRS ? name[e] : "unknown";
}

static void rec_key(u8 key[32], const u8 pk[MAQ_ALIAS_PK_LEN], u32 day)
{
	u8 m[12];

	memcpy(m, "maqrecrd", 8);
	maq_put_be32(m + 8, day);
	crypto_generichash(key, 32, m, sizeof(m), pk, MAQ_ALIAS_PK_LEN);
}

static bool rec_times_ok(u32 day, u64 published, u64 expires)
{
	u64 pday = published / MAQ_ALIAS_DAY;

	/* today's, or tomorrow's made in advance */
	return (day == pday || day == pday + 1) && expires > published &&
	       expires - published <= MAQ_ALIAS_DAY;
}

int maq_alias_rec_seal(u8 out[MAQ_ALIAS_REC_LEN], struct maq_alias_rec *r,
		       const struct maq_identity *alias)
{
	u8 content[MAQ_ALIAS_REC_CONTENT], key[32];
	unsigned int i;
	int ret;

	if (!r->n_intro || r->n_intro > MAQ_ALIAS_MAX_INTRO ||
	    !rec_times_ok(r->day, r->published, r->expires))
		return -EINVAL;
	if (maq_alias_blind(alias->pk, r->day, r->blinded))
		return -EINVAL;
	memset(out, 0, MAQ_ALIAS_REC_LEN);
	out[0] = MAQ_ALIAS_REC_VERSION;
	maq_put_be32(out + 4, r->day);
	maq_put_be64(out + 8, r->published);
	maq_put_be64(out + 16, r->expires);
	memcpy(out + 24, r->blinded, MAQ_ALIAS_PK_LEN);
	randombytes_buf(out + 56, 24);

	memset(content, 0, sizeof(content));
	content[0] = (u8)r->n_intro;
	memcpy(content + 4, r->service_x, MAQ_ALIAS_X_LEN);
	for (i = 0; i < r->n_intro; i++) {
		memcpy(content + 36 + 64 * i, r->intro[i].relay, 32);
		memcpy(content + 36 + 64 * i + 32, r->intro[i].token, 32);
	}
	rec_key(key, alias->pk, r->day);
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
		out + 80, out + 80 + MAQ_ALIAS_REC_CONTENT, NULL, content,
		sizeof(content), out, MAQ_ALIAS_REC_HDR, NULL, out + 56, key);
	sodium_memzero(content, sizeof(content));
	sodium_memzero(key, sizeof(key));
	ret = maq_alias_blind_sign(out + MAQ_ALIAS_REC_SIGNED, out,
				   MAQ_ALIAS_REC_SIGNED, alias, r->day);
	return ret;
}

enum maq_arec_err maq_alias_rec_check(const u8 *buf, size_t len, u64 now,
				      struct maq_alias_rec *r)
{
	memset(r, 0, sizeof(*r));
	if (len != MAQ_ALIAS_REC_LEN)
		return MAQ_AREC_SIZE;
	r->day = maq_get_be32(buf + 4);
	r->published = maq_get_be64(buf + 8);
	r->expires = maq_get_be64(buf + 16);
	memcpy(r->blinded, buf + 24, MAQ_ALIAS_PK_LEN);
	if (buf[0] != MAQ_ALIAS_REC_VERSION || !maq_all_zero(buf + 1, 3) ||
	    !rec_times_ok(r->day, r->published, r->expires))
		return MAQ_AREC_STRUCTURE;
	if (crypto_sign_verify_detached(buf + MAQ_ALIAS_REC_SIGNED, buf,
					MAQ_ALIAS_REC_SIGNED, r->blinded))
		return MAQ_AREC_SIGNATURE;
	if (now >= r->expires)
		return MAQ_AREC_EXPIRED;
	if (r->published > now + MAQ_ALIAS_FUTURE)
		return MAQ_AREC_FUTURE;
	return MAQ_AREC_OK;
}

enum maq_arec_err maq_alias_rec_open(const u8 *buf, size_t len, u64 now,
				     const u8 pk[MAQ_ALIAS_PK_LEN],
				     struct maq_alias_rec *r)
{
	u8 content[MAQ_ALIAS_REC_CONTENT], key[32], blinded[32];
	enum maq_arec_err e = maq_alias_rec_check(buf, len, now, r);
	unsigned int i;

	if (e != MAQ_AREC_OK)
		return e;
	if (maq_alias_blind(pk, r->day, blinded) ||
	    sodium_memcmp(blinded, r->blinded, sizeof(blinded)))
		return MAQ_AREC_OTHER_KEY;
	rec_key(key, pk, r->day);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
			content, NULL, buf + 80, MAQ_ALIAS_REC_CONTENT,
			buf + 80 + MAQ_ALIAS_REC_CONTENT, buf,
			MAQ_ALIAS_REC_HDR, buf + 56, key)) {
		sodium_memzero(key, sizeof(key));
		return MAQ_AREC_DECRYPT;
	}
	sodium_memzero(key, sizeof(key));
	e = MAQ_AREC_CONTENT;
	r->n_intro = content[0];
	if (!r->n_intro || r->n_intro > MAQ_ALIAS_MAX_INTRO ||
	    !maq_all_zero(content + 1, 3) ||
	    !maq_all_zero(content + 36 + 64 * r->n_intro,
			  sizeof(content) - 36 - 64 * r->n_intro))
		goto out;
	memcpy(r->service_x, content + 4, MAQ_ALIAS_X_LEN);
	for (i = 0; i < r->n_intro; i++) {
		memcpy(r->intro[i].relay, content + 36 + 64 * i, 32);
		memcpy(r->intro[i].token, content + 36 + 64 * i + 32, 32);
		if (maq_all_zero(r->intro[i].relay, 32))
			goto out;
	}
	e = MAQ_AREC_OK;
out:
	sodium_memzero(content, sizeof(content));
	if (e != MAQ_AREC_OK)
		r->n_intro = 0;
	return e;
}

/* --- messages -------------------------------------------------------------- */

/* Bytes of the body a type uses; 0 for an unknown type. */
static size_t amsg_body(u8 type)
{
	switch (type) {
	case MAQ_AMSG_ESTABLISH_INTRO:
		return MAQ_ALIAS_TOKEN_LEN;
	case MAQ_AMSG_INTRO_ESTABLISHED:
	case MAQ_AMSG_RENDEZVOUS_ESTABLISHED:
	case MAQ_AMSG_INTRODUCE_ACK:
		return 1;
	case MAQ_AMSG_ESTABLISH_RENDEZVOUS:
		return MAQ_ALIAS_COOKIE_LEN;
	case MAQ_AMSG_INTRODUCE1:
	case MAQ_AMSG_INTRODUCE2:
		return MAQ_ALIAS_TOKEN_LEN + MAQ_AMSG_INTRO_SEALED;
	case MAQ_AMSG_RENDEZVOUS1:
		return MAQ_ALIAS_COOKIE_LEN + MAQ_AMSG_AUTH_LEN;
	case MAQ_AMSG_RENDEZVOUS2:
		return MAQ_AMSG_AUTH_LEN;
	default:
		return 0;
	}
}

bool maq_amsg_is(const u8 *msg, size_t len)
{
	return len == MAQ_AMSG_LEN && amsg_body(msg[0]);
}

void maq_amsg_put(u8 out[MAQ_AMSG_LEN], const struct maq_amsg *m)
{
	u8 *b = out + MAQ_AMSG_BODY;

	memset(out, 0, MAQ_AMSG_LEN);
	out[0] = m->type;
	out[1] = 1;
	maq_put_be64(out + 8, m->nonce);
	switch (m->type) {
	case MAQ_AMSG_ESTABLISH_INTRO:
		memcpy(b, m->token, MAQ_ALIAS_TOKEN_LEN);
		break;
	case MAQ_AMSG_INTRO_ESTABLISHED:
	case MAQ_AMSG_RENDEZVOUS_ESTABLISHED:
	case MAQ_AMSG_INTRODUCE_ACK:
		b[0] = m->status;
		break;
	case MAQ_AMSG_ESTABLISH_RENDEZVOUS:
		memcpy(b, m->cookie, MAQ_ALIAS_COOKIE_LEN);
		break;
	case MAQ_AMSG_INTRODUCE1:
	case MAQ_AMSG_INTRODUCE2:
		memcpy(b, m->token, MAQ_ALIAS_TOKEN_LEN);
		memcpy(b + MAQ_ALIAS_TOKEN_LEN, m->sealed,
		       MAQ_AMSG_INTRO_SEALED);
		break;
	case MAQ_AMSG_RENDEZVOUS1:
		memcpy(b, m->cookie, MAQ_ALIAS_COOKIE_LEN);
		b += MAQ_ALIAS_COOKIE_LEN;
		/* fall through */
	case MAQ_AMSG_RENDEZVOUS2:
		memcpy(b, m->auth, MAQ_AMSG_AUTH_LEN);
		break;
	}
}

int maq_amsg_get(const u8 *msg, size_t len, struct maq_amsg *m)
{
	const u8 *b = msg + MAQ_AMSG_BODY;
	size_t n;

	memset(m, 0, sizeof(*m));
	if (len != MAQ_AMSG_LEN)
		return -EMSGSIZE;
	n = amsg_body(msg[0]);
	if (!n || msg[1] != 1 || !maq_all_zero(msg + 2, 6) ||
	    !maq_all_zero(b + n, MAQ_AMSG_LEN - MAQ_AMSG_BODY - n))
		return -EPROTO;
	m->type = msg[0];
	m->nonce = maq_get_be64(msg + 8);
	switch (m->type) {
	case MAQ_AMSG_ESTABLISH_INTRO:
		memcpy(m->token, b, MAQ_ALIAS_TOKEN_LEN);
		break;
	case MAQ_AMSG_INTRO_ESTABLISHED:
	case MAQ_AMSG_RENDEZVOUS_ESTABLISHED:
	case MAQ_AMSG_INTRODUCE_ACK:
		m->status = b[0];
		if (m->status > MAQ_AMSG_BAD)
			return -EPROTO;
		break;
	case MAQ_AMSG_ESTABLISH_RENDEZVOUS:
		memcpy(m->cookie, b, MAQ_ALIAS_COOKIE_LEN);
		break;
	case MAQ_AMSG_INTRODUCE1:
	case MAQ_AMSG_INTRODUCE2:
		memcpy(m->token, b, MAQ_ALIAS_TOKEN_LEN);
		memcpy(m->sealed, b + MAQ_ALIAS_TOKEN_LEN,
		       MAQ_AMSG_INTRO_SEALED);
		break;
	case MAQ_AMSG_RENDEZVOUS1:
		memcpy(m->cookie, b, MAQ_ALIAS_COOKIE_LEN);
		b += MAQ_ALIAS_COOKIE_LEN;
		/* fall through */
	default:	/* RENDEZVOUS2 */
		memcpy(m->auth, b, MAQ_AMSG_AUTH_LEN);
	}
	return 0;
}

int maq_intro_seal(u8 out[MAQ_AMSG_INTRO_SEALED],
		   const struct maq_intro_plain *p,
		   const u8 service_x[MAQ_ALIAS_X_LEN])
{
	u8 plain[MAQ_AMSG_INTRO_PLAIN];
	int ret;

	memcpy(plain, p->rp, 32);
	memcpy(plain + 32, p->cookie, MAQ_ALIAS_COOKIE_LEN);
	memcpy(plain + 52, p->client_x, MAQ_ALIAS_X_LEN);
	memcpy(plain + 84, p->client_addr.s6_addr, 16);
	ret = crypto_box_seal(out, plain, sizeof(plain), service_x);
	sodium_memzero(plain, sizeof(plain));
	return ret ? -EINVAL : 0;
}

int maq_intro_open(struct maq_intro_plain *p,
		   const u8 in[MAQ_AMSG_INTRO_SEALED],
		   const struct maq_onion_key *service)
{
	u8 plain[MAQ_AMSG_INTRO_PLAIN];

	if (crypto_box_seal_open(plain, in, MAQ_AMSG_INTRO_SEALED,
				 service->pk, service->sk))
		return -EBADMSG;
	memcpy(p->rp, plain, 32);
	memcpy(p->cookie, plain + 32, MAQ_ALIAS_COOKIE_LEN);
	memcpy(p->client_x, plain + 52, MAQ_ALIAS_X_LEN);
	memcpy(p->client_addr.s6_addr, plain + 84, 16);
	sodium_memzero(plain, sizeof(plain));
	return p->client_addr.s6_addr[0] == 0xfd ? 0 : -EINVAL;
}

int maq_alias_e2e(u8 e2e[MAQ_ALIAS_E2E_LEN], u8 auth[MAQ_AMSG_AUTH_LEN],
		  bool client, const u8 sk[MAQ_ALIAS_X_LEN],
		  const u8 peer[MAQ_ALIAS_X_LEN],
		  const u8 x_pub[MAQ_ALIAS_X_LEN],
		  const u8 s_pub[MAQ_ALIAS_X_LEN],
		  const u8 alias_pk[MAQ_ALIAS_PK_LEN])
{
	u8 ss[32], m[32], c2s[32], s2c[32];
	crypto_generichash_state st;

	if (crypto_scalarmult(ss, sk, peer))
		return -EINVAL;
	crypto_generichash_init(&st, NULL, 0, sizeof(m));
	crypto_generichash_update(&st, (const u8 *)"maqe2e01", 8);
	crypto_generichash_update(&st, ss, 32);
	crypto_generichash_update(&st, x_pub, 32);
	crypto_generichash_update(&st, s_pub, 32);
	crypto_generichash_update(&st, alias_pk, MAQ_ALIAS_PK_LEN);
	crypto_generichash_final(&st, m, sizeof(m));
	crypto_kdf_derive_from_key(c2s, 32, 1, "maqe2e01", m);
	crypto_kdf_derive_from_key(s2c, 32, 2, "maqe2e01", m);
	crypto_kdf_derive_from_key(auth, MAQ_AMSG_AUTH_LEN, 3, "maqe2e01", m);
	memcpy(e2e, client ? c2s : s2c, 32);
	memcpy(e2e + 32, client ? s2c : c2s, 32);
	sodium_memzero(ss, sizeof(ss));
	sodium_memzero(m, sizeof(m));
	sodium_memzero(c2s, sizeof(c2s));
	sodium_memzero(s2c, sizeof(s2c));
	sodium_memzero(&st, sizeof(st));
	return 0;
}
