/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The primitives include/maquis/layer.h takes from its includer, on top of
 * the kernel's ChaCha20 and Poly1305 libraries, and then layer.h itself.
 * Files of the module include this, never layer.h directly.
 */
#ifndef _MAQ_CRYPTO_H
#define _MAQ_CRYPTO_H

#include <linux/types.h>
#include <linux/string.h>
#include <crypto/utils.h>

#include <maquis/wire.h>

void maq_chacha20(u8 *dst, const u8 *src, size_t len,
		  const u8 key[MAQ_KEY_LEN], u64 nonce, u32 counter);
void maq_poly1305_aead(u8 tag[MAQ_TAG_LEN], const u8 *ct, size_t len,
		       const u8 otk[32]);
void maq_poly1305_aead_ad(u8 tag[MAQ_TAG_LEN], const u8 *ad, size_t adlen,
			  const u8 *ct, size_t len, const u8 otk[32]);

static inline int maq_tag_equal(const u8 *a, const u8 *b)
{
	return !crypto_memneq(a, b, MAQ_TAG_LEN);
}

static inline void maq_wipe(void *p, size_t len)
{
	memzero_explicit(p, len);
}

#include <maquis/layer.h>

int maq_crypto_selftest(void);

#endif /* _MAQ_CRYPTO_H */
