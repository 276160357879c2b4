// SPDX-License-Identifier: GPL-2.0
/*
 * maquis: the command line tool.  A subcommand table in the manner of wg(8):
 * read commands print a table on a terminal, tab-separated lines otherwise
 * (stable, for scripts) and JSON with --json.  Kernel state is read over the
 * "maquis" generic netlink family; nothing here ever handles key material
 * except keygen/pubkey, which use stdin/stdout, never argv.
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "nl.h"

enum out_mode { OUT_TABLE, OUT_TSV, OUT_JSON };

struct cli {
	struct maq_nl *nl;
	enum out_mode mode;
	const char *prog;
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

/* Strip "--json" anywhere in argv; returns the new argc. */
static int take_flags(struct cli *cli, int argc, char **argv)
{
	int i, j = 0;

	cli->mode = isatty(STDOUT_FILENO) ? OUT_TABLE : OUT_TSV;
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			cli->mode = OUT_JSON;
		else
			argv[j++] = argv[i];
	}
	argv[j] = NULL;
	return j;
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

static void print_circuit(const struct cli *cli, const struct maq_dev *d,
			  const struct maq_circuit *c, bool detail)
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
		print_circuit(cli, d, &cs[i], false);
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

static int cmd_show(struct cli *cli, int argc, char **argv)
{
	struct maq_dev *devs;
	bool first = true;
	size_t n, i;
	int err;

	err = devices_arg(cli, argc, argv, "show", &devs, &n);
	if (err)
		return err;
	if (cli->mode == OUT_JSON)
		printf("[");
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
	if (cli->mode == OUT_JSON)
		printf("]\n");
	free(devs);
	return err ? fail(cli, err, "circuits") : 0;
}

static int cmd_stats(struct cli *cli, int argc, char **argv)
{
	struct maq_dev *devs;
	uint32_t ifindex, id = 0;
	size_t n, i;
	int err;

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

static int circuit_target(struct cli *cli, int argc, char **argv,
			  uint32_t *id, struct maq_dev *dev)
{
	uint32_t ifindex;
	struct maq_dev *devs;
	size_t n;
	int err;

	if (argc < 2)
		return usage_error(cli, "circuit %s: need a circuit ID", argv[0]);
	if (argc > 3)
		return usage_error(cli, "circuit: unexpected argument '%s'",
				   argv[3]);
	if (parse_u32(argv[1], id) || !*id)
		return usage_error(cli, "bad circuit ID '%s'", argv[1]);
	err = dev_arg(cli, argv[2], &ifindex);
	if (err || (err = nl_need(cli)))
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

static int cmd_circuit(struct cli *cli, int argc, char **argv)
{
	struct maq_circuit c;
	struct maq_dev dev;
	uint32_t id;
	int err;

	if (argc < 2)
		return usage_error(cli, "%s", "circuit: need list, show or destroy");
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
	if (!strcmp(argv[0], "show")) {
		err = circuit_target(cli, argc, argv, &id, &dev);
		if (err)
			return err;
		err = maq_nl_circuit_get(cli->nl, dev.ifindex, id, &c);
		if (err)
			return fail(cli, err, "circuit");
		circuit_header(cli);
		print_circuit(cli, &dev, &c, true);
		if (cli->mode == OUT_JSON)
			printf("\n");
		return 0;
	}
	if (!strcmp(argv[0], "destroy")) {
		err = circuit_target(cli, argc, argv, &id, &dev);
		if (err)
			return err;
		err = maq_nl_circuit_del(cli->nl, dev.ifindex, id);
		return err ? fail(cli, err, "circuit destroy") : 0;
	}
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
	{ "show", cmd_show, "show [DEVICE] [--json]: devices and circuits" },
	{ "stats", cmd_stats, "stats [DEVICE] [--json] | stats reset DEVICE [ID]" },
	{ "circuit", cmd_circuit,
	  "circuit list [DEVICE] | show ID [DEVICE] | destroy ID [DEVICE]" },
	{ "keygen", cmd_keygen, "keygen: a new private key on stdout" },
	{ "pubkey", cmd_pubkey, "pubkey: private key on stdin, public on stdout" },
	{ "help", cmd_help, "help: this text" },
};

static int cmd_help(struct cli *cli, int argc, char **argv)
{
	size_t i;

	(void)argc;
	(void)argv;
	printf("usage: %s <command> [args]\n\n", cli->prog);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("  %s\n", cmds[i].usage);
	printf("\nRead commands print a table on a terminal, tab-separated "
	       "lines otherwise,\nJSON with --json.\n");
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
