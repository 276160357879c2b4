// SPDX-License-Identifier: GPL-2.0
/*
 * maq_config_parse() on arbitrary text, then the same text's lines as
 * maq_config_override() options.
 *
 * A refusal must be a negative errno with a message that names where
 * ("fuzz.conf:<line>: ..." or "command line: ...").  An accepted
 * configuration must be within the documented limits, its strings
 * terminated inside their arrays, and parsing the same text again must give
 * the same configuration.
 */
#include <string.h>

#include "config.h"
#include "fuzz.h"

#define MAX_OPTS	16

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	return 0;
}

static void check_refused(int ret, const char *err, const char *where)
{
	FUZZ_ASSERT(ret < 0 && ret > -4096, "return %d", ret);
	FUZZ_ASSERT(!strncmp(err, where, strlen(where)) &&
		    strlen(err) > strlen(where),
		    "message '%s' does not start with '%s'", err, where);
}

static void check_config(const struct maq_config *c)
{
	unsigned int i;

	FUZZ_ASSERT(c->n_listen <= MAQ_CONF_MAX_LISTEN &&
		    c->n_bootstrap <= MAQ_CONF_MAX_BOOTSTRAP &&
		    c->n_circuit <= MAQ_CONF_MAX_CIRCUIT,
		    "lists %u %u %u", c->n_listen, c->n_bootstrap,
		    c->n_circuit);
	FUZZ_ASSERT(c->role == MAQ_CONF_CLIENT || c->role == MAQ_CONF_RELAY,
		    "role %d", c->role);
	FUZZ_ASSERT(c->bandwidth >= 1, "bandwidth 0");
	FUZZ_ASSERT(c->lifetime >= 1 && c->lifetime <= 86400, "lifetime %u",
		    c->lifetime);
	FUZZ_ASSERT(c->hops >= 1 && c->hops <= MAQ_MAX_HOPS - 1, "hops %u",
		    c->hops);
	FUZZ_ASSERT(strcmp(maq_log_level_name(c->log_level), "unknown"),
		    "log level %d", c->log_level);
	FUZZ_ASSERT(memchr(c->key_dir, 0, sizeof(c->key_dir)) &&
		    memchr(c->interface, 0, sizeof(c->interface)) &&
		    memchr(c->control, 0, sizeof(c->control)),
		    "unterminated string");
	FUZZ_ASSERT(c->interface[0] && c->control[0] == '/',
		    "interface '%s' control '%s'", c->interface, c->control);
	for (i = 0; i < c->n_circuit; i++)
		FUZZ_ASSERT(memchr(c->circuit[i], 0, sizeof(c->circuit[i])),
			    "unterminated circuit %u", i);
	for (i = 0; i < c->n_listen; i++)
		FUZZ_ASSERT(c->listen[i].sa.sa_family == AF_INET ||
			    c->listen[i].sa.sa_family == AF_INET6,
			    "listen %u family %d", i,
			    c->listen[i].sa.sa_family);
	for (i = 0; i < c->n_bootstrap; i++)
		FUZZ_ASSERT(!maq_addr_unspecified(&c->bootstrap[i]),
			    "bootstrap %u unspecified", i);
	FUZZ_ASSERT(!c->address.family || c->address.family == AF_INET ||
		    c->address.family == AF_INET6, "address family %d",
		    c->address.family);
	FUZZ_ASSERT(c->address.len <= (c->address.family == AF_INET ? 32 :
				       128), "address length %u",
		    c->address.len);
}

/* The input's lines (at most MAX_OPTS) as NUL-terminated options. */
static void check_overrides(const u8 *data, size_t size)
{
	static struct maq_config c;
	const char *opts[MAX_OPTS];
	char *copy, *p, *nl, err[600];
	unsigned int n = 0;
	int ret;

	copy = malloc(size + 1);
	FUZZ_ASSERT(copy, "out of memory");
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (p = copy; n < MAX_OPTS && p < copy + size; p = nl + 1) {
		opts[n++] = p;
		nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = '\0';
	}
	maq_config_init(&c);
	err[0] = '\0';
	ret = maq_config_override(&c, opts, n, err, sizeof(err));
	if (ret)
		check_refused(ret, err, "command line: ");
	else
		check_config(&c);
	free(copy);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	static struct maq_config c, again;
	char err[600];
	char *text;
	int ret;

	/* no terminating NUL: the parser takes a length */
	text = (char *)fuzz_copy(data, size);
	maq_config_init(&c);
	err[0] = '\0';
	ret = maq_config_parse(&c, "fuzz.conf", text, size, err, sizeof(err));
	if (ret) {
		check_refused(ret, err, "fuzz.conf:");
	} else {
		check_config(&c);
		maq_config_init(&again);
		ret = maq_config_parse(&again, "fuzz.conf", text, size, err,
				       sizeof(err));
		FUZZ_ASSERT(!ret && !memcmp(&c, &again, sizeof(c)),
			    "second parse differs: %d", ret);
	}
	free(text);
	check_overrides(data, size);
	return 0;
}
