/* SPDX-License-Identifier: GPL-2.0 */
/*
 * maquisd's datapath: where its circuits live and its cells come from
 * (docs/DESIGN.md, "The daemon" and "Endpoints without the module").  Two
 * back ends behind one set of calls, shaped after the "maquis" netlink
 * family (nl.h) so that the daemon's logic does not know which it drives:
 *
 *   module  maquis.ko over generic netlink: the module's device, circuits,
 *           events and cells; the XDP relay, when attached, is the kfunc
 *           variant and relays the module's circuits.
 *   user    no module: the userspace endpoint (endpoint.h: a TUN device
 *           with the device's name, UDP sockets on the port) carries origin
 *           and terminus circuits, link control cells and hop control; a
 *           relay hop goes into the pure XDP relay's pinned table
 *           (xdp.h), its control part into the endpoint.  What the module
 *           reports as events (key-phase, key-limit, tamper, replay,
 *           expired) is derived from the table's counters on each tick.
 *
 * Every function returns 0 (or a count) or -errno; maq_dp_errmsg() says
 * more after a failure when the back end said more.  Single-threaded.
 */
#ifndef _MAQUIS_DAEMON_DP_H
#define _MAQUIS_DAEMON_DP_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "nl.h"
#include "xdp.h"

enum maq_dp_kind {
	MAQ_DP_AUTO,		/* module when the "maquis" family resolves */
	MAQ_DP_MODULE,
	MAQ_DP_USER,
};

enum maq_dp_xdp {
	MAQ_DP_XDP_OFF,
	MAQ_DP_XDP_AUTO,	/* native, generic if the driver refuses */
	MAQ_DP_XDP_NATIVE,
	MAQ_DP_XDP_GENERIC,
};

struct maq_dp_opts {
	enum maq_dp_kind kind;
	const char *ifname;		/* the maquis device (module) or TUN */
	/* where cells are received; AF_UNSPEC or a zero port: any, default */
	union maq_sockaddr listen;
	bool relay;			/* this host relays others' circuits */
	enum maq_dp_xdp xdp;		/* for a relay */
	/* xdp was not configured: off in module mode (the module relays) */
	bool xdp_default;
	/* the underlay interface; "": the one holding the listen address */
	const char *xdp_ifname;
	const char *pin_root;		/* NULL: MAQ_XDP_PIN_ROOT */
	uint32_t epoch_secs;		/* user: an origin's phase; 0: 120 */
};

struct maq_dp;

/*
 * Set up the device (module: create it if missing, bring it up, set the
 * port and local address; user: the TUN device and the sockets) and, for
 * a relay with xdp not off, attach the XDP relay.  @err names what failed.
 * An XDP program that cannot be attached is not fatal in module mode (the
 * module relays) and is in user mode (nothing else would relay).
 */
int maq_dp_open(struct maq_dp **dpp, const struct maq_dp_opts *opts,
		char *err, size_t errlen);
/* Detaches the XDP program and removes its pins, closes the device (user:
 * it goes away) and the sockets.  Circuits still installed go with it in
 * user mode, stay in the module otherwise (the daemon deletes its own).
 */
void maq_dp_close(struct maq_dp *dp);

enum maq_dp_kind maq_dp_kind(const struct maq_dp *dp);
const char *maq_dp_kind_name(enum maq_dp_kind k);
const char *maq_dp_xdp_name(enum maq_dp_xdp x);
uint32_t maq_dp_ifindex(const struct maq_dp *dp);
/* The extended ack (module) or our reason of the last failure, or "". */
const char *maq_dp_errmsg(const struct maq_dp *dp);

/* The XDP relay: false when none is attached by us. */
struct maq_dp_xdp_info {
	char ifname[16];
	enum maq_xdp_variant variant;
	enum maq_xdp_mode mode;
	uint32_t prog_id;
};
bool maq_dp_xdp_info(const struct maq_dp *dp, struct maq_dp_xdp_info *xi);

/* --- the daemon's loop ---------------------------------------------------- */

/* The fds to poll for input (at most @max); returns how many. */
int maq_dp_poll(struct maq_dp *dp, struct pollfd *pfd, unsigned int max);
/* After poll(): move what is ready (user: cells and TUN packets). */
void maq_dp_ready(struct maq_dp *dp, const struct pollfd *pfd,
		  unsigned int n);
/*
 * The next notification, as the module sends them (nl.h): 1 with @ev
 * filled, 0 when there is none now, -ENOBUFS when some were lost (then
 * resynchronise with maq_dp_circuit_dump()).
 */
int maq_dp_event_recv(struct maq_dp *dp, struct maq_event *ev);
/* Timers: user mode reads the relay table's counters into events here,
 * expires relay hops and asks for neighbours the XDP program missed.
 */
void maq_dp_tick(struct maq_dp *dp, uint64_t now_ms);

/* --- circuits --------------------------------------------------------------- */

int maq_dp_circuit_new(struct maq_dp *dp, const struct maq_circuit *c);
int maq_dp_circuit_del(struct maq_dp *dp, uint32_t id);
/* Every circuit of the device; *cs is malloc()ed: wipe and free it. */
int maq_dp_circuit_dump(struct maq_dp *dp, struct maq_circuit **cs,
			size_t *n);
int maq_dp_key_set(struct maq_dp *dp, uint32_t id, uint8_t slot,
		   const struct maq_hop *hop);
int maq_dp_ctl_send(struct maq_dp *dp, uint32_t id, uint8_t hop,
		    const uint8_t ctl[MAQUIS_CTL_LEN]);
int maq_dp_cell_send(struct maq_dp *dp, const union maq_sockaddr *peer,
		     const uint8_t cell[MAQUIS_CELL_SIZE]);

#endif /* _MAQUIS_DAEMON_DP_H */
