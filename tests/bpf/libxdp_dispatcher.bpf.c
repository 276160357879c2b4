// SPDX-License-Identifier: GPL-2.0
/*
 * A stand-in for libxdp's xdp-dispatcher.o (tests/bpf/libxdp.sh points
 * LIBXDP_OBJECT_PATH at it), for the one thing Debian 12's libxdp 1.3.1
 * lacks: kernels since 6.13 (and 6.12.y) refuse to freplace a function
 * that does not change packet data with a program that does, and the XDP
 * relay moves the packet's head and tail.  Each slot here may call
 * bpf_xdp_adjust_head() as far as the verifier can tell (never, in fact),
 * which newer libxdp dispatchers do too.  Otherwise it is what libxdp
 * expects of its dispatcher, version 2 (xdp/prog_dispatcher.h): a
 * read-only config as its only map, slots prog0..prog9 run in order while
 * each returns an action its chain_call_actions bit allows, compat_test
 * and xdp_pass for libxdp's probes.
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define DISP_VERSION	2
#define DISP_RETVAL	31	/* a slot with nothing attached: go on */
#define DISP_SLOTS	10

/* The layout libxdp writes into .rodata before loading. */
struct disp_config {
	__u8 magic;
	__u8 dispatcher_version;
	__u8 num_progs_enabled;
	__u8 is_xdp_frags;
	__u32 chain_call_actions[DISP_SLOTS];
	__u32 run_prios[DISP_SLOTS];
	__u32 program_flags[DISP_SLOTS];
};

static volatile const struct disp_config conf = {};

/* libxdp reads the version an object file implements from its BTF. */
int (*dispatcher_version)[DISP_VERSION] SEC("xdp_metadata");

/*
 * A slot, for a component program to freplace.  The never-taken call marks
 * it as changing packet data, so that such a component is allowed in.
 */
#define DISP_SLOT(name)							\
__attribute__((noinline)) int name(struct xdp_md *ctx)			\
{									\
	volatile int ret = DISP_RETVAL;					\
									\
	if (!ctx)							\
		return XDP_ABORTED;					\
	if (ret == -1)							\
		bpf_xdp_adjust_head(ctx, 0);				\
	return ret;							\
}

DISP_SLOT(prog0)
DISP_SLOT(prog1)
DISP_SLOT(prog2)
DISP_SLOT(prog3)
DISP_SLOT(prog4)
DISP_SLOT(prog5)
DISP_SLOT(prog6)
DISP_SLOT(prog7)
DISP_SLOT(prog8)
DISP_SLOT(prog9)
DISP_SLOT(compat_test)

#define DISP_CALL(i)							\
	do {								\
		if (n < (i) + 1)					\
			return XDP_PASS;				\
		ret = prog##i(ctx);					\
		if (!((1U << ret) & conf.chain_call_actions[i]))	\
			return ret;					\
	} while (0)

SEC("xdp")
int xdp_dispatcher(struct xdp_md *ctx)
{
	__u8 n = conf.num_progs_enabled;
	int ret;

	DISP_CALL(0);
	DISP_CALL(1);
	DISP_CALL(2);
	DISP_CALL(3);
	DISP_CALL(4);
	DISP_CALL(5);
	DISP_CALL(6);
	DISP_CALL(7);
	DISP_CALL(8);
	DISP_CALL(9);
	return XDP_PASS;
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
