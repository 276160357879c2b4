/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace endpoint datapath for hosts without maquis.ko (docs/DESIGN.md,
 * "Endpoints without the module"): a TUN device standing in for maq0 and
 * UDP sockets on the maquis port, with the cell transform of layer.h over
 * libsodium.  It originates and terminates circuits; relaying is left to
 * the module or the XDP program.  The wire format is the module's, cell for
 * cell (kmod/cell.c), so either end may be the module.
 *
 * A circuit is described by the struct maq_circuit that circuit-new takes
 * (nl.h): role MAQUIS_ROLE_ORIGIN or MAQUIS_ROLE_TERMINUS, keys in slot 0,
 * bases in hops[].fwd_seq/back_seq, routes for what enters the TUN.
 * Role MAQUIS_ROLE_RELAY is a relay's control only (its control keys, no
 * data keys needed): the XDP relay moves its cells and passes up those
 * addressed to the hop, which reach the ctl hook (hop 0) here, and
 * maq_ep_send_ctl() sends control back to the origin as the module's relay
 * does.  Data cells of a relay that reach the endpoint are dropped.
 *
 * One struct maq_ep is one TUN device and its sockets, driven by the
 * caller's loop:
 *
 *	maq_ep_open(&ep, "maq0", &opts);
 *	maq_ep_add_circuit(ep, &circuit);
 *	for (;;)
 *		maq_ep_run_once(ep, 1000);
 *	maq_ep_close(ep);
 *
 * Single-threaded; every function returns 0 (or a count) or -errno.
 */
#ifndef _MAQUIS_DAEMON_ENDPOINT_H
#define _MAQUIS_DAEMON_ENDPOINT_H

#include <stdint.h>

#include "nl.h"

struct maq_ep;

/*
 * Called from maq_ep_run_once() (events also from maq_ep_send_ctl()) in
 * the middle of a cell, with its circuit and the scratch buffers in use:
 * they must not call back into the endpoint.  Copy what is needed, act
 * after the call returns.
 */
struct maq_ep_hooks {
	/* A link control cell (cid 0), for the daemon (PROTOCOL 7). */
	void (*link)(void *arg, const union maq_sockaddr *from,
		     const uint8_t cell[MAQUIS_CELL_SIZE]);
	/*
	 * Control for this host: @hop is the creating hop's index for one
	 * opened at the origin, 0 for one addressed to this terminus by its
	 * control key, -1 for end-to-end control and keepalive (inner types
	 * 2 and 3, the inner header first).
	 */
	void (*ctl)(void *arg, uint32_t id, int hop,
		    const uint8_t msg[MAQUIS_CTL_LEN]);
	/* What the module reports as event-ntf (enum maquis_event). */
	void (*event)(void *arg, uint32_t id, int event, int dir, int phase,
		      int hop, uint64_t count);
	void *arg;
};

struct maq_ep_opts {
	uint16_t port;			/* host order; 0: MAQ_DEFAULT_PORT */
	/* an origin's key phase lasts at most this long (the module's
	 * epoch_secs); 0: 120
	 */
	uint32_t epoch_secs;
	struct maq_ep_hooks hooks;
};

/*
 * Create the TUN device @ifname (IFF_TUN | IFF_NO_PI, MTU MAQ_INNER_MTU,
 * set up; addresses and routes to it are the caller's business), bind UDP
 * sockets on the port for IPv4 and IPv6 (v6only), both in the caller's
 * network namespace.  The device goes when the endpoint is closed.
 */
int maq_ep_open(struct maq_ep **epp, const char *ifname,
		const struct maq_ep_opts *opts);
/* Wipes every key, closes the device and the sockets. */
void maq_ep_close(struct maq_ep *ep);

int maq_ep_ifindex(const struct maq_ep *ep);

/* Copies what it needs; the caller wipes @c (maq_circuit_wipe()). */
int maq_ep_add_circuit(struct maq_ep *ep, const struct maq_circuit *c);
int maq_ep_del_circuit(struct maq_ep *ep, uint32_t id);
/* key-set: install the keys @hop carries (has bits) into @slot of hop
 * @hop->index; control keys replace the one control slot.
 */
int maq_ep_key_set(struct maq_ep *ep, uint32_t id, int slot,
		   const struct maq_hop *hop);

/*
 * Wait up to @timeout_ms (-1: forever) for the TUN device or a socket,
 * then move what is ready, a bounded batch from each, and expire circuits.
 * Returns how many packets and cells it handled.  -EINTR when a signal
 * came, which is not an error.
 */
int maq_ep_run_once(struct maq_ep *ep, int timeout_ms);

/* The fds it polls, for callers with a loop of their own (then call
 * maq_ep_run_once(ep, 0) when one is readable).  Returns how many.
 */
int maq_ep_fds(const struct maq_ep *ep, int fds[3]);

/* Control out: to hop @hop (origin) or back to the origin (terminus). */
int maq_ep_send_ctl(struct maq_ep *ep, uint32_t id, int hop,
		    const uint8_t msg[MAQUIS_CTL_LEN]);
/* The phase a relay's control goes back in: the one its forward cells
 * last used (the daemon reads it from the XDP relay's counters).
 */
int maq_ep_relay_phase(struct maq_ep *ep, uint32_t id, int phase);
/* A link control cell as it is. */
int maq_ep_send_link(struct maq_ep *ep, const union maq_sockaddr *peer,
		     const uint8_t cell[MAQUIS_CELL_SIZE]);

/*
 * Counters, with the module's names and meaning (struct maq_stats, every
 * MAQUIS_A_STATS_* present): id 0 is the device, else one circuit.  @cover
 * (may be NULL) gets the cover cells (inner type 0) that were counted in
 * cells-in and dropped.
 */
int maq_ep_stats(const struct maq_ep *ep, uint32_t id, struct maq_stats *st,
		 uint64_t *cover);
int maq_ep_stats_reset(struct maq_ep *ep, uint32_t id);

#endif /* _MAQUIS_DAEMON_ENDPOINT_H */
