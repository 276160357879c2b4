// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace endpoint datapath (see endpoint.h): kmod/cell.c's origin and
 * terminus halves, with a TUN device for maq0 and UDP sockets for the
 * module's encapsulation sockets.  The function names follow cell.c's
 * where they do the same thing, so the two are easy to hold side by side;
 * docs/PROTOCOL.md is the authority for both.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* recvmmsg, sendmmsg */
#endif
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <sodium.h>

#include "crypto.h"
#include "endpoint.h"

/* As the module (kmod/circuit.h), see PROTOCOL 4-6. */
#define MAQ_DATA_CTR_LIMIT	(1ULL << 61)
#define MAQ_CTL_CTR_MIN		(1ULL << 62)
#define MAQ_KEY_SOFT_LIMIT	(1ULL << 39)
#define MAQ_KEY_HARD_LIMIT	(1ULL << 40)
#define MAQ_EPOCH_CELLS		(1ULL << 20)
#define MAQ_EPOCH_NS		(120ULL * 1000000000ULL)
#define MAQ_DEFAULT_LIFETIME	600
#define MAQ_REPLAY_BITS		256
#define MAQ_N_DROPS		(MAQUIS_DROP_KEY_LIMIT + 1)
#define NSEC			1000000000ULL

/* Cells (or TUN packets) moved per ready fd and run: keeps one busy fd from
 * starving the others, and amortises the syscalls (recvmmsg/sendmmsg).
 */
#define MAQ_EP_BATCH		32

/* Onion work area: header, then what layer.h calls buf. */
#define MAQ_WORK_LEN		(MAQ_PAD_LEN + MAQ_BODY_LEN + MAQ_TAG_LEN)
/* A received cell sits MAQ_PAD_LEN into its buffer: maq_onion_open() rebuilds
 * the dropped prefixes in front of it, as the module does in skb headroom.
 * Anything up to a jumbo datagram is read, to see that it is not a cell.
 */
#define MAQ_RX_ROOM		2048
#define MAQ_RX_LEN		(MAQ_PAD_LEN + MAQ_RX_ROOM)

struct maq_replay {
	uint64_t next;			/* highest accepted + 1; 0: none yet */
	uint64_t bits[MAQ_REPLAY_BITS / 64];	/* bit i: next - 1 - i seen */
};

struct maq_cnt {
	uint64_t cells_in;
	uint64_t cells_out;
	uint64_t ctl_up;
	uint64_t cover;
	uint64_t drops[MAQ_N_DROPS];
};

/* One direction, as struct maq_dir in kmod/circuit.h. */
struct maq_epdir {
	uint32_t cid;			/* receiving direction: incoming cid */
	uint8_t dir;
	uint8_t phase;			/* last phase opened (rx) or sealed (tx) */
	uint64_t ctr;			/* tx: the next cell counter */
	struct maq_replay replay;
	uint64_t tamper_ts, replay_ts;	/* ns */
	uint64_t tamper_n, replay_n;
	struct maq_cnt st;
};

#define MAQ_FRESH(dir, slot)	(1u << (2 * (dir) + (slot)))

struct maq_ephop {
	uint8_t key[2][2][MAQ_KEY_LEN];	/* [dir][slot] */
	uint8_t ctl_key[2][MAQ_KEY_LEN];
	uint64_t seq[2];		/* bases */
	uint64_t used[2][2];
	uint8_t valid[2];		/* per direction: slots holding a key */
	uint8_t ctl_valid;		/* bit dir: control key present */
	uint8_t fresh;
};

struct maq_epcirc {
	struct maq_epcirc *next;
	uint32_t id;
	uint8_t role;
	uint8_t n_hops;
	struct maq_epdir in[2];
	uint32_t cid_out[2];
	union maq_sockaddr peer[2];	/* [FWD] next hop, [BACK] previous */
	uint64_t expires, epoch_start;	/* monotonic ns */
	struct maq_ephop hops[MAQ_MAX_HOPS];
};

struct maq_eproute {
	struct maq_prefix p;		/* host bits cleared */
	struct maq_epcirc *c;
};

struct maq_txq {
	int n;
	struct mmsghdr m[MAQ_EP_BATCH];
	struct iovec iov[MAQ_EP_BATCH];
	union maq_sockaddr to[MAQ_EP_BATCH];
	struct maq_epcirc *c[MAQ_EP_BATCH];
	uint8_t dir[MAQ_EP_BATCH];
};

struct maq_ep {
	int tun, s4, s6;
	int ifindex;
	uint16_t port;
	uint64_t epoch_ns;
	struct maq_ep_hooks hooks;
	struct maq_epcirc *circs;
	struct maq_eproute *routes;	/* longest first, newest first */
	unsigned int n_routes, cap_routes;
	struct maq_cnt st;
	uint64_t last_gc;
	/* scratch, allocated once: keys pass through here, wiped on close */
	uint8_t (*tx)[MAQ_HDR_LEN + MAQ_WORK_LEN];
	uint8_t (*rx)[MAQ_RX_LEN];
	uint8_t ctlbuf[MAQ_HDR_LEN + MAQ_WORK_LEN];
	struct maq_hop_key try[MAQ_MAX_HOPS], data[MAQ_MAX_HOPS],
			   ctl[MAQ_MAX_HOPS];
	struct mmsghdr rxm[MAQ_EP_BATCH];
	struct iovec rxiov[MAQ_EP_BATCH];
	union maq_sockaddr rxfrom[MAQ_EP_BATCH];
	struct maq_txq q4, q6;
};

static uint64_t maq_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

static inline int maq_seq_slot(uint64_t seq)
{
	return !!(seq & MAQ_SEQ_PHASE);
}

static inline uint64_t maq_seq_make(int phase, uint64_t ctr)
{
	return (phase ? MAQ_SEQ_PHASE : 0) | (ctr & MAQ_SEQ_CTR_MASK);
}

static inline uint32_t maq_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t maq_get_be64(const uint8_t *p)
{
	return (uint64_t)maq_get_be32(p) << 32 | maq_get_be32(p + 4);
}

/* ---- replay window: kmod/circuit.c's, on a 256-bit bitmap ------------- */

static bool maq_replay_check(const struct maq_replay *r, uint64_t ctr)
{
	uint64_t back;

	if (ctr >= r->next)
		return true;
	back = r->next - 1 - ctr;
	if (back >= MAQ_REPLAY_BITS)
		return false;
	return !((r->bits[back / 64] >> (back % 64)) & 1);
}

/* bit i moves to bit i + n */
static void maq_bits_shl(uint64_t *b, uint64_t n)
{
	int w = n / 64, r = n % 64, i;

	if (n >= MAQ_REPLAY_BITS) {
		memset(b, 0, MAQ_REPLAY_BITS / 8);
		return;
	}
	for (i = MAQ_REPLAY_BITS / 64 - 1; i >= 0; i--) {
		uint64_t v = 0;

		if (i - w >= 0) {
			v = b[i - w] << r;
			if (r && i - w - 1 >= 0)
				v |= b[i - w - 1] >> (64 - r);
		}
		b[i] = v;
	}
}

/* Accept @ctr once: false if it is a replay or too old. */
static bool maq_replay_update(struct maq_replay *r, uint64_t ctr)
{
	uint64_t back;

	if (ctr >= r->next) {
		maq_bits_shl(r->bits, ctr + 1 - r->next);
		r->next = ctr + 1;
		r->bits[0] |= 1;
		return true;
	}
	back = r->next - 1 - ctr;
	if (back >= MAQ_REPLAY_BITS || ((r->bits[back / 64] >> (back % 64)) & 1))
		return false;
	r->bits[back / 64] |= 1ULL << (back % 64);
	return true;
}

/* ---- counters and events ---------------------------------------------- */

static void maq_event(struct maq_ep *ep, struct maq_epcirc *c, int event,
		      int dir, int phase, int hop, uint64_t count)
{
	if (ep->hooks.event)
		ep->hooks.event(ep->hooks.arg, c->id, event, dir, phase, hop,
				count);
}

/* Count a drop on the device and the circuit; report tampering, replays
 * (once a second and direction, with the count since, as the module).
 */
static void maq_dir_drop(struct maq_ep *ep, struct maq_epcirc *c,
			 struct maq_epdir *d, enum maquis_drop why)
{
	uint64_t now, n;

	ep->st.drops[why]++;
	d->st.drops[why]++;
	if (why != MAQUIS_DROP_BAD_TAG && why != MAQUIS_DROP_REPLAY)
		return;
	now = maq_now();
	if (why == MAQUIS_DROP_BAD_TAG) {
		n = ++d->tamper_n;
		if (now - d->tamper_ts < NSEC)
			return;
		d->tamper_n = 0;
		d->tamper_ts = now;
		maq_event(ep, c, MAQUIS_EVENT_TAMPER, d->dir, -1, -1, n);
	} else {
		n = ++d->replay_n;
		if (now - d->replay_ts < NSEC)
			return;
		d->replay_n = 0;
		d->replay_ts = now;
		maq_event(ep, c, MAQUIS_EVENT_REPLAY, d->dir, -1, -1, n);
	}
}

static bool maq_key_usable(const struct maq_epcirc *c, int hop, int dir,
			   int slot)
{
	const struct maq_ephop *h = &c->hops[hop];

	return (h->valid[dir] & (1u << slot)) &&
	       h->used[dir][slot] < MAQ_KEY_HARD_LIMIT;
}

static bool maq_key_use(struct maq_ep *ep, struct maq_epcirc *c, int hop,
			int dir, int slot)
{
	struct maq_ephop *h = &c->hops[hop];

	if (!maq_key_usable(c, hop, dir, slot))
		return false;
	if (++h->used[dir][slot] == MAQ_KEY_SOFT_LIMIT)
		maq_event(ep, c, MAQUIS_EVENT_KEY_LIMIT, dir, slot, hop,
			  MAQ_KEY_SOFT_LIMIT);
	return true;
}

static void maq_phase_seen(struct maq_ep *ep, struct maq_epcirc *c,
			   struct maq_epdir *d, int phase)
{
	if (d->phase == phase)
		return;
	d->phase = phase;
	maq_event(ep, c, MAQUIS_EVENT_KEY_PHASE, d->dir, phase, -1, 0);
}

/* ---- tables ------------------------------------------------------------ */

static struct maq_epcirc *maq_circ_find(struct maq_ep *ep, uint32_t id)
{
	struct maq_epcirc *c;

	for (c = ep->circs; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

/*
 * The receiving direction for @cid.  A list: an endpoint carries its own
 * user's few circuits, not a relay's thousands.
 */
static struct maq_epdir *maq_dir_lookup(struct maq_ep *ep, uint32_t cid,
					struct maq_epcirc **cp)
{
	struct maq_epcirc *c;

	for (c = ep->circs; c; c = c->next) {
		if (c->role != MAQUIS_ROLE_ORIGIN &&
		    c->in[MAQUIS_DIR_FWD].cid == cid) {
			*cp = c;
			return &c->in[MAQUIS_DIR_FWD];
		}
		if (c->role == MAQUIS_ROLE_ORIGIN &&
		    c->in[MAQUIS_DIR_BACK].cid == cid) {
			*cp = c;
			return &c->in[MAQUIS_DIR_BACK];
		}
	}
	return NULL;
}

static void maq_prefix_mask(struct maq_prefix *p)
{
	uint8_t *a = p->family == AF_INET ? (uint8_t *)&p->addr.v4 :
					    p->addr.v6.s6_addr;
	int alen = p->family == AF_INET ? 4 : 16, i;

	for (i = 0; i < alen; i++) {
		int bits = (int)p->len - 8 * i;

		if (bits >= 8)
			continue;
		a[i] &= bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
	}
}

static bool maq_prefix_match(const struct maq_prefix *p, int family,
			     const uint8_t *addr)
{
	const uint8_t *a = p->family == AF_INET ? (const uint8_t *)&p->addr.v4 :
						  p->addr.v6.s6_addr;
	int full = p->len / 8, rest = p->len % 8;

	if (p->family != family || memcmp(a, addr, full))
		return false;
	return !rest || !((a[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rest)));
}

/* Longest prefix first; among equals the newest, as the module. */
static int maq_route_add(struct maq_ep *ep, const struct maq_prefix *p,
			 struct maq_epcirc *c)
{
	unsigned int i;

	if (ep->n_routes == ep->cap_routes) {
		unsigned int cap = ep->cap_routes ? 2 * ep->cap_routes : 16;
		struct maq_eproute *r = realloc(ep->routes, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		ep->routes = r;
		ep->cap_routes = cap;
	}
	for (i = 0; i < ep->n_routes; i++)
		if (ep->routes[i].p.len <= p->len)
			break;
	memmove(&ep->routes[i + 1], &ep->routes[i],
		(ep->n_routes - i) * sizeof(ep->routes[0]));
	ep->routes[i].p = *p;
	maq_prefix_mask(&ep->routes[i].p);
	ep->routes[i].c = c;
	ep->n_routes++;
	return 0;
}

static void maq_routes_drop(struct maq_ep *ep, const struct maq_epcirc *c)
{
	unsigned int i, j = 0;

	for (i = 0; i < ep->n_routes; i++)
		if (ep->routes[i].c != c)
			ep->routes[j++] = ep->routes[i];
	ep->n_routes = j;
}

static struct maq_epcirc *maq_route_lookup(struct maq_ep *ep, int family,
					   const uint8_t *daddr)
{
	unsigned int i;

	for (i = 0; i < ep->n_routes; i++)
		if (maq_prefix_match(&ep->routes[i].p, family, daddr))
			return ep->routes[i].c;
	return NULL;
}

static void maq_circ_free(struct maq_epcirc *c)
{
	sodium_memzero(c, sizeof(*c));
	free(c);
}

static void maq_circ_remove(struct maq_ep *ep, struct maq_epcirc *c)
{
	struct maq_epcirc **pp;

	for (pp = &ep->circs; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	maq_routes_drop(ep, c);
	maq_circ_free(c);
}

/* ---- circuits ---------------------------------------------------------- */

static bool maq_addr_ok(const union maq_sockaddr *a)
{
	return a->sa.sa_family == AF_INET || a->sa.sa_family == AF_INET6;
}

int maq_ep_add_circuit(struct maq_ep *ep, const struct maq_circuit *nc)
{
	const int fwd = MAQUIS_DIR_FWD, back = MAQUIS_DIR_BACK;
	/* a relay's part here is its control; its cells are the XDP's */
	const uint32_t need = nc->role == MAQUIS_ROLE_RELAY ?
		MAQ_HOP_FWD_CTL_KEY | MAQ_HOP_BACK_CTL_KEY :
		MAQ_HOP_FWD_KEY | MAQ_HOP_BACK_KEY;
	struct maq_epcirc *c, *tmp;
	uint64_t now = maq_now();
	unsigned int i;
	int err, rx;

	if (!nc->id || nc->n_hops < 1 || nc->n_hops > MAQ_MAX_HOPS ||
	    nc->n_routes > MAQ_NL_MAX_ROUTES)
		return -EINVAL;
	switch (nc->role) {
	case MAQUIS_ROLE_ORIGIN:
		if (!nc->fwd_cid_out || !nc->back_cid_in ||
		    !maq_addr_ok(&nc->next))
			return -EINVAL;
		rx = back;
		break;
	case MAQUIS_ROLE_TERMINUS:
	case MAQUIS_ROLE_RELAY:
		if (nc->n_hops != 1 || !nc->fwd_cid_in || !nc->back_cid_out ||
		    !maq_addr_ok(&nc->prev))
			return -EINVAL;
		rx = fwd;
		break;
	default:
		return -EOPNOTSUPP;
	}
	for (i = 0; i < nc->n_hops; i++)
		if ((nc->hops[i].has & need) != need)
			return -EINVAL;
	for (i = 0; i < nc->n_routes; i++) {
		const struct maq_prefix *p = &nc->routes[i];

		if ((p->family != AF_INET && p->family != AF_INET6) ||
		    p->len > (p->family == AF_INET ? 32 : 128))
			return -EINVAL;
	}
	if (maq_circ_find(ep, nc->id))
		return -EEXIST;
	if (maq_dir_lookup(ep, rx == fwd ? nc->fwd_cid_in : nc->back_cid_in,
			   &tmp))
		return -EEXIST;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->id = nc->id;
	c->role = nc->role;
	c->n_hops = nc->n_hops;
	c->in[fwd].dir = fwd;
	c->in[back].dir = back;
	c->in[fwd].cid = nc->fwd_cid_in;
	c->in[back].cid = nc->back_cid_in;
	c->cid_out[fwd] = nc->fwd_cid_out;
	c->cid_out[back] = nc->back_cid_out;
	c->peer[fwd] = nc->next;
	c->peer[back] = nc->prev;
	c->expires = now + (uint64_t)(nc->lifetime ? nc->lifetime :
				      MAQ_DEFAULT_LIFETIME) * NSEC;
	c->epoch_start = now;
	/* the first tamper or replay is reported at once */
	for (i = 0; i < 2; i++)
		c->in[i].tamper_ts = c->in[i].replay_ts = now - NSEC;

	for (i = 0; i < nc->n_hops; i++) {
		const struct maq_hop *s = &nc->hops[i];
		struct maq_ephop *h = &c->hops[i];

		if (nc->role != MAQUIS_ROLE_RELAY) {
			memcpy(h->key[fwd][0], s->fwd_key, MAQ_KEY_LEN);
			memcpy(h->key[back][0], s->back_key, MAQ_KEY_LEN);
			h->valid[fwd] = h->valid[back] = 1;
		}
		if (s->has & MAQ_HOP_FWD_CTL_KEY) {
			memcpy(h->ctl_key[fwd], s->fwd_ctl_key, MAQ_KEY_LEN);
			h->ctl_valid |= 1u << fwd;
		}
		if (s->has & MAQ_HOP_BACK_CTL_KEY) {
			memcpy(h->ctl_key[back], s->back_ctl_key, MAQ_KEY_LEN);
			h->ctl_valid |= 1u << back;
		}
		h->seq[fwd] = s->fwd_seq & MAQ_SEQ_CTR_MASK;
		h->seq[back] = s->back_seq & MAQ_SEQ_CTR_MASK;
	}

	for (i = 0; i < nc->n_routes; i++) {
		err = maq_route_add(ep, &nc->routes[i], c);
		if (err) {
			maq_routes_drop(ep, c);
			maq_circ_free(c);
			return err;
		}
	}
	c->next = ep->circs;
	ep->circs = c;
	return 0;
}

int maq_ep_del_circuit(struct maq_ep *ep, uint32_t id)
{
	struct maq_epcirc *c = maq_circ_find(ep, id);

	if (!c)
		return -ENOENT;
	maq_circ_remove(ep, c);
	return 0;
}

int maq_ep_key_set(struct maq_ep *ep, uint32_t id, int slot,
		   const struct maq_hop *hop)
{
	struct maq_epcirc *c = maq_circ_find(ep, id);
	struct maq_ephop *h;
	int dir;

	if (!c)
		return -ENOENT;
	if (slot < 0 || slot > 1 || hop->index >= c->n_hops ||
	    !(hop->has & MAQ_HOP_KEYS))
		return -EINVAL;
	h = &c->hops[hop->index];
	for (dir = 0; dir < 2; dir++) {
		int bit = dir ? MAQ_HOP_BACK_KEY : MAQ_HOP_FWD_KEY;
		int cbit = dir ? MAQ_HOP_BACK_CTL_KEY : MAQ_HOP_FWD_CTL_KEY;

		if (hop->has & bit) {
			memcpy(h->key[dir][slot], dir ? hop->back_key :
			       hop->fwd_key, MAQ_KEY_LEN);
			h->used[dir][slot] = 0;
			h->valid[dir] |= 1u << slot;
			h->fresh |= MAQ_FRESH(dir, slot);
		}
		/* control keys have one slot: these replace it */
		if (hop->has & cbit) {
			memcpy(h->ctl_key[dir], dir ? hop->back_ctl_key :
			       hop->fwd_ctl_key, MAQ_KEY_LEN);
			h->ctl_valid |= 1u << dir;
		}
	}
	return 0;
}

/* ---- output ------------------------------------------------------------ */

static int maq_sock_for(const struct maq_ep *ep, const union maq_sockaddr *to)
{
	return to->sa.sa_family == AF_INET ? ep->s4 : ep->s6;
}

static socklen_t maq_sa_len(const union maq_sockaddr *a)
{
	return a->sa.sa_family == AF_INET ? sizeof(a->in4) : sizeof(a->in6);
}

/* A failed send: the module counts it as no_route on the circuit. */
static void maq_out_failed(struct maq_ep *ep, struct maq_epcirc *c, int dir)
{
	struct maq_epdir *d = &c->in[dir];

	d->st.cells_out--;
	maq_dir_drop(ep, c, d, MAQUIS_DROP_NO_ROUTE);
}

static void maq_txq_flush(struct maq_ep *ep, struct maq_txq *q, int fd)
{
	int i = 0, n;

	while (i < q->n) {
		n = sendmmsg(fd, q->m + i, q->n - i, 0);
		if (n > 0) {
			ep->st.cells_out += n;
			i += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* The first one failed for a reason of its own (route,
		 * family, ...): drop it, go on with the rest.
		 */
		maq_out_failed(ep, q->c[i], q->dir[i]);
		i++;
	}
	q->n = 0;
}

static void maq_tx_flush(struct maq_ep *ep)
{
	if (ep->q4.n)
		maq_txq_flush(ep, &ep->q4, ep->s4);
	if (ep->q6.n)
		maq_txq_flush(ep, &ep->q6, ep->s6);
}

/* Queue the cell at @cell for @c's peer in @dir; sent by maq_tx_flush(). */
static void maq_cell_out(struct maq_ep *ep, struct maq_epcirc *c, int dir,
			 uint8_t *cell)
{
	const union maq_sockaddr *to = &c->peer[dir];
	struct maq_txq *q = to->sa.sa_family == AF_INET ? &ep->q4 : &ep->q6;
	int i;

	if (maq_sock_for(ep, to) < 0) {
		maq_out_failed(ep, c, dir);
		return;
	}
	if (q->n == MAQ_EP_BATCH)
		maq_tx_flush(ep);
	i = q->n++;
	q->to[i] = *to;
	q->iov[i].iov_base = cell;
	q->iov[i].iov_len = MAQ_CELL_SIZE;
	memset(&q->m[i], 0, sizeof(q->m[i]));
	q->m[i].msg_hdr.msg_name = &q->to[i];
	q->m[i].msg_hdr.msg_namelen = maq_sa_len(to);
	q->m[i].msg_hdr.msg_iov = &q->iov[i];
	q->m[i].msg_hdr.msg_iovlen = 1;
	q->c[i] = c;
	q->dir[i] = dir;
}

/* ---- receive ------------------------------------------------------------ */

/* Deliver an innermost plaintext @pt at a terminus or origin. */
static void maq_cell_deliver(struct maq_ep *ep, struct maq_epcirc *c,
			     struct maq_epdir *d, const uint8_t *pt)
{
	const struct maq_inner_hdr *ih = (const void *)(pt + MAQ_PAYLOAD_OFF);
	const uint8_t *inner = pt + MAQ_PAYLOAD_OFF + MAQ_INNER_HDR_LEN;
	unsigned int len = (unsigned int)pt[MAQ_PAYLOAD_OFF + 2] << 8 |
			   pt[MAQ_PAYLOAD_OFF + 3];

	switch (ih->type) {
	case MAQ_INNER_PAD:
		/* cover: counted in cells-in, and here */
		ep->st.cover++;
		d->st.cover++;
		return;
	case MAQ_INNER_KEEPALIVE:
	case MAQ_INNER_CTL:
		ep->st.ctl_up++;
		d->st.ctl_up++;
		if (ep->hooks.ctl)
			ep->hooks.ctl(ep->hooks.arg, c->id, -1,
				      pt + MAQ_PAYLOAD_OFF);
		return;
	case MAQ_INNER_IP:
		break;
	default:
		goto malformed;
	}

	/* the length must be the IP packet's own, as the module checks */
	if (len < 20 || len > MAQ_INNER_MTU)
		goto malformed;
	switch (inner[0] >> 4) {
	case 4:
		if ((inner[0] & 0x0f) < 5 ||
		    ((unsigned int)inner[2] << 8 | inner[3]) != len)
			goto malformed;
		break;
	case 6:
		if (len < 40 ||
		    ((unsigned int)inner[4] << 8 | inner[5]) + 40 != len)
			goto malformed;
		break;
	default:
		goto malformed;
	}
	/* A full TUN queue drops like a full backlog would. */
	if (write(ep->tun, inner, len) != (ssize_t)len)
		ep->st.drops[MAQUIS_DROP_NO_ROUTE]++;
	return;

malformed:
	maq_dir_drop(ep, c, d, MAQUIS_DROP_MALFORMED);
}

/* A forward cell opened with the control key: a message for this hop. */
static void maq_cell_ctl_here(struct maq_ep *ep, struct maq_epcirc *c,
			      struct maq_epdir *d, const uint8_t *pt,
			      uint64_t ctr)
{
	if (!maq_replay_update(&d->replay, ctr)) {
		maq_dir_drop(ep, c, d, MAQUIS_DROP_REPLAY);
		return;
	}
	d->st.cells_in++;
	ep->st.ctl_up++;
	d->st.ctl_up++;
	if (ep->hooks.ctl)
		ep->hooks.ctl(ep->hooks.arg, c->id, 0, pt + MAQ_PAYLOAD_OFF);
}

/*
 * Terminus, forward direction: replay check, open the layer with the slot
 * the phase names (or the control key), update the window, deliver.
 */
static void maq_rx_fwd(struct maq_ep *ep, struct maq_epcirc *c,
		       struct maq_epdir *d, uint8_t *cell)
{
	const int fwd = MAQUIS_DIR_FWD;
	struct maq_ephop *h = &c->hops[0];
	uint64_t seq = maq_get_be64(cell + MAQ_CID_LEN);
	uint64_t ctr = seq & MAQ_SEQ_CTR_MASK;
	int slot = maq_seq_slot(seq);
	uint8_t *body = cell + MAQ_HDR_LEN, *tag = body + MAQ_BODY_LEN;
	bool usable = maq_key_usable(c, 0, fwd, slot);

	if (!maq_replay_check(&d->replay, ctr)) {
		maq_dir_drop(ep, c, d, MAQUIS_DROP_REPLAY);
		return;
	}
	if (!usable || maq_layer_open(body, tag, h->key[fwd][slot], ctr, NULL)) {
		/* Not data: control addressed to this hop, or tampered. */
		if ((h->ctl_valid & (1u << fwd)) &&
		    !maq_layer_open(body, tag, h->ctl_key[fwd], ctr, NULL)) {
			maq_cell_ctl_here(ep, c, d, body, ctr);
			return;
		}
		maq_dir_drop(ep, c, d, usable ? MAQUIS_DROP_BAD_TAG :
						MAQUIS_DROP_KEY_LIMIT);
		return;
	}
	maq_replay_update(&d->replay, ctr);
	if (!maq_key_use(ep, c, 0, fwd, slot)) {
		maq_dir_drop(ep, c, d, MAQUIS_DROP_KEY_LIMIT);
		return;
	}
	maq_phase_seen(ep, c, d, slot);
	d->st.cells_in++;
	maq_cell_deliver(ep, c, d, body);
}

/*
 * Relay, forward: the XDP program relays this circuit's cells and passes
 * up what is addressed to this hop (its control key opens it) and what it
 * could not route.  Control goes to the daemon; a data cell here found no
 * neighbour in XDP and has nobody else to relay it: a no-route drop, as
 * the XDP counters call it, while the daemon asks for the neighbour.
 */
static void maq_rx_relay(struct maq_ep *ep, struct maq_epcirc *c,
			 struct maq_epdir *d, uint8_t *cell)
{
	const int fwd = MAQUIS_DIR_FWD;
	struct maq_ephop *h = &c->hops[0];
	uint64_t ctr = maq_get_be64(cell + MAQ_CID_LEN) & MAQ_SEQ_CTR_MASK;
	uint8_t *body = cell + MAQ_HDR_LEN, *tag = body + MAQ_BODY_LEN;

	if (!maq_replay_check(&d->replay, ctr)) {
		maq_dir_drop(ep, c, d, MAQUIS_DROP_REPLAY);
		return;
	}
	if ((h->ctl_valid & (1u << fwd)) &&
	    !maq_layer_open(body, tag, h->ctl_key[fwd], ctr, NULL)) {
		maq_cell_ctl_here(ep, c, d, body, ctr);
		return;
	}
	maq_dir_drop(ep, c, d, MAQUIS_DROP_NO_ROUTE);
}

/*
 * Origin, a backward cell with a counter in the control range: hop k
 * sealed it with its backward control key as the creator (PROTOCOL 6).
 * Try k = 1, 2, ...: once layer 1 fails under hop 1's data key no k can.
 */
static void maq_rx_origin_ctl(struct maq_ep *ep, struct maq_epcirc *c,
			      struct maq_epdir *d, const uint8_t *cell,
			      int slot, uint64_t ctr)
{
	const int back = MAQUIS_DIR_BACK, n = c->n_hops;
	const size_t off = maq_onion_fwd_off(n);
	uint8_t *buf = ep->ctlbuf + MAQ_HDR_LEN;
	int j, k, ret = -1;

	for (j = 0; j < n; j++) {
		struct maq_ephop *h = &c->hops[j];

		memcpy(ep->data[j].key, h->key[back][slot], MAQ_KEY_LEN);
		memcpy(ep->ctl[j].key, h->ctl_key[back], MAQ_KEY_LEN);
		ep->data[j].seq = (h->seq[back] + ctr) & MAQ_SEQ_CTR_MASK;
		ep->ctl[j].seq = ep->data[j].seq;
	}
	for (k = 1; k <= n; k++) {
		if (!(c->hops[k - 1].ctl_valid & (1u << back)))
			continue;
		memcpy(ep->try, ep->data, sizeof(ep->try[0]) * (k - 1));
		ep->try[k - 1] = ep->ctl[k - 1];
		memcpy(buf + off, cell + MAQ_HDR_LEN, MAQ_BODY_LEN + MAQ_TAG_LEN);
		ret = maq_onion_open(buf, ep->try, n, k);
		/*
		 * Only layer 1 is checked on the bytes as received: a failure
		 * there rules out every k; a later layer's failure only says
		 * this k restored the wrong prefix (PROTOCOL 3).
		 */
		if (!ret || (k > 1 && ret == -1))
			break;
	}
	if (ret) {
		maq_dir_drop(ep, c, d, MAQUIS_DROP_BAD_TAG);
	} else {
		d->st.cells_in++;
		ep->st.ctl_up++;
		d->st.ctl_up++;
		if (ep->hooks.ctl)
			ep->hooks.ctl(ep->hooks.arg, c->id, k - 1,
				      buf + MAQ_PAYLOAD_OFF);
	}
	sodium_memzero(ep->try, sizeof(ep->try));
	sodium_memzero(ep->data, sizeof(ep->data));
	sodium_memzero(ep->ctl, sizeof(ep->ctl));
	sodium_memzero(ep->ctlbuf, sizeof(ep->ctlbuf));
}

/*
 * Origin, backward direction: peel every layer (maq_onion_open), with the
 * replay window on the cell counter c = seq - base_1 (mod 2^63).  @cell has
 * MAQ_PAD_LEN bytes of room in front for the rebuilt prefixes.
 */
static void maq_rx_origin(struct maq_ep *ep, struct maq_epcirc *c,
			  struct maq_epdir *d, uint8_t *cell)
{
	const int back = MAQUIS_DIR_BACK, n = c->n_hops;
	struct maq_hop_key *hk = ep->try;
	uint64_t seq = maq_get_be64(cell + MAQ_CID_LEN);
	int slot = maq_seq_slot(seq), j;
	bool usable = true;
	uint64_t ctr;
	uint8_t *buf;

	ctr = ((seq & MAQ_SEQ_CTR_MASK) - c->hops[0].seq[back]) &
	      MAQ_SEQ_CTR_MASK;
	if (ctr >= MAQ_DATA_CTR_LIMIT) {
		maq_rx_origin_ctl(ep, c, d, cell, slot, ctr);
		return;
	}
	if (!maq_replay_check(&d->replay, ctr)) {
		maq_dir_drop(ep, c, d, MAQUIS_DROP_REPLAY);
		return;
	}
	for (j = 0; j < n; j++) {
		usable &= maq_key_usable(c, j, back, slot);
		memcpy(hk[j].key, c->hops[j].key[back][slot], MAQ_KEY_LEN);
		hk[j].seq = (c->hops[j].seq[back] + ctr) & MAQ_SEQ_CTR_MASK;
	}
	if (!usable) {
		sodium_memzero(hk, sizeof(hk[0]) * n);
		maq_dir_drop(ep, c, d, MAQUIS_DROP_KEY_LIMIT);
		return;
	}
	/* The received layer sits where maq_onion_open() expects it. */
	buf = cell + MAQ_HDR_LEN - maq_onion_fwd_off(n);
	j = maq_onion_open(buf, hk, n, n);
	sodium_memzero(hk, sizeof(hk[0]) * n);
	if (j) {
		maq_dir_drop(ep, c, d, MAQUIS_DROP_BAD_TAG);
		return;
	}
	maq_replay_update(&d->replay, ctr);
	for (j = 0; j < n; j++)
		maq_key_use(ep, c, j, back, slot);
	maq_phase_seen(ep, c, d, slot);
	d->st.cells_in++;
	maq_cell_deliver(ep, c, d, buf);
}

/* One datagram of @len bytes at @cell, from @from. */
static void maq_cell_rcv(struct maq_ep *ep, uint8_t *cell, size_t len,
			 const union maq_sockaddr *from)
{
	struct maq_epcirc *c;
	struct maq_epdir *d;
	uint32_t cid;

	if (len != MAQ_CELL_SIZE) {
		ep->st.drops[MAQUIS_DROP_MALFORMED]++;
		return;
	}
	ep->st.cells_in++;
	cid = maq_get_be32(cell);
	if (!cid) {
		if (ep->hooks.link)
			ep->hooks.link(ep->hooks.arg, from, cell);
		ep->st.ctl_up++;
		return;
	}
	d = maq_dir_lookup(ep, cid, &c);
	if (!d) {
		ep->st.drops[MAQUIS_DROP_UNKNOWN_CID]++;
		return;
	}
	if (c->role == MAQUIS_ROLE_RELAY)
		maq_rx_relay(ep, c, d, cell);
	else if (d->dir == MAQUIS_DIR_FWD)
		maq_rx_fwd(ep, c, d, cell);
	else
		maq_rx_origin(ep, c, d, cell);
}

static int maq_sock_rx(struct maq_ep *ep, int fd)
{
	int i, n;

	if (fd < 0)
		return 0;
	for (i = 0; i < MAQ_EP_BATCH; i++) {
		ep->rxiov[i].iov_base = ep->rx[i] + MAQ_PAD_LEN;
		ep->rxiov[i].iov_len = MAQ_RX_ROOM;
		memset(&ep->rxm[i], 0, sizeof(ep->rxm[i]));
		ep->rxm[i].msg_hdr.msg_iov = &ep->rxiov[i];
		ep->rxm[i].msg_hdr.msg_iovlen = 1;
		ep->rxm[i].msg_hdr.msg_name = &ep->rxfrom[i];
		ep->rxm[i].msg_hdr.msg_namelen = sizeof(ep->rxfrom[i]);
	}
	n = recvmmsg(fd, ep->rxm, MAQ_EP_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		size_t len = ep->rxm[i].msg_len;

		if (ep->rxm[i].msg_hdr.msg_flags & MSG_TRUNC)
			len = MAQ_RX_ROOM + 1;
		maq_cell_rcv(ep, ep->rx[i] + MAQ_PAD_LEN, len, &ep->rxfrom[i]);
	}
	/* plaintexts were in there */
	for (i = 0; i < n; i++)
		sodium_memzero(ep->rx[i], MAQ_PAD_LEN + MAQ_CELL_SIZE);
	return n;
}

/* ---- transmit ----------------------------------------------------------- */

/* Origin: may the circuit move to the other phase now? */
static void maq_origin_rotate(struct maq_ep *ep, struct maq_epcirc *c,
			      struct maq_epdir *d)
{
	int next = !d->phase, j;
	uint8_t want = MAQ_FRESH(MAQUIS_DIR_FWD, next) |
		       MAQ_FRESH(MAQUIS_DIR_BACK, next);
	uint64_t now;

	if (c->hops[0].used[MAQUIS_DIR_FWD][d->phase] < MAQ_EPOCH_CELLS) {
		now = maq_now();
		if (now - c->epoch_start < ep->epoch_ns)
			return;
	} else {
		now = maq_now();
	}
	/* Both directions of every hop hold new keys for the next phase. */
	for (j = 0; j < c->n_hops; j++)
		if ((c->hops[j].fresh & want) != want)
			return;
	for (j = 0; j < c->n_hops; j++)
		c->hops[j].fresh &= ~want;
	d->phase = next;
	c->epoch_start = now;
	maq_event(ep, c, MAQUIS_EVENT_KEY_PHASE, MAQUIS_DIR_FWD, next, -1, 0);
}

/*
 * Origin, forward: seal the plaintext at @buf (= @work + MAQ_HDR_LEN) as an
 * onion for hops 1..@k and queue it for the first hop.  @ctl: the innermost
 * layer uses hop k's forward control key.
 */
static int maq_tx_origin(struct maq_ep *ep, struct maq_epcirc *c,
			 uint8_t *work, int k, bool ctl)
{
	const int fwd = MAQUIS_DIR_FWD;
	struct maq_epdir *d = &c->in[fwd];
	struct maq_hop_key *hk = ep->try;
	uint8_t *buf = work + MAQ_HDR_LEN, *cell;
	bool ok = true;
	int j, phase;
	uint64_t ctr;

	if (!ctl)
		maq_origin_rotate(ep, c, d);
	phase = d->phase;
	ctr = d->ctr;
	for (j = 0; j < k; j++)
		ok &= maq_key_usable(c, j, fwd, phase);
	if (ctl && !(c->hops[k - 1].ctl_valid & (1u << fwd)))
		ok = false;
	if (!ok || ctr >= MAQ_DATA_CTR_LIMIT) {
		maq_dir_drop(ep, c, d, MAQUIS_DROP_KEY_LIMIT);
		return -ENOKEY;
	}
	d->ctr++;
	for (j = 0; j < k; j++) {
		struct maq_ephop *h = &c->hops[j];

		memcpy(hk[j].key, ctl && j == k - 1 ? h->ctl_key[fwd] :
		       h->key[fwd][phase], MAQ_KEY_LEN);
		hk[j].seq = (h->seq[fwd] + ctr) & MAQ_SEQ_CTR_MASK;
		maq_key_use(ep, c, j, fwd, phase);
	}
	d->st.cells_out++;

	maq_onion_seal(buf, hk, k);
	cell = buf + maq_onion_fwd_off(k) - MAQ_HDR_LEN;
	maq_cell_put_hdr(cell, c->cid_out[fwd], maq_seq_make(phase, hk[0].seq));
	sodium_memzero(hk, sizeof(hk[0]) * k);
	maq_cell_out(ep, c, fwd, cell);
	return 0;
}

/*
 * Terminus: seal the backward plaintext at @buf with one layer, data with
 * the phase of the last forward cell and the next backward counter, control
 * with the control key and a random counter in [2^62, 2^63).
 */
static int maq_tx_back(struct maq_ep *ep, struct maq_epcirc *c, uint8_t *work,
		       bool ctl)
{
	const int back = MAQUIS_DIR_BACK;
	struct maq_epdir *d = &c->in[back];
	struct maq_ephop *h = &c->hops[0];
	int phase = c->in[MAQUIS_DIR_FWD].phase;
	uint8_t *buf = work + MAQ_HDR_LEN;
	const uint8_t *key;
	uint64_t ctr;

	if (ctl) {
		if (!(h->ctl_valid & (1u << back))) {
			maq_dir_drop(ep, c, d, MAQUIS_DROP_KEY_LIMIT);
			return -ENOKEY;
		}
		key = h->ctl_key[back];
		ctr = MAQ_CTL_CTR_MIN | (((uint64_t)randombytes_random() << 32 |
					  randombytes_random()) &
					 (MAQ_CTL_CTR_MIN - 1));
	} else if (d->ctr < MAQ_DATA_CTR_LIMIT &&
		   maq_key_use(ep, c, 0, back, phase)) {
		key = h->key[back][phase];
		ctr = (h->seq[back] + d->ctr++) & MAQ_SEQ_CTR_MASK;
	} else {
		maq_dir_drop(ep, c, d, MAQUIS_DROP_KEY_LIMIT);
		return -ENOKEY;
	}
	d->st.cells_out++;
	maq_layer_seal(buf, buf + MAQ_BODY_LEN, key, ctr);
	maq_cell_put_hdr(work, c->cid_out[back], maq_seq_make(phase, ctr));
	maq_cell_out(ep, c, back, work);
	return 0;
}

/*
 * maq0's xmit: one packet read from the TUN device into a zeroed work
 * buffer (payload at MAQ_PAYLOAD_OFF + 4), into the circuit routing it.
 */
static void maq_tun_one(struct maq_ep *ep, uint8_t *work, size_t len)
{
	uint8_t *buf = work + MAQ_HDR_LEN;
	uint8_t *pkt = buf + MAQ_PAYLOAD_OFF + MAQ_INNER_HDR_LEN;
	struct maq_inner_hdr *ih = (void *)(buf + MAQ_PAYLOAD_OFF);
	struct maq_epcirc *c;
	int family;

	if (len > MAQ_INNER_MTU)
		goto malformed;
	if (len >= 20 && pkt[0] >> 4 == 4) {
		family = AF_INET;
		c = maq_route_lookup(ep, family, pkt + 16);
	} else if (len >= 40 && pkt[0] >> 4 == 6) {
		family = AF_INET6;
		c = maq_route_lookup(ep, family, pkt + 24);
	} else {
		goto malformed;
	}
	if (!c) {
		ep->st.drops[MAQUIS_DROP_NO_ROUTE]++;
		return;
	}
	ih->type = MAQ_INNER_IP;
	ih->flags = 0;
	ih->len = htons((uint16_t)len);
	if (c->role == MAQUIS_ROLE_ORIGIN)
		maq_tx_origin(ep, c, work, c->n_hops, false);
	else
		maq_tx_back(ep, c, work, false);
	return;

malformed:
	ep->st.drops[MAQUIS_DROP_MALFORMED]++;
}

static int maq_tun_rx(struct maq_ep *ep)
{
	int i, n = 0;
	ssize_t len;

	for (i = 0; i < MAQ_EP_BATCH; i++) {
		uint8_t *work = ep->tx[i];
		uint8_t *pkt = work + MAQ_HDR_LEN + MAQ_PAYLOAD_OFF +
			       MAQ_INNER_HDR_LEN;

		memset(work, 0, sizeof(ep->tx[0]));
		/* room for one byte more than the MTU: to see it is too big */
		len = read(ep->tun, pkt, MAQ_INNER_MTU + 1);
		if (len < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			maq_tx_flush(ep);
			return -errno;
		}
		n++;
		maq_tun_one(ep, work, len);
	}
	maq_tx_flush(ep);
	for (i = 0; i < n; i++)
		sodium_memzero(ep->tx[i], sizeof(ep->tx[0]));
	return n;
}

int maq_ep_send_ctl(struct maq_ep *ep, uint32_t id, int hop,
		    const uint8_t msg[MAQUIS_CTL_LEN])
{
	struct maq_epcirc *c = maq_circ_find(ep, id);
	uint8_t *work = ep->tx[0];
	int ret;

	if (!c)
		return -ENOENT;
	if (c->role == MAQUIS_ROLE_ORIGIN && (hop < 0 || hop >= c->n_hops))
		return -EINVAL;
	memset(work, 0, sizeof(ep->tx[0]));
	memcpy(work + MAQ_HDR_LEN + MAQ_PAYLOAD_OFF, msg, MAQUIS_CTL_LEN);
	if (c->role == MAQUIS_ROLE_ORIGIN)
		ret = maq_tx_origin(ep, c, work, hop + 1, true);
	else
		ret = maq_tx_back(ep, c, work, true);
	maq_tx_flush(ep);
	sodium_memzero(work, sizeof(ep->tx[0]));
	return ret;
}

int maq_ep_relay_phase(struct maq_ep *ep, uint32_t id, int phase)
{
	struct maq_epcirc *c = maq_circ_find(ep, id);

	if (!c || c->role != MAQUIS_ROLE_RELAY)
		return -ENOENT;
	c->in[MAQUIS_DIR_FWD].phase = !!phase;
	return 0;
}

int maq_ep_send_link(struct maq_ep *ep, const union maq_sockaddr *peer,
		     const uint8_t cell[MAQUIS_CELL_SIZE])
{
	int fd;

	if (!maq_addr_ok(peer))
		return -EINVAL;
	fd = maq_sock_for(ep, peer);
	if (fd < 0)
		return -EAFNOSUPPORT;
	if (sendto(fd, cell, MAQ_CELL_SIZE, 0, &peer->sa, maq_sa_len(peer)) !=
	    MAQ_CELL_SIZE)
		return -errno;
	ep->st.cells_out++;
	return 0;
}

/* ---- loop --------------------------------------------------------------- */

/* Once a second, as the module's gc work: remove what outlived itself. */
static void maq_gc(struct maq_ep *ep)
{
	uint64_t now = maq_now();
	struct maq_epcirc *c, *next;
	uint32_t id;

	if (now - ep->last_gc < NSEC)
		return;
	ep->last_gc = now;
	for (c = ep->circs; c; c = next) {
		next = c->next;
		if (now < c->expires)
			continue;
		id = c->id;
		maq_circ_remove(ep, c);
		if (ep->hooks.event)
			ep->hooks.event(ep->hooks.arg, id, MAQUIS_EVENT_EXPIRED,
					-1, -1, -1, 0);
	}
}

int maq_ep_fds(const struct maq_ep *ep, int fds[3])
{
	int n = 0;

	fds[n++] = ep->tun;
	if (ep->s4 >= 0)
		fds[n++] = ep->s4;
	if (ep->s6 >= 0)
		fds[n++] = ep->s6;
	return n;
}

int maq_ep_run_once(struct maq_ep *ep, int timeout_ms)
{
	struct pollfd pfd[3];
	int fds[3], n, i, r, done = 0;

	n = maq_ep_fds(ep, fds);
	for (i = 0; i < n; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	r = poll(pfd, n, timeout_ms);
	if (r < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		if (!(pfd[i].revents & (POLLIN | POLLERR)))
			continue;
		r = pfd[i].fd == ep->tun ? maq_tun_rx(ep) : maq_sock_rx(ep, pfd[i].fd);
		if (r < 0)
			return r;
		done += r;
	}
	maq_gc(ep);
	return done;
}

/* ---- counters ----------------------------------------------------------- */

static void maq_stats_fill(struct maq_stats *st, const struct maq_cnt *a,
			   const struct maq_cnt *b)
{
	int i;

	memset(st, 0, sizeof(*st));
	st->val[MAQUIS_A_STATS_CELLS_IN] = a->cells_in + (b ? b->cells_in : 0);
	st->val[MAQUIS_A_STATS_CELLS_OUT] = a->cells_out + (b ? b->cells_out : 0);
	st->val[MAQUIS_A_STATS_BYTES_IN] = st->val[MAQUIS_A_STATS_CELLS_IN] *
					   MAQ_CELL_SIZE;
	st->val[MAQUIS_A_STATS_BYTES_OUT] = st->val[MAQUIS_A_STATS_CELLS_OUT] *
					    MAQ_CELL_SIZE;
	st->val[MAQUIS_A_STATS_CTL_UP] = a->ctl_up + (b ? b->ctl_up : 0);
	for (i = 0; i < MAQ_N_DROPS; i++)
		st->val[MAQ_STATS_DROP(i)] = a->drops[i] + (b ? b->drops[i] : 0);
	for (i = MAQUIS_A_STATS_CELLS_IN; i <= MAQUIS_A_STATS_MAX; i++)
		st->present |= 1u << i;
}

int maq_ep_stats(const struct maq_ep *ep, uint32_t id, struct maq_stats *st,
		 uint64_t *cover)
{
	struct maq_epcirc *c;

	if (!id) {
		maq_stats_fill(st, &ep->st, NULL);
		if (cover)
			*cover = ep->st.cover;
		return 0;
	}
	c = maq_circ_find((struct maq_ep *)ep, id);
	if (!c)
		return -ENOENT;
	maq_stats_fill(st, &c->in[0].st, &c->in[1].st);
	if (cover)
		*cover = c->in[0].st.cover + c->in[1].st.cover;
	return 0;
}

int maq_ep_stats_reset(struct maq_ep *ep, uint32_t id)
{
	struct maq_epcirc *c;

	if (!id) {
		memset(&ep->st, 0, sizeof(ep->st));
		return 0;
	}
	c = maq_circ_find(ep, id);
	if (!c)
		return -ENOENT;
	memset(&c->in[0].st, 0, sizeof(c->in[0].st));
	memset(&c->in[1].st, 0, sizeof(c->in[1].st));
	return 0;
}

/* ---- open / close ------------------------------------------------------- */

static int maq_tun_open(const char *ifname, int *ifindex)
{
	struct ifreq ifr;
	int fd, s, err = 0;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		err = -errno;
		goto err_close;
	}

	/* MTU and up go through an ordinary socket's ioctls. */
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		err = -errno;
		goto err_close;
	}
	ifr.ifr_mtu = MAQ_INNER_MTU;
	if (ioctl(s, SIOCSIFMTU, &ifr) || ioctl(s, SIOCGIFFLAGS, &ifr)) {
		err = -errno;
	} else {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr))
			err = -errno;
	}
	close(s);
	if (err)
		goto err_close;
	*ifindex = if_nametoindex(ifr.ifr_name);
	return fd;

err_close:
	close(fd);
	return err;
}

/* Room for bursts: the loop reads in batches, the kernel queues between. */
static void maq_sock_bufs(int fd)
{
	int sz = 4 << 20;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/*
 * IPv4 and IPv6 sockets on @port, IPv6 v6only, as the module's (sends
 * block when the socket buffer is full: backpressure onto the TUN queue,
 * like a qdisc).  A host without IPv6 gets the IPv4 one only.
 */
static int maq_sock_open(int family, uint16_t port)
{
	union maq_sockaddr a;
	int fd, one = 1;

	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&a, 0, sizeof(a));
	if (family == AF_INET) {
		a.in4.sin_family = AF_INET;
		a.in4.sin_port = htons(port);
	} else {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons(port);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
			goto err;
	}
	if (bind(fd, &a.sa, maq_sa_len(&a)))
		goto err;
	maq_sock_bufs(fd);
	return fd;
err:
	one = -errno;
	close(fd);
	return one;
}

int maq_ep_open(struct maq_ep **epp, const char *ifname,
		const struct maq_ep_opts *opts)
{
	struct maq_ep *ep;
	int err;

	*epp = NULL;
	if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE)
		return -EINVAL;
	if (maq_crypto_init())
		return -EIO;
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	ep->tun = ep->s4 = ep->s6 = -1;
	ep->tx = calloc(MAQ_EP_BATCH, sizeof(ep->tx[0]));
	ep->rx = calloc(MAQ_EP_BATCH, sizeof(ep->rx[0]));
	if (!ep->tx || !ep->rx) {
		err = -ENOMEM;
		goto err;
	}
	ep->port = opts && opts->port ? opts->port : MAQ_DEFAULT_PORT;
	ep->epoch_ns = opts && opts->epoch_secs ?
		       (uint64_t)opts->epoch_secs * NSEC : MAQ_EPOCH_NS;
	if (opts)
		ep->hooks = opts->hooks;
	ep->last_gc = maq_now();

	ep->s4 = maq_sock_open(AF_INET, ep->port);
	if (ep->s4 < 0) {
		err = ep->s4;
		goto err;
	}
	ep->s6 = maq_sock_open(AF_INET6, ep->port);
	if (ep->s6 < 0 && ep->s6 != -EAFNOSUPPORT) {
		err = ep->s6;
		goto err;
	}
	ep->tun = maq_tun_open(ifname, &ep->ifindex);
	if (ep->tun < 0) {
		err = ep->tun;
		goto err;
	}
	*epp = ep;
	return 0;
err:
	maq_ep_close(ep);
	return err;
}

int maq_ep_ifindex(const struct maq_ep *ep)
{
	return ep->ifindex;
}

void maq_ep_close(struct maq_ep *ep)
{
	struct maq_epcirc *c, *next;

	if (!ep)
		return;
	for (c = ep->circs; c; c = next) {
		next = c->next;
		maq_circ_free(c);
	}
	free(ep->routes);
	if (ep->tun >= 0)
		close(ep->tun);
	if (ep->s4 >= 0)
		close(ep->s4);
	if (ep->s6 >= 0)
		close(ep->s6);
	if (ep->tx) {
		sodium_memzero(ep->tx, MAQ_EP_BATCH * sizeof(ep->tx[0]));
		free(ep->tx);
	}
	if (ep->rx) {
		sodium_memzero(ep->rx, MAQ_EP_BATCH * sizeof(ep->rx[0]));
		free(ep->rx);
	}
	sodium_memzero(ep, sizeof(*ep));
	free(ep);
}
