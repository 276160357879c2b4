// SPDX-License-Identifier: GPL-2.0
/*
 * rdvtool: the stand-in control plane of tests/kmod/rendezvous.sh.  It
 * installs two circuits that end at the same rendezvous host, with
 * end-to-end keys at their origins, and joins them there; and it plays a
 * rendezvous relay that replays what it spliced.
 *
 *   rdvtool install --state FILE [--e2e both|a|b|none] [--no-join]
 *           --a-id ID --a-route PFX [--a-back PFX] --a NODE --a NODE...
 *           --b-id ID --b-route PFX [--b-back PFX] --b NODE --b NODE...
 *       NODE is NS,DEV,OUT_ADDR for the origin (first), NS,DEV,IN,OUT for
 *       a relay, NS,DEV,IN_ADDR for the rendezvous (last, the same for a
 *       and b).  --x-route: what origin x routes into its circuit;
 *       --x-back: a route into it at the rendezvous (none by default:
 *       a rendezvous holds no inner address).
 *       a's send key is b's receive key and the other way round.  FILE
 *       keeps what the replay below needs (test keys, nothing else).
 *   rdvtool join NS DEV ID JOIN     circuit-join (JOIN 0: undo)
 *   rdvtool show NS DEV ID          join=N, or join=none
 *   rdvtool replay --state FILE --in CAP --out CAP [--add N] [--pattern HEX]
 *       CAP (tests/kmod/maqtool capture) holds a cell the rendezvous sent
 *       back along b's circuit.  Open its layer with the rendezvous' key
 *       (what the rendezvous sees), check that the payload is sealed end to
 *       end (libsodium opens it under a's send key into an IPv4 packet) and
 *       that HEX appears nowhere in what the rendezvous sees; seal the same
 *       plaintext again N counters later (default 200), for maqtool inject.
 *
 * Prints key=value lines and exits 0, or says why on stderr and exits 1.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>

#include <sodium.h>

#include "../../daemon/crypto.h"
#include "../lib/plan.h"

#define MAX_NODES	(MAQUIS_MAX_HOPS + 1)

static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	fputs("rdvtool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Runs in the named namespace from now on (/run/netns/NAME). */
static void netns(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		fail("netns %s: %s", name, strerror(errno));
	close(fd);
}

/* One handle per namespace: a netlink socket belongs to its creator's. */
static struct maq_nl *nl_in(const char *ns, const char *dev, uint32_t *ifindex)
{
	struct maq_nl *nl;
	int err;

	netns(ns);
	*ifindex = if_nametoindex(dev);
	if (!*ifindex)
		fail("%s: no device %s", ns, dev);
	err = maq_nl_open(&nl);
	if (err)
		fail("%s: netlink: %s", ns, strerror(-err));
	return nl;
}

static void nl_check(struct maq_nl *nl, int err, const char *what)
{
	if (err)
		fail("%s: %s: %s", what, strerror(-err), maq_nl_errmsg(nl));
}

static uint32_t num(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v > UINT32_MAX)
		fail("bad %s '%s'", what, s);
	return (uint32_t)v;
}

/* --- install ----------------------------------------------------------- */

struct node {
	char ns[64], dev[IFNAMSIZ], in[64], out[64];
	uint16_t port;
};

struct side {
	uint32_t id;
	struct maq_prefix route, back;
	struct node node[MAX_NODES];
	int n;
	bool e2e;
	struct maq_plan plan;
};

static void node_parse(struct side *s, char *arg)
{
	char *f[4], *save = NULL;
	struct node *n;
	int i;

	if (s->n == MAX_NODES)
		fail("at most %d nodes a circuit", MAX_NODES);
	n = &s->node[s->n++];
	for (i = 0; i < 4 && (f[i] = strtok_r(i ? NULL : arg, ",", &save));)
		i++;
	if (i < 3)
		fail("bad node '%s'", arg);
	snprintf(n->ns, sizeof(n->ns), "%s", f[0]);
	snprintf(n->dev, sizeof(n->dev), "%s", f[1]);
	/* origin: OUT; relay: IN,OUT; rendezvous: IN (sorted out below) */
	snprintf(n->in, sizeof(n->in), "%s", f[2]);
	snprintf(n->out, sizeof(n->out), "%s", i == 4 ? f[3] : f[2]);
}

static void addr_of(const struct node *n, const char *a, union maq_sockaddr *sa)
{
	if (maq_sockaddr_parse(a, n->port, sa))
		fail("bad address %s", a);
}

static void put(const struct node *n, struct maq_circuit *c, const char *what)
{
	struct maq_nl *nl = nl_in(n->ns, n->dev, &c->ifindex);

	nl_check(nl, maq_nl_circuit_new(nl, c), what);
	maq_nl_close(nl);
}

/* Rendezvous first, origin last: each part's neighbours exist before it. */
static void side_install(struct side *s, const uint8_t send[32],
			 const uint8_t recv[32])
{
	int hops = s->n - 1, k;
	struct maq_circuit c;
	struct maq_dev d;

	if (hops < 1)
		fail("circuit %u needs an origin and a rendezvous", s->id);
	for (k = 0; k < s->n; k++) {
		struct maq_nl *nl = nl_in(s->node[k].ns, s->node[k].dev,
					  &c.ifindex);

		nl_check(nl, maq_nl_dev_get(nl, c.ifindex, &d), "dev-get");
		s->node[k].port = d.port;
		maq_nl_close(nl);
	}
	maq_plan_init(&s->plan, s->id, 3600, hops);
	for (k = hops; k >= 0; k--) {
		maq_plan_part(&s->plan, k, &c);
		if (k > 0)
			addr_of(&s->node[k - 1], s->node[k - 1].out, &c.prev);
		if (k < hops)
			addr_of(&s->node[k + 1], s->node[k + 1].in, &c.next);
		if (k == hops && s->back.family) {
			c.routes[c.n_routes++] = s->back;
		} else if (!k) {
			c.routes[c.n_routes++] = s->route;
			c.e2e = s->e2e;
			memcpy(c.e2e_key, send, 32);
			memcpy(c.e2e_key + 32, recv, 32);
		}
		put(&s->node[k], &c, k == hops ? "terminus" : k ? "relay" :
		    "origin");
		maq_circuit_wipe(&c);
	}
}

static void hex_line(FILE *fp, const char *key, const uint8_t *p, size_t n)
{
	size_t i;

	fprintf(fp, "%s=", key);
	for (i = 0; i < n; i++)
		fprintf(fp, "%02x", p[i]);
	fputc('\n', fp);
}

static int cmd_install(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "e2e", required_argument, NULL, 'e' },
		{ "no-join", no_argument, NULL, 'J' },
		{ "a-id", required_argument, NULL, 'i' },
		{ "b-id", required_argument, NULL, 'I' },
		{ "a-route", required_argument, NULL, 'r' },
		{ "b-route", required_argument, NULL, 'R' },
		{ "a-back", required_argument, NULL, 'k' },
		{ "b-back", required_argument, NULL, 'K' },
		{ "a", required_argument, NULL, 'a' },
		{ "b", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	static struct side a, b;
	uint8_t ka[32], kb[32];
	const char *state = NULL, *e2e = "both";
	const struct node *ra, *rb;
	struct maq_nl *nl;
	bool join = true;
	uint32_t ifindex;
	int opt, err = 0;
	FILE *fp;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': state = optarg; break;
		case 'e': e2e = optarg; break;
		case 'J': join = false; break;
		case 'i': a.id = num(optarg, "id"); break;
		case 'I': b.id = num(optarg, "id"); break;
		case 'r': err |= maq_prefix_parse(optarg, &a.route); break;
		case 'R': err |= maq_prefix_parse(optarg, &b.route); break;
		case 'k': err |= maq_prefix_parse(optarg, &a.back); break;
		case 'K': err |= maq_prefix_parse(optarg, &b.back); break;
		case 'a': node_parse(&a, optarg); break;
		case 'b': node_parse(&b, optarg); break;
		default: fail("bad install option");
		}
	}
	if (err || !state || !a.id || !b.id || a.n < 2 || b.n < 2 ||
	    !a.route.family || !b.route.family)
		fail("install: see the usage at the top of rdvtool.c");
	ra = &a.node[a.n - 1];
	rb = &b.node[b.n - 1];
	if (strcmp(ra->ns, rb->ns) || strcmp(ra->dev, rb->dev))
		fail("the circuits end at %s/%s and %s/%s", ra->ns, ra->dev,
		     rb->ns, rb->dev);
	a.e2e = !strcmp(e2e, "both") || !strcmp(e2e, "a");
	b.e2e = !strcmp(e2e, "both") || !strcmp(e2e, "b");
	randombytes_buf(ka, sizeof(ka));
	randombytes_buf(kb, sizeof(kb));
	side_install(&a, ka, kb);
	side_install(&b, kb, ka);
	if (join) {
		nl = nl_in(ra->ns, ra->dev, &ifindex);
		nl_check(nl, maq_nl_circuit_join(nl, ifindex, a.id, b.id),
			 "circuit-join");
		maq_nl_close(nl);
	}

	/* What the rendezvous knows of b's circuit, and a's send key. */
	fp = fopen(state, "w");
	if (!fp)
		fail("%s: %s", state, strerror(errno));
	hex_line(fp, "rdv_back_key", b.plan.hops[b.n - 2].back_key, 32);
	fprintf(fp, "rdv_back_cid=%u\n", b.plan.bcid[b.n - 2]);
	hex_line(fp, "a_send_key", ka, 32);
	if (fclose(fp))
		fail("%s: %s", state, strerror(errno));
	printf("a_id=%u\nb_id=%u\njoined=%d\na_fwd_cid=%u\nb_fwd_cid=%u\n",
	       a.id, b.id, join, a.plan.fcid[0], b.plan.fcid[0]);
	printf("rdv_back_cid_a=%u\nrdv_back_cid_b=%u\n",
	       a.plan.bcid[a.n - 2], b.plan.bcid[b.n - 2]);
	maq_plan_wipe(&a.plan);
	maq_plan_wipe(&b.plan);
	sodium_memzero(ka, sizeof(ka));
	sodium_memzero(kb, sizeof(kb));
	return 0;
}

/* --- join, show -------------------------------------------------------- */

static int cmd_join(int argc, char **argv, bool show)
{
	struct maq_circuit c;
	struct maq_nl *nl;
	uint32_t ifindex;

	if (argc != (show ? 4 : 5))
		fail("%s NS DEV ID%s", argv[0], show ? "" : " JOIN");
	nl = nl_in(argv[1], argv[2], &ifindex);
	if (show) {
		nl_check(nl, maq_nl_circuit_get(nl, ifindex,
						num(argv[3], "id"), &c),
			 "circuit-get");
		if (MAQ_HAS(&c, MAQUIS_A_JOIN))
			printf("join=%u\n", c.join);
		else
			printf("join=none\n");
	} else {
		nl_check(nl, maq_nl_circuit_join(nl, ifindex,
						 num(argv[3], "id"),
						 num(argv[4], "join")),
			 "circuit-join");
		printf("joined=%s\n", argv[4]);
	}
	maq_nl_close(nl);
	return 0;
}

/* --- replay ------------------------------------------------------------ */

static void state_hex(const char *file, const char *key, uint8_t *out,
		      size_t n)
{
	char line[512], want[64];
	size_t klen;
	FILE *fp = fopen(file, "r");

	if (!fp)
		fail("%s: %s", file, strerror(errno));
	klen = (size_t)snprintf(want, sizeof(want), "%s=", key);
	while (fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, want, klen))
			continue;
		fclose(fp);
		if (sodium_hex2bin(out, n, line + klen, strlen(line + klen),
				   NULL, NULL, NULL) || !n)
			fail("%s: bad %s", file, key);
		return;
	}
	fail("%s: no %s", file, key);
}

static int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "in", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "add", required_argument, NULL, 'n' },
		{ "pattern", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state = NULL, *in = NULL, *out = NULL, *pat = NULL;
	uint8_t key[32], ka[32], cid_be[4], patb[32], frame[4096];
	uint8_t pkt[MAQ_INNER_MTU], n12[12] = { 0 }, *cell, *body, *inner;
	uint32_t add = 200, rec;
	size_t patlen = 0, plen;
	uint64_t seq, nonce, ctr;
	int opt, i;
	FILE *fp;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': state = optarg; break;
		case 'i': in = optarg; break;
		case 'o': out = optarg; break;
		case 'n': add = num(optarg, "add"); break;
		case 'p': pat = optarg; break;
		default: fail("bad replay option");
		}
	}
	if (!state || !in || !out || !add)
		fail("replay --state FILE --in CAP --out CAP [--add N]");
	if (pat && sodium_hex2bin(patb, sizeof(patb), pat, strlen(pat), NULL,
				  &patlen, NULL))
		fail("bad pattern %s", pat);
	state_hex(state, "rdv_back_key", key, sizeof(key));
	state_hex(state, "a_send_key", ka, sizeof(ka));

	fp = fopen(in, "rb");
	if (!fp || fread(&rec, sizeof(rec), 1, fp) != 1 ||
	    rec < MAQUIS_CELL_SIZE || rec > sizeof(frame) ||
	    fread(frame, rec, 1, fp) != 1)
		fail("%s: no captured frame", in);
	fclose(fp);
	/* the UDP payload ends the frame: veth pads nothing this long */
	cell = frame + rec - MAQUIS_CELL_SIZE;
	body = cell + MAQ_HDR_LEN;
	inner = body + MAQ_PAYLOAD_OFF;
	for (i = 0; i < 4; i++)
		cid_be[i] = cell[i];
	seq = 0;
	for (i = 0; i < 8; i++)
		seq = seq << 8 | cell[4 + i];
	nonce = seq & MAQ_SEQ_CTR_MASK;
	if (maq_layer_open(body, body + MAQ_BODY_LEN, key, nonce, NULL))
		fail("captured cell does not open with the rendezvous' key");

	/* What the rendezvous sees: sealed end to end, no plaintext. */
	if (inner[0] != MAQ_INNER_IP || !(inner[1] & MAQ_INNER_F_E2E))
		fail("payload type %u flags %#x: not sealed end to end",
		     inner[0], inner[1]);
	if (patlen && memmem(body, MAQ_BODY_LEN, patb, patlen))
		fail("the rendezvous sees the pattern in clear");
	if (maq_e2e_parse(inner, &ctr, &plen))
		fail("e2e length %u", inner[2] << 8 | inner[3]);
	for (i = 0; i < 8; i++)
		n12[4 + i] = (uint8_t)(ctr >> (8 * i));
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(pkt, NULL,
			inner + MAQ_E2E_AD_LEN, plen,
			inner + MAQ_E2E_AD_LEN + plen, inner, MAQ_E2E_AD_LEN,
			n12, ka))
		fail("libsodium does not open the e2e layer with a's key");
	if (plen < 20 || pkt[0] >> 4 != 4 || (size_t)(pkt[2] << 8 | pkt[3]) != plen)
		fail("the e2e layer holds no IPv4 packet of %zu bytes", plen);

	/* The same plaintext again, @add counters on, as the rendezvous can. */
	nonce = (nonce + add) & MAQ_SEQ_CTR_MASK;
	maq_layer_seal(body, body + MAQ_BODY_LEN, key, nonce);
	maq_cell_put_hdr(cell, (uint32_t)(cid_be[0] << 24 | cid_be[1] << 16 |
					  cid_be[2] << 8 | cid_be[3]),
			 (seq & MAQ_SEQ_PHASE) | nonce);
	fp = fopen(out, "wb");
	if (!fp || fwrite(&rec, sizeof(rec), 1, fp) != 1 ||
	    fwrite(frame, rec, 1, fp) != 1 || fclose(fp))
		fail("%s: cannot write", out);
	printf("e2e_ctr=%" PRIu64 "\nip_len=%zu\nouter_ctr=%" PRIu64
	       "\nreplay_ctr=%" PRIu64 "\n", ctr, plen,
	       (uint64_t)(seq & MAQ_SEQ_CTR_MASK),
	       nonce);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(ka, sizeof(ka));
	return 0;
}

int main(int argc, char **argv)
{
	if (maq_crypto_init())
		fail("libsodium");
	if (argc < 2)
		fail("install|join|show|replay ... (see rdvtool.c)");
	if (!strcmp(argv[1], "install"))
		return cmd_install(argc - 1, argv + 1);
	if (!strcmp(argv[1], "join"))
		return cmd_join(argc - 1, argv + 1, false);
	if (!strcmp(argv[1], "show"))
		return cmd_join(argc - 1, argv + 1, true);
	if (!strcmp(argv[1], "replay"))
		return cmd_replay(argc - 1, argv + 1);
	fail("unknown command %s", argv[1]);
}
