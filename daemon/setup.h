/* SPDX-License-Identifier: GPL-2.0 */
/*
 * 1-RTT circuit setup (docs/PROTOCOL.md sections 7.1, 7.2) and the key
 * ratchet of section 4.
 *
 * Origin:   maq_create_build()  -> CREATE message for hop 1
 *           maq_created_open()  <- CREATED from hop 1: every hop's status
 * Relay:    maq_create_process() <- CREATE: keys, routing, next hop's onion
 *           maq_create_next()   -> CREATE for the next hop
 *           maq_created_wrap()  <- CREATED from the next hop, -> previous
 * Terminus: maq_create_process(), then maq_created_build()
 * A hop that refuses answers maq_created_build() with a reason.
 *
 * Messages are the MAQ_CTL_MSG_LEN bytes after a link control header
 * (ctl.h).  CREATE:
 *
 *   0 be32 bcid | 4 X (32) | 36 tag (16) | 52 C (1372) | 1424
 *
 * C is ChaCha20 under the hop's setup key (nonce 0, from block 1), tag its
 * Poly1305 (RFC 8439 AEAD, no associated data).  Its plaintext is the
 * 64-byte routing block and 1308 bytes that, with 112 bytes of filler
 * (setup keystream from block 2^20) appended, are the next hop's
 * X || tag || C.  Routing block:
 *
 *   0 u8 flags (bit 0 terminus)  1 u8 family (0/4/6)  2 be16 port
 *   4 address (16)  20 be32 lifetime  24 be64 fwd_delta  32 be64 back_delta
 *   40 u8 hop_version (1)  41 zero (23)
 *
 * At the terminus family/address are the return route the origin claims
 * (family 0: none), 41 its prefix length and 42 a 16-byte route token,
 * then 6 zero bytes.
 *
 * CREATED: be32 fcid, 256-byte reply region, random padding.  fcid 0 means
 * the circuit was not built.
 *
 * Every struct here that holds keys must be wiped with its *_wipe().
 */
#ifndef _MAQUIS_DAEMON_SETUP_H
#define _MAQUIS_DAEMON_SETUP_H

#include <stdbool.h>

#include "ctl.h"
#include "keys.h"

#define MAQ_SETUP_ONION_LEN	(MAQ_CTL_MSG_LEN - 4)		/* 1420 */
#define MAQ_SETUP_X_LEN		32
#define MAQ_SETUP_CT_LEN	(MAQ_SETUP_ONION_LEN - MAQ_SETUP_X_LEN - \
				 MAQ_TAG_LEN)			/* 1372 */
#define MAQ_ROUTING_LEN		64
#define MAQ_SETUP_HOP_LEN	(MAQ_SETUP_X_LEN + MAQ_TAG_LEN + \
				 MAQ_ROUTING_LEN)		/* 112 */
#define MAQ_SETUP_FILLER_BLOCK	(1U << 20)
#define MAQ_HOP_VERSION		1
#define MAQ_ROUTING_TERMINUS	0x01
#define MAQ_REPLY_LEN		256
#define MAQ_CONF_LEN		32
/* Bases (origin, terminus) are random below this, as the kernel wants. */
#define MAQ_BASE_LIMIT		(1ULL << 61)
#define MAQ_MAX_LIFETIME	86400

/* The status a hop puts into its conf (PROTOCOL 7.2), and what the origin
 * reports: reasons 1..4 travel on the wire, the others are the origin's.
 */
enum maq_setup_reason {
	MAQ_SETUP_OK		= 0,
	MAQ_SETUP_UNREACHABLE	= 1,	/* next hop unreachable */
	MAQ_SETUP_NO_CAPACITY	= 2,
	MAQ_SETUP_BAD_ROUTING	= 3,	/* the CREATE did not check out */
	MAQ_SETUP_TIMEOUT	= 4,	/* no CREATED from the next hop */
	MAQ_SETUP_BAD_CONF	= 0x100,/* origin: a conf failed its MAC */
	MAQ_SETUP_BAD_REPLY	= 0x101,/* origin: malformed CREATED or conf */
};

/* "ok", "unreachable", "no-capacity", "bad-routing", "timeout",
 * "bad-conf", "bad-reply", or "unknown".
 */
const char *maq_setup_reason_name(int reason);

/* Why a relay refused a CREATE, for its counters.  All of them answer
 * MAQ_SETUP_BAD_ROUTING on the wire.
 */
enum maq_create_err {
	MAQ_CREATE_OK,
	MAQ_CREATE_TRUNCATED,
	MAQ_CREATE_OVERSIZED,
	MAQ_CREATE_BAD_KEY,		/* X of small order */
	MAQ_CREATE_BAD_TAG,		/* not for our onion key, or damaged */
	MAQ_CREATE_BAD_VERSION,
	MAQ_CREATE_BAD_FLAGS,
	MAQ_CREATE_BAD_ADDRESS,
	MAQ_CREATE_BAD_PORT,
	MAQ_CREATE_BAD_LIFETIME,
	MAQ_CREATE_BAD_DELTA,
	MAQ_CREATE_BAD_PADDING,
	MAQ_CREATE_BAD_ROUTE,		/* terminus: malformed return route */
	MAQ_CREATE_N_ERRS,
};

const char *maq_create_err_name(int err);

/* --- key schedule ------------------------------------------------------ */

enum {
	MAQ_KDF_SETUP = 1,
	MAQ_KDF_REPLY,
	MAQ_KDF_FWD_CHAIN,
	MAQ_KDF_BACK_CHAIN,
	MAQ_KDF_FWD_CTL,
	MAQ_KDF_BACK_CTL,
};

#define MAQ_KDF_HOP_CTX		"maqhop01"
#define MAQ_KDF_RATCHET_CTX	"maqratch"

struct maq_hop_keys {
	u8 setup[MAQ_KEY_LEN];
	u8 reply[MAQ_KEY_LEN];
	u8 fwd_chain[MAQ_KEY_LEN];
	u8 back_chain[MAQ_KEY_LEN];
	u8 fwd_ctl[MAQ_KEY_LEN];
	u8 back_ctl[MAQ_KEY_LEN];
};

/* m = BLAKE2b-256(ss || X || O), key i = crypto_kdf(m, i, "maqhop01"). */
void maq_hop_kdf(struct maq_hop_keys *k, const u8 ss[32], const u8 x_pub[32],
		 const u8 onion_pub[32]);
void maq_hop_keys_wipe(struct maq_hop_keys *k);

/*
 * One direction's chain (PROTOCOL 4): key_e = KDF(chain_e, 1),
 * chain_{e+1} = KDF(chain_e, 2), context "maqratch".  @epoch is the epoch
 * whose key maq_ratchet_next() gives next; its slot is epoch & 1.
 */
struct maq_ratchet {
	u8 chain[MAQ_KEY_LEN];
	u32 epoch;
};

void maq_ratchet_init(struct maq_ratchet *r, const u8 chain[MAQ_KEY_LEN]);
/* key_epoch into @key, then the chain moves on and the old one is wiped. */
void maq_ratchet_next(struct maq_ratchet *r, u8 key[MAQ_KEY_LEN]);
void maq_ratchet_wipe(struct maq_ratchet *r);

/*
 * The next epoch's data keys of one hop for key-set: @out gets index
 * @index, fwd_key and back_key, has = MAQ_HOP_FWD_KEY | MAQ_HOP_BACK_KEY.
 * Returns the epoch they belong to (install into slot epoch & 1).
 */
u32 maq_ratchet_hop(struct maq_ratchet *fwd, struct maq_ratchet *back,
		    u8 index, struct maq_hop *out);

/* --- origin ------------------------------------------------------------ */

/* One hop of a path, from its descriptor. */
struct maq_path_hop {
	u8 onion_key[MAQ_ONION_LEN];
	union maq_sockaddr addr;	/* where the previous hop sends */
};

/*
 * The origin's state from CREATE to CREATED.  circ is what circuit-new
 * takes: role origin, n_hops, next (hop 1), back_cid_in (the bcid),
 * lifetime, and per hop index, epoch-0 data keys, control keys and the
 * forward and backward bases; fwd_cid_out once the CREATED opened.  The
 * caller adds ifindex, id and routes.  fwd[i] / back[i] are hop i's chains
 * at epoch 1 (for key-set into slot 1, then later epochs).
 */
struct maq_origin {
	unsigned int n;
	u8 reply_key[MAQ_MAX_HOPS][MAQ_KEY_LEN];
	struct maq_circuit circ;
	struct maq_ratchet fwd[MAQ_MAX_HOPS];
	struct maq_ratchet back[MAQ_MAX_HOPS];
};

/*
 * The inner prefix the terminus routes back into the circuit (the origin's
 * maq0 address), with a token that proves a later claim of the same prefix
 * (a replacement circuit) comes from the same origin: the terminus refuses
 * a claim on a prefix a live circuit holds under another token.  The
 * origin derives the token from a secret of its own, the prefix and the
 * terminus, so tokens do not link its circuits across termini.
 */
#define MAQ_ROUTE_TOKEN_LEN	16

struct maq_route_claim {
	struct maq_prefix prefix;	/* family 0: none */
	u8 token[MAQ_ROUTE_TOKEN_LEN];
};

/*
 * Build the CREATE for @path[0..n) (1 <= n <= MAQ_MAX_HOPS) into @msg.
 * @bcid (non-zero) is the cid hop 1 will send backward cells to us with,
 * @lifetime (1..MAQ_MAX_LIFETIME s) every hop's.  0, or -EINVAL on bad
 * arguments (bad n, lifetime, bcid, an address that is neither IPv4 nor
 * IPv6 with a port, an onion key of small order); @o is wiped on failure.
 */
int maq_create_build(struct maq_origin *o, u8 msg[MAQ_CTL_MSG_LEN],
		     const struct maq_path_hop *path, unsigned int n,
		     u32 bcid, u32 lifetime);
/* The same with a return route for the terminus (-EINVAL when @route's
 * prefix has host bits set or a bad length).
 */
int maq_create_build_route(struct maq_origin *o, u8 msg[MAQ_CTL_MSG_LEN],
			   const struct maq_path_hop *path, unsigned int n,
			   u32 bcid, u32 lifetime,
			   const struct maq_route_claim *route);

struct maq_setup_fail {
	int hop;			/* 1..n; 0: the message itself */
	int reason;			/* enum maq_setup_reason, or what the
					 * hop sent */
};

/*
 * Open the CREATED hop 1 sent back: peel and authenticate every hop's conf.
 * 0 when every hop accepted (o->circ.fwd_cid_out is then set), -1 with
 * @fail naming the first hop that refused, whose conf failed its MAC or was
 * malformed (MAQ_SETUP_BAD_CONF / BAD_REPLY), or hop 0 / BAD_REPLY for a
 * message of the wrong length or one saying "not built" with no hop to
 * blame.
 */
int maq_created_open(struct maq_origin *o, const u8 *msg, size_t len,
		     struct maq_setup_fail *fail);

void maq_origin_wipe(struct maq_origin *o);

/* --- relay and terminus ------------------------------------------------ */

/*
 * What a hop learns from its CREATE.  hop (index 0) holds the epoch-0 data
 * keys, the control keys, and fwd_seq/back_seq: the two deltas at a relay,
 * the backward base at the terminus (has without MAQ_HOP_FWD_SEQ, as the
 * kernel wants).  fwd/back are the chains at epoch 1.  onion is the next
 * hop's X || tag || C (relay only).
 */
struct maq_relay_setup {
	bool terminus;
	u32 bcid;			/* from the CREATE: back-cid-out */
	union maq_sockaddr next;	/* AF_UNSPEC at the terminus */
	u32 lifetime;
	int key_index;			/* which of the onion keys matched */
	struct maq_route_claim route;	/* terminus: return route, if any */
	u8 reply_key[MAQ_KEY_LEN];
	struct maq_hop hop;
	struct maq_ratchet fwd, back;
	u8 onion[MAQ_SETUP_ONION_LEN];
};

/*
 * Process a CREATE received on a link, trying @keys[0..n_keys) (current
 * onion key first, then the previous one).  On MAQ_CREATE_OK everything in
 * @r is set.  On any other result @r is wiped except bcid and reply_key
 * (when the message was long enough to have them), which are all the hop
 * needs to answer maq_created_build(.., MAQ_SETUP_BAD_ROUTING): the reply
 * key is derived from the first key (or random when no key applies), so
 * the origin can tell a hop that got a damaged CREATE from one that was
 * never asked.
 */
enum maq_create_err maq_create_process(struct maq_relay_setup *r,
				       const u8 *msg, size_t len,
				       const struct maq_onion_key *keys,
				       unsigned int n_keys);

/* The CREATE for the next hop, carrying our own @bcid (non-zero). */
void maq_create_next(u8 msg[MAQ_CTL_MSG_LEN], const struct maq_relay_setup *r,
		     u32 bcid);

/*
 * The first CREATED on the way back: the terminus accepting (@reason 0,
 * @fcid its forward cid, non-zero) or a hop refusing (@reason non-zero,
 * fcid 0 is sent whatever @fcid says).  0 or -EINVAL.
 */
int maq_created_build(u8 msg[MAQ_CTL_MSG_LEN], u32 fcid,
		      const u8 reply_key[MAQ_KEY_LEN], int reason);

/*
 * A relay passing its next hop's CREATED (@in, @len bytes) back with an OK
 * conf and its own @fcid.  Returns 1 when the next hop built the circuit
 * (install the hop), 0 when it was not built (@out then says fcid 0: free
 * the state), -EINVAL on a message of the wrong length (nothing written).
 */
int maq_created_wrap(u8 out[MAQ_CTL_MSG_LEN], const u8 *in, size_t len,
		     u32 fcid, const u8 reply_key[MAQ_KEY_LEN]);

/*
 * This hop's part for circuit-new: role relay or terminus, n_hops 1,
 * hops[0], next (relay), back_cid_out, lifetime.  The caller sets ifindex,
 * id, fwd_cid_in (the fcid it chose), prev (the CREATE's sender), and for a
 * relay back_cid_in (its bcid) and fwd_cid_out (the next hop's fcid).  A
 * terminus gets the return route as its one route.  Other fields of @c
 * are zeroed.
 */
void maq_relay_circuit(const struct maq_relay_setup *r, struct maq_circuit *c);

void maq_relay_setup_wipe(struct maq_relay_setup *r);

#endif /* _MAQUIS_DAEMON_SETUP_H */
