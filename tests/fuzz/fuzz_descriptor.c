// SPDX-License-Identifier: GPL-2.0
/*
 * maq_desc_decode() on anything, at FUZZ_NOW.
 *
 * A refused descriptor must come back zeroed with a named reason.  An
 * accepted one must be what maq_desc_encode() makes of its decoded form:
 * the same bytes outside identity and signature when re-signed by a key of
 * ours (one encoding per descriptor: nothing rides along unparsed), and the
 * very same 256 bytes when it was signed by one of the fixed identities
 * (Ed25519 is deterministic).  A mutant of a seed can only be accepted
 * through a signature malleability, which that comparison also catches.
 */
#include <string.h>

#include "descriptor.h"
#include "fuzz.h"

static struct maq_identity ids[FUZZ_N_KEYS];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned int i;

	(void)argc;
	(void)argv;
	fuzz_init();
	for (i = 0; i < FUZZ_N_KEYS; i++)
		fuzz_identity(i, &ids[i]);
	return 0;
}

static void check_accepted(const struct maq_desc *d, const u8 *buf)
{
	const struct maq_identity *signer = NULL;
	struct maq_desc again;
	u8 out[MAQ_DESC_LEN];
	enum maq_desc_err err;
	unsigned int i;

	FUZZ_ASSERT(d->version == MAQ_DESC_VERSION, "version %u", d->version);
	FUZZ_ASSERT(!(d->flags & ~MAQ_DESC_F_ALL), "flags %#x", d->flags);
	FUZZ_ASSERT(d->port, "port 0 accepted");
	FUZZ_ASSERT(d->addr[0].sa.sa_family != AF_UNSPEC, "no address 1");
	FUZZ_ASSERT(d->expires > d->published &&
		    d->expires - d->published <= MAQ_DESC_MAX_LIFE &&
		    d->expires > FUZZ_NOW,
		    "published %llu expires %llu",
		    (unsigned long long)d->published,
		    (unsigned long long)d->expires);
	FUZZ_ASSERT(maq_desc_related(d, d), "not related to itself");

	for (i = 0; i < FUZZ_N_KEYS; i++)
		if (!memcmp(ids[i].pk, d->identity, MAQ_ID_PK_LEN))
			signer = &ids[i];

	/* re-signed by a key of ours: everything but identity and signature */
	err = maq_desc_encode(out, d, signer ? signer : &ids[0]);
	FUZZ_ASSERT(err == MAQ_DESC_OK, "re-encode refused: %s",
		    maq_desc_err_name(err));
	FUZZ_ASSERT(!memcmp(out, buf, 58) &&
		    !memcmp(out + 90, buf + 90, MAQ_DESC_SIGNED_LEN - 90),
		    "re-encoded descriptor differs");
	if (signer)
		FUZZ_ASSERT(!memcmp(out, buf, MAQ_DESC_LEN),
			    "same key, same fields, another signature");

	err = maq_desc_decode(&again, out, sizeof(out), FUZZ_NOW);
	FUZZ_ASSERT(err == MAQ_DESC_OK, "re-encoded copy refused: %s",
		    maq_desc_err_name(err));
	if (!signer)
		memcpy(again.identity, d->identity, MAQ_ID_PK_LEN);
	FUZZ_ASSERT(!memcmp(&again, d, sizeof(again)),
		    "decoded copy differs");
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	static const struct maq_desc zero;
	enum maq_desc_err err;
	struct maq_desc d;
	u8 *buf;

	buf = fuzz_copy(data, size);
	memset(&d, 0xa5, sizeof(d));
	err = maq_desc_decode(&d, buf, size, FUZZ_NOW);
	fuzz_check_err(err, MAQ_DESC_N_ERRS, maq_desc_err_name(err), size,
		       MAQ_DESC_LEN, MAQ_DESC_TRUNCATED, MAQ_DESC_OVERSIZED);
	if (err)
		FUZZ_ASSERT(!memcmp(&d, &zero, sizeof(d)),
			    "refused (%s) but not zeroed",
			    maq_desc_err_name(err));
	else
		check_accepted(&d, buf);
	free(buf);
	return 0;
}
