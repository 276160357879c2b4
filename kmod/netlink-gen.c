// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	include/maquis.yaml */
/* YNL-GEN kernel source */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "netlink-gen.h"

#include <linux/maquis.h>

/* Integer value ranges */
static const struct netlink_range_validation maquis_a_max_circuits_range = {
	.min	= 1ULL,
	.max	= 4194304ULL,
};

static const struct netlink_range_validation maquis_a_lifetime_range = {
	.min	= 1ULL,
	.max	= MAQUIS_MAX_LIFETIME,
};

static const struct netlink_range_validation maquis_a_relay_rate_range = {
	.max	= MAQUIS_MAX_RELAY_RATE,
};

static const struct netlink_range_validation maquis_a_relay_burst_range = {
	.min	= MAQUIS_CELL_SIZE,
	.max	= MAQUIS_MAX_RELAY_BURST,
};

/* Common nested types */
const struct nla_policy maquis_addr_nl_policy[MAQUIS_A_ADDR_PORT + 1] = {
	[MAQUIS_A_ADDR_IPV4] = { .type = NLA_U32, },
	[MAQUIS_A_ADDR_IPV6] = NLA_POLICY_EXACT_LEN(16),
	[MAQUIS_A_ADDR_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
};

const struct nla_policy maquis_hop_nl_policy[MAQUIS_A_HOP_BACK_SEQ + 1] = {
	[MAQUIS_A_HOP_INDEX] = NLA_POLICY_MAX(NLA_U8, 7),
	[MAQUIS_A_HOP_FWD_KEY] = NLA_POLICY_EXACT_LEN(MAQUIS_KEY_LEN),
	[MAQUIS_A_HOP_BACK_KEY] = NLA_POLICY_EXACT_LEN(MAQUIS_KEY_LEN),
	[MAQUIS_A_HOP_FWD_CTL_KEY] = NLA_POLICY_EXACT_LEN(MAQUIS_KEY_LEN),
	[MAQUIS_A_HOP_BACK_CTL_KEY] = NLA_POLICY_EXACT_LEN(MAQUIS_KEY_LEN),
	[MAQUIS_A_HOP_FWD_SEQ] = { .type = NLA_U64, },
	[MAQUIS_A_HOP_BACK_SEQ] = { .type = NLA_U64, },
};

const struct nla_policy maquis_prefix_nl_policy[MAQUIS_A_PREFIX_LEN + 1] = {
	[MAQUIS_A_PREFIX_IPV4] = { .type = NLA_U32, },
	[MAQUIS_A_PREFIX_IPV6] = NLA_POLICY_EXACT_LEN(16),
	[MAQUIS_A_PREFIX_LEN] = NLA_POLICY_MAX(NLA_U8, 128),
};

/* MAQUIS_CMD_DEV_GET - do */
static const struct nla_policy maquis_dev_get_nl_policy[MAQUIS_A_IFINDEX + 1] = {
	[MAQUIS_A_IFINDEX] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* MAQUIS_CMD_DEV_SET - do */
static const struct nla_policy maquis_dev_set_nl_policy[MAQUIS_A_RELAY_BURST + 1] = {
	[MAQUIS_A_IFINDEX] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[MAQUIS_A_LOCAL] = NLA_POLICY_NESTED(maquis_addr_nl_policy),
	[MAQUIS_A_MAX_CIRCUITS] = NLA_POLICY_FULL_RANGE(NLA_U32, &maquis_a_max_circuits_range),
	[MAQUIS_A_RELAY_RATE] = NLA_POLICY_FULL_RANGE(NLA_U64, &maquis_a_relay_rate_range),
	[MAQUIS_A_RELAY_BURST] = NLA_POLICY_FULL_RANGE(NLA_U32, &maquis_a_relay_burst_range),
};

/* MAQUIS_CMD_CIRCUIT_NEW - do */
static const struct nla_policy maquis_circuit_new_nl_policy[MAQUIS_A_E2E_KEY + 1] = {
	[MAQUIS_A_IFINDEX] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_ROLE] = NLA_POLICY_MAX(NLA_U8, 2),
	[MAQUIS_A_FWD_CID_IN] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_FWD_CID_OUT] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_BACK_CID_IN] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_BACK_CID_OUT] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_NEXT] = NLA_POLICY_NESTED(maquis_addr_nl_policy),
	[MAQUIS_A_PREV] = NLA_POLICY_NESTED(maquis_addr_nl_policy),
	[MAQUIS_A_LIFETIME] = NLA_POLICY_FULL_RANGE(NLA_U32, &maquis_a_lifetime_range),
	[MAQUIS_A_HOP] = NLA_POLICY_NESTED(maquis_hop_nl_policy),
	[MAQUIS_A_ROUTE] = NLA_POLICY_NESTED(maquis_prefix_nl_policy),
	[MAQUIS_A_E2E_KEY] = NLA_POLICY_EXACT_LEN(MAQUIS_E2E_KEY_LEN),
};

/* MAQUIS_CMD_CIRCUIT_DEL - do */
static const struct nla_policy maquis_circuit_del_nl_policy[MAQUIS_A_ID + 1] = {
	[MAQUIS_A_IFINDEX] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_ID] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* MAQUIS_CMD_CIRCUIT_GET - do */
static const struct nla_policy maquis_circuit_get_do_nl_policy[MAQUIS_A_ID + 1] = {
	[MAQUIS_A_IFINDEX] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_ID] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* MAQUIS_CMD_CIRCUIT_GET - dump */
static const struct nla_policy maquis_circuit_get_dump_nl_policy[MAQUIS_A_IFINDEX + 1] = {
	[MAQUIS_A_IFINDEX] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* MAQUIS_CMD_KEY_SET - do */
static const struct nla_policy maquis_key_set_nl_policy[MAQUIS_A_SLOT + 1] = {
	[MAQUIS_A_IFINDEX] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_HOP] = NLA_POLICY_NESTED(maquis_hop_nl_policy),
	[MAQUIS_A_SLOT] = NLA_POLICY_MAX(NLA_U8, 1),
};

/* MAQUIS_CMD_STATS_RESET - do */
static const struct nla_policy maquis_stats_reset_nl_policy[MAQUIS_A_ID + 1] = {
	[MAQUIS_A_IFINDEX] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_ID] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* MAQUIS_CMD_CELL_SEND - do */
static const struct nla_policy maquis_cell_send_nl_policy[MAQUIS_A_CELL + 1] = {
	[MAQUIS_A_IFINDEX] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_PEER] = NLA_POLICY_NESTED(maquis_addr_nl_policy),
	[MAQUIS_A_CELL] = NLA_POLICY_EXACT_LEN(MAQUIS_CELL_SIZE),
};

/* MAQUIS_CMD_CTL_SEND - do */
static const struct nla_policy maquis_ctl_send_nl_policy[MAQUIS_A_CTL + 1] = {
	[MAQUIS_A_IFINDEX] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_HOP] = NLA_POLICY_NESTED(maquis_hop_nl_policy),
	[MAQUIS_A_CTL] = NLA_POLICY_EXACT_LEN(MAQUIS_CTL_LEN),
};

/* MAQUIS_CMD_CIRCUIT_JOIN - do */
static const struct nla_policy maquis_circuit_join_nl_policy[MAQUIS_A_JOIN + 1] = {
	[MAQUIS_A_IFINDEX] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[MAQUIS_A_JOIN] = { .type = NLA_U32, },
};

/* Ops table for maquis */
static const struct genl_split_ops maquis_nl_ops[] = {
	{
		.cmd		= MAQUIS_CMD_DEV_GET,
		.doit		= maquis_nl_dev_get_doit,
		.policy		= maquis_dev_get_nl_policy,
		.maxattr	= MAQUIS_A_IFINDEX,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= MAQUIS_CMD_DEV_GET,
		.dumpit	= maquis_nl_dev_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= MAQUIS_CMD_DEV_SET,
		.doit		= maquis_nl_dev_set_doit,
		.policy		= maquis_dev_set_nl_policy,
		.maxattr	= MAQUIS_A_RELAY_BURST,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= MAQUIS_CMD_CIRCUIT_NEW,
		.doit		= maquis_nl_circuit_new_doit,
		.policy		= maquis_circuit_new_nl_policy,
		.maxattr	= MAQUIS_A_E2E_KEY,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= MAQUIS_CMD_CIRCUIT_DEL,
		.doit		= maquis_nl_circuit_del_doit,
		.policy		= maquis_circuit_del_nl_policy,
		.maxattr	= MAQUIS_A_ID,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= MAQUIS_CMD_CIRCUIT_GET,
		.doit		= maquis_nl_circuit_get_doit,
		.policy		= maquis_circuit_get_do_nl_policy,
		.maxattr	= MAQUIS_A_ID,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= MAQUIS_CMD_CIRCUIT_GET,
		.dumpit		= maquis_nl_circuit_get_dumpit,
		.policy		= maquis_circuit_get_dump_nl_policy,
		.maxattr	= MAQUIS_A_IFINDEX,
		.flags		= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= MAQUIS_CMD_KEY_SET,
		.doit		= maquis_nl_key_set_doit,
		.policy		= maquis_key_set_nl_policy,
		.maxattr	= MAQUIS_A_SLOT,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= MAQUIS_CMD_STATS_RESET,
		.doit		= maquis_nl_stats_reset_doit,
		.policy		= maquis_stats_reset_nl_policy,
		.maxattr	= MAQUIS_A_ID,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= MAQUIS_CMD_CELL_SEND,
		.doit		= maquis_nl_cell_send_doit,
		.policy		= maquis_cell_send_nl_policy,
		.maxattr	= MAQUIS_A_CELL,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= MAQUIS_CMD_CTL_SEND,
		.doit		= maquis_nl_ctl_send_doit,
		.policy		= maquis_ctl_send_nl_policy,
		.maxattr	= MAQUIS_A_CTL,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= MAQUIS_CMD_CIRCUIT_JOIN,
		.doit		= maquis_nl_circuit_join_doit,
		.policy		= maquis_circuit_join_nl_policy,
		.maxattr	= MAQUIS_A_JOIN,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
};

static const struct genl_multicast_group maquis_nl_mcgrps[] = {
	[MAQUIS_NLGRP_EVENTS] = { "events", },
};

struct genl_family maquis_nl_family __ro_after_init = {
	.name		= MAQUIS_FAMILY_NAME,
	.version	= MAQUIS_FAMILY_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.split_ops	= maquis_nl_ops,
	.n_split_ops	= ARRAY_SIZE(maquis_nl_ops),
	.mcgrps		= maquis_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(maquis_nl_mcgrps),
};
