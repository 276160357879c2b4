/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace side of include/maquis/layer.h: the primitives it needs, provided
 * by libsodium in crypto.c, and then layer.h itself.  Userspace includes this
 * file (never layer.h directly) to get the layer transform and the onion.
 * Call maq_crypto_init() once before anything else.
 */
#ifndef _MAQUIS_DAEMON_CRYPTO_H
#define _MAQUIS_DAEMON_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#include <maquis/wire.h>

/* sodium_init(); 0 on success (also when already initialised), else -1. */
int maq_crypto_init(void);

/* IETF ChaCha20, nonce = 4 zero bytes || le64(nonce), from block @counter;
 * @dst may equal @src.
 */
void maq_chacha20(u8 *dst, const u8 *src, size_t len,
		  const u8 key[MAQ_KEY_LEN], u64 nonce, u32 counter);

/* The RFC 8439 AEAD tag (section 2.8) under one-time key @otk, over
 * @ad || pad16 || @ct || pad16 || le64(adlen) || le64(len).
 */
void maq_poly1305_aead_ad(u8 tag[MAQ_TAG_LEN], const u8 *ad, size_t adlen,
			  const u8 *ct, size_t len, const u8 otk[32]);

/* The same without associated data, as layer.h wants it. */
void maq_poly1305_aead(u8 tag[MAQ_TAG_LEN], const u8 *ct, size_t len,
		       const u8 otk[32]);

/* Constant time; true when the two 16-byte tags are equal. */
int maq_tag_equal(const u8 *a, const u8 *b);

/* Zero memory in a way the compiler cannot elide. */
void maq_wipe(void *p, size_t len);

#include <maquis/layer.h>

#endif /* _MAQUIS_DAEMON_CRYPTO_H */
