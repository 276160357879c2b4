/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * maquis wire format: the one definition of a cell, shared by the kernel
 * module, the BPF programs, the daemon and the tests.  docs/PROTOCOL.md is the
 * prose for every constant here; change both together.
 *
 * A cell is the whole UDP payload and always MAQ_CELL_SIZE bytes long:
 *
 *   0      4              12                                1420      1436
 *   +------+--------------+-----------------------------------+---------+
 *   | cid  | seq (phase|n)|  body: MAQ_BODY_LEN bytes          |  tag    |
 *   +------+--------------+-----------------------------------+---------+
 *
 * cid 0 marks a link control cell (setup, gossip); the seq field then holds a
 * struct maq_ctl_hdr.  Every other cid names a circuit on one link.
 */
#ifndef _MAQUIS_WIRE_H
#define _MAQUIS_WIRE_H

#ifdef __KERNEL__
#include <linux/types.h>
#elif defined(__BPF__)
/* BPF objects include vmlinux.h or linux/types.h before this header. */
#else
#include <linux/types.h>
#endif

#define MAQ_DEFAULT_PORT	7720

#define MAQ_CID_LEN		4
#define MAQ_SEQ_LEN		8
#define MAQ_HDR_LEN		(MAQ_CID_LEN + MAQ_SEQ_LEN)	/* 12 */
#define MAQ_TAG_LEN		16
#define MAQ_KEY_LEN		32
/* 22 ChaCha20 blocks: no partial block anywhere, which BPF appreciates. */
#define MAQ_BODY_LEN		1408
#define MAQ_CELL_SIZE		(MAQ_HDR_LEN + MAQ_BODY_LEN + MAQ_TAG_LEN) /* 1436 */

/* Every hop shifts the body by one tag; this bounds circuit length. */
#define MAQ_MAX_HOPS		8
#define MAQ_SHIFT		MAQ_TAG_LEN
#define MAQ_PAD_LEN		(MAQ_SHIFT * (MAQ_MAX_HOPS - 1))	/* 112 */

/* The terminus finds the payload at the end of the innermost plaintext. */
#define MAQ_PAYLOAD_OFF		MAQ_PAD_LEN
#define MAQ_PAYLOAD_LEN		(MAQ_BODY_LEN - MAQ_PAD_LEN)		/* 1296 */
#define MAQ_INNER_HDR_LEN	4
#define MAQ_INNER_MTU		(MAQ_PAYLOAD_LEN - MAQ_INNER_HDR_LEN)	/* 1292 */

/* seq: bit 63 is the key phase, bits 0..62 the per-hop cell counter. */
#define MAQ_SEQ_PHASE		(1ULL << 63)
#define MAQ_SEQ_CTR_MASK	(MAQ_SEQ_PHASE - 1)

/* The ChaCha20 block at counter 0 yields the Poly1305 key (bytes 0..31) and
 * the filler a forward relay prepends (bytes 32..47).
 */
#define MAQ_FILLER_OFF		32

struct maq_cell_hdr {
	__be32 cid;
	__be64 seq;
} __attribute__((packed));

/* Inner header at MAQ_PAYLOAD_OFF of the innermost plaintext. */
enum maq_inner_type {
	MAQ_INNER_PAD = 0,	/* cover traffic, dropped by the terminus */
	MAQ_INNER_IP = 1,	/* an IPv4 or IPv6 packet for maq0 */
	MAQ_INNER_KEEPALIVE = 2,/* end-to-end liveness, to the daemon */
	MAQ_INNER_CTL = 3,	/* end-to-end control, to the daemon */
};

struct maq_inner_hdr {
	__u8 type;
	__u8 flags;
	__be16 len;
} __attribute__((packed));

/* Link control cells (cid == 0): the seq field is reinterpreted. */
enum maq_ctl_type {
	MAQ_CTL_CREATE = 1,
	MAQ_CTL_CREATED = 2,
	MAQ_CTL_GOSSIP = 3,
};

#define MAQ_CTL_VERSION		1

struct maq_ctl_hdr {
	__be32 cid;		/* always 0 */
	__u8 type;		/* enum maq_ctl_type */
	__u8 version;		/* MAQ_CTL_VERSION */
	__be16 reserved;
	__be32 handle;		/* sender-chosen, pairs CREATE with CREATED */
} __attribute__((packed));

#endif /* _MAQUIS_WIRE_H */
