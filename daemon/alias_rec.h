/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Aliases (docs/PROTOCOL.md section 9): the alias of a service, its inner
 * address, the blinded daily key its records are filed and signed under,
 * the alias record and the messages of introduction and rendezvous.  Pure
 * functions over byte buffers (libsodium only), shared by maquisd, the
 * host tests and the fuzzers.
 *
 * An alias is the base32 (RFC 4648 alphabet, lower case, no padding) of the
 * service's Ed25519 public key A: 52 characters, the 4 bits past the key
 * zero.  Whoever knows the alias knows A; a relay that stores a record
 * sees only A' = h * A with h = H(A || day), and cannot tell which alias
 * it belongs to nor link two days' records of one alias.
 */
#ifndef _MAQUIS_DAEMON_ALIAS_REC_H
#define _MAQUIS_DAEMON_ALIAS_REC_H

#include <stdbool.h>
#include <netinet/in.h>

#include "keys.h"

#define MAQ_ALIAS_PK_LEN	32
#define MAQ_ALIAS_STR_LEN	52	/* characters, without the NUL */
#define MAQ_ALIAS_DAY		86400	/* seconds in a blinding period */
#define MAQ_ALIAS_MAX_INTRO	3
#define MAQ_ALIAS_TOKEN_LEN	32
#define MAQ_ALIAS_COOKIE_LEN	20
#define MAQ_ALIAS_X_LEN		32	/* X25519 keys */
#define MAQ_ALIAS_E2E_LEN	64	/* send key || receive key */
#define MAQ_ALIAS_FUTURE	300	/* s a record may be ahead of us */

/* --- the alias ------------------------------------------------------------ */

/* base32 of @pk into @out (MAQ_ALIAS_STR_LEN + 1 bytes). */
void maq_alias_encode(char out[MAQ_ALIAS_STR_LEN + 1],
		      const u8 pk[MAQ_ALIAS_PK_LEN]);
/*
 * True when @s has an alias's shape (52 characters of the base32
 * alphabet), which is how `circuit build --to` tells an alias from a relay
 * or an address; maq_alias_decode() then says whether it is a valid one.
 */
bool maq_alias_form(const char *s);
/* -EINVAL: not 52 base32 characters, stray bits, or not a usable key. */
int maq_alias_decode(const char *s, u8 pk[MAQ_ALIAS_PK_LEN]);

/*
 * What @s, where an alias may stand (`circuit build --to`), was meant as:
 * 0 not an alias (no relay name or address is 48 or more characters of the
 * base32 alphabet), 1 an alias (lower-cased in place, its key in @pk),
 * -EINVAL meant as one but not valid, @why (a static string) saying how.
 */
int maq_alias_arg(char *s, u8 pk[MAQ_ALIAS_PK_LEN], const char **why);

/* An alias's local name (key-dir/alias-NAME.key): 1 to 32 of a-z 0-9 - _ */
#define MAQ_ALIAS_NAME_MAX	32
bool maq_alias_name_ok(const char *s);

/* The service's inner address: fd || BLAKE2b-128("maqalias" || A)[0..15). */
void maq_alias_addr(const u8 pk[MAQ_ALIAS_PK_LEN], struct in6_addr *a);

/* The blinding period of wall time @t. */
static inline u32 maq_alias_day(u64 t)
{
	return (u32)(t / MAQ_ALIAS_DAY);
}

/* A' = h * A, h = BLAKE2b-512("maqblind" || A || be32 day) mod L. */
int maq_alias_blind(const u8 pk[MAQ_ALIAS_PK_LEN], u32 day,
		    u8 out[MAQ_ALIAS_PK_LEN]);
/*
 * An Ed25519 signature of @msg under A' for @day, made with the blinded
 * secret scalar h * a; crypto_sign_verify_detached() checks it.
 */
int maq_alias_blind_sign(u8 sig[MAQ_ID_SIG_LEN], const u8 *msg, size_t len,
			 const struct maq_identity *alias, u32 day);

/* --- the record ----------------------------------------------------------- */

/*
 *   0 u8 version (1)  1 u8 0  2 be16 0  4 be32 day  8 be64 published
 *  16 be64 expires   24 A' (32)   56 nonce (24)   80 ciphertext (352)
 * 432 tag (16)      448 Ed25519 signature under A' of bytes 0..448 (64)
 *
 * The ciphertext is XChaCha20-Poly1305 of the content under
 * K = BLAKE2b-256(key = A, "maqrecrd" || be32 day), bytes 0..56 as
 * associated data.  Content (352 bytes):
 *
 *   0 u8 n_intro (1..3)  1 zero (3)  4 service X25519 key (32)
 *  36 n_intro x { relay identity (32), intro token (32) }, zeros to 352
 */
#define MAQ_ALIAS_REC_LEN	512
#define MAQ_ALIAS_REC_VERSION	1
#define MAQ_ALIAS_REC_HDR	56
#define MAQ_ALIAS_REC_CONTENT	352
#define MAQ_ALIAS_REC_SIGNED	448

struct maq_alias_intro {
	u8 relay[MAQ_ID_PK_LEN];
	u8 token[MAQ_ALIAS_TOKEN_LEN];
};

struct maq_alias_rec {
	u32 day;
	u64 published, expires;
	u8 blinded[MAQ_ALIAS_PK_LEN];
	/* the content: only after maq_alias_rec_open() */
	u8 service_x[MAQ_ALIAS_X_LEN];
	unsigned int n_intro;
	struct maq_alias_intro intro[MAQ_ALIAS_MAX_INTRO];
};

enum maq_arec_err {
	MAQ_AREC_OK,
	MAQ_AREC_SIZE,
	MAQ_AREC_STRUCTURE,	/* version, zeros, times, day */
	MAQ_AREC_SIGNATURE,
	MAQ_AREC_EXPIRED,
	MAQ_AREC_FUTURE,
	MAQ_AREC_OTHER_KEY,	/* A' is not this alias's for that day */
	MAQ_AREC_DECRYPT,
	MAQ_AREC_CONTENT,	/* decrypted, but malformed */
	MAQ_AREC_N_ERRS,
};

const char *maq_arec_err_name(enum maq_arec_err e);

/*
 * Seal @r (day, times, service_x, intros) for alias @alias: fills
 * r->blinded, encrypts, signs.  0 or -EINVAL (a field out of range).
 */
int maq_alias_rec_seal(u8 out[MAQ_ALIAS_REC_LEN], struct maq_alias_rec *r,
		       const struct maq_identity *alias);
/*
 * What a relay checks, in this order: size, structure, signature under
 * A', then its clock (@now): expired, or published more than
 * MAQ_ALIAS_FUTURE ahead.  Fills the header fields of @r.
 */
enum maq_arec_err maq_alias_rec_check(const u8 *buf, size_t len, u64 now,
				      struct maq_alias_rec *r);
/*
 * A client holding the alias key @pk: everything maq_alias_rec_check()
 * does, then that A' is @pk's for the record's day, then the content.
 */
enum maq_arec_err maq_alias_rec_open(const u8 *buf, size_t len, u64 now,
				     const u8 pk[MAQ_ALIAS_PK_LEN],
				     struct maq_alias_rec *r);

/* --- messages over circuits ---------------------------------------------- */

/*
 * Hop control messages (PROTOCOL 6) of types the teardown does not use,
 * in the same frame:
 *
 *   0 u8 type  1 u8 version (1)  2 be16 0  4 be32 0  8 be64 nonce
 *  16 body (240), zeros after the type's fields
 */
enum maq_amsg_type {
	MAQ_AMSG_ESTABLISH_INTRO	= 16,	/* service -> intro relay */
	MAQ_AMSG_INTRO_ESTABLISHED	= 17,	/* intro relay -> service */
	MAQ_AMSG_ESTABLISH_RENDEZVOUS	= 18,	/* client -> RP */
	MAQ_AMSG_RENDEZVOUS_ESTABLISHED	= 19,	/* RP -> client */
	MAQ_AMSG_INTRODUCE1		= 20,	/* client -> intro relay */
	MAQ_AMSG_INTRODUCE_ACK		= 21,	/* intro relay -> client */
	MAQ_AMSG_INTRODUCE2		= 22,	/* intro relay -> service */
	MAQ_AMSG_RENDEZVOUS1		= 23,	/* service -> RP */
	MAQ_AMSG_RENDEZVOUS2		= 24,	/* RP -> client */
};

#define MAQ_AMSG_LEN		256
#define MAQ_AMSG_BODY		16
/* What INTRODUCE carries sealed to the service's X25519 key. */
#define MAQ_AMSG_INTRO_PLAIN	(MAQ_ID_PK_LEN + MAQ_ALIAS_COOKIE_LEN + \
				 MAQ_ALIAS_X_LEN + 16)
#define MAQ_AMSG_INTRO_SEALED	(MAQ_AMSG_INTRO_PLAIN + 48)
#define MAQ_AMSG_AUTH_LEN	32

/* Status of the *_ESTABLISHED and INTRODUCE_ACK answers. */
enum maq_amsg_status {
	MAQ_AMSG_OK		= 0,
	MAQ_AMSG_REFUSED	= 1,	/* token or cookie taken */
	MAQ_AMSG_UNKNOWN	= 2,	/* no such intro token */
	MAQ_AMSG_BAD		= 3,	/* malformed */
};

struct maq_amsg {
	u8 type;
	u64 nonce;
	u8 status;				/* answers */
	u8 token[MAQ_ALIAS_TOKEN_LEN];		/* ESTABLISH_INTRO, INTRODUCE */
	u8 cookie[MAQ_ALIAS_COOKIE_LEN];	/* ESTABLISH_RV, RENDEZVOUS1 */
	u8 sealed[MAQ_AMSG_INTRO_SEALED];	/* INTRODUCE1/2 */
	u8 auth[MAQ_AMSG_AUTH_LEN];		/* RENDEZVOUS1/2 */
};

/* True when @msg's type byte is one of ours (the teardown's are not). */
bool maq_amsg_is(const u8 *msg, size_t len);
void maq_amsg_put(u8 out[MAQ_AMSG_LEN], const struct maq_amsg *m);
/* 0, or -EMSGSIZE / -EPROTO (unknown type, version, non-zero padding). */
int maq_amsg_get(const u8 *msg, size_t len, struct maq_amsg *m);

/* What the client tells the service inside INTRODUCE. */
struct maq_intro_plain {
	u8 rp[MAQ_ID_PK_LEN];			/* rendezvous relay identity */
	u8 cookie[MAQ_ALIAS_COOKIE_LEN];
	u8 client_x[MAQ_ALIAS_X_LEN];		/* ephemeral, for e2e keys */
	struct in6_addr client_addr;		/* its inner address */
};

int maq_intro_seal(u8 out[MAQ_AMSG_INTRO_SEALED],
		   const struct maq_intro_plain *p,
		   const u8 service_x[MAQ_ALIAS_X_LEN]);
/* -EBADMSG when it does not open; -EINVAL when the address is not fd::/8. */
int maq_intro_open(struct maq_intro_plain *p,
		   const u8 in[MAQ_AMSG_INTRO_SEALED],
		   const struct maq_onion_key *service);

/*
 * End-to-end keys of a rendezvous: the client's ephemeral X25519 key X
 * with the service's record key S,
 *   m = BLAKE2b-256("maqe2e01" || X25519(x, S) || X || S || A),
 * subkeys (crypto_kdf, context "maqe2e01") 1 client to service, 2 service
 * to client, 3 the auth RENDEZVOUS carries back to the client.  The client
 * passes @sk = x, @peer = S; the service @sk = s, @peer = X.  @e2e gets
 * this side's send key then its receive key.  0 or -EINVAL (small order).
 */
int maq_alias_e2e(u8 e2e[MAQ_ALIAS_E2E_LEN], u8 auth[MAQ_AMSG_AUTH_LEN],
		  bool client, const u8 sk[MAQ_ALIAS_X_LEN],
		  const u8 peer[MAQ_ALIAS_X_LEN],
		  const u8 x_pub[MAQ_ALIAS_X_LEN],
		  const u8 s_pub[MAQ_ALIAS_X_LEN],
		  const u8 alias_pk[MAQ_ALIAS_PK_LEN]);

#endif /* _MAQUIS_DAEMON_ALIAS_REC_H */
