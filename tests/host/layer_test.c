// SPDX-License-Identifier: GPL-2.0
/*
 * layer_test: include/maquis/layer.h, through its libsodium glue
 * (daemon/crypto.c), is the cell crypto of docs/PROTOCOL.md sections 1-3
 * and 6.  It proves:
 *
 *  - the glue is RFC 8439 (ChaCha20 2.4.2, Poly1305 key generation 2.6.2,
 *    AEAD tags 2.8.2 and A.5), so layer.h is not only checked against the
 *    libsodium it is built on;
 *  - maq_layer_seal() is libsodium's ChaCha20-Poly1305 IETF AEAD with no AD,
 *    maq_layer_open() inverts it and refuses any single flipped bit without
 *    touching the body;
 *  - for every circuit length 1..8, the forward onion built by
 *    maq_onion_seal() and relayed by maq_relay_fwd() reaches the terminus
 *    intact, and the origin's cell and every relay's output are byte for
 *    byte what a plain re-implementation of sections 2 and 3 (below, on
 *    libsodium's AEAD calls) produces; a bit flipped on link k (cid aside)
 *    is refused by hop k;
 *  - the backward direction (terminus seal, maq_relay_back(),
 *    maq_onion_open()) delivers the terminus' plaintext and every relay's
 *    output matches the reference; a bit flipped on any link (cid aside)
 *    makes the origin fail, at exactly the layer back_blame() predicts,
 *    except the 16 body bytes a relay drops, which are harmless; control
 *    sealed by a relay with its control key opens with src = that hop;
 *  - maq_seq_next() keeps the phase bit and adds modulo 2^63;
 *  - the end-to-end layer (PROTOCOL 9) is libsodium's ChaCha20-Poly1305
 *    IETF AEAD of the packet, nonce 0^4 || le64(ctr), AD the inner header
 *    and counter, for every packet length 0..MAQ_E2E_MTU; maq_e2e_open()
 *    inverts it and refuses any flipped bit (header and counter included)
 *    or the other direction's key without touching the payload, and
 *    maq_e2e_parse() refuses lengths no sealed packet has.
 *
 * Buffers handed to layer.h are heap blocks of the exact size the API
 * promises to touch, so the ASan build catches any overrun of them.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "crypto.h"
#include "kselftest_harness.h"

#define B	MAQ_BODY_LEN
#define T	MAQ_TAG_LEN
#define H	MAQ_PAD_LEN
#define HDR	MAQ_HDR_LEN
#define CELL	MAQ_CELL_SIZE
#define PHASE	MAQ_SEQ_PHASE
#define MASK	MAQ_SEQ_CTR_MASK

/* ---------------------------------------------------------------------- */
/* Small helpers                                                          */
/* ---------------------------------------------------------------------- */

static u64 rnd64(void)
{
	u64 x;

	randombytes_buf(&x, sizeof(x));
	return x;
}

static u32 rnd_cid(void)
{
	u32 x;

	do
		randombytes_buf(&x, sizeof(x));
	while (!x);
	return x;
}

static void unhex(u8 *out, size_t len, const char *hex)
{
	size_t got = 0;

	if (sodium_hex2bin(out, len, hex, strlen(hex), NULL, &got, NULL) ||
	    got != len)
		abort();
}

static u32 get_be32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

static u64 get_be64(const u8 *p)
{
	return (u64)get_be32(p) << 32 | get_be32(p + 4);
}

/* ---------------------------------------------------------------------- */
/* Reference: PROTOCOL.md sections 2 and 3, written out plainly with      */
/* libsodium's AEAD and stream calls, sharing no code with layer.h.       */
/* ---------------------------------------------------------------------- */

struct ref_cell {
	u32 cid;
	u64 seq;
	u8 body[B];
	u8 tag[T];
};

static void ref_put(u8 out[CELL], const struct ref_cell *c)
{
	u32 cid = htobe32(c->cid);
	u64 seq = htobe64(c->seq);

	memcpy(out, &cid, 4);
	memcpy(out + 4, &seq, 8);
	memcpy(out + HDR, c->body, B);
	memcpy(out + HDR + B, c->tag, T);
}

static void ref_get(struct ref_cell *c, const u8 in[CELL])
{
	u32 cid;
	u64 seq;

	memcpy(&cid, in, 4);
	memcpy(&seq, in + 4, 8);
	c->cid = be32toh(cid);
	c->seq = be64toh(seq);
	memcpy(c->body, in + HDR, B);
	memcpy(c->tag, in + HDR + B, T);
}

/* 96-bit nonce: four zero bytes || le64(seq without the phase bit). */
static void ref_nonce(u8 n[12], u64 seq)
{
	u64 le = htole64(seq & ~PHASE);

	memset(n, 0, 4);
	memcpy(n + 4, &le, 8);
}

static void ref_seal(u8 body[B], u8 tag[T], const u8 *key, u64 seq)
{
	u8 n[12], c[B];

	ref_nonce(n, seq);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(c, tag, NULL,
			body, B, NULL, 0, NULL, n, key);
	memcpy(body, c, B);
}

static int ref_open(u8 body[B], const u8 tag[T], const u8 *key, u64 seq)
{
	u8 n[12], p[B];

	ref_nonce(n, seq);
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(p, NULL,
			body, B, tag, NULL, 0, n, key))
		return -1;
	memcpy(body, p, B);
	return 0;
}

/* KS(k, s)[0..len): the AEAD payload keystream, block counter 1. */
static void ref_ks(u8 *out, size_t len, const u8 *key, u64 seq)
{
	u8 n[12];

	ref_nonce(n, seq);
	memset(out, 0, len);
	crypto_stream_chacha20_ietf_xor_ic(out, out, len, n, 1, key);
}

/* F(k, s) = B0(k, s)[32..48). */
static void ref_filler(u8 f[T], const u8 *key, u64 seq)
{
	u8 n[12], b0[64];

	ref_nonce(n, seq);
	crypto_stream_chacha20_ietf(b0, sizeof(b0), n, key);
	memcpy(f, b0 + 32, T);
}

/* Poly1305(B0[0..32), C || le64(0) || le64(B)), spelled out. */
static void ref_tag(u8 tag[T], const u8 c[B], const u8 *key, u64 seq)
{
	u8 n[12], b0[64], m[B + 16];
	u64 len = htole64(B);

	ref_nonce(n, seq);
	crypto_stream_chacha20_ietf(b0, sizeof(b0), n, key);
	memcpy(m, c, B);
	memset(m + B, 0, 8);
	memcpy(m + B + 8, &len, 8);
	crypto_onetimeauth_poly1305(tag, m, sizeof(m), b0);
}

/* s + delta on the 63-bit counter, the phase bit kept. */
static u64 ref_seq_add(u64 seq, u64 delta)
{
	u64 mod = 1ULL << 63;
	u64 ctr = seq % mod, d = delta % mod;

	return (seq & PHASE) | ((ctr + d) % mod);	/* ctr + d < 2^64 */
}

/* Section 2, forward: verify, strip, shift. */
static int ref_relay_fwd(struct ref_cell *out, const struct ref_cell *in,
			 const u8 *key, u32 cid_out, u64 delta)
{
	u8 d[B], f[T];

	memcpy(d, in->body, B);
	if (ref_open(d, in->tag, key, in->seq))
		return -1;
	ref_filler(f, key, in->seq);
	out->cid = cid_out;
	out->seq = ref_seq_add(in->seq, delta);
	memcpy(out->body, f, T);
	memcpy(out->body + T, d, B - T);
	memcpy(out->tag, d + B - T, T);
	return 0;
}

/* Section 2, backward: drop, wrap. */
static void ref_relay_back(struct ref_cell *out, const struct ref_cell *in,
			   const u8 *key, u32 cid_out, u64 seq_out)
{
	u8 d[B];

	memcpy(d, in->body + T, B - T);
	memcpy(d + B - T, in->tag, T);
	ref_seal(d, out->tag, key, seq_out);
	out->cid = cid_out;
	out->seq = seq_out;
	memcpy(out->body, d, B);
}

/* Section 3, sealing: hop i has key keys[i - 1] and sees seq seqs[i - 1]. */
static void ref_onion_seal(struct ref_cell *out, const u8 p[B],
			   u8 keys[][MAQ_KEY_LEN], const u64 *seqs, int n)
{
	u8 g[H], next[H], ks[H], c[B], tag[T], d[B];
	size_t glen = 0;
	int k, i;

	/* G_1 = "", G_{k+1} = F_k || (G_k xor KS_k[0..16(k-1))) */
	for (k = 1; k < n; k++) {
		ref_filler(next, keys[k - 1], seqs[k - 1]);
		ref_ks(ks, glen, keys[k - 1], seqs[k - 1]);
		for (i = 0; i < (int)glen; i++)
			next[T + i] = g[i] ^ ks[i];
		glen += T;
		memcpy(g, next, glen);
	}
	/* C_n = P xor KS_n, its first 16(n-1) bytes replaced by G_n */
	ref_ks(c, B, keys[n - 1], seqs[n - 1]);
	for (i = 0; i < B; i++)
		c[i] ^= p[i];
	memcpy(c, g, glen);
	ref_tag(tag, c, keys[n - 1], seqs[n - 1]);
	/* C_k = seal(k_k, s_k, C_{k+1}[16..B) || tag_{k+1}) */
	for (k = n - 1; k >= 1; k--) {
		memcpy(d, c + T, B - T);
		memcpy(d + B - T, tag, T);
		ref_seal(d, tag, keys[k - 1], seqs[k - 1]);
		memcpy(c, d, B);
	}
	memcpy(out->body, c, B);
	memcpy(out->tag, tag, T);
}

/* Section 3, opening a backward cell created by hop m; -(hop) on failure. */
static int ref_onion_open(u8 p[B], const struct ref_cell *in,
			  u8 keys[][MAQ_KEY_LEN], const u64 *seqs, int m)
{
	u8 c[B], tag[T], d[B], ks[H + T];
	int k, j, i;

	memcpy(c, in->body, B);
	memcpy(tag, in->tag, T);
	for (k = 1; k <= m; k++) {
		if (k > 1) {
			/* C_k[0..16) = xor_{j=k..m} KS_j[16(j-k)..+16) */
			memset(c, 0, T);
			for (j = k; j <= m; j++) {
				ref_ks(ks, T * (j - k) + T, keys[j - 1],
				       seqs[j - 1]);
				for (i = 0; i < T; i++)
					c[i] ^= ks[T * (j - k) + i];
			}
			memcpy(c + T, d, B - T);
			memcpy(tag, d + B - T, T);
		}
		memcpy(d, c, B);
		if (ref_open(d, tag, keys[k - 1], seqs[k - 1]))
			return -k;
	}
	memcpy(p, d, B);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* RFC 8439 vectors through the glue primitives                           */
/* ---------------------------------------------------------------------- */

static const char rfc_sunscreen[] =
	"4c616469657320616e642047656e746c656d656e206f662074686520636c6173"
	"73206f66202739393a204966204920636f756c64206f6666657220796f75206f"
	"6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73"
	"637265656e20776f756c642062652069742e";

TEST(rfc8439_chacha20_2_4_2)
{
	/* key 00..1f, nonce 00:00:00:00 00:00:00:4a 00:00:00:00, counter 1 */
	static const char ct_hex[] =
	    "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
	    "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
	    "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
		"5af90bbf74a35be6b40b8eedf2785e42874d";
	u8 key[32], pt[114], want[114], out[114];
	int i;

	ASSERT_EQ(0, maq_crypto_init());
	for (i = 0; i < 32; i++)
		key[i] = i;
	unhex(pt, sizeof(pt), rfc_sunscreen);
	unhex(want, sizeof(want), ct_hex);

	maq_chacha20(out, pt, sizeof(pt), key, 0x4a000000ULL, 1);
	EXPECT_EQ(0, memcmp(out, want, sizeof(want)));
	/* in place, and back */
	maq_chacha20(out, out, sizeof(out), key, 0x4a000000ULL, 1);
	EXPECT_EQ(0, memcmp(out, pt, sizeof(pt)));
}

TEST(rfc8439_poly1305_keygen_2_6_2)
{
	/* key 80..9f, nonce 00:00:00:00 00:01:02:03:04:05:06:07 */
	static const char otk_hex[] =
	    "8ad5a08b905f81cc815040274ab29471a833b637e3fd0da508dbb8e2fdd1a646";
	u8 key[32], b0[64], want[32];
	int i;

	ASSERT_EQ(0, maq_crypto_init());
	for (i = 0; i < 32; i++)
		key[i] = 0x80 + i;
	unhex(want, sizeof(want), otk_hex);
	maq_layer_block0(b0, key, 0x0706050403020100ULL);
	EXPECT_EQ(0, memcmp(b0, want, sizeof(want)));
}

TEST(rfc8439_aead_tag_2_8_2)
{
	/* The nonce 07:00:00:00 || IV has no zero prefix, so the one-time key
	 * is the RFC's; the tag is computed by the glue.
	 */
	static const char otk_hex[] =
	    "7bac2b252db447af09b67a55a4e955840ae1d6731075d9eb2a9375783ed553ff";
	static const char ct_hex[] =
	    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
	    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
	    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
		"3ff4def08e4b7a9de576d26586cec64b6116";
	u8 otk[32], ad[12], ct[114], want[16], tag[16];

	ASSERT_EQ(0, maq_crypto_init());
	unhex(otk, sizeof(otk), otk_hex);
	unhex(ad, sizeof(ad), "50515253c0c1c2c3c4c5c6c7");
	unhex(ct, sizeof(ct), ct_hex);
	unhex(want, sizeof(want), "1ae10b594f09e26a7e902ecbd0600691");
	maq_poly1305_aead_ad(tag, ad, sizeof(ad), ct, sizeof(ct), otk);
	EXPECT_EQ(0, memcmp(tag, want, sizeof(want)));
	EXPECT_TRUE(maq_tag_equal(tag, want));
	tag[15] ^= 0x80;
	EXPECT_FALSE(maq_tag_equal(tag, want));
}

TEST(rfc8439_aead_decrypt_a_5)
{
	/* Appendix A.5: nonce 00:00:00:00 01:02:..:08 fits the maquis nonce,
	 * so the whole AEAD runs through the glue: one-time key from block 0,
	 * tag over AD and ciphertext, keystream from block 1.
	 */
	static const char key_hex[] =
	    "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0";
	static const char pt_hex[] =
	    "496e7465726e65742d4472616674732061726520647261667420646f63756d65"
	    "6e74732076616c696420666f722061206d6178696d756d206f6620736978206d"
	    "6f6e74687320616e64206d617920626520757064617465642c207265706c6163"
	    "65642c206f72206f62736f6c65746564206279206f7468657220646f63756d65"
	    "6e747320617420616e792074696d652e20497420697320696e617070726f7072"
	    "6961746520746f2075736520496e7465726e65742d4472616674732061732072"
	    "65666572656e6365206d6174657269616c206f7220746f206369746520746865"
	    "6d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67"
		"726573732e2fe2809d";
	static const char ct_hex[] =
	    "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
	    "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
	    "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
	    "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
	    "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
	    "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
	    "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
	    "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
		"a6ad5cb4022b02709b";
	u8 key[32], ad[12], pt[265], ct[265], want[16], tag[16], b0[64];
	u64 nonce = 0x0807060504030201ULL;

	ASSERT_EQ(0, maq_crypto_init());
	unhex(key, sizeof(key), key_hex);
	unhex(ad, sizeof(ad), "f33388860000000000004e91");
	unhex(pt, sizeof(pt), pt_hex);
	unhex(ct, sizeof(ct), ct_hex);
	unhex(want, sizeof(want), "eead9d67890cbb22392336fea1851f38");

	maq_layer_block0(b0, key, nonce);
	maq_poly1305_aead_ad(tag, ad, sizeof(ad), ct, sizeof(ct), b0);
	EXPECT_EQ(0, memcmp(tag, want, sizeof(want)));
	maq_chacha20(ct, ct, sizeof(ct), key, nonce, 1);
	EXPECT_EQ(0, memcmp(ct, pt, sizeof(pt)));
}

/* ---------------------------------------------------------------------- */
/* One layer                                                              */
/* ---------------------------------------------------------------------- */

static u64 pick_seq(int i)
{
	switch (i) {
	case 0: return 0;
	case 1: return MASK;
	case 2: return PHASE | 1;	/* the phase never reaches the nonce */
	default: return rnd64();
	}
}

TEST(layer_seal_is_ietf_aead)
{
	u8 key[MAQ_KEY_LEN], p[B], n[12], c[B], tag[T], f[T], fil[T];
	u8 *body = malloc(B), *mtag = malloc(T);
	u64 seq;
	int i;

	ASSERT_EQ(0, maq_crypto_init());
	ASSERT_NE(NULL, body);
	ASSERT_NE(NULL, mtag);
	for (i = 0; i < 64; i++) {
		randombytes_buf(key, sizeof(key));
		randombytes_buf(p, sizeof(p));
		seq = pick_seq(i);

		ref_nonce(n, seq);
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(c, tag,
				NULL, p, B, NULL, 0, NULL, n, key);
		memcpy(body, p, B);
		maq_layer_seal(body, mtag, key, seq & MASK);
		ASSERT_EQ(0, memcmp(body, c, B)) TH_LOG("seq %#llx",
				(unsigned long long)seq);
		ASSERT_EQ(0, memcmp(mtag, tag, T));

		ASSERT_EQ(0, maq_layer_open(body, mtag, key, seq & MASK, fil));
		ASSERT_EQ(0, memcmp(body, p, B));
		ref_filler(f, key, seq);
		ASSERT_EQ(0, memcmp(fil, f, T));
		/* a NULL filler is allowed */
		memcpy(body, c, B);
		ASSERT_EQ(0, maq_layer_open(body, mtag, key, seq & MASK,
					    NULL));
		ASSERT_EQ(0, memcmp(body, p, B));
	}
	free(body);
	free(mtag);
}

TEST(layer_open_refuses_any_bit_flip)
{
	u8 key[MAQ_KEY_LEN], c[B + T], fil[T];
	u8 *buf = malloc(B + T);
	u64 seq;
	int bit, round;

	ASSERT_EQ(0, maq_crypto_init());
	ASSERT_NE(NULL, buf);
	for (round = 0; round < 2; round++) {
		randombytes_buf(key, sizeof(key));
		randombytes_buf(c, B);
		seq = rnd64() & MASK;
		maq_layer_seal(c, c + B, key, seq);

		for (bit = 0; bit < (B + T) * 8; bit++) {
			memcpy(buf, c, B + T);
			buf[bit / 8] ^= 1 << (bit % 8);
			memset(fil, 0xa5, T);
			ASSERT_NE(0, maq_layer_open(buf, buf + B, key, seq,
						    fil))
				TH_LOG("bit %d accepted", bit);
			/* untouched: still the flipped ciphertext */
			ASSERT_EQ(0, memcmp(buf, c, bit / 8));
			ASSERT_EQ(c[bit / 8] ^ (1 << (bit % 8)), buf[bit / 8]);
			ASSERT_EQ(0, memcmp(buf + bit / 8 + 1, c + bit / 8 + 1,
					    B + T - bit / 8 - 1));
			ASSERT_EQ(0xa5, fil[0]);
		}
		/* wrong nonce, wrong key */
		memcpy(buf, c, B + T);
		ASSERT_NE(0, maq_layer_open(buf, buf + B, key, seq ^ 1, NULL));
		key[31] ^= 1;
		ASSERT_NE(0, maq_layer_open(buf, buf + B, key, seq, NULL));
		ASSERT_EQ(0, memcmp(buf, c, B + T));
		key[31] ^= 1;
		ASSERT_EQ(0, maq_layer_open(buf, buf + B, key, seq, NULL));
	}
	free(buf);
}

/* ---------------------------------------------------------------------- */
/* End-to-end layer                                                       */
/* ---------------------------------------------------------------------- */

static void e2e_nonce(u8 n[12], u64 ctr)
{
	u64 le = htole64(ctr);

	memset(n, 0, 4);
	memcpy(n + 4, &le, 8);
}

TEST(e2e_seal_is_ietf_aead)
{
	u8 key[MAQ_KEY_LEN], pkt[MAQ_E2E_MTU], c[MAQ_E2E_MTU], tag[T], n[12];
	u8 *inner = malloc(MAQ_INNER_HDR_LEN + MAQ_INNER_MTU);
	u8 *pt = malloc(MAQ_E2E_MTU + 1);
	size_t len, got;
	u64 ctr, want_ctr;

	ASSERT_EQ(0, maq_crypto_init());
	ASSERT_NE(NULL, inner);
	ASSERT_NE(NULL, pt);
	ASSERT_EQ(1268, MAQ_E2E_MTU);
	for (len = 0; len <= MAQ_E2E_MTU; len++) {
		randombytes_buf(key, sizeof(key));
		randombytes_buf(pkt, len);
		want_ctr = len < 4 ? (u64[]){ 0, 1, ~0ULL, 1ULL << 63 }[len] :
				     rnd64();
		memset(inner, 0x5a, MAQ_INNER_HDR_LEN + MAQ_INNER_MTU);
		memcpy(inner + MAQ_E2E_AD_LEN, pkt, len);
		maq_e2e_seal(inner, len, key, want_ctr);

		ASSERT_EQ(MAQ_INNER_IP, inner[0]);
		ASSERT_EQ(MAQ_INNER_F_E2E, inner[1]);
		ASSERT_EQ(len + 24, (size_t)(inner[2] << 8 | inner[3]));
		e2e_nonce(n, want_ctr);
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(c, tag,
				NULL, pkt, len, inner, MAQ_E2E_AD_LEN, NULL, n,
				key);
		ASSERT_EQ(0, memcmp(inner + MAQ_E2E_AD_LEN, c, len))
			TH_LOG("len %zu", len);
		ASSERT_EQ(0, memcmp(inner + MAQ_E2E_AD_LEN + len, tag, T))
			TH_LOG("len %zu", len);
		/* nothing after the tag is touched */
		if (len < MAQ_E2E_MTU)
			ASSERT_EQ(0x5a, inner[MAQ_E2E_AD_LEN + len + T]);
		/* libsodium opens what we sealed */
		ASSERT_EQ(0, crypto_aead_chacha20poly1305_ietf_decrypt_detached(
				pt, NULL, inner + MAQ_E2E_AD_LEN, len,
				inner + MAQ_E2E_AD_LEN + len, inner,
				MAQ_E2E_AD_LEN, n, key));
		ASSERT_EQ(0, memcmp(pt, pkt, len));

		ASSERT_EQ(0, maq_e2e_parse(inner, &ctr, &got));
		ASSERT_EQ(want_ctr, ctr);
		ASSERT_EQ(len, got);
		ASSERT_EQ(0, maq_e2e_open(inner, got, key, ctr));
		ASSERT_EQ(0, memcmp(inner + MAQ_E2E_AD_LEN, pkt, len));
	}
	free(inner);
	free(pt);
}

TEST(e2e_open_refuses_tampering_and_bad_lengths)
{
	enum { LEN = 61, ALL = MAQ_E2E_AD_LEN + LEN + T };
	u8 key[2][MAQ_KEY_LEN], c[ALL], buf[MAQ_INNER_HDR_LEN + MAQ_INNER_MTU];
	size_t len, total;
	u64 ctr;
	int bit;

	ASSERT_EQ(0, maq_crypto_init());
	randombytes_buf(key, sizeof(key));
	randombytes_buf(c, sizeof(c));
	maq_e2e_seal(c, LEN, key[0], 77);
	for (bit = 0; bit < ALL * 8; bit++) {
		memcpy(buf, c, ALL);
		buf[bit / 8] ^= 1 << (bit % 8);
		/* a flipped length is refused by parse or by the tag */
		if (maq_e2e_parse(buf, &ctr, &len) || len != LEN)
			continue;
		ASSERT_NE(0, maq_e2e_open(buf, len, key[0], ctr))
			TH_LOG("bit %d accepted", bit);
		ASSERT_EQ(c[bit / 8] ^ (1 << (bit % 8)), buf[bit / 8]);
		buf[bit / 8] ^= 1 << (bit % 8);
		ASSERT_EQ(0, memcmp(buf, c, ALL));
	}
	/* the other direction's key, another counter */
	memcpy(buf, c, ALL);
	ASSERT_EQ(0, maq_e2e_parse(buf, &ctr, &len));
	ASSERT_NE(0, maq_e2e_open(buf, len, key[1], ctr));
	ASSERT_NE(0, maq_e2e_open(buf, len, key[0], ctr + 1));
	ASSERT_EQ(0, memcmp(buf, c, ALL));
	ASSERT_EQ(0, maq_e2e_open(buf, len, key[0], ctr));

	/* lengths: below the overhead or beyond the inner MTU */
	for (total = 0; total < 0x10000; total++) {
		buf[2] = (u8)(total >> 8);
		buf[3] = (u8)total;
		ASSERT_EQ(total >= 24 && total <= MAQ_INNER_MTU ? 0 : -1,
			  maq_e2e_parse(buf, &ctr, &len)) TH_LOG("%zu", total);
	}
}

/* ---------------------------------------------------------------------- */
/* Sequence numbers                                                       */
/* ---------------------------------------------------------------------- */

TEST(seq_next_keeps_phase_wraps_63_bits)
{
	u64 s, d, b1, b2, c;
	int i;

	ASSERT_EQ(0, maq_crypto_init());
	EXPECT_EQ(PHASE, maq_seq_next(PHASE | MASK, 1));
	EXPECT_EQ(0ULL, maq_seq_next(MASK, 1));
	EXPECT_EQ(MASK, maq_seq_next(0, MASK));		/* -1 */
	EXPECT_EQ(PHASE | MASK, maq_seq_next(PHASE, MASK));
	EXPECT_EQ(PHASE | 2, maq_seq_next(PHASE | 5, (u64)-3));
	EXPECT_EQ(7ULL, maq_seq_next(7, PHASE));	/* 2^63 == 0 */
	EXPECT_EQ(PHASE | 7, maq_seq_next(PHASE | 7, 0));

	for (i = 0; i < 100000; i++) {
		s = rnd64();
		d = rnd64();
		ASSERT_EQ(ref_seq_add(s, d), maq_seq_next(s, d))
			TH_LOG("s %#llx d %#llx", (unsigned long long)s,
			       (unsigned long long)d);
		/* a relay's delta takes base_i + c to base_{i+1} + c */
		b1 = rnd64() >> 3;
		b2 = rnd64() >> 3;
		c = rnd64() & MASK;
		ASSERT_EQ((s & PHASE) | ((b2 + c) & MASK),
			  maq_seq_next((s & PHASE) | ((b1 + c) & MASK),
				       b2 - b1));
	}
}

/* ---------------------------------------------------------------------- */
/* Whole circuits                                                         */
/* ---------------------------------------------------------------------- */

/*
 * Link i (1..n) joins hop i-1 (0 = the origin) and hop i.  On link i forward
 * cells carry hop[i].fcid and counter fbase_i + ctr, backward cells
 * hop[i].bcid and bbase_i + ctr.
 */
struct hop {
	u8 fwd[2][MAQ_KEY_LEN];		/* data key slots, by phase */
	u8 back[2][MAQ_KEY_LEN];
	u8 ctl_back[MAQ_KEY_LEN];
	u64 fbase, bbase;		/* < 2^61 */
	u32 fcid, bcid;
};

FIXTURE(circuit) {
	int n;
	struct hop hop[MAQ_MAX_HOPS + 1];	/* 1-based */
	u64 ctr;
	u64 phase;			/* 0 or PHASE */
	u8 payload[B];			/* innermost plaintext */
	u8 *fbuf;			/* T + CELL: forward relay */
	u8 *bbuf;			/* CELL + T: backward relay */
	u8 *obuf;			/* H + B + T: origin */
	u8 *tbuf;			/* B + T: terminus */
};

FIXTURE_VARIANT(circuit) {
	int n;
};

FIXTURE_VARIANT_ADD(circuit, hops1) { .n = 1 };
FIXTURE_VARIANT_ADD(circuit, hops2) { .n = 2 };
FIXTURE_VARIANT_ADD(circuit, hops3) { .n = 3 };
FIXTURE_VARIANT_ADD(circuit, hops4) { .n = 4 };
FIXTURE_VARIANT_ADD(circuit, hops5) { .n = 5 };
FIXTURE_VARIANT_ADD(circuit, hops6) { .n = 6 };
FIXTURE_VARIANT_ADD(circuit, hops7) { .n = 7 };
FIXTURE_VARIANT_ADD(circuit, hops8) { .n = 8 };

typedef FIXTURE_DATA(circuit) circ_t;
typedef struct __test_metadata meta_t;

static void circ_randomize(circ_t *self, int iter)
{
	int i;

	for (i = 1; i <= self->n; i++) {
		struct hop *h = &self->hop[i];

		randombytes_buf(h->fwd, sizeof(h->fwd));
		randombytes_buf(h->back, sizeof(h->back));
		randombytes_buf(h->ctl_back, sizeof(h->ctl_back));
		h->fbase = rnd64() >> 3;
		h->bbase = rnd64() >> 3;
		h->fcid = rnd_cid();
		h->bcid = rnd_cid();
	}
	/* a few counters near the 63-bit wrap, the rest anywhere below 2^40 */
	self->ctr = iter % 4 == 3 ? MASK - (rnd64() & 0xffff) :
				    rnd64() >> 24;
	self->phase = iter & 1 ? PHASE : 0;
	randombytes_buf(self->payload, B);
}

FIXTURE_SETUP(circuit)
{
	ASSERT_EQ(0, maq_crypto_init());
	self->n = variant->n;
	self->fbuf = malloc(T + CELL);
	self->bbuf = malloc(CELL + T);
	self->obuf = malloc(H + B + T);
	self->tbuf = malloc(B + T);
	ASSERT_NE(NULL, self->fbuf);
	ASSERT_NE(NULL, self->bbuf);
	ASSERT_NE(NULL, self->obuf);
	ASSERT_NE(NULL, self->tbuf);
	circ_randomize(self, 0);
}

FIXTURE_TEARDOWN(circuit)
{
	free(self->fbuf);
	free(self->bbuf);
	free(self->obuf);
	free(self->tbuf);
}

static u64 fseq(circ_t *self, int i)
{
	return self->phase | ((self->hop[i].fbase + self->ctr) & MASK);
}

static u64 bseq(circ_t *self, int i)
{
	return self->phase | ((self->hop[i].bbase + self->ctr) & MASK);
}

static void flip(u8 *cell, int bit)
{
	cell[bit / 8] ^= 1 << (bit % 8);
}

/* The origin seals the payload; @cell is what it sends on link 1. */
static void origin_seal(meta_t *_metadata, circ_t *self, u8 cell[CELL])
{
	struct maq_hop_key hk[MAQ_MAX_HOPS];
	u8 keys[MAQ_MAX_HOPS][MAQ_KEY_LEN], want[CELL];
	u64 seqs[MAQ_MAX_HOPS];
	struct ref_cell rc;
	int i, n = self->n, ph = !!self->phase;

	for (i = 0; i < n; i++) {
		memcpy(hk[i].key, self->hop[i + 1].fwd[ph], MAQ_KEY_LEN);
		hk[i].seq = fseq(self, i + 1) & MASK;
		memcpy(keys[i], hk[i].key, MAQ_KEY_LEN);
		seqs[i] = fseq(self, i + 1);
	}
	memcpy(self->obuf, self->payload, B);
	maq_onion_seal(self->obuf, hk, n);
	maq_cell_put_hdr(cell, self->hop[1].fcid, fseq(self, 1));
	memcpy(cell + HDR, self->obuf + maq_onion_fwd_off(n), B + T);

	rc.cid = self->hop[1].fcid;
	rc.seq = fseq(self, 1);
	ref_onion_seal(&rc, self->payload, keys, seqs, n);
	ref_put(want, &rc);
	ASSERT_EQ(0, memcmp(cell, want, CELL))
		TH_LOG("origin cell differs from PROTOCOL.md section 3");
}

/*
 * Relay i (< n) forwards what it received on link i.  Returns 0 with @out
 * the cell for link i+1, or -1 when it refused @in (and left it untouched).
 */
static int relay_fwd(meta_t *_metadata, circ_t *self, int i,
		     const u8 in[CELL], u8 out[CELL])
{
	struct ref_cell rin, rout;
	u64 seq = get_be64(in + 4);
	const u8 *key = self->hop[i].fwd[seq >> 63];
	u64 delta = self->hop[i + 1].fbase - self->hop[i].fbase;
	u32 cid_out = self->hop[i + 1].fcid;
	u8 want[CELL], *o;
	int rr;

	ASSERT_LT(i, self->n);
	memcpy(self->fbuf + T, in, CELL);
	o = maq_relay_fwd(self->fbuf + T, key, seq, cid_out, delta);

	ref_get(&rin, in);
	rr = ref_relay_fwd(&rout, &rin, key, cid_out, delta);
	if (!o) {
		EXPECT_EQ(-1, rr) TH_LOG("hop %d refused a good cell", i);
		ASSERT_EQ(0, memcmp(self->fbuf + T, in, CELL))
			TH_LOG("hop %d: refused cell was modified", i);
		return -1;
	}
	ASSERT_EQ(0, rr) TH_LOG("hop %d accepted a bad cell", i);
	ASSERT_EQ(self->fbuf, o);
	ref_put(want, &rout);
	ASSERT_EQ(0, memcmp(o, want, CELL))
		TH_LOG("hop %d output differs from PROTOCOL.md section 2", i);
	memcpy(out, o, CELL);
	return 0;
}

/* The terminus opens its layer; returns 0 or -1 (@in then untouched). */
static int terminus_open(meta_t *_metadata, circ_t *self, const u8 in[CELL],
			 u8 p[B])
{
	u64 seq = get_be64(in + 4);
	const u8 *key = self->hop[self->n].fwd[seq >> 63];
	u8 d[B];
	int rc, rr;

	memcpy(self->tbuf, in + HDR, B + T);
	rc = maq_layer_open(self->tbuf, self->tbuf + B, key, seq & MASK, NULL);
	memcpy(d, in + HDR, B);
	rr = ref_open(d, in + HDR + B, key, seq);
	EXPECT_EQ(rr, rc);
	if (rc) {
		ASSERT_EQ(0, memcmp(self->tbuf, in + HDR, B + T));
		return -1;
	}
	ASSERT_EQ(0, memcmp(self->tbuf, d, B));
	memcpy(p, self->tbuf, B);
	return 0;
}

/* Run the honest forward path; cells[k] is the cell on link k. */
static void forward_path(meta_t *_metadata, circ_t *self,
			 u8 cells[][CELL])
{
	u8 p[B];
	int i, n = self->n;

	origin_seal(_metadata, self, cells[1]);
	for (i = 1; i < n; i++) {
		ASSERT_EQ(0, relay_fwd(_metadata, self, i, cells[i],
				       cells[i + 1]));
		ASSERT_EQ(self->hop[i + 1].fcid, get_be32(cells[i + 1]));
		ASSERT_EQ(fseq(self, i + 1), get_be64(cells[i + 1] + 4));
	}
	ASSERT_EQ(0, terminus_open(_metadata, self, cells[n], p));
	/* only the first 16(n-1) bytes, fixed by the fillers, differ */
	ASSERT_EQ(0, memcmp(p + T * (n - 1), self->payload + T * (n - 1),
			    B - T * (n - 1)))
		TH_LOG("payload corrupted on %d hops", n);
}

TEST_F(circuit, forward)
{
	u8 cells[MAQ_MAX_HOPS + 1][CELL];
	int iter;

	for (iter = 0; iter < 16; iter++) {
		circ_randomize(self, iter);
		forward_path(_metadata, self, cells);
	}
}

TEST_F(circuit, forward_tamper)
{
	u8 cells[MAQ_MAX_HOPS + 1][CELL], t[CELL], o[CELL], p[B];
	int k, pos, bit, n = self->n, rc;

	circ_randomize(self, 1);
	forward_path(_metadata, self, cells);
	for (k = 1; k <= n; k++) {
		/* every byte after the cid, one random bit of each; all bits
		 * of seq and tag
		 */
		for (pos = MAQ_CID_LEN; pos < CELL; pos++) {
			int all = pos < HDR || pos >= HDR + B;
			int b0 = all ? 0 : (int)randombytes_uniform(8);

			for (bit = b0; bit < (all ? 8 : b0 + 1); bit++) {
				memcpy(t, cells[k], CELL);
				flip(t, pos * 8 + bit);
				if (k < n)
					rc = relay_fwd(_metadata, self, k, t,
						       o);
				else
					rc = terminus_open(_metadata, self, t,
							   p);
				ASSERT_EQ(-1, rc)
					TH_LOG("link %d byte %d bit %d",
					       k, pos, bit);
			}
		}
	}
}

/* The terminus (or, with @ctl, relay m) creates a backward cell on link m. */
static void back_create(meta_t *_metadata, circ_t *self, int m,
			const u8 *key, u64 seq, u8 cell[CELL])
{
	u8 p[B], tag[T];

	memset(p, 0, H);
	memcpy(p + H, self->payload + H, B - H);
	memcpy(self->tbuf, p, B);
	maq_layer_seal(self->tbuf, self->tbuf + B, key, seq & MASK);
	ref_seal(p, tag, key, seq);
	ASSERT_EQ(0, memcmp(self->tbuf, p, B));
	ASSERT_EQ(0, memcmp(self->tbuf + B, tag, T));
	maq_cell_put_hdr(cell, self->hop[m].bcid, seq);
	memcpy(cell + HDR, self->tbuf, B + T);
}

/* Relay i wraps what it received on link i+1 into the cell for link i. */
static void relay_back(meta_t *_metadata, circ_t *self, int i,
		       const u8 in[CELL], u8 out[CELL])
{
	struct ref_cell rin, rout;
	u64 seq = get_be64(in + 4);
	const u8 *key = self->hop[i].back[seq >> 63];
	u64 seq_out = maq_seq_next(seq,
			self->hop[i].bbase - self->hop[i + 1].bbase);
	u32 cid_out = self->hop[i].bcid;
	u8 want[CELL], *o;

	memcpy(self->bbuf, in, CELL);
	o = maq_relay_back(self->bbuf, key, cid_out, seq_out);
	ASSERT_EQ(self->bbuf + T, o);

	ref_get(&rin, in);
	ref_relay_back(&rout, &rin, key, cid_out,
		       ref_seq_add(seq, self->hop[i].bbase -
				   self->hop[i + 1].bbase));
	ref_put(want, &rout);
	ASSERT_EQ(0, memcmp(o, want, CELL))
		TH_LOG("hop %d output differs from PROTOCOL.md section 2", i);
	memcpy(out, o, CELL);
}

/*
 * The origin opens what it received on link 1, as created by hop @src;
 * hop @src used its control key when @ctl.  Per-hop counters come from the
 * received seq, as the origin's own would.  Returns maq_onion_open()'s
 * result, checked against the reference, and the plaintext in @p.
 */
static int origin_open(meta_t *_metadata, circ_t *self, const u8 cell[CELL],
		       int src, int ctl, u8 p[B])
{
	struct maq_hop_key hk[MAQ_MAX_HOPS];
	u8 keys[MAQ_MAX_HOPS][MAQ_KEY_LEN], pr[B];
	u64 seqs[MAQ_MAX_HOPS];
	u64 s1 = get_be64(cell + 4), c;
	struct ref_cell rin;
	int i, n = self->n, rc, rr;

	c = (s1 - self->hop[1].bbase) & MASK;
	for (i = 0; i < n; i++) {
		const struct hop *h = &self->hop[i + 1];

		if (ctl && i == src - 1)
			memcpy(hk[i].key, h->ctl_back, MAQ_KEY_LEN);
		else
			memcpy(hk[i].key, h->back[s1 >> 63], MAQ_KEY_LEN);
		hk[i].seq = (h->bbase + c) & MASK;
		memcpy(keys[i], hk[i].key, MAQ_KEY_LEN);
		seqs[i] = hk[i].seq;
	}
	memcpy(self->obuf + maq_onion_fwd_off(n), cell + HDR, B + T);
	rc = maq_onion_open(self->obuf, hk, n, src);

	ref_get(&rin, cell);
	rr = ref_onion_open(pr, &rin, keys, seqs, src);
	EXPECT_EQ(rr, rc) TH_LOG("reference disagrees");
	if (!rc) {
		EXPECT_EQ(0, memcmp(self->obuf, pr, B));
		memcpy(p, self->obuf, B);
	}
	return rc;
}

/* Honest backward path from the terminus; cells[k] is on link k. */
static void backward_path(meta_t *_metadata, circ_t *self, u8 cells[][CELL])
{
	int i, n = self->n;
	u8 p[B];

	back_create(_metadata, self, n, self->hop[n].back[!!self->phase],
		    bseq(self, n), cells[n]);
	for (i = n - 1; i >= 1; i--) {
		relay_back(_metadata, self, i, cells[i + 1], cells[i]);
		ASSERT_EQ(self->hop[i].bcid, get_be32(cells[i]));
		ASSERT_EQ(bseq(self, i), get_be64(cells[i] + 4));
	}
	ASSERT_EQ(0, origin_open(_metadata, self, cells[1], n, 0, p));
	for (i = 0; i < H; i++)
		ASSERT_EQ(0, p[i]);
	ASSERT_EQ(0, memcmp(p + H, self->payload + H, B - H));
}

TEST_F(circuit, backward)
{
	u8 cells[MAQ_MAX_HOPS + 1][CELL];
	int iter;

	for (iter = 0; iter < 16; iter++) {
		circ_randomize(self, iter);
		backward_path(_metadata, self, cells);
	}
}

/* Flip @bit of the cell on link @k, carry it to the origin, open it. */
static int back_tampered(meta_t *_metadata, circ_t *self, u8 cells[][CELL],
			 int k, int bit, int src, int ctl, u8 p[B])
{
	u8 t[CELL];
	int i;

	memcpy(t, cells[k], CELL);
	flip(t, bit);
	for (i = k - 1; i >= 1; i--)
		relay_back(_metadata, self, i, t, t);
	return origin_open(_metadata, self, t, src, ctl, p);
}

/*
 * What the origin reports for a bit flipped at cell byte @pos on backward
 * link k.  Relays cannot check, so the flip travels to the origin, which
 * finds it at the first layer whose tag covers a value it no longer sees:
 *  - seq: every hop's nonce follows from it and the prefix rebuilt for
 *    layer 2 uses all later hops' keystreams: hop 1 for link 1, else hop 2;
 *  - body bytes [16t, 16t + 16), 1 <= t <= k - 2: after t more hops they
 *    are the prefix hop k - t dropped and the origin rebuilds: hop k - t;
 *  - body bytes [0, 16) with k >= 2: hop k - 1 drops them, no effect;
 *  - the rest of the body and the tag: hop k.
 */
static int back_blame(int k, int pos)
{
	int t = (pos - HDR) / T;

	if (pos < HDR)
		return k > 1 ? -2 : -1;
	if (pos >= HDR + B || k == 1 || t >= k - 1)
		return -k;
	return t ? -(k - t) : 0;
}

TEST_F(circuit, backward_tamper)
{
	u8 cells[MAQ_MAX_HOPS + 1][CELL], p[B];
	int k, pos, bit, n = self->n, rc;

	circ_randomize(self, 1);
	backward_path(_metadata, self, cells);
	for (k = 1; k <= n; k++) {
		for (pos = MAQ_CID_LEN; pos < CELL; pos++) {
			bit = pos * 8 + randombytes_uniform(8);
			rc = back_tampered(_metadata, self, cells, k, bit,
					   n, 0, p);
			ASSERT_EQ(back_blame(k, pos), rc)
				TH_LOG("link %d byte %d", k, pos);
			if (!rc) {
				ASSERT_EQ(0, memcmp(p + H, self->payload + H,
						    B - H));
			}
		}
	}
}

/*
 * As back_blame(), for control from hop @m.  Its key has one slot, so its
 * layer does not cover the phase bit: flipped on link m, every layer
 * before it is applied by the relays and stripped by the origin in the
 * other slot alike, and the cell opens intact.  The origin takes no phase
 * from control cells (PROTOCOL 6), so the flip changes nothing.
 */
static int ctl_blame(int m, int k, int bit)
{
	if (k == m && bit == MAQ_CID_LEN * 8 + 7)
		return 0;
	return back_blame(k, bit / 8);
}

/*
 * Relay m sends control back with its control key and a random counter in
 * [2^62, 2^63); the origin opens it with src = m.  Opened as data from the
 * terminus it fails at hop min(m, 2): layer 2's rebuilt prefix already
 * depends on every later hop, so the failure does not name m and the origin
 * has to try each src in turn.
 */
TEST_F(circuit, backward_control)
{
	u8 cells[MAQ_MAX_HOPS + 1][CELL], p[B];
	int m, i, iter, bit, n = self->n, rc;
	u64 r;

	for (iter = 0; iter < 4; iter++) {
		circ_randomize(self, iter);
		for (m = 1; m <= n; m++) {
			r = self->phase | (1ULL << 62) |
			    (rnd64() & ((1ULL << 62) - 1));
			back_create(_metadata, self, m, self->hop[m].ctl_back,
				    r, cells[m]);
			for (i = m - 1; i >= 1; i--)
				relay_back(_metadata, self, i, cells[i + 1],
					   cells[i]);

			ASSERT_EQ(0, origin_open(_metadata, self, cells[1], m,
						 1, p)) TH_LOG("m %d", m);
			for (i = 0; i < H; i++)
				ASSERT_EQ(0, p[i]);
			ASSERT_EQ(0, memcmp(p + H, self->payload + H, B - H));

			ASSERT_EQ(m > 1 ? -2 : -1,
				  origin_open(_metadata, self, cells[1], n, 0,
					      p));

			/* tampered on a link behind m */
			i = 1 + randombytes_uniform(m);
			bit = MAQ_CID_LEN * 8 +
			      randombytes_uniform((CELL - MAQ_CID_LEN) * 8);
			rc = back_tampered(_metadata, self, cells, i, bit, m,
					   1, p);
			ASSERT_EQ(ctl_blame(m, i, bit), rc)
				TH_LOG("m %d link %d bit %d", m, i, bit);

			/* the phase bit: harmless on link m, found before */
			for (i = 1; i <= m; i++) {
				bit = MAQ_CID_LEN * 8 + 7;
				rc = back_tampered(_metadata, self, cells, i,
						   bit, m, 1, p);
				ASSERT_EQ(ctl_blame(m, i, bit), rc)
					TH_LOG("m %d link %d", m, i);
				if (rc)
					continue;
				for (bit = 0; bit < H; bit++)
					ASSERT_EQ(0, p[bit]);
				ASSERT_EQ(0, memcmp(p + H, self->payload + H,
						    B - H));
			}
		}
	}
}

TEST_HARNESS_MAIN
