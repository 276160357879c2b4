// SPDX-License-Identifier: GPL-2.0
/*
 * ipc_test: daemon/ipc.c, the control socket between maquisd and the CLI.
 * It proves that every request survives format and parse unchanged, that
 * every malformed request is refused with the message ipc.h documents, that
 * replies parse into pairs and records and malformed ones are refused, that
 * the reply builder never lets a value break the framing, and, over a real
 * unix socket in a temporary directory served by a thread, that the socket
 * is 0600 under any umask in a 0700 directory, a stale socket is replaced,
 * a second listener refused, and calls time out, cap and reject bad replies.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "ipc.h"
#include "kselftest_harness.h"

#pragma GCC diagnostic ignored "-Wsign-compare"

/* a relay named by its base64 identity */
#define ID_B64	"ASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4mrze8="

static int parse_str(struct maq_ipc_req *req, const char *text, char *err,
		     size_t errlen)
{
	return maq_ipc_request_parse(req, text, strlen(text), err, errlen);
}

/* format, parse back, compare the whole struct */
static int round_trip(struct __test_metadata *_metadata,
		      const struct maq_ipc_req *in, const char *want_text)
{
	struct maq_ipc_req out;
	char buf[MAQ_IPC_MAX_REQUEST], err[256];
	int n;

	n = maq_ipc_request_format(in, buf, sizeof(buf));
	EXPECT_LT(0, n);
	if (n <= 0)
		return -1;
	EXPECT_EQ(strlen(buf), n);
	if (want_text)
		EXPECT_STREQ(want_text, buf);
	EXPECT_EQ(n, maq_ipc_request_end(buf, n));
	EXPECT_EQ(0, maq_ipc_request_parse(&out, buf, n, err, sizeof(err)))
		TH_LOG("%s: %s", buf, err);
	EXPECT_EQ(0, memcmp(in, &out, sizeof(out))) TH_LOG("%s", buf);
	return 0;
}

TEST(request_round_trips)
{
	struct maq_ipc_req r;
	int cmd, i;

	for (cmd = MAQ_IPC_SHOW; cmd <= MAQ_IPC_ALIAS_LIST; cmd++) {
		char want[32];

		if (cmd == MAQ_IPC_BUILD || cmd == MAQ_IPC_DESTROY)
			continue;
		memset(&r, 0, sizeof(r));
		r.cmd = cmd;
		snprintf(want, sizeof(want), "%s\n\n", maq_ipc_cmd_name(cmd));
		round_trip(_metadata, &r, want);
	}
	EXPECT_STREQ("show", maq_ipc_cmd_name(MAQ_IPC_SHOW));
	EXPECT_STREQ("stats", maq_ipc_cmd_name(MAQ_IPC_STATS));
	EXPECT_EQ(NULL, maq_ipc_cmd_name(0));
	EXPECT_STREQ("alias-list", maq_ipc_cmd_name(MAQ_IPC_ALIAS_LIST));
	EXPECT_EQ(NULL, maq_ipc_cmd_name(MAQ_IPC_ALIAS_LIST + 1));

	memset(&r, 0, sizeof(r));
	r.cmd = MAQ_IPC_ALIAS_PUBLISH;
	strcpy(r.name, "shop");
	round_trip(_metadata, &r, "alias-publish\nname=shop\n\n");

	memset(&r, 0, sizeof(r));
	r.cmd = MAQ_IPC_BUILD;
	strcpy(r.to, "10.9.0.0/16");
	round_trip(_metadata, &r, "build\nto=10.9.0.0/16\n\n");

	/* every key, the largest counts and values */
	memset(&r, 0, sizeof(r));
	r.cmd = MAQ_IPC_BUILD;
	r.hops = MAQ_MAX_HOPS - 1;
	r.lifetime = 86400;
	for (i = 0; i < MAQ_MAX_HOPS - 1; i++) {
		memset(r.via[i], 'a' + i, MAQ_IPC_MAX_VALUE);
		r.n_via++;
	}
	memset(r.to, 'z', MAQ_IPC_MAX_VALUE);
	round_trip(_metadata, &r, NULL);

	memset(&r, 0, sizeof(r));
	r.cmd = MAQ_IPC_BUILD;
	r.hops = 2;
	r.lifetime = 1;
	strcpy(r.via[r.n_via++], ID_B64);
	strcpy(r.to, "0123456789abcdef");
	round_trip(_metadata, &r,
		   "build\nhops=2\nvia=" ID_B64 "\n"
		   "to=0123456789abcdef\nlifetime=1\n\n");

	memset(&r, 0, sizeof(r));
	r.cmd = MAQ_IPC_DESTROY;
	r.id = UINT32_MAX;
	round_trip(_metadata, &r, "destroy\nid=4294967295\n\n");
	r.id = 1;
	round_trip(_metadata, &r, "destroy\nid=1\n\n");

	/* keys in any order parse the same */
	ASSERT_EQ(0, parse_str(&r, "build\nlifetime=60\nvia=b1\nto=x\nvia=b2\n"
			       "hops=3\n\n", NULL, 0));
	EXPECT_EQ(MAQ_IPC_BUILD, r.cmd);
	EXPECT_EQ(3, r.hops);
	EXPECT_EQ(60, r.lifetime);
	ASSERT_EQ(2, r.n_via);
	EXPECT_STREQ("b1", r.via[0]);
	EXPECT_STREQ("b2", r.via[1]);
	EXPECT_STREQ("x", r.to);
}

TEST(request_format_refuses)
{
	struct maq_ipc_req r;
	char buf[MAQ_IPC_MAX_REQUEST];

	memset(&r, 0, sizeof(r));
	EXPECT_EQ(-EINVAL, maq_ipc_request_format(&r, buf, sizeof(buf)));
	r.cmd = MAQ_IPC_BUILD;		/* no to */
	EXPECT_EQ(-EINVAL, maq_ipc_request_format(&r, buf, sizeof(buf)));
	strcpy(r.to, "a\nb");
	EXPECT_EQ(-EINVAL, maq_ipc_request_format(&r, buf, sizeof(buf)));
	strcpy(r.to, "10.0.0.1");
	r.hops = MAQ_MAX_HOPS;
	EXPECT_EQ(-EINVAL, maq_ipc_request_format(&r, buf, sizeof(buf)));
	r.hops = 1;
	r.n_via = 2;
	strcpy(r.via[0], "a");
	strcpy(r.via[1], "b");
	EXPECT_EQ(-EINVAL, maq_ipc_request_format(&r, buf, sizeof(buf)));
	r.n_via = 1;
	r.lifetime = 86401;
	EXPECT_EQ(-EINVAL, maq_ipc_request_format(&r, buf, sizeof(buf)));
	r.lifetime = 0;
	r.id = 5;			/* build takes no id */
	EXPECT_EQ(-EINVAL, maq_ipc_request_format(&r, buf, sizeof(buf)));
	r.id = 0;
	memset(r.to, 'x', sizeof(r.to));	/* no NUL within the bound */
	EXPECT_EQ(-EINVAL, maq_ipc_request_format(&r, buf, sizeof(buf)));
	strcpy(r.to, "10.0.0.1");
	EXPECT_LT(0, maq_ipc_request_format(&r, buf, sizeof(buf)));
	/* too small a buffer, down to none */
	EXPECT_EQ(-EMSGSIZE, maq_ipc_request_format(&r, buf, 10));
	EXPECT_EQ(-EMSGSIZE, maq_ipc_request_format(&r, buf, 0));

	memset(&r, 0, sizeof(r));
	r.cmd = MAQ_IPC_DESTROY;		/* no id */
	EXPECT_EQ(-EINVAL, maq_ipc_request_format(&r, buf, sizeof(buf)));
	r.cmd = MAQ_IPC_SHOW;
	r.hops = 3;
	EXPECT_EQ(-EINVAL, maq_ipc_request_format(&r, buf, sizeof(buf)));
}

TEST(request_malformed)
{
	static const struct {
		const char *text;
		int rc;
		const char *msg;	/* the whole message */
	} c[] = {
		{ "frob\n\n", -EINVAL, "line 1: unknown command 'frob'" },
		{ "Show\n\n", -EINVAL, "line 1: unknown command 'Show'" },
		{ "show \n\n", -EINVAL, "line 1: unknown command 'show '" },
		{ "\n", -EINVAL, "line 1: no command" },
		{ "", -EINVAL,
		  "line 1: missing the empty line that ends the request" },
		{ "show", -EINVAL,
		  "line 1: missing the empty line that ends the request" },
		{ "show\n", -EINVAL,
		  "line 2: missing the empty line that ends the request" },
		{ "build\nto=x\n", -EINVAL,
		  "line 3: missing the empty line that ends the request" },
		{ "build\nto=x", -EINVAL,
		  "line 2: missing the empty line that ends the request" },
		{ "show\n\nshow\n\n", -EINVAL,
		  "line 3: data after the empty line" },
		{ "show\r\n\r\n", -EINVAL, "line 1: carriage return" },
		{ "build\nto=x\r\n\n", -EINVAL, "line 2: carriage return" },
		{ "build\nto=x\ty\n\n", -EINVAL, "line 2: control byte 0x09" },
		{ "build\nto=\x1b[2J\n\n", -EINVAL,
		  "line 2: control byte 0x1b" },
		{ "show\nfrob=1\n\n", -EINVAL, "line 2: unknown key 'frob'" },
		{ "build\nto=x\nHops=1\n\n", -EINVAL,
		  "line 3: unknown key 'Hops'" },
		{ "build\nto\n\n", -EINVAL, "line 2: not key=value: 'to'" },
		{ "build\n=x\n\n", -EINVAL, "line 2: not key=value: '=x'" },
		{ "show\nhops=3\n\n", -EINVAL, "line 2: show takes no hops=" },
		{ "relays\nto=x\n\n", -EINVAL, "line 2: relays takes no to=" },
		{ "destroy\nid=3\nto=x\n\n", -EINVAL,
		  "line 3: destroy takes no to=" },
		{ "build\nto=x\nid=3\n\n", -EINVAL,
		  "line 3: build takes no id=" },
		{ "build\nhops=2\nto=x\nhops=3\n\n", -EINVAL,
		  "line 4: hops: repeated (first on line 2)" },
		{ "build\nto=x\nto=y\n\n", -EINVAL,
		  "line 3: to: repeated (first on line 2)" },
		{ "destroy\nid=1\nid=1\n\n", -EINVAL,
		  "line 3: id: repeated (first on line 2)" },
		{ "build\nto=x\nlifetime=5\nlifetime=5\n\n", -EINVAL,
		  "line 4: lifetime: repeated (first on line 3)" },
		{ "build\nto=x\nhops=x\n\n", -EINVAL,
		  "line 3: hops: not a number 'x'" },
		{ "build\nto=x\nhops=\n\n", -EINVAL,
		  "line 3: hops: not a number ''" },
		{ "build\nto=x\nhops=-1\n\n", -EINVAL,
		  "line 3: hops: not a number '-1'" },
		{ "build\nto=x\nhops=+1\n\n", -EINVAL,
		  "line 3: hops: not a number '+1'" },
		{ "build\nto=x\nhops=0x3\n\n", -EINVAL,
		  "line 3: hops: not a number '0x3'" },
		{ "build\nto=x\nhops= 3\n\n", -EINVAL,
		  "line 3: hops: not a number ' 3'" },
		{ "build\nto=x\nhops=0\n\n", -EINVAL,
		  "line 3: hops: '0' is out of range 1..7" },
		{ "build\nto=x\nhops=8\n\n", -EINVAL,
		  "line 3: hops: '8' is out of range 1..7" },
		{ "build\nto=x\nhops=99999999999999999999999\n\n", -EINVAL,
		  "line 3: hops: '99999999999999999999999' is out of range 1..7" },
		{ "destroy\nid=0\n\n", -EINVAL,
		  "line 2: id: '0' is out of range 1..4294967295" },
		{ "destroy\nid=4294967296\n\n", -EINVAL,
		  "line 2: id: '4294967296' is out of range 1..4294967295" },
		{ "destroy\nid=1e3\n\n", -EINVAL,
		  "line 2: id: not a number '1e3'" },
		{ "build\nto=x\nlifetime=0\n\n", -EINVAL,
		  "line 3: lifetime: '0' is out of range 1..86400" },
		{ "build\nto=x\nlifetime=86401\n\n", -EINVAL,
		  "line 3: lifetime: '86401' is out of range 1..86400" },
		{ "build\nto=\n\n", -EINVAL, "line 2: to: empty" },
		{ "build\nto=x\nvia=\n\n", -EINVAL, "line 3: via: empty" },
		{ "build\nvia=1\nvia=2\nvia=3\nvia=4\nvia=5\nvia=6\nvia=7\n"
		  "via=8\nto=x\n\n", -EINVAL, "line 9: via: more than 7" },
		{ "build\n\n", -EINVAL, "build: to= is required" },
		{ "build\nhops=2\n\n", -EINVAL, "build: to= is required" },
		{ "destroy\n\n", -EINVAL, "destroy: id= is required" },
		{ "build\nhops=2\nvia=a\nvia=b\nvia=c\nto=x\n\n", -EINVAL,
		  "build: 3 via= for hops=2" },
	};
	struct maq_ipc_req r;
	char err[256];
	unsigned int i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		strcpy(err, "untouched");
		EXPECT_EQ(c[i].rc, parse_str(&r, c[i].text, err, sizeof(err)))
			TH_LOG("case %u", i);
		EXPECT_STREQ(c[i].msg, err) TH_LOG("case %u", i);
	}
	/* a long value is cut to 32 bytes in the message */
	EXPECT_EQ(-EINVAL, parse_str(&r, "build\nto=x\nhops="
				     "0123456789012345678901234567890123456789"
				     "\n\n", err, sizeof(err)));
	EXPECT_STREQ("line 3: hops: '01234567890123456789012345678901' is "
		     "out of range 1..7", err);
	/* no err buffer at all is fine */
	EXPECT_EQ(-EINVAL, parse_str(&r, "frob\n\n", NULL, 0));
}

TEST(request_bytes_and_sizes)
{
	static const char nul[] = "build\nto=a\0b\n\n";
	char big[MAQ_IPC_MAX_REQUEST + 16], err[256];
	struct maq_ipc_req r;
	size_t n;

	EXPECT_EQ(-EINVAL, maq_ipc_request_parse(&r, nul, sizeof(nul) - 1,
						 err, sizeof(err)));
	EXPECT_STREQ("line 2: NUL byte", err);
	EXPECT_EQ(-EINVAL, maq_ipc_request_parse(&r, "\0show\n\n", 7, err,
						 sizeof(err)));
	EXPECT_STREQ("line 1: NUL byte", err);

	/* a value of exactly 255 bytes is fine, 256 is not */
	n = snprintf(big, sizeof(big), "build\nto=%0255d\n\n", 7);
	EXPECT_EQ(0, maq_ipc_request_parse(&r, big, n, err, sizeof(err)))
		TH_LOG("%s", err);
	EXPECT_EQ(255, strlen(r.to));
	n = snprintf(big, sizeof(big), "build\nto=%0256d\n\n", 7);
	EXPECT_EQ(-EMSGSIZE, maq_ipc_request_parse(&r, big, n, err,
						   sizeof(err)));
	EXPECT_STREQ("line 2: to: value of 256 bytes, more than 255", err);
	n = snprintf(big, sizeof(big), "build\nto=x\nvia=%0300d\n\n", 7);
	EXPECT_EQ(-EMSGSIZE, maq_ipc_request_parse(&r, big, n, err,
						   sizeof(err)));
	EXPECT_STREQ("line 3: via: value of 300 bytes, more than 255", err);

	/* over the request limit, whatever it holds */
	memset(big, 'a', sizeof(big));
	EXPECT_EQ(-EMSGSIZE, maq_ipc_request_parse(&r, big, sizeof(big), err,
						   sizeof(err)));
	EXPECT_STREQ("request of 4112 bytes, more than 4096", err);

	/* the parse leaves nothing of a previous request behind */
	ASSERT_EQ(0, parse_str(&r, "build\nhops=2\nto=a\n\n", err,
			       sizeof(err)));
	ASSERT_EQ(0, parse_str(&r, "show\n\n", err, sizeof(err)));
	EXPECT_EQ(0, r.hops);
	EXPECT_STREQ("", r.to);
}

TEST(request_end)
{
	char big[MAQ_IPC_MAX_REQUEST];

	EXPECT_EQ(0, maq_ipc_request_end("", 0));
	EXPECT_EQ(0, maq_ipc_request_end("sho", 3));
	EXPECT_EQ(0, maq_ipc_request_end("show\n", 5));
	EXPECT_EQ(6, maq_ipc_request_end("show\n\n", 6));
	EXPECT_EQ(6, maq_ipc_request_end("show\n\nmore", 10));
	EXPECT_EQ(1, maq_ipc_request_end("\n", 1));
	EXPECT_EQ(0, maq_ipc_request_end("build\nto=x\n", 11));
	EXPECT_EQ(12, maq_ipc_request_end("build\nto=x\n\n", 12));
	memset(big, 'a', sizeof(big));
	EXPECT_EQ(0, maq_ipc_request_end(big, sizeof(big) - 1));
	EXPECT_EQ(-EMSGSIZE, maq_ipc_request_end(big, sizeof(big)));
}

TEST(reply_build_and_parse)
{
	struct maq_ipc_out o;
	struct maq_ipc_reply r;
	size_t s = 0, e = 0;
	int n = 0;

	maq_ipc_out_init(&o);
	maq_ipc_put(&o, "relay", "%s", "AAAA");
	maq_ipc_put(&o, "id", "%016llx", 0x0123456789abcdefULL);
	maq_ipc_put(&o, "flags", "relay,exit");
	maq_ipc_put(&o, "relay", "%s", "BBBB");
	maq_ipc_put(&o, "id", "%s", "fedcba9876543210");
	maq_ipc_put(&o, "prefix", "%s", "");
	maq_ipc_put(&o, "desc.rejected.bad-signature", "%u", 7);
	maq_ipc_end(&o, 0, NULL);
	ASSERT_EQ(0, o.err);
	EXPECT_STREQ("relay=AAAA\nid=0123456789abcdef\nflags=relay,exit\n"
		     "relay=BBBB\nid=fedcba9876543210\nprefix=\n"
		     "desc.rejected.bad-signature=7\nerrno=0\n\n", o.buf);
	EXPECT_EQ(strlen(o.buf), o.len);

	ASSERT_EQ(0, maq_ipc_reply_parse(&r, o.buf, o.len));
	EXPECT_EQ(0, r.err);
	EXPECT_STREQ("", r.message);
	ASSERT_EQ(7, r.n);
	EXPECT_STREQ("relay", r.pair[0].key);
	EXPECT_STREQ("AAAA", r.pair[0].value);
	EXPECT_STREQ("", r.pair[5].value);
	while (maq_ipc_record(&r, "relay", &s, &e)) {
		n++;
		EXPECT_STREQ(n == 1 ? "0123456789abcdef" : "fedcba9876543210",
			     maq_ipc_field(&r, s, e, "id"));
		EXPECT_EQ(n == 1, maq_ipc_field(&r, s, e, "flags") != NULL);
	}
	EXPECT_EQ(2, n);
	EXPECT_STREQ("7", maq_ipc_field(&r, 0, r.n,
					"desc.rejected.bad-signature"));
	EXPECT_EQ(NULL, maq_ipc_field(&r, 0, r.n, "nope"));
	maq_ipc_reply_free(&r);
	maq_ipc_reply_free(&r);		/* twice is harmless */
	maq_ipc_out_free(&o);

	/* an error: errno of either sign, a message */
	maq_ipc_out_init(&o);
	maq_ipc_end(&o, -ETIMEDOUT, "hop 2 (0123456789abcdef): timeout");
	EXPECT_STREQ("errno=110\nmessage=hop 2 (0123456789abcdef): timeout\n\n",
		     o.buf);
	ASSERT_EQ(0, maq_ipc_reply_parse(&r, o.buf, o.len));
	EXPECT_EQ(ETIMEDOUT, r.err);
	EXPECT_STREQ("hop 2 (0123456789abcdef): timeout", r.message);
	EXPECT_EQ(0, r.n);
	maq_ipc_reply_free(&r);
	maq_ipc_out_free(&o);

	/* no message: strerror; a message's control bytes become spaces */
	maq_ipc_out_init(&o);
	maq_ipc_end(&o, ENOENT, NULL);
	EXPECT_STREQ("errno=2\nmessage=No such file or directory\n\n", o.buf);
	maq_ipc_out_free(&o);
	maq_ipc_out_init(&o);
	maq_ipc_end(&o, EINVAL, "two\nlines\r\tx");
	EXPECT_STREQ("errno=22\nmessage=two lines  x\n\n", o.buf);
	maq_ipc_out_free(&o);
	maq_ipc_out_init(&o);
	maq_ipc_end(&o, 0, "fine");
	EXPECT_STREQ("errno=0\nmessage=fine\n\n", o.buf);
	maq_ipc_out_free(&o);
}

TEST(put_refuses)
{
	static const char *const bad_values[] = {
		"a\nb", "\n", "a\rb", "a\tb", "\x1b[2J", "x\x7f",
	};
	static const char *const bad_keys[] = {
		"", "a=b", "a b", "a\nb", "errno", "message", "k\xc3\xa9",
	};
	struct maq_ipc_out o;
	struct maq_ipc_reply r;
	unsigned int i;

	for (i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		maq_ipc_out_init(&o);
		maq_ipc_put(&o, "ok", "1");
		maq_ipc_put(&o, "k", "%s", bad_values[i]);
		EXPECT_EQ(-EINVAL, o.err) TH_LOG("value %u", i);
		/* later puts are ignored, the end says what happened */
		maq_ipc_put(&o, "later", "1");
		maq_ipc_end(&o, 0, NULL);
		EXPECT_STREQ("errno=22\nmessage=maquisd could not format its "
			     "reply\n\n", o.buf);
		EXPECT_EQ(-EINVAL, o.err);
		maq_ipc_out_free(&o);
	}
	/* a NUL inside a value, by %c */
	maq_ipc_out_init(&o);
	maq_ipc_put(&o, "k", "a%cb", 0);
	EXPECT_EQ(-EINVAL, o.err);
	maq_ipc_out_free(&o);

	for (i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
		maq_ipc_out_init(&o);
		maq_ipc_put(&o, bad_keys[i], "1");
		EXPECT_EQ(-EINVAL, o.err) TH_LOG("key %u", i);
		maq_ipc_out_free(&o);
	}

	/* a reply cannot grow past MAQ_IPC_MAX_REPLY */
	maq_ipc_out_init(&o);
	for (i = 0; i < MAQ_IPC_MAX_REPLY / 100 && !o.err; i++)
		maq_ipc_put(&o, "relay", "%0190u", i);
	EXPECT_EQ(-EMSGSIZE, o.err);
	EXPECT_GE(MAQ_IPC_MAX_REPLY, o.len);
	maq_ipc_end(&o, 0, NULL);
	ASSERT_EQ(0, maq_ipc_reply_parse(&r, o.buf, o.len));
	EXPECT_EQ(EMSGSIZE, r.err);
	EXPECT_EQ(0, r.n);
	maq_ipc_reply_free(&r);
	maq_ipc_out_free(&o);

	/* the pairs fit, the errno line would not: an error reply instead */
	maq_ipc_out_init(&o);
	maq_ipc_put(&o, "k", "%0*d", MAQ_IPC_MAX_REPLY - 8, 0);
	ASSERT_EQ(0, o.err);
	EXPECT_EQ(MAQ_IPC_MAX_REPLY - 5, o.len);
	maq_ipc_end(&o, 0, NULL);
	EXPECT_EQ(-EMSGSIZE, o.err);
	ASSERT_EQ(0, maq_ipc_reply_parse(&r, o.buf, o.len));
	EXPECT_EQ(EMSGSIZE, r.err);
	EXPECT_STREQ("maquisd could not format its reply", r.message);
	maq_ipc_reply_free(&r);
	maq_ipc_out_free(&o);
}

TEST(reply_malformed)
{
	static const char *const c[] = {
		"",
		"\n",
		"errno=0\n",			/* no empty line */
		"errno=0",
		"a=1\n\n",			/* no errno */
		"errno=0\n\nx",			/* data after the end */
		"errno=0\n\n\n",
		"errno=x\n\n",
		"errno=-1\n\n",
		"errno=4096\n\n",
		"errno=\n\n",
		"errno=0\nerrno=0\n\n",
		"errno=5\n\n",			/* no message */
		"errno=0\na=1\n\n",		/* pair after errno */
		"message=x\nerrno=1\n\n",	/* message before errno */
		"errno=2\nmessage=\n\n",	/* an error without words */
		"errno=1\nmessage=x\nmessage=y\n\n",
		"errno=1\nmessage=x\na=1\n\n",
		"novalue\nerrno=0\n\n",
		"=v\nerrno=0\n\n",
		"a b=1\nerrno=0\n\n",
		"a=1\r\nerrno=0\n\n",
		"a=\x1b[31m\nerrno=0\n\n",
		"a=\t\nerrno=0\n\n",
	};
	static const char nul[] = "a=1\0\nerrno=0\n\n";
	struct maq_ipc_reply r;
	unsigned int i;
	char *big;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		EXPECT_EQ(-EPROTO, maq_ipc_reply_parse(&r, c[i], strlen(c[i])))
			TH_LOG("case %u", i);
		EXPECT_EQ(NULL, r.text);
		EXPECT_EQ(0, r.n);
		maq_ipc_reply_free(&r);
	}
	EXPECT_EQ(-EPROTO, maq_ipc_reply_parse(&r, nul, sizeof(nul) - 1));
	/* accepted: empty values, '=' inside a value, a large errno */
	big = "a=\nb=x=y\nerrno=4095\nmessage=m\n\n";
	ASSERT_EQ(0, maq_ipc_reply_parse(&r, big, strlen(big)));
	EXPECT_STREQ("", r.pair[0].value);
	EXPECT_STREQ("x=y", r.pair[1].value);
	EXPECT_EQ(4095, r.err);
	maq_ipc_reply_free(&r);

	big = malloc(MAQ_IPC_MAX_REPLY + 1);
	ASSERT_NE(NULL, big);
	memset(big, 'a', MAQ_IPC_MAX_REPLY + 1);
	EXPECT_EQ(-EMSGSIZE, maq_ipc_reply_parse(&r, big,
						 MAQ_IPC_MAX_REPLY + 1));
	free(big);
}

/* --- over a socket ---------------------------------------------------- */

enum srv_mode {
	SRV_ECHO,	/* answer with what the request parsed to */
	SRV_SILENT,	/* read the request, never answer */
	SRV_TRUNCATED,	/* answer without the empty line, close */
	SRV_HUGE,	/* answer more than MAQ_IPC_MAX_REPLY */
	SRV_TRAILING,	/* a good reply, then more bytes */
};

struct srv {
	int fd;
	enum srv_mode mode;
	int calls;		/* connections to serve */
	bool peer_ok;
	int stop[2];		/* SRV_SILENT waits on it */
};

static void srv_reply(struct srv *s, int c)
{
	char buf[MAQ_IPC_MAX_REQUEST], err[256];
	struct maq_ipc_req req;
	struct maq_ipc_out o;
	size_t len = 0;
	ssize_t n, end = 0;
	unsigned int i;

	while (!end && len < sizeof(buf)) {
		n = recv(c, buf + len, sizeof(buf) - len, 0);
		if (n <= 0)
			return;
		len += n;
		end = maq_ipc_request_end(buf, len);
	}
	if (end <= 0)
		return;
	if (s->mode == SRV_SILENT) {
		char x;

		if (read(s->stop[0], &x, 1) < 0)
			return;
		return;
	}
	if (s->mode == SRV_TRUNCATED) {
		if (send(c, "errno=0\n", 8, MSG_NOSIGNAL) < 0)
			return;
		return;
	}
	if (s->mode == SRV_HUGE) {
		static char chunk[65536];

		memset(chunk, 'a', sizeof(chunk));
		chunk[0] = 'k';
		chunk[1] = '=';
		for (i = 0; i < MAQ_IPC_MAX_REPLY / sizeof(chunk) + 2; i++)
			if (send(c, chunk, sizeof(chunk), MSG_NOSIGNAL) < 0)
				return;
		return;
	}
	maq_ipc_out_init(&o);
	if (maq_ipc_request_parse(&req, buf, end, err, sizeof(err))) {
		maq_ipc_end(&o, EINVAL, err);
	} else {
		maq_ipc_put(&o, "cmd", "%s", maq_ipc_cmd_name(req.cmd));
		if (req.to[0])
			maq_ipc_put(&o, "to", "%s", req.to);
		for (i = 0; i < req.n_via; i++)
			maq_ipc_put(&o, "via", "%s", req.via[i]);
		if (req.id)
			maq_ipc_put(&o, "id", "%u", req.id);
		maq_ipc_end(&o, req.id == 99 ? ENOENT : 0,
			    req.id == 99 ? "no circuit 99" : NULL);
	}
	if (o.len)
		n = send(c, o.buf, o.len, MSG_NOSIGNAL);
	if (s->mode == SRV_TRAILING)
		n = send(c, "junk=1\n", 7, MSG_NOSIGNAL);
	(void)n;
	maq_ipc_out_free(&o);
}

static void *srv_run(void *arg)
{
	struct srv *s = arg;
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	int i, c;

	for (i = 0; i < s->calls; i++) {
		if (poll(&pfd, 1, 10000) != 1)
			break;
		c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			break;
		s->peer_ok = maq_ipc_peer_ok(c);
		srv_reply(s, c);
		close(c);
	}
	return NULL;
}

FIXTURE(sock) {
	char dir[64];
	char path[128];
	char err[256];
};

FIXTURE_SETUP(sock)
{
	strcpy(self->dir, "/tmp/maq-ipc-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	/* a directory the listener has to make, below one that exists */
	snprintf(self->path, sizeof(self->path), "%s/a/run/maquisd.sock",
		 self->dir);
}

FIXTURE_TEARDOWN(sock)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd))
		TH_LOG("could not remove %s", self->dir);
}

static int serve(struct srv *s, pthread_t *t, int fd, enum srv_mode mode,
		 int calls)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->mode = mode;
	s->calls = calls;
	if (pipe(s->stop))
		return -1;
	return pthread_create(t, NULL, srv_run, s);
}

static void unserve(struct srv *s, pthread_t t)
{
	if (write(s->stop[1], "x", 1) < 0)
		return;
	pthread_join(t, NULL);
	close(s->stop[0]);
	close(s->stop[1]);
}

TEST_F(sock, listen_and_call)
{
	struct maq_ipc_req req = { .cmd = MAQ_IPC_BUILD, .hops = 2 };
	struct maq_ipc_reply r;
	struct stat st;
	char dir[128];
	struct srv s;
	pthread_t t;
	int fd, flags;

	/* the mode must not depend on a permissive umask */
	umask(0);
	fd = maq_ipc_listen(self->path, self->err, sizeof(self->err));
	ASSERT_LE(0, fd) TH_LOG("%s", self->err);
	ASSERT_EQ(0, lstat(self->path, &st));
	EXPECT_TRUE(S_ISSOCK(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 07777);
	snprintf(dir, sizeof(dir), "%.60s/a/run", self->dir);
	ASSERT_EQ(0, stat(dir, &st));
	EXPECT_EQ(0700, st.st_mode & 07777);
	snprintf(dir, sizeof(dir), "%.60s/a", self->dir);
	ASSERT_EQ(0, stat(dir, &st));
	EXPECT_EQ(0755, st.st_mode & 07777);
	flags = fcntl(fd, F_GETFL);
	EXPECT_TRUE(flags & O_NONBLOCK);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);

	/* a second daemon on the same path is refused, the first keeps it */
	EXPECT_EQ(-EADDRINUSE, maq_ipc_listen(self->path, self->err,
					      sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "another daemon answers on"));
	EXPECT_NE(NULL, strstr(self->err, self->path));

	/* the refused listener's probe waits in the backlog: one more */
	ASSERT_EQ(0, serve(&s, &t, fd, SRV_ECHO, 4));
	strcpy(req.via[req.n_via++], "relay1");
	strcpy(req.via[req.n_via++], "0123456789abcdef");
	strcpy(req.to, "10.9.0.0/16");
	ASSERT_EQ(0, maq_ipc_call(self->path, &req, &r, 5000));
	EXPECT_EQ(0, r.err);
	EXPECT_STREQ("build", maq_ipc_field(&r, 0, r.n, "cmd"));
	EXPECT_STREQ("10.9.0.0/16", maq_ipc_field(&r, 0, r.n, "to"));
	ASSERT_EQ(4, r.n);
	EXPECT_STREQ("relay1", r.pair[2].value);
	EXPECT_STREQ("0123456789abcdef", r.pair[3].value);
	maq_ipc_reply_free(&r);

	/* the daemon's own error comes back as r.err, not a failed call */
	memset(&req, 0, sizeof(req));
	req.cmd = MAQ_IPC_DESTROY;
	req.id = 99;
	ASSERT_EQ(0, maq_ipc_call(self->path, &req, &r, 5000));
	EXPECT_EQ(ENOENT, r.err);
	EXPECT_STREQ("no circuit 99", r.message);
	maq_ipc_reply_free(&r);

	req.cmd = MAQ_IPC_STATS;
	req.id = 0;
	ASSERT_EQ(0, maq_ipc_call(self->path, &req, &r, 5000));
	EXPECT_STREQ("stats", maq_ipc_field(&r, 0, r.n, "cmd"));
	maq_ipc_reply_free(&r);
	unserve(&s, t);
	EXPECT_TRUE(s.peer_ok);

	/* a request the formatter refuses never leaves */
	req.cmd = MAQ_IPC_DESTROY;
	EXPECT_EQ(-EINVAL, maq_ipc_call(self->path, &req, &r, 5000));

	/* the listener gone, its socket is stale: refused, then replaced */
	close(fd);
	req.cmd = MAQ_IPC_SHOW;
	EXPECT_EQ(-ECONNREFUSED, maq_ipc_call(self->path, &req, &r, 1000));
	maq_ipc_reply_free(&r);
	umask(077);
	fd = maq_ipc_listen(self->path, self->err, sizeof(self->err));
	ASSERT_LE(0, fd) TH_LOG("%s", self->err);
	ASSERT_EQ(0, lstat(self->path, &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	ASSERT_EQ(0, serve(&s, &t, fd, SRV_ECHO, 1));
	ASSERT_EQ(0, maq_ipc_call(self->path, &req, &r, 5000));
	EXPECT_STREQ("show", maq_ipc_field(&r, 0, r.n, "cmd"));
	maq_ipc_reply_free(&r);
	unserve(&s, t);
	close(fd);
	unlink(self->path);

	/* no socket at all */
	EXPECT_EQ(-ENOENT, maq_ipc_call(self->path, &req, &r, 1000));
	maq_ipc_reply_free(&r);
}

TEST_F(sock, bad_paths)
{
	char longpath[200];
	struct maq_ipc_req req = { .cmd = MAQ_IPC_SHOW };
	struct maq_ipc_reply r;
	int fd;

	memset(longpath, 'a', sizeof(longpath));
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	EXPECT_EQ(-ENAMETOOLONG, maq_ipc_listen(longpath, self->err,
						sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "too long"));
	EXPECT_EQ(-ENAMETOOLONG, maq_ipc_call(longpath, &req, &r, 100));
	EXPECT_EQ(-EINVAL, maq_ipc_listen("", self->err, sizeof(self->err)));

	/* a file that is not a socket is never removed */
	snprintf(self->path, sizeof(self->path), "%.60s/file", self->dir);
	fd = open(self->path, O_CREAT | O_WRONLY, 0600);
	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(-EEXIST, maq_ipc_listen(self->path, self->err,
					  sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "is not a socket"));
	EXPECT_EQ(0, access(self->path, F_OK));

	/* the socket's directory is a file */
	snprintf(self->path, sizeof(self->path), "%.60s/file/x.sock",
		 self->dir);
	EXPECT_EQ(-ENOTDIR, maq_ipc_listen(self->path, self->err,
					   sizeof(self->err)));
	EXPECT_NE(NULL, strstr(self->err, "not a directory"));

	/* an existing directory keeps its mode */
	snprintf(self->path, sizeof(self->path), "%.60s/x.sock", self->dir);
	ASSERT_EQ(0, chmod(self->dir, 0711));
	fd = maq_ipc_listen(self->path, self->err, sizeof(self->err));
	ASSERT_LE(0, fd) TH_LOG("%s", self->err);
	close(fd);
	{
		struct stat st;

		ASSERT_EQ(0, stat(self->dir, &st));
		EXPECT_EQ(0711, st.st_mode & 07777);
	}
}

TEST_F(sock, bad_servers)
{
	struct maq_ipc_req req = { .cmd = MAQ_IPC_SHOW };
	struct maq_ipc_reply r;
	struct timespec t0, t1;
	struct srv s;
	pthread_t t;
	long ms;
	int fd;

	fd = maq_ipc_listen(self->path, self->err, sizeof(self->err));
	ASSERT_LE(0, fd) TH_LOG("%s", self->err);

	/* a daemon that never answers: the deadline holds */
	ASSERT_EQ(0, serve(&s, &t, fd, SRV_SILENT, 1));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(-ETIMEDOUT, maq_ipc_call(self->path, &req, &r, 300));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	EXPECT_LE(290, ms);
	EXPECT_GT(3000, ms);
	EXPECT_EQ(0, r.n);
	unserve(&s, t);

	ASSERT_EQ(0, serve(&s, &t, fd, SRV_TRUNCATED, 1));
	EXPECT_EQ(-EPROTO, maq_ipc_call(self->path, &req, &r, 5000));
	unserve(&s, t);

	ASSERT_EQ(0, serve(&s, &t, fd, SRV_HUGE, 1));
	EXPECT_EQ(-EMSGSIZE, maq_ipc_call(self->path, &req, &r, 10000));
	unserve(&s, t);

	/* what follows the empty line is not read as part of the reply */
	ASSERT_EQ(0, serve(&s, &t, fd, SRV_TRAILING, 1));
	ASSERT_EQ(0, maq_ipc_call(self->path, &req, &r, 5000));
	EXPECT_EQ(1, r.n);
	EXPECT_EQ(NULL, maq_ipc_field(&r, 0, r.n, "junk"));
	maq_ipc_reply_free(&r);
	unserve(&s, t);
	close(fd);
}

TEST(path_from_env)
{
	unsetenv(MAQ_IPC_ENV);
	EXPECT_STREQ(MAQ_IPC_PATH, maq_ipc_path());
	setenv(MAQ_IPC_ENV, "", 1);
	EXPECT_STREQ(MAQ_IPC_PATH, maq_ipc_path());
	setenv(MAQ_IPC_ENV, "/tmp/x.sock", 1);
	EXPECT_STREQ("/tmp/x.sock", maq_ipc_path());
	unsetenv(MAQ_IPC_ENV);
}

TEST_HARNESS_MAIN
