// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

static int __init maq_mod_init(void)
{
	return 0;
}

static void __exit maq_mod_exit(void)
{
}

module_init(maq_mod_init);
module_exit(maq_mod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("maquis anonymous overlay router");
