// SPDX-License-Identifier: GPL-2.0
/*
 * maqtool: test helper for the maquis kernel module (tests only; the daemon
 * and CLI come later).  It installs whole circuits across network namespaces
 * directly over netlink, reads counters, and forges, captures and replays
 * cells on the wire.
 *
 *   maqtool [-n NETNS] COMMAND [ARGS]
 *
 * NETNS is a name in /run/netns or a path (/proc/PID/ns/net).  Every command
 * prints key=value lines on stdout and exits 0, or prints an error (with the
 * kernel's extended ack) on stderr and exits 1.  See usage() for commands.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include <sodium.h>

#include <maquis/wire.h>
#include "../../daemon/nl.h"
#include "../lib/plan.h"

#define SEQ_MASK	((1ULL << 63) - 1)
#define MAX_NODES	(MAQUIS_MAX_HOPS + 1)
#define MAX_FRAMES	64
#define FRAME_MAX	65536

static const char *prog = "maqtool";

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void __attribute__((noreturn)) die_nl(struct maq_nl *nl, int err,
					     const char *what)
{
	const char *m = nl ? maq_nl_errmsg(nl) : "";

	die("%s: %s%s%s", what, strerror(-err), *m ? ": " : "", m);
}

static void usage(void)
{
	fprintf(stderr,
"usage: maqtool [-n NETNS] COMMAND [ARGS]\n"
"\n"
"  install [--id ID] [--lifetime S]\n"
"          --origin NS,DEV,OUT_ADDR [--relay NS,DEV,IN_ADDR,OUT_ADDR]...\n"
"          --terminus NS,DEV,IN_ADDR [--route PREFIX]... [--back-route PREFIX]...\n"
"      Generate keys, bases and cids for a circuit through the relays and\n"
"      install each host's part in its namespace (terminus first).  IN_ADDR\n"
"      and OUT_ADDR are the node's underlay addresses on the link to its\n"
"      predecessor and successor; ports come from each device.  --route:\n"
"      prefixes the origin sends into the circuit; --back-route: the\n"
"      origin's prefixes, for the terminus' return path.\n"
"  del DEV ID                   delete a circuit\n"
"  dev DEV                      device attributes and counters\n"
"  devs                         every maquis device (dump)\n"
"  stats DEV [ID]               counters of a device or a circuit\n"
"  reset DEV [ID]               zero them\n"
"  circuit DEV ID               one circuit\n"
"  circuits DEV                 dump (one line per circuit)\n"
"  set DEV [--port P] [--local ADDR] [--max-circuits N]\n"
"  send ADDR:PORT [--from ADDR] [--count N] (--hex HEX | --len N\n"
"       [--cid CID] [--seq SEQ] [--fill zero|random|BYTE])\n"
"                               send raw UDP datagram(s)\n"
"  capture --dev IF --port P [--dir in|out|any] [--len N] [--count N]\n"
"          [--timeout MS] [--ready FILE] --out FILE\n"
"                               capture UDP frames to/from port P on IF\n"
"  inject --dev IF --in FILE [--index K] [--flip OFF.BIT]... [--seq-add N]\n"
"          [--set-cid CID] [--truncate N] [--count N]\n"
"                               send captured frames out of IF (offsets in\n"
"                               the UDP payload; checksums recomputed)\n"
"  events [--count N] [--timeout MS]   print notifications\n"
"  cell-send DEV ADDR:PORT HEX  send a link control cell through the device\n"
"  ctl-send DEV ID HOP [HEX]    send a hop control message\n");
	exit(2);
}

/* --- small helpers ----------------------------------------------------- */

static uint64_t parse_u64(const char *s, const char *what)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || end == s)
		die("bad %s: %s", what, s);
	return v;
}

static uint32_t parse_u32(const char *s, const char *what)
{
	uint64_t v = parse_u64(s, what);

	if (v > UINT32_MAX)
		die("bad %s: %s", what, s);
	return (uint32_t)v;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Hex string (spaces and colons ignored) into a malloc()ed buffer. */
static uint8_t *parse_hex(const char *s, size_t *len)
{
	uint8_t *b = malloc(strlen(s) / 2 + 1);
	size_t n = 0;
	int hi = -1, v;

	if (!b)
		die("out of memory");
	for (; *s; s++) {
		if (isspace((unsigned char)*s) || *s == ':')
			continue;
		v = hexval((unsigned char)*s);
		if (v < 0)
			die("bad hex");
		if (hi < 0) {
			hi = v;
		} else {
			b[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0)
		die("odd number of hex digits");
	*len = n;
	return b;
}

static int orig_ns = -1;

static void enter_ns(const char *name)
{
	char path[256];
	int fd;

	if (!name || !*name || !strcmp(name, "-")) {
		if (orig_ns >= 0 && setns(orig_ns, CLONE_NEWNET))
			die("setns back: %s", strerror(errno));
		return;
	}
	if (orig_ns < 0) {
		orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (orig_ns < 0)
			die("/proc/self/ns/net: %s", strerror(errno));
	}
	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("netns %s: %s", path, strerror(errno));
	if (setns(fd, CLONE_NEWNET))
		die("setns %s: %s", path, strerror(errno));
	close(fd);
}

static uint32_t dev_index(const char *dev)
{
	unsigned int i = if_nametoindex(dev);
	char *end;

	if (i)
		return i;
	i = (unsigned int)strtoul(dev, &end, 10);
	if (*end || !i)
		die("no device %s", dev);
	return i;
}

static struct maq_nl *nl_open(void)
{
	struct maq_nl *nl;
	int err = maq_nl_open(&nl);

	if (err)
		die_nl(NULL, err, "netlink (is maquis.ko loaded?)");
	return nl;
}

static void print_stats(const char *prefix, const struct maq_stats *st)
{
	int i;

	for (i = 0; i <= MAQUIS_A_STATS_MAX; i++)
		if (maq_stat_name(i))
			printf("%s%s=%" PRIu64 "\n", prefix, maq_stat_name(i),
			       st->val[i]);
}

/* --- install ----------------------------------------------------------- */

struct node {
	char ns[128];
	char dev[IFNAMSIZ];
	char in[64], out[64];		/* underlay addresses */
	uint32_t ifindex;
	uint16_t port;
};

static void parse_node(const char *arg, struct node *n, bool in, bool out)
{
	char *s = strdup(arg), *save = NULL, *f[4];
	int i, want = 2 + in + out;

	if (!s)
		die("out of memory");
	memset(n, 0, sizeof(*n));
	for (i = 0; i < 4; i++) {
		f[i] = strtok_r(i ? NULL : s, ",", &save);
		if (!f[i])
			break;
	}
	if (i != want || strtok_r(NULL, ",", &save))
		die("bad node spec %s (want %s)", arg,
		    in && out ? "NS,DEV,IN_ADDR,OUT_ADDR" :
		    in ? "NS,DEV,IN_ADDR" : "NS,DEV,OUT_ADDR");
	snprintf(n->ns, sizeof(n->ns), "%s", f[0]);
	snprintf(n->dev, sizeof(n->dev), "%s", f[1]);
	if (in)
		snprintf(n->in, sizeof(n->in), "%s", f[2]);
	if (out)
		snprintf(n->out, sizeof(n->out), "%s", f[2 + in]);
	free(s);
}

static void node_addr(const struct node *n, const char *a,
		      union maq_sockaddr *sa)
{
	if (maq_sockaddr_parse(a, n->port, sa))
		die("bad address %s", a);
}

static void install_one(struct node *n, struct maq_circuit *c, const char *what)
{
	struct maq_nl *nl;
	int err;

	enter_ns(n->ns);
	nl = nl_open();
	c->ifindex = n->ifindex;
	err = maq_nl_circuit_new(nl, c);
	maq_circuit_wipe(c);
	if (err)
		die_nl(nl, err, what);
	maq_nl_close(nl);
	enter_ns(NULL);
}

static int cmd_install(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "origin", required_argument, NULL, 'o' },
		{ "relay", required_argument, NULL, 'r' },
		{ "terminus", required_argument, NULL, 't' },
		{ "route", required_argument, NULL, 'R' },
		{ "back-route", required_argument, NULL, 'B' },
		{ NULL, 0, NULL, 0 },
	};
	struct maq_prefix routes[MAQ_NL_MAX_ROUTES], back[MAQ_NL_MAX_ROUTES];
	unsigned int nroutes = 0, nback = 0;
	struct node nodes[MAX_NODES + 1];
	int nnodes = 1, nhops, i, k, opt;
	bool have_origin = false, have_term = false;
	uint32_t id = 1, lifetime = 3600;
	struct maq_plan plan;
	struct node term;
	struct maq_circuit *c;
	char buf[128];

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			id = parse_u32(optarg, "id");
			break;
		case 'l':
			lifetime = parse_u32(optarg, "lifetime");
			break;
		case 'o':
			parse_node(optarg, &nodes[0], false, true);
			have_origin = true;
			break;
		case 'r':
			if (nnodes >= MAQUIS_MAX_HOPS)
				die("at most %d relays", MAQUIS_MAX_HOPS - 1);
			parse_node(optarg, &nodes[nnodes++], true, true);
			break;
		case 't':
			parse_node(optarg, &term, true, false);
			have_term = true;
			break;
		case 'R':
		case 'B':
			if ((opt == 'R' ? nroutes : nback) >= MAQ_NL_MAX_ROUTES)
				die("too many routes");
			if (maq_prefix_parse(optarg, opt == 'R' ?
					     &routes[nroutes++] : &back[nback++]))
				die("bad prefix %s", optarg);
			break;
		default:
			usage();
		}
	}
	if (!have_origin || !have_term || optind != argc)
		usage();
	nodes[nnodes++] = term;
	nhops = nnodes - 1;

	/* Each device's ifindex and port, in its namespace. */
	for (i = 0; i < nnodes; i++) {
		struct maq_dev dev;
		struct maq_nl *nl;
		int err;

		enter_ns(nodes[i].ns);
		nodes[i].ifindex = dev_index(nodes[i].dev);
		nl = nl_open();
		err = maq_nl_dev_get(nl, nodes[i].ifindex, &dev);
		if (err)
			die_nl(nl, err, nodes[i].dev);
		nodes[i].port = dev.port;
		maq_nl_close(nl);
		enter_ns(NULL);
	}

	maq_plan_init(&plan, id, lifetime, nhops);
	c = calloc(1, sizeof(*c));
	if (!c)
		die("out of memory");

	/* Terminus first, then relays backwards, origin last. */
	maq_plan_part(&plan, nhops, c);
	node_addr(&nodes[nhops - 1], nodes[nhops - 1].out, &c->prev);
	memcpy(c->routes, back, sizeof(back[0]) * nback);
	c->n_routes = nback;
	install_one(&nodes[nhops], c, "terminus");

	for (k = nhops - 1; k >= 1; k--) {
		maq_plan_part(&plan, k, c);
		node_addr(&nodes[k + 1], nodes[k + 1].in, &c->next);
		node_addr(&nodes[k - 1], nodes[k - 1].out, &c->prev);
		snprintf(buf, sizeof(buf), "relay %d", k);
		install_one(&nodes[k], c, buf);
	}

	maq_plan_part(&plan, 0, c);
	node_addr(&nodes[1], nodes[1].in, &c->next);
	memcpy(c->routes, routes, sizeof(routes[0]) * nroutes);
	c->n_routes = nroutes;
	install_one(&nodes[0], c, "origin");

	sodium_memzero(c, sizeof(*c));
	free(c);

	printf("id=%u\nhops=%d\n", id, nhops);
	for (i = 0; i < nhops; i++)
		printf("link%d.fwd-cid=%u\nlink%d.back-cid=%u\n",
		       i, plan.fcid[i], i, plan.bcid[i]);
	maq_plan_wipe(&plan);
	return 0;
}

/* --- queries ----------------------------------------------------------- */

static void print_dev(const struct maq_dev *d, bool one_line)
{
	char a[96];

	if (one_line) {
		printf("ifindex=%u ifname=%s port=%u local=%s max-circuits=%u "
		       "n-circuits=%u\n", d->ifindex, d->ifname, d->port,
		       maq_sockaddr_str(&d->local, a, sizeof(a)),
		       d->max_circuits, d->n_circuits);
		return;
	}
	printf("ifindex=%u\nifname=%s\nport=%u\nlocal=%s\nmax-circuits=%u\n"
	       "n-circuits=%u\n", d->ifindex, d->ifname, d->port,
	       maq_sockaddr_str(&d->local, a, sizeof(a)), d->max_circuits,
	       d->n_circuits);
	print_stats("", &d->stats);
}

static void print_circuit(const struct maq_circuit *c, bool one_line)
{
	char n[96], p[96], r[64];
	const char *sep = one_line ? " " : "\n";
	unsigned int i;

	printf("id=%u%srole=%s%sfwd-cid-in=%u%sfwd-cid-out=%u%s"
	       "back-cid-in=%u%sback-cid-out=%u%snext=%s%sprev=%s%s"
	       "lifetime=%u%sage=%u%sphase=%u",
	       c->id, sep, maq_role_name(c->role), sep, c->fwd_cid_in, sep,
	       c->fwd_cid_out, sep, c->back_cid_in, sep, c->back_cid_out, sep,
	       maq_sockaddr_str(&c->next, n, sizeof(n)), sep,
	       maq_sockaddr_str(&c->prev, p, sizeof(p)), sep, c->lifetime, sep,
	       c->age, sep, c->phase);
	for (i = 0; i < c->n_routes; i++)
		printf("%sroute=%s", sep,
		       maq_prefix_str(&c->routes[i], r, sizeof(r)));
	printf("\n");
	if (!one_line)
		print_stats("", &c->stats);
}

static int cmd_dev(int argc, char **argv)
{
	struct maq_nl *nl;
	struct maq_dev d;
	int err;

	if (argc != 2)
		usage();
	nl = nl_open();
	err = maq_nl_dev_get(nl, dev_index(argv[1]), &d);
	if (err)
		die_nl(nl, err, "dev-get");
	print_dev(&d, false);
	maq_nl_close(nl);
	return 0;
}

static int cmd_devs(int argc, char **argv)
{
	struct maq_nl *nl;
	struct maq_dev *d;
	size_t n, i;
	int err;

	(void)argv;
	if (argc != 1)
		usage();
	nl = nl_open();
	err = maq_nl_dev_dump(nl, &d, &n);
	if (err)
		die_nl(nl, err, "dev dump");
	for (i = 0; i < n; i++)
		print_dev(&d[i], true);
	free(d);
	maq_nl_close(nl);
	return 0;
}

static int cmd_stats(int argc, char **argv)
{
	struct maq_nl *nl;
	int err;

	if (argc != 2 && argc != 3)
		usage();
	nl = nl_open();
	if (argc == 2) {
		struct maq_dev d;

		err = maq_nl_dev_get(nl, dev_index(argv[1]), &d);
		if (err)
			die_nl(nl, err, "dev-get");
		print_stats("", &d.stats);
	} else {
		struct maq_circuit *c = malloc(sizeof(*c));

		if (!c)
			die("out of memory");
		err = maq_nl_circuit_get(nl, dev_index(argv[1]),
					 parse_u32(argv[2], "id"), c);
		if (err)
			die_nl(nl, err, "circuit-get");
		print_stats("", &c->stats);
		free(c);
	}
	maq_nl_close(nl);
	return 0;
}

static int cmd_reset(int argc, char **argv)
{
	struct maq_nl *nl;
	int err;

	if (argc != 2 && argc != 3)
		usage();
	nl = nl_open();
	err = maq_nl_stats_reset(nl, dev_index(argv[1]),
				 argc == 3 ? parse_u32(argv[2], "id") : 0);
	if (err)
		die_nl(nl, err, "stats-reset");
	maq_nl_close(nl);
	return 0;
}

static int cmd_del(int argc, char **argv)
{
	struct maq_nl *nl;
	int err;

	if (argc != 3)
		usage();
	nl = nl_open();
	err = maq_nl_circuit_del(nl, dev_index(argv[1]),
				 parse_u32(argv[2], "id"));
	if (err)
		die_nl(nl, err, "circuit-del");
	maq_nl_close(nl);
	return 0;
}

static int cmd_circuit(int argc, char **argv)
{
	struct maq_circuit *c = malloc(sizeof(*c));
	struct maq_nl *nl;
	int err;

	if (argc != 3)
		usage();
	if (!c)
		die("out of memory");
	nl = nl_open();
	err = maq_nl_circuit_get(nl, dev_index(argv[1]),
				 parse_u32(argv[2], "id"), c);
	if (err)
		die_nl(nl, err, "circuit-get");
	print_circuit(c, false);
	free(c);
	maq_nl_close(nl);
	return 0;
}

static int cmd_circuits(int argc, char **argv)
{
	struct maq_circuit *cs;
	struct maq_nl *nl;
	size_t n, i;
	int err;

	if (argc != 2)
		usage();
	nl = nl_open();
	err = maq_nl_circuit_dump(nl, dev_index(argv[1]), &cs, &n);
	if (err)
		die_nl(nl, err, "circuit dump");
	for (i = 0; i < n; i++)
		print_circuit(&cs[i], true);
	free(cs);
	maq_nl_close(nl);
	return 0;
}

static int cmd_set(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "local", required_argument, NULL, 'l' },
		{ "max-circuits", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	union maq_sockaddr local;
	bool have_local = false;
	uint32_t maxc = 0, port = 0;
	struct maq_nl *nl;
	int opt, err;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			port = parse_u32(optarg, "port");
			if (!port || port > 65535)
				die("bad port");
			break;
		case 'l':
			if (maq_sockaddr_parse(optarg, 0, &local))
				die("bad address %s", optarg);
			have_local = true;
			break;
		case 'm':
			maxc = parse_u32(optarg, "max-circuits");
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	nl = nl_open();
	err = maq_nl_dev_set(nl, dev_index(argv[optind]), (uint16_t)port,
			     have_local ? &local : NULL, maxc);
	if (err)
		die_nl(nl, err, "dev-set");
	maq_nl_close(nl);
	return 0;
}

/* --- raw datagrams ----------------------------------------------------- */

static int cmd_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'c' },
		{ "hex", required_argument, NULL, 'x' },
		{ "len", required_argument, NULL, 'l' },
		{ "cid", required_argument, NULL, 'C' },
		{ "seq", required_argument, NULL, 's' },
		{ "fill", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	const char *from = NULL, *hex = NULL, *fill = "random";
	uint64_t seq = 0, len = MAQUIS_CELL_SIZE, count = 1, i;
	bool have_cid = false, have_seq = false, have_len = false;
	union maq_sockaddr dst, src;
	uint32_t cid = 0;
	uint8_t *buf;
	size_t blen;
	int opt, fd;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': from = optarg; break;
		case 'c': count = parse_u64(optarg, "count"); break;
		case 'x': hex = optarg; break;
		case 'l': len = parse_u64(optarg, "len"); have_len = true; break;
		case 'C': cid = parse_u32(optarg, "cid"); have_cid = true; break;
		case 's': seq = parse_u64(optarg, "seq"); have_seq = true; break;
		case 'F': fill = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || (hex && (have_len || have_cid || have_seq)))
		usage();
	if (maq_sockaddr_parse(argv[optind], MAQ_DEFAULT_PORT, &dst))
		die("bad address %s", argv[optind]);
	if (hex) {
		buf = parse_hex(hex, &blen);
	} else {
		if (len > 65507)
			die("--len too large");
		blen = len;
		buf = malloc(blen + 1);
		if (!buf)
			die("out of memory");
		if (!strcmp(fill, "random"))
			randombytes_buf(buf, blen);
		else if (!strcmp(fill, "zero"))
			memset(buf, 0, blen);
		else
			memset(buf, (int)parse_u32(fill, "fill"), blen);
		for (i = 0; have_cid && i < 4 && i < blen; i++)
			buf[i] = (uint8_t)(cid >> (24 - 8 * i));
		for (i = 0; have_seq && i < 8 && 4 + i < blen; i++)
			buf[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
	}
	fd = socket(dst.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (from) {
		if (maq_sockaddr_parse(from, 0, &src) ||
		    src.sa.sa_family != dst.sa.sa_family)
			die("bad --from %s", from);
		if (bind(fd, &src.sa, src.sa.sa_family == AF_INET ?
			 sizeof(src.in4) : sizeof(src.in6)))
			die("bind: %s", strerror(errno));
	}
	for (i = 0; i < count; i++)
		if (sendto(fd, buf, blen, 0, &dst.sa, dst.sa.sa_family == AF_INET ?
			   sizeof(dst.in4) : sizeof(dst.in6)) != (ssize_t)blen)
			die("sendto: %s", strerror(errno));
	close(fd);
	free(buf);
	printf("sent=%" PRIu64 "\nlen=%zu\n", count, blen);
	return 0;
}

/* --- capture and inject ------------------------------------------------ */

struct frame_view {
	uint8_t *l3;		/* IP header */
	int family;
	size_t l3len;		/* IP header length */
	uint8_t *udp;		/* UDP header */
	uint8_t *payload;
	size_t paylen;
};

/* Finds IP and UDP in an Ethernet frame; false when it is not UDP. */
static bool frame_parse(uint8_t *f, size_t len, struct frame_view *v)
{
	size_t off = 14, iplen;
	uint16_t proto;

	if (len < off)
		return false;
	proto = (uint16_t)(f[12] << 8 | f[13]);
	while ((proto == 0x8100 || proto == 0x88a8) && len >= off + 4) {
		proto = (uint16_t)(f[off + 2] << 8 | f[off + 3]);
		off += 4;
	}
	memset(v, 0, sizeof(*v));
	v->l3 = f + off;
	if (proto == ETH_P_IP) {
		if (len < off + 20 || (f[off] >> 4) != 4 || f[off + 9] != 17)
			return false;
		v->family = AF_INET;
		v->l3len = (f[off] & 15) * 4;
		iplen = (size_t)(f[off + 2] << 8 | f[off + 3]);
		/* fragments are not ours */
		if ((f[off + 6] & 0x3f) || f[off + 7])
			return false;
	} else if (proto == ETH_P_IPV6) {
		if (len < off + 40 || (f[off] >> 4) != 6 || f[off + 6] != 17)
			return false;
		v->family = AF_INET6;
		v->l3len = 40;
		iplen = 40 + (size_t)(f[off + 4] << 8 | f[off + 5]);
	} else {
		return false;
	}
	if (off + iplen > len || iplen < v->l3len + 8)
		return false;
	v->udp = v->l3 + v->l3len;
	v->payload = v->udp + 8;
	v->paylen = (size_t)(v->udp[4] << 8 | v->udp[5]);
	if (v->paylen < 8 || v->l3len + v->paylen > iplen)
		return false;
	v->paylen -= 8;
	return true;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Rewrites lengths and checksums after the payload changed to @paylen. */
static void frame_fix(struct frame_view *v, size_t paylen)
{
	size_t ulen = paylen + 8;
	uint8_t pseudo[40];
	uint32_t sum;
	uint16_t c;

	v->paylen = paylen;
	v->udp[4] = (uint8_t)(ulen >> 8);
	v->udp[5] = (uint8_t)ulen;
	v->udp[6] = v->udp[7] = 0;
	if (v->family == AF_INET) {
		size_t tot = v->l3len + ulen;

		v->l3[2] = (uint8_t)(tot >> 8);
		v->l3[3] = (uint8_t)tot;
		v->l3[10] = v->l3[11] = 0;
		c = csum_fold(csum_add(0, v->l3, v->l3len));
		v->l3[10] = (uint8_t)(c >> 8);
		v->l3[11] = (uint8_t)c;
		memcpy(pseudo, v->l3 + 12, 8);
		pseudo[8] = 0;
		pseudo[9] = 17;
		pseudo[10] = (uint8_t)(ulen >> 8);
		pseudo[11] = (uint8_t)ulen;
		sum = csum_add(0, pseudo, 12);
	} else {
		v->l3[4] = (uint8_t)(ulen >> 8);
		v->l3[5] = (uint8_t)ulen;
		memcpy(pseudo, v->l3 + 8, 32);
		pseudo[32] = pseudo[33] = 0;
		pseudo[34] = (uint8_t)(ulen >> 8);
		pseudo[35] = (uint8_t)ulen;
		pseudo[36] = pseudo[37] = pseudo[38] = 0;
		pseudo[39] = 17;
		sum = csum_add(0, pseudo, 40);
	}
	c = csum_fold(csum_add(sum, v->udp, ulen));
	if (!c)
		c = 0xffff;
	v->udp[6] = (uint8_t)(c >> 8);
	v->udp[7] = (uint8_t)c;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int packet_socket(const char *dev, struct sockaddr_ll *sll)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (fd < 0)
		die("packet socket: %s", strerror(errno));
	memset(sll, 0, sizeof(*sll));
	sll->sll_family = AF_PACKET;
	sll->sll_protocol = htons(ETH_P_ALL);
	sll->sll_ifindex = (int)dev_index(dev);
	if (bind(fd, (struct sockaddr *)sll, sizeof(*sll)))
		die("bind %s: %s", dev, strerror(errno));
	return fd;
}

static int cmd_capture(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "dir", required_argument, NULL, 'D' },
		{ "len", required_argument, NULL, 'l' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "ready", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dev = NULL, *out = NULL, *ready = NULL, *dir = "any";
	uint64_t count = 1, got = 0, len = MAQUIS_CELL_SIZE;
	long long timeout = 10000, deadline;
	struct sockaddr_ll sll;
	uint32_t port = 0;
	uint8_t *buf;
	FILE *fp;
	int opt, fd;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': dev = optarg; break;
		case 'p': port = parse_u32(optarg, "port"); break;
		case 'D': dir = optarg; break;
		case 'l': len = parse_u64(optarg, "len"); break;
		case 'c': count = parse_u64(optarg, "count"); break;
		case 't': timeout = (long long)parse_u64(optarg, "timeout"); break;
		case 'r': ready = optarg; break;
		case 'o': out = optarg; break;
		default: usage();
		}
	}
	if (!dev || !out || !port || optind != argc || count > MAX_FRAMES ||
	    (strcmp(dir, "in") && strcmp(dir, "out") && strcmp(dir, "any")))
		usage();
	fd = packet_socket(dev, &sll);
	fp = fopen(out, "wb");
	if (!fp)
		die("%s: %s", out, strerror(errno));
	buf = malloc(FRAME_MAX);
	if (!buf)
		die("out of memory");
	if (ready) {
		FILE *r = fopen(ready, "w");

		if (!r)
			die("%s: %s", ready, strerror(errno));
		fclose(r);
	}
	deadline = now_ms() + timeout;
	while (got < count) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct sockaddr_ll from;
		socklen_t flen = sizeof(from);
		struct frame_view v;
		long long left = deadline - now_ms();
		uint32_t rec;
		ssize_t n;

		if (left <= 0)
			die("capture: %" PRIu64 " of %" PRIu64 " frames before timeout",
			    got, count);
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = recvfrom(fd, buf, FRAME_MAX, 0, (struct sockaddr *)&from,
			     &flen);
		if (n <= 0)
			continue;
		if (!strcmp(dir, "out") && from.sll_pkttype != PACKET_OUTGOING)
			continue;
		if (!strcmp(dir, "in") && from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (!frame_parse(buf, (size_t)n, &v))
			continue;
		if ((uint32_t)(v.udp[2] << 8 | v.udp[3]) != port)
			continue;
		if (len && v.paylen != len)
			continue;
		rec = (uint32_t)n;
		if (fwrite(&rec, sizeof(rec), 1, fp) != 1 ||
		    fwrite(buf, (size_t)n, 1, fp) != 1)
			die("%s: write failed", out);
		got++;
	}
	if (fclose(fp))
		die("%s: %s", out, strerror(errno));
	close(fd);
	free(buf);
	printf("captured=%" PRIu64 "\n", got);
	return 0;
}

static int cmd_inject(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "in", required_argument, NULL, 'i' },
		{ "index", required_argument, NULL, 'k' },
		{ "flip", required_argument, NULL, 'f' },
		{ "seq-add", required_argument, NULL, 's' },
		{ "set-cid", required_argument, NULL, 'C' },
		{ "truncate", required_argument, NULL, 'T' },
		{ "count", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dev = NULL, *in = NULL;
	uint64_t index = 0, seq_add = 0, count = 1, trunc = UINT64_MAX, i;
	struct { uint64_t off; int bit; } flips[32];
	bool have_cid = false;
	int nflips = 0, opt, fd;
	struct sockaddr_ll sll;
	struct frame_view v;
	uint32_t cid = 0, rec;
	uint8_t *buf;
	FILE *fp;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': dev = optarg; break;
		case 'i': in = optarg; break;
		case 'k': index = parse_u64(optarg, "index"); break;
		case 'f': {
			char *dot = strchr(optarg, '.'), *end;

			if (nflips == 32)
				die("too many --flip");
			errno = 0;
			flips[nflips].off = strtoull(optarg, &end, 0);
			if (errno || end == optarg || (dot ? end != dot : *end))
				die("bad --flip %s (OFF.BIT)", optarg);
			flips[nflips].bit = dot ? (int)parse_u32(dot + 1, "bit") : 0;
			if (flips[nflips].bit > 7)
				die("bad bit in --flip %s", optarg);
			nflips++;
			break;
		}
		case 's': seq_add = parse_u64(optarg, "seq-add"); break;
		case 'C': cid = parse_u32(optarg, "cid"); have_cid = true; break;
		case 'T': trunc = parse_u64(optarg, "truncate"); break;
		case 'c': count = parse_u64(optarg, "count"); break;
		default: usage();
		}
	}
	if (!dev || !in || optind != argc)
		usage();
	fp = fopen(in, "rb");
	if (!fp)
		die("%s: %s", in, strerror(errno));
	buf = malloc(FRAME_MAX);
	if (!buf)
		die("out of memory");
	for (i = 0;; i++) {
		if (fread(&rec, sizeof(rec), 1, fp) != 1)
			die("%s: no frame %" PRIu64, in, index);
		if (rec > FRAME_MAX || fread(buf, rec, 1, fp) != 1)
			die("%s: truncated", in);
		if (i == index)
			break;
	}
	fclose(fp);
	if (!frame_parse(buf, rec, &v))
		die("%s: frame %" PRIu64 " is not UDP", in, index);
	for (i = 0; i < (uint64_t)nflips; i++) {
		if (flips[i].off >= v.paylen)
			die("--flip offset %" PRIu64 " beyond payload (%zu)",
			    flips[i].off, v.paylen);
		v.payload[flips[i].off] ^= (uint8_t)(1 << flips[i].bit);
	}
	if (have_cid && v.paylen >= 4)
		for (i = 0; i < 4; i++)
			v.payload[i] = (uint8_t)(cid >> (24 - 8 * i));
	if (seq_add && v.paylen >= 12) {
		uint64_t seq = 0;

		for (i = 0; i < 8; i++)
			seq = seq << 8 | v.payload[4 + i];
		seq = (seq & ~SEQ_MASK) | ((seq + seq_add) & SEQ_MASK);
		for (i = 0; i < 8; i++)
			v.payload[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
	}
	if (trunc < v.paylen) {
		rec -= (uint32_t)(v.paylen - trunc);
		frame_fix(&v, trunc);
	} else {
		frame_fix(&v, v.paylen);
	}
	fd = packet_socket(dev, &sll);
	for (i = 0; i < count; i++)
		if (sendto(fd, buf, rec, 0, (struct sockaddr *)&sll,
			   sizeof(sll)) != (ssize_t)rec)
			die("inject: %s", strerror(errno));
	close(fd);
	free(buf);
	printf("injected=%" PRIu64 "\n", count);
	return 0;
}

/* --- events and control ------------------------------------------------ */

static int cmd_events(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t count = UINT64_MAX, got = 0;
	long long timeout = -1, deadline = 0;
	struct maq_event *ev = malloc(sizeof(*ev));
	struct maq_nl *nl;
	int opt, r;
	char a[96];

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': count = parse_u64(optarg, "count"); break;
		case 't': timeout = (long long)parse_u64(optarg, "timeout"); break;
		default: usage();
		}
	}
	if (optind != argc || !ev)
		usage();
	nl = nl_open();
	r = maq_nl_subscribe(nl);
	if (r)
		die_nl(nl, r, "subscribe");
	if (timeout >= 0)
		deadline = now_ms() + timeout;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (got < count) {
		int left = -1;

		if (timeout >= 0) {
			long long l = deadline - now_ms();

			if (l <= 0)
				break;
			left = (int)l;
		}
		r = maq_nl_event_recv(nl, ev, left);
		if (r < 0)
			die_nl(nl, r, "events");
		if (!r)
			continue;
		got++;
		if (ev->cmd == MAQUIS_CMD_EVENT_NTF)
			printf("event-ntf ifindex=%u id=%u event=%s dir=%u phase=%u "
			       "hop=%d count=%" PRIu64 "\n", ev->ifindex, ev->id,
			       maq_event_name(ev->event), ev->dir, ev->phase,
			       ev->hop, ev->count);
		else
			printf("cell-ntf ifindex=%u id=%u peer=%s cell=%d ctl=%d\n",
			       ev->ifindex, ev->id,
			       maq_sockaddr_str(&ev->peer, a, sizeof(a)),
			       MAQ_HAS(ev, MAQUIS_A_CELL), MAQ_HAS(ev, MAQUIS_A_CTL));
	}
	printf("events=%" PRIu64 "\n", got);
	maq_nl_close(nl);
	free(ev);
	return 0;
}

static int cmd_cell_send(int argc, char **argv)
{
	uint8_t cell[MAQUIS_CELL_SIZE] = { 0 }, *b;
	union maq_sockaddr peer;
	struct maq_nl *nl;
	size_t n;
	int err;

	if (argc != 4)
		usage();
	if (maq_sockaddr_parse(argv[2], MAQ_DEFAULT_PORT, &peer))
		die("bad address %s", argv[2]);
	b = parse_hex(argv[3], &n);
	if (n > sizeof(cell))
		die("cell too long");
	memcpy(cell, b, n);
	free(b);
	nl = nl_open();
	err = maq_nl_cell_send(nl, dev_index(argv[1]), &peer, cell);
	if (err)
		die_nl(nl, err, "cell-send");
	maq_nl_close(nl);
	return 0;
}

static int cmd_ctl_send(int argc, char **argv)
{
	uint8_t ctl[MAQUIS_CTL_LEN] = { 0 }, *b;
	struct maq_nl *nl;
	size_t n;
	int err;

	if (argc != 4 && argc != 5)
		usage();
	if (argc == 5) {
		b = parse_hex(argv[4], &n);
		if (n > sizeof(ctl))
			die("ctl too long");
		memcpy(ctl, b, n);
		free(b);
	}
	nl = nl_open();
	err = maq_nl_ctl_send(nl, dev_index(argv[1]), parse_u32(argv[2], "id"),
			      (uint8_t)parse_u32(argv[3], "hop"), ctl);
	if (err)
		die_nl(nl, err, "ctl-send");
	maq_nl_close(nl);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "install", cmd_install }, { "del", cmd_del },
		{ "dev", cmd_dev }, { "devs", cmd_devs },
		{ "stats", cmd_stats }, { "reset", cmd_reset },
		{ "circuit", cmd_circuit }, { "circuits", cmd_circuits },
		{ "set", cmd_set }, { "send", cmd_send },
		{ "capture", cmd_capture }, { "inject", cmd_inject },
		{ "events", cmd_events }, { "cell-send", cmd_cell_send },
		{ "ctl-send", cmd_ctl_send },
	};
	size_t i;

	if (sodium_init() < 0)
		die("sodium_init failed");
	argv++;
	argc--;
	if (argc >= 2 && !strcmp(argv[0], "-n")) {
		enter_ns(argv[1]);
		argv += 2;
		argc -= 2;
	}
	if (argc < 1)
		usage();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[0], cmds[i].name)) {
			/* The -n namespace is home from now on. */
			if (orig_ns >= 0) {
				close(orig_ns);
				orig_ns = open("/proc/self/ns/net",
					       O_RDONLY | O_CLOEXEC);
			}
			optind = 1;
			return cmds[i].fn(argc, argv);
		}
	}
	usage();
}
