// SPDX-License-Identifier: GPL-2.0
/*
 * Link control cell framing and shared wire codecs (see ctl.h).
 */
#include <errno.h>
#include <string.h>

#include "ctl.h"

int maq_wire_addr_put(u8 out[MAQ_WIRE_ADDR_LEN], const union maq_sockaddr *a)
{
	memset(out, 0, MAQ_WIRE_ADDR_LEN);
	switch (a->sa.sa_family) {
	case AF_UNSPEC:
		return 0;
	case AF_INET:
		out[0] = MAQ_WIRE_IPV4;
		memcpy(out + 1, &a->in4.sin_addr, 4);
		return 0;
	case AF_INET6:
		out[0] = MAQ_WIRE_IPV6;
		memcpy(out + 1, &a->in6.sin6_addr, 16);
		return 0;
	}
	return -EAFNOSUPPORT;
}

int maq_wire_addr_get(const u8 in[MAQ_WIRE_ADDR_LEN], u16 port,
		      union maq_sockaddr *a)
{
	memset(a, 0, sizeof(*a));
	switch (in[0]) {
	case MAQ_WIRE_NONE:
		/* zeros only: a descriptor has exactly one encoding */
		return maq_all_zero(in + 1, 16) ? 0 : -EINVAL;
	case MAQ_WIRE_IPV4:
		if (!maq_all_zero(in + 5, 12))
			return -EINVAL;
		a->in4.sin_family = AF_INET;
		a->in4.sin_port = htons(port);
		memcpy(&a->in4.sin_addr, in + 1, 4);
		return 0;
	case MAQ_WIRE_IPV6:
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons(port);
		memcpy(&a->in6.sin6_addr, in + 1, 16);
		return 0;
	}
	return -EINVAL;
}

bool maq_addr_unspecified(const union maq_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET)
		return !a->in4.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return maq_all_zero(a->in6.sin6_addr.s6_addr, 16);
	return false;
}

bool maq_prefix_canonical(const struct maq_prefix *p)
{
	const u8 *a = p->family == AF_INET ?
		      (const u8 *)&p->addr.v4 : p->addr.v6.s6_addr;
	unsigned int bytes = p->family == AF_INET ? 4 : 16, i = p->len / 8;

	if ((p->family != AF_INET && p->family != AF_INET6) ||
	    p->len > bytes * 8)
		return false;
	if (p->len % 8 && a[i++] & (0xff >> (p->len % 8)))
		return false;
	for (; i < bytes; i++)
		if (a[i])
			return false;
	return true;
}

void maq_ctl_put(u8 cell[MAQ_CELL_SIZE], u8 type, u32 handle)
{
	memset(cell, 0, MAQ_CTL_HDR_LEN);
	cell[4] = type;
	cell[5] = MAQ_CTL_VERSION;
	maq_put_be32(cell + 8, handle);
}

int maq_ctl_get(const u8 *cell, size_t len, u8 *type, u32 *handle)
{
	if (len != MAQ_CELL_SIZE)
		return -EMSGSIZE;
	if (maq_get_be32(cell) || cell[5] != MAQ_CTL_VERSION ||
	    maq_get_be16(cell + 6))
		return -EPROTO;
	*type = cell[4];
	*handle = maq_get_be32(cell + 8);
	return 0;
}

_Static_assert(MAQ_HOPCTL_LEN == MAQUIS_CTL_LEN, "one hop control size");

void maq_hopctl_put(u8 msg[MAQ_HOPCTL_LEN], u8 type, u64 nonce)
{
	memset(msg, 0, MAQ_HOPCTL_LEN);
	msg[0] = type;
	msg[1] = MAQ_HOPCTL_VERSION;
	maq_put_be64(msg + 8, nonce);
}

int maq_hopctl_get(const u8 *msg, size_t len, u8 *type, u64 *nonce)
{
	if (len != MAQ_HOPCTL_LEN)
		return -EMSGSIZE;
	if (msg[1] != MAQ_HOPCTL_VERSION || !maq_all_zero(msg + 2, 6) ||
	    !maq_all_zero(msg + 16, MAQ_HOPCTL_LEN - 16))
		return -EPROTO;
	if (msg[0] < MAQ_HOPCTL_DESTROY || msg[0] > MAQ_HOPCTL_PONG)
		return -EPROTO;
	*type = msg[0];
	*nonce = maq_get_be64(msg + 8);
	return 0;
}
