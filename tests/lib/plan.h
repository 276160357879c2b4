/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a test's stand-in control plane decides for a circuit: random keys,
 * counter bases and cids for every hop, and each node's part of it as the
 * struct maq_circuit it installs (tests/kmod/maqtool over netlink,
 * tests/bpf/chain/maqchain into XDP maps and userspace endpoints).  The
 * daemon derives the same things from the 1-RTT setup instead.
 *
 * Node 0 is the origin, nodes 1..n-1 the relays, node n the terminus; hop i
 * (0-based) is node i + 1, and link l joins nodes l and l + 1.
 */
#ifndef _MAQUIS_TESTS_PLAN_H
#define _MAQUIS_TESTS_PLAN_H

#include <stdint.h>
#include <string.h>
#include <sodium.h>

#include "../../daemon/nl.h"

/* Bases stay below 2^61 (PROTOCOL 1); deltas are taken modulo 2^63. */
#define MAQ_PLAN_BASE_LIMIT	(1ULL << 61)
#define MAQ_PLAN_SEQ_MASK	((1ULL << 63) - 1)

struct maq_plan {
	uint32_t id;
	uint32_t lifetime;
	int nhops;
	struct maq_hop hops[MAQUIS_MAX_HOPS];
	uint64_t fbase[MAQUIS_MAX_HOPS], bbase[MAQUIS_MAX_HOPS];
	uint32_t fcid[MAQUIS_MAX_HOPS], bcid[MAQUIS_MAX_HOPS];
};

static inline uint32_t maq_plan_cid(void)
{
	uint32_t c;

	do
		c = randombytes_random();
	while (!c);
	return c;
}

static inline void maq_plan_init(struct maq_plan *p, uint32_t id,
				 uint32_t lifetime, int nhops)
{
	int i;

	memset(p, 0, sizeof(*p));
	p->id = id;
	p->lifetime = lifetime;
	p->nhops = nhops;
	for (i = 0; i < nhops; i++) {
		p->hops[i].index = (uint8_t)i;
		p->hops[i].has = MAQ_HOP_ALL;
		randombytes_buf(p->hops[i].fwd_key, MAQUIS_KEY_LEN);
		randombytes_buf(p->hops[i].back_key, MAQUIS_KEY_LEN);
		randombytes_buf(p->hops[i].fwd_ctl_key, MAQUIS_KEY_LEN);
		randombytes_buf(p->hops[i].back_ctl_key, MAQUIS_KEY_LEN);
		randombytes_buf(&p->fbase[i], sizeof(p->fbase[i]));
		randombytes_buf(&p->bbase[i], sizeof(p->bbase[i]));
		p->fbase[i] %= MAQ_PLAN_BASE_LIMIT;
		p->bbase[i] %= MAQ_PLAN_BASE_LIMIT;
		/* a node receives on bcid[i] and fcid[i - 1]: keep them apart */
		p->fcid[i] = maq_plan_cid();
		do
			p->bcid[i] = maq_plan_cid();
		while (p->bcid[i] == p->fcid[i] ||
		       (i && p->bcid[i] == p->fcid[i - 1]));
	}
}

/*
 * Node @node's part, without underlay addresses and routes (the caller's:
 * it knows its topology): role, cids, lifetime and its hops' keys with
 * bases (origin) or deltas (relays) or the backward base (terminus).
 */
static inline void maq_plan_part(const struct maq_plan *p, int node,
				 struct maq_circuit *c)
{
	int i, n = p->nhops;

	memset(c, 0, sizeof(*c));
	c->id = p->id;
	c->lifetime = p->lifetime;
	c->n_hops = 1;
	if (node == 0) {
		c->role = MAQUIS_ROLE_ORIGIN;
		c->fwd_cid_out = p->fcid[0];
		c->back_cid_in = p->bcid[0];
		c->n_hops = n;
		for (i = 0; i < n; i++) {
			c->hops[i] = p->hops[i];
			c->hops[i].fwd_seq = p->fbase[i];
			c->hops[i].back_seq = p->bbase[i];
		}
	} else if (node == n) {
		c->role = MAQUIS_ROLE_TERMINUS;
		c->fwd_cid_in = p->fcid[n - 1];
		c->back_cid_out = p->bcid[n - 1];
		c->hops[0] = p->hops[n - 1];
		c->hops[0].index = 0;
		c->hops[0].has = MAQ_HOP_KEYS | MAQ_HOP_BACK_SEQ;
		c->hops[0].back_seq = p->bbase[n - 1];
	} else {
		c->role = MAQUIS_ROLE_RELAY;
		c->fwd_cid_in = p->fcid[node - 1];
		c->fwd_cid_out = p->fcid[node];
		c->back_cid_in = p->bcid[node];
		c->back_cid_out = p->bcid[node - 1];
		c->hops[0] = p->hops[node - 1];
		c->hops[0].index = 0;
		c->hops[0].fwd_seq = (p->fbase[node] - p->fbase[node - 1]) &
				     MAQ_PLAN_SEQ_MASK;
		c->hops[0].back_seq = (p->bbase[node - 1] - p->bbase[node]) &
				      MAQ_PLAN_SEQ_MASK;
	}
}

static inline void maq_plan_wipe(struct maq_plan *p)
{
	sodium_memzero(p, sizeof(*p));
}

#endif /* _MAQUIS_TESTS_PLAN_H */
