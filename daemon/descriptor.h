/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Relay descriptors and gossip messages, docs/PROTOCOL.md section 8.
 *
 * A descriptor is 256 bytes, signed by the Ed25519 identity it carries:
 *
 *   0   u8 version (1)          1  u8 flags           2  be16 port
 *   4   be32 bandwidth (kB/s)   8  be64 published     16 be64 expires
 *   24  address 1 (17 bytes)    41 address 2 (17)     58 identity (32)
 *   90  onion key (32)          122 family id (32)
 *   154 u8 prefix family (0, 4, 6)   155 u8 prefix length
 *   156 prefix address (16)     172 zero (20)
 *   192 Ed25519 signature over bytes 0..192 (64)
 *
 * The prefix is the inner (maq0) prefix the host terminates circuits for,
 * so that an origin can find the terminus of a destination.  Times are
 * seconds since the Unix epoch.  Decoding checks, in this order, the
 * length, the structure (version, flags, port, addresses, zeros, onion key,
 * expires - published, prefix), the signature, and last the clock (expired,
 * published in the future): so a stale but genuine descriptor counts as
 * "expired" and any forgery as "bad-signature".
 *
 * Gossip messages are the body of a GOSSIP link control cell (ctl.h):
 *
 *   digest: u8 kind = 1, u8 count, be16 0, be64 lo, be64 hi,
 *           count x (identity[0..8) || be64 published), ascending
 *   push:   u8 kind = 2, u8 count (1..5), be16 0, count x descriptor
 *
 * then random padding to the end of the cell.  A digest lists every
 * descriptor its sender holds whose identity prefix (as a be64) lies in
 * [lo, hi]; a view larger than one cell is sent as several ranges.
 */
#ifndef _MAQUIS_DAEMON_DESCRIPTOR_H
#define _MAQUIS_DAEMON_DESCRIPTOR_H

#include <stdbool.h>

#include "ctl.h"
#include "keys.h"

#define MAQ_DESC_LEN		256
#define MAQ_DESC_SIGNED_LEN	192
#define MAQ_DESC_VERSION	1
#define MAQ_DESC_MAX_LIFE	(24 * 3600)	/* expires - published */
#define MAQ_DESC_MAX_SKEW	300		/* published - now */
#define MAQ_FAMILY_LEN		32

enum {
	MAQ_DESC_F_RELAY	= 1 << 0,
	MAQ_DESC_F_EXIT		= 1 << 1,
	MAQ_DESC_F_ALL		= 0x03,
};

/*
 * A decoded descriptor.  addr[i] carries the descriptor's port;
 * sa_family AF_UNSPEC means "none".  Address 1 must be present.
 */
struct maq_desc {
	u8 version;
	u8 flags;			/* MAQ_DESC_F_* */
	u16 port;
	u32 bandwidth;			/* kB/s */
	u64 published;
	u64 expires;
	union maq_sockaddr addr[2];
	u8 identity[MAQ_ID_PK_LEN];
	u8 onion_key[MAQ_ONION_LEN];
	u8 family[MAQ_FAMILY_LEN];	/* zero: none */
	/*
	 * Inner prefix served; family 0: none (then all zero), else AF_INET
	 * or AF_INET6 with no bit set beyond len.
	 */
	struct maq_prefix prefix;
};

/* Why a descriptor was refused: the index of a counter. */
enum maq_desc_err {
	MAQ_DESC_OK,
	MAQ_DESC_TRUNCATED,
	MAQ_DESC_OVERSIZED,
	MAQ_DESC_BAD_VERSION,
	MAQ_DESC_BAD_FLAGS,
	MAQ_DESC_BAD_PORT,
	MAQ_DESC_BAD_ADDRESS,
	MAQ_DESC_BAD_PADDING,
	MAQ_DESC_BAD_ONION_KEY,
	MAQ_DESC_BAD_LIFETIME,
	MAQ_DESC_BAD_PREFIX,
	MAQ_DESC_BAD_SIGNATURE,
	MAQ_DESC_EXPIRED,
	MAQ_DESC_FUTURE,
	MAQ_DESC_N_ERRS,
};

/* "ok", "truncated", ..., "future"; "unknown" out of range. */
const char *maq_desc_err_name(int err);

/*
 * Encode and sign @d with @id (its identity field is taken from @id->pk,
 * d->identity is ignored; address ports are ignored, d->port is used).
 * Returns MAQ_DESC_OK, or the structural reason a decoder would refuse the
 * result for (then @out is zeroed).
 */
enum maq_desc_err maq_desc_encode(u8 out[MAQ_DESC_LEN],
				  const struct maq_desc *d,
				  const struct maq_identity *id);

/*
 * Decode and verify @len bytes at @buf at time @now.  On MAQ_DESC_OK @d is
 * filled; otherwise it is zeroed.
 */
enum maq_desc_err maq_desc_decode(struct maq_desc *d, const u8 *buf,
				  size_t len, u64 now);

/*
 * Path selection (PROTOCOL 10): true when @a and @b must not share a
 * circuit: same identity, same non-zero family id, or an address of each in
 * one IPv4 /16 or one IPv6 /32.
 */
bool maq_desc_related(const struct maq_desc *a, const struct maq_desc *b);

/* --- gossip ------------------------------------------------------------ */

#define MAQ_GOSSIP_DIGEST	1
#define MAQ_GOSSIP_PUSH		2
#define MAQ_GOSSIP_HDR_LEN	4
#define MAQ_GOSSIP_RANGE_LEN	16
#define MAQ_DIGEST_ENTRY_LEN	16
#define MAQ_DIGEST_MAX		((MAQ_CTL_MSG_LEN - MAQ_GOSSIP_HDR_LEN - \
				  MAQ_GOSSIP_RANGE_LEN) / MAQ_DIGEST_ENTRY_LEN)
#define MAQ_PUSH_MAX		5

_Static_assert(MAQ_DIGEST_MAX == 87, "digest entries a cell");
_Static_assert(MAQ_GOSSIP_HDR_LEN + MAQ_PUSH_MAX * MAQ_DESC_LEN <=
	       MAQ_CTL_MSG_LEN, "push fits a cell");

struct maq_digest_entry {
	u64 id;				/* identity[0..8) as a be64 */
	u64 published;
};

/* Identity prefix of a descriptor or public key, as digests carry it. */
static inline u64 maq_digest_id(const u8 identity[MAQ_ID_PK_LEN])
{
	return maq_get_be64(identity);
}

/* A decoded gossip cell. */
struct maq_gossip {
	u32 handle;
	u8 kind;			/* MAQ_GOSSIP_* */
	unsigned int count;
	/* digest */
	u64 lo, hi;
	struct maq_digest_entry entry[MAQ_DIGEST_MAX];
	/* push: the descriptors, still to be checked with maq_desc_decode() */
	u8 desc[MAQ_PUSH_MAX][MAQ_DESC_LEN];
};

enum maq_gossip_err {
	MAQ_GOSSIP_OK,
	MAQ_GOSSIP_TRUNCATED,
	MAQ_GOSSIP_OVERSIZED,
	MAQ_GOSSIP_BAD_HEADER,		/* cid not 0, version, reserved */
	MAQ_GOSSIP_NOT_GOSSIP,		/* another control type */
	MAQ_GOSSIP_BAD_KIND,
	MAQ_GOSSIP_BAD_COUNT,
	MAQ_GOSSIP_BAD_RESERVED,
	MAQ_GOSSIP_BAD_RANGE,		/* lo > hi, or an entry outside */
	MAQ_GOSSIP_UNSORTED,
	MAQ_GOSSIP_N_ERRS,
};

const char *maq_gossip_err_name(int err);

/*
 * A whole GOSSIP cell.  The digest's entries are sorted on the way (by id,
 * then published); -EINVAL when @n > MAQ_DIGEST_MAX, lo > hi or an entry
 * lies outside [lo, hi].  The push takes 1..MAQ_PUSH_MAX encoded
 * descriptors (not checked: relaying what others signed is the point).
 */
int maq_gossip_digest_encode(u8 cell[MAQ_CELL_SIZE], u32 handle, u64 lo,
			     u64 hi, const struct maq_digest_entry *e,
			     unsigned int n);
int maq_gossip_push_encode(u8 cell[MAQ_CELL_SIZE], u32 handle,
			   const u8 (*desc)[MAQ_DESC_LEN], unsigned int n);

/* Parse a received cell of @len bytes; on error @g is zeroed. */
enum maq_gossip_err maq_gossip_decode(struct maq_gossip *g, const u8 *cell,
				      size_t len);

#endif /* _MAQUIS_DAEMON_DESCRIPTOR_H */
