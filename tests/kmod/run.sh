#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest-side entry point of the kernel module tests:
#
#   tests/vm/run.sh --timeout 900 -- tests/kmod/run.sh [--ko PATH] [TEST...]
#
# Loads maquis.ko (kmod/maquis.ko unless --ko; its dependencies with
# modprobe) unless it is loaded already, then runs every test of this
# directory, or the TESTs named (netlink_test.test, netns.sh, ...): the C
# kselftest programs first, the shell tests after.  The module is loaded
# again before each test, since some unload it.  Prints KTAP, each test's
# own output nested under "# ", and exits non-zero if any test failed.
# Build first, on the host: make -C tests/kmod.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
ko=$top/kmod/maquis.ko
tests=()

while (($#)); do
	case $1 in
	--ko) ko=$(realpath "$2"); shift 2 ;;
	-h|--help) sed -n '3,14p' "$0"; exit 0 ;;
	*) tests+=("$1"); shift ;;
	esac
done

if ((${#tests[@]} == 0)); then
	for t in "$here"/*.test; do [[ -x $t ]] && tests+=("${t##*/}"); done
	for t in "$here"/*.sh; do
		[[ ${t##*/} == run.sh || ! -x $t ]] || tests+=("${t##*/}")
	done
fi

load_module() {
	local deps d

	[[ -d /sys/module/maquis ]] && return 0
	[[ -f $ko ]] || { echo "# no module $ko (make module)"; return 1; }
	deps=$(modinfo -F depends "$ko" 2>/dev/null)
	for d in ${deps//,/ }; do
		modprobe "$d" || { echo "# modprobe $d failed"; return 1; }
	done
	insmod "$ko" || { echo "# insmod $ko failed"; return 1; }
}

echo "KTAP version 1"
if [[ $(id -u) != 0 ]]; then
	echo "1..0 # SKIP needs root (run inside tests/vm/run.sh)"
	exit 4
fi
echo "1..${#tests[@]}"

export MAQ_KO=$ko
modprobe veth 2>/dev/null
n=0
failed=0
for t in "${tests[@]}"; do
	n=$((n + 1))
	if [[ ! -x $here/$t ]]; then
		echo "not ok $n $t # not built (make -C tests/kmod)"
		failed=$((failed + 1))
		continue
	fi
	if ! load_module; then
		echo "not ok $n $t # module did not load"
		failed=$((failed + 1))
		continue
	fi
	echo "# $t: start at $(</proc/uptime)"
	(cd "$here" && exec "./$t") 2>&1 | while IFS= read -r line; do
		printf '# %s\n' "$line"
	done
	rc=${PIPESTATUS[0]}
	case $rc in
	0) echo "ok $n $t" ;;
	4) echo "ok $n $t # SKIP" ;;
	*) echo "not ok $n $t # exit $rc"; failed=$((failed + 1)) ;;
	esac
done
echo "# Totals: pass:$((n - failed)) fail:$failed"
((failed == 0))
