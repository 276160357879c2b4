#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Control plane, section 3 of the table, on the host: the CPU cost of the
# 1-RTT circuit setup per role, without I/O, next to a WireGuard-like
# handshake and an X25519 + Ed25519 check on the same core (ctl_rate.c).
# The daemon's end-to-end setup latency and rate need maquis.ko and run in
# the VM (ctl_e2e.sh, from vm.sh).
#
#   ctl_rate.sh [--quick] [--cpu N]
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

args=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) args+=(--quick) ;;
	--cpu) args+=(--cpu "$2"); shift ;;
	*) echo "usage: $0 [--quick] [--cpu N]" >&2; exit 2 ;;
	esac
	shift
done

if [[ ! -x $here/ctl_rate ]]; then
	not_measured ctl_relay_setup_rate "tests/bench/ctl_rate is not built (make -C tests/bench)"
	exit 1
fi
exec "$here/ctl_rate" "${args[@]}"
