// SPDX-License-Identifier: GPL-2.0
/*
 * Hop churn in the pure-BPF relay's pinned maps (issue 7, "Load"): relay
 * hops are added and deleted through daemon/xdp.c (maq_xdp_hop_add and
 * maq_xdp_hop_del, as the daemon does) in batches, 10^5 of them, while a
 * second thread keeps forward and backward cells of one long-lived hop
 * running through the attached program with BPF_PROG_TEST_RUN.
 *
 * Checked: every cell of the live hop relayed, none lost to the churn; a
 * few cells of each batch relayed while their hops exist and passed as
 * unknown-cid once deleted; after every batch, and at the end, each map of
 * the program holds exactly the keys it started with (walked with
 * bpf_map_get_next_key), its memlock is unchanged, and the per-CPU
 * counters summed over CPUs account for every cell sent, no more.
 *
 * MAQ_BPF_CHURN sets the number of hops (default 100000),
 * MAQ_BPF_CHURN_SECONDS the time bound (default 60): the count reached is
 * printed when the bound stops the loop first.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "maq_test.h"
#include "../../daemon/xdp.h"
#include "../lib/util.h"

#include "kselftest_harness.h"
#include "xdp_check.h"

#define BATCH		4000	/* hops, two entries each */
#define PROBES		16	/* cells of each batch, alive then dead */
#define MAX_MAPS	16
#define LIVE_FWD	0x11110001
#define LIVE_BACK	0x11110002

struct map_snap {
	int n;
	__u32 id[MAX_MAPS];
	char name[MAX_MAPS][BPF_OBJ_NAME_LEN];
	__u32 type[MAX_MAPS];
	long keys[MAX_MAPS];
	long memlock[MAX_MAPS];
};

/* What the cell thread shares with the test. */
struct live {
	int prog, ifindex;
	struct maq_circuit c;
	atomic_bool stop;
	__u64 fwd_seq, back_seq;	/* next counters to send */
	__u64 sent, relayed, bytes;	/* filled by the thread */
	char why[128];			/* first failure, "" if none */
};

FIXTURE(churn) {
	char root[96];
	struct maq_xdp *x;
	int prog, ve0;
	int map_fd[MAX_MAPS];
	struct map_snap start;
	struct endpoint prev4, us4;
	struct endpoint nexts[4];
};

/* Keys of a map, walked as a userspace tool would; -errno on failure. */
static long map_keys(int fd, __u32 key_size)
{
	__u8 k[2][64];
	void *prev = NULL;
	long n = 0;
	int cur = 0;

	if (key_size > sizeof(k[0]))
		return -E2BIG;
	while (!bpf_map_get_next_key(fd, prev, k[cur])) {
		n++;
		prev = k[cur];
		cur = !cur;
	}
	return errno == ENOENT ? n : -errno;
}

static int snap_maps(FIXTURE_DATA(churn) *self, struct map_snap *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < MAX_MAPS && self->map_fd[i] >= 0; i++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		if (bpf_obj_get_info_by_fd(self->map_fd[i], &info, &len))
			return -errno;
		s->id[i] = info.id;
		s->type[i] = info.type;
		snprintf(s->name[i], sizeof(s->name[i]), "%s", info.name);
		s->keys[i] = map_keys(self->map_fd[i], info.key_size);
		s->memlock[i] = maq_map_memlock(self->map_fd[i]);
		if (s->keys[i] < 0)
			return s->keys[i];
	}
	s->n = i;
	return 0;
}

static int map_index(const struct map_snap *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name))
			return i;
	return -1;
}

static __u64 stat_sum(FIXTURE_DATA(churn) *self, __u32 idx)
{
	int i = map_index(&self->start, "maq_stats");

	return i < 0 ? ~0ULL : percpu_sum(self->map_fd[i], idx);
}

static void sockaddr_of(union maq_sockaddr *a, const struct endpoint *e)
{
	memset(a, 0, sizeof(*a));
	if (e->family == AF_INET) {
		a->in4.sin_family = AF_INET;
		a->in4.sin_port = htons(e->port);
		memcpy(&a->in4.sin_addr, e->addr, 4);
	} else {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons(e->port);
		memcpy(&a->in6.sin6_addr, e->addr, 16);
	}
}

/* A relay's part with random keys, deltas and cids. */
static void relay_part(struct maq_circuit *c, const struct endpoint *next,
		       const struct endpoint *prev)
{
	memset(c, 0, sizeof(*c));
	c->role = MAQUIS_ROLE_RELAY;
	c->n_hops = 1;
	c->hops[0].has = MAQ_HOP_ALL;
	randombytes_buf(c->hops[0].fwd_key, MAQUIS_KEY_LEN);
	randombytes_buf(c->hops[0].back_key, MAQUIS_KEY_LEN);
	randombytes_buf(c->hops[0].fwd_ctl_key, MAQUIS_KEY_LEN);
	randombytes_buf(c->hops[0].back_ctl_key, MAQUIS_KEY_LEN);
	c->hops[0].fwd_seq = rand64() & MAQ_SEQ_CTR_MASK;
	c->hops[0].back_seq = rand64() & MAQ_SEQ_CTR_MASK;
	do {
		c->fwd_cid_in = randombytes_random();
		c->back_cid_in = randombytes_random();
	} while (!c->fwd_cid_in || !c->back_cid_in ||
		 c->fwd_cid_in == c->back_cid_in);
	c->fwd_cid_out = randombytes_random() | 1;
	c->back_cid_out = randombytes_random() | 1;
	sockaddr_of(&c->next, next);
	sockaddr_of(&c->prev, prev);
}

/* A cell for cid: forward ones sealed under @key, backward ones random. */
static size_t cell_frame(__u8 *f, const struct endpoint *src,
			 const struct endpoint *dst, __u32 cid, __u64 seq,
			 const __u8 *key)
{
	__u8 cell[MAQ_CELL_SIZE], plain[MAQ_BODY_LEN];

	randombytes_buf(plain, sizeof(plain));
	if (key) {
		cell_seal_fwd(cell, cid, seq, plain, key);
	} else {
		randombytes_buf(cell, sizeof(cell));
		cell_put_hdr(cell, cid, seq);
	}
	return build_frame(f, src, dst, cell, sizeof(cell));
}

static void *live_cells(void *arg)
{
	struct live *l = arg;
	struct endpoint prev4, us4;
	struct xdp_result *r = malloc(sizeof(*r));
	__u8 f[FRAME_MAX];
	size_t len;
	int fwd = 1;

	if (!r) {
		snprintf(l->why, sizeof(l->why), "out of memory");
		return NULL;
	}
	endpoint_set(&prev4, "10.0.0.2", MAQ_PORT, MAC_VE1);
	endpoint_set(&us4, "10.0.0.1", MAQ_PORT, MAC_VE0);
	while (!atomic_load(&l->stop)) {
		if (fwd)
			len = cell_frame(f, &prev4, &us4, l->c.fwd_cid_in,
					 l->fwd_seq++, l->c.hops[0].fwd_key);
		else
			len = cell_frame(f, &prev4, &us4, l->c.back_cid_in,
					 l->back_seq++, NULL);
		xdp_run(l->prog, f, len, l->ifindex, 1, r);
		l->sent++;
		/* forward: out of ve2 (redirect); backward: back out of ve0 */
		if (r->err || r->verdict != (fwd ? XDP_REDIRECT : XDP_TX)) {
			if (!l->why[0])
				snprintf(l->why, sizeof(l->why),
					 "live %s cell %llu: err %d verdict %s",
					 fwd ? "forward" : "backward",
					 (unsigned long long)l->sent, r->err,
					 xdp_name(r->verdict));
		} else {
			l->relayed++;
			l->bytes += len;
		}
		fwd = !fwd;
	}
	free(r);
	return NULL;
}

FIXTURE_SETUP(churn)
{
	struct maq_xdp_opts o = { .port = MAQ_PORT,
				  .variant = MAQ_XDP_VARIANT_PURE };
	__u32 ids[MAX_MAPS] = {}, i, n;
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	const char *why = bpf_unavailable();
	int err;

	memset(self->map_fd, -1, sizeof(self->map_fd));
	self->prog = -1;
	if (why)
		SKIP(return, "%s", why);
	if (access("/sys/fs/bpf", F_OK) ||
	    system("mountpoint -q /sys/fs/bpf"))
		SKIP(return, "no bpffs at /sys/fs/bpf");
	why = netns_setup();
	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, maq_crypto_init());
	snprintf(self->root, sizeof(self->root), "/sys/fs/bpf/maq-churn-%d",
		 getpid());
	o.pin_root = self->root;
	err = maq_xdp_open("ve0", &o, &self->x);
	if (err && load_failure_is_env(err))
		SKIP(return, "cannot load BPF: %s", strerror(-err));
	ASSERT_EQ(0, err) TH_LOG("maq_xdp_open: %s", strerror(-err));
	self->ve0 = if_nametoindex("ve0");

	self->prog = bpf_prog_get_fd_by_id(maq_xdp_prog_id(self->x));
	ASSERT_LE(0, self->prog);
	info.nr_map_ids = MAX_MAPS;
	info.map_ids = (__u64)(unsigned long)ids;
	ASSERT_EQ(0, bpf_obj_get_info_by_fd(self->prog, &info, &len));
	n = info.nr_map_ids < MAX_MAPS ? info.nr_map_ids : MAX_MAPS;
	for (i = 0; i < n; i++) {
		self->map_fd[i] = bpf_map_get_fd_by_id(ids[i]);
		ASSERT_LE(0, self->map_fd[i]);
	}
	ASSERT_EQ(0, snap_maps(self, &self->start));
	ASSERT_LE(0, map_index(&self->start, "maq_circuits"));
	ASSERT_LE(0, map_index(&self->start, "maq_stats"));

	endpoint_set(&self->prev4, "10.0.0.2", MAQ_PORT, MAC_VE1);
	endpoint_set(&self->us4, "10.0.0.1", MAQ_PORT, MAC_VE0);
	endpoint_set(&self->nexts[0], "10.0.0.2", MAQ_PORT, MAC_VE1);
	endpoint_set(&self->nexts[1], "10.0.1.2", MAQ_PORT, MAC_VE3);
	endpoint_set(&self->nexts[2], "fd00::2", MAQ_PORT, MAC_VE1);
	endpoint_set(&self->nexts[3], "fd01::2", MAQ_PORT, MAC_VE3);
}

FIXTURE_TEARDOWN(churn)
{
	char cmd[160];
	int i;

	for (i = 0; i < MAX_MAPS; i++)
		if (self->map_fd[i] >= 0)
			close(self->map_fd[i]);
	if (self->prog >= 0)
		close(self->prog);
	if (self->x)
		maq_xdp_detach(self->x);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->root);
	if (self->root[0] && system(cmd))
		fprintf(stderr, "cannot remove %s\n", self->root);
}

/* Every map of the program against the start, into @now. */
static void check_maps(struct __test_metadata *_metadata,
		       FIXTURE_DATA(churn) *self, struct map_snap *now)
{
	int i;

	ASSERT_EQ(0, snap_maps(self, now));
	ASSERT_EQ(self->start.n, now->n);
	for (i = 0; i < now->n; i++) {
		EXPECT_EQ(self->start.id[i], now->id[i]);
		EXPECT_EQ(self->start.keys[i], now->keys[i])
			TH_LOG("map %s holds %ld keys, %ld at the start",
			       now->name[i], now->keys[i], self->start.keys[i]);
		EXPECT_EQ(self->start.memlock[i], now->memlock[i])
			TH_LOG("map %s memlock %ld, %ld at the start",
			       now->name[i], now->memlock[i],
			       self->start.memlock[i]);
	}
}

TEST_F_TIMEOUT(churn, hops, 600)
{
	long target = maq_env_long("MAQ_BPF_CHURN", 100000, 1L << 30);
	double limit = maq_env_long("MAQ_BPF_CHURN_SECONDS", 60, 3600);
	int ci = map_index(&self->start, "maq_circuits");
	__u64 s0[MAQ_STAT_MAX], s1[MAQ_STAT_MAX];
	__u64 probes = 0, probe_bytes = 0, dead = 0, collisions = 0;
	long added = 0, deleted = 0, batches = 0, peak = 0;
	struct maq_circuit *batch;
	struct map_snap end;
	struct xdp_result r;
	struct live *live;
	double t0, t_churn;
	pthread_t th;
	__u8 f[FRAME_MAX];
	size_t len;
	int i, j, k, err = 0;
	__u64 pbase;

	batch = calloc(BATCH, sizeof(*batch));
	live = calloc(1, sizeof(*live));
	ASSERT_NE(NULL, batch);
	ASSERT_NE(NULL, live);
	for (i = 0; i < MAQ_STAT_MAX; i++)
		s0[i] = stat_sum(self, i);

	/* The long-lived hop: forward out of ve2, backward out of ve0. */
	relay_part(&live->c, &self->nexts[1], &self->prev4);
	live->c.fwd_cid_in = LIVE_FWD;
	live->c.back_cid_in = LIVE_BACK;
	ASSERT_EQ(0, maq_xdp_hop_add(self->x, &live->c));
	live->prog = self->prog;
	live->ifindex = self->ve0;
	live->fwd_seq = rand_ctr();
	live->back_seq = rand_ctr();
	atomic_init(&live->stop, false);
	ASSERT_EQ(0, pthread_create(&th, NULL, live_cells, live));

	t0 = maq_now();
	while (added < target && maq_now() - t0 < limit) {
		int n = target - added < BATCH ? target - added : BATCH;
		struct map_snap s;

		for (i = 0; i < n; i++) {
			for (k = 0; k < 8; k++) {
				relay_part(&batch[i], &self->nexts[i % 4],
					   &self->nexts[(i / 4) % 4]);
				err = maq_xdp_hop_add(self->x, &batch[i]);
				if (err != -EEXIST)
					break;
				collisions++;
			}
			if (err)
				break;
		}
		if (err) {
			atomic_store(&live->stop, true);
			pthread_join(th, NULL);
			ASSERT_EQ(0, err) TH_LOG("hop %ld: %s", added + i,
						 strerror(-err));
		}
		added += n;
		batches++;
		ASSERT_EQ(0, snap_maps(self, &s));
		if (s.keys[ci] > peak)
			peak = s.keys[ci];
		EXPECT_EQ(self->start.keys[ci] + 2 + 2 * n, s.keys[ci]);

		/*
		 * A few of them carry a cell while they exist, and none once
		 * deleted; ascending counters, so that a hop probed twice
		 * (small batches) sees no replay.
		 */
		pbase = rand_ctr();
		for (j = 0; j < PROBES; j++) {
			const struct maq_circuit *c = &batch[j * n / PROBES];

			len = cell_frame(f, &self->prev4, &self->us4,
					 c->fwd_cid_in, pbase + j,
					 c->hops[0].fwd_key);
			xdp_run(self->prog, f, len, self->ve0, 1, &r);
			ASSERT_EQ(0, r.err);
			EXPECT_TRUE(r.verdict == XDP_TX ||
				    r.verdict == XDP_REDIRECT)
				TH_LOG("batch %ld: probe verdict %s", batches,
				       xdp_name(r.verdict));
			probes++;
			probe_bytes += len;
		}

		for (i = 0; i < n; i++) {
			err = maq_xdp_hop_del(self->x, &batch[i]);
			ASSERT_EQ(0, err) TH_LOG("delete: %s", strerror(-err));
			deleted++;
		}

		for (j = 0; j < PROBES; j++) {
			const struct maq_circuit *c = &batch[j * n / PROBES];

			len = cell_frame(f, &self->prev4, &self->us4,
					 c->fwd_cid_in, pbase + PROBES + j,
					 c->hops[0].fwd_key);
			xdp_run(self->prog, f, len, self->ve0, 1, &r);
			ASSERT_EQ(0, r.err);
			EXPECT_STREQ("PASS", xdp_name(r.verdict));
			dead++;
		}
		EXPECT_EQ(-ENOENT, maq_xdp_hop_del(self->x, &batch[0]));

		ASSERT_EQ(0, snap_maps(self, &s));
		EXPECT_EQ(self->start.keys[ci] + 2, s.keys[ci])
			TH_LOG("batch %ld left %ld entries", batches,
			       s.keys[ci] - self->start.keys[ci] - 2);
		for (i = 0; i < n; i++)
			sodium_memzero(&batch[i], sizeof(batch[i]));
	}
	t_churn = maq_now() - t0;

	atomic_store(&live->stop, true);
	pthread_join(th, NULL);
	EXPECT_STREQ("", live->why);
	EXPECT_EQ(live->sent, live->relayed);
	ASSERT_LT(0, live->relayed);

	ASSERT_EQ(0, maq_xdp_hop_del(self->x, &live->c));
	check_maps(_metadata, self, &end);

	for (i = 0; i < MAQ_STAT_MAX; i++)
		s1[i] = stat_sum(self, i) - s0[i];
	EXPECT_EQ(live->relayed + probes, s1[MAQ_STAT_CELLS_IN]);
	EXPECT_EQ(live->relayed + probes, s1[MAQ_STAT_CELLS_OUT]);
	EXPECT_EQ(live->bytes + probe_bytes, s1[MAQ_STAT_BYTES_IN]);
	EXPECT_EQ(dead, s1[MAQ_STAT_UNKNOWN_CID]);
	/*
	 * Not pass: the program is attached to ve0, where the kernel's own
	 * IPv6 chatter (router solicitations, MLD) arrives meanwhile.
	 */
	for (i = 0; i < MAQ_STAT_MAX; i++) {
		if (i == MAQ_STAT_CELLS_IN || i == MAQ_STAT_CELLS_OUT ||
		    i == MAQ_STAT_BYTES_IN || i == MAQ_STAT_BYTES_OUT ||
		    i == MAQ_STAT_UNKNOWN_CID || i == MAQ_STAT_PASS)
			continue;
		EXPECT_EQ(0, s1[i]) TH_LOG("counter %s moved by %llu",
					   maq_xdp_stat_name(i),
					   (unsigned long long)s1[i]);
	}

	ksft_print_msg("hops added %ld, deleted %ld (target %ld%s) in %ld batches of up to %d, %.1f s, %.0f hops/s add+delete\n",
		       added, deleted, target,
		       added < target ? ", time bound reached" : "", batches,
		       BATCH, t_churn, t_churn > 0 ? added / t_churn : 0);
	ksft_print_msg("cid collisions retried %llu; maq_circuits entries: start %ld, peak %ld, end %ld\n",
		       (unsigned long long)collisions, self->start.keys[ci],
		       peak, end.keys[ci]);
	ksft_print_msg("live hop: %llu cells sent, %llu relayed during the churn; probes: %llu relayed alive, %llu passed dead (unknown-cid %llu)\n",
		       (unsigned long long)live->sent,
		       (unsigned long long)live->relayed,
		       (unsigned long long)probes, (unsigned long long)dead,
		       (unsigned long long)s1[MAQ_STAT_UNKNOWN_CID]);
	for (i = 0; i < end.n; i++)
		ksft_print_msg("map %-14s keys %ld -> %ld, memlock %ld -> %ld, leaked %ld\n",
			       end.name[i], self->start.keys[i], end.keys[i],
			       self->start.memlock[i], end.memlock[i],
			       end.keys[i] - self->start.keys[i]);
	EXPECT_LT(0, added);
	sodium_memzero(&live->c, sizeof(live->c));
	free(live);
	free(batch);
}

TEST_HARNESS_MAIN
