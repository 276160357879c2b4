// SPDX-License-Identifier: GPL-2.0
/*
 * libsodium glue for include/maquis/layer.h (see crypto.h).
 */
#include <sodium.h>

#include "crypto.h"

/*
 * libsodium is not instrumented, so under AddressSanitizer a buffer overrun
 * by layer.h would go unseen inside it.  Check every range we hand over.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MAQ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MAQ_ASAN 1
#endif

#ifdef MAQ_ASAN
#include <sanitizer/asan_interface.h>

static void maq_asan_range(const void *p, size_t len)
{
	const volatile u8 *bad = __asan_region_is_poisoned((void *)p, len);

	if (bad)
		(void)*bad;	/* instrumented: ASan reports it and aborts */
}
#else
static inline void maq_asan_range(const void *p, size_t len)
{
	(void)p;
	(void)len;
}
#endif

int maq_crypto_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

static void maq_put_le64(u8 *p, u64 v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (u8)(v >> (8 * i));
}

void maq_chacha20(u8 *dst, const u8 *src, size_t len,
		  const u8 key[MAQ_KEY_LEN], u64 nonce, u32 counter)
{
	u8 n[crypto_stream_chacha20_ietf_NONCEBYTES] = { 0 };

	if (!len)
		return;
	maq_asan_range(src, len);
	maq_asan_range(dst, len);
	maq_asan_range(key, MAQ_KEY_LEN);
	maq_put_le64(n + 4, nonce);
	crypto_stream_chacha20_ietf_xor_ic(dst, src, len, n, counter, key);
}

void maq_poly1305_aead_ad(u8 tag[MAQ_TAG_LEN], const u8 *ad, size_t adlen,
			  const u8 *ct, size_t len, const u8 otk[32])
{
	static const u8 zero[16];
	crypto_onetimeauth_poly1305_state st;
	u8 lens[16];

	maq_asan_range(ad, adlen);
	maq_asan_range(ct, len);
	maq_asan_range(otk, 32);
	maq_asan_range(tag, MAQ_TAG_LEN);
	maq_put_le64(lens, adlen);
	maq_put_le64(lens + 8, len);
	crypto_onetimeauth_poly1305_init(&st, otk);
	if (adlen) {
		crypto_onetimeauth_poly1305_update(&st, ad, adlen);
		crypto_onetimeauth_poly1305_update(&st, zero, -adlen & 15);
	}
	crypto_onetimeauth_poly1305_update(&st, ct, len);
	crypto_onetimeauth_poly1305_update(&st, zero, -len & 15);
	crypto_onetimeauth_poly1305_update(&st, lens, sizeof(lens));
	crypto_onetimeauth_poly1305_final(&st, tag);
	sodium_memzero(&st, sizeof(st));
}

void maq_poly1305_aead(u8 tag[MAQ_TAG_LEN], const u8 *ct, size_t len,
		       const u8 otk[32])
{
	maq_poly1305_aead_ad(tag, NULL, 0, ct, len, otk);
}

int maq_tag_equal(const u8 *a, const u8 *b)
{
	maq_asan_range(a, MAQ_TAG_LEN);
	maq_asan_range(b, MAQ_TAG_LEN);
	return sodium_memcmp(a, b, MAQ_TAG_LEN) == 0;
}

void maq_wipe(void *p, size_t len)
{
	maq_asan_range(p, len);
	sodium_memzero(p, len);
}
