/* SPDX-License-Identifier: GPL-2.0 */
/*
 * maquisd's internals, shared by its files: maquisd.c (main, event loop,
 * keys, descriptor), gossip.c, circuits.c (setup, teardown, rotation,
 * reconciliation), control.c (the CLI's socket) and rtnl.c (device,
 * addresses, routes).  One process, one thread, one maquis device.
 */
#ifndef _MAQUIS_DAEMON_MAQUISD_H
#define _MAQUIS_DAEMON_MAQUISD_H

#include <stdbool.h>
#include <stdint.h>
#include <poll.h>

#include "config.h"
#include "ctl.h"
#include "descriptor.h"
#include "dp.h"
#include "ipc.h"
#include "keys.h"
#include "nl.h"
#include "setup.h"
#include "view.h"
#include "alias_rec.h"

/* --- logging ------------------------------------------------------------ */

void maqd_log(enum maq_log_level l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define log_err(...)	maqd_log(MAQ_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	maqd_log(MAQ_LOG_WARN, __VA_ARGS__)
#define log_info(...)	maqd_log(MAQ_LOG_INFO, __VA_ARGS__)
#define log_debug(...)	maqd_log(MAQ_LOG_DEBUG, __VA_ARGS__)

/* Milliseconds on CLOCK_MONOTONIC; wall-clock seconds for descriptors. */
u64 maqd_now_ms(void);
u64 maqd_wall(void);

/* --- circuits ----------------------------------------------------------- */

#define MAQD_SETUP_WAIT_MS	5000	/* a relay waits for CREATED */
#define MAQD_ORIGIN_WAIT_MS	7000	/* the origin waits longer */
#define MAQD_GRACE_MS		2000	/* before a next epoch's key-set */
#define MAQD_ORIGIN_LAG_MS	1000	/* the origin's, after the hops' */
#define MAQD_DESTROY_WAIT_MS	1000	/* per hop, for DESTROYED */
#define MAQD_REPLACE_PCT	80	/* replace at this % of lifetime */
#define MAQD_ALIAS_WAIT_MS	30000	/* a rendezvous, all steps */

/* --- liveness (liveness.c, PROTOCOL 7.5): per circuit state ------------- */

#define MAQD_LIVE_SLOTS		4	/* keepalive PINGs awaiting a PONG */

/* An origin circuit's keepalive and, once it went quiet, the probe. */
struct maqd_live {
	u64 next_ping_ms;		/* 0: keepalive not started */
	u64 last_pong_ms;		/* last sign of life end to end */
	u64 nonce[MAQD_LIVE_SLOTS];	/* outstanding keepalives, 0 free */
	u64 sent_ms[MAQD_LIVE_SLOTS];
	unsigned int slot;
	u32 srtt_ms;			/* smoothed PING-PONG time */
	bool worked;			/* credited to its relays */
	bool probing;
	u64 probe_nonce[MAQ_MAX_HOPS];
	u32 probe_answered;		/* bit j: hop j + 1 answered */
	u64 probe_ms, probe_deadline_ms;
	int dead_hop;			/* 1-based hop blamed; 0 none */
	u64 dead_ms;			/* when it was located */
};

/* A served hop's forward liveness as the kernel counts it. */
struct maqd_hop_live {
	u64 cells;			/* cells-in at since_ms */
	u64 since_ms;			/* 0: not looked at yet */
};

enum maqd_state {
	MAQD_BUILDING,
	MAQD_UP,
	MAQD_REPLACING,
	MAQD_CLOSING,
};

/* A circuit this daemon built (origin). */
struct maqd_origin {
	struct maqd_origin *next;
	u32 id;				/* 0 while building */
	u32 handle;			/* of the CREATE */
	enum maqd_state state;
	struct maq_origin o;		/* keys and chains: wiped on free */
	unsigned int n;			/* hops, the terminus included */
	u8 path[MAQ_MAX_HOPS][MAQ_ID_PK_LEN];
	union maq_sockaddr first;	/* hop 1, where CREATED comes from */
	struct maq_prefix to;		/* routed into the circuit */
	u64 started_ms, built_ms, deadline_ms;
	u32 lifetime;
	bool adopted;			/* found in the kernel at start */
	int pending_phase;		/* key-set due at key_due_ms, -1 none */
	u64 key_due_ms;
	u32 epoch;
	/* teardown: hops n-1 .. 0, one DESTROY each */
	int closing_hop;
	u64 destroy_nonce;
	struct maqd_want *want;		/* what it serves, or NULL */
	struct maqd_conn *waiter;	/* a CLI waiting for the build */
	struct maqd_live live;
};

/* A hop this host serves (relay or terminus), or one being set up. */
struct maqd_hop {
	struct maqd_hop *next;
	u32 id;				/* kernel id, 0 while pending */
	bool terminus;
	bool adopted;
	bool pending;			/* waiting for the next hop */
	struct maq_relay_setup r;	/* keys and chains: wiped on free */
	union maq_sockaddr prev;
	u32 prev_handle;		/* CREATE's handle from prev */
	u32 handle;			/* ours, to the next hop */
	u32 fcid, bcid;
	u64 deadline_ms;
	u64 created_ms;
	int phase;			/* last phase seen, for key-phase */
	int pending_phase;
	u64 key_due_ms;
	u32 epoch;
	bool any_token;			/* adopted terminus: token unknown */
	struct maqd_hop_live live;
};

/* A destination the daemon keeps a circuit to. */
struct maqd_want {
	struct maqd_want *next;
	char to[MAQ_IPC_MAX_VALUE + 1];
	unsigned int hops;
	unsigned int n_via;
	char via[MAQ_MAX_HOPS][MAQ_IPC_MAX_VALUE + 1];
	u32 lifetime;
	bool from_config;
	bool confirmed;			/* a circuit of it was up once */
	u64 retry_ms;			/* next build attempt */
	/* relays its replacement leaves out (liveness.c) */
	u8 exclude[2][MAQ_ID_PK_LEN];
	unsigned int n_exclude;
	/* alias.c's circuits: to names a relay, the terminus; no route */
	bool bare;
	bool hold;			/* kept up idle, keepalive or not */
	void *owner;			/* alias.c's, told of its circuits */
	/* relays never on its path, whatever (alias.c: intro points, RP) */
	const u8 (*shun)[MAQ_ID_PK_LEN];
	unsigned int n_shun;
};

/* --- the daemon ----------------------------------------------------------- */

struct maqd_conn;

struct maqd_stats {
	u64 gossip_sent, gossip_received, gossip_bad;
	u64 create_received, create_refused[MAQ_CREATE_N_ERRS];
	u64 create_replayed, create_no_capacity, create_route_taken;
	u64 relay_built, relay_failed, terminus_built;
	u64 origin_ok, origin_failed;
	u64 destroy_sent, destroy_received;
	u64 rotations, events_tamper, events_replay, events_expired;
	u64 ctl_bad;
	u64 events_lost;
	/* liveness.c */
	u64 live_pings, live_pongs, live_pongs_stale, live_answered;
	u64 live_probes, live_false_alarms, live_failed, live_replaced;
	u64 live_hops_silent, trust_blames, trust_avoided;
};

struct maqd {
	struct maq_config conf;
	struct maq_identity id;
	struct maq_onion_key onion[2];	/* current, previous */
	unsigned int n_onion;
	u64 onion_since;		/* wall time of onion[0] */

	struct maq_dp *dp;		/* the datapath: module or user */
	u32 ifindex;
	union maq_sockaddr listen;	/* the announced endpoint */
	u32 bandwidth_conf;		/* kB/s configured, no relay-rate */
	u64 next_rate_ms;		/* the datapath's limit read then */

	struct maq_view view;
	bool publish;			/* we have a descriptor */
	u8 desc[MAQ_DESC_LEN];
	u64 desc_published;

	int ctl_fd;
	struct maqd_conn *conns;

	struct maqd_origin *origins;
	struct maqd_hop *hops;
	struct maqd_want *wants;

	u64 next_gossip_ms;
	u64 started_ms;
	struct maqd_stats st;
	volatile int stop;
};

/* maquisd.c */
const char *maqd_id_hex(const u8 id[MAQ_ID_PK_LEN], char buf[17]);
const char *maqd_b64(const u8 *bin, size_t len, char *buf, size_t buflen);
int maqd_cell_send(struct maqd *d, const union maq_sockaddr *peer,
		   const u8 cell[MAQ_CELL_SIZE]);
u32 maqd_random_nonzero(void);

/* gossip.c */
void maqd_gossip_tick(struct maqd *d, u64 now_ms);
void maqd_gossip_rx(struct maqd *d, const union maq_sockaddr *peer,
		    const u8 cell[MAQ_CELL_SIZE]);
int maqd_publish(struct maqd *d);

/* circuits.c */
void maqd_create_rx(struct maqd *d, const union maq_sockaddr *peer,
		    u32 handle, const u8 cell[MAQ_CELL_SIZE]);
void maqd_created_rx(struct maqd *d, const union maq_sockaddr *peer,
		     u32 handle, const u8 cell[MAQ_CELL_SIZE]);
void maqd_hopctl_rx(struct maqd *d, const struct maq_event *ev);
void maqd_event_rx(struct maqd *d, const struct maq_event *ev);
void maqd_circuits_tick(struct maqd *d, u64 now_ms);
int maqd_reconcile(struct maqd *d);
void maqd_shutdown(struct maqd *d);
/* Start building to @w; @waiter gets the answer.  0 or -errno with @err. */
int maqd_build(struct maqd *d, struct maqd_want *w, struct maqd_conn *waiter,
	       char *err, size_t errlen);
int maqd_destroy(struct maqd *d, u32 id, char *err, size_t errlen);
struct maqd_want *maqd_want_add(struct maqd *d, const char *to,
				unsigned int hops, const char (*via)[MAQ_IPC_MAX_VALUE + 1],
				unsigned int n_via, u32 lifetime);
void maqd_conn_forget(struct maqd *d, struct maqd_conn *c);
const char *maqd_state_name(enum maqd_state s);
unsigned int maqd_n_origins(const struct maqd *d);
unsigned int maqd_n_hops(const struct maqd *d);

/* Exported for liveness.c: a hop control message, origin_close(), and a
 * served hop removed with DESTROYED sent back.
 */
void maqd_hopctl_send(struct maqd *d, u32 id, u8 hop, u8 type, u64 nonce);
void maqd_origin_close(struct maqd *d, struct maqd_origin *o, int from_hop);
void maqd_hop_remove(struct maqd *d, struct maqd_hop *h);

/* liveness.c (PROTOCOL 7.5, DESIGN "Liveness and local trust") */
void maqd_live_tick(struct maqd *d, u64 now_ms);
/* PING and PONG; false for any other type. */
bool maqd_live_hopctl(struct maqd *d, const struct maq_event *ev, u8 type,
		      u64 nonce);
void maqd_live_tamper(struct maqd *d, const struct maq_event *ev);
/* A setup failure naming hop @silent (1-based) as the one not answering. */
void maqd_live_setup_failed(struct maqd *d, const struct maqd_origin *o,
			    int silent);
/* Path selection for @w, leaving out the relays its last failure named. */
int maqd_live_path(struct maqd *d, struct maqd_want *w,
		   struct maq_path_req *req, const struct maq_relay **out,
		   char *err, size_t errlen);
/* @old is being replaced by @newer: the hop to tear down from (0-based). */
int maqd_live_replaced(struct maqd *d, struct maqd_origin *old,
		       const struct maqd_origin *newer);

/* dp.c: the datapath's lines of `maquis show` */
void maqd_dp_show(struct maqd *d, struct maq_ipc_out *o);

/* control.c */
int maqd_control_open(struct maqd *d);
void maqd_control_close(struct maqd *d);
int maqd_control_poll(struct maqd *d, struct pollfd *pfd, unsigned int max);
void maqd_control_ready(struct maqd *d, const struct pollfd *pfd,
			unsigned int n);
void maqd_control_tick(struct maqd *d, u64 now_ms);
/* Answer a CLI waiting on a build; closes and frees @c. */
void maqd_conn_reply(struct maqd *d, struct maqd_conn *c,
		     struct maq_ipc_out *o);

/* rtnl.c */
int maqd_link_ensure(const char *name, u32 *ifindex, char *err,
		     size_t errlen);
int maqd_addr_add(u32 ifindex, const struct maq_prefix *p);
int maqd_route(u32 ifindex, const struct maq_prefix *p, bool add);
/* An IPv6 /128 on the device, usable at once (no DAD); and a route with
 * an MTU (the end-to-end layer's overhead on alias routes).
 */
int maqd_addr6(u32 ifindex, const struct in6_addr *a, bool add);
int maqd_route_mtu(u32 ifindex, const struct maq_prefix *p, u32 mtu);

/* alias.c (PROTOCOL 9): aliases, their records, introduction, rendezvous */
bool maqd_alias_hopctl(struct maqd *d, const struct maq_event *ev);
bool maqd_alias_gossip_rx(struct maqd *d, const union maq_sockaddr *peer,
			  const u8 cell[MAQ_CELL_SIZE]);
/* An origin circuit of a bare want is about to be installed / is up /
 * goes away; a hop this host serves goes away.
 */
void maqd_alias_install(struct maqd *d, struct maqd_origin *o,
			struct maq_circuit *c);
void maqd_alias_up(struct maqd *d, struct maqd_origin *o);
void maqd_alias_gone(struct maqd *d, struct maqd_origin *o);
void maqd_alias_hop_gone(struct maqd *d, struct maqd_hop *h);
void maqd_alias_tick(struct maqd *d, u64 now_ms);
/* A random fd00::/8 /128: the route a circuit must carry (the module
 * wants one at both ends) where an alias circuit has none to claim.
 */
void maqd_alias_throwaway(struct maq_prefix *p);
void maqd_alias_shutdown(struct maqd *d);
/*
 * The CLI's alias-new, alias-publish, alias-list and a build to an alias:
 * 0 with @o filled, 1 when @c waits for the answer, -errno with @err.
 */
int maqd_alias_request(struct maqd *d, const struct maq_ipc_req *req,
		       struct maqd_conn *c, struct maq_ipc_out *o, char *err,
		       size_t errlen);
void maqd_alias_conn_forget(struct maqd *d, struct maqd_conn *c);

#endif /* _MAQUIS_DAEMON_MAQUISD_H */
