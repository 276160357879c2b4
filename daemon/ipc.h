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
 *   alias-new name=          a new alias key (PROTOCOL 9) in key-dir
 *   alias-publish name=      serve that alias: intro circuits, record
 *   alias-list               this daemon's aliases
 *
 * hops= counts the relays before the terminus (as in maquisd.conf), so a
 * circuit has hops + 1 hops in all; the replies' hops= count the terminus.
 *
 * What the daemon replies (before errno=), in this order; the CLI relies on
 * these names.  Numbers are decimal; addresses are addr:port ([v6]:port);
 * ids of relays are the 16 hex digits of their identity's first 8 bytes.
 *   show      identity=<base64 Ed25519 pk> onion=<base64 X25519 pk>
 *             role=relay|client interface=<ifname> listen=<addr:port>
 *             address=<inner prefix or "-"> relays=<N known>
 *             circuits=<N built here> serving=<N hops served> uptime=<s>
 *   relays    per relay a record: relay=<base64 identity> id=<16 hex>
 *             addr=<addr:port> addr2=<addr:port or "-">
 *             flags=relay|exit|relay,exit|- bandwidth=<kB/s>
 *             published=<unix s> expires=<unix s> family=<64 hex or "-">
 *             prefix=<inner prefix or "-"> self=0|1
 *   circuits  per circuit a record: circuit=<id> role=origin|relay|terminus
 *             state=building|up|replacing|closing age=<s> lifetime=<s>
 *             epoch=<n>; at the origin also to=<prefix>
 *             hops=<n incl. terminus> path=<id16,id16,...>; at a relay or
 *             the terminus prev=<addr:port> next=<addr:port or "-">
 *   build     circuit=<id> to=<prefix> hops=<n incl. terminus>
 *             path=<id16,...> setup_ms=<n>; on failure only errno= and a
 *             message= like "hop 2 (0123456789abcdef): timeout" or
 *             "no relay serves 10.9.9.9"
 *   destroy   nothing but errno= (ENOENT: no such circuit here)
 *   stats     flat counters, names with dots (gossip.sent,
 *             desc.rejected.bad-signature, setup.relay.ok), values u64
 *   alias-new      alias=<52 base32> name=<name> address=<inner v6>
 *   alias-publish  the same and intro=<n intro circuits being built>
 *   alias-list     records=<n stored> records.accepted=<n>
 *             rendezvous.joined=<n> introduce.passed=<n>; per alias a
 *             record: alias=<52 base32> name=<name> address=<inner v6>
 *             published=0|1 expires=<unix s or 0> intros=<n established>
 *             recorded=<n intro points in the last record published>
 *             intro=<id16>:<up|building|down> (repeated); then per record
 *             stored: record=<base64 of its 512 bytes> expires=<unix s>
 *   build to=<alias>  the build fields, to=<alias address>/128, circuit
 *             the one to the rendezvous relay; failures name the step:
 *             "no record of ALIAS", "intro relay 0123..: unreachable",
 *             "rendezvous relay 0123..: refused", "timeout: ..."
 *
 * No request or reply ever carries key material.
 */
#ifndef _MAQUIS_DAEMON_IPC_H
#define _MAQUIS_DAEMON_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <maquis/wire.h>

#define MAQ_IPC_PATH		"/run/maquis/maquisd.sock"
#define MAQ_IPC_ENV		"MAQUIS_SOCKET"	/* overrides the path */
#define MAQ_IPC_MAX_REQUEST	4096
#define MAQ_IPC_MAX_VALUE	255		/* bytes in one value */
#define MAQ_IPC_MAX_REPLY	(4 << 20)	/* bytes in one reply */
#define MAQ_IPC_MAX_LIFETIME	86400		/* s, as maquisd.conf */

enum maq_ipc_cmd {
	MAQ_IPC_SHOW = 1,
	MAQ_IPC_RELAYS,
	MAQ_IPC_CIRCUITS,
	MAQ_IPC_BUILD,
	MAQ_IPC_DESTROY,
	MAQ_IPC_STATS,
	MAQ_IPC_ALIAS_NEW,
	MAQ_IPC_ALIAS_PUBLISH,
	MAQ_IPC_ALIAS_LIST,
};

struct maq_ipc_req {
	enum maq_ipc_cmd cmd;
	unsigned int hops;		/* 0: not given */
	unsigned int n_via;
	char via[MAQ_MAX_HOPS][MAQ_IPC_MAX_VALUE + 1];
	char to[MAQ_IPC_MAX_VALUE + 1];	/* "" when not given */
	uint32_t id;			/* 0: not given */
	uint32_t lifetime;		/* 0: not given */
	char name[MAQ_IPC_MAX_VALUE + 1];	/* alias-new, alias-publish */
};

/* "show", "relays", ...; NULL for an unknown command. */
const char *maq_ipc_cmd_name(enum maq_ipc_cmd cmd);

/*
 * Parse a whole request (@len bytes, the terminating empty line included).
 * 0, or -EINVAL / -EMSGSIZE with a message in @err naming the line and what
 * is wrong.  Keys a command does not take are errors; so are duplicates of
 * non-repeatable keys, a missing empty line, NUL and other control bytes
 * (CR included) and values longer than MAQ_IPC_MAX_VALUE.  hops and via
 * are limited to MAQ_MAX_HOPS - 1 (one hop is the terminus), and via to
 * hops when both are given; id to 1..2^32-1, lifetime to 1..86400.  The
 * messages (values are shown cut to 32 bytes):
 *   request of N bytes, more than 4096                     (-EMSGSIZE)
 *   line N: NUL byte | carriage return | control byte 0xNN
 *   line 1: no command | unknown command 'frob'
 *   line N: not key=value: 'xyz'
 *   line N: unknown key 'frob' | show takes no hops=
 *   line N: hops: repeated (first on line M)
 *   line N: to: value of N bytes, more than 255            (-EMSGSIZE)
 *   line N: hops: not a number 'x' | hops: '9' is out of range 1..7
 *   line N: via: more than 7 | via: empty | to: empty
 *   line N: missing the empty line that ends the request
 *   line N: data after the empty line
 *   build: to= is required | destroy: id= is required
 *   build: 3 via= for hops=2
 */
int maq_ipc_request_parse(struct maq_ipc_req *req, const char *buf,
			  size_t len, char *err, size_t errlen);

/*
 * For a server reading a request in pieces: the length of the complete
 * request at the start of @buf (up to and including its empty line), 0 when
 * more is needed, -EMSGSIZE when @len already reached MAQ_IPC_MAX_REQUEST
 * without one.  Pass the complete length to maq_ipc_request_parse().
 */
ssize_t maq_ipc_request_end(const char *buf, size_t len);

/*
 * Format @req; returns the length (a NUL follows), or -EMSGSIZE (@len too
 * small) / -EINVAL (a request maq_ipc_request_parse() would refuse).
 */
int maq_ipc_request_format(const struct maq_ipc_req *req, char *buf,
			   size_t len);

/* --- replies ----------------------------------------------------------- */

/*
 * A growing reply; the daemon appends pairs, ends it, then sends
 * buf[0..len).  At most MAQ_IPC_MAX_REPLY bytes.
 */
struct maq_ipc_out {
	char *buf;
	size_t len, cap;
	int err;	/* first failure (-ENOMEM, -EINVAL, -EMSGSIZE) */
};

void maq_ipc_out_init(struct maq_ipc_out *o);
void maq_ipc_out_free(struct maq_ipc_out *o);
/*
 * Append "key=value\n".  A value with a newline, NUL or other control byte
 * (tab included), a key outside [A-Za-z0-9._-] or "errno"/"message", or a
 * reply growing past MAQ_IPC_MAX_REPLY sets o->err; later puts are ignored.
 */
void maq_ipc_put(struct maq_ipc_out *o, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * Append "errno=N\n" (@err 0 or an errno of either sign, at most 4095),
 * "message=...\n" when @msg or @err (strerror() when @msg is NULL; control
 * bytes become spaces, cut to 1024 bytes), and the empty line.  When o->err
 * is set, or these lines do not fit, the pairs are dropped and the reply
 * says errno=-o->err, "maquisd could not format its reply", so the client
 * always gets a well-formed reply; o->err stays set for the caller to log.
 * Only when even that cannot be allocated is len 0 (close, no reply).
 */
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

/*
 * Parse a whole reply; 0 or -EPROTO (malformed: no errno line or two, a
 * line without '=' or with a bad key, a pair after errno=, anything but the
 * empty line after message=, no message= with a non-zero errno, control
 * bytes, no empty line at the end or data after it) / -EMSGSIZE (more than
 * MAQ_IPC_MAX_REPLY) / -ENOMEM.  The pairs exclude errno and message.  On
 * failure @r is empty (and safe to free).
 */
int maq_ipc_reply_parse(struct maq_ipc_reply *r, const char *buf, size_t len);
void maq_ipc_reply_free(struct maq_ipc_reply *r);

/* The first value of @key among pairs [start, end); NULL when absent. */
const char *maq_ipc_field(const struct maq_ipc_reply *r, size_t start,
			  size_t end, const char *key);

/*
 * Walk the records of a reply: those are the pairs from one @key to the
 * next.  Start with *start = *end = 0; each call moves to the next record
 * and returns false after the last:
 *	while (maq_ipc_record(r, "relay", &s, &e))
 *		addr = maq_ipc_field(r, s, e, "addr");
 */
bool maq_ipc_record(const struct maq_ipc_reply *r, const char *key,
		    size_t *start, size_t *end);

/* --- sockets ----------------------------------------------------------- */

/* The path to use: $MAQUIS_SOCKET when set, else MAQ_IPC_PATH. */
const char *maq_ipc_path(void);

/*
 * Listen on @path: creates its directory 0700 when missing (directories
 * above it 0755; an existing one keeps its mode), removes a stale socket
 * (one nobody answers on), refuses (-EADDRINUSE) when another daemon
 * answers there and (-EEXIST) when @path is not a socket, binds with mode
 * 0600 whatever the umask.  Returns the listening fd (non-blocking,
 * close-on-exec) or -errno with a message in @err.  The caller unlinks
 * @path when it stops.
 */
int maq_ipc_listen(const char *path, char *err, size_t errlen);

/* True when the peer of accepted socket @fd may talk to us: uid 0 or our
 * own euid (SO_PEERCRED).
 */
bool maq_ipc_peer_ok(int fd);

/*
 * Client: connect to @path, send @req, read the whole reply into @r
 * (waiting at most @timeout_ms in all; build may take seconds).  0 (the
 * daemon's own errno is r->err), or -errno: -ENOENT / -ECONNREFUSED when
 * no daemon listens, -EACCES, -ETIMEDOUT, -EINVAL for a request
 * maq_ipc_request_format() refuses, -ENAMETOOLONG, -EPROTO for a
 * malformed reply, -EMSGSIZE for one over MAQ_IPC_MAX_REPLY.  Free @r with
 * maq_ipc_reply_free() either way.
 */
int maq_ipc_call(const char *path, const struct maq_ipc_req *req,
		 struct maq_ipc_reply *r, int timeout_ms);

#endif /* _MAQUIS_DAEMON_IPC_H */
