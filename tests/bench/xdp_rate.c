// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_rate: how many cells per second one core relays with bpf/relay.bpf.c
 * (pure-BPF ChaCha20-Poly1305), next to bpf/xdp_fwd.bpf.c (the same parse,
 * lookup, FIB and redirect without crypto), and how that changes with the
 * number of installed circuits.
 *
 * Everything runs in a private network namespace (unshare) with the veth
 * pairs of tests/bpf/maq_test.h.  Cells are IPv4 frames arriving on ve0;
 * their next hop is the peer on the same link, so the programs answer
 * XDP_TX and the frames really cross the veth pair to ve1, where
 * bench_sink counts and drops them.  Frames are injected with
 * BPF_PROG_TEST_RUN and BPF_F_TEST_XDP_LIVE_FRAMES from a thread pinned to
 * one CPU; the rate is delivered frames / the kernel's time for the run
 * loop (opts.duration), which includes the veth transmit and the peer's
 * NAPI poll (softirqs run on the same CPU when the loop re-enables bottom
 * halves) but not the per-call page pool setup and teardown.
 *
 * Measurements (see README.md for the why):
 *   relay_fwd   forward cells through the feeder (bench.bpf.c): verify,
 *               decrypt, strip, relabel, TX.  1024 circuits, bursts of 64.
 *   relay_back  backward cells through the feeder: wrap a layer, TX.
 *   base        xdp_fwd through the feeder: the baseline for the ratio.
 *   base_bare   xdp_fwd run directly on a self-relabelling circuit, whose
 *               output is again valid input: no feeder.
 *   relay_back_bare  the same for the relay's backward direction.
 *   scale N     relay_fwd and base with N circuits installed, one cell per
 *               circuit in turn, circuits visited in a scrambled order.
 *
 * With --kfunc (in the VM, maquis.ko loaded): the same feeder drives
 * bpf/relay_kfunc.bpf.c, whose relay step is the module's kfunc on the
 * module's own circuit table (installed over netlink, kmod_circ.c), next to
 * relay.bpf.c and xdp_fwd in the same run:
 *   kfunc_fwd   forward cells, 1024 module circuits, bursts of 64
 *   kmod_fwd    the same cells passed up the stack (bench_pass) to the
 *               device's UDP socket: the module's own relay path, no XDP
 *   scale N     kfunc_fwd, relay_fwd and base with N circuits, and the
 *               kernel memory the module's N circuits take (/proc/meminfo
 *               before, after installing, after deleting them all); the
 *               same N as on the host (10^6: the guest uses about 1.1 GB
 *               at the peak, with the BPF map; 3-4 minutes under TCG)
 *
 * Output: "# ..." comments and one line per figure:
 *   bench: NAME=VALUE UNIT
 * Exit status 0; 4 (with "SKIP: reason") without root or BPF; 1 on failure.
 *
 *   xdp_rate [--quick] [--time SECS] [--cpu N] [--no-perhop]
 *            [--scale N[,N...]] [--no-scale] [--kfunc] [--prefix NAME]
 *
 * --prefix names the figures (default xdp; vm.sh says vm_xdp).
 */
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <time.h>

#include "maq_test.h"
#include "relay.skel.h"
#include "relay_kfunc.skel.h"
#include "xdp_fwd.skel.h"
#include "bench.h"
#include "bench.skel.h"
#include "kmod_circ.h"
#include "../lib/util.h"

#define CID_BASE	0x00100000u	/* circuits: CID_BASE .. + N - 1 */
#define CID_SELF	0x7ff00001u	/* the self-relabelling circuit */
#define PERHOP_CIRCS	1024
#define PERHOP_BURST	64
#define STRIDE		1000003ULL	/* visiting order: c = k * stride mod N */
#define MAX_CALLS	100000		/* BPF_PROG_TEST_RUN calls per measurement */
#define MAX_CHUNK	(1u << 22)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const int payloads[] = { 64, 512, MAQ_INNER_MTU };

struct env {
	struct maq_relay *relay;
	struct maq_xdp_fwd *fwd;
	struct maq_bench *bench;
	struct maq_relay_kfunc *kf;	/* --kfunc */
	struct kmod_env *km;
	int ve0, ve1;
	__u32 max_circ;
	__u8 key[MAQ_KEY_LEN];
	__u64 base_ctr;
	__u64 first;		/* the feeder's first frame (bench_params) */
	struct endpoint prev, us, peer;
	__u8 self_frame[FRAME_MAX];
	size_t self_len;
};

struct result {
	__u64 runs;		/* program runs (syscall repeat, summed) */
	__u64 delivered;	/* frames counted by the sink */
	double secs;		/* kernel's time in the run loop (duration) */
	double wall;		/* wall time of the syscalls */
	double cpu;		/* our thread's CPU time in them */
	unsigned int calls;
	double pps;		/* delivered / secs */
};

static double target_secs = 2.0;
static int failures;
static const char *prefix = "xdp";

/* A counter as an origin would give a hop: below 2^61. */
static __u64 rand64_ctr(void)
{
	__u64 v;

	randombytes_buf(&v, sizeof(v));
	return v & ((1ULL << 61) - 1);
}

static __u64 gcd(__u64 a, __u64 b)
{
	while (b) {
		__u64 t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/*
 * Three significant digits at least: the VM's rates are around 0.01 Mpps,
 * where three decimals would leave two and spoil the ratios computed from
 * them.
 */
static void fig(const char *name, double v, const char *unit)
{
	int d = 3;

	if (fabs(v) >= 100)
		d = 0;
	else if (v != 0 && fabs(v) < 0.1)
		d = 2 - (int)floor(log10(fabs(v)));
	printf("bench: %s=%.*f %s\n", name, d, v, unit);
	fflush(stdout);
}

/* A figure named after --prefix: "<prefix>_<name>". */
static void pfig(const char *name, double v, const char *unit)
{
	char n[128];

	snprintf(n, sizeof(n), "%s_%s", prefix, name);
	fig(n, v, unit);
}

static void ratio(const char *name, const struct result *a,
		  const struct result *b)
{
	pfig(name, b->pps > 0 ? a->pps / b->pps : 0, "x");
}

/* ---- programs and maps -------------------------------------------------- */

static int config(int map_fd)
{
	struct maq_xdp_config cfg = { .port = htons(MAQ_PORT), .fib_ifindex = 1 };
	__u32 zero = 0;

	return bpf_map_update_elem(map_fd, &zero, &cfg, BPF_ANY);
}

static void unload(struct env *e)
{
	__u32 zero = 0;

	if (e->bench)
		bpf_map_delete_elem(bpf_map__fd(e->bench->maps.bench_target), &zero);
	maq_xdp_fwd__destroy(e->fwd);
	maq_relay__destroy(e->relay);
	e->fwd = NULL;
	e->relay = NULL;
}

/* relay and xdp_fwd sharing one circuit map of @max_circ entries */
static int load(struct env *e, __u32 max_circ)
{
	int err;

	unload(e);
	e->relay = maq_relay__open();
	if (!e->relay)
		return -errno;
	bpf_map__set_max_entries(e->relay->maps.maq_circuits, max_circ);
	err = maq_relay__load(e->relay);
	if (err)
		return err;
	e->fwd = maq_xdp_fwd__open();
	if (!e->fwd)
		return -errno;
	err = bpf_map__reuse_fd(e->fwd->maps.maq_circuits,
				bpf_map__fd(e->relay->maps.maq_circuits));
	if (err)
		return err;
	err = maq_xdp_fwd__load(e->fwd);
	if (err)
		return err;
	if (config(bpf_map__fd(e->relay->maps.maq_config)) ||
	    config(bpf_map__fd(e->fwd->maps.maq_config)))
		return -errno;
	e->max_circ = max_circ;
	return 0;
}

static void hop_fill(struct env *e, struct maq_xdp_hop *h, int dir, __u32 cid_out,
		     const struct endpoint *next)
{
	memset(h, 0, sizeof(*h));
	h->dir = dir;
	h->flags = MAQ_HOP_SLOT0 | MAQ_HOP_SLOT1;
	h->cid_out = cid_out;
	randombytes_buf(&h->delta, sizeof(h->delta));
	h->delta &= MAQ_SEQ_CTR_MASK;
	h->next.family = MAQ_AF_INET;
	h->next.port = htons(next->port);
	memcpy(&h->next.addr, next->addr, 4);
	memcpy(h->key[0], e->key, MAQ_KEY_LEN);
	memcpy(h->key[1], e->key, MAQ_KEY_LEN);
}

/*
 * Install circuits CID_BASE .. CID_BASE + n - 1, all with the bench key,
 * direction @dir, next hop the peer on ve0; fresh replay windows.
 */
static int populate(struct env *e, __u32 n, int dir)
{
	enum { CHUNK = 16384 };
	static struct maq_circuit_key keys[CHUNK];
	static struct maq_xdp_hop vals[CHUNK];
	int fd = bpf_map__fd(e->relay->maps.maq_circuits);
	__u32 i, j, cnt;

	for (i = 0; i < n; i += cnt) {
		cnt = n - i < CHUNK ? n - i : CHUNK;
		for (j = 0; j < cnt; j++) {
			keys[j].ifindex = 0;
			keys[j].cid = CID_BASE + i + j;
			hop_fill(e, &vals[j], dir, CID_BASE + 0x40000000u + i + j,
				 &e->peer);
		}
		__u32 c = cnt;
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		if (bpf_map_update_batch(fd, keys, vals, &c, &o)) {
			/* older kernels: one at a time */
			for (j = 0; j < cnt; j++)
				if (bpf_map_update_elem(fd, &keys[j], &vals[j],
							BPF_ANY))
					return -errno;
		}
	}
	return 0;
}

/* Frames base_ctr + i, i < BENCH_NFRAMES, sealed with the bench key. */
static int fill_frames(struct env *e)
{
	int fd = bpf_map__fd(e->bench->maps.bench_frames);
	__u8 cell[MAQ_CELL_SIZE], plain[MAQ_BODY_LEN];
	struct bench_frame fr;
	__u32 i;

	for (i = 0; i < BENCH_NFRAMES; i++) {
		memset(&fr, 0, sizeof(fr));
		randombytes_buf(plain, sizeof(plain));
		cell_seal_fwd(cell, CID_BASE, e->base_ctr + i, plain, e->key);
		if (build_frame(fr.data, &e->prev, &e->us, cell, sizeof(cell)) !=
		    BENCH_FRAME_LEN)
			return -EINVAL;
		/*
		 * The feeder rewrites the cid, which the checksum covers; the
		 * module's path goes through the UDP stack, which would drop
		 * the frame.  IPv4 lets a sender leave the checksum out.
		 */
		fr.data[BENCH_CID_OFF - 2] = 0;
		fr.data[BENCH_CID_OFF - 1] = 0;
		if (bpf_map_update_elem(fd, &i, &fr, BPF_ANY))
			return -errno;
	}
	return 0;
}

/* ---- running ------------------------------------------------------------ */

struct snap {
	__u64 out, in, bad, replay, err, pass, noroute, malformed, keylim, unk;
	__u64 sunk, fed, exhausted;
};

static void snap_take(struct env *e, int stats_fd, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	if (stats_fd < 0)	/* the module's path: kmod_cells() checks it */
		goto feeder;
	s->in = percpu_sum(stats_fd, MAQ_STAT_CELLS_IN);
	s->out = percpu_sum(stats_fd, MAQ_STAT_CELLS_OUT);
	s->bad = percpu_sum(stats_fd, MAQ_STAT_BAD_TAG);
	s->replay = percpu_sum(stats_fd, MAQ_STAT_REPLAY);
	s->err = percpu_sum(stats_fd, MAQ_STAT_ERROR);
	s->pass = percpu_sum(stats_fd, MAQ_STAT_PASS);
	s->noroute = percpu_sum(stats_fd, MAQ_STAT_NO_ROUTE);
	s->malformed = percpu_sum(stats_fd, MAQ_STAT_MALFORMED);
	s->keylim = percpu_sum(stats_fd, MAQ_STAT_KEY_LIMIT);
	s->unk = percpu_sum(stats_fd, MAQ_STAT_UNKNOWN_CID);
feeder:
	s->sunk = __atomic_load_n(&e->bench->bss->sunk, __ATOMIC_RELAXED);
	s->fed = e->bench->bss->fed;
	s->exhausted = e->bench->bss->exhausted;
}

/*
 * Run @prog_fd on @frame in live mode, in calls of adaptive size, until
 * target_secs of wall time or @max_runs runs.  Checks afterwards, through
 * the program's own counters (@stats_fd), that every run relayed a cell
 * and the sink saw it.
 */
static int measure(struct env *e, const char *label, int prog_fd, int stats_fd,
		   const void *frame, __u32 len, __u64 max_runs,
		   struct result *r)
{
	struct xdp_md md = { .data_end = len, .ingress_ifindex = e->ve0 };
	double per_run, per_call, t0, c0, kern;
	__u32 chunk = 1024;
	struct snap a, b;
	__u64 prev_sunk;
	int i;

	memset(r, 0, sizeof(*r));
	snap_take(e, stats_fd, &a);
	/* calls of about 1/10 of the target (100 ms at most), 10 at least */
	per_call = target_secs / 10 < 0.1 ? target_secs / 10 : 0.1;
	while (r->calls < MAX_CALLS && r->secs < target_secs &&
	       r->runs < max_runs) {
		if (chunk > max_runs - r->runs)
			chunk = max_runs - r->runs;
		LIBBPF_OPTS(bpf_test_run_opts, opts,
			.data_in = frame,
			.data_size_in = len,
			.ctx_in = &md,
			.ctx_size_in = sizeof(md),
			.repeat = chunk,
			.flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		);
		t0 = maq_now();
		c0 = maq_cputime();
		if (bpf_prog_test_run_opts(prog_fd, &opts)) {
			fprintf(stderr, "%s: BPF_PROG_TEST_RUN: %s\n", label,
				strerror(errno));
			return -1;
		}
		r->wall += maq_now() - t0;
		r->cpu += maq_cputime() - c0;
		kern = (double)opts.duration * chunk * 1e-9;
		r->secs += kern;
		r->runs += chunk;
		r->calls++;
		per_run = r->secs / r->runs;
		chunk = per_run > 0 ? per_call / per_run : MAX_CHUNK;
		if (chunk < 256)
			chunk = 256;
		if (chunk > MAX_CHUNK)
			chunk = MAX_CHUNK;
	}
	/* frames still in flight to the sink: wait for the count to settle */
	prev_sunk = ~0ULL;
	for (i = 0; i < 50; i++) {
		snap_take(e, stats_fd, &b);
		if (b.sunk == prev_sunk && b.sunk - a.sunk >= r->runs)
			break;
		prev_sunk = b.sunk;
		usleep(2000);
	}
	r->delivered = b.sunk - a.sunk;
	/* (the sink may also see the stack's own IPv6 chatter on ve0) */
	r->pps = r->secs > 0 ?
		 (r->delivered < r->runs ? r->delivered : r->runs) / r->secs : 0;

	printf("# %-16s %9llu runs, %3u calls, %.3f s in the loop (CPU %.3f s, "
	       "wall %.3f s): %8.0f cells/s, %6.0f ns/cell, delivered %llu\n",
	       label, (unsigned long long)r->runs, r->calls, r->secs, r->cpu,
	       r->wall, r->pps, r->pps > 0 ? 1e9 / r->pps : 0,
	       (unsigned long long)r->delivered);
	if (stats_fd >= 0 &&
	    (b.exhausted != a.exhausted || b.out - a.out != r->runs ||
	    b.bad != a.bad || b.replay != a.replay || b.err != a.err ||
	    b.pass != a.pass || b.noroute != a.noroute ||
	    b.malformed != a.malformed || b.keylim != a.keylim ||
	    b.unk != a.unk)) {
		fprintf(stderr, "%s: not every run relayed a cell: out %llu of "
			"%llu, bad_tag %llu, replay %llu, error %llu, pass %llu, "
			"no_route %llu, malformed %llu, key_limit %llu, "
			"unknown_cid %llu, feeder exhausted %llu\n", label,
			(unsigned long long)(b.out - a.out),
			(unsigned long long)r->runs,
			(unsigned long long)(b.bad - a.bad),
			(unsigned long long)(b.replay - a.replay),
			(unsigned long long)(b.err - a.err),
			(unsigned long long)(b.pass - a.pass),
			(unsigned long long)(b.noroute - a.noroute),
			(unsigned long long)(b.malformed - a.malformed),
			(unsigned long long)(b.keylim - a.keylim),
			(unsigned long long)(b.unk - a.unk),
			(unsigned long long)(b.exhausted - a.exhausted));
		return -1;
	}
	if (r->delivered * 100 < r->runs * 99) {
		fprintf(stderr, "%s: only %llu of %llu frames reached the veth "
			"peer\n", label, (unsigned long long)r->delivered,
			(unsigned long long)r->runs);
		return -1;
	}
	return 0;
}

/*
 * Through the feeder: @ncirc circuits, @burst cells each in turn.  @wrap for
 * programs that keep no replay window: counters may come round again.
 */
static int measure_fed(struct env *e, const char *label, int target_fd,
		       int stats_fd, __u32 ncirc, __u32 burst, int wrap,
		       struct result *r)
{
	struct bench_params *p = &e->bench->bss->params;
	__u8 frame[BENCH_FRAME_LEN];
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(e->bench->maps.bench_target),
				&zero, &target_fd, BPF_ANY)) {
		fprintf(stderr, "%s: cannot install tail call: %s\n", label,
			strerror(errno));
		return -1;
	}
	p->nframes = BENCH_NFRAMES;
	p->ncirc = ncirc;
	p->burst = burst;
	/* a stride coprime with ncirc makes the order a permutation */
	p->stride = STRIDE % ncirc;
	while (ncirc > 1 && gcd(p->stride, ncirc) != 1)
		p->stride++;
	p->cid_base = CID_BASE;
	p->wrap = wrap;
	p->first = wrap ? 0 : e->first;
	if (p->first >= BENCH_NFRAMES) {
		fprintf(stderr, "%s: no fresh frames left\n", label);
		return -1;
	}
	p->limit = wrap ? ~0ULL : (__u64)ncirc *
		   ((BENCH_NFRAMES - p->first) / burst * burst);
	e->bench->bss->fed = 0;
	/* the feeder overwrites it: any frame of the right length will do */
	memset(frame, 0, sizeof(frame));
	return measure(e, label, bpf_program__fd(e->bench->progs.bench_feed),
		       stats_fd, frame, sizeof(frame), p->limit, r);
}

static void report(const char *name, const struct result *r, int goodput)
{
	char n[96];
	size_t i;

	snprintf(n, sizeof(n), "%s_%s_rate", prefix, name);
	fig(n, r->pps / 1e6, "Mpps");
	snprintf(n, sizeof(n), "%s_%s_ns", prefix, name);
	fig(n, r->pps > 0 ? 1e9 / r->pps : 0, "ns/cell");
	snprintf(n, sizeof(n), "%s_%s_wire", prefix, name);
	fig(n, r->pps * BENCH_FRAME_LEN * 8 / 1e9, "Gb/s");
	for (i = 0; goodput && i < ARRAY_SIZE(payloads); i++) {
		snprintf(n, sizeof(n), "%s_%s_goodput_%d", prefix, name,
			 payloads[i]);
		fig(n, r->pps * payloads[i] * 8 / 1e9, "Gb/s");
	}
}

/* ---- the two measurements ----------------------------------------------- */

static int perhop(struct env *e)
{
	struct result fwd, back, base, bare, back_bare;
	int relay_fd, fwd_fd, rstats, fstats, cfd;
	struct maq_xdp_hop h;
	struct maq_circuit_key k = { .cid = CID_SELF };

	printf("# per-hop: IPv4 cells of %d bytes (%d-byte frames), XDP_TX on "
	       "ve0 to the sink on ve1, %d circuits, bursts of %d\n",
	       MAQ_CELL_SIZE, BENCH_FRAME_LEN, PERHOP_CIRCS, PERHOP_BURST);
	if (load(e, MAQ_XDP_MAX_CIRCUITS))
		return -1;
	relay_fd = bpf_program__fd(e->relay->progs.maq_relay);
	fwd_fd = bpf_program__fd(e->fwd->progs.maq_xdp_fwd);
	rstats = bpf_map__fd(e->relay->maps.maq_stats);
	fstats = bpf_map__fd(e->fwd->maps.maq_stats);
	cfd = bpf_map__fd(e->relay->maps.maq_circuits);

	/* the self-relabelling circuit for the feeder-less runs */
	hop_fill(e, &h, MAQUIS_DIR_BACK, CID_SELF, &e->peer);
	h.next.port = htons(MAQ_PORT);
	if (bpf_map_update_elem(cfd, &k, &h, BPF_ANY))
		return -1;

	if (populate(e, PERHOP_CIRCS, MAQUIS_DIR_FWD) ||
	    measure_fed(e, "relay fwd", relay_fd, rstats, PERHOP_CIRCS,
			PERHOP_BURST, 0, &fwd))
		return -1;
	if (populate(e, PERHOP_CIRCS, MAQUIS_DIR_BACK) ||
	    measure_fed(e, "relay back", relay_fd, rstats, PERHOP_CIRCS,
			PERHOP_BURST, 1, &back))
		return -1;
	if (measure_fed(e, "xdp_fwd", fwd_fd, fstats, PERHOP_CIRCS,
			PERHOP_BURST, 1, &base))
		return -1;
	if (measure(e, "xdp_fwd bare", fwd_fd, fstats, e->self_frame,
		    e->self_len, ~0ULL, &bare) ||
	    measure(e, "relay back bare", relay_fd, rstats, e->self_frame,
		    e->self_len, ~0ULL, &back_bare))
		return -1;

	report("relay_fwd", &fwd, 1);
	report("relay_back", &back, 1);
	report("base", &base, 1);
	report("base_bare", &bare, 0);
	report("relay_back_bare", &back_bare, 0);
	ratio("relay_fwd_ratio", &fwd, &base);
	ratio("relay_back_ratio", &back, &base);
	pfig("feeder_overhead",
	     base.pps > 0 && bare.pps > 0 ? 1e9 / base.pps - 1e9 / bare.pps : 0,
	     "ns/cell");
	return 0;
}

static int scale(struct env *e, const __u32 *ns, int nn)
{
	struct result fwd, base;
	char name[64];
	long long mem;
	int i;

	for (i = 0; i < nn; i++) {
		double t0 = maq_now();
		int cfd;

		if (load(e, ns[i])) {
			fprintf(stderr, "scale %u: cannot load programs\n", ns[i]);
			return -1;
		}
		cfd = bpf_map__fd(e->relay->maps.maq_circuits);
		if (populate(e, ns[i], MAQUIS_DIR_FWD)) {
			fprintf(stderr, "scale %u: cannot install circuits: %s\n",
				ns[i], strerror(errno));
			return -1;
		}
		mem = maq_map_memlock(cfd);
		printf("# scale: %u circuits installed in %.2f s, map memlock "
		       "%lld bytes\n", ns[i], maq_now() - t0, mem);
		snprintf(name, sizeof(name), "relay fwd %u", ns[i]);
		if (measure_fed(e, name, bpf_program__fd(e->relay->progs.maq_relay),
				bpf_map__fd(e->relay->maps.maq_stats), ns[i], 1,
				0, &fwd))
			return -1;
		snprintf(name, sizeof(name), "xdp_fwd %u", ns[i]);
		if (measure_fed(e, name, bpf_program__fd(e->fwd->progs.maq_xdp_fwd),
				bpf_map__fd(e->fwd->maps.maq_stats), ns[i], 1,
				1, &base))
			return -1;
		snprintf(name, sizeof(name), "scale_%u_relay_fwd_rate", ns[i]);
		pfig(name, fwd.pps / 1e6, "Mpps");
		snprintf(name, sizeof(name), "scale_%u_base_rate", ns[i]);
		pfig(name, base.pps / 1e6, "Mpps");
		snprintf(name, sizeof(name), "scale_%u_ratio", ns[i]);
		ratio(name, &fwd, &base);
		if (mem > 0) {
			snprintf(name, sizeof(name), "map_bytes_per_circuit_%u",
				 ns[i]);
			pfig(name, (double)mem / ns[i], "B");
		}
	}
	return 0;
}

/* ---- the module's kfunc relay (--kfunc, in the VM) ---------------------- */

static void sin_of(const struct endpoint *ep, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(ep->port);
	memcpy(&sa->sin_addr, ep->addr, 4);
}

/*
 * The maquis device in our namespace and relay_kfunc serving it.  Returns
 * 0, 4 (skip: no module) or -1.
 */
static int kfunc_load(struct env *e)
{
	struct maq_xdp_config cfg = { .port = htons(MAQ_PORT), .fib_ifindex = 1 };
	char err[256];
	__u32 zero = 0;
	int ret;

	ret = kmod_open(&e->km, "maq0", err, sizeof(err));
	if (ret) {
		printf("SKIP: maquis.ko not usable: %s\n", err);
		return 4;
	}
	e->kf = maq_relay_kfunc__open_and_load();
	if (!e->kf) {
		fprintf(stderr, "relay_kfunc does not load: %s (maquis.ko "
			"without its kfuncs?)\n", strerror(errno));
		return -1;
	}
	cfg.dev_ifindex = kmod_ifindex(e->km);
	if (bpf_map_update_elem(bpf_map__fd(e->kf->maps.maq_config), &zero,
				&cfg, BPF_ANY)) {
		fprintf(stderr, "relay_kfunc: config: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int kmod_put(struct env *e, __u32 n)
{
	struct sockaddr_in next, prev;
	char err[256];

	sin_of(&e->peer, &next);
	sin_of(&e->prev, &prev);
	if (kmod_install(e->km, n, CID_BASE, e->key, &next, &prev, err,
			 sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (kmod_count(e->km) != n) {
		fprintf(stderr, "the device holds %ld circuits, not %u\n",
			kmod_count(e->km), n);
		return -1;
	}
	return 0;
}

static int kmod_drop(struct env *e, __u32 n)
{
	char err[256];

	if (kmod_delete(e->km, n, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (kmod_count(e->km) != 0) {
		fprintf(stderr, "%ld circuits left after deleting them all\n",
			kmod_count(e->km));
		return -1;
	}
	return 0;
}

/*
 * The module's own path, on the circuits (and replay windows) the kfunc run
 * @kf has just used: the feeder starts past the frames that run took, and
 * the device's counters must show every cell relayed and none dropped.
 */
static int measure_kmod(struct env *e, const char *label, __u32 n,
			__u32 burst, const struct result *kf, struct result *r)
{
	uint64_t out0, drop0, out1, drop1;
	int ret;

	if (kf->runs)
		e->first = ((kf->runs - 1) / burst / n + 1) * burst;
	if (kmod_cells(e->km, &out0, &drop0)) {
		fprintf(stderr, "%s: dev-get counters unavailable\n", label);
		return -1;
	}
	ret = measure_fed(e, label, bpf_program__fd(e->bench->progs.bench_pass),
			  -1, n, burst, 0, r);
	e->first = 0;
	if (ret)
		return ret;
	if (kmod_cells(e->km, &out1, &drop1)) {
		fprintf(stderr, "%s: dev-get counters unavailable\n", label);
		return -1;
	}
	if (out1 - out0 != r->runs || drop1 != drop0) {
		fprintf(stderr, "%s: the module relayed %llu of %llu cells, "
			"dropped %llu\n", label,
			(unsigned long long)(out1 - out0),
			(unsigned long long)r->runs,
			(unsigned long long)(drop1 - drop0));
		return -1;
	}
	return 0;
}

/*
 * kfunc, the module's socket path, pure BPF and xdp_fwd forward, @n
 * circuits each, bursts of @burst
 */
static int fwd_all(struct env *e, __u32 n, __u32 burst, const char *tag,
		   struct result *kf, struct result *mod, struct result *bpf,
		   struct result *base)
{
	char label[64];

	snprintf(label, sizeof(label), "kfunc fwd%s", tag);
	if (measure_fed(e, label, bpf_program__fd(e->kf->progs.maq_relay_kfunc),
			bpf_map__fd(e->kf->maps.maq_stats), n, burst, 0, kf))
		return -1;
	snprintf(label, sizeof(label), "module fwd%s", tag);
	if (measure_kmod(e, label, n, burst, kf, mod))
		return -1;
	snprintf(label, sizeof(label), "relay fwd%s", tag);
	if (measure_fed(e, label, bpf_program__fd(e->relay->progs.maq_relay),
			bpf_map__fd(e->relay->maps.maq_stats), n, burst, 0, bpf))
		return -1;
	snprintf(label, sizeof(label), "xdp_fwd%s", tag);
	return measure_fed(e, label, bpf_program__fd(e->fwd->progs.maq_xdp_fwd),
			   bpf_map__fd(e->fwd->maps.maq_stats), n, burst, 1,
			   base);
}

static int perhop_kfunc(struct env *e)
{
	struct result kf, mod, bpf, base;

	printf("# per-hop, kfunc: %d module circuits (netlink) and as many in "
	       "the BPF map, bursts of %d\n", PERHOP_CIRCS, PERHOP_BURST);
	if (load(e, MAQ_XDP_MAX_CIRCUITS) ||
	    populate(e, PERHOP_CIRCS, MAQUIS_DIR_FWD) ||
	    kmod_put(e, PERHOP_CIRCS))
		return -1;
	if (fwd_all(e, PERHOP_CIRCS, PERHOP_BURST, "", &kf, &mod, &bpf, &base))
		return -1;
	report("kfunc_fwd", &kf, 1);
	report("kmod_fwd", &mod, 1);
	report("relay_fwd", &bpf, 1);
	report("base", &base, 1);
	ratio("kfunc_fwd_ratio", &kf, &base);
	ratio("relay_fwd_ratio", &bpf, &base);
	ratio("kfunc_vs_bpf_ratio", &kf, &bpf);
	ratio("kmod_fwd_ratio", &mod, &base);
	ratio("kfunc_vs_kmod_ratio", &kf, &mod);
	return kmod_drop(e, PERHOP_CIRCS);
}

static void kmem_log(const char *what, const struct kmem *m)
{
	printf("# meminfo %-22s used %lld kB, SUnreclaim %lld kB, Percpu %lld "
	       "kB, VmallocUsed %lld kB\n", what, m->used >> 10,
	       m->slab_unrecl >> 10, m->percpu >> 10, m->vmalloc >> 10);
}

/*
 * Freed circuits (RCU callbacks) and the BPF maps of the previous round
 * (deferred work) go back a while after the syscalls returned: wait until
 * "used" moves less than 256 kB in 300 ms, three times running (10 s at
 * most), so the deltas are not the previous round's cleanup.
 */
static void kmem_settle(struct kmem *m)
{
	long long prev = LLONG_MIN;
	int i, calm = 0;

	for (i = 0; i < 33 && calm < 3; i++) {
		if (kmem_read(m))
			return;
		calm = llabs(m->used - prev) < 256 * 1024 ? calm + 1 : 0;
		prev = m->used;
		if (calm < 3)
			usleep(300000);
	}
}

/* The module's slab cache, as /proc/slabinfo shows it (when not merged). */
static void slab_log(void)
{
	char line[512];
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "maq_circuit ", 12))
			printf("# slabinfo: %s", line);
	fclose(f);
}

static int scale_kfunc(struct env *e, const __u32 *ns, int nn)
{
	struct result kf, mod, bpf, base;
	struct kmem m0, m1, m2;
	char name[96], tag[32];
	double t0, secs;
	int i;

	for (i = 0; i < nn; i++) {
		__u32 n = ns[i];

		if (load(e, n) || populate(e, n, MAQUIS_DIR_FWD)) {
			fprintf(stderr, "scale %u: BPF map: %s\n", n,
				strerror(errno));
			return -1;
		}
		kmem_settle(&m0);
		t0 = maq_now();
		if (kmod_put(e, n))
			return -1;
		secs = maq_now() - t0;
		kmem_settle(&m1);
		kmem_log("before", &m0);
		kmem_log("with the circuits", &m1);
		slab_log();
		printf("# scale: %u module circuits installed in %.2f s\n", n,
		       secs);
		snprintf(tag, sizeof(tag), " %u", n);
		if (fwd_all(e, n, 1, tag, &kf, &mod, &bpf, &base))
			return -1;
		t0 = maq_now();
		if (kmod_drop(e, n))
			return -1;
		printf("# scale: %u module circuits deleted in %.2f s\n", n,
		       maq_now() - t0);
		kmem_settle(&m2);
		kmem_log("after deleting them", &m2);

		snprintf(name, sizeof(name), "scale_%u_kfunc_fwd_rate", n);
		pfig(name, kf.pps / 1e6, "Mpps");
		snprintf(name, sizeof(name), "scale_%u_relay_fwd_rate", n);
		pfig(name, bpf.pps / 1e6, "Mpps");
		snprintf(name, sizeof(name), "scale_%u_base_rate", n);
		pfig(name, base.pps / 1e6, "Mpps");
		snprintf(name, sizeof(name), "scale_%u_kfunc_ratio", n);
		ratio(name, &kf, &base);
		snprintf(name, sizeof(name), "scale_%u_kmod_fwd_rate", n);
		pfig(name, mod.pps / 1e6, "Mpps");
		snprintf(name, sizeof(name), "scale_%u_kmod_ratio", n);
		ratio(name, &mod, &base);
		snprintf(name, sizeof(name), "kmod_bytes_per_circuit_%u", n);
		fig(name, (double)(m1.used - m0.used) / n, "B");
		snprintf(name, sizeof(name), "kmod_slab_bytes_per_circuit_%u", n);
		fig(name, (double)(m1.slab_unrecl - m0.slab_unrecl) / n,
		    "B");
		snprintf(name, sizeof(name), "kmod_install_rate_%u", n);
		fig(name, n / secs, "circuits/s");
		snprintf(name, sizeof(name), "kmod_left_after_delete_%u", n);
		fig(name, (double)(m2.used - m0.used) / 1024, "kB");
		snprintf(name, sizeof(name), "kmod_slab_left_after_delete_%u", n);
		fig(name, (double)(m2.slab_unrecl - m0.slab_unrecl) / 1024, "kB");
	}
	return 0;
}

/* ---- setup -------------------------------------------------------------- */

static int pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0) {
		cpu = libbpf_num_possible_cpus() - 1;
		/* the last CPU we are allowed on */
		if (!sched_getaffinity(0, sizeof(set), &set))
			for (cpu = CPU_SETSIZE - 1; cpu > 0; cpu--)
				if (CPU_ISSET(cpu, &set))
					break;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -1;
	return cpu;
}

static int parse_list(const char *s, __u32 *out, int max)
{
	int n = 0;
	char *end;

	while (*s && n < max) {
		double v = strtod(s, &end);

		if (end == s || v < 1 || v > 1e7)
			return -1;
		out[n++] = (__u32)v;
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -1;
	}
	return n;
}

static void usage(void)
{
	fprintf(stderr, "usage: xdp_rate [--quick] [--time SECS] [--cpu N] "
		"[--no-perhop] [--scale N[,N...]] [--no-scale] [--kfunc] "
		"[--prefix NAME]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "time", required_argument, NULL, 't' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "scale", required_argument, NULL, 's' },
		{ "no-scale", no_argument, NULL, 'S' },
		{ "no-perhop", no_argument, NULL, 'P' },
		{ "kfunc", no_argument, NULL, 'k' },
		{ "prefix", required_argument, NULL, 'p' },
		{}
	};
	__u32 ns[8] = { 1000, 100000, 1000000 };
	int nn = 3, do_perhop = 1, do_scale = 1, cpu = -1, quick = 0, o, err;
	int kfunc = 0, skip = 0;
	const char *why, *scale_arg = NULL;
	struct env e = {};

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'q': quick = 1; break;
		case 't': target_secs = atof(optarg); break;
		case 'c': cpu = atoi(optarg); break;
		case 's': scale_arg = optarg; break;
		case 'S': do_scale = 0; break;
		case 'P': do_perhop = 0; break;
		case 'k': kfunc = 1; break;
		case 'p': prefix = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (quick) {
		if (target_secs == 2.0)
			target_secs = 0.2;
		ns[0] = 1000;
		ns[1] = 10000;
		nn = 2;
	}
	if (scale_arg && (nn = parse_list(scale_arg, ns, 8)) <= 0)
		usage();
	if (target_secs <= 0 || target_secs > 60)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);

	why = bpf_unavailable();
	if (why) {
		printf("SKIP: %s\n", why);
		return 4;
	}
	why = netns_setup();
	if (why) {
		printf("SKIP: %s\n", why);
		return 4;
	}
	if (maq_crypto_init()) {
		fprintf(stderr, "libsodium init failed\n");
		return 1;
	}
	cpu = pin(cpu);
	if (cpu < 0) {
		perror("sched_setaffinity");
		return 1;
	}
	e.ve0 = if_nametoindex("ve0");
	e.ve1 = if_nametoindex("ve1");
	endpoint_set(&e.prev, "10.0.0.2", MAQ_PORT, MAC_VE1);
	endpoint_set(&e.us, "10.0.0.1", MAQ_PORT, MAC_VE0);
	endpoint_set(&e.peer, "10.0.0.2", 7721, MAC_VE1);
	randombytes_buf(e.key, sizeof(e.key));
	e.base_ctr = rand64_ctr();

	e.bench = maq_bench__open_and_load();
	if (!e.bench) {
		err = -errno;
		if (load_failure_is_env(err)) {
			printf("SKIP: cannot load BPF: %s\n", strerror(-err));
			return 4;
		}
		fprintf(stderr, "cannot load bench.bpf.o: %s\n", strerror(-err));
		return 1;
	}
	err = bpf_xdp_attach(e.ve1, bpf_program__fd(e.bench->progs.bench_sink),
			     XDP_FLAGS_DRV_MODE, NULL);
	if (err) {
		printf("SKIP: cannot attach XDP to veth: %s\n", strerror(-err));
		return 4;
	}
	if (fill_frames(&e)) {
		fprintf(stderr, "cannot fill the frame store\n");
		return 1;
	}
	{
		__u8 cell[MAQ_CELL_SIZE];

		randombytes_buf(cell, sizeof(cell));
		cell_put_hdr(cell, CID_SELF, e.base_ctr);
		e.self_len = build_frame(e.self_frame, &e.prev, &e.us, cell,
					 sizeof(cell));
	}
	printf("# xdp_rate: CPU %d, %.2f s per measurement, pure-BPF "
	       "ChaCha20-Poly1305, hop entry %zu bytes\n", cpu,
	       target_secs, sizeof(struct maq_xdp_hop));

	if (kfunc) {
		err = kfunc_load(&e);
		if (err == 4) {
			skip = 1;
			goto out;
		}
		if (err)
			failures++;
	}
	if (!failures && do_perhop && (kfunc ? perhop_kfunc(&e) : perhop(&e))) {
		fprintf(stderr, "per-hop measurement failed\n");
		failures++;
	}
	if (!failures && do_scale &&
	    (kfunc ? scale_kfunc(&e, ns, nn) : scale(&e, ns, nn))) {
		fprintf(stderr, "scale measurement failed\n");
		failures++;
	}
out:
	unload(&e);
	maq_relay_kfunc__destroy(e.kf);
	kmod_close(e.km);
	maq_bench__destroy(e.bench);
	return failures ? 1 : skip ? 4 : 0;
}
