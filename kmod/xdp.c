// SPDX-License-Identifier: GPL-2.0
/*
 * The XDP fast path: kfuncs that run the relay step of cell.c on a cell in
 * an XDP buffer, with the module's circuit table and counters and the
 * kernel's crypto.  The program around them (bpf/relay_kfunc.bpf.c) parses
 * the frame, routes with bpf_fib_lookup() and writes the outer headers.
 * include/maquis/xdp.h is the interface.
 *
 * A cell goes through two calls: lookup() finds the next hop without
 * touching anything, so that a cell the program cannot route yet (no
 * neighbour entry, say) still reaches the socket path untouched; relay()
 * then does the step itself.
 */

#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/udp.h>
#include <linux/unaligned.h>
#include <net/checksum.h>
#include <net/inet_sock.h>
#include <net/xdp.h>

#include <maquis/xdp.h>

#include "cell.h"
#include "xdp.h"

/*
 * The cell at @cell_off of @xdp: 0 and *@cell when it lies in the linear
 * part with MAQ_SHIFT bytes in front, 1 when it does not lie there.
 */
static int maq_xdp_cell(struct xdp_buff *xdp, u32 cell_off, u8 **cell)
{
	u32 len = xdp->data_end - xdp->data;

	if (cell_off < MAQ_SHIFT)
		return -EINVAL;
	if (len < MAQ_CELL_SIZE || cell_off > len - MAQ_CELL_SIZE)
		return 1;
	*cell = (u8 *)xdp->data + cell_off;
	return 0;
}

/* The device @ifindex, if the socket the cell is for is one of its own. */
static struct maq_device *maq_xdp_device(struct xdp_buff *xdp, u32 ifindex,
					 const u8 *cell)
{
	const struct udphdr *uh = (const void *)(cell - sizeof(*uh));
	struct net *net = dev_net(xdp->rxq->dev);
	struct maq_device *md;
	struct net_device *dev;
	struct sock *sk;

	dev = dev_get_by_index_rcu(net, ifindex);
	if (!dev || dev->rtnl_link_ops != &maq_link_ops)
		return NULL;
	md = netdev_priv(dev);
	if (rcu_access_pointer(md->creating_net) != net)
		return NULL;
	sk = rcu_dereference(md->sock4) ?: rcu_dereference(md->sock6);
	if (!sk || inet_sk(sk)->inet_sport != get_unaligned(&uh->dest))
		return NULL;
	return md;
}

/* The receiving direction of a relay circuit for the cell, or NULL. */
static struct maq_dir *maq_xdp_dir(struct maq_device *md, const u8 *cell)
{
	u32 cid = get_unaligned_be32(cell);
	struct maq_dir *d;

	if (!cid)
		return NULL;
	d = maq_dir_lookup(md, cid);
	if (!d || maq_dir_circuit(d)->role != MAQUIS_ROLE_RELAY)
		return NULL;
	return d;
}

static void maq_xdp_next(struct maq_circuit *c, int dir,
			 struct maq_xdp_step *st)
{
	const struct maq_addr *a = &c->peer[dir];

	memset(st, 0, sizeof(*st));
	st->family = a->family;
	st->dir = dir;
	st->port = a->port;
	if (a->family == AF_INET)
		st->addr[0] = a->v4;
	else
		memcpy(st->addr, &a->v6, sizeof(a->v6));
}

static bool maq_xdp_same_next(struct maq_circuit *c, int dir,
			      const struct maq_xdp_step *st)
{
	struct maq_xdp_step now;

	maq_xdp_next(c, dir, &now);
	return now.family == st->family && now.dir == st->dir &&
	       now.port == st->port &&
	       !memcmp(now.addr, st->addr, sizeof(now.addr));
}

__bpf_kfunc_start_defs();

/* Which relay circuit a cell is for, and where it would go: see xdp.h. */
__bpf_kfunc int bpf_maquis_xdp_lookup(struct xdp_md *ctx, u32 cell_off,
				      u32 ifindex, struct maq_xdp_step *step,
				      u32 step__sz)
{
	struct xdp_buff *xdp = (struct xdp_buff *)ctx;
	int ret = MAQ_XDP_PASS;
	struct maq_device *md;
	struct maq_dir *d;
	u8 *cell;

	if (step__sz < sizeof(*step))
		return -EINVAL;
	ret = maq_xdp_cell(xdp, cell_off, &cell);
	if (ret)
		return ret < 0 ? ret : MAQ_XDP_PASS;

	rcu_read_lock();
	md = maq_xdp_device(xdp, ifindex, cell);
	d = md ? maq_xdp_dir(md, cell) : NULL;
	if (d) {
		maq_xdp_next(maq_dir_circuit(d), d->dir, step);
		ret = MAQ_XDP_FORWARD;
	}
	rcu_read_unlock();
	return ret;
}

/* The relay step on the cell, in place: see xdp.h. */
__bpf_kfunc int bpf_maquis_xdp_relay(struct xdp_md *ctx, u32 cell_off,
				     u32 ifindex, struct maq_xdp_step *step,
				     u32 step__sz)
{
	struct xdp_buff *xdp = (struct xdp_buff *)ctx;
	int ret = MAQ_XDP_PASS;
	struct maq_device *md;
	struct maq_circuit *c;
	struct maq_dir *d;
	u8 *cell, *out;

	if (step__sz < sizeof(*step))
		return -EINVAL;
	ret = maq_xdp_cell(xdp, cell_off, &cell);
	if (ret)
		return ret < 0 ? ret : MAQ_XDP_PASS;

	rcu_read_lock();
	md = maq_xdp_device(xdp, ifindex, cell);
	d = md ? maq_xdp_dir(md, cell) : NULL;
	if (!d)
		goto out;
	c = maq_dir_circuit(d);
	if (!maq_xdp_same_next(c, d->dir, step))
		goto out;

	if (d->dir == MAQUIS_DIR_FWD) {
		/* The cell to send starts MAQ_SHIFT bytes earlier. */
		ret = maq_rx_fwd_cell(md, c, d, cell, false, &out);
		if (ret == MAQ_RX_CTL) {
			/* For the daemon: the socket path opens it again. */
			ret = MAQ_XDP_PASS;
			goto out;
		}
	} else {
		/* Move it forward first: its successor ends where it ends. */
		memmove(cell - MAQ_SHIFT, cell, MAQ_CELL_SIZE);
		ret = maq_rx_back_cell(md, c, d, cell - MAQ_SHIFT, &out);
	}

	maq_dev_count(md, true, MAQ_CELL_SIZE);
	if (ret == MAQ_RX_OK) {
		maq_dev_count(md, false, MAQ_CELL_SIZE);
		step->cell_off = out - (u8 *)xdp->data;
		step->csum = (__force u32)csum_partial(out, MAQ_CELL_SIZE, 0);
		ret = MAQ_XDP_FORWARD;
	} else {
		step->drop = ret;
		ret = MAQ_XDP_DROP;
	}
out:
	rcu_read_unlock();
	return ret;
}

__bpf_kfunc_end_defs();

BTF_KFUNCS_START(maq_xdp_kfunc_ids)
BTF_ID_FLAGS(func, bpf_maquis_xdp_lookup, KF_TRUSTED_ARGS)
BTF_ID_FLAGS(func, bpf_maquis_xdp_relay, KF_TRUSTED_ARGS)
BTF_KFUNCS_END(maq_xdp_kfunc_ids)

static const struct btf_kfunc_id_set maq_xdp_kfunc_set = {
	.owner	= THIS_MODULE,
	.set	= &maq_xdp_kfunc_ids,
};

/* Not fatal: without the kfuncs, cells take the socket path. */
void __init maq_xdp_init(void)
{
	int ret;

	ret = register_btf_kfunc_id_set(BPF_PROG_TYPE_XDP, &maq_xdp_kfunc_set);
	if (ret)
		pr_warn("maquis: no XDP kfuncs: %d\n", ret);
}
