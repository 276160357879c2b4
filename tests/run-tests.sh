#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: every maquis test, host first, then the module inside the
# QEMU bench.  Each test program prints KTAP; this script re-numbers their
# result lines into one KTAP stream, keeps their diagnostics as "# " lines,
# and ends with "N passed, N failed[, N skipped]".  A program that fails
# without printing a failing result line still counts as one failure.
#
#   tests/run-tests.sh [--host] [--vm] [--filter REGEX]
#
# MAQUIS_VM_TIMEOUT (seconds, default 2400) bounds the module run.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

want_host=1 want_vm=1 filter=
while [[ $# -gt 0 ]]; do
	case $1 in
	--host) want_vm=0 ;;
	--vm) want_host=0 ;;
	--filter) filter=$2; shift ;;
	*) echo "usage: $0 [--host] [--vm] [--filter REGEX]" >&2; exit 2 ;;
	esac
	shift
done

logdir=$top/build/check
mkdir -p "$logdir"
n=0 passed=0 failed=0 skipped=0

echo "KTAP version 1"

result() {	# result ok|fail|skip name [reason]
	n=$((n + 1))
	case $1 in
	ok) passed=$((passed + 1)); echo "ok $n $2" ;;
	skip) skipped=$((skipped + 1)); echo "ok $n $2 # SKIP ${3:-}" ;;
	*) failed=$((failed + 1)); echo "not ok $n $2${3:+ # $3}" ;;
	esac
}

# absorb <suite> <rc> <log>: turn one program's KTAP into our result lines.
# A runner that nests its programs' output under "# " (tests/kmod/run.sh)
# announces each with "# NAME: start"; their own result lines count then,
# and the runner's line for a program only when it adds a failure.
absorb() {
	local suite=$1 rc=$2 log=$3 line name sub= nested=0 nbad=0 seen=0 bad=0
	while IFS= read -r line; do
		line=${line%$'\r'}
		if [[ $line =~ ^#\ ([^ ]+):\ start ]]; then
			sub=${BASH_REMATCH[1]%.*} nested=0 nbad=0
			echo "# $line"
		elif [[ -n $sub && $line =~ ^#\ (not\ )?ok\ [0-9]+\ (.*)$ ]]; then
			nested=$((nested + 1))
			[[ -n ${BASH_REMATCH[1]} ]] && nbad=1
			verdict "$suite/$sub" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
			seen=$((seen + 1))
		elif [[ $line =~ ^(not\ )?ok\ [0-9]+\ (.*)$ ]]; then
			seen=$((seen + 1))
			[[ -n ${BASH_REMATCH[1]} ]] && bad=1
			if ((nested == 0)) || [[ -n ${BASH_REMATCH[1]} && $nbad -eq 0 ]]; then
				verdict "$suite" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
			fi
			sub= nested=0 nbad=0
		else
			echo "# $line"
		fi
	done < "$log"
	if [[ $rc -eq 4 && $seen -eq 0 ]]; then
		result skip "$suite" "$(grep -m1 -i skip "$log" | tr -d '\r')"
	elif [[ $rc -ne 0 && $rc -ne 4 && $bad -eq 0 ]]; then
		result fail "$suite" "exited with status $rc"
	elif [[ $rc -eq 0 && $seen -eq 0 ]]; then
		result ok "$suite"
	fi
}

verdict() {	# verdict <suite> <"not " or ""> <name and directive>
	local name=$3
	if [[ -n $2 ]]; then
		result fail "$1: ${name%% # *}"
	elif [[ $name =~ \#\ *(SKIP|skip)\ *(.*)$ ]]; then
		result skip "$1: ${name%% # *}" "${BASH_REMATCH[2]}"
	else
		result ok "$1: $name"
	fi
}

run() {		# run <suite name> <command...>
	local suite=$1 log rc
	shift
	[[ -z $filter || $suite =~ $filter ]] || return 0
	log=$logdir/${suite//\//_}.log
	"$@" > "$log" 2>&1 < /dev/null
	rc=$?
	absorb "$suite" "$rc" "$log"
}

build_tests() {
	local d
	for d in tests/host tests/bpf tests/kmod tests/vm tests/bench; do
		[[ -f $d/Makefile ]] || continue
		if ! make -s -C "$d" > "$logdir/build-${d//\//_}.log" 2>&1; then
			sed 's/^/# /' "$logdir/build-${d//\//_}.log"
			result fail "build $d"
		fi
	done
}

build_tests

if [[ $want_host -eq 1 ]]; then
	run host/ynl-generated kmod/ynl-gen.sh --check
	# every host test source gives two programs: one missing (a Makefile
	# that built only some) is a failure, not a test quietly left out
	for c in tests/host/*.c; do
		for t in "${c%.c}.test" "${c%.c}.asan.test"; do
			[[ -x $t ]] || result fail "${t#tests/}" "not built"
		done
	done
	for t in tests/host/*.test tests/bpf/*.test; do
		[[ -x $t ]] || continue
		t=${t#tests/}
		run "${t%.test}" "tests/$t"
	done
	for t in tests/host/*.sh tests/bpf/*.sh; do
		[[ -x $t ]] || continue
		t=${t#tests/}
		run "${t%.sh}" "tests/$t"
	done
	[[ -x tests/vm/selftest.sh ]] && run vm/runner-selftest tests/vm/selftest.sh
	# the bench harness in --quick mode: that it runs, not how fast
	[[ -x tests/bench/smoke.sh ]] && run bench/smoke tests/bench/smoke.sh
	# every libFuzzer harness over its seeds, then ~10 s of fuzzing each
	[[ -f tests/fuzz/Makefile ]] &&
		run fuzz make -s --no-print-directory -C tests/fuzz smoke
fi

if [[ $want_vm -eq 1 ]]; then
	if [[ ! -f kmod/maquis.ko ]]; then
		result fail "vm/kmod" "kmod/maquis.ko not built"
	else
		run vm/kmod tests/vm/run.sh --timeout "${MAQUIS_VM_TIMEOUT:-2400}" \
			-- tests/kmod/run.sh
	fi
fi

echo "1..$n"
summary="$passed passed, $failed failed"
[[ $skipped -gt 0 ]] && summary+=", $skipped skipped"
echo "$summary"
[[ $failed -eq 0 ]]
