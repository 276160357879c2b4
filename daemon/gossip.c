// SPDX-License-Identifier: GPL-2.0
/*
 * maquisd's gossip (PROTOCOL 8): publish our descriptor, send our digest to
 * a few relays every GOSSIP_PERIOD (to the bootstrap list while we know too
 * few), push what a digest's sender lacks, pull what we lack by answering
 * with our own digest.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "maquisd.h"

#define GOSSIP_PERIOD_MS	10000
#define GOSSIP_FIRST_MS		300	/* after start: find the network */
#define GOSSIP_FANOUT		3
#define GOSSIP_MIN_KNOWN	3	/* fewer: ask the bootstrap list too */
#define DIGEST_CELLS_MAX	MAQ_VIEW_MAX_DIGESTS
/*
 * Descriptors pushed for one digest cell received: a digest is one cell
 * from anyone, so this bounds how much we send a forged source address.
 */
#define PUSH_PER_DIGEST		(2 * MAQ_PUSH_MAX)
#define DESC_LIFE		(3 * 3600)
#define DESC_REPUBLISH		3600

int maqd_publish(struct maqd *d)
{
	struct maq_desc desc;
	enum maq_desc_err e;
	u64 now = maqd_wall();
	bool changed;

	memset(&desc, 0, sizeof(desc));
	desc.version = MAQ_DESC_VERSION;
	desc.flags = d->conf.role == MAQ_CONF_RELAY ? MAQ_DESC_F_RELAY : 0;
	desc.port = ntohs(d->listen.sa.sa_family == AF_INET ?
			  d->listen.in4.sin_port : d->listen.in6.sin6_port);
	desc.bandwidth = d->conf.bandwidth;
	/* a newer descriptor must say so, even within the same second */
	if (now <= d->desc_published)
		now = d->desc_published + 1;
	desc.published = now;
	desc.expires = now + DESC_LIFE;
	desc.addr[0] = d->listen;
	if (d->conf.n_listen > 1 &&
	    d->conf.listen[1].sa.sa_family != d->listen.sa.sa_family &&
	    !maq_addr_unspecified(&d->conf.listen[1]))
		desc.addr[1] = d->conf.listen[1];
	memcpy(desc.onion_key, d->onion[0].pk, MAQ_ONION_LEN);
	memcpy(desc.family, d->conf.family, MAQ_FAMILY_LEN);
	desc.prefix = d->conf.address;
	e = maq_desc_encode(d->desc, &desc, &d->id);
	if (e != MAQ_DESC_OK) {
		log_err("cannot make our descriptor: %s", maq_desc_err_name(e));
		return -EINVAL;
	}
	/* the view holds ours too, so that gossip spreads it */
	e = maq_view_offer(&d->view, d->desc, MAQ_DESC_LEN, now, &changed);
	if (e != MAQ_DESC_OK) {
		log_err("our own descriptor is refused: %s",
			maq_desc_err_name(e));
		return -EINVAL;
	}
	d->desc_published = now;
	log_debug("descriptor published, expires in %d s", DESC_LIFE);
	return 0;
}

/* Our digest of [lo, hi] (all of it: 0, ~0) to @peer. */
static void send_digests(struct maqd *d, const union maq_sockaddr *peer,
			 u64 lo, u64 hi)
{
	static u8 cells[DIGEST_CELLS_MAX][MAQ_CELL_SIZE];
	unsigned int n, i;

	n = maq_view_digests_range(&d->view, lo, hi, cells, DIGEST_CELLS_MAX,
				   maqd_random_nonzero());
	if (n > DIGEST_CELLS_MAX)
		n = DIGEST_CELLS_MAX;
	for (i = 0; i < n; i++)
		if (!maqd_cell_send(d, peer, cells[i]))
			d->st.gossip_sent++;
}

static bool is_self(const struct maqd *d, const union maq_sockaddr *a)
{
	return d->listen.sa.sa_family == a->sa.sa_family &&
	       !memcmp(&d->listen, a, a->sa.sa_family == AF_INET ?
		       sizeof(struct sockaddr_in) :
		       sizeof(struct sockaddr_in6));
}

void maqd_gossip_tick(struct maqd *d, u64 now_ms)
{
	const struct maq_relay *pick[GOSSIP_FANOUT];
	u64 now = maqd_wall();
	unsigned int n, i, known;

	if (!d->next_gossip_ms)
		d->next_gossip_ms = now_ms + GOSSIP_FIRST_MS;
	if (now_ms < d->next_gossip_ms)
		return;
	d->next_gossip_ms = now_ms + GOSSIP_PERIOD_MS -
			    randombytes_uniform(GOSSIP_PERIOD_MS / 5);

	if (d->publish && now >= d->desc_published + DESC_REPUBLISH)
		maqd_publish(d);
	maq_view_expire(&d->view, now);

	n = maq_view_sample(&d->view, now, pick, GOSSIP_FANOUT);
	for (i = 0; i < n; i++)
		send_digests(d, &pick[i]->d.addr[0], 0, ~0ULL);
	known = (unsigned int)d->view.n - (d->publish ? 1 : 0);
	if (known < GOSSIP_MIN_KNOWN)
		for (i = 0; i < d->conf.n_bootstrap; i++)
			if (!is_self(d, &d->conf.bootstrap[i]))
				send_digests(d, &d->conf.bootstrap[i], 0,
					     ~0ULL);
}

static void push_answer(struct maqd *d, const union maq_sockaddr *peer,
			const struct maq_gossip *g)
{
	const struct maq_relay *out[PUSH_PER_DIGEST];
	u8 desc[MAQ_PUSH_MAX][MAQ_DESC_LEN];
	u8 cell[MAQ_CELL_SIZE];
	unsigned int n, i, j;

	n = maq_view_answer(&d->view, g, out, PUSH_PER_DIGEST);
	if (n > PUSH_PER_DIGEST)
		n = PUSH_PER_DIGEST;
	for (i = 0; i < n; i += j) {
		for (j = 0; j < MAQ_PUSH_MAX && i + j < n; j++)
			memcpy(desc[j], out[i + j]->raw, MAQ_DESC_LEN);
		if (maq_gossip_push_encode(cell, maqd_random_nonzero(),
					   (const u8 (*)[MAQ_DESC_LEN])desc,
					   j))
			return;
		if (!maqd_cell_send(d, peer, cell))
			d->st.gossip_sent++;
	}
}

void maqd_gossip_rx(struct maqd *d, const union maq_sockaddr *peer,
		    const u8 cell[MAQ_CELL_SIZE])
{
	static struct maq_gossip g;
	enum maq_gossip_err ge;
	enum maq_desc_err e;
	char a[64];
	unsigned int i;
	bool changed;

	if (maqd_alias_gossip_rx(d, peer, cell))
		return;
	ge = maq_gossip_decode(&g, cell, MAQ_CELL_SIZE);
	if (ge != MAQ_GOSSIP_OK) {
		d->st.gossip_bad++;
		log_debug("gossip from %s: %s",
			  maq_sockaddr_str(peer, a, sizeof(a)),
			  maq_gossip_err_name(ge));
		return;
	}
	d->st.gossip_received++;
	if (g.kind == MAQ_GOSSIP_DIGEST) {
		push_answer(d, peer, &g);
		/* only the range asked about: one forged digest must not
		 * make us send the whole view to its victim
		 */
		if (maq_view_behind(&d->view, &g))
			send_digests(d, peer, g.lo, g.hi);
		return;
	}
	for (i = 0; i < g.count; i++) {
		e = maq_view_offer(&d->view, g.desc[i], MAQ_DESC_LEN,
				   maqd_wall(), &changed);
		if (e != MAQ_DESC_OK)
			log_debug("descriptor from %s refused: %s",
				  maq_sockaddr_str(peer, a, sizeof(a)),
				  maq_desc_err_name(e));
		else if (changed)
			log_debug("descriptor from %s taken",
				  maq_sockaddr_str(peer, a, sizeof(a)));
	}
}
