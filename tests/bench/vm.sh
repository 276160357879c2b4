#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The in-VM part of the bench, run by run.sh as
#   tests/vm/run.sh -- tests/bench/vm.sh [--quick] --out DIR
# (DIR under $MAQUIS_VM_OUT, shared with the host).  The guest runs Debian's
# 6.12 kernel, which has the wireguard module and will load maquis.ko:
#
#   vm_e2e_*            e2e.sh with kernel WireGuard, and maquis once
#                       kmod/maquis.ko loads (e2e.sh inserts it)
#   vm_xdp_kfunc_*      the XDP relay with the module's kfunc crypto:
#                       extension point, needs the module's kfunc
#
# QEMU runs TCG (no KVM): figures compare only with each other.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

q=() OUT=
while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) q=(--quick) ;;
	--out) OUT=$2; shift ;;
	*) echo "usage: $0 [--quick] --out DIR" >&2; exit 2 ;;
	esac
	shift
done
[[ -n $OUT ]] || { echo "usage: $0 [--quick] --out DIR" >&2; exit 2; }
mkdir -p "$OUT"

modprobe veth
modprobe wireguard || log "modprobe wireguard failed"
"$here/e2e.sh" "${q[@]}" --prefix vm_e2e --wg kernel --out "$OUT"
rc=$?

# Extension point: once maquis.ko exports its relay kfunc and bpf/ has the
# XDP relay that calls it, run xdp_rate with that program here (same feeder,
# same figures, prefixed vm_xdp_kfunc_).
not_measured vm_xdp_kfunc_fwd_rate "needs the module's relay kfunc and an XDP relay that calls it (neither exists yet)"
exit $rc
