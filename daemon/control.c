// SPDX-License-Identifier: GPL-2.0
/*
 * maquisd's control socket (daemon/ipc.h): one request a connection, the
 * reply, then close.  A build is answered when the circuit is up or has
 * failed, so its connection waits in the list meanwhile.  Connections that
 * say nothing for CONN_IDLE_MS are closed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "maquisd.h"

#define CONN_MAX	32
#define CONN_IDLE_MS	10000

struct maqd_conn {
	struct maqd_conn *next;
	int fd;
	char buf[MAQ_IPC_MAX_REQUEST];
	size_t len;
	bool waiting;			/* a build answers it later */
	u64 deadline_ms;
	/* the reply being written */
	struct maq_ipc_out out;
	size_t sent;
};

int maqd_control_open(struct maqd *d)
{
	char err[256];
	int fd = maq_ipc_listen(d->conf.control, err, sizeof(err));

	if (fd < 0) {
		log_err("control socket: %s", err);
		return fd;
	}
	d->ctl_fd = fd;
	return 0;
}

static void conn_free(struct maqd *d, struct maqd_conn *c)
{
	struct maqd_conn **p;

	for (p = &d->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	maqd_conn_forget(d, c);
	maqd_alias_conn_forget(d, c);
	close(c->fd);
	maq_ipc_out_free(&c->out);
	free(c);
}

void maqd_control_close(struct maqd *d)
{
	while (d->conns)
		conn_free(d, d->conns);
	if (d->ctl_fd >= 0) {
		close(d->ctl_fd);
		unlink(d->conf.control);
		d->ctl_fd = -1;
	}
}

int maqd_control_poll(struct maqd *d, struct pollfd *pfd, unsigned int max)
{
	struct maqd_conn *c;
	unsigned int n = 0;

	if (d->ctl_fd >= 0 && n < max)
		pfd[n++] = (struct pollfd){ .fd = d->ctl_fd,
					    .events = POLLIN };
	for (c = d->conns; c && n < max; c = c->next) {
		if (c->waiting)
			continue;
		pfd[n++] = (struct pollfd){
			.fd = c->fd,
			.events = c->out.len ? POLLOUT : POLLIN,
		};
	}
	return (int)n;
}

/* Write what can be written; true when the connection is done with. */
static bool conn_flush(struct maqd_conn *c)
{
	ssize_t w;

	while (c->sent < c->out.len) {
		w = send(c->fd, c->out.buf + c->sent, c->out.len - c->sent,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0)
			return errno != EAGAIN && errno != EINTR;
		c->sent += (size_t)w;
	}
	return true;
}

void maqd_conn_reply(struct maqd *d, struct maqd_conn *c,
		     struct maq_ipc_out *o)
{
	maq_ipc_out_free(&c->out);
	c->out = *o;
	c->sent = 0;
	c->waiting = false;
	c->deadline_ms = maqd_now_ms() + CONN_IDLE_MS;
	if (c->out.err) {
		/* a reply we could not format: say so rather than nothing */
		maq_ipc_out_free(&c->out);
		maq_ipc_out_init(&c->out);
		maq_ipc_end(&c->out, EIO, "reply could not be formatted");
	}
	if (conn_flush(c))
		conn_free(d, c);
}

/* --- requests -------------------------------------------------------------- */

static void do_show(struct maqd *d, struct maq_ipc_out *o)
{
	char b[64], p[64];

	maq_ipc_put(o, "identity", "%s",
		    maqd_b64(d->id.pk, MAQ_ID_PK_LEN, b, sizeof(b)));
	maq_ipc_put(o, "onion", "%s",
		    maqd_b64(d->onion[0].pk, MAQ_ONION_LEN, b, sizeof(b)));
	maq_ipc_put(o, "role", "%s", maq_conf_role_name(d->conf.role));
	maq_ipc_put(o, "interface", "%s", d->conf.interface);
	maq_ipc_put(o, "listen", "%s",
		    maq_sockaddr_str(&d->listen, b, sizeof(b)));
	maq_ipc_put(o, "address", "%s", d->conf.address.family ?
		    maq_prefix_str(&d->conf.address, p, sizeof(p)) : "-");
	maq_ipc_put(o, "relays", "%zu", d->view.n);
	maq_ipc_put(o, "circuits", "%u", maqd_n_origins(d));
	maq_ipc_put(o, "serving", "%u", maqd_n_hops(d));
	maq_ipc_put(o, "uptime", "%llu", (unsigned long long)
		    ((maqd_now_ms() - d->started_ms) / 1000));
	maqd_dp_show(d, o);
}

static void do_relays(struct maqd *d, struct maq_ipc_out *o)
{
	char b[64], hex[2 * MAQ_FAMILY_LEN + 1];
	const struct maq_trust *t;
	u64 now = maqd_wall();
	size_t i;

	for (i = 0; i < d->view.n; i++) {
		const struct maq_desc *r = &d->view.relay[i].d;
		const char *flags = (r->flags & MAQ_DESC_F_RELAY) ?
			((r->flags & MAQ_DESC_F_EXIT) ? "relay,exit" : "relay") :
			((r->flags & MAQ_DESC_F_EXIT) ? "exit" : "-");

		maq_ipc_put(o, "relay", "%s",
			    maqd_b64(r->identity, MAQ_ID_PK_LEN, b, sizeof(b)));
		maq_ipc_put(o, "id", "%s", maqd_id_hex(r->identity, hex));
		maq_ipc_put(o, "addr", "%s",
			    maq_sockaddr_str(&r->addr[0], b, sizeof(b)));
		maq_ipc_put(o, "addr2", "%s",
			    maq_sockaddr_str(&r->addr[1], b, sizeof(b)));
		maq_ipc_put(o, "flags", "%s", flags);
		maq_ipc_put(o, "bandwidth", "%u", r->bandwidth);
		maq_ipc_put(o, "published", "%llu",
			    (unsigned long long)r->published);
		maq_ipc_put(o, "expires", "%llu",
			    (unsigned long long)r->expires);
		maq_ipc_put(o, "family", "%s",
			    sodium_is_zero(r->family, MAQ_FAMILY_LEN) ? "-" :
			    sodium_bin2hex(hex, sizeof(hex), r->family,
					   MAQ_FAMILY_LEN));
		maq_ipc_put(o, "prefix", "%s", r->prefix.family ?
			    maq_prefix_str(&r->prefix, b, sizeof(b)) : "-");
		maq_ipc_put(o, "self", "%d",
			    !memcmp(r->identity, d->id.pk, MAQ_ID_PK_LEN));
		t = maq_view_trust(&d->view, r->identity);
		maq_ipc_put(o, "worked", "%u", t ? t->ok : 0);
		maq_ipc_put(o, "blamed", "%u", t ? t->blamed : 0);
		maq_ipc_put(o, "avoided_for", "%llu", (unsigned long long)
			    maq_view_avoided(&d->view, r->identity, now));
	}
}

static void do_circuits(struct maqd *d, struct maq_ipc_out *o)
{
	const struct maqd_origin *c;
	const struct maqd_hop *h;
	char b[64], path[MAQ_MAX_HOPS * 17 + 1], hex[17];
	u64 now = maqd_now_ms();
	unsigned int i;

	for (c = d->origins; c; c = c->next) {
		if (!c->id)
			continue;
		maq_ipc_put(o, "circuit", "%u", c->id);
		maq_ipc_put(o, "role", "origin");
		maq_ipc_put(o, "state", "%s", maqd_state_name(c->state));
		maq_ipc_put(o, "age", "%llu",
			    (unsigned long long)((now - c->built_ms) / 1000));
		maq_ipc_put(o, "lifetime", "%u", c->lifetime);
		maq_ipc_put(o, "epoch", "%u", c->epoch);
		maq_ipc_put(o, "to", "%s", maq_prefix_str(&c->to, b, sizeof(b)));
		maq_ipc_put(o, "hops", "%u", c->n);
		path[0] = 0;
		for (i = 0; i < c->n && !c->adopted; i++) {
			if (i)
				strcat(path, ",");
			strcat(path, maqd_id_hex(c->path[i], hex));
		}
		maq_ipc_put(o, "path", "%s", *path ? path : "-");
	}
	for (h = d->hops; h; h = h->next) {
		if (!h->id)
			continue;
		maq_ipc_put(o, "circuit", "%u", h->id);
		maq_ipc_put(o, "role", "%s", h->terminus ? "terminus" : "relay");
		maq_ipc_put(o, "state", "up");
		maq_ipc_put(o, "age", "%llu",
			    (unsigned long long)((now - h->created_ms) / 1000));
		maq_ipc_put(o, "lifetime", "%u", h->r.lifetime);
		maq_ipc_put(o, "epoch", "%u", h->epoch);
		maq_ipc_put(o, "prev", "%s",
			    maq_sockaddr_str(&h->prev, b, sizeof(b)));
		maq_ipc_put(o, "next", "%s", h->terminus ? "-" :
			    maq_sockaddr_str(&h->r.next, b, sizeof(b)));
	}
}

static void do_stats(struct maqd *d, struct maq_ipc_out *o)
{
	const struct maqd_stats *s = &d->st;
	int i;

#define P(name, v) maq_ipc_put(o, name, "%llu", (unsigned long long)(v))
	P("gossip.sent", s->gossip_sent);
	P("gossip.received", s->gossip_received);
	P("gossip.bad", s->gossip_bad);
	P("desc.accepted", d->view.accepted);
	P("desc.updated", d->view.updated);
	P("desc.stale", d->view.stale);
	P("desc.expired", d->view.expired);
	P("desc.full", d->view.full);
	for (i = 1; i < MAQ_DESC_N_ERRS; i++) {
		char k[64];

		snprintf(k, sizeof(k), "desc.rejected.%s", maq_desc_err_name(i));
		P(k, d->view.rejected[i]);
	}
	P("setup.create.received", s->create_received);
	for (i = 1; i < MAQ_CREATE_N_ERRS; i++) {
		char k[64];

		snprintf(k, sizeof(k), "setup.create.refused.%s",
			 maq_create_err_name(i));
		P(k, s->create_refused[i]);
	}
	P("setup.create.replayed", s->create_replayed);
	P("setup.create.no-capacity", s->create_no_capacity);
	P("setup.create.route-taken", s->create_route_taken);
	P("setup.relay.ok", s->relay_built);
	P("setup.relay.failed", s->relay_failed);
	P("setup.terminus.ok", s->terminus_built);
	P("setup.origin.ok", s->origin_ok);
	P("setup.origin.failed", s->origin_failed);
	P("teardown.destroy.sent", s->destroy_sent);
	P("teardown.destroy.received", s->destroy_received);
	P("keys.rotations", s->rotations);
	P("events.tamper", s->events_tamper);
	P("events.replay", s->events_replay);
	P("events.expired", s->events_expired);
	P("events.lost", s->events_lost);
	P("control.bad", s->ctl_bad);
	P("live.keepalive.sent", s->live_pings);
	P("live.pong.received", s->live_pongs);
	P("live.pong.stale", s->live_pongs_stale);
	P("live.ping.answered", s->live_answered);
	P("live.probes", s->live_probes);
	P("live.probes.all-answered", s->live_false_alarms);
	P("live.circuits.failed", s->live_failed);
	P("live.circuits.replaced", s->live_replaced);
	P("live.hops.upstream-silent", s->live_hops_silent);
	P("trust.blames", s->trust_blames);
	P("trust.avoided", s->trust_avoided);
#undef P
}

static void handle(struct maqd *d, struct maqd_conn *c)
{
	struct maq_ipc_req req;
	struct maq_ipc_out out;
	struct maqd_want *w;
	char err[256];
	int ret;

	maq_ipc_out_init(&out);
	ret = maq_ipc_request_parse(&req, c->buf, c->len, err, sizeof(err));
	if (ret) {
		maq_ipc_end(&out, -ret, err);
		maqd_conn_reply(d, c, &out);
		return;
	}
	switch (req.cmd) {
	case MAQ_IPC_SHOW:
		do_show(d, &out);
		break;
	case MAQ_IPC_RELAYS:
		do_relays(d, &out);
		break;
	case MAQ_IPC_CIRCUITS:
		do_circuits(d, &out);
		break;
	case MAQ_IPC_STATS:
		do_stats(d, &out);
		break;
	case MAQ_IPC_DESTROY:
		ret = maqd_destroy(d, req.id, err, sizeof(err));
		if (ret) {
			maq_ipc_end(&out, -ret, err);
			maqd_conn_reply(d, c, &out);
			return;
		}
		break;
	case MAQ_IPC_ALIAS_NEW:
	case MAQ_IPC_ALIAS_PUBLISH:
	case MAQ_IPC_ALIAS_LIST:
		ret = maqd_alias_request(d, &req, c, &out, err, sizeof(err));
		if (ret < 0) {
			maq_ipc_end(&out, -ret, err);
			maqd_conn_reply(d, c, &out);
			return;
		}
		break;
	case MAQ_IPC_BUILD:
		if (maq_alias_form(req.to)) {
			ret = maqd_alias_request(d, &req, c, &out, err,
						 sizeof(err));
			if (ret < 0) {
				maq_ipc_end(&out, -ret, err);
				maqd_conn_reply(d, c, &out);
				return;
			}
			c->waiting = true;
			/* the rendezvous's own timeout answers in time */
			c->deadline_ms = maqd_now_ms() + MAQD_ALIAS_WAIT_MS +
					 MAQD_ORIGIN_WAIT_MS;
			maq_ipc_out_free(&out);
			return;
		}
		w = maqd_want_add(d, req.to, req.hops ? req.hops :
				  d->conf.hops, req.via, req.n_via,
				  req.lifetime ? req.lifetime :
				  d->conf.lifetime);
		if (!w) {
			maq_ipc_end(&out, ENOMEM, "out of memory");
			maqd_conn_reply(d, c, &out);
			return;
		}
		ret = maqd_build(d, w, c, err, sizeof(err));
		if (ret) {
			/* nothing was started: forget the destination */
			d->wants = w->next;
			free(w);
			maq_ipc_end(&out, -ret, err);
			maqd_conn_reply(d, c, &out);
			return;
		}
		c->waiting = true;
		/* the origin's own timeout answers in time */
		c->deadline_ms = maqd_now_ms() + 2 * MAQD_ORIGIN_WAIT_MS;
		maq_ipc_out_free(&out);
		return;
	}
	maq_ipc_end(&out, 0, NULL);
	maqd_conn_reply(d, c, &out);
}

/* True when the request's empty line has arrived. */
static bool request_complete(const struct maqd_conn *c)
{
	return c->len >= 2 && c->buf[c->len - 1] == '\n' &&
	       c->buf[c->len - 2] == '\n';
}

static void conn_read(struct maqd *d, struct maqd_conn *c)
{
	struct maq_ipc_out out;
	ssize_t r;

	r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len,
		 MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		conn_free(d, c);
		return;
	}
	c->len += (size_t)r;
	if (request_complete(c)) {
		handle(d, c);
		return;
	}
	if (c->len == sizeof(c->buf)) {
		maq_ipc_out_init(&out);
		maq_ipc_end(&out, EMSGSIZE, "request too long");
		maqd_conn_reply(d, c, &out);
	}
}

static void conn_accept(struct maqd *d)
{
	struct maqd_conn *c;
	unsigned int n = 0;
	int fd;

	fd = accept4(d->ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (c = d->conns; c; c = c->next)
		n++;
	if (n >= CONN_MAX || !maq_ipc_peer_ok(fd)) {
		if (n < CONN_MAX)
			log_warn("control: refused a peer that is neither root nor us");
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	maq_ipc_out_init(&c->out);
	c->deadline_ms = maqd_now_ms() + CONN_IDLE_MS;
	c->next = d->conns;
	d->conns = c;
}

void maqd_control_ready(struct maqd *d, const struct pollfd *pfd,
			unsigned int n)
{
	struct maqd_conn *c, *next;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (!pfd[i].revents)
			continue;
		if (pfd[i].fd == d->ctl_fd) {
			conn_accept(d);
			continue;
		}
		for (c = d->conns; c; c = next) {
			next = c->next;
			if (c->fd != pfd[i].fd || c->waiting)
				continue;
			if (c->out.len) {
				if (conn_flush(c))
					conn_free(d, c);
			} else {
				conn_read(d, c);
			}
			break;
		}
	}
}

void maqd_control_tick(struct maqd *d, u64 now_ms)
{
	struct maqd_conn *c, *next;

	for (c = d->conns; c; c = next) {
		next = c->next;
		if (now_ms >= c->deadline_ms)
			conn_free(d, c);
	}
}
