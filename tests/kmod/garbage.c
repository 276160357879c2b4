// SPDX-License-Identifier: GPL-2.0
/*
 * garbage: sends a seeded mix of bad datagrams to a maquis port, for
 * tests/kmod/garbage.sh, and prints how many of each kind it sent:
 *
 *   len       random bytes, any length 0..2000 but a cell's      malformed
 *   trunc     a captured cell cut short (0..1435 bytes)          malformed
 *   randcid   cell-sized, random content, a cid nobody holds     unknown-cid
 *   cid0      cell-sized, cid 0, random content                  (cell-ntf)
 *   replay    a captured forward cell, again                     replay
 *   tamper    a captured cell, counter moved 2^40 ahead, a body
 *             bit flipped                                        bad-tag
 *   flip      a captured cell with one bit of seq, body or tag
 *             flipped                                            replay,
 *                                                                bad-tag or
 *                                                                key-limit
 *
 *   garbage --to ADDR:PORT --cells FILE --fwd-cid CID [--avoid CID]...
 *           [--count N] [--seed S]
 *
 * FILE holds frames as maqtool capture writes them (u32 length, Ethernet
 * frame); the forward cells of --fwd-cid among them are replayed and
 * tampered with.  --avoid: cids the random ones must not hit.
 * ADDR:PORT is 10.0.0.1:7720 or [fd00::1]:7720.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Only the uapi header: built by make's default rule (PROGS). */
#include "../../include/uapi/linux/maquis.h"

#define MAX_CELLS	1024
#define MAX_AVOID	16
#define BATCH		64
#define DGRAM_MAX	2000

enum { K_LEN, K_TRUNC, K_RANDCID, K_CID0, K_REPLAY, K_TAMPER, K_FLIP, N_K };

static const char *const kind_name[N_K] = {
	"len", "trunc", "randcid", "cid0", "replay", "tamper", "flip",
};

/* Out of 1000 datagrams. */
static const int kind_share[N_K] = { 300, 50, 250, 100, 150, 75, 75 };

static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "garbage: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static uint64_t parse_num(const char *s, const char *what)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end)
		die("bad %s: %s", what, s);
	return v;
}

union sa {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

static void parse_addr(const char *s, union sa *a)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	size_t hl;

	memset(a, 0, sizeof(*a));
	if (!colon || colon == s || (hl = (size_t)(colon - s)) >= sizeof(host))
		die("bad address %s: want ADDR:PORT", s);
	memcpy(host, s, hl);
	host[hl] = 0;
	if (host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = 0;
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons((uint16_t)parse_num(colon + 1, "port"));
		if (inet_pton(AF_INET6, host + 1, &a->in6.sin6_addr) != 1)
			die("bad IPv6 address in %s", s);
	} else {
		a->in4.sin_family = AF_INET;
		a->in4.sin_port = htons((uint16_t)parse_num(colon + 1, "port"));
		if (inet_pton(AF_INET, host, &a->in4.sin_addr) != 1)
			die("bad IPv4 address in %s", s);
	}
	if (!a->in4.sin_port)
		die("bad address %s: port 0", s);
}

static uint32_t cell_cid(const uint8_t *c)
{
	return (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 |
	       (uint32_t)c[2] << 8 | c[3];
}

static uint8_t cells[MAX_CELLS][MAQUIS_CELL_SIZE];
static int n_cells;

/* The forward cells of @cid among the captured frames of @path. */
static void load_cells(const char *path, uint32_t cid)
{
	uint8_t f[4096];
	uint32_t len;
	FILE *fp = fopen(path, "rb");

	if (!fp)
		die("%s: %s", path, strerror(errno));
	while (n_cells < MAX_CELLS && fread(&len, sizeof(len), 1, fp) == 1) {
		size_t off = 14, l3;
		const uint8_t *udp;

		if (len > sizeof(f) || fread(f, len, 1, fp) != 1)
			die("%s: truncated record", path);
		if (len < off + 40)
			continue;
		if (f[12] == 0x08 && f[13] == 0x00 && f[off + 9] == 17)
			l3 = (size_t)(f[off] & 15) * 4;
		else if (f[12] == 0x86 && f[13] == 0xdd && f[off + 6] == 17)
			l3 = 40;
		else
			continue;
		udp = f + off + l3;
		if (off + l3 + 8 + MAQUIS_CELL_SIZE > len ||
		    (size_t)(udp[4] << 8 | udp[5]) != 8 + MAQUIS_CELL_SIZE ||
		    cell_cid(udp + 8) != cid)
			continue;
		memcpy(cells[n_cells++], udp + 8, MAQUIS_CELL_SIZE);
	}
	fclose(fp);
	if (!n_cells)
		die("%s: no forward cell of cid %u", path, cid);
}

static uint32_t avoid[MAX_AVOID];
static int n_avoid;

static uint32_t random_cid(void)
{
	uint32_t c;
	int i;

again:
	c = (uint32_t)rnd();
	if (!c)
		goto again;
	for (i = 0; i < n_avoid; i++)
		if (c == avoid[i])
			goto again;
	return c;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void fill(uint8_t *p, size_t n)
{
	size_t i;
	uint64_t r = 0;

	for (i = 0; i < n; i++) {
		if (!(i & 7))
			r = rnd();
		p[i] = (uint8_t)r;
		r >>= 8;
	}
}

/* One datagram of kind @k into @b; its length. */
static size_t make(int k, uint8_t *b)
{
	const uint8_t *c = cells[rnd() % (uint64_t)n_cells];
	size_t len, bit;
	uint64_t seq;
	int i;

	switch (k) {
	case K_LEN:
		do
			len = rnd() % (DGRAM_MAX + 1);
		while (len == MAQUIS_CELL_SIZE);
		fill(b, len);
		return len;
	case K_TRUNC:
		len = rnd() % MAQUIS_CELL_SIZE;
		memcpy(b, c, len);
		return len;
	case K_RANDCID:
		fill(b, MAQUIS_CELL_SIZE);
		put_be32(b, random_cid());
		return MAQUIS_CELL_SIZE;
	case K_CID0:
		fill(b, MAQUIS_CELL_SIZE);
		put_be32(b, 0);
		return MAQUIS_CELL_SIZE;
	case K_REPLAY:
		memcpy(b, c, MAQUIS_CELL_SIZE);
		return MAQUIS_CELL_SIZE;
	case K_TAMPER:
		/* A counter never seen (the tag covers it), phase kept. */
		memcpy(b, c, MAQUIS_CELL_SIZE);
		for (seq = 0, i = 0; i < 8; i++)
			seq = seq << 8 | b[4 + i];
		seq += (1ULL << 40) + (rnd() & 0xffffff);
		for (i = 0; i < 8; i++)
			b[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
		bit = 12 * 8 + rnd() % ((MAQUIS_CELL_SIZE - 12) * 8);
		b[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		return MAQUIS_CELL_SIZE;
	default:
		memcpy(b, c, MAQUIS_CELL_SIZE);
		bit = 4 * 8 + rnd() % ((MAQUIS_CELL_SIZE - 4) * 8);
		b[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		return MAQUIS_CELL_SIZE;
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "cells", required_argument, NULL, 'c' },
		{ "fwd-cid", required_argument, NULL, 'f' },
		{ "avoid", required_argument, NULL, 'a' },
		{ "count", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	static uint8_t buf[BATCH][DGRAM_MAX];
	const char *to = NULL, *path = NULL;
	uint64_t count = 1000000, sent = 0, seed = 0, per[N_K] = { 0 };
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	int kinds[BATCH], opt, fd, i, k, n;
	union sa dst;
	uint32_t fwd_cid = 0;
	double t0, dt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't': to = optarg; break;
		case 'c': path = optarg; break;
		case 'f': fwd_cid = (uint32_t)parse_num(optarg, "cid"); break;
		case 'a':
			if (n_avoid == MAX_AVOID)
				die("at most %d --avoid", MAX_AVOID);
			avoid[n_avoid++] = (uint32_t)parse_num(optarg, "cid");
			break;
		case 'n': count = parse_num(optarg, "count"); break;
		case 's': seed = parse_num(optarg, "seed"); break;
		default:
			die("usage: garbage --to ADDR:PORT --cells FILE --fwd-cid CID [--avoid CID]... [--count N] [--seed S]");
		}
	}
	if (!to || !path || !fwd_cid || optind != argc)
		die("--to, --cells and --fwd-cid are required");
	parse_addr(to, &dst);
	if (n_avoid < MAX_AVOID)
		avoid[n_avoid++] = fwd_cid;
	if (!seed)
		seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 20;
	rng ^= seed * 0x9e3779b97f4a7c15ULL;
	if (!rng)
		rng = 1;
	load_cells(path, fwd_cid);

	fd = socket(dst.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, &dst.sa, dst.sa.sa_family == AF_INET ?
			      sizeof(dst.in4) : sizeof(dst.in6)))
		die("socket to %s: %s", to, strerror(errno));

	printf("seed=%" PRIu64 "\ncells=%d\n", seed, n_cells);
	fflush(stdout);
	t0 = now_s();
	while (sent < count) {
		n = count - sent < BATCH ? (int)(count - sent) : BATCH;
		for (i = 0; i < n; i++) {
			uint64_t r = rnd() % 1000;

			for (k = 0; k < N_K - 1 && r >= (uint64_t)kind_share[k]; k++)
				r -= (uint64_t)kind_share[k];
			kinds[i] = k;
			iov[i].iov_base = buf[i];
			iov[i].iov_len = make(k, buf[i]);
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		for (i = 0; i < n;) {
			int r = sendmmsg(fd, mm + i, (unsigned int)(n - i), 0);

			if (r < 0) {
				if (errno == EINTR || errno == ENOBUFS ||
				    errno == ECONNREFUSED)
					continue;
				die("sendmmsg: %s", strerror(errno));
			}
			for (k = 0; k < r; k++)
				per[kinds[i + k]]++;
			i += r;
			sent += (uint64_t)r;
		}
	}
	dt = now_s() - t0;
	for (k = 0; k < N_K; k++)
		printf("%s=%" PRIu64 "\n", kind_name[k], per[k]);
	printf("sent=%" PRIu64 "\nsecs=%.1f\nrate=%.0f\n", sent, dt,
	       dt > 0 ? sent / dt : 0);
	close(fd);
	return 0;
}
