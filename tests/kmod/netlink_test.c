// SPDX-License-Identifier: GPL-2.0
/*
 * The "maquis" generic netlink family, operation by operation, against
 * include/maquis.yaml and the per-role rules of circuit-new.
 *
 * Every test runs in its own network namespace with one maquis device
 * (maq0) holding three standing circuits: an origin (id 10, four hops), a
 * relay (20) and a terminus (30).  UDP sockets on 127.0.0.1 and ::1 stand
 * in for the neighbours, so cells the module sends can be read back and
 * checked with the userspace layer transform (daemon/crypto.h).
 *
 * The bad_* tests send one broken request per case and want the listed
 * errno, a non-empty extended ack, and dumps identical before and after.
 * Every netlink message received is scanned for the bytes of every key
 * the tests ever sent: no reply or notification may carry one.
 *
 * Needs root and maquis.ko loaded (tests/kmod/run.sh in the VM).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>

#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <sodium.h>

#include "../../daemon/crypto.h"
#include "../../daemon/nl.h"
#include "common.h"
#include "kselftest_harness.h"

#define DEV		"maq0"
#define ORIG_ID		10
#define RELAY_ID	20
#define TERM_ID		30
/* bad_circuit_join: 31 and 32 joined, 33 free, 40 on another device */
#define JOIN_A_ID	31
#define JOIN_B_ID	32
#define JOIN_FREE_ID	33
#define OTHER_DEV_ID	40
#define NHOPS		4
#define SEQ_MASK	((1ULL << 63) - 1)
#define BASE_LIMIT	(1ULL << 61)

/* --- key material bookkeeping ------------------------------------------ */

#define MAX_KEYS 4096
static uint8_t known_keys[MAX_KEYS][MAQUIS_KEY_LEN];
static int n_known;
static int key_leaks;

static void remember_key(const uint8_t *k)
{
	if (n_known < MAX_KEYS)
		memcpy(known_keys[n_known++], k, MAQUIS_KEY_LEN);
}

static void remember_hop(const struct maq_hop *h)
{
	if (h->has & MAQ_HOP_FWD_KEY)
		remember_key(h->fwd_key);
	if (h->has & MAQ_HOP_BACK_KEY)
		remember_key(h->back_key);
	if (h->has & MAQ_HOP_FWD_CTL_KEY)
		remember_key(h->fwd_ctl_key);
	if (h->has & MAQ_HOP_BACK_CTL_KEY)
		remember_key(h->back_ctl_key);
}

/* Any 16-byte half of a key in a received message counts as a leak. */
static void scan_for_keys(const struct nlmsghdr *nlh, void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < n_known; i++) {
		if (memmem(nlh, nlh->nlmsg_len, known_keys[i], 16) ||
		    memmem(nlh, nlh->nlmsg_len, known_keys[i] + 16, 16)) {
			key_leaks++;
			fprintf(stderr, "# key %d found in a message of type %u\n",
				i, nlh->nlmsg_type);
		}
	}
}

static struct maq_nl *open_nl(void)
{
	struct maq_nl *nl = NULL;

	if (maq_nl_open(&nl))
		return NULL;
	maq_nl_set_rx_hook(nl, scan_for_keys, NULL);
	return nl;
}

/* --- circuits ---------------------------------------------------------- */

static union maq_sockaddr any_v4;	/* 127.0.0.1:9, for forbidden fields */

static void rand_hop(struct maq_hop *h, uint8_t index)
{
	memset(h, 0, sizeof(*h));
	h->index = index;
	h->has = MAQ_HOP_ALL;
	randombytes_buf(h->fwd_key, MAQUIS_KEY_LEN);
	randombytes_buf(h->back_key, MAQUIS_KEY_LEN);
	randombytes_buf(h->fwd_ctl_key, MAQUIS_KEY_LEN);
	randombytes_buf(h->back_ctl_key, MAQUIS_KEY_LEN);
	h->fwd_seq = ((uint64_t)randombytes_random() << 32 |
		      randombytes_random()) % BASE_LIMIT;
	h->back_seq = ((uint64_t)randombytes_random() << 32 |
		       randombytes_random()) % BASE_LIMIT;
	remember_hop(h);
}

static void add_route(struct maq_circuit *c, const char *p)
{
	if (maq_prefix_parse(p, &c->routes[c->n_routes++]))
		abort();
}

/* cid0 + 1.. are the circuit's cids. */
static void mk_origin(struct maq_circuit *c, uint32_t ifindex, uint32_t id,
		      uint32_t cid0, int nhops, const union maq_sockaddr *next,
		      const char *route)
{
	int i;

	memset(c, 0, sizeof(*c));
	c->ifindex = ifindex;
	c->id = id;
	c->role = MAQUIS_ROLE_ORIGIN;
	c->fwd_cid_out = cid0 + 1;
	c->back_cid_in = cid0 + 2;
	c->next = *next;
	c->lifetime = 3600;
	c->n_hops = nhops;
	for (i = 0; i < nhops; i++)
		rand_hop(&c->hops[i], (uint8_t)i);
	add_route(c, route);
}

static void mk_relay(struct maq_circuit *c, uint32_t ifindex, uint32_t id,
		     uint32_t cid0, const union maq_sockaddr *next,
		     const union maq_sockaddr *prev)
{
	memset(c, 0, sizeof(*c));
	c->ifindex = ifindex;
	c->id = id;
	c->role = MAQUIS_ROLE_RELAY;
	c->fwd_cid_in = cid0 + 1;
	c->fwd_cid_out = cid0 + 2;
	c->back_cid_in = cid0 + 3;
	c->back_cid_out = cid0 + 4;
	c->next = *next;
	c->prev = *prev;
	c->lifetime = 3600;
	c->n_hops = 1;
	rand_hop(&c->hops[0], 0);
	/* deltas: any 63-bit value */
	c->hops[0].fwd_seq = ((uint64_t)randombytes_random() << 32 |
			      randombytes_random()) & SEQ_MASK;
	c->hops[0].back_seq = ((uint64_t)randombytes_random() << 32 |
			       randombytes_random()) & SEQ_MASK;
}

static void mk_term(struct maq_circuit *c, uint32_t ifindex, uint32_t id,
		    uint32_t cid0, const union maq_sockaddr *prev,
		    const char *route)
{
	memset(c, 0, sizeof(*c));
	c->ifindex = ifindex;
	c->id = id;
	c->role = MAQUIS_ROLE_TERMINUS;
	c->fwd_cid_in = cid0 + 1;
	c->back_cid_out = cid0 + 2;
	c->prev = *prev;
	c->lifetime = 3600;
	c->n_hops = 1;
	rand_hop(&c->hops[0], 0);
	c->hops[0].has = MAQ_HOP_KEYS | MAQ_HOP_BACK_SEQ;
	add_route(c, route);
}

/* --- snapshots --------------------------------------------------------- */

struct snap {
	struct maq_dev *devs;
	size_t ndevs;
	struct maq_circuit *cs;
	size_t ncs;
};

static int cmp_circuit(const void *a, const void *b)
{
	const struct maq_circuit *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int snap_take(struct maq_nl *nl, uint32_t ifindex, struct snap *s)
{
	size_t i;
	int err;

	memset(s, 0, sizeof(*s));
	err = maq_nl_dev_dump(nl, &s->devs, &s->ndevs);
	if (err)
		return err;
	err = maq_nl_circuit_dump(nl, ifindex, &s->cs, &s->ncs);
	if (err)
		return err;
	qsort(s->cs, s->ncs, sizeof(*s->cs), cmp_circuit);
	for (i = 0; i < s->ncs; i++) {
		s->cs[i].age = 0;
		s->cs[i].present &= ~(1ULL << MAQUIS_A_AGE);
	}
	return 0;
}

static void snap_free(struct snap *s)
{
	free(s->devs);
	free(s->cs);
	memset(s, 0, sizeof(*s));
}

static bool snap_equal(const struct snap *a, const struct snap *b)
{
	return a->ndevs == b->ndevs && a->ncs == b->ncs &&
	       !memcmp(a->devs, b->devs, a->ndevs * sizeof(*a->devs)) &&
	       !memcmp(a->cs, b->cs, a->ncs * sizeof(*a->cs));
}

/* --- module parameters ------------------------------------------------- */

/* The module parameter the origin's epoch length comes from. */
#define EPOCH_SECS	"/sys/module/maquis/parameters/epoch_secs"

static int epoch_secs_get(uint32_t *secs)
{
	FILE *f = fopen(EPOCH_SECS, "r");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%" SCNu32, secs) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

static int epoch_secs_set(uint32_t secs)
{
	FILE *f = fopen(EPOCH_SECS, "w");
	int err = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%" PRIu32 "\n", secs) < 0)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

/* --- fixture ----------------------------------------------------------- */

FIXTURE(nl) {
	struct maq_nl *nl;
	uint32_t ifindex;
	uint16_t port;
	uint32_t max_circuits;
	int sink4, sink6;
	union maq_sockaddr a4, a6;	/* the sinks' addresses */
	struct maq_circuit orig, relay, term;
	uint32_t epoch_secs;	/* the module's value, once a test changed it */
};

static void install(struct __test_metadata *_metadata, struct maq_nl *nl,
		    const struct maq_circuit *c)
{
	int err = maq_nl_circuit_new(nl, c);

	ASSERT_EQ(0, err) {
		TH_LOG("circuit-new %s id %u: %s: %s", maq_role_name(c->role),
		       c->id, strerror(-err), maq_nl_errmsg(nl));
	}
}

FIXTURE_SETUP(nl)
{
	struct maq_dev dev;
	int err;

	ASSERT_EQ(0, sodium_init() < 0);
	ASSERT_EQ(0, maq_crypto_init());
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, link_up("lo"));
	err = link_add(DEV, maq_kind());
	ASSERT_EQ(0, err) {
		TH_LOG("ip link add %s type %s: %s", DEV, maq_kind(),
		       strerror(-err));
	}
	self->ifindex = if_nametoindex(DEV);
	ASSERT_NE(0, self->ifindex);
	/* No router solicitations or MLD reports into the device: they
	 * would move its no-route counter under the state comparisons.
	 */
	ASSERT_EQ(0, sysctl_write("net/ipv6/conf/" DEV "/disable_ipv6", "1"));
	ASSERT_EQ(0, link_up(DEV));
	self->nl = open_nl();
	ASSERT_NE(NULL, self->nl) TH_LOG("family maquis not found");
	err = maq_nl_dev_get(self->nl, self->ifindex, &dev);
	ASSERT_EQ(0, err) TH_LOG("dev-get: %s: %s", strerror(-err),
				 maq_nl_errmsg(self->nl));
	self->port = dev.port;
	self->max_circuits = dev.max_circuits;

	self->sink4 = udp_sink(AF_INET, "127.0.0.1", &self->a4);
	ASSERT_LE(0, self->sink4);
	self->sink6 = udp_sink(AF_INET6, "::1", &self->a6);
	ASSERT_LE(0, self->sink6);
	ASSERT_EQ(0, maq_sockaddr_parse("127.0.0.1:9", 0, &any_v4));

	mk_origin(&self->orig, self->ifindex, ORIG_ID, 1000, NHOPS, &self->a4,
		  "172.30.1.0/24");
	mk_relay(&self->relay, self->ifindex, RELAY_ID, 2000, &self->a4,
		 &self->a6);
	mk_term(&self->term, self->ifindex, TERM_ID, 3000, &self->a6,
		"fd30:1::/64");
	install(_metadata, self->nl, &self->orig);
	install(_metadata, self->nl, &self->relay);
	install(_metadata, self->nl, &self->term);
}

FIXTURE_TEARDOWN(nl)
{
	EXPECT_EQ(0, key_leaks) TH_LOG("key material in replies");
	if (self->epoch_secs)
		EXPECT_EQ(0, epoch_secs_set(self->epoch_secs));
	maq_nl_close(self->nl);
	if (self->sink4 >= 0)
		close(self->sink4);
	if (self->sink6 >= 0)
		close(self->sink6);
}

/* --- request building with one defect ---------------------------------- */

enum op {
	OP_DEV_GET, OP_DEV_DUMP, OP_DEV_SET, OP_NEW, OP_DEL, OP_GET, OP_DUMP,
	OP_KEY, OP_RESET, OP_CELL, OP_CTL, OP_JOIN,
};

struct raw {
	int type;		/* may carry NLA_F_NESTED */
	const void *data;
	int len;
};

struct edit {
	uint64_t omit;		/* top-level attributes left out */
	struct raw rep;		/* sent instead of the attribute of that type */
	struct raw add;		/* appended */
	int nest;		/* nest type the inner edits apply to */
	int nest_idx;		/* its occurrence, -1: every one */
	uint64_t in_omit;
	struct raw in_rep, in_add;
	void (*fix)(struct maq_circuit *c);	/* circuit-new base */
	int tail;		/* garbage bytes after the attributes */
};

struct bcase {
	const char *group;
	const char *name;
	enum op op;
	int who;		/* role of the base (new) or target circuit */
	struct edit e;
	int errs[4];
};

struct bld {
	struct nl_msg *msg;
	const struct edit *e;
	int depth;
	bool in_target;
	int count[MAQUIS_A_MAX + 1];
};

static bool b_intercept(struct bld *b, int type)
{
	const struct edit *e = b->e;
	const struct raw *rep;

	if (b->depth == 0) {
		if (e->omit & (1ULL << type))
			return true;
		rep = &e->rep;
	} else {
		if (!b->in_target)
			return false;
		if (e->in_omit & (1ULL << type))
			return true;
		rep = &e->in_rep;
	}
	if (rep->type && (rep->type & NLA_TYPE_MASK) == type) {
		nla_put(b->msg, rep->type, rep->len, rep->data);
		return true;
	}
	return false;
}

static void b_u8(struct bld *b, int t, uint8_t v)
{
	if (!b_intercept(b, t))
		nla_put_u8(b->msg, t, v);
}

static void b_u16(struct bld *b, int t, uint16_t v)
{
	if (!b_intercept(b, t))
		nla_put_u16(b->msg, t, v);
}

static void b_u32(struct bld *b, int t, uint32_t v)
{
	if (!b_intercept(b, t))
		nla_put_u32(b->msg, t, v);
}

static void b_u64(struct bld *b, int t, uint64_t v)
{
	if (!b_intercept(b, t))
		nla_put_u64(b->msg, t, v);
}

static void b_bin(struct bld *b, int t, const void *d, int len)
{
	if (!b_intercept(b, t))
		nla_put(b->msg, t, len, d);
}

static struct nlattr *b_nest(struct bld *b, int t)
{
	int idx;

	if (b_intercept(b, t))
		return NULL;
	idx = b->count[t]++;
	b->in_target = b->e->nest == t &&
		       (b->e->nest_idx < 0 || b->e->nest_idx == idx);
	b->depth = 1;
	return nla_nest_start(b->msg, t | NLA_F_NESTED);
}

static void b_nest_end(struct bld *b, struct nlattr *n)
{
	const struct raw *add = &b->e->in_add;

	if (b->in_target && add->type)
		nla_put(b->msg, add->type, add->len, add->data);
	nla_nest_end(b->msg, n);
	b->depth = 0;
	b->in_target = false;
}

static void b_addr(struct bld *b, int t, const union maq_sockaddr *a)
{
	struct nlattr *n = b_nest(b, t);

	if (!n)
		return;
	if (a->sa.sa_family == AF_INET) {
		b_u32(b, MAQUIS_A_ADDR_IPV4, a->in4.sin_addr.s_addr);
		b_u16(b, MAQUIS_A_ADDR_PORT, a->in4.sin_port);
	} else {
		b_bin(b, MAQUIS_A_ADDR_IPV6, &a->in6.sin6_addr, 16);
		b_u16(b, MAQUIS_A_ADDR_PORT, a->in6.sin6_port);
	}
	b_nest_end(b, n);
}

static void b_prefix(struct bld *b, const struct maq_prefix *p)
{
	struct nlattr *n = b_nest(b, MAQUIS_A_ROUTE);

	if (!n)
		return;
	if (p->family == AF_INET)
		b_u32(b, MAQUIS_A_PREFIX_IPV4, p->addr.v4.s_addr);
	else
		b_bin(b, MAQUIS_A_PREFIX_IPV6, &p->addr.v6, 16);
	b_u8(b, MAQUIS_A_PREFIX_LEN, p->len);
	b_nest_end(b, n);
}

static void b_hop(struct bld *b, const struct maq_hop *h)
{
	struct nlattr *n = b_nest(b, MAQUIS_A_HOP);

	if (!n)
		return;
	if (!(h->has & MAQ_HOP_NO_INDEX))
		b_u8(b, MAQUIS_A_HOP_INDEX, h->index);
	if (h->has & MAQ_HOP_FWD_KEY)
		b_bin(b, MAQUIS_A_HOP_FWD_KEY, h->fwd_key, MAQUIS_KEY_LEN);
	if (h->has & MAQ_HOP_BACK_KEY)
		b_bin(b, MAQUIS_A_HOP_BACK_KEY, h->back_key, MAQUIS_KEY_LEN);
	if (h->has & MAQ_HOP_FWD_CTL_KEY)
		b_bin(b, MAQUIS_A_HOP_FWD_CTL_KEY, h->fwd_ctl_key, MAQUIS_KEY_LEN);
	if (h->has & MAQ_HOP_BACK_CTL_KEY)
		b_bin(b, MAQUIS_A_HOP_BACK_CTL_KEY, h->back_ctl_key,
		      MAQUIS_KEY_LEN);
	if (h->has & MAQ_HOP_FWD_SEQ)
		b_u64(b, MAQUIS_A_HOP_FWD_SEQ, h->fwd_seq);
	if (h->has & MAQ_HOP_BACK_SEQ)
		b_u64(b, MAQUIS_A_HOP_BACK_SEQ, h->back_seq);
	b_nest_end(b, n);
}

static void b_circuit(struct bld *b, const struct maq_circuit *c)
{
	unsigned int i;

	b_u32(b, MAQUIS_A_IFINDEX, c->ifindex);
	b_u32(b, MAQUIS_A_ID, c->id);
	b_u8(b, MAQUIS_A_ROLE, c->role);
	if (c->fwd_cid_in)
		b_u32(b, MAQUIS_A_FWD_CID_IN, c->fwd_cid_in);
	if (c->fwd_cid_out)
		b_u32(b, MAQUIS_A_FWD_CID_OUT, c->fwd_cid_out);
	if (c->back_cid_in)
		b_u32(b, MAQUIS_A_BACK_CID_IN, c->back_cid_in);
	if (c->back_cid_out)
		b_u32(b, MAQUIS_A_BACK_CID_OUT, c->back_cid_out);
	if (c->next.sa.sa_family)
		b_addr(b, MAQUIS_A_NEXT, &c->next);
	if (c->prev.sa.sa_family)
		b_addr(b, MAQUIS_A_PREV, &c->prev);
	if (c->lifetime)
		b_u32(b, MAQUIS_A_LIFETIME, c->lifetime);
	for (i = 0; i < c->n_hops; i++)
		b_hop(b, &c->hops[i]);
	for (i = 0; i < c->n_routes; i++)
		b_prefix(b, &c->routes[i]);
}

/* The bases of the bad circuit-new cases: valid as they are (test
 * circuit_new_each_role installs exactly these).
 */
static void mk_base(FIXTURE_DATA(nl) *self, struct maq_circuit *c, int role)
{
	switch (role) {
	case MAQUIS_ROLE_ORIGIN:
		mk_origin(c, self->ifindex, 100, 1100, NHOPS, &self->a4,
			  "172.30.9.0/24");
		break;
	case MAQUIS_ROLE_RELAY:
		mk_relay(c, self->ifindex, 200, 2200, &self->a4, &self->a6);
		break;
	default:
		mk_term(c, self->ifindex, 300, 3300, &self->a6, "fd30:9::/64");
	}
}

static uint32_t target_id(int who)
{
	return who == MAQUIS_ROLE_RELAY ? RELAY_ID :
	       who == MAQUIS_ROLE_TERMINUS ? TERM_ID : ORIG_ID;
}

static struct nl_msg *build(FIXTURE_DATA(nl) *self, const struct bcase *bc)
{
	static const uint8_t zeros[64];
	struct bld b = { .e = &bc->e };
	uint8_t cell[MAQUIS_CELL_SIZE], ctl[MAQUIS_CTL_LEN];
	union maq_sockaddr local;
	struct maq_circuit *c;
	struct maq_hop hop;
	int cmd, flags = 0;

	switch (bc->op) {
	case OP_DEV_GET: cmd = MAQUIS_CMD_DEV_GET; break;
	case OP_DEV_DUMP: cmd = MAQUIS_CMD_DEV_GET; flags = NLM_F_DUMP; break;
	case OP_DEV_SET: cmd = MAQUIS_CMD_DEV_SET; break;
	case OP_NEW: cmd = MAQUIS_CMD_CIRCUIT_NEW; break;
	case OP_DEL: cmd = MAQUIS_CMD_CIRCUIT_DEL; break;
	case OP_GET: cmd = MAQUIS_CMD_CIRCUIT_GET; break;
	case OP_DUMP: cmd = MAQUIS_CMD_CIRCUIT_GET; flags = NLM_F_DUMP; break;
	case OP_KEY: cmd = MAQUIS_CMD_KEY_SET; break;
	case OP_RESET: cmd = MAQUIS_CMD_STATS_RESET; break;
	case OP_CELL: cmd = MAQUIS_CMD_CELL_SEND; break;
	case OP_JOIN: cmd = MAQUIS_CMD_CIRCUIT_JOIN; break;
	default: cmd = MAQUIS_CMD_CTL_SEND; break;
	}
	b.msg = maq_nl_msg(self->nl, (uint8_t)cmd, flags);
	if (!b.msg)
		return NULL;

	switch (bc->op) {
	case OP_DEV_GET:
	case OP_DEV_DUMP:
		b_u32(&b, MAQUIS_A_IFINDEX, self->ifindex);
		break;
	case OP_DEV_SET:
		b_u32(&b, MAQUIS_A_IFINDEX, self->ifindex);
		b_u16(&b, MAQUIS_A_PORT, self->port);
		b_u32(&b, MAQUIS_A_MAX_CIRCUITS, self->max_circuits);
		if (bc->e.nest == MAQUIS_A_LOCAL ||
		    (bc->e.rep.type & NLA_TYPE_MASK) == MAQUIS_A_LOCAL) {
			maq_sockaddr_parse("127.0.0.1", self->port, &local);
			b_addr(&b, MAQUIS_A_LOCAL, &local);
		}
		break;
	case OP_NEW:
		c = calloc(1, sizeof(*c));
		if (!c)
			abort();
		mk_base(self, c, bc->who);
		if (bc->e.fix)
			bc->e.fix(c);
		b_circuit(&b, c);
		maq_circuit_wipe(c);
		free(c);
		break;
	case OP_DEL:
	case OP_GET:
	case OP_RESET:
		b_u32(&b, MAQUIS_A_IFINDEX, self->ifindex);
		b_u32(&b, MAQUIS_A_ID, target_id(bc->who));
		break;
	case OP_DUMP:
		b_u32(&b, MAQUIS_A_IFINDEX, self->ifindex);
		break;
	case OP_KEY:
		b_u32(&b, MAQUIS_A_IFINDEX, self->ifindex);
		b_u32(&b, MAQUIS_A_ID, target_id(bc->who));
		memset(&hop, 0, sizeof(hop));
		hop.has = MAQ_HOP_FWD_KEY;
		randombytes_buf(hop.fwd_key, sizeof(hop.fwd_key));
		remember_hop(&hop);
		b_hop(&b, &hop);
		b_u8(&b, MAQUIS_A_SLOT, 1);
		break;
	case OP_CELL:
		b_u32(&b, MAQUIS_A_IFINDEX, self->ifindex);
		b_addr(&b, MAQUIS_A_PEER, &self->a4);
		randombytes_buf(cell, sizeof(cell));
		memset(cell, 0, 4);
		b_bin(&b, MAQUIS_A_CELL, cell, sizeof(cell));
		break;
	case OP_CTL:
		b_u32(&b, MAQUIS_A_IFINDEX, self->ifindex);
		b_u32(&b, MAQUIS_A_ID, target_id(bc->who));
		memset(&hop, 0, sizeof(hop));
		b_hop(&b, &hop);
		randombytes_buf(ctl, sizeof(ctl));
		b_bin(&b, MAQUIS_A_CTL, ctl, sizeof(ctl));
		break;
	case OP_JOIN:
		b_u32(&b, MAQUIS_A_IFINDEX, self->ifindex);
		b_u32(&b, MAQUIS_A_ID, target_id(bc->who));
		b_u32(&b, MAQUIS_A_JOIN, JOIN_FREE_ID);
		break;
	}
	if (bc->e.add.type)
		nla_put(b.msg, bc->e.add.type, bc->e.add.len, bc->e.add.data);
	if (bc->e.tail)
		nlmsg_append(b.msg, (void *)zeros, bc->e.tail, 0);
	return b.msg;
}

/* --- the bad cases ----------------------------------------------------- */

#define F		NLA_F_NESTED
#define U8V(v)		(const uint8_t[]){ v }, 1
#define U16V(v)		(const uint16_t[]){ v }, 2
#define U32V(v)		(const uint32_t[]){ v }, 4
#define U64V(v)		(const uint64_t[]){ v }, 8
#define BYTES(n)	(const uint8_t[n]){ 0 }, n
#define A(t)		(1ULL << (t))
#define O		MAQUIS_ROLE_ORIGIN
#define R		MAQUIS_ROLE_RELAY
#define T		MAQUIS_ROLE_TERMINUS
#define E(...)		{ __VA_ARGS__ }
#define NOTDEV		E(ENODEV, EOPNOTSUPP, EINVAL)
#define DUP		E(EEXIST, EADDRINUSE)
/* e2e-key: send and receive halves equal (refused), or not */
#define E2E_SAME	BYTES(MAQUIS_E2E_KEY_LEN)
#define E2E_OK		(const uint8_t[MAQUIS_E2E_KEY_LEN]){ 1 }, MAQUIS_E2E_KEY_LEN

/* A well-formed addr nest body (127.0.0.1:7720), little-endian headers. */
static const uint8_t addr_body[] = {
	8, 0, MAQUIS_A_ADDR_IPV4, 0, 127, 0, 0, 1,
	6, 0, MAQUIS_A_ADDR_PORT, 0, 0x1e, 0x28, 0, 0,
};
#define ADDR_BODY	addr_body, sizeof(addr_body)
/* The same with two bytes of trailing junk. */
static const uint8_t addr_trail[] = {
	8, 0, MAQUIS_A_ADDR_IPV4, 0, 127, 0, 0, 1,
	6, 0, MAQUIS_A_ADDR_PORT, 0, 0x1e, 0x28, 0, 0, 0xff, 0xff,
};
/* An attribute of unknown type 99. */
static const uint8_t unknown_attr[] = { 8, 0, 99, 0, 1, 2, 3, 4 };
/* An attribute claiming more bytes than there are. */
static const uint8_t overlong_attr[] = { 200, 0, 1, 0, 1, 2, 3, 4 };
/* A hop nest body with only index 7. */
static const uint8_t hop_idx7[] = { 5, 0, MAQUIS_A_HOP_INDEX, 0, 7, 0, 0, 0 };

/* circuit-new base edits */
static void fx_no_hops(struct maq_circuit *c) { c->n_hops = 0; }
static void fx_no_routes(struct maq_circuit *c) { c->n_routes = 0; }
static void fx_add_prev(struct maq_circuit *c) { c->prev = any_v4; }
static void fx_add_fwd_cid_in(struct maq_circuit *c) { c->fwd_cid_in = 1199; }
static void fx_add_back_cid_out(struct maq_circuit *c) { c->back_cid_out = 1198; }
static void fx_no_fwd_cid_in(struct maq_circuit *c) { c->fwd_cid_in = 0; }
static void fx_no_fwd_cid_out(struct maq_circuit *c) { c->fwd_cid_out = 0; }
static void fx_no_back_cid_in(struct maq_circuit *c) { c->back_cid_in = 0; }
static void fx_no_back_cid_out(struct maq_circuit *c) { c->back_cid_out = 0; }
static void fx_no_next(struct maq_circuit *c) { memset(&c->next, 0, sizeof(c->next)); }
static void fx_no_prev(struct maq_circuit *c) { memset(&c->prev, 0, sizeof(c->prev)); }
static void fx_dup_index(struct maq_circuit *c) { c->hops[2].index = 1; }
static void fx_gap_index(struct maq_circuit *c) { c->hops[2].index = 5; }
static void fx_from_one(struct maq_circuit *c)
{
	unsigned int i;

	for (i = 0; i < c->n_hops; i++)
		c->hops[i].index = (uint8_t)(i + 1);
}
static void fx_index1(struct maq_circuit *c) { c->hops[0].index = 1; }
static void fx_two_hops(struct maq_circuit *c)
{
	c->hops[1] = c->hops[0];
	c->hops[1].index = 1;
	c->n_hops = 2;
}
static void fx_eight_hops(struct maq_circuit *c)
{
	int i;

	for (i = c->n_hops; i < MAQUIS_MAX_HOPS; i++)
		rand_hop(&c->hops[i], (uint8_t)i);
	c->n_hops = MAQUIS_MAX_HOPS;
}
#define FX_HOP_DROP(name, bit)						\
static void fx_##name(struct maq_circuit *c)				\
{									\
	c->hops[c->n_hops - 1].has &= ~(uint32_t)(bit);			\
}
FX_HOP_DROP(no_fwd_key, MAQ_HOP_FWD_KEY)
FX_HOP_DROP(no_back_key, MAQ_HOP_BACK_KEY)
FX_HOP_DROP(no_fwd_ctl_key, MAQ_HOP_FWD_CTL_KEY)
FX_HOP_DROP(no_back_ctl_key, MAQ_HOP_BACK_CTL_KEY)
FX_HOP_DROP(no_fwd_seq, MAQ_HOP_FWD_SEQ)
FX_HOP_DROP(no_back_seq, MAQ_HOP_BACK_SEQ)
static void fx_no_index(struct maq_circuit *c) { c->hops[c->n_hops - 1].has |= MAQ_HOP_NO_INDEX; }
static void fx_add_route(struct maq_circuit *c) { add_route(c, "172.30.8.0/24"); }
static void fx_id_taken(struct maq_circuit *c) { c->id = ORIG_ID; }
static void fx_relay_fwd_in_taken(struct maq_circuit *c) { c->fwd_cid_in = 2001; }
static void fx_relay_back_in_taken(struct maq_circuit *c) { c->back_cid_in = 2003; }
static void fx_origin_back_in_taken(struct maq_circuit *c) { c->back_cid_in = 1002; }
static void fx_term_fwd_in_taken(struct maq_circuit *c) { c->fwd_cid_in = 3001; }
static void fx_relay_in_is_origin_back_in(struct maq_circuit *c) { c->fwd_cid_in = 1002; }
static void fx_origin_back_in_is_relay_fwd_in(struct maq_circuit *c) { c->back_cid_in = 2001; }
static void fx_relay_own_cids_clash(struct maq_circuit *c) { c->back_cid_in = c->fwd_cid_in; }
static void fx_base_bit63(struct maq_circuit *c) { c->hops[1].fwd_seq |= 1ULL << 63; }
static void fx_back_base_bit63(struct maq_circuit *c) { c->hops[1].back_seq |= 1ULL << 63; }
static void fx_delta_bit63(struct maq_circuit *c) { c->hops[0].fwd_seq |= 1ULL << 63; }
static void fx_term_base_bit63(struct maq_circuit *c) { c->hops[0].back_seq |= 1ULL << 63; }
static void fx_v4_len33(struct maq_circuit *c) { c->routes[0].len = 33; }

static const struct bcase cases[] = {
	/* dev-get */
	{ "dev_get", "no ifindex", OP_DEV_GET, 0, { .omit = A(MAQUIS_A_IFINDEX) }, E(EINVAL) },
	{ "dev_get", "ifindex 0", OP_DEV_GET, 0, { .rep = { MAQUIS_A_IFINDEX, U32V(0) } }, E(ERANGE) },
	{ "dev_get", "ifindex u16", OP_DEV_GET, 0, { .rep = { MAQUIS_A_IFINDEX, U16V(2) } }, E(EINVAL) },
	{ "dev_get", "ifindex u64", OP_DEV_GET, 0, { .rep = { MAQUIS_A_IFINDEX, U64V(2) } }, E(EINVAL) },
	{ "dev_get", "ifindex nested", OP_DEV_GET, 0, { .rep = { MAQUIS_A_IFINDEX | F, ADDR_BODY } }, E(EINVAL) },
	{ "dev_get", "ifindex unknown", OP_DEV_GET, 0, { .rep = { MAQUIS_A_IFINDEX, U32V(99999) } }, E(ENODEV) },
	{ "dev_get", "ifindex of lo", OP_DEV_GET, 0, { .rep = { MAQUIS_A_IFINDEX, U32V(1) } }, NOTDEV },
	{ "dev_get", "unknown attribute", OP_DEV_GET, 0, { .add = { 60, U32V(1) } }, E(EINVAL) },
	{ "dev_get", "attribute not in request", OP_DEV_GET, 0, { .add = { MAQUIS_A_PORT, U16V(1) } }, E(EINVAL) },
	{ "dev_get", "trailing bytes", OP_DEV_GET, 0, { .tail = 4 }, E(EINVAL) },

	/* dev-set */
	{ "dev_set", "no ifindex", OP_DEV_SET, 0, { .omit = A(MAQUIS_A_IFINDEX) }, E(EINVAL) },
	{ "dev_set", "ifindex unknown", OP_DEV_SET, 0, { .rep = { MAQUIS_A_IFINDEX, U32V(99999) } }, E(ENODEV) },
	{ "dev_set", "ifindex of lo", OP_DEV_SET, 0, { .rep = { MAQUIS_A_IFINDEX, U32V(1) } }, NOTDEV },
	{ "dev_set", "port 0", OP_DEV_SET, 0, { .rep = { MAQUIS_A_PORT, U16V(0) } }, E(ERANGE) },
	{ "dev_set", "port u32", OP_DEV_SET, 0, { .rep = { MAQUIS_A_PORT, U32V(7720) } }, E(EINVAL) },
	{ "dev_set", "port u8", OP_DEV_SET, 0, { .rep = { MAQUIS_A_PORT, U8V(1) } }, E(EINVAL) },
	{ "dev_set", "max-circuits 0", OP_DEV_SET, 0, { .rep = { MAQUIS_A_MAX_CIRCUITS, U32V(0) } }, E(ERANGE) },
	{ "dev_set", "max-circuits too big", OP_DEV_SET, 0, { .rep = { MAQUIS_A_MAX_CIRCUITS, U32V(4194305) } }, E(ERANGE) },
	{ "dev_set", "max-circuits u16", OP_DEV_SET, 0, { .rep = { MAQUIS_A_MAX_CIRCUITS, U16V(5) } }, E(EINVAL) },
	{ "dev_set", "local not nested", OP_DEV_SET, 0, { .rep = { MAQUIS_A_LOCAL, ADDR_BODY } }, E(EINVAL) },
	{ "dev_set", "local 3 bytes", OP_DEV_SET, 0, { .rep = { MAQUIS_A_LOCAL | F, BYTES(3) } }, E(ERANGE) },
	{ "dev_set", "local unknown inner", OP_DEV_SET, 0, { .rep = { MAQUIS_A_LOCAL | F, unknown_attr, 8 } }, E(EINVAL) },
	{ "dev_set", "local overlong inner", OP_DEV_SET, 0, { .rep = { MAQUIS_A_LOCAL | F, overlong_attr, 8 } }, E(EINVAL) },
	{ "dev_set", "local trailing", OP_DEV_SET, 0, { .rep = { MAQUIS_A_LOCAL | F, addr_trail, sizeof(addr_trail) } }, E(EINVAL) },
	{ "dev_set", "local empty", OP_DEV_SET, 0, { .rep = { MAQUIS_A_LOCAL | F, NULL, 0 } }, E(EINVAL) },
	{ "dev_set", "local v4 and v6", OP_DEV_SET, 0, { .nest = MAQUIS_A_LOCAL, .nest_idx = -1, .in_add = { MAQUIS_A_ADDR_IPV6, BYTES(16) } }, E(EINVAL) },
	{ "dev_set", "local no address", OP_DEV_SET, 0, { .nest = MAQUIS_A_LOCAL, .nest_idx = -1, .in_omit = A(MAQUIS_A_ADDR_IPV4) }, E(EINVAL) },
	{ "dev_set", "local v6 15 bytes", OP_DEV_SET, 0, { .nest = MAQUIS_A_LOCAL, .nest_idx = -1, .in_omit = A(MAQUIS_A_ADDR_IPV4), .in_add = { MAQUIS_A_ADDR_IPV6, BYTES(15) } }, E(ERANGE) },
	{ "dev_set", "local v4 u16", OP_DEV_SET, 0, { .nest = MAQUIS_A_LOCAL, .nest_idx = -1, .in_rep = { MAQUIS_A_ADDR_IPV4, U16V(1) } }, E(EINVAL) },
	{ "dev_set", "unknown attribute", OP_DEV_SET, 0, { .add = { MAQUIS_A_STATS | F, NULL, 0 } }, E(EINVAL) },
	{ "dev_set", "relay-rate above the maximum", OP_DEV_SET, 0, { .add = { MAQUIS_A_RELAY_RATE, U64V(MAQUIS_MAX_RELAY_RATE + 1) } }, E(ERANGE) },
	{ "dev_set", "relay-rate u32", OP_DEV_SET, 0, { .add = { MAQUIS_A_RELAY_RATE, U32V(1000) } }, E(EINVAL) },
	{ "dev_set", "relay-burst below a cell", OP_DEV_SET, 0, { .add = { MAQUIS_A_RELAY_BURST, U32V(MAQUIS_CELL_SIZE - 1) } }, E(ERANGE) },
	{ "dev_set", "relay-burst 0", OP_DEV_SET, 0, { .add = { MAQUIS_A_RELAY_BURST, U32V(0) } }, E(ERANGE) },
	{ "dev_set", "relay-burst above the maximum", OP_DEV_SET, 0, { .add = { MAQUIS_A_RELAY_BURST, U32V(MAQUIS_MAX_RELAY_BURST + 1) } }, E(ERANGE) },
	{ "dev_set", "relay-burst u64", OP_DEV_SET, 0, { .add = { MAQUIS_A_RELAY_BURST, U64V(20000) } }, E(EINVAL) },

	/* circuit-new: attribute level */
	{ "new_attrs", "no ifindex", OP_NEW, O, { .omit = A(MAQUIS_A_IFINDEX) }, E(EINVAL) },
	{ "new_attrs", "ifindex 0", OP_NEW, O, { .rep = { MAQUIS_A_IFINDEX, U32V(0) } }, E(ERANGE) },
	{ "new_attrs", "ifindex u16", OP_NEW, O, { .rep = { MAQUIS_A_IFINDEX, U16V(2) } }, E(EINVAL) },
	{ "new_attrs", "ifindex unknown", OP_NEW, O, { .rep = { MAQUIS_A_IFINDEX, U32V(99999) } }, E(ENODEV) },
	{ "new_attrs", "ifindex of lo", OP_NEW, O, { .rep = { MAQUIS_A_IFINDEX, U32V(1) } }, NOTDEV },
	{ "new_attrs", "no id", OP_NEW, O, { .omit = A(MAQUIS_A_ID) }, E(EINVAL) },
	{ "new_attrs", "id 0", OP_NEW, O, { .rep = { MAQUIS_A_ID, U32V(0) } }, E(ERANGE) },
	{ "new_attrs", "id u64", OP_NEW, O, { .rep = { MAQUIS_A_ID, U64V(100) } }, E(EINVAL) },
	{ "new_attrs", "id nested flag", OP_NEW, O, { .rep = { MAQUIS_A_ID | F, U32V(100) } }, E(EINVAL) },
	{ "new_attrs", "no role", OP_NEW, O, { .omit = A(MAQUIS_A_ROLE) }, E(EINVAL) },
	{ "new_attrs", "role 3", OP_NEW, O, { .rep = { MAQUIS_A_ROLE, U8V(3) } }, E(ERANGE) },
	{ "new_attrs", "role u32", OP_NEW, O, { .rep = { MAQUIS_A_ROLE, U32V(0) } }, E(EINVAL) },
	{ "new_attrs", "fwd-cid-out 0", OP_NEW, O, { .rep = { MAQUIS_A_FWD_CID_OUT, U32V(0) } }, E(ERANGE) },
	{ "new_attrs", "back-cid-in 0", OP_NEW, O, { .rep = { MAQUIS_A_BACK_CID_IN, U32V(0) } }, E(ERANGE) },
	{ "new_attrs", "fwd-cid-in 0", OP_NEW, R, { .rep = { MAQUIS_A_FWD_CID_IN, U32V(0) } }, E(ERANGE) },
	{ "new_attrs", "back-cid-out 0", OP_NEW, R, { .rep = { MAQUIS_A_BACK_CID_OUT, U32V(0) } }, E(ERANGE) },
	{ "new_attrs", "fwd-cid-in u16", OP_NEW, R, { .rep = { MAQUIS_A_FWD_CID_IN, U16V(5) } }, E(EINVAL) },
	{ "new_attrs", "lifetime 0", OP_NEW, O, { .rep = { MAQUIS_A_LIFETIME, U32V(0) } }, E(ERANGE) },
	{ "new_attrs", "lifetime above max", OP_NEW, O, { .rep = { MAQUIS_A_LIFETIME, U32V(MAQUIS_MAX_LIFETIME + 1) } }, E(ERANGE) },
	{ "new_attrs", "lifetime u8", OP_NEW, O, { .rep = { MAQUIS_A_LIFETIME, U8V(9) } }, E(EINVAL) },
	{ "new_attrs", "next not nested", OP_NEW, O, { .rep = { MAQUIS_A_NEXT, ADDR_BODY } }, E(EINVAL) },
	{ "new_attrs", "next 3 bytes", OP_NEW, O, { .rep = { MAQUIS_A_NEXT | F, BYTES(3) } }, E(ERANGE) },
	{ "new_attrs", "next unknown inner", OP_NEW, O, { .rep = { MAQUIS_A_NEXT | F, unknown_attr, 8 } }, E(EINVAL) },
	{ "new_attrs", "next overlong inner", OP_NEW, O, { .rep = { MAQUIS_A_NEXT | F, overlong_attr, 8 } }, E(EINVAL) },
	{ "new_attrs", "next trailing", OP_NEW, O, { .rep = { MAQUIS_A_NEXT | F, addr_trail, sizeof(addr_trail) } }, E(EINVAL) },
	{ "new_attrs", "next empty", OP_NEW, O, { .rep = { MAQUIS_A_NEXT | F, NULL, 0 } }, E(EINVAL) },
	{ "new_attrs", "next v4 and v6", OP_NEW, O, { .nest = MAQUIS_A_NEXT, .nest_idx = -1, .in_add = { MAQUIS_A_ADDR_IPV6, BYTES(16) } }, E(EINVAL) },
	{ "new_attrs", "next no address", OP_NEW, O, { .nest = MAQUIS_A_NEXT, .nest_idx = -1, .in_omit = A(MAQUIS_A_ADDR_IPV4) }, E(EINVAL) },
	{ "new_attrs", "next no port", OP_NEW, O, { .nest = MAQUIS_A_NEXT, .nest_idx = -1, .in_omit = A(MAQUIS_A_ADDR_PORT) }, E(EINVAL) },
	{ "new_attrs", "next port 0", OP_NEW, O, { .nest = MAQUIS_A_NEXT, .nest_idx = -1, .in_rep = { MAQUIS_A_ADDR_PORT, U16V(0) } }, E(ERANGE) },
	{ "new_attrs", "next v4 u16", OP_NEW, O, { .nest = MAQUIS_A_NEXT, .nest_idx = -1, .in_rep = { MAQUIS_A_ADDR_IPV4, U16V(1) } }, E(EINVAL) },
	{ "new_attrs", "prev v6 15 bytes", OP_NEW, R, { .nest = MAQUIS_A_PREV, .nest_idx = -1, .in_rep = { MAQUIS_A_ADDR_IPV6, BYTES(15) } }, E(ERANGE) },
	{ "new_attrs", "prev v6 17 bytes", OP_NEW, R, { .nest = MAQUIS_A_PREV, .nest_idx = -1, .in_rep = { MAQUIS_A_ADDR_IPV6, BYTES(17) } }, E(ERANGE) },
	{ "new_attrs", "prev no address", OP_NEW, T, { .nest = MAQUIS_A_PREV, .nest_idx = -1, .in_omit = A(MAQUIS_A_ADDR_IPV6) }, E(EINVAL) },
	{ "new_attrs", "prev no port", OP_NEW, T, { .nest = MAQUIS_A_PREV, .nest_idx = -1, .in_omit = A(MAQUIS_A_ADDR_PORT) }, E(EINVAL) },
	{ "new_attrs", "hop not nested", OP_NEW, O, { .rep = { MAQUIS_A_HOP, hop_idx7, sizeof(hop_idx7) } }, E(EINVAL) },
	{ "new_attrs", "hop 3 bytes", OP_NEW, R, { .rep = { MAQUIS_A_HOP | F, BYTES(3) } }, E(ERANGE) },
	{ "new_attrs", "hop unknown inner", OP_NEW, R, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_add = { 99, U32V(1) } }, E(EINVAL) },
	{ "new_attrs", "hop overlong inner", OP_NEW, R, { .rep = { MAQUIS_A_HOP | F, overlong_attr, 8 } }, E(EINVAL) },
	{ "new_attrs", "hop index 8", OP_NEW, O, { .nest = MAQUIS_A_HOP, .nest_idx = 3, .in_rep = { MAQUIS_A_HOP_INDEX, U8V(8) } }, E(ERANGE) },
	{ "new_attrs", "hop index u32", OP_NEW, O, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_rep = { MAQUIS_A_HOP_INDEX, U32V(0) } }, E(EINVAL) },
	{ "new_attrs", "fwd-key 31 bytes", OP_NEW, O, { .nest = MAQUIS_A_HOP, .nest_idx = 1, .in_rep = { MAQUIS_A_HOP_FWD_KEY, BYTES(31) } }, E(ERANGE) },
	{ "new_attrs", "back-key 33 bytes", OP_NEW, R, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_rep = { MAQUIS_A_HOP_BACK_KEY, BYTES(33) } }, E(ERANGE) },
	{ "new_attrs", "fwd-ctl-key empty", OP_NEW, T, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_rep = { MAQUIS_A_HOP_FWD_CTL_KEY, NULL, 0 } }, E(ERANGE) },
	{ "new_attrs", "back-ctl-key 16 bytes", OP_NEW, O, { .nest = MAQUIS_A_HOP, .nest_idx = 2, .in_rep = { MAQUIS_A_HOP_BACK_CTL_KEY, BYTES(16) } }, E(ERANGE) },
	{ "new_attrs", "fwd-seq u32", OP_NEW, O, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_rep = { MAQUIS_A_HOP_FWD_SEQ, U32V(1) } }, E(EINVAL) },
	{ "new_attrs", "back-seq u16", OP_NEW, R, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_rep = { MAQUIS_A_HOP_BACK_SEQ, U16V(1) } }, E(EINVAL) },
	{ "new_attrs", "route not nested", OP_NEW, O, { .rep = { MAQUIS_A_ROUTE, ADDR_BODY } }, E(EINVAL) },
	{ "new_attrs", "route garbage", OP_NEW, T, { .rep = { MAQUIS_A_ROUTE | F, unknown_attr, 8 } }, E(EINVAL) },
	{ "new_attrs", "route len 129", OP_NEW, T, { .nest = MAQUIS_A_ROUTE, .nest_idx = 0, .in_rep = { MAQUIS_A_PREFIX_LEN, U8V(129) } }, E(ERANGE) },
	{ "new_attrs", "route v4 /33", OP_NEW, O, { .fix = fx_v4_len33 }, E(EINVAL, ERANGE) },
	{ "new_attrs", "route v4 and v6", OP_NEW, O, { .nest = MAQUIS_A_ROUTE, .nest_idx = 0, .in_add = { MAQUIS_A_PREFIX_IPV6, BYTES(16) } }, E(EINVAL) },
	{ "new_attrs", "route no address", OP_NEW, O, { .nest = MAQUIS_A_ROUTE, .nest_idx = 0, .in_omit = A(MAQUIS_A_PREFIX_IPV4) }, E(EINVAL) },
	{ "new_attrs", "route v6 8 bytes", OP_NEW, T, { .nest = MAQUIS_A_ROUTE, .nest_idx = 0, .in_rep = { MAQUIS_A_PREFIX_IPV6, BYTES(8) } }, E(ERANGE) },
	{ "new_attrs", "reply-only attribute", OP_NEW, O, { .add = { MAQUIS_A_AGE, U32V(1) } }, E(EINVAL) },
	{ "new_attrs", "attribute beyond policy", OP_NEW, O, { .add = { MAQUIS_A_COUNT, U64V(1) } }, E(EINVAL) },
	{ "new_attrs", "unknown attribute", OP_NEW, O, { .add = { 200, U32V(1) } }, E(EINVAL) },
	{ "new_attrs", "trailing bytes", OP_NEW, O, { .tail = 4 }, E(EINVAL) },

	/* circuit-new: origin rules */
	{ "new_origin", "no fwd-cid-out", OP_NEW, O, { .fix = fx_no_fwd_cid_out }, E(EINVAL) },
	{ "new_origin", "no back-cid-in", OP_NEW, O, { .fix = fx_no_back_cid_in }, E(EINVAL) },
	{ "new_origin", "no next", OP_NEW, O, { .fix = fx_no_next }, E(EINVAL) },
	{ "new_origin", "no hop", OP_NEW, O, { .fix = fx_no_hops }, E(EINVAL) },
	{ "new_origin", "no route", OP_NEW, O, { .fix = fx_no_routes }, E(EINVAL) },
	{ "new_origin", "with fwd-cid-in", OP_NEW, O, { .fix = fx_add_fwd_cid_in }, E(EINVAL) },
	{ "new_origin", "with back-cid-out", OP_NEW, O, { .fix = fx_add_back_cid_out }, E(EINVAL) },
	{ "new_origin", "with prev", OP_NEW, O, { .fix = fx_add_prev }, E(EINVAL) },
	{ "new_origin", "hop index twice", OP_NEW, O, { .fix = fx_dup_index }, E(EINVAL) },
	{ "new_origin", "hop index gap", OP_NEW, O, { .fix = fx_gap_index }, E(EINVAL, ERANGE) },
	{ "new_origin", "hop indices from 1", OP_NEW, O, { .fix = fx_from_one }, E(EINVAL, ERANGE) },
	{ "new_origin", "hop without index", OP_NEW, O, { .fix = fx_no_index }, E(EINVAL) },
	{ "new_origin", "nine hops", OP_NEW, O, { .fix = fx_eight_hops, .add = { MAQUIS_A_HOP | F, hop_idx7, sizeof(hop_idx7) } }, E(EINVAL, E2BIG) },
	{ "new_origin", "hop without fwd-key", OP_NEW, O, { .fix = fx_no_fwd_key }, E(EINVAL) },
	{ "new_origin", "hop without back-key", OP_NEW, O, { .fix = fx_no_back_key }, E(EINVAL) },
	{ "new_origin", "hop without fwd-ctl-key", OP_NEW, O, { .fix = fx_no_fwd_ctl_key }, E(EINVAL) },
	{ "new_origin", "hop without back-ctl-key", OP_NEW, O, { .fix = fx_no_back_ctl_key }, E(EINVAL) },
	{ "new_origin", "hop without fwd-seq", OP_NEW, O, { .fix = fx_no_fwd_seq }, E(EINVAL) },
	{ "new_origin", "hop without back-seq", OP_NEW, O, { .fix = fx_no_back_seq }, E(EINVAL) },
	{ "new_origin", "fwd base with bit 63", OP_NEW, O, { .fix = fx_base_bit63 }, E(EINVAL, ERANGE) },
	{ "new_origin", "back base with bit 63", OP_NEW, O, { .fix = fx_back_base_bit63 }, E(EINVAL, ERANGE) },
	{ "new_origin", "id taken", OP_NEW, O, { .fix = fx_id_taken }, E(EEXIST) },
	{ "new_origin", "back-cid-in taken", OP_NEW, O, { .fix = fx_origin_back_in_taken }, DUP },
	{ "new_origin", "back-cid-in is a relay's fwd-cid-in", OP_NEW, O, { .fix = fx_origin_back_in_is_relay_fwd_in }, DUP },
	{ "new_origin", "e2e-key 63 bytes", OP_NEW, O, { .add = { MAQUIS_A_E2E_KEY, BYTES(MAQUIS_E2E_KEY_LEN - 1) } }, E(ERANGE) },
	{ "new_origin", "e2e-key 65 bytes", OP_NEW, O, { .add = { MAQUIS_A_E2E_KEY, BYTES(MAQUIS_E2E_KEY_LEN + 1) } }, E(ERANGE) },
	{ "new_origin", "e2e-key u32", OP_NEW, O, { .add = { MAQUIS_A_E2E_KEY, U32V(1) } }, E(ERANGE) },
	{ "new_origin", "e2e-key halves equal", OP_NEW, O, { .add = { MAQUIS_A_E2E_KEY, E2E_SAME } }, E(EINVAL) },

	/* circuit-new: relay rules */
	{ "new_relay", "no fwd-cid-in", OP_NEW, R, { .fix = fx_no_fwd_cid_in }, E(EINVAL) },
	{ "new_relay", "no fwd-cid-out", OP_NEW, R, { .fix = fx_no_fwd_cid_out }, E(EINVAL) },
	{ "new_relay", "no back-cid-in", OP_NEW, R, { .fix = fx_no_back_cid_in }, E(EINVAL) },
	{ "new_relay", "no back-cid-out", OP_NEW, R, { .fix = fx_no_back_cid_out }, E(EINVAL) },
	{ "new_relay", "no next", OP_NEW, R, { .fix = fx_no_next }, E(EINVAL) },
	{ "new_relay", "no prev", OP_NEW, R, { .fix = fx_no_prev }, E(EINVAL) },
	{ "new_relay", "no hop", OP_NEW, R, { .fix = fx_no_hops }, E(EINVAL) },
	{ "new_relay", "two hops", OP_NEW, R, { .fix = fx_two_hops }, E(EINVAL, E2BIG) },
	{ "new_relay", "hop index 1", OP_NEW, R, { .fix = fx_index1 }, E(EINVAL, ERANGE) },
	{ "new_relay", "hop without index", OP_NEW, R, { .fix = fx_no_index }, E(EINVAL) },
	{ "new_relay", "hop without fwd-key", OP_NEW, R, { .fix = fx_no_fwd_key }, E(EINVAL) },
	{ "new_relay", "hop without back-key", OP_NEW, R, { .fix = fx_no_back_key }, E(EINVAL) },
	{ "new_relay", "hop without fwd-ctl-key", OP_NEW, R, { .fix = fx_no_fwd_ctl_key }, E(EINVAL) },
	{ "new_relay", "hop without back-ctl-key", OP_NEW, R, { .fix = fx_no_back_ctl_key }, E(EINVAL) },
	{ "new_relay", "hop without fwd-seq", OP_NEW, R, { .fix = fx_no_fwd_seq }, E(EINVAL) },
	{ "new_relay", "hop without back-seq", OP_NEW, R, { .fix = fx_no_back_seq }, E(EINVAL) },
	{ "new_relay", "with route", OP_NEW, R, { .fix = fx_add_route }, E(EINVAL) },
	{ "new_relay", "delta with bit 63", OP_NEW, R, { .fix = fx_delta_bit63 }, E(EINVAL, ERANGE) },
	{ "new_relay", "id taken", OP_NEW, R, { .fix = fx_id_taken }, E(EEXIST) },
	{ "new_relay", "fwd-cid-in taken", OP_NEW, R, { .fix = fx_relay_fwd_in_taken }, DUP },
	{ "new_relay", "back-cid-in taken", OP_NEW, R, { .fix = fx_relay_back_in_taken }, DUP },
	{ "new_relay", "fwd-cid-in is an origin's back-cid-in", OP_NEW, R, { .fix = fx_relay_in_is_origin_back_in }, DUP },
	{ "new_relay", "fwd-cid-in equals own back-cid-in", OP_NEW, R, { .fix = fx_relay_own_cids_clash }, E(EINVAL, EEXIST, EADDRINUSE) },
	{ "new_relay", "e2e-key", OP_NEW, R, { .add = { MAQUIS_A_E2E_KEY, E2E_OK } }, E(EINVAL) },

	/* circuit-new: terminus rules */
	{ "new_terminus", "no fwd-cid-in", OP_NEW, T, { .fix = fx_no_fwd_cid_in }, E(EINVAL) },
	{ "new_terminus", "no back-cid-out", OP_NEW, T, { .fix = fx_no_back_cid_out }, E(EINVAL) },
	{ "new_terminus", "no prev", OP_NEW, T, { .fix = fx_no_prev }, E(EINVAL) },
	{ "new_terminus", "no hop", OP_NEW, T, { .fix = fx_no_hops }, E(EINVAL) },
	{ "new_terminus", "two hops", OP_NEW, T, { .fix = fx_two_hops }, E(EINVAL, E2BIG) },
	{ "new_terminus", "hop index 1", OP_NEW, T, { .fix = fx_index1 }, E(EINVAL, ERANGE) },
	{ "new_terminus", "hop without fwd-key", OP_NEW, T, { .fix = fx_no_fwd_key }, E(EINVAL) },
	{ "new_terminus", "hop without back-key", OP_NEW, T, { .fix = fx_no_back_key }, E(EINVAL) },
	{ "new_terminus", "hop without fwd-ctl-key", OP_NEW, T, { .fix = fx_no_fwd_ctl_key }, E(EINVAL) },
	{ "new_terminus", "hop without back-ctl-key", OP_NEW, T, { .fix = fx_no_back_ctl_key }, E(EINVAL) },
	{ "new_terminus", "hop without back-seq", OP_NEW, T, { .fix = fx_no_back_seq }, E(EINVAL) },
	{ "new_terminus", "back base with bit 63", OP_NEW, T, { .fix = fx_term_base_bit63 }, E(EINVAL, ERANGE) },
	{ "new_terminus", "id taken", OP_NEW, T, { .fix = fx_id_taken }, E(EEXIST) },
	{ "new_terminus", "fwd-cid-in taken", OP_NEW, T, { .fix = fx_term_fwd_in_taken }, DUP },
	{ "new_terminus", "e2e-key", OP_NEW, T, { .add = { MAQUIS_A_E2E_KEY, E2E_OK } }, E(EINVAL) },

	/* circuit-del, circuit-get, stats-reset */
	{ "del", "no ifindex", OP_DEL, O, { .omit = A(MAQUIS_A_IFINDEX) }, E(EINVAL) },
	{ "del", "no id", OP_DEL, O, { .omit = A(MAQUIS_A_ID) }, E(EINVAL) },
	{ "del", "id 0", OP_DEL, O, { .rep = { MAQUIS_A_ID, U32V(0) } }, E(ERANGE) },
	{ "del", "id u8", OP_DEL, O, { .rep = { MAQUIS_A_ID, U8V(10) } }, E(EINVAL) },
	{ "del", "unknown id", OP_DEL, O, { .rep = { MAQUIS_A_ID, U32V(4242) } }, E(ENOENT) },
	{ "del", "ifindex unknown", OP_DEL, O, { .rep = { MAQUIS_A_IFINDEX, U32V(99999) } }, E(ENODEV) },
	{ "del", "ifindex of lo", OP_DEL, O, { .rep = { MAQUIS_A_IFINDEX, U32V(1) } }, NOTDEV },
	{ "del", "unknown attribute", OP_DEL, O, { .add = { MAQUIS_A_ROLE, U8V(0) } }, E(EINVAL) },
	{ "get", "no ifindex", OP_GET, O, { .omit = A(MAQUIS_A_IFINDEX) }, E(EINVAL) },
	{ "get", "no id", OP_GET, O, { .omit = A(MAQUIS_A_ID) }, E(EINVAL) },
	{ "get", "id 0", OP_GET, O, { .rep = { MAQUIS_A_ID, U32V(0) } }, E(ERANGE) },
	{ "get", "unknown id", OP_GET, R, { .rep = { MAQUIS_A_ID, U32V(4242) } }, E(ENOENT) },
	{ "get", "ifindex unknown", OP_GET, O, { .rep = { MAQUIS_A_IFINDEX, U32V(99999) } }, E(ENODEV) },
	{ "get", "ifindex of lo", OP_GET, O, { .rep = { MAQUIS_A_IFINDEX, U32V(1) } }, NOTDEV },
	{ "dump", "ifindex 0", OP_DUMP, O, { .rep = { MAQUIS_A_IFINDEX, U32V(0) } }, E(ERANGE) },
	{ "dump", "ifindex u16", OP_DUMP, O, { .rep = { MAQUIS_A_IFINDEX, U16V(1) } }, E(EINVAL) },
	{ "dump", "ifindex unknown", OP_DUMP, O, { .rep = { MAQUIS_A_IFINDEX, U32V(99999) } }, E(ENODEV) },
	{ "dump", "ifindex of lo", OP_DUMP, O, { .rep = { MAQUIS_A_IFINDEX, U32V(1) } }, NOTDEV },
	{ "dump", "attribute not in request", OP_DUMP, O, { .add = { MAQUIS_A_ID, U32V(10) } }, E(EINVAL) },
	{ "reset", "no ifindex", OP_RESET, O, { .omit = A(MAQUIS_A_IFINDEX) }, E(EINVAL) },
	{ "reset", "id 0", OP_RESET, O, { .rep = { MAQUIS_A_ID, U32V(0) } }, E(ERANGE) },
	{ "reset", "unknown id", OP_RESET, O, { .rep = { MAQUIS_A_ID, U32V(4242) } }, E(ENOENT) },
	{ "reset", "ifindex unknown", OP_RESET, O, { .rep = { MAQUIS_A_IFINDEX, U32V(99999) } }, E(ENODEV) },

	/* key-set */
	{ "key_set", "no ifindex", OP_KEY, O, { .omit = A(MAQUIS_A_IFINDEX) }, E(EINVAL) },
	{ "key_set", "no id", OP_KEY, O, { .omit = A(MAQUIS_A_ID) }, E(EINVAL) },
	{ "key_set", "no hop", OP_KEY, O, { .omit = A(MAQUIS_A_HOP) }, E(EINVAL) },
	{ "key_set", "no slot", OP_KEY, O, { .omit = A(MAQUIS_A_SLOT) }, E(EINVAL) },
	{ "key_set", "slot 2", OP_KEY, O, { .rep = { MAQUIS_A_SLOT, U8V(2) } }, E(ERANGE) },
	{ "key_set", "slot u32", OP_KEY, O, { .rep = { MAQUIS_A_SLOT, U32V(1) } }, E(EINVAL) },
	{ "key_set", "unknown id", OP_KEY, O, { .rep = { MAQUIS_A_ID, U32V(4242) } }, E(ENOENT) },
	{ "key_set", "ifindex unknown", OP_KEY, O, { .rep = { MAQUIS_A_IFINDEX, U32V(99999) } }, E(ENODEV) },
	{ "key_set", "hop index beyond origin", OP_KEY, O, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_rep = { MAQUIS_A_HOP_INDEX, U8V(NHOPS) } }, E(EINVAL, ERANGE) },
	{ "key_set", "hop index 1 on relay", OP_KEY, R, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_rep = { MAQUIS_A_HOP_INDEX, U8V(1) } }, E(EINVAL, ERANGE) },
	{ "key_set", "hop index 1 on terminus", OP_KEY, T, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_rep = { MAQUIS_A_HOP_INDEX, U8V(1) } }, E(EINVAL, ERANGE) },
	{ "key_set", "hop index 8", OP_KEY, O, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_rep = { MAQUIS_A_HOP_INDEX, U8V(8) } }, E(ERANGE) },
	{ "key_set", "hop without index", OP_KEY, O, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_omit = A(MAQUIS_A_HOP_INDEX) }, E(EINVAL) },
	{ "key_set", "hop without key", OP_KEY, O, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_omit = A(MAQUIS_A_HOP_FWD_KEY) }, E(EINVAL) },
	{ "key_set", "seq in hop", OP_KEY, O, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_add = { MAQUIS_A_HOP_FWD_SEQ, U64V(1) } }, E(EINVAL) },
	{ "key_set", "key 31 bytes", OP_KEY, O, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_rep = { MAQUIS_A_HOP_FWD_KEY, BYTES(31) } }, E(ERANGE) },
	{ "key_set", "hop not nested", OP_KEY, O, { .rep = { MAQUIS_A_HOP, hop_idx7, sizeof(hop_idx7) } }, E(EINVAL) },
	{ "key_set", "hop garbage", OP_KEY, O, { .rep = { MAQUIS_A_HOP | F, overlong_attr, 8 } }, E(EINVAL) },

	/* cell-send */
	{ "cell_send", "no ifindex", OP_CELL, 0, { .omit = A(MAQUIS_A_IFINDEX) }, E(EINVAL) },
	{ "cell_send", "no peer", OP_CELL, 0, { .omit = A(MAQUIS_A_PEER) }, E(EINVAL) },
	{ "cell_send", "no cell", OP_CELL, 0, { .omit = A(MAQUIS_A_CELL) }, E(EINVAL) },
	{ "cell_send", "cell 1435 bytes", OP_CELL, 0, { .rep = { MAQUIS_A_CELL, BYTES(MAQUIS_CELL_SIZE - 1) } }, E(ERANGE) },
	{ "cell_send", "cell 1437 bytes", OP_CELL, 0, { .rep = { MAQUIS_A_CELL, BYTES(MAQUIS_CELL_SIZE + 1) } }, E(ERANGE) },
	{ "cell_send", "cell with a cid", OP_CELL, 0, { .rep = { MAQUIS_A_CELL, (const uint8_t[MAQUIS_CELL_SIZE]){ 0, 0, 0, 1 }, MAQUIS_CELL_SIZE } }, E(EINVAL) },
	{ "cell_send", "ifindex unknown", OP_CELL, 0, { .rep = { MAQUIS_A_IFINDEX, U32V(99999) } }, E(ENODEV) },
	{ "cell_send", "peer not nested", OP_CELL, 0, { .rep = { MAQUIS_A_PEER, ADDR_BODY } }, E(EINVAL) },
	{ "cell_send", "peer garbage", OP_CELL, 0, { .rep = { MAQUIS_A_PEER | F, unknown_attr, 8 } }, E(EINVAL) },
	{ "cell_send", "peer no port", OP_CELL, 0, { .nest = MAQUIS_A_PEER, .nest_idx = -1, .in_omit = A(MAQUIS_A_ADDR_PORT) }, E(EINVAL) },
	{ "cell_send", "peer port 0", OP_CELL, 0, { .nest = MAQUIS_A_PEER, .nest_idx = -1, .in_rep = { MAQUIS_A_ADDR_PORT, U16V(0) } }, E(ERANGE) },
	{ "cell_send", "peer v4 and v6", OP_CELL, 0, { .nest = MAQUIS_A_PEER, .nest_idx = -1, .in_add = { MAQUIS_A_ADDR_IPV6, BYTES(16) } }, E(EINVAL) },
	{ "cell_send", "peer no address", OP_CELL, 0, { .nest = MAQUIS_A_PEER, .nest_idx = -1, .in_omit = A(MAQUIS_A_ADDR_IPV4) }, E(EINVAL) },

	/* ctl-send */
	{ "ctl_send", "no ifindex", OP_CTL, O, { .omit = A(MAQUIS_A_IFINDEX) }, E(EINVAL) },
	{ "ctl_send", "no id", OP_CTL, O, { .omit = A(MAQUIS_A_ID) }, E(EINVAL) },
	{ "ctl_send", "no hop", OP_CTL, O, { .omit = A(MAQUIS_A_HOP) }, E(EINVAL) },
	{ "ctl_send", "no ctl", OP_CTL, O, { .omit = A(MAQUIS_A_CTL) }, E(EINVAL) },
	{ "ctl_send", "ctl 255 bytes", OP_CTL, O, { .rep = { MAQUIS_A_CTL, BYTES(MAQUIS_CTL_LEN - 1) } }, E(ERANGE) },
	{ "ctl_send", "ctl 257 bytes", OP_CTL, O, { .rep = { MAQUIS_A_CTL, BYTES(MAQUIS_CTL_LEN + 1) } }, E(ERANGE) },
	{ "ctl_send", "unknown id", OP_CTL, O, { .rep = { MAQUIS_A_ID, U32V(4242) } }, E(ENOENT) },
	{ "ctl_send", "ifindex unknown", OP_CTL, O, { .rep = { MAQUIS_A_IFINDEX, U32V(99999) } }, E(ENODEV) },
	{ "ctl_send", "hop index beyond origin", OP_CTL, O, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_rep = { MAQUIS_A_HOP_INDEX, U8V(NHOPS) } }, E(EINVAL, ERANGE) },
	{ "ctl_send", "hop index 1 on relay", OP_CTL, R, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_rep = { MAQUIS_A_HOP_INDEX, U8V(1) } }, E(EINVAL, ERANGE) },
	{ "ctl_send", "hop index 8", OP_CTL, O, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_rep = { MAQUIS_A_HOP_INDEX, U8V(8) } }, E(ERANGE) },
	{ "ctl_send", "hop without index", OP_CTL, O, { .nest = MAQUIS_A_HOP, .nest_idx = 0, .in_omit = A(MAQUIS_A_HOP_INDEX) }, E(EINVAL) },
	{ "ctl_send", "hop garbage", OP_CTL, O, { .rep = { MAQUIS_A_HOP | F, BYTES(3) } }, E(ERANGE) },

	/* circuit-join (bad_circuit_join adds circuits 31..33 and 40) */
	{ "join", "no ifindex", OP_JOIN, T, { .omit = A(MAQUIS_A_IFINDEX) }, E(EINVAL) },
	{ "join", "ifindex unknown", OP_JOIN, T, { .rep = { MAQUIS_A_IFINDEX, U32V(99999) } }, E(ENODEV) },
	{ "join", "ifindex of lo", OP_JOIN, T, { .rep = { MAQUIS_A_IFINDEX, U32V(1) } }, NOTDEV },
	{ "join", "no id", OP_JOIN, T, { .omit = A(MAQUIS_A_ID) }, E(EINVAL) },
	{ "join", "id 0", OP_JOIN, T, { .rep = { MAQUIS_A_ID, U32V(0) } }, E(ERANGE) },
	{ "join", "unknown id", OP_JOIN, T, { .rep = { MAQUIS_A_ID, U32V(4242) } }, E(ENOENT) },
	{ "join", "no join", OP_JOIN, T, { .omit = A(MAQUIS_A_JOIN) }, E(EINVAL) },
	{ "join", "join u64", OP_JOIN, T, { .rep = { MAQUIS_A_JOIN, U64V(JOIN_FREE_ID) } }, E(EINVAL, ERANGE) },
	{ "join", "join u8", OP_JOIN, T, { .rep = { MAQUIS_A_JOIN, U8V(JOIN_FREE_ID) } }, E(EINVAL, ERANGE) },
	{ "join", "unknown join", OP_JOIN, T, { .rep = { MAQUIS_A_JOIN, U32V(4242) } }, E(ENOENT) },
	{ "join", "join on another device", OP_JOIN, T, { .rep = { MAQUIS_A_JOIN, U32V(OTHER_DEV_ID) } }, E(ENOENT) },
	{ "join", "itself", OP_JOIN, T, { .rep = { MAQUIS_A_JOIN, U32V(TERM_ID) } }, E(EINVAL) },
	{ "join", "an origin", OP_JOIN, O, { 0 }, E(EINVAL) },
	{ "join", "a relay", OP_JOIN, R, { 0 }, E(EINVAL) },
	{ "join", "to an origin", OP_JOIN, T, { .rep = { MAQUIS_A_JOIN, U32V(ORIG_ID) } }, E(EINVAL) },
	{ "join", "to a relay", OP_JOIN, T, { .rep = { MAQUIS_A_JOIN, U32V(RELAY_ID) } }, E(EINVAL) },
	{ "join", "id joined already", OP_JOIN, T, { .rep = { MAQUIS_A_ID, U32V(JOIN_A_ID) } }, E(EBUSY) },
	{ "join", "join joined already", OP_JOIN, T, { .rep = { MAQUIS_A_JOIN, U32V(JOIN_B_ID) } }, E(EBUSY) },
	{ "join", "undo, not joined", OP_JOIN, T, { .rep = { MAQUIS_A_JOIN, U32V(0) } }, E(ENOENT) },
	{ "join", "undo on an origin", OP_JOIN, O, { .rep = { MAQUIS_A_JOIN, U32V(0) } }, E(ENOENT) },
	{ "join", "unknown attribute", OP_JOIN, T, { .add = { 60, U32V(1) } }, E(EINVAL) },
	{ "join", "attribute not in request", OP_JOIN, T, { .add = { MAQUIS_A_ROLE, U8V(2) } }, E(EINVAL) },
	{ "join", "trailing bytes", OP_JOIN, T, { .tail = 4 }, E(EINVAL) },
};

static bool errno_in(int err, const int *errs)
{
	int i;

	for (i = 0; i < 4 && errs[i]; i++)
		if (err == -errs[i])
			return true;
	return false;
}

static int count_cb(const struct nlmsghdr *nlh, void *arg)
{
	(void)nlh;
	(*(int *)arg)++;
	return 0;
}

static void run_group(struct __test_metadata *_metadata,
		      FIXTURE_DATA(nl) *self, const char *group)
{
	struct snap before, after;
	size_t i, n = 0;
	int err, bad = 0;

	ASSERT_EQ(0, snap_take(self->nl, self->ifindex, &before));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bcase *bc = &cases[i];
		char msg[256];
		int replies = 0;
		bool ok_errno, ok_msg, ok_state;

		if (strcmp(bc->group, group))
			continue;
		n++;
		err = maq_nl_request(self->nl, build(self, bc), count_cb,
				     &replies);
		snprintf(msg, sizeof(msg), "%s", maq_nl_errmsg(self->nl));
		ok_errno = errno_in(err, bc->errs);
		ok_msg = err && *msg;
		ASSERT_EQ(0, snap_take(self->nl, self->ifindex, &after));
		ok_state = snap_equal(&before, &after);
		snap_free(&after);
		if (ok_errno && ok_msg && ok_state) {
			ksft_print_msg("ok   %s: %s: %s \"%s\"\n", group, bc->name,
				       strerrorname_np(-err), msg);
			continue;
		}
		bad++;
		ksft_print_msg("FAIL %s: %s: got %d %s \"%s\", want %s%s%s%s\n",
			       group, bc->name, err,
			       err ? strerrorname_np(-err) : "success", msg,
			       strerrorname_np(bc->errs[0]),
			       bc->errs[1] ? " or another" : "",
			       ok_msg ? "" : "; no extack message",
			       ok_state ? "" : "; STATE CHANGED");
		if (!ok_state) {
			/* Put the standing state back for the next cases. */
			snap_free(&before);
			ASSERT_EQ(0, snap_take(self->nl, self->ifindex, &before));
		}
	}
	snap_free(&before);
	ksft_print_msg("%s: %zu cases, %d failed\n", group, n, bad);
	EXPECT_NE(0, n);
	EXPECT_EQ(0, bad);
}

TEST_F(nl, bad_dev_get) { run_group(_metadata, self, "dev_get"); }
TEST_F(nl, bad_dev_set) { run_group(_metadata, self, "dev_set"); }
TEST_F(nl, bad_circuit_new_attrs) { run_group(_metadata, self, "new_attrs"); }
TEST_F(nl, bad_circuit_new_origin) { run_group(_metadata, self, "new_origin"); }
TEST_F(nl, bad_circuit_new_relay) { run_group(_metadata, self, "new_relay"); }
TEST_F(nl, bad_circuit_new_terminus) { run_group(_metadata, self, "new_terminus"); }
TEST_F(nl, bad_circuit_del) { run_group(_metadata, self, "del"); }
TEST_F(nl, bad_circuit_get) { run_group(_metadata, self, "get"); }
TEST_F(nl, bad_circuit_dump) { run_group(_metadata, self, "dump"); }
TEST_F(nl, bad_stats_reset) { run_group(_metadata, self, "reset"); }
TEST_F(nl, bad_key_set) { run_group(_metadata, self, "key_set"); }
TEST_F(nl, bad_cell_send) { run_group(_metadata, self, "cell_send"); }
TEST_F(nl, bad_ctl_send) { run_group(_metadata, self, "ctl_send"); }

/* Termini to join, prev the ::1 sink, cids from @cid0 + 1, no route. */
static void join_term(struct __test_metadata *_metadata,
		      FIXTURE_DATA(nl) *self, struct maq_circuit *c,
		      uint32_t ifindex, uint32_t id, uint32_t cid0)
{
	mk_term(c, ifindex, id, cid0, &self->a6, "fd30:99::/64");
	/* a rendezvous holds no inner address of either end */
	c->n_routes = 0;
	install(_metadata, self->nl, c);
}

TEST_F(nl, bad_circuit_join)
{
	struct maq_circuit c;
	uint32_t other;

	join_term(_metadata, self, &c, self->ifindex, JOIN_A_ID, 3100);
	join_term(_metadata, self, &c, self->ifindex, JOIN_B_ID, 3200);
	join_term(_metadata, self, &c, self->ifindex, JOIN_FREE_ID, 3300);
	ASSERT_EQ(0, link_add("maq1", maq_kind()));
	other = if_nametoindex("maq1");
	ASSERT_NE(0, other);
	join_term(_metadata, self, &c, other, OTHER_DEV_ID, 4000);
	ASSERT_EQ(0, maq_nl_circuit_join(self->nl, self->ifindex, JOIN_A_ID,
					 JOIN_B_ID))
		TH_LOG("%s", maq_nl_errmsg(self->nl));
	run_group(_metadata, self, "join");
}

/* --- operations that work ---------------------------------------------- */

TEST_F(nl, dev_get)
{
	struct maq_dev d;

	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	EXPECT_EQ(self->ifindex, d.ifindex);
	EXPECT_STREQ(DEV, d.ifname);
	EXPECT_NE(0, d.port);
	EXPECT_EQ(MAQ_DEFAULT_PORT, d.port);
	EXPECT_EQ(3, d.n_circuits);
	EXPECT_LE(3, d.max_circuits);
	EXPECT_TRUE(MAQ_HAS(&d, MAQUIS_A_STATS));
	EXPECT_TRUE(MAQ_HAS(&d, MAQUIS_A_MAX_CIRCUITS));
	EXPECT_TRUE(MAQ_HAS(&d, MAQUIS_A_N_CIRCUITS));
	EXPECT_FALSE(MAQ_HAS(&d, MAQUIS_A_LOCAL)) TH_LOG("local is unset");
}

TEST_F(nl, dev_dump)
{
	struct maq_dev *d, one;
	size_t n;

	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &one));
	ASSERT_EQ(0, maq_nl_dev_dump(self->nl, &d, &n));
	ASSERT_EQ(1, n);
	EXPECT_EQ(0, memcmp(&one, d, sizeof(one)));
	free(d);
}

TEST_F(nl, dev_set)
{
	union maq_sockaddr local, from;
	uint8_t cell[MAQUIS_CELL_SIZE], got[2048];
	struct maq_dev d;
	struct maq_circuit c;
	int err;

	/* port: cells now leave from the new port */
	err = maq_nl_dev_set(self->nl, self->ifindex, 7799, NULL, 0);
	ASSERT_EQ(0, err) TH_LOG("%s", maq_nl_errmsg(self->nl));
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	EXPECT_EQ(7799, d.port);
	EXPECT_EQ(3, d.n_circuits);
	randombytes_buf(cell, sizeof(cell));
	memset(cell, 0, 4);
	ASSERT_EQ(0, maq_nl_cell_send(self->nl, self->ifindex, &self->a4, cell));
	ASSERT_EQ(MAQUIS_CELL_SIZE, udp_recv(self->sink4, got, sizeof(got),
					     2000, &from));
	EXPECT_EQ(htons(7799), from.in4.sin_port);

	/* local address */
	maq_sockaddr_parse("127.0.0.1", 7799, &local);
	err = maq_nl_dev_set(self->nl, self->ifindex, 0, &local, 0);
	ASSERT_EQ(0, err) TH_LOG("%s", maq_nl_errmsg(self->nl));
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	ASSERT_TRUE(MAQ_HAS(&d, MAQUIS_A_LOCAL));
	EXPECT_EQ(AF_INET, d.local.sa.sa_family);
	EXPECT_EQ(htonl(INADDR_LOOPBACK), d.local.in4.sin_addr.s_addr);

	/* max-circuits: the limit holds */
	err = maq_nl_dev_set(self->nl, self->ifindex, 0, NULL, 3);
	ASSERT_EQ(0, err) TH_LOG("%s", maq_nl_errmsg(self->nl));
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	EXPECT_EQ(3, d.max_circuits);
	mk_base(self, &c, MAQUIS_ROLE_RELAY);
	err = maq_nl_circuit_new(self->nl, &c);
	EXPECT_TRUE(err == -ENOSPC || err == -ENOBUFS)
		TH_LOG("circuit-new over max-circuits: %d %s", err,
		       maq_nl_errmsg(self->nl));
	EXPECT_NE(0, strlen(maq_nl_errmsg(self->nl)));
	err = maq_nl_dev_set(self->nl, self->ifindex, 0, NULL, 4);
	ASSERT_EQ(0, err);
	EXPECT_EQ(0, maq_nl_circuit_new(self->nl, &c));
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	EXPECT_EQ(4, d.n_circuits);
}

/* The relay rate limit: dev-get reports what dev-set gave, part by part. */
TEST_F(nl, dev_set_relay_rate)
{
	struct maq_dev d;

	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	ASSERT_TRUE(MAQ_HAS(&d, MAQUIS_A_RELAY_RATE));
	ASSERT_TRUE(MAQ_HAS(&d, MAQUIS_A_RELAY_BURST));
	EXPECT_EQ(0, d.relay_rate) TH_LOG("a new device relays unlimited");
	EXPECT_EQ(64 * MAQUIS_CELL_SIZE, d.relay_burst);

	ASSERT_EQ(0, maq_nl_dev_set_rate(self->nl, self->ifindex, 1250000,
					 20000))
		TH_LOG("%s", maq_nl_errmsg(self->nl));
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	EXPECT_EQ(1250000, d.relay_rate);
	EXPECT_EQ(20000, d.relay_burst);

	/* one part alone leaves the other */
	ASSERT_EQ(0, maq_nl_dev_set_rate(self->nl, self->ifindex,
					 MAQ_NL_RATE_KEEP, MAQUIS_CELL_SIZE));
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	EXPECT_EQ(1250000, d.relay_rate);
	EXPECT_EQ(MAQUIS_CELL_SIZE, d.relay_burst);
	ASSERT_EQ(0, maq_nl_dev_set_rate(self->nl, self->ifindex,
					 MAQUIS_MAX_RELAY_RATE, 0));
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	EXPECT_EQ(MAQUIS_MAX_RELAY_RATE, d.relay_rate);
	EXPECT_EQ(MAQUIS_CELL_SIZE, d.relay_burst);

	/* other settings leave it alone, and it leaves them */
	ASSERT_EQ(0, maq_nl_dev_set(self->nl, self->ifindex, 0, NULL, 77));
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	EXPECT_EQ(MAQUIS_MAX_RELAY_RATE, d.relay_rate);
	EXPECT_EQ(77, d.max_circuits);

	/* a refused value changes nothing, and says which */
	EXPECT_EQ(-ERANGE, maq_nl_dev_set_rate(self->nl, self->ifindex, 5,
					       MAQUIS_CELL_SIZE - 1));
	EXPECT_NE(0, strlen(maq_nl_errmsg(self->nl)));
	EXPECT_LE(0, maq_nl_err_offset(self->nl));
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	EXPECT_EQ(MAQUIS_MAX_RELAY_RATE, d.relay_rate);
	EXPECT_EQ(MAQUIS_CELL_SIZE, d.relay_burst);

	ASSERT_EQ(0, maq_nl_dev_set_rate(self->nl, self->ifindex, 0, 0));
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	EXPECT_EQ(0, d.relay_rate);
}

static void expect_same_circuit(struct __test_metadata *_metadata,
				const struct maq_circuit *want,
				const struct maq_circuit *got)
{
	unsigned int i;

	EXPECT_EQ(want->ifindex, got->ifindex);
	EXPECT_EQ(want->id, got->id);
	EXPECT_EQ(want->role, got->role);
	EXPECT_EQ(want->fwd_cid_in, got->fwd_cid_in);
	EXPECT_EQ(want->fwd_cid_out, got->fwd_cid_out);
	EXPECT_EQ(want->back_cid_in, got->back_cid_in);
	EXPECT_EQ(want->back_cid_out, got->back_cid_out);
	EXPECT_EQ(0, memcmp(&want->next, &got->next, sizeof(want->next)));
	EXPECT_EQ(0, memcmp(&want->prev, &got->prev, sizeof(want->prev)));
	EXPECT_EQ(want->lifetime, got->lifetime);
	EXPECT_GE(5, got->age);
	EXPECT_TRUE(MAQ_HAS(got, MAQUIS_A_STATS));
	EXPECT_TRUE(MAQ_HAS(got, MAQUIS_A_AGE));
	EXPECT_TRUE(MAQ_HAS(got, MAQUIS_A_PHASE));
	EXPECT_EQ(0, got->phase);
	EXPECT_EQ(want->n_routes, got->n_routes);
	for (i = 0; i < want->n_routes && i < got->n_routes; i++)
		EXPECT_EQ(0, memcmp(&want->routes[i], &got->routes[i],
				    sizeof(want->routes[i])));
	EXPECT_FALSE(MAQ_HAS(got, MAQUIS_A_HOP)) TH_LOG("hop attributes in reply");
}

TEST_F(nl, circuit_get)
{
	struct maq_circuit c;

	ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex, ORIG_ID, &c));
	expect_same_circuit(_metadata, &self->orig, &c);
	ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex, RELAY_ID, &c));
	expect_same_circuit(_metadata, &self->relay, &c);
	ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex, TERM_ID, &c));
	expect_same_circuit(_metadata, &self->term, &c);
}

TEST_F(nl, circuit_dump)
{
	struct maq_circuit *cs;
	size_t n;

	ASSERT_EQ(0, maq_nl_circuit_dump(self->nl, self->ifindex, &cs, &n));
	ASSERT_EQ(3, n);
	qsort(cs, n, sizeof(*cs), cmp_circuit);
	expect_same_circuit(_metadata, &self->orig, &cs[0]);
	expect_same_circuit(_metadata, &self->relay, &cs[1]);
	expect_same_circuit(_metadata, &self->term, &cs[2]);
	free(cs);
}

TEST_F(nl, circuit_new_del_each_role)
{
	static const int roles[] = { O, R, T };
	struct maq_circuit c, got;
	struct maq_event ev;
	struct maq_nl *evnl;
	struct maq_dev d;
	int i, err;

	evnl = open_nl();
	ASSERT_NE(NULL, evnl);
	ASSERT_EQ(0, maq_nl_subscribe(evnl));
	for (i = 0; i < 3; i++) {
		mk_base(self, &c, roles[i]);
		err = maq_nl_circuit_new(self->nl, &c);
		ASSERT_EQ(0, err) TH_LOG("%s: %s", maq_role_name(roles[i]),
					 maq_nl_errmsg(self->nl));
		ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex, c.id,
						&got));
		expect_same_circuit(_metadata, &c, &got);
	}
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	EXPECT_EQ(6, d.n_circuits);
	for (i = 0; i < 3; i++) {
		mk_base(self, &c, roles[i]);
		EXPECT_EQ(0, maq_nl_circuit_del(self->nl, self->ifindex, c.id));
		EXPECT_EQ(-ENOENT, maq_nl_circuit_get(self->nl, self->ifindex,
						      c.id, &got));
		EXPECT_EQ(-ENOENT, maq_nl_circuit_del(self->nl, self->ifindex,
						      c.id));
		ASSERT_EQ(1, maq_nl_event_recv(evnl, &ev, 2000))
			TH_LOG("no event for deleting circuit %u", c.id);
		EXPECT_EQ(MAQUIS_CMD_EVENT_NTF, ev.cmd);
		EXPECT_EQ(MAQUIS_EVENT_DELETED, ev.event);
		EXPECT_EQ(c.id, ev.id);
		EXPECT_EQ(self->ifindex, ev.ifindex);
	}
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	EXPECT_EQ(3, d.n_circuits);
	/* an id and its cids are free again once deleted */
	mk_base(self, &c, O);
	EXPECT_EQ(0, maq_nl_circuit_new(self->nl, &c));
	maq_nl_close(evnl);
}

TEST_F(nl, circuit_eight_hops)
{
	struct maq_circuit c, got;
	int err;

	mk_base(self, &c, O);
	fx_eight_hops(&c);
	err = maq_nl_circuit_new(self->nl, &c);
	ASSERT_EQ(0, err) TH_LOG("%s", maq_nl_errmsg(self->nl));
	ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex, c.id, &got));
	expect_same_circuit(_metadata, &c, &got);
}

TEST_F(nl, circuit_dump_many)
{
	struct maq_circuit c, *cs;
	size_t n, i;
	int err, k;
	bool seen[400] = { false };

	ASSERT_EQ(0, maq_nl_dev_set(self->nl, self->ifindex, 0, NULL, 1000));
	for (k = 0; k < 400; k++) {
		mk_relay(&c, self->ifindex, 1000 + k, 100000 + 8 * k, &self->a4,
			 &self->a6);
		err = maq_nl_circuit_new(self->nl, &c);
		ASSERT_EQ(0, err) TH_LOG("circuit %d: %s", k,
					 maq_nl_errmsg(self->nl));
	}
	ASSERT_EQ(0, maq_nl_circuit_dump(self->nl, self->ifindex, &cs, &n));
	EXPECT_EQ(403, n);
	for (i = 0; i < n; i++)
		if (cs[i].id >= 1000 && cs[i].id < 1400) {
			EXPECT_FALSE(seen[cs[i].id - 1000]);
			seen[cs[i].id - 1000] = true;
		}
	for (k = 0; k < 400; k++)
		EXPECT_TRUE(seen[k]) TH_LOG("circuit %d missing", 1000 + k);
	free(cs);
}

TEST_F(nl, key_set)
{
	static const uint32_t sets[] = {
		MAQ_HOP_FWD_KEY, MAQ_HOP_BACK_KEY, MAQ_HOP_FWD_CTL_KEY,
		MAQ_HOP_BACK_CTL_KEY, MAQ_HOP_KEYS,
	};
	struct maq_hop h;
	int hop, slot, err;
	size_t i;

	/* every hop of the origin, every slot, each key alone and all four */
	for (hop = 0; hop < NHOPS; hop++)
		for (slot = 0; slot < 2; slot++)
			for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
				rand_hop(&h, (uint8_t)hop);
				h.has = sets[i];
				err = maq_nl_key_set(self->nl, self->ifindex,
						     ORIG_ID, (uint8_t)slot, &h);
				EXPECT_EQ(0, err) TH_LOG("hop %d slot %d keys %#x: %s",
							 hop, slot, sets[i],
							 maq_nl_errmsg(self->nl));
			}
	rand_hop(&h, 0);
	h.has = MAQ_HOP_KEYS;
	EXPECT_EQ(0, maq_nl_key_set(self->nl, self->ifindex, ORIG_ID, 1, &h));
	EXPECT_EQ(0, maq_nl_key_set(self->nl, self->ifindex, RELAY_ID, 1, &h));
	EXPECT_EQ(0, maq_nl_key_set(self->nl, self->ifindex, TERM_ID, 0, &h));
}

/* Reads one cell the module sent to @fd. */
static ssize_t read_cell(int fd, uint8_t *cell)
{
	return udp_recv(fd, cell, MAQUIS_CELL_SIZE + 64, 3000, NULL);
}

TEST_F(nl, stats_reset)
{
	uint8_t ctl[MAQUIS_CTL_LEN], cell[MAQUIS_CELL_SIZE + 64];
	struct maq_circuit c;
	struct maq_dev d;

	randombytes_buf(ctl, sizeof(ctl));
	ASSERT_EQ(0, maq_nl_ctl_send(self->nl, self->ifindex, ORIG_ID, 0, ctl));
	ASSERT_EQ(MAQUIS_CELL_SIZE, read_cell(self->sink4, cell));
	/* unknown cid: counted on the device */
	memset(cell, 0xee, MAQUIS_CELL_SIZE);
	{
		union maq_sockaddr to;
		int fd = socket(AF_INET, SOCK_DGRAM, 0);

		maq_sockaddr_parse("127.0.0.1", self->port, &to);
		ASSERT_EQ(MAQUIS_CELL_SIZE, sendto(fd, cell, MAQUIS_CELL_SIZE, 0,
						   &to.sa, sizeof(to.in4)));
		close(fd);
	}
	usleep(300000);
	ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex, ORIG_ID, &c));
	EXPECT_LE(1, c.stats.val[MAQUIS_A_STATS_CELLS_OUT]);
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	EXPECT_LE(1, d.stats.val[MAQUIS_A_STATS_DROP_UNKNOWN_CID]);

	ASSERT_EQ(0, maq_nl_stats_reset(self->nl, self->ifindex, ORIG_ID));
	ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex, ORIG_ID, &c));
	EXPECT_EQ(0, c.stats.val[MAQUIS_A_STATS_CELLS_OUT]);
	EXPECT_EQ(0, c.stats.val[MAQUIS_A_STATS_BYTES_OUT]);

	ASSERT_EQ(0, maq_nl_stats_reset(self->nl, self->ifindex, 0));
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	EXPECT_EQ(0, d.stats.val[MAQUIS_A_STATS_DROP_UNKNOWN_CID]);
	EXPECT_EQ(0, d.stats.val[MAQUIS_A_STATS_CELLS_IN]);
	EXPECT_EQ(0, d.stats.val[MAQUIS_A_STATS_CELLS_OUT]);
}

TEST_F(nl, cell_send)
{
	uint8_t cell[MAQUIS_CELL_SIZE], got[2048];
	union maq_sockaddr from;
	int i, err;

	for (i = 0; i < 2; i++) {
		int fd = i ? self->sink6 : self->sink4;

		randombytes_buf(cell, sizeof(cell));
		memset(cell, 0, 4);
		err = maq_nl_cell_send(self->nl, self->ifindex,
				       i ? &self->a6 : &self->a4, cell);
		ASSERT_EQ(0, err) TH_LOG("%s", maq_nl_errmsg(self->nl));
		ASSERT_EQ(MAQUIS_CELL_SIZE, udp_recv(fd, got, sizeof(got), 3000,
						     &from));
		EXPECT_EQ(0, memcmp(cell, got, MAQUIS_CELL_SIZE));
		EXPECT_EQ(htons(self->port), i ? from.in6.sin6_port :
						 from.in4.sin_port);
	}
}

TEST_F(nl, cell_ntf)
{
	uint8_t cell[MAQUIS_CELL_SIZE];
	union maq_sockaddr to, me;
	struct maq_event ev;
	struct maq_nl *evnl;
	socklen_t len = sizeof(me);
	int fd, r;

	evnl = open_nl();
	ASSERT_NE(NULL, evnl);
	ASSERT_EQ(0, maq_nl_subscribe(evnl));
	fd = udp_sink(AF_INET, "127.0.0.1", &me);
	ASSERT_LE(0, fd);
	maq_sockaddr_parse("127.0.0.1", self->port, &to);
	randombytes_buf(cell, sizeof(cell));
	memset(cell, 0, 4);
	cell[4] = MAQ_CTL_CREATE;
	cell[5] = MAQ_CTL_VERSION;
	ASSERT_EQ(MAQUIS_CELL_SIZE, sendto(fd, cell, sizeof(cell), 0, &to.sa,
					   sizeof(to.in4)));
	getsockname(fd, &me.sa, &len);
	r = maq_nl_event_recv(evnl, &ev, 3000);
	ASSERT_EQ(1, r) TH_LOG("no cell-ntf for a cid 0 cell");
	EXPECT_EQ(MAQUIS_CMD_CELL_NTF, ev.cmd);
	EXPECT_EQ(self->ifindex, ev.ifindex);
	ASSERT_TRUE(MAQ_HAS(&ev, MAQUIS_A_CELL));
	EXPECT_EQ(0, memcmp(cell, ev.cell, sizeof(cell)));
	ASSERT_TRUE(MAQ_HAS(&ev, MAQUIS_A_PEER));
	EXPECT_EQ(AF_INET, ev.peer.sa.sa_family);
	EXPECT_EQ(me.in4.sin_addr.s_addr, ev.peer.in4.sin_addr.s_addr);
	EXPECT_EQ(me.in4.sin_port, ev.peer.in4.sin_port);
	close(fd);
	maq_nl_close(evnl);
}

/*
 * Plays hops 0..k-1 of the origin circuit on a forward cell (the relay
 * transform of layer.h with their data keys) and opens hop k's layer with
 * its forward control key.  Returns the plaintext or NULL.
 */
static uint8_t *peel_fwd(uint8_t *buf, size_t bufsize, const uint8_t *cell,
			 const struct maq_circuit *o, int k, bool ctl_key)
{
	uint8_t *p = buf + bufsize - MAQUIS_CELL_SIZE;
	const struct maq_hop *h;
	uint64_t seq;
	int i;

	memcpy(p, cell, MAQUIS_CELL_SIZE);
	for (i = 0; i < k; i++) {
		h = &o->hops[i];
		seq = cell_seq(p);
		p = maq_relay_fwd(p, h->fwd_key, seq, 1,
				  (o->hops[i + 1].fwd_seq - h->fwd_seq) & SEQ_MASK);
		if (!p)
			return NULL;
	}
	h = &o->hops[k];
	seq = cell_seq(p);
	if (maq_layer_open(p + MAQ_HDR_LEN, p + MAQ_HDR_LEN + MAQ_BODY_LEN,
			   ctl_key ? h->fwd_ctl_key : h->fwd_key,
			   seq & SEQ_MASK, NULL))
		return NULL;
	return p + MAQ_HDR_LEN;
}

TEST_F(nl, ctl_send_origin)
{
	uint8_t ctl[MAQUIS_CTL_LEN], cell[MAQUIS_CELL_SIZE + 64];
	uint8_t buf[MAQ_CELL_SIZE + MAQ_PAD_LEN + 64];
	int k, err;

	for (k = 0; k < NHOPS; k++) {
		uint8_t *pt;

		randombytes_buf(ctl, sizeof(ctl));
		err = maq_nl_ctl_send(self->nl, self->ifindex, ORIG_ID,
				      (uint8_t)k, ctl);
		ASSERT_EQ(0, err) TH_LOG("hop %d: %s", k, maq_nl_errmsg(self->nl));
		ASSERT_EQ(MAQUIS_CELL_SIZE, read_cell(self->sink4, cell));
		EXPECT_EQ(self->orig.fwd_cid_out, cell_cid(cell));
		/* addressed to hop k: hops before open it as data ... */
		pt = peel_fwd(buf, sizeof(buf), cell, &self->orig, k, true);
		EXPECT_NE(NULL, pt) TH_LOG("hop %d: control layer does not open", k);
		if (pt)
			EXPECT_NE(NULL, memmem(pt, MAQ_BODY_LEN, ctl, sizeof(ctl)))
				TH_LOG("hop %d: control message not in the plaintext", k);
		/* ... and hop k not with its data key */
		EXPECT_EQ(NULL, peel_fwd(buf, sizeof(buf), cell, &self->orig, k,
					 false));
	}
}

/* Keys installed by key-set are the ones the module then uses. */
TEST_F(nl, key_set_takes_effect)
{
	uint8_t ctl[MAQUIS_CTL_LEN], cell[MAQUIS_CELL_SIZE + 64];
	uint8_t buf[MAQ_CELL_SIZE + MAQ_PAD_LEN + 64];
	struct maq_hop h;
	uint8_t *pt;

	/* hop 1's forward data key in slot 0 (phase 0, in use) */
	rand_hop(&h, 1);
	h.has = MAQ_HOP_FWD_KEY;
	ASSERT_EQ(0, maq_nl_key_set(self->nl, self->ifindex, ORIG_ID, 0, &h));
	memcpy(self->orig.hops[1].fwd_key, h.fwd_key, MAQUIS_KEY_LEN);
	/* hop 2's forward control key (one slot) */
	rand_hop(&h, 2);
	h.has = MAQ_HOP_FWD_CTL_KEY;
	ASSERT_EQ(0, maq_nl_key_set(self->nl, self->ifindex, ORIG_ID, 1, &h));
	memcpy(self->orig.hops[2].fwd_ctl_key, h.fwd_ctl_key, MAQUIS_KEY_LEN);

	randombytes_buf(ctl, sizeof(ctl));
	ASSERT_EQ(0, maq_nl_ctl_send(self->nl, self->ifindex, ORIG_ID, 2, ctl));
	ASSERT_EQ(MAQUIS_CELL_SIZE, read_cell(self->sink4, cell));
	pt = peel_fwd(buf, sizeof(buf), cell, &self->orig, 2, true);
	ASSERT_NE(NULL, pt) TH_LOG("cell not sealed with the new keys");
	EXPECT_NE(NULL, memmem(pt, MAQ_BODY_LEN, ctl, sizeof(ctl)));
}

TEST_F(nl, ctl_send_relay)
{
	uint8_t ctl[MAQUIS_CTL_LEN], cell[MAQUIS_CELL_SIZE + 64];
	const struct maq_hop *h = &self->relay.hops[0];
	uint64_t seq;
	int err;

	randombytes_buf(ctl, sizeof(ctl));
	err = maq_nl_ctl_send(self->nl, self->ifindex, RELAY_ID, 0, ctl);
	ASSERT_EQ(0, err) TH_LOG("%s", maq_nl_errmsg(self->nl));
	/* backward, to prev (the ::1 sink) */
	ASSERT_EQ(MAQUIS_CELL_SIZE, read_cell(self->sink6, cell));
	EXPECT_EQ(self->relay.back_cid_out, cell_cid(cell));
	seq = cell_seq(cell) & SEQ_MASK;
	EXPECT_LE(1ULL << 62, seq) TH_LOG("control counter %#" PRIx64
					  " below 2^62", seq);
	ASSERT_EQ(0, maq_layer_open(cell + MAQ_HDR_LEN,
				    cell + MAQ_HDR_LEN + MAQ_BODY_LEN,
				    h->back_ctl_key, seq, NULL))
		TH_LOG("backward control layer does not open");
	EXPECT_NE(NULL, memmem(cell + MAQ_HDR_LEN, MAQ_BODY_LEN, ctl, sizeof(ctl)));
}

/* Sends @cell to maq0's own UDP socket, as a neighbour would. */
static void cell_to_dev(struct __test_metadata *_metadata,
			FIXTURE_DATA(nl) *self, const uint8_t *cell)
{
	union maq_sockaddr to;
	int fd;

	ASSERT_EQ(0, maq_sockaddr_parse("127.0.0.1", self->port, &to));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(MAQUIS_CELL_SIZE, sendto(fd, cell, MAQUIS_CELL_SIZE, 0,
					   &to.sa, sizeof(to.in4)));
	close(fd);
}

/*
 * The fixture's terminus opens a forward cell in phase 1: slot 1 gets a
 * key, and a cover cell sealed with it arrives from the (userspace) relay
 * before it.
 */
static void term_to_phase1(struct __test_metadata *_metadata,
			   FIXTURE_DATA(nl) *self)
{
	uint8_t cell[MAQUIS_CELL_SIZE] = { 0 };
	struct maq_circuit got;
	struct maq_hop h;
	int i;

	rand_hop(&h, 0);
	h.has = MAQ_HOP_FWD_KEY | MAQ_HOP_BACK_KEY;
	ASSERT_EQ(0, maq_nl_key_set(self->nl, self->ifindex, TERM_ID, 1, &h))
		TH_LOG("%s", maq_nl_errmsg(self->nl));
	/* the innermost plaintext all zero: type pad, consumed */
	maq_layer_seal(cell + MAQ_HDR_LEN, cell + MAQ_HDR_LEN + MAQ_BODY_LEN,
		       h.fwd_key, 1);
	maq_cell_put_hdr(cell, self->term.fwd_cid_in, 1ULL << 63 | 1);
	cell_to_dev(_metadata, self, cell);
	for (i = 0; i < 30; i++) {
		ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex,
						TERM_ID, &got));
		if (got.phase == 1)
			break;
		usleep(100000);
	}
	ASSERT_EQ(1, got.phase) TH_LOG("terminus not in phase 1 after 3 s");
	ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex, TERM_ID,
					&got));
	EXPECT_EQ(1, got.stats.val[MAQUIS_A_STATS_CELLS_IN]);
}

/*
 * The terminus answers like a relay (PROTOCOL 6): one layer under its
 * backward control key, a random counter in [2^62, 2^63), the plaintext
 * zero but for the message at H, and the key phase of the last forward cell
 * it opened, so that the relays behind it wrap it with the data keys of
 * that phase.
 */
TEST_F(nl, ctl_send_terminus)
{
	uint8_t ctl[MAQUIS_CTL_LEN], cell[MAQUIS_CELL_SIZE + 64];
	uint8_t want[MAQ_BODY_LEN];
	const struct maq_hop *h = &self->term.hops[0];
	struct maq_circuit got;
	uint64_t seq;
	int phase;

	for (phase = 0; phase < 2; phase++) {
		if (phase)
			term_to_phase1(_metadata, self);
		ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex,
						TERM_ID, &got));
		ASSERT_EQ(phase, got.phase);
		randombytes_buf(ctl, sizeof(ctl));
		ASSERT_EQ(0, maq_nl_ctl_send(self->nl, self->ifindex, TERM_ID,
					     0, ctl))
			TH_LOG("%s", maq_nl_errmsg(self->nl));
		ASSERT_EQ(MAQUIS_CELL_SIZE, read_cell(self->sink6, cell));
		EXPECT_EQ(self->term.back_cid_out, cell_cid(cell));
		seq = cell_seq(cell);
		EXPECT_EQ(phase, (int)(seq >> 63))
			TH_LOG("control sent in phase %d, forward phase %d",
			       (int)(seq >> 63), phase);
		seq &= SEQ_MASK;
		EXPECT_LE(1ULL << 62, seq) TH_LOG("control counter %#" PRIx64
						  " below 2^62", seq);
		ASSERT_EQ(0, maq_layer_open(cell + MAQ_HDR_LEN,
					    cell + MAQ_HDR_LEN + MAQ_BODY_LEN,
					    h->back_ctl_key, seq, NULL))
			TH_LOG("phase %d: backward control layer does not open",
			       phase);
		memset(want, 0, sizeof(want));
		memcpy(want + MAQ_PAYLOAD_OFF, ctl, sizeof(ctl));
		EXPECT_EQ(0, memcmp(want, cell + MAQ_HDR_LEN, sizeof(want)))
			TH_LOG("phase %d: plaintext is not 0^H || message || 0",
			       phase);
	}
}

/*
 * A whole circuit of @n hops on maq0 alone: the origin, hops 1..n-1 as
 * relays and hop n as the terminus, each its own circuit with the keys and
 * counter offsets the origin holds for that hop, every one sending to the
 * device's own address.  Hop j's circuit is @id0 + j.
 */
struct chain {
	int n;
	uint32_t id0;
	struct maq_circuit o;
	struct maq_circuit hop[MAQUIS_MAX_HOPS];
};

static void chain_build(struct __test_metadata *_metadata,
			FIXTURE_DATA(nl) *self, struct chain *ch, int n)
{
	/* the forward cid into hop j is cid0 + j, the backward one + 16 */
	const uint32_t cid0 = 7000 + 100 * (uint32_t)n;
	struct maq_circuit *c;
	union maq_sockaddr me;
	char route[64];
	int j;

	memset(ch, 0, sizeof(*ch));
	ch->n = n;
	ch->id0 = 700 + 10 * (uint32_t)n;
	ASSERT_EQ(0, maq_sockaddr_parse("127.0.0.1", self->port, &me));
	snprintf(route, sizeof(route), "172.30.%d.0/24", 40 + n);
	mk_origin(&ch->o, self->ifindex, ch->id0, 0, n, &me, route);
	ch->o.fwd_cid_out = cid0 + 1;
	ch->o.back_cid_in = cid0 + 16;
	for (j = 0; j < n; j++) {
		const struct maq_hop *oh = &ch->o.hops[j];

		c = &ch->hop[j];
		if (j < n - 1) {
			mk_relay(c, self->ifindex, ch->id0 + 1 + j, 0, &me,
				 &me);
			c->fwd_cid_out = cid0 + j + 2;
			c->back_cid_in = cid0 + 16 + j + 1;
		} else {
			snprintf(route, sizeof(route), "fd30:%x::/64", 0x40 + n);
			mk_term(c, self->ifindex, ch->id0 + 1 + j, 0, &me,
				route);
		}
		c->fwd_cid_in = cid0 + j + 1;
		c->back_cid_out = cid0 + 16 + j;
		memcpy(c->hops[0].fwd_key, oh->fwd_key, MAQUIS_KEY_LEN);
		memcpy(c->hops[0].back_key, oh->back_key, MAQUIS_KEY_LEN);
		memcpy(c->hops[0].fwd_ctl_key, oh->fwd_ctl_key, MAQUIS_KEY_LEN);
		memcpy(c->hops[0].back_ctl_key, oh->back_ctl_key,
		       MAQUIS_KEY_LEN);
		if (j < n - 1) {
			/* what a relay adds: the next base minus its own */
			c->hops[0].fwd_seq = (ch->o.hops[j + 1].fwd_seq -
					      oh->fwd_seq) & SEQ_MASK;
			c->hops[0].back_seq = (oh->back_seq -
					       ch->o.hops[j + 1].back_seq) &
					      SEQ_MASK;
		} else {
			c->hops[0].back_seq = oh->back_seq;
		}
		install(_metadata, self->nl, c);
	}
	install(_metadata, self->nl, &ch->o);
}

static void chain_free(struct __test_metadata *_metadata,
		       FIXTURE_DATA(nl) *self, const struct chain *ch)
{
	int j;

	EXPECT_EQ(0, maq_nl_circuit_del(self->nl, self->ifindex, ch->o.id));
	for (j = 0; j < ch->n; j++)
		EXPECT_EQ(0, maq_nl_circuit_del(self->nl, self->ifindex,
						ch->hop[j].id));
}

/*
 * Rotate the chain the way maquisd does it: the next epoch's keys into
 * slot 1 of every hop, at the origin and at the hop, then data through the
 * origin once its epoch (1 s here) is over.  The origin flips every cell
 * to phase 1 and each hop follows the first one it opens.
 */
static void chain_to_phase1(struct __test_metadata *_metadata,
			    FIXTURE_DATA(nl) *self, const struct chain *ch)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	struct maq_circuit got;
	char dst[32], net[32];
	struct maq_hop h;
	int j, i, fd, late = -1;

	for (j = 0; j < ch->n; j++) {
		rand_hop(&h, (uint8_t)j);
		h.has = MAQ_HOP_FWD_KEY | MAQ_HOP_BACK_KEY;
		ASSERT_EQ(0, maq_nl_key_set(self->nl, self->ifindex, ch->o.id,
					    1, &h))
			TH_LOG("%s", maq_nl_errmsg(self->nl));
		h.index = 0;
		ASSERT_EQ(0, maq_nl_key_set(self->nl, self->ifindex,
					    ch->hop[j].id, 1, &h))
			TH_LOG("%s", maq_nl_errmsg(self->nl));
	}
	/* the fixture's teardown puts the module's own value back */
	if (!self->epoch_secs)
		ASSERT_EQ(0, epoch_secs_get(&self->epoch_secs))
			TH_LOG("no module parameter " EPOCH_SECS);
	ASSERT_EQ(0, epoch_secs_set(1));

	/* inner packets into the origin: maq0 routes them to it */
	snprintf(net, sizeof(net), "172.30.%d.0", 40 + ch->n);
	snprintf(dst, sizeof(dst), "172.30.%d.2", 40 + ch->n);
	ASSERT_EQ(1, inet_pton(AF_INET, dst, &to.sin_addr));
	ASSERT_EQ(0, route_add(DEV, AF_INET, net, 24));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, fd);
	/* 1.2 s for the epoch, then up to 4 s for the cells to go round */
	usleep(1200000);
	for (i = 0; i < 40; i++) {
		EXPECT_EQ(4, sendto(fd, "ping", 4, 0, (struct sockaddr *)&to,
				    sizeof(to)));
		usleep(100000);
		late = 0;
		ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex,
						ch->o.id, &got));
		late += got.phase != 1;
		for (j = 0; j < ch->n; j++) {
			ASSERT_EQ(0, maq_nl_circuit_get(self->nl,
							self->ifindex,
							ch->hop[j].id, &got));
			late += got.phase != 1;
		}
		if (!late)
			break;
	}
	close(fd);
	ASSERT_EQ(0, late) TH_LOG("%d of %d circuits not in phase 1 after 4 s",
				  late, ch->n + 1);
}

/*
 * Every hop of the chain sends control back; the origin's daemon gets each
 * message with the hop it came from, and the origin counts no bad tag.
 */
static void chain_ctl_back(struct __test_metadata *_metadata,
			   FIXTURE_DATA(nl) *self, const struct chain *ch,
			   struct maq_nl *evnl, int phase)
{
	uint8_t ctl[MAQUIS_CTL_LEN];
	struct maq_circuit got;
	struct maq_event ev;
	int j, i, r;

	for (j = 0; j < ch->n; j++) {
		randombytes_buf(ctl, sizeof(ctl));
		ASSERT_EQ(0, maq_nl_ctl_send(self->nl, self->ifindex,
					     ch->hop[j].id, 0, ctl))
			TH_LOG("%s", maq_nl_errmsg(self->nl));
		/* key-phase events may come first: 64 at most, 3 s each */
		for (i = 0; i < 64; i++) {
			r = maq_nl_event_recv(evnl, &ev, 3000);
			ASSERT_EQ(1, r)
				TH_LOG("%d hops, phase %d: no control from hop %d at the origin",
				       ch->n, phase, j + 1);
			if (ev.cmd == MAQUIS_CMD_CELL_NTF &&
			    MAQ_HAS(&ev, MAQUIS_A_CTL) && ev.id == ch->o.id)
				break;
		}
		ASSERT_GT(64, i);
		EXPECT_EQ(j, ev.hop)
			TH_LOG("%d hops, phase %d: hop %d's control reported from hop %d",
			       ch->n, phase, j + 1, ev.hop + 1);
		EXPECT_EQ(0, memcmp(ctl, ev.ctl, sizeof(ctl)))
			TH_LOG("%d hops, phase %d: hop %d's message differs",
			       ch->n, phase, j + 1);
	}
	ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex, ch->o.id,
					&got));
	EXPECT_EQ(0, got.stats.val[MAQUIS_A_STATS_DROP_BAD_TAG]);
	EXPECT_EQ((uint64_t)ch->n * (phase + 1),
		  got.stats.val[MAQUIS_A_STATS_CTL_UP]);
}

/*
 * Control-range cells no hop made: junk, and junk under hop 1's data key
 * (layer 1 opens, every creator fails further in).  The origin tries the
 * creators and drops both as bad tags; nothing goes up to its daemon.
 */
static void chain_junk_back(struct __test_metadata *_metadata,
			    FIXTURE_DATA(nl) *self, const struct chain *ch)
{
	const struct maq_hop *h = &ch->o.hops[0];
	uint8_t cell[MAQUIS_CELL_SIZE];
	struct maq_circuit before, got;
	uint64_t s;
	int i;

	ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex, ch->o.id,
					&before));
	for (i = 0; i < 2; i++) {
		randombytes_buf(cell, sizeof(cell));
		s = (h->back_seq + (1ULL << 62) +
		     randombytes_uniform(1U << 30)) & SEQ_MASK;
		if (i)
			maq_layer_seal(cell + MAQ_HDR_LEN,
				       cell + MAQ_HDR_LEN + MAQ_BODY_LEN,
				       h->back_key, s);
		maq_cell_put_hdr(cell, ch->o.back_cid_in, s);
		cell_to_dev(_metadata, self, cell);
	}
	for (i = 0; i < 30; i++) {
		ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex,
						ch->o.id, &got));
		if (got.stats.val[MAQUIS_A_STATS_DROP_BAD_TAG] >=
		    before.stats.val[MAQUIS_A_STATS_DROP_BAD_TAG] + 2)
			break;
		usleep(100000);
	}
	EXPECT_EQ(before.stats.val[MAQUIS_A_STATS_DROP_BAD_TAG] + 2,
		  got.stats.val[MAQUIS_A_STATS_DROP_BAD_TAG])
		TH_LOG("%d hops: forged control not dropped as bad tags",
		       ch->n);
	EXPECT_EQ(before.stats.val[MAQUIS_A_STATS_CTL_UP],
		  got.stats.val[MAQUIS_A_STATS_CTL_UP]);
}

/*
 * Control from every hop position back to the origin, through real relays:
 * 1 hop (the terminus alone), 3, 4 and 8, each in phase 0 and then, after
 * a rotation, in phase 1; then forged control, dropped.  From 4 hops on a
 * wrong guess of the creator fails at layer 2 while the right one is still
 * to come.
 */
TEST_F_TIMEOUT(nl, ctl_back_every_hop, 120)
{
	static const int sizes[] = { 1, 3, 4, MAQUIS_MAX_HOPS };
	struct maq_nl *evnl;
	struct chain ch;
	size_t s;

	evnl = open_nl();
	ASSERT_NE(NULL, evnl);
	ASSERT_EQ(0, maq_nl_subscribe(evnl));
	ASSERT_EQ(0, addr_add(DEV, AF_INET, "10.99.0.1", 32));
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		chain_build(_metadata, self, &ch, sizes[s]);
		chain_ctl_back(_metadata, self, &ch, evnl, 0);
		chain_to_phase1(_metadata, self, &ch);
		chain_ctl_back(_metadata, self, &ch, evnl, 1);
		chain_junk_back(_metadata, self, &ch);
		chain_free(_metadata, self, &ch);
	}
	maq_nl_close(evnl);
}

TEST_F_TIMEOUT(nl, lifetime_expiry, 60)
{
	struct maq_circuit c, got;
	struct maq_event ev;
	struct maq_nl *evnl;
	int i, r;

	evnl = open_nl();
	ASSERT_NE(NULL, evnl);
	ASSERT_EQ(0, maq_nl_subscribe(evnl));
	mk_base(self, &c, R);
	c.lifetime = 1;
	ASSERT_EQ(0, maq_nl_circuit_new(self->nl, &c));
	for (i = 0; i < 20; i++) {
		r = maq_nl_event_recv(evnl, &ev, 500);
		ASSERT_LE(0, r);
		if (r && ev.cmd == MAQUIS_CMD_EVENT_NTF && ev.id == c.id)
			break;
	}
	ASSERT_GT(20, i) TH_LOG("no event within 10 s for a 1 s lifetime");
	EXPECT_EQ(MAQUIS_EVENT_EXPIRED, ev.event);
	EXPECT_EQ(-ENOENT, maq_nl_circuit_get(self->nl, self->ifindex, c.id,
					      &got));
	/* the standing circuits did not go with it */
	EXPECT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex, ORIG_ID, &got));
	maq_nl_close(evnl);
}

TEST_F(nl, age_advances)
{
	struct maq_circuit c;

	sleep(2);
	ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex, ORIG_ID, &c));
	EXPECT_LE(1, c.age);
	EXPECT_GE(10, c.age);
}

TEST_F(nl, device_delete_with_circuits)
{
	struct maq_dev d;

	ASSERT_EQ(0, link_del(DEV));
	EXPECT_EQ(-ENODEV, maq_nl_dev_get(self->nl, self->ifindex, &d));
	/* and a new one starts empty */
	ASSERT_EQ(0, link_add(DEV, maq_kind()));
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, if_nametoindex(DEV), &d));
	EXPECT_EQ(0, d.n_circuits);
}

/*
 * A device whose creating namespace (the one its UDP socket lives in) goes
 * away while the device lives on elsewhere: it stays manageable, refuses
 * to send with an error, and goes away cleanly.
 */
TEST_F(nl, creating_netns_gone)
{
	uint8_t cell[MAQUIS_CELL_SIZE] = { 0 }, ctl[MAQUIS_CTL_LEN] = { 0 };
	struct maq_circuit c;
	struct maq_dev d;
	uint32_t ifindex;
	int here, status, err;
	pid_t pid;

	here = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, here);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (unshare(CLONE_NEWNET))
			_exit(1);
		_exit(link_add_ns("maq1", maq_kind(), here) ? 2 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	close(here);
	usleep(500000);		/* the child's namespace is torn down */
	ifindex = if_nametoindex("maq1");
	ASSERT_NE(0, ifindex);
	link_up("maq1");
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, ifindex, &d));
	mk_origin(&c, ifindex, 77, 7700, 2, &self->a4, "172.30.7.0/24");
	err = maq_nl_circuit_new(self->nl, &c);
	EXPECT_EQ(0, err) TH_LOG("%s", maq_nl_errmsg(self->nl));
	err = maq_nl_cell_send(self->nl, ifindex, &self->a4, cell);
	ksft_print_msg("cell-send without a socket: %d \"%s\"\n", err,
		       maq_nl_errmsg(self->nl));
	EXPECT_GT(0, err);
	EXPECT_NE(0, strlen(maq_nl_errmsg(self->nl)));
	err = maq_nl_ctl_send(self->nl, ifindex, 77, 0, ctl);
	ksft_print_msg("ctl-send without a socket: %d \"%s\"\n", err,
		       maq_nl_errmsg(self->nl));
	EXPECT_GT(0, err);
	EXPECT_NE(0, strlen(maq_nl_errmsg(self->nl)));
	EXPECT_EQ(0, maq_nl_circuit_del(self->nl, ifindex, 77));
	EXPECT_EQ(0, link_del("maq1"));
}

/* --- privileges -------------------------------------------------------- */

/* Every change must fail with EPERM on @nl; reads must work.  Returns the
 * number of wrong answers (printed).
 */
static int try_unprivileged(FIXTURE_DATA(nl) *self, struct maq_nl *nl)
{
	uint8_t cell[MAQUIS_CELL_SIZE] = { 0 }, ctl[MAQUIS_CTL_LEN] = { 0 };
	struct maq_circuit c, *cs;
	struct maq_dev d, *ds;
	struct maq_hop h;
	size_t n;
	int bad = 0, err;

#define WANT(expr, want) do {						\
	err = (expr);							\
	if (err != (want)) {						\
		bad++;							\
		ksft_print_msg("unprivileged %s: %d (%s), want %d\n",	\
			       #expr, err, maq_nl_errmsg(nl), want);	\
	}								\
} while (0)

	mk_base(self, &c, R);
	rand_hop(&h, 0);
	h.has = MAQ_HOP_FWD_KEY;
	WANT(maq_nl_dev_set(nl, self->ifindex, 7790, NULL, 0), -EPERM);
	WANT(maq_nl_circuit_new(nl, &c), -EPERM);
	WANT(maq_nl_circuit_del(nl, self->ifindex, ORIG_ID), -EPERM);
	WANT(maq_nl_key_set(nl, self->ifindex, ORIG_ID, 1, &h), -EPERM);
	WANT(maq_nl_stats_reset(nl, self->ifindex, 0), -EPERM);
	WANT(maq_nl_stats_reset(nl, self->ifindex, ORIG_ID), -EPERM);
	WANT(maq_nl_cell_send(nl, self->ifindex, &self->a4, cell), -EPERM);
	WANT(maq_nl_ctl_send(nl, self->ifindex, ORIG_ID, 0, ctl), -EPERM);
	WANT(maq_nl_dev_get(nl, self->ifindex, &d), 0);
	WANT(maq_nl_circuit_get(nl, self->ifindex, ORIG_ID, &c), 0);
	WANT(maq_nl_dev_dump(nl, &ds, &n), 0);
	if (!err)
		free(ds);
	WANT(maq_nl_circuit_dump(nl, self->ifindex, &cs, &n), 0);
	if (!err) {
		if (n != 3) {
			bad++;
			ksft_print_msg("unprivileged dump: %zu circuits\n", n);
		}
		free(cs);
	}
#undef WANT
	return bad;
}

static int cap_net_admin(bool on)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	if (on)
		d[0].effective |= 1U << CAP_NET_ADMIN;
	else
		d[0].effective &= ~(1U << CAP_NET_ADMIN);
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

TEST_F(nl, unprivileged_without_cap_net_admin)
{
	struct snap before, after;
	struct maq_nl *nl;
	int bad;

	ASSERT_EQ(0, snap_take(self->nl, self->ifindex, &before));
	ASSERT_EQ(0, cap_net_admin(false));
	nl = open_nl();		/* opened without the capability */
	ASSERT_NE(NULL, nl);
	bad = try_unprivileged(self, nl);
	maq_nl_close(nl);
	ASSERT_EQ(0, cap_net_admin(true));
	EXPECT_EQ(0, bad);
	ASSERT_EQ(0, snap_take(self->nl, self->ifindex, &after));
	EXPECT_TRUE(snap_equal(&before, &after));
	snap_free(&before);
	snap_free(&after);
}

/* Runs @fn in a child as nobody; returns its exit status. */
static int as_nobody(int (*fn)(FIXTURE_DATA(nl) *), FIXTURE_DATA(nl) *self)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(100);
		_exit(fn(self) & 0x7f);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int nobody_ops(FIXTURE_DATA(nl) *self)
{
	struct maq_nl *nl = open_nl();
	int bad;

	if (!nl)
		return 101;
	bad = try_unprivileged(self, nl);
	maq_nl_close(nl);
	return bad;
}

TEST_F(nl, unprivileged_nobody)
{
	struct snap before, after;

	ASSERT_EQ(0, snap_take(self->nl, self->ifindex, &before));
	EXPECT_EQ(0, as_nobody(nobody_ops, self));
	ASSERT_EQ(0, snap_take(self->nl, self->ifindex, &after));
	EXPECT_TRUE(snap_equal(&before, &after));
	snap_free(&before);
	snap_free(&after);
}

static int nobody_subscribe(FIXTURE_DATA(nl) *self)
{
	struct maq_nl *nl = open_nl();
	int err;

	(void)self;
	if (!nl)
		return 101;
	err = maq_nl_subscribe(nl);
	maq_nl_close(nl);
	if (err != -EPERM)
		ksft_print_msg("nobody joined the events group: %d (%s)\n", err,
			       err ? strerror(-err) : "allowed");
	return err == -EPERM ? 0 : 1;
}

/*
 * cell-ntf carries link control cells with their senders and decrypted hop
 * control messages: only CAP_NET_ADMIN may listen.
 */
TEST_F(nl, unprivileged_events)
{
	EXPECT_EQ(0, as_nobody(nobody_subscribe, self));
}

/* --- namespaces -------------------------------------------------------- */

static int other_netns(FIXTURE_DATA(nl) *self)
{
	struct maq_circuit c, *cs;
	struct maq_dev d, *ds;
	struct maq_nl *nl;
	size_t n;
	int bad = 0, err;

	if (unshare(CLONE_NEWNET) || link_up("lo"))
		return 100;
	nl = open_nl();
	if (!nl)
		return 101;
	if ((err = maq_nl_dev_get(nl, self->ifindex, &d)) != -ENODEV) {
		ksft_print_msg("other netns: dev-get %d\n", err);
		bad++;
	}
	if ((err = maq_nl_circuit_get(nl, self->ifindex, ORIG_ID, &c)) != -ENODEV) {
		ksft_print_msg("other netns: circuit-get %d\n", err);
		bad++;
	}
	if ((err = maq_nl_circuit_dump(nl, self->ifindex, &cs, &n)) != -ENODEV) {
		ksft_print_msg("other netns: circuit dump %d\n", err);
		bad++;
		if (!err)
			free(cs);
	}
	if ((err = maq_nl_circuit_del(nl, self->ifindex, ORIG_ID)) != -ENODEV) {
		ksft_print_msg("other netns: circuit-del %d\n", err);
		bad++;
	}
	err = maq_nl_dev_dump(nl, &ds, &n);
	if (err || n) {
		ksft_print_msg("other netns: dev dump %d, %zu devices\n", err,
			       err ? 0 : n);
		bad++;
	}
	if (!err)
		free(ds);
	/* a device here, likely with the same ifindex, sees nothing of ours */
	if (link_add(DEV, maq_kind()) || link_up(DEV))
		return 102;
	err = maq_nl_circuit_dump(nl, if_nametoindex(DEV), &cs, &n);
	if (err || n) {
		ksft_print_msg("other netns: own device dump %d, %zu circuits\n",
			       err, err ? 0 : n);
		bad++;
	}
	if (!err)
		free(cs);
	mk_base(self, &c, R);
	c.ifindex = if_nametoindex(DEV);
	c.id = ORIG_ID;		/* same id and cids as outside: no clash */
	c.fwd_cid_in = self->relay.fwd_cid_in;
	if ((err = maq_nl_circuit_new(nl, &c))) {
		ksft_print_msg("other netns: circuit-new %d %s\n", err,
			       maq_nl_errmsg(nl));
		bad++;
	}
	maq_nl_close(nl);
	return bad;
}

TEST_F(nl, netns_isolation)
{
	struct snap before, after;
	int status;
	pid_t pid;

	ASSERT_EQ(0, snap_take(self->nl, self->ifindex, &before));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(other_netns(self) & 0x7f);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, snap_take(self->nl, self->ifindex, &after));
	EXPECT_TRUE(snap_equal(&before, &after));
	snap_free(&before);
	snap_free(&after);
}

/* Events of one namespace are not delivered in another. */
TEST_F(nl, netns_events)
{
	int go[2], done[2], status, n = 0;
	struct maq_event ev;
	struct maq_nl *evnl;
	char c;
	pid_t pid;

	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct maq_nl *nl;

		if (unshare(CLONE_NEWNET))
			_exit(100);
		nl = open_nl();
		if (!nl || maq_nl_subscribe(nl))
			_exit(101);
		if (write(go[1], "g", 1) != 1)
			_exit(102);
		if (read(done[0], &c, 1) != 1)
			_exit(103);
		while (maq_nl_event_recv(nl, &ev, 1000) == 1)
			n++;
		_exit(n ? 1 : 0);
	}
	ASSERT_EQ(1, read(go[0], &c, 1));
	evnl = open_nl();
	ASSERT_NE(NULL, evnl);
	ASSERT_EQ(0, maq_nl_subscribe(evnl));
	ASSERT_EQ(0, maq_nl_circuit_del(self->nl, self->ifindex, RELAY_ID));
	EXPECT_EQ(1, maq_nl_event_recv(evnl, &ev, 2000));
	ASSERT_EQ(1, write(done[1], "d", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("events crossed namespaces");
	maq_nl_close(evnl);
}

/* --- rendezvous: circuit-join, the end-to-end layer -------------------- */

static uint64_t cstat(FIXTURE_DATA(nl) *self, uint32_t id, int stat)
{
	struct maq_circuit c;

	if (maq_nl_circuit_get(self->nl, self->ifindex, id, &c))
		return UINT64_MAX;
	return c.stats.val[stat];
}

/* Polls circuit @id's counter @stat until it is @want, 3 s at most. */
static bool cstat_is(FIXTURE_DATA(nl) *self, uint32_t id, int stat,
		     uint64_t want)
{
	int i;

	for (i = 0; i < 30; i++) {
		if (cstat(self, id, stat) == want)
			return true;
		usleep(100000);
	}
	return false;
}

/* Whether circuit @id reports a join, and to which circuit. */
static bool joined_to(FIXTURE_DATA(nl) *self, uint32_t id, uint32_t *to)
{
	struct maq_circuit c;

	if (maq_nl_circuit_get(self->nl, self->ifindex, id, &c))
		return false;
	*to = c.join;
	return MAQ_HAS(&c, MAQUIS_A_JOIN);
}

/* A cell for @cid sealed with @key at counter @seq, as a neighbour sends it. */
static void sealed_to_dev(struct __test_metadata *_metadata,
			  FIXTURE_DATA(nl) *self, uint32_t cid,
			  const uint8_t *key, uint64_t seq, const uint8_t *pt)
{
	uint8_t cell[MAQUIS_CELL_SIZE];

	memcpy(cell + MAQ_HDR_LEN, pt, MAQ_BODY_LEN);
	maq_layer_seal(cell + MAQ_HDR_LEN, cell + MAQ_HDR_LEN + MAQ_BODY_LEN,
		       key, seq);
	maq_cell_put_hdr(cell, cid, seq);
	cell_to_dev(_metadata, self, cell);
}

/* Forward to terminus @t from its last relay; backward to the one-hop
 * origin @o from its terminus.
 */
#define term_cell(_metadata, self, t, ctr, pt)				\
	sealed_to_dev(_metadata, self, (t)->fwd_cid_in,			\
		      (t)->hops[0].fwd_key, ctr, pt)
#define origin_cell(_metadata, self, o, ctr, pt)			\
	sealed_to_dev(_metadata, self, (o)->back_cid_in,		\
		      (o)->hops[0].back_key,				\
		      ((o)->hops[0].back_seq + (ctr)) & SEQ_MASK, pt)

static void put_inner(uint8_t *pt, uint8_t type, uint8_t flags, uint16_t len)
{
	pt[MAQ_PAYLOAD_OFF] = type;
	pt[MAQ_PAYLOAD_OFF + 1] = flags;
	pt[MAQ_PAYLOAD_OFF + 2] = (uint8_t)(len >> 8);
	pt[MAQ_PAYLOAD_OFF + 3] = (uint8_t)len;
}

/*
 * Join reported both ways, undone from either end; deleting or expiring
 * one end leaves the other joined to nothing (join 0), which can be joined
 * again.
 */
TEST_F(nl, circuit_join)
{
	struct maq_circuit a, b, c, *cs;
	uint32_t to;
	size_t n, i, with = 0;

	join_term(_metadata, self, &a, self->ifindex, JOIN_A_ID, 3100);
	join_term(_metadata, self, &b, self->ifindex, JOIN_B_ID, 3200);
	join_term(_metadata, self, &c, self->ifindex, JOIN_FREE_ID, 3300);
	EXPECT_FALSE(joined_to(self, JOIN_A_ID, &to));

	ASSERT_EQ(0, maq_nl_circuit_join(self->nl, self->ifindex, JOIN_A_ID,
					 JOIN_B_ID))
		TH_LOG("%s", maq_nl_errmsg(self->nl));
	EXPECT_TRUE(joined_to(self, JOIN_A_ID, &to));
	EXPECT_EQ(JOIN_B_ID, to);
	EXPECT_TRUE(joined_to(self, JOIN_B_ID, &to));
	EXPECT_EQ(JOIN_A_ID, to);
	EXPECT_FALSE(joined_to(self, JOIN_FREE_ID, &to));
	EXPECT_FALSE(joined_to(self, TERM_ID, &to));
	EXPECT_FALSE(joined_to(self, ORIG_ID, &to));
	ASSERT_EQ(0, maq_nl_circuit_dump(self->nl, self->ifindex, &cs, &n));
	for (i = 0; i < n; i++)
		if (MAQ_HAS(&cs[i], MAQUIS_A_JOIN)) {
			with++;
			EXPECT_EQ(cs[i].id == JOIN_A_ID ? JOIN_B_ID : JOIN_A_ID,
				  cs[i].join);
		}
	free(cs);
	EXPECT_EQ(2, with);

	/* undone from the other end */
	ASSERT_EQ(0, maq_nl_circuit_join(self->nl, self->ifindex, JOIN_B_ID,
					 0));
	EXPECT_FALSE(joined_to(self, JOIN_A_ID, &to));
	EXPECT_FALSE(joined_to(self, JOIN_B_ID, &to));

	/* deleting one end */
	ASSERT_EQ(0, maq_nl_circuit_join(self->nl, self->ifindex, JOIN_B_ID,
					 JOIN_A_ID));
	ASSERT_EQ(0, maq_nl_circuit_del(self->nl, self->ifindex, JOIN_A_ID));
	EXPECT_TRUE(joined_to(self, JOIN_B_ID, &to));
	EXPECT_EQ(0, to);
	ASSERT_EQ(0, maq_nl_circuit_join(self->nl, self->ifindex, JOIN_B_ID,
					 JOIN_FREE_ID))
		TH_LOG("an end left alone cannot be joined again: %s",
		       maq_nl_errmsg(self->nl));
	EXPECT_TRUE(joined_to(self, JOIN_FREE_ID, &to));
	EXPECT_EQ(JOIN_B_ID, to);
	ASSERT_EQ(0, maq_nl_circuit_join(self->nl, self->ifindex, JOIN_FREE_ID,
					 0));
	EXPECT_FALSE(joined_to(self, JOIN_B_ID, &to));
	EXPECT_FALSE(joined_to(self, JOIN_FREE_ID, &to));

	/* expiry of one end */
	mk_term(&a, self->ifindex, JOIN_A_ID, 3400, &self->a6, "fd30:34::/64");
	a.lifetime = 1;
	install(_metadata, self->nl, &a);
	ASSERT_EQ(0, maq_nl_circuit_join(self->nl, self->ifindex, JOIN_A_ID,
					 JOIN_FREE_ID));
	for (i = 0; i < 50 && !maq_nl_circuit_get(self->nl, self->ifindex,
						   JOIN_A_ID, &c); i++)
		usleep(100000);
	ASSERT_GT(50, i) TH_LOG("a circuit of 1 s still there after 5 s");
	EXPECT_TRUE(joined_to(self, JOIN_FREE_ID, &to));
	EXPECT_EQ(0, to);
	maq_circuit_wipe(&a);
	maq_circuit_wipe(&b);
	maq_circuit_wipe(&c);
}

/*
 * What a joined terminus does with each kind of forward cell, checked on
 * the bytes: data goes back out along the other circuit under that
 * circuit's backward key and counter, the payload as it came (its first
 * MAQ_PAD_LEN bytes zeroed, as every creator's), nothing to the device;
 * cover is dropped, keepalives go to the daemon; once the other end is
 * gone, data is dropped as no-route, and after the join is undone a
 * terminus refuses sealed data as malformed.
 */
TEST_F(nl, circuit_join_splices)
{
	uint8_t pt[MAQ_BODY_LEN], want[MAQ_BODY_LEN];
	uint8_t cell[MAQUIS_CELL_SIZE + 64];
	const struct maq_circuit *from, *to;
	struct maq_circuit a, b;
	uint64_t seq;
	int dir;

	join_term(_metadata, self, &a, self->ifindex, JOIN_A_ID, 3100);
	join_term(_metadata, self, &b, self->ifindex, JOIN_B_ID, 3200);
	ASSERT_EQ(0, maq_nl_circuit_join(self->nl, self->ifindex, JOIN_A_ID,
					 JOIN_B_ID));
	udp_drain(self->sink6);

	for (dir = 0; dir < 2; dir++) {
		from = dir ? &b : &a;
		to = dir ? &a : &b;
		/* junk where the creator's zeros go, a payload no IP */
		randombytes_buf(pt, sizeof(pt));
		put_inner(pt, MAQ_INNER_IP, MAQ_INNER_F_E2E, 100);
		term_cell(_metadata, self, from, 5 + dir, pt);
		ASSERT_EQ(MAQUIS_CELL_SIZE, read_cell(self->sink6, cell))
			TH_LOG("nothing spliced from %u to %u", from->id,
			       to->id);
		EXPECT_EQ(to->back_cid_out, cell_cid(cell));
		seq = cell_seq(cell);
		EXPECT_EQ(0, seq >> 63);
		seq &= SEQ_MASK;
		EXPECT_EQ(to->hops[0].back_seq, seq)
			TH_LOG("not the first backward counter of %u", to->id);
		ASSERT_EQ(0, maq_layer_open(cell + MAQ_HDR_LEN,
					    cell + MAQ_HDR_LEN + MAQ_BODY_LEN,
					    to->hops[0].back_key, seq, NULL))
			TH_LOG("spliced cell not under %u's backward key",
			       to->id);
		memcpy(want, pt, sizeof(want));
		memset(want, 0, MAQ_PAD_LEN);
		EXPECT_EQ(0, memcmp(want, cell + MAQ_HDR_LEN, sizeof(want)));
	}
	EXPECT_EQ(1, cstat(self, JOIN_A_ID, MAQUIS_A_STATS_CELLS_IN));
	EXPECT_EQ(1, cstat(self, JOIN_A_ID, MAQUIS_A_STATS_CELLS_OUT));
	EXPECT_EQ(1, cstat(self, JOIN_B_ID, MAQUIS_A_STATS_CELLS_IN));
	EXPECT_EQ(1, cstat(self, JOIN_B_ID, MAQUIS_A_STATS_CELLS_OUT));

	/* cover: dropped; keepalive: up to the daemon; neither spliced */
	memset(pt, 0, sizeof(pt));
	term_cell(_metadata, self, &a, 10, pt);
	put_inner(pt, MAQ_INNER_KEEPALIVE, 0, 16);
	term_cell(_metadata, self, &a, 11, pt);
	EXPECT_TRUE(cstat_is(self, JOIN_A_ID, MAQUIS_A_STATS_CTL_UP, 1));
	EXPECT_EQ(3, cstat(self, JOIN_A_ID, MAQUIS_A_STATS_CELLS_IN));
	EXPECT_EQ(0, udp_recv(self->sink6, cell, sizeof(cell), 300, NULL));
	EXPECT_EQ(1, cstat(self, JOIN_B_ID, MAQUIS_A_STATS_CELLS_OUT));

	/* undone: an ordinary terminus again, which refuses sealed data */
	ASSERT_EQ(0, maq_nl_circuit_join(self->nl, self->ifindex, JOIN_A_ID,
					 0));
	randombytes_buf(pt, sizeof(pt));
	put_inner(pt, MAQ_INNER_IP, MAQ_INNER_F_E2E, 100);
	term_cell(_metadata, self, &a, 12, pt);
	EXPECT_TRUE(cstat_is(self, JOIN_A_ID, MAQUIS_A_STATS_DROP_MALFORMED,
			     1));

	/* the other end gone: data dropped and counted, not delivered */
	ASSERT_EQ(0, maq_nl_circuit_join(self->nl, self->ifindex, JOIN_A_ID,
					 JOIN_B_ID));
	ASSERT_EQ(0, maq_nl_circuit_del(self->nl, self->ifindex, JOIN_B_ID));
	term_cell(_metadata, self, &a, 13, pt);
	EXPECT_TRUE(cstat_is(self, JOIN_A_ID, MAQUIS_A_STATS_DROP_NO_ROUTE,
			     1));
	EXPECT_EQ(1, cstat(self, JOIN_A_ID, MAQUIS_A_STATS_DROP_MALFORMED));
	EXPECT_EQ(0, udp_recv(self->sink6, cell, sizeof(cell), 300, NULL));
	maq_circuit_wipe(&a);
	maq_circuit_wipe(&b);
}

static uint16_t ip_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* An IPv4/UDP packet of @len bytes (UDP checksum 0) into @p. */
static void mk_udp4(uint8_t *p, size_t len, const char *src, const char *dst,
		    uint16_t dport, uint8_t fill)
{
	uint16_t c;

	memset(p, fill, len);
	memset(p, 0, 28);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	c = ip_csum(p, 20);
	p[10] = (uint8_t)(c >> 8);
	p[11] = (uint8_t)c;
	p[20] = 0x30;
	p[21] = 0x39;
	p[22] = (uint8_t)(dport >> 8);
	p[23] = (uint8_t)dport;
	p[24] = (uint8_t)((len - 20) >> 8);
	p[25] = (uint8_t)(len - 20);
}

/* A bound UDP socket on @addr; its port in *@port. */
static int udp_listen(const char *addr, uint16_t *port)
{
	union maq_sockaddr sa;
	int fd = udp_sink(AF_INET, addr, &sa);

	*port = ntohs(sa.in4.sin_port);
	return fd;
}

/*
 * An origin with e2e keys, on the bytes: what it sends opens with
 * libsodium's AEAD under the send key (inner header and counter as AD,
 * counters 0, 1, ...), packets beyond MAQ_E2E_MTU are dropped and counted;
 * what it receives is delivered only when sealed under the receive key
 * with a counter not seen before: a replay (in a fresh cell), a flipped
 * bit, unsealed data are dropped and counted.  An origin without e2e keys
 * refuses sealed data.
 */
TEST_F(nl, e2e_origin)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	uint8_t pt[MAQ_BODY_LEN], cell[MAQUIS_CELL_SIZE + 64], msg[1400];
	uint8_t *inner = pt + MAQ_PAYLOAD_OFF, n12[12] = { 0 };
	uint8_t pkt[MAQ_E2E_MTU], got[MAQ_E2E_MTU];
	struct maq_circuit o, plain;
	uint16_t port;
	uint64_t seq;
	int fd, lfd, i, sizes[2] = { 100, MAQ_E2E_MTU - 28 };

	mk_origin(&o, self->ifindex, 50, 5000, 1, &self->a4, "172.30.50.0/24");
	o.e2e = true;
	randombytes_buf(o.e2e_key, sizeof(o.e2e_key));
	remember_key(o.e2e_key);
	remember_key(o.e2e_key + MAQUIS_KEY_LEN);
	install(_metadata, self->nl, &o);
	mk_origin(&plain, self->ifindex, 51, 5100, 1, &self->a4,
		  "172.30.51.0/24");
	install(_metadata, self->nl, &plain);
	ASSERT_EQ(0, route_add(DEV, AF_INET, "172.30.50.0", 24));
	ASSERT_EQ(0, addr_add(DEV, AF_INET, "172.30.60.1", 32));
	udp_drain(self->sink4);

	/* out: sealed under the send key, counters 0 and 1 */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, inet_pton(AF_INET, "172.30.50.2", &to.sin_addr));
	for (i = 0; i < 2; i++) {
		randombytes_buf(msg, sizeof(msg));
		ASSERT_EQ(sizes[i], sendto(fd, msg, sizes[i], 0,
					   (struct sockaddr *)&to, sizeof(to)));
		ASSERT_EQ(MAQUIS_CELL_SIZE, read_cell(self->sink4, cell));
		seq = cell_seq(cell) & SEQ_MASK;
		ASSERT_EQ(0, maq_layer_open(cell + MAQ_HDR_LEN,
					    cell + MAQ_HDR_LEN + MAQ_BODY_LEN,
					    o.hops[0].fwd_key, seq, NULL));
		memcpy(pt, cell + MAQ_HDR_LEN, MAQ_BODY_LEN);
		EXPECT_EQ(MAQ_INNER_IP, inner[0]);
		EXPECT_EQ(MAQ_INNER_F_E2E, inner[1]);
		/* IPv4 + UDP headers, the message, the e2e overhead */
		EXPECT_EQ(28 + sizes[i] + 24, inner[2] << 8 | inner[3]);
		/* the e2e counter sits where a cell's seq does */
		EXPECT_EQ((uint64_t)i, cell_seq(inner));
		memset(n12, 0, sizeof(n12));
		n12[4] = (uint8_t)i;
		ASSERT_EQ(0, crypto_aead_chacha20poly1305_ietf_decrypt_detached(
				got, NULL, inner + MAQ_E2E_AD_LEN, 28 + sizes[i],
				inner + MAQ_E2E_AD_LEN + 28 + sizes[i], inner,
				MAQ_E2E_AD_LEN, n12, o.e2e_key))
			TH_LOG("packet %d does not open with the send key", i);
		EXPECT_EQ(0, memcmp(got + 28, msg, sizes[i]));
	}
	/* beyond MAQ_E2E_MTU: dropped, counted, nothing sent */
	EXPECT_EQ(0, cstat(self, 50, MAQUIS_A_STATS_DROP_MALFORMED));
	sendto(fd, msg, MAQ_E2E_MTU - 28 + 1, 0, (struct sockaddr *)&to,
	       sizeof(to));
	EXPECT_TRUE(cstat_is(self, 50, MAQUIS_A_STATS_DROP_MALFORMED, 1));
	EXPECT_EQ(0, udp_recv(self->sink4, cell, sizeof(cell), 300, NULL));
	close(fd);

	/* in: a packet for a socket here, through the receive key */
	lfd = udp_listen("172.30.60.1", &port);
	ASSERT_LE(0, lfd);
	mk_udp4(pkt, 200, "172.30.50.2", "172.30.60.1", port, 0xab);
	memset(pt, 0, sizeof(pt));
	memcpy(inner + MAQ_E2E_AD_LEN, pkt, 200);
	maq_e2e_seal(inner, 200, o.e2e_key + MAQUIS_KEY_LEN, 0);
	origin_cell(_metadata, self, &o, 0, pt);
	EXPECT_EQ(172, udp_recv(lfd, got, sizeof(got), 3000, NULL))
		TH_LOG("sealed packet not delivered");
	EXPECT_EQ(0xab, got[0]);
	/* the same e2e counter again, in a fresh cell */
	origin_cell(_metadata, self, &o, 1, pt);
	EXPECT_TRUE(cstat_is(self, 50, MAQUIS_A_STATS_DROP_REPLAY, 1))
		TH_LOG("e2e replay not dropped as a replay");
	/* a flipped bit */
	memset(pt, 0, sizeof(pt));
	memcpy(inner + MAQ_E2E_AD_LEN, pkt, 200);
	maq_e2e_seal(inner, 200, o.e2e_key + MAQUIS_KEY_LEN, 1);
	inner[MAQ_E2E_AD_LEN + 50] ^= 4;
	origin_cell(_metadata, self, &o, 2, pt);
	EXPECT_TRUE(cstat_is(self, 50, MAQUIS_A_STATS_DROP_BAD_TAG, 1));
	/* sealed with the send key: what a reflecting relay would do */
	inner[MAQ_E2E_AD_LEN + 50] ^= 4;
	memcpy(inner + MAQ_E2E_AD_LEN, pkt, 200);
	maq_e2e_seal(inner, 200, o.e2e_key, 1);
	origin_cell(_metadata, self, &o, 3, pt);
	EXPECT_TRUE(cstat_is(self, 50, MAQUIS_A_STATS_DROP_BAD_TAG, 2));
	/* unsealed */
	memset(pt, 0, sizeof(pt));
	put_inner(pt, MAQ_INNER_IP, 0, 200);
	memcpy(inner + MAQ_INNER_HDR_LEN, pkt, 200);
	origin_cell(_metadata, self, &o, 4, pt);
	EXPECT_TRUE(cstat_is(self, 50, MAQUIS_A_STATS_DROP_MALFORMED, 2));
	/* the window goes on: counter 1 now */
	memset(pt, 0, sizeof(pt));
	memcpy(inner + MAQ_E2E_AD_LEN, pkt, 200);
	maq_e2e_seal(inner, 200, o.e2e_key + MAQUIS_KEY_LEN, 1);
	origin_cell(_metadata, self, &o, 5, pt);
	EXPECT_EQ(172, udp_recv(lfd, got, sizeof(got), 3000, NULL));
	/* an origin without e2e keys refuses sealed data */
	origin_cell(_metadata, self, &plain, 0, pt);
	EXPECT_TRUE(cstat_is(self, 51, MAQUIS_A_STATS_DROP_MALFORMED, 1));
	EXPECT_EQ(0, udp_recv(lfd, got, sizeof(got), 300, NULL));
	EXPECT_EQ(6, cstat(self, 50, MAQUIS_A_STATS_CELLS_IN));
	close(lfd);
	maq_circuit_wipe(&o);
	maq_circuit_wipe(&plain);
}

/* --- key material ------------------------------------------------------ */

TEST_F(nl, no_key_material_in_replies)
{
	uint8_t ctl[MAQUIS_CTL_LEN], cell[MAQUIS_CELL_SIZE + 64];
	struct maq_circuit c, *cs;
	struct maq_dev d, *ds;
	struct maq_event ev;
	struct maq_nl *evnl;
	struct maq_hop h;
	size_t n;

	evnl = open_nl();
	ASSERT_NE(NULL, evnl);
	ASSERT_EQ(0, maq_nl_subscribe(evnl));
	rand_hop(&h, 1);
	h.has = MAQ_HOP_FWD_KEY | MAQ_HOP_BACK_KEY;
	ASSERT_EQ(0, maq_nl_key_set(self->nl, self->ifindex, ORIG_ID, 1, &h));
	randombytes_buf(ctl, sizeof(ctl));
	ASSERT_EQ(0, maq_nl_ctl_send(self->nl, self->ifindex, ORIG_ID, 1, ctl));
	read_cell(self->sink4, cell);
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	ASSERT_EQ(0, maq_nl_dev_dump(self->nl, &ds, &n));
	free(ds);
	ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex, ORIG_ID, &c));
	ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex, RELAY_ID, &c));
	ASSERT_EQ(0, maq_nl_circuit_get(self->nl, self->ifindex, TERM_ID, &c));
	ASSERT_EQ(0, maq_nl_circuit_dump(self->nl, self->ifindex, &cs, &n));
	free(cs);
	ASSERT_EQ(0, maq_nl_circuit_del(self->nl, self->ifindex, ORIG_ID));
	ASSERT_EQ(0, maq_nl_circuit_del(self->nl, self->ifindex, RELAY_ID));
	while (maq_nl_event_recv(evnl, &ev, 500) == 1)
		;
	EXPECT_LT(4 * 6, n_known);
	EXPECT_EQ(0, key_leaks);
	maq_nl_close(evnl);
}

TEST_HARNESS_MAIN
