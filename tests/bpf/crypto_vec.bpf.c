// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only XDP program exposing the primitives of bpf/chacha_poly.bpf.h to
 * crypto.c: the frame carries a struct maq_vec_req and the input, the
 * program answers in place and returns XDP_TX.  Running them through XDP
 * test_run exercises the same load/store path as the relay.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "maquis_common.h"
#include "chacha_poly.bpf.h"
#include "crypto_vec.h"

char LICENSE[] SEC("license") = "GPL";

#define REQ	sizeof(struct maq_vec_req)

SEC("xdp")
int maq_crypto_vec(struct xdp_md *ctx)
{
	struct maq_scratch *s = maq_scratch_get();
	struct maq_vec_req req;
	__u64 nonce;
	__u32 len;
	int rc = -1;

	if (!s || bpf_xdp_load_bytes(ctx, 0, &req, REQ))
		return XDP_ABORTED;
	len = req.len;
	if (len > MAQ_VEC_DATA_MAX)
		return XDP_ABORTED;
	if (len && bpf_xdp_load_bytes(ctx, REQ, s->buf + MAQ_BODY_OFF, len))
		return XDP_ABORTED;
	nonce = *(__u64 *)&req.nonce[4];

	switch (req.op) {
	case MAQ_VEC_BLOCK:
	case MAQ_VEC_XOR:
		/* the full 96-bit nonce, as the RFC vectors have it */
		maq_chacha_setup(s, req.key, 0);
		s->st[13] = maq_le32(*(__u32 *)&req.nonce[0]);
		s->st[14] = maq_le32(*(__u32 *)&req.nonce[4]);
		s->st[15] = maq_le32(*(__u32 *)&req.nonce[8]);
		if (req.op == MAQ_VEC_BLOCK) {
			rc = maq_cc_block(req.ctr);
			if (!rc && bpf_xdp_store_bytes(ctx, REQ, s->b0, 64))
				rc = -1;
			break;
		}
		if (len % 64 || !len)
			break;
		rc = maq_cc_xor(len / 64, req.ctr);
		if (!rc && bpf_xdp_store_bytes(ctx, REQ, s->buf + MAQ_BODY_OFF, len))
			rc = -1;
		break;
	case MAQ_VEC_POLY:
		__builtin_memcpy(s->b0, req.key, 32);
		rc = maq_poly(len, 0);
		if (!rc && bpf_xdp_store_bytes(ctx, REQ, s->tag, MAQ_TAG_LEN))
			rc = -1;
		break;
	case MAQ_VEC_SEAL:
		if (len != MAQ_BODY_LEN)
			break;
		rc = maq_layer_seal(s, req.key, nonce);
		maq_chacha_wipe(s);
		if (!rc && bpf_xdp_store_bytes(ctx, REQ, s->buf + MAQ_BODY_OFF,
					       MAQ_BODY_LEN + MAQ_TAG_LEN))
			rc = -1;
		break;
	case MAQ_VEC_OPEN:
		if (len != MAQ_BODY_LEN + MAQ_TAG_LEN)
			break;
		rc = maq_layer_verify(s, req.key, nonce);
		if (rc == 1) {
			/* filler first: decrypting does not touch b0 */
			__builtin_memcpy(s->buf + MAQ_BODY_OFF + MAQ_BODY_LEN,
					 s->b0 + MAQ_FILLER_OFF, MAQ_SHIFT);
			if (maq_layer_decrypt())
				rc = -1;
		}
		maq_chacha_wipe(s);
		if (rc >= 0 && bpf_xdp_store_bytes(ctx, REQ, s->buf + MAQ_BODY_OFF,
						   MAQ_BODY_LEN + MAQ_SHIFT))
			rc = -1;
		break;
	}
	req.result = rc;
	if (bpf_xdp_store_bytes(ctx, 0, &req, REQ))
		return XDP_ABORTED;
	return XDP_TX;
}
