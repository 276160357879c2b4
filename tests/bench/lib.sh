# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for the bench scripts (sourced, bash).  Every script prints
#   bench: NAME=VALUE UNIT           one measured figure
#   not-measured: NAME: REASON       a figure it could not measure, and why
#   # ...                            anything else (progress, raw numbers)
# and run.sh collects those lines.

fig() {		# fig NAME VALUE UNIT
	printf 'bench: %s=%s %s\n' "$1" "$2" "$3"
}

not_measured() {	# not_measured NAME REASON...
	local name=$1

	shift
	printf 'not-measured: %s: %s\n' "$name" "$*"
}

log() { echo "# $*"; }

# Arithmetic on decimals (bash has none): calc EXPR [DIGITS]
calc() {
	python3 -c "import math,sys; v=$1; print(('%.${2:-3}f' % v) if math.isfinite(v) else 'nan')"
}

now() { date +%s.%N; }

# CPU ticks (USER_HZ) spent so far by: the processes PID..., this script's
# children it has already reaped (cutime/cstime of $$: iperf3, curl, ...),
# and every kernel thread (softirq work deferred to ksoftirqd, WireGuard's
# crypt workers, ...).  Two snapshots around a transfer give its CPU cost
# without counting whatever else runs on a shared machine, except other
# people's kernel-thread work, which is small.  Softirq work done on the
# way out of a syscall is charged to the task that made it (this needs a
# kernel without CONFIG_IRQ_TIME_ACCOUNTING; with it, that part is missed).
cpu_snap() {	# cpu_snap PID...
	python3 - "$$" "$@" <<'EOF'
import os, sys

def stat(pid):
    try:
        s = open("/proc/%s/stat" % pid).read()
    except OSError:
        return None
    return s[s.rindex(")") + 2:].split()	# f[0] is field 3 (state)

total = 0
f = stat(sys.argv[1])
if f:
    total += int(f[13]) + int(f[14])		# cutime, cstime
for p in set(sys.argv[2:]):
    f = stat(p)
    if f:
        total += int(f[11]) + int(f[12])	# utime, stime
for p in os.listdir("/proc"):
    if p.isdigit() and p != "2":
        f = stat(p)
        if f and f[1] == "2":			# children of kthreadd
            total += int(f[11]) + int(f[12])
print(total)
EOF
}

# CPU seconds per GB for BYTES moved while cpu_snap went from T0 to T1.
cpu_per_gb() {	# cpu_per_gb T0 T1 BYTES
	calc "($2 - $1) / $(getconf CLK_TCK) / ($3 / 1e9)" 2
}

# wait_until TIMEOUT_SECS COMMAND...: poll every 0.1 s, bounded.
wait_until() {
	local limit=$1 i

	shift
	for ((i = 0; i < limit * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# Median RTT in ms of the replies in `ping` output on stdin (nothing if
# none came back).  The median, not ping's average: on a shared machine one
# reply held up for 200 ms moves the average of 20 by 10 ms.
ping_median() {
	python3 -c '
import re, statistics, sys
t = [float(m.group(1)) for m in re.finditer(r"time=([0-9.]+) ms", sys.stdin.read())]
if t:
    print("%.3f" % statistics.median(t))'
}

# Free TCP ports on loopback, N of them.
free_ports() {
	python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}
