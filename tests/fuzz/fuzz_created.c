// SPDX-License-Identifier: GPL-2.0
/*
 * maq_created_open() for the origins of 1-, 3- and 8-hop circuits over
 * fuzz_path() (deterministic: the seeds are CREATEDs the generator built
 * for exactly these), on two messages made of the input:
 *
 *  - the input itself.  Whatever it is, the result must name a hop within
 *    the path and a reason that exists; success must come with the
 *    message's fcid installed.
 *  - a CREATED whose confs are authentic but say what the input says: hop
 *    i's 16 conf bytes are input bytes 16i..16i+16, the fcid bytes
 *    128..132 (zero padded), each conf MACed and the region wrapped with
 *    the hop's reply key as docs/PROTOCOL.md section 7.2 says.  This gets
 *    the fuzzer past the MACs to the checks behind them, and the result
 *    must be exactly what a model of those checks predicts.
 */
#include <string.h>
#include <sodium.h>

#include "fuzz.h"

#define MODEL_FCID	(MAQ_MAX_HOPS * 16)
#define MODEL_LEN	(MODEL_FCID + 4)

static const unsigned int lens[] = { 1, 3, 8 };
static struct maq_origin origin[3];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	u8 msg[MAQ_CTL_MSG_LEN];
	unsigned int i;

	(void)argc;
	(void)argv;
	fuzz_init();
	for (i = 0; i < 3; i++)
		fuzz_origin(&origin[i], msg, lens[i]);
	return 0;
}

/* The reply stream of hop @i's key: MAC key, then region keystream. */
static void reply_stream(const u8 key[MAQ_KEY_LEN], u8 otk[32],
			 u8 ks[MAQ_REPLY_LEN])
{
	u8 b0[64] = { 0 };

	maq_chacha20(b0, b0, sizeof(b0), key, 0, 0);
	memcpy(otk, b0, 32);
	memset(ks, 0, MAQ_REPLY_LEN);
	maq_chacha20(ks, ks, MAQ_REPLY_LEN, key, 0, 1);
}

/* Hop @i's conf as the origin's checks see it: 0 when it accepted. */
static int conf_model(const u8 *c, struct maq_setup_fail *want, int i)
{
	if (!maq_all_zero(c + 2, 14) || c[0] > 1 || !c[0] != !c[1])
		want->reason = MAQ_SETUP_BAD_REPLY;
	else if (c[0])
		want->reason = c[1];
	else
		return 0;
	want->hop = i + 1;
	return -1;
}

static void check_model(const struct maq_origin *tmpl, const u8 *in)
{
	static struct maq_origin o;
	struct maq_setup_fail fail, want = { 0, MAQ_SETUP_OK };
	u8 msg[MAQ_CTL_MSG_LEN], plain[MAQ_REPLY_LEN], ks[MAQ_REPLY_LEN];
	u8 otk[32];
	int i, j, n = (int)tmpl->n, ret, expect = 0;

	/* innermost first, as the hops wrap it on the way back */
	memset(msg, 0, sizeof(msg));
	for (i = n - 1; i >= 0; i--) {
		reply_stream(tmpl->reply_key[i], otk, ks);
		memcpy(plain, in + 16 * i, 16);
		crypto_onetimeauth_poly1305(plain + 16, plain, 16, otk);
		memcpy(plain + MAQ_CONF_LEN, msg + 4,
		       MAQ_REPLY_LEN - MAQ_CONF_LEN);
		for (j = 0; j < MAQ_REPLY_LEN; j++)
			msg[4 + j] = plain[j] ^ ks[j];
	}
	memcpy(msg, in + MODEL_FCID, 4);

	for (i = 0; i < n && !expect; i++)
		expect = conf_model(in + 16 * i, &want, i);
	if (!expect && !maq_get_be32(msg)) {
		expect = -1;
		want.hop = 1;
		want.reason = MAQ_SETUP_BAD_REPLY;
	}
	o = *tmpl;
	ret = maq_created_open(&o, msg, sizeof(msg), &fail);
	FUZZ_ASSERT(ret == expect && fail.hop == want.hop &&
		    fail.reason == want.reason,
		    "%d hops: got %d, hop %d reason %d; want %d, %d, %d", n,
		    ret, fail.hop, fail.reason, expect, want.hop, want.reason);
	if (!ret)
		FUZZ_ASSERT(o.circ.fwd_cid_out == maq_get_be32(msg), "fcid");
	maq_origin_wipe(&o);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	u8 model[MODEL_LEN] = { 0 };
	static struct maq_origin o;
	struct maq_setup_fail fail;
	unsigned int i;
	u8 *msg;
	int ret;

	msg = fuzz_copy(data, size);
	for (i = 0; i < 3; i++) {
		o = origin[i];
		memset(&fail, 0xa5, sizeof(fail));
		ret = maq_created_open(&o, msg, size, &fail);
		FUZZ_ASSERT(ret == 0 || ret == -1, "result %d", ret);
		if (!ret) {
			FUZZ_ASSERT(size == MAQ_CTL_MSG_LEN, "%zu bytes", size);
			FUZZ_ASSERT(!fail.hop && fail.reason == MAQ_SETUP_OK,
				    "success with hop %d reason %d",
				    fail.hop, fail.reason);
			FUZZ_ASSERT(o.circ.fwd_cid_out &&
				    o.circ.fwd_cid_out == maq_get_be32(msg),
				    "fcid %#x", o.circ.fwd_cid_out);
			continue;
		}
		FUZZ_ASSERT(fail.hop >= 0 && fail.hop <= (int)lens[i],
			    "hop %d of %u", fail.hop, lens[i]);
		FUZZ_ASSERT(strcmp(maq_setup_reason_name(fail.reason),
				   "unknown") || (fail.reason > 0 &&
						  fail.reason <= 255),
			    "reason %d", fail.reason);
		FUZZ_ASSERT(fail.reason != MAQ_SETUP_OK, "failure with ok");
		if (size != MAQ_CTL_MSG_LEN)
			FUZZ_ASSERT(!fail.hop &&
				    fail.reason == MAQ_SETUP_BAD_REPLY,
				    "%zu bytes: hop %d reason %d", size,
				    fail.hop, fail.reason);
		FUZZ_ASSERT(!o.circ.fwd_cid_out, "failure installed an fcid");
	}
	maq_origin_wipe(&o);
	free(msg);

	memcpy(model, data, size < sizeof(model) ? size : sizeof(model));
	for (i = 0; i < 3; i++)
		check_model(&origin[i], model);
	return 0;
}
