// SPDX-License-Identifier: GPL-2.0
/*
 * Test hook: a tampering relay (tests/kmod/mesh.d/heal.sh).  On tc egress
 * of a relay's underlay interface, flip one bit in the body of every
 * maquis data cell it sends (UDP port 7720 either end, cid not 0), forward
 * and backward alike; link control cells (cid 0) pass, so the relay still
 * takes part in setup and gossip.  The next honest hop drops what it
 * forwards (bad tag), the origin what it sends back.
 *
 * The UDP checksum is patched with bpf_l4_csum_replace(): the receiver
 * must see a cell that fails maquis's tag, not a datagram the stack drops.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define MAQ_PORT	7720
#define CELL_SIZE	1436
/* a body byte, at an even offset from the UDP header for the checksum */
#define FLIP_OFF	100

/* cells flipped, for the test to see the hook at work */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} flipped SEC(".maps");

SEC("tc")
int tamper(struct __sk_buff *skb)
{
	__u32 l4 = ETH_HLEN, csum_off, cid, key = 0;
	struct udphdr udp;
	__u16 old, new;
	__u64 *n;
	__u8 proto;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, l4, &ip, sizeof(ip)))
			return TC_ACT_OK;
		if (ip.frag_off & bpf_htons(0x3fff))
			return TC_ACT_OK;
		proto = ip.protocol;
		l4 += ip.ihl * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, l4, &ip6, sizeof(ip6)))
			return TC_ACT_OK;
		proto = ip6.nexthdr;
		l4 += sizeof(ip6);
	} else {
		return TC_ACT_OK;
	}
	if (proto != IPPROTO_UDP ||
	    bpf_skb_load_bytes(skb, l4, &udp, sizeof(udp)))
		return TC_ACT_OK;
	if ((udp.source != bpf_htons(MAQ_PORT) &&
	     udp.dest != bpf_htons(MAQ_PORT)) ||
	    udp.len != bpf_htons(sizeof(udp) + CELL_SIZE))
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, l4 + sizeof(udp), &cid, sizeof(cid)) ||
	    !cid)
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, l4 + sizeof(udp) + FLIP_OFF, &old,
			       sizeof(old)))
		return TC_ACT_OK;
	new = old ^ bpf_htons(0x0100);
	csum_off = l4 + __builtin_offsetof(struct udphdr, check);
	if (bpf_skb_store_bytes(skb, l4 + sizeof(udp) + FLIP_OFF, &new,
				sizeof(new), 0))
		return TC_ACT_OK;
	bpf_l4_csum_replace(skb, csum_off, old, new,
			    sizeof(new) | BPF_F_MARK_MANGLED_0);
	n = bpf_map_lookup_elem(&flipped, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
