/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * The maquis layer transform and onion construction, written once for the
 * kernel module and userspace (daemon, tests).  docs/PROTOCOL.md, "Layer
 * transform" and "Onion", is the specification; this is its only C rendering
 * outside BPF (which cannot take plain pointers into packets and mirrors the
 * relay half in bpf/, tested byte for byte against this file).
 *
 * The includer provides, before including this file:
 *
 *   u8/u32/u64 and size_t
 *   void maq_chacha20(u8 *dst, const u8 *src, size_t len,
 *                     const u8 key[MAQ_KEY_LEN], u64 nonce, u32 counter);
 *	IETF ChaCha20 (RFC 8439), 96-bit nonce = 4 zero bytes || le64(nonce),
 *	starting at block @counter; dst may equal src.
 *   void maq_poly1305_aead(u8 tag[MAQ_TAG_LEN], const u8 *ct, size_t len,
 *                          const u8 otk[32]);
 *	the RFC 8439 AEAD tag without associated data, @len a multiple of
 *	16: Poly1305(otk, ct || le64(0) || le64(len)).
 *   void maq_poly1305_aead_ad(u8 tag[MAQ_TAG_LEN], const u8 *ad,
 *                             size_t adlen, const u8 *ct, size_t len,
 *                             const u8 otk[32]);
 *	the general RFC 8439 AEAD tag: Poly1305(otk, ad || pad16 || ct ||
 *	pad16 || le64(adlen) || le64(len)), for the end-to-end layer.
 *   int maq_tag_equal(const u8 *a, const u8 *b);
 *	constant-time comparison of two 16-byte tags, true when equal.
 *   void maq_wipe(void *p, size_t len);
 *	memzero_explicit / sodium_memzero.
 *
 * All lengths of the onion are compile-time constants, multiples of 64, so
 * there is no partial block or padding case there; only the end-to-end
 * layer, at the end, seals packets of any length.
 */
#ifndef _MAQUIS_LAYER_H
#define _MAQUIS_LAYER_H

#include "wire.h"

/* One hop's view of a cell, as the origin holds it. */
struct maq_hop_key {
	u8 key[MAQ_KEY_LEN];
	u64 seq;		/* the nonce this hop sees for this cell */
};

/* RFC 8439 AEAD tag with empty associated data over a whole body. */
static inline void maq_layer_tag(u8 tag[MAQ_TAG_LEN], const u8 *body,
				 const u8 otk[32])
{
	maq_poly1305_aead(tag, body, MAQ_BODY_LEN, otk);
}

/* Block 0 of (key, seq): Poly1305 key in bytes 0..31, filler in 32..47. */
static inline void maq_layer_block0(u8 out[64], const u8 key[MAQ_KEY_LEN],
				    u64 seq)
{
	int i;

	for (i = 0; i < 64; i++)
		out[i] = 0;
	maq_chacha20(out, out, 64, key, seq, 0);
}

/*
 * Encrypt @body in place and write its tag: exactly
 * crypto_aead_chacha20poly1305_ietf_encrypt_detached() with no AD.
 */
static inline void maq_layer_seal(u8 *body, u8 tag[MAQ_TAG_LEN],
				  const u8 key[MAQ_KEY_LEN], u64 seq)
{
	u8 b0[64];

	maq_layer_block0(b0, key, seq);
	maq_chacha20(body, body, MAQ_BODY_LEN, key, seq, 1);
	maq_layer_tag(tag, body, b0);
	maq_wipe(b0, sizeof(b0));
}

/*
 * Verify @tag over @body and decrypt it in place.  On success the filler a
 * forward relay must prepend is left in @filler (may be NULL).  On failure
 * @body is untouched.  Returns 0 or -1.
 */
static inline int maq_layer_open(u8 *body, const u8 tag[MAQ_TAG_LEN],
				 const u8 key[MAQ_KEY_LEN], u64 seq,
				 u8 filler[MAQ_SHIFT])
{
	u8 b0[64], want[MAQ_TAG_LEN];
	int i, ok;

	maq_layer_block0(b0, key, seq);
	maq_layer_tag(want, body, b0);
	ok = maq_tag_equal(want, tag);
	if (ok) {
		maq_chacha20(body, body, MAQ_BODY_LEN, key, seq, 1);
		if (filler)
			for (i = 0; i < MAQ_SHIFT; i++)
				filler[i] = b0[MAQ_FILLER_OFF + i];
	}
	maq_wipe(b0, sizeof(b0));
	return ok ? 0 : -1;
}

/*
 * Origin, forward direction.
 *
 * @buf holds MAQ_PAD_LEN + MAQ_BODY_LEN + MAQ_TAG_LEN bytes.  On entry
 * buf[0 .. MAQ_BODY_LEN) is the innermost plaintext (payload from
 * MAQ_PAYLOAD_OFF on).  On return the cell body and tag for hop 1 start at
 * maq_onion_fwd_off(n).
 *
 * Hop i strips its layer and prepends filler F_i, so the first 16*(n-1)
 * bytes hop n decrypts are fixed by the fillers of hops 1..n-1.  We compute
 * them forward (G), then seal from the innermost layer out, each layer 16
 * bytes further into @buf.
 */
static inline size_t maq_onion_fwd_off(int n)
{
	return (size_t)MAQ_SHIFT * (n - 1);
}

static inline void maq_onion_seal(u8 *buf, const struct maq_hop_key *hops,
				  int n)
{
	u8 g[MAQ_PAD_LEN], ks[MAQ_PAD_LEN], b0[64];
	int i, k, glen = 0;
	size_t off;

	/* G_1 is empty; G_{k+1} = F_k || (G_k ^ KS_k[0 .. 16(k-1))). */
	for (k = 0; k < n - 1; k++) {
		maq_layer_block0(b0, hops[k].key, hops[k].seq);
		for (i = 0; i < glen; i++)
			ks[i] = 0;
		maq_chacha20(ks, ks, glen, hops[k].key, hops[k].seq, 1);
		for (i = glen - 1; i >= 0; i--)
			g[i + MAQ_SHIFT] = g[i] ^ ks[i];
		for (i = 0; i < MAQ_SHIFT; i++)
			g[i] = b0[MAQ_FILLER_OFF + i];
		glen += MAQ_SHIFT;
	}

	for (k = n - 1; k >= 0; k--) {
		off = (size_t)MAQ_SHIFT * (n - 1 - k);
		maq_chacha20(buf + off, buf + off, MAQ_BODY_LEN,
			     hops[k].key, hops[k].seq, 1);
		if (k == n - 1)
			for (i = 0; i < glen; i++)
				buf[i] = g[i];
		maq_layer_block0(b0, hops[k].key, hops[k].seq);
		maq_layer_tag(buf + off + MAQ_BODY_LEN, buf + off, b0);
	}
	maq_wipe(b0, sizeof(b0));
	maq_wipe(ks, sizeof(ks));
	maq_wipe(g, sizeof(g));
}

/*
 * Origin, backward direction.
 *
 * @buf as above; on entry the received body and tag sit at
 * maq_onion_fwd_off(n).  Peels hops 1..@src (the hop that created the cell:
 * n for the terminus; a relay sending control uses its control key, passed
 * in hops[src-1]).  On success the innermost plaintext is buf[0 ..
 * MAQ_BODY_LEN) and 0 is returned; otherwise -(hop number that failed).
 * That is the first layer whose tag failed, not necessarily where the cell
 * was damaged (layer 2's rebuilt prefix depends on every later hop), and
 * @buf is then partly decrypted: to try another @src, start again from the
 * received cell.
 *
 * A backward relay drops the first 16 bytes of what it received.  Those
 * bytes are keystream only (the creator's first MAQ_PAD_LEN plaintext bytes
 * are zero), so C_k[0..16) = XOR over j = k..src of KS_j[16(j-k) .. +16).
 */
static inline int maq_onion_open(u8 *buf, const struct maq_hop_key *hops,
				 int n, int src)
{
	u8 ks[MAQ_PAD_LEN + MAQ_SHIFT];
	int i, j, k;
	size_t off;

	for (k = 0; k < src; k++) {
		off = (size_t)MAQ_SHIFT * (n - 1 - k);
		if (k > 0) {
			/* rebuild the 16 bytes hop k (0-based) dropped */
			for (i = 0; i < MAQ_SHIFT; i++)
				buf[off + i] = 0;
			for (j = k; j < src; j++) {
				int at = MAQ_SHIFT * (j - k);

				for (i = 0; i < at + MAQ_SHIFT; i++)
					ks[i] = 0;
				maq_chacha20(ks, ks, at + MAQ_SHIFT,
					     hops[j].key, hops[j].seq, 1);
				for (i = 0; i < MAQ_SHIFT; i++)
					buf[off + i] ^= ks[at + i];
			}
		}
		if (maq_layer_open(buf + off, buf + off + MAQ_BODY_LEN,
				   hops[k].key, hops[k].seq, NULL)) {
			maq_wipe(ks, sizeof(ks));
			return -(k + 1);
		}
	}
	/* The innermost plaintext must start at buf[0]: move it if src < n. */
	off = (size_t)MAQ_SHIFT * (n - src);
	if (off)
		for (i = 0; i < MAQ_BODY_LEN; i++)
			buf[i] = buf[off + i];
	maq_wipe(ks, sizeof(ks));
	return 0;
}

/*
 * Relay transforms on a contiguous cell (header, body, tag).  The caller has
 * looked up the circuit, checked the replay window before and updates it
 * after a successful maq_relay_fwd().  Both return where the outgoing cell
 * now starts: 16 bytes earlier (forward, needs that headroom) or later
 * (backward, needs 16 bytes of tailroom); the forward one returns NULL when
 * the tag does not verify, leaving the cell untouched.
 */
static inline void maq_cell_put_hdr(u8 *cell, u32 cid, u64 seq)
{
	int i;

	for (i = 0; i < 4; i++)
		cell[i] = (u8)(cid >> (24 - 8 * i));
	for (i = 0; i < 8; i++)
		cell[4 + i] = (u8)(seq >> (56 - 8 * i));
}

static inline u64 maq_seq_next(u64 seq, u64 delta)
{
	return (seq & MAQ_SEQ_PHASE) | ((seq + delta) & MAQ_SEQ_CTR_MASK);
}

static inline u8 *maq_relay_fwd(u8 *cell, const u8 key[MAQ_KEY_LEN],
				u64 seq, u32 cid_out, u64 delta)
{
	u8 filler[MAQ_SHIFT];
	u8 *out = cell - MAQ_SHIFT;
	int i;

	if (maq_layer_open(cell + MAQ_HDR_LEN, cell + MAQ_HDR_LEN + MAQ_BODY_LEN,
			   key, seq & MAQ_SEQ_CTR_MASK, filler))
		return NULL;
	/* out: header, then filler, then the plaintext whose last 16 bytes
	 * already sit where the outgoing tag belongs.
	 */
	maq_cell_put_hdr(out, cid_out, maq_seq_next(seq, delta));
	for (i = 0; i < MAQ_SHIFT; i++)
		out[MAQ_HDR_LEN + i] = filler[i];
	maq_wipe(filler, sizeof(filler));
	return out;
}

static inline u8 *maq_relay_back(u8 *cell, const u8 key[MAQ_KEY_LEN],
				 u32 cid_out, u64 seq_out)
{
	u8 *out = cell + MAQ_SHIFT;

	maq_layer_seal(out + MAQ_HDR_LEN, out + MAQ_HDR_LEN + MAQ_BODY_LEN,
		       key, seq_out & MAQ_SEQ_CTR_MASK);
	maq_cell_put_hdr(out, cid_out, seq_out);
	return out;
}

/*
 * End-to-end layer (PROTOCOL 9, "End-to-end layer"): an origin with
 * e2e keys seals each packet it sends to the far origin of a rendezvous
 * inside the innermost plaintext, so the rendezvous relay, which opens the
 * last onion layer, reads nothing.  @inner is where the inner header goes
 * (MAQ_PAYLOAD_OFF into the innermost plaintext), MAQ_INNER_MTU bytes
 * follow it:
 *
 *   0      1       2        4            12             12+len    28+len
 *   +------+-------+--------+------------+----------------+---------+
 *   | 1    | E2E   | be16   | be64 ctr   | ChaCha20(pkt)  | tag     |
 *   +------+-------+--------+------------+----------------+---------+
 *    type   flags   len = len(pkt) + 24
 *
 * That is the IETF ChaCha20-Poly1305 AEAD of the packet under the sender's
 * send key, nonce 4 zero bytes || le64(ctr), associated data the 12 bytes
 * before the ciphertext.  The counter starts at 0 for each key and never
 * repeats; the receiver keeps a replay window of its own on it.
 */
#define MAQ_INNER_F_E2E		0x01
#define MAQ_E2E_CTR_LEN		8
#define MAQ_E2E_AD_LEN		(MAQ_INNER_HDR_LEN + MAQ_E2E_CTR_LEN)	/* 12 */
#define MAQ_E2E_OVERHEAD	(MAQ_E2E_CTR_LEN + MAQ_TAG_LEN)		/* 24 */
#define MAQ_E2E_MTU		(MAQ_INNER_MTU - MAQ_E2E_OVERHEAD)	/* 1268 */

/* Seal the @len-byte packet already at @inner + MAQ_E2E_AD_LEN in place. */
static inline void maq_e2e_seal(u8 *inner, size_t len,
				const u8 key[MAQ_KEY_LEN], u64 ctr)
{
	size_t total = len + MAQ_E2E_OVERHEAD;
	u8 *ct = inner + MAQ_E2E_AD_LEN;
	u8 b0[64];
	int i;

	inner[0] = MAQ_INNER_IP;
	inner[1] = MAQ_INNER_F_E2E;
	inner[2] = (u8)(total >> 8);
	inner[3] = (u8)total;
	for (i = 0; i < 8; i++)
		inner[MAQ_INNER_HDR_LEN + i] = (u8)(ctr >> (56 - 8 * i));
	maq_layer_block0(b0, key, ctr);
	maq_chacha20(ct, ct, len, key, ctr, 1);
	maq_poly1305_aead_ad(ct + len, inner, MAQ_E2E_AD_LEN, ct, len, b0);
	maq_wipe(b0, sizeof(b0));
}

/*
 * The counter and packet length of the sealed payload at @inner (its
 * header says E2E); -1 when the length cannot be one, before any crypto,
 * so the receiver can check its replay window first.
 */
static inline int maq_e2e_parse(const u8 *inner, u64 *ctr, size_t *len)
{
	size_t total = (size_t)inner[2] << 8 | inner[3];
	int i;

	if (total < MAQ_E2E_OVERHEAD || total > MAQ_INNER_MTU)
		return -1;
	*len = total - MAQ_E2E_OVERHEAD;
	*ctr = 0;
	for (i = 0; i < 8; i++)
		*ctr = *ctr << 8 | inner[MAQ_INNER_HDR_LEN + i];
	return 0;
}

/*
 * Verify and decrypt what maq_e2e_parse() found: the packet is then at
 * @inner + MAQ_E2E_AD_LEN.  On failure (-1) @inner is untouched.
 */
static inline int maq_e2e_open(u8 *inner, size_t len,
			       const u8 key[MAQ_KEY_LEN], u64 ctr)
{
	u8 *ct = inner + MAQ_E2E_AD_LEN;
	u8 b0[64], want[MAQ_TAG_LEN];
	int ok;

	maq_layer_block0(b0, key, ctr);
	maq_poly1305_aead_ad(want, inner, MAQ_E2E_AD_LEN, ct, len, b0);
	ok = maq_tag_equal(want, ct + len);
	if (ok)
		maq_chacha20(ct, ct, len, key, ctr, 1);
	maq_wipe(b0, sizeof(b0));
	return ok ? 0 : -1;
}

#endif /* _MAQUIS_LAYER_H */
