// SPDX-License-Identifier: GPL-2.0
/*
 * config_test: daemon/config.c, maquisd's configuration file and its
 * command-line overrides.  It proves that a file using every key, comment
 * and spacing rule reads as written, that every malformed line is refused
 * with a message naming the file, the line and the key, and that overrides
 * replace values (a list as a whole) and are checked the same way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "config.h"
#include "kselftest_harness.h"

#pragma GCC diagnostic ignored "-Wsign-compare"

#define FAMILY_HEX \
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static int parse(struct maq_config *c, const char *text, char *err,
		 size_t len)
{
	maq_config_init(c);
	err[0] = '\0';
	return maq_config_parse(c, "test.conf", text, strlen(text), err, len);
}

TEST(defaults)
{
	struct maq_config c;

	maq_config_init(&c);
	EXPECT_EQ(MAQ_CONF_CLIENT, c.role);
	EXPECT_EQ(0, c.n_listen);
	EXPECT_EQ(0, c.n_bootstrap);
	EXPECT_EQ(MAQ_CONF_DEFAULT_BANDWIDTH, c.bandwidth);
	EXPECT_EQ(MAQ_CONF_DEFAULT_LIFETIME, c.lifetime);
	EXPECT_EQ(MAQ_CONF_DEFAULT_HOPS, c.hops);
	EXPECT_STREQ(MAQ_CONF_DEFAULT_KEY_DIR, c.key_dir);
	EXPECT_STREQ(MAQ_CONF_DEFAULT_INTERFACE, c.interface);
	EXPECT_STREQ(MAQ_CONF_DEFAULT_CONTROL, c.control);
	EXPECT_EQ(0, c.address.family);
	EXPECT_EQ(0, c.n_circuit);
	EXPECT_EQ(MAQ_LOG_INFO, c.log_level);
	EXPECT_STREQ("info", maq_log_level_name(c.log_level));
	EXPECT_STREQ("client", maq_conf_role_name(c.role));
	EXPECT_STREQ("relay", maq_conf_role_name(MAQ_CONF_RELAY));
}

TEST(every_key)
{
	static const char text[] =
		"# maquisd.conf\n"
		"\n"
		"   # indented comment\n"
		"role = relay\n"
		"listen = 192.0.2.1:7720\n"
		"listen=[2001:db8::1]:7721   # inline comment\n"
		"listen = 0.0.0.0\n"
		"\tbootstrap\t=\t198.51.100.1:7000\n"
		"bootstrap = [2001:db8::2]:7001\r\n"
		"bootstrap = 2001:db8::3\n"
		"bandwidth = 4294967295\n"
		"lifetime = 86400\n"
		"hops = 7\n"
		"family = " FAMILY_HEX "\n"
		"key-dir = /etc/maquis/keys#1\n"
		"interface = maq-test1\n"
		"address = 172.31.0.1/32\n"
		"control = /run/maquis/r1.sock\n"
		"circuit = 172.31.0.2\n"
		"circuit = fd31::/64\n"
		"log-level = debug";		/* no final newline */
	struct maq_config c;
	char err[512];
	uint8_t fam[32];
	int i;

	ASSERT_EQ(0, parse(&c, text, err, sizeof(err)))
		TH_LOG("%s", err);
	EXPECT_EQ(MAQ_CONF_RELAY, c.role);
	ASSERT_EQ(3, c.n_listen);
	EXPECT_EQ(AF_INET, c.listen[0].sa.sa_family);
	EXPECT_EQ(htonl(0xc0000201), c.listen[0].in4.sin_addr.s_addr);
	EXPECT_EQ(htons(7720), c.listen[0].in4.sin_port);
	EXPECT_EQ(AF_INET6, c.listen[1].sa.sa_family);
	EXPECT_EQ(htons(7721), c.listen[1].in6.sin6_port);
	EXPECT_EQ(1, c.listen[1].in6.sin6_addr.s6_addr[15]);
	/* the wildcard is fine to listen on, default port */
	EXPECT_EQ(0, c.listen[2].in4.sin_addr.s_addr);
	EXPECT_EQ(htons(MAQ_DEFAULT_PORT), c.listen[2].in4.sin_port);
	ASSERT_EQ(3, c.n_bootstrap);
	EXPECT_EQ(htons(7000), c.bootstrap[0].in4.sin_port);
	EXPECT_EQ(htons(7001), c.bootstrap[1].in6.sin6_port);
	EXPECT_EQ(3, c.bootstrap[2].in6.sin6_addr.s6_addr[15]);
	EXPECT_EQ(htons(MAQ_DEFAULT_PORT), c.bootstrap[2].in6.sin6_port);
	EXPECT_EQ(4294967295u, c.bandwidth);
	EXPECT_EQ(86400, c.lifetime);
	EXPECT_EQ(7, c.hops);
	for (i = 0; i < 32; i++)
		fam[i] = (uint8_t)((i % 16) * 0x11);
	EXPECT_EQ(0, memcmp(fam, c.family, 32));
	/* '#' inside a value is part of it */
	EXPECT_STREQ("/etc/maquis/keys#1", c.key_dir);
	EXPECT_EQ(MAQ_LOG_DEBUG, c.log_level);
	EXPECT_STREQ("maq-test1", c.interface);
	EXPECT_EQ(AF_INET, c.address.family);
	EXPECT_EQ(32, c.address.len);
	EXPECT_EQ(htonl(0xac1f0001), c.address.addr.v4.s_addr);
	EXPECT_STREQ("/run/maquis/r1.sock", c.control);
	ASSERT_EQ(2, c.n_circuit);
	EXPECT_STREQ("172.31.0.2", c.circuit[0]);
	EXPECT_STREQ("fd31::/64", c.circuit[1]);

	/* the small ends of the ranges, other spellings */
	ASSERT_EQ(0, parse(&c, "hops=1\nlifetime=1\nbandwidth=1\nrole=client\n"
			   "log-level=error\n", err, sizeof(err)));
	EXPECT_EQ(1, c.hops);
	EXPECT_EQ(1, c.lifetime);
	EXPECT_EQ(1, c.bandwidth);
	EXPECT_EQ(MAQ_CONF_CLIENT, c.role);
	EXPECT_EQ(MAQ_LOG_ERROR, c.log_level);
	ASSERT_EQ(0, parse(&c, "", err, sizeof(err)));
	ASSERT_EQ(0, parse(&c, "\n\n# only comments\n", err, sizeof(err)));
}

/*
 * Each bad line sits on line 3 (after a comment and a good line); the
 * message must say "test.conf:3: " and name the key.
 */
TEST(malformed_lines)
{
	static const struct {
		const char *line;
		const char *key;	/* must appear in the message */
		const char *what;	/* and this */
	} c[] = {
		{ "listen", "listen", "expected 'key = value'" },
		{ "role relay", "role relay", "expected" },
		{ "= 5", "missing key", "missing key" },
		{ "frobnicate = 1", "frobnicate", "unknown key" },
		{ "Hops = 3", "Hops", "unknown key" },
		{ "hops =", "hops", "missing value" },
		{ "hops = # comment", "hops", "missing value" },
		{ "hops = 0", "hops", "out of range" },
		{ "hops = 8", "hops", "out of range" },
		{ "interface = a/b", "interface", "not a device name" },
		{ "interface = 0123456789abcdef", "interface", "not a device name" },
		{ "interface = ..", "interface", "not a device name" },
		{ "address = 10.0.0.1/33", "address", "not an address or prefix" },
		{ "address = maq0", "address", "not an address or prefix" },
		{ "address = 172.31.0.2/24", "address", "bits set beyond /24" },
		{ "control = relative.sock", "control", "absolute path" },
		{ "hops = -1", "hops", "not a number" },
		{ "hops = +3", "hops", "not a number" },
		{ "hops = 3x", "hops", "not a number" },
		{ "hops = 0x3", "hops", "not a number" },
		{ "hops = 3 4", "hops", "not a number" },
		{ "hops = 99999999999999999999999", "hops", "out of range" },
		{ "lifetime = 0", "lifetime", "out of range" },
		{ "lifetime = 86401", "lifetime", "out of range" },
		{ "bandwidth = 0", "bandwidth", "out of range" },
		{ "bandwidth = 4294967296", "bandwidth", "out of range" },
		{ "role = server", "role", "'server'" },
		{ "role = Relay", "role", "'Relay'" },
		{ "family = abc", "family", "64 hex digits" },
		{ "family = " FAMILY_HEX "0", "family", "64 hex digits" },
		{ "family = 0" FAMILY_HEX "", "family", "64 hex digits" },
		{ "family = g0112233445566778899aabbccddeeff00112233445566778899aabbccddeef",
		  "family", "64 hex digits" },
		{ "family = 00:11:22:33", "family", "64 hex digits" },
		{ "listen = 192.0.2.1:0", "listen", "'192.0.2.1:0'" },
		{ "listen = 192.0.2.1:65536", "listen", "address[:port]" },
		{ "listen = 192.0.2.1:", "listen", "address[:port]" },
		{ "listen = 192.0.2.1:77x", "listen", "address[:port]" },
		{ "listen = relay.example.org:7720", "listen", "address[:port]" },
		{ "listen = [2001:db8::1", "listen", "address[:port]" },
		{ "listen = [2001:db8::1]x", "listen", "address[:port]" },
		{ "listen = 192.0.2.300", "listen", "address[:port]" },
		{ "bootstrap = 0.0.0.0:7720", "bootstrap", "unspecified" },
		{ "bootstrap = [::]:7720", "bootstrap", "unspecified" },
		{ "log-level = verbose", "log-level", "'verbose'" },
		{ "log-level = 3", "log-level", "'3'" },
		{ "hops = 3\nhops = 4", "hops", "already set on line 3" },
		{ "role = relay\nrole = relay", "role", "already set on line 3" },
	};
	struct maq_config cfg;
	char text[512], err[512], want[64];
	unsigned int i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		snprintf(text, sizeof(text), "# test\nkey-dir = /x\n%s\n",
			 c[i].line);
		EXPECT_NE(0, parse(&cfg, text, err, sizeof(err)))
			TH_LOG("accepted: %s", c[i].line);
		/* the duplicate is reported where it repeats */
		snprintf(want, sizeof(want), "test.conf:%d: ",
			 strchr(c[i].line, '\n') ? 4 : 3);
		EXPECT_EQ(0, strncmp(err, want, strlen(want)))
			TH_LOG("'%s': %s", c[i].line, err);
		EXPECT_NE(NULL, strstr(err, c[i].key))
			TH_LOG("'%s': %s", c[i].line, err);
		EXPECT_NE(NULL, strstr(err, c[i].what))
			TH_LOG("'%s': %s", c[i].line, err);
	}
}

TEST(malformed_files)
{
	struct maq_config cfg;
	char *text, err[512];
	int i;

	/* a line too long for any key */
	text = malloc(MAQ_CONF_MAX_LINE + 64);
	ASSERT_NE(NULL, text);
	strcpy(text, "hops = 3\nkey-dir = ");
	memset(text + strlen(text), 'a', MAQ_CONF_MAX_LINE);
	text[19 + MAQ_CONF_MAX_LINE] = '\0';
	EXPECT_EQ(-EINVAL, parse(&cfg, text, err, sizeof(err)));
	EXPECT_EQ(0, strncmp(err, "test.conf:2: ", 13)) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "line longer"));

	/* the longest line that fits is taken */
	memset(text, 0, MAQ_CONF_MAX_LINE + 64);
	strcpy(text, "key-dir = /");
	memset(text + 11, 'b', MAQ_CONF_MAX_LINE - 11);
	EXPECT_EQ(0, parse(&cfg, text, err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_EQ(MAQ_CONF_MAX_LINE - 10, strlen(cfg.key_dir));
	free(text);

	/* a NUL byte hidden in line 2 */
	EXPECT_EQ(-EINVAL, maq_config_parse(&cfg, "test.conf",
					    "hops = 3\nhops\0 = 4\n", 19, err,
					    sizeof(err)));
	EXPECT_EQ(0, strncmp(err, "test.conf:2: ", 13)) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, "NUL"));

	/* more listen addresses than a daemon takes */
	text = malloc(64 * (MAQ_CONF_MAX_LISTEN + 1));
	ASSERT_NE(NULL, text);
	text[0] = '\0';
	for (i = 0; i <= MAQ_CONF_MAX_LISTEN; i++)
		sprintf(text + strlen(text), "listen = 192.0.2.%d\n", i + 1);
	EXPECT_EQ(-E2BIG, parse(&cfg, text, err, sizeof(err)));
	snprintf(text, 64, "test.conf:%d: listen: more than %d",
		 MAQ_CONF_MAX_LISTEN + 1, MAQ_CONF_MAX_LISTEN);
	EXPECT_EQ(0, strncmp(err, text, strlen(text))) TH_LOG("%s", err);
	free(text);

	/* no error buffer at all is fine */
	maq_config_init(&cfg);
	EXPECT_EQ(-EINVAL, maq_config_parse(&cfg, "x", "bad", 3, NULL, 0));
}

TEST(load_file)
{
	char path[] = "/tmp/maq-conf-XXXXXX", err[512];
	struct maq_config c;
	FILE *f;
	int fd;

	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	f = fdopen(fd, "w");
	ASSERT_NE(NULL, f);
	fputs("role = relay\nhops = 2\n\nlisten = nope\n", f);
	fclose(f);
	maq_config_init(&c);
	EXPECT_EQ(-EINVAL, maq_config_load(&c, path, err, sizeof(err)));
	EXPECT_EQ(0, strncmp(err, path, strlen(path))) TH_LOG("%s", err);
	EXPECT_NE(NULL, strstr(err, ":4: listen: 'nope'")) TH_LOG("%s", err);

	f = fopen(path, "w");
	ASSERT_NE(NULL, f);
	fputs("role = relay\nhops = 2\n", f);
	fclose(f);
	maq_config_init(&c);
	EXPECT_EQ(0, maq_config_load(&c, path, err, sizeof(err)));
	EXPECT_EQ(MAQ_CONF_RELAY, c.role);
	EXPECT_EQ(2, c.hops);
	unlink(path);

	EXPECT_EQ(-ENOENT, maq_config_load(&c, path, err, sizeof(err)));
	EXPECT_EQ(0, strncmp(err, path, strlen(path))) TH_LOG("%s", err);
	EXPECT_EQ(-EISDIR, maq_config_load(&c, "/tmp", err, sizeof(err)));
	EXPECT_EQ(0, strncmp(err, "/tmp: ", 6)) TH_LOG("%s", err);
}

TEST(overrides)
{
	static const char text[] =
		"hops = 3\n"
		"listen = 192.0.2.1\n"
		"listen = 192.0.2.2\n"
		"bootstrap = 198.51.100.1\n";
	static const char *const ok[] = {
		"hops=5",
		"listen = [2001:db8::9]:9000",
		"listen=192.0.2.7",
		"log-level=warn",
	};
	static const struct {
		const char *opt[2];
		unsigned int n;
		const char *want;
	} bad[] = {
		{ { "bogus=1" }, 1, "command line: bogus: unknown key" },
		{ { "hops" }, 1, "command line: 'hops': expected" },
		{ { "hops=9" }, 1, "command line: hops: 9 out of range" },
		{ { "hops=" }, 1, "command line: hops: missing value" },
		{ { "=3" }, 1, "command line: missing key" },
		{ { "hops=2", "hops=3" }, 2,
		  "command line: hops: given more than once" },
		{ { "listen=x" }, 1, "command line: listen: 'x'" },
	};
	struct maq_config c;
	char err[512];
	unsigned int i;

	ASSERT_EQ(0, parse(&c, text, err, sizeof(err)));
	ASSERT_EQ(0, maq_config_override(&c, ok, 4, err, sizeof(err)))
		TH_LOG("%s", err);
	EXPECT_EQ(5, c.hops);
	EXPECT_EQ(MAQ_LOG_WARN, c.log_level);
	/* the first listen override replaced the file's list */
	ASSERT_EQ(2, c.n_listen);
	EXPECT_EQ(AF_INET6, c.listen[0].sa.sa_family);
	EXPECT_EQ(htons(9000), c.listen[0].in6.sin6_port);
	EXPECT_EQ(htonl(0xc0000207), c.listen[1].in4.sin_addr.s_addr);
	/* untouched keys keep the file's values */
	EXPECT_EQ(1, c.n_bootstrap);
	EXPECT_EQ(0, maq_config_override(&c, NULL, 0, err, sizeof(err)));

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(0, parse(&c, text, err, sizeof(err)));
		EXPECT_NE(0, maq_config_override(&c, bad[i].opt, bad[i].n, err,
						 sizeof(err)));
		EXPECT_EQ(0, strncmp(err, bad[i].want, strlen(bad[i].want)))
			TH_LOG("got '%s', want '%s'", err, bad[i].want);
	}
}

TEST_HARNESS_MAIN
