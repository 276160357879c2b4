// SPDX-License-Identifier: GPL-2.0
/*
 * daemon/xdp.c, the loader, on the host kernel (no maquis.ko here): the
 * variant probe against crafted module BTF, auto picking the pure variant,
 * a forced kfunc variant refused, what maq_xdp_status() reads back, the
 * per-CPU counters summed from the pins, detach, and neighbour priming on
 * a link whose neighbour table starts empty.
 *
 * Each test runs in its own network namespace, its peer in another:
 *
 *   [test ns]  la 10.8.0.1/24 fd08::1/64  ---  lb 10.8.0.2 fd08::2  [peer ns]
 *              (XDP relay)                     (answers ARP and ND)
 *
 * No permanent neighbours: whatever la knows about lb, it learned.  Pins
 * go under /sys/fs/bpf/maq-loader-<pid>.
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>

#include <bpf/btf.h>

#include "maq_test.h"
#include "../../daemon/xdp.h"

#include "kselftest_harness.h"
#include "xdp_check.h"

#define PEER_NS_FMT	"mqlt%d"
#define MAC_LA		"02:00:00:00:08:01"
#define MAC_LB		"02:00:00:00:08:02"
#define NEIGH_WAIT_MS	3000

FIXTURE(loader) {
	char root[96], peer[32], dir[64];
	int la;
	struct endpoint us4, us6, peer4, peer6;
};

static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

FIXTURE_SETUP(loader)
{
	const char *why = bpf_unavailable();

	if (why)
		SKIP(return, "%s", why);
	if (access("/sys/fs/bpf", F_OK) || sh("mountpoint -q /sys/fs/bpf"))
		SKIP(return, "no bpffs at /sys/fs/bpf");
	ASSERT_EQ(0, maq_crypto_init());
	snprintf(self->root, sizeof(self->root), "/sys/fs/bpf/maq-loader-%d",
		 getpid());
	snprintf(self->peer, sizeof(self->peer), PEER_NS_FMT, getpid());
	snprintf(self->dir, sizeof(self->dir), "/tmp/maq-loader-%d", getpid());
	ASSERT_EQ(0, mkdir(self->dir, 0700));
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	/* DAD would hold ND back for a second or two: not what is tested */
	ASSERT_EQ(0, sh("exec >/dev/null 2>&1; set -e; ip link set lo up;"
			"sysctl -qw net.ipv6.conf.all.accept_dad=0"
			" net.ipv6.conf.default.accept_dad=0;"
			"ip netns add %s;"
			"ip netns exec %s sysctl -qw net.ipv6.conf.all.accept_dad=0"
			" net.ipv6.conf.default.accept_dad=0;"
			"ip link add la address " MAC_LA " type veth"
			"   peer name lb address " MAC_LB " netns %s;"
			"ip link set la up; ip addr add 10.8.0.1/24 dev la;"
			"ip -6 addr add fd08::1/64 dev la nodad;"
			"ip -n %s link set lo up; ip -n %s link set lb up;"
			"ip -n %s addr add 10.8.0.2/24 dev lb;"
			"ip -n %s -6 addr add fd08::2/64 dev lb nodad",
			self->peer, self->peer, self->peer, self->peer,
			self->peer, self->peer, self->peer));
	self->la = if_nametoindex("la");
	ASSERT_NE(0, self->la);
	endpoint_set(&self->us4, "10.8.0.1", MAQ_PORT, MAC_LA);
	endpoint_set(&self->us6, "fd08::1", MAQ_PORT, MAC_LA);
	endpoint_set(&self->peer4, "10.8.0.2", MAQ_PORT, MAC_LB);
	endpoint_set(&self->peer6, "fd08::2", MAQ_PORT, MAC_LB);
}

FIXTURE_TEARDOWN(loader)
{
	/* what a failed test left; the namespace takes the program along */
	maq_xdp_detach_ifname("la", self->root);
	sh("ip netns del %s 2>/dev/null", self->peer);
	sh("rm -rf %s %s", self->root, self->dir);
}

static struct maq_xdp *open_la(struct __test_metadata *_metadata,
			       FIXTURE_DATA(loader) *self,
			       enum maq_xdp_variant v, enum maq_xdp_mode m)
{
	struct maq_xdp_opts o = {
		.pin_root = self->root, .port = MAQ_PORT,
		.variant = v, .mode = m,
	};
	struct maq_xdp *x = NULL;
	int err = maq_xdp_open("la", &o, &x);

	EXPECT_EQ(0, err) TH_LOG("maq_xdp_open: %s", strerror(-err));
	return x;
}

/* ---- the probe ---------------------------------------------------------- */

/*
 * Module BTF as the kernel would publish it: split on top of vmlinux,
 * here with only the FUNCs named (the probe looks no further).
 */
static int write_split_btf(const char *path, const char *const *funcs, int n)
{
	struct btf *vmlinux, *b;
	const void *raw;
	__u32 size;
	int i, id, proto, fd, ret = -1;

	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return -1;
	b = btf__new_empty_split(vmlinux);
	if (!b)
		goto out;
	id = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	proto = id > 0 ? btf__add_func_proto(b, id) : -1;
	for (i = 0; proto > 0 && i < n; i++)
		if (btf__add_func(b, funcs[i], BTF_FUNC_GLOBAL, proto) <= 0)
			proto = -1;
	raw = proto > 0 ? btf__raw_data(b, &size) : NULL;
	if (raw) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			ret = write(fd, raw, size) == (ssize_t)size ? 0 : -1;
			close(fd);
		}
	}
	btf__free(b);
out:
	btf__free(vmlinux);
	return ret;
}

TEST_F(loader, probe)
{
	static const char *const both[] = { "bpf_maquis_xdp_lookup",
					    "bpf_maquis_xdp_relay" };
	static const char *const other[] = { "bpf_maquis_xdp_lookup",
					     "bpf_wireguard_xdp_relay" };
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/both", self->dir);
	ASSERT_EQ(0, write_split_btf(path, both, 2));
	EXPECT_EQ(1, maq_xdp_kfunc_probe(path));
	snprintf(path, sizeof(path), "%s/lookup-only", self->dir);
	ASSERT_EQ(0, write_split_btf(path, both, 1));
	EXPECT_EQ(0, maq_xdp_kfunc_probe(path));
	snprintf(path, sizeof(path), "%s/other", self->dir);
	ASSERT_EQ(0, write_split_btf(path, other, 2));
	EXPECT_EQ(0, maq_xdp_kfunc_probe(path));
	snprintf(path, sizeof(path), "%s/none", self->dir);
	EXPECT_EQ(0, maq_xdp_kfunc_probe(path));
	snprintf(path, sizeof(path), "%s/garbage", self->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(9, write(fd, "not a btf", 9));
	close(fd);
	EXPECT_GT(0, maq_xdp_kfunc_probe(path));
	/* and this host has no module at all */
	if (access(MAQ_XDP_KFUNC_BTF, F_OK))
		EXPECT_EQ(0, maq_xdp_kfunc_probe(NULL));
}

/* ---- variant, status, detach -------------------------------------------- */

TEST_F(loader, auto_is_pure_without_module)
{
	struct maq_xdp_opts o = { .pin_root = self->root, .port = MAQ_PORT };
	struct maq_xdp_status st;
	struct maq_xdp *x;
	char path[256];
	int err;

	if (!access(MAQ_XDP_KFUNC_BTF, F_OK))
		SKIP(return, "maquis.ko is loaded here");

	/* kfunc forced: refused up front, nothing attached or pinned */
	o.variant = MAQ_XDP_VARIANT_KFUNC;
	EXPECT_EQ(-ENOENT, maq_xdp_open("la", &o, &x));
	snprintf(path, sizeof(path), "%s/lookup-only", self->dir);
	ASSERT_EQ(0, write_split_btf(path, (const char *const[]){
		"bpf_maquis_xdp_lookup" }, 1));
	o.kfunc_btf = path;
	EXPECT_EQ(-ENOENT, maq_xdp_open("la", &o, &x));
	ASSERT_EQ(0, maq_xdp_status("la", self->root, &st));
	EXPECT_EQ(0, st.prog_id);
	EXPECT_FALSE(st.pinned);
	EXPECT_NE(0, access(self->root, F_OK));

	/* auto, with the module's BTF absent or without the kfuncs: pure */
	o.variant = MAQ_XDP_VARIANT_AUTO;
	ASSERT_EQ(0, maq_xdp_open("la", &o, &x));
	EXPECT_EQ(MAQ_XDP_VARIANT_PURE, maq_xdp_variant(x));
	maq_xdp_close(x);
	o.kfunc_btf = NULL;
	x = open_la(_metadata, self, MAQ_XDP_VARIANT_AUTO, MAQ_XDP_MODE_AUTO);
	ASSERT_NE(NULL, x);
	EXPECT_EQ(MAQ_XDP_VARIANT_PURE, maq_xdp_variant(x));
	EXPECT_STREQ("pure", maq_xdp_variant_name(maq_xdp_variant(x)));
	/* veth has a native XDP mode, and auto tries it first */
	EXPECT_EQ(MAQ_XDP_MODE_NATIVE, maq_xdp_mode(x));

	ASSERT_EQ(0, maq_xdp_status("la", self->root, &st));
	EXPECT_EQ(maq_xdp_prog_id(x), st.prog_id);
	EXPECT_NE(0, st.prog_id);
	EXPECT_EQ(MAQ_XDP_VARIANT_PURE, st.variant);
	EXPECT_EQ(MAQ_XDP_MODE_NATIVE, st.mode);
	EXPECT_EQ(0, st.dev_ifindex);
	EXPECT_EQ(0, st.other_prog_id);
	EXPECT_TRUE(st.pinned);

	/* the pure variant has no use for a maquis device: none needed */
	EXPECT_EQ(-ENODEV, maq_xdp_status("maq0", self->root, &st));
	err = maq_xdp_detach(x);
	EXPECT_EQ(0, err) TH_LOG("detach: %s", strerror(-err));
	ASSERT_EQ(0, maq_xdp_status("la", self->root, &st));
	EXPECT_EQ(0, st.prog_id);
	EXPECT_FALSE(st.pinned);
	EXPECT_NE(0, access(self->root, F_OK)) TH_LOG("%s left behind",
						       self->root);
}

/* Generic on request, read back as such; replaced in place by auto. */
TEST_F(loader, generic_mode_reported)
{
	struct maq_xdp_status st;
	struct maq_xdp *x;
	uint32_t first;

	x = open_la(_metadata, self, MAQ_XDP_VARIANT_PURE, MAQ_XDP_MODE_GENERIC);
	ASSERT_NE(NULL, x);
	EXPECT_EQ(MAQ_XDP_MODE_GENERIC, maq_xdp_mode(x));
	first = maq_xdp_prog_id(x);
	maq_xdp_close(x);
	ASSERT_EQ(0, maq_xdp_status("la", self->root, &st));
	EXPECT_EQ(first, st.prog_id);
	EXPECT_EQ(MAQ_XDP_MODE_GENERIC, st.mode);
	EXPECT_STREQ("generic", maq_xdp_mode_name(st.mode));

	x = open_la(_metadata, self, MAQ_XDP_VARIANT_AUTO, MAQ_XDP_MODE_AUTO);
	ASSERT_NE(NULL, x);
	ASSERT_EQ(0, maq_xdp_status("la", self->root, &st));
	EXPECT_EQ(maq_xdp_prog_id(x), st.prog_id);
	EXPECT_NE(first, st.prog_id);
	EXPECT_EQ(MAQ_XDP_MODE_GENERIC, st.mode);
	EXPECT_EQ(0, maq_xdp_detach_ifname("la", self->root));
	maq_xdp_close(x);
	ASSERT_EQ(0, maq_xdp_status("la", self->root, &st));
	EXPECT_EQ(0, st.prog_id);
}

/* ---- counters ----------------------------------------------------------- */

static void on_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/*
 * The attached program, run by id on each CPU in turn: every verdict that
 * needs no hop, counted per CPU, summed from the pin by a reader that has
 * no handle, and the same through a handle.
 */
TEST_F(loader, counters_from_pins)
{
	uint8_t cell[MAQ_CELL_SIZE], f[FRAME_MAX];
	uint64_t val[MAQ_STAT_MAX], val2[MAQ_STAT_MAX];
	int ncpu = libbpf_num_possible_cpus(), cpus, cpu, fd, i;
	struct maq_xdp_status st;
	struct xdp_result r;
	struct maq_xdp *x, *p;
	size_t len;

	x = open_la(_metadata, self, MAQ_XDP_VARIANT_AUTO, MAQ_XDP_MODE_AUTO);
	ASSERT_NE(NULL, x);
	maq_xdp_close(x);
	ASSERT_EQ(0, maq_xdp_status("la", self->root, &st));
	fd = bpf_prog_get_fd_by_id(st.prog_id);
	ASSERT_LE(0, fd);

	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	cpus = cpus < 1 ? 1 : cpus > 2 ? 2 : cpus;
	ASSERT_LE(cpus, ncpu);
	for (cpu = 0; cpu < cpus; cpu++) {
		on_cpu(cpu);
		/* cid 7, no such hop */
		randombytes_buf(cell, sizeof(cell));
		cell_put_hdr(cell, 7, 1);
		len = build_frame(f, &self->peer4, &self->us4, cell, sizeof(cell));
		xdp_run(fd, f, len, self->la, 1, &r);
		check_untouched(_metadata, &r, f, len);
		/* cid 0: link control, for the daemon */
		cell_put_hdr(cell, 0, 1);
		len = build_frame(f, &self->peer6, &self->us6, cell, sizeof(cell));
		xdp_run(fd, f, len, self->la, 1, &r);
		check_untouched(_metadata, &r, f, len);
		/* to our port, not a cell's size: dropped, twice */
		for (i = 0; i < 2; i++) {
			len = build_frame(f, &self->peer4, &self->us4, cell, 100);
			xdp_run(fd, f, len, self->la, 1, &r);
			EXPECT_STREQ("DROP", xdp_name(r.verdict));
		}
		/* another port: not ours to look at */
		self->us4.port = MAQ_PORT + 1;
		len = build_frame(f, &self->peer4, &self->us4, cell, sizeof(cell));
		self->us4.port = MAQ_PORT;
		xdp_run(fd, f, len, self->la, 1, &r);
		check_untouched(_metadata, &r, f, len);
	}
	close(fd);

	ASSERT_EQ(0, maq_xdp_stats_pinned("la", self->root, val));
	EXPECT_EQ(cpus, val[MAQ_STAT_UNKNOWN_CID]);
	EXPECT_EQ(cpus, val[MAQ_STAT_PASS_CTL]);
	EXPECT_EQ(2 * cpus, val[MAQ_STAT_MALFORMED]);
	/* and whatever the link itself carried (IPv6 ND and such) */
	EXPECT_LE(cpus, val[MAQ_STAT_PASS]);
	for (i = 0; i < MAQ_STAT_MAX; i++) {
		if (i == MAQ_STAT_UNKNOWN_CID || i == MAQ_STAT_PASS_CTL ||
		    i == MAQ_STAT_MALFORMED || i == MAQ_STAT_PASS)
			continue;
		EXPECT_EQ(0, val[i]) TH_LOG("%s", maq_xdp_stat_name(i));
	}
	ASSERT_EQ(0, maq_xdp_open_pinned("la", self->root, &p));
	EXPECT_EQ(MAQ_XDP_VARIANT_PURE, maq_xdp_variant(p));
	EXPECT_EQ(MAQ_XDP_MODE_NATIVE, maq_xdp_mode(p));
	ASSERT_EQ(0, maq_xdp_stats(p, val2));
	EXPECT_EQ(val[MAQ_STAT_MALFORMED], val2[MAQ_STAT_MALFORMED]);
	EXPECT_EQ(val[MAQ_STAT_UNKNOWN_CID], val2[MAQ_STAT_UNKNOWN_CID]);
	maq_xdp_close(p);

	EXPECT_EQ(-ENOENT, maq_xdp_stats_pinned("lb", self->root, val));
	EXPECT_EQ(-EINVAL, maq_xdp_stats_pinned("../la", self->root, val));
	EXPECT_EQ(0, maq_xdp_detach_ifname("la", self->root));
	EXPECT_EQ(-ENOENT, maq_xdp_stats_pinned("la", self->root, val));
}

/* ---- neighbour priming -------------------------------------------------- */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* `ip neigh show ADDR dev la`: its state word, "" when there is none. */
static void neigh_state(const char *addr, char *state, size_t len)
{
	char cmd[128], line[256], *p;
	FILE *f;

	*state = '\0';
	snprintf(cmd, sizeof(cmd), "ip neigh show %s dev la 2>/dev/null", addr);
	f = popen(cmd, "r");
	if (!f)
		return;
	if (fgets(line, sizeof(line), f)) {
		/* "ADDR lladdr MAC STATE \n" */
		p = line + strlen(line);
		while (p > line && (p[-1] == ' ' || p[-1] == '\n'))
			*--p = '\0';
		p = strrchr(line, ' ');
		p = p ? p + 1 : line;
		if (strlen(p) < len)
			strcpy(state, p);
	}
	pclose(f);
}

/* Wait until the kernel has a usable entry (what bpf_fib_lookup needs). */
static bool neigh_valid(const char *addr, char *state, size_t len)
{
	static const char *const ok[] = { "REACHABLE", "STALE", "DELAY",
					  "PROBE" };
	long end = now_ms() + NEIGH_WAIT_MS;
	size_t i;

	do {
		neigh_state(addr, state, len);
		for (i = 0; i < ARRAY_SIZE(ok); i++)
			if (!strcmp(state, ok[i]))
				return true;
		usleep(20000);
	} while (now_ms() < end);
	return false;
}

/* nl.c's parser would pull libnl into this test: inet_pton is enough. */
static void sockaddr_set(union maq_sockaddr *a, const char *addr)
{
	memset(a, 0, sizeof(*a));
	if (strchr(addr, ':')) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons(MAQ_PORT);
		inet_pton(AF_INET6, addr, &a->in6.sin6_addr);
	} else {
		a->in4.sin_family = AF_INET;
		a->in4.sin_port = htons(MAQ_PORT);
		inet_pton(AF_INET, addr, &a->in4.sin_addr);
	}
}

static void relay_part(struct maq_circuit *c, const struct maq_xdp_hop *fh,
		       const struct maq_xdp_hop *bh, const char *next,
		       const char *prev)
{
	memset(c, 0, sizeof(*c));
	c->role = MAQUIS_ROLE_RELAY;
	c->n_hops = 1;
	c->fwd_cid_in = 0x100;
	c->fwd_cid_out = fh->cid_out;
	c->back_cid_in = 0x101;
	c->back_cid_out = bh->cid_out;
	sockaddr_set(&c->next, next);
	sockaddr_set(&c->prev, prev);
	c->hops[0].has = MAQ_HOP_ALL;
	memcpy(c->hops[0].fwd_key, fh->key[0], MAQ_KEY_LEN);
	memcpy(c->hops[0].back_key, bh->key[0], MAQ_KEY_LEN);
	memcpy(c->hops[0].fwd_ctl_key, fh->ctl_key, MAQ_KEY_LEN);
	c->hops[0].fwd_seq = fh->delta;
	c->hops[0].back_seq = bh->delta;
}

/*
 * A relay whose next hop the kernel has never talked to: bpf_fib_lookup()
 * says NO_NEIGH, the program passes the cell to a stack where nobody
 * listens (it is lost), and nothing in XDP can ask for the neighbour.  The
 * loader asks when it installs the hop, for both next and prev, so the
 * first cell already goes out; maq_xdp_prime_all() asks again after the
 * entry is gone.
 */
TEST_F(loader, primes_neighbours)
{
	uint8_t cell[MAQ_CELL_SIZE], want[MAQ_CELL_SIZE], f[FRAME_MAX];
	struct maq_xdp_hop fh, bh, unprimed;
	uint64_t val[MAQ_STAT_MAX], seq;
	char path[256], state[32];
	struct maq_circuit c;
	struct xdp_result r;
	struct maq_xdp *x;
	struct maq_xdp_status st;
	size_t len;
	int fd, circuits;

	neigh_state("10.8.0.2", state, sizeof(state));
	ASSERT_STREQ("", state) TH_LOG("la already knows 10.8.0.2");
	neigh_state("fd08::2", state, sizeof(state));
	ASSERT_STREQ("", state) TH_LOG("la already knows fd08::2");

	x = open_la(_metadata, self, MAQ_XDP_VARIANT_PURE, MAQ_XDP_MODE_AUTO);
	ASSERT_NE(NULL, x);
	ASSERT_EQ(0, maq_xdp_status("la", self->root, &st));
	fd = bpf_prog_get_fd_by_id(st.prog_id);
	ASSERT_LE(0, fd);

	/* The problem: a hop put in the table behind the loader's back. */
	snprintf(path, sizeof(path), "%s/maq_circuits", self->root);
	circuits = bpf_obj_get(path);
	ASSERT_LE(0, circuits);
	hop_init(&unprimed, MAQUIS_DIR_FWD, 0x201, rand64(), &self->peer4);
	ASSERT_EQ(0, hop_put(circuits, 0x200, &unprimed));
	seq = rand_ctr();
	make_fwd(cell, &unprimed, 0x200, seq);
	len = build_frame(f, &self->peer6, &self->us6, cell, sizeof(cell));
	xdp_run(fd, f, len, self->la, 1, &r);
	check_untouched(_metadata, &r, f, len);
	ASSERT_EQ(0, maq_xdp_stats(x, val));
	EXPECT_EQ(1, val[MAQ_STAT_NO_ROUTE]);
	ASSERT_EQ(0, hop_get(circuits, 0x200, &unprimed));
	EXPECT_EQ(0, unprimed.replay_next) TH_LOG("window moved on a PASS");
	neigh_state("10.8.0.2", state, sizeof(state));
	EXPECT_STREQ("", state) TH_LOG("XDP resolved a neighbour by itself?");

	/* The loader's way: forward to 10.8.0.2, backward to fd08::2. */
	hop_init(&fh, MAQUIS_DIR_FWD, 0x301, rand64(), &self->peer4);
	hop_init(&bh, MAQUIS_DIR_BACK, 0x302, rand64(), &self->peer6);
	relay_part(&c, &fh, &bh, "10.8.0.2", "fd08::2");
	ASSERT_EQ(0, maq_xdp_hop_add(x, &c));
	EXPECT_TRUE(neigh_valid("10.8.0.2", state, sizeof(state)))
		TH_LOG("10.8.0.2 on la: '%s'", state);
	EXPECT_TRUE(neigh_valid("fd08::2", state, sizeof(state)))
		TH_LOG("fd08::2 on la: '%s'", state);

	/* the first cell of the circuit goes out by XDP_TX, as layer.h says */
	seq = rand_ctr();
	fh.flags = MAQ_HOP_SLOT0;
	make_fwd(cell, &fh, c.fwd_cid_in, seq & MAQ_SEQ_CTR_MASK);
	want_fwd(want, cell, &fh, seq & MAQ_SEQ_CTR_MASK);
	len = build_frame(f, &self->peer6, &self->us6, cell, sizeof(cell));
	xdp_run(fd, f, len, self->la, 1, &r);
	ASSERT_EQ(0, r.err);
	EXPECT_STREQ("TX", xdp_name(r.verdict));
	check_out(_metadata, &r, &self->us4, &self->peer4, want);
	ASSERT_EQ(0, maq_xdp_stats(x, val));
	EXPECT_EQ(1, val[MAQ_STAT_NO_ROUTE]);
	EXPECT_EQ(1, val[MAQ_STAT_CELLS_OUT]);

	/* Entries go (a peer that changed, a flush): priming all again. */
	ASSERT_EQ(0, sh("ip neigh flush dev la"));
	neigh_state("10.8.0.2", state, sizeof(state));
	ASSERT_TRUE(!strcmp(state, "") || !strcmp(state, "FAILED") ||
		    !strcmp(state, "INCOMPLETE")) TH_LOG("after flush: %s", state);
	/* 10.8.0.2 (twice: 0x200 and 0x100) and fd08::2, once each */
	EXPECT_EQ(2, maq_xdp_prime_all(x));
	EXPECT_TRUE(neigh_valid("10.8.0.2", state, sizeof(state)))
		TH_LOG("10.8.0.2 on la after prime_all: '%s'", state);
	EXPECT_TRUE(neigh_valid("fd08::2", state, sizeof(state)))
		TH_LOG("fd08::2 on la after prime_all: '%s'", state);

	/* an entry the administrator set is not touched */
	ASSERT_EQ(0, sh("ip neigh replace 10.8.0.2 lladdr " MAC_LB
			" dev la nud permanent"));
	EXPECT_EQ(2, maq_xdp_prime_all(x));
	neigh_state("10.8.0.2", state, sizeof(state));
	EXPECT_STREQ("PERMANENT", state);

	close(circuits);
	close(fd);
	EXPECT_EQ(0, maq_xdp_detach(x));
}

/* A relay part the table cannot take changes nothing. */
TEST_F(loader, hop_add_refuses_bad_parts)
{
	struct maq_xdp_hop fh, bh;
	struct maq_circuit c;
	struct maq_xdp *x;

	x = open_la(_metadata, self, MAQ_XDP_VARIANT_PURE, MAQ_XDP_MODE_AUTO);
	ASSERT_NE(NULL, x);
	hop_init(&fh, MAQUIS_DIR_FWD, 0x301, rand64(), &self->peer4);
	hop_init(&bh, MAQUIS_DIR_BACK, 0x302, rand64(), &self->peer6);
	relay_part(&c, &fh, &bh, "10.8.0.2", "fd08::2");
	/* bad parts are refused with nothing installed */
	c.role = MAQUIS_ROLE_ORIGIN;
	EXPECT_EQ(-EINVAL, maq_xdp_hop_add(x, &c));
	c.role = MAQUIS_ROLE_RELAY;
	c.back_cid_in = c.fwd_cid_in;
	EXPECT_EQ(-EINVAL, maq_xdp_hop_add(x, &c));
	c.back_cid_in = 0x101;
	EXPECT_EQ(0, maq_xdp_hop_list(x, (uint32_t[4]){ 0 }, 4));
	EXPECT_EQ(0, maq_xdp_hop_add(x, &c));
	EXPECT_EQ(-EEXIST, maq_xdp_hop_add(x, &c));
	EXPECT_EQ(2, maq_xdp_hop_list(x, (uint32_t[4]){ 0 }, 4));
	EXPECT_EQ(0, maq_xdp_hop_del(x, &c));
	EXPECT_EQ(-ENOENT, maq_xdp_hop_del(x, &c));
	EXPECT_EQ(0, maq_xdp_detach(x));
}

TEST_HARNESS_MAIN
