// SPDX-License-Identifier: GPL-2.0
/*
 * bpf/xdp_fwd.bpf.c, the no-crypto baseline: relabels the cid, readdresses
 * the datagram with incrementally patched checksums, redirects.  Checked here
 * so that benchmarks compare the relay with something that works.
 */
#include "maq_test.h"
#include "xdp_fwd.skel.h"

#include "kselftest_harness.h"
#include "xdp_check.h"

FIXTURE(xdp_fwd) {
	struct maq_xdp_fwd *skel;
	int prog, circuits, stats;
	int ve0;
	struct endpoint prev4, prev6, us4, us6, us4b, us6b;
	struct endpoint peer4, far6;
};

FIXTURE_SETUP(xdp_fwd)
{
	XDP_FIXTURE_LOAD(maq_xdp_fwd, maq_xdp_fwd);
	self->ve0 = if_nametoindex("ve0");
	ASSERT_NE(0, self->ve0);
	endpoint_set(&self->prev4, "10.0.0.2", MAQ_PORT, MAC_VE1);
	endpoint_set(&self->prev6, "fd00::2", MAQ_PORT, MAC_VE1);
	endpoint_set(&self->us4, "10.0.0.1", MAQ_PORT, MAC_VE0);
	endpoint_set(&self->us6, "fd00::1", MAQ_PORT, MAC_VE0);
	endpoint_set(&self->us6b, "fd01::1", MAQ_PORT, MAC_VE2);
	endpoint_set(&self->peer4, "10.0.0.2", 7721, MAC_VE1);
	endpoint_set(&self->far6, "fd01::2", 7724, MAC_VE3);
}

FIXTURE_TEARDOWN(xdp_fwd)
{
	maq_xdp_fwd__destroy(self->skel);
}

TEST_F(xdp_fwd, rewrite)
{
	__u8 cell[MAQ_CELL_SIZE], want[MAQ_CELL_SIZE], f[FRAME_MAX];
	struct xdp_result r;
	struct maq_xdp_hop h;
	size_t len;

	randombytes_buf(cell, sizeof(cell));

	hop_init(&h, MAQUIS_DIR_FWD, 0x77777777, 0, &self->peer4);
	ASSERT_EQ(0, hop_put(self->circuits, 1, &h));
	cell_put_hdr(cell, 1, rand64());
	memcpy(want, cell, sizeof(want));
	cell_put_hdr(want, 0x77777777, rand64());
	memcpy(want + 4, cell + 4, 8);		/* seq stays */
	len = build_frame(f, &self->prev4, &self->us4, cell, sizeof(cell));
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	ASSERT_EQ(0, r.err);
	EXPECT_STREQ("TX", xdp_name(r.verdict));
	check_out(_metadata, &r, &self->us4, &self->peer4, want);

	hop_init(&h, MAQUIS_DIR_BACK, 0x66666666, 0, &self->far6);
	ASSERT_EQ(0, hop_put(self->circuits, 2, &h));
	cell_put_hdr(cell, 2, rand64());
	memcpy(want, cell, sizeof(want));
	want[0] = want[1] = want[2] = want[3] = 0x66;
	len = build_frame(f, &self->prev6, &self->us6, cell, sizeof(cell));
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	ASSERT_EQ(0, r.err);
	EXPECT_STREQ("REDIRECT", xdp_name(r.verdict));
	check_out(_metadata, &r, &self->us6b, &self->far6, want);

	/* a family change is the relay's job */
	len = build_frame(f, &self->prev4, &self->us4, cell, sizeof(cell));
	xdp_run(self->prog, f, len, self->ve0, 1, &r);
	check_untouched(_metadata, &r, f, len);
	EXPECT_EQ(2, percpu_sum(self->stats, MAQ_STAT_CELLS_OUT));
}

TEST_F(xdp_fwd, cost)
{
	__u8 cell[MAQ_CELL_SIZE], f[FRAME_MAX];
	struct endpoint self_loop = self->peer4;
	struct xdp_result r;
	struct maq_xdp_hop h;
	size_t len;

	self_loop.port = MAQ_PORT;
	hop_init(&h, MAQUIS_DIR_FWD, 3, 0, &self_loop);
	ASSERT_EQ(0, hop_put(self->circuits, 3, &h));
	randombytes_buf(cell, sizeof(cell));
	cell_put_hdr(cell, 3, 0);
	len = build_frame(f, &self->prev4, &self->us4, cell, sizeof(cell));
	xdp_run(self->prog, f, len, self->ve0, 100000, &r);
	ASSERT_EQ(0, r.err);
	EXPECT_STREQ("TX", xdp_name(r.verdict));
	EXPECT_EQ(100000, percpu_sum(self->stats, MAQ_STAT_CELLS_OUT));
	TH_LOG("baseline forward, IPv4, XDP_TX: %u ns", r.duration);
}

TEST_HARNESS_MAIN
