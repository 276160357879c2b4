/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What an operator gives as a relay: the relay rate limit, in bytes/s of
 * relayed cells (each cell counts MAQ_CELL_SIZE bytes, both directions
 * together), and its burst in bytes.  The module enforces it per device
 * (dev-set relay-rate, relay-burst; kmod/rate.c), the pure XDP relay per
 * host (xdp.h, maq_xdp_rate_set()).  docs/DESIGN.md, "Rate limits".
 */
#ifndef _MAQUIS_DAEMON_RATE_H
#define _MAQUIS_DAEMON_RATE_H

#include <stddef.h>
#include <stdint.h>

#include "nl.h"

/* The module's default burst for a new device: 64 cells. */
#define MAQ_RATE_DEFAULT_BURST	(64 * MAQUIS_CELL_SIZE)

/*
 * "0", "125000", "10M", "1.5G", "80Mbit", "2.5Gbit": bytes/s with an
 * optional SI multiplier (k, M, G: powers of 1000) and an optional "B" or
 * "bit" unit (bits are divided by 8, rounding down).  0 is unlimited.
 * -EINVAL when it is not such a figure, -ERANGE above MAQUIS_MAX_RELAY_RATE.
 */
int maq_rate_parse(const char *s, uint64_t *bytes_per_s);
/* A burst: bytes with an optional k, M, G (powers of 1000) or B, from
 * MAQUIS_CELL_SIZE to MAQUIS_MAX_RELAY_BURST (-ERANGE outside).
 */
int maq_burst_parse(const char *s, uint32_t *bytes);
/* What is wrong with a figure the parsers refused with @err. */
const char *maq_rate_why(int err);
const char *maq_burst_why(int err);
/* "10 MB/s (80 Mbit/s)", "unlimited". */
const char *maq_rate_str(uint64_t bytes_per_s, char *buf, size_t len);

/*
 * rate_apply.c, apart so that the parsers pull in neither libnl nor libbpf.
 * One source of truth: set the limit everywhere this host relays, the
 * module's device @ifindex through @nl (when @nl is not NULL) and the pure
 * XDP relay pinned under @pin_root (when there is one; NULL: the default
 * root).  @rate MAQ_NL_RATE_KEEP or @burst 0 leave that part as it is (the
 * XDP table then takes the module's figure, or, without a module, its own).
 * 0 or -errno, with what failed in @err.
 */
int maq_rate_apply(struct maq_nl *nl, uint32_t ifindex, const char *pin_root,
		   uint64_t rate, uint32_t burst, char *err, size_t errlen);

#endif /* _MAQUIS_DAEMON_RATE_H */
