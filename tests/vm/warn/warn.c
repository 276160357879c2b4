// SPDX-License-Identifier: GPL-2.0
/*
 * maquis_vm_warn - a module whose only job is to WARN when loaded.
 *
 * tests/vm/selftest.sh loads it in the test VM to prove that a kernel
 * warning makes tests/vm/run.sh fail (panic_on_warn=1 turns it into a
 * panic).  Never load it anywhere else.
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/module.h>

static int __init maquis_vm_warn_init(void)
{
	WARN(1, "maquis_vm_warn: deliberate warning from the VM self-test\n");
	return 0;
}

static void __exit maquis_vm_warn_exit(void)
{
}

module_init(maquis_vm_warn_init);
module_exit(maquis_vm_warn_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("maquis test VM self-test: WARN on load");
