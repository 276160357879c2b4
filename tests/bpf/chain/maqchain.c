// SPDX-License-Identifier: GPL-2.0
/*
 * maqchain: the control plane of tests/bpf/chain.sh, for hosts without the
 * module.  It builds a circuit as tests/kmod/maqtool.c's install does (the
 * same keys, bases, cids and deltas), but installs each relay's part into
 * the XDP relay through daemon/xdp.c and runs the origin and the terminus
 * as userspace endpoints (daemon/endpoint.c), one process each, forked
 * after entering their network namespaces.
 *
 *   maqchain up --dir DIR [--pin-root ROOT] [--port P] [--id ID]
 *        [--lifetime S] [--mode auto|native|generic]
 *        --origin NS,TUN,OUT_ADDR
 *        --relay NS,IN_ADDR,OUT_ADDR,DEV[+DEV...]   (one to seven)
 *        --terminus NS,TUN,IN_ADDR
 *        --route PREFIX... --back-route PREFIX...
 *      Relays: XDP on every DEV, pins under ROOT/NS, hop installed.
 *      Endpoints: forked; each rewrites DIR/<origin|terminus>.stats every
 *      200 ms.  DIR/ready appears once both run.  Runs until SIGTERM or
 *      SIGINT, which it passes on; the endpoints remove their TUNs.
 *      A node whose TUN (endpoints) or DEV list (relays) is kmod:DEV is a
 *      maquis.ko node instead: its part goes to the module's device DEV
 *      over netlink (the device's port must be P), for circuits that mix
 *      module and userspace nodes.
 *   maqchain stats --ns NS [--pin-root ROOT] --dev DEV...
 *      Per-interface XDP counters (DEV.NAME=N), what is attached
 *      (DEV.variant, DEV.mode, DEV.prog, DEV.maq-dev), and every hop's
 *      (hop.CID.FIELD=N) of the relay in NS (pure variant).
 *   maqchain attach --ns NS [--pin-root ROOT] [--mode M] [--port P]
 *        [--variant auto|pure|kfunc] [--maq-dev DEV] --dev DEV...
 *      Only the loader: XDP on every DEV, no hop (the kfunc variant relays
 *      the circuits the module of NS has on --maq-dev, maq0 by default).
 *   maqchain detach --ns NS [--pin-root ROOT] --dev DEV...
 *   maqchain capture --ns NS --dev DEV --port P --out FILE [--count N]
 *        [--ready FILE] [--timeout MS]
 *      Records frames DEV sends to UDP port P (cells from the stack).
 *   maqchain inject --ns NS --dev DEV --in FILE [--index I]
 *        [--flip BYTE.BIT]
 *      Sends recorded frame I out of DEV again, with bit BIT of cell byte
 *      BYTE flipped and the UDP checksum made right for the new bytes, as
 *      an attacker on the link would.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../../../daemon/crypto.h"
#include "../../../daemon/endpoint.h"
#include "../../../daemon/xdp.h"
#include "../../lib/plan.h"

#define MAX_NODES	(MAQ_MAX_HOPS + 1)
#define MAX_DEVS	4
#define FRAME_MAX	2048

static const char *prog = "maqchain";
static volatile sig_atomic_t stop;

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: %s up --dir DIR [--pin-root ROOT] [--port P] [--id ID]\n"
		"            [--lifetime S] [--mode auto|native|generic]\n"
		"            --origin NS,TUN,OUT --relay NS,IN,OUT,DEV[+DEV]...\n"
		"            --terminus NS,TUN,IN --route PFX... --back-route PFX...\n"
		"       %s stats|attach|detach --ns NS [--pin-root ROOT]\n"
		"            [--mode auto|native|generic] [--port P]\n"
		"            [--variant auto|pure|kfunc] [--maq-dev DEV] --dev DEV...\n"
		"       %s capture --ns NS --dev DEV --port P --out FILE [--count N]\n"
		"            [--ready FILE] [--timeout MS]\n"
		"       %s inject --ns NS --dev DEV --in FILE [--index I] [--flip BYTE.BIT]\n",
		prog, prog, prog, prog);
	exit(2);
}

/* ---- namespaces ---------------------------------------------------------- */

static int home_ns = -1;

static void enter_ns(const char *ns)
{
	char path[PATH_MAX];
	int fd;

	if (home_ns < 0) {
		home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (home_ns < 0)
			die("/proc/self/ns/net: %s", strerror(errno));
	}
	if (!ns) {
		if (setns(home_ns, CLONE_NEWNET))
			die("setns back: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	if (setns(fd, CLONE_NEWNET))
		die("setns %s: %s", ns, strerror(errno));
	close(fd);
}

static void ns_root(char *buf, size_t len, const char *root, const char *ns)
{
	if (snprintf(buf, len, "%s/%s", root, ns) >= (int)len)
		die("pin root too long");
}

/* ---- up ------------------------------------------------------------------ */

struct node {
	char ns[64];
	char kmod[IF_NAMESIZE];	/* maquis.ko device, or "" */
	char tun[IF_NAMESIZE];
	char in[64], out[64];
	char devs[MAX_DEVS][IF_NAMESIZE];
	int n_devs;
};

static void parse_node(const char *arg, struct node *n, bool relay, bool in,
		       bool out)
{
	char *s = strdup(arg), *save = NULL, *f[4], *d;
	int i, want = relay ? 4 : 3;

	if (!s)
		die("out of memory");
	memset(n, 0, sizeof(*n));
	for (i = 0; i < 4; i++) {
		f[i] = strtok_r(i ? NULL : s, ",", &save);
		if (!f[i])
			break;
	}
	if (i != want || strtok_r(NULL, ",", &save))
		die("bad node %s", arg);
	snprintf(n->ns, sizeof(n->ns), "%s", f[0]);
	d = f[relay ? 3 : 1];
	if (!strncmp(d, "kmod:", 5)) {
		if (!d[5] || strlen(d + 5) >= IF_NAMESIZE)
			die("bad maquis device in %s", arg);
		snprintf(n->kmod, sizeof(n->kmod), "%s", d + 5);
		*d = '\0';
	}
	if (relay) {
		snprintf(n->in, sizeof(n->in), "%s", f[1]);
		snprintf(n->out, sizeof(n->out), "%s", f[2]);
		for (d = strtok_r(f[3], "+", &save); d;
		     d = strtok_r(NULL, "+", &save)) {
			if (n->n_devs == MAX_DEVS)
				die("at most %d devices a relay", MAX_DEVS);
			snprintf(n->devs[n->n_devs++], IF_NAMESIZE, "%s", d);
		}
	} else {
		snprintf(n->tun, sizeof(n->tun), "%s", f[1]);
		if (in)
			snprintf(n->in, sizeof(n->in), "%s", f[2]);
		if (out)
			snprintf(n->out, sizeof(n->out), "%s", f[2]);
	}
	free(s);
}

static void addr_of(const char *a, uint16_t port, union maq_sockaddr *sa)
{
	if (maq_sockaddr_parse(a, port, sa))
		die("bad address %s", a);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	rename(tmp, path);
}

static void dump_stats(struct maq_ep *ep, uint32_t id, const char *dir,
		       const char *role)
{
	char text[4096], name[64];
	struct maq_stats st;
	uint64_t cover;
	size_t off = 0;
	int pass, i;

	for (pass = 0; pass < 2; pass++) {
		if (maq_ep_stats(ep, pass ? id : 0, &st, &cover))
			continue;
		for (i = 0; i <= MAQUIS_A_STATS_MAX; i++)
			if (maq_stat_name(i))
				off += snprintf(text + off, sizeof(text) - off,
						"%s.%s=%" PRIu64 "\n",
						pass ? "circ" : "dev",
						maq_stat_name(i), st.val[i]);
		off += snprintf(text + off, sizeof(text) - off,
				"%s.cover=%" PRIu64 "\n", pass ? "circ" : "dev",
				cover);
	}
	snprintf(name, sizeof(name), "%s.stats", role);
	write_file(dir, name, text);
}

/*
 * One endpoint, in its own process and namespace, until told to stop.
 * Reports readiness (or the error) through @wfd.
 */
static int run_endpoint(const struct node *n, struct maq_circuit *c,
			uint16_t port, const char *dir, const char *role,
			int wfd)
{
	struct maq_ep_opts o = { .port = port };
	struct maq_ep *ep;
	uint64_t last = 0;
	int err;

	enter_ns(n->ns);
	err = maq_ep_open(&ep, n->tun, &o);
	if (!err) {
		err = maq_ep_add_circuit(ep, c);
		if (err)
			maq_ep_close(ep);
	}
	maq_circuit_wipe(c);
	if (write(wfd, &err, sizeof(err)) != sizeof(err) || err)
		return 1;
	close(wfd);

	while (!stop) {
		struct timespec ts;
		uint64_t now;

		err = maq_ep_run_once(ep, 200);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "%s: %s: %s\n", prog, role, strerror(-err));
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
		if (now - last >= 200) {
			dump_stats(ep, c->id, dir, role);
			last = now;
		}
	}
	dump_stats(ep, c->id, dir, role);
	maq_ep_close(ep);
	return 0;
}

static pid_t spawn_endpoint(const struct node *n, struct maq_circuit *c,
			    uint16_t port, const char *dir, const char *role)
{
	int p[2], err = 0;
	pid_t pid;

	if (pipe(p))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		close(p[0]);
		_exit(run_endpoint(n, c, port, dir, role, p[1]));
	}
	close(p[1]);
	maq_circuit_wipe(c);
	if (read(p[0], &err, sizeof(err)) != sizeof(err))
		err = -EPIPE;
	close(p[0]);
	if (err) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		die("%s in %s: %s", role, n->ns, strerror(-err));
	}
	return pid;
}

static enum maq_xdp_mode parse_mode(const char *s)
{
	if (!strcmp(s, "auto"))
		return MAQ_XDP_MODE_AUTO;
	if (!strcmp(s, "native"))
		return MAQ_XDP_MODE_NATIVE;
	if (!strcmp(s, "generic"))
		return MAQ_XDP_MODE_GENERIC;
	die("bad mode %s", s);
	return MAQ_XDP_MODE_AUTO;
}

static enum maq_xdp_variant parse_variant(const char *s)
{
	if (!strcmp(s, "auto"))
		return MAQ_XDP_VARIANT_AUTO;
	if (!strcmp(s, "pure"))
		return MAQ_XDP_VARIANT_PURE;
	if (!strcmp(s, "kfunc"))
		return MAQ_XDP_VARIANT_KFUNC;
	die("bad variant %s (auto, pure or kfunc)", s);
	return MAQ_XDP_VARIANT_AUTO;
}

static void install_relay(const struct node *n, const struct maq_circuit *c,
			  const char *root, uint16_t port,
			  enum maq_xdp_mode mode, int k)
{
	struct maq_xdp_opts o = { .port = port, .mode = mode };
	struct maq_xdp *x[MAX_DEVS];
	char nsroot[PATH_MAX / 2];
	int i, err;

	ns_root(nsroot, sizeof(nsroot), root, n->ns);
	o.pin_root = nsroot;
	enter_ns(n->ns);
	for (i = 0; i < n->n_devs; i++) {
		err = maq_xdp_open(n->devs[i], &o, &x[i]);
		if (err)
			die("relay %d: XDP on %s in %s: %s", k, n->devs[i],
			    n->ns, strerror(-err));
		printf("relay%d.%s.mode=%s\nrelay%d.%s.prog=%u\n", k,
		       n->devs[i], maq_xdp_mode_name(maq_xdp_mode(x[i])), k,
		       n->devs[i], maq_xdp_prog_id(x[i]));
	}
	/* one table for the host: any handle installs for all */
	err = maq_xdp_hop_add(x[0], c);
	if (err)
		die("relay %d: hop: %s", k, strerror(-err));
	for (i = 0; i < n->n_devs; i++)
		maq_xdp_close(x[i]);
	enter_ns(NULL);
}

/* A maquis.ko node's part, over netlink in its namespace. */
static void install_kmod(const struct node *n, struct maq_circuit *c,
			 uint16_t port, const char *what)
{
	struct maq_dev dev;
	struct maq_nl *nl;
	int err;

	enter_ns(n->ns);
	c->ifindex = if_nametoindex(n->kmod);
	if (!c->ifindex)
		die("%s: no device %s in %s", what, n->kmod, n->ns);
	err = maq_nl_open(&nl);
	if (err)
		die("%s: netlink: %s", what, strerror(-err));
	err = maq_nl_dev_get(nl, c->ifindex, &dev);
	if (!err && dev.port != port)
		die("%s: %s in %s listens on port %u, not %u", what, n->kmod,
		    n->ns, dev.port, port);
	if (!err)
		err = maq_nl_circuit_new(nl, c);
	if (err)
		die("%s: circuit-new on %s in %s: %s%s%s", what, n->kmod, n->ns,
		    strerror(-err), *maq_nl_errmsg(nl) ? ": " : "",
		    maq_nl_errmsg(nl));
	maq_nl_close(nl);
	enter_ns(NULL);
}

static int cmd_up(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "pin-root", required_argument, NULL, 'P' },
		{ "port", required_argument, NULL, 'p' },
		{ "id", required_argument, NULL, 'i' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "mode", required_argument, NULL, 'm' },
		{ "origin", required_argument, NULL, 'o' },
		{ "relay", required_argument, NULL, 'r' },
		{ "terminus", required_argument, NULL, 't' },
		{ "route", required_argument, NULL, 'R' },
		{ "back-route", required_argument, NULL, 'B' },
		{ NULL, 0, NULL, 0 },
	};
	struct maq_prefix routes[MAQ_NL_MAX_ROUTES], back[MAQ_NL_MAX_ROUTES];
	unsigned int nroutes = 0, nback = 0;
	const char *dir = NULL, *root = MAQ_XDP_PIN_ROOT;
	enum maq_xdp_mode mode = MAQ_XDP_MODE_AUTO;
	struct node nodes[MAX_NODES + 1], term;
	bool have_origin = false, have_term = false;
	uint32_t id = 1, lifetime = 3600;
	uint16_t port = MAQ_DEFAULT_PORT;
	struct maq_plan plan;
	int nnodes = 1, nhops, i, k, opt, status;
	struct maq_circuit *c;
	struct sigaction sa;
	pid_t pt = 0, po = 0, w;
	char text[1024];
	size_t off = 0;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'P':
			root = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'i':
			id = strtoul(optarg, NULL, 0);
			break;
		case 'l':
			lifetime = strtoul(optarg, NULL, 0);
			break;
		case 'm':
			mode = parse_mode(optarg);
			break;
		case 'o':
			parse_node(optarg, &nodes[0], false, false, true);
			have_origin = true;
			break;
		case 'r':
			if (nnodes >= MAQ_MAX_HOPS)
				die("at most %d relays", MAQ_MAX_HOPS - 1);
			parse_node(optarg, &nodes[nnodes++], true, true, true);
			break;
		case 't':
			parse_node(optarg, &term, false, true, false);
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
	if (!dir || !have_origin || !have_term || optind != argc || !id)
		usage();
	nodes[nnodes++] = term;
	nhops = nnodes - 1;
	if (mkdir(root, 0700) && errno != EEXIST)
		die("%s: %s", root, strerror(errno));

	maq_plan_init(&plan, id, lifetime, nhops);
	c = calloc(1, sizeof(*c));
	if (!c)
		die("out of memory");

	/* Relays, backwards as maqtool does (a daemon would, after CREATED). */
	for (k = nhops - 1; k >= 1; k--) {
		maq_plan_part(&plan, k, c);
		addr_of(nodes[k + 1].in, port, &c->next);
		addr_of(nodes[k - 1].out, port, &c->prev);
		if (nodes[k].kmod[0]) {
			snprintf(text, sizeof(text), "relay %d", k);
			install_kmod(&nodes[k], c, port, text);
		} else {
			install_relay(&nodes[k], c, root, port, mode, k);
		}
		maq_circuit_wipe(c);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	maq_plan_part(&plan, nhops, c);
	addr_of(nodes[nhops - 1].out, port, &c->prev);
	memcpy(c->routes, back, sizeof(back[0]) * nback);
	c->n_routes = nback;
	if (nodes[nhops].kmod[0])
		install_kmod(&nodes[nhops], c, port, "terminus");
	else
		pt = spawn_endpoint(&nodes[nhops], c, port, dir, "terminus");

	maq_plan_part(&plan, 0, c);
	addr_of(nodes[1].in, port, &c->next);
	memcpy(c->routes, routes, sizeof(routes[0]) * nroutes);
	c->n_routes = nroutes;
	if (nodes[0].kmod[0])
		install_kmod(&nodes[0], c, port, "origin");
	else
		po = spawn_endpoint(&nodes[0], c, port, dir, "origin");

	sodium_memzero(c, sizeof(*c));
	free(c);

	off += snprintf(text + off, sizeof(text) - off,
			"id=%u\nhops=%d\norigin.pid=%d\nterminus.pid=%d\n",
			id, nhops, (int)po, (int)pt);
	for (i = 0; i < nhops; i++)
		off += snprintf(text + off, sizeof(text) - off,
				"link%d.fwd-cid=%u\nlink%d.back-cid=%u\n",
				i, plan.fcid[i], i, plan.bcid[i]);
	maq_plan_wipe(&plan);
	fputs(text, stdout);
	fflush(stdout);
	write_file(dir, "ready", text);

	/* Until told, or until an endpoint dies (then the other goes too). */
	while (!stop && !po && !pt)
		pause();
	while (!stop) {
		w = waitpid(-1, &status, 0);
		if (w < 0 && errno == EINTR)
			continue;
		if (w == po)
			po = 0;
		if (w == pt)
			pt = 0;
		break;
	}
	if (po)
		kill(po, SIGTERM);
	if (pt)
		kill(pt, SIGTERM);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	return stop ? 0 : 1;
}

/* ---- stats / detach ------------------------------------------------------ */

struct relay_args {
	const char *ns, *root, *maq_dev;
	enum maq_xdp_mode mode;
	enum maq_xdp_variant variant;
	uint16_t port;
	const char *devs[MAX_DEVS];
	int n_devs;
};

static void parse_relay_args(int argc, char **argv, struct relay_args *a)
{
	static const struct option opts[] = {
		{ "ns", required_argument, NULL, 'n' },
		{ "pin-root", required_argument, NULL, 'P' },
		{ "dev", required_argument, NULL, 'D' },
		{ "mode", required_argument, NULL, 'm' },
		{ "variant", required_argument, NULL, 'v' },
		{ "maq-dev", required_argument, NULL, 'M' },
		{ "port", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(a, 0, sizeof(*a));
	a->root = MAQ_XDP_PIN_ROOT;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			a->ns = optarg;
			break;
		case 'P':
			a->root = optarg;
			break;
		case 'D':
			if (a->n_devs == MAX_DEVS)
				die("too many devices");
			a->devs[a->n_devs++] = optarg;
			break;
		case 'm':
			a->mode = parse_mode(optarg);
			break;
		case 'v':
			a->variant = parse_variant(optarg);
			break;
		case 'M':
			a->maq_dev = optarg;
			break;
		case 'p':
			a->port = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!a->ns || !a->n_devs || optind != argc)
		usage();
}

static int cmd_stats(int argc, char **argv)
{
	static const char *const dirs[] = { "fwd", "back" };
	char mdev[IF_NAMESIZE];
	struct maq_xdp_status st;
	struct maq_xdp_hop_stats hs;
	char nsroot[PATH_MAX / 2];
	uint64_t val[MAQ_STAT_MAX];
	struct relay_args a;
	uint32_t cids[64];
	struct maq_xdp *x;
	int i, j, n, err;

	parse_relay_args(argc, argv, &a);
	ns_root(nsroot, sizeof(nsroot), a.root, a.ns);
	enter_ns(a.ns);
	for (i = 0; i < a.n_devs; i++) {
		err = maq_xdp_open_pinned(a.devs[i], nsroot, &x);
		if (err)
			die("%s: %s", a.devs[i], strerror(-err));
		err = maq_xdp_stats(x, val);
		if (err)
			die("%s: stats: %s", a.devs[i], strerror(-err));
		/* what is attached now; what the pins say for a device gone */
		if (maq_xdp_status(a.devs[i], nsroot, &st)) {
			st.variant = maq_xdp_variant(x);
			st.mode = maq_xdp_mode(x);
			st.prog_id = maq_xdp_prog_id(x);
		}
		if (!st.dev_ifindex || !if_indextoname(st.dev_ifindex, mdev))
			strcpy(mdev, "-");
		printf("%s.variant=%s\n%s.mode=%s\n%s.prog=%u\n"
		       "%s.maq-dev=%s\n", a.devs[i],
		       maq_xdp_variant_name(st.variant), a.devs[i],
		       maq_xdp_mode_name(st.mode), a.devs[i], st.prog_id,
		       a.devs[i], mdev);
		for (j = 0; j < MAQ_STAT_MAX; j++)
			printf("%s.%s=%" PRIu64 "\n", a.devs[i],
			       maq_xdp_stat_name(j), val[j]);
		if (i == 0) {
			n = maq_xdp_hop_list(x, cids, 64);
			for (j = 0; j < n; j++) {
				if (maq_xdp_hop_stats(x, cids[j], &hs))
					continue;
				printf("hop.%u.dir=%s\nhop.%u.cells=%" PRIu64
				       "\nhop.%u.bytes=%" PRIu64
				       "\nhop.%u.bad-tag=%" PRIu64
				       "\nhop.%u.replay=%" PRIu64
				       "\nhop.%u.replay-next=%" PRIu64 "\n",
				       cids[j], dirs[hs.dir & 1], cids[j],
				       hs.cells, cids[j], hs.bytes, cids[j],
				       hs.bad_tag, cids[j], hs.replay, cids[j],
				       hs.replay_next);
			}
		}
		maq_xdp_close(x);
	}
	return 0;
}

static int cmd_attach(int argc, char **argv)
{
	char nsroot[PATH_MAX / 2];
	struct maq_xdp_opts o = { 0 };
	struct relay_args a;
	struct maq_xdp *x;
	int i, err, rc = 0;

	parse_relay_args(argc, argv, &a);
	ns_root(nsroot, sizeof(nsroot), a.root, a.ns);
	o.pin_root = nsroot;
	o.mode = a.mode;
	o.variant = a.variant;
	o.maq_dev = a.maq_dev;
	o.port = a.port;
	enter_ns(a.ns);
	for (i = 0; i < a.n_devs; i++) {
		err = maq_xdp_open(a.devs[i], &o, &x);
		if (err) {
			printf("%s.error=%s\n", a.devs[i], strerror(-err));
			rc = 1;
			continue;
		}
		printf("%s.variant=%s\n%s.mode=%s\n%s.prog=%u\n", a.devs[i],
		       maq_xdp_variant_name(maq_xdp_variant(x)), a.devs[i],
		       maq_xdp_mode_name(maq_xdp_mode(x)), a.devs[i],
		       maq_xdp_prog_id(x));
		maq_xdp_close(x);
	}
	return rc;
}

static int cmd_detach(int argc, char **argv)
{
	char nsroot[PATH_MAX / 2];
	struct relay_args a;
	int i, err, rc = 0;

	parse_relay_args(argc, argv, &a);
	ns_root(nsroot, sizeof(nsroot), a.root, a.ns);
	enter_ns(a.ns);
	for (i = 0; i < a.n_devs; i++) {
		err = maq_xdp_detach_ifname(a.devs[i], nsroot);
		if (err) {
			fprintf(stderr, "%s: detach %s: %s\n", prog, a.devs[i],
				strerror(-err));
			rc = 1;
		}
	}
	return rc;
}

/* ---- capture / inject ---------------------------------------------------- */

static int packet_socket(const char *dev, int *ifindex)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
	};
	int fd;

	sll.sll_ifindex = *ifindex = if_nametoindex(dev);
	if (!*ifindex)
		die("%s: no such device", dev);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0)
		die("packet socket: %s", strerror(errno));
	if (bind(fd, (void *)&sll, sizeof(sll)))
		die("bind %s: %s", dev, strerror(errno));
	return fd;
}

/* Where the UDP header of an Ethernet/IPv4-or-IPv6 frame starts, or -1. */
static int udp_off(const uint8_t *f, size_t len)
{
	if (len < 14 + 40 + 8)
		return -1;
	if (f[12] == 0x08 && f[13] == 0x00 && f[14] == 0x45 && f[23] == 17)
		return 14 + 20;
	if (f[12] == 0x86 && f[13] == 0xdd && (f[14] >> 4) == 6 && f[20] == 17)
		return 14 + 40;
	return -1;
}

static int cmd_capture(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ns", required_argument, NULL, 'n' },
		{ "dev", required_argument, NULL, 'D' },
		{ "port", required_argument, NULL, 'p' },
		{ "out", required_argument, NULL, 'o' },
		{ "count", required_argument, NULL, 'c' },
		{ "ready", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ns = NULL, *dev = NULL, *out = NULL, *ready = NULL;
	int port = 0, count = 1, timeout = 10000, opt, fd, ifindex, got = 0;
	uint8_t f[FRAME_MAX];
	struct timespec t0, t;
	FILE *o;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			ns = optarg;
			break;
		case 'D':
			dev = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'o':
			out = optarg;
			break;
		case 'c':
			count = atoi(optarg);
			break;
		case 'r':
			ready = optarg;
			break;
		case 't':
			timeout = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!ns || !dev || !out || !port || count < 1 || optind != argc)
		usage();
	enter_ns(ns);
	fd = packet_socket(dev, &ifindex);
	o = fopen(out, "w");
	if (!o)
		die("%s: %s", out, strerror(errno));
	if (ready)
		write_file(".", ready, "1\n");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < count) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left;
		ssize_t n;
		int u;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = timeout - ((t.tv_sec - t0.tv_sec) * 1000 +
				  (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		n = recvfrom(fd, f, sizeof(f), 0, (void *)&from, &fl);
		if (n < 0)
			die("recv: %s", strerror(errno));
		if (from.sll_pkttype != PACKET_OUTGOING)
			continue;
		u = udp_off(f, n);
		if (u < 0 || (f[u + 2] << 8 | f[u + 3]) != port ||
		    (size_t)n != (size_t)u + 8 + MAQ_CELL_SIZE)
			continue;
		fprintf(o, "%zd\n", n);
		fwrite(f, 1, n, o);
		got++;
	}
	fclose(o);
	printf("captured=%d\n", got);
	return got == count ? 0 : 1;
}

static uint16_t csum_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint64_t sum16(const uint8_t *p, size_t len)
{
	uint64_t s = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint16_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint16_t)(p[len - 1] << 8);
	return s;
}

/* The UDP checksum over the frame's current bytes, written into it. */
static void udp_fix(uint8_t *f, int u, size_t len)
{
	size_t ulen = len - u;
	uint64_t s;
	uint16_t c;

	f[u + 6] = f[u + 7] = 0;
	if (f[12] == 0x08)
		s = sum16(f + 14 + 12, 8);
	else
		s = sum16(f + 14 + 8, 32);
	s += 17 + ulen + sum16(f + u, ulen);
	c = ~csum_fold(s);
	if (!c)
		c = 0xffff;
	f[u + 6] = c >> 8;
	f[u + 7] = c & 0xff;
}

static int cmd_inject(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ns", required_argument, NULL, 'n' },
		{ "dev", required_argument, NULL, 'D' },
		{ "in", required_argument, NULL, 'i' },
		{ "index", required_argument, NULL, 'x' },
		{ "flip", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ns = NULL, *dev = NULL, *in = NULL, *flip = NULL;
	int idx = 0, opt, fd, ifindex, i, u, byte = -1, bit = 0;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	uint8_t f[FRAME_MAX];
	size_t len = 0;
	FILE *fi;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			ns = optarg;
			break;
		case 'D':
			dev = optarg;
			break;
		case 'i':
			in = optarg;
			break;
		case 'x':
			idx = atoi(optarg);
			break;
		case 'f':
			flip = optarg;
			break;
		default:
			usage();
		}
	}
	if (!ns || !dev || !in || optind != argc)
		usage();
	if (flip && (sscanf(flip, "%d.%d", &byte, &bit) != 2 || byte < 0 ||
		     byte >= MAQ_CELL_SIZE || bit < 0 || bit > 7))
		die("bad --flip %s", flip);
	fi = fopen(in, "r");
	if (!fi)
		die("%s: %s", in, strerror(errno));
	for (i = 0; i <= idx; i++) {
		if (fscanf(fi, "%zu\n", &len) != 1 || len > sizeof(f) ||
		    fread(f, 1, len, fi) != len)
			die("%s: no frame %d", in, idx);
	}
	fclose(fi);
	u = udp_off(f, len);
	if (u < 0)
		die("frame %d is not UDP", idx);
	if (byte >= 0)
		f[u + 8 + byte] ^= 1 << bit;
	/* the recorded one may carry a partial (offload) checksum */
	udp_fix(f, u, len);

	enter_ns(ns);
	fd = packet_socket(dev, &ifindex);
	sll.sll_ifindex = ifindex;
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, f, 6);
	if (sendto(fd, f, len, 0, (void *)&sll, sizeof(sll)) != (ssize_t)len)
		die("send: %s", strerror(errno));
	printf("injected=%zu\n", len);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "up", cmd_up }, { "stats", cmd_stats },
		{ "attach", cmd_attach }, { "detach", cmd_detach },
		{ "capture", cmd_capture },
		{ "inject", cmd_inject },
	};
	size_t i;

	if (argc < 2)
		usage();
	if (maq_crypto_init())
		die("libsodium init failed");
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	usage();
	return 2;
}
