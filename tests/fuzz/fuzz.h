/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the libFuzzer harnesses and the seed generator: one fixed set of
 * keys, one clock and one deterministic random source, so that the seeds
 * the generator writes are what the harnesses accept (a CREATE made for
 * onion key 0 opens in the create harness, a CREATED built for the
 * deterministic origin opens in the created harness) and so that every run
 * of a harness on one input takes the same path.
 */
#ifndef _MAQUIS_FUZZ_H
#define _MAQUIS_FUZZ_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "crypto.h"
#include "keys.h"
#include "setup.h"

/* "now" for every clock check: 2025-06-15 15:06:40 UTC. */
#define FUZZ_NOW		1750000000ULL

/* Onion and identity keys 0..FUZZ_N_KEYS-1, from fixed secrets. */
#define FUZZ_N_KEYS		4

/* A property the code under test promised does not hold: report, abort. */
#define FUZZ_ASSERT(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: %s: ", __FILE__,	\
				__LINE__, #cond);			\
			fprintf(stderr, __VA_ARGS__);			\
			fputc('\n', stderr);				\
			abort();					\
		}							\
	} while (0)

/*
 * Installs the deterministic randombytes implementation (before
 * sodium_init(), as libsodium wants) and initialises the library.  Aborts
 * on failure: a harness without its crypto is no harness.
 */
void fuzz_init(void);

/* Restart the random stream at @seed. */
void fuzz_rng_reset(unsigned long long seed);

void fuzz_onion_key(unsigned int i, struct maq_onion_key *k);
void fuzz_identity(unsigned int i, struct maq_identity *id);

/*
 * The path every CREATE seed and every origin here uses: hop i has onion
 * key i % 2 (what the create harness holds: current and previous key) and
 * address 192.0.2.(i+1):7720, every third hop [2001:db8::(i+1)]:7721.
 */
void fuzz_path(struct maq_path_hop *path, unsigned int n);

/*
 * The origin state and CREATE for an @n-hop circuit over fuzz_path(), the
 * same on every call (the random stream restarts at @n).  Aborts when
 * maq_create_build() refuses.
 */
void fuzz_origin(struct maq_origin *o, u8 msg[MAQ_CTL_MSG_LEN],
		 unsigned int n);

/* An exact-size heap copy of the input, so that ASan sees a read past its
 * end (libFuzzer's own buffer may be larger); free() it.
 */
u8 *fuzz_copy(const u8 *data, size_t size);

/*
 * A decoder's result @err, @name its name, for @size bytes where it wants
 * @want: within [0, @n_errs) and named, and @truncated / @oversized for a
 * wrong size.
 */
void fuzz_check_err(int err, int n_errs, const char *name, size_t size,
		    size_t want, int truncated, int oversized);

/*
 * What maq_create_process() promised about @r for result @err on the
 * @len-byte @msg: wiped but for bcid and reply key on refusal, a sound hop
 * (lifetime, next address, deltas or base, has bits) on success.
 */
void fuzz_check_setup(const struct maq_relay_setup *r,
		      enum maq_create_err err, const u8 *msg, size_t len);

#define FUZZ_BCID(n)		(0x1000u + (n))
#define FUZZ_LIFETIME		600

#endif /* _MAQUIS_FUZZ_H */
