// SPDX-License-Identifier: GPL-2.0
/*
 * The module's datapath against the reference: every cell it emits is
 * compared with what include/maquis/layer.h (through daemon/crypto.h)
 * computes, and every cell forged here with layer.h must be accepted by
 * the module as the real peer's would.  One device, circuits of each role
 * whose neighbours are UDP sockets of the test (127.0.0.1 next, ::1 prev),
 * inner traffic through maq0 (10.77.0.1, fd77::1).
 *
 * Needs root and maquis.ko loaded (tests/kmod/run.sh in the VM).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>

#include <sodium.h>

#include "../../daemon/crypto.h"
#include "../../daemon/nl.h"
#include "common.h"
#include "kselftest_harness.h"

#define DEV		"maq0"
#define ORIG_ID		10
#define RELAY_ID	20
#define TERM_ID		30
#define NHOPS		4
#define SEQ_MASK	((1ULL << 63) - 1)
#define PHASE		(1ULL << 63)
#define BASE_LIMIT	(1ULL << 61)

static uint64_t rand64(void)
{
	return (uint64_t)randombytes_random() << 32 | randombytes_random();
}

static void rand_hop(struct maq_hop *h, uint8_t index)
{
	memset(h, 0, sizeof(*h));
	h->index = index;
	h->has = MAQ_HOP_ALL;
	randombytes_buf(h->fwd_key, MAQUIS_KEY_LEN);
	randombytes_buf(h->back_key, MAQUIS_KEY_LEN);
	randombytes_buf(h->fwd_ctl_key, MAQUIS_KEY_LEN);
	randombytes_buf(h->back_ctl_key, MAQUIS_KEY_LEN);
	h->fwd_seq = rand64() % BASE_LIMIT;
	h->back_seq = rand64() % BASE_LIMIT;
}

FIXTURE(dp) {
	struct maq_nl *nl, *ev;
	uint32_t ifindex;
	uint16_t port;
	int sink4, sink6;
	union maq_sockaddr a4, a6, dev4;
	struct maq_circuit orig, relay, term;
};

static void install(struct __test_metadata *_metadata, struct maq_nl *nl,
		    const struct maq_circuit *c)
{
	int err = maq_nl_circuit_new(nl, c);

	ASSERT_EQ(0, err) TH_LOG("circuit-new %u: %s", c->id, maq_nl_errmsg(nl));
}

static void mk_origin(FIXTURE_DATA(dp) *self, struct maq_circuit *c,
		      uint32_t id, uint32_t cid0)
{
	int i;

	memset(c, 0, sizeof(*c));
	c->ifindex = self->ifindex;
	c->id = id;
	c->role = MAQUIS_ROLE_ORIGIN;
	c->fwd_cid_out = cid0 + 1;
	c->back_cid_in = cid0 + 2;
	c->next = self->a4;
	c->lifetime = 3600;
	c->n_hops = NHOPS;
	for (i = 0; i < NHOPS; i++)
		rand_hop(&c->hops[i], (uint8_t)i);
	c->n_routes = 1;
	maq_prefix_parse("172.30.1.0/24", &c->routes[0]);
}

FIXTURE_SETUP(dp)
{
	struct maq_circuit *c;
	struct maq_dev dev;
	int err;

	ASSERT_EQ(0, sodium_init() < 0);
	ASSERT_EQ(0, maq_crypto_init());
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, link_up("lo"));
	err = link_add(DEV, maq_kind());
	ASSERT_EQ(0, err) TH_LOG("ip link add %s type %s: %s", DEV, maq_kind(),
				 strerror(-err));
	self->ifindex = if_nametoindex(DEV);
	ASSERT_EQ(0, link_up(DEV));
	ASSERT_EQ(0, addr_add(DEV, AF_INET, "10.77.0.1", 32));
	ASSERT_EQ(0, addr_add(DEV, AF_INET6, "fd77::1", 128));
	ASSERT_EQ(0, route_add(DEV, AF_INET, "172.30.1.0", 24));
	ASSERT_EQ(0, route_add(DEV, AF_INET6, "fd30:1::", 64));
	ASSERT_EQ(0, maq_nl_open(&self->nl));
	ASSERT_EQ(0, maq_nl_open(&self->ev));
	ASSERT_EQ(0, maq_nl_subscribe(self->ev));
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &dev));
	self->port = dev.port;
	maq_sockaddr_parse("127.0.0.1", self->port, &self->dev4);
	self->sink4 = udp_sink(AF_INET, "127.0.0.1", &self->a4);
	ASSERT_LE(0, self->sink4);
	self->sink6 = udp_sink(AF_INET6, "::1", &self->a6);
	ASSERT_LE(0, self->sink6);

	mk_origin(self, &self->orig, ORIG_ID, 1000);

	c = &self->relay;
	memset(c, 0, sizeof(*c));
	c->ifindex = self->ifindex;
	c->id = RELAY_ID;
	c->role = MAQUIS_ROLE_RELAY;
	c->fwd_cid_in = 2001;
	c->fwd_cid_out = 2002;
	c->back_cid_in = 2003;
	c->back_cid_out = 2004;
	c->next = self->a4;
	c->prev = self->a6;
	c->lifetime = 3600;
	c->n_hops = 1;
	rand_hop(&c->hops[0], 0);
	c->hops[0].fwd_seq = rand64() & SEQ_MASK;	/* deltas */
	c->hops[0].back_seq = rand64() & SEQ_MASK;

	c = &self->term;
	memset(c, 0, sizeof(*c));
	c->ifindex = self->ifindex;
	c->id = TERM_ID;
	c->role = MAQUIS_ROLE_TERMINUS;
	c->fwd_cid_in = 3001;
	c->back_cid_out = 3002;
	c->prev = self->a6;
	c->lifetime = 3600;
	c->n_hops = 1;
	rand_hop(&c->hops[0], 0);
	c->hops[0].has = MAQ_HOP_KEYS | MAQ_HOP_BACK_SEQ;
	c->n_routes = 1;
	maq_prefix_parse("fd30:1::/64", &c->routes[0]);

	install(_metadata, self->nl, &self->orig);
	install(_metadata, self->nl, &self->relay);
	install(_metadata, self->nl, &self->term);
	udp_drain(self->sink4);
	udp_drain(self->sink6);
}

FIXTURE_TEARDOWN(dp)
{
	maq_nl_close(self->nl);
	maq_nl_close(self->ev);
	close(self->sink4);
	close(self->sink6);
}

/* --- helpers ----------------------------------------------------------- */

static void send_to(const union maq_sockaddr *to, const void *buf, size_t len)
{
	int fd = socket(to->sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || sendto(fd, buf, len, 0, &to->sa, to->sa.sa_family == AF_INET ?
			     sizeof(to->in4) : sizeof(to->in6)) != (ssize_t)len)
		abort();
	close(fd);
}

/* The next cell with @cid on @fd within 3 s (others are skipped). */
static bool recv_cell(int fd, uint32_t cid, uint8_t *cell)
{
	uint8_t buf[2048];
	int i;

	for (i = 0; i < 20; i++) {
		ssize_t n = udp_recv(fd, buf, sizeof(buf), 3000, NULL);

		if (n <= 0)
			return false;
		if (n == MAQ_CELL_SIZE && cell_cid(buf) == cid) {
			memcpy(cell, buf, MAQ_CELL_SIZE);
			return true;
		}
	}
	return false;
}

/* A cell (cid, seq) carrying the plaintext @pt sealed under (@key, seq). */
static void seal_cell(uint8_t *cell, uint32_t cid, uint64_t seq,
		      const uint8_t *key, const uint8_t *pt)
{
	maq_cell_put_hdr(cell, cid, seq);
	memcpy(cell + MAQ_HDR_LEN, pt, MAQ_BODY_LEN);
	maq_layer_seal(cell + MAQ_HDR_LEN, cell + MAQ_HDR_LEN + MAQ_BODY_LEN,
		       key, seq & SEQ_MASK);
}

static uint16_t csum(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* An IPv4 or IPv6 UDP packet; returns its length. */
static size_t udp_packet(uint8_t *pkt, int family, const char *src,
			 uint16_t sport, const char *dst, uint16_t dport,
			 const void *payload, size_t plen)
{
	size_t ulen = 8 + plen, ip = family == AF_INET ? 20 : 40;
	uint8_t pseudo[40], *u = pkt + ip;
	uint32_t sum = 0;
	uint16_t c;
	size_t i;

	memset(pkt, 0, ip + ulen);
	if (family == AF_INET) {
		pkt[0] = 0x45;
		pkt[2] = (uint8_t)((ip + ulen) >> 8);
		pkt[3] = (uint8_t)(ip + ulen);
		pkt[8] = 64;
		pkt[9] = IPPROTO_UDP;
		inet_pton(AF_INET, src, pkt + 12);
		inet_pton(AF_INET, dst, pkt + 16);
		c = csum(0, pkt, 20);
		pkt[10] = (uint8_t)(c >> 8);
		pkt[11] = (uint8_t)c;
		memcpy(pseudo, pkt + 12, 8);
		pseudo[8] = 0;
		pseudo[9] = IPPROTO_UDP;
		pseudo[10] = (uint8_t)(ulen >> 8);
		pseudo[11] = (uint8_t)ulen;
		for (i = 0; i < 12; i += 2)
			sum += (uint32_t)(pseudo[i] << 8 | pseudo[i + 1]);
	} else {
		pkt[0] = 0x60;
		pkt[4] = (uint8_t)(ulen >> 8);
		pkt[5] = (uint8_t)ulen;
		pkt[6] = IPPROTO_UDP;
		pkt[7] = 64;
		inet_pton(AF_INET6, src, pkt + 8);
		inet_pton(AF_INET6, dst, pkt + 24);
		memcpy(pseudo, pkt + 8, 32);
		memset(pseudo + 32, 0, 8);
		pseudo[34] = (uint8_t)(ulen >> 8);
		pseudo[35] = (uint8_t)ulen;
		pseudo[39] = IPPROTO_UDP;
		for (i = 0; i < 40; i += 2)
			sum += (uint32_t)(pseudo[i] << 8 | pseudo[i + 1]);
	}
	u[0] = (uint8_t)(sport >> 8);
	u[1] = (uint8_t)sport;
	u[2] = (uint8_t)(dport >> 8);
	u[3] = (uint8_t)dport;
	u[4] = (uint8_t)(ulen >> 8);
	u[5] = (uint8_t)ulen;
	memcpy(u + 8, payload, plen);
	c = csum(sum, u, ulen);
	if (!c)
		c = 0xffff;
	u[6] = (uint8_t)(c >> 8);
	u[7] = (uint8_t)c;
	return ip + ulen;
}

/* The innermost plaintext around an inner packet of @type. */
static void inner_plaintext(uint8_t *pt, uint8_t type, const void *pkt,
			    size_t len, size_t hdr_len)
{
	memset(pt, 0, MAQ_BODY_LEN);
	pt[MAQ_PAYLOAD_OFF] = type;
	pt[MAQ_PAYLOAD_OFF + 2] = (uint8_t)(hdr_len >> 8);
	pt[MAQ_PAYLOAD_OFF + 3] = (uint8_t)hdr_len;
	memcpy(pt + MAQ_PAYLOAD_OFF + MAQ_INNER_HDR_LEN, pkt, len);
}

static uint64_t stat_of(struct maq_nl *nl, uint32_t ifindex, uint32_t id,
			int attr)
{
	struct maq_circuit c;
	struct maq_dev d;

	if (id) {
		if (maq_nl_circuit_get(nl, ifindex, id, &c))
			return UINT64_MAX;
		return c.stats.val[attr];
	}
	if (maq_nl_dev_get(nl, ifindex, &d))
		return UINT64_MAX;
	return d.stats.val[attr];
}

/* The next notification of @cmd (and circuit @id), within 3 s. */
static bool next_event(struct maq_nl *ev, uint8_t cmd, uint32_t id,
		       struct maq_event *out)
{
	int i;

	for (i = 0; i < 30; i++) {
		int r = maq_nl_event_recv(ev, out, 100);

		if (r < 0)
			return false;
		if (r && out->cmd == cmd && out->id == id)
			return true;
	}
	return false;
}

/* --- relay ------------------------------------------------------------- */

TEST_F(dp, relay_forward_matches_layer_h)
{
	const struct maq_hop *h = &self->relay.hops[0];
	uint8_t pt[MAQ_BODY_LEN], cell[MAQ_CELL_SIZE];
	uint8_t want[MAQ_SHIFT + MAQ_CELL_SIZE], got[MAQ_CELL_SIZE];
	uint64_t s = rand64() % BASE_LIMIT;
	uint8_t *out;
	int i;

	for (i = 0; i < 3; i++, s += 1 + randombytes_uniform(100)) {
		randombytes_buf(pt, sizeof(pt));
		seal_cell(cell, self->relay.fwd_cid_in, s, h->fwd_key, pt);
		memcpy(want + MAQ_SHIFT, cell, MAQ_CELL_SIZE);
		out = maq_relay_fwd(want + MAQ_SHIFT, h->fwd_key, s,
				    self->relay.fwd_cid_out, h->fwd_seq);
		ASSERT_TRUE(out == want);
		send_to(&self->dev4, cell, sizeof(cell));
		ASSERT_TRUE(recv_cell(self->sink4, self->relay.fwd_cid_out, got))
			TH_LOG("cell %d not forwarded to next", i);
		EXPECT_EQ((s + h->fwd_seq) & SEQ_MASK, cell_seq(got));
		EXPECT_EQ(0, memcmp(want, got, MAQ_CELL_SIZE))
			TH_LOG("cell %d differs from maq_relay_fwd()", i);
	}
	EXPECT_EQ(3, stat_of(self->nl, self->ifindex, RELAY_ID,
			     MAQUIS_A_STATS_CELLS_IN));
	EXPECT_EQ(3, stat_of(self->nl, self->ifindex, RELAY_ID,
			     MAQUIS_A_STATS_CELLS_OUT));
}

TEST_F(dp, relay_backward_matches_layer_h)
{
	const struct maq_hop *h = &self->relay.hops[0];
	uint8_t cell[MAQ_CELL_SIZE], got[MAQ_CELL_SIZE];
	uint8_t want[MAQ_CELL_SIZE + MAQ_SHIFT];
	uint64_t s = rand64() % BASE_LIMIT;
	uint8_t *out;

	maq_cell_put_hdr(cell, self->relay.back_cid_in, s);
	randombytes_buf(cell + MAQ_HDR_LEN, MAQ_BODY_LEN + MAQ_TAG_LEN);
	memcpy(want, cell, MAQ_CELL_SIZE);
	out = maq_relay_back(want, h->back_key, self->relay.back_cid_out,
			     maq_seq_next(s, h->back_seq));
	send_to(&self->dev4, cell, sizeof(cell));
	ASSERT_TRUE(recv_cell(self->sink6, self->relay.back_cid_out, got))
		TH_LOG("backward cell not sent to prev");
	EXPECT_EQ(0, memcmp(out, got, MAQ_CELL_SIZE))
		TH_LOG("differs from maq_relay_back()");
}

TEST_F(dp, relay_key_phase)
{
	const struct maq_hop *h = &self->relay.hops[0];
	uint8_t pt[MAQ_BODY_LEN], cell[MAQ_CELL_SIZE], got[MAQ_CELL_SIZE];
	uint8_t want[MAQ_SHIFT + MAQ_CELL_SIZE];
	uint64_t s = rand64() % BASE_LIMIT;
	struct maq_event ev;
	struct maq_hop k1;
	int i;

	rand_hop(&k1, 0);
	k1.has = MAQ_HOP_FWD_KEY;
	ASSERT_EQ(0, maq_nl_key_set(self->nl, self->ifindex, RELAY_ID, 1, &k1));

	/* phase 1 under the slot 0 key: refused */
	randombytes_buf(pt, sizeof(pt));
	seal_cell(cell, self->relay.fwd_cid_in, s | PHASE, h->fwd_key, pt);
	send_to(&self->dev4, cell, sizeof(cell));
	/* phase 1 under the slot 1 key: forwarded, phase kept */
	seal_cell(cell, self->relay.fwd_cid_in, (s + 1) | PHASE, k1.fwd_key, pt);
	memcpy(want + MAQ_SHIFT, cell, MAQ_CELL_SIZE);
	maq_relay_fwd(want + MAQ_SHIFT, k1.fwd_key, (s + 1) | PHASE,
		      self->relay.fwd_cid_out, h->fwd_seq);
	send_to(&self->dev4, cell, sizeof(cell));
	ASSERT_TRUE(recv_cell(self->sink4, self->relay.fwd_cid_out, got));
	EXPECT_EQ(0, memcmp(want, got, MAQ_CELL_SIZE));
	EXPECT_TRUE(cell_seq(got) & PHASE);
	EXPECT_EQ(1, stat_of(self->nl, self->ifindex, RELAY_ID,
			     MAQUIS_A_STATS_DROP_BAD_TAG));
	/* a tamper note for the bad one may come first */
	for (i = 0; i < 5; i++) {
		ASSERT_TRUE(next_event(self->ev, MAQUIS_CMD_EVENT_NTF, RELAY_ID,
				       &ev)) TH_LOG("no key-phase event");
		if (ev.event == MAQUIS_EVENT_KEY_PHASE)
			break;
		EXPECT_EQ(MAQUIS_EVENT_TAMPER, ev.event);
	}
	EXPECT_EQ(MAQUIS_EVENT_KEY_PHASE, ev.event);
	EXPECT_EQ(MAQUIS_DIR_FWD, ev.dir);
	EXPECT_EQ(1, ev.phase);
}

/* Forwards one cell with counter @s under @key; true if it came out. */
static bool relay_try(FIXTURE_DATA(dp) *self, uint64_t s, uint8_t *got)
{
	const struct maq_hop *h = &self->relay.hops[0];
	uint8_t pt[MAQ_BODY_LEN], cell[MAQ_CELL_SIZE];

	randombytes_buf(pt, sizeof(pt));
	seal_cell(cell, self->relay.fwd_cid_in, s, h->fwd_key, pt);
	send_to(&self->dev4, cell, sizeof(cell));
	return recv_cell(self->sink4, self->relay.fwd_cid_out, got);
}

/* WireGuard's window: 256 below the highest counter, each one once. */
TEST_F(dp, relay_replay_window)
{
	uint64_t s = rand64() % BASE_LIMIT + 1000;
	uint8_t got[MAQ_CELL_SIZE];

	ASSERT_TRUE(relay_try(self, s, got));
	ASSERT_TRUE(relay_try(self, s + 300, got));
	EXPECT_FALSE(relay_try(self, s, got)) TH_LOG("300 below accepted");
	EXPECT_TRUE(relay_try(self, s + 299 - 200, got))
		TH_LOG("200 below, unseen, refused");
	EXPECT_FALSE(relay_try(self, s + 299 - 200, got)) TH_LOG("replay accepted");
	EXPECT_TRUE(relay_try(self, s + 301, got));
	EXPECT_FALSE(relay_try(self, s + 301 - 300, got));
	EXPECT_EQ(3, stat_of(self->nl, self->ifindex, RELAY_ID,
			     MAQUIS_A_STATS_DROP_REPLAY));
}

/* seq + delta wraps modulo 2^63 and keeps the phase bit. */
TEST_F(dp, relay_seq_wraps)
{
	struct maq_circuit c = self->relay;
	uint8_t got[MAQ_CELL_SIZE], pt[MAQ_BODY_LEN], cell[MAQ_CELL_SIZE];
	struct maq_hop k1;

	ASSERT_EQ(0, maq_nl_circuit_del(self->nl, self->ifindex, RELAY_ID));
	c.hops[0].fwd_seq = SEQ_MASK - 4;	/* -5 modulo 2^63 */
	install(_metadata, self->nl, &c);
	self->relay = c;
	ASSERT_TRUE(relay_try(self, 10, got));
	EXPECT_EQ(5, cell_seq(got));
	rand_hop(&k1, 0);
	k1.has = MAQ_HOP_FWD_KEY;
	ASSERT_EQ(0, maq_nl_key_set(self->nl, self->ifindex, RELAY_ID, 1, &k1));
	randombytes_buf(pt, sizeof(pt));
	seal_cell(cell, c.fwd_cid_in, PHASE | 3, k1.fwd_key, pt);
	send_to(&self->dev4, cell, sizeof(cell));
	ASSERT_TRUE(recv_cell(self->sink4, c.fwd_cid_out, got));
	EXPECT_EQ(PHASE | (SEQ_MASK - 1), cell_seq(got));
}

/* A forward cell under the relay's control key is for its daemon. */
TEST_F(dp, relay_hop_control)
{
	const struct maq_hop *h = &self->relay.hops[0];
	uint8_t pt[MAQ_BODY_LEN], cell[MAQ_CELL_SIZE], got[MAQ_CELL_SIZE];
	uint64_t s = rand64() % BASE_LIMIT;
	struct maq_event ev;

	memset(pt, 0, sizeof(pt));
	randombytes_buf(pt + MAQ_PAYLOAD_OFF, MAQUIS_CTL_LEN);
	seal_cell(cell, self->relay.fwd_cid_in, s, h->fwd_ctl_key, pt);
	send_to(&self->dev4, cell, sizeof(cell));
	ASSERT_TRUE(next_event(self->ev, MAQUIS_CMD_CELL_NTF, RELAY_ID, &ev))
		TH_LOG("no cell-ntf for a hop control cell");
	EXPECT_EQ(0, ev.hop);
	ASSERT_TRUE(MAQ_HAS(&ev, MAQUIS_A_CTL));
	EXPECT_EQ(0, memcmp(pt + MAQ_PAYLOAD_OFF, ev.ctl, MAQUIS_CTL_LEN));
	EXPECT_FALSE(recv_cell(self->sink4, self->relay.fwd_cid_out, got))
		TH_LOG("control cell was forwarded");
	/* the same again is a replay */
	send_to(&self->dev4, cell, sizeof(cell));
	usleep(300000);
	EXPECT_EQ(1, stat_of(self->nl, self->ifindex, RELAY_ID,
			     MAQUIS_A_STATS_DROP_REPLAY));
}

/* --- origin ------------------------------------------------------------ */

/* Peels the four forward layers with the reference; the plaintext or NULL. */
static uint8_t *peel_origin(uint8_t *buf, const uint8_t *cell,
			    const struct maq_circuit *o)
{
	uint8_t *p = buf + MAQ_PAD_LEN;
	int i;

	memcpy(p, cell, MAQ_CELL_SIZE);
	for (i = 0; i < NHOPS - 1; i++) {
		p = maq_relay_fwd(p, o->hops[i].fwd_key, cell_seq(p), 1,
				  (o->hops[i + 1].fwd_seq - o->hops[i].fwd_seq) &
				  SEQ_MASK);
		if (!p)
			return NULL;
	}
	if (maq_layer_open(p + MAQ_HDR_LEN, p + MAQ_HDR_LEN + MAQ_BODY_LEN,
			   o->hops[NHOPS - 1].fwd_key, cell_seq(p) & SEQ_MASK,
			   NULL))
		return NULL;
	return p + MAQ_HDR_LEN;
}

static void send_inner_udp(const char *dst, const void *msg, size_t len)
{
	union maq_sockaddr to, from;
	int fd;

	maq_sockaddr_parse(dst, 0, &to);
	to.in4.sin_port = htons(9);
	fd = udp_sink(AF_INET, "10.77.0.1", &from);
	if (fd < 0 || sendto(fd, msg, len, 0, &to.sa, sizeof(to.in4)) != (ssize_t)len)
		abort();
	close(fd);
}

TEST_F(dp, origin_seals_ip_packet)
{
	uint8_t cell[MAQ_CELL_SIZE], buf[MAQ_PAD_LEN + MAQ_CELL_SIZE];
	uint8_t msg[200], *pt, *ip;
	uint16_t len;
	uint64_t c;

	randombytes_buf(msg, sizeof(msg));
	send_inner_udp("172.30.1.5", msg, sizeof(msg));
	ASSERT_TRUE(recv_cell(self->sink4, self->orig.fwd_cid_out, cell))
		TH_LOG("no cell for a packet routed into the circuit");
	c = (cell_seq(cell) - self->orig.hops[0].fwd_seq) & SEQ_MASK;
	EXPECT_GT(1000, c) TH_LOG("hop 1 counter %#llx is not base + small",
				  (unsigned long long)cell_seq(cell));
	pt = peel_origin(buf, cell, &self->orig);
	ASSERT_NE(NULL, pt) TH_LOG("onion does not open with layer.h");
	EXPECT_EQ(MAQ_INNER_IP, pt[MAQ_PAYLOAD_OFF]);
	len = (uint16_t)(pt[MAQ_PAYLOAD_OFF + 2] << 8 | pt[MAQ_PAYLOAD_OFF + 3]);
	ip = pt + MAQ_PAYLOAD_OFF + MAQ_INNER_HDR_LEN;
	EXPECT_EQ(20 + 8 + sizeof(msg), len);
	EXPECT_EQ(0x45, ip[0]);
	EXPECT_EQ(len, (uint16_t)(ip[2] << 8 | ip[3]));
	EXPECT_EQ(IPPROTO_UDP, ip[9]);
	EXPECT_EQ(0, memcmp(ip + 28, msg, sizeof(msg)));
	EXPECT_EQ(1, stat_of(self->nl, self->ifindex, ORIG_ID,
			     MAQUIS_A_STATS_CELLS_OUT));
}

/* Routes: the newest circuit for a prefix carries it, the older one again
 * once the newer is gone.
 */
TEST_F(dp, origin_route_takeover)
{
	uint8_t cell[MAQ_CELL_SIZE], msg[32] = "takeover";
	struct maq_circuit c2;

	mk_origin(self, &c2, 11, 1100);
	install(_metadata, self->nl, &c2);
	send_inner_udp("172.30.1.6", msg, sizeof(msg));
	EXPECT_TRUE(recv_cell(self->sink4, c2.fwd_cid_out, cell));
	ASSERT_EQ(0, maq_nl_circuit_del(self->nl, self->ifindex, 11));
	send_inner_udp("172.30.1.6", msg, sizeof(msg));
	EXPECT_TRUE(recv_cell(self->sink4, self->orig.fwd_cid_out, cell));
}

/*
 * Backward onion as terminus (hop n) and relays (n-1 .. 1) would build it
 * for counter @ctr, carrying @pt; creator @src (1-based) seals with
 * @creator_key.  Returns the cell the origin receives.
 */
static const uint8_t *back_onion(uint8_t *buf, const struct maq_circuit *o,
				 int src, const uint8_t *creator_key,
				 uint64_t seq_src, const uint8_t *pt)
{
	uint8_t *p = buf;
	uint64_t seq = seq_src;
	int k;

	seal_cell(p, 0xdead, seq, creator_key, pt);
	for (k = src - 2; k >= 0; k--) {
		seq = maq_seq_next(seq, (o->hops[k].back_seq -
					 o->hops[k + 1].back_seq) & SEQ_MASK);
		p = maq_relay_back(p, o->hops[k].back_key,
				   k ? 0xbeef : o->back_cid_in, seq);
	}
	return p;
}

TEST_F(dp, origin_opens_backward)
{
	uint8_t buf[MAQ_CELL_SIZE + MAQ_PAD_LEN + 64], pt[MAQ_BODY_LEN];
	uint8_t pkt[256], msg[64], got[256], bad[MAQ_CELL_SIZE];
	const struct maq_hop *t = &self->orig.hops[NHOPS - 1];
	union maq_sockaddr me, from;
	const uint8_t *cell;
	uint64_t ctr = 5;
	size_t len;
	ssize_t n;
	int fd;

	fd = udp_sink(AF_INET, "10.77.0.1", &me);
	ASSERT_LE(0, fd);
	randombytes_buf(msg, sizeof(msg));
	len = udp_packet(pkt, AF_INET, "172.30.1.5", 4242, "10.77.0.1",
			 ntohs(me.in4.sin_port), msg, sizeof(msg));
	inner_plaintext(pt, MAQ_INNER_IP, pkt, len, len);
	cell = back_onion(buf, &self->orig, NHOPS, t->back_key,
			  t->back_seq + ctr, pt);
	ASSERT_EQ(self->orig.back_cid_in, cell_cid(cell));
	send_to(&self->dev4, cell, MAQ_CELL_SIZE);
	n = udp_recv(fd, got, sizeof(got), 3000, &from);
	ASSERT_EQ((ssize_t)sizeof(msg), n) TH_LOG("inner packet not delivered");
	EXPECT_EQ(0, memcmp(msg, got, sizeof(msg)));
	EXPECT_EQ(htons(4242), from.in4.sin_port);

	/* the same cell again: the origin's backward window */
	send_to(&self->dev4, cell, MAQ_CELL_SIZE);
	/* a damaged one with a fresh counter */
	cell = back_onion(buf, &self->orig, NHOPS, t->back_key,
			  t->back_seq + ctr + 1, pt);
	memcpy(bad, cell, MAQ_CELL_SIZE);
	bad[MAQ_HDR_LEN + 700] ^= 4;
	send_to(&self->dev4, bad, MAQ_CELL_SIZE);
	usleep(300000);
	EXPECT_EQ(0, udp_recv(fd, got, sizeof(got), 300, NULL));
	EXPECT_EQ(1, stat_of(self->nl, self->ifindex, ORIG_ID,
			     MAQUIS_A_STATS_DROP_REPLAY));
	EXPECT_EQ(1, stat_of(self->nl, self->ifindex, ORIG_ID,
			     MAQUIS_A_STATS_DROP_BAD_TAG));
	close(fd);
}

/* Control from relay 2 (hop index 1): its backward control key, a counter
 * in [2^62, 2^63), wrapped by hop 1; the origin finds the creator.
 */
TEST_F(dp, origin_control_from_relay)
{
	uint8_t buf[MAQ_CELL_SIZE + MAQ_PAD_LEN + 64], pt[MAQ_BODY_LEN];
	const struct maq_hop *h = &self->orig.hops[1];
	uint64_t s = (1ULL << 62) + randombytes_uniform(1 << 30);
	struct maq_event ev;
	const uint8_t *cell;

	memset(pt, 0, sizeof(pt));
	randombytes_buf(pt + MAQ_PAYLOAD_OFF, MAQUIS_CTL_LEN);
	cell = back_onion(buf, &self->orig, 2, h->back_ctl_key, s, pt);
	send_to(&self->dev4, cell, MAQ_CELL_SIZE);
	ASSERT_TRUE(next_event(self->ev, MAQUIS_CMD_CELL_NTF, ORIG_ID, &ev))
		TH_LOG("no cell-ntf for control from hop 1");
	EXPECT_EQ(1, ev.hop);
	ASSERT_TRUE(MAQ_HAS(&ev, MAQUIS_A_CTL));
	EXPECT_EQ(0, memcmp(pt + MAQ_PAYLOAD_OFF, ev.ctl, MAQUIS_CTL_LEN));
}

/* --- terminus ---------------------------------------------------------- */

TEST_F(dp, terminus_delivers_and_answers)
{
	const struct maq_hop *h = &self->term.hops[0];
	uint8_t pt[MAQ_BODY_LEN], cell[MAQ_CELL_SIZE], pkt[512];
	uint8_t msg[100], reply[77], got[512], *ip;
	union maq_sockaddr me, from, peer;
	uint64_t s = rand64() % BASE_LIMIT, c;
	uint16_t len;
	size_t plen;
	ssize_t n;
	int fd;

	fd = udp_sink(AF_INET6, "fd77::1", &me);
	ASSERT_LE(0, fd);
	randombytes_buf(msg, sizeof(msg));
	plen = udp_packet(pkt, AF_INET6, "fd30:1::5", 4242, "fd77::1",
			  ntohs(me.in6.sin6_port), msg, sizeof(msg));
	inner_plaintext(pt, MAQ_INNER_IP, pkt, plen, plen);
	seal_cell(cell, self->term.fwd_cid_in, s, h->fwd_key, pt);
	send_to(&self->dev4, cell, sizeof(cell));
	n = udp_recv(fd, got, sizeof(got), 3000, &from);
	ASSERT_EQ((ssize_t)sizeof(msg), n) TH_LOG("not delivered out of maq0");
	EXPECT_EQ(0, memcmp(msg, got, sizeof(msg)));

	/* the answer goes back along the circuit */
	randombytes_buf(reply, sizeof(reply));
	maq_sockaddr_parse("fd30:1::5", 4242, &peer);
	ASSERT_EQ((ssize_t)sizeof(reply), sendto(fd, reply, sizeof(reply), 0,
						 &peer.sa, sizeof(peer.in6)));
	ASSERT_TRUE(recv_cell(self->sink6, self->term.back_cid_out, cell))
		TH_LOG("no backward cell to prev");
	c = (cell_seq(cell) - h->back_seq) & SEQ_MASK;
	EXPECT_GT(1000, c);
	ASSERT_EQ(0, maq_layer_open(cell + MAQ_HDR_LEN,
				    cell + MAQ_HDR_LEN + MAQ_BODY_LEN,
				    h->back_key, cell_seq(cell) & SEQ_MASK, NULL))
		TH_LOG("backward layer does not open");
	memset(got, 0, MAQ_PAD_LEN);
	EXPECT_EQ(0, memcmp(got, cell + MAQ_HDR_LEN, MAQ_PAD_LEN))
		TH_LOG("P[0..H) not zero");
	EXPECT_EQ(MAQ_INNER_IP, cell[MAQ_HDR_LEN + MAQ_PAYLOAD_OFF]);
	len = (uint16_t)(cell[MAQ_HDR_LEN + MAQ_PAYLOAD_OFF + 2] << 8 |
			 cell[MAQ_HDR_LEN + MAQ_PAYLOAD_OFF + 3]);
	EXPECT_EQ(40 + 8 + sizeof(reply), len);
	ip = cell + MAQ_HDR_LEN + MAQ_PAYLOAD_OFF + MAQ_INNER_HDR_LEN;
	EXPECT_EQ(6, ip[0] >> 4);
	EXPECT_EQ(0, memcmp(ip + 48, reply, sizeof(reply)));
	close(fd);
}

TEST_F(dp, terminus_rejects_bad_inner_length)
{
	const struct maq_hop *h = &self->term.hops[0];
	uint8_t pt[MAQ_BODY_LEN], cell[MAQ_CELL_SIZE], pkt[512], got[512];
	union maq_sockaddr me;
	uint64_t s = rand64() % BASE_LIMIT, before;
	size_t plen;
	int fd;

	fd = udp_sink(AF_INET6, "fd77::1", &me);
	ASSERT_LE(0, fd);
	plen = udp_packet(pkt, AF_INET6, "fd30:1::5", 4242, "fd77::1",
			  ntohs(me.in6.sin6_port), "xyz", 3);
	before = stat_of(self->nl, self->ifindex, TERM_ID,
			 MAQUIS_A_STATS_DROP_MALFORMED);
	inner_plaintext(pt, MAQ_INNER_IP, pkt, plen, plen + 1);
	seal_cell(cell, self->term.fwd_cid_in, s, h->fwd_key, pt);
	send_to(&self->dev4, cell, sizeof(cell));
	inner_plaintext(pt, 7, pkt, plen, plen);	/* unknown type */
	seal_cell(cell, self->term.fwd_cid_in, s + 1, h->fwd_key, pt);
	send_to(&self->dev4, cell, sizeof(cell));
	EXPECT_EQ(0, udp_recv(fd, got, sizeof(got), 1000, NULL));
	EXPECT_EQ(before + 2, stat_of(self->nl, self->ifindex, TERM_ID,
				      MAQUIS_A_STATS_DROP_MALFORMED));
	close(fd);
}

TEST_F(dp, terminus_end_to_end_control)
{
	const struct maq_hop *h = &self->term.hops[0];
	uint8_t pt[MAQ_BODY_LEN], cell[MAQ_CELL_SIZE], msg[200];
	uint64_t s = rand64() % BASE_LIMIT;
	struct maq_event ev;

	randombytes_buf(msg, sizeof(msg));
	inner_plaintext(pt, MAQ_INNER_CTL, msg, sizeof(msg), sizeof(msg));
	seal_cell(cell, self->term.fwd_cid_in, s, h->fwd_key, pt);
	send_to(&self->dev4, cell, sizeof(cell));
	ASSERT_TRUE(next_event(self->ev, MAQUIS_CMD_CELL_NTF, TERM_ID, &ev))
		TH_LOG("no cell-ntf for end-to-end control");
	EXPECT_EQ(-1, ev.hop);
	ASSERT_TRUE(MAQ_HAS(&ev, MAQUIS_A_CTL));
	EXPECT_EQ(0, memcmp(pt + MAQ_PAYLOAD_OFF, ev.ctl, MAQUIS_CTL_LEN));
	EXPECT_EQ(1, stat_of(self->nl, self->ifindex, TERM_ID,
			     MAQUIS_A_STATS_CTL_UP));
}

/* --- relay rate limit ------------------------------------------------- */

/* How many relayed cells with @cid come out on @fd (at most @max). */
static int count_cells(int fd, uint32_t cid, int max)
{
	uint8_t got[MAQ_CELL_SIZE];
	int n = 0;

	while (n <= max && recv_cell(fd, cid, got))
		n++;
	return n;
}

static void send_back(FIXTURE_DATA(dp) *self, uint64_t s, int n)
{
	uint8_t cell[MAQ_CELL_SIZE];
	int i;

	for (i = 0; i < n; i++) {
		maq_cell_put_hdr(cell, self->relay.back_cid_in, s + (uint64_t)i);
		randombytes_buf(cell + MAQ_HDR_LEN, MAQ_BODY_LEN + MAQ_TAG_LEN);
		send_to(&self->dev4, cell, sizeof(cell));
	}
}

/*
 * At 1 byte/s a cell costs 1436 s, so nothing refills during the test:
 * exactly burst / cell-size relayed cells pass, in either direction, and
 * the rest are counted as rate drops on the circuit and the device.  What
 * is not relayed (this hop's control, link control, terminus and origin
 * traffic) passes an empty bucket.
 */
TEST_F(dp, relay_rate_limit)
{
	const struct maq_hop *h = &self->relay.hops[0];
	const struct maq_hop *th = &self->term.hops[0];
	uint8_t pt[MAQ_BODY_LEN], cell[MAQ_CELL_SIZE], msg[64];
	uint64_t s = rand64() % BASE_LIMIT;
	const int burst = 10, sent = 15;
	struct maq_event ev;
	struct maq_dev d;
	int i, drops;

	ASSERT_EQ(0, maq_nl_dev_set_rate(self->nl, self->ifindex, 1,
					 burst * MAQ_CELL_SIZE))
		TH_LOG("%s", maq_nl_errmsg(self->nl));
	for (i = 0; i < sent; i++) {
		randombytes_buf(pt, sizeof(pt));
		seal_cell(cell, self->relay.fwd_cid_in, s + (uint64_t)i,
			  h->fwd_key, pt);
		send_to(&self->dev4, cell, sizeof(cell));
	}
	EXPECT_EQ(burst, count_cells(self->sink4, self->relay.fwd_cid_out,
				     sent));
	drops = sent - burst;
	EXPECT_EQ(drops, stat_of(self->nl, self->ifindex, RELAY_ID,
				 MAQUIS_A_STATS_DROP_RATE));
	EXPECT_EQ(drops, stat_of(self->nl, self->ifindex, 0,
				 MAQUIS_A_STATS_DROP_RATE));
	EXPECT_EQ(burst, stat_of(self->nl, self->ifindex, RELAY_ID,
				 MAQUIS_A_STATS_CELLS_OUT));

	/* the bucket is shared by both directions: empty for these too */
	send_back(self, s, 3);
	EXPECT_EQ(0, count_cells(self->sink6, self->relay.back_cid_out, 3));
	drops += 3;
	EXPECT_EQ(drops, stat_of(self->nl, self->ifindex, 0,
				 MAQUIS_A_STATS_DROP_RATE));

	/* control for this hop still reaches its daemon */
	memset(pt, 0, sizeof(pt));
	randombytes_buf(pt + MAQ_PAYLOAD_OFF, MAQUIS_CTL_LEN);
	seal_cell(cell, self->relay.fwd_cid_in, s + 100, h->fwd_ctl_key, pt);
	send_to(&self->dev4, cell, sizeof(cell));
	ASSERT_TRUE(next_event(self->ev, MAQUIS_CMD_CELL_NTF, RELAY_ID, &ev))
		TH_LOG("hop control cell lost to the rate limit");
	/* link control (a CREATE, say) too */
	randombytes_buf(cell, sizeof(cell));
	memset(cell, 0, 4);
	send_to(&self->dev4, cell, sizeof(cell));
	ASSERT_TRUE(next_event(self->ev, MAQUIS_CMD_CELL_NTF, 0, &ev))
		TH_LOG("link control cell lost to the rate limit");
	EXPECT_EQ(0, memcmp(cell, ev.cell, sizeof(cell)));
	/* the terminus's own traffic */
	randombytes_buf(msg, sizeof(msg));
	inner_plaintext(pt, MAQ_INNER_CTL, msg, sizeof(msg), sizeof(msg));
	seal_cell(cell, self->term.fwd_cid_in, s, th->fwd_key, pt);
	send_to(&self->dev4, cell, sizeof(cell));
	ASSERT_TRUE(next_event(self->ev, MAQUIS_CMD_CELL_NTF, TERM_ID, &ev))
		TH_LOG("terminus traffic lost to the rate limit");
	/* the origin's */
	send_inner_udp("172.30.1.5", msg, sizeof(msg));
	EXPECT_EQ(1, count_cells(self->sink4, self->orig.fwd_cid_out, 1))
		TH_LOG("origin traffic lost to the rate limit");
	EXPECT_EQ(drops, stat_of(self->nl, self->ifindex, 0,
				 MAQUIS_A_STATS_DROP_RATE));

	/* setting the burst alone refills the bucket, rate kept */
	ASSERT_EQ(0, maq_nl_dev_set_rate(self->nl, self->ifindex,
					 MAQ_NL_RATE_KEEP, 2 * MAQ_CELL_SIZE));
	ASSERT_EQ(0, maq_nl_dev_get(self->nl, self->ifindex, &d));
	EXPECT_EQ(1, d.relay_rate);
	send_back(self, s + 10, 3);
	EXPECT_EQ(2, count_cells(self->sink6, self->relay.back_cid_out, 3));
	drops += 1;
	EXPECT_EQ(drops, stat_of(self->nl, self->ifindex, RELAY_ID,
				 MAQUIS_A_STATS_DROP_RATE));

	/* rate 0: unlimited again */
	ASSERT_EQ(0, maq_nl_dev_set_rate(self->nl, self->ifindex, 0, 0));
	for (i = 0; i < sent; i++) {
		randombytes_buf(pt, sizeof(pt));
		seal_cell(cell, self->relay.fwd_cid_in, s + 200 + (uint64_t)i,
			  h->fwd_key, pt);
		send_to(&self->dev4, cell, sizeof(cell));
	}
	EXPECT_EQ(sent, count_cells(self->sink4, self->relay.fwd_cid_out,
				    sent));
	EXPECT_EQ(drops, stat_of(self->nl, self->ifindex, 0,
				 MAQUIS_A_STATS_DROP_RATE));
}

TEST_HARNESS_MAIN
