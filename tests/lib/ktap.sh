# SPDX-License-Identifier: GPL-2.0
#
# Shared KTAP helpers of the shell tests: source after setting $top (the
# repository).  Loads the kernel's ktap_helpers.sh (from the kernel source
# tree kmod/fetch-kernel.sh keeps under build/) and adds:
#
#   log MSG...            a KTAP diagnostic line
#   run NAME FUNC ARGS... FUNC in a subshell with errexit, one result line:
#                         ok, not ok (with the failing line), or skip when
#                         FUNC exits 4; returns FUNC's status, so that
#                         `if run ...` can guard the tests that need it
#   skip_all REASON       nothing can run here: a skipped plan, exit 4
#   wait_for SECS CMD...  poll CMD every 0.5 s for at most SECS seconds
#
# shellcheck shell=bash

ksft=$("$top/kmod/fetch-kernel.sh" source 2>/dev/null)/tools/testing/selftests
# shellcheck source=/dev/null
. "$ksft/kselftest/ktap_helpers.sh" || { echo "Bail out! no ktap_helpers.sh"; exit 1; }

log() { echo "# $*"; }

run() {
	local name=$1 rc

	shift
	(
		set -eE -o pipefail
		trap 'echo "# FAILED at line $LINENO: $BASH_COMMAND"' ERR
		"$@"
	)
	rc=$?
	if ((rc == 4)); then
		ktap_test_skip "$name"
	elif ((rc == 0)); then
		ktap_test_pass "$name"
	else
		ktap_test_fail "$name"
	fi
	return "$rc"
}

skip_all() {
	echo "TAP version 13"
	echo "1..0 # SKIP $1"
	exit 4
}

wait_for() {
	local t=$1 i

	shift
	for ((i = 0; i < t * 2; i++)); do
		"$@" && return 0
		sleep 0.5
	done
	return 1
}
