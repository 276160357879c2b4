// SPDX-License-Identifier: GPL-2.0
/*
 * The "maquis" generic netlink family under mutated requests, thousands of
 * them: every operation of include/maquis.yaml starts from a valid request,
 * and each attribute (top level and nested) is sent with a wrong length
 * (0, 1, -1, +1, double, huge), out-of-range and boundary values, removed,
 * duplicated, retyped, with wrong NLA_F_* flags, its nest filled with
 * random bytes or wrong inner types or nested 32 deep; then unknown
 * attributes, trailing bytes, oversized messages (10^4 attributes, 64 KiB
 * ones), bad ifindexes; then random stacks of those (seeded, the seed
 * printed).  Each random round draws from its own generator, seeded by
 * the seed, the operation and the round's number, so what a round sends
 * does not depend on how many rounds the time budget let run before it:
 * MAQ_MUTATE_SEED=S MAQ_MUTATE_ROUND=R replays round R of a failure line
 * alone (its operation's test, with -t).
 *
 * The oracle is a model of the spec (policy.c-style strict validation of
 * the bytes actually sent, plus the attributes each operation needs and
 * the ids it names): a request the model calls invalid must be refused.
 * Whatever the model says, a refused request must come with an errno and a
 * non-empty extended ack, and leave the module's state (dev dump, circuit
 * dump without counters and ages) exactly as it was; an accepted one has
 * its effect undone before the next.  Requests genetlink itself refuses
 * before the family sees them (NLM_F_DUMP on a do-only operation, unknown
 * commands) carry no extended ack by design of the core: they are counted
 * apart and only their errno is checked.
 *
 * MAQ_MUTATE_SECS bounds the random part (default 40 s over all ops).
 * The test "policy" checks the model against the policies the module
 * reports (CTRL_CMD_GETPOLICY): every request attribute of every
 * operation, its type and its range, so the model cannot fall behind the
 * spec unnoticed.
 * Needs root and maquis.ko loaded (tests/kmod/run.sh in the VM).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/genetlink.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "../../daemon/nl.h"
#include "../lib/util.h"
#include "common.h"
#include "kselftest_harness.h"

#define DEV		"maq0"
#define MAX_FAIL_LOG	40

/* ---- random, seeded ----------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static uint32_t rnd_below(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static void rnd_bytes(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

/* ---- requests as attribute trees -----------------------------------------
 * Nodes live in an arena reset for every request; a nest's children follow
 * ->kid, siblings ->next.  RAW nodes are bytes written as they are, without
 * an attribute header: garbage inside nests and after the attributes.
 */

enum { N_LEAF, N_NEST, N_RAW };

struct node {
	struct node *kid, *next;
	uint16_t type;			/* with NLA_F_* flags */
	uint8_t kind;
	uint32_t len;
	uint8_t *data;
};

#define ARENA_SIZE	(32u << 20)
static uint8_t *arena;
static size_t arena_used;

/* The request being built, for the message of a test that has to stop. */
static const char *building = "";

/*
 * Out of room in the test's own buffers: the test is wrong, not the
 * module.  Nothing to undo here, so say what and abort (the harness then
 * reports "terminated by assertion").
 */
static void __attribute__((noreturn)) overflow(const char *buf, size_t want,
					      size_t cap)
{
	ksft_print_msg("test bug: the %s needs %zu bytes of %zu, building \"%s\"\n",
		       buf, want, cap, building);
	abort();
}

static void *arena_alloc(size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (arena_used + n > ARENA_SIZE)
		overflow("node arena", arena_used + n, ARENA_SIZE);
	p = arena + arena_used;
	arena_used += n;
	return p;
}

static struct node *leaf(uint16_t type, const void *data, uint32_t len)
{
	struct node *n = arena_alloc(sizeof(*n));

	memset(n, 0, sizeof(*n));
	n->type = type;
	n->kind = N_LEAF;
	n->len = len;
	n->data = arena_alloc(len ? len : 1);
	if (data)
		memcpy(n->data, data, len);
	else
		rnd_bytes(n->data, len);
	return n;
}

static struct node *raw(const void *data, uint32_t len)
{
	struct node *n = leaf(0, data, len);

	n->kind = N_RAW;
	return n;
}

static struct node *nest(uint16_t type)
{
	struct node *n = arena_alloc(sizeof(*n));

	memset(n, 0, sizeof(*n));
	n->type = type | NLA_F_NESTED;
	n->kind = N_NEST;
	return n;
}

/* Appends @n to the list at *@head; returns @n. */
static struct node *append(struct node **head, struct node *n)
{
	while (*head)
		head = &(*head)->next;
	*head = n;
	return n;
}

static struct node *u8a(uint16_t t, uint8_t v) { return leaf(t, &v, 1); }
static struct node *u16a(uint16_t t, uint16_t v) { return leaf(t, &v, 2); }
static struct node *u32a(uint16_t t, uint32_t v) { return leaf(t, &v, 4); }
static struct node *u64a(uint16_t t, uint64_t v) { return leaf(t, &v, 8); }

static struct node *clone_list(const struct node *n);

/* A deep copy of @n alone, without its siblings. */
static struct node *clone_one(const struct node *n)
{
	struct node *c = arena_alloc(sizeof(*c));

	*c = *n;
	c->next = NULL;
	if (n->kind == N_NEST) {
		c->kid = clone_list(n->kid);
	} else {
		c->data = arena_alloc(n->len ? n->len : 1);
		memcpy(c->data, n->data, n->len);
	}
	return c;
}

static struct node *clone_list(const struct node *n)
{
	struct node *head = NULL, **tail = &head;

	for (; n; n = n->next) {
		*tail = clone_one(n);
		tail = &(*tail)->next;
	}
	return head;
}

struct out {
	uint8_t *buf;
	size_t len, cap;
	bool overflow;		/* an attribute outgrew its 16-bit length */
};

static void out_put(struct out *o, const void *p, size_t n)
{
	if (o->len + n > o->cap)
		overflow("request buffer", o->len + n, o->cap);
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void serialize(struct out *o, const struct node *n)
{
	static const uint8_t pad[4];
	struct nlattr hdr;
	size_t at, len;

	for (; n; n = n->next) {
		if (n->kind == N_RAW) {
			out_put(o, n->data, n->len);
			continue;
		}
		at = o->len;
		out_put(o, pad, sizeof(hdr));
		if (n->kind == N_LEAF)
			out_put(o, n->data, n->len);
		else
			serialize(o, n->kid);
		len = o->len - at;
		if (len > 0xffff)
			o->overflow = true;
		hdr.nla_len = (uint16_t)len;
		hdr.nla_type = n->type;
		memcpy(o->buf + at, &hdr, sizeof(hdr));
		out_put(o, pad, NLA_ALIGN(len) - len);
	}
}

/* Node @k of the tree in depth-first order, its depth and list link. */
struct where {
	struct node **link;		/* points at the node */
	struct node *parent;		/* NULL: top level */
	int depth;
};

static bool find_node(struct node **link, struct node *parent, int depth,
		      int *k, struct where *w)
{
	for (; *link; link = &(*link)->next) {
		if ((*k)-- == 0) {
			w->link = link;
			w->parent = parent;
			w->depth = depth;
			return true;
		}
		if ((*link)->kind == N_NEST &&
		    find_node(&(*link)->kid, *link, depth + 1, k, w))
			return true;
	}
	return false;
}

static int count_nodes(const struct node *n)
{
	int c = 0;

	for (; n; n = n->next)
		c += 1 + (n->kind == N_NEST ? count_nodes(n->kid) : 0);
	return c;
}

/* What serialize() writes for @n and its siblings. */
static size_t tree_bytes(const struct node *n)
{
	size_t b = 0;

	for (; n; n = n->next) {
		if (n->kind == N_RAW)
			b += n->len;
		else if (n->kind == N_LEAF)
			b += NLA_ALIGN(NLA_HDRLEN + n->len);
		else
			b += NLA_ALIGN(NLA_HDRLEN + tree_bytes(n->kid));
	}
	return b;
}

/* ---- the spec, as a model ------------------------------------------------ */

enum { P_NONE, P_U8, P_U16, P_U32, P_U64, P_BIN, P_NEST };

struct pol {
	uint8_t t;
	uint16_t len;			/* P_BIN: exact length */
	uint64_t min, max;
	const struct pol *nested;
	int maxtype;
};

#define U(w, lo, hi)	{ .t = P_U##w, .min = (lo), .max = (hi) }
#define BIN(l)		{ .t = P_BIN, .len = (l) }
#define NEST(p, m)	{ .t = P_NEST, .nested = (p), .maxtype = (m) }
#define ANY8		U(8, 0, UINT8_MAX)
#define ANY16		U(16, 0, UINT16_MAX)
#define ANY32		U(32, 0, UINT32_MAX)
#define ANY64		U(64, 0, UINT64_MAX)

static const struct pol pol_addr[MAQUIS_A_ADDR_MAX + 1] = {
	[MAQUIS_A_ADDR_IPV4]	= ANY32,
	[MAQUIS_A_ADDR_IPV6]	= BIN(16),
	[MAQUIS_A_ADDR_PORT]	= U(16, 1, UINT16_MAX),
};

static const struct pol pol_prefix[MAQUIS_A_PREFIX_MAX + 1] = {
	[MAQUIS_A_PREFIX_IPV4]	= ANY32,
	[MAQUIS_A_PREFIX_IPV6]	= BIN(16),
	[MAQUIS_A_PREFIX_LEN]	= U(8, 0, 128),
};

static const struct pol pol_hop[MAQUIS_A_HOP_MAX + 1] = {
	[MAQUIS_A_HOP_INDEX]		= U(8, 0, 7),
	[MAQUIS_A_HOP_FWD_KEY]		= BIN(MAQUIS_KEY_LEN),
	[MAQUIS_A_HOP_BACK_KEY]		= BIN(MAQUIS_KEY_LEN),
	[MAQUIS_A_HOP_FWD_CTL_KEY]	= BIN(MAQUIS_KEY_LEN),
	[MAQUIS_A_HOP_BACK_CTL_KEY]	= BIN(MAQUIS_KEY_LEN),
	[MAQUIS_A_HOP_FWD_SEQ]		= ANY64,
	[MAQUIS_A_HOP_BACK_SEQ]		= ANY64,
};

/* Request attributes of the "maquis" set, as the operations take them. */
static const struct pol pol_top[MAQUIS_A_MAX + 1] = {
	[MAQUIS_A_IFINDEX]	= U(32, 1, UINT32_MAX),
	[MAQUIS_A_PORT]		= U(16, 1, UINT16_MAX),
	[MAQUIS_A_LOCAL]	= NEST(pol_addr, MAQUIS_A_ADDR_MAX),
	[MAQUIS_A_MAX_CIRCUITS]	= U(32, 1, 4194304),
	[MAQUIS_A_ID]		= U(32, 1, UINT32_MAX),
	[MAQUIS_A_ROLE]		= U(8, 0, 2),
	[MAQUIS_A_FWD_CID_IN]	= U(32, 1, UINT32_MAX),
	[MAQUIS_A_FWD_CID_OUT]	= U(32, 1, UINT32_MAX),
	[MAQUIS_A_BACK_CID_IN]	= U(32, 1, UINT32_MAX),
	[MAQUIS_A_BACK_CID_OUT]	= U(32, 1, UINT32_MAX),
	[MAQUIS_A_NEXT]		= NEST(pol_addr, MAQUIS_A_ADDR_MAX),
	[MAQUIS_A_PREV]		= NEST(pol_addr, MAQUIS_A_ADDR_MAX),
	[MAQUIS_A_LIFETIME]	= U(32, 1, MAQUIS_MAX_LIFETIME),
	[MAQUIS_A_HOP]		= NEST(pol_hop, MAQUIS_A_HOP_MAX),
	[MAQUIS_A_ROUTE]	= NEST(pol_prefix, MAQUIS_A_PREFIX_MAX),
	[MAQUIS_A_SLOT]		= U(8, 0, 1),
	[MAQUIS_A_PEER]		= NEST(pol_addr, MAQUIS_A_ADDR_MAX),
	[MAQUIS_A_CELL]		= BIN(MAQUIS_CELL_SIZE),
	[MAQUIS_A_CTL]		= BIN(MAQUIS_CTL_LEN),
	[MAQUIS_A_JOIN]		= ANY32,
	[MAQUIS_A_E2E_KEY]	= BIN(MAQUIS_E2E_KEY_LEN),
	[MAQUIS_A_RELAY_RATE]	= U(64, 0, MAQUIS_MAX_RELAY_RATE),
	[MAQUIS_A_RELAY_BURST]	= U(32, MAQUIS_CELL_SIZE, MAQUIS_MAX_RELAY_BURST),
};

#define B(x)	(1ULL << MAQUIS_A_##x)

enum { ID_ANY, ID_EXISTS, ID_NEW };

struct opdef {
	const char *name;
	uint8_t cmd;
	bool dump;
	uint64_t allowed;		/* request attributes of the spec */
	uint64_t required;
	int id_rule;
};

enum {
	OP_DEV_GET, OP_DEV_DUMP, OP_DEV_SET, OP_NEW, OP_DEL, OP_GET, OP_DUMP,
	OP_KEY, OP_RESET, OP_CELL, OP_CTL, OP_JOIN, N_OPS
};

static const struct opdef ops[N_OPS] = {
	[OP_DEV_GET] = { "dev-get", MAQUIS_CMD_DEV_GET, false,
			 B(IFINDEX), B(IFINDEX), ID_ANY },
	[OP_DEV_DUMP] = { "dev-get-dump", MAQUIS_CMD_DEV_GET, true, 0, 0,
			  ID_ANY },
	[OP_DEV_SET] = { "dev-set", MAQUIS_CMD_DEV_SET, false,
			 B(IFINDEX) | B(PORT) | B(LOCAL) | B(MAX_CIRCUITS) |
			 B(RELAY_RATE) | B(RELAY_BURST),
			 B(IFINDEX), ID_ANY },
	[OP_NEW] = { "circuit-new", MAQUIS_CMD_CIRCUIT_NEW, false,
		     B(IFINDEX) | B(ID) | B(ROLE) | B(FWD_CID_IN) |
		     B(FWD_CID_OUT) | B(BACK_CID_IN) | B(BACK_CID_OUT) |
		     B(NEXT) | B(PREV) | B(LIFETIME) | B(HOP) | B(ROUTE) |
		     B(E2E_KEY),
		     B(IFINDEX) | B(ID) | B(ROLE) | B(HOP), ID_NEW },
	[OP_DEL] = { "circuit-del", MAQUIS_CMD_CIRCUIT_DEL, false,
		     B(IFINDEX) | B(ID), B(IFINDEX) | B(ID), ID_EXISTS },
	[OP_GET] = { "circuit-get", MAQUIS_CMD_CIRCUIT_GET, false,
		     B(IFINDEX) | B(ID), B(IFINDEX) | B(ID), ID_EXISTS },
	[OP_DUMP] = { "circuit-get-dump", MAQUIS_CMD_CIRCUIT_GET, true,
		      B(IFINDEX), B(IFINDEX), ID_ANY },
	[OP_KEY] = { "key-set", MAQUIS_CMD_KEY_SET, false,
		     B(IFINDEX) | B(ID) | B(HOP) | B(SLOT),
		     B(IFINDEX) | B(ID) | B(HOP) | B(SLOT), ID_EXISTS },
	[OP_RESET] = { "stats-reset", MAQUIS_CMD_STATS_RESET, false,
		       B(IFINDEX) | B(ID), B(IFINDEX), ID_EXISTS },
	[OP_CELL] = { "cell-send", MAQUIS_CMD_CELL_SEND, false,
		      B(IFINDEX) | B(PEER) | B(CELL),
		      B(IFINDEX) | B(PEER) | B(CELL), ID_ANY },
	[OP_CTL] = { "ctl-send", MAQUIS_CMD_CTL_SEND, false,
		     B(IFINDEX) | B(ID) | B(HOP) | B(CTL),
		     B(IFINDEX) | B(ID) | B(CTL), ID_EXISTS },
	[OP_JOIN] = { "circuit-join", MAQUIS_CMD_CIRCUIT_JOIN, false,
		      B(IFINDEX) | B(ID) | B(JOIN),
		      B(IFINDEX) | B(ID) | B(JOIN), ID_EXISTS },
};

/* What the model learnt of the top level: the last of each, as nla_parse. */
struct facts {
	uint64_t present;
	uint32_t ifindex, id, join;
	uint8_t cell_cid[4];
};

static uint64_t rd_uint(const uint8_t *p, int width)
{
	uint64_t v = 0;

	memcpy(&v, p, (size_t)width);	/* little-endian host */
	return v;
}

/*
 * Strict validation as the kernel's __nla_validate_parse() does it: types
 * within the policy and known to it, NLA_F_NESTED exactly on nests, exact
 * lengths, ranges, no bytes left over.  NULL when valid, else why not.
 */
static const char *v_attrs(const uint8_t *p, size_t len,
			   const struct pol *set, int maxtype,
			   uint64_t allowed, struct facts *f)
{
	long rem = (long)len;

	while (rem >= NLA_HDRLEN) {
		struct nlattr a;
		const struct pol *pt;
		const uint8_t *d;
		size_t dl;
		int type, w;
		uint64_t v;
		bool nested;

		memcpy(&a, p, sizeof(a));
		if (a.nla_len < NLA_HDRLEN || a.nla_len > rem)
			break;
		type = a.nla_type & NLA_TYPE_MASK;
		nested = a.nla_type & NLA_F_NESTED;
		d = p + NLA_HDRLEN;
		dl = a.nla_len - NLA_HDRLEN;
		if (!type || type > maxtype)
			return "unknown attribute type";
		pt = &set[type];
		if (pt->t == P_NONE || (allowed && !(allowed & (1ULL << type))))
			return "attribute not in the operation's policy";
		if (pt->t == P_NEST && !nested)
			return "nest without NLA_F_NESTED";
		if (pt->t != P_NEST && nested)
			return "NLA_F_NESTED on a non-nest";
		switch (pt->t) {
		case P_U8: case P_U16: case P_U32: case P_U64:
			w = pt->t == P_U8 ? 1 : pt->t == P_U16 ? 2 :
			    pt->t == P_U32 ? 4 : 8;
			if (dl != (size_t)w)
				return "wrong integer length";
			v = rd_uint(d, w);
			if (v < pt->min || v > pt->max)
				return "value out of range";
			if (f && type == MAQUIS_A_IFINDEX)
				f->ifindex = (uint32_t)v;
			if (f && type == MAQUIS_A_ID)
				f->id = (uint32_t)v;
			if (f && type == MAQUIS_A_JOIN)
				f->join = (uint32_t)v;
			break;
		case P_BIN:
			if (dl != pt->len)
				return "wrong binary length";
			if (f && type == MAQUIS_A_CELL)
				memcpy(f->cell_cid, d, 4);
			break;
		case P_NEST:
			if (dl && dl < NLA_HDRLEN)
				return "nest shorter than an attribute";
			if (dl) {
				const char *why = v_attrs(d, dl, pt->nested,
							  pt->maxtype, 0, NULL);

				if (why)
					return why;
			}
			break;
		}
		if (f)
			f->present |= 1ULL << type;
		p += NLA_ALIGN(a.nla_len);
		rem -= NLA_ALIGN(a.nla_len);
	}
	if (rem > 0)
		return "bytes left over after the attributes";
	return NULL;
}

struct state;
static bool id_standing(const struct state *s, uint32_t id);

/* The model's verdict: NULL (may be valid) or why it must be refused. */
static const char *model(const struct state *s, int op, const uint8_t *p,
			 size_t len, uint32_t ifindex)
{
	const struct opdef *o = &ops[op];
	struct facts f = { 0 };
	const char *why;

	if (!o->allowed && len)
		return "the operation takes no attributes";
	why = v_attrs(p, len, pol_top, MAQUIS_A_MAX, o->allowed, &f);
	if (why)
		return why;
	if ((f.present & o->required) != o->required)
		return "a required attribute is missing";
	if ((f.present & B(IFINDEX)) && f.ifindex != ifindex)
		return "not the ifindex of a maquis device";
	if (o->id_rule == ID_EXISTS && (f.present & B(ID)) &&
	    !id_standing(s, f.id))
		return "no circuit with this id";
	if (o->id_rule == ID_NEW && (f.present & B(ID)) && id_standing(s, f.id))
		return "circuit id in use";
	if (op == OP_CELL && (f.present & B(CELL)) &&
	    (f.cell_cid[0] | f.cell_cid[1] | f.cell_cid[2] | f.cell_cid[3]))
		return "cell-send of a cell with a cid";
	/* standing termini: 30 and 40, none joined */
	if (op == OP_JOIN && (f.present & B(JOIN)) &&
	    (!f.join || f.join == f.id || (f.id != 30 && f.id != 40) ||
	     (f.join != 30 && f.join != 40)))
		return "not two distinct standing termini";
	return NULL;
}

/* ---- state, snapshots, restoring ----------------------------------------- */

/* an origin (10), a relay (20), termini (30, 40: circuit-join's) */
#define N_STANDING	4

struct state {
	struct maq_nl *nl;
	uint32_t ifindex;
	int sink4, sink6;
	union maq_sockaddr a4, a6;
	struct maq_dev dev;			/* reference */
	struct maq_circuit *cs;			/* reference, sorted by id */
	size_t ncs;
	uint32_t standing_id[N_STANDING];
	uint8_t *standing_req[N_STANDING];	/* circuit-new attributes */
	size_t standing_len[N_STANDING];
};

static bool id_standing(const struct state *s, uint32_t id)
{
	int i;

	for (i = 0; i < N_STANDING; i++)
		if (s->standing_id[i] == id)
			return true;
	return false;
}

static int cmp_circ(const void *a, const void *b)
{
	const struct maq_circuit *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Device and circuits without counters, ages (they move on their own). */
static int snap(struct state *s, struct maq_dev *dev, struct maq_circuit **cs,
		size_t *ncs)
{
	struct maq_dev *devs;
	size_t n, i;
	int err;

	err = maq_nl_dev_dump(s->nl, &devs, &n);
	if (err)
		return err;
	if (n != 1) {
		free(devs);
		return -EEXIST;
	}
	*dev = devs[0];
	free(devs);
	memset(&dev->stats, 0, sizeof(dev->stats));
	err = maq_nl_circuit_dump(s->nl, s->ifindex, cs, ncs);
	if (err)
		return err;
	qsort(*cs, *ncs, sizeof(**cs), cmp_circ);
	for (i = 0; i < *ncs; i++) {
		memset(&(*cs)[i].stats, 0, sizeof((*cs)[i].stats));
		(*cs)[i].age = 0;
	}
	return 0;
}

static bool same(const struct state *s, const struct maq_dev *dev,
		 const struct maq_circuit *cs, size_t ncs)
{
	return !memcmp(dev, &s->dev, sizeof(*dev)) && ncs == s->ncs &&
	       !memcmp(cs, s->cs, ncs * sizeof(*cs));
}

static int send_raw(struct state *s, uint8_t cmd, int flags, const void *p,
		    size_t len, char *errmsg, size_t errlen)
{
	struct nl_msg *msg;
	int err;

	nlmsg_set_default_size(len + 4096 > 16384 ? len + 4096 : 16384);
	msg = maq_nl_msg(s->nl, cmd, flags);
	if (!msg)
		return -ENOMEM;
	if (len && nlmsg_append(msg, (void *)p, len, 0)) {
		maq_nl_msg_free(msg);
		return -ENOMEM;
	}
	err = maq_nl_request(s->nl, msg, NULL, NULL);
	snprintf(errmsg, errlen, "%s", err ? maq_nl_errmsg(s->nl) : "");
	return err;
}

/* Puts the reference state back after an accepted (or wrongly handled)
 * request: removes extra circuits, reinstalls missing ones, resets the
 * device.  0 when the state matches the reference again.
 */
static int restore(struct state *s)
{
	struct maq_circuit *cs;
	struct maq_dev dev;
	union maq_sockaddr any;
	char msg[256];
	size_t ncs, i, j;
	int err, k;

	err = snap(s, &dev, &cs, &ncs);
	if (err)
		return err;
	for (i = 0; i < ncs; i++) {
		for (j = 0; j < s->ncs; j++)
			if (cs[i].id == s->cs[j].id &&
			    !memcmp(&cs[i], &s->cs[j], sizeof(cs[i])))
				break;
		if (j == s->ncs)
			maq_nl_circuit_del(s->nl, s->ifindex, cs[i].id);
	}
	free(cs);
	if (memcmp(&dev, &s->dev, sizeof(dev))) {
		memset(&any, 0, sizeof(any));
		any.in4.sin_family = AF_INET;
		err = maq_nl_dev_set(s->nl, s->ifindex, s->dev.port, &any,
				     s->dev.max_circuits);
		if (!err)
			err = maq_nl_dev_set_rate(s->nl, s->ifindex,
						  s->dev.relay_rate,
						  s->dev.relay_burst);
		if (err)
			return err;
	}
	err = snap(s, &dev, &cs, &ncs);
	if (err)
		return err;
	for (k = 0; k < N_STANDING; k++) {
		for (i = 0; i < ncs; i++)
			if (cs[i].id == s->standing_id[k])
				break;
		if (i == ncs)
			send_raw(s, MAQUIS_CMD_CIRCUIT_NEW, 0,
				 s->standing_req[k], s->standing_len[k], msg,
				 sizeof(msg));
	}
	free(cs);
	err = snap(s, &dev, &cs, &ncs);
	if (!err && !same(s, &dev, cs, ncs))
		err = -EIO;
	free(cs);
	return err;
}

/* ---- base requests ------------------------------------------------------- */

static struct node *addr_nest(uint16_t type, const union maq_sockaddr *a)
{
	struct node *n = nest(type);

	if (a->sa.sa_family == AF_INET) {
		append(&n->kid, u32a(MAQUIS_A_ADDR_IPV4, a->in4.sin_addr.s_addr));
		if (a->in4.sin_port)
			append(&n->kid, u16a(MAQUIS_A_ADDR_PORT,
					     a->in4.sin_port));
	} else {
		append(&n->kid, leaf(MAQUIS_A_ADDR_IPV6, &a->in6.sin6_addr,
				     16));
		append(&n->kid, u16a(MAQUIS_A_ADDR_PORT, a->in6.sin6_port));
	}
	return n;
}

/* A hop nest with every key and, per @seqs (bit 0 fwd, bit 1 back),
 * counter offsets below 2^61.
 */
static struct node *hop_nest(uint8_t index, int seqs)
{
	struct node *n = nest(MAQUIS_A_HOP);
	int t;

	append(&n->kid, u8a(MAQUIS_A_HOP_INDEX, index));
	for (t = MAQUIS_A_HOP_FWD_KEY; t <= MAQUIS_A_HOP_BACK_CTL_KEY; t++)
		append(&n->kid, leaf((uint16_t)t, NULL, MAQUIS_KEY_LEN));
	if (seqs & 1)
		append(&n->kid, u64a(MAQUIS_A_HOP_FWD_SEQ, rnd() >> 3));
	if (seqs & 2)
		append(&n->kid, u64a(MAQUIS_A_HOP_BACK_SEQ, rnd() >> 3));
	return n;
}

static struct node *route_nest(bool v6, uint8_t third)
{
	struct node *n = nest(MAQUIS_A_ROUTE);
	uint8_t a6[16] = { 0xfd, 0x30, 0, third };
	uint8_t a4[4] = { 172, 30, third, 0 };

	if (v6)
		append(&n->kid, leaf(MAQUIS_A_PREFIX_IPV6, a6, 16));
	else
		append(&n->kid, leaf(MAQUIS_A_PREFIX_IPV4, a4, 4));
	append(&n->kid, u8a(MAQUIS_A_PREFIX_LEN, v6 ? 64 : 24));
	return n;
}

/* circuit-new for @role: id, cids from @cid0, routes in 172.30.@third/24
 * or fd30:0:@third::/64.
 */
static struct node *circuit(const struct state *s, int role, uint32_t id,
			    uint32_t cid0, uint8_t third)
{
	struct node *l = NULL;
	int i;

	append(&l, u32a(MAQUIS_A_IFINDEX, s->ifindex));
	append(&l, u32a(MAQUIS_A_ID, id));
	append(&l, u8a(MAQUIS_A_ROLE, (uint8_t)role));
	switch (role) {
	case MAQUIS_ROLE_ORIGIN:
		append(&l, u32a(MAQUIS_A_FWD_CID_OUT, cid0 + 1));
		append(&l, u32a(MAQUIS_A_BACK_CID_IN, cid0 + 2));
		append(&l, addr_nest(MAQUIS_A_NEXT, &s->a4));
		append(&l, u32a(MAQUIS_A_LIFETIME, 3600));
		for (i = 0; i < 4; i++)
			append(&l, hop_nest((uint8_t)i, 3));
		append(&l, route_nest(false, third));
		break;
	case MAQUIS_ROLE_RELAY:
		append(&l, u32a(MAQUIS_A_FWD_CID_IN, cid0 + 1));
		append(&l, u32a(MAQUIS_A_FWD_CID_OUT, cid0 + 2));
		append(&l, u32a(MAQUIS_A_BACK_CID_IN, cid0 + 3));
		append(&l, u32a(MAQUIS_A_BACK_CID_OUT, cid0 + 4));
		append(&l, addr_nest(MAQUIS_A_NEXT, &s->a4));
		append(&l, addr_nest(MAQUIS_A_PREV, &s->a6));
		append(&l, u32a(MAQUIS_A_LIFETIME, 3600));
		append(&l, hop_nest(0, 3));
		break;
	default:
		append(&l, u32a(MAQUIS_A_FWD_CID_IN, cid0 + 1));
		append(&l, u32a(MAQUIS_A_BACK_CID_OUT, cid0 + 2));
		append(&l, addr_nest(MAQUIS_A_PREV, &s->a6));
		append(&l, hop_nest(0, 2));
		append(&l, route_nest(true, third));
	}
	return l;
}

/* Valid request @variant of @op (a few per op: roles, targets). */
static struct node *base(const struct state *s, int op, int variant)
{
	static const uint32_t target[] = { 10, 20, 30 };
	uint32_t id = target[variant % 3];
	union maq_sockaddr any;
	struct node *l = NULL, *h;
	uint8_t cell[MAQUIS_CELL_SIZE];

	if (op == OP_DEV_DUMP)
		return NULL;
	if (op == OP_NEW) {
		l = circuit(s, variant % 3, 100 + variant % 3 * 100,
			    5000 + (uint32_t)(variant % 3) * 100, 9);
		/* the origin with end-to-end keys, for their mutations */
		if (variant % 3 == MAQUIS_ROLE_ORIGIN)
			append(&l, leaf(MAQUIS_A_E2E_KEY, NULL,
					MAQUIS_E2E_KEY_LEN));
		return l;
	}
	append(&l, u32a(MAQUIS_A_IFINDEX, s->ifindex));
	switch (op) {
	case OP_DEV_SET:
		append(&l, u16a(MAQUIS_A_PORT, s->dev.port));
		memset(&any, 0, sizeof(any));
		any.in4.sin_family = AF_INET;
		append(&l, addr_nest(MAQUIS_A_LOCAL, &any));
		append(&l, u32a(MAQUIS_A_MAX_CIRCUITS, s->dev.max_circuits));
		append(&l, u64a(MAQUIS_A_RELAY_RATE, s->dev.relay_rate));
		append(&l, u32a(MAQUIS_A_RELAY_BURST, s->dev.relay_burst));
		break;
	case OP_DEL: case OP_GET: case OP_RESET:
		append(&l, u32a(MAQUIS_A_ID, id));
		break;
	case OP_KEY:
		append(&l, u32a(MAQUIS_A_ID, id));
		h = append(&l, hop_nest(0, 0));
		if (variant % 3 == 0)	/* the origin has 4 hops */
			h->kid->data[0] = (uint8_t)(variant % 4);
		append(&l, u8a(MAQUIS_A_SLOT, (uint8_t)(variant & 1)));
		break;
	case OP_CELL:
		append(&l, addr_nest(MAQUIS_A_PEER, variant & 1 ? &s->a6 : &s->a4));
		rnd_bytes(cell, sizeof(cell));
		memset(cell, 0, 4);
		append(&l, leaf(MAQUIS_A_CELL, cell, sizeof(cell)));
		break;
	case OP_JOIN:
		/* the standing termini, one way or the other */
		append(&l, u32a(MAQUIS_A_ID, variant & 1 ? 40 : 30));
		append(&l, u32a(MAQUIS_A_JOIN, variant & 1 ? 30 : 40));
		break;
	case OP_CTL:
		append(&l, u32a(MAQUIS_A_ID, id));
		h = append(&l, nest(MAQUIS_A_HOP));
		append(&h->kid, u8a(MAQUIS_A_HOP_INDEX,
				    id == 10 ? (uint8_t)(variant % 4) : 0));
		append(&l, leaf(MAQUIS_A_CTL, NULL, MAQUIS_CTL_LEN));
		break;
	}
	return l;
}

/* ---- mutations ----------------------------------------------------------- */

/* The policy of the node at @w: its set and max type. */
static const struct pol *node_pol(const struct where *w)
{
	int t = (*w->link)->type & NLA_TYPE_MASK;
	const struct pol *pt;

	if (!w->parent)
		return t <= MAQUIS_A_MAX ? &pol_top[t] : NULL;
	if ((w->parent->type & NLA_TYPE_MASK) > MAQUIS_A_MAX)
		return NULL;
	pt = &pol_top[w->parent->type & NLA_TYPE_MASK];
	if (pt->t != P_NEST || t > pt->maxtype)
		return NULL;
	return &pt->nested[t];
}

static int pol_width(const struct pol *p)
{
	switch (p ? p->t : P_NONE) {
	case P_U8: return 1;
	case P_U16: return 2;
	case P_U32: return 4;
	case P_U64: return 8;
	case P_BIN: return p->len;
	default: return 4;
	}
}

/* Mutation classes; each takes the node index and a parameter. */
enum {
	M_LEN, M_VALUE, M_REMOVE, M_DUP, M_DUP_VALUE, M_RETYPE, M_FLAGS,
	M_NEST_RAW, M_NEST_KID, M_DEEP, M_UNKNOWN, M_TAIL, M_HUGE_ATTR,
	M_MANY, N_MUT
};

static const char *const mut_name[N_MUT] = {
	"length", "value", "remove", "duplicate", "duplicate-value",
	"retype", "flags", "nest-garbage", "nest-wrong-kid", "deep-nest",
	"unknown-attr", "trailing", "huge-attr", "oversized",
};

/* Parameters each class is swept over in the systematic part. */
static const int mut_params[N_MUT] = {
	[M_LEN] = 7, [M_VALUE] = 8, [M_REMOVE] = 1, [M_DUP] = 1,
	[M_DUP_VALUE] = 2, [M_RETYPE] = 6, [M_FLAGS] = 3, [M_NEST_RAW] = 6,
	[M_NEST_KID] = 4, [M_DEEP] = 4, [M_UNKNOWN] = 8, [M_TAIL] = 4,
	[M_HUGE_ATTR] = 2, [M_MANY] = 3,
};

/* Whole-message classes ignore the node. */
static bool mut_global(int m)
{
	return m == M_UNKNOWN || m == M_TAIL || m == M_HUGE_ATTR ||
	       m == M_MANY;
}

static void set_uint(struct node *n, int width, uint64_t v)
{
	n->len = (uint32_t)width;
	n->data = arena_alloc((size_t)width);
	memcpy(n->data, &v, (size_t)width);
}

/*
 * One "oversized" mutation adds at most this much: four of them stacked
 * still fit the request buffer (4 MiB), and 10^4 copies of a hop (450 KB)
 * stay whole.
 */
#define MANY_BYTES	(512u << 10)

/* Applies mutation @m with parameter @k to node @idx of *@l.  false when
 * it does not apply (the node is not of a kind it changes).
 */
static bool mutate(struct node **l, int m, int idx, int k)
{
	static const uint16_t unknown_types[] = {
		0, MAQUIS_A_MAX + 1, MAQUIS_A_N_CIRCUITS, MAQUIS_A_STATS,
		0x3fff, MAQUIS_A_AGE,
	};
	const struct pol *pt;
	struct where w;
	struct node *n, *c;
	uint64_t v;
	int i, width, cnt;

	if (mut_global(m)) {
		switch (m) {
		case M_UNKNOWN:
			c = leaf(unknown_types[k % 6], NULL, rnd_below(12));
			if (k >= 6 && *l)
				c->next = *l, *l = c;
			else
				append(l, c);
			return true;
		case M_TAIL:
			append(l, raw(NULL, (uint32_t)(k % 4) + 1));
			return true;
		case M_HUGE_ATTR:
			append(l, leaf(k ? MAQUIS_A_CELL : MAQUIS_A_MAX + 7,
				       NULL, 65000));
			return true;
		default:
			/* Thousands of copies of the first attribute, of a
			 * hop, of a route (the last two are multi-attr):
			 * 2 * 10^4 nodes in all, at most MANY_BYTES of them.
			 * The first attribute may be a huge one (an empty
			 * dev-get dump request after huge-attr): without
			 * the byte bound, 20000 of those fill the arena.
			 */
			n = k == 0 ? *l : k == 1 ? hop_nest(0, 3) :
			    route_nest(false, 77);
			if (!n)
				n = u32a(MAQUIS_A_IFINDEX, 1);
			c = clone_one(n);
			cnt = 20000 / count_nodes(c);
			if ((size_t)cnt * tree_bytes(c) > MANY_BYTES)
				cnt = (int)(MANY_BYTES / tree_bytes(c));
			/* from the tail: append() per copy is quadratic */
			n = append(l, clone_one(c));
			for (i = 1; i < cnt; i++)
				n = n->next = clone_one(c);
			return true;
		}
	}

	if (!find_node(l, NULL, 0, &idx, &w))
		return false;
	n = *w.link;
	pt = node_pol(&w);
	width = pol_width(pt);
	switch (m) {
	case M_LEN: {
		const uint32_t lens[] = { 0, 1, (uint32_t)width - 1,
					  (uint32_t)width + 1,
					  2 * (uint32_t)width, 1500, 60000 };
		uint32_t len = lens[k % 7];

		if (n->kind == N_NEST || len == (uint32_t)width ||
		    (w.depth && len > 30000))
			return false;
		c = leaf(n->type, NULL, len);
		memcpy(c->data, n->data, len < n->len ? len : n->len);
		c->next = n->next;
		*w.link = c;
		return true;
	}
	case M_VALUE: {
		uint64_t lo = pt ? pt->min : 0, hi = pt ? pt->max : 0;
		const uint64_t vals[] = { 0, 1, lo - 1, lo, hi, hi + 1,
					  UINT64_MAX, rnd() };

		if (n->kind != N_LEAF || !pt || pt->t < P_U8 || pt->t > P_U64)
			return false;
		v = vals[k % 8];
		if (width < 8)
			v &= (1ULL << (8 * width)) - 1;
		set_uint(n, width, v);
		return true;
	}
	case M_REMOVE:
		*w.link = n->next;
		return true;
	case M_DUP:
	case M_DUP_VALUE:
		c = clone_one(n);
		if (m == M_DUP_VALUE) {
			if (n->kind != N_LEAF)
				return false;
			if (k == 0)
				rnd_bytes(c->data, c->len);
			else
				memset(c->data, 0xff, c->len);
		}
		c->next = n->next;
		n->next = c;
		return true;
	case M_RETYPE: {
		int max = w.parent ? 8 : MAQUIS_A_MAX;
		const int types[] = { 0, 1 + (int)rnd_below((uint32_t)max),
				      1 + (int)rnd_below((uint32_t)max),
				      max + 1, 0x3fff, 1 + k };

		n->type = (uint16_t)((n->type & ~NLA_TYPE_MASK) |
				     (types[k % 6] & NLA_TYPE_MASK));
		return true;
	}
	case M_FLAGS:
		if (k == 0)
			n->type ^= NLA_F_NESTED;
		else if (k == 1)
			n->type |= NLA_F_NET_BYTEORDER;
		else
			n->type |= NLA_F_NESTED | NLA_F_NET_BYTEORDER;
		return true;
	case M_NEST_RAW: {
		const uint32_t lens[] = { 0, 1, 3, 4, 8, 64 };

		if (n->kind != N_NEST)
			return false;
		n->kid = lens[k % 6] ? raw(NULL, lens[k % 6]) : NULL;
		return true;
	}
	case M_NEST_KID:
		/* A child of a wrong or unknown type, or a nest child. */
		if (n->kind != N_NEST)
			return false;
		if (k == 0)
			c = u32a(0, (uint32_t)rnd());
		else if (k == 1)
			c = leaf((uint16_t)(9 + rnd_below(20)), NULL,
				 rnd_below(40));
		else if (k == 2)
			c = nest((uint16_t)(1 + rnd_below(7)));
		else
			c = leaf((uint16_t)(1 + rnd_below(7)), NULL,
				 rnd_below(40));
		if (k == 2)
			append(&c->kid, leaf(1, NULL, 4));
		append(&n->kid, c);
		return true;
	case M_DEEP: {
		const int depths[] = { 1, 2, 8, 32 };

		/* Wrap the node in nests of its own type. */
		c = n;
		for (i = 0; i < depths[k % 4]; i++) {
			struct node *wrap = nest(n->type & NLA_TYPE_MASK);

			wrap->next = c->next;
			c->next = NULL;
			wrap->kid = c;
			c = wrap;
		}
		*w.link = c;
		return true;
	}
	}
	return false;
}

/* ---- running ------------------------------------------------------------- */

struct tally {
	uint64_t sent, refused, accepted, must_refuse, fail_accept,
		 fail_extack, fail_state, not_sent, core;
	double secs, slowest;
	char slow[128];
};

/* Shared with the harness' child processes: totals over every test,
 * printed when the parent exits.
 */
static struct tally *shared_tally;
static pid_t parent;

__attribute__((constructor)) static void shared_tally_init(void)
{
	parent = getpid();
	void *p = mmap(NULL, sizeof(struct tally) * (N_OPS + 1),
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);

	shared_tally = p == MAP_FAILED ? NULL : p;
	if (shared_tally)
		memset(shared_tally, 0, sizeof(struct tally) * (N_OPS + 1));
}

static uint64_t seed(void)
{
	const char *e = getenv("MAQ_MUTATE_SEED");
	static uint64_t s;

	/*
	 * A fixed default keeps make check deterministic; set the variable
	 * (e.g. to $RANDOM$RANDOM) to explore other sequences.
	 */
	if (!s)
		s = e && *e ? strtoull(e, NULL, 0) : 0x6d617175697331ULL;
	return s ? s : 1;
}

/* The generator of random round @round of @op (see the top comment). */
static void seed_round(int op, uint64_t round)
{
	uint64_t z = seed() + (uint64_t)(op + 1) * 0x9e3779b97f4a7c15ULL +
		     round * 0xd1b54a32d192ed03ULL;

	/* splitmix64's finalizer: neighbouring rounds start far apart */
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	rng_state = z ? z : 1;
}

/* MAQ_MUTATE_ROUND: the one random round to run, -1 for all. */
static long long only_round(void)
{
	const char *e = getenv("MAQ_MUTATE_ROUND");

	return e && *e ? strtoll(e, NULL, 0) : -1;
}

static double budget_per_op(void)
{
	const char *e = getenv("MAQ_MUTATE_SECS");
	double total = e && *e ? atof(e) : 40;

	return total / N_OPS;
}

static struct out out_buf;

/* Sends one request, judges it, restores the state. */
static void one(struct __test_metadata *_metadata, struct state *s, int op,
		struct node *l, int nlflags, uint8_t cmd, bool core,
		const char *what, struct tally *t)
{
	const struct opdef *o = &ops[op];
	struct maq_circuit *cs;
	struct maq_dev dev;
	const char *must;
	char msg[256];
	size_t ncs;
	bool bad = false;
	double t0, dt;
	int err, err2;

	out_buf.len = 0;
	out_buf.overflow = false;
	serialize(&out_buf, l);
	if (out_buf.overflow)
		return;		/* not representable: nothing sent */
	must = core ? "genetlink refuses it" :
	       model(s, op, out_buf.buf, out_buf.len, s->ifindex);
	t0 = maq_now();
	err = send_raw(s, cmd, nlflags | (o->dump ? NLM_F_DUMP : 0),
		       out_buf.buf, out_buf.len, msg, sizeof(msg));
	udp_drain(s->sink4);
	udp_drain(s->sink6);
	t->sent++;
	if (must)
		t->must_refuse++;
	if (err == -EMSGSIZE && !*msg && out_buf.len > 200000) {
		/* the socket refused to send it: never reached the kernel */
		t->not_sent++;
		return;
	}
	if (core) {
		t->core++;
		if (err != -EOPNOTSUPP) {
			bad = true;
			t->fail_accept++;
		}
	} else if (err) {
		t->refused++;
		if (!*msg) {
			bad = true;
			t->fail_extack++;
		}
	} else {
		t->accepted++;
		if (must) {
			bad = true;
			t->fail_accept++;
		}
	}
	err2 = snap(s, &dev, &cs, &ncs);
	ASSERT_EQ(0, err2) TH_LOG("%s: %s: snapshot: %s", o->name, what,
				  strerror(-err2));
	if (!same(s, &dev, cs, ncs)) {
		if (err) {
			bad = true;
			t->fail_state++;
		}
		err2 = restore(s);
		ASSERT_EQ(0, err2) TH_LOG("%s: %s: cannot restore the state: %s",
					  o->name, what, strerror(-err2));
	}
	free(cs);
	dt = maq_now() - t0;
	t->secs += dt;
	if (dt > t->slowest) {
		t->slowest = dt;
		snprintf(t->slow, sizeof(t->slow), "%s", what);
	}
	if (bad && t->fail_accept + t->fail_extack + t->fail_state <=
	    MAX_FAIL_LOG)
		ksft_print_msg("FAIL %s: %s (%zu bytes): %s \"%s\"%s%s\n",
			       o->name, what, out_buf.len,
			       err ? strerrorname_np(-err) : "accepted", msg,
			       must ? "; model: " : "", must ? must : "");
}

static void tally_add(struct tally *a, const struct tally *b)
{
	a->sent += b->sent;
	a->refused += b->refused;
	a->accepted += b->accepted;
	a->must_refuse += b->must_refuse;
	a->fail_accept += b->fail_accept;
	a->fail_extack += b->fail_extack;
	a->fail_state += b->fail_state;
	a->not_sent += b->not_sent;
	a->core += b->core;
	a->secs += b->secs;
}

static void tally_print(const char *name, const struct tally *t)
{
	ksft_print_msg("%-16s sent %6" PRIu64 "  refused %6" PRIu64
		       "  accepted %5" PRIu64 "  (must refuse %6" PRIu64
		       ")  core %3" PRIu64 "  unsent %" PRIu64
		       "  FAILED: accepted %" PRIu64 ", no extack %" PRIu64
		       ", state %" PRIu64 "; %.1f s\n", name, t->sent,
		       t->refused, t->accepted, t->must_refuse, t->core,
		       t->not_sent, t->fail_accept, t->fail_extack,
		       t->fail_state, t->secs);
	if (t->slowest > 0.5)
		ksft_print_msg("%-16s slowest %.2f s: %s\n", name, t->slowest,
			       t->slow);
}

static int n_variants(int op)
{
	return op == OP_DEV_GET || op == OP_DEV_DUMP || op == OP_DUMP ? 1 :
	       op == OP_DEV_SET ? 1 : op == OP_CELL ? 2 : 3;
}

static void run_op(struct __test_metadata *_metadata, struct state *s, int op)
{
	const struct opdef *o = &ops[op];
	struct tally t = { 0 };
	double deadline;
	char what[128];
	int v, m, k, idx, nn, i, j, nmut;
	long long round, only = only_round(), rounds = 0;

	rng_state = seed() ^ (uint64_t)(op + 1) * 0x9e3779b97f4a7c15ULL;
	if (!rng_state)
		rng_state = 1;
	ksft_print_msg("%s: seed %" PRIu64 " (MAQ_MUTATE_SEED)\n", o->name,
		       seed());
	building = what;
	snprintf(what, sizeof(what), "base");

	/* The bases themselves, each valid. */
	for (v = 0; v < n_variants(op); v++) {
		arena_used = 0;
		one(_metadata, s, op, base(s, op, v), 0, o->cmd, false,
		    "base", &t);
	}
	ASSERT_EQ(t.sent, t.accepted) TH_LOG("%s: a base request failed",
					     o->name);

	/* Systematic: every class, every node, every parameter. */
	for (v = 0; v < n_variants(op) && only < 0; v++) {
		arena_used = 0;
		nn = count_nodes(base(s, op, v));
		for (m = 0; m < N_MUT; m++) {
			for (idx = 0; idx < (mut_global(m) ? 1 : nn); idx++) {
				for (k = 0; k < mut_params[m]; k++) {
					struct node *l;

					arena_used = 0;
					snprintf(what, sizeof(what),
						 "base %d, %s of node %d (%d)",
						 v, mut_name[m], idx, k);
					l = base(s, op, v);
					if (!mutate(&l, m, idx, k))
						continue;
					one(_metadata, s, op, l, 0, o->cmd,
					    false, what, &t);
				}
			}
		}
	}

	/* Netlink header: flags genetlink ignores on a request. */
	for (k = 0; k < 4; k++) {
		static const int fl[] = { NLM_F_ROOT, NLM_F_ECHO,
					  NLM_F_EXCL | NLM_F_CREATE,
					  NLM_F_REPLACE | NLM_F_APPEND };

		if (o->dump && (fl[k] & NLM_F_ROOT))
			continue;
		arena_used = 0;
		snprintf(what, sizeof(what), "nlmsg flags %#x", fl[k]);
		one(_metadata, s, op, base(s, op, 0), fl[k], o->cmd, false,
		    what, &t);
	}
	/* A dump of a do-only operation: the core answers, not us. */
	if (!o->dump && op != OP_DEV_GET && op != OP_GET) {
		arena_used = 0;
		one(_metadata, s, op, base(s, op, 0), NLM_F_DUMP, o->cmd, true,
		    "NLM_F_DUMP on a do-only operation", &t);
	}

	/*
	 * Random stacks of 1..4 mutations until the time budget is spent, or
	 * the one round asked for.
	 */
	deadline = maq_now() + budget_per_op();
	for (round = only < 0 ? 0 : only;
	     only < 0 ? maq_now() < deadline && round < 20000 : round == only;
	     round++) {
		struct node *l;
		int done = 0;

		seed_round(op, (uint64_t)round);
		arena_used = 0;
		v = (int)rnd_below((uint32_t)n_variants(op));
		l = base(s, op, v);
		nmut = 1 + (int)rnd_below(4);
		i = snprintf(what, sizeof(what), "random round %lld base %d:",
			     round, v);
		j = i;
		for (; nmut > 0; nmut--) {
			m = (int)rnd_below(N_MUT);
			if (m == M_MANY || m == M_HUGE_ATTR)
				m = rnd_below(8) ? M_VALUE : m;
			k = (int)rnd_below((uint32_t)mut_params[m]);
			idx = (int)rnd_below((uint32_t)count_nodes(l) + 1);
			if (i < (int)sizeof(what) - 24)
				i += snprintf(what + i, sizeof(what) - i,
					      " %s@%d(%d)", mut_name[m], idx,
					      k);
			if (!mutate(&l, m, idx, k)) {
				what[i = j] = '\0';
				continue;
			}
			j = i;
			done++;
		}
		if (only >= 0)
			ksft_print_msg("%s: %s%s\n", o->name, what,
				       done ? "" : " (none applies: not sent)");
		if (!done)
			continue;
		one(_metadata, s, op, l, 0, o->cmd, false, what, &t);
		rounds++;
	}

	ksft_print_msg("%s: %lld random rounds, %lld of them sent\n", o->name,
		       round - (only < 0 ? 0 : only), rounds);
	tally_print(o->name, &t);
	if (shared_tally)
		tally_add(&shared_tally[op], &t);
	if (only >= 0) {
		EXPECT_EQ(0, t.fail_accept + t.fail_extack + t.fail_state)
			TH_LOG("%s: round %lld fails (FAIL lines above)",
			       o->name, only);
		building = "";
		return;
	}
	EXPECT_LT(50, t.sent) TH_LOG("%s: only %" PRIu64 " requests sent",
				     o->name, t.sent);
	EXPECT_EQ(0, t.fail_accept) TH_LOG("%s: requests the model refuses were accepted (FAIL lines above)",
					   o->name);
	EXPECT_EQ(0, t.fail_extack) TH_LOG("%s: refusals without an extack message (FAIL lines above)",
					   o->name);
	EXPECT_EQ(0, t.fail_state) TH_LOG("%s: refused requests changed the state (FAIL lines above)",
					  o->name);
	building = "";
}

/* ---- fixture --------------------------------------------------------------- */

FIXTURE(mut) {
	struct state s;
};

FIXTURE_SETUP(mut)
{
	struct state *s = &self->s;
	struct maq_circuit *cs;
	struct node *l;
	int i, err, buf = 16 << 20;
	char msg[256];

	memset(s, 0, sizeof(*s));
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!arena) {
		arena = malloc(ARENA_SIZE);
		out_buf.cap = 4u << 20;
		out_buf.buf = malloc(out_buf.cap);
		ASSERT_NE(NULL, arena) TH_LOG("no memory for the node arena");
		ASSERT_NE(NULL, out_buf.buf) TH_LOG("no memory for the request buffer");
	}
	ASSERT_EQ(0, unshare(CLONE_NEWNET)) TH_LOG("unshare(CLONE_NEWNET): %m");
	ASSERT_EQ(0, link_up("lo")) TH_LOG("cannot bring lo up");
	err = link_add(DEV, maq_kind());
	ASSERT_EQ(0, err) TH_LOG("ip link add %s: %s", DEV, strerror(-err));
	s->ifindex = if_nametoindex(DEV);
	ASSERT_NE(0, s->ifindex) TH_LOG("%s has no ifindex: %m", DEV);
	err = sysctl_write("net/ipv6/conf/" DEV "/disable_ipv6", "1");
	ASSERT_EQ(0, err) TH_LOG("disable_ipv6 on %s: %s", DEV, strerror(-err));
	ASSERT_EQ(0, link_up(DEV)) TH_LOG("cannot bring %s up", DEV);
	ASSERT_EQ(0, maq_nl_open(&s->nl)) TH_LOG("family maquis not found");
	/* The oversized requests must reach the kernel whole. */
	setsockopt(maq_nl_fd(s->nl), SOL_SOCKET, SO_SNDBUFFORCE, &buf,
		   sizeof(buf));
	setsockopt(maq_nl_fd(s->nl), SOL_SOCKET, SO_RCVBUFFORCE, &buf,
		   sizeof(buf));
	s->sink4 = udp_sink(AF_INET, "127.0.0.1", &s->a4);
	ASSERT_LE(0, s->sink4) TH_LOG("UDP sink on 127.0.0.1: %s",
				      strerror(-s->sink4));
	s->sink6 = udp_sink(AF_INET6, "::1", &s->a6);
	ASSERT_LE(0, s->sink6) TH_LOG("UDP sink on ::1: %s",
				      strerror(-s->sink6));

	/* Standing circuits: N_STANDING's. */
	rng_state = seed() | 1;
	for (i = 0; i < N_STANDING; i++) {
		arena_used = 0;
		s->standing_id[i] = 10 * (uint32_t)(i + 1);
		l = circuit(s, i < MAQUIS_ROLE_TERMINUS ? i :
			    MAQUIS_ROLE_TERMINUS, s->standing_id[i],
			    1000 * (uint32_t)(i + 1), (uint8_t)(1 + i));
		out_buf.len = 0;
		serialize(&out_buf, l);
		s->standing_len[i] = out_buf.len;
		s->standing_req[i] = malloc(out_buf.len);
		ASSERT_NE(NULL, s->standing_req[i])
			TH_LOG("no memory for standing circuit %d", i);
		memcpy(s->standing_req[i], out_buf.buf, out_buf.len);
		err = send_raw(s, MAQUIS_CMD_CIRCUIT_NEW, 0, out_buf.buf,
			       out_buf.len, msg, sizeof(msg));
		ASSERT_EQ(0, err) TH_LOG("standing circuit %d: %s: %s", i,
					 strerror(-err), msg);
	}
	err = snap(s, &s->dev, &cs, &s->ncs);
	ASSERT_EQ(0, err) TH_LOG("reference snapshot: %s", strerror(-err));
	s->cs = cs;
	ASSERT_EQ(N_STANDING, s->ncs) TH_LOG("%zu circuits after installing %d",
					     s->ncs, N_STANDING);
}

FIXTURE_TEARDOWN(mut)
{
	int i;

	for (i = 0; i < N_STANDING; i++)
		free(self->s.standing_req[i]);
	free(self->s.cs);
	if (self->s.nl)
		maq_nl_close(self->s.nl);
}

#define OP_TEST(name, op)						\
	TEST_F_TIMEOUT(mut, name, 600) { run_op(_metadata, &self->s, op); }

OP_TEST(dev_get, OP_DEV_GET)
OP_TEST(dev_get_dump, OP_DEV_DUMP)
OP_TEST(dev_set, OP_DEV_SET)
OP_TEST(circuit_new, OP_NEW)
OP_TEST(circuit_del, OP_DEL)
OP_TEST(circuit_get, OP_GET)
OP_TEST(circuit_get_dump, OP_DUMP)
OP_TEST(key_set, OP_KEY)
OP_TEST(stats_reset, OP_RESET)
OP_TEST(cell_send, OP_CELL)
OP_TEST(ctl_send, OP_CTL)
OP_TEST(circuit_join, OP_JOIN)

/* Commands the family does not have: refused by genetlink, EOPNOTSUPP. */
TEST_F(mut, unknown_commands)
{
	static const uint8_t cmds[] = { 0, MAQUIS_CMD_EVENT_NTF,
					MAQUIS_CMD_CELL_NTF,
					MAQUIS_CMD_MAX + 1, 200, 255 };
	struct tally t = { 0 };
	size_t i;

	arena_used = 0;
	for (i = 0; i < sizeof(cmds); i++)
		one(_metadata, &self->s, OP_DEV_GET,
		    base(&self->s, OP_DEV_GET, 0), 0, cmds[i], true,
		    "unknown command", &t);
	tally_print("unknown-cmd", &t);
	if (shared_tally)
		tally_add(&shared_tally[N_OPS], &t);
	EXPECT_EQ(0, t.fail_accept) TH_LOG("unknown commands not refused with EOPNOTSUPP (FAIL lines above)");
	EXPECT_EQ(0, t.fail_state) TH_LOG("unknown commands changed the state (FAIL lines above)");
}

/* ---- the model against the module's own policies ------------------------ */

#define MAX_POLICIES	16
#define MAX_PTYPES	64

/* One attribute of one policy as CTRL_CMD_GETPOLICY reports it. */
struct kattr {
	uint32_t type;			/* NL_ATTR_TYPE_*; 0: not in it */
	uint64_t min, max;		/* integers */
	uint32_t minlen, maxlen;	/* binary */
	int nested;			/* policy index of a nest, or -1 */
	uint32_t maxtype;
};

struct kpolicies {
	struct kattr a[MAX_POLICIES][MAX_PTYPES];
	int do_idx[256], dump_idx[256];	/* -1: no policy */
	const char *bad;		/* what could not be read */
};

static void kp_attr(struct kpolicies *k, int pi, struct nlattr *nest)
{
	struct kattr *ka;
	struct nlattr *a;
	int rem;

	if (pi >= MAX_POLICIES || nla_type(nest) >= MAX_PTYPES) {
		k->bad = "more policies or attributes than the test holds";
		return;
	}
	ka = &k->a[pi][nla_type(nest)];
	ka->maxlen = UINT32_MAX;
	ka->nested = -1;
	nla_for_each_nested(a, nest, rem) {
		switch (nla_type(a)) {
		case NL_POLICY_TYPE_ATTR_TYPE:
			ka->type = nla_get_u32(a);
			break;
		case NL_POLICY_TYPE_ATTR_MIN_VALUE_U:
			ka->min = nla_get_u64(a);
			break;
		case NL_POLICY_TYPE_ATTR_MAX_VALUE_U:
			ka->max = nla_get_u64(a);
			break;
		case NL_POLICY_TYPE_ATTR_MIN_LENGTH:
			ka->minlen = nla_get_u32(a);
			break;
		case NL_POLICY_TYPE_ATTR_MAX_LENGTH:
			ka->maxlen = nla_get_u32(a);
			break;
		case NL_POLICY_TYPE_ATTR_POLICY_IDX:
			ka->nested = (int)nla_get_u32(a);
			break;
		case NL_POLICY_TYPE_ATTR_POLICY_MAXTYPE:
			ka->maxtype = nla_get_u32(a);
			break;
		}
	}
}

static void kp_message(struct kpolicies *k, struct nlmsghdr *nlh)
{
	struct nlattr *a, *x, *y;
	int rem, rx, ry;

	nla_for_each_attr(a, (struct nlattr *)((char *)NLMSG_DATA(nlh) +
					       GENL_HDRLEN),
			  (int)nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN,
			  rem) {
		if (nla_type(a) == CTRL_ATTR_OP_POLICY) {
			nla_for_each_nested(x, a, rx) {
				nla_for_each_nested(y, x, ry) {
					if (nla_type(y) == CTRL_ATTR_POLICY_DO)
						k->do_idx[nla_type(x) & 255] =
							(int)nla_get_u32(y);
					if (nla_type(y) == CTRL_ATTR_POLICY_DUMP)
						k->dump_idx[nla_type(x) & 255] =
							(int)nla_get_u32(y);
				}
			}
		} else if (nla_type(a) == CTRL_ATTR_POLICY) {
			nla_for_each_nested(x, a, rx)
				nla_for_each_nested(y, x, ry)
					kp_attr(k, nla_type(x), y);
		}
	}
}

/* The policies of family "maquis", every operation's: 0 or -errno. */
static int kp_dump(struct kpolicies *k)
{
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
		struct nlattr a;
		char name[8];
	} req = {
		.n.nlmsg_len = sizeof(req),
		.n.nlmsg_type = GENL_ID_CTRL,
		.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		.n.nlmsg_seq = 1,
		.g.cmd = CTRL_CMD_GETPOLICY,
		.g.version = 2,
		.a.nla_len = NLA_HDRLEN + sizeof("maquis"),
		.a.nla_type = CTRL_ATTR_FAMILY_NAME,
		.name = "maquis",
	};
	static char buf[1 << 16];
	struct nlmsghdr *nlh;
	int fd, err = 0, i, msgs;
	ssize_t n;

	memset(k, 0, sizeof(*k));
	for (i = 0; i < 256; i++)
		k->do_idx[i] = k->dump_idx[i] = -1;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, sizeof(req), 0) < 0) {
		err = -errno;
		goto out;
	}
	/* a few hundred messages at most: bounded all the same */
	for (msgs = 0; msgs < 100000;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			err = -errno;
			goto out;
		}
		for (nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n), msgs++) {
			if (nlh->nlmsg_type == NLMSG_DONE)
				goto out;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				err = ((struct nlmsgerr *)NLMSG_DATA(nlh))->error;
				goto out;
			}
			kp_message(k, nlh);
		}
	}
	err = -E2BIG;
out:
	close(fd);
	return err;
}

static const char *const nl_type_name[] = {
	[NL_ATTR_TYPE_U8] = "u8", [NL_ATTR_TYPE_U16] = "u16",
	[NL_ATTR_TYPE_U32] = "u32", [NL_ATTR_TYPE_U64] = "u64",
	[NL_ATTR_TYPE_BINARY] = "binary", [NL_ATTR_TYPE_NESTED] = "nest",
};

static uint32_t model_nl_type(const struct pol *p)
{
	switch (p->t) {
	case P_U8: return NL_ATTR_TYPE_U8;
	case P_U16: return NL_ATTR_TYPE_U16;
	case P_U32: return NL_ATTR_TYPE_U32;
	case P_U64: return NL_ATTR_TYPE_U64;
	case P_BIN: return NL_ATTR_TYPE_BINARY;
	default: return NL_ATTR_TYPE_NESTED;
	}
}

static const char *kt_name(uint32_t t)
{
	return t < sizeof(nl_type_name) / sizeof(nl_type_name[0]) &&
	       nl_type_name[t] ? nl_type_name[t] : "another type";
}

/*
 * Compares the model's @set (up to @maxtype; @allowed, if not 0, the
 * attributes the operation takes) with the module's policy @ki (-1: none):
 * the number of differences, each printed with @where.
 */
static int kp_compare(const struct kpolicies *k, int ki, const struct pol *set,
		      int maxtype, uint64_t allowed, const char *where,
		      int *compared)
{
	static const struct kattr none = { .nested = -1 };
	char sub[96];
	int t, bad = 0;

	if (ki >= MAX_POLICIES)
		ki = -1;
	for (t = 1; t < MAX_PTYPES; t++) {
		const struct pol *m = t <= maxtype && set[t].t != P_NONE &&
				      (!allowed || (allowed & (1ULL << t))) ?
				      &set[t] : NULL;
		const struct kattr *ka = ki >= 0 ? &k->a[ki][t] : &none;

		if (!m && !ka->type)
			continue;
		(*compared)++;
		if (!ka->type) {
			ksft_print_msg("policy: %s: attribute %d: the model takes it, the module does not\n",
				       where, t);
			bad++;
			continue;
		}
		if (!m) {
			ksft_print_msg("policy: %s: attribute %d (%s): the module takes it, the model does not know it\n",
				       where, t, kt_name(ka->type));
			bad++;
			continue;
		}
		if (model_nl_type(m) != ka->type) {
			ksft_print_msg("policy: %s: attribute %d: the model says %s, the module %s\n",
				       where, t, kt_name(model_nl_type(m)),
				       kt_name(ka->type));
			bad++;
			continue;
		}
		switch (m->t) {
		case P_U8: case P_U16: case P_U32: case P_U64:
			if (m->min != ka->min || m->max != ka->max) {
				ksft_print_msg("policy: %s: attribute %d: the model's range %" PRIu64 "..%" PRIu64 ", the module's %" PRIu64 "..%" PRIu64 "\n",
					       where, t, m->min, m->max,
					       ka->min, ka->max);
				bad++;
			}
			break;
		case P_BIN:
			if (ka->minlen != m->len || ka->maxlen != m->len) {
				ksft_print_msg("policy: %s: attribute %d: the model's length %u exactly, the module's %u..%u\n",
					       where, t, m->len, ka->minlen,
					       ka->maxlen);
				bad++;
			}
			break;
		case P_NEST:
			if (ka->nested < 0 || ka->maxtype != (uint32_t)m->maxtype) {
				ksft_print_msg("policy: %s: attribute %d: the model's nest has max type %d, the module's %u (policy %d)\n",
					       where, t, m->maxtype,
					       ka->maxtype, ka->nested);
				bad++;
				break;
			}
			snprintf(sub, sizeof(sub), "%s, in attribute %d",
				 where, t);
			bad += kp_compare(k, ka->nested, m->nested, m->maxtype,
					  0, sub, compared);
			break;
		}
	}
	return bad;
}

/*
 * The model is written from the spec by hand: when an attribute or an
 * operation is added to include/maquis.yaml, this is what says the model
 * has not learnt it yet (until then, the mutations of the others would
 * count the new one's acceptance as a failure, or never try it).
 */
TEST(policy)
{
	static struct kpolicies k;
	char where[64];
	int op, cmd, bad = 0, compared = 0, err;

	err = kp_dump(&k);
	ASSERT_EQ(0, err) TH_LOG("CTRL_CMD_GETPOLICY of maquis: %s",
				 strerror(-err));
	ASSERT_EQ(NULL, k.bad) TH_LOG("%s", k.bad);
	for (op = 0; op < N_OPS; op++) {
		const struct opdef *o = &ops[op];

		snprintf(where, sizeof(where), "%s", o->name);
		/* allowed 0 would mean the whole set: bit 0 is none */
		bad += kp_compare(&k, o->dump ? k.dump_idx[o->cmd] :
				  k.do_idx[o->cmd], pol_top, MAQUIS_A_MAX,
				  o->allowed ? o->allowed : 1, where,
				  &compared);
	}
	/* every operation with a policy has a model */
	for (cmd = 0; cmd < 256; cmd++) {
		bool has_do = false, has_dump = false;

		for (op = 0; op < N_OPS; op++) {
			if (ops[op].cmd != cmd)
				continue;
			has_do |= !ops[op].dump;
			has_dump |= ops[op].dump;
		}
		if ((k.do_idx[cmd] >= 0 && !has_do) ||
		    (k.dump_idx[cmd] >= 0 && !has_dump)) {
			ksft_print_msg("policy: command %d (%s) has no model\n",
				       cmd, k.do_idx[cmd] >= 0 && !has_do ?
				       "do" : "dump");
			bad++;
		}
	}
	ksft_print_msg("policy: %d operations, %d attributes compared, %d differences\n",
		       N_OPS, compared, bad);
	EXPECT_LT(N_OPS, compared) TH_LOG("the policies were not read");
	EXPECT_EQ(0, bad) TH_LOG("the model of the spec is not the module's policy (lines above)");
}

__attribute__((destructor)) static void shared_tally_print(void)
{
	struct tally all = { 0 };
	int i;

	if (!shared_tally || getpid() != parent)
		return;
	for (i = 0; i < N_OPS; i++)
		tally_add(&all, &shared_tally[i]);
	tally_add(&all, &shared_tally[N_OPS]);
	tally_print("TOTAL", &all);
}

TEST_HARNESS_MAIN
