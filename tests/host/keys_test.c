// SPDX-License-Identifier: GPL-2.0
/*
 * keys_test: daemon/keys.c, identity and onion key pairs and their files.
 * It proves:
 *
 *  - key pairs are libsodium's (Ed25519 from the seed, X25519 from the
 *    scalar) and survive a save/load round trip;
 *  - files are created 0600 whatever the umask, replace the old file
 *    atomically and hold one base64 line, the format `maquis keygen`
 *    writes;
 *  - loading refuses files open to group or others, owned by another user
 *    (when we are root and can make one), symbolic links, directories and
 *    malformed contents, each with a message naming the file, and leaves
 *    no key material in the struct.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "keys.h"
#include "kselftest_harness.h"

#pragma GCC diagnostic ignored "-Wsign-compare"

FIXTURE(kf) {
	char dir[64];
	char path[128];
	char err[512];
};

FIXTURE_SETUP(kf)
{
	ASSERT_EQ(0, maq_crypto_init());
	strcpy(self->dir, "/tmp/maq-keys-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/key", self->dir);
}

FIXTURE_TEARDOWN(kf)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd))
		TH_LOG("could not remove %s", self->dir);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	fchmod(fd, mode);
	close(fd);
}

static void read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		abort();
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

TEST_F(kf, identity_round_trip)
{
	struct maq_identity id, got;
	struct stat st;
	u8 seed[32], sig[64], msg[3] = { 1, 2, 3 };
	char text[128], b64[64];

	ASSERT_EQ(0, maq_identity_generate(&id));
	ASSERT_EQ(0, maq_identity_save(self->path, &id, self->err,
				       sizeof(self->err)));
	ASSERT_EQ(0, stat(self->path, &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(geteuid(), st.st_uid);

	/* one line: base64 of the seed, libsodium's first 32 sk bytes */
	read_file(self->path, text, sizeof(text));
	crypto_sign_ed25519_sk_to_seed(seed, id.sk);
	sodium_bin2base64(b64, sizeof(b64), seed, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	strcat(b64, "\n");
	EXPECT_STREQ(b64, text);

	ASSERT_EQ(0, maq_identity_load(self->path, &got, self->err,
				       sizeof(self->err)));
	EXPECT_EQ(0, memcmp(&id, &got, sizeof(id)));
	/* the loaded key signs what libsodium verifies under the old pk */
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), got.sk);
	EXPECT_EQ(0, crypto_sign_verify_detached(sig, msg, sizeof(msg), id.pk));

	maq_identity_wipe(&got);
	EXPECT_TRUE(sodium_is_zero((u8 *)&got, sizeof(got)));
	/* no temporary left behind */
	strcat(self->path, ".tmp");
	EXPECT_NE(0, access(self->path, F_OK));
}

TEST_F(kf, onion_round_trip_and_keygen_format)
{
	struct maq_onion_key k, got;
	u8 sk[32], pk[32];
	char b64[64];

	ASSERT_EQ(0, maq_onion_generate(&k));
	ASSERT_EQ(0, crypto_scalarmult_base(pk, k.sk));
	EXPECT_EQ(0, memcmp(pk, k.pk, 32));
	ASSERT_EQ(0, maq_onion_save(self->path, &k, self->err,
				    sizeof(self->err)));
	ASSERT_EQ(0, maq_onion_load(self->path, &got, self->err,
				    sizeof(self->err)));
	EXPECT_EQ(0, memcmp(&k, &got, sizeof(k)));

	/* what `maquis keygen` prints, with CRLF or trailing blanks too */
	randombytes_buf(sk, 32);
	sodium_bin2base64(b64, sizeof(b64), sk, 32,
			  sodium_base64_VARIANT_ORIGINAL);
	strcat(b64, " \r\n");
	write_file(self->path, b64, 0600);
	ASSERT_EQ(0, maq_onion_load(self->path, &got, self->err,
				    sizeof(self->err)));
	EXPECT_EQ(0, memcmp(got.sk, sk, 32));
	crypto_scalarmult_base(pk, sk);
	EXPECT_EQ(0, memcmp(got.pk, pk, 32));
	maq_onion_wipe(&got);
	EXPECT_TRUE(sodium_is_zero((u8 *)&got, sizeof(got)));
}

TEST_F(kf, save_is_0600_under_any_umask_and_replaces)
{
	struct maq_onion_key a, b, got;
	struct stat st;
	mode_t old = umask(0);
	char tmp[1024];

	ASSERT_EQ(0, maq_onion_generate(&a));
	ASSERT_EQ(0, maq_onion_generate(&b));
	ASSERT_EQ(0, maq_onion_save(self->path, &a, NULL, 0));
	ASSERT_EQ(0, stat(self->path, &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	/* a stale temporary from a crash does not stop the next save */
	snprintf(tmp, sizeof(tmp), "%s.tmp", self->path);
	write_file(tmp, "junk", 0644);
	ASSERT_EQ(0, maq_onion_save(self->path, &b, self->err,
				    sizeof(self->err)));
	umask(old);
	ASSERT_EQ(0, stat(self->path, &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	ASSERT_EQ(0, maq_onion_load(self->path, &got, NULL, 0));
	EXPECT_EQ(0, memcmp(got.pk, b.pk, 32));
}

TEST_F(kf, refuses_group_or_world_access)
{
	static const mode_t modes[] = { 0640, 0604, 0644, 0660, 0606, 0610,
					0601, 0620, 0602, 0700 | 0040 };
	struct maq_identity id, got;
	unsigned int i;

	ASSERT_EQ(0, maq_identity_generate(&id));
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		ASSERT_EQ(0, maq_identity_save(self->path, &id, NULL, 0));
		ASSERT_EQ(0, chmod(self->path, modes[i]));
		memset(&got, 0xaa, sizeof(got));
		self->err[0] = 0;
		EXPECT_EQ(-EACCES, maq_identity_load(self->path, &got,
						     self->err,
						     sizeof(self->err)));
		EXPECT_NE(NULL, strstr(self->err, self->path));
		EXPECT_NE(NULL, strstr(self->err, "group or others"));
		EXPECT_TRUE(sodium_is_zero((u8 *)&got, sizeof(got)));
	}
	/* 0400 is fine: only the owner can read it */
	ASSERT_EQ(0, chmod(self->path, 0400));
	EXPECT_EQ(0, maq_identity_load(self->path, &got, NULL, 0));
}

TEST_F(kf, refuses_another_owner)
{
	struct maq_onion_key k, got;

	if (geteuid() != 0)
		SKIP(return, "needs root to give a file away");
	ASSERT_EQ(0, maq_onion_generate(&k));
	ASSERT_EQ(0, maq_onion_save(self->path, &k, NULL, 0));
	ASSERT_EQ(0, chown(self->path, 65534, 65534));
	memset(&got, 0xaa, sizeof(got));
	EXPECT_EQ(-EPERM, maq_onion_load(self->path, &got, self->err,
					 sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, self->path));
	EXPECT_NE(NULL, strstr(self->err, "owned by uid 65534"));
	EXPECT_TRUE(sodium_is_zero((u8 *)&got, sizeof(got)));
}

TEST_F(kf, refuses_symlink_directory_missing)
{
	struct maq_onion_key k, got;
	char link[1024];

	ASSERT_EQ(0, maq_onion_generate(&k));
	ASSERT_EQ(0, maq_onion_save(self->path, &k, NULL, 0));
	snprintf(link, sizeof(link), "%s/link", self->dir);
	ASSERT_EQ(0, symlink(self->path, link));
	EXPECT_EQ(-ELOOP, maq_onion_load(link, &got, self->err,
					 sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, link));
	EXPECT_NE(NULL, strstr(self->err, "symbolic link"));

	/* saving does not write through a planted link either */
	snprintf(link, sizeof(link), "%s/key2.tmp", self->dir);
	ASSERT_EQ(0, symlink("/tmp/maq-keys-should-not-exist", link));
	snprintf(link, sizeof(link), "%s/key2", self->dir);
	EXPECT_EQ(0, maq_onion_save(link, &k, self->err, sizeof(self->err)));
	EXPECT_NE(0, access("/tmp/maq-keys-should-not-exist", F_OK));

	EXPECT_EQ(-EINVAL, maq_onion_load(self->dir, &got, self->err,
					  sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, self->dir));
	EXPECT_NE(NULL, strstr(self->err, "not a regular file"));

	snprintf(link, sizeof(link), "%s/missing", self->dir);
	EXPECT_EQ(-ENOENT, maq_onion_load(link, &got, self->err,
					  sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, link));

	snprintf(link, sizeof(link), "%s/no/such/dir/key", self->dir);
	EXPECT_EQ(-ENOENT, maq_onion_save(link, &k, self->err,
					  sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "no/such/dir/key"));
}

TEST_F(kf, refuses_bad_contents)
{
	static const char *const bad[] = {
		"",
		"\n",
		"not base64 at all!\n",
		/* 31 and 33 bytes */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
		/* two keys */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		/* unpadded */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		/* URL-safe alphabet */
		"____________________________________________\n",
		/* longer than any key file */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	struct maq_identity got;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(self->path, bad[i], 0600);
		memset(&got, 0xaa, sizeof(got));
		self->err[0] = 0;
		EXPECT_EQ(-EINVAL, maq_identity_load(self->path, &got,
						     self->err,
						     sizeof(self->err)))
			TH_LOG("case %u", i);
		EXPECT_NE(NULL, strstr(self->err, self->path));
		EXPECT_TRUE(sodium_is_zero((u8 *)&got, sizeof(got)));
	}
	/* the same 32 zero bytes, well formed, load */
	write_file(self->path, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 0600);
	EXPECT_EQ(0, maq_identity_load(self->path, &got, NULL, 0));
}

TEST(from_secret_matches_libsodium)
{
	struct maq_identity id;
	struct maq_onion_key k;
	u8 seed[32], pk[32], sk[64];

	ASSERT_EQ(0, maq_crypto_init());
	randombytes_buf(seed, 32);
	ASSERT_EQ(0, maq_identity_from_seed(&id, seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	EXPECT_EQ(0, memcmp(id.pk, pk, 32));
	EXPECT_EQ(0, memcmp(id.sk, sk, 64));
	ASSERT_EQ(0, maq_onion_from_secret(&k, seed));
	crypto_scalarmult_base(pk, seed);
	EXPECT_EQ(0, memcmp(k.pk, pk, 32));
	/* in place, as load uses it */
	ASSERT_EQ(0, maq_onion_from_secret(&k, k.sk));
	EXPECT_EQ(0, memcmp(k.pk, pk, 32));
}

TEST_HARNESS_MAIN
