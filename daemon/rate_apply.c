// SPDX-License-Identifier: GPL-2.0
/*
 * Setting the relay rate limit everywhere this host relays (rate.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rate.h"
#include "xdp.h"

int maq_rate_apply(struct maq_nl *nl, uint32_t ifindex, const char *pin_root,
		   uint64_t rate, uint32_t burst, char *err, size_t errlen)
{
	uint64_t xrate = rate;
	uint32_t xburst = burst;
	struct maq_dev dev;
	int ret;

	if (nl) {
		ret = maq_nl_dev_set_rate(nl, ifindex, rate, burst);
		if (ret) {
			snprintf(err, errlen, "device: %s%s%s", strerror(-ret),
				 *maq_nl_errmsg(nl) ? ": " : "",
				 maq_nl_errmsg(nl));
			return ret;
		}
		/* the XDP table takes the device's figures, whole */
		ret = maq_nl_dev_get(nl, ifindex, &dev);
		if (ret) {
			snprintf(err, errlen, "device: %s", strerror(-ret));
			return ret;
		}
		xrate = dev.relay_rate;
		xburst = dev.relay_burst;
	} else if (rate == MAQ_NL_RATE_KEEP || !burst) {
		uint64_t r;
		uint32_t b;

		ret = maq_xdp_rate_get(pin_root, &r, &b);
		if (ret == -ENOENT)
			return 0;
		if (ret) {
			snprintf(err, errlen, "XDP relay: %s", strerror(-ret));
			return ret;
		}
		if (rate == MAQ_NL_RATE_KEEP)
			xrate = r;
		if (!burst)
			xburst = b ? b : MAQ_RATE_DEFAULT_BURST;
	}
	ret = maq_xdp_rate_set(pin_root, xrate, xburst);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		snprintf(err, errlen, "XDP relay: %s", strerror(-ret));
	return ret;
}
