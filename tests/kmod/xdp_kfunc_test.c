// SPDX-License-Identifier: GPL-2.0
/*
 * The XDP fast path with the module: bpf/relay_kfunc.bpf.c attached to a
 * relay's underlay veths, its relay step done by maquis.ko's kfuncs
 * (kmod/xdp.c) on the circuits installed over netlink.  Cells are injected
 * as Ethernet frames on the far ends of the veths and captured there: what
 * comes out must be what include/maquis/layer.h computes, counted in the
 * module's circuit and device counters, and every cell XDP does not take
 * must reach the socket path untouched.  Also: the pure-BPF relay still
 * loads and relays on this kernel, what a cell costs either way, and the
 * daemon's loader (daemon/xdp.c) choosing the kfunc variant here.
 *
 * One network namespace per test:
 *
 *   a0 --- r0 [XDP] 10.9.0.1/24 fd09::1/64     maq0 (port 7720)
 *   b0 --- r1 [XDP] 10.9.1.1/24 fd09:1::1/64
 *
 * prev (10.9.0.2, fd09::2) sits behind a0, next (10.9.1.2, fd09:1::2) behind
 * b0, both as permanent neighbours; a0 and b0 run an XDP_PASS program so
 * that veth delivers XDP_TX and redirected frames to them.
 *
 * Needs root, maquis.ko loaded and BTF (tests/kmod/run.sh in the VM).
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/veth.h>

#include <bpf/btf.h>

#include "kselftest_harness.h"

#include "../bpf/maq_test.h"
#include "../bpf/xdp_check.h"

#include "../../daemon/nl.h"
#include "../../daemon/xdp.h"
#include "common.h"
#include "relay.skel.h"
#include "relay_kfunc.skel.h"
#include "xdp_fwd.skel.h"

#define DEV		"maq0"
#define MAC_A0		"02:00:00:00:0a:00"
#define MAC_R0		"02:00:00:00:0a:01"
#define MAC_B0		"02:00:00:00:0b:00"
#define MAC_R1		"02:00:00:00:0b:01"
#define NEXT_PORT	7721
#define PREV_PORT	7722
#define SEQ_MASK	MAQ_SEQ_CTR_MASK
#define PHASE		MAQ_SEQ_PHASE
#define CAPTURE_MS	3000	/* TCG is slow */
#define NOTHING_MS	500	/* how long to wait for nothing */

/* ---- rtnetlink (no ip(8): each exec costs ~0.3 s under TCG) ------------ */

static struct rtattr *nest_start(void *req, size_t max, int type)
{
	struct nlmsghdr *n = req;
	struct rtattr *a = (void *)((char *)req + NLMSG_ALIGN(n->nlmsg_len));

	rta_put(req, max, type, NULL, 0);
	return a;
}

static void nest_end(void *req, struct rtattr *a)
{
	struct nlmsghdr *n = req;

	a->rta_len = (unsigned short)((char *)req + n->nlmsg_len - (char *)a);
}

static void mac_parse(const char *s, uint8_t *mac)
{
	if (sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1],
		   &mac[2], &mac[3], &mac[4], &mac[5]) != 6)
		abort();
}

/* ip link add NAME address MAC type veth peer name PEER address PMAC */
static int veth_add(const char *name, const char *mac, const char *peer,
		    const char *pmac)
{
	struct {
		struct nlmsghdr n;
		struct ifinfomsg i;
		char buf[512];
	} req;
	struct ifinfomsg pi = { .ifi_family = AF_UNSPEC };
	struct rtattr *li, *data, *p;
	uint8_t a[6];

	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(req.i));
	req.n.nlmsg_type = RTM_NEWLINK;
	req.n.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	req.i.ifi_family = AF_UNSPEC;
	rta_put(&req, sizeof(req), IFLA_IFNAME, name, strlen(name) + 1);
	mac_parse(mac, a);
	rta_put(&req, sizeof(req), IFLA_ADDRESS, a, 6);
	li = nest_start(&req, sizeof(req), IFLA_LINKINFO);
	rta_put(&req, sizeof(req), IFLA_INFO_KIND, "veth", 4);
	data = nest_start(&req, sizeof(req), IFLA_INFO_DATA);
	p = nest_start(&req, sizeof(req), VETH_INFO_PEER);
	/* the peer's ifinfomsg, then its attributes */
	memcpy((char *)&req + req.n.nlmsg_len, &pi, sizeof(pi));
	req.n.nlmsg_len += NLMSG_ALIGN(sizeof(pi));
	rta_put(&req, sizeof(req), IFLA_IFNAME, peer, strlen(peer) + 1);
	mac_parse(pmac, a);
	rta_put(&req, sizeof(req), IFLA_ADDRESS, a, 6);
	nest_end(&req, p);
	nest_end(&req, data);
	nest_end(&req, li);
	return rtnl_talk(&req.n);
}

/* ip neigh replace ADDR lladdr MAC dev DEV nud permanent */
static int neigh_add(const char *dev, int family, const char *addr,
		     const char *mac)
{
	struct {
		struct nlmsghdr n;
		struct ndmsg nd;
		char buf[128];
	} req;
	uint8_t a[16], m[6];

	if (inet_pton(family, addr, a) != 1)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(req.nd));
	req.n.nlmsg_type = RTM_NEWNEIGH;
	req.n.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	req.nd.ndm_family = (uint8_t)family;
	req.nd.ndm_ifindex = (int)if_nametoindex(dev);
	req.nd.ndm_state = NUD_PERMANENT;
	rta_put(&req, sizeof(req), NDA_DST, a, family == AF_INET ? 4 : 16);
	mac_parse(mac, m);
	rta_put(&req, sizeof(req), NDA_LLADDR, m, 6);
	return rtnl_talk(&req.n);
}

/*
 * An IPv6 address takes local traffic once addrconf's DAD work has run,
 * even with nodad: until then it has no local route.  True when a datagram
 * to itself arrives, within 5 s.
 */
static bool addr_ready(int family, const char *addr)
{
	union maq_sockaddr sa;
	bool ok = false;
	int fd, i;
	char b[8];

	fd = udp_sink(family, addr, &sa);
	if (fd < 0)
		return false;
	for (i = 0; i < 50 && !ok; i++) {
		if (sendto(fd, "ready", 5, 0, &sa.sa, family == AF_INET ?
			   sizeof(sa.in4) : sizeof(sa.in6)) == 5)
			ok = udp_recv(fd, b, sizeof(b), 100, NULL) == 5;
		else
			usleep(100000);
	}
	close(fd);
	return ok;
}

/* An XDP program that passes everything: veth delivers XDP frames only to
 * a peer with NAPI on, which an XDP program turns on.
 */
static int xdp_pass_prog(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_XDP, "maq_pass", "GPL", insns, 2,
			     NULL);
}

/* ---- frames ------------------------------------------------------------ */

static int pkt_socket(const char *dev)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = (int)if_nametoindex(dev),
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Sends @cell as a frame from @src to @dst out of the packet socket @fd. */
static void inject(int fd, const struct endpoint *src,
		   const struct endpoint *dst, const uint8_t *cell)
{
	uint8_t f[FRAME_MAX];
	size_t len = build_frame(f, src, dst, cell, MAQ_CELL_SIZE);

	if (send(fd, f, len, 0) != (ssize_t)len)
		abort();
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* UDP destination port of an Ethernet frame, 0 if it is no UDP datagram. */
static int frame_dport(const uint8_t *f, size_t len)
{
	size_t l4;

	if (len >= FRAME4_LEN - MAQ_CELL_SIZE && f[12] == 0x08 &&
	    f[13] == 0x00 && f[ETH_HLEN + 9] == IPPROTO_UDP)
		l4 = ETH_HLEN + (f[ETH_HLEN] & 15) * 4;
	else if (len >= FRAME6_LEN - MAQ_CELL_SIZE && f[12] == 0x86 &&
		 f[13] == 0xdd && f[ETH_HLEN + 6] == IPPROTO_UDP)
		l4 = ETH_HLEN + IP6_HLEN;
	else
		return 0;
	if (l4 + UDP_HLEN > len)
		return 0;
	return f[l4 + 2] << 8 | f[l4 + 3];
}

/*
 * The next frame arriving on the packet socket @fd (not one sent there)
 * that carries UDP to @port, within @ms: true and the frame in @r.
 */
static bool capture(int fd, uint16_t port, struct xdp_result *r, int ms)
{
	long end = now_ms() + ms;

	memset(r, 0, sizeof(*r));
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct sockaddr_ll sll;
		socklen_t sl = sizeof(sll);
		long left = end - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return false;
		n = recvfrom(fd, r->data, sizeof(r->data), 0,
			     (struct sockaddr *)&sll, &sl);
		if (n <= 0)
			return false;
		if (sll.sll_pkttype == PACKET_OUTGOING ||
		    frame_dport(r->data, (size_t)n) != port)
			continue;
		r->len = (uint32_t)n;
		return true;
	}
}

/* ---- cells -------------------------------------------------------------- */

static void sockaddr_of(const struct endpoint *e, union maq_sockaddr *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sa.sa_family = (sa_family_t)e->family;
	if (e->family == AF_INET) {
		memcpy(&sa->in4.sin_addr, e->addr, 4);
		sa->in4.sin_port = htons(e->port);
	} else {
		memcpy(&sa->in6.sin6_addr, e->addr, 16);
		sa->in6.sin6_port = htons(e->port);
	}
}

/* What layer.h makes of forward cell @cell at the relay. */
static void want_fwd_cell(uint8_t *want, const uint8_t *cell,
			  const uint8_t *key, uint32_t cid_out, uint64_t delta)
{
	uint8_t buf[MAQ_SHIFT + MAQ_CELL_SIZE], *o;

	memcpy(buf + MAQ_SHIFT, cell, MAQ_CELL_SIZE);
	o = maq_relay_fwd(buf + MAQ_SHIFT, key, cell_seq(cell), cid_out, delta);
	memcpy(want, o ? o : buf, MAQ_CELL_SIZE);
}

static void want_back_cell(uint8_t *want, const uint8_t *cell,
			   const uint8_t *key, uint32_t cid_out, uint64_t delta)
{
	uint8_t buf[MAQ_CELL_SIZE + MAQ_SHIFT];

	memcpy(buf, cell, MAQ_CELL_SIZE);
	memcpy(want, maq_relay_back(buf, key, cid_out,
				    maq_seq_next(cell_seq(cell), delta)),
	       MAQ_CELL_SIZE);
}

/* A forward cell for @cid sealed under @key with counter @seq. */
static void fwd_cell(uint8_t *cell, uint32_t cid, uint64_t seq,
		     const uint8_t *key)
{
	uint8_t pt[MAQ_BODY_LEN];

	randombytes_buf(pt, sizeof(pt));
	cell_seal_fwd(cell, cid, seq, pt, key);
}

/* ---- the fixture -------------------------------------------------------- */

FIXTURE(xk) {
	struct maq_relay_kfunc *skel;
	int prog, stats, pass_prog;
	struct maq_nl *nl, *ev;
	uint32_t dev;
	int r0, r1;
	int pa, pb;		/* packet sockets on a0 and b0 */
	/* prev behind a0, us on r0 and r1, next behind b0 */
	struct endpoint prev4, prev6, r0_4, r0_6, r1_4, r1_6, next4, next6;
	uint32_t next_id;
};

static int attach(int ifindex, int prog)
{
	return bpf_xdp_attach(ifindex, prog, XDP_FLAGS_DRV_MODE, NULL);
}

FIXTURE_SETUP(xk)
{
	struct maq_xdp_config cfg = { .port = htons(MAQ_PORT), .fib_ifindex = 1 };
	const char *why = bpf_unavailable();
	__u32 zero = 0;
	int err;

	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, maq_crypto_init());
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, link_up("lo"));
	ASSERT_EQ(0, sysctl_write("net/ipv4/conf/lo/forwarding", "1"));
	ASSERT_EQ(0, sysctl_write("net/ipv6/conf/lo/forwarding", "1"));

	err = link_add(DEV, maq_kind());
	ASSERT_EQ(0, err) TH_LOG("ip link add %s: %s", DEV, strerror(-err));
	ASSERT_EQ(0, link_up(DEV));
	self->dev = if_nametoindex(DEV);

	ASSERT_EQ(0, veth_add("r0", MAC_R0, "a0", MAC_A0));
	ASSERT_EQ(0, veth_add("r1", MAC_R1, "b0", MAC_B0));
	ASSERT_EQ(0, link_up("r0"));
	ASSERT_EQ(0, link_up("a0"));
	ASSERT_EQ(0, link_up("r1"));
	ASSERT_EQ(0, link_up("b0"));
	ASSERT_EQ(0, addr_add("r0", AF_INET, "10.9.0.1", 24));
	ASSERT_EQ(0, addr_add("r0", AF_INET6, "fd09::1", 64));
	ASSERT_EQ(0, addr_add("r1", AF_INET, "10.9.1.1", 24));
	ASSERT_EQ(0, addr_add("r1", AF_INET6, "fd09:1::1", 64));
	ASSERT_EQ(0, neigh_add("r0", AF_INET, "10.9.0.2", MAC_A0));
	ASSERT_EQ(0, neigh_add("r0", AF_INET6, "fd09::2", MAC_A0));
	ASSERT_EQ(0, neigh_add("r1", AF_INET, "10.9.1.2", MAC_B0));
	ASSERT_EQ(0, neigh_add("r1", AF_INET6, "fd09:1::2", MAC_B0));
	ASSERT_TRUE(addr_ready(AF_INET6, "fd09::1"));
	ASSERT_TRUE(addr_ready(AF_INET6, "fd09:1::1"));
	self->r0 = (int)if_nametoindex("r0");
	self->r1 = (int)if_nametoindex("r1");

	endpoint_set(&self->prev4, "10.9.0.2", PREV_PORT, MAC_A0);
	endpoint_set(&self->prev6, "fd09::2", PREV_PORT, MAC_A0);
	endpoint_set(&self->r0_4, "10.9.0.1", MAQ_PORT, MAC_R0);
	endpoint_set(&self->r0_6, "fd09::1", MAQ_PORT, MAC_R0);
	endpoint_set(&self->r1_4, "10.9.1.1", MAQ_PORT, MAC_R1);
	endpoint_set(&self->r1_6, "fd09:1::1", MAQ_PORT, MAC_R1);
	endpoint_set(&self->next4, "10.9.1.2", NEXT_PORT, MAC_B0);
	endpoint_set(&self->next6, "fd09:1::2", NEXT_PORT, MAC_B0);

	ASSERT_EQ(0, maq_nl_open(&self->nl));
	ASSERT_EQ(0, maq_nl_open(&self->ev));
	ASSERT_EQ(0, maq_nl_subscribe(self->ev));

	self->skel = maq_relay_kfunc__open_and_load();
	ASSERT_NE(NULL, self->skel) TH_LOG("relay_kfunc does not load");
	self->prog = bpf_program__fd(self->skel->progs.maq_relay_kfunc);
	self->stats = bpf_map__fd(self->skel->maps.maq_stats);
	cfg.dev_ifindex = self->dev;
	ASSERT_EQ(0, bpf_map_update_elem(bpf_map__fd(self->skel->maps.maq_config),
					 &zero, &cfg, BPF_ANY));
	ASSERT_EQ(0, attach(self->r0, self->prog));
	ASSERT_EQ(0, attach(self->r1, self->prog));
	self->pass_prog = xdp_pass_prog();
	ASSERT_LE(0, self->pass_prog);
	ASSERT_EQ(0, attach((int)if_nametoindex("a0"), self->pass_prog));
	ASSERT_EQ(0, attach((int)if_nametoindex("b0"), self->pass_prog));

	self->pa = pkt_socket("a0");
	ASSERT_LE(0, self->pa);
	self->pb = pkt_socket("b0");
	ASSERT_LE(0, self->pb);
	self->next_id = 1;
}

FIXTURE_TEARDOWN(xk)
{
	/* Let go of the module now, not when the namespace is reaped. */
	if (self->r0)
		bpf_xdp_detach(self->r0, XDP_FLAGS_DRV_MODE, NULL);
	if (self->r1)
		bpf_xdp_detach(self->r1, XDP_FLAGS_DRV_MODE, NULL);
	maq_relay_kfunc__destroy(self->skel);
	if (self->nl)
		maq_nl_close(self->nl);
	if (self->ev)
		maq_nl_close(self->ev);
}

#define STAT(idx)	percpu_sum(self->stats, (idx))

/*
 * A relay circuit: forward cells for @cid go to @next, backward ones for
 * @cid + 1 to @prev; keys in slot 0, random deltas.
 */
static void relay_new(struct __test_metadata *_metadata,
		      FIXTURE_DATA(xk) *self, struct maq_circuit *c,
		      uint32_t cid, const struct endpoint *next,
		      const struct endpoint *prev)
{
	struct maq_hop *h = &c->hops[0];
	int err;

	memset(c, 0, sizeof(*c));
	c->ifindex = self->dev;
	c->id = self->next_id++;
	c->role = MAQUIS_ROLE_RELAY;
	c->fwd_cid_in = cid;
	c->fwd_cid_out = cid | 0x40000000;
	c->back_cid_in = cid + 1;
	c->back_cid_out = (cid + 1) | 0x40000000;
	sockaddr_of(next, &c->next);
	sockaddr_of(prev, &c->prev);
	c->lifetime = 3600;
	c->n_hops = 1;
	h->has = MAQ_HOP_ALL;
	randombytes_buf(h->fwd_key, MAQUIS_KEY_LEN);
	randombytes_buf(h->back_key, MAQUIS_KEY_LEN);
	randombytes_buf(h->fwd_ctl_key, MAQUIS_KEY_LEN);
	randombytes_buf(h->back_ctl_key, MAQUIS_KEY_LEN);
	h->fwd_seq = rand64() & SEQ_MASK;
	h->back_seq = rand64() & SEQ_MASK;
	err = maq_nl_circuit_new(self->nl, c);
	ASSERT_EQ(0, err) TH_LOG("circuit-new: %s", maq_nl_errmsg(self->nl));
}

/* A counter of circuit @id (0: of the device). */
static uint64_t mstat(FIXTURE_DATA(xk) *self, uint32_t id, int attr)
{
	struct maq_circuit c;
	struct maq_dev d;

	if (id) {
		if (maq_nl_circuit_get(self->nl, self->dev, id, &c))
			return UINT64_MAX;
		return c.stats.val[attr];
	}
	if (maq_nl_dev_get(self->nl, self->dev, &d))
		return UINT64_MAX;
	return d.stats.val[attr];
}

/* The same once the socket path got round to it (2 s at most). */
static uint64_t mstat_wait(FIXTURE_DATA(xk) *self, uint32_t id, int attr,
			   uint64_t want)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 40; i++) {
		v = mstat(self, id, attr);
		if (v == want)
			break;
		usleep(50000);
	}
	return v;
}

/* The next notification of @cmd for circuit @id, within 3 s. */
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

/* ---- what a loader does ------------------------------------------------- */

/*
 * The probe: the kfunc variant when maquis.ko's BTF (/sys/kernel/btf/maquis)
 * has both kfuncs; relay_kfunc then loads or the module is too old.
 */
static bool kfuncs_present(void)
{
	struct btf *vmlinux, *mod;
	bool ok = false;

	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return false;
	mod = btf__parse_split("/sys/kernel/btf/maquis", vmlinux);
	if (mod) {
		ok = btf__find_by_name_kind(mod, "bpf_maquis_xdp_lookup",
					    BTF_KIND_FUNC) > 0 &&
		     btf__find_by_name_kind(mod, "bpf_maquis_xdp_relay",
					    BTF_KIND_FUNC) > 0;
		btf__free(mod);
	}
	btf__free(vmlinux);
	return ok;
}

TEST_F(xk, probe)
{
	EXPECT_TRUE(kfuncs_present());
}

/* ---- equivalence with layer.h, live ------------------------------------- */

/*
 * Forward cells in every combination of families, both phases, to the far
 * link (XDP_REDIRECT r0 -> r1) and back out of the same link (XDP_TX).
 */
TEST_F_TIMEOUT(xk, fwd_equivalence, 120)
{
	static const struct {
		int in6, out6, phase, same;
	} t[] = {
		{ 0, 0, 0, 0 }, { 0, 0, 1, 0 }, { 1, 1, 0, 0 }, { 1, 1, 1, 0 },
		{ 0, 1, 0, 0 }, { 1, 0, 1, 0 }, { 0, 0, 0, 1 }, { 1, 1, 1, 1 },
	};
	uint8_t cell[MAQ_CELL_SIZE], want[MAQ_CELL_SIZE];
	struct maq_circuit c;
	struct xdp_result r;
	struct maq_hop k1;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		const struct endpoint *in_from = t[i].in6 ? &self->prev6 :
							    &self->prev4;
		const struct endpoint *in_to = t[i].in6 ? &self->r0_6 :
							  &self->r0_4;
		const struct endpoint *next, *us;
		uint64_t seq = rand_ctr() | (t[i].phase ? PHASE : 0);
		const uint8_t *key;
		int cap;

		if (t[i].same) {
			next = t[i].out6 ? &self->prev6 : &self->prev4;
			us = t[i].out6 ? &self->r0_6 : &self->r0_4;
			cap = self->pa;
		} else {
			next = t[i].out6 ? &self->next6 : &self->next4;
			us = t[i].out6 ? &self->r1_6 : &self->r1_4;
			cap = self->pb;
		}
		relay_new(_metadata, self, &c, 0x100 + 2 * i, next,
			  &self->prev4);
		key = c.hops[0].fwd_key;
		if (t[i].phase) {
			memset(&k1, 0, sizeof(k1));
			k1.has = MAQ_HOP_FWD_KEY;
			randombytes_buf(k1.fwd_key, MAQUIS_KEY_LEN);
			ASSERT_EQ(0, maq_nl_key_set(self->nl, self->dev, c.id,
						    1, &k1));
			key = k1.fwd_key;
		}
		fwd_cell(cell, c.fwd_cid_in, seq, key);
		want_fwd_cell(want, cell, key, c.fwd_cid_out,
			      c.hops[0].fwd_seq);

		inject(self->pa, in_from, in_to, cell);
		ASSERT_TRUE(capture(cap, next->port, &r, CAPTURE_MS))
			TH_LOG("case %zu: nothing came out", i);
		check_out(_metadata, &r, us, next, want);
		EXPECT_EQ(i + 1, STAT(MAQ_STAT_CELLS_OUT))
			TH_LOG("case %zu: not relayed by XDP", i);
		EXPECT_EQ(1, mstat(self, c.id, MAQUIS_A_STATS_CELLS_IN));
		EXPECT_EQ(1, mstat(self, c.id, MAQUIS_A_STATS_CELLS_OUT));
	}
	EXPECT_EQ(0, STAT(MAQ_STAT_PASS_CTL));
	EXPECT_EQ(0, STAT(MAQ_STAT_ERROR));
	EXPECT_EQ(i, mstat(self, 0, MAQUIS_A_STATS_CELLS_IN));
	EXPECT_EQ(i, mstat(self, 0, MAQUIS_A_STATS_CELLS_OUT));
}

/*
 * Backward cells (random bytes: relays cannot verify them) from b0 through
 * r1 to prev, redirected to r0, and through r0 back out of r0; twice each,
 * since relays keep no backward window.
 */
TEST_F_TIMEOUT(xk, back_equivalence, 120)
{
	static const struct {
		int in6, out6, phase, same;
	} t[] = {
		{ 0, 0, 0, 0 }, { 1, 1, 1, 0 }, { 0, 1, 1, 0 }, { 1, 0, 0, 0 },
		{ 0, 0, 1, 1 }, { 1, 1, 0, 1 },
	};
	uint8_t cell[MAQ_CELL_SIZE], want[MAQ_CELL_SIZE];
	struct maq_circuit c;
	struct xdp_result r;
	struct maq_hop k1;
	size_t i;
	int n;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		const struct endpoint *prev = t[i].out6 ? &self->prev6 :
							  &self->prev4;
		const struct endpoint *us = t[i].out6 ? &self->r0_6 :
							&self->r0_4;
		const struct endpoint *from, *to;
		uint64_t seq = rand_ctr() | (t[i].phase ? PHASE : 0);
		const uint8_t *key;
		int inj;

		if (t[i].same) {
			from = t[i].in6 ? &self->prev6 : &self->prev4;
			to = t[i].in6 ? &self->r0_6 : &self->r0_4;
			inj = self->pa;
		} else {
			from = t[i].in6 ? &self->next6 : &self->next4;
			to = t[i].in6 ? &self->r1_6 : &self->r1_4;
			inj = self->pb;
		}
		relay_new(_metadata, self, &c, 0x200 + 2 * i, &self->next4,
			  prev);
		key = c.hops[0].back_key;
		if (t[i].phase) {
			memset(&k1, 0, sizeof(k1));
			k1.has = MAQ_HOP_BACK_KEY;
			randombytes_buf(k1.back_key, MAQUIS_KEY_LEN);
			ASSERT_EQ(0, maq_nl_key_set(self->nl, self->dev, c.id,
						    1, &k1));
			key = k1.back_key;
		}
		randombytes_buf(cell, sizeof(cell));
		cell_put_hdr(cell, c.back_cid_in, seq);
		want_back_cell(want, cell, key, c.back_cid_out,
			       c.hops[0].back_seq);

		for (n = 0; n < 2; n++) {
			inject(inj, from, to, cell);
			ASSERT_TRUE(capture(self->pa, PREV_PORT, &r,
					    CAPTURE_MS))
				TH_LOG("case %zu: nothing came out", i);
			check_out(_metadata, &r, us, prev, want);
		}
		EXPECT_EQ(2 * (i + 1), STAT(MAQ_STAT_CELLS_OUT))
			TH_LOG("case %zu: not relayed by XDP", i);
		EXPECT_EQ(2, mstat(self, c.id, MAQUIS_A_STATS_CELLS_IN));
		EXPECT_EQ(2, mstat(self, c.id, MAQUIS_A_STATS_CELLS_OUT));
		EXPECT_EQ(2 * MAQ_CELL_SIZE,
			  mstat(self, c.id, MAQUIS_A_STATS_BYTES_OUT));
	}
	EXPECT_EQ(0, STAT(MAQ_STAT_ERROR));
}

/* ---- drops and passes ---------------------------------------------------- */

/* Any flipped bit of seq, body or tag: dropped here, counted as bad-tag. */
TEST_F_TIMEOUT(xk, tampered, 60)
{
	static const size_t where[] = { 4, 11, 12, 700, MAQ_CELL_SIZE - 17,
					MAQ_CELL_SIZE - 1 };
	uint8_t cell[MAQ_CELL_SIZE], bad[MAQ_CELL_SIZE], want[MAQ_CELL_SIZE];
	uint64_t seq = rand_ctr();
	struct maq_circuit c;
	struct maq_event ev;
	struct xdp_result r;
	size_t i;

	relay_new(_metadata, self, &c, 0x300, &self->next4, &self->prev4);
	fwd_cell(cell, c.fwd_cid_in, seq, c.hops[0].fwd_key);
	for (i = 0; i < ARRAY_SIZE(where); i++) {
		memcpy(bad, cell, sizeof(bad));
		bad[where[i]] ^= 0x10;
		inject(self->pa, &self->prev4, &self->r0_4, bad);
	}
	EXPECT_FALSE(capture(self->pb, NEXT_PORT, &r, NOTHING_MS));
	EXPECT_EQ(i, STAT(MAQ_STAT_BAD_TAG));
	EXPECT_EQ(i, mstat(self, c.id, MAQ_STATS_DROP(MAQUIS_DROP_BAD_TAG)));
	EXPECT_EQ(i, mstat(self, 0, MAQ_STATS_DROP(MAQUIS_DROP_BAD_TAG)));
	EXPECT_EQ(i, mstat(self, 0, MAQUIS_A_STATS_CELLS_IN));
	EXPECT_EQ(0, mstat(self, c.id, MAQUIS_A_STATS_CELLS_IN));
	ASSERT_TRUE(next_event(self->ev, MAQUIS_CMD_EVENT_NTF, c.id, &ev))
		TH_LOG("no tamper event");
	EXPECT_EQ(MAQUIS_EVENT_TAMPER, ev.event);

	/* the window did not move: the genuine cell still goes through */
	want_fwd_cell(want, cell, c.hops[0].fwd_key, c.fwd_cid_out,
		      c.hops[0].fwd_seq);
	inject(self->pa, &self->prev4, &self->r0_4, cell);
	ASSERT_TRUE(capture(self->pb, NEXT_PORT, &r, CAPTURE_MS));
	check_out(_metadata, &r, &self->r1_4, &self->next4, want);
}

/* The module's window: each counter once, nothing 256 or more below. */
TEST_F_TIMEOUT(xk, replayed, 60)
{
	uint8_t cell[MAQ_CELL_SIZE], old[MAQ_CELL_SIZE];
	uint64_t seq = rand_ctr() + 1000;
	struct maq_circuit c;
	struct xdp_result r;

	relay_new(_metadata, self, &c, 0x400, &self->next4, &self->prev4);
	fwd_cell(cell, c.fwd_cid_in, seq, c.hops[0].fwd_key);
	inject(self->pa, &self->prev4, &self->r0_4, cell);
	ASSERT_TRUE(capture(self->pb, NEXT_PORT, &r, CAPTURE_MS));
	inject(self->pa, &self->prev4, &self->r0_4, cell);
	EXPECT_FALSE(capture(self->pb, NEXT_PORT, &r, NOTHING_MS))
		TH_LOG("replay relayed");

	/* 300 ahead, then the one 300 behind it (never seen) is too old */
	fwd_cell(cell, c.fwd_cid_in, seq + 300, c.hops[0].fwd_key);
	inject(self->pa, &self->prev4, &self->r0_4, cell);
	ASSERT_TRUE(capture(self->pb, NEXT_PORT, &r, CAPTURE_MS));
	fwd_cell(old, c.fwd_cid_in, seq - 1, c.hops[0].fwd_key);
	inject(self->pa, &self->prev4, &self->r0_4, old);
	EXPECT_FALSE(capture(self->pb, NEXT_PORT, &r, NOTHING_MS));

	EXPECT_EQ(2, STAT(MAQ_STAT_REPLAY));
	EXPECT_EQ(2, mstat(self, c.id, MAQ_STATS_DROP(MAQUIS_DROP_REPLAY)));
	EXPECT_EQ(2, mstat(self, c.id, MAQUIS_A_STATS_CELLS_OUT));
	EXPECT_EQ(4, mstat(self, 0, MAQUIS_A_STATS_CELLS_IN));
}

/* Unknown cids and cid 0 are the socket path's, which counts them once. */
TEST_F_TIMEOUT(xk, unknown_cid_passes, 60)
{
	uint8_t cell[MAQ_CELL_SIZE];
	struct maq_circuit c;
	struct maq_event ev;

	relay_new(_metadata, self, &c, 0x500, &self->next4, &self->prev4);
	fwd_cell(cell, 0x5555, rand_ctr(), c.hops[0].fwd_key);
	inject(self->pa, &self->prev4, &self->r0_4, cell);
	EXPECT_EQ(1, mstat_wait(self, 0,
				MAQ_STATS_DROP(MAQUIS_DROP_UNKNOWN_CID), 1));
	EXPECT_EQ(1, mstat(self, 0, MAQUIS_A_STATS_CELLS_IN));
	EXPECT_EQ(1, STAT(MAQ_STAT_UNKNOWN_CID));
	EXPECT_EQ(0, STAT(MAQ_STAT_CELLS_IN));

	/* a link control cell goes up to the daemon, through the stack */
	memset(cell, 0, sizeof(cell));
	cell[4] = MAQ_CTL_GOSSIP;
	cell[5] = MAQ_CTL_VERSION;
	inject(self->pa, &self->prev6, &self->r0_6, cell);
	ASSERT_TRUE(next_event(self->ev, MAQUIS_CMD_CELL_NTF, 0, &ev))
		TH_LOG("no cell-ntf for cid 0");
	EXPECT_EQ(0, memcmp(cell, ev.cell, MAQ_CELL_SIZE));
	EXPECT_EQ(2, STAT(MAQ_STAT_UNKNOWN_CID));
}

/* Malformed datagrams to our port: passed, for the module to count. */
TEST_F_TIMEOUT(xk, malformed_passes, 60)
{
	uint8_t cell[MAQ_CELL_SIZE], f[FRAME_MAX];
	size_t len;

	memset(cell, 0, sizeof(cell));
	cell[3] = 7;
	len = build_frame(f, &self->prev4, &self->r0_4, cell,
			  MAQ_CELL_SIZE - 100);
	ASSERT_EQ((ssize_t)len, send(self->pa, f, len, 0));
	EXPECT_EQ(1, mstat_wait(self, 0,
				MAQ_STATS_DROP(MAQUIS_DROP_MALFORMED), 1));
	EXPECT_EQ(1, STAT(MAQ_STAT_MALFORMED));
}

/* Circuits of other roles are the socket path's too. */
TEST_F_TIMEOUT(xk, terminus_passes, 60)
{
	uint8_t cell[MAQ_CELL_SIZE], pt[MAQ_BODY_LEN];
	struct maq_circuit t;
	struct maq_hop *h = &t.hops[0];

	memset(&t, 0, sizeof(t));
	t.ifindex = self->dev;
	t.id = 99;
	t.role = MAQUIS_ROLE_TERMINUS;
	t.fwd_cid_in = 0x600;
	t.back_cid_out = 0x601;
	sockaddr_of(&self->prev4, &t.prev);
	t.lifetime = 3600;
	t.n_routes = 1;
	maq_prefix_parse("172.30.9.0/24", &t.routes[0]);
	t.n_hops = 1;
	h->has = MAQ_HOP_KEYS | MAQ_HOP_BACK_SEQ;
	randombytes_buf(h->fwd_key, MAQUIS_KEY_LEN);
	randombytes_buf(h->back_key, MAQUIS_KEY_LEN);
	randombytes_buf(h->fwd_ctl_key, MAQUIS_KEY_LEN);
	randombytes_buf(h->back_ctl_key, MAQUIS_KEY_LEN);
	ASSERT_EQ(0, maq_nl_circuit_new(self->nl, &t))
		TH_LOG("%s", maq_nl_errmsg(self->nl));

	memset(pt, 0, sizeof(pt));
	pt[MAQ_PAYLOAD_OFF] = MAQ_INNER_PAD;
	cell_seal_fwd(cell, t.fwd_cid_in, rand_ctr(), pt, h->fwd_key);
	inject(self->pa, &self->prev4, &self->r0_4, cell);
	EXPECT_EQ(1, mstat_wait(self, t.id, MAQUIS_A_STATS_CELLS_IN, 1));
	EXPECT_EQ(1, STAT(MAQ_STAT_UNKNOWN_CID));
}

/* A cell under the hop's control key is for the daemon: passed untouched. */
TEST_F_TIMEOUT(xk, hop_control_passes, 60)
{
	uint8_t pt[MAQ_BODY_LEN], cell[MAQ_CELL_SIZE];
	struct maq_circuit c;
	struct maq_event ev;
	struct xdp_result r;

	relay_new(_metadata, self, &c, 0x700, &self->next4, &self->prev4);
	memset(pt, 0, sizeof(pt));
	randombytes_buf(pt + MAQ_PAYLOAD_OFF, MAQUIS_CTL_LEN);
	cell_seal_fwd(cell, c.fwd_cid_in, rand_ctr(), pt,
		      c.hops[0].fwd_ctl_key);
	inject(self->pa, &self->prev4, &self->r0_4, cell);
	ASSERT_TRUE(next_event(self->ev, MAQUIS_CMD_CELL_NTF, c.id, &ev))
		TH_LOG("no cell-ntf for a hop control cell");
	ASSERT_TRUE(MAQ_HAS(&ev, MAQUIS_A_CTL));
	EXPECT_EQ(0, memcmp(pt + MAQ_PAYLOAD_OFF, ev.ctl, MAQUIS_CTL_LEN));
	EXPECT_FALSE(capture(self->pb, NEXT_PORT, &r, NOTHING_MS));
	EXPECT_EQ(1, STAT(MAQ_STAT_PASS_CTL));
	EXPECT_EQ(1, mstat(self, c.id, MAQUIS_A_STATS_CTL_UP));
	EXPECT_EQ(1, mstat(self, c.id, MAQUIS_A_STATS_CELLS_IN));
	EXPECT_EQ(1, mstat(self, 0, MAQUIS_A_STATS_CELLS_IN));
}

/* A phase whose slot holds no key: dropped, counted as key-limit. */
TEST_F_TIMEOUT(xk, empty_slot, 60)
{
	uint8_t cell[MAQ_CELL_SIZE];
	struct maq_circuit c;
	struct xdp_result r;

	relay_new(_metadata, self, &c, 0x800, &self->next4, &self->prev4);
	fwd_cell(cell, c.fwd_cid_in, rand_ctr() | PHASE, c.hops[0].fwd_key);
	inject(self->pa, &self->prev4, &self->r0_4, cell);
	EXPECT_FALSE(capture(self->pb, NEXT_PORT, &r, NOTHING_MS));
	EXPECT_EQ(1, STAT(MAQ_STAT_KEY_LIMIT));
	EXPECT_EQ(1, mstat(self, c.id, MAQ_STATS_DROP(MAQUIS_DROP_KEY_LIMIT)));
}

/*
 * No neighbour for the next hop yet: the program cannot route, passes the
 * cell before anything changed, and the socket path relays it (once).
 */
TEST_F_TIMEOUT(xk, no_route_passes, 60)
{
	uint8_t cell[MAQ_CELL_SIZE];
	struct endpoint lost;
	struct maq_circuit c;

	endpoint_set(&lost, "10.9.1.9", NEXT_PORT, MAC_B0);
	relay_new(_metadata, self, &c, 0x900, &lost, &self->prev4);
	fwd_cell(cell, c.fwd_cid_in, rand_ctr(), c.hops[0].fwd_key);
	inject(self->pa, &self->prev4, &self->r0_4, cell);
	EXPECT_EQ(1, mstat_wait(self, c.id, MAQUIS_A_STATS_CELLS_IN, 1));
	EXPECT_EQ(1, STAT(MAQ_STAT_NO_ROUTE));
	EXPECT_EQ(0, STAT(MAQ_STAT_REPLAY));
	EXPECT_EQ(0, mstat(self, c.id, MAQ_STATS_DROP(MAQUIS_DROP_REPLAY)));
	EXPECT_EQ(1, mstat(self, 0, MAQUIS_A_STATS_CELLS_IN));
}

/* One source of truth: a hop deleted over netlink is gone for XDP too. */
TEST_F_TIMEOUT(xk, hop_removed, 60)
{
	uint8_t cell[MAQ_CELL_SIZE];
	uint64_t seq = rand_ctr();
	struct maq_circuit c;
	struct xdp_result r;

	relay_new(_metadata, self, &c, 0xa00, &self->next4, &self->prev4);
	fwd_cell(cell, c.fwd_cid_in, seq, c.hops[0].fwd_key);
	inject(self->pa, &self->prev4, &self->r0_4, cell);
	ASSERT_TRUE(capture(self->pb, NEXT_PORT, &r, CAPTURE_MS));

	ASSERT_EQ(0, maq_nl_circuit_del(self->nl, self->dev, c.id));
	fwd_cell(cell, c.fwd_cid_in, seq + 1, c.hops[0].fwd_key);
	inject(self->pa, &self->prev4, &self->r0_4, cell);
	EXPECT_FALSE(capture(self->pb, NEXT_PORT, &r, NOTHING_MS))
		TH_LOG("relayed after circuit-del");
	EXPECT_EQ(1, mstat_wait(self, 0,
				MAQ_STATS_DROP(MAQUIS_DROP_UNKNOWN_CID), 1));
	EXPECT_EQ(1, STAT(MAQ_STAT_UNKNOWN_CID));

	/* installed again: relayed again at once, with a fresh window */
	c.id = self->next_id++;
	ASSERT_EQ(0, maq_nl_circuit_new(self->nl, &c));
	inject(self->pa, &self->prev4, &self->r0_4, cell);
	ASSERT_TRUE(capture(self->pb, NEXT_PORT, &r, CAPTURE_MS));
	EXPECT_EQ(2, STAT(MAQ_STAT_CELLS_OUT));
}

/* ---- the daemon's loader ------------------------------------------------ */

static void stats_of(struct __test_metadata *_metadata, const char *dev,
		     const char *root, uint64_t *val)
{
	int err = maq_xdp_stats_pinned(dev, root, val);

	ASSERT_EQ(0, err) TH_LOG("%s: stats: %s", dev, strerror(-err));
}

/*
 * daemon/xdp.c with the module loaded: auto takes the kfunc variant (the
 * probe finds both kfuncs), attaches natively and says so, relays what was
 * installed over netlink while holding no circuit itself, counts on its
 * pins, switches to the pure variant and back in place when told, and its
 * detach leaves no program and no pin; the socket path carries on.
 */
TEST_F_TIMEOUT(xk, loader_picks_kfunc, 120)
{
	struct maq_xdp_opts o = { .port = MAQ_PORT };
	uint8_t cell[MAQ_CELL_SIZE], want[MAQ_CELL_SIZE];
	uint64_t val[MAQ_STAT_MAX], seq = rand_ctr();
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct maq_xdp_status st;
	struct maq_xdp *x, *x1, *p;
	char root[64], path[128];
	struct maq_circuit c;
	struct xdp_result r;
	int err;

	snprintf(root, sizeof(root), "/sys/fs/bpf/maq-xk-%d", getpid());
	o.pin_root = root;
	EXPECT_EQ(1, maq_xdp_kfunc_probe(NULL));

	/* the kfunc variant without its maquis device: nothing to serve */
	o.maq_dev = "maq9";
	EXPECT_EQ(-ENODEV, maq_xdp_open("r0", &o, &x));
	EXPECT_NE(0, access(root, F_OK));
	o.maq_dev = NULL;
	err = maq_xdp_open("r0", &o, &x);
	ASSERT_EQ(0, err) TH_LOG("open r0: %s", strerror(-err));
	ASSERT_EQ(0, maq_xdp_open("r1", &o, &x1));
	EXPECT_EQ(MAQ_XDP_VARIANT_KFUNC, maq_xdp_variant(x));
	EXPECT_EQ(MAQ_XDP_MODE_NATIVE, maq_xdp_mode(x));
	ASSERT_EQ(0, maq_xdp_status("r0", root, &st));
	EXPECT_EQ(maq_xdp_prog_id(x), st.prog_id);
	EXPECT_EQ(MAQ_XDP_VARIANT_KFUNC, st.variant);
	EXPECT_EQ(MAQ_XDP_MODE_NATIVE, st.mode);
	EXPECT_EQ(self->dev, st.dev_ifindex);
	EXPECT_TRUE(st.pinned);

	/* one source of truth: no table of its own, the module's hop serves */
	relay_new(_metadata, self, &c, 0x900, &self->next4, &self->prev4);
	EXPECT_EQ(-EOPNOTSUPP, maq_xdp_hop_add(x, &c));
	snprintf(path, sizeof(path), "%s/maq_circuits", root);
	EXPECT_NE(0, access(path, F_OK));
	fwd_cell(cell, c.fwd_cid_in, seq, c.hops[0].fwd_key);
	want_fwd_cell(want, cell, c.hops[0].fwd_key, c.fwd_cid_out,
		      c.hops[0].fwd_seq);
	inject(self->pa, &self->prev4, &self->r0_4, cell);
	ASSERT_TRUE(capture(self->pb, NEXT_PORT, &r, CAPTURE_MS));
	check_out(_metadata, &r, &self->r1_4, &self->next4, want);
	stats_of(_metadata, "r0", root, val);
	EXPECT_EQ(1, val[MAQ_STAT_CELLS_IN]);
	EXPECT_EQ(1, val[MAQ_STAT_CELLS_OUT]);
	EXPECT_EQ(0, STAT(MAQ_STAT_CELLS_IN)) TH_LOG("fixture's program ran");
	EXPECT_EQ(1, mstat(self, c.id, MAQUIS_A_STATS_CELLS_OUT));
	ASSERT_EQ(0, maq_xdp_open_pinned("r0", root, &p));
	EXPECT_EQ(MAQ_XDP_VARIANT_KFUNC, maq_xdp_variant(p));
	EXPECT_EQ(-EOPNOTSUPP, maq_xdp_hop_list(p, (uint32_t[2]){ 0 }, 2));
	maq_xdp_close(p);

	/* told pure: replaced in place; auto again: kfunc again */
	o.variant = MAQ_XDP_VARIANT_PURE;
	ASSERT_EQ(0, maq_xdp_open("r0", &o, &p));
	ASSERT_EQ(0, maq_xdp_status("r0", root, &st));
	EXPECT_EQ(MAQ_XDP_VARIANT_PURE, st.variant);
	EXPECT_EQ(maq_xdp_prog_id(p), st.prog_id);
	EXPECT_EQ(0, st.dev_ifindex);
	maq_xdp_close(p);
	o.variant = MAQ_XDP_VARIANT_AUTO;
	ASSERT_EQ(0, maq_xdp_open("r0", &o, &p));
	ASSERT_EQ(0, maq_xdp_status("r0", root, &st));
	EXPECT_EQ(MAQ_XDP_VARIANT_KFUNC, st.variant);
	EXPECT_EQ(MAQ_XDP_MODE_NATIVE, st.mode);
	maq_xdp_close(p);
	maq_xdp_close(x);

	/* detach: nothing attached, nothing pinned, not even the shared maps */
	ASSERT_EQ(0, maq_xdp_detach_ifname("r0", root));
	ASSERT_EQ(0, maq_xdp_status("r0", root, &st));
	EXPECT_EQ(0, st.prog_id);
	EXPECT_FALSE(st.pinned);
	ASSERT_EQ(0, bpf_xdp_query(self->r0, 0, &q));
	EXPECT_EQ(0, q.prog_id);
	EXPECT_EQ(0, access(root, F_OK)) TH_LOG("r1's pins went with r0's");
	EXPECT_EQ(0, maq_xdp_detach(x1));
	ASSERT_EQ(0, bpf_xdp_query(self->r1, 0, &q));
	EXPECT_EQ(0, q.prog_id);
	EXPECT_NE(0, access(root, F_OK)) TH_LOG("%s left behind", root);

	/* the same circuit, now by the socket path alone */
	fwd_cell(cell, c.fwd_cid_in, seq + 1, c.hops[0].fwd_key);
	want_fwd_cell(want, cell, c.hops[0].fwd_key, c.fwd_cid_out,
		      c.hops[0].fwd_seq);
	inject(self->pa, &self->prev4, &self->r0_4, cell);
	ASSERT_TRUE(capture(self->pb, NEXT_PORT, &r, CAPTURE_MS));
	EXPECT_EQ(0, memcmp(r.data + r.len - MAQ_CELL_SIZE, want,
			    MAQ_CELL_SIZE));
	EXPECT_EQ(2, mstat_wait(self, c.id, MAQUIS_A_STATS_CELLS_OUT, 2));
}

/* ---- pure BPF on this kernel, and the cost of a cell -------------------- */

/* The pure-BPF relay (no module involved) loads and relays on 6.12. */
TEST_F_TIMEOUT(xk, pure_bpf_relays, 120)
{
	struct maq_xdp_config cfg = { .port = htons(MAQ_PORT), .fib_ifindex = 1 };
	uint8_t cell[MAQ_CELL_SIZE], want[MAQ_CELL_SIZE], f[FRAME_MAX];
	struct maq_xdp_fwd *base;
	struct maq_xdp_hop h;
	struct maq_relay *pure;
	struct xdp_result r;
	__u32 zero = 0;
	uint64_t seq = rand_ctr();
	size_t len;

	base = maq_xdp_fwd__open_and_load();
	EXPECT_NE(NULL, base) TH_LOG("xdp_fwd does not load");
	maq_xdp_fwd__destroy(base);
	pure = maq_relay__open_and_load();
	ASSERT_NE(NULL, pure) TH_LOG("relay does not load");
	ASSERT_EQ(0, bpf_map_update_elem(bpf_map__fd(pure->maps.maq_config),
					 &zero, &cfg, BPF_ANY));
	hop_init(&h, MAQUIS_DIR_FWD, 0xb01, rand64(), &self->next6);
	ASSERT_EQ(0, hop_put(bpf_map__fd(pure->maps.maq_circuits), 0xb00, &h));
	make_fwd(cell, &h, 0xb00, seq);
	want_fwd(want, cell, &h, seq);
	len = build_frame(f, &self->prev4, &self->r0_4, cell, sizeof(cell));
	xdp_run(bpf_program__fd(pure->progs.maq_relay), f, len, self->r0, 1,
		&r);
	EXPECT_EQ(0, r.err);
	EXPECT_STREQ("REDIRECT", xdp_name(r.verdict));
	check_out(_metadata, &r, &self->r1_6, &self->next6, want);
	maq_relay__destroy(pure);
}

/*
 * Per-cell cost with BPF_PROG_TEST_RUN: a backward cell whose circuit
 * sends it back to where it came from with the same cid, so each run's
 * output is the next run's input (forward cells cannot be repeated: the
 * window).  Parse, lookup, FIB, seal 1408 bytes, headers, XDP_TX.
 */
TEST_F_TIMEOUT(xk, cost, 300)
{
	struct maq_xdp_config cfg = { .port = htons(MAQ_PORT), .fib_ifindex = 1 };
	const int runs = 2000;
	uint8_t cell[MAQ_CELL_SIZE], f[FRAME_MAX];
	struct endpoint self_prev;
	struct maq_circuit c;
	struct maq_xdp_hop h;
	struct maq_relay *pure;
	struct xdp_result r;
	uint32_t kf, bpf;
	__u32 zero = 0;
	size_t len;

	endpoint_set(&self_prev, "10.9.0.2", MAQ_PORT, MAC_A0);
	relay_new(_metadata, self, &c, 0xc00, &self->next4, &self_prev);
	ASSERT_EQ(0, maq_nl_circuit_del(self->nl, self->dev, c.id));
	c.back_cid_out = c.back_cid_in;
	ASSERT_EQ(0, maq_nl_circuit_new(self->nl, &c));
	randombytes_buf(cell, sizeof(cell));
	cell_put_hdr(cell, c.back_cid_in, rand_ctr());
	len = build_frame(f, &self->prev4, &self->r0_4, cell, sizeof(cell));

	xdp_run(self->prog, f, len, self->r0, runs, &r);
	ASSERT_EQ(0, r.err);
	EXPECT_STREQ("TX", xdp_name(r.verdict));
	EXPECT_EQ(runs, STAT(MAQ_STAT_CELLS_OUT));
	EXPECT_EQ(runs, mstat(self, c.id, MAQUIS_A_STATS_CELLS_OUT));
	kf = r.duration;

	pure = maq_relay__open_and_load();
	ASSERT_NE(NULL, pure);
	ASSERT_EQ(0, bpf_map_update_elem(bpf_map__fd(pure->maps.maq_config),
					 &zero, &cfg, BPF_ANY));
	hop_init(&h, MAQUIS_DIR_BACK, c.back_cid_in, rand64(), &self_prev);
	ASSERT_EQ(0, hop_put(bpf_map__fd(pure->maps.maq_circuits),
			     c.back_cid_in, &h));
	xdp_run(bpf_program__fd(pure->progs.maq_relay), f, len, self->r0, runs,
		&r);
	ASSERT_EQ(0, r.err);
	EXPECT_STREQ("TX", xdp_name(r.verdict));
	bpf = r.duration;
	maq_relay__destroy(pure);

	TH_LOG("backward cell, IPv4, XDP_TX, mean of %d: kfunc %u ns, pure BPF %u ns (x%.1f)",
	       runs, kf, bpf, kf ? (double)bpf / kf : 0.0);
}

TEST_HARNESS_MAIN
