// SPDX-License-Identifier: GPL-2.0
/*
 * Writes the seed corpora of the harnesses under DIR/<harness>/: valid
 * messages made by the library itself with the keys of fuzz.h (so that the
 * harnesses' accepting paths are reached from the start) and a few edge
 * cases beside each.  It checks that its valid seeds are accepted (a seed
 * that is not would seed nothing), and is deterministic: running it again
 * writes the same bytes.
 *
 *   seedgen DIR
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <sodium.h>

#include "alias_rec.h"
#include "descriptor.h"
#include "fuzz.h"

static const char *root;

static void put(const char *harness, const char *name, const void *buf,
		size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, harness);
	FUZZ_ASSERT(!mkdir(path, 0755) || errno == EEXIST, "mkdir %s: %s",
		    path, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s/%s", root, harness, name);
	f = fopen(path, "we");
	FUZZ_ASSERT(f, "%s: %s", path, strerror(errno));
	FUZZ_ASSERT(fwrite(buf, 1, len, f) == len && !fclose(f), "%s: write",
		    path);
}

static void put_text(const char *harness, const char *name, const char *s)
{
	put(harness, name, s, strlen(s));
}

/* --- descriptors and gossip ------------------------------------------- */

static void v4(union maq_sockaddr *a, u32 host)
{
	memset(a, 0, sizeof(*a));
	a->in4.sin_family = AF_INET;
	a->in4.sin_addr.s_addr = htonl(host);
}

static void v6(union maq_sockaddr *a, u8 last)
{
	memset(a, 0, sizeof(*a));
	a->in6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:77::", &a->in6.sin6_addr);
	a->in6.sin6_addr.s6_addr[15] = last;
}

/* Descriptor @i of the seeds, signed by identity i % FUZZ_N_KEYS. */
static void make_desc(u8 out[MAQ_DESC_LEN], unsigned int i)
{
	struct maq_identity id;
	struct maq_onion_key ok;
	struct maq_desc d;
	enum maq_desc_err err;

	memset(&d, 0, sizeof(d));
	fuzz_identity(i % FUZZ_N_KEYS, &id);
	fuzz_onion_key(i % FUZZ_N_KEYS, &ok);
	d.version = MAQ_DESC_VERSION;
	d.flags = (u8)(i % 4);
	d.port = (u16)(MAQ_DEFAULT_PORT + i);
	d.bandwidth = 1000 * (i + 1);
	d.published = FUZZ_NOW - 600 + 60 * i;
	d.expires = d.published + (i % 2 ? MAQ_DESC_MAX_LIFE : 3600);
	if (i % 3 == 1)
		v6(&d.addr[0], (u8)(i + 1));
	else
		v4(&d.addr[0], 0xc6336400 + i + 1);	/* 198.51.100.x */
	if (i % 2)
		v4(&d.addr[1], 0xcb007100 + i + 1);	/* 203.0.113.x */
	memcpy(d.onion_key, ok.pk, MAQ_ONION_LEN);
	if (i % 4 == 3)
		memset(d.family, 0x42, MAQ_FAMILY_LEN);
	if (i % 3 == 0) {
		d.prefix.family = AF_INET;
		d.prefix.addr.v4.s_addr = htonl(0x0a090000 + (i << 8));
		d.prefix.len = 24;
	} else if (i % 3 == 1) {
		d.prefix.family = AF_INET6;
		inet_pton(AF_INET6, "fd31::", &d.prefix.addr.v6);
		d.prefix.addr.v6.s6_addr[7] = (u8)i;
		d.prefix.len = 64;
	}
	err = maq_desc_encode(out, &d, &id);
	FUZZ_ASSERT(err == MAQ_DESC_OK, "seed descriptor %u: %s", i,
		    maq_desc_err_name(err));
	maq_identity_wipe(&id);
	maq_onion_wipe(&ok);
}

static void descriptors(void)
{
	u8 d[MAQ_DESC_LEN + 1];
	char name[64];
	unsigned int i;
	struct maq_desc dec;
	enum maq_desc_err err;

	for (i = 0; i < 6; i++) {
		make_desc(d, i);
		/* a seed that does not decode would not seed anything */
		err = maq_desc_decode(&dec, d, MAQ_DESC_LEN, FUZZ_NOW);
		FUZZ_ASSERT(err == MAQ_DESC_OK, "seed %u: %s", i,
			    maq_desc_err_name(err));
		snprintf(name, sizeof(name), "valid-%u", i);
		put("descriptor", name, d, MAQ_DESC_LEN);
	}
	make_desc(d, 0);
	put("descriptor", "truncated", d, MAQ_DESC_LEN - 1);
	d[MAQ_DESC_LEN] = 0;
	put("descriptor", "oversized", d, MAQ_DESC_LEN + 1);
	d[200] ^= 1;
	put("descriptor", "bad-signature", d, MAQ_DESC_LEN);
	make_desc(d, 0);
	d[0] = 2;
	put("descriptor", "bad-version", d, MAQ_DESC_LEN);
	memset(d, 0, MAQ_DESC_LEN);
	put("descriptor", "zero", d, MAQ_DESC_LEN);
}

static void gossip(void)
{
	struct maq_digest_entry e[MAQ_DIGEST_MAX];
	u8 cell[MAQ_CELL_SIZE], desc[MAQ_PUSH_MAX][MAQ_DESC_LEN];
	unsigned int i;

	fuzz_rng_reset(100);
	for (i = 0; i < MAQ_DIGEST_MAX; i++) {
		e[i].id = 0x1000000000000000ULL + (u64)i * 0x0123456789abULL;
		e[i].published = FUZZ_NOW - i;
	}
	FUZZ_ASSERT(!maq_gossip_digest_encode(cell, 1, 0, ~0ULL, NULL, 0),
		    "empty digest");
	put("gossip", "digest-empty", cell, sizeof(cell));
	FUZZ_ASSERT(!maq_gossip_digest_encode(cell, 2, e[0].id, e[0].id, e, 1),
		    "digest of 1");
	put("gossip", "digest-1", cell, sizeof(cell));
	FUZZ_ASSERT(!maq_gossip_digest_encode(cell, 3, 0x1000000000000000ULL,
					      0x2000000000000000ULL, e,
					      MAQ_DIGEST_MAX), "full digest");
	put("gossip", "digest-full", cell, sizeof(cell));
	/* entry 2 made a copy of entry 0: out of order */
	memcpy(cell + MAQ_CTL_HDR_LEN + 20 + 2 * 16,
	       cell + MAQ_CTL_HDR_LEN + 20, 16);
	put("gossip", "digest-unsorted", cell, sizeof(cell));

	for (i = 0; i < MAQ_PUSH_MAX; i++)
		make_desc(desc[i], i);
	FUZZ_ASSERT(!maq_gossip_push_encode(cell, 4,
					    (const u8 (*)[MAQ_DESC_LEN])desc,
					    1), "push of 1");
	put("gossip", "push-1", cell, sizeof(cell));
	FUZZ_ASSERT(!maq_gossip_push_encode(cell, 5,
					    (const u8 (*)[MAQ_DESC_LEN])desc,
					    MAQ_PUSH_MAX), "full push");
	put("gossip", "push-full", cell, sizeof(cell));
	cell[MAQ_CTL_HDR_LEN + 2] = 1;
	put("gossip", "bad-reserved", cell, sizeof(cell));
	cell[MAQ_CTL_HDR_LEN + 2] = 0;
	cell[4] = MAQ_CTL_CREATE;
	put("gossip", "not-gossip", cell, sizeof(cell));
	put("gossip", "truncated", cell, sizeof(cell) - 1);
}

/* --- circuit setup ----------------------------------------------------- */

static void create(void)
{
	static const unsigned int lens[] = { 1, 2, 3, 8 };
	struct maq_onion_key keys[2];
	struct maq_relay_setup r;
	enum maq_create_err err;
	struct maq_origin o;
	u8 msg[MAQ_CTL_MSG_LEN];
	char name[64];
	unsigned int i;

	fuzz_onion_key(0, &keys[0]);
	fuzz_onion_key(1, &keys[1]);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		fuzz_origin(&o, msg, lens[i]);
		err = maq_create_process(&r, msg, sizeof(msg), keys, 2);
		FUZZ_ASSERT(err == MAQ_CREATE_OK, "CREATE for %u hops: %s",
			    lens[i], maq_create_err_name(err));
		snprintf(name, sizeof(name), "hops-%u", lens[i]);
		put("create", name, msg, sizeof(msg));
	}
	put("create", "truncated", msg, sizeof(msg) - 1);
	memset(msg + 4, 0, 32);		/* X = 0: small order */
	put("create", "small-order-x", msg, sizeof(msg));
	maq_relay_setup_wipe(&r);
	maq_origin_wipe(&o);
}

/* A routing block as PROTOCOL 7.1 lays it out. */
static void routing(const char *name, u8 flags, u8 family, u16 port,
		    const u8 *addr, u8 plen, u32 lifetime, u64 fwd, u64 back)
{
	u8 rb[MAQ_ROUTING_LEN];

	memset(rb, 0, sizeof(rb));
	rb[0] = flags;
	rb[1] = family;
	maq_put_be16(rb + 2, port);
	if (addr)
		memcpy(rb + 4, addr, family == MAQ_WIRE_IPV4 ? 4 : 16);
	maq_put_be32(rb + 20, lifetime);
	maq_put_be64(rb + 24, fwd);
	maq_put_be64(rb + 32, back);
	rb[40] = MAQ_HOP_VERSION;
	/* a terminus's return route: prefix length and token */
	if (plen) {
		rb[41] = plen;
		memset(rb + 42, 0x7a, 16);
	}
	put("create_routing", name, rb, sizeof(rb));
}

static void create_routing(void)
{
	static const u8 a4[4] = { 192, 0, 2, 7 };
	static const u8 a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 };
	static const u8 p4[4] = { 10, 9, 0, 0 };

	routing("relay-v4", 0, MAQ_WIRE_IPV4, 7720, a4, 0, 600, 12345, 678);
	routing("relay-v6", 0, MAQ_WIRE_IPV6, 7721, a6, 0, 86400,
		MAQ_SEQ_CTR_MASK, 0);
	routing("terminus", MAQ_ROUTING_TERMINUS, 0, 0, NULL, 0, 1, 0,
		MAQ_BASE_LIMIT - 1);
	/* a terminus with a return route: 10.9.0.0/16, a token */
	routing("terminus-route", MAQ_ROUTING_TERMINUS, MAQ_WIRE_IPV4, 0, p4,
		16, 600, 0, 99);
	routing("bad-lifetime", 0, MAQ_WIRE_IPV4, 7720, a4, 0, 86401, 1, 1);
}

static void created(void)
{
	static const unsigned int lens[] = { 1, 3, 8 };
	u8 msg[MAQ_CTL_MSG_LEN], next[MAQ_CTL_MSG_LEN];
	unsigned int i, k, refuse, reason;
	struct maq_origin o, check;
	struct maq_setup_fail fail;
	int ret;
	char name[64];

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		unsigned int n = lens[i];

		fuzz_origin(&o, msg, n);
		/* refuse == 0: built; else hop refuse says no */
		for (refuse = 0; refuse <= n; refuse++) {
			k = refuse ? refuse : n;
			reason = refuse ? 1 + refuse % 4 : 0;
			fuzz_rng_reset(1000 + 10 * n + refuse);
			FUZZ_ASSERT(!maq_created_build(msg, 0x500 + k,
						       o.reply_key[k - 1],
						       (int)reason),
				    "created_build");
			while (--k > 0) {
				FUZZ_ASSERT(maq_created_wrap(next, msg,
							     sizeof(msg),
							     0x500 + k,
							     o.reply_key[k - 1])
					    >= 0, "created_wrap");
				memcpy(msg, next, sizeof(msg));
			}
			check = o;
			ret = maq_created_open(&check, msg, sizeof(msg),
					       &fail);
			FUZZ_ASSERT(refuse ? ret == -1 &&
					     fail.hop == (int)refuse &&
					     fail.reason == (int)reason :
					     ret == 0,
				    "CREATED for %u hops, refused at %u: %d, "
				    "hop %d reason %d", n, refuse, ret,
				    fail.hop, fail.reason);
			if (refuse)
				snprintf(name, sizeof(name),
					 "hops-%u-refused-at-%u", n, refuse);
			else
				snprintf(name, sizeof(name), "hops-%u-built",
					 n);
			put("created", name, msg, sizeof(msg));
		}
	}
	put("created", "truncated", msg, sizeof(msg) - 1);
	/* for the harness's model: every conf OK, and hop 3 refusing */
	memset(msg, 0, sizeof(msg));
	msg[MAQ_MAX_HOPS * 16 + 3] = 0x42;
	put("created", "confs-ok", msg, MAQ_MAX_HOPS * 16 + 4);
	msg[2 * 16] = 1;
	msg[2 * 16 + 1] = MAQ_SETUP_NO_CAPACITY;
	put("created", "confs-refused-at-3", msg, MAQ_MAX_HOPS * 16 + 4);
	maq_origin_wipe(&check);
	maq_origin_wipe(&o);
}

/* --- text ------------------------------------------------------------- */

static void config(void)
{
	put_text("config", "full",
		 "# maquisd.conf\n"
		 "role = relay\n"
		 "listen = 192.0.2.1:7720\n"
		 "listen = [2001:db8::1]:7720\n"
		 "bootstrap = 198.51.100.7\n"
		 "bootstrap = [2001:db8::7]:7799   # comment\n"
		 "bandwidth = 4294967295\n"
		 "lifetime = 86400\n"
		 "hops = 7\n"
		 "family = 00112233445566778899aabbccddeeff"
		 "00112233445566778899aabbccddeeff\n"
		 "key-dir = /var/lib/maquis\n"
		 "log-level = debug\n"
		 "interface = maq1\n"
		 "address = fd31::1/64\n"
		 "control = /run/maquis/maquisd.sock\n"
		 "circuit = 10.9.0.1\n"
		 "circuit = fd32::/48\n");
	put_text("config", "client",
		 "role=client\r\n\t\n  hops =1\naddress = 10.9.0.1\n");
	put_text("config", "duplicate", "hops = 2\nhops = 3\n");
	put_text("config", "unknown-key", "colour = blue\n");
	put_text("config", "no-value", "lifetime =\n");
	put_text("config", "bad-number", "bandwidth = 99999999999999999999\n");
	put_text("config", "no-newline", "log-level = warn");
}

static void ipc(void)
{
	put_text("ipc", "req-show", "show\n\n");
	put_text("ipc", "req-relays", "relays\n\n");
	put_text("ipc", "req-circuits", "circuits\n\n");
	put_text("ipc", "req-stats", "stats\n\n");
	put_text("ipc", "req-build",
		 "build\nhops=3\nvia=0123456789abcdef\n"
		 "via=fedcba9876543210\nto=10.9.0.1\nlifetime=600\n\n");
	put_text("ipc", "req-destroy", "destroy\nid=4294967295\n\n");
	put_text("ipc", "req-bad", "build\nhops=9\n\n");
	put_text("ipc", "reply-show",
		 "identity=AAAA\nrole=relay\ninterface=maq0\n"
		 "listen=192.0.2.1:7720\naddress=-\nrelays=3\nerrno=0\n\n");
	put_text("ipc", "reply-relays",
		 "relay=AAAA\nid=0123456789abcdef\naddr=192.0.2.1:7720\n"
		 "addr2=-\nrelay=BBBB\nid=fedcba9876543210\n"
		 "addr=[2001:db8::1]:7720\nself=1\nerrno=0\n\n");
	put_text("ipc", "reply-error",
		 "errno=2\nmessage=no such circuit\n\n");
	put_text("ipc", "reply-bad", "errno=0\nkey=after\n\n");
}

/* --- cells and framing -------------------------------------------------- */

static void ctl(void)
{
	static const u8 a4[19] = { 4, 192, 0, 2, 1, [17] = 0x1e, 0x28 };
	static const u8 a6[19] = { 6, 0x20, 0x01, 0x0d, 0xb8, [16] = 1,
				   0x1e, 0x29 };
	static const u8 none[19];
	u8 cell[MAQ_CELL_SIZE];

	put("ctl", "addr-v4", a4, sizeof(a4));
	put("ctl", "addr-v6", a6, sizeof(a6));
	put("ctl", "addr-none", none, sizeof(none));
	memset(cell, 0, sizeof(cell));
	maq_ctl_put(cell, MAQ_CTL_GOSSIP, 0xdeadbeef);
	put("ctl", "cell-gossip", cell, sizeof(cell));
	cell[6] = 1;
	put("ctl", "cell-reserved", cell, sizeof(cell));
}

static void cell(void)
{
	u8 c[MAQ_CELL_SIZE];
	unsigned int n;
	char name[64];

	for (n = 1; n <= MAQ_MAX_HOPS; n += 3) {
		fuzz_rng_reset(2000 + n);
		randombytes_buf(c, sizeof(c));
		c[0] = (u8)(n - 1);
		c[1] = (u8)(n - 1);
		snprintf(name, sizeof(name), "random-%u-hops", n);
		put("cell", name, c, sizeof(c));
	}
	/* counter just below the 63-bit wrap, phase 1 */
	memset(c, 0, sizeof(c));
	c[0] = 7;
	memset(c + 4, 0xff, 8);
	put("cell", "wrap-phase1", c, sizeof(c));
	c[4] = 0x7f;
	put("cell", "wrap-phase0", c, sizeof(c));
	put("cell", "short", c, 64);
}

/* --- aliases (fuzz_alias) ---------------------------------------------- */

static void alias(void)
{
	struct maq_identity id;
	struct maq_alias_rec r, o;
	struct maq_amsg m;
	u8 rec[MAQ_ALIAS_REC_LEN], msg[MAQ_AMSG_LEN];
	char name[32], s[MAQ_ALIAS_STR_LEN + 1];
	unsigned int i, k;

	fuzz_identity(0, &id);
	memset(&r, 0, sizeof(r));
	r.day = maq_alias_day(FUZZ_NOW);
	r.published = FUZZ_NOW - 60;
	r.expires = FUZZ_NOW + 3600;
	memset(r.service_x, 0x5a, sizeof(r.service_x));
	for (k = 1; k <= MAQ_ALIAS_MAX_INTRO; k++) {
		r.n_intro = k;
		for (i = 0; i < k; i++) {
			memset(r.intro[i].relay, 0x10 + i, MAQ_ID_PK_LEN);
			memset(r.intro[i].token, 0xc0 + i,
			       MAQ_ALIAS_TOKEN_LEN);
		}
		FUZZ_ASSERT(!maq_alias_rec_seal(rec, &r, &id), "seal");
		FUZZ_ASSERT(maq_alias_rec_open(rec, sizeof(rec), FUZZ_NOW,
					       id.pk, &o) == MAQ_AREC_OK,
			    "seed record %u does not open", k);
		snprintf(name, sizeof(name), "record-%u-intro", k);
		put("alias", name, rec, sizeof(rec));
	}
	/* another key's: the relay accepts it, alias 0 does not open it */
	fuzz_identity(1, &id);
	FUZZ_ASSERT(!maq_alias_rec_seal(rec, &r, &id), "seal");
	put("alias", "record-other-key", rec, sizeof(rec));
	rec[100] ^= 1;
	put("alias", "record-tampered", rec, sizeof(rec));
	put("alias", "record-truncated", rec, sizeof(rec) - 1);
	for (i = MAQ_AMSG_ESTABLISH_INTRO; i <= MAQ_AMSG_RENDEZVOUS2; i++) {
		memset(&m, 0, sizeof(m));
		m.type = (u8)i;
		m.nonce = 0x0102030405060708ULL * i;
		memset(m.token, 0x33, sizeof(m.token));
		memset(m.cookie, 0x44, sizeof(m.cookie));
		memset(m.sealed, 0x55, sizeof(m.sealed));
		memset(m.auth, 0x66, sizeof(m.auth));
		maq_amsg_put(msg, &m);
		snprintf(name, sizeof(name), "message-%u", i);
		put("alias", name, msg, sizeof(msg));
	}
	fuzz_identity(0, &id);
	maq_alias_encode(s, id.pk);
	put_text("alias", "alias-string", s);
	/* as typed: upper case, and one character short */
	for (i = 0; s[i]; i++)
		s[i] = (char)toupper((unsigned char)s[i]);
	put_text("alias", "alias-upper", s);
	s[MAQ_ALIAS_STR_LEN - 1] = 0;
	put_text("alias", "alias-short", s);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	root = argv[1];
	FUZZ_ASSERT(!mkdir(root, 0755) || errno == EEXIST, "mkdir %s: %s",
		    root, strerror(errno));
	fuzz_init();
	descriptors();
	gossip();
	create();
	create_routing();
	created();
	config();
	ipc();
	ctl();
	cell();
	alias();
	return 0;
}
