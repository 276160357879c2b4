// SPDX-License-Identifier: GPL-2.0
/*
 * Fixed keys and the deterministic random source of the harnesses (see
 * fuzz.h).
 */
#include <string.h>
#include <arpa/inet.h>
#include <sodium.h>

#include "fuzz.h"

/*
 * splitmix64: not a cryptographic generator, and it need not be one here.
 * What matters is that the bytes are the same on every run, so that a
 * crash found once reproduces and the seeds stay valid.
 */
static unsigned long long rng_state;

void fuzz_rng_reset(unsigned long long seed)
{
	rng_state = seed;
}

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static const char *rng_name(void)
{
	return "maquis-fuzz";
}

static uint32_t rng_random(void)
{
	return (uint32_t)rng_next();
}

static void rng_stir(void)
{
}

static uint32_t rng_uniform(const uint32_t upper)
{
	uint32_t min, r;

	if (upper < 2)
		return 0;
	/* reject the low values that would bias r % upper */
	min = (uint32_t)(-upper % upper);
	do
		r = rng_random();
	while (r < min);
	return r % upper;
}

static void rng_buf(void *const buf, const size_t size)
{
	unsigned char *p = buf;
	size_t i;
	uint64_t v = 0;

	for (i = 0; i < size; i++) {
		if (!(i % 8))
			v = rng_next();
		p[i] = (unsigned char)(v >> (8 * (i % 8)));
	}
}

static struct randombytes_implementation rng_impl = {
	.implementation_name	= rng_name,
	.random			= rng_random,
	.stir			= rng_stir,
	.uniform		= rng_uniform,
	.buf			= rng_buf,
	.close			= NULL,
};

void fuzz_init(void)
{
	FUZZ_ASSERT(!randombytes_set_implementation(&rng_impl),
		    "randombytes_set_implementation failed");
	FUZZ_ASSERT(!maq_crypto_init(), "libsodium did not initialise");
	fuzz_rng_reset(0);
}

void fuzz_onion_key(unsigned int i, struct maq_onion_key *k)
{
	u8 sk[32];

	memset(sk, 0x40 + i, sizeof(sk));
	FUZZ_ASSERT(!maq_onion_from_secret(k, sk), "onion key %u", i);
}

void fuzz_identity(unsigned int i, struct maq_identity *id)
{
	u8 seed[32];

	memset(seed, 0x60 + i, sizeof(seed));
	FUZZ_ASSERT(!maq_identity_from_seed(id, seed), "identity %u", i);
}

void fuzz_path(struct maq_path_hop *path, unsigned int n)
{
	struct maq_onion_key k;
	unsigned int i;

	memset(path, 0, n * sizeof(*path));
	for (i = 0; i < n; i++) {
		union maq_sockaddr *a = &path[i].addr;

		fuzz_onion_key(i % 2, &k);
		memcpy(path[i].onion_key, k.pk, MAQ_ONION_LEN);
		if (i % 3 == 2) {
			a->in6.sin6_family = AF_INET6;
			a->in6.sin6_port = htons(7721);
			a->in6.sin6_addr.s6_addr[0] = 0x20;
			a->in6.sin6_addr.s6_addr[1] = 0x01;
			a->in6.sin6_addr.s6_addr[2] = 0x0d;
			a->in6.sin6_addr.s6_addr[3] = 0xb8;
			a->in6.sin6_addr.s6_addr[15] = (u8)(i + 1);
		} else {
			a->in4.sin_family = AF_INET;
			a->in4.sin_port = htons(MAQ_DEFAULT_PORT);
			a->in4.sin_addr.s_addr = htonl(0xc0000200 + i + 1);
		}
	}
	maq_onion_wipe(&k);
}

void fuzz_origin(struct maq_origin *o, u8 msg[MAQ_CTL_MSG_LEN],
		 unsigned int n)
{
	struct maq_path_hop path[MAQ_MAX_HOPS];
	int ret;

	fuzz_path(path, n);
	fuzz_rng_reset(n);
	ret = maq_create_build(o, msg, path, n, FUZZ_BCID(n), FUZZ_LIFETIME);
	FUZZ_ASSERT(!ret, "maq_create_build(%u hops): %d", n, ret);
}

u8 *fuzz_copy(const u8 *data, size_t size)
{
	u8 *p = malloc(size ? size : 1);

	FUZZ_ASSERT(p, "out of memory");
	memcpy(p, data, size);
	return p;
}

void fuzz_check_err(int err, int n_errs, const char *name, size_t size,
		    size_t want, int truncated, int oversized)
{
	FUZZ_ASSERT(err >= 0 && err < n_errs && strcmp(name, "unknown"),
		    "result %d", err);
	if (size < want)
		FUZZ_ASSERT(err == truncated, "%zu bytes: %s", size, name);
	if (size > want)
		FUZZ_ASSERT(err == oversized, "%zu bytes: %s", size, name);
}

void fuzz_check_setup(const struct maq_relay_setup *r,
		      enum maq_create_err err, const u8 *msg, size_t len)
{
	static const struct maq_relay_setup zero;
	struct maq_relay_setup rest;
	const struct maq_hop *h = &r->hop;
	struct maq_circuit c;
	u16 port;

	fuzz_check_err(err, MAQ_CREATE_N_ERRS, maq_create_err_name(err), len,
		       MAQ_CTL_MSG_LEN, MAQ_CREATE_TRUNCATED,
		       MAQ_CREATE_OVERSIZED);
	if (len == MAQ_CTL_MSG_LEN)
		FUZZ_ASSERT(r->bcid == maq_get_be32(msg), "bcid %#x", r->bcid);
	if (err) {
		/* all a refusing hop keeps: where and how to answer */
		rest = *r;
		rest.bcid = 0;
		memset(rest.reply_key, 0, sizeof(rest.reply_key));
		FUZZ_ASSERT(!memcmp(&rest, &zero, sizeof(rest)),
			    "refused (%s) but not wiped",
			    maq_create_err_name(err));
		FUZZ_ASSERT(!maq_all_zero(r->reply_key, MAQ_KEY_LEN),
			    "no reply key to refuse with");
		return;
	}

	FUZZ_ASSERT(r->key_index == 0 || r->key_index == 1, "key index %d",
		    r->key_index);
	FUZZ_ASSERT(r->lifetime && r->lifetime <= MAQ_MAX_LIFETIME,
		    "lifetime %u", r->lifetime);
	FUZZ_ASSERT(h->index == 0, "hop index %u", h->index);
	if (r->terminus) {
		FUZZ_ASSERT(r->next.sa.sa_family == AF_UNSPEC,
			    "terminus with a next hop");
		FUZZ_ASSERT(!h->fwd_seq && h->back_seq < MAQ_BASE_LIMIT,
			    "terminus base %llx",
			    (unsigned long long)h->back_seq);
		FUZZ_ASSERT(!(h->has & MAQ_HOP_FWD_SEQ), "terminus has %#x",
			    h->has);
	} else {
		port = r->next.sa.sa_family == AF_INET ?
		       ntohs(r->next.in4.sin_port) :
		       ntohs(r->next.in6.sin6_port);
		FUZZ_ASSERT((r->next.sa.sa_family == AF_INET ||
			     r->next.sa.sa_family == AF_INET6) && port &&
			    !maq_addr_unspecified(&r->next),
			    "relay next hop family %d port %u",
			    r->next.sa.sa_family, port);
		FUZZ_ASSERT(h->fwd_seq <= MAQ_SEQ_CTR_MASK &&
			    h->back_seq <= MAQ_SEQ_CTR_MASK,
			    "relay deltas %llx %llx",
			    (unsigned long long)h->fwd_seq,
			    (unsigned long long)h->back_seq);
		FUZZ_ASSERT(h->has == MAQ_HOP_ALL, "relay has %#x", h->has);
	}
	maq_relay_circuit(r, &c);
	FUZZ_ASSERT(c.n_hops == 1 && c.lifetime == r->lifetime &&
		    c.back_cid_out == r->bcid &&
		    c.role == (r->terminus ? MAQUIS_ROLE_TERMINUS :
					     MAQUIS_ROLE_RELAY),
		    "circuit from an accepted CREATE");
	maq_circuit_wipe(&c);
}
