/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Hop entries and output checks shared by the XDP tests; include after
 * kselftest_harness.h (the checks use its EXPECT/ASSERT).
 */
#ifndef _MAQ_XDP_CHECK_H
#define _MAQ_XDP_CHECK_H

#include "maq_test.h"

static inline void hop_init(struct maq_xdp_hop *h, int dir, __u32 cid_out,
			    __u64 delta, const struct endpoint *next)
{
	memset(h, 0, sizeof(*h));
	h->dir = dir;
	h->flags = MAQ_HOP_SLOT0 | MAQ_HOP_SLOT1;
	h->cid_out = cid_out;
	h->delta = delta & MAQ_SEQ_CTR_MASK;
	h->next.family = next->family == AF_INET ? MAQ_AF_INET : MAQ_AF_INET6;
	h->next.port = htons(next->port);
	memcpy(&h->next.addr, next->addr, 16);
	randombytes_buf(h->key, sizeof(h->key));
	randombytes_buf(h->ctl_key, sizeof(h->ctl_key));
}

static inline int hop_put(int fd, __u32 cid, const struct maq_xdp_hop *h)
{
	struct maq_circuit_key k = { .ifindex = 0, .cid = cid };

	return bpf_map_update_elem(fd, &k, h, BPF_ANY);
}

static inline int hop_get(int fd, __u32 cid, struct maq_xdp_hop *h)
{
	struct maq_circuit_key k = { .ifindex = 0, .cid = cid };

	return bpf_map_lookup_elem(fd, &k, h);
}

static inline __u64 rand64(void)
{
	__u64 v;

	randombytes_buf(&v, sizeof(v));
	return v;
}

/* A counter as an origin would give a hop: base below 2^61 plus cells. */
static inline __u64 rand_ctr(void)
{
	return rand64() & ((1ULL << 61) - 1);
}

/* A forward cell for @h, sealed with the key of @seq's phase. */
static inline void make_fwd(__u8 *cell, const struct maq_xdp_hop *h, __u32 cid,
			    __u64 seq)
{
	__u8 plain[MAQ_BODY_LEN];

	randombytes_buf(plain, sizeof(plain));
	cell_seal_fwd(cell, cid, seq, plain, h->key[seq >> 63]);
}

/* What layer.h makes of it. */
static inline void want_fwd(__u8 *out, const __u8 *cell,
			    const struct maq_xdp_hop *h, __u64 seq)
{
	__u8 buf[MAQ_SHIFT + MAQ_CELL_SIZE];
	__u8 *o;

	memcpy(buf + MAQ_SHIFT, cell, MAQ_CELL_SIZE);
	o = maq_relay_fwd(buf + MAQ_SHIFT, h->key[seq >> 63], seq, h->cid_out,
			  h->delta);
	memcpy(out, o ? o : buf, MAQ_CELL_SIZE);
}

static inline void want_back(__u8 *out, const __u8 *cell,
			     const struct maq_xdp_hop *h, __u64 seq)
{
	__u8 buf[MAQ_CELL_SIZE + MAQ_SHIFT];
	__u8 *o;

	memcpy(buf, cell, MAQ_CELL_SIZE);
	o = maq_relay_back(buf, h->key[seq >> 63], h->cid_out,
			   maq_seq_next(seq, h->delta));
	memcpy(out, o, MAQ_CELL_SIZE);
}

/*
 * The frame the relay sent: from @us to @next, carrying @cell, with valid
 * checksums and fresh IP header fields.
 */
static inline void check_out(struct __test_metadata *_metadata,
		      const struct xdp_result *r, const struct endpoint *us,
		      const struct endpoint *next, const __u8 *cell)
{
	const __u8 *f = r->data, *ip = f + ETH_HLEN, *udp;
	int v4 = next->family == AF_INET;
	size_t iph = v4 ? IP4_HLEN : IP6_HLEN, ulen = UDP_HLEN + MAQ_CELL_SIZE;
	__u8 tmp[UDP_HLEN + MAQ_CELL_SIZE];
	__u16 c;

	ASSERT_EQ(ETH_HLEN + iph + ulen, r->len);
	EXPECT_EQ(0, memcmp(f, next->mac, 6));
	EXPECT_EQ(0, memcmp(f + 6, us->mac, 6));
	if (v4) {
		EXPECT_EQ(0x0800, f[12] << 8 | f[13]);
		EXPECT_EQ(0x45, ip[0]);
		EXPECT_EQ(0, ip[1]);
		EXPECT_EQ(IP4_HLEN + ulen, ip[2] << 8 | ip[3]);
		EXPECT_EQ(0x4000, ip[6] << 8 | ip[7]);
		EXPECT_EQ(64, ip[8]);
		EXPECT_EQ(IPPROTO_UDP, ip[9]);
		EXPECT_EQ(0xffff, fold16(sum16(ip, IP4_HLEN)));
		EXPECT_EQ(0, memcmp(ip + 12, us->addr, 4));
		EXPECT_EQ(0, memcmp(ip + 16, next->addr, 4));
	} else {
		EXPECT_EQ(0x86dd, f[12] << 8 | f[13]);
		EXPECT_EQ(0x60, ip[0]);
		EXPECT_EQ(0, ip[1] | ip[2] | ip[3]);
		EXPECT_EQ(ulen, ip[4] << 8 | ip[5]);
		EXPECT_EQ(IPPROTO_UDP, ip[6]);
		EXPECT_EQ(64, ip[7]);
		EXPECT_EQ(0, memcmp(ip + 8, us->addr, 16));
		EXPECT_EQ(0, memcmp(ip + 24, next->addr, 16));
	}
	udp = ip + iph;
	EXPECT_EQ(MAQ_PORT, udp[0] << 8 | udp[1]);
	EXPECT_EQ(next->port, udp[2] << 8 | udp[3]);
	EXPECT_EQ(ulen, udp[4] << 8 | udp[5]);
	memcpy(tmp, udp, ulen);
	tmp[6] = tmp[7] = 0;
	c = udp_csum(next->family, v4 ? ip + 12 : ip + 8, v4 ? ip + 16 : ip + 24,
		     tmp, ulen);
	EXPECT_EQ(c, udp[6] << 8 | udp[7]);
	EXPECT_EQ(0, memcmp(udp + UDP_HLEN, cell, MAQ_CELL_SIZE))
		TH_LOG("outgoing cell differs from layer.h");
}

/* PASS with the frame exactly as it came. */
static inline void check_untouched(struct __test_metadata *_metadata,
			    const struct xdp_result *r, const __u8 *in,
			    size_t len)
{
	ASSERT_EQ(0, r->err);
	EXPECT_STREQ("PASS", xdp_name(r->verdict));
	EXPECT_EQ(len, r->len);
	EXPECT_EQ(0, memcmp(in, r->data, len));
}

#endif /* _MAQ_XDP_CHECK_H */
