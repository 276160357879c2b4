// SPDX-License-Identifier: GPL-2.0
/*
 * The datapath: cells in from the UDP sockets (softirq), inner packets in
 * from maq0 (ndo_start_xmit), the layer transform of include/maquis/layer.h
 * and the way out.  Circuit state is read under RCU; the per-direction lock
 * is held only to check and update counters and to copy keys to the stack,
 * never across the crypto.
 */

#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/udp.h>
#include <linux/unaligned.h>
#include <net/icmp.h>
#include <net/ip.h>

#include "cell.h"
#include "crypto.h"
#include "netlink.h"
#include "socket.h"

#define MAQ_WORK_LEN	(MAQ_PAD_LEN + MAQ_BODY_LEN + MAQ_TAG_LEN)
#define MAQ_TX_HEADROOM	(LL_MAX_HEADER + sizeof(struct ipv6hdr) + \
			 sizeof(struct udphdr))

static inline int maq_seq_slot(u64 seq)
{
	return !!(seq & MAQ_SEQ_PHASE);
}

static inline u64 maq_seq_make(int phase, u64 ctr)
{
	return (phase ? MAQ_SEQ_PHASE : 0) | (ctr & MAQ_SEQ_CTR_MASK);
}

/* What to tell the daemon once the direction lock is dropped. */
struct maq_note {
	u64 count;
	s8 event;
	s8 dir;
	s8 phase;
	s8 hop;
};

static void maq_note_init(struct maq_note *n)
{
	n->event = -1;
}

static void maq_note_send(struct maq_device *md, struct maq_circuit *c,
			  const struct maq_note *n)
{
	if (n->event >= 0)
		maq_nl_event(md, c->id, n->event, n->dir, n->phase, n->hop,
			     n->count);
}

/* Count a drop on the device and the circuit; report tampering, replays. */
static void maq_dir_drop(struct maq_device *md, struct maq_circuit *c,
			 struct maq_dir *d, enum maquis_drop why)
{
	unsigned long now = jiffies;
	struct maq_note n;

	maq_note_init(&n);
	maq_dev_drop(md, why);
	spin_lock_bh(&d->lock);
	d->stats.drops[why]++;
	if (why == MAQUIS_DROP_BAD_TAG) {
		d->tamper_n++;
		if (time_after_eq(now, d->tamper_ts + HZ)) {
			n.event = MAQUIS_EVENT_TAMPER;
			n.count = d->tamper_n;
			d->tamper_n = 0;
			d->tamper_ts = now;
		}
	} else if (why == MAQUIS_DROP_REPLAY) {
		d->replay_n++;
		if (time_after_eq(now, d->replay_ts + HZ)) {
			n.event = MAQUIS_EVENT_REPLAY;
			n.count = d->replay_n;
			d->replay_n = 0;
			d->replay_ts = now;
		}
	}
	spin_unlock_bh(&d->lock);
	n.dir = d->dir;
	n.phase = -1;
	n.hop = -1;
	maq_note_send(md, c, &n);
}

/*
 * Account one use of key slot @slot of @dir on hop @hop, under the lock of
 * that direction.  False when the slot is empty or worn out.
 */
static bool maq_key_use(struct maq_circuit *c, int hop, int dir, int slot,
			struct maq_note *n)
{
	struct maq_hop *h = &c->hops[hop];

	if (!(h->valid[dir] & BIT(slot)) ||
	    h->used[dir][slot] >= MAQ_KEY_HARD_LIMIT)
		return false;
	if (++h->used[dir][slot] == MAQ_KEY_SOFT_LIMIT) {
		n->event = MAQUIS_EVENT_KEY_LIMIT;
		n->dir = dir;
		n->phase = slot;
		n->hop = hop;
		n->count = MAQ_KEY_SOFT_LIMIT;
	}
	return true;
}

static bool maq_key_usable(const struct maq_circuit *c, int hop, int dir,
			   int slot)
{
	const struct maq_hop *h = &c->hops[hop];

	return (h->valid[dir] & BIT(slot)) &&
	       h->used[dir][slot] < MAQ_KEY_HARD_LIMIT;
}

/* A cell opened in @phase on a receiving direction; under its lock. */
static void maq_phase_seen(struct maq_dir *d, int phase, struct maq_note *n)
{
	if (d->phase == phase)
		return;
	d->phase = phase;
	/* A key-limit note is rarer and cannot wait; the phase is in the
	 * circuit for anyone who missed it.
	 */
	if (n->event >= 0)
		return;
	n->event = MAQUIS_EVENT_KEY_PHASE;
	n->dir = d->dir;
	n->phase = phase;
	n->hop = -1;
	n->count = 0;
}

/* Send @skb (a whole cell) towards @dir of @c; counted where it fails. */
static void maq_cell_out(struct maq_device *md, struct maq_circuit *c,
			 struct maq_dir *d, struct sk_buff *skb, int dir)
{
	unsigned int len = skb->len;

	if (unlikely(maq_socket_send(md, skb, &c->peer[dir]))) {
		spin_lock_bh(&d->lock);
		d->stats.cells_out--;
		spin_unlock_bh(&d->lock);
		maq_dir_drop(md, c, d, MAQUIS_DROP_NO_ROUTE);
		return;
	}
	maq_dev_count(md, false, len);
}

/* ---- Receive ---------------------------------------------------------- */

static int maq_tx_back(struct maq_device *md, struct maq_circuit *c,
		       struct sk_buff *skb, u8 *buf, bool ctl);

/*
 * Data sealed end to end at @inner: only an origin holding e2e keys takes
 * it, and such an origin takes nothing else.  Opened in place (the packet
 * then at @inner + MAQ_E2E_AD_LEN, *@len bytes) with a replay window of
 * its own, since the rendezvous relay could replay what it spliced.
 * Returns MAQ_RX_OK or why to drop it.
 */
static int maq_e2e_rx(struct maq_circuit *c, struct maq_dir *d, u8 *inner,
		      unsigned int *len)
{
	struct maq_e2e *e = c->e2e;
	size_t plen;
	bool ok;
	u64 ctr;

	if (!e || !(inner[1] & MAQ_INNER_F_E2E) ||
	    maq_e2e_parse(inner, &ctr, &plen))
		return MAQUIS_DROP_MALFORMED;
	spin_lock_bh(&d->lock);
	ok = maq_replay_check(&e->rx, ctr);
	spin_unlock_bh(&d->lock);
	if (!ok)
		return MAQUIS_DROP_REPLAY;
	if (maq_e2e_open(inner, plen, e->key[1], ctr))
		return MAQUIS_DROP_BAD_TAG;
	spin_lock_bh(&d->lock);
	ok = maq_replay_update(&e->rx, ctr);
	spin_unlock_bh(&d->lock);
	if (!ok)
		return MAQUIS_DROP_REPLAY;
	*len = plen;
	return MAQ_RX_OK;
}

/* Deliver an innermost plaintext @pt (in @skb) at a terminus or origin. */
static void maq_cell_deliver(struct maq_device *md, struct maq_circuit *c,
			     struct maq_dir *d, struct sk_buff *skb, u8 *pt,
			     struct net *net)
{
	const struct maq_inner_hdr *ih = (void *)(pt + MAQ_PAYLOAD_OFF);
	u8 *inner = pt + MAQ_PAYLOAD_OFF + MAQ_INNER_HDR_LEN;
	struct net_device *dev = md->dev;
	unsigned int len = be16_to_cpu(ih->len);
	__be16 proto;
	int why;

	switch (ih->type) {
	case MAQ_INNER_PAD:
		consume_skb(skb);
		return;
	case MAQ_INNER_KEEPALIVE:
	case MAQ_INNER_CTL:
		if (maq_device_ntf_allow(md)) {
			maq_nl_ctl(md, c->id, pt + MAQ_PAYLOAD_OFF, -1);
			maq_dev_ctl_up(md);
			spin_lock_bh(&d->lock);
			d->stats.ctl_up++;
			spin_unlock_bh(&d->lock);
		}
		consume_skb(skb);
		return;
	case MAQ_INNER_IP:
		break;
	default:
		goto malformed;
	}

	if (unlikely(c->e2e || (ih->flags & MAQ_INNER_F_E2E))) {
		why = maq_e2e_rx(c, d, pt + MAQ_PAYLOAD_OFF, &len);
		if (why != MAQ_RX_OK)
			goto drop;
		inner += MAQ_E2E_CTR_LEN;
	}
	if (len < sizeof(struct iphdr) || len > MAQ_INNER_MTU)
		goto malformed;
	switch (inner[0] >> 4) {
	case 4: {
		const struct iphdr *iph = (void *)inner;

		if (iph->ihl < 5 || be16_to_cpu(iph->tot_len) != len)
			goto malformed;
		proto = htons(ETH_P_IP);
		break;
	}
	case 6: {
		const struct ipv6hdr *ip6h = (void *)inner;

		if (len < sizeof(*ip6h) ||
		    be16_to_cpu(ip6h->payload_len) + sizeof(*ip6h) != len)
			goto malformed;
		proto = htons(ETH_P_IPV6);
		break;
	}
	default:
		goto malformed;
	}

	skb_scrub_packet(skb, !net_eq(net, dev_net(dev)));
	__skb_pull(skb, inner - skb->data);
	__skb_trim(skb, len);
	skb->protocol = proto;
	skb->dev = dev;
	skb->pkt_type = PACKET_HOST;
	skb_reset_mac_header(skb);
	skb_reset_network_header(skb);
	skb_probe_transport_header(skb);
	/* Authenticated end to end: no checksum to verify. */
	skb->ip_summed = CHECKSUM_UNNECESSARY;
	skb->csum_level = ~0;
	dev_sw_netstats_rx_add(dev, len);
	gro_cells_receive(&md->gro_cells, skb);
	return;

malformed:
	why = MAQUIS_DROP_MALFORMED;
drop:
	maq_dir_drop(md, c, d, why);
	kfree_skb(skb);
}

/*
 * A joined terminus: data goes back out along the circuit joined to @c,
 * as that circuit's terminus sends what it routes into it.  The payload is
 * the far origin's, likely sealed end to end: it is not parsed, only the
 * creator's prefix is zeroed, which the receiving origin relies on.
 */
static void maq_cell_splice(struct maq_device *md, struct maq_circuit *c,
			    struct maq_dir *d, struct sk_buff *skb, u8 *pt,
			    struct net *net)
{
	struct maq_circuit *peer;

	if (pt[MAQ_PAYLOAD_OFF] != MAQ_INNER_IP) {
		maq_cell_deliver(md, c, d, skb, pt, net);
		return;
	}
	peer = rcu_dereference(c->join);
	if (unlikely(!peer)) {
		maq_dir_drop(md, c, d, MAQUIS_DROP_NO_ROUTE);
		kfree_skb(skb);
		return;
	}
	memset(pt, 0, MAQ_PAD_LEN);
	maq_tx_back(md, peer, skb, pt, false);
}

/* A forward cell opened with the control key: a message for this hop. */
static void maq_cell_ctl_here(struct maq_device *md, struct maq_circuit *c,
			      struct maq_dir *d, struct sk_buff *skb, u64 ctr)
{
	bool fresh;

	spin_lock_bh(&d->lock);
	fresh = maq_replay_update(&d->replay, ctr);
	if (fresh)
		d->stats.cells_in++;
	spin_unlock_bh(&d->lock);
	if (!fresh) {
		maq_dir_drop(md, c, d, MAQUIS_DROP_REPLAY);
		goto out;
	}
	if (maq_device_ntf_allow(md)) {
		maq_nl_ctl(md, c->id, skb->data + MAQ_HDR_LEN + MAQ_PAYLOAD_OFF,
			   0);
		maq_dev_ctl_up(md);
		spin_lock_bh(&d->lock);
		d->stats.ctl_up++;
		spin_unlock_bh(&d->lock);
	}
out:
	consume_skb(skb);
}

/* The tag of a sealed body checks out under @key; the body is untouched. */
static bool maq_layer_check(const u8 *body, const u8 *tag,
			    const u8 key[MAQ_KEY_LEN], u64 ctr)
{
	u8 b0[64], want[MAQ_TAG_LEN];
	bool ok;

	maq_layer_block0(b0, key, ctr);
	maq_layer_tag(want, body, b0);
	ok = maq_tag_equal(want, tag);
	memzero_explicit(b0, sizeof(b0));
	return ok;
}

/*
 * Relay and terminus, forward direction, on the contiguous cell @cell (a
 * relay's with MAQ_SHIFT bytes of headroom): replay check, open the layer
 * with the slot the phase names (or the control key), update the window and
 * the counters of @d.  The socket path below and the XDP kfunc (xdp.c) share
 * it.
 *
 * Returns MAQ_RX_OK with *@out where the cell to send now starts (relay,
 * MAQ_SHIFT bytes before @cell) or the opened cell (terminus); MAQ_RX_CTL
 * when the cell opens with this hop's control key, decrypted in place if
 * @ctl_open and untouched otherwise, with nothing counted yet; or the
 * enum maquis_drop it was dropped for, counted.
 */
int maq_rx_fwd_cell(struct maq_device *md, struct maq_circuit *c,
		    struct maq_dir *d, u8 *cell, bool ctl_open, u8 **out)
{
	const int fwd = MAQUIS_DIR_FWD;
	struct maq_hop *h = &c->hops[0];
	u8 *body = cell + MAQ_HDR_LEN, *tag = body + MAQ_BODY_LEN;
	u64 seq = get_unaligned_be64(cell + MAQ_CID_LEN);
	u64 ctr = seq & MAQ_SEQ_CTR_MASK;
	int slot = maq_seq_slot(seq);
	u8 key[MAQ_KEY_LEN], ctl_key[MAQ_KEY_LEN];
	bool ok, usable;
	struct maq_note n;
	u32 cid_out;
	u64 delta;
	int why;

	*out = NULL;
	maq_note_init(&n);
	spin_lock_bh(&d->lock);
	ok = maq_replay_check(&d->replay, ctr);
	usable = maq_key_usable(c, 0, fwd, slot);
	memcpy(key, h->key[fwd][slot], MAQ_KEY_LEN);
	memcpy(ctl_key, h->ctl_key[fwd], MAQ_KEY_LEN);
	delta = h->seq[fwd];
	cid_out = c->cid_out[fwd];
	spin_unlock_bh(&d->lock);
	if (!ok) {
		why = MAQUIS_DROP_REPLAY;
		goto drop;
	}

	if (usable && c->role == MAQUIS_ROLE_RELAY)
		*out = maq_relay_fwd(cell, key, seq, cid_out, delta);
	else if (usable && !maq_layer_open(body, tag, key, ctr, NULL))
		*out = cell;
	memzero_explicit(key, sizeof(key));

	if (!*out) {
		/* Not data: control addressed to this hop, or tampered. */
		if (ctl_open)
			ok = !maq_layer_open(body, tag, ctl_key, ctr, NULL);
		else
			ok = maq_layer_check(body, tag, ctl_key, ctr);
		memzero_explicit(ctl_key, sizeof(ctl_key));
		if (ok)
			return MAQ_RX_CTL;
		why = usable ? MAQUIS_DROP_BAD_TAG : MAQUIS_DROP_KEY_LIMIT;
		goto drop;
	}

	memzero_explicit(ctl_key, sizeof(ctl_key));
	why = MAQ_RX_OK;
	spin_lock_bh(&d->lock);
	if (!maq_replay_update(&d->replay, ctr)) {
		why = MAQUIS_DROP_REPLAY;
	} else if (!maq_key_use(c, 0, fwd, slot, &n)) {
		why = MAQUIS_DROP_KEY_LIMIT;
	} else if (c->role == MAQUIS_ROLE_RELAY &&
		   !maq_rate_allow(&md->relay_rate)) {
		/* Still marked seen above: it cannot come back later. */
		why = MAQUIS_DROP_RATE;
	} else {
		maq_phase_seen(d, slot, &n);
		d->stats.cells_in++;
		if (c->role == MAQUIS_ROLE_RELAY)
			d->stats.cells_out++;
	}
	spin_unlock_bh(&d->lock);
	maq_note_send(md, c, &n);
	if (why == MAQ_RX_OK)
		return MAQ_RX_OK;

drop:
	memzero_explicit(key, sizeof(key));
	memzero_explicit(ctl_key, sizeof(ctl_key));
	maq_dir_drop(md, c, d, why);
	return why;
}

/* Relay and terminus, forward direction: forward or deliver the cell. */
static void maq_rx_fwd(struct maq_device *md, struct maq_circuit *c,
		       struct maq_dir *d, struct sk_buff *skb, struct net *net)
{
	u8 *out;

	switch (maq_rx_fwd_cell(md, c, d, skb->data, true, &out)) {
	case MAQ_RX_OK:
		break;
	case MAQ_RX_CTL:
		maq_cell_ctl_here(md, c, d, skb,
				  get_unaligned_be64(skb->data + MAQ_CID_LEN) &
				  MAQ_SEQ_CTR_MASK);
		return;
	default:
		kfree_skb(skb);
		return;
	}

	if (c->role == MAQUIS_ROLE_TERMINUS) {
		if (unlikely(READ_ONCE(c->joined)))
			maq_cell_splice(md, c, d, skb, out + MAQ_HDR_LEN, net);
		else
			maq_cell_deliver(md, c, d, skb, out + MAQ_HDR_LEN, net);
		return;
	}
	__skb_push(skb, skb->data - out);
	__skb_trim(skb, MAQ_CELL_SIZE);
	maq_cell_out(md, c, d, skb, MAQUIS_DIR_FWD);
}

/*
 * Relay, backward direction, on the contiguous cell @cell with MAQ_SHIFT
 * bytes of tailroom: nothing to verify (the origin does); drop the first 16
 * bytes, wrap in this hop's layer, relabel.  Returns MAQ_RX_OK with *@out
 * where the cell to send now starts (MAQ_SHIFT bytes after @cell), or the
 * enum maquis_drop it was dropped for, counted.  Shared with xdp.c.
 */
int maq_rx_back_cell(struct maq_device *md, struct maq_circuit *c,
		     struct maq_dir *d, u8 *cell, u8 **out)
{
	const int back = MAQUIS_DIR_BACK;
	struct maq_hop *h = &c->hops[0];
	u64 seq = get_unaligned_be64(cell + MAQ_CID_LEN);
	int slot = maq_seq_slot(seq);
	u8 key[MAQ_KEY_LEN];
	struct maq_note n;
	u32 cid_out;
	u64 delta;
	bool ok;

	if (!maq_rate_allow(&md->relay_rate)) {
		maq_dir_drop(md, c, d, MAQUIS_DROP_RATE);
		return MAQUIS_DROP_RATE;
	}
	maq_note_init(&n);
	spin_lock_bh(&d->lock);
	ok = maq_key_use(c, 0, back, slot, &n);
	if (ok) {
		memcpy(key, h->key[back][slot], MAQ_KEY_LEN);
		delta = h->seq[back];
		cid_out = c->cid_out[back];
		d->stats.cells_in++;
		d->stats.cells_out++;
	}
	spin_unlock_bh(&d->lock);
	maq_note_send(md, c, &n);
	if (!ok) {
		maq_dir_drop(md, c, d, MAQUIS_DROP_KEY_LIMIT);
		return MAQUIS_DROP_KEY_LIMIT;
	}

	*out = maq_relay_back(cell, key, cid_out, maq_seq_next(seq, delta));
	memzero_explicit(key, sizeof(key));
	return MAQ_RX_OK;
}

/* Relay, backward direction: wrap and send to the previous hop. */
static void maq_rx_relay_back(struct maq_device *md, struct maq_circuit *c,
			      struct maq_dir *d, struct sk_buff *skb)
{
	u8 *out;

	__skb_put(skb, MAQ_SHIFT);
	if (maq_rx_back_cell(md, c, d, skb->data, &out) != MAQ_RX_OK) {
		kfree_skb(skb);
		return;
	}
	__skb_pull(skb, out - skb->data);
	maq_cell_out(md, c, d, skb, MAQUIS_DIR_BACK);
}

/* Scratch for opening a backward control cell at the origin. */
struct maq_ctl_work {
	u8 buf[MAQ_WORK_LEN];
	struct maq_hop_key data[MAQ_MAX_HOPS];
	struct maq_hop_key ctl[MAQ_MAX_HOPS];
	struct maq_hop_key try[MAQ_MAX_HOPS];
};

/*
 * Origin, a backward cell with a counter in the control range: a hop k
 * sealed it with its backward control key as the creator (PROTOCOL 6).  Try
 * k = 1, 2, ...: hops before k wrapped it with their data keys.  A wrong k
 * fails at layer 2 at the latest, since the prefix restored there depends
 * on the creator, so only layer 1 failing under hop 1's data key (checked
 * on the received bytes alone) rules out every later k.
 */
static void maq_rx_origin_ctl(struct maq_device *md, struct maq_circuit *c,
			      struct maq_dir *d, struct sk_buff *skb, int slot,
			      u64 ctr)
{
	const int back = MAQUIS_DIR_BACK;
	const int n_hops = c->n_hops;
	const size_t off = maq_onion_fwd_off(n_hops);
	struct maq_ctl_work *w;
	int j, k, ret = -1;

	w = kmalloc(sizeof(*w), GFP_ATOMIC);
	if (!w) {
		kfree_skb(skb);
		return;
	}
	spin_lock_bh(&d->lock);
	for (j = 0; j < n_hops; j++) {
		struct maq_hop *h = &c->hops[j];

		memcpy(w->data[j].key, h->key[back][slot], MAQ_KEY_LEN);
		memcpy(w->ctl[j].key, h->ctl_key[back], MAQ_KEY_LEN);
		w->data[j].seq = (h->seq[back] + ctr) & MAQ_SEQ_CTR_MASK;
		w->ctl[j].seq = w->data[j].seq;
	}
	spin_unlock_bh(&d->lock);

	for (k = 1; k <= n_hops; k++) {
		memcpy(w->try, w->data, sizeof(w->try[0]) * (k - 1));
		w->try[k - 1] = w->ctl[k - 1];
		memcpy(w->buf + off, skb->data + MAQ_HDR_LEN,
		       MAQ_BODY_LEN + MAQ_TAG_LEN);
		ret = maq_onion_open(w->buf, w->try, n_hops, k);
		if (!ret || (k > 1 && ret == -1))
			break;
	}

	if (ret) {
		maq_dir_drop(md, c, d, MAQUIS_DROP_BAD_TAG);
	} else {
		spin_lock_bh(&d->lock);
		d->stats.cells_in++;
		spin_unlock_bh(&d->lock);
		if (maq_device_ntf_allow(md)) {
			maq_nl_ctl(md, c->id, w->buf + MAQ_PAYLOAD_OFF, k - 1);
			maq_dev_ctl_up(md);
			spin_lock_bh(&d->lock);
			d->stats.ctl_up++;
			spin_unlock_bh(&d->lock);
		}
	}
	kfree_sensitive(w);
	consume_skb(skb);
}

/*
 * Origin, backward direction: peel every layer (maq_onion_open), with the
 * replay window on the cell counter c = seq - base_1.
 */
static void maq_rx_origin(struct maq_device *md, struct maq_circuit *c,
			  struct maq_dir *d, struct sk_buff *skb,
			  struct net *net)
{
	const int back = MAQUIS_DIR_BACK;
	const int n_hops = c->n_hops;
	struct maq_hop_key hk[MAQ_MAX_HOPS];
	u64 seq = get_unaligned_be64(skb->data + MAQ_CID_LEN);
	int slot = maq_seq_slot(seq);
	bool ok = true, usable = true;
	struct maq_note n;
	u64 ctr;
	u8 *buf;
	int j;

	ctr = ((seq & MAQ_SEQ_CTR_MASK) - c->hops[0].seq[back]) &
	      MAQ_SEQ_CTR_MASK;
	if (ctr >= MAQ_DATA_CTR_LIMIT) {
		maq_rx_origin_ctl(md, c, d, skb, slot, ctr);
		return;
	}

	maq_note_init(&n);
	spin_lock_bh(&d->lock);
	ok = maq_replay_check(&d->replay, ctr);
	for (j = 0; j < n_hops; j++) {
		struct maq_hop *h = &c->hops[j];

		usable &= maq_key_usable(c, j, back, slot);
		memcpy(hk[j].key, h->key[back][slot], MAQ_KEY_LEN);
		hk[j].seq = (h->seq[back] + ctr) & MAQ_SEQ_CTR_MASK;
	}
	spin_unlock_bh(&d->lock);
	if (!ok || !usable) {
		maq_dir_drop(md, c, d, ok ? MAQUIS_DROP_KEY_LIMIT :
					    MAQUIS_DROP_REPLAY);
		goto drop;
	}

	/* The received layer sits where maq_onion_open() expects it. */
	buf = skb->data + MAQ_HDR_LEN - maq_onion_fwd_off(n_hops);
	if (maq_onion_open(buf, hk, n_hops, n_hops)) {
		maq_dir_drop(md, c, d, MAQUIS_DROP_BAD_TAG);
		goto drop;
	}

	spin_lock_bh(&d->lock);
	ok = maq_replay_update(&d->replay, ctr);
	if (ok) {
		for (j = 0; j < n_hops; j++)
			maq_key_use(c, j, back, slot, &n);
		maq_phase_seen(d, slot, &n);
		d->stats.cells_in++;
	}
	spin_unlock_bh(&d->lock);
	memzero_explicit(hk, sizeof(hk));
	maq_note_send(md, c, &n);
	if (!ok) {
		maq_dir_drop(md, c, d, MAQUIS_DROP_REPLAY);
		kfree_skb(skb);
		return;
	}
	maq_cell_deliver(md, c, d, skb, buf, net);
	return;

drop:
	memzero_explicit(hk, sizeof(hk));
	kfree_skb(skb);
}

/* Linear, private, with the head- and tailroom every transform needs. */
static int maq_skb_prepare(struct sk_buff *skb)
{
	int head, tail;

	if (skb_linearize(skb))
		return -ENOMEM;
	head = max_t(int, MAQ_PAD_LEN - skb_headroom(skb), 0);
	tail = max_t(int, MAQ_SHIFT - skb_tailroom(skb), 0);
	if (head || tail || skb_cloned(skb))
		return pskb_expand_head(skb, head ? ALIGN(head, NET_SKB_PAD) :
					0, tail, GFP_ATOMIC);
	return 0;
}

static void maq_skb_source(struct sk_buff *skb, struct maq_addr *from)
{
	memset(from, 0, sizeof(*from));
	if (ip_hdr(skb)->version == 4) {
		from->family = AF_INET;
		from->v4 = ip_hdr(skb)->saddr;
	} else {
		from->family = AF_INET6;
		from->v6 = ipv6_hdr(skb)->saddr;
	}
	from->port = udp_hdr(skb)->source;
}

/* encap_rcv of the device's UDP sockets: one datagram, one cell. */
int maq_cell_rcv(struct sock *sk, struct sk_buff *skb)
{
	struct maq_device *md;
	struct maq_circuit *c;
	struct maq_addr from;
	struct maq_dir *d;
	u32 cid;

	rcu_read_lock();
	md = rcu_dereference_sk_user_data(sk);
	if (unlikely(!md))
		goto drop;
	if (unlikely(skb->len != sizeof(struct udphdr) + MAQ_CELL_SIZE)) {
		maq_dev_drop(md, MAQUIS_DROP_MALFORMED);
		goto drop;
	}
	maq_skb_source(skb, &from);
	__skb_pull(skb, sizeof(struct udphdr));
	if (unlikely(maq_skb_prepare(skb)))
		goto drop;
	maq_dev_count(md, true, MAQ_CELL_SIZE);

	cid = get_unaligned_be32(skb->data);
	if (!cid) {
		if (maq_device_ntf_allow(md)) {
			maq_nl_cell(md, &from, skb->data);
			maq_dev_ctl_up(md);
		}
		consume_skb(skb);
		goto out;
	}

	d = maq_dir_lookup(md, cid);
	if (unlikely(!d)) {
		maq_dev_drop(md, MAQUIS_DROP_UNKNOWN_CID);
		goto drop;
	}
	c = maq_dir_circuit(d);
	if (d->dir == MAQUIS_DIR_FWD)
		maq_rx_fwd(md, c, d, skb, sock_net(sk));
	else if (c->role == MAQUIS_ROLE_RELAY)
		maq_rx_relay_back(md, c, d, skb);
	else
		maq_rx_origin(md, c, d, skb, sock_net(sk));
out:
	rcu_read_unlock();
	return 0;

drop:
	rcu_read_unlock();
	kfree_skb(skb);
	return 0;
}

/* ---- Transmit --------------------------------------------------------- */

/*
 * A zeroed cell buffer: header, then MAQ_WORK_LEN bytes of onion work area
 * at *@buf.  The innermost plaintext goes at *@buf.
 */
static struct sk_buff *maq_cell_alloc(u8 **buf)
{
	struct sk_buff *skb;

	skb = alloc_skb(MAQ_TX_HEADROOM + MAQ_HDR_LEN + MAQ_WORK_LEN,
			GFP_ATOMIC);
	if (!skb)
		return NULL;
	skb_reserve(skb, MAQ_TX_HEADROOM);
	*buf = (u8 *)skb_put_zero(skb, MAQ_HDR_LEN + MAQ_WORK_LEN) +
	       MAQ_HDR_LEN;
	return skb;
}

/* Origin: may the circuit move to the other phase now?  Under fwd lock. */
static void maq_origin_rotate(struct maq_circuit *c, struct maq_dir *d,
			      struct maq_note *n)
{
	int next = !d->phase, j;
	u8 want = MAQ_FRESH(MAQUIS_DIR_FWD, next) |
		  MAQ_FRESH(MAQUIS_DIR_BACK, next);

	if (c->hops[0].used[MAQUIS_DIR_FWD][d->phase] < MAQ_EPOCH_CELLS &&
	    time_before(jiffies, c->epoch_start +
				 READ_ONCE(maq_epoch_secs) * HZ))
		return;
	/* Both directions of every hop hold new keys for the next phase. */
	for (j = 0; j < c->n_hops; j++)
		if ((c->hops[j].fresh & want) != want)
			return;
	for (j = 0; j < c->n_hops; j++)
		c->hops[j].fresh &= ~want;
	d->phase = next;
	c->epoch_start = jiffies;
	if (n->event < 0) {
		n->event = MAQUIS_EVENT_KEY_PHASE;
		n->dir = MAQUIS_DIR_FWD;
		n->phase = next;
		n->hop = -1;
		n->count = 0;
	}
}

/*
 * Origin, forward: seal @skb's plaintext at @buf as an onion for hops
 * 1..@k and send it to the first hop.  @ctl: the innermost layer uses hop
 * k's forward control key (a message for that hop) instead of data.
 */
static int maq_tx_origin(struct maq_device *md, struct maq_circuit *c,
			 struct sk_buff *skb, u8 *buf, int k, bool ctl)
{
	const int fwd = MAQUIS_DIR_FWD;
	struct maq_dir *d = &c->in[fwd];
	struct maq_hop_key hk[MAQ_MAX_HOPS];
	enum maquis_drop why;
	struct maq_note n;
	int j, phase;
	bool ok = true;
	u64 ctr;

	maq_note_init(&n);
	spin_lock_bh(&d->lock);
	if (!ctl)
		maq_origin_rotate(c, d, &n);
	phase = d->phase;
	ctr = d->ctr;
	for (j = 0; j < k; j++)
		ok &= maq_key_usable(c, j, fwd, phase);
	if (ok && ctr < MAQ_DATA_CTR_LIMIT) {
		d->ctr++;
		for (j = 0; j < k; j++) {
			struct maq_hop *h = &c->hops[j];

			if (ctl && j == k - 1)
				memcpy(hk[j].key, h->ctl_key[fwd], MAQ_KEY_LEN);
			else
				memcpy(hk[j].key, h->key[fwd][phase],
				       MAQ_KEY_LEN);
			hk[j].seq = (h->seq[fwd] + ctr) & MAQ_SEQ_CTR_MASK;
			maq_key_use(c, j, fwd, phase, &n);
		}
		d->stats.cells_out++;
	} else {
		ok = false;
	}
	spin_unlock_bh(&d->lock);
	maq_note_send(md, c, &n);
	if (!ok) {
		why = MAQUIS_DROP_KEY_LIMIT;
		goto drop;
	}

	maq_onion_seal(buf, hk, k);
	__skb_pull(skb, maq_onion_fwd_off(k));
	__skb_trim(skb, MAQ_CELL_SIZE);
	maq_cell_put_hdr(skb->data, c->cid_out[fwd], maq_seq_make(phase,
								  hk[0].seq));
	memzero_explicit(hk, sizeof(hk));
	maq_cell_out(md, c, d, skb, fwd);
	return 0;

drop:
	maq_dir_drop(md, c, d, why);
	kfree_skb(skb);
	return -ENOKEY;
}

/*
 * Terminus (data) or relay and terminus (control, @ctl): seal the backward
 * plaintext at @buf with one layer and send it to the previous hop.  Data
 * uses the backward key of the phase of the last forward cell and the next
 * backward counter; control the backward control key and a random counter
 * in [2^62, 2^63) (PROTOCOL 6).
 */
static int maq_tx_back(struct maq_device *md, struct maq_circuit *c,
		       struct sk_buff *skb, u8 *buf, bool ctl)
{
	const int back = MAQUIS_DIR_BACK;
	struct maq_dir *d = &c->in[back];
	struct maq_hop *h = &c->hops[0];
	int phase = READ_ONCE(c->in[MAQUIS_DIR_FWD].phase);
	u8 key[MAQ_KEY_LEN];
	struct maq_note n;
	bool ok = true;
	u64 ctr;

	maq_note_init(&n);
	spin_lock_bh(&d->lock);
	if (ctl) {
		memcpy(key, h->ctl_key[back], MAQ_KEY_LEN);
		ctr = MAQ_CTL_CTR_MIN | (get_random_u64() &
					 (MAQ_CTL_CTR_MIN - 1));
	} else if (d->ctr < MAQ_DATA_CTR_LIMIT &&
		   maq_key_use(c, 0, back, phase, &n)) {
		memcpy(key, h->key[back][phase], MAQ_KEY_LEN);
		ctr = (h->seq[back] + d->ctr++) & MAQ_SEQ_CTR_MASK;
	} else {
		ok = false;
	}
	if (ok)
		d->stats.cells_out++;
	spin_unlock_bh(&d->lock);
	maq_note_send(md, c, &n);
	if (!ok) {
		maq_dir_drop(md, c, d, MAQUIS_DROP_KEY_LIMIT);
		kfree_skb(skb);
		return -ENOKEY;
	}

	maq_layer_seal(buf, buf + MAQ_BODY_LEN, key, ctr);
	memzero_explicit(key, sizeof(key));
	__skb_trim(skb, MAQ_CELL_SIZE);
	maq_cell_put_hdr(skb->data, c->cid_out[back], maq_seq_make(phase, ctr));
	maq_cell_out(md, c, d, skb, back);
	return 0;
}

static bool maq_inner_pull(struct sk_buff *skb)
{
	if (skb->protocol == htons(ETH_P_IP))
		return pskb_network_may_pull(skb, sizeof(struct iphdr)) &&
		       ip_hdr(skb)->version == 4;
	if (skb->protocol == htons(ETH_P_IPV6))
		return pskb_network_may_pull(skb, sizeof(struct ipv6hdr)) &&
		       ipv6_hdr(skb)->version == 6;
	return false;
}

/* The packet does not fit the e2e layer: tell the sender the MTU. */
static void maq_inner_too_big(struct sk_buff *skb)
{
	if (skb->protocol == htons(ETH_P_IP))
		icmp_ndo_send(skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED,
			      htonl(MAQ_E2E_MTU));
	else
		icmpv6_ndo_send(skb, ICMPV6_PKT_TOOBIG, 0, MAQ_E2E_MTU);
}

static void maq_inner_unreach(struct sk_buff *skb)
{
	if (skb->protocol == htons(ETH_P_IP))
		icmp_ndo_send(skb, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0);
	else
		icmpv6_ndo_send(skb, ICMPV6_DEST_UNREACH,
				ICMPV6_ADDR_UNREACH, 0);
}

/* maq0's ndo_start_xmit: an inner IP packet into the circuit routing it. */
netdev_tx_t maq_cell_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct maq_device *md = netdev_priv(dev);
	struct maq_inner_hdr *ih;
	struct maq_circuit *c;
	struct sk_buff *cell;
	unsigned int len, off;
	u8 *buf;

	if (unlikely(!maq_inner_pull(skb))) {
		maq_dev_drop(md, MAQUIS_DROP_MALFORMED);
		goto err;
	}
	len = skb->len;
	if (unlikely(len > MAQ_INNER_MTU)) {
		maq_dev_drop(md, MAQUIS_DROP_MALFORMED);
		goto err;
	}

	rcu_read_lock();
	c = maq_route_lookup(md, skb);
	if (unlikely(!c)) {
		rcu_read_unlock();
		maq_dev_drop(md, MAQUIS_DROP_NO_ROUTE);
		maq_inner_unreach(skb);
		goto err;
	}
	off = MAQ_PAYLOAD_OFF + MAQ_INNER_HDR_LEN;
	if (unlikely(c->e2e)) {
		if (unlikely(len > MAQ_E2E_MTU)) {
			maq_dir_drop(md, c, &c->in[MAQUIS_DIR_FWD],
				     MAQUIS_DROP_MALFORMED);
			rcu_read_unlock();
			maq_inner_too_big(skb);
			goto err;
		}
		off += MAQ_E2E_CTR_LEN;
	}
	if (skb->ip_summed == CHECKSUM_PARTIAL && skb_checksum_help(skb))
		goto err_unlock;
	cell = maq_cell_alloc(&buf);
	if (unlikely(!cell))
		goto err_unlock;
	if (skb_copy_bits(skb, 0, buf + off, len)) {
		kfree_skb(cell);
		goto err_unlock;
	}
	consume_skb(skb);
	ih = (void *)(buf + MAQ_PAYLOAD_OFF);
	if (unlikely(c->e2e)) {
		maq_e2e_seal(buf + MAQ_PAYLOAD_OFF, len, c->e2e->key[0],
			     atomic64_fetch_inc(&c->e2e->tx_ctr));
	} else {
		ih->type = MAQ_INNER_IP;
		ih->len = cpu_to_be16(len);
	}

	if (c->role == MAQUIS_ROLE_ORIGIN)
		maq_tx_origin(md, c, cell, buf, c->n_hops, false);
	else
		maq_tx_back(md, c, cell, buf, false);
	rcu_read_unlock();
	return NETDEV_TX_OK;

err_unlock:
	rcu_read_unlock();
err:
	DEV_STATS_INC(dev, tx_errors);
	kfree_skb(skb);
	return NETDEV_TX_OK;
}

/* cell-send: a link control cell the daemon built, as it is. */
int maq_cell_send_link(struct maq_device *md, const struct maq_addr *peer,
		       const u8 *data)
{
	struct sk_buff *skb;
	int ret;
	u8 *buf;

	skb = maq_cell_alloc(&buf);
	if (!skb)
		return -ENOMEM;
	__skb_trim(skb, MAQ_CELL_SIZE);
	memcpy(skb->data, data, MAQ_CELL_SIZE);
	local_bh_disable();
	ret = maq_socket_send(md, skb, peer);
	if (!ret)
		maq_dev_count(md, false, MAQ_CELL_SIZE);
	local_bh_enable();
	return ret;
}

/*
 * ctl-send: on an origin, a control message for hop @hop (0-based) sealed
 * with that hop's forward control key inside the data layers of the hops
 * before it; on a relay or terminus, a control message back to the origin.
 */
int maq_cell_send_ctl(struct maq_device *md, struct maq_circuit *c, int hop,
		      const u8 *ctl)
{
	struct sk_buff *skb;
	int ret;
	u8 *buf;

	skb = maq_cell_alloc(&buf);
	if (!skb)
		return -ENOMEM;
	memcpy(buf + MAQ_PAYLOAD_OFF, ctl, MAQUIS_CTL_LEN);
	local_bh_disable();
	if (c->role == MAQUIS_ROLE_ORIGIN)
		ret = maq_tx_origin(md, c, skb, buf, hop + 1, true);
	else
		ret = maq_tx_back(md, c, skb, buf, true);
	local_bh_enable();
	return ret;
}
