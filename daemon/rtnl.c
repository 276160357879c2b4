// SPDX-License-Identifier: GPL-2.0
/*
 * maquisd and rtnetlink: the device it serves, the inner address of this
 * host on it, and a kernel route to it for every prefix a circuit carries,
 * so that a built circuit is usable with no `ip` command (as wg-quick does
 * for WireGuard).
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/socket.h>
#include <netlink/errno.h>

#include "maquisd.h"

/* Send @msg (consumed) on a fresh NETLINK_ROUTE socket and wait for its
 * ack.  0 or a libnl error (negative NLE_*).
 */
static int rtnl_do(struct nl_msg *msg)
{
	struct nl_sock *sk = nl_socket_alloc();
	int err;

	if (!sk) {
		nlmsg_free(msg);
		return -NLE_NOMEM;
	}
	err = nl_connect(sk, NETLINK_ROUTE);
	if (!err)
		err = nl_send_auto(sk, msg);
	if (err >= 0)
		err = nl_wait_for_ack(sk);
	nlmsg_free(msg);
	nl_socket_free(sk);
	return err < 0 ? err : 0;
}

static int link_up(u32 ifindex)
{
	struct ifinfomsg ifi = {
		.ifi_family = AF_UNSPEC,
		.ifi_index = (int)ifindex,
		.ifi_flags = IFF_UP,
		.ifi_change = IFF_UP,
	};
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_ACK);

	if (!msg || nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO)) {
		nlmsg_free(msg);
		return -NLE_NOMEM;
	}
	return rtnl_do(msg);
}

int maqd_link_ensure(const char *name, u32 *ifindex, char *err,
		     size_t errlen)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nl_msg *msg;
	struct nlattr *info;
	int ret;

	*ifindex = if_nametoindex(name);
	if (!*ifindex) {
		msg = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_CREATE |
					 NLM_F_EXCL | NLM_F_ACK);
		if (!msg ||
		    nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) ||
		    nla_put_string(msg, IFLA_IFNAME, name) ||
		    !(info = nla_nest_start(msg, IFLA_LINKINFO)) ||
		    nla_put_string(msg, IFLA_INFO_KIND, "maquis")) {
			nlmsg_free(msg);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		nla_nest_end(msg, info);
		ret = rtnl_do(msg);
		if (ret && ret != -NLE_EXIST) {
			snprintf(err, errlen,
				 "cannot create %s (type maquis): %s%s", name,
				 nl_geterror(ret),
				 ret == -NLE_OPNOTSUPP || ret == -NLE_NOATTR ?
				 " (is maquis.ko loaded?)" : "");
			return -ENODEV;
		}
		*ifindex = if_nametoindex(name);
		if (!*ifindex) {
			snprintf(err, errlen, "%s vanished after creation",
				 name);
			return -ENODEV;
		}
		log_info("created %s", name);
	}
	ret = link_up(*ifindex);
	if (ret) {
		snprintf(err, errlen, "cannot bring %s up: %s", name,
			 nl_geterror(ret));
		return -EIO;
	}
	return 0;
}

static int prefix_bytes(const struct maq_prefix *p, const void **a)
{
	if (p->family == AF_INET) {
		*a = &p->addr.v4;
		return 4;
	}
	*a = &p->addr.v6;
	return 16;
}

int maqd_addr_add(u32 ifindex, const struct maq_prefix *p)
{
	struct ifaddrmsg ifa = {
		.ifa_family = (u8)p->family,
		.ifa_prefixlen = p->len,
		.ifa_index = ifindex,
	};
	struct nl_msg *msg;
	const void *a;
	int len = prefix_bytes(p, &a), ret;

	msg = nlmsg_alloc_simple(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL |
				 NLM_F_ACK);
	if (!msg || nlmsg_append(msg, &ifa, sizeof(ifa), NLMSG_ALIGNTO) ||
	    nla_put(msg, IFA_LOCAL, len, a) ||
	    nla_put(msg, IFA_ADDRESS, len, a)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	ret = rtnl_do(msg);
	if (ret == -NLE_EXIST)
		return 0;
	return ret ? -EIO : 0;
}

int maqd_route(u32 ifindex, const struct maq_prefix *p, bool add)
{
	struct rtmsg rtm = {
		.rtm_family = (u8)p->family,
		.rtm_dst_len = p->len,
		.rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = RTPROT_STATIC,
		.rtm_scope = RT_SCOPE_LINK,
		.rtm_type = RTN_UNICAST,
	};
	struct nl_msg *msg;
	const void *a;
	int len = prefix_bytes(p, &a), ret;

	msg = nlmsg_alloc_simple(add ? RTM_NEWROUTE : RTM_DELROUTE,
				 add ? NLM_F_CREATE | NLM_F_REPLACE |
				       NLM_F_ACK : NLM_F_ACK);
	if (!msg || nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) ||
	    nla_put(msg, RTA_DST, len, a) ||
	    nla_put_u32(msg, RTA_OIF, ifindex)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	ret = rtnl_do(msg);
	if (!add && ret == -NLE_OBJ_NOTFOUND)
		return 0;
	return ret ? -EIO : 0;
}

int maqd_addr6(u32 ifindex, const struct in6_addr *a, bool add)
{
	struct ifaddrmsg ifa = {
		.ifa_family = AF_INET6,
		.ifa_prefixlen = 128,
		.ifa_flags = IFA_F_NODAD,
		.ifa_index = ifindex,
	};
	struct nl_msg *msg;
	int ret;

	msg = nlmsg_alloc_simple(add ? RTM_NEWADDR : RTM_DELADDR,
				 add ? NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK :
				       NLM_F_ACK);
	if (!msg || nlmsg_append(msg, &ifa, sizeof(ifa), NLMSG_ALIGNTO) ||
	    nla_put(msg, IFA_LOCAL, 16, a) || nla_put(msg, IFA_ADDRESS, 16, a)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	ret = rtnl_do(msg);
	if (!add && ret == -NLE_NOADDR)
		return 0;
	return ret ? -EIO : 0;
}

int maqd_route_mtu(u32 ifindex, const struct maq_prefix *p, u32 mtu)
{
	struct rtmsg rtm = {
		.rtm_family = (u8)p->family,
		.rtm_dst_len = p->len,
		.rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = RTPROT_STATIC,
		.rtm_scope = RT_SCOPE_LINK,
		.rtm_type = RTN_UNICAST,
	};
	struct nl_msg *msg;
	struct nlattr *mx;
	const void *a;
	int len = prefix_bytes(p, &a);

	msg = nlmsg_alloc_simple(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE |
				 NLM_F_ACK);
	if (!msg || nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) ||
	    nla_put(msg, RTA_DST, len, a) ||
	    nla_put_u32(msg, RTA_OIF, ifindex) ||
	    !(mx = nla_nest_start(msg, RTA_METRICS)) ||
	    nla_put_u32(msg, RTAX_MTU, mtu)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	nla_nest_end(msg, mx);
	return rtnl_do(msg) ? -EIO : 0;
}
