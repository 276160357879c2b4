// SPDX-License-Identifier: GPL-2.0
/*
 * maquis devices: `ip link add maq0 type maquis`, any number a namespace.
 * The device carries the inner packets of the circuits it routes; its UDP
 * sockets live in the namespace it was created in (as WireGuard's do), so
 * it may be moved into another one and keep its underlay.
 */

#include <linux/if_arp.h>
#include <linux/inetdevice.h>
#include <linux/rtnetlink.h>
#include <net/addrconf.h>
#include <net/ip_tunnels.h>
#include <net/net_namespace.h>
#include <net/rtnetlink.h>

#include "cell.h"
#include "circuit.h"
#include "device.h"
#include "socket.h"

/* cell-ntf budget: what a flood of control cells may cost netlink. */
#define MAQ_NTF_RATE	2000	/* a second */
#define MAQ_NTF_BURST	500

static LIST_HEAD(maq_device_list);	/* under RTNL */

static int maq_open(struct net_device *dev)
{
	struct in_device *dev_v4 = __in_dev_get_rtnl(dev);
	struct inet6_dev *dev_v6 = __in6_dev_get(dev);
	struct maq_device *md = netdev_priv(dev);
	int ret;

	/* A point-to-point tunnel: no redirects, no link-local chatter. */
	if (dev_v4)
		IN_DEV_CONF_SET(dev_v4, SEND_REDIRECTS, false);
	if (dev_v6)
		WRITE_ONCE(dev_v6->cnf.addr_gen_mode, IN6_ADDR_GEN_MODE_NONE);

	mutex_lock(&md->lock);
	ret = maq_socket_open(md, md->port, &md->local);
	if (!ret)
		md->up = true;
	mutex_unlock(&md->lock);
	if (ret)
		netdev_err(dev, "cannot open UDP port %u: %d\n", md->port, ret);
	return ret;
}

static int maq_stop(struct net_device *dev)
{
	struct maq_device *md = netdev_priv(dev);

	mutex_lock(&md->lock);
	md->up = false;
	maq_socket_close(md);
	mutex_unlock(&md->lock);
	return 0;
}

static int maq_init(struct net_device *dev)
{
	struct maq_device *md = netdev_priv(dev);

	return gro_cells_init(&md->gro_cells, dev);
}

static void maq_uninit(struct net_device *dev)
{
	struct maq_device *md = netdev_priv(dev);

	list_del_init(&md->device_list);
	maq_circuits_gc_stop(md);
	gro_cells_destroy(&md->gro_cells);
}

static const struct net_device_ops maq_netdev_ops = {
	.ndo_init		= maq_init,
	.ndo_uninit		= maq_uninit,
	.ndo_open		= maq_open,
	.ndo_stop		= maq_stop,
	.ndo_start_xmit		= maq_cell_xmit,
	.ndo_get_stats64	= dev_get_tstats64,
};

/* Last reference gone: no netlink request, socket or work can reach us. */
static void maq_destruct(struct net_device *dev)
{
	struct maq_device *md = netdev_priv(dev);

	maq_circuits_uninit(md);
	free_percpu(md->stats);
	mutex_destroy(&md->lock);
}

static const struct device_type maq_device_type = { .name = KBUILD_MODNAME };

static void maq_setup(struct net_device *dev)
{
	struct maq_device *md = netdev_priv(dev);
	enum { MAQ_FEATURES = NETIF_F_HW_CSUM | NETIF_F_SG |
			      NETIF_F_HIGHDMA };

	dev->netdev_ops = &maq_netdev_ops;
	dev->header_ops = &ip_tunnel_header_ops;
	dev->hard_header_len = 0;
	dev->addr_len = 0;
	dev->type = ARPHRD_NONE;
	dev->flags = IFF_POINTOPOINT | IFF_NOARP;
	dev->priv_flags |= IFF_NO_QUEUE;
	dev->lltx = true;
	dev->features |= MAQ_FEATURES;
	dev->hw_features |= MAQ_FEATURES;
	dev->mtu = MAQ_INNER_MTU;
	dev->min_mtu = ETH_MIN_MTU;
	dev->max_mtu = MAQ_INNER_MTU;
	dev->pcpu_stat_type = NETDEV_PCPU_STAT_TSTATS;
	dev->needs_free_netdev = true;
	SET_NETDEV_DEVTYPE(dev, &maq_device_type);
	netif_keep_dst(dev);

	memset(md, 0, sizeof(*md));
	md->dev = dev;
}

static int maq_newlink(struct net *src_net, struct net_device *dev,
		       struct nlattr *tb[], struct nlattr *data[],
		       struct netlink_ext_ack *extack)
{
	struct maq_device *md = netdev_priv(dev);
	int ret;

	rcu_assign_pointer(md->creating_net, src_net);
	INIT_LIST_HEAD(&md->device_list);
	mutex_init(&md->lock);
	spin_lock_init(&md->ntf_lock);
	md->port = MAQ_DEFAULT_PORT;
	md->max_circuits = MAQ_DEFAULT_MAX_CIRCUITS;
	maq_rate_init(&md->relay_rate);
	md->ntf_tokens = MAQ_NTF_BURST;
	md->ntf_stamp = jiffies;

	md->stats = netdev_alloc_pcpu_stats(struct maq_pcpu_stats);
	if (!md->stats)
		return -ENOMEM;
	ret = maq_circuits_init(md);
	if (ret)
		goto err_free_stats;
	ret = register_netdevice(dev);
	if (ret)
		goto err_uninit_circuits;

	list_add(&md->device_list, &maq_device_list);
	maq_circuits_gc_start(md);
	/* Only now: register_netdevice must not call it when it fails. */
	dev->priv_destructor = maq_destruct;
	return 0;

err_uninit_circuits:
	maq_circuits_uninit(md);
err_free_stats:
	free_percpu(md->stats);
	return ret;
}

struct rtnl_link_ops maq_link_ops __read_mostly = {
	.kind		= KBUILD_MODNAME,
	.priv_size	= sizeof(struct maq_device),
	.setup		= maq_setup,
	.newlink	= maq_newlink,
};

struct maq_device *maq_device_get(struct net *net, int ifindex,
				  netdevice_tracker *tracker)
{
	struct net_device *dev;

	dev = netdev_get_by_index(net, ifindex, tracker, GFP_KERNEL);
	if (!dev)
		return NULL;
	if (dev->rtnl_link_ops != &maq_link_ops) {
		netdev_put(dev, tracker);
		return NULL;
	}
	return netdev_priv(dev);
}

struct maq_device *maq_device_next(struct net *net, unsigned long *ifindex,
				   netdevice_tracker *tracker)
{
	unsigned long idx = *ifindex;
	struct net_device *dev;

	rcu_read_lock();
	for_each_netdev_dump(net, dev, idx) {
		if (dev->rtnl_link_ops == &maq_link_ops) {
			netdev_hold(dev, tracker, GFP_ATOMIC);
			rcu_read_unlock();
			*ifindex = idx;
			return netdev_priv(dev);
		}
	}
	rcu_read_unlock();
	*ifindex = idx;
	return NULL;
}

void maq_device_put(struct maq_device *md, netdevice_tracker *tracker)
{
	netdev_put(md->dev, tracker);
}

void maq_device_stats_fold(struct maq_device *md, struct maq_stats *st)
{
	int cpu, i;

	memset(st, 0, sizeof(*st));
	for_each_possible_cpu(cpu) {
		const struct maq_pcpu_stats *s = per_cpu_ptr(md->stats, cpu);
		struct maq_stats one;
		unsigned int start;

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			one.cells_in = u64_stats_read(&s->cells_in);
			one.cells_out = u64_stats_read(&s->cells_out);
			one.bytes_in = u64_stats_read(&s->bytes_in);
			one.bytes_out = u64_stats_read(&s->bytes_out);
			one.ctl_up = u64_stats_read(&s->ctl_up);
			for (i = 0; i < MAQ_N_DROPS; i++)
				one.drops[i] = u64_stats_read(&s->drops[i]);
		} while (u64_stats_fetch_retry(&s->syncp, start));
		st->cells_in += one.cells_in;
		st->cells_out += one.cells_out;
		st->bytes_in += one.bytes_in;
		st->bytes_out += one.bytes_out;
		st->ctl_up += one.ctl_up;
		for (i = 0; i < MAQ_N_DROPS; i++)
			st->drops[i] += one.drops[i];
	}
}

void maq_device_stats_reset(struct maq_device *md)
{
	int cpu, i;

	for_each_possible_cpu(cpu) {
		struct maq_pcpu_stats *s = per_cpu_ptr(md->stats, cpu);

		u64_stats_set(&s->cells_in, 0);
		u64_stats_set(&s->cells_out, 0);
		u64_stats_set(&s->bytes_in, 0);
		u64_stats_set(&s->bytes_out, 0);
		u64_stats_set(&s->ctl_up, 0);
		for (i = 0; i < MAQ_N_DROPS; i++)
			u64_stats_set(&s->drops[i], 0);
	}
}

/* May one more message go up to the daemon?  A token bucket a device. */
bool maq_device_ntf_allow(struct maq_device *md)
{
	unsigned long now = jiffies;
	bool ok;

	spin_lock_bh(&md->ntf_lock);
	if (now != md->ntf_stamp) {
		u64 add = div_u64((u64)(now - md->ntf_stamp) * MAQ_NTF_RATE,
				  HZ);

		if (add) {
			md->ntf_tokens = min_t(u64, md->ntf_tokens + add,
					       MAQ_NTF_BURST);
			md->ntf_stamp = now;
		}
	}
	ok = md->ntf_tokens > 0;
	if (ok)
		md->ntf_tokens--;
	spin_unlock_bh(&md->ntf_lock);
	if (!ok)
		DEV_STATS_INC(md->dev, rx_dropped);
	return ok;
}

/* The namespace holding a device's sockets goes away: close them. */
static void __net_exit maq_netns_exit_rtnl(struct net *net,
					   struct list_head *dev_kill_list)
{
	struct maq_device *md;

	list_for_each_entry(md, &maq_device_list, device_list) {
		if (rcu_access_pointer(md->creating_net) != net)
			continue;
		netif_carrier_off(md->dev);
		mutex_lock(&md->lock);
		rcu_assign_pointer(md->creating_net, NULL);
		maq_socket_close(md);
		mutex_unlock(&md->lock);
	}
}

static struct pernet_operations maq_pernet_ops __read_mostly = {
	.exit_rtnl	= maq_netns_exit_rtnl,
};

int __init maq_device_init(void)
{
	int ret;

	ret = register_pernet_device(&maq_pernet_ops);
	if (ret)
		return ret;
	ret = rtnl_link_register(&maq_link_ops);
	if (ret)
		goto err_unregister_pernet;
	return 0;

err_unregister_pernet:
	unregister_pernet_device(&maq_pernet_ops);
	return ret;
}

void maq_device_uninit(void)
{
	rtnl_link_unregister(&maq_link_ops);
	unregister_pernet_device(&maq_pernet_ops);
}
