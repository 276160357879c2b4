// SPDX-License-Identifier: GPL-2.0
/*
 * maquisd's datapath (dp.h): the module over generic netlink.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "maquisd.h"

struct maq_dp {
	enum maq_dp_kind kind;
	uint32_t ifindex;
	char ifname[16];
	char err[256];

	/* module */
	struct maq_nl *nl;		/* requests */
	struct maq_nl *ev;		/* subscribed to events */
};

const char *maq_dp_kind_name(enum maq_dp_kind k)
{
	static const char *const name[] = {
		[MAQ_DP_AUTO] = "auto",
		[MAQ_DP_MODULE] = "module",
		[MAQ_DP_USER] = "user",
	};

	return (unsigned int)k < 3 ? name[k] : "unknown";
}

const char *maq_dp_xdp_name(enum maq_dp_xdp x)
{
	static const char *const name[] = {
		[MAQ_DP_XDP_OFF] = "off",
		[MAQ_DP_XDP_AUTO] = "auto",
		[MAQ_DP_XDP_NATIVE] = "native",
		[MAQ_DP_XDP_GENERIC] = "generic",
	};

	return (unsigned int)x < 4 ? name[x] : "unknown";
}

enum maq_dp_kind maq_dp_kind(const struct maq_dp *dp)
{
	return dp->kind;
}

uint32_t maq_dp_ifindex(const struct maq_dp *dp)
{
	return dp->ifindex;
}

const char *maq_dp_errmsg(const struct maq_dp *dp)
{
	return dp->kind == MAQ_DP_MODULE ? maq_nl_errmsg(dp->nl) : dp->err;
}

bool maq_dp_xdp_info(const struct maq_dp *dp, struct maq_dp_xdp_info *xi)
{
	(void)dp;
	memset(xi, 0, sizeof(*xi));
	return false;
}

/* --- module ----------------------------------------------------------------- */

static int mod_open(struct maq_dp *dp, const struct maq_dp_opts *o,
		    char *err, size_t errlen)
{
	const union maq_sockaddr *l = &o->listen;
	struct maq_dev dev;
	u16 port = 0;
	int ret;

	ret = maq_nl_open(&dp->nl);
	if (!ret)
		ret = maq_nl_open(&dp->ev);
	if (ret) {
		snprintf(err, errlen, "generic netlink family maquis: %s%s",
			 strerror(-ret),
			 ret == -ENOENT ? " (is maquis.ko loaded?)" : "");
		return ret;
	}
	ret = maq_nl_subscribe(dp->ev);
	if (ret) {
		snprintf(err, errlen, "cannot subscribe to maquis events: %s",
			 strerror(-ret));
		return ret;
	}
	ret = maqd_link_ensure(o->ifname, &dp->ifindex, err, errlen);
	if (ret)
		return ret;
	ret = maq_nl_dev_get(dp->nl, dp->ifindex, &dev);
	if (ret) {
		snprintf(err, errlen, "%s is not a maquis device: %s%s%s",
			 o->ifname, strerror(-ret),
			 *maq_nl_errmsg(dp->nl) ? ": " : "",
			 maq_nl_errmsg(dp->nl));
		return ret;
	}
	if (l->sa.sa_family == AF_UNSPEC)
		return 0;
	port = ntohs(l->sa.sa_family == AF_INET ? l->in4.sin_port :
						  l->in6.sin6_port);
	ret = maq_nl_dev_set(dp->nl, dp->ifindex, port,
			     maq_addr_unspecified(l) ? NULL : l, 0);
	if (ret) {
		char a[64];

		snprintf(err, errlen, "cannot listen on %s: %s: %s",
			 maq_sockaddr_str(l, a, sizeof(a)), strerror(-ret),
			 maq_nl_errmsg(dp->nl));
		return ret;
	}
	return 0;
}

/* --- both ------------------------------------------------------------------- */

int maq_dp_open(struct maq_dp **dpp, const struct maq_dp_opts *o,
		char *err, size_t errlen)
{
	struct maq_dp *dp = calloc(1, sizeof(*dp));
	int ret;

	*err = 0;
	if (!dp) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(dp->ifname, sizeof(dp->ifname), "%s", o->ifname);
	dp->kind = MAQ_DP_MODULE;
	ret = mod_open(dp, o, err, errlen);
	if (ret) {
		maq_dp_close(dp);
		return ret;
	}
	*dpp = dp;
	return 0;
}

void maq_dp_close(struct maq_dp *dp)
{
	if (!dp)
		return;
	maq_nl_close(dp->ev);
	maq_nl_close(dp->nl);
	sodium_memzero(dp, sizeof(*dp));
	free(dp);
}

int maq_dp_poll(struct maq_dp *dp, struct pollfd *pfd, unsigned int max)
{
	if (!max)
		return 0;
	pfd[0] = (struct pollfd){ .fd = maq_nl_fd(dp->ev), .events = POLLIN };
	return 1;
}

void maq_dp_ready(struct maq_dp *dp, const struct pollfd *pfd,
		  unsigned int n)
{
	/* module: the events are read by maq_dp_event_recv() */
	(void)dp;
	(void)pfd;
	(void)n;
}

int maq_dp_event_recv(struct maq_dp *dp, struct maq_event *ev)
{
	return maq_nl_event_recv(dp->ev, ev, 0);
}

void maq_dp_tick(struct maq_dp *dp, uint64_t now_ms)
{
	(void)dp;
	(void)now_ms;
}

int maq_dp_circuit_new(struct maq_dp *dp, const struct maq_circuit *c)
{
	return maq_nl_circuit_new(dp->nl, c);
}

int maq_dp_circuit_del(struct maq_dp *dp, uint32_t id)
{
	return maq_nl_circuit_del(dp->nl, dp->ifindex, id);
}

int maq_dp_circuit_dump(struct maq_dp *dp, struct maq_circuit **cs,
			size_t *n)
{
	return maq_nl_circuit_dump(dp->nl, dp->ifindex, cs, n);
}

int maq_dp_key_set(struct maq_dp *dp, uint32_t id, uint8_t slot,
		   const struct maq_hop *hop)
{
	return maq_nl_key_set(dp->nl, dp->ifindex, id, slot, hop);
}

int maq_dp_ctl_send(struct maq_dp *dp, uint32_t id, uint8_t hop,
		    const uint8_t ctl[MAQUIS_CTL_LEN])
{
	return maq_nl_ctl_send(dp->nl, dp->ifindex, id, hop, ctl);
}

int maq_dp_cell_send(struct maq_dp *dp, const union maq_sockaddr *peer,
		     const uint8_t cell[MAQUIS_CELL_SIZE])
{
	return maq_nl_cell_send(dp->nl, dp->ifindex, peer, cell);
}
