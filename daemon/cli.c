// SPDX-License-Identifier: GPL-2.0
/*
 * maquis: the command line tool.  A subcommand table in the manner of wg(8):
 * read commands print a table on a terminal, tab-separated lines otherwise
 * (stable, for scripts) and JSON with --json.  Kernel state is read over the
 * "maquis" generic netlink family, the daemon's over its control socket
 * (ipc.h); nothing here ever handles key material except keygen/pubkey,
 * which use stdin/stdout, never argv.
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ipc.h"
#include "nl.h"

/* A build waits for every hop's CREATED; the rest answer at once. */
#define BUILD_TIMEOUT_MS	60000
#define CALL_TIMEOUT_MS		5000

enum out_mode { OUT_TABLE, OUT_TSV, OUT_JSON };

struct cli {
	struct maq_nl *nl;
	enum out_mode mode;
	const char *prog;
	const char *sock;		/* maquisd's control socket */
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

static int nl_need(struct cli *cli)
{
	int err;

	if (cli->nl)
		return 0;
	err = maq_nl_open(&cli->nl);
	if (err == -ENOENT) {
		fprintf(stderr, "%s: the maquis module is not loaded\n",
			cli->prog);
		return 1;
	}
	return err ? fail(cli, err, "netlink") : 0;
}

/*
 * Strip the global options anywhere in argv: "--json" and "--socket PATH"
 * (or --socket=PATH).  Returns the new argc, or -1 after a usage error.
 */
static int take_flags(struct cli *cli, int argc, char **argv)
{
	int i, j = 0;

	cli->mode = isatty(STDOUT_FILENO) ? OUT_TABLE : OUT_TSV;
	cli->sock = maq_ipc_path();
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			cli->mode = OUT_JSON;
		} else if (!strcmp(argv[i], "--socket")) {
			if (i + 1 == argc || !*argv[i + 1]) {
				usage_error(cli, "%s", "--socket needs a path");
				return -1;
			}
			cli->sock = argv[++i];
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			if (!argv[i][9]) {
				usage_error(cli, "%s", "--socket needs a path");
				return -1;
			}
			cli->sock = argv[i] + 9;
		} else {
			argv[j++] = argv[i];
		}
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
		printf("],\"stats\":");
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
	printf("  %-8u %-9s %-24s %-24s %6us/%-6u %10" PRIu64 " %10" PRIu64
	       "\n", c->id, maq_role_name(c->role), prev, next, c->age,
	       c->lifetime, c->stats.val[MAQUIS_A_STATS_CELLS_IN],
	       c->stats.val[MAQUIS_A_STATS_CELLS_OUT]);
	if (!detail)
		return;
	printf("    cids: fwd %u -> %u, back %u -> %u, key phase %u\n",
	       c->fwd_cid_in, c->fwd_cid_out, c->back_cid_in,
	       c->back_cid_out, c->phase);
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
		printf("  %-8s %-9s %-24s %-24s %13s %10s %10s\n", "ID",
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
	char local[64];

	maq_sockaddr_str(&d->local, local, sizeof(local));
	if (cli->mode == OUT_JSON) {
		printf("{\"device\":\"%s\",\"ifindex\":%u,\"port\":%u,"
		       "\"local\":\"%s\",\"circuits\":%u,\"max_circuits\":%u,"
		       "\"stats\":", d->ifname, d->ifindex, d->port,
		       MAQ_HAS(d, MAQUIS_A_LOCAL) ? local : "any",
		       d->n_circuits, d->max_circuits);
		json_stats(&d->stats);
	} else if (cli->mode == OUT_TSV) {
		printf("%s\t%u\t%s\t%u\t%u\n", d->ifname, d->port,
		       MAQ_HAS(d, MAQUIS_A_LOCAL) ? local : "any",
		       d->n_circuits, d->max_circuits);
	} else {
		printf("device: %s\n  port: %u\n  local: %s\n"
		       "  circuits: %u of %u\n", d->ifname, d->port,
		       MAQ_HAS(d, MAQUIS_A_LOCAL) ? local : "any",
		       d->n_circuits, d->max_circuits);
	}
}

/*
 * The devices a read command names: "CMD [DEVICE]", all of them without one.
 * Returns 0 with *devs to free(), or the exit status to return.
 */
static int devices_arg(struct cli *cli, int argc, char **argv,
		       const char *cmd, struct maq_dev **devs, size_t *n)
{
	uint32_t ifindex;
	int err;

	if (argc > 2) {
		fprintf(stderr, "%s: %s: unexpected argument '%s'\n",
			cli->prog, cmd, argv[2]);
		return 2;
	}
	err = dev_arg(cli, argv[1], &ifindex);
	if (err || (err = nl_need(cli)))
		return err;
	err = get_devs(cli, ifindex, devs, n);
	return err ? fail(cli, err, "device") : 0;
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

static int cmd_show(struct cli *cli, int argc, char **argv)
{
	struct maq_dev *devs;
	bool first = true;
	size_t n, i;
	int err, rc;

	err = devices_arg(cli, argc, argv, "show", &devs, &n);
	if (err)
		return err;
	if (cli->mode == OUT_JSON)
		printf("{\"devices\":[");
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
		printf("],\"maquisd\":");
	rc = show_daemon(cli);
	if (cli->mode == OUT_JSON)
		printf("}\n");
	return rc;
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

static int cmd_stats(struct cli *cli, int argc, char **argv)
{
	struct maq_dev *devs;
	uint32_t ifindex, id = 0;
	size_t n, i;
	int err;

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
	err = devices_arg(cli, argc, argv, "stats", &devs, &n);
	if (err)
		return err;
	if (cli->mode == OUT_JSON)
		printf("[");
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
	if (cli->mode == OUT_JSON)
		printf("]\n");
	free(devs);
	return 0;
}

static const char *const relay_need[] = {
	"id", "addr", "flags", "bandwidth", "expires", NULL
};
static const char *const relay_nums[] = {
	"bandwidth", "published", "expires", NULL
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
		printf("  %-16s %-24s %-10s %10s %9s %s\n", "IDENTITY",
		       "ADDRESS", "FLAGS", "BANDWIDTH", "EXPIRES", "PREFIX");
	s = e = 0;
	while (maq_ipc_record(&r, "relay", &s, &e)) {
#define RF(key) (maq_ipc_field(&r, s, e, key) ?: "-")
		int64_t left = strtoull(RF("expires"), NULL, 10) - now;
		bool self = !strcmp(RF("self"), "1");

		if (left < 0)
			left = 0;
		if (cli->mode == OUT_JSON) {
			printf("%s", first ? "" : ",");
			json_rec(&r, s, e, relay_skip, relay_nums);
			printf(",\"expires_in\":%" PRId64 ",\"self\":%s}",
			       left, self ? "true" : "false");
		} else if (cli->mode == OUT_TSV) {
			printf("%s\t%s\t%s\t%s\t%s\t%s\t%" PRId64 "\t%s\t%d\n",
			       RF("id"), RF("relay"), RF("addr"), RF("addr2"),
			       RF("flags"), RF("bandwidth"), left,
			       RF("prefix"), self);
		} else {
			printf("%c %-16s %-24s %-10s %5s kB/s %8" PRId64
			       "s %s\n", self ? '*' : ' ', RF("id"),
			       RF("addr"), RF("flags"), RF("bandwidth"), left,
			       RF("prefix"));
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

static int circuit_build_args(struct cli *cli, int argc, char **argv,
			      struct maq_ipc_req *req)
{
	static const char *const opts[] = {
		"--hops", "--lifetime", "--via", "--to",
	};
	bool hops_set = false, life_set = false;
	const char *v;
	unsigned int k;
	uint32_t x;
	int i, rc;

	for (i = 1; i < argc; i++) {
		rc = 1;
		for (k = 0; k < 4 && rc == 1; k++)
			rc = opt_value(cli, argc, argv, &i, opts[k], &v);
		if (rc == 1)
			return usage_error(cli, "circuit build: unknown argument '%s'",
					   argv[i]);
		if (rc)
			return rc;
		switch (k - 1) {
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

		err = devices_arg(cli, argc, argv, "circuit list", &devs, &n);
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

static int cmd_help(struct cli *cli, int argc, char **argv);

static const struct {
	const char *name;
	int (*fn)(struct cli *cli, int argc, char **argv);
	const char *usage;
} cmds[] = {
	{ "show", cmd_show, "show [DEVICE]: devices, circuits and maquisd" },
	{ "stats", cmd_stats,
	  "stats [DEVICE] | stats --daemon | stats reset DEVICE [ID]" },
	{ "relays", cmd_relays, "relays: the relays maquisd knows" },
	{ "circuit", cmd_circuit,
	  "circuit list [DEVICE] | show ID [DEVICE] | destroy ID [DEVICE]\n"
	  "  circuit build [--hops N] [--via RELAY]... [--lifetime S] --to DEST" },
	{ "keygen", cmd_keygen, "keygen: a new private key on stdout" },
	{ "pubkey", cmd_pubkey, "pubkey: private key on stdin, public on stdout" },
	{ "help", cmd_help, "help: this text" },
};

static int cmd_help(struct cli *cli, int argc, char **argv)
{
	size_t i;

	(void)argc;
	(void)argv;
	printf("usage: %s [--json] [--socket PATH] <command> [args]\n\n",
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
