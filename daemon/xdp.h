/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Loader for the XDP relay, in one of two variants (docs/DESIGN.md, "One
 * source of truth for circuit state"):
 *
 *   pure   bpf/relay.bpf.c, for hosts without maquis.ko: the daemon (and
 *          `maquis xdp ...`) installs each hop into a pinned map, from the
 *          same struct maq_circuit a module relay gets over netlink.
 *   kfunc  bpf/relay_kfunc.bpf.c, when maquis.ko is loaded: the relay step
 *          is the module's (its kfuncs, its circuit table), so hops are
 *          installed over netlink only and nothing here holds circuits.
 *
 * Debian 12's libbpf (1.1) cannot load an object whose kfunc externs are
 * missing, even weak ones, so the variant is decided before opening: auto
 * takes kfunc when maq_xdp_kfunc_probe() finds both kfuncs in the module's
 * BTF, pure otherwise.
 *
 * Pinned layout under a root (default MAQ_XDP_PIN_ROOT):
 *
 *   <root>/maq_circuits         the hop table, one for the host (pure)
 *   <root>/maq_rate             the relay rate limit, one for the host (pure)
 *   <root>/maq_tx_ports         egress devmap, one for the host
 *   <root>/<ifname>/maq_config  what that interface's program is told
 *   <root>/<ifname>/maq_stats   its per-CPU counters
 *
 * bpffs takes no dot in a name: one in <ifname> (eth0.100) is a colon
 * there, and the root must not have one.
 * The hop table is shared by every interface because cids are unique per
 * host (bpf/maquis_common.h): a forward cell must meet one replay window,
 * whichever NIC it arrives on, or it could be replayed once per NIC.
 * bpffs belongs to the mount namespace, not the network namespace: hosts
 * simulated in network namespaces of one machine need one root each.
 *
 * Every function returns 0 (or a count) or -errno.  Not thread-safe.
 */
#ifndef _MAQUIS_DAEMON_XDP_H
#define _MAQUIS_DAEMON_XDP_H

#include <stdbool.h>
#include <stdint.h>

#include "nl.h"

#include "../bpf/maquis_common.h"

#define MAQ_XDP_PIN_ROOT	"/sys/fs/bpf/maquis"
/* Where a loaded maquis.ko publishes its BTF, kfuncs included. */
#define MAQ_XDP_KFUNC_BTF	"/sys/kernel/btf/maquis"

enum maq_xdp_mode {
	MAQ_XDP_MODE_AUTO,		/* native, generic if the driver refuses */
	MAQ_XDP_MODE_NATIVE,		/* XDP_FLAGS_DRV_MODE */
	MAQ_XDP_MODE_GENERIC,	/* XDP_FLAGS_SKB_MODE */
};

enum maq_xdp_variant {
	MAQ_XDP_VARIANT_AUTO,	/* kfunc if maq_xdp_kfunc_probe() says so */
	MAQ_XDP_VARIANT_PURE,	/* maq_relay: pure BPF, pinned hop table */
	MAQ_XDP_VARIANT_KFUNC,	/* maq_relay_kfunc: the module's circuits */
};

struct maq_xdp_opts {
	const char *pin_root;	/* NULL: MAQ_XDP_PIN_ROOT */
	uint16_t port;		/* host order; 0: MAQ_DEFAULT_PORT */
	/*
	 * Device bpf_fib_lookup() asks from: 0 is lo (the default, and then
	 * net.ipv{4,6}.conf.lo.forwarding are set to 1 in the caller's
	 * network namespace), MAQ_XDP_FIB_INGRESS the receiving device (its
	 * forwarding must be on, which routes transit traffic too).
	 */
	uint32_t fib_ifindex;
	uint32_t max_circuits;	/* pure; 0: MAQ_XDP_MAX_CIRCUITS */
	enum maq_xdp_mode mode;
	enum maq_xdp_variant variant;
	/*
	 * kfunc: the maquis device whose circuits the program relays, in the
	 * caller's namespace, its socket bound to @port; NULL: "maq0".
	 */
	const char *maq_dev;
	/* BTF the probe reads; NULL: MAQ_XDP_KFUNC_BTF (tests point elsewhere) */
	const char *kfunc_btf;
};

#define MAQ_XDP_FIB_INGRESS	UINT32_MAX

struct maq_xdp;

/*
 * 1 when the split BTF at @btf_path (NULL: MAQ_XDP_KFUNC_BTF), read on top
 * of the kernel's, has FUNCs bpf_maquis_xdp_lookup and bpf_maquis_xdp_relay
 * (include/maquis/xdp.h); 0 when either is missing or the file does not
 * exist (no module loaded); -errno when it cannot be read or parsed.
 */
int maq_xdp_kfunc_probe(const char *btf_path);

/*
 * Choose the variant (opts->variant, auto: probe), open its skeleton,
 * reuse or create the pinned maps, write the config, load, and attach to
 * @ifname (in the caller's network namespace).  Errors: -ENOENT for a
 * forced kfunc variant without the module's kfuncs, -ENODEV when the
 * kfunc variant's maquis device does not exist, -EMEDIUMTYPE when the
 * root is not on bpffs (in `ip netns exec`, whose fresh /sys hides
 * /sys/fs/bpf: enter the namespace with setns instead).
 * A maquis relay program already on the interface (maq_relay, or
 * maq_relay_kfunc) is replaced, whichever variant it is.  When the
 * interface's program is libxdp's dispatcher (somebody else's programs
 * attached through libxdp), the relay joins it as one more program, in
 * the dispatcher's mode (-EBUSY if @opts asks for the other), replacing a
 * relay of ours in it; XDP_PASS, what the relay returns for anything not
 * its own, goes on to the next program; -ENOEXEC when the kernel refuses
 * it there (a dispatcher whose slots do not say they may change packet
 * data, as libxdp's before mid-2025, on a kernel since 6.13 or 6.12.y).
 * Any other XDP program, or any without libxdp (maq_xdp_libxdp()), is
 * left alone (-EBUSY).  The program
 * stays attached and the maps pinned after maq_xdp_close(): a restarted
 * daemon finds its hops again.
 */
int maq_xdp_open(const char *ifname, const struct maq_xdp_opts *opts,
		 struct maq_xdp **xp);
/*
 * A handle on what an earlier maq_xdp_open() left pinned for @ifname,
 * without loading or attaching anything: for stats and for installing
 * hops from another process.  -ENOENT when nothing is pinned.
 */
int maq_xdp_open_pinned(const char *ifname, const char *pin_root,
			struct maq_xdp **xp);
/* Releases our handles only. */
void maq_xdp_close(struct maq_xdp *x);

/* MAQ_XDP_MODE_NATIVE or MAQ_XDP_MODE_GENERIC: how it is attached. */
enum maq_xdp_mode maq_xdp_mode(const struct maq_xdp *x);
const char *maq_xdp_mode_name(enum maq_xdp_mode mode);
/* MAQ_XDP_VARIANT_PURE or MAQ_XDP_VARIANT_KFUNC. */
enum maq_xdp_variant maq_xdp_variant(const struct maq_xdp *x);
const char *maq_xdp_variant_name(enum maq_xdp_variant v);
uint32_t maq_xdp_prog_id(const struct maq_xdp *x);
/*
 * The libxdp dispatcher the relay runs in, asked anew (libxdp replaces the
 * dispatcher whenever a program joins or leaves); 0: attached alone.
 */
uint32_t maq_xdp_dispatcher_id(const struct maq_xdp *x);
/*
 * Whether libxdp can be used here: built with it (MAQ_HAVE_LIBXDP) and
 * libxdp.so.1 loadable.
 */
bool maq_xdp_libxdp(void);

/*
 * What is on @ifname now, read back from the kernel (bpf_xdp_query() and
 * the program's name) and the pins, for `maquis show`: needs no handle.
 */
struct maq_xdp_status {
	uint32_t prog_id;		/* a maquis relay's; 0: none attached */
	enum maq_xdp_variant variant;	/* PURE or KFUNC (AUTO: none) */
	/* NATIVE or GENERIC (AUTO: nothing attached): how the interface's
	 * program is attached, the relay's or its dispatcher's
	 */
	enum maq_xdp_mode mode;
	uint32_t dev_ifindex;		/* kfunc: the maquis device served */
	uint32_t other_prog_id;		/* somebody else's, no relay of ours in it */
	/* the interface's program is libxdp's dispatcher (the relay may be
	 * one of its programs), with @shared_with programs of others
	 */
	uint32_t dispatcher_id;
	int shared_with;
	bool pinned;			/* <root>/<ifname>/maq_stats exists */
};
int maq_xdp_status(const char *ifname, const char *pin_root,
		   struct maq_xdp_status *st);

/*
 * A relay's part of a circuit (role MAQUIS_ROLE_RELAY, hops[0] with the
 * forward and backward keys in its has bits) becomes two entries:
 *
 *   fwd_cid_in  -> verify and strip, to fwd_cid_out at next,
 *                  delta hops[0].fwd_seq, key slot 0 fwd_key (and the
 *                  forward control key when present)
 *   back_cid_in -> wrap, to back_cid_out at prev,
 *                  delta hops[0].back_seq, key slot 0 back_key
 *
 * Addresses without a port get the configured port.  -EEXIST when either
 * cid is taken (nothing is changed then).  The neighbours of next and prev
 * are resolved on the way (see maq_xdp_prime()).
 *
 * The hop functions below work on the pure variant's table; with the kfunc
 * variant the circuits are the module's (install them over netlink and call
 * maq_xdp_prime() for next and prev) and they return -EOPNOTSUPP.
 */
int maq_xdp_hop_add(struct maq_xdp *x, const struct maq_circuit *c);
/* Removes both entries; -ENOENT if neither existed. */
int maq_xdp_hop_del(struct maq_xdp *x, const struct maq_circuit *c);
/* Key rotation: install @key into @slot (0/1) of the entry for @cid_in,
 * keeping its replay window.
 */
int maq_xdp_key_set(struct maq_xdp *x, uint32_t cid_in, int slot,
		    const uint8_t key[MAQ_KEY_LEN]);

/* One entry's counters and window position (no keys). */
struct maq_xdp_hop_stats {
	uint8_t dir;		/* enum maquis_dir */
	uint32_t cid_out;
	uint64_t cells, bytes, bad_tag, replay;
	uint64_t slot_cells[2];
	uint64_t replay_next;
	uint64_t last_ns;
};
int maq_xdp_hop_stats(struct maq_xdp *x, uint32_t cid_in,
		      struct maq_xdp_hop_stats *st);
/* cids of every entry in the table; returns how many (at most @max). */
int maq_xdp_hop_list(struct maq_xdp *x, uint32_t *cids, int max);

/*
 * This interface's counters (enum maq_xdp_stat), summed over CPUs, from the
 * handle's map or, without a handle (`maquis stats`), from the pin.
 * Either variant.
 */
int maq_xdp_stats(struct maq_xdp *x, uint64_t val[MAQ_STAT_MAX]);
int maq_xdp_stats_pinned(const char *ifname, const char *pin_root,
			 uint64_t val[MAQ_STAT_MAX]);
/* "unknown-cid", ..., "cells-in", ...; NULL out of range. */
const char *maq_xdp_stat_name(int stat);

/*
 * The pure variant's relay rate limit (struct maq_xdp_rate), shared by every
 * interface under @pin_root (NULL: MAQ_XDP_PIN_ROOT): @rate bytes/s of
 * relayed cells (0: unlimited), @burst bytes; setting refills the bucket.
 * A fresh table relays unlimited.  The kfunc variant has none: the module's
 * device limit (dev-set relay-rate) applies to what it relays.  Whoever sets
 * the device's limit sets this one too (rate.h, maq_rate_apply()).
 * -ENOENT when no pure relay is pinned there, -ERANGE for figures the
 * module would refuse too.
 */
int maq_xdp_rate_set(const char *pin_root, uint64_t rate, uint32_t burst);
int maq_xdp_rate_get(const char *pin_root, uint64_t *rate, uint32_t *burst);

/*
 * The XDP program forwards only to neighbours the kernel already knows
 * (bpf_fib_lookup() fails otherwise and the cell goes to the stack, where
 * without the module nobody listens).  This asks the kernel to resolve the
 * neighbour @to is reached through (RTM_NEWNEIGH with NTF_USE), as a send
 * from a socket would; an entry set by hand (permanent, noarp) is left
 * alone.  Asynchronous: returns once the request is accepted, and the
 * answer fills the entry later.
 */
int maq_xdp_prime(const union maq_sockaddr *to);
/*
 * maq_xdp_prime() for the next hop of every entry in the (pure) table, once
 * each: for the daemon to call when the no_route counter moves (an entry
 * that failed, a neighbour that changed its address).  Returns how many
 * were asked for, or the first error.
 */
int maq_xdp_prime_all(struct maq_xdp *x);

/*
 * Detach the program from the interface (if it is a maquis relay, or take
 * ours out of libxdp's dispatcher, leaving the others' programs running)
 * and unpin that interface's maps; the shared maps go with the last
 * interface.
 * maq_xdp_detach_ifname() does the same without an open handle, for
 * `maquis xdp detach`, and also cleans up after an interface that is gone.
 * The handle is closed either way.
 */
int maq_xdp_detach(struct maq_xdp *x);
int maq_xdp_detach_ifname(const char *ifname, const char *pin_root);

#endif /* _MAQUIS_DAEMON_XDP_H */
