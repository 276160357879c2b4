// SPDX-License-Identifier: GPL-2.0
/*
 * maquis: an anonymous overlay router.  docs/PROTOCOL.md is the protocol,
 * docs/DESIGN.md how this module fits with the daemon and the XDP relay.
 */

#include <net/genetlink.h>
#include <linux/module.h>
#include <net/rtnetlink.h>

#include <linux/maquis.h>

#include "circuit.h"
#include "crypto.h"
#include "device.h"
#include "netlink.h"
#include "xdp.h"

unsigned int maq_epoch_secs = MAQ_EPOCH_SECS;

static int maq_epoch_secs_set(const char *val, const struct kernel_param *kp)
{
	/* a day at most: a key slot must not outlive its circuit by much */
	return param_set_uint_minmax(val, kp, 1, 86400);
}

static const struct kernel_param_ops maq_epoch_secs_ops = {
	.set = maq_epoch_secs_set,
	.get = param_get_uint,
};

module_param_cb(epoch_secs, &maq_epoch_secs_ops, &maq_epoch_secs, 0644);
MODULE_PARM_DESC(epoch_secs,
		 "seconds an origin stays in one key phase (1..86400, default 120)");

static int __init maq_mod_init(void)
{
	int ret;

	ret = maq_crypto_selftest();
	if (ret) {
		pr_err("maquis: layer self-test failed\n");
		return ret;
	}
	ret = maq_circuit_cache_init();
	if (ret)
		return ret;
	/* The family first: a device may notify as soon as it exists. */
	ret = maq_nl_init();
	if (ret)
		goto err_uninit_cache;
	ret = maq_device_init();
	if (ret)
		goto err_uninit_nl;
	maq_xdp_init();
	return 0;

err_uninit_nl:
	maq_nl_uninit();
err_uninit_cache:
	maq_circuit_cache_uninit();
	return ret;
}

static void __exit maq_mod_exit(void)
{
	maq_device_uninit();
	maq_nl_uninit();
	maq_circuit_cache_uninit();
}

module_init(maq_mod_init);
module_exit(maq_mod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("maquis anonymous overlay router");
MODULE_ALIAS_RTNL_LINK(KBUILD_MODNAME);
MODULE_ALIAS_GENL_FAMILY(MAQUIS_FAMILY_NAME);
