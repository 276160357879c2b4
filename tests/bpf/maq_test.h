/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the BPF tests: frames, checksums, BPF_PROG_TEST_RUN, per-CPU
 * counters and a private network namespace for bpf_fib_lookup().
 */
#ifndef _MAQ_BPF_TEST_H
#define _MAQ_BPF_TEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "../../daemon/crypto.h"
#include "maquis_common.h"

#define ETH_HLEN	14
#define IP4_HLEN	20
#define IP6_HLEN	40
#define UDP_HLEN	8
#define FRAME4_LEN	(ETH_HLEN + IP4_HLEN + UDP_HLEN + MAQ_CELL_SIZE)
#define FRAME6_LEN	(ETH_HLEN + IP6_HLEN + UDP_HLEN + MAQ_CELL_SIZE)
#define FRAME_MAX	2048

#define MAQ_PORT	7720

/* XDP verdicts, spelled out for messages */
static inline const char *xdp_name(__u32 v)
{
	static const char *const n[] = { "ABORTED", "DROP", "PASS", "TX",
					 "REDIRECT" };

	return v < 5 ? n[v] : "?";
}

/*
 * Can this process load BPF at all?  Tests SKIP rather than fail when it
 * cannot: not root, or a kernel without BPF.
 */
static inline const char *bpf_unavailable(void)
{
	if (geteuid() != 0)
		return "needs root";
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return "kernel has no BTF (/sys/kernel/btf/vmlinux)";
	return NULL;
}

static inline int load_failure_is_env(int err)
{
	err = err < 0 ? -err : err;
	return err == EPERM || err == ENOSYS || err == EOPNOTSUPP;
}

/*
 * The start of every fixture on an XDP program of the relay family (kept
 * in self->skel, self->prog, self->circuits, self->stats): SKIP where BPF
 * or a private netns are missing, load skeleton @skel_ (maq_relay,
 * maq_xdp_fwd), program @prog_, and configure the maquis port with the
 * FIB looked up from lo.  A macro because the skeletons' types differ; it
 * returns from FIXTURE_SETUP when it skips.
 */
#define XDP_FIXTURE_LOAD(skel_, prog_) do {					\
	struct maq_xdp_config cfg_ = { .port = htons(MAQ_PORT),		\
				       .fib_ifindex = 1 };			\
	const char *why_ = bpf_unavailable();					\
	__u32 zero_ = 0;							\
	int err_;								\
										\
	if (why_)								\
		SKIP(return, "%s", why_);					\
	why_ = netns_setup();							\
	if (why_)								\
		SKIP(return, "%s", why_);					\
	ASSERT_EQ(0, maq_crypto_init());					\
	self->skel = skel_##__open();						\
	ASSERT_NE(NULL, self->skel);						\
	err_ = skel_##__load(self->skel);					\
	if (err_ && load_failure_is_env(err_))					\
		SKIP(return, "cannot load BPF: %s", strerror(-err_));		\
	ASSERT_EQ(0, err_);							\
	self->prog = bpf_program__fd(self->skel->progs.prog_);			\
	self->circuits = bpf_map__fd(self->skel->maps.maq_circuits);		\
	self->stats = bpf_map__fd(self->skel->maps.maq_stats);			\
	ASSERT_EQ(0, bpf_map_update_elem(					\
		bpf_map__fd(self->skel->maps.maq_config), &zero_, &cfg_,	\
		BPF_ANY));							\
} while (0)

/* ---- frames ------------------------------------------------------------- */

struct endpoint {
	int family;		/* AF_INET / AF_INET6 */
	__u8 addr[16];		/* network order; IPv4 in the first 4 */
	__u16 port;		/* host order */
	__u8 mac[6];
};

static inline void endpoint_set(struct endpoint *e, const char *addr,
				__u16 port, const char *mac)
{
	e->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	memset(e->addr, 0, sizeof(e->addr));
	inet_pton(e->family, addr, e->addr);
	e->port = port;
	sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &e->mac[0], &e->mac[1],
	       &e->mac[2], &e->mac[3], &e->mac[4], &e->mac[5]);
}

static inline __u64 sum16(const void *p, size_t len)
{
	const __u8 *b = p;
	__u64 s = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (__u16)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		s += (__u16)(b[len - 1] << 8);
	return s;
}

static inline __u16 fold16(__u64 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* UDP checksum as the sender computes it (host order result). */
static inline __u16 udp_csum(int family, const __u8 *src, const __u8 *dst,
			     const __u8 *udp, size_t ulen)
{
	int alen = family == AF_INET ? 4 : 16;
	__u64 s = sum16(src, alen) + sum16(dst, alen) + IPPROTO_UDP + ulen;
	__u16 c;

	s += sum16(udp, ulen);
	c = ~fold16(s);
	return c ? c : 0xffff;
}

/*
 * Build Ethernet + IP + UDP + @payload into @f; returns the frame length.
 * The UDP checksum is real in both families.
 */
static inline size_t build_frame(__u8 *f, const struct endpoint *src,
				 const struct endpoint *dst, const void *payload,
				 size_t plen)
{
	__u8 *ip = f + ETH_HLEN, *udp;
	size_t ulen = UDP_HLEN + plen;
	__u16 c;

	memcpy(f, dst->mac, 6);
	memcpy(f + 6, src->mac, 6);
	if (src->family == AF_INET) {
		f[12] = 0x08;
		f[13] = 0x00;
		memset(ip, 0, IP4_HLEN);
		ip[0] = 0x45;
		ip[2] = (IP4_HLEN + ulen) >> 8;
		ip[3] = (IP4_HLEN + ulen) & 0xff;
		ip[6] = 0x40;	/* DF */
		ip[8] = 64;
		ip[9] = IPPROTO_UDP;
		memcpy(ip + 12, src->addr, 4);
		memcpy(ip + 16, dst->addr, 4);
		c = ~fold16(sum16(ip, IP4_HLEN));
		ip[10] = c >> 8;
		ip[11] = c & 0xff;
		udp = ip + IP4_HLEN;
	} else {
		f[12] = 0x86;
		f[13] = 0xdd;
		memset(ip, 0, IP6_HLEN);
		ip[0] = 0x60;
		ip[4] = ulen >> 8;
		ip[5] = ulen & 0xff;
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;
		memcpy(ip + 8, src->addr, 16);
		memcpy(ip + 24, dst->addr, 16);
		udp = ip + IP6_HLEN;
	}
	udp[0] = src->port >> 8;
	udp[1] = src->port & 0xff;
	udp[2] = dst->port >> 8;
	udp[3] = dst->port & 0xff;
	udp[4] = ulen >> 8;
	udp[5] = ulen & 0xff;
	udp[6] = udp[7] = 0;
	memcpy(udp + UDP_HLEN, payload, plen);
	c = udp_csum(src->family, src->addr, dst->addr, udp, ulen);
	udp[6] = c >> 8;
	udp[7] = c & 0xff;
	return udp + ulen - f;
}

/* ---- cells (layer.h through daemon/crypto.h) ---------------------------- */

static inline void cell_put_hdr(__u8 *cell, __u32 cid, __u64 seq)
{
	maq_cell_put_hdr(cell, cid, seq);
}

/* A forward cell as the previous hop sends it: body sealed for us. */
static inline void cell_seal_fwd(__u8 *cell, __u32 cid, __u64 seq,
				 const __u8 *plain, const __u8 key[32])
{
	cell_put_hdr(cell, cid, seq);
	memcpy(cell + MAQ_HDR_LEN, plain, MAQ_BODY_LEN);
	maq_layer_seal(cell + MAQ_HDR_LEN, cell + MAQ_HDR_LEN + MAQ_BODY_LEN,
		       key, seq & MAQ_SEQ_CTR_MASK);
}

/* ---- BPF_PROG_TEST_RUN -------------------------------------------------- */

struct xdp_result {
	int err;		/* bpf_prog_test_run_opts() */
	__u32 verdict;
	__u32 duration;		/* ns per run */
	__u32 len;
	__u8 data[FRAME_MAX];
};

static inline void xdp_run(int prog_fd, const void *in, __u32 inlen,
			   int ifindex, int repeat, struct xdp_result *r)
{
	struct xdp_md md = {
		.data_end = inlen,
		.ingress_ifindex = ifindex,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = in,
		.data_size_in = inlen,
		.data_out = r->data,
		.data_size_out = sizeof(r->data),
		.ctx_in = ifindex ? &md : NULL,
		.ctx_size_in = ifindex ? sizeof(md) : 0,
		.repeat = repeat,
	);

	memset(r->data, 0, sizeof(r->data));
	r->err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (r->err)
		r->err = -errno;
	r->verdict = opts.retval;
	r->duration = opts.duration;
	r->len = opts.data_size_out;
}

/*
 * BPF_F_TEST_XDP_LIVE_FRAMES: the verdict is carried out for real, XDP_TX
 * and XDP_REDIRECT put the frame on the wire (no data_out in this mode).
 */
static inline int xdp_run_live(int prog_fd, const void *in, __u32 inlen,
			       int ifindex)
{
	struct xdp_md md = {
		.data_end = inlen,
		.ingress_ifindex = ifindex,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = in,
		.data_size_in = inlen,
		.ctx_in = &md,
		.ctx_size_in = sizeof(md),
		.repeat = 1,
		.flags = BPF_F_TEST_XDP_LIVE_FRAMES,
	);

	return bpf_prog_test_run_opts(prog_fd, &opts) ? -errno : 0;
}

/* Sum of one per-CPU u64 counter. */
static inline __u64 percpu_sum(int map_fd, __u32 idx)
{
	int n = libbpf_num_possible_cpus(), i;
	__u64 v[n > 0 ? n : 1], s = 0;

	if (n <= 0 || bpf_map_lookup_elem(map_fd, &idx, v))
		return ~0ULL;
	for (i = 0; i < n; i++)
		s += v[i];
	return s;
}

/* ---- network namespace -------------------------------------------------- */

#define MAC_VE0		"02:00:00:00:00:01"	/* us, towards 10.0.0.0/24 */
#define MAC_VE1		"02:00:00:00:00:02"	/* the peer on that link */
#define MAC_VE2		"02:00:00:00:01:01"	/* us, towards 10.0.1.0/24 */
#define MAC_VE3		"02:00:00:00:01:02"	/* the peer there */

/*
 * A fresh namespace with two links and permanent neighbours, so that
 * bpf_fib_lookup() succeeds without ARP/ND:
 *   ve0 10.0.0.1/24 fd00::1/64 -- 10.0.0.2 fd00::2 (MAC_VE1)
 *   ve2 10.0.1.1/24 fd01::1/64 -- 10.0.1.2 fd01::2 (MAC_VE3)
 * 10.0.0.9 and fd00::9 are on-link without a neighbour entry.  Forwarding
 * is on for lo only (see struct maq_xdp_config).
 * The test harness runs each test in its own process, so unshare() here
 * leaves the caller's namespace alone.
 */
static inline const char *netns_setup(void)
{
	if (unshare(CLONE_NEWNET))
		return "unshare(CLONE_NEWNET) failed";
	if (system("exec >/dev/null 2>&1; set -e; ip link set lo up;"
		   "echo 1 > /proc/sys/net/ipv4/conf/lo/forwarding;"
		   "echo 1 > /proc/sys/net/ipv6/conf/lo/forwarding;"
		   "ip link add ve0 address " MAC_VE0 " type veth"
		   "   peer name ve1 address " MAC_VE1 ";"
		   "ip link add ve2 address " MAC_VE2 " type veth"
		   "   peer name ve3 address " MAC_VE3 ";"
		   "for d in ve0 ve1 ve2 ve3; do ip link set $d up; done;"
		   "ip addr add 10.0.0.1/24 dev ve0; ip addr add 10.0.1.1/24 dev ve2;"
		   "ip -6 addr add fd00::1/64 dev ve0 nodad;"
		   "ip -6 addr add fd01::1/64 dev ve2 nodad;"
		   "ip neigh add 10.0.0.2 lladdr " MAC_VE1 " dev ve0 nud permanent;"
		   "ip neigh add 10.0.1.2 lladdr " MAC_VE3 " dev ve2 nud permanent;"
		   "ip -6 neigh add fd00::2 lladdr " MAC_VE1 " dev ve0 nud permanent;"
		   "ip -6 neigh add fd01::2 lladdr " MAC_VE3 " dev ve2 nud permanent"))
		return "cannot set up veth pairs with ip(8)";
	return NULL;
}

#endif /* _MAQ_BPF_TEST_H */
