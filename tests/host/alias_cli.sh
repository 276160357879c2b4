#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `maquis alias ...` and `circuit build --to ALIAS` on bad input (PROTOCOL
# 9): each mistake is named on stderr with exit status 2 before the daemon
# is asked, so these hold with a socket that does not exist; good input
# gets as far as the absent daemon (exit 1, the socket named).  Aliases
# against a live maquisd: tests/kmod/mesh.d/alias.sh.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
cli=$top/daemon/maquis
# shellcheck source=../lib/ktap.sh
. "$top/tests/lib/ktap.sh"

# CMD... exits $1 with stderr matching $2
says() {
	local want=$1 pat=$2 err rc=0

	shift 2
	err=$("$@" 2>&1 >/dev/null </dev/null) || rc=$?
	[[ $rc -eq $want && $err =~ $pat ]] && return 0
	log "rc=$rc want=$want stderr: $err"
	return 1
}
check() { local name=$1; shift; run "$name" says "$@"; }

nosock=/nonexistent/maquisd.sock
notrun="maquisd is not running \\(no socket at $nosock\\)"
m=("$cli" --socket "$nosock")
b=("${m[@]}" circuit build)
# a valid alias: the base32 of an Ed25519 key (the RFC 8032 test 1 key)
good=$(echo d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a |
	xxd -r -p | base32 | tr -d '=' | tr '[:upper:]' '[:lower:]')
zero=$(printf 'a%.0s' {1..52})

ktap_print_header
ktap_set_plan 21
check "alias without a subcommand" 2 "alias: need new, publish or list" "${m[@]}" alias
check "alias: unknown subcommand named" 2 "alias: unknown subcommand 'frob'" "${m[@]}" alias frob
check "alias new: upper case name" 2 "alias name 'Svc': 1 to 32 of a-z 0-9 - _" \
	"${m[@]}" alias new Svc
check "alias new: a slash in the name" 2 "alias name 'a/b': 1 to 32" "${m[@]}" alias new a/b
check "alias new: 33 characters" 2 "alias name '.*': 1 to 32" \
	"${m[@]}" alias new "$(printf 'x%.0s' {1..33})"
check "alias new: empty name" 2 "alias name: empty" "${m[@]}" alias new ""
check "alias new: control character" 2 "alias name: control character" \
	"${m[@]}" alias new $'a\tb'
check "alias new: two names" 2 "alias: unexpected argument 'b'" "${m[@]}" alias new a b
check "alias publish: bad name" 2 "alias name 'x y': 1 to 32" "${m[@]}" alias publish "x y"
check "alias list: unknown option" 2 "alias list: unexpected argument '--all'" \
	"${m[@]}" alias list --all
check "alias new: good name, no daemon" 1 "$notrun" "${m[@]}" alias new svc-1_a
check "alias list --records, no daemon" 1 "$notrun" "${m[@]}" alias list --records

check "--to: 52 'a' is no key" 2 "--to: '$zero' is not a valid alias: not an Ed25519 public key" \
	"${b[@]}" --to "$zero"
check "--to: 51 characters" 2 "is not a valid alias: an alias is 52 characters" \
	"${b[@]}" --to "${good:0:51}"
check "--to: 53 characters" 2 "is not a valid alias: an alias is 52 characters" \
	"${b[@]}" --to "${good}a"
check "--to: stray bits past the key" 2 "is not a valid alias: an alias ends in 'a' or 'q'" \
	"${b[@]}" --to "${good:0:51}b"
check "--to ALIAS with --via" 2 "--to ALIAS: --hops, --via and --lifetime do not apply" \
	"${b[@]}" --to "$good" --via r1
check "--to ALIAS with --hops" 2 "--to ALIAS: --hops, --via and --lifetime do not apply" \
	"${b[@]}" --hops 2 --to "$good"
check "--to: a valid alias reaches for the daemon" 1 "$notrun" "${b[@]}" --to "$good"
check "--to: upper case alias accepted" 1 "$notrun" "${b[@]}" --to "${good^^}"
# relay names and addresses are not mistaken for aliases
check "--to: an address is no alias" 1 "$notrun" "${b[@]}" --to fd00::1
ktap_finished
