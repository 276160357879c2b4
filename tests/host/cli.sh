#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The maquis CLI on bad input: every mistake names what is wrong on stderr
# and exits non-zero (2 for usage, 1 for runtime); keys never come from argv.
# Runs on the host, where the module is absent.
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

echo "TAP version 13"
echo "1..9"
check "no command is a usage error" 2 "" "$cli"
check "unknown command is named" 2 "unknown command 'frobnicate'" "$cli" frobnicate
check "circuit without verb" 2 "need list, show or destroy" "$cli" circuit
check "circuit show without id" 2 "need a circuit ID" "$cli" circuit show
check "circuit show bad id" 2 "bad circuit ID 'x1'" "$cli" circuit show x1
check "unknown device is named" 2 "no such device: 'nosuchdev0'" "$cli" show nosuchdev0
check "extra argument is named" 2 "unexpected argument 'b'" "$cli" show a b
check "pubkey rejects garbage" 1 "not a base64 32-byte key" \
	bash -c "echo garbage | '$cli' pubkey"

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
