#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The in-VM part of the bench, run by run.sh as
#   tests/vm/run.sh -- tests/bench/vm.sh [--quick] --out DIR
# (DIR under $MAQUIS_VM_OUT, shared with the host).  The guest runs Debian's
# 6.12 kernel, which has the wireguard module and will load maquis.ko:
#
#   vm_e2e_*            e2e.sh: plain routing, kernel WireGuard, and the
#                       maquis module's 3-hop circuit (e2e.sh inserts
#                       kmod/maquis.ko): iperf3 TCP, iperf3 UDP at the
#                       largest payload one cell carries, ping
#   vm_tor_*            tor.sh: the private Tor network, in the same VM, so
#                       that maquis / Tor is a like-for-like ratio
#   vm_xdp_*, kmod_*    xdp_rate --kfunc: the XDP relay with the module's
#                       kfunc crypto next to the pure-BPF relay and xdp_fwd;
#                       the same with 10^3, 10^5 and 10^6 module circuits
#                       (10^3 and 10^4 with --quick), and the kernel memory
#                       they take
#   vm_ctl_*            ctl_e2e.sh: circuit setup through maquisd
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
rc=0
part() {	# part NAME COMMAND...: one part, its failure noted, the rest goes on
	local name=$1 r

	shift
	log "--- $name: $*"
	"$@"
	r=$?
	if ((r != 0 && r != 4)); then
		log "$name failed (exit $r)"
		rc=1
	fi
}

# the module's circuit here; BPF-only relays are the host's figures
part e2e "$here/e2e.sh" "${q[@]}" --prefix vm_e2e --wg kernel --out "$OUT" \
	--paths plain,wg,maquis

# e2e.sh inserted maquis.ko for its circuit; should it not have, the rest
# needs it too
if [[ ! -d /sys/module/maquis ]]; then
	for d in $(modinfo -F depends "$here/../../kmod/maquis.ko" 2>/dev/null | tr , ' '); do
		modprobe "$d"
	done
	insmod "$here/../../kmod/maquis.ko"
fi
if [[ ! -d /sys/module/maquis ]]; then
	not_measured vm_xdp_kfunc_fwd_rate "cannot insert kmod/maquis.ko in the VM"
	not_measured vm_ctl_setup_rate "cannot insert kmod/maquis.ko in the VM"
	part tor "$here/tor.sh" "${q[@]}" --prefix vm_tor --out "$OUT"
	exit 1
fi
if ((${#q[@]})); then
	part kfunc "$here/xdp_rate" --kfunc --prefix vm_xdp --quick
else
	part kfunc "$here/xdp_rate" --kfunc --prefix vm_xdp --time 1
fi
part tor "$here/tor.sh" "${q[@]}" --prefix vm_tor --out "$OUT"
part ctl "$here/ctl_e2e.sh" "${q[@]}" --prefix vm_ctl --out "$OUT"
exit $rc
