// SPDX-License-Identifier: GPL-2.0
/*
 * The shared cell transform (include/maquis/layer.h through crypto.h) on
 * arbitrary cells, with fixed keys.  The input, zero padded to
 * MAQ_CELL_SIZE, is used twice:
 *
 *  - as a received cell: maq_relay_fwd(), maq_layer_open() and
 *    maq_onion_open() (n = 1 + byte 0 % 8 hops, src = 1 + byte 1 % n) must
 *    refuse it and leave it untouched.  Acceptance would be a forgery: a
 *    Poly1305 tag guessed with probability 2^-106 or worse, so it aborts.
 *  - as a payload, with its header's seq (phase bit and counter, so
 *    wrap-arounds are reached): onion-sealed for n hops, relayed by
 *    maq_relay_fwd() and opened by the terminus; then sealed by the
 *    terminus, relayed by maq_relay_back() and opened by maq_onion_open().
 *    Both must deliver the payload; one flipped bit (chosen by bytes 2..3)
 *    on link 1 must make the origin refuse.
 *
 * Buffers are heap blocks of exactly the size layer.h may touch, so ASan
 * sees any overrun.
 */
#include <string.h>

#include "fuzz.h"

#define HDR	MAQ_HDR_LEN
#define B	MAQ_BODY_LEN
#define T	MAQ_TAG_LEN
#define CELL	MAQ_CELL_SIZE
#define MASK	MAQ_SEQ_CTR_MASK

static u8 fkey[MAQ_MAX_HOPS][MAQ_KEY_LEN], bkey[MAQ_MAX_HOPS][MAQ_KEY_LEN];
static u64 delta[MAQ_MAX_HOPS];
static u8 *fbuf, *bbuf, *obuf, *tbuf;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int i;

	(void)argc;
	(void)argv;
	fuzz_init();
	for (i = 0; i < MAQ_MAX_HOPS; i++) {
		memset(fkey[i], 0x80 + i, MAQ_KEY_LEN);
		memset(bkey[i], 0xc0 + i, MAQ_KEY_LEN);
		/* large steps, so that counters wrap within a path */
		delta[i] = ((u64)(i + 1) * 0x9e3779b97f4a7c15ULL) & MASK;
	}
	fbuf = malloc(T + CELL);
	bbuf = malloc(CELL + T);
	obuf = malloc(MAQ_PAD_LEN + B + T);
	tbuf = malloc(CELL);
	FUZZ_ASSERT(fbuf && bbuf && obuf && tbuf, "out of memory");
	return 0;
}

static void refuse(const u8 *cell)
{
	struct maq_hop_key hk[MAQ_MAX_HOPS];
	u64 seq = maq_get_be64(cell + 4);
	int i, n = 1 + cell[0] % MAQ_MAX_HOPS, src = 1 + cell[1] % n, ret;
	size_t off = maq_onion_fwd_off(n);

	memcpy(fbuf + T, cell, CELL);
	FUZZ_ASSERT(!maq_relay_fwd(fbuf + T, fkey[0], seq, 7, delta[0]),
		    "forgery: relay_fwd accepted a cell nobody sealed");
	FUZZ_ASSERT(!memcmp(fbuf + T, cell, CELL), "refused cell modified");

	memcpy(tbuf, cell, CELL);
	FUZZ_ASSERT(maq_layer_open(tbuf + HDR, tbuf + HDR + B, bkey[0],
				   seq & MASK, NULL),
		    "forgery: layer_open accepted a cell nobody sealed");
	FUZZ_ASSERT(!memcmp(tbuf, cell, CELL), "refused cell modified");

	for (i = 0; i < n; i++) {
		memcpy(hk[i].key, bkey[i], MAQ_KEY_LEN);
		hk[i].seq = (seq + (u64)i * delta[i]) & MASK;
	}
	memcpy(obuf + off, cell + HDR, B + T);
	ret = maq_onion_open(obuf, hk, n, src);
	FUZZ_ASSERT(ret < 0 && ret >= -src,
		    "forgery or bad result: onion_open (n %d src %d) = %d",
		    n, src, ret);
}

/* Origin to terminus over @n hops, the first seeing @seq. */
static void forward(const u8 *payload, u64 seq, int n)
{
	struct maq_hop_key hk[MAQ_MAX_HOPS];
	u64 s[MAQ_MAX_HOPS];
	u8 *o;
	int i;

	for (i = 0; i < n; i++) {
		s[i] = i ? maq_seq_next(s[i - 1], delta[i - 1]) : seq;
		FUZZ_ASSERT((s[i] & MAQ_SEQ_PHASE) == (seq & MAQ_SEQ_PHASE),
			    "seq_next changed the phase");
		memcpy(hk[i].key, fkey[i], MAQ_KEY_LEN);
		hk[i].seq = s[i] & MASK;
	}
	memcpy(obuf, payload, B);
	maq_onion_seal(obuf, hk, n);
	maq_cell_put_hdr(tbuf, 0x1111, s[0]);
	memcpy(tbuf + HDR, obuf + maq_onion_fwd_off(n), B + T);

	for (i = 0; i < n - 1; i++) {
		memcpy(fbuf + T, tbuf, CELL);
		o = maq_relay_fwd(fbuf + T, fkey[i], s[i], 0x2222, delta[i]);
		FUZZ_ASSERT(o == fbuf, "hop %d refused the origin's cell",
			    i + 1);
		FUZZ_ASSERT(maq_get_be64(o + 4) == s[i + 1],
			    "hop %d sent seq %llx, not %llx", i + 1,
			    (unsigned long long)maq_get_be64(o + 4),
			    (unsigned long long)s[i + 1]);
		memcpy(tbuf, o, CELL);
	}
	FUZZ_ASSERT(!maq_layer_open(tbuf + HDR, tbuf + HDR + B, fkey[n - 1],
				    s[n - 1] & MASK, NULL),
		    "terminus of %d hops refused", n);
	FUZZ_ASSERT(!memcmp(tbuf + HDR + MAQ_PAD_LEN, payload + MAQ_PAD_LEN,
			    B - MAQ_PAD_LEN),
		    "%d hops: payload damaged on the way", n);
}

/* Terminus to origin over @n hops, the terminus sending with @seq. */
static void backward(const u8 *payload, u64 seq, int n, unsigned int bit)
{
	struct maq_hop_key hk[MAQ_MAX_HOPS];
	u64 s[MAQ_MAX_HOPS];
	u8 *o;
	int i, ret;

	for (i = n - 1; i >= 0; i--)
		s[i] = i == n - 1 ? seq : maq_seq_next(s[i + 1], delta[i]);
	/* the creator's first MAQ_PAD_LEN bytes are zero (PROTOCOL 3) */
	memset(bbuf + HDR, 0, MAQ_PAD_LEN);
	memcpy(bbuf + HDR + MAQ_PAD_LEN, payload + MAQ_PAD_LEN,
	       B - MAQ_PAD_LEN);
	maq_layer_seal(bbuf + HDR, bbuf + HDR + B, bkey[n - 1],
		       s[n - 1] & MASK);
	maq_cell_put_hdr(bbuf, 0x3333, s[n - 1]);
	for (i = n - 2; i >= 0; i--) {
		o = maq_relay_back(bbuf, bkey[i], 0x4444, s[i]);
		FUZZ_ASSERT(o == bbuf + T, "relay_back moved by %td",
			    o - bbuf);
		memmove(bbuf, o, CELL);
	}
	for (i = 0; i < n; i++) {
		memcpy(hk[i].key, bkey[i], MAQ_KEY_LEN);
		hk[i].seq = s[i] & MASK;
	}
	memcpy(tbuf, bbuf, CELL);
	memcpy(obuf + maq_onion_fwd_off(n), bbuf + HDR, B + T);
	ret = maq_onion_open(obuf, hk, n, n);
	FUZZ_ASSERT(!ret, "origin of %d hops refused the terminus: %d", n,
		    ret);
	FUZZ_ASSERT(maq_all_zero(obuf, MAQ_PAD_LEN) &&
		    !memcmp(obuf + MAQ_PAD_LEN, payload + MAQ_PAD_LEN,
			    B - MAQ_PAD_LEN),
		    "%d hops back: payload damaged on the way", n);

	/* one bit flipped on link 1, in body or tag */
	bit %= (B + T) * 8;
	tbuf[HDR + bit / 8] ^= (u8)(1 << (bit % 8));
	memcpy(obuf + maq_onion_fwd_off(n), tbuf + HDR, B + T);
	ret = maq_onion_open(obuf, hk, n, n);
	FUZZ_ASSERT(ret == -1, "%d hops back: bit %u flipped, origin says %d",
		    n, bit, ret);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	static u8 cell[CELL];
	u64 seq;
	int n;

	if (size > CELL)
		return -1;	/* not a cell: keep it out of the corpus */
	memset(cell, 0, sizeof(cell));
	memcpy(cell, data, size);
	refuse(cell);

	seq = maq_get_be64(cell + 4);
	n = 1 + cell[0] % MAQ_MAX_HOPS;
	forward(cell + HDR, seq, n);
	backward(cell + HDR, seq, n, maq_get_be16(cell + 2));
	return 0;
}
