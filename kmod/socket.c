// SPDX-License-Identifier: GPL-2.0
/*
 * The UDP encapsulation sockets of a device: one IPv4 and one IPv6 socket
 * (v6only), in the namespace the device was created in, bound to the
 * device's port and, when set, local address.  They exist while the device
 * is up; changing the port or address of an up device rebinds them.
 */

#include <linux/net.h>
#include <linux/udp.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/ipv6_stubs.h>
#include <net/route.h>
#include <net/udp_tunnel.h>

#include "cell.h"
#include "socket.h"

static int maq_socket_create(struct maq_device *md, struct net *net,
			     int family, u16 port,
			     const struct maq_addr *local,
			     struct socket **sockp)
{
	struct udp_tunnel_sock_cfg tcfg = {
		.sk_user_data	= md,
		.encap_type	= 1,
		.encap_rcv	= maq_cell_rcv,
	};
	struct udp_port_cfg cfg = {
		.family		= family,
		.local_udp_port	= htons(port),
	};
	struct sock *sk;
	int ret;

	if (family == AF_INET) {
		if (local->family == AF_INET)
			cfg.local_ip.s_addr = local->v4;
		cfg.use_udp_checksums = true;
	} else {
		if (local->family == AF_INET6)
			cfg.local_ip6 = local->v6;
		cfg.ipv6_v6only = 1;
		cfg.use_udp6_tx_checksums = true;
		cfg.use_udp6_rx_checksums = true;
	}
	ret = udp_sock_create(net, &cfg, sockp);
	if (ret)
		return ret;
	sk = (*sockp)->sk;
	sk->sk_allocation = GFP_ATOMIC;
	sk->sk_sndbuf = INT_MAX;
	setup_udp_tunnel_sock(net, *sockp, &tcfg);
	return 0;
}

static void maq_socket_free(struct sock *sk)
{
	if (sk)
		udp_tunnel_sock_release(sk->sk_socket);
}

static void maq_socket_swap(struct maq_device *md, struct sock *new4,
			    struct sock *new6)
{
	struct sock *old4, *old6;

	lockdep_assert_held(&md->lock);
	old4 = rcu_replace_pointer(md->sock4, new4,
				   lockdep_is_held(&md->lock));
	old6 = rcu_replace_pointer(md->sock6, new6,
				   lockdep_is_held(&md->lock));
	synchronize_net();
	maq_socket_free(old4);
	maq_socket_free(old6);
}

/*
 * Open the sockets for @port and @local (family 0: any address, both
 * families; IPv6 may be missing then) and put them in place of the current
 * ones, which the caller closed if they held the same port.
 */
int maq_socket_open(struct maq_device *md, u16 port,
		    const struct maq_addr *local)
{
	struct socket *new4 = NULL, *new6 = NULL;
	struct net *net;
	int ret = 0;

	lockdep_assert_held(&md->lock);

	rcu_read_lock();
	net = rcu_dereference(md->creating_net);
	net = net ? maybe_get_net(net) : NULL;
	rcu_read_unlock();
	if (!net)
		return -ENONET;

	if (local->family != AF_INET6) {
		ret = maq_socket_create(md, net, AF_INET, port, local, &new4);
		if (ret)
			goto out_put_net;
	}
	if (local->family != AF_INET && ipv6_mod_enabled()) {
		ret = maq_socket_create(md, net, AF_INET6, port, local, &new6);
		/* Without a local address, an IPv4-only namespace is fine. */
		if (ret == -EAFNOSUPPORT && !local->family) {
			new6 = NULL;
			ret = 0;
		} else if (ret) {
			goto err_free4;
		}
	}
	maq_socket_swap(md, new4 ? new4->sk : NULL, new6 ? new6->sk : NULL);
	goto out_put_net;

err_free4:
	if (new4)
		udp_tunnel_sock_release(new4);
out_put_net:
	put_net(net);
	return ret;
}

void maq_socket_close(struct maq_device *md)
{
	maq_socket_swap(md, NULL, NULL);
}

/*
 * Send one cell (@skb->data, MAQ_CELL_SIZE bytes) to @peer from the device's
 * socket of that family.  Always consumes @skb.  Called with BHs off.
 */
int maq_socket_send(struct maq_device *md, struct sk_buff *skb,
		    const struct maq_addr *peer)
{
	struct net_device *dev = md->dev;
	struct dst_entry *dst;
	struct sock *sk;
	struct net *net;
	int ret;

	rcu_read_lock();
	sk = peer->family == AF_INET ? rcu_dereference(md->sock4) :
				       rcu_dereference(md->sock6);
	if (unlikely(!sk)) {
		ret = -ENETUNREACH;
		goto err;
	}
	net = sock_net(sk);

	/* A relayed skb still carries its arrival state. */
	skb_scrub_packet(skb, true);
	skb_orphan(skb);
	skb->ip_summed = CHECKSUM_NONE;
	skb->dev = dev;

	if (peer->family == AF_INET) {
		struct flowi4 fl4 = {
			.daddr		= peer->v4,
			.flowi4_proto	= IPPROTO_UDP,
			.fl4_sport	= inet_sk(sk)->inet_sport,
			.fl4_dport	= peer->port,
		};
		struct rtable *rt;

		if (md->local.family == AF_INET)
			fl4.saddr = md->local.v4;
		rt = ip_route_output_flow(net, &fl4, sk);
		if (IS_ERR(rt)) {
			ret = PTR_ERR(rt);
			goto err;
		}
		dst = &rt->dst;
		if (unlikely(dst->dev == dev)) {
			ret = -ELOOP;
			goto err_dst;
		}
		ret = skb_cow_head(skb, LL_RESERVED_SPACE(dst->dev) +
				   dst->header_len + sizeof(struct iphdr) +
				   sizeof(struct udphdr));
		if (unlikely(ret))
			goto err_dst;
		udp_tunnel_xmit_skb(rt, sk, skb, fl4.saddr, fl4.daddr, 0,
				    ip4_dst_hoplimit(dst), 0, fl4.fl4_sport,
				    fl4.fl4_dport, !net_eq(net, dev_net(dev)),
				    false);
	} else {
		struct flowi6 fl6 = {
			.daddr		= peer->v6,
			.flowi6_proto	= IPPROTO_UDP,
			.fl6_sport	= inet_sk(sk)->inet_sport,
			.fl6_dport	= peer->port,
		};

		if (md->local.family == AF_INET6)
			fl6.saddr = md->local.v6;
		dst = ipv6_stub->ipv6_dst_lookup_flow(net, sk, &fl6, NULL);
		if (IS_ERR(dst)) {
			ret = PTR_ERR(dst);
			goto err;
		}
		if (unlikely(dst->dev == dev)) {
			ret = -ELOOP;
			goto err_dst;
		}
		ret = skb_cow_head(skb, LL_RESERVED_SPACE(dst->dev) +
				   dst->header_len + sizeof(struct ipv6hdr) +
				   sizeof(struct udphdr));
		if (unlikely(ret))
			goto err_dst;
		udp_tunnel6_xmit_skb(dst, sk, skb, dev, &fl6.saddr, &fl6.daddr,
				     0, ip6_dst_hoplimit(dst), 0,
				     fl6.fl6_sport, fl6.fl6_dport, false);
	}
	rcu_read_unlock();
	return 0;

err_dst:
	dst_release(dst);
err:
	rcu_read_unlock();
	kfree_skb(skb);
	return ret;
}
