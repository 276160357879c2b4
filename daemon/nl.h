/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small client for the "maquis" generic netlink family (include/maquis.yaml,
 * include/uapi/linux/maquis.h), on libnl-genl-3.
 *
 * One struct maq_nl is one netlink socket.  Requests are synchronous: every
 * function returns 0 (or a count) on success and -errno on failure; after a
 * failure maq_nl_errmsg() gives the kernel's extended ack message ("" when
 * the kernel sent none) and maq_nl_err_offset() / maq_nl_err_missing() the
 * offending or missing attribute when the kernel named one.
 *
 * Events (event-ntf, cell-ntf) are read from a handle that called
 * maq_nl_subscribe(); use a separate handle for them, since multicast
 * notifications and request replies would otherwise interleave.
 *
 * Keys: every message this library builds is wiped before it is freed, so
 * no key material outlives a request in our buffers.  The caller's own
 * structs (struct maq_hop) are the caller's to wipe, maq_circuit_wipe()
 * and maq_hop_wipe() help.  The kernel never returns keys.
 *
 * Not thread-safe: one handle per thread.
 */
#ifndef _MAQUIS_DAEMON_NL_H
#define _MAQUIS_DAEMON_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/maquis.h>

struct nl_msg;
struct nlmsghdr;
struct maq_nl;

/* An underlay endpoint.  sa.sa_family == AF_UNSPEC means "absent". */
union maq_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* An inner prefix routed through a circuit. */
struct maq_prefix {
	int family;			/* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	uint8_t len;
};

/* Counters, indexed by MAQUIS_A_STATS_* (0 and PAD unused). */
struct maq_stats {
	uint64_t val[MAQUIS_A_STATS_MAX + 1];
	uint32_t present;		/* bit i: val[i] was reported */
};

/* Counter index of a drop reason (enum maquis_drop). */
#define MAQ_STATS_DROP(reason)	(MAQUIS_A_STATS_DROP_UNKNOWN_CID + (reason))

/* Which parts of a struct maq_hop are meaningful (and sent). */
enum {
	MAQ_HOP_FWD_KEY		= 1 << 0,
	MAQ_HOP_BACK_KEY	= 1 << 1,
	MAQ_HOP_FWD_CTL_KEY	= 1 << 2,
	MAQ_HOP_BACK_CTL_KEY	= 1 << 3,
	MAQ_HOP_FWD_SEQ		= 1 << 4,
	MAQ_HOP_BACK_SEQ	= 1 << 5,
	MAQ_HOP_NO_INDEX	= 1 << 6,	/* omit the index (tests) */

	MAQ_HOP_KEYS		= 0x0f,
	MAQ_HOP_ALL		= 0x3f,
};

/*
 * Keys and counter offsets for one hop.  fwd_seq/back_seq are bases at the
 * origin, deltas at a relay, and back_seq the backward base at a terminus.
 */
struct maq_hop {
	uint8_t index;
	uint32_t has;			/* MAQ_HOP_* */
	uint8_t fwd_key[MAQUIS_KEY_LEN];
	uint8_t back_key[MAQUIS_KEY_LEN];
	uint8_t fwd_ctl_key[MAQUIS_KEY_LEN];
	uint8_t back_ctl_key[MAQUIS_KEY_LEN];
	uint64_t fwd_seq;
	uint64_t back_seq;
};

#define MAQ_NL_MAX_ROUTES	32

/*
 * One host's part of a circuit.  For circuit-new, a zero cid, an AF_UNSPEC
 * address, a zero lifetime are not sent; hops[0..n_hops) and
 * routes[0..n_routes) are.  circuit-get and dump fill every field the kernel
 * reported and set the MAQUIS_A_* bit in @present (never any key).
 */
struct maq_circuit {
	uint32_t ifindex;
	uint32_t id;
	uint8_t role;			/* enum maquis_role */
	uint32_t fwd_cid_in;
	uint32_t fwd_cid_out;
	uint32_t back_cid_in;
	uint32_t back_cid_out;
	union maq_sockaddr next;
	union maq_sockaddr prev;
	uint32_t lifetime;		/* seconds */
	uint32_t age;			/* reply only */
	uint8_t phase;			/* reply only */
	struct maq_stats stats;		/* reply only */
	uint32_t join;			/* reply: joined to (0: that one is gone) */
	/* circuit-new, origin: end-to-end send key || receive key, sent when
	 * e2e is set; never reported, wiped by maq_circuit_wipe().
	 */
	bool e2e;
	uint8_t e2e_key[MAQUIS_E2E_KEY_LEN];
	unsigned int n_hops;
	struct maq_hop hops[MAQUIS_MAX_HOPS];
	unsigned int n_routes;
	struct maq_prefix routes[MAQ_NL_MAX_ROUTES];
	uint64_t present;		/* reply: bit MAQUIS_A_x */
};

/* A maquis device as dev-get reports it. */
struct maq_dev {
	uint32_t ifindex;
	char ifname[16];
	uint16_t port;			/* host order */
	union maq_sockaddr local;	/* AF_UNSPEC: any */
	uint32_t max_circuits;
	uint32_t n_circuits;
	uint64_t relay_rate;		/* bytes/s; 0: unlimited */
	uint32_t relay_burst;		/* bytes */
	struct maq_stats stats;
	uint64_t present;		/* bit MAQUIS_A_x */
};

/* An event-ntf or cell-ntf notification. */
struct maq_event {
	uint8_t cmd;			/* MAQUIS_CMD_EVENT_NTF / _CELL_NTF */
	uint32_t ifindex;
	uint32_t id;
	uint8_t event;			/* enum maquis_event */
	uint8_t dir;			/* enum maquis_dir */
	uint8_t phase;
	int hop;			/* hop index, -1 when absent */
	uint64_t count;
	union maq_sockaddr peer;
	uint8_t cell[MAQUIS_CELL_SIZE];
	uint8_t ctl[MAQUIS_CTL_LEN];
	uint64_t present;		/* bit MAQUIS_A_x */
};

#define MAQ_HAS(obj, attr)	(!!((obj)->present & (1ULL << (attr))))

/* --- handle ------------------------------------------------------------ */

/* Opens a socket in the caller's network namespace and resolves the family
 * and its "events" group.  -ENOENT when the module is not loaded.
 */
int maq_nl_open(struct maq_nl **nlp);
void maq_nl_close(struct maq_nl *nl);

int maq_nl_fd(const struct maq_nl *nl);
int maq_nl_family(const struct maq_nl *nl);
int maq_nl_events_group(const struct maq_nl *nl);

/* Extended ack of the last failed request. */
const char *maq_nl_errmsg(const struct maq_nl *nl);
/* Offset of the offending attribute in the request, or -1. */
int maq_nl_err_offset(const struct maq_nl *nl);
/* Type of the missing attribute, or -1. */
int maq_nl_err_missing(const struct maq_nl *nl);

/* Timeout for a request's reply (default 10000 ms; 0: wait forever). */
void maq_nl_set_timeout(struct maq_nl *nl, int ms);

/* Called with every netlink message received (replies, acks, events), before
 * it is parsed: for tests and debugging.
 */
typedef void (*maq_nl_rx_hook)(const struct nlmsghdr *nlh, void *arg);
void maq_nl_set_rx_hook(struct maq_nl *nl, maq_nl_rx_hook hook, void *arg);

/* --- operations -------------------------------------------------------- */

int maq_nl_dev_get(struct maq_nl *nl, uint32_t ifindex, struct maq_dev *dev);
/* Every device of the namespace; *devs is malloc()ed, free() it. */
int maq_nl_dev_dump(struct maq_nl *nl, struct maq_dev **devs, size_t *n);
/* Changes what is given: port 0, local NULL, max_circuits 0 are left out. */
int maq_nl_dev_set(struct maq_nl *nl, uint32_t ifindex, uint16_t port,
		   const union maq_sockaddr *local, uint32_t max_circuits);
/*
 * The relay rate limit: @rate bytes/s (0: unlimited; MAQ_NL_RATE_KEEP: left
 * out), @burst bytes (0: left out).  Either one refills the bucket.
 */
#define MAQ_NL_RATE_KEEP	UINT64_MAX
int maq_nl_dev_set_rate(struct maq_nl *nl, uint32_t ifindex, uint64_t rate,
			uint32_t burst);

int maq_nl_circuit_new(struct maq_nl *nl, const struct maq_circuit *c);
int maq_nl_circuit_del(struct maq_nl *nl, uint32_t ifindex, uint32_t id);
int maq_nl_circuit_get(struct maq_nl *nl, uint32_t ifindex, uint32_t id,
		       struct maq_circuit *c);
/* ifindex 0: the request carries none (the kernel decides). */
int maq_nl_circuit_dump(struct maq_nl *nl, uint32_t ifindex,
			struct maq_circuit **cs, size_t *n);

/* Joins two terminus circuits of a device at a rendezvous; @join 0 undoes
 * the join of @id.
 */
int maq_nl_circuit_join(struct maq_nl *nl, uint32_t ifindex, uint32_t id,
			uint32_t join);

/* Installs the keys @hop carries (by its has bits) into @slot of hop
 * @hop->index of circuit @id.
 */
int maq_nl_key_set(struct maq_nl *nl, uint32_t ifindex, uint32_t id,
		   uint8_t slot, const struct maq_hop *hop);
/* id 0: the device's counters. */
int maq_nl_stats_reset(struct maq_nl *nl, uint32_t ifindex, uint32_t id);
int maq_nl_cell_send(struct maq_nl *nl, uint32_t ifindex,
		     const union maq_sockaddr *peer,
		     const uint8_t cell[MAQUIS_CELL_SIZE]);
int maq_nl_ctl_send(struct maq_nl *nl, uint32_t ifindex, uint32_t id,
		    uint8_t hop, const uint8_t ctl[MAQUIS_CTL_LEN]);

/* --- events ------------------------------------------------------------ */

int maq_nl_subscribe(struct maq_nl *nl);
/* 1: *ev filled; 0: nothing within timeout_ms (-1: wait forever);
 * -ENOBUFS: notifications were lost (resynchronise with dumps).
 */
int maq_nl_event_recv(struct maq_nl *nl, struct maq_event *ev, int timeout_ms);

/* --- lower level: tools and tests -------------------------------------- */

/* A request for @cmd with the family header; flags as for nlmsg (e.g.
 * NLM_F_DUMP).  NULL on allocation failure.
 */
struct nl_msg *maq_nl_msg(struct maq_nl *nl, uint8_t cmd, int flags);
/* Wipes and frees a message. */
void maq_nl_msg_free(struct nl_msg *msg);

/* Called with each reply message (not acks or errors). Return 0 or -errno. */
typedef int (*maq_nl_reply_cb)(const struct nlmsghdr *nlh, void *arg);
/* Sends @msg (always consumed: wiped and freed), waits for the ack, the reply
 * or the end of the dump.  Returns 0 or -errno.
 */
int maq_nl_request(struct maq_nl *nl, struct nl_msg *msg, maq_nl_reply_cb cb,
		   void *arg);

/* Nests; a zero port is left out of an addr nest. */
int maq_nl_put_addr(struct nl_msg *msg, int attr, const union maq_sockaddr *a);
int maq_nl_put_prefix(struct nl_msg *msg, int attr, const struct maq_prefix *p);
int maq_nl_put_hop(struct nl_msg *msg, const struct maq_hop *hop);
/* Every attribute of circuit-new for @c. */
int maq_nl_put_circuit(struct nl_msg *msg, const struct maq_circuit *c);

int maq_nl_parse_dev(const struct nlmsghdr *nlh, struct maq_dev *dev);
int maq_nl_parse_circuit(const struct nlmsghdr *nlh, struct maq_circuit *c);
int maq_nl_parse_event(const struct nlmsghdr *nlh, struct maq_event *ev);

/* --- helpers ----------------------------------------------------------- */

/* "cells-in", "drop-bad-tag", ...; NULL for unknown indices. */
const char *maq_stat_name(int attr);
const char *maq_role_name(int role);
const char *maq_event_name(int event);

/* "10.0.0.1:7720", "[fd00::1]:7720", or without port (then @port). */
int maq_sockaddr_parse(const char *s, uint16_t port, union maq_sockaddr *a);
/* "10.0.0.1:7720" / "[fd00::1]:7720" / "-" into buf (>= 64 bytes). */
const char *maq_sockaddr_str(const union maq_sockaddr *a, char *buf,
			     size_t len);
/* "172.31.0.0/24", "fd31::1" (full length when no /len). */
int maq_prefix_parse(const char *s, struct maq_prefix *p);
const char *maq_prefix_str(const struct maq_prefix *p, char *buf, size_t len);

void maq_hop_wipe(struct maq_hop *hop);
void maq_circuit_wipe(struct maq_circuit *c);

#endif /* _MAQUIS_DAEMON_NL_H */
