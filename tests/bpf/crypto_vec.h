/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Request layout of crypto_vec.bpf.c, shared with crypto.c: the XDP frame
 * starts with this header, input data follows it, results overwrite it.
 */
#ifndef _MAQ_CRYPTO_VEC_H
#define _MAQ_CRYPTO_VEC_H

enum maq_vec_op {
	MAQ_VEC_BLOCK = 1,	/* ChaCha20 block @ctr -> 64 bytes */
	MAQ_VEC_XOR,		/* ChaCha20 from block @ctr over data (x64) */
	MAQ_VEC_POLY,		/* Poly1305 MAC, key = @key, over data */
	MAQ_VEC_SEAL,		/* relay seal of a 1408-byte body -> body, tag */
	MAQ_VEC_OPEN,		/* relay open of body || tag -> body, filler */
};

struct maq_vec_req {
	__u32 op;
	__u32 len;		/* data bytes after this header */
	__u32 ctr;		/* first ChaCha20 block counter */
	__s32 result;		/* out: 1 verified, 0 not, < 0 error */
	__u8 key[32];
	__u8 nonce[12];		/* SEAL/OPEN use le64(nonce[4..12)) */
	__u32 pad;
};

#define MAQ_VEC_DATA_MAX	1440	/* the scratch from MAQ_BODY_OFF on */

#endif
