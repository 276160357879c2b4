// SPDX-License-Identifier: GPL-2.0
/*
 * maq_gossip_decode() on anything.
 *
 * A refused cell comes back zeroed with a named reason.  An accepted one
 * must re-encode (maq_gossip_digest_encode() / maq_gossip_push_encode())
 * to the same header and message bytes, padding aside, and decode again to
 * the same struct.  The descriptors a push carries go on to
 * maq_desc_decode(), as the daemon would.
 */
#include <string.h>

#include "descriptor.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	return 0;
}

static struct maq_gossip g, again;
static const struct maq_gossip zero;

static void check_accepted(const u8 *cell)
{
	u8 out[MAQ_CELL_SIZE];
	size_t used = MAQ_CTL_HDR_LEN + MAQ_GOSSIP_HDR_LEN;
	enum maq_gossip_err err;
	struct maq_desc d;
	unsigned int i;
	int ret;

	if (g.kind == MAQ_GOSSIP_DIGEST) {
		FUZZ_ASSERT(g.count <= MAQ_DIGEST_MAX && g.lo <= g.hi,
			    "digest count %u lo %llx hi %llx", g.count,
			    (unsigned long long)g.lo,
			    (unsigned long long)g.hi);
		ret = maq_gossip_digest_encode(out, g.handle, g.lo, g.hi,
					       g.entry, g.count);
		used += MAQ_GOSSIP_RANGE_LEN + g.count * MAQ_DIGEST_ENTRY_LEN;
	} else {
		FUZZ_ASSERT(g.kind == MAQ_GOSSIP_PUSH && g.count >= 1 &&
			    g.count <= MAQ_PUSH_MAX,
			    "kind %u count %u", g.kind, g.count);
		ret = maq_gossip_push_encode(out, g.handle,
					     (const u8 (*)[MAQ_DESC_LEN])g.desc,
					     g.count);
		used += g.count * MAQ_DESC_LEN;
		for (i = 0; i < g.count; i++)
			maq_desc_decode(&d, g.desc[i], MAQ_DESC_LEN, FUZZ_NOW);
	}
	FUZZ_ASSERT(!ret, "re-encode of an accepted cell: %d", ret);
	FUZZ_ASSERT(!memcmp(out, cell, used),
		    "re-encoded cell differs in its first %zu bytes", used);
	err = maq_gossip_decode(&again, out, sizeof(out));
	FUZZ_ASSERT(err == MAQ_GOSSIP_OK, "re-encoded cell refused: %s",
		    maq_gossip_err_name(err));
	FUZZ_ASSERT(!memcmp(&again, &g, sizeof(g)), "decoded copy differs");
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	enum maq_gossip_err err;
	u8 *cell;

	cell = fuzz_copy(data, size);
	memset(&g, 0xa5, sizeof(g));
	err = maq_gossip_decode(&g, cell, size);
	fuzz_check_err(err, MAQ_GOSSIP_N_ERRS, maq_gossip_err_name(err), size,
		       MAQ_CELL_SIZE, MAQ_GOSSIP_TRUNCATED,
		       MAQ_GOSSIP_OVERSIZED);
	if (err)
		FUZZ_ASSERT(!memcmp(&g, &zero, sizeof(g)),
			    "refused (%s) but not zeroed",
			    maq_gossip_err_name(err));
	else
		check_accepted(cell);
	free(cell);
	return 0;
}
