/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Long-term keys of a maquis host: the Ed25519 identity that signs its
 * descriptors and the X25519 onion key circuits are built to
 * (docs/PROTOCOL.md sections 7.1 and 8).
 *
 * A key file holds one line: the base64 (RFC 4648, padded) of the 32-byte
 * secret, the Ed25519 seed or the X25519 scalar; `maquis keygen` writes one.
 * Files are created 0600 and loading refuses a file that is not a regular
 * file, not owned by the caller (effective uid) or open to group or others.
 *
 * Every function that fails writes a message naming the file into @err
 * (when non-NULL) and returns -errno.  Structs holding secrets must be
 * released with the matching *_wipe(); error paths wipe what they touched.
 */
#ifndef _MAQUIS_DAEMON_KEYS_H
#define _MAQUIS_DAEMON_KEYS_H

#include "crypto.h"

#define MAQ_ID_PK_LEN		32	/* crypto_sign_PUBLICKEYBYTES */
#define MAQ_ID_SK_LEN		64	/* crypto_sign_SECRETKEYBYTES */
#define MAQ_ID_SIG_LEN		64	/* crypto_sign_BYTES */
#define MAQ_ONION_LEN		32	/* X25519 public and secret keys */

struct maq_identity {
	u8 pk[MAQ_ID_PK_LEN];
	u8 sk[MAQ_ID_SK_LEN];		/* libsodium's seed || pk */
};

struct maq_onion_key {
	u8 pk[MAQ_ONION_LEN];
	u8 sk[MAQ_ONION_LEN];
};

/* Fresh key pairs from the system RNG.  0 or -EIO. */
int maq_identity_generate(struct maq_identity *id);
int maq_onion_generate(struct maq_onion_key *k);

/* Key pairs from their 32-byte secrets (the key file contents). */
int maq_identity_from_seed(struct maq_identity *id, const u8 seed[32]);
int maq_onion_from_secret(struct maq_onion_key *k, const u8 sk[32]);

void maq_identity_wipe(struct maq_identity *id);
void maq_onion_wipe(struct maq_onion_key *k);

/*
 * Write atomically: a 0600 temporary "<path>.tmp" (O_EXCL, no symlinks),
 * fsync, rename over @path, fsync the directory.
 */
int maq_identity_save(const char *path, const struct maq_identity *id,
		      char *err, size_t errlen);
int maq_onion_save(const char *path, const struct maq_onion_key *k,
		   char *err, size_t errlen);

/*
 * Read, refusing symlinks (-ELOOP), non-regular files (-EINVAL), another
 * owner (-EPERM), any group or other permission bit (-EACCES) and anything
 * but one base64 32-byte key (-EINVAL).  *id / *k are wiped on failure.
 */
int maq_identity_load(const char *path, struct maq_identity *id,
		      char *err, size_t errlen);
int maq_onion_load(const char *path, struct maq_onion_key *k,
		   char *err, size_t errlen);

#endif /* _MAQUIS_DAEMON_KEYS_H */
