// SPDX-License-Identifier: GPL-2.0
/*
 * The alias parsers (PROTOCOL 9) on anything, at FUZZ_NOW: the alias record
 * as a relay checks it and as the client of alias key 0 opens it, the
 * introduction and rendezvous messages, and the alias string.
 *
 * A record the client opens is one the relay accepts, filed under alias
 * 0's blinded key for its day, with 1..3 intro points; a refused one comes
 * back with no intro point.  A message that parses is re-encoded to the
 * very same 256 bytes (one encoding each: nothing rides along unparsed).
 * An alias that decodes encodes back to the same 52 characters; where an
 * alias may stand (maq_alias_arg), a string is left alone when it is not
 * taken for one, decodes when taken as a valid one and is refused with a
 * reason otherwise.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "alias_rec.h"
#include "fuzz.h"

static struct maq_identity alias0;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	fuzz_identity(0, &alias0);
	return 0;
}

static void record(const u8 *buf, size_t size)
{
	struct maq_alias_rec r, o;
	enum maq_arec_err e, f;
	u8 blinded[MAQ_ALIAS_PK_LEN];

	e = maq_alias_rec_check(buf, size, FUZZ_NOW, &r);
	fuzz_check_err(e, MAQ_AREC_N_ERRS, maq_arec_err_name(e), size,
		       MAQ_ALIAS_REC_LEN, MAQ_AREC_SIZE, MAQ_AREC_SIZE);
	f = maq_alias_rec_open(buf, size, FUZZ_NOW, alias0.pk, &o);
	if (e != MAQ_AREC_OK) {
		FUZZ_ASSERT(f == e, "open says %s, check %s",
			    maq_arec_err_name(f), maq_arec_err_name(e));
		return;
	}
	FUZZ_ASSERT(r.expires > FUZZ_NOW && r.published <= FUZZ_NOW + 300,
		    "times %llu..%llu", (unsigned long long)r.published,
		    (unsigned long long)r.expires);
	if (f != MAQ_AREC_OK) {
		FUZZ_ASSERT(!o.n_intro, "refused (%s) with intro points",
			    maq_arec_err_name(f));
		return;
	}
	FUZZ_ASSERT(!maq_alias_blind(alias0.pk, o.day, blinded) &&
		    !memcmp(blinded, o.blinded, sizeof(blinded)),
		    "opened a record of another key");
	FUZZ_ASSERT(o.n_intro >= 1 && o.n_intro <= MAQ_ALIAS_MAX_INTRO,
		    "%u intro points", o.n_intro);
}

static void message(const u8 *buf, size_t size)
{
	struct maq_amsg m;
	u8 out[MAQ_AMSG_LEN];
	int ret = maq_amsg_get(buf, size, &m);

	FUZZ_ASSERT(ret == 0 || ret == -EMSGSIZE || ret == -EPROTO, "ret %d",
		    ret);
	FUZZ_ASSERT((ret == -EMSGSIZE) == (size != MAQ_AMSG_LEN), "size %zu",
		    size);
	FUZZ_ASSERT(!ret == maq_amsg_is(buf, size) || ret == -EPROTO,
		    "maq_amsg_is disagrees");
	if (ret)
		return;
	maq_amsg_put(out, &m);
	FUZZ_ASSERT(!memcmp(out, buf, MAQ_AMSG_LEN), "type %u re-encodes differently",
		    m.type);
}

static void alias_string(const u8 *buf, size_t size)
{
	char s[80], again[MAQ_ALIAS_STR_LEN + 1];
	u8 pk[MAQ_ALIAS_PK_LEN];

	if (size >= sizeof(s))
		return;
	memcpy(s, buf, size);
	s[size] = 0;
	if (maq_alias_decode(s, pk))
		return;
	FUZZ_ASSERT(maq_alias_form(s), "decoded a string of the wrong form");
	maq_alias_encode(again, pk);
	FUZZ_ASSERT(!strcmp(again, s), "'%s' encodes back as '%s'", s, again);
}

static void alias_arg(const u8 *buf, size_t size)
{
	char s[80], was[80], again[MAQ_ALIAS_STR_LEN + 1];
	const char *why = NULL;
	u8 pk[MAQ_ALIAS_PK_LEN];
	int ret;

	if (size >= sizeof(s) || memchr(buf, 0, size))
		return;
	memcpy(s, buf, size);
	s[size] = 0;
	strcpy(was, s);
	ret = maq_alias_arg(s, pk, &why);
	FUZZ_ASSERT(ret == 0 || ret == 1 || ret == -EINVAL, "ret %d", ret);
	FUZZ_ASSERT(ret != -EINVAL || (why && *why), "refused without a reason");
	FUZZ_ASSERT(ret != 0 || !strcmp(s, was), "'%s' changed, not an alias",
		    was);
	if (ret != 1)
		return;
	FUZZ_ASSERT(!strcasecmp(s, was), "'%s' became '%s'", was, s);
	maq_alias_encode(again, pk);
	FUZZ_ASSERT(!strcmp(again, s), "'%s' taken as the key of '%s'", s,
		    again);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	u8 *buf = fuzz_copy(data, size);

	record(buf, size);
	message(buf, size);
	alias_string(buf, size);
	alias_arg(buf, size);
	free(buf);
	return 0;
}
