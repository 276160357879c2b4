// SPDX-License-Identifier: GPL-2.0
/*
 * maquis XDP relay: the relay half of include/maquis/layer.h
 * (maq_relay_fwd, maq_relay_back) for cells that arrive and leave over
 * Ethernet, byte for byte the same output (tests/bpf/relay.test checks it).
 *
 * Verdicts, and who sees the frame next:
 *
 *   not a cell of the fast-path shape (see maq_parse)     PASS   pass
 *   UDP to our port, length not MAQ_CELL_SIZE             DROP   malformed
 *   cid 0 (link control)                                  PASS   pass_ctl
 *   cid without entry                                     PASS   unknown_cid
 *   forward, counter replayed                             DROP   replay
 *   FIB lookup fails (no route, no neighbour yet, ...)    PASS   no_route
 *   forward, tag fails data key, opens with control key   PASS   pass_ctl
 *   forward, tag fails                                    DROP   bad_tag
 *   key slot not installed or at its limit                DROP   key_limit
 *   over the relay rate (maq_rate), after the checks      DROP   rate
 *   relayed                                               TX / REDIRECT
 *
 * PASS always hands over the frame untouched and the circuit state
 * unchanged, so the kernel module can process it as if XDP were not there:
 * that is why the route is looked up before any byte or window bit moves.
 *
 * The outgoing datagram is built anew, as the module's UDP socket would:
 * source is the FIB's preferred source address for the next hop and the
 * configured port, TTL 64, no DSCP, DF set, real UDP checksum in both
 * families.  The family may change between links (IPv4 in, IPv6 out).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "maquis_common.h"
#include "maq_maps.bpf.h"
#include "chacha_poly.bpf.h"
#include "xdp_pkt.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * ---- replay window (callers hold hop->lock) -------------------------------
 * The kernel module's scheme and representation (kmod/circuit.c), so that
 * the daemon can move a window between the two (see struct maq_xdp_hop).
 */

static __always_inline int maq_replay_seen(const struct maq_xdp_hop *h, __u64 ctr)
{
	__u64 back;

	if (ctr >= h->replay_next)
		return 0;
	back = h->replay_next - 1 - ctr;
	if (back >= MAQ_REPLAY_WINDOW)
		return 1;
	return (h->replay_win[back >> 6] >> (back & 63)) & 1;
}

/* High word of (hi:lo) << r, 0 <= r < 64. */
static __always_inline __u64 maq_shl2(__u64 hi, __u64 lo, __u32 r)
{
	return r ? (hi << r) | (lo >> (64 - r)) : hi;
}

/* Mark @ctr seen; the caller checked maq_replay_seen() under the lock. */
static __always_inline void maq_replay_mark(struct maq_xdp_hop *h, __u64 ctr)
{
	__u64 *win = h->replay_win;
	__u64 w0 = win[0], w1 = win[1], w2 = win[2], w3 = win[3];
	__u64 n, back;
	__u32 r;

	if (ctr < h->replay_next) {
		back = h->replay_next - 1 - ctr;
		if (back < MAQ_REPLAY_WINDOW)
			win[back >> 6] |= 1ULL << (back & 63);
		return;
	}
	/* Slide by n: bit i moves to bit i + n. */
	n = ctr + 1 - h->replay_next;
	r = n & 63;
	if (n >= MAQ_REPLAY_WINDOW) {
		w0 = w1 = w2 = w3 = 0;
	} else if (n < 64) {
		w3 = maq_shl2(w3, w2, r);
		w2 = maq_shl2(w2, w1, r);
		w1 = maq_shl2(w1, w0, r);
		w0 = w0 << r;
	} else if (n < 128) {
		w3 = maq_shl2(w2, w1, r);
		w2 = maq_shl2(w1, w0, r);
		w1 = w0 << r;
		w0 = 0;
	} else if (n < 192) {
		w3 = maq_shl2(w1, w0, r);
		w2 = w0 << r;
		w1 = w0 = 0;
	} else {
		w3 = w0 << r;
		w2 = w1 = w0 = 0;
	}
	win[0] = w0 | 1;
	win[1] = w1;
	win[2] = w2;
	win[3] = w3;
	h->replay_next = ctr + 1;
}

/*
 * ---- relay rate ------------------------------------------------------------
 * One bucket for the host (struct maq_xdp_rate), not one a CPU: a circuit's
 * cells all land on the CPU that RSS picks for its 4-tuple, so per-CPU
 * buckets of rate/ncpus would cap a lone circuit far below what the operator
 * gave.  The lock is held for a compare and a store, against the ChaCha20 of
 * the cell; an unlimited host (cell_ns 0) never takes it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct maq_xdp_rate);
} maq_rate SEC(".maps");

static __always_inline int maq_rate_allow(void)
{
	struct maq_xdp_rate *r;
	__u64 now, next, tat;
	__u32 zero = 0;
	int ok;

	r = bpf_map_lookup_elem(&maq_rate, &zero);
	if (!r || !r->cell_ns)
		return 1;
	now = bpf_ktime_get_ns();
	bpf_spin_lock(&r->lock);
	tat = r->tat > now ? r->tat : now;
	next = tat + r->cell_ns;
	ok = next - now <= r->burst_ns;
	if (ok)
		r->tat = next;
	bpf_spin_unlock(&r->lock);
	return ok;
}

/* ---- output ------------------------------------------------------------- */

/*
 * Replace the outer headers of the frame with a datagram from us to the
 * next hop and put the outgoing cell (scratch buf[@out ..)) behind them.
 */
static __always_inline int maq_emit(struct xdp_md *ctx,
				    const struct maq_pkt *pk,
				    const struct maq_xdp_hop *hop, __be16 sport,
				    const struct bpf_fib_lookup *fib,
				    struct maq_scratch *s, __u32 out)
{
	__u32 hlen, flen;
	long c;

	if (out > MAQ_BACK_OUT_OFF)
		return -1;
	hlen = hop->next.family == MAQ_AF_INET ? MAQ_HLEN4 : MAQ_HLEN6;
	if (hlen != pk->hlen &&
	    bpf_xdp_adjust_head(ctx, (int)pk->hlen - (int)hlen))
		return -1;
	if (bpf_xdp_store_bytes(ctx, hlen, s->buf + out, MAQ_CELL_SIZE))
		return -1;

	/* Payload sum in 512-byte steps: bpf_csum_diff's limit on 6.12. */
	c = bpf_csum_diff(NULL, 0, (__be32 *)(s->buf + out), 512, 0);
	if (c < 0)
		return -1;
	c = bpf_csum_diff(NULL, 0, (__be32 *)(s->buf + out + 512), 512, c);
	if (c < 0)
		return -1;
	c = bpf_csum_diff(NULL, 0, (__be32 *)(s->buf + out + 1024),
			  MAQ_CELL_SIZE - 1024, c);
	if (c < 0)
		return -1;
	if (maq_put_outer(ctx, s->hdr, &hop->next, sport, fib, (__u32)c))
		return -1;

	flen = hlen + MAQ_CELL_SIZE;
	maq_stat(MAQ_STAT_CELLS_OUT);
	maq_stat_add(MAQ_STAT_BYTES_OUT, flen);
	return 0;
}

static __always_inline void maq_put_hdr(struct maq_scratch *s, __u32 at,
					__u32 cid, __u64 seq)
{
	if (at > MAQ_BACK_OUT_OFF)
		return;
	*(__be32 *)(s->buf + at) = bpf_htonl(cid);
	*(__be64 *)(s->buf + at + 4) = bpf_cpu_to_be64(seq);
}

static __always_inline __u64 maq_seq_next(__u64 seq, __u64 delta)
{
	return (seq & MAQ_SEQ_PHASE) | ((seq + delta) & MAQ_SEQ_CTR_MASK);
}

static __always_inline void maq_hop_done(struct maq_xdp_hop *hop, __u32 flen)
{
	__sync_fetch_and_add(&hop->cells, 1);
	__sync_fetch_and_add(&hop->bytes, flen);
	hop->last_ns = bpf_ktime_get_coarse_ns();
}

/* ---- directions --------------------------------------------------------- */

static __always_inline int maq_fwd(struct xdp_md *ctx,
				   const struct maq_pkt *pk,
				   const struct maq_xdp_config *cfg,
				   struct maq_xdp_hop *hop, __u64 seq)
{
	__u64 ctr = seq & MAQ_SEQ_CTR_MASK;
	__u32 slot = seq >> 63;
	struct bpf_fib_lookup *fib;
	struct maq_scratch *s;
	int seen, ok, slot_ok;
	__u64 *f;

	slot_ok = (hop->flags & (1 << slot)) &&
		  hop->slot_cells[slot] < MAQ_KEY_LIMIT;

	bpf_spin_lock(&hop->lock);
	seen = maq_replay_seen(hop, ctr);
	bpf_spin_unlock(&hop->lock);
	if (seen) {
		__sync_fetch_and_add(&hop->replay, 1);
		maq_stat(MAQ_STAT_REPLAY);
		return XDP_DROP;
	}

	s = maq_scratch_get();
	if (!s)
		goto error;
	fib = &s->fib;
	if (maq_route(ctx, cfg, &hop->next, fib)) {
		maq_stat(MAQ_STAT_NO_ROUTE);
		return XDP_PASS;
	}
	if (bpf_xdp_load_bytes(ctx, pk->hlen, s->buf + MAQ_FWD_IN_OFF,
			       MAQ_CELL_SIZE))
		goto error;

	ok = slot_ok ? maq_layer_verify(s, hop->key[slot], ctr) : 0;
	if (ok < 0)
		goto error;
	if (!ok) {
		/* Maybe a control cell for this hop (PROTOCOL 6). */
		if (hop->flags & MAQ_HOP_CTL) {
			ok = maq_layer_verify(s, hop->ctl_key, ctr);
			maq_chacha_wipe(s);
			if (ok < 0)
				goto error;
			if (ok) {
				maq_stat(MAQ_STAT_PASS_CTL);
				return XDP_PASS;
			}
		}
		maq_chacha_wipe(s);
		if (!slot_ok) {
			maq_stat(MAQ_STAT_KEY_LIMIT);
			return XDP_DROP;
		}
		__sync_fetch_and_add(&hop->bad_tag, 1);
		maq_stat(MAQ_STAT_BAD_TAG);
		return XDP_DROP;
	}

	/* Filler F(k, s) goes right in front of the plaintext. */
	f = (__u64 *)(s->buf + MAQ_BODY_OFF - MAQ_SHIFT);
	f[0] = *(__u64 *)&s->b0[MAQ_FILLER_OFF];
	f[1] = *(__u64 *)&s->b0[MAQ_FILLER_OFF + 8];
	ok = maq_layer_decrypt();
	maq_chacha_wipe(s);
	if (ok)
		goto error;

	/* Another CPU may have accepted the same counter meanwhile. */
	bpf_spin_lock(&hop->lock);
	seen = maq_replay_seen(hop, ctr);
	if (!seen)
		maq_replay_mark(hop, ctr);
	bpf_spin_unlock(&hop->lock);
	if (seen) {
		__sync_fetch_and_add(&hop->replay, 1);
		maq_stat(MAQ_STAT_REPLAY);
		return XDP_DROP;
	}
	__sync_fetch_and_add(&hop->slot_cells[slot], 1);
	/* Authentic and now seen: over the rate, it cannot come back later. */
	if (!maq_rate_allow()) {
		maq_stat(MAQ_STAT_RATE);
		return XDP_DROP;
	}

	maq_put_hdr(s, MAQ_FWD_OUT_OFF, hop->cid_out,
		    maq_seq_next(seq, hop->delta));
	if (maq_emit(ctx, pk, hop, cfg->port, fib, s, MAQ_FWD_OUT_OFF))
		goto error;
	maq_hop_done(hop, pk->flen);
	return maq_xmit(ctx, fib->ifindex, &maq_tx_ports);

error:
	maq_stat(MAQ_STAT_ERROR);
	return XDP_ABORTED;
}

static __always_inline int maq_back(struct xdp_md *ctx,
				    const struct maq_pkt *pk,
				    const struct maq_xdp_config *cfg,
				    struct maq_xdp_hop *hop, __u64 seq)
{
	__u64 seq_out = maq_seq_next(seq, hop->delta);
	__u32 slot = seq >> 63;
	struct bpf_fib_lookup *fib;
	struct maq_scratch *s;

	if (!(hop->flags & (1 << slot)) ||
	    hop->slot_cells[slot] >= MAQ_KEY_LIMIT) {
		maq_stat(MAQ_STAT_KEY_LIMIT);
		return XDP_DROP;
	}
	s = maq_scratch_get();
	if (!s)
		goto error;
	fib = &s->fib;
	if (maq_route(ctx, cfg, &hop->next, fib)) {
		maq_stat(MAQ_STAT_NO_ROUTE);
		return XDP_PASS;
	}
	/* After the route: a passed cell must not have cost a token. */
	if (!maq_rate_allow()) {
		maq_stat(MAQ_STAT_RATE);
		return XDP_DROP;
	}
	/* Counted before sealing: the limit bounds seals, not successes. */
	if (__sync_fetch_and_add(&hop->slot_cells[slot], 1) >= MAQ_KEY_LIMIT) {
		maq_stat(MAQ_STAT_KEY_LIMIT);
		return XDP_DROP;
	}
	if (bpf_xdp_load_bytes(ctx, pk->hlen, s->buf + MAQ_BACK_IN_OFF,
			       MAQ_CELL_SIZE))
		goto error;
	/* D = C[16..B) || tag already sits at MAQ_BODY_OFF: seal it there. */
	if (maq_layer_seal(s, hop->key[slot], seq_out & MAQ_SEQ_CTR_MASK)) {
		maq_chacha_wipe(s);
		goto error;
	}
	maq_chacha_wipe(s);
	maq_put_hdr(s, MAQ_BACK_OUT_OFF, hop->cid_out, seq_out);
	if (maq_emit(ctx, pk, hop, cfg->port, fib, s, MAQ_BACK_OUT_OFF))
		goto error;
	maq_hop_done(hop, pk->flen);
	return maq_xmit(ctx, fib->ifindex, &maq_tx_ports);

error:
	maq_stat(MAQ_STAT_ERROR);
	return XDP_ABORTED;
}

SEC("xdp")
int maq_relay(struct xdp_md *ctx)
{
	struct maq_circuit_key key = {};
	struct maq_xdp_config *cfg;
	struct maq_cell_hdr ch;
	struct maq_xdp_hop *hop;
	struct maq_pkt pk;
	__u32 zero = 0;
	__u64 seq;

	cfg = bpf_map_lookup_elem(&maq_config, &zero);
	if (!cfg || !cfg->port)
		goto pass;

	switch (maq_parse(ctx, cfg->port, &pk)) {
	case MAQ_PARSE_CELL:
		break;
	case MAQ_PARSE_MALFORMED:
		maq_stat(MAQ_STAT_MALFORMED);
		return XDP_DROP;
	default:
		goto pass;
	}

	if (bpf_xdp_load_bytes(ctx, pk.hlen, &ch, sizeof(ch))) {
		maq_stat(MAQ_STAT_ERROR);
		return XDP_ABORTED;
	}
	key.cid = bpf_ntohl(ch.cid);
	if (!key.cid) {
		maq_stat(MAQ_STAT_PASS_CTL);
		return XDP_PASS;
	}
	hop = bpf_map_lookup_elem(&maq_circuits, &key);
	if (!hop) {
		maq_stat(MAQ_STAT_UNKNOWN_CID);
		return XDP_PASS;
	}
	maq_stat(MAQ_STAT_CELLS_IN);
	maq_stat_add(MAQ_STAT_BYTES_IN, pk.flen);

	seq = bpf_be64_to_cpu(ch.seq);
	if (hop->dir == MAQUIS_DIR_FWD)
		return maq_fwd(ctx, &pk, cfg, hop, seq);
	if (hop->dir == MAQUIS_DIR_BACK)
		return maq_back(ctx, &pk, cfg, hop, seq);
pass:
	maq_stat(MAQ_STAT_PASS);
	return XDP_PASS;
}
