// SPDX-License-Identifier: GPL-2.0
/*
 * The "maquis" generic netlink family: ops and policies come from
 * netlink-gen.[ch] (include/maquis.yaml); this file holds the handlers and
 * the notifications.  Every rejection carries an extack message and, where
 * one attribute is to blame, points at it; nothing changes on failure.
 */

#include <crypto/utils.h>
#include <linux/inetdevice.h>
#include <linux/slab.h>
#include <linux/unaligned.h>
#include <net/genetlink.h>
#include <net/ipv6.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "cell.h"
#include "circuit.h"
#include "netlink-gen.h"
#include "netlink.h"
#include "socket.h"

static const char *const maq_role_name[] = {
	[MAQUIS_ROLE_ORIGIN]	= "origin",
	[MAQUIS_ROLE_RELAY]	= "relay",
	[MAQUIS_ROLE_TERMINUS]	= "terminus",
};

static const char *const maq_attr_name[MAQUIS_A_MAX + 1] = {
	[MAQUIS_A_FWD_CID_IN]	= "fwd-cid-in",
	[MAQUIS_A_FWD_CID_OUT]	= "fwd-cid-out",
	[MAQUIS_A_BACK_CID_IN]	= "back-cid-in",
	[MAQUIS_A_BACK_CID_OUT]	= "back-cid-out",
	[MAQUIS_A_NEXT]		= "next",
	[MAQUIS_A_PREV]		= "prev",
	[MAQUIS_A_ROUTE]	= "route",
};

static const char *const maq_hop_attr_name[MAQUIS_A_HOP_MAX + 1] = {
	[MAQUIS_A_HOP_INDEX]		= "index",
	[MAQUIS_A_HOP_FWD_KEY]		= "fwd-key",
	[MAQUIS_A_HOP_BACK_KEY]		= "back-key",
	[MAQUIS_A_HOP_FWD_CTL_KEY]	= "fwd-ctl-key",
	[MAQUIS_A_HOP_BACK_CTL_KEY]	= "back-ctl-key",
	[MAQUIS_A_HOP_FWD_SEQ]		= "fwd-seq",
	[MAQUIS_A_HOP_BACK_SEQ]		= "back-seq",
};

#define A(x)	BIT(MAQUIS_A_##x)
#define H(x)	BIT(MAQUIS_A_HOP_##x)
#define H_KEYS	(H(FWD_KEY) | H(BACK_KEY) | H(FWD_CTL_KEY) | H(BACK_CTL_KEY))

/* What circuit-new needs and refuses, per role. */
static const struct maq_role_rules {
	u32 need;			/* top-level attributes */
	u32 forbid;
	u32 hop_need;			/* attributes of each hop */
	u32 hop_forbid;
	u8 max_hops;
	u8 min_routes;
	u64 seq_limit[2];		/* fwd-seq, back-seq: exclusive bound */
} maq_rules[] = {
	[MAQUIS_ROLE_ORIGIN] = {
		.need		= A(FWD_CID_OUT) | A(BACK_CID_IN) | A(NEXT),
		.forbid		= A(FWD_CID_IN) | A(BACK_CID_OUT) | A(PREV),
		.hop_need	= H_KEYS | H(FWD_SEQ) | H(BACK_SEQ),
		.max_hops	= MAQ_MAX_HOPS,
		.min_routes	= 1,
		.seq_limit	= { MAQ_DATA_CTR_LIMIT, MAQ_DATA_CTR_LIMIT },
	},
	[MAQUIS_ROLE_RELAY] = {
		.need		= A(FWD_CID_IN) | A(FWD_CID_OUT) |
				  A(BACK_CID_IN) | A(BACK_CID_OUT) |
				  A(NEXT) | A(PREV),
		.forbid		= A(ROUTE),
		.hop_need	= H_KEYS | H(FWD_SEQ) | H(BACK_SEQ),
		.max_hops	= 1,
		.seq_limit	= { MAQ_SEQ_PHASE, MAQ_SEQ_PHASE },
	},
	[MAQUIS_ROLE_TERMINUS] = {
		.need		= A(FWD_CID_IN) | A(BACK_CID_OUT) | A(PREV),
		.forbid		= A(FWD_CID_OUT) | A(BACK_CID_IN) | A(NEXT),
		.hop_need	= H_KEYS | H(BACK_SEQ),
		.hop_forbid	= H(FWD_SEQ),
		.max_hops	= 1,
		/* none at a rendezvous or introduction point: no inner
		 * address of either end is held there
		 */
		.seq_limit	= { 0, MAQ_DATA_CTR_LIMIT },
	},
};

/* ---- Helpers ---------------------------------------------------------- */

static const char *const maq_req_name[MAQUIS_A_MAX + 1] = {
	[MAQUIS_A_IFINDEX]	= "ifindex",
	[MAQUIS_A_ID]		= "id",
	[MAQUIS_A_ROLE]		= "role",
	[MAQUIS_A_HOP]		= "hop",
	[MAQUIS_A_SLOT]		= "slot",
	[MAQUIS_A_PEER]		= "peer",
	[MAQUIS_A_CELL]		= "cell",
	[MAQUIS_A_CTL]		= "ctl",
	[MAQUIS_A_JOIN]		= "join",
};

/* A request attribute every form of the operation needs. */
static bool maq_nl_missing(struct genl_info *info, int type)
{
	if (info->attrs[type])
		return false;
	NL_SET_ERR_MSG_FMT_MOD(info->extack, "missing attribute %s",
			       maq_req_name[type]);
	NL_SET_ERR_ATTR_MISS(info->extack, NULL, type);
	return true;
}

static struct maq_device *maq_nl_dev(struct genl_info *info,
				     netdevice_tracker *tracker)
{
	struct maq_device *md;

	if (maq_nl_missing(info, MAQUIS_A_IFINDEX))
		return ERR_PTR(-EINVAL);
	md = maq_device_get(genl_info_net(info),
			    nla_get_u32(info->attrs[MAQUIS_A_IFINDEX]),
			    tracker);
	if (!md) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[MAQUIS_A_IFINDEX],
				    "no maquis device with this ifindex");
		return ERR_PTR(-ENODEV);
	}
	return md;
}

static struct maq_circuit *maq_nl_circuit(struct maq_device *md,
					  struct genl_info *info)
{
	struct maq_circuit *c;

	if (maq_nl_missing(info, MAQUIS_A_ID))
		return ERR_PTR(-EINVAL);
	c = maq_circuit_find(md, nla_get_u32(info->attrs[MAQUIS_A_ID]));
	if (!c) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[MAQUIS_A_ID],
				    "no circuit with this id");
		return ERR_PTR(-ENOENT);
	}
	return c;
}

/* An underlay address: exactly one of ipv4/ipv6, and a port if @port. */
static int maq_nl_parse_addr(const struct nlattr *nest, struct maq_addr *a,
			     bool port, struct netlink_ext_ack *extack)
{
	struct nlattr *tb[MAQUIS_A_ADDR_MAX + 1];
	int ret;

	ret = nla_parse_nested(tb, MAQUIS_A_ADDR_MAX, nest,
			       maquis_addr_nl_policy, extack);
	if (ret)
		return ret;
	memset(a, 0, sizeof(*a));
	if (tb[MAQUIS_A_ADDR_IPV4] && tb[MAQUIS_A_ADDR_IPV6]) {
		NL_SET_ERR_MSG_ATTR(extack, nest,
				    "address takes one of ipv4, ipv6");
		return -EINVAL;
	}
	if (tb[MAQUIS_A_ADDR_IPV4]) {
		a->family = AF_INET;
		a->v4 = nla_get_in_addr(tb[MAQUIS_A_ADDR_IPV4]);
	} else if (tb[MAQUIS_A_ADDR_IPV6]) {
		a->family = AF_INET6;
		a->v6 = nla_get_in6_addr(tb[MAQUIS_A_ADDR_IPV6]);
	} else {
		NL_SET_ERR_MSG_ATTR(extack, nest, "address needs ipv4 or ipv6");
		NL_SET_ERR_ATTR_MISS(extack, nest, MAQUIS_A_ADDR_IPV4);
		return -EINVAL;
	}
	if (tb[MAQUIS_A_ADDR_PORT])
		a->port = nla_get_be16(tb[MAQUIS_A_ADDR_PORT]);
	if (port && !a->port) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "address needs a port");
		NL_SET_ERR_ATTR_MISS(extack, nest, MAQUIS_A_ADDR_PORT);
		return -EINVAL;
	}
	if (port && ((a->family == AF_INET && !a->v4) ||
		     (a->family == AF_INET6 && ipv6_addr_any(&a->v6)))) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "unspecified peer address");
		return -EINVAL;
	}
	return 0;
}

static int maq_nl_put_addr(struct sk_buff *skb, int type,
			   const struct maq_addr *a)
{
	struct nlattr *nest = nla_nest_start(skb, type);

	if (!nest)
		return -EMSGSIZE;
	if ((a->family == AF_INET &&
	     nla_put_in_addr(skb, MAQUIS_A_ADDR_IPV4, a->v4)) ||
	    (a->family == AF_INET6 &&
	     nla_put_in6_addr(skb, MAQUIS_A_ADDR_IPV6, &a->v6)) ||
	    (a->port && nla_put_be16(skb, MAQUIS_A_ADDR_PORT, a->port))) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int maq_nl_put_stats(struct sk_buff *skb, const struct maq_stats *st)
{
	struct nlattr *nest = nla_nest_start(skb, MAQUIS_A_STATS);
	const int pad = MAQUIS_A_STATS_PAD;
	int i;

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, MAQUIS_A_STATS_CELLS_IN, st->cells_in,
			      pad) ||
	    nla_put_u64_64bit(skb, MAQUIS_A_STATS_CELLS_OUT, st->cells_out,
			      pad) ||
	    nla_put_u64_64bit(skb, MAQUIS_A_STATS_BYTES_IN, st->bytes_in,
			      pad) ||
	    nla_put_u64_64bit(skb, MAQUIS_A_STATS_BYTES_OUT, st->bytes_out,
			      pad) ||
	    nla_put_u64_64bit(skb, MAQUIS_A_STATS_CTL_UP, st->ctl_up, pad))
		goto err;
	for (i = 0; i < MAQ_N_DROPS; i++)
		if (nla_put_u64_64bit(skb, MAQUIS_A_STATS_DROP_UNKNOWN_CID + i,
				      st->drops[i], pad))
			goto err;
	nla_nest_end(skb, nest);
	return 0;
err:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
}

static int maq_nl_put_hop(struct sk_buff *skb, int index)
{
	struct nlattr *nest = nla_nest_start(skb, MAQUIS_A_HOP);

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u8(skb, MAQUIS_A_HOP_INDEX, index)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* ---- Devices ---------------------------------------------------------- */

static int maq_nl_dev_fill(struct sk_buff *skb, struct maq_device *md,
			   u32 portid, u32 seq, int flags)
{
	struct maq_stats st;
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &maquis_nl_family, flags,
			  MAQUIS_CMD_DEV_GET);
	if (!hdr)
		return -EMSGSIZE;
	maq_device_stats_fold(md, &st);
	mutex_lock(&md->lock);
	if (nla_put_u32(skb, MAQUIS_A_IFINDEX, md->dev->ifindex) ||
	    nla_put_string(skb, MAQUIS_A_IFNAME, md->dev->name) ||
	    nla_put_u16(skb, MAQUIS_A_PORT, md->port) ||
	    (md->local.family &&
	     maq_nl_put_addr(skb, MAQUIS_A_LOCAL, &md->local)) ||
	    nla_put_u32(skb, MAQUIS_A_MAX_CIRCUITS, md->max_circuits) ||
	    nla_put_u32(skb, MAQUIS_A_N_CIRCUITS, md->n_circuits) ||
	    nla_put_u64_64bit(skb, MAQUIS_A_RELAY_RATE, md->relay_rate.rate,
			      MAQUIS_A_PAD) ||
	    nla_put_u32(skb, MAQUIS_A_RELAY_BURST, md->relay_rate.burst) ||
	    maq_nl_put_stats(skb, &st)) {
		mutex_unlock(&md->lock);
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	mutex_unlock(&md->lock);
	genlmsg_end(skb, hdr);
	return 0;
}

int maquis_nl_dev_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	netdevice_tracker tracker;
	struct maq_device *md;
	struct sk_buff *msg;
	int ret;

	md = maq_nl_dev(info, &tracker);
	if (IS_ERR(md))
		return PTR_ERR(md);
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg) {
		ret = -ENOMEM;
		goto out_put;
	}
	ret = maq_nl_dev_fill(msg, md, info->snd_portid, info->snd_seq, 0);
	if (ret) {
		nlmsg_free(msg);
		goto out_put;
	}
	ret = genlmsg_reply(msg, info);
out_put:
	maq_device_put(md, &tracker);
	return ret;
}

int maquis_nl_dev_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct net *net = sock_net(skb->sk);
	unsigned long ifindex = cb->args[0];
	netdevice_tracker tracker;
	struct maq_device *md;
	int ret = 0;

	/*
	 * The spec gives this dump no request attributes, so genetlink has
	 * no policy to refuse any with: do it here, or garbage passes.
	 */
	if (!cb->args[0] && nlmsg_attrlen(cb->nlh, GENL_HDRLEN)) {
		NL_SET_ERR_MSG_MOD(cb->extack, "dev-get dump takes no attributes");
		return -EINVAL;
	}
	while ((md = maq_device_next(net, &ifindex, &tracker))) {
		ret = maq_nl_dev_fill(skb, md, NETLINK_CB(cb->skb).portid,
				      cb->nlh->nlmsg_seq, NLM_F_MULTI);
		maq_device_put(md, &tracker);
		if (ret)
			break;
		ifindex++;
	}
	cb->args[0] = ifindex;
	if (ret == -EMSGSIZE && skb->len)
		ret = 0;
	return ret ?: skb->len;
}

int maquis_nl_dev_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr **attrs = info->attrs;
	struct maq_addr local, old_local;
	netdevice_tracker tracker;
	struct maq_device *md;
	u16 port, old_port;
	int ret = 0;

	md = maq_nl_dev(info, &tracker);
	if (IS_ERR(md))
		return PTR_ERR(md);

	mutex_lock(&md->lock);
	old_port = md->port;
	old_local = md->local;
	port = old_port;
	local = old_local;
	if (attrs[MAQUIS_A_PORT])
		port = nla_get_u16(attrs[MAQUIS_A_PORT]);
	if (attrs[MAQUIS_A_LOCAL]) {
		ret = maq_nl_parse_addr(attrs[MAQUIS_A_LOCAL], &local, false,
					extack);
		if (ret)
			goto out_unlock;
		/* The unspecified address binds to any, both families. */
		if ((local.family == AF_INET && !local.v4) ||
		    (local.family == AF_INET6 && ipv6_addr_any(&local.v6)))
			local.family = 0;
		if (local.port) {
			if (attrs[MAQUIS_A_PORT] && ntohs(local.port) != port) {
				NL_SET_ERR_MSG_ATTR(extack, attrs[MAQUIS_A_LOCAL],
						    "local port differs from port");
				ret = -EINVAL;
				goto out_unlock;
			}
			port = ntohs(local.port);
			local.port = 0;
		}
	}

	if (md->up && (port != old_port ||
		       memcmp(&local, &old_local, sizeof(local)))) {
		maq_socket_close(md);
		md->port = port;
		md->local = local;
		ret = maq_socket_open(md, port, &local);
		if (ret) {
			NL_SET_ERR_MSG_MOD(extack,
					   "cannot bind the new address and port");
			md->port = old_port;
			md->local = old_local;
			if (maq_socket_open(md, old_port, &old_local))
				netdev_warn(md->dev, "lost its sockets\n");
			goto out_unlock;
		}
	}
	md->port = port;
	md->local = local;
	if (attrs[MAQUIS_A_MAX_CIRCUITS])
		md->max_circuits = nla_get_u32(attrs[MAQUIS_A_MAX_CIRCUITS]);
	if (attrs[MAQUIS_A_RELAY_RATE] || attrs[MAQUIS_A_RELAY_BURST]) {
		u64 rate = md->relay_rate.rate;
		u32 burst = md->relay_rate.burst;

		if (attrs[MAQUIS_A_RELAY_RATE])
			rate = nla_get_u64(attrs[MAQUIS_A_RELAY_RATE]);
		if (attrs[MAQUIS_A_RELAY_BURST])
			burst = nla_get_u32(attrs[MAQUIS_A_RELAY_BURST]);
		maq_rate_set(&md->relay_rate, rate, burst);
	}
out_unlock:
	mutex_unlock(&md->lock);
	maq_device_put(md, &tracker);
	return ret;
}

/* ---- Circuits --------------------------------------------------------- */

struct maq_nl_new {
	const struct maq_role_rules *rules;
	u8 role;
	u8 n_hops;
	int n_routes;
	const struct nlattr *hop[MAQ_MAX_HOPS];
	struct nlattr *htb[MAQ_MAX_HOPS][MAQUIS_A_HOP_MAX + 1];
	struct maq_addr next, prev;
};

static int maq_nl_check_hop(struct maq_nl_new *p, const struct nlattr *nest,
			    struct nlattr **tb, struct netlink_ext_ack *extack)
{
	const struct maq_role_rules *r = p->rules;
	int t, i;

	for (t = 1; t <= MAQUIS_A_HOP_MAX; t++) {
		if ((r->hop_need & BIT(t)) && !tb[t]) {
			NL_SET_ERR_MSG_FMT_MOD(extack, "%s hop needs %s",
					       maq_role_name[p->role],
					       maq_hop_attr_name[t]);
			NL_SET_ERR_ATTR_MISS(extack, nest, t);
			return -EINVAL;
		}
		if ((r->hop_forbid & BIT(t)) && tb[t]) {
			NL_SET_ERR_MSG_ATTR_FMT(extack, tb[t], "%s hop takes no %s",
						maq_role_name[p->role],
						maq_hop_attr_name[t]);
			return -EINVAL;
		}
	}
	for (i = 0; i < 2; i++) {
		t = i ? MAQUIS_A_HOP_BACK_SEQ : MAQUIS_A_HOP_FWD_SEQ;
		if (tb[t] && nla_get_u64(tb[t]) >= r->seq_limit[i]) {
			NL_SET_ERR_MSG_ATTR_FMT(extack, tb[t],
						"%s out of range for a %s",
						maq_hop_attr_name[t],
						maq_role_name[p->role]);
			return -ERANGE;
		}
	}
	return 0;
}

static int maq_nl_parse_hops(struct maq_nl_new *p, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr *tb[MAQUIS_A_HOP_MAX + 1];
	const struct nlattr *attr;
	int rem, n = 0, ret, idx;

	nlmsg_for_each_attr_type(attr, MAQUIS_A_HOP, info->nlhdr, GENL_HDRLEN,
				 rem) {
		if (++n > p->rules->max_hops) {
			NL_SET_ERR_MSG_ATTR_FMT(extack, attr,
						"a %s takes at most %u hops",
						maq_role_name[p->role],
						p->rules->max_hops);
			return p->rules->max_hops > 1 ? -E2BIG : -EINVAL;
		}
	}
	if (!n) {
		NL_SET_ERR_MSG_MOD(extack, "circuit needs a hop");
		NL_SET_ERR_ATTR_MISS(extack, NULL, MAQUIS_A_HOP);
		return -EINVAL;
	}
	p->n_hops = n;

	nlmsg_for_each_attr_type(attr, MAQUIS_A_HOP, info->nlhdr, GENL_HDRLEN,
				 rem) {
		ret = nla_parse_nested(tb, MAQUIS_A_HOP_MAX, attr,
				       maquis_hop_nl_policy, extack);
		if (ret)
			return ret;
		if (!tb[MAQUIS_A_HOP_INDEX]) {
			NL_SET_ERR_MSG_ATTR(extack, attr, "hop needs an index");
			NL_SET_ERR_ATTR_MISS(extack, attr, MAQUIS_A_HOP_INDEX);
			return -EINVAL;
		}
		idx = nla_get_u8(tb[MAQUIS_A_HOP_INDEX]);
		if (idx >= n) {
			NL_SET_ERR_MSG_ATTR_FMT(extack, tb[MAQUIS_A_HOP_INDEX],
						"hop index %d of %d hops", idx,
						n);
			return -ERANGE;
		}
		if (p->hop[idx]) {
			NL_SET_ERR_MSG_ATTR(extack, tb[MAQUIS_A_HOP_INDEX],
					    "duplicate hop index");
			return -EINVAL;
		}
		ret = maq_nl_check_hop(p, attr, tb, extack);
		if (ret)
			return ret;
		p->hop[idx] = attr;
		memcpy(p->htb[idx], tb, sizeof(tb));
	}
	return 0;
}

static int maq_nl_parse_route(const struct nlattr *nest, struct maq_route *r,
			      struct netlink_ext_ack *extack)
{
	struct nlattr *tb[MAQUIS_A_PREFIX_MAX + 1];
	int ret;

	ret = nla_parse_nested(tb, MAQUIS_A_PREFIX_MAX, nest,
			       maquis_prefix_nl_policy, extack);
	if (ret)
		return ret;
	if (!!tb[MAQUIS_A_PREFIX_IPV4] == !!tb[MAQUIS_A_PREFIX_IPV6]) {
		NL_SET_ERR_MSG_ATTR(extack, nest,
				    "route takes exactly one of ipv4, ipv6");
		return -EINVAL;
	}
	if (!tb[MAQUIS_A_PREFIX_LEN]) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "route needs a prefix length");
		NL_SET_ERR_ATTR_MISS(extack, nest, MAQUIS_A_PREFIX_LEN);
		return -EINVAL;
	}
	r->len = nla_get_u8(tb[MAQUIS_A_PREFIX_LEN]);
	if (tb[MAQUIS_A_PREFIX_IPV4]) {
		if (r->len > 32) {
			NL_SET_ERR_MSG_ATTR(extack, tb[MAQUIS_A_PREFIX_LEN],
					    "IPv4 prefix longer than 32");
			return -EINVAL;
		}
		r->family = AF_INET;
		r->addr.v4 = nla_get_in_addr(tb[MAQUIS_A_PREFIX_IPV4]) &
			     inet_make_mask(r->len);
	} else {
		r->family = AF_INET6;
		ipv6_addr_prefix(&r->addr.v6,
				 nla_data(tb[MAQUIS_A_PREFIX_IPV6]), r->len);
	}
	return 0;
}

/* Cross-attribute rules of circuit-new, per role. */
static int maq_nl_circuit_check(struct maq_nl_new *p, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr **attrs = info->attrs;
	const struct maq_role_rules *r;
	const struct nlattr *attr;
	int t, rem, ret;

	if (maq_nl_missing(info, MAQUIS_A_ID) ||
	    maq_nl_missing(info, MAQUIS_A_ROLE))
		return -EINVAL;
	p->role = nla_get_u8(attrs[MAQUIS_A_ROLE]);
	r = &maq_rules[p->role];
	p->rules = r;

	for (t = 1; t <= MAQUIS_A_MAX; t++) {
		if ((r->need & BIT(t)) && !attrs[t]) {
			NL_SET_ERR_MSG_FMT_MOD(extack, "%s circuit needs %s",
					       maq_role_name[p->role],
					       maq_attr_name[t]);
			NL_SET_ERR_ATTR_MISS(extack, NULL, t);
			return -EINVAL;
		}
		if ((r->forbid & BIT(t)) && attrs[t]) {
			NL_SET_ERR_MSG_ATTR_FMT(extack, attrs[t],
						"%s circuit takes no %s",
						maq_role_name[p->role],
						maq_attr_name[t]);
			return -EINVAL;
		}
	}
	if (attrs[MAQUIS_A_E2E_KEY]) {
		const u8 *k = nla_data(attrs[MAQUIS_A_E2E_KEY]);

		if (p->role != MAQUIS_ROLE_ORIGIN) {
			NL_SET_ERR_MSG_ATTR_FMT(extack, attrs[MAQUIS_A_E2E_KEY],
						"%s circuit takes no e2e-key",
						maq_role_name[p->role]);
			return -EINVAL;
		}
		/* Else the far end's own cells, reflected, would open. */
		if (!crypto_memneq(k, k + MAQ_KEY_LEN, MAQ_KEY_LEN)) {
			NL_SET_ERR_MSG_ATTR(extack, attrs[MAQUIS_A_E2E_KEY],
					    "e2e-key send and receive keys are equal");
			return -EINVAL;
		}
	}
	if (attrs[MAQUIS_A_FWD_CID_IN] && attrs[MAQUIS_A_BACK_CID_IN] &&
	    nla_get_u32(attrs[MAQUIS_A_FWD_CID_IN]) ==
	    nla_get_u32(attrs[MAQUIS_A_BACK_CID_IN])) {
		NL_SET_ERR_MSG_ATTR(extack, attrs[MAQUIS_A_BACK_CID_IN],
				    "back-cid-in equals fwd-cid-in");
		return -EINVAL;
	}
	if (attrs[MAQUIS_A_NEXT]) {
		ret = maq_nl_parse_addr(attrs[MAQUIS_A_NEXT], &p->next, true,
					extack);
		if (ret)
			return ret;
	}
	if (attrs[MAQUIS_A_PREV]) {
		ret = maq_nl_parse_addr(attrs[MAQUIS_A_PREV], &p->prev, true,
					extack);
		if (ret)
			return ret;
	}

	ret = maq_nl_parse_hops(p, info);
	if (ret)
		return ret;

	nlmsg_for_each_attr_type(attr, MAQUIS_A_ROUTE, info->nlhdr,
				 GENL_HDRLEN, rem) {
		if (++p->n_routes > MAQ_MAX_ROUTES) {
			NL_SET_ERR_MSG_ATTR_FMT(extack, attr,
						"at most %d routes a circuit",
						MAQ_MAX_ROUTES);
			return -E2BIG;
		}
	}
	if (p->n_routes < r->min_routes) {
		NL_SET_ERR_MSG_FMT_MOD(extack, "%s circuit needs a route",
				       maq_role_name[p->role]);
		NL_SET_ERR_ATTR_MISS(extack, NULL, MAQUIS_A_ROUTE);
		return -EINVAL;
	}
	return 0;
}

/* Build the circuit from checked attributes; keys go in slot 0. */
static struct maq_circuit *maq_nl_circuit_build(struct maq_nl_new *p,
						struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	const struct nlattr *attr;
	struct maq_circuit *c;
	struct maq_route *r;
	int i, rem, ret;

	c = maq_circuit_alloc(p->role, p->n_hops);
	if (!c)
		return ERR_PTR(-ENOMEM);
	c->id = nla_get_u32(attrs[MAQUIS_A_ID]);
	c->lifetime = attrs[MAQUIS_A_LIFETIME] ?
		      nla_get_u32(attrs[MAQUIS_A_LIFETIME]) :
		      MAQ_DEFAULT_LIFETIME;
	if (attrs[MAQUIS_A_FWD_CID_IN])
		c->in[MAQUIS_DIR_FWD].cid =
			nla_get_u32(attrs[MAQUIS_A_FWD_CID_IN]);
	if (attrs[MAQUIS_A_BACK_CID_IN])
		c->in[MAQUIS_DIR_BACK].cid =
			nla_get_u32(attrs[MAQUIS_A_BACK_CID_IN]);
	if (attrs[MAQUIS_A_FWD_CID_OUT])
		c->cid_out[MAQUIS_DIR_FWD] =
			nla_get_u32(attrs[MAQUIS_A_FWD_CID_OUT]);
	if (attrs[MAQUIS_A_BACK_CID_OUT])
		c->cid_out[MAQUIS_DIR_BACK] =
			nla_get_u32(attrs[MAQUIS_A_BACK_CID_OUT]);
	c->peer[MAQUIS_DIR_FWD] = p->next;
	c->peer[MAQUIS_DIR_BACK] = p->prev;
	for (i = 0; i < 2; i++) {
		c->in[i].tamper_ts = jiffies - HZ;
		c->in[i].replay_ts = jiffies - HZ;
	}

	for (i = 0; i < p->n_hops; i++) {
		struct maq_hop *h = &c->hops[i];
		struct nlattr **tb = p->htb[i];

		nla_memcpy(h->key[MAQUIS_DIR_FWD][0],
			   tb[MAQUIS_A_HOP_FWD_KEY], MAQ_KEY_LEN);
		nla_memcpy(h->key[MAQUIS_DIR_BACK][0],
			   tb[MAQUIS_A_HOP_BACK_KEY], MAQ_KEY_LEN);
		nla_memcpy(h->ctl_key[MAQUIS_DIR_FWD],
			   tb[MAQUIS_A_HOP_FWD_CTL_KEY], MAQ_KEY_LEN);
		nla_memcpy(h->ctl_key[MAQUIS_DIR_BACK],
			   tb[MAQUIS_A_HOP_BACK_CTL_KEY], MAQ_KEY_LEN);
		if (tb[MAQUIS_A_HOP_FWD_SEQ])
			h->seq[MAQUIS_DIR_FWD] =
				nla_get_u64(tb[MAQUIS_A_HOP_FWD_SEQ]);
		h->seq[MAQUIS_DIR_BACK] = nla_get_u64(tb[MAQUIS_A_HOP_BACK_SEQ]);
		h->valid[MAQUIS_DIR_FWD] = BIT(0);
		h->valid[MAQUIS_DIR_BACK] = BIT(0);
	}
	if (attrs[MAQUIS_A_E2E_KEY]) {
		c->e2e = kzalloc(sizeof(*c->e2e), GFP_KERNEL_ACCOUNT);
		if (!c->e2e) {
			ret = -ENOMEM;
			goto err_free;
		}
		nla_memcpy(c->e2e->key, attrs[MAQUIS_A_E2E_KEY],
			   sizeof(c->e2e->key));
	}

	nlmsg_for_each_attr_type(attr, MAQUIS_A_ROUTE, info->nlhdr,
				 GENL_HDRLEN, rem) {
		r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
		if (!r) {
			ret = -ENOMEM;
			goto err_free;
		}
		r->circ = c;
		list_add_tail(&r->circ_node, &c->routes);
		ret = maq_nl_parse_route(attr, r, info->extack);
		if (ret)
			goto err_free;
	}
	return c;

err_free:
	maq_circuit_free(c);
	return ERR_PTR(ret);
}

int maquis_nl_circuit_new_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr **attrs = info->attrs;
	netdevice_tracker tracker;
	struct maq_device *md;
	struct maq_circuit *c;
	struct maq_nl_new *p;
	int i, ret;

	md = maq_nl_dev(info, &tracker);
	if (IS_ERR(md))
		return PTR_ERR(md);
	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p) {
		ret = -ENOMEM;
		goto out_put;
	}
	ret = maq_nl_circuit_check(p, info);
	if (ret)
		goto out_free_parse;
	c = maq_nl_circuit_build(p, info);
	if (IS_ERR(c)) {
		ret = PTR_ERR(c);
		goto out_free_parse;
	}

	mutex_lock(&md->lock);
	if (md->dead) {
		NL_SET_ERR_MSG_MOD(extack, "device is going away");
		ret = -ENODEV;
		goto err_unlock;
	}
	if (maq_circuit_find(md, c->id)) {
		NL_SET_ERR_MSG_ATTR(extack, attrs[MAQUIS_A_ID],
				    "circuit id in use");
		ret = -EEXIST;
		goto err_unlock;
	}
	for (i = 0; i < 2; i++) {
		int t = i ? MAQUIS_A_BACK_CID_IN : MAQUIS_A_FWD_CID_IN;

		if (attrs[t] && maq_dir_lookup(md, c->in[i].cid)) {
			NL_SET_ERR_MSG_ATTR(extack, attrs[t], "cid in use");
			ret = -EEXIST;
			goto err_unlock;
		}
	}
	if (md->n_circuits >= md->max_circuits) {
		NL_SET_ERR_MSG_FMT_MOD(extack, "device holds its maximum of %u circuits",
				       md->max_circuits);
		ret = -ENOSPC;
		goto err_unlock;
	}
	ret = maq_circuit_insert(md, c, extack);
	if (ret)
		goto err_unlock;
	mutex_unlock(&md->lock);
	goto out_free_parse;

err_unlock:
	mutex_unlock(&md->lock);
	maq_circuit_free(c);
out_free_parse:
	kfree_sensitive(p);
out_put:
	maq_device_put(md, &tracker);
	return ret;
}

int maquis_nl_circuit_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	netdevice_tracker tracker;
	struct maq_device *md;
	struct maq_circuit *c;
	int ret = 0;
	u32 id;

	md = maq_nl_dev(info, &tracker);
	if (IS_ERR(md))
		return PTR_ERR(md);
	mutex_lock(&md->lock);
	c = maq_nl_circuit(md, info);
	if (IS_ERR(c)) {
		ret = PTR_ERR(c);
		goto out_unlock;
	}
	id = c->id;
	maq_circuit_remove(md, c);
	maq_nl_event(md, id, MAQUIS_EVENT_DELETED, -1, -1, -1, 0);
out_unlock:
	mutex_unlock(&md->lock);
	maq_device_put(md, &tracker);
	return ret;
}

static int maq_nl_circuit_fill(struct sk_buff *skb, struct maq_device *md,
			       struct maq_circuit *c, u32 portid, u32 seq,
			       int flags)
{
	const bool origin = c->role == MAQUIS_ROLE_ORIGIN;
	const bool terminus = c->role == MAQUIS_ROLE_TERMINUS;
	struct maq_circuit *peer = maq_circuit_joined(md, c);
	struct maq_route *r;
	struct maq_stats st;
	struct nlattr *nest;
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &maquis_nl_family, flags,
			  MAQUIS_CMD_CIRCUIT_GET);
	if (!hdr)
		return -EMSGSIZE;
	maq_circuit_stats(c, &st);
	if (nla_put_u32(skb, MAQUIS_A_IFINDEX, md->dev->ifindex) ||
	    nla_put_u32(skb, MAQUIS_A_ID, c->id) ||
	    nla_put_u8(skb, MAQUIS_A_ROLE, c->role) ||
	    (!origin && nla_put_u32(skb, MAQUIS_A_FWD_CID_IN,
				    c->in[MAQUIS_DIR_FWD].cid)) ||
	    (!terminus && nla_put_u32(skb, MAQUIS_A_FWD_CID_OUT,
				      c->cid_out[MAQUIS_DIR_FWD])) ||
	    (!terminus && nla_put_u32(skb, MAQUIS_A_BACK_CID_IN,
				      c->in[MAQUIS_DIR_BACK].cid)) ||
	    (!origin && nla_put_u32(skb, MAQUIS_A_BACK_CID_OUT,
				    c->cid_out[MAQUIS_DIR_BACK])) ||
	    (!terminus && maq_nl_put_addr(skb, MAQUIS_A_NEXT,
					  &c->peer[MAQUIS_DIR_FWD])) ||
	    (!origin && maq_nl_put_addr(skb, MAQUIS_A_PREV,
					&c->peer[MAQUIS_DIR_BACK])) ||
	    nla_put_u32(skb, MAQUIS_A_LIFETIME, c->lifetime) ||
	    nla_put_u32(skb, MAQUIS_A_AGE, maq_circuit_age(c)) ||
	    nla_put_u8(skb, MAQUIS_A_PHASE,
		       READ_ONCE(c->in[MAQUIS_DIR_FWD].phase)) ||
	    (c->joined && nla_put_u32(skb, MAQUIS_A_JOIN,
				      peer ? peer->id : 0)) ||
	    maq_nl_put_stats(skb, &st))
		goto err;
	list_for_each_entry(r, &c->routes, circ_node) {
		nest = nla_nest_start(skb, MAQUIS_A_ROUTE);
		if (!nest ||
		    (r->family == AF_INET &&
		     nla_put_in_addr(skb, MAQUIS_A_PREFIX_IPV4, r->addr.v4)) ||
		    (r->family == AF_INET6 &&
		     nla_put_in6_addr(skb, MAQUIS_A_PREFIX_IPV6,
				      &r->addr.v6)) ||
		    nla_put_u8(skb, MAQUIS_A_PREFIX_LEN, r->len))
			goto err;
		nla_nest_end(skb, nest);
	}
	genlmsg_end(skb, hdr);
	return 0;
err:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

int maquis_nl_circuit_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	netdevice_tracker tracker;
	struct maq_device *md;
	struct maq_circuit *c;
	struct sk_buff *msg;
	int ret;

	md = maq_nl_dev(info, &tracker);
	if (IS_ERR(md))
		return PTR_ERR(md);
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg) {
		ret = -ENOMEM;
		goto out_put;
	}
	mutex_lock(&md->lock);
	c = maq_nl_circuit(md, info);
	if (IS_ERR(c))
		ret = PTR_ERR(c);
	else
		ret = maq_nl_circuit_fill(msg, md, c, info->snd_portid,
					  info->snd_seq, 0);
	mutex_unlock(&md->lock);
	if (ret) {
		nlmsg_free(msg);
		goto out_put;
	}
	ret = genlmsg_reply(msg, info);
out_put:
	maq_device_put(md, &tracker);
	return ret;
}

int maquis_nl_circuit_get_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb)
{
	const struct genl_info *info = genl_info_dump(cb);
	unsigned long id = cb->args[0];
	netdevice_tracker tracker;
	struct maq_device *md;
	struct maq_circuit *c;
	int ret = 0;

	if (!info->attrs[MAQUIS_A_IFINDEX]) {
		NL_SET_ERR_MSG_MOD(cb->extack, "circuit dump needs ifindex");
		NL_SET_ERR_ATTR_MISS(cb->extack, NULL, MAQUIS_A_IFINDEX);
		return -EINVAL;
	}
	md = maq_device_get(sock_net(skb->sk),
			    nla_get_u32(info->attrs[MAQUIS_A_IFINDEX]),
			    &tracker);
	if (!md) {
		NL_SET_ERR_MSG_ATTR(cb->extack, info->attrs[MAQUIS_A_IFINDEX],
				    "no maquis device with this ifindex");
		return -ENODEV;
	}
	mutex_lock(&md->lock);
	xa_for_each_start(&md->ids, id, c, cb->args[0]) {
		ret = maq_nl_circuit_fill(skb, md, c,
					  NETLINK_CB(cb->skb).portid,
					  cb->nlh->nlmsg_seq, NLM_F_MULTI);
		if (ret)
			break;
		cb->args[0] = id + 1;
	}
	mutex_unlock(&md->lock);
	maq_device_put(md, &tracker);
	if (ret == -EMSGSIZE && skb->len)
		ret = 0;
	return ret ?: skb->len;
}

/* Why @c cannot be joined (and *@err), or NULL when it can. */
static const char *maq_nl_join_refusal(struct maq_device *md,
				       struct maq_circuit *c, int *err)
{
	*err = -EINVAL;
	if (c->role != MAQUIS_ROLE_TERMINUS)
		return "is not a terminus";
	*err = -EBUSY;
	if (maq_circuit_joined(md, c))
		return "is joined already";
	return NULL;
}

int maquis_nl_circuit_join_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr **attrs = info->attrs;
	struct maq_circuit *c, *other;
	netdevice_tracker tracker;
	struct maq_device *md;
	const char *why;
	int ret = 0;
	u32 join;

	md = maq_nl_dev(info, &tracker);
	if (IS_ERR(md))
		return PTR_ERR(md);
	mutex_lock(&md->lock);
	c = maq_nl_circuit(md, info);
	if (IS_ERR(c)) {
		ret = PTR_ERR(c);
		goto out_unlock;
	}
	if (maq_nl_missing(info, MAQUIS_A_JOIN)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	join = nla_get_u32(attrs[MAQUIS_A_JOIN]);
	if (!join) {
		if (!c->joined) {
			NL_SET_ERR_MSG_ATTR(extack, attrs[MAQUIS_A_ID],
					    "circuit is not joined");
			ret = -ENOENT;
			goto out_unlock;
		}
		maq_circuit_unjoin(md, c);
		goto out_unlock;
	}
	if (join == c->id) {
		NL_SET_ERR_MSG_ATTR(extack, attrs[MAQUIS_A_JOIN],
				    "a circuit cannot join itself");
		ret = -EINVAL;
		goto out_unlock;
	}
	other = maq_circuit_find(md, join);
	if (!other) {
		NL_SET_ERR_MSG_ATTR(extack, attrs[MAQUIS_A_JOIN],
				    "no circuit with this id to join");
		ret = -ENOENT;
		goto out_unlock;
	}
	why = maq_nl_join_refusal(md, c, &ret);
	if (why) {
		NL_SET_ERR_MSG_ATTR_FMT(extack, attrs[MAQUIS_A_ID],
					"circuit %u %s", c->id, why);
		goto out_unlock;
	}
	why = maq_nl_join_refusal(md, other, &ret);
	if (why) {
		NL_SET_ERR_MSG_ATTR_FMT(extack, attrs[MAQUIS_A_JOIN],
					"circuit %u %s", join, why);
		goto out_unlock;
	}
	ret = 0;
	maq_circuit_join(md, c, other);
out_unlock:
	mutex_unlock(&md->lock);
	maq_device_put(md, &tracker);
	return ret;
}

int maquis_nl_key_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr *tb[MAQUIS_A_HOP_MAX + 1];
	struct nlattr *hop = info->attrs[MAQUIS_A_HOP];
	netdevice_tracker tracker;
	struct maq_device *md;
	struct maq_circuit *c;
	int ret, t, idx, slot;

	if (maq_nl_missing(info, MAQUIS_A_SLOT) ||
	    maq_nl_missing(info, MAQUIS_A_HOP))
		return -EINVAL;
	ret = nla_parse_nested(tb, MAQUIS_A_HOP_MAX, hop, maquis_hop_nl_policy,
			       extack);
	if (ret)
		return ret;
	if (!tb[MAQUIS_A_HOP_INDEX]) {
		NL_SET_ERR_MSG_ATTR(extack, hop, "hop needs an index");
		NL_SET_ERR_ATTR_MISS(extack, hop, MAQUIS_A_HOP_INDEX);
		return -EINVAL;
	}
	if (!tb[MAQUIS_A_HOP_FWD_KEY] && !tb[MAQUIS_A_HOP_BACK_KEY] &&
	    !tb[MAQUIS_A_HOP_FWD_CTL_KEY] && !tb[MAQUIS_A_HOP_BACK_CTL_KEY]) {
		NL_SET_ERR_MSG_ATTR(extack, hop, "key-set needs a key");
		NL_SET_ERR_ATTR_MISS(extack, hop, MAQUIS_A_HOP_FWD_KEY);
		return -EINVAL;
	}
	for (t = MAQUIS_A_HOP_FWD_SEQ; t <= MAQUIS_A_HOP_MAX; t++) {
		if (tb[t]) {
			NL_SET_ERR_MSG_ATTR_FMT(extack, tb[t],
						"key-set takes no %s",
						maq_hop_attr_name[t]);
			return -EINVAL;
		}
	}
	idx = nla_get_u8(tb[MAQUIS_A_HOP_INDEX]);
	slot = nla_get_u8(info->attrs[MAQUIS_A_SLOT]);

	md = maq_nl_dev(info, &tracker);
	if (IS_ERR(md))
		return PTR_ERR(md);
	mutex_lock(&md->lock);
	c = maq_nl_circuit(md, info);
	if (IS_ERR(c)) {
		ret = PTR_ERR(c);
		goto out_unlock;
	}
	if (idx >= c->n_hops) {
		NL_SET_ERR_MSG_ATTR_FMT(extack, tb[MAQUIS_A_HOP_INDEX],
					"circuit has %u hops", c->n_hops);
		ret = -ERANGE;
		goto out_unlock;
	}
	if (tb[MAQUIS_A_HOP_FWD_KEY])
		maq_circuit_key_set(c, idx, MAQUIS_DIR_FWD, slot,
				    nla_data(tb[MAQUIS_A_HOP_FWD_KEY]));
	if (tb[MAQUIS_A_HOP_BACK_KEY])
		maq_circuit_key_set(c, idx, MAQUIS_DIR_BACK, slot,
				    nla_data(tb[MAQUIS_A_HOP_BACK_KEY]));
	/* Control keys have one slot: these replace it. */
	if (tb[MAQUIS_A_HOP_FWD_CTL_KEY])
		maq_circuit_key_set(c, idx, MAQUIS_DIR_FWD, -1,
				    nla_data(tb[MAQUIS_A_HOP_FWD_CTL_KEY]));
	if (tb[MAQUIS_A_HOP_BACK_CTL_KEY])
		maq_circuit_key_set(c, idx, MAQUIS_DIR_BACK, -1,
				    nla_data(tb[MAQUIS_A_HOP_BACK_CTL_KEY]));
out_unlock:
	mutex_unlock(&md->lock);
	maq_device_put(md, &tracker);
	return ret;
}

int maquis_nl_stats_reset_doit(struct sk_buff *skb, struct genl_info *info)
{
	netdevice_tracker tracker;
	struct maq_device *md;
	struct maq_circuit *c;
	int ret = 0;

	md = maq_nl_dev(info, &tracker);
	if (IS_ERR(md))
		return PTR_ERR(md);
	if (!info->attrs[MAQUIS_A_ID]) {
		maq_device_stats_reset(md);
		goto out_put;
	}
	mutex_lock(&md->lock);
	c = maq_nl_circuit(md, info);
	if (IS_ERR(c))
		ret = PTR_ERR(c);
	else
		maq_circuit_stats_reset(c);
	mutex_unlock(&md->lock);
out_put:
	maq_device_put(md, &tracker);
	return ret;
}

int maquis_nl_cell_send_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	netdevice_tracker tracker;
	struct maq_device *md;
	struct maq_addr peer;
	const u8 *cell;
	int ret;

	if (maq_nl_missing(info, MAQUIS_A_PEER) ||
	    maq_nl_missing(info, MAQUIS_A_CELL))
		return -EINVAL;
	ret = maq_nl_parse_addr(info->attrs[MAQUIS_A_PEER], &peer, true,
				extack);
	if (ret)
		return ret;
	cell = nla_data(info->attrs[MAQUIS_A_CELL]);
	if (get_unaligned_be32(cell)) {
		NL_SET_ERR_MSG_ATTR(extack, info->attrs[MAQUIS_A_CELL],
				    "cell-send sends link control cells (cid 0) only");
		return -EINVAL;
	}

	md = maq_nl_dev(info, &tracker);
	if (IS_ERR(md))
		return PTR_ERR(md);
	mutex_lock(&md->lock);
	if (!md->up) {
		NL_SET_ERR_MSG_MOD(extack, "device is down");
		ret = -ENETDOWN;
		goto out_unlock;
	}
	ret = maq_cell_send_link(md, &peer, cell);
	if (ret)
		NL_SET_ERR_MSG_ATTR(extack, info->attrs[MAQUIS_A_PEER],
				    "cannot send to this peer");
out_unlock:
	mutex_unlock(&md->lock);
	maq_device_put(md, &tracker);
	return ret;
}

int maquis_nl_ctl_send_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr *hop = info->attrs[MAQUIS_A_HOP];
	struct nlattr *tb[MAQUIS_A_HOP_MAX + 1];
	netdevice_tracker tracker;
	struct maq_device *md;
	struct maq_circuit *c;
	int ret, idx = -1;

	if (maq_nl_missing(info, MAQUIS_A_CTL))
		return -EINVAL;
	if (hop) {
		ret = nla_parse_nested(tb, MAQUIS_A_HOP_MAX, hop,
				       maquis_hop_nl_policy, extack);
		if (ret)
			return ret;
		if (!tb[MAQUIS_A_HOP_INDEX]) {
			NL_SET_ERR_MSG_ATTR(extack, hop, "hop needs an index");
			NL_SET_ERR_ATTR_MISS(extack, hop, MAQUIS_A_HOP_INDEX);
			return -EINVAL;
		}
		idx = nla_get_u8(tb[MAQUIS_A_HOP_INDEX]);
	}

	md = maq_nl_dev(info, &tracker);
	if (IS_ERR(md))
		return PTR_ERR(md);
	mutex_lock(&md->lock);
	c = maq_nl_circuit(md, info);
	if (IS_ERR(c)) {
		ret = PTR_ERR(c);
		goto out_unlock;
	}
	if (c->role == MAQUIS_ROLE_ORIGIN && idx < 0) {
		NL_SET_ERR_MSG_MOD(extack, "origin ctl-send needs the hop");
		NL_SET_ERR_ATTR_MISS(extack, NULL, MAQUIS_A_HOP);
		ret = -EINVAL;
		goto out_unlock;
	}
	if (idx >= (c->role == MAQUIS_ROLE_ORIGIN ? c->n_hops : 1)) {
		NL_SET_ERR_MSG_ATTR_FMT(extack, tb[MAQUIS_A_HOP_INDEX],
					"no hop %d on this circuit", idx);
		ret = -ERANGE;
		goto out_unlock;
	}
	if (!md->up) {
		NL_SET_ERR_MSG_MOD(extack, "device is down");
		ret = -ENETDOWN;
		goto out_unlock;
	}
	ret = maq_cell_send_ctl(md, c, idx < 0 ? 0 : idx,
				nla_data(info->attrs[MAQUIS_A_CTL]));
	if (ret == -ENOKEY)
		NL_SET_ERR_MSG_MOD(extack, "circuit keys worn out");
out_unlock:
	mutex_unlock(&md->lock);
	maq_device_put(md, &tracker);
	return ret;
}

/* ---- Notifications ---------------------------------------------------- */

static struct sk_buff *maq_nl_ntf_new(struct maq_device *md, u8 cmd,
				      size_t size, struct net **net,
				      void **hdr)
{
	struct sk_buff *msg;

	*net = dev_net(md->dev);
	if (!genl_has_listeners(&maquis_nl_family, *net, MAQUIS_NLGRP_EVENTS))
		return NULL;
	msg = genlmsg_new(size, GFP_ATOMIC);
	if (!msg)
		return NULL;
	*hdr = genlmsg_put(msg, 0, 0, &maquis_nl_family, 0, cmd);
	if (!*hdr || nla_put_u32(msg, MAQUIS_A_IFINDEX, md->dev->ifindex)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static void maq_nl_ntf_send(struct sk_buff *msg, struct net *net, void *hdr)
{
	genlmsg_end(msg, hdr);
	genlmsg_multicast_netns(&maquis_nl_family, net, msg, 0,
				MAQUIS_NLGRP_EVENTS, GFP_ATOMIC);
}

void maq_nl_event(struct maq_device *md, u32 id, enum maquis_event event,
		  int dir, int phase, int hop, u64 count)
{
	struct sk_buff *msg;
	struct net *net;
	void *hdr;

	msg = maq_nl_ntf_new(md, MAQUIS_CMD_EVENT_NTF, NLMSG_DEFAULT_SIZE,
			     &net, &hdr);
	if (!msg)
		return;
	if (nla_put_u32(msg, MAQUIS_A_ID, id) ||
	    nla_put_u8(msg, MAQUIS_A_EVENT, event) ||
	    (dir >= 0 && nla_put_u8(msg, MAQUIS_A_DIR, dir)) ||
	    (phase >= 0 && nla_put_u8(msg, MAQUIS_A_PHASE, phase)) ||
	    (hop >= 0 && maq_nl_put_hop(msg, hop)) ||
	    (count && nla_put_u64_64bit(msg, MAQUIS_A_COUNT, count,
					MAQUIS_A_PAD))) {
		nlmsg_free(msg);
		return;
	}
	maq_nl_ntf_send(msg, net, hdr);
}

void maq_nl_cell(struct maq_device *md, const struct maq_addr *peer,
		 const u8 *cell)
{
	struct sk_buff *msg;
	struct net *net;
	void *hdr;

	msg = maq_nl_ntf_new(md, MAQUIS_CMD_CELL_NTF, NLMSG_GOODSIZE, &net,
			     &hdr);
	if (!msg)
		return;
	if (maq_nl_put_addr(msg, MAQUIS_A_PEER, peer) ||
	    nla_put(msg, MAQUIS_A_CELL, MAQ_CELL_SIZE, cell)) {
		nlmsg_free(msg);
		return;
	}
	maq_nl_ntf_send(msg, net, hdr);
}

void maq_nl_ctl(struct maq_device *md, u32 id, const u8 *ctl, int hop)
{
	struct sk_buff *msg;
	struct net *net;
	void *hdr;

	msg = maq_nl_ntf_new(md, MAQUIS_CMD_CELL_NTF, NLMSG_DEFAULT_SIZE,
			     &net, &hdr);
	if (!msg)
		return;
	if (nla_put_u32(msg, MAQUIS_A_ID, id) ||
	    nla_put(msg, MAQUIS_A_CTL, MAQUIS_CTL_LEN, ctl) ||
	    (hop >= 0 && maq_nl_put_hop(msg, hop))) {
		nlmsg_free(msg);
		return;
	}
	maq_nl_ntf_send(msg, net, hdr);
}

/*
 * The events group carries decrypted control messages and the senders of
 * link control cells: only CAP_NET_ADMIN may join.  The spec says so
 * (admin-perm), but the 6.12 generator does not carry group flags over.
 */
static const struct genl_multicast_group maq_nl_mcgrps[] = {
	[MAQUIS_NLGRP_EVENTS] = {
		.name	= MAQUIS_MCGRP_EVENTS,
		.flags	= GENL_MCAST_CAP_NET_ADMIN,
	},
};

int __init maq_nl_init(void)
{
	BUILD_BUG_ON(ARRAY_SIZE(maq_nl_mcgrps) != 1);
	if (WARN_ON(maquis_nl_family.n_mcgrps != ARRAY_SIZE(maq_nl_mcgrps)))
		return -EINVAL;
	maquis_nl_family.mcgrps = maq_nl_mcgrps;
	return genl_register_family(&maquis_nl_family);
}

void maq_nl_uninit(void)
{
	genl_unregister_family(&maquis_nl_family);
}
