// SPDX-License-Identifier: GPL-2.0
/*
 * A daemon's view of the network: descriptor store, gossip digests and
 * path selection (see view.h, docs/PROTOCOL.md sections 8 and 10).
 *
 * The store is one array sorted by identity.  Comparing whole identities
 * with memcmp() orders them by their 8-byte digest prefix first (it is
 * their first 8 bytes, big endian), so digests walk the array in order.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "view.h"

/* Random picks before path selection gives up (see view.h). */
#define PATH_TRIES	16

void maq_view_init(struct maq_view *v, const u8 self[MAQ_ID_PK_LEN])
{
	memset(v, 0, sizeof(*v));
	if (self)
		memcpy(v->self, self, MAQ_ID_PK_LEN);
}

void maq_view_free(struct maq_view *v)
{
	free(v->relay);
	v->relay = NULL;
	v->n = 0;
	v->cap = 0;
	free(v->trust);
	v->trust = NULL;
	v->n_trust = 0;
	v->cap_trust = 0;
}

static u64 relay_id(const struct maq_relay *r)
{
	return maq_digest_id(r->d.identity);
}

static bool is_self(const struct maq_view *v, const u8 id[MAQ_ID_PK_LEN])
{
	return !memcmp(v->self, id, MAQ_ID_PK_LEN);
}

/* First index whose identity is >= @id. */
static size_t lower_bound(const struct maq_view *v, const u8 id[MAQ_ID_PK_LEN])
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(v->relay[mid].d.identity, id, MAQ_ID_PK_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First index whose digest prefix is >= @x. */
static size_t lower_bound_id(const struct maq_view *v, u64 x)
{
	u8 key[MAQ_ID_PK_LEN] = { 0 };

	maq_put_be64(key, x);
	return lower_bound(v, key);
}

const struct maq_relay *maq_view_find(const struct maq_view *v,
				      const u8 id[MAQ_ID_PK_LEN])
{
	size_t i = lower_bound(v, id);

	if (i < v->n && !memcmp(v->relay[i].d.identity, id, MAQ_ID_PK_LEN))
		return &v->relay[i];
	return NULL;
}

/* How many identities held share the digest prefix of @id. */
static size_t prefix_count(const struct maq_view *v,
			   const u8 id[MAQ_ID_PK_LEN])
{
	u64 x = maq_digest_id(id);
	size_t i, n = 0;

	for (i = lower_bound_id(v, x); i < v->n && relay_id(&v->relay[i]) == x;
	     i++)
		n++;
	return n;
}

static bool grow(struct maq_view *v)
{
	size_t cap = v->cap ? v->cap * 2 : 64;
	struct maq_relay *r;

	if (cap > MAQ_VIEW_MAX)
		cap = MAQ_VIEW_MAX;
	r = realloc(v->relay, cap * sizeof(*r));
	if (!r)
		return false;
	v->relay = r;
	v->cap = cap;
	return true;
}

enum maq_desc_err maq_view_offer(struct maq_view *v, const u8 *raw,
				 size_t len, u64 now, bool *changed)
{
	enum maq_desc_err err;
	struct maq_relay *r;
	struct maq_desc d;
	size_t i;

	if (changed)
		*changed = false;
	err = maq_desc_decode(&d, raw, len, now);
	if (err) {
		v->rejected[err]++;
		return err;
	}
	i = lower_bound(v, d.identity);
	if (i < v->n &&
	    !memcmp(v->relay[i].d.identity, d.identity, MAQ_ID_PK_LEN)) {
		if (d.published <= v->relay[i].d.published) {
			v->stale++;
			return MAQ_DESC_OK;
		}
		v->updated++;
	} else {
		if (prefix_count(v, d.identity) >= MAQ_DIGEST_MAX) {
			v->crowded++;
			return MAQ_DESC_OK;
		}
		if (v->n >= MAQ_VIEW_MAX ||
		    (v->n == v->cap && !grow(v))) {
			v->full++;
			return MAQ_DESC_OK;
		}
		memmove(&v->relay[i + 1], &v->relay[i],
			(v->n - i) * sizeof(v->relay[0]));
		v->n++;
		v->accepted++;
	}
	r = &v->relay[i];
	r->d = d;
	memcpy(r->raw, raw, MAQ_DESC_LEN);
	r->received = now;
	if (changed)
		*changed = true;
	return MAQ_DESC_OK;
}

size_t maq_view_expire(struct maq_view *v, u64 now)
{
	size_t i, kept = 0, gone;

	for (i = 0; i < v->n; i++) {
		if (now >= v->relay[i].d.expires)
			continue;
		if (kept != i)
			v->relay[kept] = v->relay[i];
		kept++;
	}
	gone = v->n - kept;
	v->n = kept;
	v->expired += gone;
	return gone;
}

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Order of @id against the hex prefix @nib (@n nibbles): <0, 0, >0. */
static int cmp_nibbles(const u8 id[MAQ_ID_PK_LEN], const u8 *nib, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		u8 have = i % 2 ? id[i / 2] & 0xf : id[i / 2] >> 4;

		if (have != nib[i])
			return have < nib[i] ? -1 : 1;
	}
	return 0;
}

static const struct maq_relay *lookup_hex(const struct maq_view *v,
					  const u8 *nib, size_t n)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_nibbles(v->relay[mid].d.identity, nib, n) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= v->n || cmp_nibbles(v->relay[lo].d.identity, nib, n)) {
		errno = ENOENT;
		return NULL;
	}
	if (lo + 1 < v->n &&
	    !cmp_nibbles(v->relay[lo + 1].d.identity, nib, n)) {
		errno = EEXIST;
		return NULL;
	}
	return &v->relay[lo];
}

const struct maq_relay *maq_view_lookup(const struct maq_view *v,
					const char *name)
{
	u8 nib[2 * MAQ_ID_PK_LEN], id[MAQ_ID_PK_LEN];
	const struct maq_relay *r;
	size_t len, i, idlen;
	const char *end;

	len = name ? strlen(name) : 0;
	for (i = 0; i < len && i < sizeof(nib); i++) {
		int x = hex_nibble(name[i]);

		if (x < 0)
			break;
		nib[i] = (u8)x;
	}
	if (i == len && len >= 8)
		return lookup_hex(v, nib, len);

	/* as `maquis pubkey` prints it: standard alphabet, padded */
	if (!len || sodium_base642bin(id, sizeof(id), name, len, NULL, &idlen,
				      &end, sodium_base64_VARIANT_ORIGINAL) ||
	    idlen != sizeof(id) || *end) {
		errno = EINVAL;
		return NULL;
	}
	r = maq_view_find(v, id);
	if (!r)
		errno = ENOENT;
	return r;
}

/* The first @len bits of @a and @b are equal. */
static bool bits_equal(const u8 *a, const u8 *b, unsigned int len)
{
	unsigned int n = len / 8;
	u8 mask;

	if (memcmp(a, b, n))
		return false;
	if (!(len % 8))
		return true;
	mask = (u8)(0xff << (8 - len % 8));
	return !((a[n] ^ b[n]) & mask);
}

static bool prefix_contains(const struct maq_prefix *p,
			    const struct maq_prefix *dst)
{
	if (p->family != dst->family || p->len > dst->len)
		return false;
	return bits_equal((const u8 *)&p->addr, (const u8 *)&dst->addr,
			  p->len);
}

const struct maq_relay *maq_view_serving(const struct maq_view *v,
					 const struct maq_prefix *dst)
{
	const struct maq_relay *best = NULL;
	size_t i;

	if (!dst || (dst->family != AF_INET && dst->family != AF_INET6) ||
	    dst->len > (dst->family == AF_INET ? 32 : 128)) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < v->n; i++) {
		const struct maq_relay *r = &v->relay[i];

		if (!r->d.prefix.family || is_self(v, r->d.identity) ||
		    !prefix_contains(&r->d.prefix, dst))
			continue;
		if (!best || r->d.prefix.len > best->d.prefix.len ||
		    (r->d.prefix.len == best->d.prefix.len &&
		     r->d.published > best->d.published))
			best = r;
	}
	if (!best)
		errno = ENOENT;
	return best;
}

/* --- gossip ------------------------------------------------------------ */

/* Entries [s, e) of @v as one digest of [lo, hi], cell @k if it fits. */
static void digest_put(const struct maq_view *v, size_t s, size_t e, u64 lo,
		       u64 hi, u8 (*cells)[MAQ_CELL_SIZE], unsigned int k,
		       unsigned int max, u32 handle)
{
	struct maq_digest_entry ent[MAQ_DIGEST_MAX];
	size_t i;

	if (k >= max)
		return;
	for (i = s; i < e; i++) {
		ent[i - s].id = relay_id(&v->relay[i]);
		ent[i - s].published = v->relay[i].d.published;
	}
	/* cannot fail: e - s <= MAQ_DIGEST_MAX, entries within [lo, hi] */
	maq_gossip_digest_encode(cells[k], handle, lo, hi, ent,
				 (unsigned int)(e - s));
}

unsigned int maq_view_digests_range(const struct maq_view *v, u64 lo,
				    u64 hi, u8 (*cells)[MAQ_CELL_SIZE],
				    unsigned int max, u32 handle)
{
	size_t s, e, end;
	unsigned int k = 0;
	u64 x;

	if (lo > hi)
		return 0;
	s = lower_bound_id(v, lo);
	end = hi == ~0ULL ? v->n : lower_bound_id(v, hi + 1);
	while (end - s > MAQ_DIGEST_MAX) {
		e = s + MAQ_DIGEST_MAX;
		/* end the range before the run of prefixes entry e is in */
		x = relay_id(&v->relay[e]);
		while (e > s && relay_id(&v->relay[e - 1]) == x)
			e--;
		if (e == s) {
			/*
			 * More than MAQ_DIGEST_MAX identities of one prefix,
			 * which maq_view_offer() refuses: list the first ones
			 * alone and skip the rest rather than split a prefix.
			 */
			digest_put(v, s, s + MAQ_DIGEST_MAX, lo, x, cells, k++,
				   max, handle);
			while (s < end && relay_id(&v->relay[s]) == x)
				s++;
			if (x == hi)
				return k;
			lo = x + 1;
			continue;
		}
		digest_put(v, s, e, lo, x - 1, cells, k++, max, handle);
		lo = x;
		s = e;
	}
	digest_put(v, s, end, lo, hi, cells, k++, max, handle);
	return k;
}

unsigned int maq_view_digests(const struct maq_view *v,
			      u8 (*cells)[MAQ_CELL_SIZE], unsigned int max,
			      u32 handle)
{
	return maq_view_digests_range(v, 0, ~0ULL, cells, max, handle);
}

/*
 * One prefix at a time over both sides of a digest: our relays [i0, i1)
 * and the digest's entries [a0, a1), all with prefix x.
 */
struct merge {
	const struct maq_view *v;
	const struct maq_gossip *g;
	size_t i0, i1;
	unsigned int a0, a1;
};

static void merge_start(struct merge *m, const struct maq_view *v,
			const struct maq_gossip *g)
{
	m->v = v;
	m->g = g;
	m->i1 = lower_bound_id(v, g->lo);
	m->a1 = 0;
}

static bool merge_next(struct merge *m)
{
	const struct maq_view *v = m->v;
	const struct maq_gossip *g = m->g;
	bool ours, theirs;
	u64 x = ~0ULL;

	m->i0 = m->i1;
	m->a0 = m->a1;
	ours = m->i0 < v->n && relay_id(&v->relay[m->i0]) <= g->hi;
	theirs = m->a0 < g->count;
	if (!ours && !theirs)
		return false;
	if (ours)
		x = relay_id(&v->relay[m->i0]);
	if (theirs && g->entry[m->a0].id < x)
		x = g->entry[m->a0].id;
	while (m->i1 < v->n && relay_id(&v->relay[m->i1]) == x)
		m->i1++;
	while (m->a1 < g->count && g->entry[m->a1].id == x)
		m->a1++;
	return true;
}

/* The digest lists (x, @published) in the current group. */
static bool merge_listed(const struct merge *m, u64 published)
{
	unsigned int a;

	for (a = m->a0; a < m->a1; a++)
		if (m->g->entry[a].published == published)
			return true;
	return false;
}

/* We hold (x, @published) in the current group. */
static bool merge_held(const struct merge *m, u64 published)
{
	size_t i;

	for (i = m->i0; i < m->i1; i++)
		if (m->v->relay[i].d.published == published)
			return true;
	return false;
}

/* One identity per prefix on both sides: the usual case, no ambiguity. */
static bool merge_single(const struct merge *m)
{
	return m->i1 - m->i0 <= 1 && m->a1 - m->a0 <= 1;
}

unsigned int maq_view_answer(const struct maq_view *v,
			     const struct maq_gossip *g,
			     const struct maq_relay **out, unsigned int max)
{
	unsigned int n = 0;
	struct merge m;
	size_t i;

	if (g->kind != MAQ_GOSSIP_DIGEST)
		return 0;
	merge_start(&m, v, g);
	while (merge_next(&m)) {
		for (i = m.i0; i < m.i1; i++) {
			const struct maq_relay *r = &v->relay[i];
			bool push;

			if (merge_single(&m))
				push = m.a0 == m.a1 ||
				       g->entry[m.a0].published <
				       r->d.published;
			else
				push = !merge_listed(&m, r->d.published);
			if (!push)
				continue;
			if (n < max)
				out[n] = r;
			n++;
		}
	}
	return n;
}

bool maq_view_behind(const struct maq_view *v, const struct maq_gossip *g)
{
	struct merge m;
	unsigned int a;

	if (g->kind != MAQ_GOSSIP_DIGEST)
		return false;
	merge_start(&m, v, g);
	while (merge_next(&m)) {
		if (m.a0 == m.a1)
			continue;
		if (m.i0 == m.i1)
			return true;
		if (merge_single(&m)) {
			if (g->entry[m.a0].published >
			    v->relay[m.i0].d.published)
				return true;
			continue;
		}
		for (a = m.a0; a < m.a1; a++)
			if (!merge_held(&m, g->entry[a].published))
				return true;
	}
	return false;
}

static bool usable(const struct maq_view *v, const struct maq_relay *r,
		   u64 now)
{
	return (r->d.flags & MAQ_DESC_F_RELAY) && now < r->d.expires &&
	       !is_self(v, r->d.identity);
}

unsigned int maq_view_sample(const struct maq_view *v, u64 now,
			     const struct maq_relay **out, unsigned int n)
{
	size_t i, left = 0;
	unsigned int k = 0;

	for (i = 0; i < v->n; i++)
		left += usable(v, &v->relay[i], now);
	/*
	 * Selection sampling (Knuth's algorithm S): each of the remaining
	 * @left is taken with probability (n - k) / left, which gives every
	 * n-subset the same chance in one pass and no memory.
	 */
	for (i = 0; i < v->n && k < n && left; i++) {
		if (!usable(v, &v->relay[i], now))
			continue;
		if (randombytes_uniform((u32)left) < n - k)
			out[k++] = &v->relay[i];
		left--;
	}
	/* the pass found them in identity order; callers may use the first */
	for (i = k; i > 1; i--) {
		u32 j = randombytes_uniform((u32)i);
		const struct maq_relay *t = out[i - 1];

		out[i - 1] = out[j];
		out[j] = t;
	}
	return k;
}

/* --- local trust ------------------------------------------------------- */

/* First trust record whose identity is >= @id. */
static size_t trust_lower(const struct maq_view *v,
			  const u8 id[MAQ_ID_PK_LEN])
{
	size_t lo = 0, hi = v->n_trust;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(v->trust[mid].id, id, MAQ_ID_PK_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct maq_trust *maq_view_trust(const struct maq_view *v,
				       const u8 id[MAQ_ID_PK_LEN])
{
	size_t i = trust_lower(v, id);

	if (i < v->n_trust && !memcmp(v->trust[i].id, id, MAQ_ID_PK_LEN))
		return &v->trust[i];
	return NULL;
}

static struct maq_trust *trust_get(struct maq_view *v,
				   const u8 id[MAQ_ID_PK_LEN], u64 now)
{
	struct maq_trust *t;
	size_t i = trust_lower(v, id);

	if (i < v->n_trust && !memcmp(v->trust[i].id, id, MAQ_ID_PK_LEN))
		return &v->trust[i];
	if (v->n_trust >= MAQ_TRUST_MAX) {
		if (!maq_view_trust_expire(v, now))
			return NULL;
		i = trust_lower(v, id);
	}
	if (v->n_trust == v->cap_trust) {
		size_t cap = v->cap_trust ? v->cap_trust * 2 : 64;

		if (cap > MAQ_TRUST_MAX)
			cap = MAQ_TRUST_MAX;
		t = realloc(v->trust, cap * sizeof(*t));
		if (!t)
			return NULL;
		v->trust = t;
		v->cap_trust = cap;
	}
	memmove(&v->trust[i + 1], &v->trust[i],
		(v->n_trust - i) * sizeof(v->trust[0]));
	v->n_trust++;
	t = &v->trust[i];
	memset(t, 0, sizeof(*t));
	memcpy(t->id, id, MAQ_ID_PK_LEN);
	return t;
}

/* Points from one incident are not kept forever: see view.h. */
static bool trust_stale(const struct maq_trust *t, u64 now)
{
	return now >= t->last_blame + MAQ_TRUST_FORGET_SECS;
}

bool maq_view_blame(struct maq_view *v, const u8 id[MAQ_ID_PK_LEN],
		    unsigned int points, u64 now)
{
	struct maq_trust *t = trust_get(v, id, now);
	u64 secs = MAQ_TRUST_AVOID_SECS;
	u32 i;

	if (!t || !points)
		return false;
	if (trust_stale(t, now))
		t->points = 0;
	t->blamed++;
	t->points += points;
	t->last_blame = now;
	if (t->points < MAQ_BLAME_POINTS_AVOID)
		return false;
	/* each avoidance doubles the next one: a repeat offender stays out */
	for (i = 0; i < t->strikes && secs < MAQ_TRUST_AVOID_MAX; i++)
		secs *= 2;
	if (secs > MAQ_TRUST_AVOID_MAX)
		secs = MAQ_TRUST_AVOID_MAX;
	t->points = 0;
	t->strikes++;
	if (t->avoid_until < now + secs)
		t->avoid_until = now + secs;
	return true;
}

void maq_view_credit(struct maq_view *v, const u8 id[MAQ_ID_PK_LEN], u64 now)
{
	struct maq_trust *t = trust_get(v, id, now);

	if (t && t->ok < UINT32_MAX)
		t->ok++;
}

u64 maq_view_avoided(const struct maq_view *v, const u8 id[MAQ_ID_PK_LEN],
		     u64 now)
{
	const struct maq_trust *t = maq_view_trust(v, id);

	return t && now < t->avoid_until ? t->avoid_until - now : 0;
}

size_t maq_view_trust_expire(struct maq_view *v, u64 now)
{
	size_t i, kept = 0, gone;

	for (i = 0; i < v->n_trust; i++) {
		const struct maq_trust *t = &v->trust[i];

		if (now >= t->avoid_until &&
		    (!t->points || trust_stale(t, now)) &&
		    !maq_view_find(v, t->id))
			continue;
		if (kept != i)
			v->trust[kept] = v->trust[i];
		kept++;
	}
	gone = v->n_trust - kept;
	v->n_trust = kept;
	return gone;
}

/* --- path selection ---------------------------------------------------- */

/* Uniform in [0, bound), bound > 0. */
static u64 random_below(u64 bound)
{
	u64 r, limit = ~0ULL - (~0ULL % bound);

	/* rejecting the top partial block keeps it uniform */
	do {
		randombytes_buf(&r, sizeof(r));
	} while (r >= limit);
	return r % bound;
}

static const char *hex8(const struct maq_relay *r, char buf[9])
{
	sodium_bin2hex(buf, 9, r->d.identity, 4);
	return buf;
}

/* What a path may not share a relay with: the hops so far and the rest. */
struct taken {
	const struct maq_desc *d[MAQ_MAX_HOPS + 1];
	unsigned int n;
};

static bool taken_related(const struct taken *t, const struct maq_desc *d)
{
	unsigned int i;

	for (i = 0; i < t->n; i++)
		if (maq_desc_related(t->d[i], d))
			return true;
	return false;
}

/* Left out of @req's path for what this daemon saw of it. */
static bool distrusted(const struct maq_view *v, const struct maq_relay *r,
		       const struct maq_path_req *req)
{
	unsigned int i;

	for (i = 0; i < req->n_exclude; i++)
		if (!memcmp(req->exclude[i], r->d.identity, MAQ_ID_PK_LEN))
			return true;
	return maq_view_avoided(v, r->d.identity, req->now) > 0;
}

/* Weight of @r as a candidate of @t for @req, 0 when it is none. */
static u64 weight(const struct maq_view *v, const struct maq_relay *r,
		  const struct maq_path_req *req, const struct taken *t)
{
	const struct maq_trust *tr;
	u64 ok;

	if (!usable(v, r, req->now) || taken_related(t, &r->d) ||
	    distrusted(v, r, req))
		return 0;
	tr = maq_view_trust(v, r->d.identity);
	ok = tr ? tr->ok : 0;
	if (ok > MAQ_TRUST_OK_CAP)
		ok = MAQ_TRUST_OK_CAP;
	return (u64)(r->d.bandwidth ? r->d.bandwidth : 1) *
	       (MAQ_TRUST_BASE + ok);
}

/* One weighted pick among the candidates; NULL if none. */
static const struct maq_relay *pick(const struct maq_view *v,
				    const struct maq_path_req *req,
				    const struct taken *t)
{
	u64 total = 0, x, w;
	size_t i;

	for (i = 0; i < v->n; i++)
		total += weight(v, &v->relay[i], req, t);
	if (!total)
		return NULL;
	x = random_below(total);
	for (i = 0; i < v->n; i++) {
		w = weight(v, &v->relay[i], req, t);
		if (x < w)
			return &v->relay[i];
		x -= w;
	}
	return NULL;	/* not reached: x < total */
}

/* Why @r cannot be via hop @k; NULL if it can. */
static const char *via_problem(const struct maq_view *v,
			       const struct maq_path_req *req,
			       const struct maq_desc *self, unsigned int k,
			       char *what, size_t len)
{
	const struct maq_relay *r = req->via[k];
	char h[9];
	unsigned int j;

	if (!(r->d.flags & MAQ_DESC_F_RELAY))
		return "is not a relay";
	if (req->now >= r->d.expires)
		return "has expired";
	if (is_self(v, r->d.identity))
		return "is this host";
	if (!memcmp(r->d.identity, req->terminus->d.identity, MAQ_ID_PK_LEN))
		return "is the terminus";
	if (maq_desc_related(&r->d, &req->terminus->d)) {
		snprintf(what, len, "is related to the terminus %s",
			 hex8(req->terminus, h));
		return what;
	}
	if (self && maq_desc_related(&r->d, self))
		return "is related to this host";
	for (j = 0; j < req->n_via; j++) {
		if (j == k || !maq_desc_related(&r->d, &req->via[j]->d))
			continue;
		snprintf(what, len, "is related to via %u (%s)", j + 1,
			 hex8(req->via[j], h));
		return what;
	}
	return NULL;
}

static int path_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int path_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

int maq_view_path(const struct maq_view *v, const struct maq_path_req *req,
		  const struct maq_relay **out, char *err, size_t errlen)
{
	const struct maq_desc *self = req->self;
	unsigned int k, try, best;
	const struct maq_relay *t;
	size_t i, avoided;
	char h[9], what[64];
	struct taken base;

	if (err && errlen)
		err[0] = '\0';
	if (req->n_relays < 1 || req->n_relays > MAQ_MAX_HOPS - 1)
		return path_fail(err, errlen, -EINVAL,
				 "%u relays: must be 1 to %u", req->n_relays,
				 MAQ_MAX_HOPS - 1);
	if (req->n_via > req->n_relays)
		return path_fail(err, errlen, -EINVAL,
				 "%u via relays for a path of %u relays",
				 req->n_via, req->n_relays);
	t = req->terminus;
	if (!t)
		return path_fail(err, errlen, -EINVAL, "no terminus");
	if (req->now >= t->d.expires)
		return path_fail(err, errlen, -EINVAL,
				 "terminus %s has expired", hex8(t, h));
	if (is_self(v, t->d.identity))
		return path_fail(err, errlen, -EINVAL,
				 "terminus %s is this host", hex8(t, h));
	if (!self) {
		const struct maq_relay *me = maq_view_find(v, v->self);

		self = me ? &me->d : NULL;
	}
	for (k = 0; k < req->n_via; k++)
		if (!req->via[k])
			return path_fail(err, errlen, -EINVAL,
					 "via %u is missing", k + 1);
	for (k = 0; k < req->n_via; k++) {
		const char *why;

		why = via_problem(v, req, self, k, what, sizeof(what));
		if (why)
			return path_fail(err, errlen, -EINVAL,
					 "via %u (%s) %s", k + 1,
					 hex8(req->via[k], h), why);
	}

	best = req->n_via;
	base.n = 0;
	base.d[base.n++] = &t->d;
	if (self)
		base.d[base.n++] = self;
	for (k = 0; k < req->n_via; k++) {
		base.d[base.n++] = &req->via[k]->d;
		out[k] = req->via[k];
	}
	for (try = 0; try < PATH_TRIES; try++) {
		struct taken tk = base;

		for (k = req->n_via; k < req->n_relays; k++) {
			out[k] = pick(v, req, &tk);
			if (!out[k])
				break;
			tk.d[tk.n++] = &out[k]->d;
		}
		if (k == req->n_relays) {
			out[k] = t;
			return 0;
		}
		if (k > best)
			best = k;
		/* nothing was left from the start: no try can do better */
		if (k == req->n_via)
			break;
	}
	for (k = 0; k <= req->n_relays; k++)
		out[k] = NULL;
	avoided = 0;
	for (i = 0; i < v->n; i++)
		avoided += usable(v, &v->relay[i], req->now) &&
			   &v->relay[i] != t &&
			   distrusted(v, &v->relay[i], req);
	if (avoided)
		return path_fail(err, errlen, -ENOENT,
				 "need %u relay%s, %u eligible, %zu avoided",
				 req->n_relays, req->n_relays == 1 ? "" : "s",
				 best, avoided);
	return path_fail(err, errlen, -ENOENT, "need %u relay%s, %u eligible",
			 req->n_relays, req->n_relays == 1 ? "" : "s", best);
}
