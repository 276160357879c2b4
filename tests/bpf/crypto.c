// SPDX-License-Identifier: GPL-2.0
/*
 * ChaCha20 and Poly1305 of bpf/chacha_poly.bpf.h against RFC 8439 and
 * libsodium, through the test-only XDP program crypto_vec.bpf.c.
 */
#include <ctype.h>

#include "maq_test.h"
#include "crypto_vec.h"
#include "crypto_vec.skel.h"

#include "kselftest_harness.h"

#define VEC_FRAME	(sizeof(struct maq_vec_req) + MAQ_VEC_DATA_MAX)

static const char sunscreen[] =
	"Ladies and Gentlemen of the class of '99: If I could offer you only "
	"one tip for the future, sunscreen would be it.";

/* Run one request; the answer (data after the header) lands in @out. */
static int vec(int fd, __u32 op, const __u8 key[32], const __u8 nonce[12],
	       __u32 ctr, const void *data, __u32 len, void *out, size_t outlen,
	       __u32 *ns, int repeat)
{
	static __u8 frame[VEC_FRAME];
	struct maq_vec_req *req = (void *)frame;
	struct xdp_result r;

	memset(frame, 0, sizeof(frame));
	req->op = op;
	req->len = len;
	req->ctr = ctr;
	req->result = -100;
	memcpy(req->key, key, 32);
	if (nonce)
		memcpy(req->nonce, nonce, 12);
	if (len)
		memcpy(frame + sizeof(*req), data, len);
	xdp_run(fd, frame, sizeof(frame), 0, repeat, &r);
	if (r.err || r.verdict != XDP_TX || r.len != sizeof(frame))
		return -1000 - (r.err ? -r.err : (int)r.verdict);
	if (out)
		memcpy(out, r.data + sizeof(*req), outlen);
	if (ns)
		*ns = r.duration;
	return ((struct maq_vec_req *)r.data)->result;
}

/* Parse pairs of hex digits, skipping anything else; returns bytes parsed. */
static size_t hex(const char *s, __u8 *out, size_t n)
{
	size_t i = 0;

	while (*s && i < n) {
		if (isxdigit(s[0]) && isxdigit(s[1])) {
			sscanf(s, "%2hhx", &out[i++]);
			s += 2;
		} else {
			s++;
		}
	}
	return i;
}

static void seq_bytes(__u8 *p, size_t n, __u8 start)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = start + i;
}

/* maquis nonce layout: 4 zero bytes || le64(n) */
static void maq_nonce(__u8 out[12], __u64 n)
{
	int i;

	memset(out, 0, 4);
	for (i = 0; i < 8; i++)
		out[4 + i] = n >> (8 * i);
}

FIXTURE(crypto) {
	struct maq_crypto_vec *skel;
	int fd;
};

FIXTURE_SETUP(crypto)
{
	const char *why = bpf_unavailable();
	int err;

	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, maq_crypto_init());
	self->skel = maq_crypto_vec__open();
	ASSERT_NE(NULL, self->skel);
	err = maq_crypto_vec__load(self->skel);
	if (err && load_failure_is_env(err))
		SKIP(return, "cannot load BPF: %s", strerror(-err));
	ASSERT_EQ(0, err);
	self->fd = bpf_program__fd(self->skel->progs.maq_crypto_vec);
}

FIXTURE_TEARDOWN(crypto)
{
	maq_crypto_vec__destroy(self->skel);
}

/* RFC 8439 2.3.2: the block function. */
TEST_F(crypto, rfc8439_block)
{
	__u8 key[32], nonce[12], want[64], got[64];

	seq_bytes(key, 32, 0);
	hex("00 00 00 09 00 00 00 4a 00 00 00 00", nonce, 12);
	hex("10 f1 e7 e4 d1 3b 59 15 50 0f dd 1f a3 20 71 c4"
	    "c7 d1 f4 c7 33 c0 68 03 04 22 aa 9a c3 d4 6c 4e"
	    "d2 82 64 46 07 9f aa 09 14 c2 d7 05 d9 8b 02 a2"
	    "b5 12 9c d1 de 16 4e b9 cb d0 83 e8 a2 50 3c 4e", want, 64);
	ASSERT_EQ(0, vec(self->fd, MAQ_VEC_BLOCK, key, nonce, 1, NULL, 0,
			 got, 64, NULL, 1));
	EXPECT_EQ(0, memcmp(want, got, 64));
}

/* RFC 8439 2.4.2: encryption from block 1 (114 bytes, padded to 128). */
TEST_F(crypto, rfc8439_encrypt)
{
	__u8 key[32], nonce[12], want[114], buf[128] = {};

	seq_bytes(key, 32, 0);
	hex("00 00 00 00 00 00 00 4a 00 00 00 00", nonce, 12);
	hex("6e 2e 35 9a 25 68 f9 80 41 ba 07 28 dd 0d 69 81"
	    "e9 7e 7a ec 1d 43 60 c2 0a 27 af cc fd 9f ae 0b"
	    "f9 1b 65 c5 52 47 33 ab 8f 59 3d ab cd 62 b3 57"
	    "16 39 d6 24 e6 51 52 ab 8f 53 0c 35 9f 08 61 d8"
	    "07 ca 0d bf 50 0d 6a 61 56 a3 8e 08 8a 22 b6 5e"
	    "52 bc 51 4d 16 cc f8 06 81 8c e9 1a b7 79 37 36"
	    "5a f9 0b bf 74 a3 5b e6 b4 0b 8e ed f2 78 5e 42"
	    "87 4d", want, 114);
	ASSERT_EQ(114, strlen(sunscreen));
	memcpy(buf, sunscreen, 114);
	ASSERT_EQ(0, vec(self->fd, MAQ_VEC_XOR, key, nonce, 1, buf, 128,
			 buf, 128, NULL, 1));
	EXPECT_EQ(0, memcmp(want, buf, 114));
}

/* RFC 8439 2.5.2 and the edge cases of appendix A.3 (carries, h >= p). */
TEST_F(crypto, rfc8439_poly1305)
{
	static const struct {
		const char *key, *msg, *tag;
	} v[] = {
		{ "85 d6 be 78 57 55 6d 33 7f 44 52 fe 42 d5 06 a8"
		  "01 03 80 8a fb 0d b2 fd 4a bf f6 af 41 49 f5 1b",
		  NULL, "a8 06 1d c1 30 51 36 c6 c2 2b 8b af 0c 01 27 a9" },
		/* A.3 #5 */
		{ "02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
		  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
		  "ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff",
		  "03 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" },
		/* #6 */
		{ "02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
		  "ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff",
		  "02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
		  "03 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" },
		/* #7 */
		{ "01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
		  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
		  "ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff"
		  "f0 ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff"
		  "11 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
		  "05 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" },
		/* #8 */
		{ "01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
		  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
		  "ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff"
		  "fb fe fe fe fe fe fe fe fe fe fe fe fe fe fe fe"
		  "01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01",
		  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" },
		/* #9 */
		{ "02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
		  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
		  "fd ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff",
		  "fa ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff" },
		/* #10 */
		{ "01 00 00 00 00 00 00 00 04 00 00 00 00 00 00 00"
		  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
		  "e3 35 94 d7 50 5e 43 b9 00 00 00 00 00 00 00 00"
		  "33 94 d7 50 5e 43 79 cd 01 00 00 00 00 00 00 00"
		  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
		  "01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
		  "14 00 00 00 00 00 00 00 55 00 00 00 00 00 00 00" },
		/* #11 */
		{ "01 00 00 00 00 00 00 00 04 00 00 00 00 00 00 00"
		  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
		  "e3 35 94 d7 50 5e 43 b9 00 00 00 00 00 00 00 00"
		  "33 94 d7 50 5e 43 79 cd 01 00 00 00 00 00 00 00"
		  "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
		  "13 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" },
	};
	__u8 key[32], msg[128], want[16], got[16], ref[16];
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		hex(v[i].key, key, 32);
		if (v[i].msg) {
			len = hex(v[i].msg, msg, sizeof(msg));
		} else {
			len = strlen("Cryptographic Forum Research Group");
			memcpy(msg, "Cryptographic Forum Research Group", len);
		}
		hex(v[i].tag, want, 16);
		ASSERT_EQ(0, vec(self->fd, MAQ_VEC_POLY, key, NULL, 0, msg, len,
				 got, 16, NULL, 1));
		crypto_onetimeauth_poly1305(ref, msg, len, key);
		EXPECT_EQ(0, memcmp(want, ref, 16))
			TH_LOG("vector %zu: libsodium disagrees", i);
		EXPECT_EQ(0, memcmp(want, got, 16)) TH_LOG("vector %zu", i);
	}
}

/*
 * RFC 8439 2.8.2, the AEAD with associated data, composed from the BPF
 * primitives: one-time key from block 0, encryption from block 1, the MAC
 * over aad || pad || ct || pad || lengths.
 */
TEST_F(crypto, rfc8439_aead)
{
	__u8 key[32], nonce[12], aad[12], ct[128] = {}, want_ct[114], otk[64];
	__u8 mac[16 + 128 + 16] = {}, want_tag[16], tag[16];
	size_t n = 0;
	int i;

	for (i = 0; i < 32; i++)
		key[i] = 0x80 + i;
	hex("07 00 00 00 40 41 42 43 44 45 46 47", nonce, 12);
	hex("50 51 52 53 c0 c1 c2 c3 c4 c5 c6 c7", aad, 12);
	hex("d3 1a 8d 34 64 8e 60 db 7b 86 af bc 53 ef 7e c2"
	    "a4 ad ed 51 29 6e 08 fe a9 e2 b5 a7 36 ee 62 d6"
	    "3d be a4 5e 8c a9 67 12 82 fa fb 69 da 92 72 8b"
	    "1a 71 de 0a 9e 06 0b 29 05 d6 a5 b6 7e cd 3b 36"
	    "92 dd bd 7f 2d 77 8b 8c 98 03 ae e3 28 09 1b 58"
	    "fa b3 24 e4 fa d6 75 94 55 85 80 8b 48 31 d7 bc"
	    "3f f4 de f0 8e 4b 7a 9d e5 76 d2 65 86 ce c6 4b"
	    "61 16", want_ct, 114);
	hex("1a e1 0b 59 4f 09 e2 6a 7e 90 2e cb d0 60 06 91", want_tag, 16);

	ASSERT_EQ(0, vec(self->fd, MAQ_VEC_BLOCK, key, nonce, 0, NULL, 0,
			 otk, 64, NULL, 1));
	memcpy(ct, sunscreen, 114);
	ASSERT_EQ(0, vec(self->fd, MAQ_VEC_XOR, key, nonce, 1, ct, 128,
			 ct, 128, NULL, 1));
	EXPECT_EQ(0, memcmp(want_ct, ct, 114));

	memcpy(mac, aad, 12);
	n = 16;
	memcpy(mac + n, ct, 114);
	n += 128;			/* 114 padded to 16: 128 */
	memset(mac + 16 + 114, 0, 14);
	mac[n] = 12;			/* le64(aad len) */
	mac[n + 8] = 114;		/* le64(ct len) */
	n += 16;
	ASSERT_EQ(0, vec(self->fd, MAQ_VEC_POLY, otk, NULL, 0, mac, n,
			 tag, 16, NULL, 1));
	EXPECT_EQ(0, memcmp(want_tag, tag, 16));
}

/* Random keys, nonces, counters, lengths: keystream and MAC vs libsodium. */
TEST_F(crypto, random_vs_libsodium)
{
	__u8 key[32], nonce[12], buf[MAQ_VEC_DATA_MAX], ref[MAQ_VEC_DATA_MAX];
	__u8 got[16], want[16];
	__u32 ctr, len;
	int i;

	for (i = 0; i < 64; i++) {
		randombytes_buf(key, 32);
		randombytes_buf(nonce, 12);
		len = 64 * (1 + randombytes_uniform(22));
		/* the highest counters that do not wrap (libsodium aborts) */
		ctr = i < 4 ? (__u32)((1ULL << 32) - len / 64 - i) :
			randombytes_uniform(1u << 20);
		randombytes_buf(buf, len);
		crypto_stream_chacha20_ietf_xor_ic(ref, buf, len, nonce, ctr, key);
		ASSERT_EQ(0, vec(self->fd, MAQ_VEC_XOR, key, nonce, ctr, buf,
				 len, buf, len, NULL, 1));
		EXPECT_EQ(0, memcmp(ref, buf, len)) TH_LOG("xor len %u ctr %u", len, ctr);
	}
	for (i = 0; i < 400; i++) {
		randombytes_buf(key, 32);
		len = i < MAQ_VEC_DATA_MAX / 4 ? i :
			randombytes_uniform(MAQ_VEC_DATA_MAX + 1);
		randombytes_buf(buf, len);
		if (i % 4 == 1)		/* all ones: longest carry chains */
			memset(buf, 0xff, len);
		if (i % 8 == 3)
			memset(key, 0xff, 16);
		crypto_onetimeauth_poly1305(want, buf, len, key);
		ASSERT_EQ(0, vec(self->fd, MAQ_VEC_POLY, key, NULL, 0, buf, len,
				 got, 16, NULL, 1));
		EXPECT_EQ(0, memcmp(want, got, 16)) TH_LOG("poly len %u", len);
	}
}

/*
 * The relay's layer transform (maq_layer_seal/verify/decrypt in BPF) is
 * crypto_aead_chacha20poly1305_ietf with no AD and the maquis nonce; the open
 * side also yields the filler, block 0 bytes 32..48.
 */
TEST_F(crypto, layer_seal_open)
{
	__u8 key[32], nonce[12], plain[MAQ_BODY_LEN], ref[MAQ_BODY_LEN + 16];
	__u8 out[MAQ_BODY_LEN + 16], b0[64] = {};
	unsigned long long taglen;
	__u64 ctr;
	__u32 ns;
	int i;

	for (i = 0; i < 16; i++) {
		randombytes_buf(key, 32);
		randombytes_buf(plain, sizeof(plain));
		ctr = (i == 0 ? MAQ_SEQ_CTR_MASK : randombytes_random() |
		       (__u64)randombytes_random() << 32) & MAQ_SEQ_CTR_MASK;
		maq_nonce(nonce, ctr);
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(
			ref, ref + MAQ_BODY_LEN, &taglen, plain, sizeof(plain),
			NULL, 0, NULL, nonce, key);

		ASSERT_EQ(0, vec(self->fd, MAQ_VEC_SEAL, key, nonce, 0, plain,
				 MAQ_BODY_LEN, out, sizeof(out), NULL, 1));
		EXPECT_EQ(0, memcmp(ref, out, sizeof(out)));

		ASSERT_EQ(1, vec(self->fd, MAQ_VEC_OPEN, key, nonce, 0, ref,
				 sizeof(ref), out, sizeof(out), NULL, 1));
		EXPECT_EQ(0, memcmp(plain, out, MAQ_BODY_LEN));
		crypto_stream_chacha20_ietf_xor_ic(b0, b0, 64, nonce, 0, key);
		EXPECT_EQ(0, memcmp(b0 + MAQ_FILLER_OFF, out + MAQ_BODY_LEN, 16));
		memset(b0, 0, sizeof(b0));

		/* any flipped bit fails and leaves the body as it was */
		ref[randombytes_uniform(sizeof(ref))] ^= 1 << randombytes_uniform(8);
		ASSERT_EQ(0, vec(self->fd, MAQ_VEC_OPEN, key, nonce, 0, ref,
				 sizeof(ref), out, sizeof(out), NULL, 1));
		EXPECT_EQ(0, memcmp(ref, out, MAQ_BODY_LEN));
	}

	ASSERT_EQ(0, vec(self->fd, MAQ_VEC_SEAL, key, nonce, 0, plain,
			 MAQ_BODY_LEN, NULL, 0, &ns, 2000));
	TH_LOG("BPF seal of one 1408-byte body: %u ns", ns);
}

TEST_HARNESS_MAIN
