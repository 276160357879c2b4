// SPDX-License-Identifier: GPL-2.0
/*
 * rate_test: daemon/rate.c, the relay rate figures of maquisd.conf and
 * `maquis set`, and the relay-rate / relay-burst keys: every accepted
 * spelling reads as the exact byte count, every refused one is refused
 * with a message naming the file, the line and the key.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "rate.h"
#include "kselftest_harness.h"

#pragma GCC diagnostic ignored "-Wsign-compare"

TEST(rates)
{
	static const struct {
		const char *s;
		uint64_t want;
	} ok[] = {
		{ "0", 0 }, { "1", 1 }, { "125000", 125000 }, { "10M", 10000000 },
		{ "10MB", 10000000 }, { "1.5G", 1500000000 },
		{ "80Mbit", 10000000 }, { "1Mbit", 125000 }, { "1kbit", 125 },
		{ "9bit", 1 }, { "2.5Gbit", 312500000 }, { "0.001k", 1 },
		{ "12.5G", MAQUIS_MAX_RELAY_RATE },
		{ "100Gbit", MAQUIS_MAX_RELAY_RATE }, { "1K", 1000 },
	};
	static const struct {
		const char *s;
		int err;
	} bad[] = {
		{ "", -EINVAL }, { "M", -EINVAL }, { "-1", -EINVAL },
		{ "10 M", -EINVAL }, { "10m", -EINVAL }, { "10Mb", -EINVAL },
		{ "10Mbits", -EINVAL }, { "1e6", -EINVAL }, { "0x10", -EINVAL },
		{ "1.2.3", -EINVAL }, { ".", -EINVAL }, { "1.0000000001", -EINVAL },
		{ "12500000001", -ERANGE }, { "12.6G", -ERANGE },
		{ "101Gbit", -ERANGE }, { "99999999999999999999999", -ERANGE },
		{ "18446744073709551616G", -ERANGE },
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 77;
		EXPECT_EQ(0, maq_rate_parse(ok[i].s, &v)) TH_LOG("'%s'", ok[i].s);
		EXPECT_EQ(ok[i].want, v) TH_LOG("'%s'", ok[i].s);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 77;
		EXPECT_EQ(bad[i].err, maq_rate_parse(bad[i].s, &v))
			TH_LOG("'%s'", bad[i].s);
		EXPECT_EQ(77, v) TH_LOG("'%s' changed the value", bad[i].s);
	}
}

TEST(bursts)
{
	uint32_t v = 0;

	EXPECT_EQ(0, maq_burst_parse("1436", &v));
	EXPECT_EQ(1436, v);
	EXPECT_EQ(0, maq_burst_parse("92k", &v));
	EXPECT_EQ(92000, v);
	EXPECT_EQ(0, maq_burst_parse("1.5MB", &v));
	EXPECT_EQ(1500000, v);
	EXPECT_EQ(0, maq_burst_parse("1073741824", &v));
	EXPECT_EQ(MAQUIS_MAX_RELAY_BURST, v);
	EXPECT_EQ(-ERANGE, maq_burst_parse("1435", &v));
	EXPECT_EQ(-ERANGE, maq_burst_parse("0", &v));
	EXPECT_EQ(-ERANGE, maq_burst_parse("1073741825", &v));
	EXPECT_EQ(-ERANGE, maq_burst_parse("2G", &v));
	EXPECT_EQ(-EINVAL, maq_burst_parse("92kbit", &v));
	EXPECT_EQ(-EINVAL, maq_burst_parse("", &v));
	EXPECT_EQ(MAQUIS_MAX_RELAY_BURST, v);
}

TEST(printed)
{
	char buf[80];

	EXPECT_STREQ("unlimited", maq_rate_str(0, buf, sizeof(buf)));
	EXPECT_STREQ("125 kB/s (1 Mbit/s)", maq_rate_str(125000, buf,
							   sizeof(buf)));
	EXPECT_STREQ("1.5 GB/s (12 Gbit/s)", maq_rate_str(1500000000, buf,
							   sizeof(buf)));
	EXPECT_STREQ("999 B/s (7.992 kbit/s)", maq_rate_str(999, buf,
							    sizeof(buf)));
	EXPECT_STREQ("12.5 GB/s (100 Gbit/s)",
		     maq_rate_str(MAQUIS_MAX_RELAY_RATE, buf, sizeof(buf)));
}

static int parse(struct maq_config *c, const char *text, char *err,
		 size_t len)
{
	maq_config_init(c);
	err[0] = '\0';
	return maq_config_parse(c, "test.conf", text, strlen(text), err, len);
}

TEST(config_keys)
{
	static const struct {
		const char *line, *what;
	} bad[] = {
		{ "relay-rate = fast", "not a rate" },
		{ "relay-rate = -5", "not a rate" },
		{ "relay-rate = 200Gbit", "above 12500000000" },
		{ "relay-burst = 1000", "between 1436 and 1073741824" },
		{ "relay-burst = 10Mbit", "not a size" },
		{ "relay-rate = 1M\nrelay-rate = 2M", "already set on line 2" },
	};
	const char *opt[] = { "relay-rate=80Mbit" };
	struct maq_config c;
	char text[256], err[512], want[64];
	size_t i;

	maq_config_init(&c);
	EXPECT_EQ(0, c.relay_rate);
	EXPECT_EQ(0, c.relay_burst);
	ASSERT_EQ(0, parse(&c, "relay-rate = 1Mbit\nrelay-burst = 20k\n",
			   err, sizeof(err))) TH_LOG("%s", err);
	EXPECT_EQ(125000, c.relay_rate);
	EXPECT_EQ(20000, c.relay_burst);
	ASSERT_EQ(0, maq_config_override(&c, opt, 1, err, sizeof(err)));
	EXPECT_EQ(10000000, c.relay_rate);
	EXPECT_EQ(20000, c.relay_burst);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "# test\n%s\n", bad[i].line);
		EXPECT_NE(0, parse(&c, text, err, sizeof(err)))
			TH_LOG("accepted: %s", bad[i].line);
		snprintf(want, sizeof(want), "test.conf:%d: relay-",
			 strchr(bad[i].line, '\n') ? 3 : 2);
		EXPECT_EQ(0, strncmp(err, want, strlen(want)))
			TH_LOG("'%s': %s", bad[i].line, err);
		EXPECT_NE(NULL, strstr(err, bad[i].what))
			TH_LOG("'%s': %s", bad[i].line, err);
	}
}

TEST_HARNESS_MAIN
