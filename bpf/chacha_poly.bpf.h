/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ChaCha20 and Poly1305 (RFC 8439) for XDP, the BPF mirror of what layer.h
 * gets from the kernel crypto library or libsodium.
 *
 * BPF cannot hand packet pointers around, and a 1408-byte body does not fit
 * the 512-byte stack, so everything works on one per-CPU scratch value: the
 * program copies the cell in with bpf_xdp_load_bytes(), transforms it there
 * and copies it out.  The heavy parts are global (non-static, noinline)
 * subprograms: the verifier checks each once, with scalar arguments, instead
 * of once per call site, which keeps the relay far below the complexity
 * limit.  They find the scratch value themselves; XDP runs with migration
 * disabled, so it is the same per-CPU value the caller filled.
 *
 * Lengths are multiples of 64 in the relay, so the block loops have no tail;
 * only the raw Poly1305 MAC (tests) handles a partial final block.
 *
 * The includer provides vmlinux.h, bpf_helpers.h and maquis_common.h.
 */
#ifndef _MAQ_CHACHA_POLY_BPF_H
#define _MAQ_CHACHA_POLY_BPF_H

/*
 * Scratch layout: the body always sits at MAQ_BODY_OFF (8-aligned) and its
 * tag at MAQ_TAG_OFF, whichever way the cell moves:
 *
 *   forward in:  cell at 20 (header 20..32, body 32..1440, tag 1440..1456)
 *   forward out: cell at 4  (header 4..16, filler 16..32, plaintext 32..1440)
 *   backward in: cell at 4  (header 4..16, dropped 16..32, rest 32..1440)
 *   backward out: cell at 20 (header 20..32, body 32..1440, tag 1440..1456)
 */
#define MAQ_BODY_OFF		32
#define MAQ_TAG_OFF		(MAQ_BODY_OFF + MAQ_BODY_LEN)		/* 1440 */
#define MAQ_SCRATCH_LEN		1472
#define MAQ_FWD_IN_OFF		(MAQ_BODY_OFF - MAQ_HDR_LEN)		/* 20 */
#define MAQ_FWD_OUT_OFF		(MAQ_FWD_IN_OFF - MAQ_SHIFT)		/* 4 */
#define MAQ_BACK_IN_OFF		MAQ_FWD_OUT_OFF
#define MAQ_BACK_OUT_OFF	MAQ_FWD_IN_OFF

#define MAQ_BODY_BLOCKS		(MAQ_BODY_LEN / 64)			/* 22 */

struct maq_scratch {
	__u8 buf[MAQ_SCRATCH_LEN];
	__u32 st[16];		/* ChaCha20 input; st[12] is set per block */
	__u8 b0[64];		/* last maq_cc_block(): Poly1305 key, filler */
	__u8 tag[MAQ_TAG_LEN];	/* last maq_poly() */
	__u32 ks[16];		/* maq_cc_xor()'s keystream block */
	/*
	 * Room for the callers' big locals: the stack is 512 bytes for the
	 * whole call chain, and a ChaCha20 block alone spills a good part.
	 */
	struct bpf_fib_lookup fib;
	__u8 hdr[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct maq_scratch);
} maq_scratch SEC(".maps");

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define maq_le32(x)	(x)
#define maq_le64(x)	(x)
#else
#define maq_le32(x)	__builtin_bswap32(x)
#define maq_le64(x)	__builtin_bswap64(x)
#endif

static __always_inline struct maq_scratch *maq_scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&maq_scratch, &zero);
}

/* ---- ChaCha20 ----------------------------------------------------------- */

#define MAQ_ROTL32(v, n)	(((v) << (n)) | ((v) >> (32 - (n))))
#define MAQ_QR(a, b, c, d) do {					\
	a += b; d ^= a; d = MAQ_ROTL32(d, 16);			\
	c += d; b ^= c; b = MAQ_ROTL32(b, 12);			\
	a += b; d ^= a; d = MAQ_ROTL32(d, 8);			\
	c += d; b ^= c; b = MAQ_ROTL32(b, 7);			\
} while (0)

/* One block of keystream for block counter @ctr, as little-endian words. */
static __always_inline void maq_chacha_core(const __u32 *in, __u32 ctr,
					    __u32 *out)
{
	__u32 x0 = in[0], x1 = in[1], x2 = in[2], x3 = in[3];
	__u32 x4 = in[4], x5 = in[5], x6 = in[6], x7 = in[7];
	__u32 x8 = in[8], x9 = in[9], x10 = in[10], x11 = in[11];
	__u32 x12 = ctr, x13 = in[13], x14 = in[14], x15 = in[15];
	int i;

	for (i = 0; i < 10; i++) {
		MAQ_QR(x0, x4, x8, x12);
		MAQ_QR(x1, x5, x9, x13);
		MAQ_QR(x2, x6, x10, x14);
		MAQ_QR(x3, x7, x11, x15);
		MAQ_QR(x0, x5, x10, x15);
		MAQ_QR(x1, x6, x11, x12);
		MAQ_QR(x2, x7, x8, x13);
		MAQ_QR(x3, x4, x9, x14);
	}
	out[0] = maq_le32(x0 + in[0]);
	out[1] = maq_le32(x1 + in[1]);
	out[2] = maq_le32(x2 + in[2]);
	out[3] = maq_le32(x3 + in[3]);
	out[4] = maq_le32(x4 + in[4]);
	out[5] = maq_le32(x5 + in[5]);
	out[6] = maq_le32(x6 + in[6]);
	out[7] = maq_le32(x7 + in[7]);
	out[8] = maq_le32(x8 + in[8]);
	out[9] = maq_le32(x9 + in[9]);
	out[10] = maq_le32(x10 + in[10]);
	out[11] = maq_le32(x11 + in[11]);
	out[12] = maq_le32(x12 + ctr);
	out[13] = maq_le32(x13 + in[13]);
	out[14] = maq_le32(x14 + in[14]);
	out[15] = maq_le32(x15 + in[15]);
}

/*
 * Load key and nonce: the maquis nonce is 4 zero bytes || le64(@nonce).
 * @key must be 4-byte aligned (map values and stack buffers are).
 */
static __always_inline void maq_chacha_setup(struct maq_scratch *s,
					     const __u8 *key, __u64 nonce)
{
	const __u32 *k = (const __u32 *)key;

	s->st[0] = 0x61707865;
	s->st[1] = 0x3320646e;
	s->st[2] = 0x79622d32;
	s->st[3] = 0x6b206574;
	s->st[4] = maq_le32(k[0]);
	s->st[5] = maq_le32(k[1]);
	s->st[6] = maq_le32(k[2]);
	s->st[7] = maq_le32(k[3]);
	s->st[8] = maq_le32(k[4]);
	s->st[9] = maq_le32(k[5]);
	s->st[10] = maq_le32(k[6]);
	s->st[11] = maq_le32(k[7]);
	s->st[12] = 0;
	s->st[13] = 0;
	s->st[14] = (__u32)nonce;
	s->st[15] = (__u32)(nonce >> 32);
}

/* The one-time key and filler must not outlive the cell. */
static __always_inline void maq_chacha_wipe(struct maq_scratch *s)
{
	__u64 *b0 = (__u64 *)s->b0;
	int i;

	for (i = 4; i < 12; i++)
		s->st[i] = 0;
	for (i = 0; i < 8; i++)
		b0[i] = 0;
}

/* Block @ctr of the loaded key and nonce into s->b0. */
__noinline int maq_cc_block(__u32 ctr)
{
	struct maq_scratch *s = maq_scratch_get();

	if (!s)
		return -1;
	maq_chacha_core(s->st, ctr, (__u32 *)s->b0);
	return 0;
}

/*
 * XOR @nblocks blocks of keystream, from block @ctr, into the body at
 * MAQ_BODY_OFF.  The offset is fixed so that the verifier, walking the loop,
 * knows every access exactly instead of needing bounds on a sum.
 */
#define MAQ_XOR_MAX_BLOCKS	((MAQ_SCRATCH_LEN - MAQ_BODY_OFF) / 64)	/* 22 */

__noinline int maq_cc_xor(__u32 nblocks, __u32 ctr)
{
	struct maq_scratch *s = maq_scratch_get();
	__u64 *p, *ks;
	__u32 i;

	if (!s || nblocks > MAQ_XOR_MAX_BLOCKS)
		return -1;
	p = (__u64 *)(s->buf + MAQ_BODY_OFF);
	ks = (__u64 *)s->ks;
	for (i = 0; i < MAQ_XOR_MAX_BLOCKS; i++, p += 8) {
		if (i >= nblocks)
			break;
		maq_chacha_core(s->st, ctr + i, s->ks);
		p[0] ^= ks[0];
		p[1] ^= ks[1];
		p[2] ^= ks[2];
		p[3] ^= ks[3];
		p[4] ^= ks[4];
		p[5] ^= ks[5];
		p[6] ^= ks[6];
		p[7] ^= ks[7];
	}
	for (i = 0; i < 8; i++)
		ks[i] = 0;
	return 0;
}

/* ---- Poly1305 (26-bit limbs: every product fits 64 bits) -------------- */

#define MAQ_M26		0x3ffffffULL

struct maq_poly {
	__u64 r0, r1, r2, r3, r4, s1, s2, s3, s4;
	__u64 h0, h1, h2, h3, h4;
};

/* Absorb one 16-byte block given as two little-endian words. */
static __always_inline void maq_poly_block(struct maq_poly *p, __u64 t0,
					   __u64 t1, __u64 hibit)
{
	__u64 d0, d1, d2, d3, d4, c;

	p->h0 += t0 & MAQ_M26;
	p->h1 += (t0 >> 26) & MAQ_M26;
	p->h2 += ((t0 >> 52) | (t1 << 12)) & MAQ_M26;
	p->h3 += (t1 >> 14) & MAQ_M26;
	p->h4 += (t1 >> 40) | (hibit << 24);

	d0 = p->h0 * p->r0 + p->h1 * p->s4 + p->h2 * p->s3 +
	     p->h3 * p->s2 + p->h4 * p->s1;
	d1 = p->h0 * p->r1 + p->h1 * p->r0 + p->h2 * p->s4 +
	     p->h3 * p->s3 + p->h4 * p->s2;
	d2 = p->h0 * p->r2 + p->h1 * p->r1 + p->h2 * p->r0 +
	     p->h3 * p->s4 + p->h4 * p->s3;
	d3 = p->h0 * p->r3 + p->h1 * p->r2 + p->h2 * p->r1 +
	     p->h3 * p->r0 + p->h4 * p->s4;
	d4 = p->h0 * p->r4 + p->h1 * p->r3 + p->h2 * p->r2 +
	     p->h3 * p->r1 + p->h4 * p->r0;

	c = d0 >> 26; p->h0 = d0 & MAQ_M26;
	d1 += c; c = d1 >> 26; p->h1 = d1 & MAQ_M26;
	d2 += c; c = d2 >> 26; p->h2 = d2 & MAQ_M26;
	d3 += c; c = d3 >> 26; p->h3 = d3 & MAQ_M26;
	d4 += c; c = d4 >> 26; p->h4 = d4 & MAQ_M26;
	p->h0 += c * 5; c = p->h0 >> 26; p->h0 &= MAQ_M26;
	p->h1 += c;
}

/*
 * Poly1305 with the key in s->b0[0..32) (block 0, or whatever a test put
 * there) over buf[MAQ_BODY_OFF .. MAQ_BODY_OFF + @len), tag into s->tag.
 *
 * @aead: the RFC 8439 AEAD construction without associated data, i.e.
 * zero-pad the message to 16 bytes and append le64(0) || le64(@len);
 * otherwise the plain MAC of section 2.5 (final partial block gets a 0x01
 * byte instead of the high bit).
 */
#define MAQ_POLY_MAX_LEN	(MAQ_SCRATCH_LEN - MAQ_BODY_OFF)	/* 1440 */

__noinline int maq_poly(__u32 len, __u32 aead)
{
	struct maq_scratch *s = maq_scratch_get();
	struct maq_poly p;
	__u64 t0, t1, c, g0, g1, g2, g3, g4, mask, f0, f1, pad0, pad1;
	__u32 i, nfull, rem;
	__u64 *m, *tag;

	if (!s || len > MAQ_POLY_MAX_LEN)
		return -1;

	t0 = maq_le64(*(__u64 *)&s->b0[0]);
	t1 = maq_le64(*(__u64 *)&s->b0[8]);
	/* clamp r */
	t0 &= 0x0ffffffc0fffffffULL;
	t1 &= 0x0ffffffc0ffffffcULL;
	p.r0 = t0 & MAQ_M26;
	p.r1 = (t0 >> 26) & MAQ_M26;
	p.r2 = ((t0 >> 52) | (t1 << 12)) & MAQ_M26;
	p.r3 = (t1 >> 14) & MAQ_M26;
	p.r4 = (t1 >> 40) & MAQ_M26;
	p.s1 = p.r1 * 5;
	p.s2 = p.r2 * 5;
	p.s3 = p.r3 * 5;
	p.s4 = p.r4 * 5;
	p.h0 = p.h1 = p.h2 = p.h3 = p.h4 = 0;
	pad0 = maq_le64(*(__u64 *)&s->b0[16]);
	pad1 = maq_le64(*(__u64 *)&s->b0[24]);

	nfull = len / 16;
	rem = len & 15;
	m = (__u64 *)(s->buf + MAQ_BODY_OFF);
	for (i = 0; i < MAQ_POLY_MAX_LEN / 16; i++, m += 2) {
		if (i >= nfull)
			break;
		maq_poly_block(&p, maq_le64(m[0]), maq_le64(m[1]), 1);
	}
	if (rem) {
		/* Only the raw MAC of the test vectors gets here. */
		__u8 *b = s->buf + MAQ_BODY_OFF;

		/* len < MAQ_POLY_MAX_LEN, said so the verifier sees it */
		if (nfull > MAQ_POLY_MAX_LEN / 16 - 1)
			return -1;
		b += nfull * 16;
		t0 = 0;
		t1 = 0;
		for (i = 0; i < 16; i++) {
			__u64 v;

			if (i < rem)
				v = b[i];
			else if (i == rem && !aead)
				v = 1;
			else
				v = 0;
			if (i < 8)
				t0 |= v << (8 * i);
			else
				t1 |= v << (8 * (i - 8));
		}
		maq_poly_block(&p, t0, t1, aead ? 1 : 0);
	}
	if (aead)
		maq_poly_block(&p, 0, len, 1);

	/* full carry, then h mod 2^130 - 5 by conditionally subtracting p */
	c = p.h1 >> 26; p.h1 &= MAQ_M26;
	p.h2 += c; c = p.h2 >> 26; p.h2 &= MAQ_M26;
	p.h3 += c; c = p.h3 >> 26; p.h3 &= MAQ_M26;
	p.h4 += c; c = p.h4 >> 26; p.h4 &= MAQ_M26;
	p.h0 += c * 5; c = p.h0 >> 26; p.h0 &= MAQ_M26;
	p.h1 += c;

	g0 = p.h0 + 5; c = g0 >> 26; g0 &= MAQ_M26;
	g1 = p.h1 + c; c = g1 >> 26; g1 &= MAQ_M26;
	g2 = p.h2 + c; c = g2 >> 26; g2 &= MAQ_M26;
	g3 = p.h3 + c; c = g3 >> 26; g3 &= MAQ_M26;
	g4 = p.h4 + c - (1ULL << 26);

	mask = (g4 >> 63) - 1;	/* all ones when h >= p: take g */
	g0 &= mask; g1 &= mask; g2 &= mask; g3 &= mask; g4 &= mask;
	mask = ~mask;
	p.h0 = (p.h0 & mask) | g0;
	p.h1 = (p.h1 & mask) | g1;
	p.h2 = (p.h2 & mask) | g2;
	p.h3 = (p.h3 & mask) | g3;
	p.h4 = (p.h4 & mask) | g4;

	/* h + s mod 2^128 */
	f0 = p.h0 | (p.h1 << 26) | (p.h2 << 52);
	f1 = (p.h2 >> 12) | (p.h3 << 14) | (p.h4 << 40);
	t0 = f0 + pad0;
	t1 = f1 + pad1 + (t0 < f0);

	tag = (__u64 *)s->tag;
	tag[0] = maq_le64(t0);
	tag[1] = maq_le64(t1);
	return 0;
}

/* ---- The layer transform on scratch (layer.h: maq_layer_*) -------------- */

static __always_inline int maq_tag_equal(const __u8 *a, const __u8 *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

/*
 * Does the tag at MAQ_TAG_OFF verify over the body for (@key, @ctr)?  Leaves
 * the key loaded and block 0 in s->b0, ready for maq_layer_decrypt() and the
 * filler.  1 if it verifies, 0 if not, -1 on error.
 */
static __always_inline int maq_layer_verify(struct maq_scratch *s,
					    const __u8 *key, __u64 ctr)
{
	maq_chacha_setup(s, key, ctr);
	if (maq_cc_block(0) || maq_poly(MAQ_BODY_LEN, 1))
		return -1;
	return maq_tag_equal(s->tag, s->buf + MAQ_TAG_OFF);
}

static __always_inline int maq_layer_decrypt(void)
{
	return maq_cc_xor(MAQ_BODY_BLOCKS, 1);
}

/* Encrypt the body in place and write its tag at MAQ_TAG_OFF. */
static __always_inline int maq_layer_seal(struct maq_scratch *s,
					  const __u8 *key, __u64 ctr)
{
	__u64 *dst = (__u64 *)(s->buf + MAQ_TAG_OFF);
	__u64 *src = (__u64 *)s->tag;

	maq_chacha_setup(s, key, ctr);
	if (maq_cc_block(0) ||
	    maq_cc_xor(MAQ_BODY_BLOCKS, 1) ||
	    maq_poly(MAQ_BODY_LEN, 1))
		return -1;
	dst[0] = src[0];
	dst[1] = src[1];
	return 0;
}

#endif /* _MAQ_CHACHA_POLY_BPF_H */
