// SPDX-License-Identifier: GPL-2.0
/*
 * Client of the "maquis" generic netlink family, see nl.h.
 *
 * libnl builds the messages and resolves the family; sending and receiving
 * are done on its socket by hand, because libnl 3.7 turns kernel errors into
 * its own codes and drops the extended ack.  We ask for extended acks
 * (NETLINK_EXT_ACK) and capped error messages (NETLINK_CAP_ACK), match
 * replies by sequence number and port, and keep the last error's message.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/netlink.h>
#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/socket.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

#include "nl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif

/* Not every libc's linux/netlink.h knows the newest ones. */
enum {
	MAQ_NLMSGERR_ATTR_MSG = 1,
	MAQ_NLMSGERR_ATTR_OFFS = 2,
	MAQ_NLMSGERR_ATTR_MISS_TYPE = 5,
	MAQ_NLMSGERR_ATTR_MAX = 6,
};

struct maq_nl {
	struct nl_sock *sk;
	int family;
	int group;
	int timeout_ms;
	bool subscribed;

	/* last error */
	char errmsg[256];
	int err_off;
	int err_miss;

	maq_nl_rx_hook hook;
	void *hook_arg;

	/* receive buffers: replies, and events (with the unread rest of the
	 * last datagram, which a request in between must not overwrite)
	 */
	struct rxbuf {
		unsigned char *data;
		size_t size;
	} buf, evbuf;
	size_t evlen;
	size_t evoff;
};

/* --- handle ------------------------------------------------------------ */

static int nlerr_to_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case NLE_NOMEM:		return -ENOMEM;
	case NLE_OBJ_NOTFOUND:	return -ENOENT;
	case NLE_PERM:		return -EPERM;
	case NLE_NOACCESS:	return -EACCES;
	case NLE_INVAL:		return -EINVAL;
	case NLE_BAD_SOCK:	return -EBADF;
	case NLE_AGAIN:		return -EAGAIN;
	case NLE_INTR:		return -EINTR;
	case NLE_RANGE:		return -ERANGE;
	case NLE_MSGSIZE:	return -EMSGSIZE;
	case NLE_NOADDR:	return -EADDRNOTAVAIL;
	case NLE_EXIST:		return -EEXIST;
	case NLE_OPNOTSUPP:	return -EOPNOTSUPP;
	case NLE_BUSY:		return -EBUSY;
	case NLE_NODEV:		return -ENODEV;
	case NLE_PROTO_MISMATCH: return -EPROTONOSUPPORT;
	default:		return -EIO;
	}
}

static void clear_err(struct maq_nl *nl)
{
	nl->errmsg[0] = '\0';
	nl->err_off = -1;
	nl->err_miss = -1;
}

static void apply_timeout(struct maq_nl *nl)
{
	struct timeval tv = {
		.tv_sec = nl->timeout_ms / 1000,
		.tv_usec = (nl->timeout_ms % 1000) * 1000,
	};

	setsockopt(nl_socket_get_fd(nl->sk), SOL_SOCKET, SO_RCVTIMEO, &tv,
		   sizeof(tv));
}

int maq_nl_open(struct maq_nl **nlp)
{
	struct maq_nl *nl;
	int one = 1, fd, err;

	*nlp = NULL;
	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	clear_err(nl);
	nl->timeout_ms = 10000;
	nl->group = -1;
	nl->buf.size = nl->evbuf.size = 32768;
	nl->buf.data = malloc(nl->buf.size);
	nl->evbuf.data = malloc(nl->evbuf.size);
	nl->sk = nl_socket_alloc();
	if (!nl->buf.data || !nl->evbuf.data || !nl->sk) {
		err = -ENOMEM;
		goto fail;
	}
	err = genl_connect(nl->sk);
	if (err < 0) {
		err = errno ? -errno : nlerr_to_errno(err);
		goto fail;
	}
	fd = nl_socket_get_fd(nl->sk);
	/* Both are best effort: old kernels lack them, and we cope. */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));

	err = genl_ctrl_resolve(nl->sk, MAQUIS_FAMILY_NAME);
	if (err < 0) {
		err = nlerr_to_errno(err);
		goto fail;
	}
	nl->family = err;
	err = genl_ctrl_resolve_grp(nl->sk, MAQUIS_FAMILY_NAME,
				    MAQUIS_MCGRP_EVENTS);
	nl->group = err < 0 ? -1 : err;
	apply_timeout(nl);
	*nlp = nl;
	return 0;
fail:
	maq_nl_close(nl);
	return err;
}

void maq_nl_close(struct maq_nl *nl)
{
	if (!nl)
		return;
	if (nl->sk)
		nl_socket_free(nl->sk);
	if (nl->buf.data) {
		explicit_bzero(nl->buf.data, nl->buf.size);
		free(nl->buf.data);
	}
	if (nl->evbuf.data) {
		explicit_bzero(nl->evbuf.data, nl->evbuf.size);
		free(nl->evbuf.data);
	}
	free(nl);
}

int maq_nl_fd(const struct maq_nl *nl)
{
	return nl_socket_get_fd(nl->sk);
}

int maq_nl_family(const struct maq_nl *nl)
{
	return nl->family;
}

int maq_nl_events_group(const struct maq_nl *nl)
{
	return nl->group;
}

const char *maq_nl_errmsg(const struct maq_nl *nl)
{
	return nl->errmsg;
}

int maq_nl_err_offset(const struct maq_nl *nl)
{
	return nl->err_off;
}

int maq_nl_err_missing(const struct maq_nl *nl)
{
	return nl->err_miss;
}

void maq_nl_set_timeout(struct maq_nl *nl, int ms)
{
	nl->timeout_ms = ms < 0 ? 0 : ms;
	apply_timeout(nl);
}

void maq_nl_set_rx_hook(struct maq_nl *nl, maq_nl_rx_hook hook, void *arg)
{
	nl->hook = hook;
	nl->hook_arg = arg;
}

/* --- messages ---------------------------------------------------------- */

struct nl_msg *maq_nl_msg(struct maq_nl *nl, uint8_t cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, flags,
			 cmd, MAQUIS_FAMILY_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

void maq_nl_msg_free(struct nl_msg *msg)
{
	struct nlmsghdr *nlh;

	if (!msg)
		return;
	nlh = nlmsg_hdr(msg);
	/* The whole buffer: a failed nla_put may have written past len. */
	explicit_bzero(nlh, nlmsg_get_max_size(msg));
	nlmsg_free(msg);
}

/* Receives one datagram into @b.  Returns its length or -errno. */
static ssize_t rx(struct maq_nl *nl, struct rxbuf *b, int flags)
{
	int fd = nl_socket_get_fd(nl->sk);
	ssize_t n;

	for (;;) {
		n = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | flags);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN && !(flags & MSG_DONTWAIT) ?
				-ETIMEDOUT : -errno;
		if ((size_t)n > b->size) {
			unsigned char *p = malloc(n);

			if (!p)
				return -ENOMEM;
			explicit_bzero(b->data, b->size);
			free(b->data);
			b->data = p;
			b->size = n;
		}
		n = recv(fd, b->data, b->size, flags);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN && !(flags & MSG_DONTWAIT) ?
				-ETIMEDOUT : -errno;
		return n;
	}
}

static void parse_ack_tlvs(struct maq_nl *nl, const struct nlmsghdr *nlh,
			   size_t off)
{
	struct nlattr *tb[MAQ_NLMSGERR_ATTR_MAX + 1] = { NULL };
	size_t len;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || nlh->nlmsg_len <= off)
		return;
	len = nlh->nlmsg_len - off;
	if (nla_parse(tb, MAQ_NLMSGERR_ATTR_MAX,
		      (struct nlattr *)((char *)nlh + off), len, NULL) < 0)
		return;
	if (tb[MAQ_NLMSGERR_ATTR_MSG]) {
		size_t l = nla_len(tb[MAQ_NLMSGERR_ATTR_MSG]);

		if (l >= sizeof(nl->errmsg))
			l = sizeof(nl->errmsg) - 1;
		memcpy(nl->errmsg, nla_data(tb[MAQ_NLMSGERR_ATTR_MSG]), l);
		nl->errmsg[l] = '\0';
	}
	if (tb[MAQ_NLMSGERR_ATTR_OFFS] &&
	    nla_len(tb[MAQ_NLMSGERR_ATTR_OFFS]) == 4)
		nl->err_off = (int)nla_get_u32(tb[MAQ_NLMSGERR_ATTR_OFFS]);
	if (tb[MAQ_NLMSGERR_ATTR_MISS_TYPE] &&
	    nla_len(tb[MAQ_NLMSGERR_ATTR_MISS_TYPE]) == 4)
		nl->err_miss = (int)nla_get_u32(tb[MAQ_NLMSGERR_ATTR_MISS_TYPE]);
}

/* An NLMSG_ERROR: 0 for an ack, else -errno with the ext ack recorded. */
static int handle_error(struct maq_nl *nl, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	size_t off = NLMSG_HDRLEN + sizeof(*e);

	if (nlh->nlmsg_len < off)
		return -EBADMSG;
	if (!e->error)
		return 0;
	/* Uncapped: the whole request follows its header. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) &&
	    e->msg.nlmsg_len > sizeof(struct nlmsghdr))
		off += NLMSG_ALIGN(e->msg.nlmsg_len - sizeof(struct nlmsghdr));
	parse_ack_tlvs(nl, nlh, off);
	return e->error > 0 ? -e->error : e->error;
}

/* NLMSG_DONE of a dump: may carry the dump's error and an ext ack. */
static int handle_done(struct maq_nl *nl, const struct nlmsghdr *nlh)
{
	int err;

	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(int))
		return 0;
	memcpy(&err, NLMSG_DATA(nlh), sizeof(err));
	if (err < 0)
		parse_ack_tlvs(nl, nlh, NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(int)));
	return err > 0 ? -err : err;
}

int maq_nl_request(struct maq_nl *nl, struct nl_msg *msg, maq_nl_reply_cb cb,
		   void *arg)
{
	struct nlmsghdr *nlh;
	uint32_t seq, port;
	int fd, cb_err = 0;
	ssize_t n;

	clear_err(nl);
	if (!msg)
		return -ENOMEM;
	nl_complete_msg(nl->sk, msg);
	nlh = nlmsg_hdr(msg);
	seq = nlh->nlmsg_seq;
	port = nl_socket_get_local_port(nl->sk);
	fd = nl_socket_get_fd(nl->sk);
	do
		n = send(fd, nlh, nlh->nlmsg_len, 0);
	while (n < 0 && errno == EINTR);
	n = n < 0 ? -errno : 0;
	maq_nl_msg_free(msg);
	if (n < 0)
		return (int)n;

	for (;;) {
		unsigned char *p;
		int len, err;

		n = rx(nl, &nl->buf, 0);
		if (n < 0)
			return (int)n;
		p = nl->buf.data;
		len = (int)n;
		for (nlh = (struct nlmsghdr *)p; NLMSG_OK(nlh, len);
		     nlh = NLMSG_NEXT(nlh, len)) {
			if (nl->hook)
				nl->hook(nlh, nl->hook_arg);
			if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != port)
				continue;	/* stale, or a notification */
			switch (nlh->nlmsg_type) {
			case NLMSG_NOOP:
				continue;
			case NLMSG_ERROR:
				err = handle_error(nl, nlh);
				return err ? err : cb_err;
			case NLMSG_DONE:
				err = handle_done(nl, nlh);
				return err ? err : cb_err;
			case NLMSG_OVERRUN:
				return -EIO;
			default:
				/* A do reply is followed by its ack, a dump's
				 * parts by NLMSG_DONE: keep reading either way,
				 * even after a callback failed, to stay in sync.
				 */
				if (cb && !cb_err)
					cb_err = cb(nlh, arg);
			}
		}
	}
}

/* --- attribute helpers ------------------------------------------------- */

/* An addr nest; a zero port is left out (a local address may omit it). */
int maq_nl_put_addr(struct nl_msg *msg, int attr, const union maq_sockaddr *a)
{
	struct nlattr *nest;
	int err = 0;

	nest = nla_nest_start(msg, attr | NLA_F_NESTED);
	if (!nest)
		return -EMSGSIZE;
	switch (a->sa.sa_family) {
	case AF_INET:
		err = nla_put_u32(msg, MAQUIS_A_ADDR_IPV4, a->in4.sin_addr.s_addr);
		if (!err && a->in4.sin_port)
			err = nla_put_u16(msg, MAQUIS_A_ADDR_PORT, a->in4.sin_port);
		break;
	case AF_INET6:
		err = nla_put(msg, MAQUIS_A_ADDR_IPV6, 16, &a->in6.sin6_addr);
		if (!err && a->in6.sin6_port)
			err = nla_put_u16(msg, MAQUIS_A_ADDR_PORT, a->in6.sin6_port);
		break;
	default:
		nla_nest_cancel(msg, nest);
		return -EAFNOSUPPORT;
	}
	if (err) {
		nla_nest_cancel(msg, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(msg, nest);
	return 0;
}

int maq_nl_put_prefix(struct nl_msg *msg, int attr, const struct maq_prefix *p)
{
	struct nlattr *nest;
	int err;

	nest = nla_nest_start(msg, attr | NLA_F_NESTED);
	if (!nest)
		return -EMSGSIZE;
	if (p->family == AF_INET)
		err = nla_put_u32(msg, MAQUIS_A_PREFIX_IPV4, p->addr.v4.s_addr);
	else if (p->family == AF_INET6)
		err = nla_put(msg, MAQUIS_A_PREFIX_IPV6, 16, &p->addr.v6);
	else {
		nla_nest_cancel(msg, nest);
		return -EAFNOSUPPORT;
	}
	if (!err)
		err = nla_put_u8(msg, MAQUIS_A_PREFIX_LEN, p->len);
	if (err) {
		nla_nest_cancel(msg, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(msg, nest);
	return 0;
}

int maq_nl_put_hop(struct nl_msg *msg, const struct maq_hop *hop)
{
	struct nlattr *nest;
	int err = 0;

	nest = nla_nest_start(msg, MAQUIS_A_HOP | NLA_F_NESTED);
	if (!nest)
		return -EMSGSIZE;
	if (!(hop->has & MAQ_HOP_NO_INDEX))
		err |= nla_put_u8(msg, MAQUIS_A_HOP_INDEX, hop->index);
	if (hop->has & MAQ_HOP_FWD_KEY)
		err |= nla_put(msg, MAQUIS_A_HOP_FWD_KEY, MAQUIS_KEY_LEN,
			       hop->fwd_key);
	if (hop->has & MAQ_HOP_BACK_KEY)
		err |= nla_put(msg, MAQUIS_A_HOP_BACK_KEY, MAQUIS_KEY_LEN,
			       hop->back_key);
	if (hop->has & MAQ_HOP_FWD_CTL_KEY)
		err |= nla_put(msg, MAQUIS_A_HOP_FWD_CTL_KEY, MAQUIS_KEY_LEN,
			       hop->fwd_ctl_key);
	if (hop->has & MAQ_HOP_BACK_CTL_KEY)
		err |= nla_put(msg, MAQUIS_A_HOP_BACK_CTL_KEY, MAQUIS_KEY_LEN,
			       hop->back_ctl_key);
	if (hop->has & MAQ_HOP_FWD_SEQ)
		err |= nla_put_u64(msg, MAQUIS_A_HOP_FWD_SEQ, hop->fwd_seq);
	if (hop->has & MAQ_HOP_BACK_SEQ)
		err |= nla_put_u64(msg, MAQUIS_A_HOP_BACK_SEQ, hop->back_seq);
	if (err) {
		nla_nest_cancel(msg, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(msg, nest);
	return 0;
}

int maq_nl_put_circuit(struct nl_msg *msg, const struct maq_circuit *c)
{
	unsigned int i;
	int err = 0;

	if (c->ifindex)
		err |= nla_put_u32(msg, MAQUIS_A_IFINDEX, c->ifindex);
	if (c->id)
		err |= nla_put_u32(msg, MAQUIS_A_ID, c->id);
	err |= nla_put_u8(msg, MAQUIS_A_ROLE, c->role);
	if (c->fwd_cid_in)
		err |= nla_put_u32(msg, MAQUIS_A_FWD_CID_IN, c->fwd_cid_in);
	if (c->fwd_cid_out)
		err |= nla_put_u32(msg, MAQUIS_A_FWD_CID_OUT, c->fwd_cid_out);
	if (c->back_cid_in)
		err |= nla_put_u32(msg, MAQUIS_A_BACK_CID_IN, c->back_cid_in);
	if (c->back_cid_out)
		err |= nla_put_u32(msg, MAQUIS_A_BACK_CID_OUT, c->back_cid_out);
	if (c->lifetime)
		err |= nla_put_u32(msg, MAQUIS_A_LIFETIME, c->lifetime);
	if (c->e2e)
		err |= nla_put(msg, MAQUIS_A_E2E_KEY, sizeof(c->e2e_key),
			       c->e2e_key);
	if (err)
		return -EMSGSIZE;
	if (c->next.sa.sa_family != AF_UNSPEC) {
		err = maq_nl_put_addr(msg, MAQUIS_A_NEXT, &c->next);
		if (err)
			return err;
	}
	if (c->prev.sa.sa_family != AF_UNSPEC) {
		err = maq_nl_put_addr(msg, MAQUIS_A_PREV, &c->prev);
		if (err)
			return err;
	}
	if (c->n_hops > MAQUIS_MAX_HOPS || c->n_routes > MAQ_NL_MAX_ROUTES)
		return -E2BIG;
	for (i = 0; i < c->n_hops; i++) {
		err = maq_nl_put_hop(msg, &c->hops[i]);
		if (err)
			return err;
	}
	for (i = 0; i < c->n_routes; i++) {
		err = maq_nl_put_prefix(msg, MAQUIS_A_ROUTE, &c->routes[i]);
		if (err)
			return err;
	}
	return 0;
}

/* --- parsing ----------------------------------------------------------- */

#define for_each_attr(pos, head, len, rem) \
	for (pos = (head), rem = (len); nla_ok(pos, rem); \
	     pos = nla_next(pos, &(rem)))

static int get_u8(const struct nlattr *a, uint8_t *v)
{
	if (nla_len(a) != 1)
		return -EBADMSG;
	*v = *(const uint8_t *)nla_data(a);
	return 0;
}

static int get_u16(const struct nlattr *a, uint16_t *v)
{
	if (nla_len(a) != 2)
		return -EBADMSG;
	memcpy(v, nla_data(a), 2);
	return 0;
}

static int get_u32(const struct nlattr *a, uint32_t *v)
{
	if (nla_len(a) != 4)
		return -EBADMSG;
	memcpy(v, nla_data(a), 4);
	return 0;
}

static int get_u64(const struct nlattr *a, uint64_t *v)
{
	if (nla_len(a) != 8)
		return -EBADMSG;
	memcpy(v, nla_data(a), 8);
	return 0;
}

static int parse_addr(const struct nlattr *nest, union maq_sockaddr *a)
{
	const struct nlattr *pos;
	uint16_t port = 0;
	uint32_t v4 = 0;
	bool have4 = false, have6 = false;
	uint8_t v6[16] = { 0 };
	int rem;

	memset(a, 0, sizeof(*a));
	for_each_attr(pos, nla_data(nest), nla_len(nest), rem) {
		switch (nla_type(pos)) {
		case MAQUIS_A_ADDR_IPV4:
			if (get_u32(pos, &v4))
				return -EBADMSG;
			have4 = true;
			break;
		case MAQUIS_A_ADDR_IPV6:
			if (nla_len(pos) != 16)
				return -EBADMSG;
			memcpy(v6, nla_data(pos), 16);
			have6 = true;
			break;
		case MAQUIS_A_ADDR_PORT:
			if (get_u16(pos, &port))
				return -EBADMSG;
			break;
		}
	}
	if (have4 == have6)
		return -EBADMSG;
	if (have4) {
		a->in4.sin_family = AF_INET;
		a->in4.sin_addr.s_addr = v4;
		a->in4.sin_port = port;
	} else {
		a->in6.sin6_family = AF_INET6;
		memcpy(&a->in6.sin6_addr, v6, 16);
		a->in6.sin6_port = port;
	}
	return 0;
}

static int parse_prefix(const struct nlattr *nest, struct maq_prefix *p)
{
	const struct nlattr *pos;
	int rem;

	memset(p, 0, sizeof(*p));
	for_each_attr(pos, nla_data(nest), nla_len(nest), rem) {
		switch (nla_type(pos)) {
		case MAQUIS_A_PREFIX_IPV4:
			if (get_u32(pos, &p->addr.v4.s_addr))
				return -EBADMSG;
			p->family = AF_INET;
			break;
		case MAQUIS_A_PREFIX_IPV6:
			if (nla_len(pos) != 16)
				return -EBADMSG;
			memcpy(&p->addr.v6, nla_data(pos), 16);
			p->family = AF_INET6;
			break;
		case MAQUIS_A_PREFIX_LEN:
			if (get_u8(pos, &p->len))
				return -EBADMSG;
			break;
		}
	}
	return p->family ? 0 : -EBADMSG;
}

/* A hop nest in a reply or event: never carries keys, only what is public. */
static int parse_hop(const struct nlattr *nest, struct maq_hop *hop)
{
	const struct nlattr *pos;
	int rem;

	memset(hop, 0, sizeof(*hop));
	hop->has = MAQ_HOP_NO_INDEX;
	for_each_attr(pos, nla_data(nest), nla_len(nest), rem) {
		switch (nla_type(pos)) {
		case MAQUIS_A_HOP_INDEX:
			if (get_u8(pos, &hop->index))
				return -EBADMSG;
			hop->has &= ~MAQ_HOP_NO_INDEX;
			break;
		case MAQUIS_A_HOP_FWD_SEQ:
			if (get_u64(pos, &hop->fwd_seq))
				return -EBADMSG;
			hop->has |= MAQ_HOP_FWD_SEQ;
			break;
		case MAQUIS_A_HOP_BACK_SEQ:
			if (get_u64(pos, &hop->back_seq))
				return -EBADMSG;
			hop->has |= MAQ_HOP_BACK_SEQ;
			break;
		default:
			break;	/* keys are never sent; ignore anything else */
		}
	}
	return 0;
}

static int parse_stats(const struct nlattr *nest, struct maq_stats *st)
{
	const struct nlattr *pos;
	int rem, t;

	memset(st, 0, sizeof(*st));
	for_each_attr(pos, nla_data(nest), nla_len(nest), rem) {
		t = nla_type(pos);
		if (t <= MAQUIS_A_STATS_PAD || t > MAQUIS_A_STATS_MAX)
			continue;
		if (get_u64(pos, &st->val[t]))
			return -EBADMSG;
		st->present |= 1U << t;
	}
	return 0;
}

static const struct nlattr *attrs_of(const struct nlmsghdr *nlh, int *len)
{
	const struct genlmsghdr *g = NLMSG_DATA(nlh);

	if (nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN) {
		*len = 0;
		return NULL;
	}
	*len = (int)(nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN);
	return (const struct nlattr *)((const char *)g + GENL_HDRLEN);
}

int maq_nl_parse_dev(const struct nlmsghdr *nlh, struct maq_dev *dev)
{
	const struct nlattr *pos, *head;
	int rem, len, t, err = 0;

	memset(dev, 0, sizeof(*dev));
	head = attrs_of(nlh, &len);
	if (!head)
		return -EBADMSG;
	for_each_attr(pos, head, len, rem) {
		t = nla_type(pos);
		switch (t) {
		case MAQUIS_A_IFINDEX:
			err = get_u32(pos, &dev->ifindex);
			break;
		case MAQUIS_A_IFNAME: {
			size_t l = nla_len(pos);

			if (!l || ((const char *)nla_data(pos))[l - 1])
				return -EBADMSG;
			snprintf(dev->ifname, sizeof(dev->ifname), "%s",
				 (const char *)nla_data(pos));
			break;
		}
		case MAQUIS_A_PORT:
			err = get_u16(pos, &dev->port);
			break;
		case MAQUIS_A_LOCAL:
			err = parse_addr(pos, &dev->local);
			break;
		case MAQUIS_A_MAX_CIRCUITS:
			err = get_u32(pos, &dev->max_circuits);
			break;
		case MAQUIS_A_N_CIRCUITS:
			err = get_u32(pos, &dev->n_circuits);
			break;
		case MAQUIS_A_RELAY_RATE:
			err = get_u64(pos, &dev->relay_rate);
			break;
		case MAQUIS_A_RELAY_BURST:
			err = get_u32(pos, &dev->relay_burst);
			break;
		case MAQUIS_A_STATS:
			err = parse_stats(pos, &dev->stats);
			break;
		default:
			continue;
		}
		if (err)
			return err;
		dev->present |= 1ULL << t;
	}
	return 0;
}

int maq_nl_parse_circuit(const struct nlmsghdr *nlh, struct maq_circuit *c)
{
	const struct nlattr *pos, *head;
	int rem, len, t, err = 0;

	memset(c, 0, sizeof(*c));
	head = attrs_of(nlh, &len);
	if (!head)
		return -EBADMSG;
	for_each_attr(pos, head, len, rem) {
		t = nla_type(pos);
		switch (t) {
		case MAQUIS_A_IFINDEX:
			err = get_u32(pos, &c->ifindex);
			break;
		case MAQUIS_A_ID:
			err = get_u32(pos, &c->id);
			break;
		case MAQUIS_A_ROLE:
			err = get_u8(pos, &c->role);
			break;
		case MAQUIS_A_FWD_CID_IN:
			err = get_u32(pos, &c->fwd_cid_in);
			break;
		case MAQUIS_A_FWD_CID_OUT:
			err = get_u32(pos, &c->fwd_cid_out);
			break;
		case MAQUIS_A_BACK_CID_IN:
			err = get_u32(pos, &c->back_cid_in);
			break;
		case MAQUIS_A_BACK_CID_OUT:
			err = get_u32(pos, &c->back_cid_out);
			break;
		case MAQUIS_A_NEXT:
			err = parse_addr(pos, &c->next);
			break;
		case MAQUIS_A_PREV:
			err = parse_addr(pos, &c->prev);
			break;
		case MAQUIS_A_LIFETIME:
			err = get_u32(pos, &c->lifetime);
			break;
		case MAQUIS_A_AGE:
			err = get_u32(pos, &c->age);
			break;
		case MAQUIS_A_PHASE:
			err = get_u8(pos, &c->phase);
			break;
		case MAQUIS_A_JOIN:
			err = get_u32(pos, &c->join);
			break;
		case MAQUIS_A_STATS:
			err = parse_stats(pos, &c->stats);
			break;
		case MAQUIS_A_HOP:
			if (c->n_hops >= MAQUIS_MAX_HOPS)
				return -EBADMSG;
			err = parse_hop(pos, &c->hops[c->n_hops++]);
			break;
		case MAQUIS_A_ROUTE:
			if (c->n_routes >= MAQ_NL_MAX_ROUTES)
				return -E2BIG;
			err = parse_prefix(pos, &c->routes[c->n_routes++]);
			break;
		default:
			continue;
		}
		if (err)
			return err;
		c->present |= 1ULL << t;
	}
	return 0;
}

int maq_nl_parse_event(const struct nlmsghdr *nlh, struct maq_event *ev)
{
	const struct genlmsghdr *g = NLMSG_DATA(nlh);
	const struct nlattr *pos, *head;
	struct maq_hop hop;
	int rem, len, t, err = 0;

	memset(ev, 0, sizeof(*ev));
	ev->hop = -1;
	head = attrs_of(nlh, &len);
	if (!head)
		return -EBADMSG;
	ev->cmd = g->cmd;
	for_each_attr(pos, head, len, rem) {
		t = nla_type(pos);
		switch (t) {
		case MAQUIS_A_IFINDEX:
			err = get_u32(pos, &ev->ifindex);
			break;
		case MAQUIS_A_ID:
			err = get_u32(pos, &ev->id);
			break;
		case MAQUIS_A_EVENT:
			err = get_u8(pos, &ev->event);
			break;
		case MAQUIS_A_DIR:
			err = get_u8(pos, &ev->dir);
			break;
		case MAQUIS_A_PHASE:
			err = get_u8(pos, &ev->phase);
			break;
		case MAQUIS_A_HOP:
			err = parse_hop(pos, &hop);
			if (!err)
				ev->hop = (hop.has & MAQ_HOP_NO_INDEX) ?
					-1 : hop.index;
			break;
		case MAQUIS_A_COUNT:
			err = get_u64(pos, &ev->count);
			break;
		case MAQUIS_A_PEER:
			err = parse_addr(pos, &ev->peer);
			break;
		case MAQUIS_A_CELL:
			if (nla_len(pos) != MAQUIS_CELL_SIZE)
				return -EBADMSG;
			memcpy(ev->cell, nla_data(pos), MAQUIS_CELL_SIZE);
			break;
		case MAQUIS_A_CTL:
			if (nla_len(pos) != MAQUIS_CTL_LEN)
				return -EBADMSG;
			memcpy(ev->ctl, nla_data(pos), MAQUIS_CTL_LEN);
			break;
		default:
			continue;
		}
		if (err)
			return err;
		ev->present |= 1ULL << t;
	}
	return 0;
}

/* --- operations -------------------------------------------------------- */

static int dev_one_cb(const struct nlmsghdr *nlh, void *arg)
{
	return maq_nl_parse_dev(nlh, arg);
}

int maq_nl_dev_get(struct maq_nl *nl, uint32_t ifindex, struct maq_dev *dev)
{
	struct nl_msg *msg = maq_nl_msg(nl, MAQUIS_CMD_DEV_GET, 0);

	memset(dev, 0, sizeof(*dev));
	if (msg && ifindex && nla_put_u32(msg, MAQUIS_A_IFINDEX, ifindex)) {
		maq_nl_msg_free(msg);
		return -EMSGSIZE;
	}
	return maq_nl_request(nl, msg, dev_one_cb, dev);
}

struct vec {
	void *items;
	size_t n, cap, size;
	int (*parse)(const struct nlmsghdr *, void *);
};

static int vec_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct vec *v = arg;
	int err;

	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		void *p = realloc(v->items, cap * v->size);

		if (!p)
			return -ENOMEM;
		v->items = p;
		v->cap = cap;
	}
	err = v->parse(nlh, (char *)v->items + v->n * v->size);
	if (err)
		return err;
	v->n++;
	return 0;
}

static int parse_dev_v(const struct nlmsghdr *nlh, void *p)
{
	return maq_nl_parse_dev(nlh, p);
}

static int parse_circuit_v(const struct nlmsghdr *nlh, void *p)
{
	return maq_nl_parse_circuit(nlh, p);
}

int maq_nl_dev_dump(struct maq_nl *nl, struct maq_dev **devs, size_t *n)
{
	struct vec v = { .size = sizeof(**devs), .parse = parse_dev_v };
	int err;

	*devs = NULL;
	*n = 0;
	err = maq_nl_request(nl, maq_nl_msg(nl, MAQUIS_CMD_DEV_GET, NLM_F_DUMP),
			     vec_cb, &v);
	if (err) {
		free(v.items);
		return err;
	}
	*devs = v.items;
	*n = v.n;
	return 0;
}

int maq_nl_dev_set(struct maq_nl *nl, uint32_t ifindex, uint16_t port,
		   const union maq_sockaddr *local, uint32_t max_circuits)
{
	struct nl_msg *msg = maq_nl_msg(nl, MAQUIS_CMD_DEV_SET, 0);
	int err = 0;

	if (!msg)
		return -ENOMEM;
	if (ifindex)
		err |= nla_put_u32(msg, MAQUIS_A_IFINDEX, ifindex);
	if (port)
		err |= nla_put_u16(msg, MAQUIS_A_PORT, port);
	if (max_circuits)
		err |= nla_put_u32(msg, MAQUIS_A_MAX_CIRCUITS, max_circuits);
	if (!err && local)
		err = maq_nl_put_addr(msg, MAQUIS_A_LOCAL, local);
	if (err) {
		maq_nl_msg_free(msg);
		return err < 0 ? err : -EMSGSIZE;
	}
	return maq_nl_request(nl, msg, NULL, NULL);
}

int maq_nl_dev_set_rate(struct maq_nl *nl, uint32_t ifindex, uint64_t rate,
			uint32_t burst)
{
	struct nl_msg *msg = maq_nl_msg(nl, MAQUIS_CMD_DEV_SET, 0);
	int err = 0;

	if (!msg)
		return -ENOMEM;
	if (ifindex)
		err |= nla_put_u32(msg, MAQUIS_A_IFINDEX, ifindex);
	if (rate != MAQ_NL_RATE_KEEP)
		err |= nla_put_u64(msg, MAQUIS_A_RELAY_RATE, rate);
	if (burst)
		err |= nla_put_u32(msg, MAQUIS_A_RELAY_BURST, burst);
	if (err) {
		maq_nl_msg_free(msg);
		return -EMSGSIZE;
	}
	return maq_nl_request(nl, msg, NULL, NULL);
}

int maq_nl_circuit_new(struct maq_nl *nl, const struct maq_circuit *c)
{
	struct nl_msg *msg = maq_nl_msg(nl, MAQUIS_CMD_CIRCUIT_NEW, 0);
	int err;

	if (!msg)
		return -ENOMEM;
	err = maq_nl_put_circuit(msg, c);
	if (err) {
		maq_nl_msg_free(msg);
		return err;
	}
	return maq_nl_request(nl, msg, NULL, NULL);
}

static struct nl_msg *ifindex_id_msg(struct maq_nl *nl, uint8_t cmd, int flags,
				     uint32_t ifindex, uint32_t id)
{
	struct nl_msg *msg = maq_nl_msg(nl, cmd, flags);

	if (!msg)
		return NULL;
	if ((ifindex && nla_put_u32(msg, MAQUIS_A_IFINDEX, ifindex)) ||
	    (id && nla_put_u32(msg, MAQUIS_A_ID, id))) {
		maq_nl_msg_free(msg);
		return NULL;
	}
	return msg;
}

int maq_nl_circuit_del(struct maq_nl *nl, uint32_t ifindex, uint32_t id)
{
	return maq_nl_request(nl, ifindex_id_msg(nl, MAQUIS_CMD_CIRCUIT_DEL, 0,
						 ifindex, id), NULL, NULL);
}

int maq_nl_circuit_join(struct maq_nl *nl, uint32_t ifindex, uint32_t id,
			uint32_t join)
{
	struct nl_msg *msg = ifindex_id_msg(nl, MAQUIS_CMD_CIRCUIT_JOIN, 0,
					    ifindex, id);

	if (msg && nla_put_u32(msg, MAQUIS_A_JOIN, join)) {
		maq_nl_msg_free(msg);
		return -EMSGSIZE;
	}
	return maq_nl_request(nl, msg, NULL, NULL);
}

static int circuit_one_cb(const struct nlmsghdr *nlh, void *arg)
{
	return maq_nl_parse_circuit(nlh, arg);
}

int maq_nl_circuit_get(struct maq_nl *nl, uint32_t ifindex, uint32_t id,
		       struct maq_circuit *c)
{
	memset(c, 0, sizeof(*c));
	return maq_nl_request(nl, ifindex_id_msg(nl, MAQUIS_CMD_CIRCUIT_GET, 0,
						 ifindex, id),
			      circuit_one_cb, c);
}

int maq_nl_circuit_dump(struct maq_nl *nl, uint32_t ifindex,
			struct maq_circuit **cs, size_t *n)
{
	struct vec v = { .size = sizeof(**cs), .parse = parse_circuit_v };
	int err;

	*cs = NULL;
	*n = 0;
	err = maq_nl_request(nl, ifindex_id_msg(nl, MAQUIS_CMD_CIRCUIT_GET,
						NLM_F_DUMP, ifindex, 0),
			     vec_cb, &v);
	if (err) {
		free(v.items);
		return err;
	}
	*cs = v.items;
	*n = v.n;
	return 0;
}

int maq_nl_key_set(struct maq_nl *nl, uint32_t ifindex, uint32_t id,
		   uint8_t slot, const struct maq_hop *hop)
{
	struct nl_msg *msg = ifindex_id_msg(nl, MAQUIS_CMD_KEY_SET, 0,
					    ifindex, id);
	int err;

	if (!msg)
		return -ENOMEM;
	err = maq_nl_put_hop(msg, hop);
	if (!err && nla_put_u8(msg, MAQUIS_A_SLOT, slot))
		err = -EMSGSIZE;
	if (err) {
		maq_nl_msg_free(msg);
		return err;
	}
	return maq_nl_request(nl, msg, NULL, NULL);
}

int maq_nl_stats_reset(struct maq_nl *nl, uint32_t ifindex, uint32_t id)
{
	return maq_nl_request(nl, ifindex_id_msg(nl, MAQUIS_CMD_STATS_RESET, 0,
						 ifindex, id), NULL, NULL);
}

int maq_nl_cell_send(struct maq_nl *nl, uint32_t ifindex,
		     const union maq_sockaddr *peer,
		     const uint8_t cell[MAQUIS_CELL_SIZE])
{
	struct nl_msg *msg = ifindex_id_msg(nl, MAQUIS_CMD_CELL_SEND, 0,
					    ifindex, 0);
	int err;

	if (!msg)
		return -ENOMEM;
	err = maq_nl_put_addr(msg, MAQUIS_A_PEER, peer);
	if (!err && nla_put(msg, MAQUIS_A_CELL, MAQUIS_CELL_SIZE, cell))
		err = -EMSGSIZE;
	if (err) {
		maq_nl_msg_free(msg);
		return err;
	}
	return maq_nl_request(nl, msg, NULL, NULL);
}

int maq_nl_ctl_send(struct maq_nl *nl, uint32_t ifindex, uint32_t id,
		    uint8_t hop, const uint8_t ctl[MAQUIS_CTL_LEN])
{
	struct nl_msg *msg = ifindex_id_msg(nl, MAQUIS_CMD_CTL_SEND, 0,
					    ifindex, id);
	struct maq_hop h = { .index = hop };
	int err;

	if (!msg)
		return -ENOMEM;
	err = maq_nl_put_hop(msg, &h);
	if (!err && nla_put(msg, MAQUIS_A_CTL, MAQUIS_CTL_LEN, ctl))
		err = -EMSGSIZE;
	if (err) {
		maq_nl_msg_free(msg);
		return err;
	}
	return maq_nl_request(nl, msg, NULL, NULL);
}

/* --- events ------------------------------------------------------------ */

int maq_nl_subscribe(struct maq_nl *nl)
{
	int err;

	if (nl->group < 0)
		return -ENOENT;
	if (nl->subscribed)
		return 0;
	err = nl_socket_add_membership(nl->sk, nl->group);
	if (err < 0)
		return errno ? -errno : nlerr_to_errno(err);
	nl->subscribed = true;
	return 0;
}

int maq_nl_event_recv(struct maq_nl *nl, struct maq_event *ev, int timeout_ms)
{
	struct pollfd pfd = { .fd = nl_socket_get_fd(nl->sk), .events = POLLIN };
	const struct genlmsghdr *g;
	struct nlmsghdr *nlh;
	int len, r;
	ssize_t n;

	for (;;) {
		while (nl->evoff < nl->evlen) {
			nlh = (struct nlmsghdr *)(nl->evbuf.data + nl->evoff);
			len = (int)(nl->evlen - nl->evoff);
			if (!NLMSG_OK(nlh, len)) {
				nl->evoff = nl->evlen = 0;
				break;
			}
			nl->evoff += NLMSG_ALIGN(nlh->nlmsg_len);
			if (nl->hook)
				nl->hook(nlh, nl->hook_arg);
			if (nlh->nlmsg_type != nl->family ||
			    nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN)
				continue;
			g = NLMSG_DATA(nlh);
			if (g->cmd != MAQUIS_CMD_EVENT_NTF &&
			    g->cmd != MAQUIS_CMD_CELL_NTF)
				continue;
			r = maq_nl_parse_event(nlh, ev);
			if (r < 0)
				return r;
			return 1;
		}
		nl->evoff = nl->evlen = 0;
		do
			r = poll(&pfd, 1, timeout_ms);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -errno;
		if (r == 0)
			return 0;
		n = rx(nl, &nl->evbuf, MSG_DONTWAIT);
		if (n == -EAGAIN)
			continue;
		if (n < 0)
			return (int)n;
		nl->evlen = (size_t)n;
	}
}

/* --- helpers ----------------------------------------------------------- */

static const char *const stat_names[MAQUIS_A_STATS_MAX + 1] = {
	[MAQUIS_A_STATS_CELLS_IN] = "cells-in",
	[MAQUIS_A_STATS_CELLS_OUT] = "cells-out",
	[MAQUIS_A_STATS_BYTES_IN] = "bytes-in",
	[MAQUIS_A_STATS_BYTES_OUT] = "bytes-out",
	[MAQUIS_A_STATS_DROP_UNKNOWN_CID] = "drop-unknown-cid",
	[MAQUIS_A_STATS_DROP_BAD_TAG] = "drop-bad-tag",
	[MAQUIS_A_STATS_DROP_REPLAY] = "drop-replay",
	[MAQUIS_A_STATS_DROP_MALFORMED] = "drop-malformed",
	[MAQUIS_A_STATS_DROP_NO_ROUTE] = "drop-no-route",
	[MAQUIS_A_STATS_DROP_KEY_LIMIT] = "drop-key-limit",
	[MAQUIS_A_STATS_DROP_RATE] = "drop-rate",
	[MAQUIS_A_STATS_CTL_UP] = "ctl-up",
};

const char *maq_stat_name(int attr)
{
	if (attr < 0 || attr > MAQUIS_A_STATS_MAX)
		return NULL;
	return stat_names[attr];
}

const char *maq_role_name(int role)
{
	switch (role) {
	case MAQUIS_ROLE_ORIGIN:	return "origin";
	case MAQUIS_ROLE_RELAY:		return "relay";
	case MAQUIS_ROLE_TERMINUS:	return "terminus";
	default:			return "?";
	}
}

const char *maq_event_name(int event)
{
	switch (event) {
	case MAQUIS_EVENT_EXPIRED:	return "expired";
	case MAQUIS_EVENT_DELETED:	return "deleted";
	case MAQUIS_EVENT_KEY_PHASE:	return "key-phase";
	case MAQUIS_EVENT_KEY_LIMIT:	return "key-limit";
	case MAQUIS_EVENT_TAMPER:	return "tamper";
	case MAQUIS_EVENT_REPLAY:	return "replay";
	default:			return "?";
	}
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int maq_sockaddr_parse(const char *s, uint16_t port, union maq_sockaddr *a)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *p, *colon;
	size_t l;

	memset(a, 0, sizeof(*a));
	if (*s == '[') {
		p = strchr(s, ']');
		if (!p || (size_t)(p - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, p - s - 1);
		host[p - s - 1] = '\0';
		if (p[1] == ':') {
			if (parse_port(p + 2, &port))
				return -EINVAL;
		} else if (p[1]) {
			return -EINVAL;
		}
		goto v6;
	}
	colon = strchr(s, ':');
	if (colon && strchr(colon + 1, ':')) {	/* bare IPv6 */
		if (strlen(s) >= sizeof(host))
			return -EINVAL;
		strcpy(host, s);
		goto v6;
	}
	l = colon ? (size_t)(colon - s) : strlen(s);
	if (l >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, l);
	host[l] = '\0';
	if (colon && parse_port(colon + 1, &port))
		return -EINVAL;
	if (inet_pton(AF_INET, host, &a->in4.sin_addr) != 1)
		return -EINVAL;
	a->in4.sin_family = AF_INET;
	a->in4.sin_port = htons(port);
	return 0;
v6:
	if (inet_pton(AF_INET6, host, &a->in6.sin6_addr) != 1)
		return -EINVAL;
	a->in6.sin6_family = AF_INET6;
	a->in6.sin6_port = htons(port);
	return 0;
}

const char *maq_sockaddr_str(const union maq_sockaddr *a, char *buf,
			     size_t len)
{
	char host[INET6_ADDRSTRLEN];

	switch (a->sa.sa_family) {
	case AF_INET:
		inet_ntop(AF_INET, &a->in4.sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(a->in4.sin_port));
		break;
	case AF_INET6:
		inet_ntop(AF_INET6, &a->in6.sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(a->in6.sin6_port));
		break;
	default:
		snprintf(buf, len, "-");
	}
	return buf;
}

int maq_prefix_parse(const char *s, struct maq_prefix *p)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t l = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long v;
	char *end;

	memset(p, 0, sizeof(*p));
	if (l >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, l);
	host[l] = '\0';
	if (inet_pton(AF_INET, host, &p->addr.v4) == 1) {
		p->family = AF_INET;
		p->len = 32;
	} else if (inet_pton(AF_INET6, host, &p->addr.v6) == 1) {
		p->family = AF_INET6;
		p->len = 128;
	} else {
		return -EINVAL;
	}
	if (slash) {
		errno = 0;
		v = strtoul(slash + 1, &end, 10);
		if (errno || *end || end == slash + 1 || v > p->len)
			return -EINVAL;
		p->len = (uint8_t)v;
	}
	return 0;
}

const char *maq_prefix_str(const struct maq_prefix *p, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (!inet_ntop(p->family, &p->addr, host, sizeof(host)))
		snprintf(host, sizeof(host), "?");
	snprintf(buf, len, "%s/%u", host, p->len);
	return buf;
}

void maq_hop_wipe(struct maq_hop *hop)
{
	explicit_bzero(hop, sizeof(*hop));
}

void maq_circuit_wipe(struct maq_circuit *c)
{
	explicit_bzero(c->hops, sizeof(c->hops));
	explicit_bzero(c->e2e_key, sizeof(c->e2e_key));
}
