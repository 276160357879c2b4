// SPDX-License-Identifier: GPL-2.0
/*
 * Circuit churn under load leaves nothing behind (issue 7, "Load").
 *
 * Four namespaces in a line carry one long-lived circuit (maqtool install:
 * origin -> r1 -> r2 -> terminus, three hops) with a ping running through
 * it.  Meanwhile circuits are created and deleted on r1's device over
 * netlink (daemon/nl.h), in batches: relay, origin (one to three hops)
 * and terminus parts with random keys (tests/lib/plan.h), the last two
 * with an IPv4 and an IPv6 route each, 10^5 of them or until the time
 * bound.
 *
 * Checked: every create and delete succeeds; dev-get counts each batch
 * exactly and is back at its start after it; a dump lists the first
 * batch, and only the standing circuit at the end; the ping never stalls
 * for long and loses little, the standing circuit drops nothing; after an
 * RCU settle the module's cache (maq_circuit) holds exactly the objects
 * it held before, and SUnreclaim is back within a tolerance.  When the
 * kernel merged the cache into another one of the same size (SLUB does,
 * unless the cache is SLAB_NO_MERGE or slab_nomerge is on the command
 * line), the merged cache is counted instead, within a tolerance for its
 * other users.
 *
 *   MAQ_CHURN_CIRCUITS   circuits to create and delete (100000)
 *   MAQ_CHURN_SECONDS    time bound of the loop (120, at most 480)
 *   MAQ_CHURN_BATCH      circuits per batch (1000)
 *   MAQ_CHURN_SUNRECLAIM_KB  SUnreclaim tolerance (2048)
 *   MAQ_CHURN_MERGED_OBJS    tolerance of a merged cache, objects (256)
 *
 * Needs root, maquis.ko loaded, veth, ping and tests/kmod/maqtool.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <sodium.h>

#include "../../daemon/nl.h"
#include "../lib/plan.h"
#include "../lib/util.h"
#include "kselftest_harness.h"

#define DEV		"maq0"
#define CACHE		"maq_circuit"
#define LIVE_ID		7
#define ID_BASE		0x40000000u
#define MAX_SECONDS	480
#define STALL_LIMIT	5.0	/* seconds without a cell on the live circuit */
#define SETTLE_SECONDS	20

static const char *const hosts[] = { "o", "r1", "r2", "t" };
#define NHOSTS		4

FIXTURE(churn) {
	char ns[NHOSTS][32];
	char pingout[64];
	pid_t ping;
	int made;
};

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* Writes "1" to a sysfs/procfs file; 0 or -errno. */
static int write_one(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * The slab cache @cache lives in: itself, or the cache it was merged into
 * (its /sys/kernel/slab entry is then a link to that one's).
 */
static void slab_real(const char *cache, char *real, size_t len)
{
	char path[128], target[128], *base;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s", cache);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0) {
		snprintf(real, len, "%s", cache);
		return;
	}
	target[n] = 0;
	base = strrchr(target, '/');
	snprintf(real, len, "%.63s", base ? base + 1 : target);
}

/* A number at the start of /sys/kernel/slab/<cache>/<file>, or -1. */
static long slab_attr(const char *cache, const char *file)
{
	char path[160];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/%s", cache, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/*
 * Objects in use in the slab cache @real (see slab_real()), after flushing
 * its per-CPU slabs (shrink) when asked, so that the count is exact; and
 * the objects its slabs hold in all in *total.  -1 on failure.
 */
static long slab_objs(const char *real, bool shrink, long *total)
{
	char path[160];

	if (shrink) {
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink",
			 real);
		write_one(path, "1");
	}
	if (total)
		*total = slab_attr(real, "total_objects");
	return slab_attr(real, "objects");
}

/* SUnreclaim in kB after dropping what can be dropped; -1 on failure. */
static long sunreclaim_kb(void)
{
	char line[256];
	long v = -1;
	FILE *f;

	write_one("/proc/sys/vm/drop_caches", "3");
	sh("for f in /sys/kernel/slab/*/shrink; do echo 1 >$f; done 2>/dev/null");
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SUnreclaim: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int enter_ns(const char *ns)
{
	char path[96];
	int fd, ret;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = setns(fd, CLONE_NEWNET) ? -errno : 0;
	close(fd);
	return ret;
}

FIXTURE_SETUP(churn)
{
	char batch[1024];
	int i;

	self->ping = -1;
	self->made = 0;
	if (geteuid())
		SKIP(return, "needs root");
	if (access("/sys/module/maquis", F_OK))
		SKIP(return, "maquis.ko not loaded");
	if (access("./maqtool", X_OK))
		SKIP(return, "no ./maqtool (make -C tests/kmod)");
	ASSERT_LE(0, sodium_init());
	for (i = 0; i < NHOSTS; i++) {
		snprintf(self->ns[i], sizeof(self->ns[i]), "mqc-%s-%d",
			 hosts[i], getpid());
		ASSERT_EQ(0, sh("ip netns add %s", self->ns[i]));
		self->made = i + 1;
	}
	/* link L (1..3) joins host L-1 (10.77.L.1) and host L (10.77.L.2) */
	for (i = 1; i < NHOSTS; i++)
		ASSERT_EQ(0, sh("ip link add e netns %s type veth peer name w netns %s",
				self->ns[i - 1], self->ns[i]));
	for (i = 0; i < NHOSTS; i++) {
		int n = snprintf(batch, sizeof(batch),
				 "link set lo up\nlink add " DEV " type maquis\n"
				 "link set " DEV " up\n");

		if (i < NHOSTS - 1)
			n += snprintf(batch + n, sizeof(batch) - n,
				      "addr add 10.77.%d.1/24 dev e\nlink set e up\n",
				      i + 1);
		if (i > 0)
			n += snprintf(batch + n, sizeof(batch) - n,
				      "addr add 10.77.%d.2/24 dev w\nlink set w up\n",
				      i);
		if (i == 0)
			snprintf(batch + n, sizeof(batch) - n,
				 "addr add 172.31.7.1/32 dev " DEV "\n"
				 "route add 172.31.7.2/32 dev " DEV "\n");
		if (i == NHOSTS - 1)
			snprintf(batch + n, sizeof(batch) - n,
				 "addr add 172.31.7.2/32 dev " DEV "\n"
				 "route add 172.31.7.1/32 dev " DEV "\n");
		ASSERT_EQ(0, sh("ip -n %s -batch - >/dev/null <<'EOF'\n%sEOF",
				self->ns[i], batch));
	}
	ASSERT_EQ(0, sh("./maqtool install --id %d --lifetime 3600"
			" --origin %s," DEV ",10.77.1.1"
			" --relay %s," DEV ",10.77.1.2,10.77.2.1"
			" --relay %s," DEV ",10.77.2.2,10.77.3.1"
			" --terminus %s," DEV ",10.77.3.2"
			" --route 172.31.7.2/32 --back-route 172.31.7.1/32"
			" >/dev/null", LIVE_ID, self->ns[0], self->ns[1],
			self->ns[2], self->ns[3]));
	ASSERT_EQ(0, sh("ip netns exec %s ping -q -c 3 -i 0.3 -W 3 172.31.7.2"
			" >/dev/null", self->ns[0]))
		TH_LOG("no ping through the standing circuit before the churn");
}

FIXTURE_TEARDOWN(churn)
{
	int i;

	if (self->ping > 0) {
		kill(self->ping, SIGKILL);
		waitpid(self->ping, NULL, 0);
	}
	for (i = 0; i < self->made; i++)
		sh("ip netns del %s 2>/dev/null", self->ns[i]);
	if (self->pingout[0])
		unlink(self->pingout);
}

/* ping from the origin through the standing circuit until SIGINT. */
static pid_t start_ping(FIXTURE_DATA(churn) *self, long deadline)
{
	char dl[24];
	pid_t pid;
	int fd;

	snprintf(self->pingout, sizeof(self->pingout), "/tmp/mqc-ping-%d",
		 getpid());
	snprintf(dl, sizeof(dl), "%ld", deadline);
	pid = fork();
	if (pid)
		return pid;
	fd = open(self->pingout, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		_exit(127);
	dup2(fd, 1);
	dup2(fd, 2);
	execlp("ip", "ip", "netns", "exec", self->ns[0], "ping", "-q", "-n",
	       "-i", "0.05", "-W", "2", "-w", dl, "172.31.7.2", (char *)NULL);
	_exit(127);
}

/* Transmitted and received from ping's summary; 0 or -1. */
static int ping_result(const char *path, long *tx, long *rx)
{
	char line[256];
	int ret = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%ld packets transmitted, %ld received",
			   tx, rx) == 2)
			ret = 0;
	fclose(f);
	return ret;
}

/* Circuit @g of the churn: its role, hop count and routes follow from g. */
static void churn_part(struct maq_circuit *c, struct maq_plan *p, uint32_t g,
		       uint32_t ifindex)
{
	int role = g % 3, nhops, node;

	nhops = role == 1 ? 1 + (g / 3) % 3 : 2 + (g / 3) % 2;
	maq_plan_init(p, ID_BASE + g, 600, nhops);
	node = role == 0 ? 1 : role == 1 ? 0 : nhops;
	maq_plan_part(p, node, c);
	c->ifindex = ifindex;
	if (c->role != MAQUIS_ROLE_TERMINUS)
		maq_sockaddr_parse("10.77.2.9:7720", 0, &c->next);
	if (c->role != MAQUIS_ROLE_ORIGIN)
		maq_sockaddr_parse("10.77.1.9:7720", 0, &c->prev);
	if (c->role == MAQUIS_ROLE_RELAY)
		return;
	c->n_routes = 2;
	c->routes[0].family = AF_INET;
	c->routes[0].addr.v4.s_addr = htonl(0x64400000u | (g & 0x3fffff));
	c->routes[0].len = 32;
	c->routes[1].family = AF_INET6;
	inet_pton(AF_INET6, "fd64::", &c->routes[1].addr.v6);
	c->routes[1].addr.v6.s6_addr32[3] = htonl(g);
	c->routes[1].len = 128;
}

static uint64_t live_cells(struct maq_nl *nl, uint32_t ifindex, uint64_t *drops)
{
	struct maq_circuit c;
	int i;

	if (maq_nl_circuit_get(nl, ifindex, LIVE_ID, &c))
		return 0;
	*drops = 0;
	for (i = MAQ_STATS_DROP(0); i <= MAQUIS_A_STATS_MAX; i++)
		if (maq_stat_name(i) && !strncmp(maq_stat_name(i), "drop-", 5))
			*drops += c.stats.val[i];
	return c.stats.val[MAQUIS_A_STATS_CELLS_IN];
}

TEST_F_TIMEOUT(churn, circuits, MAX_SECONDS + 120)
{
	long target = maq_env_long("MAQ_CHURN_CIRCUITS", 100000, 1L << 30);
	long limit = maq_env_long("MAQ_CHURN_SECONDS", 120, MAX_SECONDS);
	long bsize = maq_env_long("MAQ_CHURN_BATCH", 1000, 100000);
	long tol_kb = maq_env_long("MAQ_CHURN_SUNRECLAIM_KB", 2048, 1L << 30);
	long tol_obj = maq_env_long("MAQ_CHURN_MERGED_OBJS", 256, 1L << 30);
	char real[64];
	bool merged;
	long created = 0, deleted = 0, batches = 0, collisions = 0;
	long obj0, obj1 = -1, objpeak = -1, objtotal = 0, su0, su1;
	long tx = 0, rx = 0, settle_ms = 0;
	uint64_t cells0, cells1, cells_last, drops0 = 0, drops1 = 0;
	double t0, t_loop, t_last_cell, stall = 0;
	struct maq_circuit *batch, *dump = NULL;
	struct maq_plan plan;
	struct maq_dev dev;
	struct maq_nl *nl;
	uint32_t ifindex, g = 0;
	size_t ndump;
	int status, err = 0, n0;
	long i, k;

	batch = calloc(bsize, sizeof(*batch));
	ASSERT_NE(NULL, batch);
	ASSERT_EQ(0, enter_ns(self->ns[1]));
	ifindex = if_nametoindex(DEV);
	ASSERT_NE(0, ifindex);
	ASSERT_EQ(0, maq_nl_open(&nl));
	ASSERT_EQ(0, maq_nl_dev_get(nl, ifindex, &dev));
	n0 = dev.n_circuits;
	ASSERT_EQ(1, n0);

	/* Before: the circuit cache exactly, SUnreclaim settled. */
	slab_real(CACHE, real, sizeof(real));
	merged = strcmp(real, CACHE);
	obj0 = slab_objs(real, true, NULL);
	ASSERT_LE(0, obj0) TH_LOG("no object count in /sys/kernel/slab/%s",
				  real);
	if (merged)
		ksft_print_msg("%s is merged into %s (%ld caches share it): its count is checked within %ld objects, not exactly\n",
			       CACHE, real, slab_attr(real, "aliases") + 1,
			       tol_obj);
	else
		tol_obj = 0;
	su0 = sunreclaim_kb();
	ASSERT_LT(0, su0);

	cells0 = live_cells(nl, ifindex, &drops0);
	self->ping = start_ping(self, limit + 60);
	ASSERT_LT(0, self->ping);
	t0 = maq_now();
	t_last_cell = t0;
	cells_last = cells0;
	while (created < target && maq_now() - t0 < limit) {
		long n = target - created < bsize ? target - created : bsize;
		uint64_t c, d;

		for (i = 0; i < n; i++) {
			for (k = 0; k < 8; k++) {
				churn_part(&batch[i], &plan, g, ifindex);
				maq_plan_wipe(&plan);
				err = maq_nl_circuit_new(nl, &batch[i]);
				if (err != -EEXIST)
					break;
				collisions++;	/* a random cid taken */
			}
			ASSERT_EQ(0, err) TH_LOG("circuit-new %ld (%s): %s: %s",
						 created + i,
						 maq_role_name(batch[i].role),
						 strerror(-err),
						 maq_nl_errmsg(nl));
			g++;
		}
		created += n;
		batches++;
		ASSERT_EQ(0, maq_nl_dev_get(nl, ifindex, &dev));
		ASSERT_EQ(n0 + n, dev.n_circuits);
		k = slab_objs(real, false, &i);
		if (k > objpeak) {
			objpeak = k;
			objtotal = i;
		}
		if (batches == 1) {
			long roles[3] = { 0 };

			ASSERT_EQ(0, maq_nl_circuit_dump(nl, ifindex, &dump,
							 &ndump));
			ASSERT_EQ(n0 + n, ndump);
			for (i = 0; i < (long)ndump; i++)
				if (dump[i].id >= ID_BASE && dump[i].role < 3)
					roles[dump[i].role]++;
			EXPECT_EQ(n, roles[0] + roles[1] + roles[2]);
			ksft_print_msg("first batch dumped: %ld origin, %ld relay, %ld terminus\n",
				       roles[MAQUIS_ROLE_ORIGIN],
				       roles[MAQUIS_ROLE_RELAY],
				       roles[MAQUIS_ROLE_TERMINUS]);
			free(dump);
			dump = NULL;
		}
		for (i = 0; i < n; i++) {
			err = maq_nl_circuit_del(nl, ifindex, batch[i].id);
			ASSERT_EQ(0, err) TH_LOG("circuit-del %u: %s: %s",
						 batch[i].id, strerror(-err),
						 maq_nl_errmsg(nl));
			deleted++;
			maq_circuit_wipe(&batch[i]);
		}
		ASSERT_EQ(0, maq_nl_dev_get(nl, ifindex, &dev));
		ASSERT_EQ(n0, dev.n_circuits);

		/* the standing circuit keeps carrying cells meanwhile */
		c = live_cells(nl, ifindex, &d);
		if (c != cells_last) {
			cells_last = c;
			t_last_cell = maq_now();
		} else if (maq_now() - t_last_cell > stall) {
			stall = maq_now() - t_last_cell;
		}
	}
	t_loop = maq_now() - t0;

	kill(self->ping, SIGINT);
	ASSERT_EQ(self->ping, waitpid(self->ping, &status, 0));
	self->ping = -1;
	ASSERT_EQ(0, ping_result(self->pingout, &tx, &rx))
		TH_LOG("no summary from ping");
	cells1 = live_cells(nl, ifindex, &drops1);

	ASSERT_EQ(0, maq_nl_circuit_dump(nl, ifindex, &dump, &ndump));
	EXPECT_EQ(1, ndump);
	EXPECT_EQ(LIVE_ID, ndump ? dump[0].id : 0);
	free(dump);
	ASSERT_EQ(0, maq_nl_dev_get(nl, ifindex, &dev));
	EXPECT_EQ(n0, dev.n_circuits);

	/*
	 * After: circuits go back in RCU callbacks, give them time to come
	 * back to the start exactly, and judge by the tolerance only then.
	 */
	for (settle_ms = 0; settle_ms <= SETTLE_SECONDS * 1000;
	     settle_ms += 250) {
		obj1 = slab_objs(real, true, NULL);
		if (obj1 <= obj0)
			break;
		usleep(250 * 1000);
	}
	su1 = sunreclaim_kb();

	ksft_print_msg("circuits created %ld, deleted %ld (target %ld%s) in %ld batches of up to %ld, %.1f s, %.0f circuits/s created and deleted\n",
		       created, deleted, target,
		       created < target ? ", time bound reached" : "",
		       batches, bsize, t_loop,
		       t_loop > 0 ? created / t_loop : 0);
	ksft_print_msg("cid collisions retried %ld; n_circuits %d -> %u\n",
		       collisions, n0, dev.n_circuits);
	ksft_print_msg("slab %s%s%s objects: before %ld, peak %ld in use (slabs for %ld), after %ld (settled in %ld ms), difference %+ld (tolerance %ld)\n",
		       CACHE, merged ? " in " : "", merged ? real : "", obj0,
		       objpeak, objtotal, obj1, settle_ms, obj1 - obj0,
		       tol_obj);
	ksft_print_msg("SUnreclaim: before %ld kB, after %ld kB, delta %+ld kB (tolerance %ld kB)\n",
		       su0, su1, su1 - su0, tol_kb);
	ksft_print_msg("standing circuit at r1: %llu cells in during the churn, %llu dropped, longest stall %.1f s; ping %ld sent, %ld received\n",
		       (unsigned long long)(cells1 - cells0),
		       (unsigned long long)(drops1 - drops0), stall, tx, rx);

	EXPECT_LT(0, created);
	EXPECT_EQ(created, deleted);
	EXPECT_GE(obj0 + tol_obj, obj1);
	EXPECT_GE(tol_kb, su1 - su0);
	EXPECT_LT(cells0, cells1);
	EXPECT_EQ(drops0, drops1);
	EXPECT_GT(STALL_LIMIT, stall);
	EXPECT_LT(0, tx);
	/* TCG starves a ping now and then; losing a tenth is not flowing */
	EXPECT_GE(rx * 10, tx * 9);
	maq_nl_close(nl);
	free(batch);
}

TEST_HARNESS_MAIN
