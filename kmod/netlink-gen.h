/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	include/maquis.yaml */
/* YNL-GEN kernel header */

#ifndef _LINUX_MAQUIS_GEN_H
#define _LINUX_MAQUIS_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <linux/maquis.h>

/* Common nested types */
extern const struct nla_policy maquis_addr_nl_policy[MAQUIS_A_ADDR_PORT + 1];
extern const struct nla_policy maquis_hop_nl_policy[MAQUIS_A_HOP_BACK_SEQ + 1];
extern const struct nla_policy maquis_prefix_nl_policy[MAQUIS_A_PREFIX_LEN + 1];

int maquis_nl_dev_get_doit(struct sk_buff *skb, struct genl_info *info);
int maquis_nl_dev_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int maquis_nl_dev_set_doit(struct sk_buff *skb, struct genl_info *info);
int maquis_nl_circuit_new_doit(struct sk_buff *skb, struct genl_info *info);
int maquis_nl_circuit_del_doit(struct sk_buff *skb, struct genl_info *info);
int maquis_nl_circuit_get_doit(struct sk_buff *skb, struct genl_info *info);
int maquis_nl_circuit_get_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb);
int maquis_nl_key_set_doit(struct sk_buff *skb, struct genl_info *info);
int maquis_nl_stats_reset_doit(struct sk_buff *skb, struct genl_info *info);
int maquis_nl_cell_send_doit(struct sk_buff *skb, struct genl_info *info);
int maquis_nl_ctl_send_doit(struct sk_buff *skb, struct genl_info *info);
int maquis_nl_circuit_join_doit(struct sk_buff *skb, struct genl_info *info);

enum {
	MAQUIS_NLGRP_EVENTS,
};

extern struct genl_family maquis_nl_family;

#endif /* _LINUX_MAQUIS_GEN_H */
