// SPDX-License-Identifier: GPL-2.0
/*
 * ctl_rate: what the 1-RTT circuit setup of daemon/setup.h (docs/PROTOCOL.md
 * 7.1, 7.2) costs in CPU, per role, without any I/O, next to handshakes of
 * other systems computed with libsodium in the same run on the same core.
 *
 * One setup of a circuit through R relays and a terminus (R = 3 unless
 * --relays says otherwise), every hop with its own onion key:
 *
 *   origin    maq_create_build(), and maq_created_open() of the answer
 *   relay     maq_create_process() + maq_create_next() on the way out,
 *             maq_created_wrap() on the way back
 *   terminus  maq_create_process() + maq_created_build()
 *
 * and every hop's state wiped afterwards, as the daemon does.  Each step is
 * timed with the thread's CPU clock (so time the scheduler gives to others
 * on a shared machine is not counted); every setup must come back built at
 * the origin with every relay saying so, or the program fails instead of
 * reporting a number.
 *
 * Baselines, same thread, same clock:
 *   dhsig  one X25519 + one Ed25519 signature check: a hop's
 *          Diffie-Hellman and checking one signed descriptor.
 *   wg     a WireGuard-like responder handshake (Noise IK as WireGuard
 *          does it): ephemeral key generation, 4 X25519, 2 AEAD opens and
 *          1 seal of handshake-sized payloads, and 48 keyed hashes
 *          (WireGuard's BLAKE2s HMACs and MACs; libsodium has BLAKE2b, the
 *          same construction on 64-bit words, so the hash part is
 *          comparable, and it is small next to the X25519s anyway).
 *
 * Output: "# ..." comments and "bench: NAME=VALUE UNIT" lines (see
 * README.md, section 3).  Exit 0, or 1 on any failure.
 *
 *   ctl_rate [--quick] [--time SECS] [--cpu N] [--relays N]
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sodium.h>

#include "../../daemon/setup.h"

enum { ORIGIN, RELAY, TERMINUS, DHSIG, WG, X25519, N_ROLES };

static const char *const role_name[N_ROLES] = {
	"origin", "relay", "terminus", "x25519+ed25519 verify",
	"wireguard-like responder", "x25519",
};

struct acc {
	double cpu;		/* thread CPU seconds */
	unsigned long n;	/* operations */
};

static struct acc acc[N_ROLES];

static double cputime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fig(const char *name, double v, const char *unit)
{
	printf("bench: %s=%.*f %s\n", name, fabs(v) >= 100 ? 0 : 3, v, unit);
}

static u32 rnd_cid(void)
{
	u32 x;

	do
		randombytes_buf(&x, sizeof(x));
	while (!x);
	return x;
}

/* ---- one circuit setup ------------------------------------------------- */

struct circ {
	unsigned int n;			/* hops: relays + terminus */
	struct maq_onion_key onion[MAQ_MAX_HOPS];
	struct maq_path_hop path[MAQ_MAX_HOPS];
	struct maq_origin o;
	struct maq_relay_setup r[MAQ_MAX_HOPS];
	u8 create[MAQ_MAX_HOPS][MAQ_CTL_MSG_LEN];
	u8 created[MAQ_MAX_HOPS][MAQ_CTL_MSG_LEN];
};

static int circ_init(struct circ *c, unsigned int relays)
{
	unsigned int i;

	memset(c, 0, sizeof(*c));
	c->n = relays + 1;
	for (i = 0; i < c->n; i++) {
		struct sockaddr_in *a = &c->path[i].addr.in4;

		if (maq_onion_generate(&c->onion[i]))
			return -1;
		memcpy(c->path[i].onion_key, c->onion[i].pk, MAQ_ONION_LEN);
		a->sin_family = AF_INET;
		a->sin_port = htons(7720);
		a->sin_addr.s_addr = htonl(0x0a000002 + (i << 8));
	}
	return 0;
}

/* Adds the CPU time since *t to @role and restarts the clock. */
static void charge(int role, double *t)
{
	double t1 = cputime();

	acc[role].cpu += t1 - *t;
	*t = t1;
}

/* One whole setup; 0 when the origin got a built circuit. */
static int circ_setup(struct circ *c)
{
	unsigned int i, last = c->n - 1;
	struct maq_setup_fail fail;
	enum maq_create_err e;
	double t = cputime();
	int ret;

	if (maq_create_build(&c->o, c->create[0], c->path, c->n, rnd_cid(),
			     600)) {
		fprintf(stderr, "maq_create_build failed\n");
		return -1;
	}
	charge(ORIGIN, &t);
	for (i = 0; i < c->n; i++) {
		e = maq_create_process(&c->r[i], c->create[i], MAQ_CTL_MSG_LEN,
				       &c->onion[i], 1);
		if (e != MAQ_CREATE_OK) {
			fprintf(stderr, "hop %u: CREATE refused: %s\n", i + 1,
				maq_create_err_name(e));
			return -1;
		}
		if (c->r[i].terminus != (i == last)) {
			fprintf(stderr, "hop %u: terminus flag %d\n", i + 1,
				c->r[i].terminus);
			return -1;
		}
		if (i == last) {
			ret = maq_created_build(c->created[i], rnd_cid(),
						c->r[i].reply_key, MAQ_SETUP_OK);
			maq_relay_setup_wipe(&c->r[i]);
			charge(TERMINUS, &t);
			if (ret) {
				fprintf(stderr, "maq_created_build: %d\n", ret);
				return -1;
			}
		} else {
			maq_create_next(c->create[i + 1], &c->r[i], rnd_cid());
			charge(RELAY, &t);
		}
	}
	for (i = last; i-- > 0;) {
		ret = maq_created_wrap(c->created[i], c->created[i + 1],
				       MAQ_CTL_MSG_LEN, rnd_cid(),
				       c->r[i].reply_key);
		maq_relay_setup_wipe(&c->r[i]);
		charge(RELAY, &t);
		if (ret != 1) {
			fprintf(stderr, "relay %u: maq_created_wrap: %d\n",
				i + 1, ret);
			return -1;
		}
	}
	ret = maq_created_open(&c->o, c->created[0], MAQ_CTL_MSG_LEN, &fail);
	maq_origin_wipe(&c->o);
	charge(ORIGIN, &t);
	if (ret) {
		fprintf(stderr, "origin: not built: hop %d, %s\n", fail.hop,
			maq_setup_reason_name(fail.reason));
		return -1;
	}
	acc[ORIGIN].n++;
	acc[RELAY].n += last;
	acc[TERMINUS].n++;
	return 0;
}

/* ---- baselines ----------------------------------------------------------- */

struct base {
	u8 x_sk[32], x_pk[32], peer_pk[32];
	u8 sig_pk[crypto_sign_PUBLICKEYBYTES], sig_sk[crypto_sign_SECRETKEYBYTES];
	u8 msg[64], sig[crypto_sign_BYTES];
	/* WireGuard: responder static, initiator static and ephemeral */
	u8 s_sk[32], s_pk[32], si_pk[32], ei_pk[32];
	/* the initiation's encrypted static and timestamp, under key k0 */
	u8 k_static[32], enc_static[32 + 16], k_ts[32], enc_ts[12 + 16];
};

static int base_init(struct base *b)
{
	u8 si_sk[32], ei_sk[32], ss[32], n[12] = { 0 }, ts[12];

	crypto_box_keypair(b->x_pk, b->x_sk);
	crypto_box_keypair(b->peer_pk, si_sk);
	crypto_sign_keypair(b->sig_pk, b->sig_sk);
	randombytes_buf(b->msg, sizeof(b->msg));
	crypto_sign_detached(b->sig, NULL, b->msg, sizeof(b->msg), b->sig_sk);

	crypto_box_keypair(b->s_pk, b->s_sk);
	crypto_box_keypair(b->si_pk, si_sk);
	crypto_box_keypair(b->ei_pk, ei_sk);
	/* the initiator's side, once: what the responder must open */
	if (crypto_scalarmult(ss, ei_sk, b->s_pk))
		return -1;
	crypto_generichash(b->k_static, 32, ss, 32, NULL, 0);
	crypto_aead_chacha20poly1305_ietf_encrypt(b->enc_static, NULL,
						  b->si_pk, 32, NULL, 0, NULL,
						  n, b->k_static);
	if (crypto_scalarmult(ss, si_sk, b->s_pk))
		return -1;
	crypto_generichash(b->k_ts, 32, ss, 32, b->k_static, 32);
	randombytes_buf(ts, sizeof(ts));
	crypto_aead_chacha20poly1305_ietf_encrypt(b->enc_ts, NULL, ts, 12,
						  NULL, 0, NULL, n, b->k_ts);
	sodium_memzero(si_sk, 32);
	sodium_memzero(ei_sk, 32);
	return 0;
}

static int dhsig(const struct base *b)
{
	u8 ss[32];

	if (crypto_scalarmult(ss, b->x_sk, b->peer_pk))
		return -1;
	if (crypto_sign_verify_detached(b->sig, b->msg, sizeof(b->msg),
					b->sig_pk))
		return -1;
	sodium_memzero(ss, sizeof(ss));
	return 0;
}

/* WireGuard's HMAC is two hash calls; KDF_n is 1 + n HMACs. */
static void hmac(u8 out[32], const u8 key[32], const u8 *in, size_t len)
{
	u8 inner[32];

	crypto_generichash(inner, 32, in, len, key, 32);
	crypto_generichash(out, 32, inner, 32, key, 32);
}

static void kdf(u8 *out, unsigned int n, const u8 ck[32], const u8 *in,
		size_t len)
{
	u8 prk[32], t[33];
	unsigned int i;

	hmac(prk, ck, in, len);
	t[32] = 1;
	hmac(t, prk, t + 32, 1);
	memcpy(out, t, 32);
	for (i = 1; i < n; i++) {
		t[32] = (u8)(i + 1);
		hmac(t, prk, t, 33);
		memcpy(out + 32 * i, t, 32);
	}
}

static void mix_hash(u8 h[32], const u8 *in, size_t len)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, h, 32);
	crypto_generichash_update(&st, in, len);
	crypto_generichash_final(&st, h, 32);
}

/*
 * The responder's work for one handshake: consume the initiation (mac1,
 * es, open the static, ss, open the timestamp), then build the response
 * (ephemeral, ee, se, psk, seal empty, mac1) and derive transport keys.
 */
static int wg(const struct base *b)
{
	u8 ck[32] = { 0 }, h[32] = { 0 }, k[96], ss[32], st[32], ts[12];
	u8 e_sk[32], e_pk[32], mac[16], empty_ct[16], n[12] = { 0 };
	u8 psk[32] = { 0 }, keys[64];

	crypto_generichash(mac, 16, b->ei_pk, 32, b->s_pk, 32);	/* mac1 */
	mix_hash(h, b->s_pk, 32);
	kdf(k, 1, ck, b->ei_pk, 32);
	mix_hash(h, b->ei_pk, 32);
	if (crypto_scalarmult(ss, b->s_sk, b->ei_pk))
		return -1;
	kdf(k, 2, ck, ss, 32);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(st, NULL, NULL,
						      b->enc_static, 48, NULL,
						      0, n, b->k_static))
		return -1;
	mix_hash(h, b->enc_static, 48);
	if (crypto_scalarmult(ss, b->s_sk, b->si_pk))
		return -1;
	kdf(k, 2, ck, ss, 32);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(ts, NULL, NULL, b->enc_ts,
						      28, NULL, 0, n, b->k_ts))
		return -1;
	mix_hash(h, b->enc_ts, 28);

	crypto_box_keypair(e_pk, e_sk);
	kdf(k, 1, ck, e_pk, 32);
	mix_hash(h, e_pk, 32);
	if (crypto_scalarmult(ss, e_sk, b->ei_pk))
		return -1;
	kdf(k, 1, ck, ss, 32);
	if (crypto_scalarmult(ss, e_sk, b->si_pk))
		return -1;
	kdf(k, 1, ck, ss, 32);
	kdf(k, 3, ck, psk, 32);
	mix_hash(h, k + 32, 32);
	crypto_aead_chacha20poly1305_ietf_encrypt(empty_ct, NULL, NULL, 0, h,
						  32, NULL, n, k + 64);
	mix_hash(h, empty_ct, 16);
	crypto_generichash(mac, 16, e_pk, 32, b->si_pk, 32);	/* mac1 */
	kdf(keys, 2, ck, NULL, 0);
	sodium_memzero(e_sk, sizeof(e_sk));
	sodium_memzero(ss, sizeof(ss));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(keys, sizeof(keys));
	return 0;
}

static int x25519(const struct base *b)
{
	u8 ss[32];

	return crypto_scalarmult(ss, b->x_sk, b->peer_pk);
}

static int run_base(int role, int (*op)(const struct base *),
		    const struct base *b, double secs)
{
	double t0 = cputime(), t;
	unsigned long n = 0;

	do {
		if (op(b)) {
			fprintf(stderr, "%s: a libsodium call failed\n",
				role_name[role]);
			return -1;
		}
		n++;
		t = cputime();
	} while (t - t0 < secs);
	acc[role].cpu += t - t0;
	acc[role].n += n;
	return 0;
}

/* ---- main ---------------------------------------------------------------- */

static int pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0) {
		if (sched_getaffinity(0, sizeof(set), &set))
			return -1;
		for (cpu = CPU_SETSIZE - 1; cpu > 0; cpu--)
			if (CPU_ISSET(cpu, &set))
				break;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -1 : cpu;
}

static double us(int role)
{
	return acc[role].n ? acc[role].cpu / acc[role].n * 1e6 : NAN;
}

static void usage(void)
{
	fprintf(stderr, "usage: ctl_rate [--quick] [--time SECS] [--cpu N] "
		"[--relays N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "time", required_argument, NULL, 't' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "relays", required_argument, NULL, 'r' },
		{}
	};
	double secs = 2.0, t0, w0, cpu_total, wall_total;
	int cpu = -1, relays = 3, o, i;
	static struct circ c;
	struct base b;
	char *end;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'q':
			secs = 0.3;
			break;
		case 't':
			secs = strtod(optarg, &end);
			if (*end || !(secs > 0 && secs <= 60)) {
				fprintf(stderr, "ctl_rate: --time: want 0 < SECS <= 60, got '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'c':
			cpu = (int)strtol(optarg, &end, 10);
			if (*end || cpu < 0 || cpu >= CPU_SETSIZE) {
				fprintf(stderr, "ctl_rate: --cpu: bad CPU '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'r':
			relays = (int)strtol(optarg, &end, 10);
			if (*end || relays < 1 || relays > MAQ_MAX_HOPS - 1) {
				fprintf(stderr, "ctl_rate: --relays: want 1..%d, got '%s'\n",
					MAQ_MAX_HOPS - 1, optarg);
				return 2;
			}
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (maq_crypto_init()) {
		fprintf(stderr, "ctl_rate: libsodium init failed\n");
		return 1;
	}
	cpu = pin(cpu);
	if (cpu < 0) {
		perror("ctl_rate: sched_setaffinity");
		return 1;
	}
	if (circ_init(&c, relays) || base_init(&b)) {
		fprintf(stderr, "ctl_rate: key generation failed\n");
		return 1;
	}
	printf("# ctl_rate: CPU %d, %.2f s per part, circuits of %d relays "
	       "and a terminus, libsodium %s\n", cpu, secs, relays,
	       sodium_version_string());

	/* interleave setups and baselines in rounds, so that a change in
	 * the machine's load or clock hits both sides alike
	 */
	t0 = cputime();
	w0 = now();
	for (i = 0; i < 10; i++) {
		double r0 = cputime();

		while (cputime() - r0 < secs / 10)
			if (circ_setup(&c))
				return 1;
		if (run_base(DHSIG, dhsig, &b, secs / 10) ||
		    run_base(WG, wg, &b, secs / 10) ||
		    run_base(X25519, x25519, &b, secs / 20))
			return 1;
	}
	cpu_total = cputime() - t0;
	wall_total = now() - w0;
	for (i = 0; i < N_ROLES; i++)
		printf("# %-26s %8lu ops, %7.3f s CPU, %8.1f us each\n",
		       role_name[i], acc[i].n, acc[i].cpu, us(i));
	printf("# CPU %.3f s of %.3f s wall (%.0f%%: the rest is other "
	       "work on this core)\n", cpu_total, wall_total,
	       100 * cpu_total / wall_total);

	fig("ctl_relay_setup_rate", 1e6 / us(RELAY), "setups/s");
	fig("ctl_relay_setup_us", us(RELAY), "us");
	fig("ctl_origin_setup_us", us(ORIGIN), "us");
	fig("ctl_terminus_setup_us", us(TERMINUS), "us");
	fig("ctl_origin_setup_rate", 1e6 / us(ORIGIN), "setups/s");
	fig("ctl_path_cpu_ms", (us(ORIGIN) + relays * us(RELAY) +
				us(TERMINUS)) / 1e3, "ms");
	fig("ctl_base_wg_rate", 1e6 / us(WG), "handshakes/s");
	fig("ctl_base_wg_us", us(WG), "us");
	fig("ctl_base_dhsig_rate", 1e6 / us(DHSIG), "ops/s");
	fig("ctl_base_dhsig_us", us(DHSIG), "us");
	fig("ctl_base_x25519_us", us(X25519), "us");
	fig("ctl_relay_setup_ratio_wg", us(WG) / us(RELAY), "x");
	fig("ctl_relay_setup_ratio_dhsig", us(DHSIG) / us(RELAY), "x");
	fig("ctl_relay_setup_x25519s", us(RELAY) / us(X25519), "x");
	sodium_memzero(&b, sizeof(b));
	for (i = 0; i < (int)c.n; i++)
		maq_onion_wipe(&c.onion[i]);
	return 0;
}
