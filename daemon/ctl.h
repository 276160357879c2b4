/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Link control cells (docs/PROTOCOL.md section 7): the cid-0 framing shared
 * by CREATE, CREATED and GOSSIP, and the small wire codecs the daemon's
 * messages have in common (big-endian integers, the 17-byte address).
 *
 * A link control cell is a whole MAQ_CELL_SIZE cell: a struct maq_ctl_hdr in
 * place of cid and seq, then MAQ_CTL_MSG_LEN bytes of message (the body and
 * tag area), padded with random bytes.
 */
#ifndef _MAQUIS_DAEMON_CTL_H
#define _MAQUIS_DAEMON_CTL_H

#include <stdbool.h>

#include "crypto.h"
#include "nl.h"

#define MAQ_CTL_HDR_LEN		MAQ_HDR_LEN			/* 12 */
#define MAQ_CTL_MSG_LEN		(MAQ_BODY_LEN + MAQ_TAG_LEN)	/* 1424 */

static inline void maq_put_be16(u8 *p, u16 v)
{
	p[0] = (u8)(v >> 8);
	p[1] = (u8)v;
}

static inline void maq_put_be32(u8 *p, u32 v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (u8)(v >> (24 - 8 * i));
}

static inline void maq_put_be64(u8 *p, u64 v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (u8)(v >> (56 - 8 * i));
}

static inline u16 maq_get_be16(const u8 *p)
{
	return (u16)(p[0] << 8 | p[1]);
}

static inline u32 maq_get_be32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

static inline u64 maq_get_be64(const u8 *p)
{
	return (u64)maq_get_be32(p) << 32 | maq_get_be32(p + 4);
}

/* True when @len bytes at @p are all zero; not constant time. */
static inline bool maq_all_zero(const u8 *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * The 17-byte wire address of descriptors and routing blocks: u8 family
 * (0 none, 4 IPv4, 6 IPv6) and 16 address bytes.  IPv4 sits in the first 4
 * bytes and the other 12 are zero; family 0 has 16 zero bytes.  The port
 * travels separately.
 */
#define MAQ_WIRE_ADDR_LEN	17
#define MAQ_WIRE_NONE		0
#define MAQ_WIRE_IPV4		4
#define MAQ_WIRE_IPV6		6

/* AF_UNSPEC gives family 0.  -EAFNOSUPPORT for any other family. */
int maq_wire_addr_put(u8 out[MAQ_WIRE_ADDR_LEN], const union maq_sockaddr *a);
/*
 * Family 0 gives AF_UNSPEC (all bytes must be zero).  -EINVAL for an unknown
 * family or non-zero bytes where zeros belong.  @port is host order.
 */
int maq_wire_addr_get(const u8 in[MAQ_WIRE_ADDR_LEN], u16 port,
		      union maq_sockaddr *a);

/* 0.0.0.0 or ::, an address no one can send to. */
bool maq_addr_unspecified(const union maq_sockaddr *a);

/*
 * IPv4 or IPv6, a length the family allows, no bit set beyond it: the one
 * spelling of an inner prefix that the wire formats (routing block,
 * descriptor) and the config accept.
 */
bool maq_prefix_canonical(const struct maq_prefix *p);

/* Write the cid-0 header of a link control cell of @type (enum
 * maq_ctl_type) into @cell.
 */
void maq_ctl_put(u8 cell[MAQ_CELL_SIZE], u8 type, u32 handle);

/*
 * Parse the header of a received cell: 0 and @type, @handle on success,
 * -EMSGSIZE when @len is not MAQ_CELL_SIZE, -EPROTO when cid is not 0, the
 * version is not MAQ_CTL_VERSION or the reserved field is not zero.  The
 * message is then at cell + MAQ_CTL_HDR_LEN, MAQ_CTL_MSG_LEN bytes.
 */
int maq_ctl_get(const u8 *cell, size_t len, u8 *type, u32 *handle);

/*
 * Hop control messages (PROTOCOL 6, 7.3): the MAQUIS_CTL_LEN bytes a
 * circuit carries between the origin and one hop, sealed by the kernel
 * (ctl-send) and delivered as cell-ntf with a hop attribute.
 *
 *   0 u8 type  1 u8 version (1)  2 be16 0  4 be32 0  8 be64 nonce
 *   16 zero (240)
 *
 * DESTROY goes from the origin to a hop; the hop answers DESTROYED with the
 * same nonce once its state is gone, and sends DESTROYED with a fresh nonce
 * on its own when it removes its hop (shutdown, upstream silent).  PING
 * goes from the origin to a hop, which answers PONG with the same nonce
 * (liveness, PROTOCOL 7.5).
 */
#define MAQ_HOPCTL_LEN		256
#define MAQ_HOPCTL_VERSION	1

enum maq_hopctl_type {
	MAQ_HOPCTL_DESTROY	= 1,
	MAQ_HOPCTL_DESTROYED	= 2,
	MAQ_HOPCTL_PING		= 3,
	MAQ_HOPCTL_PONG		= 4,
};

void maq_hopctl_put(u8 msg[MAQ_HOPCTL_LEN], u8 type, u64 nonce);
/* 0, or -EMSGSIZE (not MAQ_HOPCTL_LEN bytes) / -EPROTO (unknown type,
 * version, non-zero reserved or tail).
 */
int maq_hopctl_get(const u8 *msg, size_t len, u8 *type, u64 *nonce);

#endif /* _MAQUIS_DAEMON_CTL_H */
