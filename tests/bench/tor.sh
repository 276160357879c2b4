#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tor baseline: a private Tor network on loopback (TestingTorNetwork 1),
# one directory authority (not used in circuits), three relays r1 r2 r3
# that are guard, middle and exit of every circuit (the client pins them,
# conflux off), and a client.  Everything lives in a temporary directory and
# is gone afterwards.  The exits accept only the two ports of the local
# servers (a policy naming 127.0.0.1 alone would summarise to "no exit" in
# the microdescriptors clients use), and the only client is ours, asking
# for 127.0.0.1 only: nothing leaves the machine.
#
# Figures:
#   tor_tcp          Gb/s of a bulk HTTP download through SOCKS5 (curl
#                    --socks5-hostname from python3 -m http.server), timed
#                    from the first byte
#   tor_rtt          ms, median round trip of 1 byte on an established
#                    stream to a local echo server through the circuit
#   tor_direct_rtt   the same without Tor
#   tor_added_rtt    the difference
#   tor_cpu          CPU seconds per GB downloaded: the five tors, the
#                    servers, curl and kernel threads (lib.sh cpu_snap)
#   tor_bootstrap    s from start until the client has a circuit
#
#   tor.sh [--quick] [--time SECS] [--out DIR] [--boot-timeout SECS] [--keep]
#          [--prefix NAME]
#
# --prefix replaces "tor" in the figure names (vm.sh: vm_tor).
# --keep leaves the data directories (keys, consensus, logs) in /tmp.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

TIME=10 PINGS=20 OUT="" BOOT=120 KEEP=0 P=tor
while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) TIME=3 PINGS=5 BOOT=90 ;;
	--time) TIME=$2; shift ;;
	--out) OUT=$2; shift ;;
	--boot-timeout) BOOT=$2; shift ;;
	--keep) KEEP=1 ;;
	--prefix) P=$2; shift ;;
	*) echo "usage: $0 [--quick] [--time SECS] [--out DIR] [--boot-timeout SECS] [--keep] [--prefix NAME]" >&2
	   exit 2 ;;
	esac
	shift
done

for t in tor tor-gencert curl python3; do
	if ! command -v "$t" >/dev/null; then
		not_measured "$P"_tcp "$t not installed"
		exit 0
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/maq-bench-tor.XXXXXX") || exit 1
chmod 700 "$tmp"
OUT=${OUT:-$tmp/out}
mkdir -p "$OUT"
PIDS=()

cleanup() {
	local p

	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for n in auth r1 r2 r3 client; do
		[[ -f $tmp/$n/notice.log ]] && cp "$tmp/$n/notice.log" "$OUT/tor-$n.log"
	done
	if ((KEEP)); then
		echo "# kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r P_AUTH_OR P_AUTH_DIR P_R1 P_R2 P_R3 P_SOCKS P_HTTP P_ECHO < <(free_ports 8)

common() {	# common NAME: what every torrc has
	cat <<EOF
TestingTorNetwork 1
DataDirectory $tmp/$1
Nickname $1
RunAsDaemon 0
Log notice file $tmp/$1/notice.log
SafeLogging 0
ShutdownWaitLength 0
DisableDebuggerAttachment 0
ProtocolWarnings 1
AssumeReachable 1
PathsNeededToBuildCircuits 0.25
TestingDirAuthVoteExit *
TestingDirAuthVoteGuard *
TestingMinExitFlagThreshold 0
V3AuthNIntervalsValid 2
UseDefaultFallbackDirs 0
ClientUseIPv6 0
EOF
}

relay_conf() {	# relay_conf NAME ORPORT
	common "$1"
	cat <<EOF
Address 127.0.0.1
ORPort 127.0.0.1:$2
SocksPort 0
ContactInfo $1@bench.invalid
ExitRelay 1
ExitPolicyRejectPrivate 0
ExitPolicy accept *:$P_HTTP
ExitPolicy accept *:$P_ECHO
ExitPolicy reject *:*
EOF
}

fpr() { awk '{print $2}' "$tmp/$1/fingerprint"; }

# --- the network ----------------------------------------------------------

setup() {
	local n v3 fp

	for n in auth r1 r2 r3 client; do
		mkdir -p "$tmp/$n"
		chmod 700 "$tmp/$n"
	done
	mkdir -p "$tmp/auth/keys"
	echo "" | tor-gencert --create-identity-key -m 12 \
		-a "127.0.0.1:$P_AUTH_DIR" \
		-i "$tmp/auth/keys/authority_identity_key" \
		-s "$tmp/auth/keys/authority_signing_key" \
		-c "$tmp/auth/keys/authority_certificate" \
		--passphrase-fd 0 >"$OUT/tor-gencert.log" 2>&1 || return 1
	v3=$(awk '/^fingerprint/ {print $2}' "$tmp/auth/keys/authority_certificate")

	# identity keys (and fingerprints) before the real configurations,
	# which need the authority's: generated with TestingTorNetwork off
	relay_conf auth "$P_AUTH_OR" | grep -v '^TestingTorNetwork' >"$tmp/auth/fp.torrc"
	relay_conf r1 "$P_R1" | grep -v '^TestingTorNetwork' >"$tmp/r1/fp.torrc"
	relay_conf r2 "$P_R2" | grep -v '^TestingTorNetwork' >"$tmp/r2/fp.torrc"
	relay_conf r3 "$P_R3" | grep -v '^TestingTorNetwork' >"$tmp/r3/fp.torrc"
	for n in auth r1 r2 r3; do
		tor --list-fingerprint -f "$tmp/$n/fp.torrc" >>"$OUT/tor-fingerprint.log" 2>&1 ||
			return 1
		rm -f "$tmp/$n/notice.log"
	done
	fp=$(fpr auth)
	DIRAUTH="DirAuthority auth orport=$P_AUTH_OR no-v2 v3ident=$v3 127.0.0.1:$P_AUTH_DIR $fp"

	{
		relay_conf auth "$P_AUTH_OR"
		cat <<EOF
DirPort 127.0.0.1:$P_AUTH_DIR
AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
TestingV3AuthInitialVotingInterval 5
V3AuthVotingInterval 10
TestingV3AuthInitialVoteDelay 2
V3AuthVoteDelay 2
TestingV3AuthInitialDistDelay 2
V3AuthDistDelay 2
$DIRAUTH
EOF
	} | sed '/^ExitRelay/d; /^ExitPolicy/d' >"$tmp/auth/torrc"
	echo "ExitPolicy reject *:*" >>"$tmp/auth/torrc"
	relay_conf r1 "$P_R1" >"$tmp/r1/torrc"
	relay_conf r2 "$P_R2" >"$tmp/r2/torrc"
	relay_conf r3 "$P_R3" >"$tmp/r3/torrc"
	for n in r1 r2 r3; do echo "$DIRAUTH" >>"$tmp/$n/torrc"; done
	{
		common client
		cat <<EOF
SocksPort 127.0.0.1:$P_SOCKS
ConfluxEnabled 0
EntryNodes \$$(fpr r1)
MiddleNodes \$$(fpr r2)
ExitNodes \$$(fpr r3)
StrictNodes 1
$DIRAUTH
EOF
	} >"$tmp/client/torrc"
	for n in auth r1 r2 r3 client; do
		cp "$tmp/$n/torrc" "$OUT/tor-$n.torrc"
	done
}

start() {	# start NAME...
	local n

	for n in "$@"; do
		tor -f "$tmp/$n/torrc" >"$OUT/tor-$n.stdout" 2>&1 &
		PIDS+=("$!")
	done
}

# CONSENSUS lists r1, r2 and r3 as running.
has_relays() {
	local n

	for n in r1 r2 r3; do
		grep -A3 "^r $n " "$1" 2>/dev/null | grep -q "^s .*Running" || return 1
	done
}

# ... and is the consensus the authority serves now: it writes the next one
# to its cache some seconds before that becomes valid.
serving_relays() {
	local va

	has_relays "$1" || return 1
	va=$(sed -n 's/^valid-after //p' "$1")
	[[ -n $va ]] && (($(date -u -d "$va" +%s) <= $(date -u +%s)))
}

# The client has such a consensus and says it is done.
bootstrapped() {
	grep -q 'Bootstrapped 100%' "$tmp/client/notice.log" 2>/dev/null &&
		has_relays "$tmp/client/cached-microdesc-consensus"
}

alive() {
	local p

	for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || return 1; done
}

# wait_for SECS TEST...: bounded, gives up early if a tor died
wait_for() {
	local limit=$1 i

	shift
	for ((i = 0; i < limit * 10; i++)); do
		"$@" && return 0
		alive || return 1
		sleep 0.1
	done
	return 1
}

# --- main -----------------------------------------------------------------

log "tor: $(tor --version | head -1), private network on loopback"
if ! setup; then
	not_measured "$P"_tcp "could not generate the Tor network's keys (see tor-*.log)"
	exit 0
fi
t0=$(now)
# The client starts once the authority's consensus has the relays: a client
# that saw a consensus without its pinned guard may not pick it up for long.
start auth r1 r2 r3
if ! wait_for "$BOOT" serving_relays "$tmp/auth/cached-microdesc-consensus"; then
	not_measured "$P"_tcp "no consensus with r1..r3 within ${BOOT}s (see tor-auth.log)"
	exit 0
fi
# A client that took an older consensus from a relay's cache, one without
# its pinned guard, can stay on "Failed to find node for hop #1" for good
# (seen in the VM under load).  So, halfway through the wait, it starts
# once more from an empty data directory, its first log kept.
start client
if ! wait_for $((BOOT / 2)) bootstrapped; then
	alive || {
		not_measured "$P"_tcp "a tor exited during bootstrap (see tor-*.log)"
		exit 0
	}
	log "client not bootstrapped after $((BOOT / 2))s, starting it again from scratch"
	p=${PIDS[-1]}
	unset 'PIDS[-1]'
	kill "$p"
	wait "$p" 2>/dev/null
	cp "$tmp/client/notice.log" "$OUT/tor-client-first.log"
	find "$tmp/client" -mindepth 1 ! -name torrc -delete
	start client
	if ! wait_for $((BOOT - BOOT / 2)) bootstrapped; then
		not_measured "$P"_tcp "the Tor client did not bootstrap within ${BOOT}s, restarted once halfway (see tor-client-first.log, tor-client.log)"
		exit 0
	fi
fi
boot=$(calc "$(now) - $t0" 1)
fig "$P"_bootstrap "$boot" s
log "client bootstrapped after $boot s"

# servers: bulk data over HTTP, and an echo for round trips
mkdir -p "$tmp/www"
truncate -s 64G "$tmp/www/bulk"
python3 -m http.server --bind 127.0.0.1 --directory "$tmp/www" "$P_HTTP" \
	>"$OUT/tor-http.log" 2>&1 &
PIDS+=("$!")
python3 "$here/tcpprobe.py" echo "$P_ECHO" --lifetime $((BOOT + TIME + 300)) \
	>"$OUT/tor-echo.log" 2>&1 &
PIDS+=("$!")
wait_until 10 curl -s -o /dev/null "http://127.0.0.1:$P_HTTP/" || true

log "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# A stream may fail while the client still fetches descriptors: retry,
# for BOOT seconds at most.
rtt=
deadline=$(($(date +%s) + BOOT))
for ((i = 0; i < 100; i++)); do
	out=$(timeout 20 python3 "$here/tcpprobe.py" rtt 127.0.0.1 "$P_ECHO" \
		--socks "127.0.0.1:$P_SOCKS" --count "$PINGS" --timeout 15 2>&1)
	echo "$out" >>"$OUT/tor-rtt.log"
	rtt=$(sed -nE 's/.*median=([0-9.]+).*/\1/p' <<<"$out")
	[[ -n $rtt ]] && break
	(($(date +%s) < deadline)) || break
	sleep 1
done
[[ -n $rtt ]] && log "circuit usable after $(calc "$(now) - $t0" 1) s"
direct=$(python3 "$here/tcpprobe.py" rtt 127.0.0.1 "$P_ECHO" --count "$PINGS" 2>&1 |
	tee -a "$OUT/tor-rtt.log" | sed -nE 's/.*median=([0-9.]+).*/\1/p')
if [[ -n $rtt && -n $direct ]]; then
	fig "$P"_rtt "$rtt" ms
	fig "$P"_direct_rtt "$direct" ms
	fig "$P"_added_rtt "$(calc "$rtt - $direct")" ms
else
	not_measured "$P"_rtt "no round trip through the Tor circuit (see tor-rtt.log)"
fi

b0=$(cpu_snap "${PIDS[@]}")
out=$(curl -s -o /dev/null --socks5-hostname "127.0.0.1:$P_SOCKS" \
	--max-time "$TIME" --connect-timeout 30 \
	-w '%{size_download} %{time_starttransfer} %{time_total}\n' \
	"http://127.0.0.1:$P_HTTP/bulk" 2>>"$OUT/tor-curl.log")
b1=$(cpu_snap "${PIDS[@]}")
echo "$out" >>"$OUT/tor-curl.log"
read -r size tstart ttotal <<<"$out"
if [[ -n ${size:-} && ${size:-0} -gt 0 ]] && python3 -c "import sys; sys.exit(not $ttotal - $tstart > 0.5)"; then
	fig "$P"_tcp "$(calc "$size * 8 / ($ttotal - $tstart) / 1e9" 6)" Gb/s
	fig "$P"_cpu "$(cpu_per_gb "$b0" "$b1" "$size")" CPU-s/GB
	log "bulk: $size bytes in $(calc "$ttotal - $tstart") s after the first byte"
else
	not_measured "$P"_tcp "bulk download through SOCKS failed (curl: ${out:-nothing})"
fi
exit 0
