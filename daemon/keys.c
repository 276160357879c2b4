// SPDX-License-Identifier: GPL-2.0
/*
 * Identity and onion key pairs and their files (see keys.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "keys.h"

_Static_assert(MAQ_ID_PK_LEN == crypto_sign_PUBLICKEYBYTES, "ed25519 pk");
_Static_assert(MAQ_ID_SK_LEN == crypto_sign_SECRETKEYBYTES, "ed25519 sk");
_Static_assert(MAQ_ID_SIG_LEN == crypto_sign_BYTES, "ed25519 sig");
_Static_assert(crypto_sign_SEEDBYTES == 32, "ed25519 seed");
_Static_assert(MAQ_ONION_LEN == crypto_scalarmult_BYTES &&
	       MAQ_ONION_LEN == crypto_scalarmult_SCALARBYTES, "x25519");

#define KEY_LEN		32
/* base64 of 32 bytes is 44 characters; leave room for a newline or two,
 * and notice anything longer.
 */
#define KEY_FILE_MAX	128
#define B64_LEN		sodium_base64_ENCODED_LEN(KEY_LEN, \
					sodium_base64_VARIANT_ORIGINAL)

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* A failed system call on @name: -errno and strerror(). */
static int fail_sys(char *err, size_t errlen, const char *name)
{
	int e = errno;

	return fail(err, errlen, -e, "%s: %s", name, strerror(e));
}

int maq_identity_generate(struct maq_identity *id)
{
	if (crypto_sign_keypair(id->pk, id->sk)) {
		maq_identity_wipe(id);
		return -EIO;
	}
	return 0;
}

int maq_identity_from_seed(struct maq_identity *id, const u8 seed[32])
{
	if (crypto_sign_seed_keypair(id->pk, id->sk, seed)) {
		maq_identity_wipe(id);
		return -EIO;
	}
	return 0;
}

int maq_onion_from_secret(struct maq_onion_key *k, const u8 sk[32])
{
	memmove(k->sk, sk, MAQ_ONION_LEN);
	if (crypto_scalarmult_base(k->pk, k->sk)) {
		maq_onion_wipe(k);
		return -EINVAL;
	}
	return 0;
}

int maq_onion_generate(struct maq_onion_key *k)
{
	u8 sk[MAQ_ONION_LEN];
	int ret;

	randombytes_buf(sk, sizeof(sk));
	ret = maq_onion_from_secret(k, sk);
	sodium_memzero(sk, sizeof(sk));
	return ret ? -EIO : 0;
}

void maq_identity_wipe(struct maq_identity *id)
{
	sodium_memzero(id, sizeof(*id));
}

void maq_onion_wipe(struct maq_onion_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

/* fsync the directory holding @path so the rename survives a crash. */
static void sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash) {
		strcpy(dir, ".");
	} else if (slash == path) {
		strcpy(dir, "/");
	} else {
		if ((size_t)(slash - path) >= sizeof(dir))
			return;
		memcpy(dir, path, slash - path);
		dir[slash - path] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static int key_save(const char *path, const u8 secret[KEY_LEN], char *err,
		    size_t errlen)
{
	char tmp[PATH_MAX], b64[B64_LEN + 1];
	size_t len, off = 0;
	int fd, ret, tries;
	ssize_t w;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return fail(err, errlen, -ENAMETOOLONG, "%s: path too long",
			    path);
	/* A stale temporary from a crash is ours to replace; O_EXCL keeps us
	 * from writing through anything someone else put there.
	 */
	for (tries = 0; ; tries++) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			  O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST || tries)
			break;
		if (unlink(tmp) && errno != ENOENT)
			break;
	}
	if (fd < 0)
		return fail_sys(err, errlen, tmp);

	/* the umask may only have removed bits, but say exactly what we mean */
	if (fchmod(fd, 0600)) {
		ret = fail_sys(err, errlen, tmp);
		goto out_unlink;
	}
	sodium_bin2base64(b64, B64_LEN, secret, KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	len = strlen(b64);
	b64[len++] = '\n';
	while (off < len) {
		w = write(fd, b64 + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			ret = fail_sys(err, errlen, tmp);
			goto out_unlink;
		}
		if (!w) {
			ret = fail(err, errlen, -EIO, "%s: short write", tmp);
			goto out_unlink;
		}
		off += w;
	}
	if (fsync(fd)) {
		ret = fail_sys(err, errlen, tmp);
		goto out_unlink;
	}
	ret = close(fd);
	fd = -1;
	if (ret) {
		ret = fail_sys(err, errlen, tmp);
		goto out_unlink;
	}
	if (rename(tmp, path)) {
		ret = fail_sys(err, errlen, path);
		goto out_unlink;
	}
	sync_dir(path);
	sodium_memzero(b64, sizeof(b64));
	return 0;

out_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	sodium_memzero(b64, sizeof(b64));
	return ret;
}

static int key_load(const char *path, u8 secret[KEY_LEN], char *err,
		    size_t errlen)
{
	char buf[KEY_FILE_MAX + 1];
	size_t len = 0, got = 0;
	struct stat st;
	uid_t me = geteuid();
	int fd, ret;
	ssize_t r;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP)
			return fail(err, errlen, -ELOOP,
				    "%s: is a symbolic link; refusing to load a key through it",
				    path);
		return fail_sys(err, errlen, path);
	}
	/* Check the file we opened, not the name: no race with a rename. */
	if (fstat(fd, &st)) {
		ret = fail_sys(err, errlen, path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = fail(err, errlen, -EINVAL, "%s: not a regular file",
			   path);
		goto out;
	}
	if (st.st_uid != me) {
		ret = fail(err, errlen, -EPERM,
			   "%s: owned by uid %u, not by us (uid %u); refusing to load a key another user controls",
			   path, (unsigned int)st.st_uid, (unsigned int)me);
		goto out;
	}
	if (st.st_mode & 077) {
		ret = fail(err, errlen, -EACCES,
			   "%s: mode %04o lets group or others access it; refusing to load (chmod 600 it and replace the key)",
			   path, (unsigned int)(st.st_mode & 07777));
		goto out;
	}
	for (;;) {
		r = read(fd, buf + len, sizeof(buf) - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = fail_sys(err, errlen, path);
			goto out;
		}
		if (!r)
			break;
		len += r;
		if (len == sizeof(buf)) {
			ret = fail(err, errlen, -EINVAL,
				   "%s: too long for a key file", path);
			goto out;
		}
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
		       buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	if (sodium_base642bin(secret, KEY_LEN, buf, len, NULL, &got, NULL,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    got != KEY_LEN) {
		ret = fail(err, errlen, -EINVAL,
			   "%s: not a base64 %d-byte key", path, KEY_LEN);
		goto out;
	}
	ret = 0;
out:
	close(fd);
	sodium_memzero(buf, sizeof(buf));
	if (ret)
		sodium_memzero(secret, KEY_LEN);
	return ret;
}

int maq_identity_save(const char *path, const struct maq_identity *id,
		      char *err, size_t errlen)
{
	/* libsodium's secret key starts with the seed */
	return key_save(path, id->sk, err, errlen);
}

int maq_onion_save(const char *path, const struct maq_onion_key *k,
		   char *err, size_t errlen)
{
	return key_save(path, k->sk, err, errlen);
}

int maq_identity_load(const char *path, struct maq_identity *id,
		      char *err, size_t errlen)
{
	u8 seed[KEY_LEN];
	int ret;

	ret = key_load(path, seed, err, errlen);
	if (!ret && maq_identity_from_seed(id, seed))
		ret = fail(err, errlen, -EIO, "%s: cannot derive the key pair",
			   path);
	if (ret)
		maq_identity_wipe(id);
	sodium_memzero(seed, sizeof(seed));
	return ret;
}

int maq_onion_load(const char *path, struct maq_onion_key *k,
		   char *err, size_t errlen)
{
	u8 sk[KEY_LEN];
	int ret;

	ret = key_load(path, sk, err, errlen);
	if (!ret && maq_onion_from_secret(k, sk))
		ret = fail(err, errlen, -EINVAL, "%s: not a usable X25519 key",
			   path);
	if (ret)
		maq_onion_wipe(k);
	sodium_memzero(sk, sizeof(sk));
	return ret;
}
