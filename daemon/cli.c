// SPDX-License-Identifier: GPL-2.0
/*
 * maquis: the command line tool.  A subcommand table in the manner of wg(8):
 * read commands print a table on a terminal, tab-separated lines otherwise
 * (stable, for scripts) and JSON with --json.  Kernel state is read over the
 * "maquis" generic netlink family, the daemon's over its control socket
 * (ipc.h), the XDP relay's from the kernel and its pins (xdp.h), which
 * `maquis xdp` also attaches and detaches: it never installs hops, which
 * are the daemon's.  Nothing here ever handles key material except
 * keygen/pubkey, which use stdin/stdout, never argv.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <sodium.h>

#include "alias_rec.h"
#include "ipc.h"
#include "nl.h"
#include "rate.h"
#include "xdp.h"

/* A build waits for every hop's CREATED; the rest answer at once. */
#define BUILD_TIMEOUT_MS	60000
#define CALL_TIMEOUT_MS		5000

enum out_mode { OUT_TABLE, OUT_TSV, OUT_JSON };

struct cli {
	struct maq_nl *nl;
	enum out_mode mode;
	const char *prog;
	const char *sock;		/* maquisd's control socket */
	const char *pin_root;		/* NULL: MAQ_XDP_PIN_ROOT */
};

static int fail(const struct cli *cli, int err, const char *what)
{
	const char *msg = cli->nl ? maq_nl_errmsg(cli->nl) : "";

	fprintf(stderr, "%s: %s: %s%s%s\n", cli->prog, what, strerror(-err),
		*msg ? ": " : "", msg);
	return 1;
}

static int usage_error(const struct cli *cli, const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", cli->prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '%s help'.\n", cli->prog);
	return 2;
}

/*
 * Open the "maquis" family.  An absent module is -ENOENT, silently, when
 * @optional; otherwise 0 or the exit status after saying what went wrong.
 */
static int nl_get(struct cli *cli, bool optional)
{
	int err;

	if (cli->nl)
		return 0;
	err = maq_nl_open(&cli->nl);
	if (err == -ENOENT) {
		if (optional)
			return -ENOENT;
		fprintf(stderr, "%s: the maquis module is not loaded\n",
			cli->prog);
		return 1;
	}
	return err ? fail(cli, err, "netlink") : 0;
}

static int nl_need(struct cli *cli)
{
	return nl_get(cli, false);
}

/*
 * Strip the global options anywhere in argv: "--json", "--socket PATH" and
 * "--pin-root PATH" (or --name=PATH).  Returns the new argc, or -1 after a
 * usage error.
 */
static int take_flags(struct cli *cli, int argc, char **argv)
{
	static const char *const names[] = { "--socket", "--pin-root" };
	const char **dst, *v;
	int i, j = 0;
	size_t k, len;

	cli->mode = isatty(STDOUT_FILENO) ? OUT_TABLE : OUT_TSV;
	cli->sock = maq_ipc_path();
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			cli->mode = OUT_JSON;
			continue;
		}
		dst = NULL;
		v = NULL;
		for (k = 0; k < 2 && !dst; k++) {
			len = strlen(names[k]);
			if (strncmp(argv[i], names[k], len))
				continue;
			if (argv[i][len] == '=')
				v = argv[i] + len + 1;
			else if (!argv[i][len] && i + 1 < argc)
				v = argv[++i];
			else if (argv[i][len])
				continue;
			dst = k ? &cli->pin_root : &cli->sock;
		}
		if (!dst) {
			argv[j++] = argv[i];
			continue;
		}
		if (!v || !*v) {
			usage_error(cli, "%s needs a path", names[k - 1]);
			return -1;
		}
		*dst = v;
	}
	if (cli->pin_root && cli->pin_root[0] != '/') {
		usage_error(cli, "--pin-root: '%s' is not an absolute path",
			    cli->pin_root);
		return -1;
	}
	argv[j] = NULL;
	return j;
}

/* A JSON string, escaped (values come from the daemon). */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* --- maquisd ------------------------------------------------------------ */

static const char *ipc_errstr(int err)
{
	switch (err) {
	case -EPROTO:
		return "malformed reply";
	case -EMSGSIZE:
		return "reply too large";
	case -ETIMEDOUT:
		return "no reply in time";
	default:
		return strerror(-err);
	}
}

/*
 * Ask maquisd.  0 with @r to free (its r->err is the daemon's answer), -1
 * when no daemon listens and @optional (nothing printed), else the exit
 * status after saying what went wrong.
 */
static int daemon_call(struct cli *cli, const struct maq_ipc_req *req,
		       struct maq_ipc_reply *r, bool optional)
{
	int err;

	err = maq_ipc_call(cli->sock, req, r,
			   req->cmd == MAQ_IPC_BUILD ? BUILD_TIMEOUT_MS :
						       CALL_TIMEOUT_MS);
	if (!err)
		return 0;
	maq_ipc_reply_free(r);
	if (err == -ENOENT || err == -ECONNREFUSED) {
		if (optional)
			return -1;
		fprintf(stderr, "%s: maquisd is not running (%s socket at %s)\n",
			cli->prog, err == -ENOENT ? "no" : "a stale",
			cli->sock);
		return 1;
	}
	fprintf(stderr, "%s: maquisd at %s: %s\n", cli->prog, cli->sock,
		ipc_errstr(err));
	return 1;
}

/* The daemon's refusal, as it worded it; the exit status. */
static int daemon_refused(const struct cli *cli, const char *what,
			  struct maq_ipc_reply *r)
{
	fprintf(stderr, "%s: %s: %s\n", cli->prog, what,
		*r->message ? r->message : strerror(r->err));
	maq_ipc_reply_free(r);
	return 1;
}

/* A daemon command without arguments whose refusal is an error. */
static int daemon_need(struct cli *cli, enum maq_ipc_cmd cmd,
		       struct maq_ipc_reply *r)
{
	struct maq_ipc_req req = { .cmd = cmd };
	int rc = daemon_call(cli, &req, r, false);

	if (!rc && r->err)
		return daemon_refused(cli, maq_ipc_cmd_name(cmd), r);
	return rc;
}

static bool is_u64(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n && !s[n] && n <= 20 &&
	       (n < 20 || strcmp(s, "18446744073709551615") <= 0);
}

static bool in_list(const char *s, const char *const *list)
{
	for (; list && *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/*
 * Check a record [s, e) of a reply before printing any of it: every key
 * of @need present, every key of @nums (present) a number.  0, or the exit
 * status after naming the field.
 */
static int rec_check(const struct cli *cli, const char *what,
		     const struct maq_ipc_reply *r, size_t s, size_t e,
		     const char *const *need, const char *const *nums)
{
	const char *v;
	size_t i;

	for (; need && *need; need++) {
		if (!maq_ipc_field(r, s, e, *need)) {
			fprintf(stderr, "%s: %s: maquisd's reply lacks %s=\n",
				cli->prog, what, *need);
			return 1;
		}
	}
	for (i = s; i < e && i < r->n; i++) {
		v = r->pair[i].value;
		if (in_list(r->pair[i].key, nums) && !is_u64(v)) {
			fprintf(stderr, "%s: %s: maquisd sent %s='%s', not a number\n",
				cli->prog, what, r->pair[i].key, v);
			return 1;
		}
	}
	return 0;
}

/*
 * A record as the members of a JSON object, left open for the caller to
 * extend and close: @nums as numbers, "-" as null, @skip left out.
 */
static void json_rec(const struct maq_ipc_reply *r, size_t s, size_t e,
		     const char *const *skip, const char *const *nums)
{
	const char *sep = "";
	size_t i;

	putchar('{');
	for (i = s; i < e && i < r->n; i++) {
		const struct maq_ipc_pair *p = &r->pair[i];

		if (in_list(p->key, skip))
			continue;
		printf("%s", sep);
		json_str(p->key);
		putchar(':');
		if (in_list(p->key, nums))
			printf("%s", p->value);
		else if (!strcmp(p->value, "-"))
			printf("null");
		else
			json_str(p->value);
		sep = ",";
	}
}

static int parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || !*s || *end || x > UINT32_MAX || *s == '-')
		return -1;
	*v = x;
	return 0;
}

/* Resolve an optional device name argument to an ifindex (0: all). */
static int dev_arg(struct cli *cli, const char *name, uint32_t *ifindex)
{
	*ifindex = 0;
	if (!name)
		return 0;
	*ifindex = if_nametoindex(name);
	if (!*ifindex)
		return usage_error(cli, "no such device: '%s'", name);
	return 0;
}

static void json_stats(const struct maq_stats *st)
{
	const char *sep = "";
	int i;

	printf("{");
	for (i = 0; i <= MAQUIS_A_STATS_MAX; i++) {
		if (!(st->present & (1u << i)) || !maq_stat_name(i))
			continue;
		printf("%s\"%s\":%" PRIu64, sep, maq_stat_name(i), st->val[i]);
		sep = ",";
	}
	printf("}");
}

static void text_stats(const char *indent, const struct maq_stats *st,
		       bool tsv, const char *prefix)
{
	int i;

	for (i = 0; i <= MAQUIS_A_STATS_MAX; i++) {
		if (!(st->present & (1u << i)) || !maq_stat_name(i))
			continue;
		if (tsv)
			printf("%s\t%s\t%" PRIu64 "\n", prefix,
			       maq_stat_name(i), st->val[i]);
		else
			printf("%s%-18s %" PRIu64 "\n", indent,
			       maq_stat_name(i), st->val[i]);
	}
}

static int get_devs(struct cli *cli, uint32_t ifindex, struct maq_dev **devs,
		    size_t *n)
{
	int err;

	if (!ifindex)
		return maq_nl_dev_dump(cli->nl, devs, n);
	*devs = calloc(1, sizeof(**devs));
	if (!*devs)
		return -ENOMEM;
	*n = 1;
	err = maq_nl_dev_get(cli->nl, ifindex, *devs);
	if (err) {
		free(*devs);
		*devs = NULL;
		*n = 0;
	}
	return err;
}

static const char *dir_peer(const struct maq_circuit *c, bool next,
			    char *buf, size_t len)
{
	return maq_sockaddr_str(next ? &c->next : &c->prev, buf, len);
}

/* The daemon's record of one circuit, [s, e) of r's pairs. */
struct drec {
	const struct maq_ipc_reply *r;
	size_t s, e;
};

static const char *const circuit_nums[] = {
	"circuit", "age", "lifetime", "epoch", "hops", NULL
};
static const char *const circuit_skip[] = { "circuit", NULL };

/* What maquisd knows of a circuit, under the kernel's detail of it. */
static void print_drec(const struct cli *cli, const struct maq_dev *d,
		       const struct maq_circuit *c, const struct drec *dr)
{
	const struct maq_ipc_reply *r = dr->r;
	const char *to = maq_ipc_field(r, dr->s, dr->e, "to");
	size_t i;

#define DF(key) (maq_ipc_field(r, dr->s, dr->e, key) ?: "-")
	if (cli->mode == OUT_JSON) {
		printf(",\"maquisd\":");
		json_rec(r, dr->s, dr->e, circuit_skip, circuit_nums);
		putchar('}');
	} else if (cli->mode == OUT_TSV) {
		for (i = dr->s; i < dr->e; i++)
			if (strcmp(r->pair[i].key, "circuit"))
				printf("%s\t%u\tmaquisd.%s\t%s\n", d->ifname,
				       c->id, r->pair[i].key, r->pair[i].value);
	} else if (to) {
		printf("    maquisd: %s, epoch %s, to %s over %s hops: %s\n",
		       DF("state"), DF("epoch"), to, DF("hops"), DF("path"));
	} else {
		printf("    maquisd: %s, epoch %s, prev %s, next %s\n",
		       DF("state"), DF("epoch"), DF("prev"), DF("next"));
	}
#undef DF
}

static void print_circuit(const struct cli *cli, const struct maq_dev *d,
			  const struct maq_circuit *c, bool detail,
			  const struct drec *dr)
{
	char prev[64], next[64], pfx[64];
	unsigned int i;

	dir_peer(c, false, prev, sizeof(prev));
	dir_peer(c, true, next, sizeof(next));
	if (cli->mode == OUT_JSON) {
		printf("{\"device\":\"%s\",\"id\":%u,\"role\":\"%s\","
		       "\"fwd_cid_in\":%u,\"fwd_cid_out\":%u,"
		       "\"back_cid_in\":%u,\"back_cid_out\":%u,"
		       "\"prev\":\"%s\",\"next\":\"%s\",\"age\":%u,"
		       "\"lifetime\":%u,\"phase\":%u,\"routes\":[",
		       d->ifname, c->id, maq_role_name(c->role),
		       c->fwd_cid_in, c->fwd_cid_out, c->back_cid_in,
		       c->back_cid_out, prev, next, c->age, c->lifetime,
		       c->phase);
		for (i = 0; i < c->n_routes; i++)
			printf("%s\"%s\"", i ? "," : "",
			       maq_prefix_str(&c->routes[i], pfx, sizeof(pfx)));
		printf("],");
		if (MAQ_HAS(c, MAQUIS_A_JOIN))
			printf("\"join\":%u,", c->join);
		printf("\"stats\":");
		json_stats(&c->stats);
		if (detail && dr)
			print_drec(cli, d, c, dr);
		else if (detail)
			printf(",\"maquisd\":null");
		printf("}");
		return;
	}
	if (cli->mode == OUT_TSV) {
		printf("%s\t%u\t%s\t%s\t%s\t%u\t%u", d->ifname, c->id,
		       maq_role_name(c->role), prev, next, c->age,
		       c->lifetime);
		printf("\t%" PRIu64 "\t%" PRIu64 "\n",
		       c->stats.val[MAQUIS_A_STATS_CELLS_IN],
		       c->stats.val[MAQUIS_A_STATS_CELLS_OUT]);
		if (detail) {
			char key[32];

			snprintf(key, sizeof(key), "%s\t%u", d->ifname, c->id);
			text_stats("", &c->stats, true, key);
			if (dr)
				print_drec(cli, d, c, dr);
		}
		return;
	}
	printf("  %-10u %-9s %-24s %-24s %6us/%-6u %10" PRIu64 " %10" PRIu64
	       "\n", c->id, maq_role_name(c->role), prev, next, c->age,
	       c->lifetime, c->stats.val[MAQUIS_A_STATS_CELLS_IN],
	       c->stats.val[MAQUIS_A_STATS_CELLS_OUT]);
	if (!detail)
		return;
	printf("    cids: fwd %u -> %u, back %u -> %u, key phase %u\n",
	       c->fwd_cid_in, c->fwd_cid_out, c->back_cid_in,
	       c->back_cid_out, c->phase);
	if (MAQ_HAS(c, MAQUIS_A_JOIN))
		printf(c->join ? "    joined to circuit %u\n" :
		       "    joined, the other circuit is gone: data dropped\n",
		       c->join);
	for (i = 0; i < c->n_routes; i++)
		printf("    route: %s\n",
		       maq_prefix_str(&c->routes[i], pfx, sizeof(pfx)));
	text_stats("    ", &c->stats, false, NULL);
	if (dr)
		print_drec(cli, d, c, dr);
}

static void circuit_header(const struct cli *cli)
{
	if (cli->mode == OUT_TABLE)
		printf("  %-10s %-9s %-24s %-24s %13s %10s %10s\n", "ID",
		       "ROLE", "PREV", "NEXT", "AGE/LIFE", "CELLS-IN",
		       "CELLS-OUT");
}

/* circuits of one device; JSON elements are comma-joined via *first */
static int list_circuits(struct cli *cli, const struct maq_dev *d,
			 bool *first)
{
	struct maq_circuit *cs;
	size_t n, i;
	int err;

	err = maq_nl_circuit_dump(cli->nl, d->ifindex, &cs, &n);
	if (err)
		return err;
	if (cli->mode != OUT_JSON && n)
		circuit_header(cli);
	for (i = 0; i < n; i++) {
		if (cli->mode == OUT_JSON)
			printf("%s", *first ? "" : ",");
		*first = false;
		print_circuit(cli, d, &cs[i], false, NULL);
	}
	free(cs);
	return 0;
}

/* In JSON the device object is left open for the caller to extend. */
static void print_dev(const struct cli *cli, const struct maq_dev *d)
{
	char local[64], rate[80];

	maq_sockaddr_str(&d->local, local, sizeof(local));
	if (cli->mode == OUT_JSON) {
		printf("{\"device\":\"%s\",\"ifindex\":%u,\"port\":%u,"
		       "\"local\":\"%s\",\"circuits\":%u,\"max_circuits\":%u,"
		       "\"relay_rate\":%" PRIu64 ",\"relay_burst\":%u,"
		       "\"stats\":", d->ifname, d->ifindex, d->port,
		       MAQ_HAS(d, MAQUIS_A_LOCAL) ? local : "any",
		       d->n_circuits, d->max_circuits, d->relay_rate,
		       d->relay_burst);
		json_stats(&d->stats);
	} else if (cli->mode == OUT_TSV) {
		printf("%s\t%u\t%s\t%u\t%u\t%" PRIu64 "\t%u\n", d->ifname,
		       d->port, MAQ_HAS(d, MAQUIS_A_LOCAL) ? local : "any",
		       d->n_circuits, d->max_circuits, d->relay_rate,
		       d->relay_burst);
	} else {
		printf("device: %s\n  port: %u\n  local: %s\n"
		       "  circuits: %u of %u\n", d->ifname, d->port,
		       MAQ_HAS(d, MAQUIS_A_LOCAL) ? local : "any",
		       d->n_circuits, d->max_circuits);
		printf("  relay rate: %s, burst %u bytes\n",
		       maq_rate_str(d->relay_rate, rate, sizeof(rate)),
		       d->relay_burst);
	}
}

/*
 * The devices a read command names: "CMD [DEVICE]", all of them without one.
 * Returns 0 with *devs to free(), or the exit status to return.  With
 * @absent, no module is no error when no device is named: *absent is set
 * and there are none.
 */
static int devices_arg(struct cli *cli, int argc, char **argv,
		       const char *cmd, struct maq_dev **devs, size_t *n,
		       bool *absent)
{
	uint32_t ifindex;
	int err;

	*devs = NULL;
	*n = 0;
	if (absent)
		*absent = false;
	if (argc > 2) {
		fprintf(stderr, "%s: %s: unexpected argument '%s'\n",
			cli->prog, cmd, argv[2]);
		return 2;
	}
	err = dev_arg(cli, argv[1], &ifindex);
	if (err)
		return err;
	err = nl_get(cli, absent && !ifindex);
	if (err == -ENOENT) {
		*absent = true;
		return 0;
	}
	if (err)
		return err;
	err = get_devs(cli, ifindex, devs, n);
	return err ? fail(cli, err, "device") : 0;
}

/* Where a read command says it found no module, as show says no daemon. */
static void module_absent(const struct cli *cli)
{
	if (cli->mode != OUT_JSON)
		fprintf(cli->mode == OUT_TABLE ? stdout : stderr,
			"maquis module: not loaded\n");
}

/* --- the XDP fast path -------------------------------------------------- */

static const char *pin_root(const struct cli *cli)
{
	return cli->pin_root ? cli->pin_root : MAQ_XDP_PIN_ROOT;
}

/* libbpf's warnings say what the kernel refused; the rest is chatter. */
static int libbpf_warnings(enum libbpf_print_level level, const char *fmt,
			   va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

/*
 * An XDP operation on @ifname that failed, with what the operator can do
 * about the usual causes.  The exit status.
 */
static int xdp_fail(const struct cli *cli, const char *what,
		    const char *ifname, int err)
{
	if (err == -EMEDIUMTYPE) {
		fprintf(stderr, "%s: %s %s: %s is not on bpffs (mount -t bpf bpf /sys/fs/bpf; in a network namespace, enter it with nsenter --net: ip netns exec hides /sys/fs/bpf)\n",
			cli->prog, what, ifname, pin_root(cli));
		return 1;
	}
	fprintf(stderr, "%s: %s %s: %s%s\n", cli->prog, what, ifname,
		strerror(-err),
		err == -EPERM || err == -EACCES ? " (run as root)" : "");
	return 1;
}

/* What the kernel takes as an interface name (dev_valid_name()). */
static int ifname_arg(const struct cli *cli, const char *what, const char *s)
{
	char msg[96];
	size_t i, n = strlen(s);
	bool ok = n && n < IF_NAMESIZE && strcmp(s, ".") && strcmp(s, "..");

	for (i = 0; ok && i < n; i++)
		ok = s[i] != '/' && s[i] != ':' &&
		     !isspace((unsigned char)s[i]);
	if (ok)
		return 0;
	snprintf(msg, sizeof(msg), "%s: bad interface name '%.*s'", what,
		 IF_NAMESIZE * 2, s);
	return usage_error(cli, "%s", msg);
}

/* One interface as `xdp show` sees it. */
struct xdp_if {
	char name[IF_NAMESIZE];
	struct maq_xdp_status st;
	bool here;		/* the interface exists in this namespace */
};

/*
 * Fill @x for @name: 0, or the exit status after naming the failure.  An
 * interface that is not here is no error: its pins may be.
 */
static int xdp_probe(const struct cli *cli, const char *name,
		     struct xdp_if *x)
{
	uint64_t val[MAQ_STAT_MAX];
	int err;

	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", name);
	err = maq_xdp_status(name, cli->pin_root, &x->st);
	if (err == -ENODEV) {
		memset(&x->st, 0, sizeof(x->st));
		err = maq_xdp_stats_pinned(name, cli->pin_root, val);
		x->st.pinned = !err;
		if (err == -ENOENT)
			return 0;
	} else {
		x->here = true;
	}
	return err ? xdp_fail(cli, "xdp", name, err) : 0;
}
/*
 * The interfaces with a directory under the pin root, sorted; a colon there
 * stands for a dot of the name (xdp.h).  *names to free(): their count, or
 * -errno; no root is no pins.
 */
static int xdp_pinned_names(const struct cli *cli, char (**names)[IF_NAMESIZE])
{
	struct dirent **de;
	int nd, i, n = 0;
	char *p;

	*names = NULL;
	nd = scandir(pin_root(cli), &de, NULL, alphasort);
	if (nd < 0)
		return errno == ENOENT ? 0 : -errno;
	*names = calloc(nd ? nd : 1, sizeof(**names));
	for (i = 0; i < nd; i++) {
		if (*names && de[i]->d_type == DT_DIR &&
		    de[i]->d_name[0] != '.' &&
		    strlen(de[i]->d_name) < IF_NAMESIZE) {
			snprintf((*names)[n], IF_NAMESIZE, "%s", de[i]->d_name);
			for (p = (*names)[n]; *p; p++)
				if (*p == ':')
					*p = '.';
			n++;
		}
		free(de[i]);
	}
	free(de);
	return *names ? n : -ENOMEM;
}

/*
 * The interfaces of this namespace a maquis relay is attached to, in
 * ifindex order and, unless @attached_only, those with pins too, then
 * pinned names with no interface here.  *v to free(); 0, or the exit
 * status after naming what failed (what could be read is kept).
 */
static int xdp_list(const struct cli *cli, bool attached_only,
		    struct xdp_if **v, size_t *n)
{
	char (*names)[IF_NAMESIZE] = NULL;
	struct if_nameindex *ifs, *p;
	size_t cap = 0;
	int i, nn = 0, rc = 0;

	*v = NULL;
	*n = 0;
	ifs = if_nameindex();
	if (!ifs)
		return xdp_fail(cli, "xdp", "interfaces", -errno);
	for (p = ifs; p->if_index; p++)
		cap++;
	if (!attached_only) {
		nn = xdp_pinned_names(cli, &names);
		if (nn < 0) {
			rc = xdp_fail(cli, "xdp", pin_root(cli), nn);
			nn = 0;
		}
	}
	*v = calloc(cap + nn + 1, sizeof(**v));
	if (!*v) {
		if_freenameindex(ifs);
		free(names);
		return xdp_fail(cli, "xdp", "interfaces", -ENOMEM);
	}
	for (p = ifs; p->if_index; p++) {
		struct xdp_if *x = &(*v)[*n];

		if (xdp_probe(cli, p->if_name, x))
			rc = 1;
		else if (x->here && (x->st.prog_id ||
				     (!attached_only && x->st.pinned)))
			(*n)++;
	}
	for (i = 0; i < nn; i++) {
		struct xdp_if *x = &(*v)[*n];

		if (if_nametoindex(names[i]))
			continue;	/* here: the loop above saw it */
		if (xdp_probe(cli, names[i], x))
			rc = 1;
		else if (x->st.pinned)
			(*n)++;
	}
	if_freenameindex(ifs);
	free(names);
	return rc;
}

static const char *xdp_state(const struct xdp_if *x)
{
	if (x->st.prog_id)
		return "attached";
	return x->here ? "not-attached" : "no-interface";
}

/* The maquis device a kfunc relay serves, NULL for the pure variant. */
static const char *xdp_dev(const struct xdp_if *x, char *buf)
{
	if (!x->st.dev_ifindex)
		return NULL;
	if (!if_indextoname(x->st.dev_ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "ifindex-%u", x->st.dev_ifindex);
	return buf;
}

static void xdp_header(const struct cli *cli)
{
	if (cli->mode == OUT_TABLE)
		printf("  %-15s %-12s %-7s %-7s %8s %-15s %s\n", "INTERFACE",
		       "STATE", "VARIANT", "MODE", "PROG-ID", "DEVICE", "PINS");
}

/* One interface: a JSON object, a TSV line or a table row. */
static void xdp_print(const struct cli *cli, const struct xdp_if *x)
{
	const struct maq_xdp_status *st = &x->st;
	const char *var = NULL, *mode = NULL;
	char buf[IF_NAMESIZE], id[12] = "-";
	const char *dev = xdp_dev(x, buf);

	if (st->prog_id) {
		var = maq_xdp_variant_name(st->variant);
		mode = maq_xdp_mode_name(st->mode);
	}
	if (cli->mode == OUT_JSON) {
		printf("{\"interface\":");
		json_str(x->name);
		printf(",\"state\":\"%s\"", xdp_state(x));
		if (st->prog_id)
			printf(",\"variant\":\"%s\",\"mode\":\"%s\","
			       "\"prog_id\":%u", var, mode, st->prog_id);
		else
			printf(",\"variant\":null,\"mode\":null,"
			       "\"prog_id\":null");
		printf(",\"maq_dev\":");
		if (dev)
			json_str(dev);
		else
			printf("null");
		printf(",\"pinned\":%s,\"other_prog_id\":",
		       st->pinned ? "true" : "false");
		if (st->other_prog_id)
			printf("%u", st->other_prog_id);
		else
			printf("null");
		/* libxdp's, when the relay or the other program runs in one */
		if (st->dispatcher_id)
			printf(",\"dispatcher_id\":%u,\"shared_with\":%d}",
			       st->dispatcher_id, st->shared_with);
		else
			printf(",\"dispatcher_id\":null,\"shared_with\":0}");
	} else if (cli->mode == OUT_TSV) {
		printf("%s\t%s\t%s\t%s\t%u\t%s\t%d\t%u\n", x->name,
		       xdp_state(x), var ?: "-", mode ?: "-", st->prog_id,
		       dev ?: "-", st->pinned, st->other_prog_id);
	} else {
		if (st->prog_id)
			snprintf(id, sizeof(id), "%u", st->prog_id);
		printf("  %-15s %-12s %-7s %-7s %8s %-15s %s", x->name,
		       xdp_state(x), var ?: "-", mode ?: "-", id, dev ?: "-",
		       st->pinned ? "yes" : "no");
		if (st->other_prog_id)
			printf("  (XDP program %u is not maquis's)",
			       st->other_prog_id);
		else if (st->dispatcher_id)
			printf("  (in libxdp dispatcher %u, with %d other%s)",
			       st->dispatcher_id, st->shared_with,
			       st->shared_with == 1 ? "" : "s");
		putchar('\n');
	}
}

static const char *const show_nums[] = {
	"relays", "circuits", "serving", "uptime", NULL
};

/* The daemon part of show; not running is no error here. */
static int show_daemon(struct cli *cli)
{
	struct maq_ipc_req req = { .cmd = MAQ_IPC_SHOW };
	struct maq_ipc_reply r;
	size_t i;
	int rc;

	rc = daemon_call(cli, &req, &r, true);
	if (rc < 0) {
		if (cli->mode == OUT_JSON)
			printf("null");
		else
			fprintf(cli->mode == OUT_TABLE ? stdout : stderr,
				"maquisd: not running (no socket at %s)\n",
				cli->sock);
		return 0;
	}
	if (rc)
		return rc;
	if (r.err)
		return daemon_refused(cli, "show", &r);
	rc = rec_check(cli, "show", &r, 0, r.n, NULL, show_nums);
	if (rc) {
		maq_ipc_reply_free(&r);
		return rc;
	}
	if (cli->mode == OUT_JSON) {
		json_rec(&r, 0, r.n, NULL, show_nums);
		putchar('}');
	} else if (cli->mode == OUT_TABLE) {
		printf("maquisd: %s\n", cli->sock);
	}
	for (i = 0; i < r.n && cli->mode != OUT_JSON; i++) {
		if (cli->mode == OUT_TSV)
			printf("maquisd\t%s\t%s\n", r.pair[i].key,
			       r.pair[i].value);
		else
			printf("  %s: %s\n", r.pair[i].key, r.pair[i].value);
	}
	maq_ipc_reply_free(&r);
	return 0;
}

/* The XDP part of show: a line for each interface with a maquis relay. */
static int show_xdp(struct cli *cli)
{
	char buf[IF_NAMESIZE];
	const char *dev;
	struct xdp_if *v;
	size_t n, i;
	int rc;

	rc = xdp_list(cli, true, &v, &n);
	if (cli->mode == OUT_JSON)
		putchar('[');
	for (i = 0; i < n; i++) {
		if (cli->mode == OUT_JSON) {
			printf("%s", i ? "," : "");
			xdp_print(cli, &v[i]);
		} else if (cli->mode == OUT_TSV) {
			printf("xdp\t");
			xdp_print(cli, &v[i]);
		} else {
			dev = xdp_dev(&v[i], buf);
			printf("xdp: %s: %s, %s, program %u%s%s", v[i].name,
			       maq_xdp_variant_name(v[i].st.variant),
			       maq_xdp_mode_name(v[i].st.mode), v[i].st.prog_id,
			       dev ? ", for " : "", dev ?: "");
			if (v[i].st.dispatcher_id)
				printf(", in libxdp dispatcher %u",
				       v[i].st.dispatcher_id);
			putchar('\n');
		}
	}
	if (cli->mode == OUT_JSON)
		putchar(']');
	free(v);
	return rc;
}

static int cmd_show(struct cli *cli, int argc, char **argv)
{
	struct maq_dev *devs;
	bool first = true, absent;
	size_t n, i;
	int err = 0, rc, xrc;

	rc = devices_arg(cli, argc, argv, "show", &devs, &n, &absent);
	if (rc)
		return rc;
	if (cli->mode == OUT_JSON)
		printf(absent ? "{\"devices\":null" : "{\"devices\":[");
	else if (absent)
		module_absent(cli);
	for (i = 0; i < n; i++) {
		if (cli->mode == OUT_JSON) {
			bool cfirst = true;

			printf("%s", i ? "," : "");
			print_dev(cli, &devs[i]);
			printf(",\"circuit_list\":[");
			err = list_circuits(cli, &devs[i], &cfirst);
			printf("]}");
		} else {
			print_dev(cli, &devs[i]);
			err = list_circuits(cli, &devs[i], &first);
		}
		if (err)
			break;
	}
	free(devs);
	if (err) {
		if (cli->mode == OUT_JSON)
			printf("]}\n");
		return fail(cli, err, "circuits");
	}
	if (cli->mode == OUT_JSON)
		printf("%s,\"xdp\":", absent ? "" : "]");
	xrc = show_xdp(cli);
	if (cli->mode == OUT_JSON)
		printf(",\"maquisd\":");
	rc = show_daemon(cli);
	if (cli->mode == OUT_JSON)
		printf("}\n");
	return rc ? rc : xrc;
}

static int stats_daemon(struct cli *cli)
{
	struct maq_ipc_reply r;
	size_t i;
	int rc;

	rc = daemon_need(cli, MAQ_IPC_STATS, &r);
	if (rc)
		return rc;
	for (i = 0; i < r.n; i++) {
		if (!is_u64(r.pair[i].value)) {
			fprintf(stderr, "%s: stats: maquisd sent %s='%s', not a number\n",
				cli->prog, r.pair[i].key, r.pair[i].value);
			maq_ipc_reply_free(&r);
			return 1;
		}
	}
	if (cli->mode == OUT_JSON)
		printf("{");
	for (i = 0; i < r.n; i++) {
		const struct maq_ipc_pair *p = &r.pair[i];

		if (cli->mode == OUT_JSON) {
			printf("%s", i ? "," : "");
			json_str(p->key);
			printf(":%s", p->value);
		} else if (cli->mode == OUT_TSV) {
			printf("%s\t%s\n", p->key, p->value);
		} else {
			printf("%-32s %s\n", p->key, p->value);
		}
	}
	if (cli->mode == OUT_JSON)
		printf("}\n");
	maq_ipc_reply_free(&r);
	return 0;
}

/*
 * The XDP counters pinned for @names (see xdp_pinned_names()), per reason:
 * in JSON an object of objects by interface.  0, or the exit status after
 * naming an interface whose counters could not be read.
 */
static int stats_xdp(const struct cli *cli, char (*names)[IF_NAMESIZE], int n)
{
	uint64_t val[MAQ_STAT_MAX];
	bool first = true;
	int i, s, err, rc = 0;

	if (cli->mode == OUT_JSON)
		putchar('{');
	for (i = 0; i < n; i++) {
		err = maq_xdp_stats_pinned(names[i], cli->pin_root, val);
		if (err == -ENOENT)
			continue;	/* a directory without counters */
		if (err) {
			rc = xdp_fail(cli, "stats: xdp", names[i], err);
			continue;
		}
		if (cli->mode == OUT_JSON) {
			printf("%s", first ? "" : ",");
			json_str(names[i]);
			putchar(':');
		} else if (cli->mode == OUT_TABLE) {
			printf("xdp: %s\n", names[i]);
		}
		for (s = 0; s < MAQ_STAT_MAX; s++) {
			const char *name = maq_xdp_stat_name(s);

			if (cli->mode == OUT_JSON)
				printf("%s\"%s\":%" PRIu64, s ? "," : "{", name,
				       val[s]);
			else if (cli->mode == OUT_TSV)
				printf("xdp\t%s\t%s\t%" PRIu64 "\n", names[i],
				       name, val[s]);
			else
				printf("  %-18s %" PRIu64 "\n", name, val[s]);
		}
		if (cli->mode == OUT_JSON)
			putchar('}');
		first = false;
	}
	if (cli->mode == OUT_JSON)
		putchar('}');
	return rc;
}

static int cmd_stats(struct cli *cli, int argc, char **argv)
{
	char (*names)[IF_NAMESIZE] = NULL;
	struct maq_dev *devs;
	uint32_t ifindex, id = 0;
	size_t n, i;
	int err, nn = 0, xrc = 0;
	bool absent;

	if (argc >= 2 && !strcmp(argv[1], "--daemon")) {
		if (argc > 2)
			return usage_error(cli, "stats --daemon: unexpected argument '%s'",
					   argv[2]);
		return stats_daemon(cli);
	}
	if (argc >= 2 && !strcmp(argv[1], "reset")) {
		if (argc > 4)
			return usage_error(cli, "stats reset: unexpected '%s'",
					   argv[4]);
		if (argc < 3)
			return usage_error(cli, "%s", "stats reset: need a device");
		err = dev_arg(cli, argv[2], &ifindex);
		if (err)
			return err;
		if (argc == 4 && (parse_u32(argv[3], &id) || !id))
			return usage_error(cli, "bad circuit id '%s'", argv[3]);
		err = nl_need(cli);
		if (err)
			return err;
		err = maq_nl_stats_reset(cli->nl, ifindex, id);
		return err ? fail(cli, err, "stats reset") : 0;
	}
	err = devices_arg(cli, argc, argv, "stats", &devs, &n, &absent);
	if (err)
		return err;
	if (argc < 2) {
		nn = xdp_pinned_names(cli, &names);
		if (nn < 0) {
			xrc = xdp_fail(cli, "stats: xdp", pin_root(cli), nn);
			nn = 0;
		}
	}
	if (absent && !nn) {
		free(names);
		if (!xrc)
			fprintf(stderr, "%s: stats: the maquis module is not loaded and no XDP counters are pinned under %s\n",
				cli->prog, pin_root(cli));
		return 1;
	}
	if (cli->mode == OUT_JSON)
		printf(absent ? "{\"devices\":null" : "{\"devices\":[");
	else if (absent)
		module_absent(cli);
	for (i = 0; i < n; i++) {
		if (cli->mode == OUT_JSON) {
			printf("%s{\"device\":\"%s\",\"stats\":", i ? "," : "",
			       devs[i].ifname);
			json_stats(&devs[i].stats);
			printf("}");
		} else if (cli->mode == OUT_TSV) {
			text_stats("", &devs[i].stats, true, devs[i].ifname);
		} else {
			printf("device: %s\n", devs[i].ifname);
			text_stats("  ", &devs[i].stats, false, NULL);
		}
	}
	free(devs);
	if (cli->mode == OUT_JSON)
		printf("%s,\"xdp\":%s", absent ? "" : "]",
		       argc < 2 ? "" : "null");
	if (argc < 2)
		err = stats_xdp(cli, names, nn);
	if (cli->mode == OUT_JSON)
		printf("}\n");
	free(names);
	return xrc ? xrc : err;
}

static const char *const relay_need[] = {
	"id", "addr", "flags", "bandwidth", "expires", NULL
};
static const char *const relay_nums[] = {
	"bandwidth", "published", "expires", "worked", "blamed", "avoided_for",
	NULL
};
static const char *const relay_skip[] = { "self", NULL };

static int cmd_relays(struct cli *cli, int argc, char **argv)
{
	struct maq_ipc_reply r;
	size_t s = 0, e = 0;
	bool first = true;
	int64_t now = time(NULL);
	int rc;

	if (argc > 1)
		return usage_error(cli, "relays: unexpected argument '%s'",
				   argv[1]);
	rc = daemon_need(cli, MAQ_IPC_RELAYS, &r);
	if (rc)
		return rc;
	while (maq_ipc_record(&r, "relay", &s, &e)) {
		rc = rec_check(cli, "relays", &r, s, e, relay_need, relay_nums);
		if (rc) {
			maq_ipc_reply_free(&r);
			return rc;
		}
	}
	if (cli->mode == OUT_JSON)
		printf("[");
	else if (cli->mode == OUT_TABLE)
		printf("  %-16s %-24s %-10s %10s %9s %-18s %s\n", "IDENTITY",
		       "ADDRESS", "FLAGS", "BANDWIDTH", "EXPIRES", "PREFIX",
		       "TRUST");
	s = e = 0;
	while (maq_ipc_record(&r, "relay", &s, &e)) {
#define RF(key) (maq_ipc_field(&r, s, e, key) ?: "-")
		int64_t left = strtoull(RF("expires"), NULL, 10) - now;
		bool self = !strcmp(RF("self"), "1");
		char trust[64];

		if (left < 0)
			left = 0;
		if (cli->mode == OUT_JSON) {
			printf("%s", first ? "" : ",");
			json_rec(&r, s, e, relay_skip, relay_nums);
			printf(",\"expires_in\":%" PRId64 ",\"self\":%s}",
			       left, self ? "true" : "false");
		} else if (cli->mode == OUT_TSV) {
			printf("%s\t%s\t%s\t%s\t%s\t%s\t%" PRId64
			       "\t%s\t%d\t%s\t%s\t%s\n",
			       RF("id"), RF("relay"), RF("addr"), RF("addr2"),
			       RF("flags"), RF("bandwidth"), left,
			       RF("prefix"), self, RF("worked"), RF("blamed"),
			       RF("avoided_for"));
		} else {
			/* what this daemon saw of it (local trust) */
			if (strcmp(RF("avoided_for"), "-") &&
			    strcmp(RF("avoided_for"), "0"))
				snprintf(trust, sizeof(trust), "avoided %ss",
					 RF("avoided_for"));
			else
				snprintf(trust, sizeof(trust), "ok %s bad %s",
					 RF("worked"), RF("blamed"));
			printf("%c %-16s %-24s %-10s %5s kB/s %8" PRId64
			       "s %-18s %s\n", self ? '*' : ' ', RF("id"),
			       RF("addr"), RF("flags"), RF("bandwidth"), left,
			       RF("prefix"), trust);
		}
		first = false;
#undef RF
	}
	if (cli->mode == OUT_JSON)
		printf("]\n");
	else if (cli->mode == OUT_TABLE && !first)
		printf("(* this daemon)\n");
	maq_ipc_reply_free(&r);
	return 0;
}

/*
 * "ID [DEVICE]" of circuit show/destroy, checked before anything is asked
 * of the kernel or the daemon.
 */
static int circuit_args(struct cli *cli, int argc, char **argv,
			uint32_t *id, uint32_t *ifindex)
{
	if (argc < 2)
		return usage_error(cli, "circuit %s: need a circuit ID", argv[0]);
	if (argc > 3)
		return usage_error(cli, "circuit: unexpected argument '%s'",
				   argv[3]);
	if (parse_u32(argv[1], id) || !*id)
		return usage_error(cli, "bad circuit ID '%s'", argv[1]);
	return dev_arg(cli, argv[2], ifindex);
}

/* The one maquis device a circuit command means. */
static int circuit_dev(struct cli *cli, uint32_t ifindex, struct maq_dev *dev)
{
	struct maq_dev *devs;
	size_t n;
	int err;

	err = nl_need(cli);
	if (err)
		return err;
	err = get_devs(cli, ifindex, &devs, &n);
	if (err)
		return fail(cli, err, "device");
	if (n != 1) {
		free(devs);
		return usage_error(cli, "%s", n ? "several maquis devices: name one"
						: "no maquis device");
	}
	*dev = devs[0];
	free(devs);
	return 0;
}

/*
 * The value of option @name ("--name V" or "--name=V") at argv[*i]: 0, with
 * *i on its last word; 1 when argv[*i] is something else; 2 after a usage
 * error.
 */
static int opt_value(struct cli *cli, int argc, char **argv, int *i,
		     const char *name, const char **val)
{
	size_t len = strlen(name);

	if (strncmp(argv[*i], name, len))
		return 1;
	if (argv[*i][len] == '=')
		*val = argv[*i] + len + 1;
	else if (argv[*i][len])
		return 1;
	else if (*i + 1 < argc)
		*val = argv[++*i];
	else
		return usage_error(cli, "%s needs a value", name);
	return 0;
}

/*
 * Which of the @n options @opts argv[*i] is, its value in *val: the index,
 * or -1 after a usage error naming the argument (@cmd's).
 */
static int opt_which(struct cli *cli, int argc, char **argv, int *i,
		     const char *cmd, const char *const *opts, int n,
		     const char **val)
{
	char msg[128];
	int k, rc;

	for (k = 0; k < n; k++) {
		rc = opt_value(cli, argc, argv, i, opts[k], val);
		if (rc != 1)
			return rc ? -1 : k;
	}
	snprintf(msg, sizeof(msg), "%s: unknown argument '%.64s'", cmd,
		 argv[*i]);
	usage_error(cli, "%s", msg);
	return -1;
}

/* A relay name or destination: what the control socket can carry. */
static int name_arg(struct cli *cli, const char *opt, const char *v)
{
	char msg[64];
	size_t i;

	msg[0] = '\0';
	if (!*v)
		snprintf(msg, sizeof(msg), "%s: empty", opt);
	else if (strlen(v) > MAQ_IPC_MAX_VALUE)
		snprintf(msg, sizeof(msg), "%s: longer than %d bytes", opt,
			 MAQ_IPC_MAX_VALUE);
	for (i = 0; v[i] && !msg[0]; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			snprintf(msg, sizeof(msg), "%s: control character",
				 opt);
	return msg[0] ? usage_error(cli, "%s", msg) : 0;
}

/*
 * --to ALIAS (PROTOCOL 9): lower-cased, checked here, and alone: the
 * rendezvous circuits take the daemon's hops and lifetime.  0 when @req's
 * destination is no alias or a valid one.
 */
static int to_alias(struct cli *cli, struct maq_ipc_req *req, bool opts)
{
	u8 pk[MAQ_ALIAS_PK_LEN];
	const char *why = "";
	char msg[160];
	int rc;

	rc = maq_alias_arg(req->to, pk, &why);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "--to: '%.60s' is not a valid alias: %s",
			 req->to, why);
		return usage_error(cli, "%s", msg);
	}
	if (rc && (opts || req->n_via))
		return usage_error(cli, "%s",
				   "--to ALIAS: --hops, --via and --lifetime do not apply to a rendezvous");
	return 0;
}

static int circuit_build_args(struct cli *cli, int argc, char **argv,
			      struct maq_ipc_req *req)
{
	static const char *const opts[] = {
		"--hops", "--lifetime", "--via", "--to",
	};
	bool hops_set = false, life_set = false;
	const char *v;
	uint32_t x;
	int i;

	for (i = 1; i < argc; i++) {
		switch (opt_which(cli, argc, argv, &i, "circuit build", opts, 4,
				  &v)) {
		case -1:
			return 2;
		case 0:
			if (hops_set)
				return usage_error(cli, "%s", "--hops given twice");
			if (parse_u32(v, &x) || !x || x > MAQ_MAX_HOPS - 1)
				return usage_error(cli, "--hops: bad number '%s' (1..7)",
						   v);
			req->hops = x;
			hops_set = true;
			break;
		case 1:
			if (life_set)
				return usage_error(cli, "%s", "--lifetime given twice");
			if (parse_u32(v, &x) || !x || x > MAQ_IPC_MAX_LIFETIME)
				return usage_error(cli, "--lifetime: bad number of seconds '%s' (1..86400)",
						   v);
			req->lifetime = x;
			life_set = true;
			break;
		case 2:
			if (req->n_via == MAQ_MAX_HOPS - 1)
				return usage_error(cli, "%s", "--via: more than 7");
			if (name_arg(cli, "--via", v))
				return 2;
			strcpy(req->via[req->n_via++], v);
			break;
		default:
			if (req->to[0])
				return usage_error(cli, "%s", "--to given twice");
			if (name_arg(cli, "--to", v))
				return 2;
			strcpy(req->to, v);
		}
	}
	if (!req->to[0])
		return usage_error(cli, "%s", "circuit build: --to is required");
	if (to_alias(cli, req, hops_set || life_set))
		return 2;
	if (req->hops && req->n_via > req->hops) {
		char msg[64];

		snprintf(msg, sizeof(msg), "more --via (%u) than --hops (%u)",
			 req->n_via, req->hops);
		return usage_error(cli, "%s", msg);
	}
	return 0;
}

static const char *const build_need[] = {
	"circuit", "to", "hops", "path", "setup_ms", NULL
};
static const char *const build_nums[] = {
	"circuit", "hops", "setup_ms", NULL
};

static int circuit_build(struct cli *cli, int argc, char **argv)
{
	struct maq_ipc_req req = { .cmd = MAQ_IPC_BUILD };
	struct maq_ipc_reply r;
	const char *path, *p;
	char hop[MAQ_IPC_MAX_VALUE + 1];
	size_t n;
	int rc;

	rc = circuit_build_args(cli, argc, argv, &req);
	if (rc)
		return rc;
	rc = daemon_call(cli, &req, &r, false);
	if (rc)
		return rc;
	if (r.err)
		return daemon_refused(cli, "circuit build", &r);
	rc = rec_check(cli, "circuit build", &r, 0, r.n, build_need,
		       build_nums);
	if (rc) {
		maq_ipc_reply_free(&r);
		return rc;
	}
#define BF(key) maq_ipc_field(&r, 0, r.n, key)
	path = BF("path");
	if (cli->mode == OUT_JSON) {
		printf("{\"id\":%s,\"to\":", BF("circuit"));
		json_str(BF("to"));
		printf(",\"hops\":%s,\"path\":[", BF("hops"));
		for (p = path; *p; p += n + (p[n] == ',')) {
			n = strcspn(p, ",");
			snprintf(hop, sizeof(hop), "%.*s", (int)n, p);
			printf("%s", p == path ? "" : ",");
			json_str(hop);
		}
		printf("],\"setup_ms\":%s}\n", BF("setup_ms"));
	} else if (cli->mode == OUT_TSV) {
		printf("%s\t%s\t%s\t%s\t%s\n", BF("circuit"), BF("to"),
		       BF("hops"), path, BF("setup_ms"));
	} else {
		printf("circuit %s to %s: %s hops (%s), set up in %s ms\n",
		       BF("circuit"), BF("to"), BF("hops"), path,
		       BF("setup_ms"));
	}
#undef BF
	maq_ipc_reply_free(&r);
	return 0;
}

/*
 * Through maquisd, which sends DESTROY along the whole circuit; when no
 * daemon runs, or it does not know the id (a circuit set up by hand), the
 * kernel's local state only, over netlink.
 */
static int circuit_destroy(struct cli *cli, int argc, char **argv)
{
	struct maq_ipc_req req = { .cmd = MAQ_IPC_DESTROY };
	struct maq_ipc_reply r;
	struct maq_dev dev;
	uint32_t ifindex;
	int rc;

	rc = circuit_args(cli, argc, argv, &req.id, &ifindex);
	if (rc)
		return rc;
	rc = daemon_call(cli, &req, &r, true);
	if (rc > 0)
		return rc;
	if (!rc && !r.err) {
		maq_ipc_reply_free(&r);
		if (cli->mode == OUT_JSON)
			printf("{\"id\":%u,\"by\":\"maquisd\"}\n", req.id);
		else if (cli->mode == OUT_TSV)
			printf("%u\tmaquisd\n", req.id);
		else
			printf("circuit %u: destroyed by maquisd (DESTROY to every hop)\n",
			       req.id);
		return 0;
	}
	if (!rc && r.err != ENOENT)
		return daemon_refused(cli, "circuit destroy", &r);
	if (rc)
		fprintf(stderr, "%s: maquisd is not running (no socket at %s): removing this host's part only\n",
			cli->prog, cli->sock);
	else
		fprintf(stderr, "%s: maquisd: %s: removing this host's part only\n",
			cli->prog, *r.message ? r.message : strerror(r.err));
	maq_ipc_reply_free(&r);
	rc = circuit_dev(cli, ifindex, &dev);
	if (rc)
		return rc;
	rc = maq_nl_circuit_del(cli->nl, dev.ifindex, req.id);
	if (rc)
		return fail(cli, rc, "circuit destroy");
	if (cli->mode == OUT_JSON)
		printf("{\"id\":%u,\"by\":\"netlink\",\"device\":\"%s\"}\n",
		       req.id, dev.ifname);
	else if (cli->mode == OUT_TSV)
		printf("%u\tnetlink\t%s\n", req.id, dev.ifname);
	else
		printf("circuit %u: removed from %s over netlink (this host's part only)\n",
		       req.id, dev.ifname);
	return 0;
}

/*
 * maquisd's record of circuit @id, in @dr, *found when there is one; its
 * reply @r is the caller's to free.  The daemon's view is extra: no daemon,
 * a refusal or an unknown id are no error, only a malformed record is.
 */
static int circuit_drec(struct cli *cli, uint32_t id, struct maq_ipc_reply *r,
			struct drec *dr, bool *found)
{
	struct maq_ipc_req req = { .cmd = MAQ_IPC_CIRCUITS };
	char key[16];
	int rc;

	*found = false;
	rc = daemon_call(cli, &req, r, true);
	if (rc || r->err)
		return rc < 0 ? 0 : rc;
	snprintf(key, sizeof(key), "%u", id);
	dr->r = r;
	dr->s = 0;
	dr->e = 0;
	while (maq_ipc_record(r, "circuit", &dr->s, &dr->e)) {
		if (strcmp(r->pair[dr->s].value, key))
			continue;
		*found = true;
		return rec_check(cli, "circuits", r, dr->s, dr->e, NULL,
				 circuit_nums);
	}
	return 0;
}

static int circuit_show(struct cli *cli, int argc, char **argv)
{
	struct maq_ipc_reply r;
	struct maq_circuit c;
	struct maq_dev dev;
	uint32_t id, ifindex;
	struct drec dr;
	bool found;
	int err;

	err = circuit_args(cli, argc, argv, &id, &ifindex);
	if (err)
		return err;
	err = circuit_dev(cli, ifindex, &dev);
	if (err)
		return err;
	err = maq_nl_circuit_get(cli->nl, dev.ifindex, id, &c);
	if (err)
		return fail(cli, err, "circuit");
	err = circuit_drec(cli, id, &r, &dr, &found);
	if (!err) {
		circuit_header(cli);
		print_circuit(cli, &dev, &c, true, found ? &dr : NULL);
		if (cli->mode == OUT_JSON)
			printf("\n");
	}
	maq_ipc_reply_free(&r);
	return err;
}

static int cmd_circuit(struct cli *cli, int argc, char **argv)
{
	int err;

	if (argc < 2)
		return usage_error(cli, "%s",
				   "circuit: need list, show, build or destroy");
	argc--;
	argv++;
	if (!strcmp(argv[0], "list")) {
		struct maq_dev *devs;
		bool first = true;
		size_t n, i;

		err = devices_arg(cli, argc, argv, "circuit list", &devs, &n,
				  NULL);
		if (err)
			return err;
		if (cli->mode == OUT_JSON)
			printf("[");
		for (i = 0; i < n && !err; i++)
			err = list_circuits(cli, &devs[i], &first);
		if (cli->mode == OUT_JSON)
			printf("]\n");
		free(devs);
		return err ? fail(cli, err, "circuits") : 0;
	}
	if (!strcmp(argv[0], "show"))
		return circuit_show(cli, argc, argv);
	if (!strcmp(argv[0], "build"))
		return circuit_build(cli, argc, argv);
	if (!strcmp(argv[0], "destroy"))
		return circuit_destroy(cli, argc, argv);
	return usage_error(cli, "circuit: unknown subcommand '%s'", argv[0]);
}

/* @v as one of @n @names: its index, or -1 after naming the choices. */
static int choice_arg(const struct cli *cli, const char *opt, const char *v,
		      const char *const *names, int n)
{
	char msg[128];
	int i, len;

	for (i = 0; i < n; i++)
		if (!strcmp(v, names[i]))
			return i;
	len = snprintf(msg, sizeof(msg), "%s: '%.32s' is not", opt, v);
	for (i = 0; i < n; i++)
		len += snprintf(msg + len, sizeof(msg) - len, "%s %s",
				i ? (i == n - 1 ? " or" : ",") : "",
				names[i]);
	usage_error(cli, "%s", msg);
	return -1;
}

/*
 * xdp attach's arguments into @o and *ifname, checked before anything is
 * loaded.  0, or the exit status.
 */
static int xdp_attach_args(struct cli *cli, int argc, char **argv,
			   struct maq_xdp_opts *o, const char **ifname)
{
	static const char *const opts[] = {
		"--variant", "--mode", "--maq-dev", "--port",
	};
	const char *const variants[] = {
		maq_xdp_variant_name(MAQ_XDP_VARIANT_AUTO),
		maq_xdp_variant_name(MAQ_XDP_VARIANT_PURE),
		maq_xdp_variant_name(MAQ_XDP_VARIANT_KFUNC),
	};
	const char *const modes[] = {
		maq_xdp_mode_name(MAQ_XDP_MODE_AUTO),
		maq_xdp_mode_name(MAQ_XDP_MODE_NATIVE),
		maq_xdp_mode_name(MAQ_XDP_MODE_GENERIC),
	};
	unsigned int seen = 0;
	const char *v;
	char msg[64];
	uint32_t port;
	int i, k, c;

	*ifname = NULL;
	for (i = 1; i < argc; i++) {
		if (argv[i][0] != '-') {
			if (*ifname)
				return usage_error(cli, "xdp attach: unexpected argument '%s'",
						   argv[i]);
			*ifname = argv[i];
			continue;
		}
		k = opt_which(cli, argc, argv, &i, "xdp attach", opts, 4, &v);
		if (k < 0)
			return 2;
		if (seen & (1u << k)) {
			snprintf(msg, sizeof(msg), "%s given twice", opts[k]);
			return usage_error(cli, "%s", msg);
		}
		seen |= 1u << k;
		switch (k) {
		case 0:
		case 1:
			c = choice_arg(cli, opts[k], v, k ? modes : variants, 3);
			if (c < 0)
				return 2;
			if (k)
				o->mode = c;
			else
				o->variant = c;
			break;
		case 2:
			if (ifname_arg(cli, opts[k], v))
				return 2;
			o->maq_dev = v;
			break;
		default:
			if (parse_u32(v, &port) || !port || port > UINT16_MAX)
				return usage_error(cli, "--port: bad port '%s' (1..65535)",
						   v);
			o->port = port;
		}
	}
	if (!*ifname)
		return usage_error(cli, "%s", "xdp attach: need an interface");
	if (ifname_arg(cli, "xdp attach", *ifname))
		return 2;
	if (o->maq_dev && o->variant == MAQ_XDP_VARIANT_PURE)
		return usage_error(cli, "%s",
				   "--maq-dev: only for the kfunc variant (the pure one serves no device)");
	if (!if_nametoindex(*ifname))
		return usage_error(cli, "no such device: '%s'", *ifname);
	return 0;
}

/*
 * The variant the loader would pick, decided here so that a refusal says
 * why; for kfunc the port is the maquis device's own: the program hands
 * that device the cells that arrive on it.  0, or the exit status.
 */
static int xdp_variant(struct cli *cli, struct maq_xdp_opts *o)
{
	const char *name = o->maq_dev ? o->maq_dev : "maq0";
	struct maq_dev dev;
	uint32_t ifindex;
	char what[64];
	int have = 0, err;

	if (o->variant != MAQ_XDP_VARIANT_PURE)
		have = maq_xdp_kfunc_probe(NULL);
	if (o->variant == MAQ_XDP_VARIANT_KFUNC && have < 0) {
		fprintf(stderr, "%s: --variant kfunc: %s: %s\n", cli->prog,
			MAQ_XDP_KFUNC_BTF, strerror(-have));
		return 1;
	}
	if (o->variant == MAQ_XDP_VARIANT_KFUNC && !have) {
		fprintf(stderr, "%s: --variant kfunc: maquis.ko's kfuncs are not available (module not loaded, or %s lacks them)\n",
			cli->prog, MAQ_XDP_KFUNC_BTF);
		return 1;
	}
	if (have <= 0) {
		if (o->maq_dev)
			fprintf(stderr, "%s: --maq-dev %s ignored: maquis.ko's kfuncs are not available, the pure variant serves no device\n",
				cli->prog, o->maq_dev);
		o->variant = MAQ_XDP_VARIANT_PURE;
		o->maq_dev = NULL;
		return 0;
	}
	o->variant = MAQ_XDP_VARIANT_KFUNC;
	ifindex = if_nametoindex(name);
	if (!ifindex) {
		fprintf(stderr, "%s: xdp attach: kfunc variant: no device '%s'%s\n",
			cli->prog, name,
			o->maq_dev ? "" : " (--maq-dev names the maquis device)");
		return 1;
	}
	err = nl_need(cli);
	if (err)
		return err;
	err = maq_nl_dev_get(cli->nl, ifindex, &dev);
	if (err) {
		snprintf(what, sizeof(what), "kfunc variant: %s is not a maquis device",
			 name);
		return fail(cli, err, what);
	}
	if (o->port && o->port != dev.port) {
		fprintf(stderr, "%s: --port %u: %s listens on %u, the kfunc relay must take its cells\n",
			cli->prog, o->port, name, dev.port);
		return 1;
	}
	o->port = dev.port;
	return 0;
}

static int xdp_attach(struct cli *cli, int argc, char **argv)
{
	struct maq_xdp_opts o = { .pin_root = cli->pin_root };
	const char *ifname;
	struct maq_xdp *h;
	struct xdp_if x;
	int rc;

	rc = xdp_attach_args(cli, argc, argv, &o, &ifname);
	if (!rc)
		rc = xdp_variant(cli, &o);
	if (rc)
		return rc;
	rc = maq_xdp_open(ifname, &o, &h);
	if (rc == -EBUSY && !xdp_probe(cli, ifname, &x) &&
	    x.st.dispatcher_id) {
		fprintf(stderr, "%s: xdp attach %s: libxdp dispatcher %u runs in %s mode: the relay can join it only so\n",
			cli->prog, ifname, x.st.dispatcher_id,
			maq_xdp_mode_name(x.st.mode));
		return 1;
	}
	if (rc == -EBUSY && x.st.other_prog_id) {
		fprintf(stderr, "%s: xdp attach %s: XDP program %u is not maquis's: left alone (detach it first%s)\n",
			cli->prog, ifname, x.st.other_prog_id,
			maq_xdp_libxdp() ?
			"; it is no libxdp dispatcher the relay could join" :
			"; without libxdp the relay cannot share the interface");
		return 1;
	}
	if (rc == -ENOEXEC) {
		fprintf(stderr, "%s: xdp attach %s: the kernel refuses the relay in libxdp's dispatcher: its slots do not say they may change packet data (libxdp before mid-2025; Debian 12 has 1.3.1)\n",
			cli->prog, ifname);
		return 1;
	}
	if (rc == -EOPNOTSUPP && o.mode == MAQ_XDP_MODE_NATIVE) {
		fprintf(stderr, "%s: xdp attach %s: the driver has no native XDP (--mode generic)\n",
			cli->prog, ifname);
		return 1;
	}
	if (rc)
		return xdp_fail(cli, "xdp attach", ifname, rc);
	maq_xdp_close(h);
	/* what the kernel has now, as xdp show would say */
	rc = xdp_probe(cli, ifname, &x);
	if (rc)
		return rc;
	if (!x.st.prog_id) {
		fprintf(stderr, "%s: xdp attach %s: attached, but gone at once (another loader?)\n",
			cli->prog, ifname);
		return 1;
	}
	xdp_header(cli);
	xdp_print(cli, &x);
	if (cli->mode == OUT_JSON)
		putchar('\n');
	return 0;
}

static int xdp_detach(struct cli *cli, int argc, char **argv)
{
	const char *ifname = argv[1];
	struct xdp_if x;
	int rc;

	if (argc < 2)
		return usage_error(cli, "%s", "xdp detach: need an interface");
	if (argc > 2)
		return usage_error(cli, "xdp detach: unexpected argument '%s'",
				   argv[2]);
	if (ifname_arg(cli, "xdp detach", ifname))
		return 2;
	rc = xdp_probe(cli, ifname, &x);
	if (rc)
		return rc;
	if (!x.here && !x.st.pinned)
		return usage_error(cli, "no such device: '%s'", ifname);
	if (x.st.other_prog_id) {
		fprintf(stderr, "%s: xdp detach %s: XDP program %u is not maquis's: left alone\n",
			cli->prog, ifname, x.st.other_prog_id);
		return 1;
	}
	rc = maq_xdp_detach_ifname(ifname, cli->pin_root);
	if (rc)
		return xdp_fail(cli, "xdp detach", ifname, rc);
	if (cli->mode == OUT_JSON) {
		printf("{\"interface\":");
		json_str(ifname);
		if (x.st.prog_id)
			printf(",\"detached_prog_id\":%u", x.st.prog_id);
		else
			printf(",\"detached_prog_id\":null");
		printf(",\"pins_removed\":%s}\n",
		       x.st.pinned ? "true" : "false");
	} else if (cli->mode == OUT_TSV) {
		printf("%s\t%u\t%d\n", ifname, x.st.prog_id, x.st.pinned);
	} else if (x.st.prog_id) {
		printf("%s: detached maquis XDP program %u (%s, %s)%s%s\n",
		       ifname, x.st.prog_id,
		       maq_xdp_variant_name(x.st.variant),
		       maq_xdp_mode_name(x.st.mode),
		       x.st.dispatcher_id ?
		       " from libxdp's dispatcher, the others left running" : "",
		       x.st.pinned ? ", removed its pins" : "");
	} else {
		printf("%s: no maquis XDP program%s\n", ifname,
		       x.st.pinned ? "; removed its pins" : ", no pins");
	}
	return 0;
}

static int xdp_show(struct cli *cli, int argc, char **argv)
{
	struct xdp_if one, *v = &one;
	size_t n = 1, i;
	int rc;

	if (argc > 2)
		return usage_error(cli, "xdp show: unexpected argument '%s'",
				   argv[2]);
	if (argc == 2) {
		if (ifname_arg(cli, "xdp show", argv[1]))
			return 2;
		rc = xdp_probe(cli, argv[1], &one);
		if (rc)
			return rc;
		if (!one.here && !one.st.pinned)
			return usage_error(cli, "no such device: '%s'",
					   argv[1]);
	} else {
		rc = xdp_list(cli, false, &v, &n);
	}
	if (cli->mode == OUT_JSON)
		printf(argc == 2 ? "" : "[");
	else if (n)
		xdp_header(cli);
	else if (cli->mode == OUT_TABLE && !rc)
		printf("no maquis XDP program attached, no pins under %s\n",
		       pin_root(cli));
	for (i = 0; i < n; i++) {
		if (cli->mode == OUT_JSON && i)
			putchar(',');
		xdp_print(cli, &v[i]);
	}
	if (cli->mode == OUT_JSON)
		printf(argc == 2 ? "\n" : "]\n");
	if (v != &one)
		free(v);
	return rc;
}

static int cmd_xdp(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return usage_error(cli, "%s",
				   "xdp: need attach, detach or show");
	argc--;
	argv++;
	if (!strcmp(argv[0], "attach"))
		return xdp_attach(cli, argc, argv);
	if (!strcmp(argv[0], "detach"))
		return xdp_detach(cli, argc, argv);
	if (!strcmp(argv[0], "show"))
		return xdp_show(cli, argc, argv);
	return usage_error(cli, "xdp: unknown subcommand '%s'", argv[0]);
}

/* Keys travel on stdin/stdout only, base64 like wg(8). */
static int cmd_keygen(struct cli *cli, int argc, char **argv)
{
	unsigned char sk[crypto_box_SECRETKEYBYTES];
	char b64[sodium_base64_ENCODED_LEN(sizeof(sk),
					   sodium_base64_VARIANT_ORIGINAL)];

	(void)argv;
	if (argc > 1)
		return usage_error(cli, "keygen: unexpected argument '%s'",
				   argv[1]);
	if (isatty(STDOUT_FILENO))
		fprintf(stderr, "%s: writing a private key to a terminal\n",
			cli->prog);
	randombytes_buf(sk, sizeof(sk));
	sodium_bin2base64(b64, sizeof(b64), sk, sizeof(sk),
			  sodium_base64_VARIANT_ORIGINAL);
	puts(b64);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(b64, sizeof(b64));
	return fflush(stdout) ? 1 : 0;
}

static int cmd_pubkey(struct cli *cli, int argc, char **argv)
{
	unsigned char sk[crypto_box_SECRETKEYBYTES], pk[crypto_box_PUBLICKEYBYTES];
	char line[128], out[sodium_base64_ENCODED_LEN(sizeof(pk),
					sodium_base64_VARIANT_ORIGINAL)];
	size_t len = 0;
	int rc = 1;

	if (argc > 1)
		return usage_error(cli, "pubkey: unexpected argument '%s'",
				   argv[1]);
	if (!fgets(line, sizeof(line), stdin)) {
		fprintf(stderr, "%s: pubkey: no private key on stdin\n",
			cli->prog);
		return 1;
	}
	line[strcspn(line, "\r\n")] = 0;
	if (sodium_base642bin(sk, sizeof(sk), line, strlen(line), NULL, &len,
			      NULL, sodium_base64_VARIANT_ORIGINAL) ||
	    len != sizeof(sk)) {
		fprintf(stderr, "%s: pubkey: stdin is not a base64 %zu-byte key\n",
			cli->prog, sizeof(sk));
		goto out;
	}
	crypto_scalarmult_base(pk, sk);
	sodium_bin2base64(out, sizeof(out), pk, sizeof(pk),
			  sodium_base64_VARIANT_ORIGINAL);
	puts(out);
	rc = 0;
out:
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(line, sizeof(line));
	return rc;
}

/*
 * set [DEVICE] relay-rate RATE | relay-burst BYTES ...: the module's device
 * (the only one when none is named) and the pure XDP relay pinned under
 * --pin-root, together (rate.h); without the module, the XDP relay alone.
 */
static int cmd_set(struct cli *cli, int argc, char **argv)
{
	uint64_t rate = MAQ_NL_RATE_KEEP;
	struct maq_dev dev = { 0 };
	uint32_t ifindex = 0, burst = 0;
	char err[512], msg[160];
	const char *why;
	int i = 1, rc;

	if (argc > 1 && strcmp(argv[1], "relay-rate") &&
	    strcmp(argv[1], "relay-burst")) {
		rc = dev_arg(cli, argv[1], &ifindex);
		if (rc)
			return rc;
		i = 2;
	}
	if (i >= argc)
		return usage_error(cli, "%s",
				   "set: need relay-rate RATE or relay-burst BYTES");
	for (; i < argc; i += 2) {
		if (i + 1 >= argc)
			return usage_error(cli, "set: %s needs a value",
					   argv[i]);
		if (!strcmp(argv[i], "relay-rate") &&
		    rate == MAQ_NL_RATE_KEEP) {
			rc = maq_rate_parse(argv[i + 1], &rate);
			why = maq_rate_why(rc);
		} else if (!strcmp(argv[i], "relay-burst") && !burst) {
			rc = maq_burst_parse(argv[i + 1], &burst);
			why = maq_burst_why(rc);
		} else {
			return usage_error(cli, "set: unexpected '%s' (relay-rate or relay-burst, once each)",
					   argv[i]);
		}
		if (rc) {
			snprintf(msg, sizeof(msg), "set: %s: '%.40s' %s",
				 argv[i], argv[i + 1], why);
			return usage_error(cli, "%s", msg);
		}
	}

	rc = nl_get(cli, !ifindex);
	if (rc > 0)
		return rc;
	if (!rc) {
		rc = circuit_dev(cli, ifindex, &dev);
		if (rc)
			return rc;
	}
	if (!cli->nl && maq_xdp_rate_get(cli->pin_root, &(uint64_t){ 0 },
					 &(uint32_t){ 0 }) == -ENOENT) {
		fprintf(stderr, "%s: set: nothing relays here: no maquis module and no pure XDP relay under %s\n",
			cli->prog, pin_root(cli));
		return 1;
	}
	rc = maq_rate_apply(cli->nl, dev.ifindex, cli->pin_root, rate, burst,
			    err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s: set: %s\n", cli->prog, err);
		return 1;
	}
	return 0;
}

/* --- aliases (PROTOCOL 9) ----------------------------------------------- */

static const char *const alias_need[] = { "alias", "name", "address", NULL };
static const char *const alias_nums[] = {
	"expires", "intros", "recorded", NULL
};

/* alias new|publish [NAME]: one alias record in the reply. */
static int alias_make(struct cli *cli, enum maq_ipc_cmd cmd, int argc,
		      char **argv)
{
	struct maq_ipc_req req = { .cmd = cmd };
	const char *what = argv[0];
	struct maq_ipc_reply r;
	int rc;

	if (argc > 2)
		return usage_error(cli, "alias: unexpected argument '%s'",
				   argv[2]);
	if (argc == 2) {
		if (name_arg(cli, "alias name", argv[1]))
			return 2;
		if (!maq_alias_name_ok(argv[1])) {
			char msg[96];

			snprintf(msg, sizeof(msg),
				 "alias name '%.32s': 1 to 32 of a-z 0-9 - _",
				 argv[1]);
			return usage_error(cli, "%s", msg);
		}
		snprintf(req.name, sizeof(req.name), "%s", argv[1]);
	}
	rc = daemon_call(cli, &req, &r, false);
	if (rc)
		return rc;
	if (r.err) {
		char w[32];

		snprintf(w, sizeof(w), "alias %s", what);
		return daemon_refused(cli, w, &r);
	}
	rc = rec_check(cli, "alias", &r, 0, r.n, alias_need, NULL);
	if (rc) {
		maq_ipc_reply_free(&r);
		return rc;
	}
#define AF(key) (maq_ipc_field(&r, 0, r.n, key) ?: "-")
	if (cli->mode == OUT_JSON) {
		json_rec(&r, 0, r.n, NULL, alias_nums);
		printf("}\n");
	} else if (cli->mode == OUT_TSV) {
		printf("%s\t%s\t%s\n", AF("alias"), AF("name"), AF("address"));
	} else if (cmd == MAQ_IPC_ALIAS_NEW) {
		printf("alias %s (%s), address %s\n", AF("alias"), AF("name"),
		       AF("address"));
	} else {
		printf("alias %s (%s): publishing through %s intro relays, address %s\n",
		       AF("alias"), AF("name"), AF("intro"), AF("address"));
	}
#undef AF
	maq_ipc_reply_free(&r);
	return 0;
}

/* alias list [--records] */
static int alias_list(struct cli *cli, int argc, char **argv)
{
	struct maq_ipc_reply r;
	bool records = false, first = true;
	size_t s = 0, e = 0, i;
	int64_t now = time(NULL);
	int rc;

	if (argc == 2 && !strcmp(argv[1], "--records"))
		records = true;
	else if (argc > 1)
		return usage_error(cli, "alias list: unexpected argument '%s'",
				   argv[1]);
	rc = daemon_need(cli, MAQ_IPC_ALIAS_LIST, &r);
	if (rc)
		return rc;
	while (maq_ipc_record(&r, "alias", &s, &e)) {
		rc = rec_check(cli, "alias list", &r, s, e, alias_need,
			       alias_nums);
		if (rc) {
			maq_ipc_reply_free(&r);
			return rc;
		}
	}
	if (cli->mode == OUT_JSON)
		printf("[");
	else if (cli->mode == OUT_TABLE && !records)
		printf("  %-52s %-12s %-9s %9s %s\n", "ALIAS", "NAME",
		       "PUBLISHED", "EXPIRES", "INTRO POINTS");
	s = e = 0;
	while (!records && maq_ipc_record(&r, "alias", &s, &e)) {
#define LF(key) (maq_ipc_field(&r, s, e, key) ?: "-")
		int64_t left = strtoll(LF("expires"), NULL, 10);
		char intros[256] = "";
		size_t len = 0;

		left = left ? left - now : 0;
		if (left < 0)
			left = 0;
		for (i = s; i < e && strcmp(r.pair[i].key, "record"); i++)
			if (!strcmp(r.pair[i].key, "intro") &&
			    len < sizeof(intros))
				len += snprintf(intros + len,
						sizeof(intros) - len, "%s%s",
						len ? "," : "",
						r.pair[i].value);
		if (cli->mode == OUT_JSON) {
			printf("%s{\"alias\":", first ? "" : ",");
			json_str(LF("alias"));
			printf(",\"name\":");
			json_str(LF("name"));
			printf(",\"address\":");
			json_str(LF("address"));
			printf(",\"published\":%s,\"expires_in\":%" PRId64
			       ",\"intros\":%s,\"recorded\":%s,\"intro\":",
			       strcmp(LF("published"), "1") ? "false" : "true",
			       left, LF("intros"), LF("recorded"));
			json_str(intros);
			printf("}");
		} else if (cli->mode == OUT_TSV) {
			printf("%s\t%s\t%s\t%s\t%" PRId64 "\t%s\t%s\t%s\n",
			       LF("alias"), LF("name"), LF("address"),
			       LF("published"), left, LF("intros"),
			       *intros ? intros : "-", LF("recorded"));
		} else {
			printf("  %-52s %-12s %-9s %8" PRId64 "s %s\n",
			       LF("alias"), LF("name"),
			       strcmp(LF("published"), "1") ? "no" : "yes",
			       left, *intros ? intros : "-");
		}
		first = false;
#undef LF
	}
	s = e = 0;
	while (records && maq_ipc_record(&r, "record", &s, &e)) {
		const char *x = maq_ipc_field(&r, s, e, "expires") ?: "0";

		if (cli->mode == OUT_JSON) {
			printf("%s{\"record\":", first ? "" : ",");
			json_str(maq_ipc_field(&r, s, e, "record"));
			printf(",\"expires\":%s}", is_u64(x) ? x : "0");
		} else {
			printf("%s\t%s\n", maq_ipc_field(&r, s, e, "record"), x);
		}
		first = false;
	}
	if (cli->mode == OUT_JSON)
		printf("]\n");
	maq_ipc_reply_free(&r);
	return 0;
}

static int cmd_alias(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return usage_error(cli, "%s", "alias: need new, publish or list");
	argc--;
	argv++;
	if (!strcmp(argv[0], "new"))
		return alias_make(cli, MAQ_IPC_ALIAS_NEW, argc, argv);
	if (!strcmp(argv[0], "publish"))
		return alias_make(cli, MAQ_IPC_ALIAS_PUBLISH, argc, argv);
	if (!strcmp(argv[0], "list"))
		return alias_list(cli, argc, argv);
	return usage_error(cli, "alias: unknown subcommand '%s'", argv[0]);
}

static int cmd_help(struct cli *cli, int argc, char **argv);

static const struct {
	const char *name;
	int (*fn)(struct cli *cli, int argc, char **argv);
	const char *usage;
} cmds[] = {
	{ "show", cmd_show, "show [DEVICE]: devices, circuits and maquisd" },
	{ "stats", cmd_stats,
	  "stats [DEVICE] | stats --daemon | stats reset DEVICE [ID]" },
	{ "set", cmd_set,
	  "set [DEVICE] relay-rate RATE | relay-burst BYTES: what this host\n"
	  "             relays at most (bytes/s, 0: unlimited; 10M, 80Mbit)" },
	{ "relays", cmd_relays, "relays: the relays maquisd knows" },
	{ "xdp", cmd_xdp,
	  "xdp attach IFACE [--variant auto|pure|kfunc]\n"
	  "             [--mode native|generic] [--maq-dev DEV] [--port PORT]\n"
	  "  xdp detach IFACE | show [IFACE]" },
	{ "circuit", cmd_circuit,
	  "circuit list [DEVICE] | show ID [DEVICE] | destroy ID [DEVICE]\n"
	  "  circuit build [--hops N] [--via RELAY]... [--lifetime S] --to DEST" },
	{ "alias", cmd_alias,
	  "alias new [NAME] | publish [NAME] | list [--records]: aliases\n"
	  "             (circuit build --to ALIAS reaches one)" },
	{ "keygen", cmd_keygen, "keygen: a new private key on stdout" },
	{ "pubkey", cmd_pubkey, "pubkey: private key on stdin, public on stdout" },
	{ "help", cmd_help, "help: this text" },
};

static int cmd_help(struct cli *cli, int argc, char **argv)
{
	size_t i;

	(void)argc;
	(void)argv;
	printf("usage: %s [--json] [--socket PATH] [--pin-root PATH] <command> [args]\n\n",
	       cli->prog);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("  %s\n", cmds[i].usage);
	printf("\nRead commands print a table on a terminal, tab-separated "
	       "lines otherwise,\nJSON with --json.  maquisd is reached at "
	       "--socket, $%s or %s.\n", MAQ_IPC_ENV, MAQ_IPC_PATH);
	return 0;
}

int main(int argc, char **argv)
{
	struct cli cli = { .prog = "maquis" };
	size_t i;
	int rc;

	if (sodium_init() < 0) {
		fprintf(stderr, "maquis: libsodium failed to initialise\n");
		return 1;
	}
	libbpf_set_print(libbpf_warnings);
	argc = take_flags(&cli, argc - 1, argv + 1);
	if (argc < 0)
		return 2;
	argv++;
	if (argc < 1) {
		cmd_help(&cli, 0, argv);
		return 2;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[0], cmds[i].name))
			continue;
		rc = cmds[i].fn(&cli, argc, argv);
		if (cli.nl)
			maq_nl_close(cli.nl);
		return rc;
	}
	return usage_error(&cli, "unknown command '%s'", argv[0]);
}
