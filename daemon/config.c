// SPDX-License-Identifier: GPL-2.0
/*
 * maquisd's configuration file and command-line overrides (see config.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "config.h"
#include "ctl.h"
#include "rate.h"

/* A configuration file is small; anything this big is a mistake. */
#define CONF_FILE_MAX	(1 << 20)

enum conf_key {
	K_LISTEN,
	K_BOOTSTRAP,
	K_ROLE,
	K_BANDWIDTH,
	K_LIFETIME,
	K_HOPS,
	K_FAMILY,
	K_KEY_DIR,
	K_LOG_LEVEL,
	K_INTERFACE,
	K_ADDRESS,
	K_CONTROL,
	K_CIRCUIT,
	K_KEEPALIVE,
	K_HOP_IDLE,
	K_DATAPATH,
	K_XDP,
	K_XDP_INTERFACE,
	K_XDP_PIN_ROOT,
	K_EPOCH_SECS,
	K_RELAY_RATE,
	K_RELAY_BURST,
	K_N,
};

/* A value parser: 0, or -errno with the reason in @why. */
typedef int (*conf_set_fn)(struct maq_config *c, const char *v,
			   char *why, size_t len);

struct conf_keydef {
	const char *name;
	bool repeat;
	conf_set_fn set;
};

static int why(char *buf, size_t len, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int why(char *buf, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return ret;
}

/* Decimal, digits only (no sign, no space, no hex), in [min, max]. */
static int parse_uint(const char *v, uint64_t min, uint64_t max,
		      uint64_t *out, char *buf, size_t len)
{
	uint64_t x = 0;
	const char *p;

	for (p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return why(buf, len, -EINVAL,
				   "'%s' is not a number between %llu and %llu",
				   v, (unsigned long long)min,
				   (unsigned long long)max);
		if (x > (max - (uint64_t)(*p - '0')) / 10) {
			x = max + 1;
			break;
		}
		x = x * 10 + (uint64_t)(*p - '0');
	}
	if (x < min || x > max)
		return why(buf, len, -ERANGE, "%s out of range %llu..%llu", v,
			   (unsigned long long)min, (unsigned long long)max);
	*out = x;
	return 0;
}

static int set_addr(union maq_sockaddr *list, unsigned int *n,
		    unsigned int max, bool relay, const char *v, char *buf,
		    size_t len)
{
	union maq_sockaddr a;

	if (maq_sockaddr_parse(v, MAQ_DEFAULT_PORT, &a))
		return why(buf, len, -EINVAL,
			   "'%s' is not address[:port] (IPv6 in brackets with a port)",
			   v);
	/* a relay cannot be reached at the wildcard address */
	if (relay && ((a.sa.sa_family == AF_INET &&
		       !a.in4.sin_addr.s_addr) ||
		      (a.sa.sa_family == AF_INET6 &&
		       IN6_IS_ADDR_UNSPECIFIED(&a.in6.sin6_addr))))
		return why(buf, len, -EINVAL,
			   "'%s' is the unspecified address", v);
	if (*n >= max)
		return why(buf, len, -E2BIG, "more than %u given", max);
	list[(*n)++] = a;
	return 0;
}

static int set_listen(struct maq_config *c, const char *v, char *buf,
		      size_t len)
{
	return set_addr(c->listen, &c->n_listen, MAQ_CONF_MAX_LISTEN, false,
			v, buf, len);
}

static int set_bootstrap(struct maq_config *c, const char *v, char *buf,
			 size_t len)
{
	return set_addr(c->bootstrap, &c->n_bootstrap, MAQ_CONF_MAX_BOOTSTRAP,
			true, v, buf, len);
}

static int set_role(struct maq_config *c, const char *v, char *buf,
		    size_t len)
{
	if (!strcmp(v, "relay"))
		c->role = MAQ_CONF_RELAY;
	else if (!strcmp(v, "client"))
		c->role = MAQ_CONF_CLIENT;
	else
		return why(buf, len, -EINVAL,
			   "'%s' is neither 'relay' nor 'client'", v);
	return 0;
}

static int set_bandwidth(struct maq_config *c, const char *v, char *buf,
			 size_t len)
{
	uint64_t x;
	int ret = parse_uint(v, 1, UINT32_MAX, &x, buf, len);

	if (!ret)
		c->bandwidth = (uint32_t)x;
	return ret;
}

static int set_lifetime(struct maq_config *c, const char *v, char *buf,
			size_t len)
{
	uint64_t x;
	int ret = parse_uint(v, 1, MAQUIS_MAX_LIFETIME, &x, buf, len);

	if (!ret)
		c->lifetime = (uint32_t)x;
	return ret;
}

static int set_hops(struct maq_config *c, const char *v, char *buf,
		    size_t len)
{
	uint64_t x;
	int ret = parse_uint(v, 1, MAQ_MAX_HOPS - 1, &x, buf, len);

	if (!ret)
		c->hops = (unsigned int)x;
	return ret;
}

static int set_family(struct maq_config *c, const char *v, char *buf,
		      size_t len)
{
	uint8_t id[MAQ_CONF_FAMILY_LEN];
	const char *end = NULL;
	size_t got = 0;

	if (strlen(v) != 2 * sizeof(id) ||
	    sodium_hex2bin(id, sizeof(id), v, strlen(v), NULL, &got, &end) ||
	    got != sizeof(id) || *end)
		return why(buf, len, -EINVAL, "'%s' is not %zu hex digits", v,
			   2 * sizeof(id));
	memcpy(c->family, id, sizeof(id));
	return 0;
}

static int set_key_dir(struct maq_config *c, const char *v, char *buf,
		       size_t len)
{
	if (strlen(v) >= sizeof(c->key_dir))
		return why(buf, len, -ENAMETOOLONG, "path too long");
	strcpy(c->key_dir, v);
	return 0;
}

static int set_interface(struct maq_config *c, const char *v, char *buf,
			 size_t len)
{
	const char *p;

	/* what the kernel takes as a device name (dev_valid_name) */
	if (strlen(v) >= sizeof(c->interface) || !strcmp(v, ".") ||
	    !strcmp(v, ".."))
		return why(buf, len, -EINVAL, "'%s' is not a device name", v);
	for (p = v; *p; p++)
		if (*p == '/' || *p == ':' || *p <= ' ' || *p == 0x7f)
			return why(buf, len, -EINVAL,
				   "'%s' is not a device name", v);
	strcpy(c->interface, v);
	return 0;
}

static int set_address(struct maq_config *c, const char *v, char *buf,
		       size_t len)
{
	unsigned int plen;

	if (maq_prefix_parse(v, &c->address))
		return why(buf, len, -EINVAL,
			   "'%s' is not an address or prefix", v);
	/* it is announced as a prefix: host bits would be refused there */
	if (!maq_prefix_canonical(&c->address)) {
		plen = c->address.len;
		memset(&c->address, 0, sizeof(c->address));
		return why(buf, len, -EINVAL, "'%s' has bits set beyond /%u",
			   v, plen);
	}
	return 0;
}

static int set_control(struct maq_config *c, const char *v, char *buf,
		       size_t len)
{
	/* sun_path is 108 bytes with its NUL */
	if (v[0] != '/' || strlen(v) >= sizeof(c->control))
		return why(buf, len, -EINVAL,
			   "'%s' is not an absolute path of at most %zu bytes",
			   v, sizeof(c->control) - 1);
	strcpy(c->control, v);
	return 0;
}

static int set_circuit(struct maq_config *c, const char *v, char *buf,
		       size_t len)
{
	if (strlen(v) >= sizeof(c->circuit[0]))
		return why(buf, len, -ENAMETOOLONG, "'%s' is too long", v);
	if (c->n_circuit >= MAQ_CONF_MAX_CIRCUIT)
		return why(buf, len, -E2BIG, "more than %u given",
			   MAQ_CONF_MAX_CIRCUIT);
	strcpy(c->circuit[c->n_circuit++], v);
	return 0;
}

/* One of @names (NULL-terminated) into @out, its index. */
static int set_word(const char *v, const char *const *names, int *out,
		    char *buf, size_t len)
{
	char list[128] = "";
	int i;

	for (i = 0; names[i]; i++) {
		if (!strcmp(v, names[i])) {
			*out = i;
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", i ? ", " : "", names[i]);
	}
	return why(buf, len, -EINVAL, "'%s' is not one of %s", v, list);
}

static int set_datapath(struct maq_config *c, const char *v, char *buf,
			size_t len)
{
	static const char *const names[] = { "auto", "module", "user", NULL };
	int i, ret = set_word(v, names, &i, buf, len);

	if (!ret)
		c->datapath = (enum maq_conf_datapath)i;
	return ret;
}

static int set_xdp(struct maq_config *c, const char *v, char *buf,
		   size_t len)
{
	static const char *const names[] = {
		"off", "auto", "native", "generic", NULL,
	};
	int i, ret = set_word(v, names, &i, buf, len);

	if (!ret)
		c->xdp = (enum maq_conf_xdp)(i + MAQ_CONF_XDP_OFF);
	return ret;
}

static int set_xdp_interface(struct maq_config *c, const char *v, char *buf,
			     size_t len)
{
	char keep[sizeof(c->interface)];
	int ret;

	/* the same rules as the device's name */
	memcpy(keep, c->interface, sizeof(keep));
	ret = set_interface(c, v, buf, len);
	if (!ret)
		memcpy(c->xdp_interface, c->interface, sizeof(keep));
	memcpy(c->interface, keep, sizeof(keep));
	return ret;
}

static int set_xdp_pin_root(struct maq_config *c, const char *v, char *buf,
			    size_t len)
{
	/* the loader's buffers are PATH_MAX / 2 (daemon/xdp.c) */
	if (v[0] != '/' || strlen(v) >= sizeof(c->xdp_pin_root) / 2)
		return why(buf, len, -EINVAL,
			   "'%s' is not an absolute path of at most %zu bytes",
			   v, sizeof(c->xdp_pin_root) / 2 - 1);
	strcpy(c->xdp_pin_root, v);
	return 0;
}

static int set_epoch_secs(struct maq_config *c, const char *v, char *buf,
			  size_t len)
{
	uint64_t x;
	int ret = parse_uint(v, 1, 86400, &x, buf, len);

	if (!ret)
		c->epoch_secs = (uint32_t)x;
	return ret;
}

static const char *const log_level_name[] = {
	[MAQ_LOG_ERROR]	= "error",
	[MAQ_LOG_WARN]	= "warn",
	[MAQ_LOG_INFO]	= "info",
	[MAQ_LOG_DEBUG]	= "debug",
};

const char *maq_log_level_name(enum maq_log_level l)
{
	if ((unsigned int)l >= sizeof(log_level_name) / sizeof(*log_level_name))
		return "unknown";
	return log_level_name[l];
}

const char *maq_conf_role_name(enum maq_conf_role r)
{
	return r == MAQ_CONF_RELAY ? "relay" :
	       r == MAQ_CONF_CLIENT ? "client" : "unknown";
}

static int set_log_level(struct maq_config *c, const char *v, char *buf,
			 size_t len)
{
	unsigned int i;

	for (i = 0; i < sizeof(log_level_name) / sizeof(*log_level_name); i++)
		if (!strcmp(v, log_level_name[i])) {
			c->log_level = (enum maq_log_level)i;
			return 0;
		}
	return why(buf, len, -EINVAL,
		   "'%s' is not one of error, warn, info, debug", v);
}

/* 0 (@off) or a value in [@min, @max] @unit: keepalive, hop-idle. */
static int parse_off_or(const char *v, uint32_t min, uint32_t max,
			const char *unit, const char *off, uint32_t *out,
			char *buf, size_t len)
{
	uint64_t x;
	int ret = parse_uint(v, 0, max, &x, buf, len);

	if (!ret && x && x < min)
		ret = why(buf, len, -ERANGE,
			  "%s %s is too short: 0 (%s) or %u..%u", v, unit, off,
			  min, max);
	if (!ret)
		*out = (uint32_t)x;
	return ret;
}

static int set_keepalive(struct maq_config *c, const char *v, char *buf,
			 size_t len)
{
	return parse_off_or(v, MAQ_CONF_MIN_KEEPALIVE, MAQ_CONF_MAX_KEEPALIVE,
			    "ms", "off", &c->keepalive, buf, len);
}

static int set_hop_idle(struct maq_config *c, const char *v, char *buf,
			size_t len)
{
	return parse_off_or(v, MAQ_CONF_MIN_HOP_IDLE, MAQ_CONF_MAX_HOP_IDLE,
			    "s", "never", &c->hop_idle, buf, len);
}

static int set_relay_rate(struct maq_config *c, const char *v, char *buf,
			  size_t len)
{
	int ret = maq_rate_parse(v, &c->relay_rate);

	return ret ? why(buf, len, ret, "'%s' %s", v, maq_rate_why(ret)) : 0;
}

static int set_relay_burst(struct maq_config *c, const char *v, char *buf,
			   size_t len)
{
	int ret = maq_burst_parse(v, &c->relay_burst);

	return ret ? why(buf, len, ret, "'%s' %s", v, maq_burst_why(ret)) : 0;
}

static const struct conf_keydef keys[K_N] = {
	[K_LISTEN]	= { "listen", true, set_listen },
	[K_BOOTSTRAP]	= { "bootstrap", true, set_bootstrap },
	[K_ROLE]	= { "role", false, set_role },
	[K_BANDWIDTH]	= { "bandwidth", false, set_bandwidth },
	[K_LIFETIME]	= { "lifetime", false, set_lifetime },
	[K_HOPS]	= { "hops", false, set_hops },
	[K_FAMILY]	= { "family", false, set_family },
	[K_KEY_DIR]	= { "key-dir", false, set_key_dir },
	[K_LOG_LEVEL]	= { "log-level", false, set_log_level },
	[K_INTERFACE]	= { "interface", false, set_interface },
	[K_ADDRESS]	= { "address", false, set_address },
	[K_CONTROL]	= { "control", false, set_control },
	[K_CIRCUIT]	= { "circuit", true, set_circuit },
	[K_KEEPALIVE]	= { "keepalive", false, set_keepalive },
	[K_HOP_IDLE]	= { "hop-idle", false, set_hop_idle },
	[K_DATAPATH]	= { "datapath", false, set_datapath },
	[K_XDP]		= { "xdp", false, set_xdp },
	[K_XDP_INTERFACE] = { "xdp-interface", false, set_xdp_interface },
	[K_XDP_PIN_ROOT] = { "xdp-pin-root", false, set_xdp_pin_root },
	[K_EPOCH_SECS]	= { "epoch-secs", false, set_epoch_secs },
	[K_RELAY_RATE]	= { "relay-rate", false, set_relay_rate },
	[K_RELAY_BURST]	= { "relay-burst", false, set_relay_burst },
};

void maq_config_init(struct maq_config *c)
{
	memset(c, 0, sizeof(*c));
	c->role = MAQ_CONF_CLIENT;
	c->bandwidth = MAQ_CONF_DEFAULT_BANDWIDTH;
	c->lifetime = MAQ_CONF_DEFAULT_LIFETIME;
	c->hops = MAQ_CONF_DEFAULT_HOPS;
	c->keepalive = MAQ_CONF_DEFAULT_KEEPALIVE;
	c->hop_idle = MAQ_CONF_DEFAULT_HOP_IDLE;
	strcpy(c->key_dir, MAQ_CONF_DEFAULT_KEY_DIR);
	c->log_level = MAQ_LOG_INFO;
	strcpy(c->interface, MAQ_CONF_DEFAULT_INTERFACE);
	strcpy(c->control, MAQ_CONF_DEFAULT_CONTROL);
}

/* Where a setting came from, to word messages and catch repeats. */
struct conf_src {
	const char *name;		/* file name; NULL: command line */
	unsigned int line;
	unsigned int seen[K_N];		/* line (or option number) of last */
};

static int conf_err(const struct conf_src *s, char *err, size_t errlen,
		    int ret, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static int conf_err(const struct conf_src *s, char *err, size_t errlen,
		    int ret, const char *key, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	if (!err || !errlen)
		return ret;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (s->name && key)
		snprintf(err, errlen, "%s:%u: %s: %s", s->name, s->line, key,
			 what);
	else if (s->name)
		snprintf(err, errlen, "%s:%u: %s", s->name, s->line, what);
	else if (key)
		snprintf(err, errlen, "command line: %s: %s", key, what);
	else
		snprintf(err, errlen, "command line: %s", what);
	return ret;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*e = '\0';
	return s;
}

/* One "key = value" (comments already gone); @s is modified. */
static int conf_apply(struct maq_config *c, struct conf_src *src, char *s,
		      char *err, size_t errlen)
{
	char *eq = strchr(s, '='), *key, *val, buf[400];
	unsigned int k;
	int ret;

	if (!eq)
		return conf_err(src, err, errlen, -EINVAL, NULL,
				"'%s': expected 'key = value'", trim(s));
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (!*key)
		return conf_err(src, err, errlen, -EINVAL, NULL,
				"missing key before '='");
	for (k = 0; k < K_N; k++)
		if (!strcmp(key, keys[k].name))
			break;
	if (k == K_N)
		return conf_err(src, err, errlen, -EINVAL, key, "unknown key");
	if (!*val)
		return conf_err(src, err, errlen, -EINVAL, key,
				"missing value");
	if (src->seen[k] && !keys[k].repeat) {
		if (src->name)
			return conf_err(src, err, errlen, -EINVAL, key,
					"already set on line %u",
					src->seen[k]);
		return conf_err(src, err, errlen, -EINVAL, key,
				"given more than once");
	}
	/* the command line's first value of a list replaces the file's */
	if (!src->name && !src->seen[k]) {
		if (k == K_LISTEN)
			c->n_listen = 0;
		else if (k == K_BOOTSTRAP)
			c->n_bootstrap = 0;
		else if (k == K_CIRCUIT)
			c->n_circuit = 0;
	}
	ret = keys[k].set(c, val, buf, sizeof(buf));
	if (ret)
		return conf_err(src, err, errlen, ret, key, "%s", buf);
	src->seen[k] = src->line;
	return 0;
}

int maq_config_parse(struct maq_config *c, const char *name,
		     const char *text, size_t len, char *err, size_t errlen)
{
	struct conf_src src = { .name = name ? name : "(config)" };
	char line[MAQ_CONF_MAX_LINE + 1];
	size_t off = 0, l;
	const char *nl;
	char *p;
	int ret;

	while (off < len) {
		src.line++;
		nl = memchr(text + off, '\n', len - off);
		l = (nl ? (size_t)(nl - text) : len) - off;
		if (l > MAQ_CONF_MAX_LINE)
			return conf_err(&src, err, errlen, -EINVAL, NULL,
					"line longer than %d bytes",
					MAQ_CONF_MAX_LINE);
		if (memchr(text + off, '\0', l))
			return conf_err(&src, err, errlen, -EINVAL, NULL,
					"NUL byte in line");
		memcpy(line, text + off, l);
		line[l] = '\0';
		off += l + (nl ? 1 : 0);

		/* '#' at the start or after white space opens a comment */
		for (p = line; *p; p++)
			if (*p == '#' && (p == line || p[-1] == ' ' ||
					  p[-1] == '\t'))
				break;
		*p = '\0';
		p = trim(line);
		if (!*p)
			continue;
		ret = conf_apply(c, &src, p, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

int maq_config_load(struct maq_config *c, const char *path, char *err,
		    size_t errlen)
{
	char *text = NULL;
	size_t len = 0, got;
	FILE *f;
	int ret;

	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	errno = 0;
	text = malloc(CONF_FILE_MAX);
	if (!text) {
		fclose(f);
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	while ((got = fread(text + len, 1, CONF_FILE_MAX - len, f)) > 0) {
		len += got;
		if (len == CONF_FILE_MAX)
			break;
	}
	if (ferror(f)) {
		/* fread() leaves read()'s errno, e.g. EISDIR */
		ret = errno ? -errno : -EIO;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		goto out;
	}
	if (len == CONF_FILE_MAX) {
		ret = -EFBIG;
		if (err && errlen)
			snprintf(err, errlen,
				 "%s: too large for a configuration file",
				 path);
		goto out;
	}
	ret = maq_config_parse(c, path, text, len, err, errlen);
out:
	fclose(f);
	free(text);
	return ret;
}

int maq_config_override(struct maq_config *c, const char *const *opts,
			unsigned int n, char *err, size_t errlen)
{
	struct conf_src src = { .name = NULL };
	char line[MAQ_CONF_MAX_LINE + 1];
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		src.line = i + 1;
		if (strlen(opts[i]) > MAQ_CONF_MAX_LINE)
			return conf_err(&src, err, errlen, -EINVAL, NULL,
					"option %u longer than %d bytes",
					i + 1, MAQ_CONF_MAX_LINE);
		strcpy(line, opts[i]);
		ret = conf_apply(c, &src, line, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}
