#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The network without a centre (issue "No centre to capture"): nine relays
# and three endpoints of tests/kmod/testbed.sh, one maquisd each, formed
# from a two-relay bootstrap list.  The tests come in parts, one file each
# under mesh.d/, run in this order on one testbed:
#
#   alias   a service reached by its alias through a rendezvous relay
#   rate    a relay's configured rate limit holds under iperf3
#   heal    relays killed mid-transfer are routed around; a tampering relay
#           is avoided
#
#   tests/kmod/mesh.sh [PART...]     (in the VM, maquis.ko loaded)
#
# A part registers its tests with `mesh_test NAME FUNC` and configuration
# lines for a host with `mesh_conf HOST LINE` when it is sourced; the
# testbed starts after every named part was read.  Prints KTAP.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=../lib/ktap.sh
. "$top/tests/lib/ktap.sh"

PARTS=()
for part in alias rate heal; do
	[[ -f $here/mesh.d/$part.sh ]] && PARTS+=("$part")
done
(($#)) && PARTS=("$@")
MESH_NAMES=()
MESH_FUNCS=()
declare -A MESH_CONF

mesh_test() { MESH_NAMES+=("$1"); MESH_FUNCS+=("$2"); }
mesh_conf() { MESH_CONF[$1]+="$2"$'\n'; }
tb_conf_extra() { printf '%s' "${MESH_CONF[$1]:-}"; }

ktap_print_header
if [[ $(id -u) != 0 || ! -d /sys/module/maquis ]]; then
	ktap_set_plan 1
	ktap_test_skip "needs root and maquis.ko"
	ktap_finished
	exit 0
fi

# shellcheck source=testbed.sh
. "$here/testbed.sh"
for part in "${PARTS[@]}"; do
	[[ -f $here/mesh.d/$part.sh ]] || { echo "Bail out! no part $part"; exit 1; }
	# shellcheck source=/dev/null
	. "$here/mesh.d/$part.sh"
done

ktap_set_plan $((1 + ${#MESH_NAMES[@]}))
t_converge() {
	tb_setup
	SECONDS=0
	tb_converge 120
	log "${#TB_HOSTS[@]} daemons know all ${#TB_HOSTS[@]} descriptors after $SECONDS s"
}
run "testbed: ${#TB_RELAYS[@]} relays and ${#TB_ENDPOINTS[@]} endpoints converge by gossip" t_converge
for ((i = 0; i < ${#MESH_NAMES[@]}; i++)); do
	run "${MESH_NAMES[$i]}" "${MESH_FUNCS[$i]}"
done
ktap_finished
