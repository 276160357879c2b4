#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The maquis CLI on bad input: every mistake names what is wrong on stderr
# and exits non-zero (2 for usage, 1 for runtime); keys never come from argv.
# Runs on the host, where the module is absent and no maquisd runs: argument
# errors must come before the daemon is contacted or anything is loaded,
# and an absent daemon is named with the socket that was tried (tests
# against a live maquisd run in the VM, XDP attachments in
# tests/bpf/cli_xdp.sh).
set -u

cli=$(cd "$(dirname "$0")/../../daemon" && pwd)/maquis
n=0 fail=0

check() {	# check "name" expected_rc "stderr pattern" cmd...
	local name=$1 want=$2 pat=$3 err rc
	shift 3
	err=$("$@" 2>&1 >/dev/null </dev/null)
	rc=$?
	n=$((n + 1))
	if [[ $rc -eq $want && $err =~ $pat ]]; then
		echo "ok $n $name"
	else
		echo "# rc=$rc want=$want stderr: $err"
		echo "not ok $n $name"
		fail=1
	fi
}

nosock=/nonexistent/maquisd.sock
notrun="maquisd is not running \\(no socket at $nosock\\)"

echo "TAP version 13"
echo "1..69"
check "no command is a usage error" 2 "" "$cli"
check "unknown command is named" 2 "unknown command 'frobnicate'" "$cli" frobnicate
check "circuit without verb" 2 "need list, show, build or destroy" "$cli" circuit
check "circuit show without id" 2 "need a circuit ID" "$cli" circuit show
check "circuit show bad id" 2 "bad circuit ID 'x1'" "$cli" circuit show x1
check "unknown device is named" 2 "no such device: 'nosuchdev0'" "$cli" show nosuchdev0
check "extra argument is named" 2 "unexpected argument 'b'" "$cli" show a b
check "pubkey rejects garbage" 1 "not a base64 32-byte key" \
	bash -c "echo garbage | '$cli' pubkey"

# circuit build: every argument error exits 2 before the daemon is asked,
# so they hold with a socket that does not exist.
b=("$cli" --socket "$nosock" circuit build)
check "build without --to" 2 "circuit build: --to is required" "${b[@]}"
check "build --hops only" 2 "circuit build: --to is required" "${b[@]}" --hops 2
check "build --to without value" 2 "--to needs a value" "${b[@]}" --to
check "build --hops 0" 2 "--hops: bad number '0' \\(1..7\\)" "${b[@]}" --to x --hops 0
check "build --hops 8" 2 "--hops: bad number '8'" "${b[@]}" --to x --hops 8
check "build --hops=x" 2 "--hops: bad number 'x'" "${b[@]}" --to x --hops=x
check "build --hops twice" 2 "--hops given twice" "${b[@]}" --to x --hops 2 --hops 3
check "build more --via than --hops" 2 "more --via \\(3\\) than --hops \\(2\\)" \
	"${b[@]}" --hops 2 --via a --via b --via c --to x
check "build eight --via" 2 "--via: more than 7" "${b[@]}" --to x \
	--via 1 --via 2 --via 3 --via 4 --via 5 --via 6 --via 7 --via 8
check "build --lifetime 0" 2 "--lifetime: bad number of seconds '0' \\(1..86400\\)" \
	"${b[@]}" --to x --lifetime 0
check "build --lifetime 86401" 2 "--lifetime: bad number of seconds '86401'" \
	"${b[@]}" --to x --lifetime 86401
check "build --lifetime -5" 2 "--lifetime: bad number of seconds '-5'" \
	"${b[@]}" --to x --lifetime -5
check "build empty --to" 2 "--to: empty" "${b[@]}" --to=
check "build empty --via" 2 "--via: empty" "${b[@]}" --to x --via ""
check "build --to twice" 2 "--to given twice" "${b[@]}" --to x --to y
check "build overlong --to" 2 "--to: longer than 255 bytes" \
	"${b[@]}" --to "$(printf '%0256d' 0)"
check "build --to with a newline" 2 "--to: control character" \
	"${b[@]}" --to "$(printf 'a\nb')"
check "build unknown argument" 2 "circuit build: unknown argument '--frob'" \
	"${b[@]}" --to x --frob
check "circuit unknown verb" 2 "circuit: unknown subcommand 'frob'" "$cli" circuit frob

# with good arguments, the absent daemon is named with the socket tried
check "build, no daemon" 1 "$notrun" "${b[@]}" --to 10.9.0.0/16 --hops 3 --via a
check "build --json, no daemon" 1 "$notrun" "${b[@]}" --to x --json
check "relays, no daemon" 1 "$notrun" "$cli" --socket "$nosock" relays
check "relays --json, no daemon" 1 "$notrun" "$cli" relays --json --socket="$nosock"
check "MAQUIS_SOCKET is used" 1 "$notrun" env MAQUIS_SOCKET="$nosock" "$cli" relays
check "--socket beats MAQUIS_SOCKET" 1 "no socket at /nonexistent/b.sock" \
	env MAQUIS_SOCKET="$nosock" "$cli" --socket /nonexistent/b.sock relays
check "stats --daemon, no daemon" 1 "$notrun" "$cli" --socket "$nosock" stats --daemon
check "relays extra argument" 2 "relays: unexpected argument 'x'" "$cli" relays x
check "stats --daemon extra argument" 2 "stats --daemon: unexpected argument 'maq0'" \
	"$cli" stats --daemon maq0
check "--socket without path" 2 "--socket needs a path" "$cli" relays --socket
check "--socket= without path" 2 "--socket needs a path" "$cli" --socket= relays
# destroy falls back to the kernel (absent here) and says so
check "destroy, no daemon, no module" 1 \
	"$notrun: removing this host's part only.*module is not loaded" \
	"$cli" --socket "$nosock" circuit destroy 5
check "destroy bad id before anything" 2 "bad circuit ID '0'" \
	"$cli" --socket "$nosock" circuit destroy 0

# xdp: argument errors exit 2 before anything is loaded (no BPF needed);
# pins are looked for under a root that does not exist.
x=("$cli" --pin-root /nonexistent/maquis xdp)
check "xdp without verb" 2 "xdp: need attach, detach or show" "${x[@]}"
check "xdp unknown verb" 2 "xdp: unknown subcommand 'frob'" "${x[@]}" frob
check "xdp attach without interface" 2 "xdp attach: need an interface" "${x[@]}" attach
check "xdp attach unknown interface" 2 "no such device: 'nosuchdev0'" \
	"${x[@]}" attach nosuchdev0
check "xdp attach bad interface name" 2 "xdp attach: bad interface name 'a/b'" \
	"${x[@]}" attach a/b
check "xdp attach overlong interface name" 2 "xdp attach: bad interface name" \
	"${x[@]}" attach abcdefghijklmnop
check "xdp attach --variant foo" 2 "--variant: 'foo' is not auto, pure or kfunc" \
	"${x[@]}" attach lo --variant foo
check "xdp attach --mode turbo" 2 "--mode: 'turbo' is not auto, native or generic" \
	"${x[@]}" attach lo --mode=turbo
check "xdp attach --variant without value" 2 "--variant needs a value" \
	"${x[@]}" attach lo --variant
check "xdp attach --mode twice" 2 "--mode given twice" \
	"${x[@]}" attach lo --mode native --mode generic
check "xdp attach --port 0" 2 "--port: bad port '0' \\(1..65535\\)" \
	"${x[@]}" attach lo --port 0
check "xdp attach --port 65536" 2 "--port: bad port '65536'" \
	"${x[@]}" attach lo --port 65536
check "xdp attach --port x" 2 "--port: bad port 'x'" "${x[@]}" attach lo --port x
check "xdp attach --maq-dev with pure" 2 "--maq-dev: only for the kfunc variant" \
	"${x[@]}" attach lo --variant pure --maq-dev maq0
check "xdp attach bad --maq-dev" 2 "--maq-dev: bad interface name 'a b'" \
	"${x[@]}" attach lo --maq-dev "a b"
check "xdp attach two interfaces" 2 "xdp attach: unexpected argument 'lo2'" \
	"${x[@]}" attach lo lo2
check "xdp attach unknown option" 2 "xdp attach: unknown argument '--frob'" \
	"${x[@]}" attach lo --frob
check "xdp attach kfunc without the module" 1 \
	"--variant kfunc: maquis.ko's kfuncs are not available" \
	"${x[@]}" attach lo --variant kfunc
check "xdp detach without interface" 2 "xdp detach: need an interface" "${x[@]}" detach
check "xdp detach extra argument" 2 "xdp detach: unexpected argument 'b'" \
	"${x[@]}" detach a b
check "xdp detach unknown interface, no pins" 2 "no such device: 'nosuchdev0'" \
	"${x[@]}" detach nosuchdev0
check "xdp show unknown interface" 2 "no such device: 'nosuchdev0'" \
	"${x[@]}" show nosuchdev0
check "xdp show extra argument" 2 "xdp show: unexpected argument 'b'" \
	"${x[@]}" show a b
check "--pin-root relative" 2 "--pin-root: 'rel' is not an absolute path" \
	"$cli" --pin-root rel xdp show
check "--pin-root without path" 2 "--pin-root needs a path" "$cli" xdp show --pin-root
# without the module: show reports what there is, stats needs something
check "show, no module, no daemon" 0 "maquis module: not loaded" \
	"$cli" --socket "$nosock" --pin-root /nonexistent/maquis show
check "show DEVICE, no module" 1 "the maquis module is not loaded" "$cli" show lo
check "stats, no module, no pins" 1 \
	"stats: the maquis module is not loaded and no XDP counters are pinned under /nonexistent/maquis" \
	"$cli" --pin-root /nonexistent/maquis stats

# pubkey against RFC 7748 section 6.1 (Alice), and keygen makes fresh keys.
sk=$(echo 77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a | xxd -r -p | base64)
pk=$(echo 8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a | xxd -r -p | base64)
k1=$("$cli" keygen) k2=$("$cli" keygen)
n=$((n + 1))
if [[ $(echo "$sk" | "$cli" pubkey) == "$pk" && $k1 != "$k2" && ${#k1} -eq 44 ]]; then
	echo "ok $n keygen and pubkey (RFC 7748 vector)"
else
	echo "not ok $n keygen and pubkey (RFC 7748 vector)"
	fail=1
fi
exit $fail
