// SPDX-License-Identifier: GPL-2.0
/*
 * Relay descriptors and gossip messages (see descriptor.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "descriptor.h"

/* Field offsets of the 256-byte descriptor. */
#define D_VERSION	0
#define D_FLAGS		1
#define D_PORT		2
#define D_BANDWIDTH	4
#define D_PUBLISHED	8
#define D_EXPIRES	16
#define D_ADDR1		24
#define D_ADDR2		(D_ADDR1 + MAQ_WIRE_ADDR_LEN)		/* 41 */
#define D_IDENTITY	(D_ADDR2 + MAQ_WIRE_ADDR_LEN)		/* 58 */
#define D_ONION		(D_IDENTITY + MAQ_ID_PK_LEN)		/* 90 */
#define D_FAMILY	(D_ONION + MAQ_ONION_LEN)		/* 122 */
#define D_PFX_FAMILY	(D_FAMILY + MAQ_FAMILY_LEN)		/* 154 */
#define D_PFX_LEN	(D_PFX_FAMILY + 1)			/* 155 */
#define D_PFX_ADDR	(D_PFX_LEN + 1)				/* 156 */
#define D_ZERO		(D_PFX_ADDR + 16)			/* 172 */
#define D_SIG		MAQ_DESC_SIGNED_LEN			/* 192 */

_Static_assert(D_PFX_FAMILY == 154 && D_ZERO == 172, "descriptor layout");
_Static_assert(D_SIG + MAQ_ID_SIG_LEN == MAQ_DESC_LEN, "descriptor size");

static const char *const desc_err_name[MAQ_DESC_N_ERRS] = {
	[MAQ_DESC_OK]			= "ok",
	[MAQ_DESC_TRUNCATED]		= "truncated",
	[MAQ_DESC_OVERSIZED]		= "oversized",
	[MAQ_DESC_BAD_VERSION]		= "bad-version",
	[MAQ_DESC_BAD_FLAGS]		= "bad-flags",
	[MAQ_DESC_BAD_PORT]		= "bad-port",
	[MAQ_DESC_BAD_ADDRESS]		= "bad-address",
	[MAQ_DESC_BAD_PADDING]		= "bad-padding",
	[MAQ_DESC_BAD_ONION_KEY]	= "bad-onion-key",
	[MAQ_DESC_BAD_LIFETIME]		= "bad-lifetime",
	[MAQ_DESC_BAD_PREFIX]		= "bad-prefix",
	[MAQ_DESC_BAD_SIGNATURE]	= "bad-signature",
	[MAQ_DESC_EXPIRED]		= "expired",
	[MAQ_DESC_FUTURE]		= "future",
};

const char *maq_desc_err_name(int err)
{
	if (err < 0 || err >= MAQ_DESC_N_ERRS)
		return "unknown";
	return desc_err_name[err];
}

/*
 * A point of small order would make every circuit through this relay use a
 * shared secret of zero.  X25519 with a clamped scalar (a multiple of the
 * cofactor 8) maps exactly those points to zero, which libsodium reports.
 */
static bool onion_key_ok(const u8 key[MAQ_ONION_LEN])
{
	static const u8 scalar[32] = { 9 };
	u8 out[32];
	int ret;

	ret = crypto_scalarmult(out, scalar, key);
	sodium_memzero(out, sizeof(out));
	return ret == 0;
}

/*
 * The inner prefix at @b (family, length, 16 bytes of address) into @p.
 * One encoding per prefix: no stray host bits, and "none" is all zero, so
 * that equal prefixes are equal bytes and nothing hides in the field.
 */
static bool prefix_get(const u8 *b, struct maq_prefix *p)
{
	u8 family = b[0], len = b[1];
	const u8 *a = b + 2;

	memset(p, 0, sizeof(*p));
	switch (family) {
	case 0:
		return !len && maq_all_zero(a, 16);
	case 4:
		if (!maq_all_zero(a + 4, 12))
			return false;
		p->family = AF_INET;
		memcpy(&p->addr.v4, a, 4);
		break;
	case 6:
		p->family = AF_INET6;
		memcpy(&p->addr.v6, a, 16);
		break;
	default:
		return false;
	}
	p->len = len;
	if (!maq_prefix_canonical(p)) {
		memset(p, 0, sizeof(*p));
		return false;
	}
	return true;
}

/* @p into the 18 bytes at @b; false for what prefix_get() would refuse. */
static bool prefix_put(u8 *b, const struct maq_prefix *p)
{
	memset(b, 0, 18);
	switch (p->family) {
	case 0:
		return !p->len;
	case AF_INET:
		b[0] = 4;
		memcpy(b + 2, &p->addr.v4, 4);
		break;
	case AF_INET6:
		b[0] = 6;
		memcpy(b + 2, &p->addr.v6, 16);
		break;
	default:
		return false;
	}
	b[1] = p->len;
	return true;
}

/*
 * Everything about @b that does not need a key or a clock, filling @d on
 * the way.
 */
static enum maq_desc_err desc_parse(struct maq_desc *d, const u8 *b)
{
	int i;

	memset(d, 0, sizeof(*d));
	d->version = b[D_VERSION];
	if (d->version != MAQ_DESC_VERSION)
		return MAQ_DESC_BAD_VERSION;
	d->flags = b[D_FLAGS];
	if (d->flags & ~MAQ_DESC_F_ALL)
		return MAQ_DESC_BAD_FLAGS;
	d->port = maq_get_be16(b + D_PORT);
	if (!d->port)
		return MAQ_DESC_BAD_PORT;
	d->bandwidth = maq_get_be32(b + D_BANDWIDTH);
	d->published = maq_get_be64(b + D_PUBLISHED);
	d->expires = maq_get_be64(b + D_EXPIRES);
	for (i = 0; i < 2; i++) {
		if (maq_wire_addr_get(b + D_ADDR1 + i * MAQ_WIRE_ADDR_LEN,
				      d->port, &d->addr[i]) ||
		    maq_addr_unspecified(&d->addr[i]))
			return MAQ_DESC_BAD_ADDRESS;
	}
	if (d->addr[0].sa.sa_family == AF_UNSPEC)
		return MAQ_DESC_BAD_ADDRESS;
	memcpy(d->identity, b + D_IDENTITY, MAQ_ID_PK_LEN);
	memcpy(d->onion_key, b + D_ONION, MAQ_ONION_LEN);
	memcpy(d->family, b + D_FAMILY, MAQ_FAMILY_LEN);
	if (!maq_all_zero(b + D_ZERO, D_SIG - D_ZERO))
		return MAQ_DESC_BAD_PADDING;
	if (!onion_key_ok(d->onion_key))
		return MAQ_DESC_BAD_ONION_KEY;
	if (d->expires <= d->published ||
	    d->expires - d->published > MAQ_DESC_MAX_LIFE)
		return MAQ_DESC_BAD_LIFETIME;
	if (!prefix_get(b + D_PFX_FAMILY, &d->prefix))
		return MAQ_DESC_BAD_PREFIX;
	return MAQ_DESC_OK;
}

enum maq_desc_err maq_desc_encode(u8 out[MAQ_DESC_LEN],
				  const struct maq_desc *d,
				  const struct maq_identity *id)
{
	struct maq_desc check;
	enum maq_desc_err err;
	int i;

	memset(out, 0, MAQ_DESC_LEN);
	out[D_VERSION] = d->version;
	out[D_FLAGS] = d->flags;
	maq_put_be16(out + D_PORT, d->port);
	maq_put_be32(out + D_BANDWIDTH, d->bandwidth);
	maq_put_be64(out + D_PUBLISHED, d->published);
	maq_put_be64(out + D_EXPIRES, d->expires);
	for (i = 0; i < 2; i++) {
		if (maq_wire_addr_put(out + D_ADDR1 + i * MAQ_WIRE_ADDR_LEN,
				      &d->addr[i])) {
			memset(out, 0, MAQ_DESC_LEN);
			return MAQ_DESC_BAD_ADDRESS;
		}
	}
	memcpy(out + D_IDENTITY, id->pk, MAQ_ID_PK_LEN);
	memcpy(out + D_ONION, d->onion_key, MAQ_ONION_LEN);
	memcpy(out + D_FAMILY, d->family, MAQ_FAMILY_LEN);
	if (!prefix_put(out + D_PFX_FAMILY, &d->prefix)) {
		memset(out, 0, MAQ_DESC_LEN);
		return MAQ_DESC_BAD_PREFIX;
	}

	/* Never sign what a peer would refuse. */
	err = desc_parse(&check, out);
	if (err) {
		memset(out, 0, MAQ_DESC_LEN);
		return err;
	}
	crypto_sign_detached(out + D_SIG, NULL, out, MAQ_DESC_SIGNED_LEN,
			     id->sk);
	return MAQ_DESC_OK;
}

enum maq_desc_err maq_desc_decode(struct maq_desc *d, const u8 *buf,
				  size_t len, u64 now)
{
	enum maq_desc_err err;

	memset(d, 0, sizeof(*d));
	if (len < MAQ_DESC_LEN)
		return MAQ_DESC_TRUNCATED;
	if (len > MAQ_DESC_LEN)
		return MAQ_DESC_OVERSIZED;
	err = desc_parse(d, buf);
	if (!err && crypto_sign_verify_detached(buf + D_SIG, buf,
						MAQ_DESC_SIGNED_LEN,
						buf + D_IDENTITY))
		err = MAQ_DESC_BAD_SIGNATURE;
	/* only a genuine descriptor is worth judging by the clock */
	if (!err && now >= d->expires)
		err = MAQ_DESC_EXPIRED;
	if (!err && d->published > now &&
	    d->published - now > MAQ_DESC_MAX_SKEW)
		err = MAQ_DESC_FUTURE;
	if (err)
		memset(d, 0, sizeof(*d));
	return err;
}

static bool same_net(const union maq_sockaddr *a, const union maq_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)		/* /16 */
		return !memcmp(&a->in4.sin_addr, &b->in4.sin_addr, 2);
	if (a->sa.sa_family == AF_INET6)	/* /32 */
		return !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 4);
	return false;
}

bool maq_desc_related(const struct maq_desc *a, const struct maq_desc *b)
{
	int i, j;

	if (!memcmp(a->identity, b->identity, MAQ_ID_PK_LEN))
		return true;
	if (!maq_all_zero(a->family, MAQ_FAMILY_LEN) &&
	    !memcmp(a->family, b->family, MAQ_FAMILY_LEN))
		return true;
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++)
			if (same_net(&a->addr[i], &b->addr[j]))
				return true;
	return false;
}

/* --- gossip ------------------------------------------------------------ */

/* Offsets in the message (the cell after its control header). */
#define G_KIND		0
#define G_COUNT		1
#define G_RESERVED	2
#define G_LO		MAQ_GOSSIP_HDR_LEN
#define G_HI		(G_LO + 8)
#define G_ENTRIES	(MAQ_GOSSIP_HDR_LEN + MAQ_GOSSIP_RANGE_LEN)
#define G_DESCS		MAQ_GOSSIP_HDR_LEN

static const char *const gossip_err_name[MAQ_GOSSIP_N_ERRS] = {
	[MAQ_GOSSIP_OK]			= "ok",
	[MAQ_GOSSIP_TRUNCATED]		= "truncated",
	[MAQ_GOSSIP_OVERSIZED]		= "oversized",
	[MAQ_GOSSIP_BAD_HEADER]		= "bad-header",
	[MAQ_GOSSIP_NOT_GOSSIP]		= "not-gossip",
	[MAQ_GOSSIP_BAD_KIND]		= "bad-kind",
	[MAQ_GOSSIP_BAD_COUNT]		= "bad-count",
	[MAQ_GOSSIP_BAD_RESERVED]	= "bad-reserved",
	[MAQ_GOSSIP_BAD_RANGE]		= "bad-range",
	[MAQ_GOSSIP_UNSORTED]		= "unsorted",
};

const char *maq_gossip_err_name(int err)
{
	if (err < 0 || err >= MAQ_GOSSIP_N_ERRS)
		return "unknown";
	return gossip_err_name[err];
}

static int entry_cmp(const void *a, const void *b)
{
	const struct maq_digest_entry *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->published != y->published)
		return x->published < y->published ? -1 : 1;
	return 0;
}

/* Header, message header, and random padding after @used message bytes:
 * the padding keeps every cell the same random-looking size on the wire.
 */
static u8 *gossip_start(u8 cell[MAQ_CELL_SIZE], u32 handle, u8 kind,
			unsigned int count)
{
	u8 *m = cell + MAQ_CTL_HDR_LEN;

	maq_ctl_put(cell, MAQ_CTL_GOSSIP, handle);
	randombytes_buf(m, MAQ_CTL_MSG_LEN);
	m[G_KIND] = kind;
	m[G_COUNT] = (u8)count;
	maq_put_be16(m + G_RESERVED, 0);
	return m;
}

int maq_gossip_digest_encode(u8 cell[MAQ_CELL_SIZE], u32 handle, u64 lo,
			     u64 hi, const struct maq_digest_entry *e,
			     unsigned int n)
{
	struct maq_digest_entry sorted[MAQ_DIGEST_MAX];
	unsigned int i;
	u8 *m;

	if (n > MAQ_DIGEST_MAX || lo > hi || (n && !e))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (e[i].id < lo || e[i].id > hi)
			return -EINVAL;
	if (n) {
		memcpy(sorted, e, n * sizeof(*e));
		qsort(sorted, n, sizeof(*sorted), entry_cmp);
	}
	m = gossip_start(cell, handle, MAQ_GOSSIP_DIGEST, n);
	maq_put_be64(m + G_LO, lo);
	maq_put_be64(m + G_HI, hi);
	for (i = 0; i < n; i++) {
		u8 *p = m + G_ENTRIES + i * MAQ_DIGEST_ENTRY_LEN;

		maq_put_be64(p, sorted[i].id);
		maq_put_be64(p + 8, sorted[i].published);
	}
	return 0;
}

int maq_gossip_push_encode(u8 cell[MAQ_CELL_SIZE], u32 handle,
			   const u8 (*desc)[MAQ_DESC_LEN], unsigned int n)
{
	unsigned int i;
	u8 *m;

	if (!n || n > MAQ_PUSH_MAX || !desc)
		return -EINVAL;
	m = gossip_start(cell, handle, MAQ_GOSSIP_PUSH, n);
	for (i = 0; i < n; i++)
		memcpy(m + G_DESCS + i * MAQ_DESC_LEN, desc[i], MAQ_DESC_LEN);
	return 0;
}

static enum maq_gossip_err digest_decode(struct maq_gossip *g, const u8 *m)
{
	unsigned int i;

	if (g->count > MAQ_DIGEST_MAX)
		return MAQ_GOSSIP_BAD_COUNT;
	g->lo = maq_get_be64(m + G_LO);
	g->hi = maq_get_be64(m + G_HI);
	if (g->lo > g->hi)
		return MAQ_GOSSIP_BAD_RANGE;
	for (i = 0; i < g->count; i++) {
		const u8 *p = m + G_ENTRIES + i * MAQ_DIGEST_ENTRY_LEN;
		struct maq_digest_entry *e = &g->entry[i];

		e->id = maq_get_be64(p);
		e->published = maq_get_be64(p + 8);
		if (e->id < g->lo || e->id > g->hi)
			return MAQ_GOSSIP_BAD_RANGE;
		/* sorted lets the receiver merge against its own view */
		if (i && entry_cmp(&g->entry[i - 1], e) > 0)
			return MAQ_GOSSIP_UNSORTED;
	}
	return MAQ_GOSSIP_OK;
}

enum maq_gossip_err maq_gossip_decode(struct maq_gossip *g, const u8 *cell,
				      size_t len)
{
	enum maq_gossip_err err = MAQ_GOSSIP_OK;
	unsigned int i;
	const u8 *m;
	u32 handle;
	u8 type;

	memset(g, 0, sizeof(*g));
	if (len < MAQ_CELL_SIZE)
		return MAQ_GOSSIP_TRUNCATED;
	if (len > MAQ_CELL_SIZE)
		return MAQ_GOSSIP_OVERSIZED;
	if (maq_ctl_get(cell, len, &type, &handle))
		return MAQ_GOSSIP_BAD_HEADER;
	/* refused means zeroed, the handle of another type's cell too */
	if (type != MAQ_CTL_GOSSIP)
		return MAQ_GOSSIP_NOT_GOSSIP;
	g->handle = handle;
	m = cell + MAQ_CTL_HDR_LEN;
	g->kind = m[G_KIND];
	g->count = m[G_COUNT];
	if (maq_get_be16(m + G_RESERVED)) {
		err = MAQ_GOSSIP_BAD_RESERVED;
	} else if (g->kind == MAQ_GOSSIP_DIGEST) {
		err = digest_decode(g, m);
	} else if (g->kind == MAQ_GOSSIP_PUSH) {
		if (!g->count || g->count > MAQ_PUSH_MAX)
			err = MAQ_GOSSIP_BAD_COUNT;
		for (i = 0; !err && i < g->count; i++)
			memcpy(g->desc[i], m + G_DESCS + i * MAQ_DESC_LEN,
			       MAQ_DESC_LEN);
	} else {
		err = MAQ_GOSSIP_BAD_KIND;
	}
	if (err)
		memset(g, 0, sizeof(*g));
	return err;
}
