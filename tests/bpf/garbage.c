// SPDX-License-Identifier: GPL-2.0
/*
 * bpf/relay.bpf.c under a million bad frames (BPF_PROG_TEST_RUN): random
 * bytes; a valid cell frame cut at every header boundary and anywhere;
 * IPv4 options and fragments, IPv6 extension headers, VLAN tags, other
 * ports and protocols; lengths that disagree; valid headers around random
 * cells (unknown cid, cid 0); forward cells of installed circuits with a
 * bit flipped, replayed, or in a key slot that is not installed.
 *
 * Each frame's verdict is checked against a model of the documented fast
 * path shape (bpf/xdp_pkt.bpf.h, maq_parse) and the relay's table
 * (relay.bpf.c): PASS for anything that is not a cell, PASS for cid 0 and
 * unknown cids, DROP for malformed, tampered, replayed and slot-less
 * cells, never TX/REDIRECT for any of them, never ABORTED.  The per-CPU
 * counters are checked exactly, per reason, every 4096 frames.  A fresh
 * forward cell still relays byte for byte afterwards.
 *
 * MAQ_BPF_GARBAGE sets the frame count (default 10^6), MAQ_BPF_GARBAGE_SEED
 * the seed (printed).  Backward cells are not in the mix as garbage: a relay
 * cannot verify them (the origin does, PROTOCOL), so any bytes under a
 * backward cid are relayed by design; a few are sent and must be.
 */
#include <time.h>

#include "maq_test.h"
#include "relay.skel.h"

#include "kselftest_harness.h"
#include "xdp_check.h"

#define CID_FWD		0x1001		/* both slots */
#define CID_SLOT0	0x1002		/* slot 0 only */
#define CID_BACK	0x1003
#define BATCH		4096

/* What the model expects of a frame: the counter it moves, the verdict. */
enum want {
	W_PASS, W_PASS_CTL, W_UNKNOWN, W_MALFORMED, W_BAD_TAG, W_REPLAY,
	W_KEY_LIMIT, W_RELAY, N_WANT
};

static const char *const want_name[N_WANT] = {
	"pass", "pass-ctl", "unknown-cid", "malformed", "bad-tag", "replay",
	"key-limit", "relayed",
};

static const __u32 want_stat[N_WANT] = {
	MAQ_STAT_PASS, MAQ_STAT_PASS_CTL, MAQ_STAT_UNKNOWN_CID,
	MAQ_STAT_MALFORMED, MAQ_STAT_BAD_TAG, MAQ_STAT_REPLAY,
	MAQ_STAT_KEY_LIMIT, MAQ_STAT_CELLS_OUT,
};

/* How frames are made. */
enum kind {
	K_RANDOM, K_TRUNC, K_IP4_OPTS, K_IP4_FRAG, K_IP6_EXT, K_VLAN,
	K_OTHER_PORT, K_OTHER_PROTO, K_BAD_LEN, K_PADDED, K_RANDCID, K_CID0,
	K_FLIP, K_REPLAY, K_SLOTLESS, K_BACK, N_KIND
};

static const char *const kind_name[N_KIND] = {
	"random", "truncated", "ip4-options", "ip4-fragment", "ip6-ext",
	"vlan", "other-port", "other-proto", "bad-length", "padded",
	"random-cid", "cid0", "bit-flip", "replay", "no-slot", "backward",
};

/* Out of 1024. */
static const int kind_share[N_KIND] = {
	230, 150, 40, 40, 40, 30, 30, 30, 80, 30, 150, 50, 60, 50, 14, 10,
};

static __u64 rng;

static __u64 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill(__u8 *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (__u8)rnd();
}

/*
 * maq_parse() as documented: Ethernet, IPv4 without options and not a
 * fragment, or IPv6 with UDP next, then UDP to our port; lengths all
 * saying one cell, else malformed.  Returns W_PASS, W_MALFORMED or -1 (a
 * cell, its cid in *@cid).
 */
static int model_parse(const __u8 *f, size_t len, __u32 *cid)
{
	const __u8 *ip = f + ETH_HLEN, *udp;
	size_t hlen;

	if (len < ETH_HLEN)
		return W_PASS;
	if (f[12] == 0x08 && f[13] == 0x00) {
		hlen = ETH_HLEN + IP4_HLEN + UDP_HLEN;
		if (len < hlen)
			return W_PASS;
		udp = ip + IP4_HLEN;
		if (ip[0] != 0x45 || ip[9] != IPPROTO_UDP ||
		    ((ip[6] << 8 | ip[7]) & 0x3fff) ||
		    (udp[2] << 8 | udp[3]) != MAQ_PORT)
			return W_PASS;
		if ((ip[2] << 8 | ip[3]) != IP4_HLEN + UDP_HLEN + MAQ_CELL_SIZE)
			return W_MALFORMED;
	} else if (f[12] == 0x86 && f[13] == 0xdd) {
		hlen = ETH_HLEN + IP6_HLEN + UDP_HLEN;
		if (len < hlen)
			return W_PASS;
		udp = ip + IP6_HLEN;
		if ((ip[0] >> 4) != 6 || ip[6] != IPPROTO_UDP ||
		    (udp[2] << 8 | udp[3]) != MAQ_PORT)
			return W_PASS;
		if ((ip[4] << 8 | ip[5]) != UDP_HLEN + MAQ_CELL_SIZE)
			return W_MALFORMED;
	} else {
		return W_PASS;
	}
	if ((udp[4] << 8 | udp[5]) != UDP_HLEN + MAQ_CELL_SIZE ||
	    len != hlen + MAQ_CELL_SIZE)
		return W_MALFORMED;
	*cid = (__u32)udp[8] << 24 | (__u32)udp[9] << 16 |
	       (__u32)udp[10] << 8 | udp[11];
	return -1;
}

FIXTURE(garbage) {
	struct maq_relay *skel;
	int prog, circuits, stats, ve0;
	struct endpoint prev4, prev6, us4, us6, peer4, far4;
	struct maq_xdp_hop fwd, slot0, back;
	__u64 ctr;			/* next fresh forward counter */
	__u8 seen[64][MAQ_CELL_SIZE];	/* relayed forward cells */
	int n_seen;
};

FIXTURE_SETUP(garbage)
{
	XDP_FIXTURE_LOAD(maq_relay, maq_relay);
	self->ve0 = if_nametoindex("ve0");
	ASSERT_NE(0, self->ve0);

	endpoint_set(&self->prev4, "10.0.0.2", MAQ_PORT, MAC_VE1);
	endpoint_set(&self->prev6, "fd00::2", MAQ_PORT, MAC_VE1);
	endpoint_set(&self->us4, "10.0.0.1", MAQ_PORT, MAC_VE0);
	endpoint_set(&self->us6, "fd00::1", MAQ_PORT, MAC_VE0);
	endpoint_set(&self->peer4, "10.0.0.2", 7721, MAC_VE1);
	endpoint_set(&self->far4, "10.0.1.2", 7723, MAC_VE3);

	hop_init(&self->fwd, MAQUIS_DIR_FWD, 0xf0001, rand64(), &self->peer4);
	hop_init(&self->slot0, MAQUIS_DIR_FWD, 0xf0002, rand64(), &self->peer4);
	self->slot0.flags = MAQ_HOP_SLOT0;
	hop_init(&self->back, MAQUIS_DIR_BACK, 0xf0003, rand64(), &self->far4);
	ASSERT_EQ(0, hop_put(self->circuits, CID_FWD, &self->fwd));
	ASSERT_EQ(0, hop_put(self->circuits, CID_SLOT0, &self->slot0));
	ASSERT_EQ(0, hop_put(self->circuits, CID_BACK, &self->back));
	self->ctr = rand_ctr() & ((1ULL << 40) - 1);
}

FIXTURE_TEARDOWN(garbage)
{
	maq_relay__destroy(self->skel);
}

/* A valid frame around @cell, from a random family. */
static size_t cell_frame(FIXTURE_DATA(garbage) *self, __u8 *f,
			 const __u8 *cell, size_t plen, int *v6)
{
	*v6 = (int)(rnd() & 1);
	if (*v6)
		return build_frame(f, &self->prev6, &self->us6, cell, plen);
	return build_frame(f, &self->prev4, &self->us4, cell, plen);
}

/* Inserts @n bytes of @what at @at of the @len-byte frame @f. */
static size_t insert(__u8 *f, size_t len, size_t at, const __u8 *what,
		     size_t n)
{
	memmove(f + at + n, f + at, len - at);
	memcpy(f + at, what, n);
	return len + n;
}

/*
 * Builds a frame of @kind into @f; returns its length and what the relay
 * must do with it in *@want.  Cells of installed circuits update the
 * fixture's counter and list of relayed cells as the relay will.
 */
static size_t make(FIXTURE_DATA(garbage) *self, int kind, __u8 *f,
		   enum want *want)
{
	__u8 cell[1600], ext[48];
	size_t len, at, i;
	__u32 cid;
	__u64 seq;
	int v6, p;

	fill(cell, MAQ_CELL_SIZE);
	*want = W_PASS;
	switch (kind) {
	case K_RANDOM:
		len = ETH_HLEN + rnd() % 1600;
		fill(f, len);
		/* now and then an Ethernet type that leads somewhere */
		if (rnd() & 1) {
			f[12] = rnd() & 1 ? 0x08 : 0x86;
			f[13] = f[12] == 0x08 ? 0x00 : 0xdd;
		}
		break;
	case K_TRUNC: {
		static const size_t cut4[] = { 14, 15, 33, 34, 41, 42, 43, 50,
					       FRAME4_LEN - 1 };
		static const size_t cut6[] = { 14, 15, 53, 54, 61, 62, 63, 70,
					       FRAME6_LEN - 1 };

		len = cell_frame(self, f, cell, MAQ_CELL_SIZE, &v6);
		i = rnd() % 10;
		len = i < 9 ? (v6 ? cut6 : cut4)[i] :
		      ETH_HLEN + rnd() % (len - ETH_HLEN);
		break;
	}
	case K_IP4_OPTS:
		len = build_frame(f, &self->prev4, &self->us4, cell,
				  MAQ_CELL_SIZE);
		p = 1 + (int)(rnd() % 10);	/* 4..40 bytes of options */
		fill(ext, sizeof(ext));
		len = insert(f, len, ETH_HLEN + IP4_HLEN, ext, 4 * (size_t)p);
		f[ETH_HLEN] = (__u8)(0x45 + p);
		f[ETH_HLEN + 3] += (__u8)(4 * p);
		break;
	case K_IP4_FRAG:
		len = build_frame(f, &self->prev4, &self->us4, cell,
				  MAQ_CELL_SIZE);
		f[ETH_HLEN + 6] = (__u8)(rnd() & 1 ? 0x20 : 0x40 | (rnd() & 0x1f));
		f[ETH_HLEN + 7] = (__u8)(f[ETH_HLEN + 6] == 0x20 ? 0 :
					 1 + rnd() % 255);
		break;
	case K_IP6_EXT: {
		static const __u8 nh[] = { 0, 43, 44, 60 };

		len = build_frame(f, &self->prev6, &self->us6, cell,
				  MAQ_CELL_SIZE);
		memset(ext, 0, 8);
		ext[0] = IPPROTO_UDP;
		f[ETH_HLEN + 6] = nh[rnd() % 4];
		f[ETH_HLEN + 5] += 8;
		len = insert(f, len, ETH_HLEN + IP6_HLEN, ext, 8);
		break;
	}
	case K_VLAN:
		len = cell_frame(self, f, cell, MAQ_CELL_SIZE, &v6);
		ext[0] = 0x81;
		ext[1] = 0x00;
		ext[2] = 0;
		ext[3] = 7;
		len = insert(f, len, 12, ext, 4);
		break;
	case K_OTHER_PORT: {
		struct endpoint o = self->us4;

		o.port = (__u16)(rnd() % 65536);
		if (o.port == MAQ_PORT)
			o.port++;
		len = build_frame(f, &self->prev4, &o, cell, MAQ_CELL_SIZE);
		break;
	}
	case K_OTHER_PROTO:
		len = cell_frame(self, f, cell, MAQ_CELL_SIZE, &v6);
		f[ETH_HLEN + (v6 ? 6 : 9)] = rnd() & 1 ? IPPROTO_TCP :
					     IPPROTO_ICMP;
		break;
	case K_BAD_LEN:
		/* consistent lengths, not a cell's; or lengths that differ */
		if (rnd() & 1) {
			do
				len = rnd() % 1500;
			while (len == MAQ_CELL_SIZE);
			len = cell_frame(self, f, cell, len, &v6);
		} else {
			len = cell_frame(self, f, cell, MAQ_CELL_SIZE, &v6);
			/* the IP length field, or the UDP one */
			at = rnd() & 1 ? ETH_HLEN + (v6 ? 4 : 2) :
			     ETH_HLEN + (v6 ? IP6_HLEN : IP4_HLEN) + 4;
			f[at + (rnd() & 1)] ^= (__u8)(1 + rnd() % 255);
		}
		break;
	case K_PADDED:
		/* Ethernet padding after a valid cell datagram */
		len = cell_frame(self, f, cell, MAQ_CELL_SIZE, &v6);
		memset(f + len, 0, 64);
		len += 1 + rnd() % 64;
		break;
	case K_RANDCID:
		do
			cid = (__u32)rnd();
		while (!cid || (cid >= CID_FWD && cid <= CID_BACK));
		cell_put_hdr(cell, cid, rnd());
		len = cell_frame(self, f, cell, MAQ_CELL_SIZE, &v6);
		break;
	case K_CID0:
		cell_put_hdr(cell, 0, rnd());
		len = cell_frame(self, f, cell, MAQ_CELL_SIZE, &v6);
		break;
	case K_FLIP:
		/* fresh counter, one bit of the phase, body or tag flipped */
		make_fwd(cell, &self->fwd, CID_FWD, self->ctr++);
		i = rnd() % 8 ? 12 * 8 + rnd() % ((MAQ_CELL_SIZE - 12) * 8) :
		    4 * 8 + 7;
		cell[i / 8] ^= (__u8)(1 << (i % 8));
		len = cell_frame(self, f, cell, MAQ_CELL_SIZE, &v6);
		break;
	case K_REPLAY:
		/* a cell relayed before; the first ones go through */
		if (self->n_seen < 64 && (rnd() & 1)) {
			make_fwd(self->seen[self->n_seen], &self->fwd, CID_FWD,
				 self->ctr++);
			len = cell_frame(self, f, self->seen[self->n_seen++],
					 MAQ_CELL_SIZE, &v6);
			break;
		}
		if (!self->n_seen) {
			make_fwd(cell, &self->fwd, CID_FWD, self->ctr++);
			len = cell_frame(self, f, cell, MAQ_CELL_SIZE, &v6);
			break;
		}
		len = cell_frame(self, f, self->seen[rnd() % self->n_seen],
				 MAQ_CELL_SIZE, &v6);
		break;
	case K_SLOTLESS:
		seq = MAQ_SEQ_PHASE | self->ctr++;
		make_fwd(cell, &self->slot0, CID_SLOT0, seq);
		len = cell_frame(self, f, cell, MAQ_CELL_SIZE, &v6);
		break;
	default:
		cell_put_hdr(cell, CID_BACK, rnd());
		len = build_frame(f, &self->prev4, &self->us4, cell,
				  MAQ_CELL_SIZE);
		break;
	}

	/* The model's verdict for what was built. */
	switch (model_parse(f, len, &cid)) {
	case W_PASS:
		*want = W_PASS;
		break;
	case W_MALFORMED:
		*want = W_MALFORMED;
		break;
	default:
		if (!cid)
			*want = W_PASS_CTL;
		else if (cid == CID_BACK)
			*want = W_RELAY;
		else if (cid == CID_SLOT0)
			*want = W_KEY_LIMIT;
		else if (cid != CID_FWD)
			*want = W_UNKNOWN;
		else if (kind == K_FLIP)
			*want = W_BAD_TAG;
		else if (kind == K_REPLAY)
			*want = W_REPLAY;
		else
			*want = W_RELAY;
	}
	return len;
}

/* Replay frames that are a cell's first passage go through. */
static void fix_first_passage(int kind, int n_seen_before, int n_seen,
			      enum want *want)
{
	if (kind == K_REPLAY && *want == W_REPLAY && n_seen > n_seen_before)
		*want = W_RELAY;
	if (kind == K_REPLAY && *want == W_REPLAY && !n_seen_before &&
	    !n_seen)
		*want = W_RELAY;
}

static __u64 env_u64(const char *name, __u64 def)
{
	const char *e = getenv(name);

	return e && *e ? strtoull(e, NULL, 0) : def;
}

TEST_F_TIMEOUT(garbage, million_frames, 900)
{
	__u64 count = env_u64("MAQ_BPF_GARBAGE", 1000000);
	__u64 seed = env_u64("MAQ_BPF_GARBAGE_SEED", 0);
	__u64 per_kind[N_KIND] = { 0 }, per_want[N_WANT] = { 0 };
	__u64 base[MAQ_STAT_MAX], batch[N_WANT] = { 0 }, cells_in = 0;
	__u64 bad_verdict = 0, bad_count = 0, i, bin = 0;
	static __u8 f[FRAME_MAX];
	__u8 cell[MAQ_CELL_SIZE], want_out[MAQ_CELL_SIZE];
	struct xdp_result r;
	struct timespec t0, t1;
	enum want want;
	size_t len;
	int k, w, s;

	if (!seed)
		seed = (__u64)time(NULL) ^ (__u64)getpid() << 32;
	rng = seed * 0x9e3779b97f4a7c15ULL ?: 1;
	ksft_print_msg("%llu frames, seed %llu (MAQ_BPF_GARBAGE, MAQ_BPF_GARBAGE_SEED)\n",
		       (unsigned long long)count, (unsigned long long)seed);
	for (s = 0; s < MAQ_STAT_MAX; s++)
		base[s] = percpu_sum(self->stats, (__u32)s);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (i = 0; i < count; i++) {
		__u64 r10 = rnd() % 1024;
		int seen0 = self->n_seen;

		for (k = 0; k < N_KIND - 1 && r10 >= (__u64)kind_share[k]; k++)
			r10 -= (__u64)kind_share[k];
		len = make(self, k, f, &want);
		fix_first_passage(k, seen0, self->n_seen, &want);
		per_kind[k]++;
		per_want[want]++;
		batch[want]++;
		if (want == W_BAD_TAG || want == W_REPLAY || want == W_RELAY ||
		    want == W_KEY_LIMIT)
			cells_in++;

		xdp_run(self->prog, f, (__u32)len, self->ve0, 1, &r);
		ASSERT_EQ(0, r.err) TH_LOG("frame %llu (%s, %zu bytes)",
					   (unsigned long long)i,
					   kind_name[k], len);
		if (want == W_RELAY ?
		    (r.verdict != XDP_TX && r.verdict != XDP_REDIRECT) :
		    r.verdict != (want == W_PASS || want == W_PASS_CTL ||
				  want == W_UNKNOWN ? XDP_PASS : XDP_DROP)) {
			if (bad_verdict++ < 20)
				ksft_print_msg("frame %llu (%s, %zu bytes): %s, want %s\n",
					       (unsigned long long)i,
					       kind_name[k], len,
					       xdp_name(r.verdict),
					       want_name[want]);
		}

		/* The counters, exactly, per reason. */
		if ((i + 1) % BATCH && i + 1 != count)
			continue;
		for (w = 0; w < N_WANT; w++) {
			__u64 now = percpu_sum(self->stats, want_stat[w]);

			if (now - base[want_stat[w]] != batch[w] &&
			    bad_count++ < 20)
				ksft_print_msg("frames %llu..%llu: %s +%llu, want +%llu\n",
					       (unsigned long long)bin,
					       (unsigned long long)i,
					       want_name[w],
					       (unsigned long long)(now - base[want_stat[w]]),
					       (unsigned long long)batch[w]);
			base[want_stat[w]] = now;
			batch[w] = 0;
		}
		bin = i + 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	for (k = 0; k < N_KIND; k++)
		ksft_print_msg("sent %-12s %8llu\n", kind_name[k],
			       (unsigned long long)per_kind[k]);
	for (w = 0; w < N_WANT; w++)
		ksft_print_msg("want %-12s %8llu\n", want_name[w],
			       (unsigned long long)per_want[w]);
	ksft_print_msg("%llu frames in %.1f s; cells of installed circuits %llu, counted %llu; aborted %llu, no-route %llu\n",
		       (unsigned long long)count,
		       (double)(t1.tv_sec - t0.tv_sec) +
		       (t1.tv_nsec - t0.tv_nsec) / 1e9,
		       (unsigned long long)cells_in,
		       (unsigned long long)(percpu_sum(self->stats,
						       MAQ_STAT_CELLS_IN) -
					    base[MAQ_STAT_CELLS_IN]),
		       (unsigned long long)(percpu_sum(self->stats,
						       MAQ_STAT_ERROR) -
					    base[MAQ_STAT_ERROR]),
		       (unsigned long long)(percpu_sum(self->stats,
						       MAQ_STAT_NO_ROUTE) -
					    base[MAQ_STAT_NO_ROUTE]));
	EXPECT_EQ(0, bad_verdict);
	EXPECT_EQ(0, bad_count);
	EXPECT_EQ(cells_in, percpu_sum(self->stats, MAQ_STAT_CELLS_IN) -
			    base[MAQ_STAT_CELLS_IN]);
	EXPECT_EQ(0, percpu_sum(self->stats, MAQ_STAT_ERROR) -
		     base[MAQ_STAT_ERROR]);
	EXPECT_EQ(0, percpu_sum(self->stats, MAQ_STAT_NO_ROUTE) -
		     base[MAQ_STAT_NO_ROUTE]);

	/* The circuit still relays a fresh cell, byte for byte. */
	make_fwd(cell, &self->fwd, CID_FWD, self->ctr);
	want_fwd(want_out, cell, &self->fwd, self->ctr);
	len = build_frame(f, &self->prev4, &self->us4, cell, MAQ_CELL_SIZE);
	xdp_run(self->prog, f, (__u32)len, self->ve0, 1, &r);
	ASSERT_EQ(0, r.err);
	EXPECT_STREQ("TX", xdp_name(r.verdict));
	check_out(_metadata, &r, &self->us4, &self->peer4, want_out);
}

TEST_HARNESS_MAIN
