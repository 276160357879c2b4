/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Relay circuits in maquis.ko's table for xdp_rate --kfunc, over the
 * module's generic netlink family (daemon/nl.h), and the kernel's memory
 * counters around them.
 */
#ifndef _MAQ_BENCH_KMOD_CIRC_H
#define _MAQ_BENCH_KMOD_CIRC_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

struct kmod_env;

/*
 * Create the maquis device @ifname in this network namespace, bring it up,
 * open a netlink handle.  0, or -errno with the reason in @err.
 */
int kmod_open(struct kmod_env **kp, const char *ifname, char *err,
	      size_t errlen);
void kmod_close(struct kmod_env *k);
uint32_t kmod_ifindex(const struct kmod_env *k);

/*
 * Relay circuits with ids 1..n: forward cid cid_base + i in, from @prev,
 * out to @next; one forward key @key for all (the feeder's cells are sealed
 * under it), other keys and the counter deltas random.  0, or -errno with
 * the kernel's message in @err.
 */
int kmod_install(struct kmod_env *k, uint32_t n, uint32_t cid_base,
		 const uint8_t key[32], const struct sockaddr_in *next,
		 const struct sockaddr_in *prev, char *err, size_t errlen);
/* Delete circuits 1..n; 0 or -errno. */
int kmod_delete(struct kmod_env *k, uint32_t n, char *err, size_t errlen);
/* Circuits the device holds (dev-get), or -errno. */
long kmod_count(struct kmod_env *k);
/*
 * The device's cells relayed out and cells dropped for any reason, summed
 * since it was made (dev-get counters).  0 or -errno.
 */
int kmod_cells(struct kmod_env *k, uint64_t *out, uint64_t *dropped);

/* /proc/meminfo, in bytes. */
struct kmem {
	long long slab_unrecl, percpu, vmalloc, used;
};

/* used: MemTotal - MemFree - Buffers - Cached - SReclaimable, as free(1). */
int kmem_read(struct kmem *m);

#endif /* _MAQ_BENCH_KMOD_CIRC_H */
