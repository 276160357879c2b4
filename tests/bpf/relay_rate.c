// SPDX-License-Identifier: GPL-2.0
/*
 * The pure XDP relay's rate limit (bpf/relay.bpf.c, maq_rate): the same
 * bucket as the module's (kmod/rate.c), written by the loader with
 * maq_xdp_rate_fill().  At 1 byte/s a cell costs 1436 s, so nothing refills
 * while a test runs and the counts are exact: burst / cell-size relayed
 * cells pass, in either direction, the rest are DROP with the rate counter;
 * what is not relayed (link and hop control, cells without a route) passes
 * an empty bucket and costs no token.  And through the loader: the figure
 * maq_rate_apply() sets is the one the attached program reads.
 */
#include <time.h>

#include "maq_test.h"
#include "relay.skel.h"
#include "../../daemon/rate.h"
#include "../../daemon/xdp.h"

#include "kselftest_harness.h"
#include "xdp_check.h"

FIXTURE(rate) {
	struct maq_relay *skel;
	int prog, circuits, stats, rate;
	int ve0;
	struct endpoint prev4, us4, peer4;
};

FIXTURE_SETUP(rate)
{
	XDP_FIXTURE_LOAD(maq_relay, maq_relay);
	self->rate = bpf_map__fd(self->skel->maps.maq_rate);
	self->ve0 = if_nametoindex("ve0");
	ASSERT_NE(0, self->ve0);
	endpoint_set(&self->prev4, "10.0.0.2", MAQ_PORT, MAC_VE1);
	endpoint_set(&self->us4, "10.0.0.1", MAQ_PORT, MAC_VE0);
	endpoint_set(&self->peer4, "10.0.0.2", 7721, MAC_VE1);
}

FIXTURE_TEARDOWN(rate)
{
	maq_relay__destroy(self->skel);
}

#define STAT(idx)	percpu_sum(self->stats, (idx))

static int rate_set(FIXTURE_DATA(rate) *self, __u64 rate, __u32 burst)
{
	struct maq_xdp_rate r;
	__u32 zero = 0;

	maq_xdp_rate_fill(&r, rate, burst);
	return bpf_map_update_elem(self->rate, &zero, &r, BPF_ANY);
}

/* Runs @cell through the relay; its verdict. */
static __u32 run_cell(struct __test_metadata *_metadata,
		      FIXTURE_DATA(rate) *self, const __u8 *cell)
{
	__u8 f[FRAME_MAX];
	struct xdp_result r;
	size_t len;

	len = build_frame(f, &self->prev4, &self->us4, cell, MAQ_CELL_SIZE);
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	EXPECT_EQ(0, r.err);
	return r.verdict;
}

/* @n forward cells on @cid from counter @seq; how many were relayed. */
static int run_fwd(struct __test_metadata *_metadata,
		   FIXTURE_DATA(rate) *self, const struct maq_xdp_hop *h,
		   __u32 cid, __u64 seq, int n)
{
	__u8 cell[MAQ_CELL_SIZE];
	int i, tx = 0;
	__u32 v;

	for (i = 0; i < n; i++) {
		make_fwd(cell, h, cid, seq + (__u64)i);
		v = run_cell(_metadata, self, cell);
		EXPECT_TRUE(v == XDP_TX || v == XDP_DROP)
			TH_LOG("cell %d: %s", i, xdp_name(v));
		tx += v == XDP_TX;
	}
	return tx;
}

static int run_back(struct __test_metadata *_metadata,
		    FIXTURE_DATA(rate) *self, __u32 cid, int n)
{
	__u8 cell[MAQ_CELL_SIZE];
	int i, tx = 0;

	for (i = 0; i < n; i++) {
		randombytes_buf(cell, sizeof(cell));
		cell_put_hdr(cell, cid, rand_ctr());
		tx += run_cell(_metadata, self, cell) == XDP_TX;
	}
	return tx;
}

TEST_F(rate, burst_then_drops_both_directions)
{
	const int burst = 10, sent = 15;
	struct maq_xdp_hop fwd, back;
	__u64 seq = rand_ctr();

	hop_init(&fwd, MAQUIS_DIR_FWD, 0x111, rand64(), &self->peer4);
	hop_init(&back, MAQUIS_DIR_BACK, 0x222, rand64(), &self->peer4);
	ASSERT_EQ(0, hop_put(self->circuits, 21, &fwd));
	ASSERT_EQ(0, hop_put(self->circuits, 22, &back));
	ASSERT_EQ(0, rate_set(self, 1, burst * MAQ_CELL_SIZE));

	EXPECT_EQ(burst, run_fwd(_metadata, self, &fwd, 21, seq, sent));
	EXPECT_EQ(sent - burst, STAT(MAQ_STAT_RATE));
	EXPECT_EQ(burst, STAT(MAQ_STAT_CELLS_OUT));
	/* one bucket for both directions: empty for these too */
	EXPECT_EQ(0, run_back(_metadata, self, 22, 3));
	EXPECT_EQ(sent - burst + 3, STAT(MAQ_STAT_RATE));

	/* a new figure refills it */
	ASSERT_EQ(0, rate_set(self, 1, 2 * MAQ_CELL_SIZE));
	EXPECT_EQ(2, run_back(_metadata, self, 22, 3));
	EXPECT_EQ(sent - burst + 4, STAT(MAQ_STAT_RATE));
	EXPECT_EQ(burst + 2, STAT(MAQ_STAT_CELLS_OUT));
	EXPECT_EQ(0, STAT(MAQ_STAT_ERROR));
}

/* Control and unroutable cells pass an empty bucket and take no token. */
TEST_F(rate, not_relayed_not_limited)
{
	__u8 cell[MAQ_CELL_SIZE], plain[MAQ_BODY_LEN];
	struct maq_xdp_hop h, lost;
	struct endpoint nowhere;
	__u64 seq = rand_ctr();

	hop_init(&h, MAQUIS_DIR_FWD, 0x333, rand64(), &self->peer4);
	h.flags |= MAQ_HOP_CTL;
	ASSERT_EQ(0, hop_put(self->circuits, 31, &h));
	endpoint_set(&nowhere, "192.0.2.1", 7725, "00:00:00:00:00:00");
	hop_init(&lost, MAQUIS_DIR_BACK, 0x444, 5, &nowhere);
	ASSERT_EQ(0, hop_put(self->circuits, 32, &lost));

	/* a bucket of one cell */
	ASSERT_EQ(0, rate_set(self, 1, MAQ_CELL_SIZE));
	make_fwd(cell, &lost, 32, seq);
	EXPECT_STREQ("PASS", xdp_name(run_cell(_metadata, self, cell)));
	EXPECT_EQ(1, STAT(MAQ_STAT_NO_ROUTE));
	EXPECT_EQ(1, run_fwd(_metadata, self, &h, 31, seq, 1))
		TH_LOG("an unroutable cell cost a token");
	EXPECT_EQ(0, run_fwd(_metadata, self, &h, 31, seq + 1, 1));
	EXPECT_EQ(1, STAT(MAQ_STAT_RATE));

	/* now empty: hop control and link control still go up */
	randombytes_buf(plain, sizeof(plain));
	cell_seal_fwd(cell, 31, seq + 2, plain, h.ctl_key);
	EXPECT_STREQ("PASS", xdp_name(run_cell(_metadata, self, cell)));
	randombytes_buf(cell, sizeof(cell));
	cell_put_hdr(cell, 0, rand64());
	EXPECT_STREQ("PASS", xdp_name(run_cell(_metadata, self, cell)));
	EXPECT_EQ(2, STAT(MAQ_STAT_PASS_CTL));
	EXPECT_EQ(1, STAT(MAQ_STAT_RATE));
}

TEST_F(rate, unlimited)
{
	struct maq_xdp_hop h;

	hop_init(&h, MAQUIS_DIR_FWD, 0x555, rand64(), &self->peer4);
	ASSERT_EQ(0, hop_put(self->circuits, 41, &h));
	/* the fresh table, then rate 0 with any burst */
	EXPECT_EQ(20, run_fwd(_metadata, self, &h, 41, 1000, 20));
	ASSERT_EQ(0, rate_set(self, 0, MAQ_CELL_SIZE));
	EXPECT_EQ(20, run_fwd(_metadata, self, &h, 41, 2000, 20));
	EXPECT_EQ(0, STAT(MAQ_STAT_RATE));
}

/*
 * The bucket refills at the rate: one cell a second here, so the second of
 * two back-to-back cells is dropped and a cell 1.5 s later passes.
 */
TEST_F(rate, refills_at_the_rate)
{
	struct timespec ts = { .tv_sec = 1, .tv_nsec = 500000000 };
	struct maq_xdp_hop h;

	hop_init(&h, MAQUIS_DIR_FWD, 0x666, rand64(), &self->peer4);
	ASSERT_EQ(0, hop_put(self->circuits, 51, &h));
	ASSERT_EQ(0, rate_set(self, MAQ_CELL_SIZE, MAQ_CELL_SIZE));
	EXPECT_EQ(1, run_fwd(_metadata, self, &h, 51, 100, 2));
	nanosleep(&ts, NULL);
	EXPECT_EQ(1, run_fwd(_metadata, self, &h, 51, 200, 1));
	EXPECT_EQ(1, STAT(MAQ_STAT_RATE));
}

/* ---- through the loader and its pins -------------------------------------- */

FIXTURE(pinned) {
	char root[96];
	struct maq_xdp *x;
};

FIXTURE_SETUP(pinned)
{
	struct maq_xdp_opts o = { .port = MAQ_PORT,
				  .variant = MAQ_XDP_VARIANT_PURE };
	const char *why = bpf_unavailable();
	int err;

	self->x = NULL;
	if (why)
		SKIP(return, "%s", why);
	if (access("/sys/fs/bpf", F_OK) ||
	    system("mountpoint -q /sys/fs/bpf"))
		SKIP(return, "no bpffs at /sys/fs/bpf");
	snprintf(self->root, sizeof(self->root), "/sys/fs/bpf/maq-rate-%d",
		 getpid());
	o.pin_root = self->root;
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, system("ip link set lo up && ip link add ra type veth peer name rb && ip link set ra up && ip link set rb up"));
	err = maq_xdp_open("ra", &o, &self->x);
	if (err && load_failure_is_env(err))
		SKIP(return, "cannot load BPF: %s", strerror(-err));
	ASSERT_EQ(0, err) TH_LOG("maq_xdp_open: %s", strerror(-err));
}

FIXTURE_TEARDOWN(pinned)
{
	if (self->x)
		maq_xdp_detach(self->x);
}

/* The id of the map pinned at @root/@name, or 0. */
static __u32 pinned_map_id(const char *root, const char *name)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	char path[160];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

TEST_F(pinned, apply_reaches_the_program)
{
	__u32 ids[16], n = 16, i, rate_id, len;
	struct bpf_prog_info info;
	char err[256];
	uint64_t rate;
	uint32_t burst;
	int fd;

	/* the attached program reads the map pinned for the host */
	rate_id = pinned_map_id(self->root, "maq_rate");
	ASSERT_NE(0, rate_id);
	fd = bpf_prog_get_fd_by_id(maq_xdp_prog_id(self->x));
	ASSERT_LE(0, fd);
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = n;
	info.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(info);
	ASSERT_EQ(0, bpf_obj_get_info_by_fd(fd, &info, &len));
	close(fd);
	for (i = 0; i < info.nr_map_ids && i < n && ids[i] != rate_id; i++)
		;
	EXPECT_LT(i, info.nr_map_ids) TH_LOG("program does not use the pin");

	/* fresh: unlimited; then what maq_rate_apply() says, part by part */
	ASSERT_EQ(0, maq_xdp_rate_get(self->root, &rate, &burst));
	EXPECT_EQ(0, rate);
	ASSERT_EQ(0, maq_rate_apply(NULL, 0, self->root, 125000,
				    20 * MAQ_CELL_SIZE, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_EQ(0, maq_xdp_rate_get(self->root, &rate, &burst));
	EXPECT_EQ(125000, rate);
	EXPECT_EQ(20 * MAQ_CELL_SIZE, burst);
	ASSERT_EQ(0, maq_rate_apply(NULL, 0, self->root, 1000000, 0, err,
				    sizeof(err)));
	ASSERT_EQ(0, maq_xdp_rate_get(self->root, &rate, &burst));
	EXPECT_EQ(1000000, rate);
	EXPECT_EQ(20 * MAQ_CELL_SIZE, burst);
	EXPECT_EQ(-ERANGE, maq_xdp_rate_set(self->root, 5, MAQ_CELL_SIZE - 1));
	EXPECT_EQ(-ERANGE, maq_xdp_rate_set(self->root,
					    MAQUIS_MAX_RELAY_RATE + 1,
					    MAQ_CELL_SIZE));
	ASSERT_EQ(0, maq_xdp_rate_get(self->root, &rate, &burst));
	EXPECT_EQ(1000000, rate);

	/* gone with the last interface */
	EXPECT_EQ(0, maq_xdp_detach(self->x));
	self->x = NULL;
	EXPECT_EQ(-ENOENT, maq_xdp_rate_get(self->root, &rate, &burst));
}

TEST_HARNESS_MAIN
