// SPDX-License-Identifier: GPL-2.0
/*
 * maq_created_open() on anything, for the origins of 1-, 3- and 8-hop
 * circuits over fuzz_path() (deterministic: the seeds are CREATEDs the
 * generator built for exactly these).  Whatever the message, the result
 * must name a hop within the path and a reason that exists; success must
 * come with the message's fcid installed.
 */
#include <string.h>

#include "fuzz.h"

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

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
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
	return 0;
}
