/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Frame parsing, FIB lookup and outer header construction shared by the XDP
 * programs.  The header structs are our own, not vmlinux.h's: they are wire
 * formats, and plain structs keep CO-RE relocations and bitfields out of the
 * packet path.  None is packed (each is naturally aligned without holes):
 * clang lowers packed field accesses to single bytes.
 *
 * The includer provides vmlinux.h, bpf_helpers.h, bpf_endian.h and
 * maquis_common.h.
 */
#ifndef _MAQ_XDP_PKT_BPF_H
#define _MAQ_XDP_PKT_BPF_H

#define MAQ_ETH_P_IP		0x0800
#define MAQ_ETH_P_IPV6		0x86dd
#define MAQ_IPPROTO_UDP		17
#define MAQ_IP_DF		0x4000
#define MAQ_IP_MF_OFFSET	0x3fff
#define MAQ_TTL			64

struct maq_eth {
	__u8 dst[6];
	__u8 src[6];
	__be16 proto;
};

struct maq_ip4 {
	__u8 vihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag;
	__u8 ttl;
	__u8 proto;
	__u16 csum;
	__be32 saddr;
	__be32 daddr;
};

struct maq_ip6 {
	__be32 vtcfl;
	__be16 plen;
	__u8 nh;
	__u8 hlim;
	__be32 saddr[4];
	__be32 daddr[4];
};

struct maq_udp {
	__be16 sport;
	__be16 dport;
	__be16 len;
	__u16 csum;
};

#define MAQ_HLEN4	(sizeof(struct maq_eth) + sizeof(struct maq_ip4) + \
			 sizeof(struct maq_udp))		/* 42 */
#define MAQ_HLEN6	(sizeof(struct maq_eth) + sizeof(struct maq_ip6) + \
			 sizeof(struct maq_udp))		/* 62 */

/*
 * Outer headers as built on the stack: two bytes in front of the Ethernet
 * header put the IP header on a 4-byte boundary; they are not sent.
 */
struct maq_hdr4 {
	__u16 align;
	struct maq_eth eth;
	struct maq_ip4 ip;
	struct maq_udp udp;
};

struct maq_hdr6 {
	__u16 align;
	struct maq_eth eth;
	struct maq_ip6 ip;
	struct maq_udp udp;
};

/* What maq_parse() found. */
enum {
	MAQ_PARSE_PASS,		/* not a cell the fast path handles */
	MAQ_PARSE_MALFORMED,	/* UDP to our port, lengths disagree with a cell */
	MAQ_PARSE_CELL,
};

struct maq_pkt {
	__u32 hlen;		/* bytes in front of the cell */
	__u32 flen;		/* frame length, fragments included */
	__u8 family;
};

/*
 * The fast path takes exactly one shape: Ethernet, IPv4 without options and
 * not fragmented, or IPv6 with UDP as the first next header, then UDP to
 * @port.  Anything else (VLAN tags, options, extension headers, fragments,
 * other ports) is somebody else's business and passes.  A datagram of that
 * shape to our port is a cell only if IP length, UDP length and frame length
 * all say MAQ_CELL_SIZE: every maquis datagram is that size (PROTOCOL 1), so
 * anything else is malformed and dropped here, where it is cheapest.
 */
static __always_inline int maq_parse(struct xdp_md *ctx, __be16 port,
				     struct maq_pkt *pk)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct maq_eth *eth = data;
	struct maq_udp *udp;
	__u32 iplen;

	if ((void *)(eth + 1) > end)
		return MAQ_PARSE_PASS;
	pk->flen = bpf_xdp_get_buff_len(ctx);

	if (eth->proto == bpf_htons(MAQ_ETH_P_IP)) {
		struct maq_ip4 *ip = (void *)(eth + 1);

		udp = (void *)(ip + 1);
		if ((void *)(udp + 1) > end)
			return MAQ_PARSE_PASS;
		if (ip->vihl != 0x45 || ip->proto != MAQ_IPPROTO_UDP ||
		    (ip->frag & bpf_htons(MAQ_IP_MF_OFFSET)) ||
		    udp->dport != port)
			return MAQ_PARSE_PASS;
		pk->family = MAQ_AF_INET;
		pk->hlen = MAQ_HLEN4;
		iplen = bpf_ntohs(ip->tot_len);
		if (iplen != sizeof(*ip) + sizeof(*udp) + MAQ_CELL_SIZE)
			return MAQ_PARSE_MALFORMED;
	} else if (eth->proto == bpf_htons(MAQ_ETH_P_IPV6)) {
		struct maq_ip6 *ip6 = (void *)(eth + 1);

		udp = (void *)(ip6 + 1);
		if ((void *)(udp + 1) > end)
			return MAQ_PARSE_PASS;
		if ((ip6->vtcfl & bpf_htonl(0xf0000000)) != bpf_htonl(0x60000000) ||
		    ip6->nh != MAQ_IPPROTO_UDP || udp->dport != port)
			return MAQ_PARSE_PASS;
		pk->family = MAQ_AF_INET6;
		pk->hlen = MAQ_HLEN6;
		iplen = bpf_ntohs(ip6->plen);
		if (iplen != sizeof(*udp) + MAQ_CELL_SIZE)
			return MAQ_PARSE_MALFORMED;
	} else {
		return MAQ_PARSE_PASS;
	}
	if (bpf_ntohs(udp->len) != sizeof(*udp) + MAQ_CELL_SIZE ||
	    pk->flen != pk->hlen + MAQ_CELL_SIZE)
		return MAQ_PARSE_MALFORMED;
	return MAQ_PARSE_CELL;
}

/*
 * Route to @to: egress ifindex, MACs and our source address for it (struct
 * maq_xdp_config says which device asks).  Only success counts; everything
 * else (no route, no neighbour entry yet, blackhole, needs fragmentation,
 * forwarding off) is left to the stack, which resolves neighbours and
 * reports errors, so the next cells find a complete entry.
 */
static __always_inline int maq_route(struct xdp_md *ctx,
				     const struct maq_xdp_config *cfg,
				     const struct maq_underlay *to,
				     struct bpf_fib_lookup *fib)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->l4_protocol = MAQ_IPPROTO_UDP;
	fib->sport = cfg->port;
	fib->dport = to->port;
	fib->ifindex = cfg->fib_ifindex ?: ctx->ingress_ifindex;
	if (to->family == MAQ_AF_INET) {
		fib->family = MAQ_AF_INET;
		fib->tot_len = sizeof(struct maq_ip4) + sizeof(struct maq_udp) +
			       MAQ_CELL_SIZE;
		fib->ipv4_dst = to->addr.v4;
	} else if (to->family == MAQ_AF_INET6) {
		fib->family = MAQ_AF_INET6;
		fib->tot_len = sizeof(struct maq_ip6) + sizeof(struct maq_udp) +
			       MAQ_CELL_SIZE;
		fib->ipv6_dst[0] = to->addr.v6[0];
		fib->ipv6_dst[1] = to->addr.v6[1];
		fib->ipv6_dst[2] = to->addr.v6[2];
		fib->ipv6_dst[3] = to->addr.v6[3];
	} else {
		return -1;
	}
	if (bpf_fib_lookup(ctx, fib, sizeof(*fib), BPF_FIB_LOOKUP_SRC) !=
	    BPF_FIB_LKUP_RET_SUCCESS)
		return -1;
	return 0;
}

static __always_inline __u16 maq_csum_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* One's complement sum of @n 16-bit words, as loaded (network order). */
static __always_inline __u64 maq_csum_words(const void *p, int n)
{
	const __u16 *w = p;
	__u64 sum = 0;
	int i;

	for (i = 0; i < n; i++)
		sum += w[i];
	return sum;
}

/*
 * Write the outer headers of a datagram from us to @to in front of the cell
 * the frame holds at MAQ_HLEN4 or MAQ_HLEN6 (by @to's family), as the
 * module's UDP socket would send it: source is the FIB's preferred source
 * address and @sport, TTL 64, no DSCP, DF set, and a real UDP checksum in
 * both families, completed from @sum, the one's complement sum of the cell
 * (bpf_csum_diff(), csum_partial()).  @hdr: 64 bytes of scratch space.
 */
static __always_inline int maq_put_outer(struct xdp_md *ctx, void *hdr,
					 const struct maq_underlay *to,
					 __be16 sport,
					 const struct bpf_fib_lookup *fib,
					 __u64 sum)
{
	const __u16 ulen = sizeof(struct maq_udp) + MAQ_CELL_SIZE;
	struct maq_hdr4 *p4 = hdr;
	struct maq_hdr6 *p6 = hdr;

	/* pseudo header length and protocol, and the UDP header itself */
	sum += bpf_htons(MAQ_IPPROTO_UDP) + bpf_htons(ulen) + bpf_htons(ulen);
	sum += sport + to->port;

	__builtin_memset(hdr, 0, sizeof(struct maq_hdr6));
	if (to->family == MAQ_AF_INET) {
		__builtin_memcpy(p4->eth.dst, fib->dmac, 6);
		__builtin_memcpy(p4->eth.src, fib->smac, 6);
		p4->eth.proto = bpf_htons(MAQ_ETH_P_IP);
		p4->ip.vihl = 0x45;
		p4->ip.tot_len = bpf_htons(sizeof(p4->ip) + ulen);
		p4->ip.frag = bpf_htons(MAQ_IP_DF);
		p4->ip.ttl = MAQ_TTL;
		p4->ip.proto = MAQ_IPPROTO_UDP;
		p4->ip.saddr = fib->ipv4_src;
		p4->ip.daddr = to->addr.v4;
		p4->ip.csum = maq_csum_fold(maq_csum_words(&p4->ip, 10));
		p4->udp.sport = sport;
		p4->udp.dport = to->port;
		p4->udp.len = bpf_htons(ulen);
		sum += maq_csum_words(&p4->ip.saddr, 4);
		p4->udp.csum = maq_csum_fold(sum) ?: 0xffff;
		return bpf_xdp_store_bytes(ctx, 0, &p4->eth, MAQ_HLEN4) ? -1 : 0;
	}

	__builtin_memcpy(p6->eth.dst, fib->dmac, 6);
	__builtin_memcpy(p6->eth.src, fib->smac, 6);
	p6->eth.proto = bpf_htons(MAQ_ETH_P_IPV6);
	p6->ip.vtcfl = bpf_htonl(0x60000000);
	p6->ip.plen = bpf_htons(ulen);
	p6->ip.nh = MAQ_IPPROTO_UDP;
	p6->ip.hlim = MAQ_TTL;
	__builtin_memcpy(p6->ip.saddr, fib->ipv6_src, 16);
	__builtin_memcpy(p6->ip.daddr, to->addr.v6, 16);
	p6->udp.sport = sport;
	p6->udp.dport = to->port;
	p6->udp.len = bpf_htons(ulen);
	sum += maq_csum_words(p6->ip.saddr, 16);
	p6->udp.csum = maq_csum_fold(sum) ?: 0xffff;
	return bpf_xdp_store_bytes(ctx, 0, &p6->eth, MAQ_HLEN6) ? -1 : 0;
}

/* Transmit on the ingress device, or redirect to the FIB's egress. */
static __always_inline int maq_xmit(struct xdp_md *ctx, __u32 ifindex,
				    void *devmap)
{
	long rc;

	if (ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	rc = bpf_redirect_map(devmap, ifindex, XDP_PASS);
	if (rc == XDP_PASS)
		rc = bpf_redirect(ifindex, 0);
	return rc;
}

#endif /* _MAQ_XDP_PKT_BPF_H */
