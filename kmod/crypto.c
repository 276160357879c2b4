// SPDX-License-Identifier: GPL-2.0
/*
 * ChaCha20 and Poly1305 for include/maquis/layer.h, from the kernel's crypto
 * library (SIMD where the CPU has it), and a known-answer test of one layer.
 */

#include <linux/slab.h>
#include <linux/unaligned.h>
#include <crypto/chacha.h>
#include <crypto/poly1305.h>

#include "crypto.h"

void maq_chacha20(u8 *dst, const u8 *src, size_t len,
		  const u8 key[MAQ_KEY_LEN], u64 nonce, u32 counter)
{
	u32 state[CHACHA_STATE_WORDS], k[(CHACHA_KEY_SIZE / 4)];
	u8 iv[CHACHA_IV_SIZE];
	int i;

	if (!len)
		return;
	for (i = 0; i < (CHACHA_KEY_SIZE / 4); i++)
		k[i] = get_unaligned_le32(key + 4 * i);
	/* IV: le32 block counter || 4 zero bytes || le64 nonce */
	put_unaligned_le32(counter, iv);
	put_unaligned_le32(0, iv + 4);
	put_unaligned_le64(nonce, iv + 8);
	chacha_init(state, k, iv);
	chacha_crypt(state, dst, src, len, 20);
	memzero_explicit(state, sizeof(state));
	memzero_explicit(k, sizeof(k));
}

void maq_poly1305_aead_ad(u8 tag[MAQ_TAG_LEN], const u8 *ad, size_t adlen,
			  const u8 *ct, size_t len, const u8 otk[32])
{
	static const u8 zero[16];
	struct poly1305_desc_ctx desc;
	u8 lens[16];

	put_unaligned_le64(adlen, lens);
	put_unaligned_le64(len, lens + 8);
	poly1305_init(&desc, otk);
	if (adlen) {
		poly1305_update(&desc, ad, adlen);
		poly1305_update(&desc, zero, -adlen & 15);
	}
	poly1305_update(&desc, ct, len);
	poly1305_update(&desc, zero, -len & 15);
	poly1305_update(&desc, lens, sizeof(lens));
	poly1305_final(&desc, tag);
	memzero_explicit(&desc, sizeof(desc));
}

void maq_poly1305_aead(u8 tag[MAQ_TAG_LEN], const u8 *ct, size_t len,
		       const u8 otk[32])
{
	maq_poly1305_aead_ad(tag, NULL, 0, ct, len, otk);
}

/*
 * One layer against libsodium's crypto_aead_chacha20poly1305_ietf: key
 * 00..1f, nonce 0x0123456789abcdef, plaintext byte i = 7i + 3.
 */
static const u8 maq_kat_head[16] = {
	0x69, 0xab, 0x72, 0x1f, 0xf6, 0x38, 0x4c, 0xa2,
	0x24, 0x0f, 0x0f, 0x32, 0xa2, 0x0d, 0x92, 0xc8,
};

static const u8 maq_kat_tail[16] = {
	0x83, 0xa3, 0xb9, 0x97, 0x17, 0x7b, 0xc8, 0xe1,
	0xc5, 0xca, 0xae, 0xf9, 0x84, 0x00, 0x73, 0x7d,
};

static const u8 maq_kat_tag[16] = {
	0x41, 0xe9, 0x3c, 0x02, 0x78, 0x57, 0x3b, 0x89,
	0x3b, 0x7b, 0xd6, 0xc1, 0x18, 0x63, 0x2f, 0xf5,
};

static const u8 maq_kat_filler[16] = {
	0x44, 0xd6, 0x66, 0x43, 0x95, 0xd5, 0xa0, 0x1f,
	0x84, 0xb8, 0x2f, 0x1f, 0x0c, 0x87, 0x70, 0x11,
};

int maq_crypto_selftest(void)
{
	const u64 nonce = 0x0123456789abcdefULL;
	u8 key[MAQ_KEY_LEN], tag[MAQ_TAG_LEN], filler[MAQ_SHIFT];
	int i, ret = -EINVAL;
	u8 *body;

	body = kmalloc(MAQ_BODY_LEN, GFP_KERNEL);
	if (!body)
		return -ENOMEM;
	for (i = 0; i < MAQ_KEY_LEN; i++)
		key[i] = i;
	for (i = 0; i < MAQ_BODY_LEN; i++)
		body[i] = (u8)(i * 7 + 3);

	maq_layer_seal(body, tag, key, nonce);
	if (memcmp(body, maq_kat_head, 16) ||
	    memcmp(body + MAQ_BODY_LEN - 16, maq_kat_tail, 16) ||
	    memcmp(tag, maq_kat_tag, MAQ_TAG_LEN))
		goto out;
	tag[0] ^= 1;
	if (!maq_layer_open(body, tag, key, nonce, filler))
		goto out;
	tag[0] ^= 1;
	if (maq_layer_open(body, tag, key, nonce, filler) ||
	    memcmp(filler, maq_kat_filler, MAQ_SHIFT))
		goto out;
	for (i = 0; i < MAQ_BODY_LEN; i++)
		if (body[i] != (u8)(i * 7 + 3))
			goto out;
	ret = 0;
out:
	kfree(body);
	return ret;
}
