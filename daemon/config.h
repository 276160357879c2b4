/* SPDX-License-Identifier: GPL-2.0 */
/*
 * maquisd's configuration file: one `key = value` a line; `#` starts a
 * comment at the start of a line or after white space; blank lines are
 * ignored.  Keys:
 *
 *   listen     = address[:port]  local underlay endpoint (repeatable)
 *   bootstrap  = address[:port]  a relay to start gossip from (repeatable)
 *   role       = relay | client
 *   bandwidth  = kB/s shared as a relay (1..4294967295)
 *   lifetime   = circuit lifetime in seconds (1..86400)
 *   hops       = relays a circuit crosses before its terminus (1..7)
 *   family     = 64 hex digits: the operator's family id
 *   key-dir    = directory of identity.key and onion keys
 *   log-level  = error | warn | info | debug
 *   interface  = the maquis device (created when missing)
 *   address    = this host's inner prefix on it (announced; circuits to it
 *                end here)
 *   control    = path of the control socket
 *   circuit    = a destination to keep a circuit to (repeatable)
 *   datapath   = auto | module | user (auto: module when maquis.ko is there)
 *   xdp        = off | auto | native | generic: the XDP relay of a relay
 *                (default: auto in user mode, off in module mode)
 *   xdp-interface = where it goes (default: the one holding listen)
 *   xdp-pin-root  = its pins, on bpffs (default /sys/fs/bpf/maquis)
 *   epoch-secs = user mode: an origin's key phase lasts at most this
 *   keepalive  = ms between an origin's keepalives (0 off, 50..2000)
 *   hop-idle   = s without a forward cell before a served hop is removed
 *                (0 never, 3..3600)
 *   relay-rate = bytes/s this host relays, both directions together (0:
 *                unlimited; 10M, 1.5G, 80Mbit: rate.h); advertised as its
 *                bandwidth
 *   relay-burst = bytes the relay rate may run ahead (1436..2^30; default:
 *                the module's, 64 cells)
 *
 * Addresses are "192.0.2.1:7720", "[2001:db8::1]:7720", or without the
 * port (MAQ_DEFAULT_PORT).  A key given twice in one file is an error;
 * command-line overrides replace the file's value, and for a repeatable key
 * the first override replaces the file's list and later ones add to it.
 *
 * Errors are -errno with a message in @err: "<file>:<line>: <key>: <what>",
 * or "command line: <key>: <what>".
 */
#ifndef _MAQUIS_DAEMON_CONFIG_H
#define _MAQUIS_DAEMON_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <maquis/wire.h>

#include "nl.h"

#define MAQ_CONF_MAX_LISTEN	8
#define MAQ_CONF_MAX_BOOTSTRAP	64
#define MAQ_CONF_MAX_LINE	4096
#define MAQ_CONF_FAMILY_LEN	32
#define MAQ_CONF_MAX_CIRCUIT	16

enum maq_conf_role {
	MAQ_CONF_CLIENT,
	MAQ_CONF_RELAY,
};

enum maq_conf_datapath {
	MAQ_CONF_DP_AUTO,
	MAQ_CONF_DP_MODULE,
	MAQ_CONF_DP_USER,
};

enum maq_conf_xdp {
	MAQ_CONF_XDP_DEFAULT,		/* auto in user mode, off in module */
	MAQ_CONF_XDP_OFF,
	MAQ_CONF_XDP_AUTO,
	MAQ_CONF_XDP_NATIVE,
	MAQ_CONF_XDP_GENERIC,
};

enum maq_log_level {
	MAQ_LOG_ERROR,
	MAQ_LOG_WARN,
	MAQ_LOG_INFO,
	MAQ_LOG_DEBUG,
};

struct maq_config {
	union maq_sockaddr listen[MAQ_CONF_MAX_LISTEN];
	unsigned int n_listen;
	union maq_sockaddr bootstrap[MAQ_CONF_MAX_BOOTSTRAP];
	unsigned int n_bootstrap;
	enum maq_conf_role role;
	uint32_t bandwidth;		/* kB/s */
	uint32_t lifetime;		/* s */
	unsigned int hops;
	uint8_t family[MAQ_CONF_FAMILY_LEN];	/* zero: none */
	char key_dir[PATH_MAX];
	enum maq_log_level log_level;
	char interface[16];		/* IFNAMSIZ */
	struct maq_prefix address;	/* family 0: none */
	char control[108];		/* sun_path */
	char circuit[MAQ_CONF_MAX_CIRCUIT][256];
	unsigned int n_circuit;
	enum maq_conf_datapath datapath;
	enum maq_conf_xdp xdp;
	char xdp_interface[16];		/* "": the listen address's */
	char xdp_pin_root[PATH_MAX];	/* "": the loader's default */
	uint32_t epoch_secs;		/* 0: the endpoint's default */
	uint32_t keepalive;		/* ms, 0: off */
	uint32_t hop_idle;		/* s, 0: never */
	uint64_t relay_rate;		/* bytes/s, 0: unlimited */
	uint32_t relay_burst;		/* bytes, 0: the default */
};

#define MAQ_CONF_DEFAULT_KEY_DIR	"/var/lib/maquis"
#define MAQ_CONF_DEFAULT_BANDWIDTH	1000
#define MAQ_CONF_DEFAULT_LIFETIME	600
#define MAQ_CONF_DEFAULT_HOPS		3
#define MAQ_CONF_DEFAULT_INTERFACE	"maq0"
#define MAQ_CONF_DEFAULT_CONTROL	"/run/maquis/maquisd.sock"
#define MAQ_CONF_DEFAULT_KEEPALIVE	250
#define MAQ_CONF_MIN_KEEPALIVE		50
#define MAQ_CONF_MAX_KEEPALIVE		2000
#define MAQ_CONF_DEFAULT_HOP_IDLE	10
#define MAQ_CONF_MIN_HOP_IDLE		3
#define MAQ_CONF_MAX_HOP_IDLE		3600

/* Defaults: client, no listen, bootstrap, address or circuit, the values
 * above, info.
 */
void maq_config_init(struct maq_config *c);

/* Read @path into @c (on top of what @c holds, normally the defaults).
 * On error @c may be partly updated.
 */
int maq_config_load(struct maq_config *c, const char *path, char *err,
		    size_t errlen);

/* The same from a buffer; @name stands for the file in messages. */
int maq_config_parse(struct maq_config *c, const char *name,
		     const char *text, size_t len, char *err, size_t errlen);

/*
 * Command-line overrides, each "key=value" (white space around '='
 * allowed), applied in order after the file.
 */
int maq_config_override(struct maq_config *c, const char *const *opts,
			unsigned int n, char *err, size_t errlen);

const char *maq_log_level_name(enum maq_log_level l);
const char *maq_conf_role_name(enum maq_conf_role r);

#endif /* _MAQUIS_DAEMON_CONFIG_H */
