// SPDX-License-Identifier: GPL-2.0
/*
 * maquisd's circuits (PROTOCOL 4, 6, 7): the origin side (build, keep,
 * replace before expiry, tear down hop by hop), the relay and terminus side
 * (CREATE, CREATED, DESTROY), key rotation on the kernel's key-phase events,
 * and reconciliation with what the kernel already holds.
 *
 * Chains (the keys of later epochs) live only here, in this process: a hop
 * found in the kernel at start (a previous run's) is adopted and serves until
 * its lifetime ends, but cannot rotate; an origin circuit found at start is
 * replaced by a fresh one to the same destination and torn down.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "maquisd.h"

/* --- replayed CREATEs ------------------------------------------------------ */

/*
 * Every X (the CREATE's ephemeral key) a valid CREATE carried, until no
 * onion key it could have been made for is accepted any more: the current
 * key lives a day and then a day as the previous one.
 */
#define SEEN_BITS	18
#define SEEN_SLOTS	(1U << SEEN_BITS)
#define SEEN_PROBE	64
#define SEEN_LIFE	(49 * 3600)

struct seen {
	u8 x[MAQ_SETUP_X_LEN];
	u64 until;			/* wall time; 0: never used */
};

static struct seen *seen;

/* 1: replayed, 0: recorded, -ENOSPC: no room (refuse, do not forget). */
static int seen_check(const u8 x[MAQ_SETUP_X_LEN], u64 now)
{
	u32 i = maq_get_be32(x) >> (32 - SEEN_BITS), k;
	struct seen *free_slot = NULL;

	if (!seen) {
		seen = calloc(SEEN_SLOTS, sizeof(*seen));
		if (!seen)
			return -ENOSPC;
	}
	for (k = 0; k < SEEN_PROBE; k++) {
		struct seen *s = &seen[(i + k) & (SEEN_SLOTS - 1)];

		if (!s->until) {
			if (!free_slot)
				free_slot = s;
			break;
		}
		if (s->until <= now) {
			if (!free_slot)
				free_slot = s;
			continue;
		}
		if (!memcmp(s->x, x, MAQ_SETUP_X_LEN))
			return 1;
	}
	if (!free_slot)
		return -ENOSPC;
	memcpy(free_slot->x, x, MAQ_SETUP_X_LEN);
	free_slot->until = now + SEEN_LIFE;
	return 0;
}

/* --- lists ----------------------------------------------------------------- */

const char *maqd_state_name(enum maqd_state s)
{
	static const char *const name[] = {
		[MAQD_BUILDING] = "building",
		[MAQD_UP] = "up",
		[MAQD_REPLACING] = "replacing",
		[MAQD_CLOSING] = "closing",
	};

	return (unsigned int)s < 4 ? name[s] : "unknown";
}

unsigned int maqd_n_origins(const struct maqd *d)
{
	const struct maqd_origin *o;
	unsigned int n = 0;

	for (o = d->origins; o; o = o->next)
		n++;
	return n;
}

unsigned int maqd_n_hops(const struct maqd *d)
{
	const struct maqd_hop *h;
	unsigned int n = 0;

	for (h = d->hops; h; h = h->next)
		n += !h->pending;
	return n;
}

static struct maqd_origin *origin_by_id(struct maqd *d, u32 id)
{
	struct maqd_origin *o;

	for (o = d->origins; o; o = o->next)
		if (o->id && o->id == id)
			return o;
	return NULL;
}

static struct maqd_hop *hop_by_id(struct maqd *d, u32 id)
{
	struct maqd_hop *h;

	for (h = d->hops; h; h = h->next)
		if (h->id && h->id == id)
			return h;
	return NULL;
}

static bool id_in_use(struct maqd *d, u32 id)
{
	return origin_by_id(d, id) || hop_by_id(d, id);
}

static u32 fresh_id(struct maqd *d)
{
	u32 id;

	do
		id = maqd_random_nonzero();
	while (id_in_use(d, id));
	return id;
}

static bool sa_equal(const union maq_sockaddr *a, const union maq_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in4.sin_port == b->in4.sin_port &&
		       a->in4.sin_addr.s_addr == b->in4.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == b->in6.sin6_port &&
		       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16);
	return false;
}

static bool prefix_equal(const struct maq_prefix *a,
			 const struct maq_prefix *b)
{
	if (a->family != b->family || a->len != b->len)
		return false;
	return a->family == AF_INET ?
	       a->addr.v4.s_addr == b->addr.v4.s_addr :
	       !memcmp(&a->addr.v6, &b->addr.v6, 16);
}

static void origin_unlink(struct maqd *d, struct maqd_origin *o)
{
	struct maqd_origin **p;

	for (p = &d->origins; *p; p = &(*p)->next)
		if (*p == o) {
			*p = o->next;
			break;
		}
}

static void hop_unlink(struct maqd *d, struct maqd_hop *h)
{
	struct maqd_hop **p;

	for (p = &d->hops; *p; p = &(*p)->next)
		if (*p == h) {
			*p = h->next;
			break;
		}
}

/* Kernel routes to the device: one per prefix while any circuit uses it. */
static bool prefix_used(struct maqd *d, const struct maq_prefix *p,
			const void *except)
{
	struct maqd_origin *o;
	struct maqd_hop *h;

	for (o = d->origins; o; o = o->next)
		if ((void *)o != except && o->id &&
		    prefix_equal(&o->to, p))
			return true;
	for (h = d->hops; h; h = h->next)
		if ((void *)h != except && h->id && h->terminus &&
		    prefix_equal(&h->r.route.prefix, p))
			return true;
	return false;
}

static void route_drop(struct maqd *d, const struct maq_prefix *p,
		       const void *owner)
{
	if (p->family && !prefix_used(d, p, owner))
		maqd_route(d->ifindex, p, false);
}

static void origin_free(struct maqd *d, struct maqd_origin *o)
{
	char msg[64];

	maqd_alias_gone(d, o);
	if (o->waiter) {
		struct maq_ipc_out out;

		maq_ipc_out_init(&out);
		snprintf(msg, sizeof(msg), "circuit %u went away", o->id);
		maq_ipc_end(&out, ECONNABORTED, msg);
		maqd_conn_reply(d, o->waiter, &out);
	}
	if (o->id)
		route_drop(d, &o->to, o);
	origin_unlink(d, o);
	maq_origin_wipe(&o->o);
	sodium_memzero(o, sizeof(*o));
	free(o);
}

static void hop_free(struct maqd *d, struct maqd_hop *h)
{
	maqd_alias_hop_gone(d, h);
	if (h->id && h->terminus)
		route_drop(d, &h->r.route.prefix, h);
	hop_unlink(d, h);
	maq_relay_setup_wipe(&h->r);
	sodium_memzero(h, sizeof(*h));
	free(h);
}

/* --- kernel ---------------------------------------------------------------- */

/* circuit-new with fresh ids and cids while they collide. */
static int circuit_install(struct maqd *d, struct maq_circuit *c,
			   u32 *fcid)
{
	int i, ret = -EEXIST;

	c->ifindex = d->ifindex;
	for (i = 0; i < 4 && ret == -EEXIST; i++) {
		c->id = fresh_id(d);
		if (fcid) {
			if (i)
				*fcid = maqd_random_nonzero();
			c->fwd_cid_in = *fcid;
		}
		ret = maq_dp_circuit_new(d->dp, c);
	}
	if (ret)
		log_warn("circuit-new: %s: %s", strerror(-ret),
			 maq_dp_errmsg(d->dp));
	return ret;
}

/* The next epoch's keys of one hop into the slot they belong to. */
static int key_next(struct maqd *d, u32 id, struct maq_ratchet *fwd,
		    struct maq_ratchet *back, u8 index, u32 *epoch)
{
	struct maq_hop hk;
	int ret;

	*epoch = maq_ratchet_hop(fwd, back, index, &hk);
	ret = maq_dp_key_set(d->dp, id, (u8)(*epoch & 1), &hk);
	maq_hop_wipe(&hk);
	if (ret)
		log_warn("key-set circuit %u hop %u epoch %u: %s: %s", id,
			 index, *epoch, strerror(-ret), maq_dp_errmsg(d->dp));
	return ret;
}

static void ctl_send(struct maqd *d, u32 id, u8 hop, u8 type, u64 nonce)
{
	u8 msg[MAQ_HOPCTL_LEN];
	int ret;

	maq_hopctl_put(msg, type, nonce);
	ret = maq_dp_ctl_send(d->dp, id, hop, msg);
	if (ret)
		log_debug("ctl-send circuit %u hop %u: %s: %s", id, hop,
			  strerror(-ret), maq_dp_errmsg(d->dp));
}

void maqd_hopctl_send(struct maqd *d, u32 id, u8 hop, u8 type, u64 nonce)
{
	ctl_send(d, id, hop, type, nonce);
}

/* --- relay and terminus ---------------------------------------------------- */

static void created_send(struct maqd *d, const union maq_sockaddr *to,
			 u32 handle, const u8 msg[MAQ_CTL_MSG_LEN])
{
	u8 cell[MAQ_CELL_SIZE];

	maq_ctl_put(cell, MAQ_CTL_CREATED, handle);
	memcpy(cell + MAQ_CTL_HDR_LEN, msg, MAQ_CTL_MSG_LEN);
	maqd_cell_send(d, to, cell);
}

static void refuse(struct maqd *d, const union maq_sockaddr *to, u32 handle,
		   const u8 reply_key[MAQ_KEY_LEN], int reason)
{
	u8 msg[MAQ_CTL_MSG_LEN];

	if (!maq_created_build(msg, 0, reply_key, reason))
		created_send(d, to, handle, msg);
}

/* A claim on a prefix some live circuit holds under another token. */
static bool route_taken(struct maqd *d, const struct maq_route_claim *rt)
{
	struct maqd_hop *h;

	if (!rt->prefix.family)
		return false;
	for (h = d->hops; h; h = h->next)
		if (h->id && h->terminus && !h->any_token &&
		    prefix_equal(&h->r.route.prefix, &rt->prefix) &&
		    sodium_memcmp(h->r.route.token, rt->token,
				  MAQ_ROUTE_TOKEN_LEN))
			return true;
	return false;
}

/* Install this host's hop; @next_fcid is the next hop's (relay only). */
static int hop_install(struct maqd *d, struct maqd_hop *h, u32 next_fcid)
{
	struct maq_circuit c;
	int ret;

	maq_relay_circuit(&h->r, &c);
	c.prev = h->prev;
	if (!h->terminus) {
		c.back_cid_in = h->bcid;
		c.fwd_cid_out = next_fcid;
	}
	ret = circuit_install(d, &c, &h->fcid);
	if (!ret) {
		h->id = c.id;
		/* epoch 1 into slot 1: the origin flips once all hold it */
		key_next(d, h->id, &h->r.fwd, &h->r.back, 0, &h->epoch);
		if (h->terminus && h->r.route.prefix.family)
			maqd_route(d->ifindex, &h->r.route.prefix, true);
	}
	maq_circuit_wipe(&c);
	return ret;
}

void maqd_create_rx(struct maqd *d, const union maq_sockaddr *peer,
		    u32 handle, const u8 cell[MAQ_CELL_SIZE])
{
	const u8 *msg = cell + MAQ_CTL_HDR_LEN;
	u8 out[MAQ_CTL_MSG_LEN], next[MAQ_CELL_SIZE];
	enum maq_create_err e;
	struct maqd_hop *h;
	char a[64];
	int reason = MAQ_SETUP_BAD_ROUTING, ret;

	d->st.create_received++;
	h = calloc(1, sizeof(*h));
	if (!h)
		return;
	e = maq_create_process(&h->r, msg, MAQ_CTL_MSG_LEN, d->onion,
			       d->n_onion);
	if (e != MAQ_CREATE_OK) {
		d->st.create_refused[e]++;
		log_debug("CREATE from %s refused: %s",
			  maq_sockaddr_str(peer, a, sizeof(a)),
			  maq_create_err_name(e));
		goto refuse;
	}
	ret = seen_check(msg + 4, maqd_wall());
	if (ret) {
		if (ret > 0)
			d->st.create_replayed++;
		else
			reason = MAQ_SETUP_NO_CAPACITY;
		log_info("CREATE from %s refused: %s",
			 maq_sockaddr_str(peer, a, sizeof(a)),
			 ret > 0 ? "replayed" : "replay cache full");
		goto refuse;
	}
	if ((!h->r.terminus && d->conf.role != MAQ_CONF_RELAY) ||
	    (h->r.terminus && !d->publish)) {
		d->st.create_no_capacity++;
		reason = MAQ_SETUP_NO_CAPACITY;
		goto refuse;
	}
	if (h->r.terminus && route_taken(d, &h->r.route)) {
		d->st.create_route_taken++;
		log_info("CREATE from %s refused: return route held by another circuit",
			 maq_sockaddr_str(peer, a, sizeof(a)));
		goto refuse;
	}
	h->terminus = h->r.terminus;
	h->prev = *peer;
	h->prev_handle = handle;
	h->created_ms = maqd_now_ms();
	h->phase = 0;
	h->pending_phase = -1;
	h->fcid = maqd_random_nonzero();

	if (h->r.terminus) {
		if (hop_install(d, h, 0)) {
			reason = MAQ_SETUP_NO_CAPACITY;
			goto refuse;
		}
		maq_created_build(out, h->fcid, h->r.reply_key, MAQ_SETUP_OK);
		created_send(d, peer, handle, out);
		h->next = d->hops;
		d->hops = h;
		d->st.terminus_built++;
		log_info("terminus of circuit %u (from %s)", h->id,
			 maq_sockaddr_str(peer, a, sizeof(a)));
		return;
	}
	h->bcid = maqd_random_nonzero();
	h->handle = maqd_random_nonzero();
	h->pending = true;
	h->deadline_ms = h->created_ms + MAQD_SETUP_WAIT_MS;
	maq_ctl_put(next, MAQ_CTL_CREATE, h->handle);
	maq_create_next(next + MAQ_CTL_HDR_LEN, &h->r, h->bcid);
	if (maqd_cell_send(d, &h->r.next, next)) {
		reason = MAQ_SETUP_UNREACHABLE;
		goto refuse;
	}
	h->next = d->hops;
	d->hops = h;
	return;
refuse:
	refuse(d, peer, handle, h->r.reply_key, reason);
	maq_relay_setup_wipe(&h->r);
	free(h);
}

static void relay_created(struct maqd *d, struct maqd_hop *h, const u8 *msg)
{
	u8 out[MAQ_CTL_MSG_LEN];
	u32 next_fcid = maq_get_be32(msg);
	char a[64];
	int built;

	h->pending = false;
	if (next_fcid && hop_install(d, h, next_fcid)) {
		d->st.relay_failed++;
		refuse(d, &h->prev, h->prev_handle, h->r.reply_key,
		       MAQ_SETUP_NO_CAPACITY);
		hop_free(d, h);
		return;
	}
	built = maq_created_wrap(out, msg, MAQ_CTL_MSG_LEN, h->fcid,
				 h->r.reply_key);
	created_send(d, &h->prev, h->prev_handle, out);
	if (built != 1) {
		d->st.relay_failed++;
		hop_free(d, h);
		return;
	}
	d->st.relay_built++;
	log_info("relay on circuit %u: %s -> %s", h->id,
		 maq_sockaddr_str(&h->prev, a, sizeof(a)),
		 maq_sockaddr_str(&h->r.next, a + 32, 32));
}

/* --- origin ---------------------------------------------------------------- */

static void build_reply(struct maqd *d, struct maqd_origin *o, int err,
			const char *why)
{
	struct maq_ipc_out out;
	char p[64], hex[17], path[MAQ_MAX_HOPS * 17 + 1];
	unsigned int i;

	if (!o->waiter)
		return;
	maq_ipc_out_init(&out);
	if (!err) {
		path[0] = 0;
		for (i = 0; i < o->n; i++) {
			if (i)
				strcat(path, ",");
			strcat(path, maqd_id_hex(o->path[i], hex));
		}
		maq_ipc_put(&out, "circuit", "%u", o->id);
		maq_ipc_put(&out, "to", "%s",
			    maq_prefix_str(&o->to, p, sizeof(p)));
		maq_ipc_put(&out, "hops", "%u", o->n);
		maq_ipc_put(&out, "path", "%s", path);
		maq_ipc_put(&out, "setup_ms", "%llu",
			    (unsigned long long)(o->built_ms - o->started_ms));
	}
	maq_ipc_end(&out, err, why);
	maqd_conn_reply(d, o->waiter, &out);
	o->waiter = NULL;
}

static void origin_close(struct maqd *d, struct maqd_origin *o, int from_hop);

static void want_remove(struct maqd *d, struct maqd_want *w)
{
	struct maqd_origin *o;
	struct maqd_want **p;

	for (p = &d->wants; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	for (o = d->origins; o; o = o->next)
		if (o->want == w)
			o->want = NULL;
	free(w);
}

static void origin_failed(struct maqd *d, struct maqd_origin *o, int err,
			  const char *why)
{
	struct maqd_want *w = o->want;

	d->st.origin_failed++;
	log_warn("circuit to %s not built: %s", w ? w->to : "?", why);
	build_reply(d, o, err, why);
	origin_free(d, o);
	/* a build the CLI asked for and never got: the CLI says so */
	if (w && !w->confirmed && !w->from_config)
		want_remove(d, w);
	else if (w)
		w->retry_ms = maqd_now_ms() + MAQD_SETUP_WAIT_MS;
}

/* The older circuits of a want, once a newer one is up. */
static void close_older(struct maqd *d, struct maqd_origin *newer)
{
	struct maqd_origin *o, *next;

	for (o = d->origins; o; o = next) {
		next = o->next;
		if (o != newer && o->want == newer->want &&
		    (o->state == MAQD_UP || o->state == MAQD_REPLACING))
			origin_close(d, o, maqd_live_replaced(d, o, newer));
	}
}

static void origin_created(struct maqd *d, struct maqd_origin *o,
			   const u8 *msg)
{
	struct maq_setup_fail fail;
	struct maq_circuit *c = &o->o.circ;
	char why[128], hex[17];
	unsigned int i;

	if (maq_created_open(&o->o, msg, MAQ_CTL_MSG_LEN, &fail)) {
		if (fail.hop > 0 && fail.hop < (int)o->n &&
		    (fail.reason == MAQ_SETUP_TIMEOUT ||
		     fail.reason == MAQ_SETUP_UNREACHABLE))
			/* the hop that answered blames the one after it */
			snprintf(why, sizeof(why),
				 "hop %d (%s) did not answer hop %d (%s)",
				 fail.hop + 1,
				 maqd_id_hex(o->path[fail.hop], hex),
				 fail.hop, maq_setup_reason_name(fail.reason));
		if (fail.hop > 0 && fail.hop < (int)o->n &&
		    (fail.reason == MAQ_SETUP_TIMEOUT ||
		     fail.reason == MAQ_SETUP_UNREACHABLE))
			maqd_live_setup_failed(d, o, fail.hop + 1);
		else if (fail.hop > 0)
			snprintf(why, sizeof(why), "hop %d (%s): %s", fail.hop,
				 maqd_id_hex(o->path[fail.hop - 1], hex),
				 maq_setup_reason_name(fail.reason));
		else
			snprintf(why, sizeof(why), "%s",
				 maq_setup_reason_name(fail.reason));
		origin_failed(d, o, EHOSTUNREACH, why);
		return;
	}
	maqd_alias_install(d, o, c);
	c->routes[0] = o->to;
	c->n_routes = o->to.family ? 1 : 0;
	if (circuit_install(d, c, NULL)) {
		snprintf(why, sizeof(why), "circuit-new: %s",
			 maq_dp_errmsg(d->dp));
		origin_failed(d, o, EIO, why);
		return;
	}
	o->id = c->id;
	for (i = 0; i < o->n; i++)
		key_next(d, o->id, &o->o.fwd[i], &o->o.back[i], (u8)i,
			 &o->epoch);
	/* the circuit's keys now live in the kernel and the chains */
	for (i = 0; i < o->n; i++)
		maq_hop_wipe(&c->hops[i]);
	if (o->to.family)
		maqd_route(d->ifindex, &o->to, true);
	o->state = MAQD_UP;
	o->built_ms = maqd_now_ms();
	d->st.origin_ok++;
	log_info("circuit %u to %s up: %u hops, %llu ms", o->id,
		 o->want ? o->want->to : "?", o->n,
		 (unsigned long long)(o->built_ms - o->started_ms));
	build_reply(d, o, 0, NULL);
	if (o->want) {
		o->want->confirmed = true;
		close_older(d, o);
	}
	maqd_alias_up(d, o);
}

void maqd_created_rx(struct maqd *d, const union maq_sockaddr *peer,
		     u32 handle, const u8 cell[MAQ_CELL_SIZE])
{
	const u8 *msg = cell + MAQ_CTL_HDR_LEN;
	struct maqd_origin *o;
	struct maqd_hop *h;

	for (h = d->hops; h; h = h->next)
		if (h->pending && h->handle == handle &&
		    sa_equal(&h->r.next, peer)) {
			relay_created(d, h, msg);
			return;
		}
	for (o = d->origins; o; o = o->next)
		if (o->state == MAQD_BUILDING && o->handle == handle &&
		    sa_equal(&o->first, peer)) {
			origin_created(d, o, msg);
			return;
		}
	d->st.ctl_bad++;
}

/* BLAKE2b-128(key = identity seed, "maqroute" || terminus || prefix). */
static void route_token(struct maqd *d, const u8 terminus[MAQ_ID_PK_LEN],
			const struct maq_prefix *p, u8 out[MAQ_ROUTE_TOKEN_LEN])
{
	crypto_generichash_state st;
	u8 fam = (u8)(p->family == AF_INET ? 4 : 6);

	crypto_generichash_init(&st, d->id.sk, 32, MAQ_ROUTE_TOKEN_LEN);
	crypto_generichash_update(&st, (const u8 *)"maqroute", 8);
	crypto_generichash_update(&st, terminus, MAQ_ID_PK_LEN);
	crypto_generichash_update(&st, &fam, 1);
	crypto_generichash_update(&st, &p->len, 1);
	crypto_generichash_update(&st, (const u8 *)&p->addr,
				  p->family == AF_INET ? 4 : 16);
	crypto_generichash_final(&st, out, MAQ_ROUTE_TOKEN_LEN);
	sodium_memzero(&st, sizeof(st));
}

/* The terminus for what the user typed: a relay's name or an address. */
static const struct maq_relay *resolve(struct maqd *d, const char *to,
				       struct maq_prefix *route, char *err,
				       size_t errlen)
{
	const struct maq_relay *r;
	struct maq_prefix p;

	if (!maq_prefix_parse(to, &p)) {
		r = maq_view_serving(&d->view, &p);
		if (!r)
			snprintf(err, errlen, "no relay serves %s", to);
		*route = p;
		return r;
	}
	r = maq_view_lookup(&d->view, to);
	if (!r) {
		snprintf(err, errlen, errno == EEXIST ?
			 "'%s' matches several relays" : errno == EINVAL ?
			 "'%s' is neither an address nor a relay" :
			 "no relay '%s' known", to);
		return NULL;
	}
	if (!r->d.prefix.family) {
		snprintf(err, errlen, "%s announces no inner address", to);
		return NULL;
	}
	*route = r->d.prefix;
	return r;
}

int maqd_build(struct maqd *d, struct maqd_want *w, struct maqd_conn *waiter,
	       char *err, size_t errlen)
{
	const struct maq_relay *out[MAQ_MAX_HOPS], *self;
	struct maq_path_req req;
	struct maq_path_hop path[MAQ_MAX_HOPS];
	struct maq_route_claim claim;
	struct maqd_origin *o;
	u8 cell[MAQ_CELL_SIZE];
	unsigned int i, n;
	int ret;

	memset(&req, 0, sizeof(req));
	memset(&claim, 0, sizeof(claim));
	if (w->bare) {
		req.terminus = maq_view_lookup(&d->view, w->to);
		if (!req.terminus)
			snprintf(err, errlen, "no relay '%s' known", w->to);
	} else {
		req.terminus = resolve(d, w->to, &claim.prefix, err, errlen);
	}
	if (!req.terminus)
		return -ENOENT;
	req.n_relays = w->hops;
	req.n_via = w->n_via;
	for (i = 0; i < w->n_via; i++) {
		req.via[i] = maq_view_lookup(&d->view, w->via[i]);
		if (!req.via[i]) {
			snprintf(err, errlen, "via: no relay '%s' known",
				 w->via[i]);
			return -ENOENT;
		}
	}
	self = maq_view_find(&d->view, d->id.pk);
	req.self = self ? &self->d : NULL;
	req.now = maqd_wall();
	req.exclude = w->shun;
	req.n_exclude = w->n_shun;
	ret = maqd_live_path(d, w, &req, out, err, errlen);
	if (ret)
		return ret;
	n = w->hops + 1;

	o = calloc(1, sizeof(*o));
	if (!o) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o->to = claim.prefix;
	for (i = 0; i < n; i++) {
		memcpy(path[i].onion_key, out[i]->d.onion_key, MAQ_ONION_LEN);
		path[i].addr = out[i]->d.addr[0];
		memcpy(o->path[i], out[i]->d.identity, MAQ_ID_PK_LEN);
	}
	/* the return route is ours, not the destination's */
	/* an alias circuit claims a throwaway: the terminus must not learn us */
	if (w->bare)
		maqd_alias_throwaway(&claim.prefix);
	else
		claim.prefix = d->conf.address;
	if (claim.prefix.family)
		route_token(d, out[n - 1]->d.identity, &claim.prefix,
			    claim.token);
	o->handle = maqd_random_nonzero();
	o->n = n;
	o->first = path[0].addr;
	o->lifetime = w->lifetime;
	o->want = w;
	o->waiter = waiter;
	o->pending_phase = -1;
	o->closing_hop = -1;
	o->started_ms = maqd_now_ms();
	o->deadline_ms = o->started_ms + MAQD_ORIGIN_WAIT_MS;
	ret = maq_create_build_route(&o->o, cell + MAQ_CTL_HDR_LEN, path, n,
				     maqd_random_nonzero(), w->lifetime,
				     &claim);
	if (ret) {
		snprintf(err, errlen, "cannot build the CREATE");
		free(o);
		return ret;
	}
	maq_ctl_put(cell, MAQ_CTL_CREATE, o->handle);
	ret = maqd_cell_send(d, &o->first, cell);
	if (ret) {
		snprintf(err, errlen, "cannot send to hop 1: %s",
			 maq_dp_errmsg(d->dp));
		maq_origin_wipe(&o->o);
		free(o);
		return ret;
	}
	o->next = d->origins;
	d->origins = o;
	return 0;
}

/* --- teardown -------------------------------------------------------------- */

static void origin_close_step(struct maqd *d, struct maqd_origin *o)
{
	if (o->closing_hop < 0) {
		maq_dp_circuit_del(d->dp, o->id);
		log_info("circuit %u closed", o->id);
		origin_free(d, o);
		return;
	}
	o->destroy_nonce = randombytes_random() |
			   (u64)randombytes_random() << 32;
	ctl_send(d, o->id, (u8)o->closing_hop, MAQ_HOPCTL_DESTROY,
		 o->destroy_nonce);
	d->st.destroy_sent++;
	o->deadline_ms = maqd_now_ms() + MAQD_DESTROY_WAIT_MS;
}

/* Tear @o down from hop @from_hop (0-based) towards hop 1. */
static void origin_close(struct maqd *d, struct maqd_origin *o, int from_hop)
{
	o->state = MAQD_CLOSING;
	o->closing_hop = from_hop;
	origin_close_step(d, o);
}

void maqd_origin_close(struct maqd *d, struct maqd_origin *o, int from_hop)
{
	origin_close(d, o, from_hop);
}

void maqd_hop_remove(struct maqd *d, struct maqd_hop *h)
{
	ctl_send(d, h->id, 0, MAQ_HOPCTL_DESTROYED, randombytes_random());
	maq_dp_circuit_del(d->dp, h->id);
	hop_free(d, h);
}

int maqd_destroy(struct maqd *d, u32 id, char *err, size_t errlen)
{
	struct maqd_origin *o = origin_by_id(d, id);
	struct maqd_hop *h;

	if (o) {
		if (o->state == MAQD_CLOSING) {
			snprintf(err, errlen, "circuit %u is closing already",
				 id);
			return -EALREADY;
		}
		/* the user wants it gone: no replacement either */
		if (o->want && !o->want->from_config)
			want_remove(d, o->want);
		origin_close(d, o, (int)o->n - 1);
		return 0;
	}
	h = hop_by_id(d, id);
	if (h) {
		maqd_hop_remove(d, h);
		return 0;
	}
	snprintf(err, errlen, "no circuit %u", id);
	return -ENOENT;
}

void maqd_hopctl_rx(struct maqd *d, const struct maq_event *ev)
{
	struct maqd_origin *o;
	struct maqd_hop *h;
	u64 nonce;
	u8 type;

	if (maqd_alias_hopctl(d, ev))
		return;
	if (maq_hopctl_get(ev->ctl, sizeof(ev->ctl), &type, &nonce)) {
		d->st.ctl_bad++;
		return;
	}
	if (maqd_live_hopctl(d, ev, type, nonce))
		return;
	o = origin_by_id(d, ev->id);
	if (o && type == MAQ_HOPCTL_DESTROYED) {
		if (o->state == MAQD_CLOSING && ev->hop == o->closing_hop &&
		    nonce == o->destroy_nonce) {
			log_debug("circuit %u: hop %d destroyed", o->id,
				  ev->hop + 1);
			o->closing_hop--;
			origin_close_step(d, o);
		} else if (o->state != MAQD_CLOSING && ev->hop >= 0) {
			/* a hop went away on its own: the rest goes too */
			log_warn("circuit %u: hop %d left", o->id, ev->hop + 1);
			if (o->want)
				o->want->retry_ms = maqd_now_ms();
			origin_close(d, o, ev->hop - 1);
		}
		return;
	}
	h = hop_by_id(d, ev->id);
	if (h && type == MAQ_HOPCTL_DESTROY) {
		d->st.destroy_received++;
		ctl_send(d, h->id, 0, MAQ_HOPCTL_DESTROYED, nonce);
		maq_dp_circuit_del(d->dp, h->id);
		log_info("circuit %u destroyed by its origin", h->id);
		hop_free(d, h);
		return;
	}
	d->st.ctl_bad++;
}

/* --- events ---------------------------------------------------------------- */

void maqd_event_rx(struct maqd *d, const struct maq_event *ev)
{
	struct maqd_origin *o = origin_by_id(d, ev->id);
	struct maqd_hop *h = o ? NULL : hop_by_id(d, ev->id);

	switch (ev->event) {
	case MAQUIS_EVENT_EXPIRED:
	case MAQUIS_EVENT_DELETED:
		if (ev->event == MAQUIS_EVENT_EXPIRED)
			d->st.events_expired++;
		if (o) {
			if (o->want && o->state != MAQD_CLOSING)
				o->want->retry_ms = maqd_now_ms();
			origin_free(d, o);
		} else if (h) {
			hop_free(d, h);
		}
		break;
	case MAQUIS_EVENT_KEY_PHASE:
		/* the idle slot gets the epoch after next, after the grace */
		if (o && o->pending_phase != ev->phase) {
			/*
			 * The origin's own install is what lets its kernel flip
			 * again: done after the hops' (they see the new phase a
			 * transit later), so every hop holds the keys first.
			 */
			o->pending_phase = ev->phase;
			o->key_due_ms = maqd_now_ms() + MAQD_GRACE_MS +
					MAQD_ORIGIN_LAG_MS;
		} else if (h && !h->adopted && h->phase != ev->phase) {
			h->phase = ev->phase;
			h->pending_phase = ev->phase;
			h->key_due_ms = maqd_now_ms() + MAQD_GRACE_MS;
		}
		break;
	case MAQUIS_EVENT_KEY_LIMIT:
		log_warn("circuit %u: key slot near its limit", ev->id);
		if (o && o->want && o->state == MAQD_UP)
			o->state = MAQD_REPLACING;
		break;
	case MAQUIS_EVENT_TAMPER:
		d->st.events_tamper++;
		log_info("circuit %u: %llu cells failed authentication",
			 ev->id, (unsigned long long)ev->count);
		maqd_live_tamper(d, ev);
		break;
	case MAQUIS_EVENT_REPLAY:
		d->st.events_replay++;
		log_info("circuit %u: %llu replayed cells dropped", ev->id,
			 (unsigned long long)ev->count);
		break;
	}
}

/* --- timers ---------------------------------------------------------------- */

static void rotate_origin(struct maqd *d, struct maqd_origin *o)
{
	unsigned int i;

	for (i = 0; i < o->n; i++)
		key_next(d, o->id, &o->o.fwd[i], &o->o.back[i], (u8)i,
			 &o->epoch);
	d->st.rotations++;
	log_debug("circuit %u: epoch %u keys installed", o->id, o->epoch);
}

static struct maqd_origin *want_current(struct maqd *d, struct maqd_want *w,
					bool *building)
{
	struct maqd_origin *o, *best = NULL;

	*building = false;
	for (o = d->origins; o; o = o->next) {
		if (o->want != w)
			continue;
		if (o->state == MAQD_BUILDING)
			*building = true;
		else if ((o->state == MAQD_UP || o->state == MAQD_REPLACING) &&
			 (!best || o->built_ms > best->built_ms))
			best = o;
	}
	return best;
}

static void wants_tick(struct maqd *d, u64 now)
{
	struct maqd_origin *cur;
	struct maqd_want *w;
	char err[256];
	bool building;

	for (w = d->wants; w; w = w->next) {
		cur = want_current(d, w, &building);
		if (building || now < w->retry_ms)
			continue;
		if (cur && cur->state == MAQD_UP && !cur->adopted &&
		    now < cur->built_ms + (u64)cur->lifetime * 10 *
			  MAQD_REPLACE_PCT)
			continue;
		if (cur)
			cur->state = MAQD_REPLACING;
		if (maqd_build(d, w, NULL, err, sizeof(err))) {
			log_debug("circuit to %s: %s", w->to, err);
			w->retry_ms = now + MAQD_SETUP_WAIT_MS;
		}
	}
}

void maqd_circuits_tick(struct maqd *d, u64 now)
{
	struct maqd_origin *o, *onext;
	struct maqd_hop *h, *hnext;
	char why[128], hex[17];

	for (h = d->hops; h; h = hnext) {
		hnext = h->next;
		if (h->pending && now >= h->deadline_ms) {
			d->st.relay_failed++;
			refuse(d, &h->prev, h->prev_handle, h->r.reply_key,
			       MAQ_SETUP_TIMEOUT);
			hop_free(d, h);
			continue;
		}
		if (h->pending_phase >= 0 && now >= h->key_due_ms) {
			h->pending_phase = -1;
			key_next(d, h->id, &h->r.fwd, &h->r.back, 0,
				 &h->epoch);
		}
	}
	for (o = d->origins; o; o = onext) {
		onext = o->next;
		switch (o->state) {
		case MAQD_BUILDING:
			if (now >= o->deadline_ms) {
				snprintf(why, sizeof(why),
					 "hop 1 (%s): no answer",
					 maqd_id_hex(o->path[0], hex));
				maqd_live_setup_failed(d, o, 1);
				origin_failed(d, o, ETIMEDOUT, why);
			}
			break;
		case MAQD_CLOSING:
			if (now >= o->deadline_ms) {
				log_info("circuit %u: no DESTROYED from hop %d, going on",
					 o->id, o->closing_hop + 1);
				o->closing_hop--;
				origin_close_step(d, o);
			}
			break;
		default:
			if (o->pending_phase >= 0 && !o->adopted &&
			    now >= o->key_due_ms) {
				o->pending_phase = -2;	/* done for it */
				rotate_origin(d, o);
			}
			break;
		}
	}
	wants_tick(d, now);
	maqd_live_tick(d, now);
}

/* --- wants, reconciliation, shutdown ----------------------------------------- */

struct maqd_want *maqd_want_add(struct maqd *d, const char *to,
				unsigned int hops,
				const char (*via)[MAQ_IPC_MAX_VALUE + 1],
				unsigned int n_via, u32 lifetime)
{
	struct maqd_want *w = calloc(1, sizeof(*w));
	unsigned int i;

	if (!w)
		return NULL;
	snprintf(w->to, sizeof(w->to), "%s", to);
	w->hops = hops;
	w->n_via = n_via;
	for (i = 0; i < n_via; i++)
		snprintf(w->via[i], sizeof(w->via[i]), "%s", via[i]);
	w->lifetime = lifetime;
	w->next = d->wants;
	d->wants = w;
	return w;
}

void maqd_conn_forget(struct maqd *d, struct maqd_conn *c)
{
	struct maqd_origin *o;

	for (o = d->origins; o; o = o->next)
		if (o->waiter == c)
			o->waiter = NULL;
}

static void adopt(struct maqd *d, const struct maq_circuit *c)
{
	struct maqd_origin *o;
	struct maqd_hop *h;
	char p[64];

	if (c->role == MAQUIS_ROLE_ORIGIN) {
		o = calloc(1, sizeof(*o));
		if (!o)
			return;
		o->id = c->id;
		o->n = c->n_hops;
		o->adopted = true;
		o->state = MAQD_UP;
		o->pending_phase = -1;
		o->lifetime = c->lifetime;
		o->built_ms = maqd_now_ms() - (u64)c->age * 1000;
		o->next = d->origins;
		d->origins = o;
		if (!c->n_routes) {
			origin_close(d, o, (int)o->n - 1);
			return;
		}
		o->to = c->routes[0];
		maq_prefix_str(&o->to, p, sizeof(p));
		/* a fresh circuit to the same place, then this one goes */
		o->want = maqd_want_add(d, p, d->conf.hops, NULL, 0,
					d->conf.lifetime);
		if (o->want)
			o->want->confirmed = true;
		log_info("adopted origin circuit %u to %s: replacing it",
			 c->id, p);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return;
	h->id = c->id;
	h->adopted = true;
	h->terminus = c->role == MAQUIS_ROLE_TERMINUS;
	h->any_token = true;
	h->prev = c->prev;
	h->r.next = c->next;
	h->r.lifetime = c->lifetime;
	h->pending_phase = -1;
	h->created_ms = maqd_now_ms() - (u64)c->age * 1000;
	if (h->terminus && c->n_routes)
		h->r.route.prefix = c->routes[0];
	h->next = d->hops;
	d->hops = h;
	/* the operator made this host a client since: it relays no more */
	if (c->role == MAQUIS_ROLE_RELAY && d->conf.role != MAQ_CONF_RELAY) {
		log_info("relay hop of circuit %u from a run as a relay: removed, this host relays no more",
			 c->id);
		maqd_hop_remove(d, h);
		return;
	}
	log_info("adopted %s hop of circuit %u until it expires",
		 maq_role_name(c->role), c->id);
}

int maqd_reconcile(struct maqd *d)
{
	struct maqd_origin *o, *onext;
	struct maqd_hop *h, *hnext;
	struct maq_circuit *cs = NULL;
	size_t n = 0, i;
	int ret;

	ret = maq_dp_circuit_dump(d->dp, &cs, &n);
	if (ret) {
		log_err("circuit dump: %s: %s", strerror(-ret),
			maq_dp_errmsg(d->dp));
		return ret;
	}
	/* what the kernel no longer holds is gone (events were lost) */
	for (o = d->origins; o; o = onext) {
		onext = o->next;
		if (!o->id)
			continue;
		for (i = 0; i < n && cs[i].id != o->id; i++)
			;
		if (i == n)
			origin_free(d, o);
	}
	for (h = d->hops; h; h = hnext) {
		hnext = h->next;
		if (!h->id)
			continue;
		for (i = 0; i < n && cs[i].id != h->id; i++)
			;
		if (i == n)
			hop_free(d, h);
	}
	for (i = 0; i < n; i++)
		if (!id_in_use(d, cs[i].id))
			adopt(d, &cs[i]);
	for (i = 0; i < n; i++)
		maq_circuit_wipe(&cs[i]);
	free(cs);
	return 0;
}

void maqd_shutdown(struct maqd *d)
{
	struct maqd_want *w;
	int k;

	/*
	 * DESTROY to every hop, innermost first, without waiting: the cells
	 * leave in order on one path, and a lost one costs a lifetime.
	 */
	while (d->origins) {
		struct maqd_origin *o = d->origins;

		if (o->id) {
			for (k = (int)o->n - 1; k >= 0; k--)
				ctl_send(d, o->id, (u8)k, MAQ_HOPCTL_DESTROY,
					 randombytes_random());
			maq_dp_circuit_del(d->dp, o->id);
		}
		origin_free(d, o);
	}
	while (d->hops) {
		struct maqd_hop *h = d->hops;

		if (h->id) {
			ctl_send(d, h->id, 0, MAQ_HOPCTL_DESTROYED,
				 randombytes_random());
			maq_dp_circuit_del(d->dp, h->id);
		} else {
			refuse(d, &h->prev, h->prev_handle, h->r.reply_key,
			       MAQ_SETUP_UNREACHABLE);
		}
		hop_free(d, h);
	}
	while ((w = d->wants)) {
		d->wants = w->next;
		free(w);
	}
	free(seen);
	seen = NULL;
}
