// SPDX-License-Identifier: GPL-2.0
/*
 * The circuit table of a device: incoming cid -> direction (rhashtable, read
 * under RCU by the datapath), daemon id -> circuit (xarray), inner prefixes
 * -> circuit (RCU list, longest prefix first), replay windows and expiry.
 * Writers hold maq_device.lock.  A circuit's keys are wiped before its memory
 * goes back, after an RCU grace period, on every path.
 */

#include <linux/bitmap.h>
#include <linux/inetdevice.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <net/ipv6.h>

#include "circuit.h"
#include "netlink.h"

atomic_t maq_circuits_live = ATOMIC_INIT(0);

/* Relay and terminus circuits (one hop) come from their own cache. */
static struct kmem_cache *maq_circuit_cache;

static const struct rhashtable_params maq_cid_params = {
	.key_len		= sizeof(u32),
	.key_offset		= offsetof(struct maq_dir, cid),
	.head_offset		= offsetof(struct maq_dir, node),
	.automatic_shrinking	= true,
};

int __init maq_circuit_cache_init(void)
{
	maq_circuit_cache = kmem_cache_create("maq_circuit",
					      struct_size_t(struct maq_circuit,
							    hops, 1),
					      0, SLAB_ACCOUNT, NULL);
	return maq_circuit_cache ? 0 : -ENOMEM;
}

void maq_circuit_cache_uninit(void)
{
	/* Circuits go back in RCU callbacks: wait for the last of them. */
	rcu_barrier();
	WARN_ON(atomic_read(&maq_circuits_live));
	kmem_cache_destroy(maq_circuit_cache);
}

struct maq_circuit *maq_circuit_alloc(u8 role, u8 n_hops)
{
	struct maq_circuit *c;
	int i;

	if (n_hops == 1)
		c = kmem_cache_zalloc(maq_circuit_cache, GFP_KERNEL);
	else
		c = kzalloc(struct_size(c, hops, n_hops), GFP_KERNEL_ACCOUNT);
	if (!c)
		return NULL;
	for (i = 0; i < 2; i++) {
		c->in[i].dir = i;
		spin_lock_init(&c->in[i].lock);
	}
	c->role = role;
	c->n_hops = n_hops;
	INIT_LIST_HEAD(&c->routes);
	atomic_inc(&maq_circuits_live);
	return c;
}

/* Wipe and free a circuit nobody can reach any more. */
void maq_circuit_free(struct maq_circuit *c)
{
	struct maq_route *r, *tmp;
	u8 n_hops = c->n_hops;

	list_for_each_entry_safe(r, tmp, &c->routes, circ_node) {
		list_del(&r->circ_node);
		kfree(r);
	}
	kfree_sensitive(c->e2e);
	memzero_explicit(c, struct_size(c, hops, n_hops));
	if (n_hops == 1)
		kmem_cache_free(maq_circuit_cache, c);
	else
		kfree(c);
	atomic_dec(&maq_circuits_live);
}

static void maq_circuit_free_rcu(struct rcu_head *rcu)
{
	maq_circuit_free(container_of(rcu, struct maq_circuit, rcu));
}

static bool maq_dir_receives(const struct maq_circuit *c, int dir)
{
	if (dir == MAQUIS_DIR_FWD)
		return c->role != MAQUIS_ROLE_ORIGIN;
	return c->role != MAQUIS_ROLE_TERMINUS;
}

static void maq_route_link(struct maq_device *md, struct maq_route *new)
{
	struct maq_route *r;

	/*
	 * Longest prefix first; a new route goes before older ones of the
	 * same length, so a replacement circuit takes traffic at once.
	 */
	list_for_each_entry(r, &md->routes, dev_node) {
		if (r->len <= new->len) {
			list_add_tail_rcu(&new->dev_node, &r->dev_node);
			return;
		}
	}
	list_add_tail_rcu(&new->dev_node, &md->routes);
}

/*
 * The caller checked, under md->lock, that the id and the incoming cids are
 * free and that the device has room.  On failure nothing changed and @c is
 * still the caller's.
 */
int maq_circuit_insert(struct maq_device *md, struct maq_circuit *c,
		       struct netlink_ext_ack *extack)
{
	unsigned long life = (unsigned long)c->lifetime * HZ;
	struct maq_route *r;
	int i, ret;

	lockdep_assert_held(&md->lock);

	c->created = ktime_get_boottime_seconds();
	c->expires = jiffies + life;
	c->epoch_start = jiffies;
	for (i = 0; i < 2; i++) {
		if (!maq_dir_receives(c, i))
			continue;
		ret = rhashtable_lookup_insert_fast(&md->cids, &c->in[i].node,
						    maq_cid_params);
		if (ret) {
			NL_SET_ERR_MSG_MOD(extack, "cannot add the cid");
			goto err_unhash;
		}
		c->in[i].hashed = 1;
	}

	ret = xa_insert(&md->ids, c->id, c, GFP_KERNEL_ACCOUNT);
	if (ret) {
		NL_SET_ERR_MSG_MOD(extack, "cannot add the circuit id");
		if (ret == -EBUSY)
			ret = -EEXIST;
		goto err_unhash;
	}

	list_for_each_entry(r, &c->routes, circ_node)
		maq_route_link(md, r);
	md->n_circuits++;
	return 0;

err_unhash:
	for (i = 0; i < 2; i++) {
		if (!c->in[i].hashed)
			continue;
		rhashtable_remove_fast(&md->cids, &c->in[i].node,
				       maq_cid_params);
		c->in[i].hashed = 0;
	}
	return ret;
}

/* Unlink @c from every index; it is wiped and freed after a grace period. */
void maq_circuit_remove(struct maq_device *md, struct maq_circuit *c)
{
	struct maq_route *r;
	int i;

	lockdep_assert_held(&md->lock);

	xa_erase(&md->ids, c->id);
	/* The other end stays joined to nothing: its data is dropped. */
	if (c->joined) {
		struct maq_circuit *peer = maq_circuit_joined(md, c);

		if (peer)
			RCU_INIT_POINTER(peer->join, NULL);
	}
	for (i = 0; i < 2; i++)
		if (c->in[i].hashed)
			rhashtable_remove_fast(&md->cids, &c->in[i].node,
					       maq_cid_params);
	list_for_each_entry(r, &c->routes, circ_node)
		list_del_rcu(&r->dev_node);
	md->n_circuits--;
	call_rcu(&c->rcu, maq_circuit_free_rcu);
}

struct maq_circuit *maq_circuit_find(struct maq_device *md, u32 id)
{
	lockdep_assert_held(&md->lock);
	return xa_load(&md->ids, id);
}

struct maq_dir *maq_dir_lookup(struct maq_device *md, u32 cid)
{
	return rhashtable_lookup(&md->cids, &cid, maq_cid_params);
}

struct maq_circuit *maq_route_lookup(struct maq_device *md,
				     struct sk_buff *skb)
{
	struct maq_route *r;

	if (skb->protocol == htons(ETH_P_IP)) {
		__be32 daddr = ip_hdr(skb)->daddr;

		list_for_each_entry_rcu(r, &md->routes, dev_node)
			if (r->family == AF_INET &&
			    !((daddr ^ r->addr.v4) & inet_make_mask(r->len)))
				return r->circ;
	} else if (skb->protocol == htons(ETH_P_IPV6)) {
		const struct in6_addr *daddr = &ipv6_hdr(skb)->daddr;

		list_for_each_entry_rcu(r, &md->routes, dev_node)
			if (r->family == AF_INET6 &&
			    ipv6_prefix_equal(daddr, &r->addr.v6, r->len))
				return r->circ;
	}
	return NULL;
}

static void maq_stats_add(struct maq_stats *st,
			  const struct maq_circ_stats *s)
{
	int i;

	st->cells_in += s->cells_in;
	st->cells_out += s->cells_out;
	st->bytes_in += s->cells_in * MAQ_CELL_SIZE;
	st->bytes_out += s->cells_out * MAQ_CELL_SIZE;
	st->ctl_up += s->ctl_up;
	for (i = 0; i < MAQ_N_DROPS; i++)
		st->drops[i] += s->drops[i];
}

void maq_circuit_stats(struct maq_circuit *c, struct maq_stats *st)
{
	int i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < 2; i++) {
		spin_lock_bh(&c->in[i].lock);
		maq_stats_add(st, &c->in[i].stats);
		spin_unlock_bh(&c->in[i].lock);
	}
}

void maq_circuit_stats_reset(struct maq_circuit *c)
{
	int i;

	for (i = 0; i < 2; i++) {
		spin_lock_bh(&c->in[i].lock);
		memset(&c->in[i].stats, 0, sizeof(c->in[i].stats));
		spin_unlock_bh(&c->in[i].lock);
	}
}

/* Install a key into @slot, or the control key of @dir when @slot < 0. */
void maq_circuit_key_set(struct maq_circuit *c, int hop, int dir, int slot,
			 const u8 key[MAQ_KEY_LEN])
{
	struct maq_hop *h = &c->hops[hop];
	struct maq_dir *d = &c->in[dir];

	spin_lock_bh(&d->lock);
	if (slot < 0) {
		memcpy(h->ctl_key[dir], key, MAQ_KEY_LEN);
		goto out_unlock;
	}
	memcpy(h->key[dir][slot], key, MAQ_KEY_LEN);
	h->used[dir][slot] = 0;
	h->valid[dir] |= BIT(slot);
	spin_unlock_bh(&d->lock);
	/* What the origin may rotate to is read under the forward lock. */
	spin_lock_bh(&c->in[MAQUIS_DIR_FWD].lock);
	h->fresh |= MAQ_FRESH(dir, slot);
	spin_unlock_bh(&c->in[MAQUIS_DIR_FWD].lock);
	return;
out_unlock:
	spin_unlock_bh(&d->lock);
}

u32 maq_circuit_age(const struct maq_circuit *c)
{
	return ktime_get_boottime_seconds() - c->created;
}

/* The circuit @c is joined to, NULL if none or gone. */
struct maq_circuit *maq_circuit_joined(struct maq_device *md,
				       struct maq_circuit *c)
{
	return rcu_dereference_protected(c->join,
					 lockdep_is_held(&md->lock));
}

/* Join two termini the caller checked are distinct and free. */
void maq_circuit_join(struct maq_device *md, struct maq_circuit *a,
		      struct maq_circuit *b)
{
	lockdep_assert_held(&md->lock);
	rcu_assign_pointer(a->join, b);
	rcu_assign_pointer(b->join, a);
	WRITE_ONCE(a->joined, 1);
	WRITE_ONCE(b->joined, 1);
}

/* Undo the join of @c: both ends deliver to the device again. */
void maq_circuit_unjoin(struct maq_device *md, struct maq_circuit *c)
{
	struct maq_circuit *peer = maq_circuit_joined(md, c);

	if (peer) {
		WRITE_ONCE(peer->joined, 0);
		RCU_INIT_POINTER(peer->join, NULL);
	}
	WRITE_ONCE(c->joined, 0);
	RCU_INIT_POINTER(c->join, NULL);
}

bool maq_replay_check(const struct maq_replay *r, u64 ctr)
{
	u64 back;

	if (ctr >= r->next)
		return true;
	back = r->next - 1 - ctr;
	if (back >= MAQ_REPLAY_BITS)
		return false;
	return !test_bit(back, r->bits);
}

/* Accept @ctr once: false if it is a replay or too old. */
bool maq_replay_update(struct maq_replay *r, u64 ctr)
{
	u64 back;

	if (ctr >= r->next) {
		u64 shift = ctr + 1 - r->next;

		if (shift >= MAQ_REPLAY_BITS)
			bitmap_zero(r->bits, MAQ_REPLAY_BITS);
		else
			bitmap_shift_left(r->bits, r->bits, shift,
					  MAQ_REPLAY_BITS);
		r->next = ctr + 1;
		__set_bit(0, r->bits);
		return true;
	}
	back = r->next - 1 - ctr;
	if (back >= MAQ_REPLAY_BITS || test_bit(back, r->bits))
		return false;
	__set_bit(back, r->bits);
	return true;
}

static void maq_circuits_gc(struct work_struct *work)
{
	struct maq_device *md = container_of(to_delayed_work(work),
					     struct maq_device, gc);
	unsigned long now = jiffies, id;
	struct maq_circuit *c;
	bool again;

	mutex_lock(&md->lock);
	xa_for_each(&md->ids, id, c) {
		if (time_before(now, c->expires))
			continue;
		maq_circuit_remove(md, c);
		maq_nl_event(md, id, MAQUIS_EVENT_EXPIRED, -1, -1, -1, 0);
	}
	again = !md->dead;
	mutex_unlock(&md->lock);
	if (again)
		queue_delayed_work(system_power_efficient_wq, &md->gc, HZ);
}

int maq_circuits_init(struct maq_device *md)
{
	int ret;

	ret = rhashtable_init(&md->cids, &maq_cid_params);
	if (ret)
		return ret;
	xa_init(&md->ids);
	INIT_LIST_HEAD(&md->routes);
	INIT_DELAYED_WORK(&md->gc, maq_circuits_gc);
	return 0;
}

void maq_circuits_gc_start(struct maq_device *md)
{
	queue_delayed_work(system_power_efficient_wq, &md->gc, HZ);
}

/* No new circuits and no expiry work after this. */
void maq_circuits_gc_stop(struct maq_device *md)
{
	mutex_lock(&md->lock);
	md->dead = true;
	mutex_unlock(&md->lock);
	cancel_delayed_work_sync(&md->gc);
}

/* The device is going away: remove every circuit, silently. */
void maq_circuits_uninit(struct maq_device *md)
{
	struct maq_circuit *c;
	unsigned long id;

	mutex_lock(&md->lock);
	xa_for_each(&md->ids, id, c)
		maq_circuit_remove(md, c);
	mutex_unlock(&md->lock);
	rhashtable_destroy(&md->cids);
	xa_destroy(&md->ids);
}
