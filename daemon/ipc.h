/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket between maquisd and the maquis CLI: a unix stream
 * socket (default MAQ_IPC_PATH, in a 0700 directory, the socket 0600 and
 * the peer's credentials checked, so root only by default) carrying a
 * line-based text protocol in the manner of WireGuard's cross-platform
 * UAPI.
 *
 * Request: a command line, then "key=value" lines, then an empty line:
 *
 *   build\nhops=3\nvia=<relay>\nto=<dest>\n\n
 *
 * Reply: "key=value" lines, then "errno=N" (0 or a positive errno), an
 * optional "message=..." line (always present when errno is not 0), and an
 * empty line.  A key that repeats starts a new record (e.g. one "relay="
 * line a relay, followed by that relay's fields).  Values never contain a
 * newline; the formatter refuses them.  Requests are at most
 * MAQ_IPC_MAX_REQUEST bytes; the daemon closes after each reply.
 *
 * Commands and their keys (all optional unless said):
 *   show                     this daemon: identity, role, counters
 *   relays                   the view: one record per known descriptor
 *   circuits                 circuits this daemon built or serves
 *   build   to= (required) hops= via= (repeatable, in order) lifetime=
 *   destroy id= (required)
 *   stats                    daemon counters (gossip, setup, events)
 *
 * No request or reply ever carries key material.
 */
#ifndef _MAQUIS_DAEMON_IPC_H
#define _MAQUIS_DAEMON_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <maquis/wire.h>

#define MAQ_IPC_PATH		"/run/maquis/maquisd.sock"
#define MAQ_IPC_ENV		"MAQUIS_SOCKET"	/* overrides the path */
#define MAQ_IPC_MAX_REQUEST	4096
#define MAQ_IPC_MAX_VALUE	255		/* bytes in one value */

enum maq_ipc_cmd {
	MAQ_IPC_SHOW = 1,
	MAQ_IPC_RELAYS,
	MAQ_IPC_CIRCUITS,
	MAQ_IPC_BUILD,
	MAQ_IPC_DESTROY,
	MAQ_IPC_STATS,
};

struct maq_ipc_req {
	enum maq_ipc_cmd cmd;
	unsigned int hops;		/* 0: not given */
	unsigned int n_via;
	char via[MAQ_MAX_HOPS][MAQ_IPC_MAX_VALUE + 1];
	char to[MAQ_IPC_MAX_VALUE + 1];	/* "" when not given */
	uint32_t id;			/* 0: not given */
	uint32_t lifetime;		/* 0: not given */
};

/* "show", "relays", ...; NULL for an unknown command. */
const char *maq_ipc_cmd_name(enum maq_ipc_cmd cmd);

/*
 * Parse a whole request (@len bytes, the terminating empty line included).
 * 0, or -EINVAL / -EMSGSIZE with a message in @err naming the line and what
 * is wrong ("line 2: hops: not a number 'x'", "unknown command 'frob'",
 * "build: to= is required", "via: more than 7").  Keys a command does not
 * take are errors; so are duplicates of non-repeatable keys, a missing
 * empty line, NUL bytes and values longer than MAQ_IPC_MAX_VALUE.
 * hops and via are limited to MAQ_MAX_HOPS - 1 (one hop is the terminus),
 * lifetime to 1..86400.
 */
int maq_ipc_request_parse(struct maq_ipc_req *req, const char *buf,
			  size_t len, char *err, size_t errlen);

/* Format @req; returns the length, or -EMSGSIZE / -EINVAL. */
int maq_ipc_request_format(const struct maq_ipc_req *req, char *buf,
			   size_t len);

/* --- replies ----------------------------------------------------------- */

/* A growing reply; the daemon appends pairs, then ends it. */
struct maq_ipc_out {
	char *buf;
	size_t len, cap;
	int err;			/* first failure (-ENOMEM, -EINVAL) */
};

void maq_ipc_out_init(struct maq_ipc_out *o);
void maq_ipc_out_free(struct maq_ipc_out *o);
/* Append "key=value\n"; a value with a newline or NUL sets o->err. */
void maq_ipc_put(struct maq_ipc_out *o, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Append "errno=N\n", "message=...\n" when @msg, and the empty line. */
void maq_ipc_end(struct maq_ipc_out *o, int err, const char *msg);

/* A parsed reply: its pairs in order (pointers into a private copy). */
struct maq_ipc_pair {
	const char *key, *value;
};

struct maq_ipc_reply {
	char *text;
	struct maq_ipc_pair *pair;
	size_t n;
	int err;			/* the errno line: 0 or positive */
	const char *message;		/* "" when absent */
};

/* Parse a whole reply; 0 or -EPROTO (malformed: no errno line, a line
 * without '=', missing empty line) / -ENOMEM.
 */
int maq_ipc_reply_parse(struct maq_ipc_reply *r, const char *buf, size_t len);
void maq_ipc_reply_free(struct maq_ipc_reply *r);

/* --- sockets ----------------------------------------------------------- */

/* The path to use: $MAQUIS_SOCKET when set, else MAQ_IPC_PATH. */
const char *maq_ipc_path(void);

/*
 * Listen on @path: creates its directory 0700 when missing, removes a stale
 * socket (one nobody answers on), refuses (-EADDRINUSE) when another daemon
 * answers there, binds with mode 0600.  Returns the listening fd
 * (non-blocking, close-on-exec) or -errno with a message in @err.
 */
int maq_ipc_listen(const char *path, char *err, size_t errlen);

/* True when the peer of accepted socket @fd may talk to us: uid 0 or our
 * own euid (SO_PEERCRED).
 */
bool maq_ipc_peer_ok(int fd);

/*
 * Client: connect to @path, send @req, read the whole reply into @r
 * (waiting at most @timeout_ms in all; build may take seconds).  0, or
 * -errno: -ENOENT / -ECONNREFUSED when no daemon listens, -ETIMEDOUT,
 * -EPROTO for a malformed reply.
 */
int maq_ipc_call(const char *path, const struct maq_ipc_req *req,
		 struct maq_ipc_reply *r, int timeout_ms);

#endif /* _MAQUIS_DAEMON_IPC_H */
