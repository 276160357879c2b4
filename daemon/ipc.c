// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket between maquisd and the maquis CLI (see ipc.h).  Both
 * parsers are strict and bounded: the daemon runs as root and reads what any
 * local peer that passed maq_ipc_peer_ok() sends, and the CLI prints what
 * the daemon sends to a terminal, so neither takes control bytes, unknown
 * keys or unbounded input.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* struct ucred, memmem */
#endif
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "ipc.h"

/* Longest value shown back in an error message. */
#define SHOW_MAX	32
/* Longest message= line maq_ipc_end() writes. */
#define MESSAGE_MAX	1024

static const char *const cmd_names[] = {
	[MAQ_IPC_SHOW]		= "show",
	[MAQ_IPC_RELAYS]	= "relays",
	[MAQ_IPC_CIRCUITS]	= "circuits",
	[MAQ_IPC_BUILD]		= "build",
	[MAQ_IPC_DESTROY]	= "destroy",
	[MAQ_IPC_STATS]		= "stats",
	[MAQ_IPC_ALIAS_NEW]	= "alias-new",
	[MAQ_IPC_ALIAS_PUBLISH]	= "alias-publish",
	[MAQ_IPC_ALIAS_LIST]	= "alias-list",
};

enum req_key { K_HOPS, K_VIA, K_TO, K_ID, K_LIFETIME, K_NAME, K_N };

static const char *const key_names[K_N] = {
	[K_HOPS] = "hops", [K_VIA] = "via", [K_TO] = "to", [K_ID] = "id",
	[K_LIFETIME] = "lifetime", [K_NAME] = "name",
};

/* The keys each command takes. */
static unsigned int cmd_keys(enum maq_ipc_cmd cmd)
{
	switch (cmd) {
	case MAQ_IPC_BUILD:
		return 1u << K_HOPS | 1u << K_VIA | 1u << K_TO |
		       1u << K_LIFETIME;
	case MAQ_IPC_DESTROY:
		return 1u << K_ID;
	case MAQ_IPC_ALIAS_NEW:
	case MAQ_IPC_ALIAS_PUBLISH:
		return 1u << K_NAME;
	default:
		return 0;
	}
}

const char *maq_ipc_cmd_name(enum maq_ipc_cmd cmd)
{
	if (cmd < MAQ_IPC_SHOW || cmd > MAQ_IPC_ALIAS_LIST)
		return NULL;
	return cmd_names[cmd];
}

static int seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* Keys in replies (and stats names): letters, digits, '.', '_', '-'. */
static bool valid_key(const char *k, size_t len)
{
	size_t i;

	if (!len)
		return false;
	for (i = 0; i < len; i++) {
		char c = k[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* A request value: non-empty, bounded, no control bytes. */
static bool valid_value(const char *v)
{
	size_t i, len = strnlen(v, MAQ_IPC_MAX_VALUE + 1);

	if (!len || len > MAQ_IPC_MAX_VALUE)
		return false;
	for (i = 0; i < len; i++)
		if (is_ctl(v[i]))
			return false;
	return true;
}

/* Decimal digits only; 1 when not a number, 2 when outside lo..hi. */
static int parse_num(const char *s, size_t len, uint64_t lo, uint64_t hi,
		     uint64_t *out)
{
	uint64_t v = 0;
	bool big = false;
	size_t i;

	if (!len)
		return 1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 1;
		if (v > (UINT64_MAX - 9) / 10)
			big = true;
		else
			v = v * 10 + (s[i] - '0');
	}
	if (big || v < lo || v > hi)
		return 2;
	*out = v;
	return 0;
}

struct req_parse {
	struct maq_ipc_req *req;
	unsigned int line;
	unsigned int seen[K_N];		/* line a key was first on */
	char *err;
	size_t errlen;
};

static int req_number(struct req_parse *p, enum req_key k, const char *v,
		      size_t vlen, uint64_t lo, uint64_t hi, uint64_t *out)
{
	int bad = parse_num(v, vlen, lo, hi, out);
	int shown = vlen > SHOW_MAX ? SHOW_MAX : (int)vlen;

	if (bad == 1)
		return seterr(p->err, p->errlen, -EINVAL,
			      "line %u: %s: not a number '%.*s'", p->line,
			      key_names[k], shown, v);
	if (bad == 2)
		return seterr(p->err, p->errlen, -EINVAL,
			      "line %u: %s: '%.*s' is out of range %llu..%llu",
			      p->line, key_names[k], shown, v,
			      (unsigned long long)lo, (unsigned long long)hi);
	return 0;
}

static int req_pair(struct req_parse *p, const char *s, size_t len)
{
	struct maq_ipc_req *req = p->req;
	const char *eq = memchr(s, '=', len), *v;
	int shown = len > SHOW_MAX ? SHOW_MAX : (int)len;
	size_t klen, vlen;
	uint64_t n;
	int k, rc;

	if (!eq || eq == s)
		return seterr(p->err, p->errlen, -EINVAL,
			      "line %u: not key=value: '%.*s'", p->line, shown,
			      s);
	klen = eq - s;
	v = eq + 1;
	vlen = len - klen - 1;
	for (k = 0; k < K_N; k++)
		if (strlen(key_names[k]) == klen &&
		    !memcmp(key_names[k], s, klen))
			break;
	if (k == K_N)
		return seterr(p->err, p->errlen, -EINVAL,
			      "line %u: unknown key '%.*s'", p->line,
			      klen > SHOW_MAX ? SHOW_MAX : (int)klen, s);
	if (!(cmd_keys(req->cmd) & 1u << k))
		return seterr(p->err, p->errlen, -EINVAL,
			      "line %u: %s takes no %s=", p->line,
			      cmd_names[req->cmd], key_names[k]);
	if (k != K_VIA && p->seen[k])
		return seterr(p->err, p->errlen, -EINVAL,
			      "line %u: %s: repeated (first on line %u)",
			      p->line, key_names[k], p->seen[k]);
	if (!p->seen[k])
		p->seen[k] = p->line;
	if (vlen > MAQ_IPC_MAX_VALUE)
		return seterr(p->err, p->errlen, -EMSGSIZE,
			      "line %u: %s: value of %zu bytes, more than %d",
			      p->line, key_names[k], vlen, MAQ_IPC_MAX_VALUE);
	switch (k) {
	case K_HOPS:
		rc = req_number(p, k, v, vlen, 1, MAQ_MAX_HOPS - 1, &n);
		req->hops = n;
		return rc;
	case K_ID:
		rc = req_number(p, k, v, vlen, 1, UINT32_MAX, &n);
		req->id = n;
		return rc;
	case K_LIFETIME:
		rc = req_number(p, k, v, vlen, 1, MAQ_IPC_MAX_LIFETIME, &n);
		req->lifetime = n;
		return rc;
	case K_VIA:
		if (req->n_via == MAQ_MAX_HOPS - 1)
			return seterr(p->err, p->errlen, -EINVAL,
				      "line %u: via: more than %d", p->line,
				      MAQ_MAX_HOPS - 1);
		if (!vlen)
			return seterr(p->err, p->errlen, -EINVAL,
				      "line %u: via: empty", p->line);
		memcpy(req->via[req->n_via++], v, vlen);
		return 0;
	case K_NAME:
		if (!vlen)
			return seterr(p->err, p->errlen, -EINVAL,
				      "line %u: name: empty", p->line);
		memcpy(req->name, v, vlen);
		return 0;
	default:	/* K_TO */
		if (!vlen)
			return seterr(p->err, p->errlen, -EINVAL,
				      "line %u: to: empty", p->line);
		memcpy(req->to, v, vlen);
		return 0;
	}
}

/* What a complete request must have, checked at its empty line. */
static int req_complete(struct req_parse *p)
{
	struct maq_ipc_req *req = p->req;

	if (req->cmd == MAQ_IPC_BUILD && !req->to[0])
		return seterr(p->err, p->errlen, -EINVAL,
			      "build: to= is required");
	if (req->cmd == MAQ_IPC_DESTROY && !req->id)
		return seterr(p->err, p->errlen, -EINVAL,
			      "destroy: id= is required");
	if (req->hops && req->n_via > req->hops)
		return seterr(p->err, p->errlen, -EINVAL,
			      "build: %u via= for hops=%u", req->n_via,
			      req->hops);
	return 0;
}

int maq_ipc_request_parse(struct maq_ipc_req *req, const char *buf,
			  size_t len, char *err, size_t errlen)
{
	struct req_parse p = { .req = req, .err = err, .errlen = errlen };
	size_t pos = 0;
	int rc;

	memset(req, 0, sizeof(*req));
	if (errlen)
		err[0] = '\0';
	if (len > MAQ_IPC_MAX_REQUEST)
		return seterr(err, errlen, -EMSGSIZE,
			      "request of %zu bytes, more than %d", len,
			      MAQ_IPC_MAX_REQUEST);
	while (pos < len) {
		const char *s = buf + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t i, n = nl ? (size_t)(nl - s) : len - pos;

		p.line++;
		for (i = 0; i < n; i++) {
			unsigned char c = s[i];

			if (!c)
				return seterr(err, errlen, -EINVAL,
					      "line %u: NUL byte", p.line);
			if (c == '\r')
				return seterr(err, errlen, -EINVAL,
					      "line %u: carriage return",
					      p.line);
			if (is_ctl(c))
				return seterr(err, errlen, -EINVAL,
					      "line %u: control byte 0x%02x",
					      p.line, c);
		}
		if (!nl)
			break;
		pos += n + 1;
		if (p.line == 1) {
			int cmd;

			for (cmd = MAQ_IPC_SHOW; cmd <= MAQ_IPC_ALIAS_LIST;
			     cmd++)
				if (strlen(cmd_names[cmd]) == n &&
				    !memcmp(cmd_names[cmd], s, n))
					break;
			if (!n)
				return seterr(err, errlen, -EINVAL,
					      "line 1: no command");
			if (cmd > MAQ_IPC_ALIAS_LIST)
				return seterr(err, errlen, -EINVAL,
					      "line 1: unknown command '%.*s'",
					      n > SHOW_MAX ? SHOW_MAX : (int)n,
					      s);
			req->cmd = cmd;
			continue;
		}
		if (!n) {
			if (pos != len)
				return seterr(err, errlen, -EINVAL,
					      "line %u: data after the empty line",
					      p.line + 1);
			return req_complete(&p);
		}
		rc = req_pair(&p, s, n);
		if (rc)
			return rc;
	}
	return seterr(err, errlen, -EINVAL,
		      "line %u: missing the empty line that ends the request",
		      pos < len ? p.line : p.line + 1);
}

ssize_t maq_ipc_request_end(const char *buf, size_t len)
{
	const char *end;

	if (len && buf[0] == '\n')
		return 1;
	end = memmem(buf, len, "\n\n", 2);
	if (end)
		return end - buf + 2;
	return len >= MAQ_IPC_MAX_REQUEST ? -EMSGSIZE : 0;
}

struct fmt_buf {
	char *buf;
	size_t len, pos;
	bool over;
};

static void fmt_add(struct fmt_buf *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fmt_add(struct fmt_buf *f, const char *fmt, ...)
{
	size_t room = f->pos < f->len ? f->len - f->pos : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(f->buf + (room ? f->pos : 0), room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		f->over = true;
	else
		f->pos += n;
}

int maq_ipc_request_format(const struct maq_ipc_req *req, char *buf,
			   size_t len)
{
	struct fmt_buf f = { .buf = buf, .len = len };
	const char *name = maq_ipc_cmd_name(req->cmd);
	unsigned int keys, i;

	if (!name)
		return -EINVAL;
	keys = cmd_keys(req->cmd);
	if ((req->hops && !(keys & 1u << K_HOPS)) ||
	    (req->n_via && !(keys & 1u << K_VIA)) ||
	    (req->to[0] && !(keys & 1u << K_TO)) ||
	    (req->id && !(keys & 1u << K_ID)) ||
	    (req->lifetime && !(keys & 1u << K_LIFETIME)) ||
	    (req->name[0] && !(keys & 1u << K_NAME)))
		return -EINVAL;
	if ((req->cmd == MAQ_IPC_BUILD && !req->to[0]) ||
	    (req->cmd == MAQ_IPC_DESTROY && !req->id))
		return -EINVAL;
	if (req->hops > MAQ_MAX_HOPS - 1 || req->n_via > MAQ_MAX_HOPS - 1 ||
	    (req->hops && req->n_via > req->hops) ||
	    req->lifetime > MAQ_IPC_MAX_LIFETIME)
		return -EINVAL;
	if ((req->to[0] && !valid_value(req->to)) ||
	    (req->name[0] && !valid_value(req->name)))
		return -EINVAL;
	for (i = 0; i < req->n_via; i++)
		if (!valid_value(req->via[i]))
			return -EINVAL;

	fmt_add(&f, "%s\n", name);
	if (req->hops)
		fmt_add(&f, "hops=%u\n", req->hops);
	for (i = 0; i < req->n_via; i++)
		fmt_add(&f, "via=%s\n", req->via[i]);
	if (req->to[0])
		fmt_add(&f, "to=%s\n", req->to);
	if (req->id)
		fmt_add(&f, "id=%u\n", req->id);
	if (req->lifetime)
		fmt_add(&f, "lifetime=%u\n", req->lifetime);
	if (req->name[0])
		fmt_add(&f, "name=%s\n", req->name);
	fmt_add(&f, "\n");
	return f.over ? -EMSGSIZE : (int)f.pos;
}

/* --- replies ----------------------------------------------------------- */

void maq_ipc_out_init(struct maq_ipc_out *o)
{
	memset(o, 0, sizeof(*o));
}

void maq_ipc_out_free(struct maq_ipc_out *o)
{
	free(o->buf);
	maq_ipc_out_init(o);
}

/* Make room for @n more bytes (and a NUL, so the text is a C string). */
static int out_reserve(struct maq_ipc_out *o, size_t n)
{
	size_t cap = o->cap ? o->cap : 256;
	char *p;

	if (o->len + n + 1 <= o->cap)
		return 0;
	if (n > MAQ_IPC_MAX_REPLY || o->len + n > MAQ_IPC_MAX_REPLY)
		return -EMSGSIZE;
	while (cap < o->len + n + 1)
		cap *= 2;
	p = realloc(o->buf, cap);
	if (!p)
		return -ENOMEM;
	o->buf = p;
	o->cap = cap;
	return 0;
}

void maq_ipc_put(struct maq_ipc_out *o, const char *key, const char *fmt, ...)
{
	size_t klen = strlen(key), i;
	va_list ap;
	char *v;
	int n, rc;

	if (o->err)
		return;
	if (!valid_key(key, klen) || !strcmp(key, "errno") ||
	    !strcmp(key, "message")) {
		o->err = -EINVAL;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->err = -EINVAL;
		return;
	}
	rc = out_reserve(o, klen + 1 + n + 1);
	if (rc) {
		o->err = rc;
		return;
	}
	memcpy(o->buf + o->len, key, klen);
	o->buf[o->len + klen] = '=';
	v = o->buf + o->len + klen + 1;
	va_start(ap, fmt);
	vsnprintf(v, n + 1, fmt, ap);
	va_end(ap);
	/* %c with 0 or a value with a newline would break the framing */
	for (i = 0; i < (size_t)n; i++) {
		if (is_ctl(v[i])) {
			o->err = -EINVAL;
			return;
		}
	}
	v[n] = '\n';
	o->len += klen + 1 + n + 1;
	o->buf[o->len] = '\0';
}

/* The errno, message and empty lines; -errno when they do not fit. */
static int out_tail(struct maq_ipc_out *o, int err, const char *msg)
{
	char tail[sizeof("errno=4095\nmessage=\n\n") + MESSAGE_MAX];
	size_t i, n, m;
	int rc;

	if (err && (!msg || !*msg))
		msg = strerror(err);
	n = snprintf(tail, sizeof(tail), "errno=%d\n", err);
	if (msg) {
		m = snprintf(tail + n, sizeof(tail) - n, "message=%.*s",
			     MESSAGE_MAX, msg);
		for (i = n + sizeof("message=") - 1; i < n + m; i++)
			if (is_ctl(tail[i]))
				tail[i] = ' ';
		n += m;
		tail[n++] = '\n';
	}
	tail[n++] = '\n';
	rc = out_reserve(o, n);
	if (rc)
		return rc;
	memcpy(o->buf + o->len, tail, n);
	o->len += n;
	o->buf[o->len] = '\0';
	return 0;
}

void maq_ipc_end(struct maq_ipc_out *o, int err, const char *msg)
{
	if (err < 0)
		err = -err;
	if (err > 4095)
		err = EINVAL;
	if (!o->err)
		o->err = out_tail(o, err, msg);
	if (!o->err)
		return;
	/* what was put is incomplete or too big: say so instead */
	o->len = 0;
	if (out_tail(o, -o->err, "maquisd could not format its reply"))
		o->len = 0;
}

void maq_ipc_reply_free(struct maq_ipc_reply *r)
{
	free(r->text);
	free(r->pair);
	memset(r, 0, sizeof(*r));
	r->message = "";
}

int maq_ipc_reply_parse(struct maq_ipc_reply *r, const char *buf, size_t len)
{
	bool seen_errno = false, seen_msg = false;
	size_t lines = 0, i, pos = 0;
	uint64_t e;

	memset(r, 0, sizeof(*r));
	r->message = "";
	if (len > MAQ_IPC_MAX_REPLY)
		return -EMSGSIZE;
	for (i = 0; i < len; i++) {
		if (buf[i] == '\n')
			lines++;
		else if (is_ctl(buf[i]))
			return -EPROTO;
	}
	r->text = malloc(len + 1);
	r->pair = calloc(lines ? lines : 1, sizeof(*r->pair));
	if (!r->text || !r->pair) {
		maq_ipc_reply_free(r);
		return -ENOMEM;
	}
	memcpy(r->text, buf, len);
	r->text[len] = '\0';
	while (pos < len) {
		char *s = r->text + pos, *nl = strchr(s, '\n'), *eq;

		if (!nl)
			break;
		*nl = '\0';
		pos = nl + 1 - r->text;
		if (nl == s) {
			/* the end: nothing after it, errno seen, message
			 * present when errno is not 0
			 */
			if (pos != len || !seen_errno || (r->err && !seen_msg))
				break;
			return 0;
		}
		eq = strchr(s, '=');
		if (!eq || !valid_key(s, eq - s) || seen_msg)
			break;
		*eq = '\0';
		if (!strcmp(s, "errno")) {
			if (seen_errno ||
			    parse_num(eq + 1, strlen(eq + 1), 0, 4095, &e))
				break;
			r->err = e;
			seen_errno = true;
		} else if (!strcmp(s, "message")) {
			/* an error always says what it was */
			if (!seen_errno || (r->err && !eq[1]))
				break;
			r->message = eq + 1;
			seen_msg = true;
		} else {
			if (seen_errno)
				break;
			r->pair[r->n].key = s;
			r->pair[r->n++].value = eq + 1;
		}
	}
	maq_ipc_reply_free(r);
	return -EPROTO;
}

const char *maq_ipc_field(const struct maq_ipc_reply *r, size_t start,
			  size_t end, const char *key)
{
	size_t i;

	for (i = start; i < end && i < r->n; i++)
		if (!strcmp(r->pair[i].key, key))
			return r->pair[i].value;
	return NULL;
}

bool maq_ipc_record(const struct maq_ipc_reply *r, const char *key,
		    size_t *start, size_t *end)
{
	size_t i;

	for (i = *end; i < r->n; i++)
		if (!strcmp(r->pair[i].key, key))
			break;
	if (i >= r->n)
		return false;
	*start = i;
	for (i++; i < r->n; i++)
		if (!strcmp(r->pair[i].key, key))
			break;
	*end = i;
	return true;
}

/* --- sockets ----------------------------------------------------------- */

const char *maq_ipc_path(void)
{
	const char *p = getenv(MAQ_IPC_ENV);

	return p && *p ? p : MAQ_IPC_PATH;
}

static int sun_fill(struct sockaddr_un *sa, const char *path)
{
	size_t len = strlen(path);

	if (!len)
		return -EINVAL;
	if (len >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, len);
	return 0;
}

/*
 * mkdir -p of the directory holding @path.  Directories on the way are made
 * 0755 (they may be shared, like /run); the socket's own directory 0700,
 * forced past the umask.  An existing directory keeps its mode: it is the
 * administrator's.
 */
static int make_parent(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash, *p;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			return seterr(err, errlen, -errno, "mkdir %s: %s", dir,
				      strerror(errno));
		*p = '/';
	}
	if (!mkdir(dir, 0700)) {
		if (chmod(dir, 0700))
			return seterr(err, errlen, -errno, "chmod %s: %s", dir,
				      strerror(errno));
		return 0;
	}
	if (errno != EEXIST)
		return seterr(err, errlen, -errno, "mkdir %s: %s", dir,
			      strerror(errno));
	if (stat(dir, &st))
		return seterr(err, errlen, -errno, "%s: %s", dir,
			      strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return seterr(err, errlen, -ENOTDIR, "%s: not a directory",
			      dir);
	return 0;
}

/*
 * Remove a socket nobody answers on.  Two daemons started at the same
 * instant can still race here; the init system runs one.
 */
static int remove_stale(const struct sockaddr_un *sa, char *err,
			size_t errlen)
{
	const char *path = sa->sun_path;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 :
		       seterr(err, errlen, -errno, "%s: %s", path,
			      strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return seterr(err, errlen, -EEXIST,
			      "%s exists and is not a socket", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return seterr(err, errlen, -errno, "socket: %s",
			      strerror(errno));
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) ? errno : 0;
	close(fd);
	/* EAGAIN: a full backlog, so somebody listens */
	if (!rc || rc == EAGAIN)
		return seterr(err, errlen, -EADDRINUSE,
			      "another daemon answers on %s", path);
	if (rc != ECONNREFUSED)
		return seterr(err, errlen, -rc, "probing %s: %s", path,
			      strerror(rc));
	if (unlink(path) && errno != ENOENT)
		return seterr(err, errlen, -errno,
			      "removing stale socket %s: %s", path,
			      strerror(errno));
	return 0;
}

int maq_ipc_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	int fd, rc;

	if (errlen)
		err[0] = '\0';
	rc = sun_fill(&sa, path);
	if (rc)
		return seterr(err, errlen, rc, "socket path '%s': %s", path,
			      rc == -EINVAL ? "empty" : "too long");
	rc = make_parent(path, err, errlen);
	if (rc)
		return rc;
	rc = remove_stale(&sa, err, errlen);
	if (rc)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return seterr(err, errlen, -errno, "socket: %s",
			      strerror(errno));
	/*
	 * The inode bind() makes takes its mode from the socket's, less the
	 * umask; restricting the socket first means it is never more open
	 * than 0600, and the chmod() afterwards makes it exactly 0600
	 * whatever the umask.  Nobody can connect before listen().
	 */
	if (fchmod(fd, 0600) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = -errno;
		close(fd);
		return seterr(err, errlen, rc, "bind %s: %s", path,
			      strerror(-rc));
	}
	if (chmod(path, 0600) || listen(fd, 64)) {
		rc = -errno;
		close(fd);
		unlink(path);
		return seterr(err, errlen, rc, "listen on %s: %s", path,
			      strerror(-rc));
	}
	return fd;
}

bool maq_ipc_peer_ok(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
	    len != sizeof(cred))
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for @events on @fd until @deadline; 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int call_connect(int fd, const struct sockaddr_un *sa,
			int64_t deadline)
{
	int soerr, rc;
	socklen_t len = sizeof(soerr);

	for (;;) {
		if (!connect(fd, (const struct sockaddr *)sa, sizeof(*sa)))
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EINPROGRESS) {
			rc = wait_fd(fd, POLLOUT, deadline);
			if (rc)
				return rc;
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len))
				return -errno;
			return -soerr;
		}
		if (errno != EAGAIN)
			return -errno;
		/* the daemon's backlog is full: give it a moment */
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		poll(NULL, 0, 10);
	}
}

static int call_send(int fd, const char *buf, size_t len, int64_t deadline)
{
	size_t off = 0;
	ssize_t n;
	int rc;

	while (off < len) {
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		rc = wait_fd(fd, POLLOUT, deadline);
		if (rc)
			return rc;
	}
	return 0;
}

/* Read up to the reply's empty line or EOF; the length read, or -errno. */
static ssize_t call_recv(int fd, char **out, int64_t deadline)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *p, *end;
	ssize_t n;
	int rc;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (len > MAQ_IPC_MAX_REPLY) {
				free(buf);
				return -EMSGSIZE;
			}
			cap = cap * 2 > MAQ_IPC_MAX_REPLY ?
			      MAQ_IPC_MAX_REPLY + 1 : cap * 2;
			p = realloc(buf, cap);
			if (!p) {
				free(buf);
				return -ENOMEM;
			}
			buf = p;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n == 0)
			break;
		if (n > 0) {
			/* an empty line can only be the last */
			size_t from = len ? len - 1 : 0;

			len += n;
			if (buf[0] == '\n') {
				len = 1;
				break;
			}
			end = memmem(buf + from, len - from, "\n\n", 2);
			if (end) {
				len = end - buf + 2;
				break;
			}
			continue;
		}
		if (errno != EAGAIN && errno != EINTR) {
			rc = -errno;
			free(buf);
			return rc;
		}
		rc = wait_fd(fd, POLLIN, deadline);
		if (rc) {
			free(buf);
			return rc;
		}
	}
	if (len > MAQ_IPC_MAX_REPLY) {
		free(buf);
		return -EMSGSIZE;
	}
	*out = buf;
	return len;
}

int maq_ipc_call(const char *path, const struct maq_ipc_req *req,
		 struct maq_ipc_reply *r, int timeout_ms)
{
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	char rq[MAQ_IPC_MAX_REQUEST];
	struct sockaddr_un sa;
	char *buf = NULL;
	ssize_t n;
	int fd, rc;

	memset(r, 0, sizeof(*r));
	r->message = "";
	rc = sun_fill(&sa, path);
	if (rc)
		return rc;
	n = maq_ipc_request_format(req, rq, sizeof(rq));
	if (n < 0)
		return n;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = call_connect(fd, &sa, deadline);
	if (!rc)
		rc = call_send(fd, rq, n, deadline);
	if (!rc) {
		n = call_recv(fd, &buf, deadline);
		rc = n < 0 ? n : maq_ipc_reply_parse(r, buf, n);
		free(buf);
	}
	close(fd);
	return rc;
}
