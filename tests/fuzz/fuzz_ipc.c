// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket's parsers on anything: maq_ipc_request_parse() (what
 * maquisd reads from a local client) and maq_ipc_reply_parse() (what the
 * CLI reads from the daemon).
 *
 * A refused request must say why; an accepted one must be within the
 * documented limits, be found complete by maq_ipc_request_end(), and
 * survive maq_ipc_request_format() and a second parse unchanged.  An
 * accepted reply must hold sane pairs and come back the same through
 * maq_ipc_put() / maq_ipc_end() and a second parse.
 */
#include <errno.h>
#include <string.h>

#include "ipc.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	return 0;
}

static bool req_equal(const struct maq_ipc_req *a, const struct maq_ipc_req *b)
{
	unsigned int i;

	if (a->cmd != b->cmd || a->hops != b->hops || a->n_via != b->n_via ||
	    a->id != b->id || a->lifetime != b->lifetime ||
	    strcmp(a->to, b->to))
		return false;
	for (i = 0; i < a->n_via; i++)
		if (strcmp(a->via[i], b->via[i]))
			return false;
	return true;
}

static void check_request(const char *buf, size_t len)
{
	static struct maq_ipc_req req, again;
	static char out[MAQ_IPC_MAX_REQUEST + 1];
	char err[256];
	unsigned int i;
	int ret, n;

	err[0] = '\0';
	ret = maq_ipc_request_parse(&req, buf, len, err, sizeof(err));
	if (ret) {
		FUZZ_ASSERT(ret == -EINVAL || ret == -EMSGSIZE, "return %d",
			    ret);
		FUZZ_ASSERT(err[0], "refused without a message");
		return;
	}
	FUZZ_ASSERT(maq_ipc_cmd_name(req.cmd), "command %d", req.cmd);
	FUZZ_ASSERT(req.hops <= MAQ_MAX_HOPS - 1 &&
		    req.n_via <= MAQ_MAX_HOPS - 1 &&
		    (!req.hops || req.n_via <= req.hops),
		    "hops %u via %u", req.hops, req.n_via);
	FUZZ_ASSERT(req.lifetime <= MAQ_IPC_MAX_LIFETIME, "lifetime %u",
		    req.lifetime);
	FUZZ_ASSERT(memchr(req.to, 0, sizeof(req.to)), "to unterminated");
	for (i = 0; i < req.n_via; i++)
		FUZZ_ASSERT(memchr(req.via[i], 0, sizeof(req.via[i])) &&
			    req.via[i][0], "via %u", i);
	FUZZ_ASSERT(req.cmd != MAQ_IPC_BUILD || req.to[0], "build without to");
	FUZZ_ASSERT(req.cmd != MAQ_IPC_DESTROY || req.id, "destroy without id");
	FUZZ_ASSERT(maq_ipc_request_end(buf, len) == (ssize_t)len,
		    "accepted, yet request_end says %zd of %zu",
		    maq_ipc_request_end(buf, len), len);

	n = maq_ipc_request_format(&req, out, sizeof(out));
	FUZZ_ASSERT(n > 0 && (size_t)n < sizeof(out), "format: %d", n);
	ret = maq_ipc_request_parse(&again, out, (size_t)n, err, sizeof(err));
	FUZZ_ASSERT(!ret, "formatted request refused: %s", err);
	FUZZ_ASSERT(req_equal(&req, &again), "request changed in a round trip");
}

static void check_reply(const char *buf, size_t len)
{
	struct maq_ipc_reply r, again;
	struct maq_ipc_out o;
	size_t i;
	int ret;

	ret = maq_ipc_reply_parse(&r, buf, len);
	if (ret) {
		FUZZ_ASSERT(ret == -EPROTO || ret == -EMSGSIZE ||
			    ret == -ENOMEM, "return %d", ret);
		FUZZ_ASSERT(!r.n, "refused with %zu pairs", r.n);
		maq_ipc_reply_free(&r);
		return;
	}
	FUZZ_ASSERT(r.err >= 0 && r.message, "errno %d", r.err);
	maq_ipc_out_init(&o);
	for (i = 0; i < r.n; i++) {
		FUZZ_ASSERT(r.pair[i].key && r.pair[i].value &&
			    r.pair[i].key[0] &&
			    !strchr(r.pair[i].value, '\n') &&
			    strcmp(r.pair[i].key, "errno") &&
			    strcmp(r.pair[i].key, "message"),
			    "pair %zu", i);
		maq_ipc_put(&o, r.pair[i].key, "%s", r.pair[i].value);
	}
	maq_ipc_end(&o, r.err, r.message[0] ? r.message : NULL);
	FUZZ_ASSERT(!o.err, "a parsed reply does not format: %d", o.err);
	ret = maq_ipc_reply_parse(&again, o.buf, o.len);
	FUZZ_ASSERT(!ret, "formatted reply refused: %d", ret);
	FUZZ_ASSERT(again.n == r.n && again.err == r.err,
		    "round trip: %zu pairs errno %d, was %zu, %d", again.n,
		    again.err, r.n, r.err);
	/*
	 * maq_ipc_end() cuts messages at 1024 bytes and says strerror() for
	 * an error without one (the parser takes "message=" empty).
	 */
	if (r.err && !r.message[0])
		FUZZ_ASSERT(again.message[0], "errno %d, still no message",
			    r.err);
	else if (strlen(r.message) <= 1024)
		FUZZ_ASSERT(!strcmp(again.message, r.message),
			    "message changed in a round trip");
	for (i = 0; i < r.n; i++)
		FUZZ_ASSERT(!strcmp(again.pair[i].key, r.pair[i].key) &&
			    !strcmp(again.pair[i].value, r.pair[i].value),
			    "pair %zu changed in a round trip", i);
	maq_ipc_reply_free(&again);
	maq_ipc_out_free(&o);
	maq_ipc_reply_free(&r);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	char *buf;

	buf = (char *)fuzz_copy(data, size);
	check_request(buf, size);
	check_reply(buf, size);
	free(buf);
	return 0;
}
