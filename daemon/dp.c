// SPDX-License-Identifier: GPL-2.0
/*
 * maquisd's datapath (dp.h): the module over generic netlink, or the
 * userspace endpoint with the pure XDP relay.  In user mode this file keeps
 * what the module would: a record of every circuit (for dumps and for the
 * relay table's cids), a queue of notifications, and the lifetime of relay
 * hops, which the endpoint's expiry also covers (it holds their control
 * part).
 */
#include <errno.h>
#include <ifaddrs.h>
#include <stdarg.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "endpoint.h"
#include "maquisd.h"

/* Notifications waiting for the daemon: a batch of the endpoint's. */
#define DP_QUEUE		256
/* As the module (kmod/circuit.h): key-limit is raised here. */
#define DP_KEY_SOFT_LIMIT	(1ULL << 39)
/* How often the relay table's counters are read: the daemon's tick. */
#define DP_READ_MS		200
/* Tamper and replay from the relay table: at most once a second. */
#define DP_REPORT_MS		1000

/* A circuit in user mode, without its keys. */
struct dp_circ {
	struct dp_circ *next;
	struct maq_circuit c;		/* hops[] wiped */
	uint64_t created_ms;
	/* relay: what the table's counters said at the last tick */
	uint64_t slot_cells[2];
	uint64_t bad_tag, replay;
	uint64_t reported_ms;
	int phase;
	uint8_t limit_sent;		/* bit slot: key-limit raised */
};

struct maq_dp {
	enum maq_dp_kind kind;
	uint32_t ifindex;
	char ifname[16];
	char err[256];

	/* module */
	struct maq_nl *nl;		/* requests */
	struct maq_nl *ev;		/* subscribed to events */

	/* user */
	struct maq_ep *ep;
	struct dp_circ *circs;
	struct maq_event *q;		/* DP_QUEUE, a ring */
	unsigned int q_head, q_len;
	bool q_lost;
	uint64_t no_route;		/* the XDP counter at the last tick */
	uint64_t next_read_ms;		/* of the relay table's counters */

	/* the XDP relay, either mode */
	struct maq_xdp *xdp;
	char xdp_ifname[IF_NAMESIZE];
};

const char *maq_dp_kind_name(enum maq_dp_kind k)
{
	static const char *const name[] = {
		[MAQ_DP_AUTO] = "auto",
		[MAQ_DP_MODULE] = "module",
		[MAQ_DP_USER] = "user",
	};

	return (unsigned int)k < 3 ? name[k] : "unknown";
}

const char *maq_dp_xdp_name(enum maq_dp_xdp x)
{
	static const char *const name[] = {
		[MAQ_DP_XDP_OFF] = "off",
		[MAQ_DP_XDP_AUTO] = "auto",
		[MAQ_DP_XDP_NATIVE] = "native",
		[MAQ_DP_XDP_GENERIC] = "generic",
	};

	return (unsigned int)x < 4 ? name[x] : "unknown";
}

enum maq_dp_kind maq_dp_kind(const struct maq_dp *dp)
{
	return dp->kind;
}

uint32_t maq_dp_ifindex(const struct maq_dp *dp)
{
	return dp->ifindex;
}

const char *maq_dp_errmsg(const struct maq_dp *dp)
{
	return dp->kind == MAQ_DP_MODULE ? maq_nl_errmsg(dp->nl) : dp->err;
}

bool maq_dp_xdp_info(const struct maq_dp *dp, struct maq_dp_xdp_info *xi)
{
	memset(xi, 0, sizeof(*xi));
	if (!dp->xdp)
		return false;
	snprintf(xi->ifname, sizeof(xi->ifname), "%s", dp->xdp_ifname);
	xi->variant = maq_xdp_variant(dp->xdp);
	xi->mode = maq_xdp_mode(dp->xdp);
	xi->prog_id = maq_xdp_prog_id(dp->xdp);
	return true;
}

static int dp_fail(struct maq_dp *dp, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int dp_fail(struct maq_dp *dp, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dp->err, sizeof(dp->err), fmt, ap);
	va_end(ap);
	return ret;
}

/* --- the XDP relay ------------------------------------------------------------ */

/* The interface that holds @a, into @name. */
static int ifname_of(const union maq_sockaddr *a, char name[IF_NAMESIZE])
{
	struct ifaddrs *ifa, *i;
	int ret = -ENODEV;

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		const struct sockaddr *s = i->ifa_addr;

		if (!s || s->sa_family != a->sa.sa_family)
			continue;
		if (s->sa_family == AF_INET ?
		    ((const struct sockaddr_in *)s)->sin_addr.s_addr ==
		    a->in4.sin_addr.s_addr :
		    !memcmp(&((const struct sockaddr_in6 *)s)->sin6_addr,
			    &a->in6.sin6_addr, 16)) {
			snprintf(name, IF_NAMESIZE, "%s", i->ifa_name);
			ret = 0;
			break;
		}
	}
	freeifaddrs(ifa);
	return ret;
}

static int xdp_attach(struct maq_dp *dp, const struct maq_dp_opts *o,
		      char *err, size_t errlen)
{
	struct maq_xdp_opts xo = {
		.pin_root = o->pin_root,
		.mode = o->xdp == MAQ_DP_XDP_NATIVE ? MAQ_XDP_MODE_NATIVE :
			o->xdp == MAQ_DP_XDP_GENERIC ? MAQ_XDP_MODE_GENERIC :
			MAQ_XDP_MODE_AUTO,
		.variant = dp->kind == MAQ_DP_MODULE ? MAQ_XDP_VARIANT_KFUNC :
						       MAQ_XDP_VARIANT_PURE,
		.maq_dev = dp->ifname,
	};
	const union maq_sockaddr *l = &o->listen;
	char a[64];
	int ret;

	if (l->sa.sa_family == AF_INET || l->sa.sa_family == AF_INET6)
		xo.port = ntohs(l->sa.sa_family == AF_INET ?
				l->in4.sin_port : l->in6.sin6_port);
	if (o->xdp_ifname && *o->xdp_ifname) {
		snprintf(dp->xdp_ifname, sizeof(dp->xdp_ifname), "%s",
			 o->xdp_ifname);
	} else if (l->sa.sa_family == AF_UNSPEC || maq_addr_unspecified(l)) {
		snprintf(err, errlen,
			 "xdp: no interface: the listen address is not one (set xdp-interface)");
		return -EINVAL;
	} else if (ifname_of(l, dp->xdp_ifname)) {
		snprintf(err, errlen,
			 "xdp: no interface holds the listen address %s (set xdp-interface)",
			 maq_sockaddr_str(l, a, sizeof(a)));
		return -ENODEV;
	}
	ret = maq_xdp_open(dp->xdp_ifname, &xo, &dp->xdp);
	if (ret) {
		snprintf(err, errlen, "xdp: cannot attach the %s relay to %s: %s%s",
			 maq_xdp_variant_name(xo.variant), dp->xdp_ifname,
			 strerror(-ret),
			 ret == -EBUSY ? " (another XDP program is attached)" :
			 ret == -ENOENT ? " (maquis.ko exports no XDP kfuncs)" :
			 ret == -EMEDIUMTYPE ? " (the pin root is not on bpffs)" :
			 ret == -ENOEXEC ? " (libxdp's dispatcher is too old for this kernel to take it)" :
			 "");
		dp->xdp = NULL;
		return ret;
	}
	return 0;
}

/* What a previous run left in the pinned table has no daemon any more. */
static void xdp_flush(struct maq_dp *dp)
{
	struct maq_circuit *c = calloc(1, sizeof(*c));
	uint32_t cids[64];
	int i, n, rounds;

	if (!c)
		return;
	for (rounds = 0; rounds < 1024; rounds++) {
		n = maq_xdp_hop_list(dp->xdp, cids, 64);
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			c->fwd_cid_in = cids[i];
			maq_xdp_hop_del(dp->xdp, c);
		}
		log_info("xdp: %d stale hop entries removed", n);
	}
	free(c);
}

/* --- module ----------------------------------------------------------------- */

static int mod_open(struct maq_dp *dp, const struct maq_dp_opts *o,
		    char *err, size_t errlen)
{
	const union maq_sockaddr *l = &o->listen;
	struct maq_dev dev;
	u16 port = 0;
	int ret;

	ret = maq_nl_open(&dp->nl);
	if (!ret)
		ret = maq_nl_open(&dp->ev);
	if (ret) {
		snprintf(err, errlen, "generic netlink family maquis: %s%s",
			 strerror(-ret),
			 ret == -ENOENT ? " (is maquis.ko loaded?)" : "");
		return ret;
	}
	ret = maq_nl_subscribe(dp->ev);
	if (ret) {
		snprintf(err, errlen, "cannot subscribe to maquis events: %s",
			 strerror(-ret));
		return ret;
	}
	ret = maqd_link_ensure(o->ifname, &dp->ifindex, err, errlen);
	if (ret)
		return ret;
	ret = maq_nl_dev_get(dp->nl, dp->ifindex, &dev);
	if (ret) {
		snprintf(err, errlen, "%s is not a maquis device: %s%s%s",
			 o->ifname, strerror(-ret),
			 *maq_nl_errmsg(dp->nl) ? ": " : "",
			 maq_nl_errmsg(dp->nl));
		return ret;
	}
	if (l->sa.sa_family == AF_UNSPEC)
		return 0;
	port = ntohs(l->sa.sa_family == AF_INET ? l->in4.sin_port :
						  l->in6.sin6_port);
	ret = maq_nl_dev_set(dp->nl, dp->ifindex, port,
			     maq_addr_unspecified(l) ? NULL : l, 0);
	if (ret) {
		char a[64];

		snprintf(err, errlen, "cannot listen on %s: %s: %s",
			 maq_sockaddr_str(l, a, sizeof(a)), strerror(-ret),
			 maq_nl_errmsg(dp->nl));
		return ret;
	}
	return 0;
}

/* --- user: notifications ------------------------------------------------------ */

static struct maq_event *q_push(struct maq_dp *dp, uint8_t cmd, uint32_t id)
{
	struct maq_event *ev;

	if (dp->q_len == DP_QUEUE) {
		dp->q_lost = true;
		return NULL;
	}
	ev = &dp->q[(dp->q_head + dp->q_len++) % DP_QUEUE];
	memset(ev, 0, sizeof(*ev));
	ev->cmd = cmd;
	ev->ifindex = dp->ifindex;
	ev->id = id;
	ev->hop = -1;
	ev->present = 1ULL << MAQUIS_A_IFINDEX;
	if (id)
		ev->present |= 1ULL << MAQUIS_A_ID;
	return ev;
}

static void q_event(struct maq_dp *dp, uint32_t id, int event, int dir,
		    int phase, int hop, uint64_t count)
{
	struct maq_event *ev = q_push(dp, MAQUIS_CMD_EVENT_NTF, id);

	if (!ev)
		return;
	ev->event = (uint8_t)event;
	ev->present |= 1ULL << MAQUIS_A_EVENT;
	if (dir >= 0) {
		ev->dir = (uint8_t)dir;
		ev->present |= 1ULL << MAQUIS_A_DIR;
	}
	if (phase >= 0) {
		ev->phase = (uint8_t)phase;
		ev->present |= 1ULL << MAQUIS_A_PHASE;
	}
	if (hop >= 0) {
		ev->hop = hop;
		ev->present |= 1ULL << MAQUIS_A_HOP;
	}
	if (count) {
		ev->count = count;
		ev->present |= 1ULL << MAQUIS_A_COUNT;
	}
}

static struct dp_circ *circ_find(struct maq_dp *dp, uint32_t id)
{
	struct dp_circ *r;

	for (r = dp->circs; r; r = r->next)
		if (r->c.id == id)
			return r;
	return NULL;
}

/* Forget @id; a relay's entries leave the XDP table. */
static void circ_drop(struct maq_dp *dp, uint32_t id)
{
	struct dp_circ **pp, *r;

	for (pp = &dp->circs; (r = *pp); pp = &r->next)
		if (r->c.id == id)
			break;
	if (!r)
		return;
	*pp = r->next;
	if (r->c.role == MAQUIS_ROLE_RELAY && dp->xdp)
		maq_xdp_hop_del(dp->xdp, &r->c);
	free(r);
}

static void ep_link(void *arg, const union maq_sockaddr *from,
		    const uint8_t cell[MAQUIS_CELL_SIZE])
{
	struct maq_dp *dp = arg;
	struct maq_event *ev = q_push(dp, MAQUIS_CMD_CELL_NTF, 0);

	if (!ev)
		return;
	ev->peer = *from;
	memcpy(ev->cell, cell, MAQUIS_CELL_SIZE);
	ev->present |= 1ULL << MAQUIS_A_PEER | 1ULL << MAQUIS_A_CELL;
}

static void ep_ctl(void *arg, uint32_t id, int hop,
		   const uint8_t msg[MAQUIS_CTL_LEN])
{
	struct maq_dp *dp = arg;
	struct maq_event *ev = q_push(dp, MAQUIS_CMD_CELL_NTF, id);

	if (!ev)
		return;
	memcpy(ev->ctl, msg, MAQUIS_CTL_LEN);
	ev->present |= 1ULL << MAQUIS_A_CTL;
	if (hop >= 0) {
		ev->hop = hop;
		ev->present |= 1ULL << MAQUIS_A_HOP;
	}
}

static void ep_event(void *arg, uint32_t id, int event, int dir, int phase,
		     int hop, uint64_t count)
{
	struct maq_dp *dp = arg;

	/* the endpoint dropped it already; the relay table follows */
	if (event == MAQUIS_EVENT_EXPIRED)
		circ_drop(dp, id);
	q_event(dp, id, event, dir, phase, hop, count);
}

/* --- user: the endpoint and the relay table ------------------------------------ */

static int user_open(struct maq_dp *dp, const struct maq_dp_opts *o,
		     char *err, size_t errlen)
{
	struct maq_ep_opts eo = {
		.epoch_secs = o->epoch_secs,
		.hooks = {
			.link = ep_link,
			.ctl = ep_ctl,
			.event = ep_event,
			.arg = dp,
		},
	};
	const union maq_sockaddr *l = &o->listen;
	int ret;

	if (l->sa.sa_family == AF_INET || l->sa.sa_family == AF_INET6)
		eo.port = ntohs(l->sa.sa_family == AF_INET ? l->in4.sin_port :
					l->in6.sin6_port);
	if (o->relay && o->xdp == MAQ_DP_XDP_OFF) {
		snprintf(err, errlen,
			 "a relay without the module relays with XDP only: xdp = off leaves it none");
		return -EINVAL;
	}
	dp->q = calloc(DP_QUEUE, sizeof(*dp->q));
	if (!dp->q) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = maq_ep_open(&dp->ep, o->ifname, &eo);
	if (ret) {
		snprintf(err, errlen,
			 "userspace datapath: cannot open TUN %s and UDP port %u: %s",
			 o->ifname, eo.port ? eo.port : MAQ_DEFAULT_PORT,
			 strerror(-ret));
		return ret;
	}
	dp->ifindex = (uint32_t)maq_ep_ifindex(dp->ep);
	if (!o->relay || o->xdp == MAQ_DP_XDP_OFF)
		return 0;
	ret = xdp_attach(dp, o, err, errlen);
	if (!ret)
		xdp_flush(dp);
	return ret;
}

/* A relay's part: both directions into the XDP table, its control part
 * into the endpoint.
 */
static int user_relay_new(struct maq_dp *dp, const struct maq_circuit *c)
{
	int ret;

	if (!dp->xdp)
		return dp_fail(dp, -EOPNOTSUPP,
			       "this host relays with XDP only and has none");
	if (c->n_hops != 1)
		return dp_fail(dp, -EINVAL, "a relay has exactly one hop");
	ret = maq_xdp_hop_add(dp->xdp, c);
	if (ret)
		return dp_fail(dp, ret, "XDP relay table: %s",
			       ret == -EEXIST ? "cid in use" : strerror(-ret));
	ret = maq_ep_add_circuit(dp->ep, c);
	if (ret) {
		maq_xdp_hop_del(dp->xdp, c);
		return dp_fail(dp, ret, "relay control: %s", strerror(-ret));
	}
	return 0;
}

/* The cids this host receives on must be unique across the endpoint and
 * the XDP table: a terminus's cid in the table would be relayed, or
 * dropped there.
 */
static bool user_cid_taken(struct maq_dp *dp, uint32_t cid)
{
	struct maq_xdp_hop_stats hs;
	struct dp_circ *r;

	if (!cid)
		return false;
	for (r = dp->circs; r; r = r->next)
		if (r->c.fwd_cid_in == cid || r->c.back_cid_in == cid)
			return true;
	return dp->xdp && !maq_xdp_hop_stats(dp->xdp, cid, &hs);
}

static int user_circuit_new(struct maq_dp *dp, const struct maq_circuit *c)
{
	struct dp_circ *r;
	unsigned int i;
	int ret;

	if (circ_find(dp, c->id))
		return dp_fail(dp, -EEXIST, "circuit %u exists", c->id);
	if (user_cid_taken(dp, c->fwd_cid_in) ||
	    user_cid_taken(dp, c->back_cid_in))
		return dp_fail(dp, -EEXIST, "cid in use");
	r = calloc(1, sizeof(*r));
	if (!r)
		return dp_fail(dp, -ENOMEM, "out of memory");
	if (c->role == MAQUIS_ROLE_RELAY)
		ret = user_relay_new(dp, c);
	else if (c->role == MAQUIS_ROLE_ORIGIN ||
		 c->role == MAQUIS_ROLE_TERMINUS)
		ret = maq_ep_add_circuit(dp->ep, c);
	else
		ret = -EINVAL;
	if (ret) {
		free(r);
		if (!*dp->err)
			dp_fail(dp, ret, "%s circuit: %s",
				maq_role_name(c->role), strerror(-ret));
		return ret;
	}
	r->c = *c;
	for (i = 0; i < MAQUIS_MAX_HOPS; i++)
		maq_hop_wipe(&r->c.hops[i]);
	r->c.ifindex = dp->ifindex;
	r->created_ms = maqd_now_ms();
	r->next = dp->circs;
	dp->circs = r;
	return 0;
}

static int user_circuit_del(struct maq_dp *dp, uint32_t id)
{
	struct dp_circ *r = circ_find(dp, id);

	if (!r)
		return dp_fail(dp, -ENOENT, "no circuit %u", id);
	maq_ep_del_circuit(dp->ep, id);
	circ_drop(dp, id);
	return 0;
}

static int user_circuit_dump(struct maq_dp *dp, struct maq_circuit **cs,
			     size_t *n)
{
	uint64_t now = maqd_now_ms();
	struct dp_circ *r;
	size_t k = 0;

	for (r = dp->circs; r; r = r->next)
		k++;
	*n = 0;
	*cs = calloc(k ? k : 1, sizeof(**cs));
	if (!*cs)
		return -ENOMEM;
	for (r = dp->circs; r; r = r->next) {
		struct maq_circuit *c = &(*cs)[(*n)++];

		*c = r->c;
		c->age = (uint32_t)((now - r->created_ms) / 1000);
		c->phase = (uint8_t)r->phase;
		c->present = 1ULL << MAQUIS_A_IFINDEX | 1ULL << MAQUIS_A_ID |
			     1ULL << MAQUIS_A_ROLE | 1ULL << MAQUIS_A_AGE |
			     1ULL << MAQUIS_A_LIFETIME;
	}
	return 0;
}

static int user_key_set(struct maq_dp *dp, uint32_t id, uint8_t slot,
			const struct maq_hop *hop)
{
	struct dp_circ *r = circ_find(dp, id);
	struct maq_hop ctl;
	int ret = 0;

	if (!r)
		return dp_fail(dp, -ENOENT, "no circuit %u", id);
	if (r->c.role != MAQUIS_ROLE_RELAY) {
		ret = maq_ep_key_set(dp->ep, id, slot, hop);
		return ret ? dp_fail(dp, ret, "key-set: %s", strerror(-ret)) : 0;
	}
	if (slot > 1 || hop->index)
		return dp_fail(dp, -EINVAL, "a relay has one hop, two slots");
	if (hop->has & MAQ_HOP_FWD_KEY)
		ret = maq_xdp_key_set(dp->xdp, r->c.fwd_cid_in, slot,
				      hop->fwd_key);
	if (!ret && (hop->has & MAQ_HOP_BACK_KEY))
		ret = maq_xdp_key_set(dp->xdp, r->c.back_cid_in, slot,
				      hop->back_key);
	if (ret)
		return dp_fail(dp, ret, "XDP relay table: %s", strerror(-ret));
	/* the table counted the slot's cells from zero again */
	r->slot_cells[slot] = 0;
	r->limit_sent &= (uint8_t)~(1u << slot);
	if (hop->has & (MAQ_HOP_FWD_CTL_KEY | MAQ_HOP_BACK_CTL_KEY)) {
		ctl = *hop;
		ctl.has &= MAQ_HOP_FWD_CTL_KEY | MAQ_HOP_BACK_CTL_KEY;
		ret = maq_ep_key_set(dp->ep, id, slot, &ctl);
		maq_hop_wipe(&ctl);
		if (ret)
			return dp_fail(dp, ret, "relay control key: %s",
				       strerror(-ret));
	}
	return 0;
}

/*
 * What the module reports of a relay hop, from the table's counters: a
 * forward slot that starts moving is the origin's new phase (key-phase),
 * a slot past the soft limit key-limit, new bad tags and replays tamper
 * and replay.
 */
static void user_relay_tick(struct maq_dp *dp, struct dp_circ *r,
			    uint64_t now)
{
	struct maq_xdp_hop_stats hs;
	int s = !r->phase;

	if (maq_xdp_hop_stats(dp->xdp, r->c.fwd_cid_in, &hs))
		return;
	if (hs.slot_cells[s] > r->slot_cells[s]) {
		r->phase = s;
		maq_ep_relay_phase(dp->ep, r->c.id, s);
		q_event(dp, r->c.id, MAQUIS_EVENT_KEY_PHASE, MAQUIS_DIR_FWD,
			s, -1, 0);
	}
	for (s = 0; s < 2; s++) {
		r->slot_cells[s] = hs.slot_cells[s];
		if (hs.slot_cells[s] >= DP_KEY_SOFT_LIMIT &&
		    !(r->limit_sent & (1u << s))) {
			r->limit_sent |= (uint8_t)(1u << s);
			q_event(dp, r->c.id, MAQUIS_EVENT_KEY_LIMIT,
				MAQUIS_DIR_FWD, s, 0, hs.slot_cells[s]);
		}
	}
	if (now < r->reported_ms + DP_REPORT_MS)
		return;
	if (hs.bad_tag > r->bad_tag) {
		q_event(dp, r->c.id, MAQUIS_EVENT_TAMPER, MAQUIS_DIR_FWD, -1,
			-1, hs.bad_tag - r->bad_tag);
		r->reported_ms = now;
	}
	if (hs.replay > r->replay) {
		q_event(dp, r->c.id, MAQUIS_EVENT_REPLAY, MAQUIS_DIR_FWD, -1,
			-1, hs.replay - r->replay);
		r->reported_ms = now;
	}
	r->bad_tag = hs.bad_tag;
	r->replay = hs.replay;
}

static void user_tick(struct maq_dp *dp, uint64_t now)
{
	uint64_t val[MAQ_STAT_MAX];
	struct dp_circ *r;

	/* expiry is the endpoint's, for relays too (ep_event) */
	maq_ep_run_once(dp->ep, 0);
	/* the daemon's tick, not every wakeup of its loop */
	if (!dp->xdp || now < dp->next_read_ms)
		return;
	dp->next_read_ms = now + DP_READ_MS;
	for (r = dp->circs; r; r = r->next)
		if (r->c.role == MAQUIS_ROLE_RELAY)
			user_relay_tick(dp, r, now);
	/* cells the program could not forward: a neighbour to resolve */
	if (!maq_xdp_stats(dp->xdp, val) &&
	    val[MAQ_STAT_NO_ROUTE] != dp->no_route) {
		dp->no_route = val[MAQ_STAT_NO_ROUTE];
		maq_xdp_prime_all(dp->xdp);
	}
}

/* --- both ------------------------------------------------------------------- */

int maq_dp_open(struct maq_dp **dpp, const struct maq_dp_opts *o,
		char *err, size_t errlen)
{
	struct maq_dp *dp = calloc(1, sizeof(*dp));
	struct maq_nl *probe;
	int ret;

	*err = 0;
	if (!dp) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(dp->ifname, sizeof(dp->ifname), "%s", o->ifname);
	dp->kind = o->kind;
	if (dp->kind == MAQ_DP_AUTO) {
		/* the family resolves when the module is loaded */
		ret = maq_nl_open(&probe);
		dp->kind = ret ? MAQ_DP_USER : MAQ_DP_MODULE;
		maq_nl_close(probe);
		if (ret && ret != -ENOENT)
			log_warn("generic netlink: %s: using the userspace datapath",
				 strerror(-ret));
	}
	if (dp->kind == MAQ_DP_MODULE) {
		ret = mod_open(dp, o, err, errlen);
		if (!ret && o->relay && o->xdp != MAQ_DP_XDP_OFF &&
		    !o->xdp_default && xdp_attach(dp, o, err, errlen)) {
			/* the module relays without it, more slowly */
			log_warn("%s", err);
			*err = 0;
		}
	} else {
		ret = user_open(dp, o, err, errlen);
	}
	if (ret) {
		maq_dp_close(dp);
		return ret;
	}
	*dpp = dp;
	return 0;
}

void maq_dp_close(struct maq_dp *dp)
{
	int ret;

	if (!dp)
		return;
	while (dp->circs)
		circ_drop(dp, dp->circs->c.id);
	if (dp->xdp) {
		ret = maq_xdp_detach(dp->xdp);
		dp->xdp = NULL;
		if (ret)
			log_warn("xdp: detach from %s: %s", dp->xdp_ifname,
				 strerror(-ret));
		else
			log_info("xdp: detached from %s", dp->xdp_ifname);
	}
	if (dp->ep)
		maq_ep_close(dp->ep);
	if (dp->q) {
		sodium_memzero(dp->q, DP_QUEUE * sizeof(*dp->q));
		free(dp->q);
	}
	maq_nl_close(dp->ev);
	maq_nl_close(dp->nl);
	sodium_memzero(dp, sizeof(*dp));
	free(dp);
}

int maq_dp_poll(struct maq_dp *dp, struct pollfd *pfd, unsigned int max)
{
	int fds[3], n, i;

	if (dp->kind == MAQ_DP_MODULE) {
		if (!max)
			return 0;
		pfd[0] = (struct pollfd){ .fd = maq_nl_fd(dp->ev),
					  .events = POLLIN };
		return 1;
	}
	n = maq_ep_fds(dp->ep, fds);
	for (i = 0; i < n && (unsigned int)i < max; i++)
		pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	return i;
}

void maq_dp_ready(struct maq_dp *dp, const struct pollfd *pfd,
		  unsigned int n)
{
	int ret;

	/* module: the events are read by maq_dp_event_recv() */
	(void)pfd;
	(void)n;
	if (dp->kind != MAQ_DP_USER)
		return;
	ret = maq_ep_run_once(dp->ep, 0);
	if (ret < 0 && ret != -EINTR)
		log_warn("userspace datapath: %s", strerror(-ret));
}

int maq_dp_event_recv(struct maq_dp *dp, struct maq_event *ev)
{
	if (dp->kind == MAQ_DP_MODULE)
		return maq_nl_event_recv(dp->ev, ev, 0);
	if (dp->q_lost) {
		dp->q_lost = false;
		return -ENOBUFS;
	}
	if (!dp->q_len)
		return 0;
	*ev = dp->q[dp->q_head];
	sodium_memzero(&dp->q[dp->q_head], sizeof(*ev));
	dp->q_head = (dp->q_head + 1) % DP_QUEUE;
	dp->q_len--;
	return 1;
}

void maq_dp_tick(struct maq_dp *dp, uint64_t now_ms)
{
	if (dp->kind == MAQ_DP_USER)
		user_tick(dp, now_ms);
}

int maq_dp_circuit_new(struct maq_dp *dp, const struct maq_circuit *c)
{
	if (dp->kind == MAQ_DP_MODULE)
		return maq_nl_circuit_new(dp->nl, c);
	*dp->err = 0;
	return user_circuit_new(dp, c);
}

int maq_dp_circuit_del(struct maq_dp *dp, uint32_t id)
{
	if (dp->kind == MAQ_DP_MODULE)
		return maq_nl_circuit_del(dp->nl, dp->ifindex, id);
	return user_circuit_del(dp, id);
}

int maq_dp_circuit_dump(struct maq_dp *dp, struct maq_circuit **cs,
			size_t *n)
{
	if (dp->kind == MAQ_DP_MODULE)
		return maq_nl_circuit_dump(dp->nl, dp->ifindex, cs, n);
	return user_circuit_dump(dp, cs, n);
}

int maq_dp_key_set(struct maq_dp *dp, uint32_t id, uint8_t slot,
		   const struct maq_hop *hop)
{
	if (dp->kind == MAQ_DP_MODULE)
		return maq_nl_key_set(dp->nl, dp->ifindex, id, slot, hop);
	return user_key_set(dp, id, slot, hop);
}

int maq_dp_ctl_send(struct maq_dp *dp, uint32_t id, uint8_t hop,
		    const uint8_t ctl[MAQUIS_CTL_LEN])
{
	int ret;

	if (dp->kind == MAQ_DP_MODULE)
		return maq_nl_ctl_send(dp->nl, dp->ifindex, id, hop, ctl);
	ret = maq_ep_send_ctl(dp->ep, id, hop, ctl);
	return ret ? dp_fail(dp, ret, "ctl-send: %s", strerror(-ret)) : 0;
}

int maq_dp_cell_send(struct maq_dp *dp, const union maq_sockaddr *peer,
		     const uint8_t cell[MAQUIS_CELL_SIZE])
{
	int ret;

	if (dp->kind == MAQ_DP_MODULE)
		return maq_nl_cell_send(dp->nl, dp->ifindex, peer, cell);
	ret = maq_ep_send_link(dp->ep, peer, cell);
	return ret ? dp_fail(dp, ret, "send: %s", strerror(-ret)) : 0;
}

void maqd_dp_show(struct maqd *d, struct maq_ipc_out *o)
{
	struct maq_dp_xdp_info xi;
	uint32_t disp;

	maq_ipc_put(o, "datapath", "%s", maq_dp_kind_name(d->dp->kind));
	if (!maq_dp_xdp_info(d->dp, &xi)) {
		maq_ipc_put(o, "xdp", "-");
		return;
	}
	maq_ipc_put(o, "xdp", "%s", xi.ifname);
	maq_ipc_put(o, "xdp_variant", "%s", maq_xdp_variant_name(xi.variant));
	maq_ipc_put(o, "xdp_mode", "%s", maq_xdp_mode_name(xi.mode));
	maq_ipc_put(o, "xdp_prog", "%u", xi.prog_id);
	/* libxdp's, when the relay shares the interface; else "-" */
	disp = maq_xdp_dispatcher_id(d->dp->xdp);
	if (disp)
		maq_ipc_put(o, "xdp_dispatcher", "%u", disp);
	else
		maq_ipc_put(o, "xdp_dispatcher", "-");
}
