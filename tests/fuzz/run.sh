#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the libFuzzer harnesses built in OUT, one after the other, and prints
# KTAP: a "# " line of figures and one result line per harness.  Each
# harness first runs every seed in tests/fuzz/corpus/<name>/ (any crash
# there fails it too), then fuzzes for TIME seconds.  New inputs go to
# OUT/smoke/<name>/ (emptied first: --smoke) or OUT/corpus/<name>/ (kept and
# grown: --keep); crashing inputs to OUT/artifacts/<name>/.
#
#   run.sh --smoke|--keep TIME OUT NAME:MAXLEN...
set -uo pipefail

usage() {
	echo "usage: $0 --smoke|--keep TIME OUT NAME:MAXLEN..." >&2
	exit 2
}

[[ $# -ge 4 ]] || usage
mode=$1 time=$2 out=$3
shift 3
[[ $mode == --smoke || $mode == --keep ]] || usage
[[ $time =~ ^[1-9][0-9]*$ ]] || { echo "$0: TIME '$time' is not a number of seconds" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
seeds=$here/corpus
top=${here%/tests/fuzz}

echo "KTAP version 1"
echo "1..$#"

# field <pattern> <file>: the number after the last "<pattern>" in a log
field() {
	grep -o "$1 *[0-9]*" "$2" | tail -1 | grep -o '[0-9]*$'
}

n=0 bad=0
for spec in "$@"; do
	n=$((n + 1))
	name=${spec%%:*} maxlen=${spec#*:}
	bin=$out/fuzz_$name
	log=$out/logs/${mode#--}/$name.log
	art=$out/artifacts/$name
	if [[ $mode == --smoke ]]; then
		grow=$out/smoke/$name
		rm -rf "$grow"
	else
		grow=$out/corpus/$name
	fi
	mkdir -p "$grow" "$art" "${log%/*}"
	if [[ ! -x $bin ]]; then
		echo "not ok $n $name # $bin not built"
		bad=1
		continue
	fi
	if [[ ! -d $seeds/$name ]]; then
		echo "not ok $n $name # no seeds in $seeds/$name"
		bad=1
		continue
	fi
	# libFuzzer bounds the fuzzing, timeout(1) the whole run: loading the
	# corpus is not counted in -max_total_time
	timeout --kill-after=10 $((time + 120)) "$bin" \
		-max_total_time="$time" -max_len="$maxlen" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art/" "$grow" "$seeds/$name" \
		> "$log" 2>&1
	rc=$?
	# libFuzzer's status lines: "#N INITED cov: C ft: F corp: U/..."
	# after the seeds, the last one ("DONE") after the run
	execs=$(field 'stat::number_of_executed_units:' "$log")
	added=$(field 'stat::new_units_added:' "$log")
	grep -m1 'INITED cov:' "$log" > "$log.inited"
	cov0=$(field 'cov:' "$log.inited") corp0=$(field 'corp:' "$log.inited")
	cov1=$(field 'cov:' "$log") corp1=$(field 'corp:' "$log")
	rm -f "$log.inited"
	echo "# $name: ${execs:-?} execs in $time s," \
	     "corpus ${corp0:-?} -> ${corp1:-?} (${added:-?} new units)," \
	     "coverage ${cov0:-?} -> ${cov1:-?} edges"
	if [[ $rc -eq 0 ]]; then
		echo "ok $n $name"
		continue
	fi
	bad=1
	# what went wrong, and the input that did it
	grep -E -e "^(==[0-9]+==ERROR|SUMMARY|[a-z_]+\.c:[0-9]+: )" \
	     -e "runtime error|^ *#[0-9]+ 0x.* $top/|Test unit written" \
	     -e "^Base64" "$log" | head -40 | sed 's/^/# /'
	[[ $rc -eq 124 || $rc -eq 137 ]] &&
		echo "# $name: killed after $((time + 120)) s"
	echo "not ok $n $name # exit status $rc, log $log"
done
exit $bad
