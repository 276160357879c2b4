// SPDX-License-Identifier: GPL-2.0
/*
 * maq_create_process() on anything, as a relay holding onion keys 0
 * (current) and 1 (previous).
 *
 * The seeds are CREATEs maq_create_build() made over fuzz_path(), whose
 * hops alternate between those two keys, so an accepted CREATE is followed
 * hop by hop (maq_create_next()) to its terminus, and every hop's result
 * is checked by fuzz_check_setup().  Mutants mostly die at the tag, as
 * they should; fuzz_create_routing reaches the routing checks behind it.
 */
#include <string.h>

#include "fuzz.h"

static struct maq_onion_key keys[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	fuzz_onion_key(0, &keys[0]);
	fuzz_onion_key(1, &keys[1]);
	return 0;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	static struct maq_relay_setup r;
	static u8 next[MAQ_CTL_MSG_LEN];
	enum maq_create_err err;
	unsigned int hop;
	u8 reply[MAQ_CTL_MSG_LEN];
	u8 *msg;

	msg = fuzz_copy(data, size);
	memset(&r, 0xa5, sizeof(r));
	err = maq_create_process(&r, msg, size, keys, 2);
	fuzz_check_setup(&r, err, msg, size);
	free(msg);

	/* an accepted CREATE: walk the rest of its path */
	for (hop = 2; !err && !r.terminus; hop++) {
		FUZZ_ASSERT(hop <= MAQ_MAX_HOPS,
			    "a path longer than %d hops", MAQ_MAX_HOPS);
		maq_create_next(next, &r, FUZZ_BCID(hop));
		err = maq_create_process(&r, next, sizeof(next), keys, 2);
		fuzz_check_setup(&r, err, next, sizeof(next));
	}
	if (!err)
		FUZZ_ASSERT(!maq_created_build(reply, 0x5eed, r.reply_key, 0),
			    "terminus cannot answer");
	maq_relay_setup_wipe(&r);
	return 0;
}
