/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A daemon's view of the network (docs/PROTOCOL.md sections 8 and 10): the
 * descriptors it holds, what gossip exchanges of them, and path selection
 * with the diversity rules.  No I/O and no clock of its own (the caller
 * passes @now, seconds since the epoch), so every rule is unit-tested.
 *
 * Each daemon's view is its own; nothing here trusts any other daemon's
 * opinion beyond the signatures on the descriptors.
 */
#ifndef _MAQUIS_DAEMON_VIEW_H
#define _MAQUIS_DAEMON_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "descriptor.h"

/* Descriptors one view holds at most; more are refused (counted). */
#define MAQ_VIEW_MAX		4096

/*
 * Digest cells a view needs at most (maq_view_digests): no identity prefix
 * is held more than MAQ_DIGEST_MAX times, so two consecutive ranges hold
 * more than MAQ_DIGEST_MAX entries between them.  With honest keys it is
 * n / MAQ_DIGEST_MAX rounded up (1 for an empty view).
 */
#define MAQ_VIEW_MAX_DIGESTS	(MAQ_VIEW_MAX / ((MAQ_DIGEST_MAX + 1) / 2) + 2)

/* One descriptor held. */
struct maq_relay {
	struct maq_desc d;
	u8 raw[MAQ_DESC_LEN];		/* as signed, for gossip */
	u64 received;			/* when this version arrived */
};

/*
 * What this daemon saw of one relay (local trust, docs/DESIGN.md "Local
 * trust"): never gossiped, never asked of anyone.  Times are wall seconds.
 */
struct maq_trust {
	u8 id[MAQ_ID_PK_LEN];
	u32 ok;				/* circuits through it that worked */
	u32 blamed;			/* blames it received */
	u32 points;			/* blame since it was last avoided */
	u32 strikes;			/* times avoided */
	u64 last_blame;
	u64 avoid_until;		/* excluded from paths until then */
};

struct maq_view {
	struct maq_relay *relay;	/* sorted by maq_digest_id(identity) */
	size_t n, cap;
	struct maq_trust *trust;	/* sorted by identity */
	size_t n_trust, cap_trust;
	u8 self[MAQ_ID_PK_LEN];		/* never picked for a path */
	/* offers refused, by enum maq_desc_err (index 0 unused) */
	u64 rejected[MAQ_DESC_N_ERRS];
	u64 accepted;			/* new identities */
	u64 updated;			/* newer descriptor of one we had */
	u64 stale;			/* same or older than the one we had */
	u64 full;			/* refused: MAQ_VIEW_MAX reached */
	u64 expired;			/* dropped by maq_view_expire() */
	/*
	 * Refused: MAQ_DIGEST_MAX identities held already share its 8-byte
	 * prefix, so one digest range could not list them all.  Honest keys
	 * never do; each such key takes about 2^64 work to make.
	 */
	u64 crowded;
};

/* @self may be NULL: a view with no identity of its own. */
void maq_view_init(struct maq_view *v, const u8 self[MAQ_ID_PK_LEN]);
void maq_view_free(struct maq_view *v);

/*
 * Offer a descriptor (as received, @len bytes) at time @now.  Decodes and
 * verifies it (maq_desc_decode); a valid one replaces what the view holds
 * for its identity only when its `published` is later.  Returns
 * MAQ_DESC_OK for any valid descriptor (*changed says whether the view
 * took it), or the reason it was refused (counted in rejected[]).  A view
 * that is full refuses new identities with MAQ_DESC_OK, *changed false,
 * and counts them in full (also when the array cannot grow), or in crowded
 * (see above).  @changed may be NULL.  Our own descriptor is taken like
 * any other: gossiped, never picked.
 */
enum maq_desc_err maq_view_offer(struct maq_view *v, const u8 *raw,
				 size_t len, u64 now, bool *changed);

/* Drop every descriptor with now >= expires; returns how many. */
size_t maq_view_expire(struct maq_view *v, u64 now);

const struct maq_relay *maq_view_find(const struct maq_view *v,
				      const u8 id[MAQ_ID_PK_LEN]);

/*
 * Find by what a user types: the base64 of the identity, or a hex prefix
 * of it of at least 8 digits.  NULL with errno ENOENT (no match), EINVAL
 * (neither form) or EEXIST (a prefix that matches several).
 */
const struct maq_relay *maq_view_lookup(const struct maq_view *v,
					const char *name);

/*
 * The relay whose descriptor announces an inner prefix containing @dst
 * (longest prefix first, then the newest); NULL when none does.  @dst is an
 * address (len 32 or 128) or a prefix, which must be contained whole.  Our
 * own descriptor never answers: a circuit does not end where it starts.
 * NULL with errno ENOENT (none) or EINVAL (@dst not AF_INET or AF_INET6,
 * or too long).  The caller drops expired descriptors (maq_view_expire).
 */
const struct maq_relay *maq_view_serving(const struct maq_view *v,
					 const struct maq_prefix *dst);

/* --- gossip ------------------------------------------------------------ */

/*
 * GOSSIP digest cells covering the whole view: ranges of at most
 * MAQ_DIGEST_MAX entries that together cover [0, 2^64 - 1], each cell
 * with @handle.  Writes at most @max cells; returns how many were needed
 * (> @max: the caller's array was too small and only @max were written),
 * never more than MAQ_VIEW_MAX_DIGESTS.  An empty view gives one cell with
 * an empty digest of the whole range.  A range never splits identities of
 * one 8-byte prefix, so every range lists all we hold in it.
 */
unsigned int maq_view_digests(const struct maq_view *v,
			      u8 (*cells)[MAQ_CELL_SIZE], unsigned int max,
			      u32 handle);

/*
 * The same for [@lo, @hi] only: what to send back when maq_view_behind()
 * says so for a digest of that range.  0 when lo > hi.
 */
unsigned int maq_view_digests_range(const struct maq_view *v, u64 lo,
				    u64 hi, u8 (*cells)[MAQ_CELL_SIZE],
				    unsigned int max, u32 handle);

/*
 * What to push back for a received digest @g (kind MAQ_GOSSIP_DIGEST): the
 * descriptors we hold in [g->lo, g->hi] that the digest lacks or lists with
 * an older `published`.  Up to @max pointers into the view (valid until it
 * changes); returns how many there are in all (may exceed @max).  Where
 * several identities share an 8-byte prefix (on either side) a digest
 * cannot tell them apart, so each of ours whose (prefix, published) it
 * does not list is pushed: at worst a stale copy the peer counts.
 */
unsigned int maq_view_answer(const struct maq_view *v,
			     const struct maq_gossip *g,
			     const struct maq_relay **out, unsigned int max);

/* True when @g lists an identity we lack or a newer descriptor than ours,
 * i.e. we should send our own digest of [g->lo, g->hi] back so the peer
 * pushes them (the pull half of push-pull).  With a shared 8-byte prefix,
 * true when it lists a (prefix, published) we do not hold.
 */
bool maq_view_behind(const struct maq_view *v, const struct maq_gossip *g);

/* Up to @n distinct relays (flag relay, not self, not expired at @now)
 * chosen uniformly at random for gossip; returns how many.
 */
unsigned int maq_view_sample(const struct maq_view *v, u64 now,
			     const struct maq_relay **out, unsigned int n);

/* --- local trust ------------------------------------------------------ */

/*
 * Blame points: MAQ_BLAME_POINTS_AVOID of them since the relay was last
 * avoided make it avoided for MAQ_TRUST_AVOID_SECS << (strikes - 1), at
 * most MAQ_TRUST_AVOID_MAX; points are forgotten MAQ_TRUST_FORGET_SECS
 * after the last blame.  The relay that failed to answer gets
 * MAQ_BLAME_SILENT (avoided at once), the one before it on the path
 * MAQ_BLAME_NEIGHBOUR (avoided when blamed again): see DESIGN.md.
 */
#define MAQ_BLAME_SILENT	2
#define MAQ_BLAME_NEIGHBOUR	1
#define MAQ_BLAME_POINTS_AVOID	2
#define MAQ_TRUST_AVOID_SECS	600
#define MAQ_TRUST_AVOID_MAX	(24 * 3600)
#define MAQ_TRUST_FORGET_SECS	3600
/* Weight of a relay in path selection: bandwidth * (BASE + min(ok, CAP)). */
#define MAQ_TRUST_BASE		2
#define MAQ_TRUST_OK_CAP	6
/* Relays remembered at most; the oldest blameless ones go first. */
#define MAQ_TRUST_MAX		MAQ_VIEW_MAX

/*
 * Record @points of blame against @id at @now (a relay need not be in the
 * view).  Returns true when this blame made it avoided.  -ENOMEM-free:
 * when the table cannot grow the blame is dropped and false returned.
 */
bool maq_view_blame(struct maq_view *v, const u8 id[MAQ_ID_PK_LEN],
		    unsigned int points, u64 now);
/* A circuit through @id worked. */
void maq_view_credit(struct maq_view *v, const u8 id[MAQ_ID_PK_LEN], u64 now);
/* What we hold of @id, or NULL. */
const struct maq_trust *maq_view_trust(const struct maq_view *v,
				       const u8 id[MAQ_ID_PK_LEN]);
/* Seconds @id stays avoided after @now, 0 when it is not. */
u64 maq_view_avoided(const struct maq_view *v, const u8 id[MAQ_ID_PK_LEN],
		     u64 now);
/* Drop what is neither avoided nor blamed within the forget window nor in
 * the view; returns how many records went.
 */
size_t maq_view_trust_expire(struct maq_view *v, u64 now);

/* --- path selection (PROTOCOL 10) ------------------------------------ */

struct maq_path_req {
	unsigned int n_relays;		/* relays before the terminus, >= 1 */
	const struct maq_relay *terminus; /* required: the last hop */
	const struct maq_relay *via[MAQ_MAX_HOPS]; /* forced, in order */
	unsigned int n_via;		/* <= n_relays; the first hops */
	const struct maq_desc *self;	/* our own descriptor, or NULL */
	u64 now;
	/* not picked for this path, whatever their trust (NULL: none) */
	const u8 (*exclude)[MAQ_ID_PK_LEN];
	unsigned int n_exclude;
};

/*
 * Pick relays for hops 1..n_relays: the @via relays first, in order, then
 * random relays (flag relay, not expired at now, not self, not the
 * terminus, not avoided at now (maq_view_avoided), not in @exclude),
 * weighted by bandwidth times the trust factor (MAQ_TRUST_BASE plus the
 * circuits seen working through it, at most MAQ_TRUST_OK_CAP), such that
 * no two of the hops, the terminus and @self are maq_desc_related().
 * Via relays and the terminus are the caller's choice: trust does not
 * apply to them.  @out gets n_relays + 1
 * entries, the terminus last.  0, or -errno with a message in @err naming
 * the problem: -EINVAL (bad request, a via relay related to another hop or
 * not a relay), -ENOENT (not enough eligible relays: "need N relays, M
 * eligible").
 *
 * n_relays is 1..MAQ_MAX_HOPS - 1; relays are named in messages by the
 * first 8 hex digits of their identity.  When @self is NULL the view's
 * copy of our own descriptor stands in for it, if it holds one.  The
 * terminus and self may be related (the destination is the caller's
 * choice).  A bandwidth of 0 weighs as 1.  Bandwidth is what each relay
 * declares: one that lies is picked more often, as with any self-reported
 * weight.  When relays were left out for trust, the -ENOENT message says
 * how many ("need 2 relays, 1 eligible, 3 avoided").  Random picks are retried a few times before -ENOENT, as one
 * unlucky early pick can rule out the rest; M is then the most hops any
 * try found that fit together.
 */
int maq_view_path(const struct maq_view *v, const struct maq_path_req *req,
		  const struct maq_relay **out, char *err, size_t errlen);

#endif /* _MAQUIS_DAEMON_VIEW_H */
