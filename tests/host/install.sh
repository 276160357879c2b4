#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make install DESTDIR=<scratch> PREFIX=/usr` from the top of the tree:
# every file where a Debian host expects it and with its mode (module,
# dkms source tree, programs, man pages, systemd unit, example config),
# man pages that render without warnings, a unit that systemd-analyze
# accepts, the shipped configurations accepted by `maquisd -t`, a second
# install that changes nothing and keeps an edited maquisd.conf, the
# PREFIX=/usr/local layout, and an uninstall that leaves only that edited
# file.  Nothing outside the scratch directory is written: the test also
# checks that the real paths are as they were.  Prints KTAP.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

ksft=$("$top/kmod/fetch-kernel.sh" source 2>/dev/null)/tools/testing/selftests
# shellcheck source=/dev/null
. "$ksft/kselftest/ktap_helpers.sh" || { echo "Bail out! no ktap_helpers.sh"; exit 1; }

NTESTS=20
MAKE_TIMEOUT=300
MAN_PAGES=(man8/maquis.8 man8/maquisd.8 man5/maquisd.conf.5)
UNIT=usr/lib/systemd/system/maquisd.service
EXEC="/usr/sbin/maquisd --config /etc/maquis/maquisd.conf"
# `systemd-analyze security` scores 0 (locked down) to 10 (wide open);
# the unit scores 2.9 today.
MAX_EXPOSURE=40

tmp=$(mktemp -d /tmp/maquis-install.XXXXXX) || exit 1
root=$tmp/root
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

log() { echo "# $*"; said=$*; }
diag() { sed 's/^/# /'; }	# stdin as KTAP diagnostics

# Run a check: 0 pass, 4 skip (the reason its last log() gave), else fail.
t() {
	local name=$1 rc
	shift
	said=
	"$@"
	rc=$?
	case $rc in
	0) ktap_test_pass "$name" ;;
	4) __ktap_test ok "$name" "SKIP $said"
	   KTAP_CNT_SKIP=$((KTAP_CNT_SKIP + 1)) ;;
	*) ktap_test_fail "$name" ;;
	esac
}

# mode <want> <path>: the file exists with exactly that mode.
mode() {
	local got

	got=$(stat -c %a "$2" 2>/dev/null) || { log "missing: ${2#"$root"}"; return 1; }
	[[ $got == "$1" ]] || { log "${2#"$root"}: mode $got, want $1"; return 1; }
}

# installed <dir> <name>: the file as installed, compressed or not.
installed() {
	local f

	for f in "$1/$2" "$1/$2".{gz,xz,zst}; do
		[[ -e $f ]] && { echo "$f"; return 0; }
	done
	return 1
}

# The real system's copies of what the install writes (or their absence).
REAL=(/usr/sbin/maquis /usr/sbin/maquisd /etc/maquis /usr/src/maquis-0.1
      /usr/lib/systemd/system/maquisd.service /lib/systemd/system/maquisd.service
      /usr/local/lib/systemd/system/maquisd.service
      /usr/share/man/man8/maquisd.8 /usr/share/man/man5/maquisd.conf.5)
real_state() {
	local p

	for p in "${REAL[@]}" /lib/modules/*/updates/kmod/maquis.ko*; do
		stat -c '%n %a %s %Y' "$p" 2>/dev/null || echo "$p absent"
	done
}

# Every path, its mode and the digest of every file, relative to $root.
snapshot() {
	(cd "$root" && find . -printf '%M %p\n' | sort &&
	 find . -type f -exec md5sum {} + | sort -k 2)
}

do_install() {	# do_install <log> [make args...]
	local out=$1

	shift
	timeout "$MAKE_TIMEOUT" make -C "$top" --no-print-directory install \
		DESTDIR="$root" PREFIX=/usr "$@" > "$out" 2>&1
}

check_install() {
	if ! do_install "$tmp/install.log"; then
		log "make install failed; its log ends with:"
		tail -n 30 "$tmp/install.log" | diag
		return 1
	fi
}

check_real() {
	real_state > "$tmp/real.after"
	diff -u "$tmp/real.before" "$tmp/real.after" | diag
	cmp -s "$tmp/real.before" "$tmp/real.after"
}

check_module() {
	local built=$top/kmod/maquis.ko kver ko

	kver=$(modinfo -F vermagic "$built" 2>/dev/null | cut -d ' ' -f 1)
	[[ $kver == 6.12.* ]] || { log "kmod/maquis.ko: vermagic '$kver', want 6.12"; return 1; }
	ko=$(installed "$root/lib/modules/$kver/updates/kmod" maquis.ko) ||
		{ log "no maquis.ko under lib/modules/$kver/updates/kmod"; return 1; }
	log "module: ${ko#"$root"}"
	mode 644 "$ko" || return 1
	# the built module, plus a signature when the headers had a key
	case $ko in
	*.xz) xz -dc "$ko" ;;
	*.gz) gzip -dc "$ko" ;;
	*.zst) zstd -qdc "$ko" ;;
	*) cat "$ko" ;;
	esac > "$tmp/maquis.ko"
	cmp -s -n "$(stat -c %s "$built")" "$built" "$tmp/maquis.ko" ||
		{ log "${ko#"$root"} is not kmod/maquis.ko"; return 1; }
}

check_dkms() {
	local d=$root/usr/src/maquis-0.1 f bad=0

	mode 644 "$d/dkms.conf" || return 1
	grep -qx 'PACKAGE_VERSION="0.1"' "$d/dkms.conf" ||
		{ log "dkms.conf: PACKAGE_VERSION is not 0.1"; bad=1; }
	for f in Kbuild kmod/Kbuild include/uapi/linux/maquis.h \
		 $(cd "$top" && git ls-files 'kmod/*.[ch]' 'include/maquis/*.h'); do
		mode 644 "$d/$f" || bad=1
	done
	# build products have no place in a source tree
	f=$(cd "$d" && find . -name '*.mod.c' -o -name '*.o' -o -name '*.ko' -o -name '*.cmd')
	[[ -z $f ]] || { log "build products in the dkms tree: $f"; bad=1; }
	return $bad
}

check_progs() {
	local p bad=0

	for p in maquis maquisd; do
		mode 755 "$root/usr/sbin/$p" || { bad=1; continue; }
		cmp -s "$top/daemon/$p" "$root/usr/sbin/$p" ||
			{ log "/usr/sbin/$p is not daemon/$p"; bad=1; }
	done
	return $bad
}

check_man_files() {
	local p f bad=0

	for p in "${MAN_PAGES[@]}"; do
		f=$(installed "$root/usr/share/man/${p%/*}" "${p#*/}") ||
			{ log "missing: /usr/share/man/$p"; bad=1; continue; }
		mode 644 "$f" || bad=1
	done
	return $bad
}

check_man_render() {	# check_man_render <manN/page>
	local f out

	if ! command -v man > /dev/null; then
		log "no man(1) on this host"
		return 4
	fi
	f=$(installed "$root/usr/share/man/${1%/*}" "${1#*/}") || { log "missing: $1"; return 1; }
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 MANPAGER=cat man --warnings -l "$f" 2>&1 > "$tmp/page.txt")
	[[ -z $out ]] || { diag <<< "$out"; return 1; }
	# a page that renders to nothing is no page
	grep -q '^NAME' "$tmp/page.txt" || { log "$1 renders without a NAME section"; return 1; }
}

check_unit() {
	local u=$root/$UNIT exec

	mode 644 "$u" || return 1
	exec=$(sed -n 's/^ExecStart=//p' "$u")
	[[ $exec == "$EXEC" ]] || { log "ExecStart='$exec', want '$EXEC'"; return 1; }
	if grep -n '@[A-Z]*@' "$u" > "$tmp/subst"; then
		log "placeholders left:"; diag < "$tmp/subst"
		return 1
	fi
}

# The unit with ExecStart pointing into the scratch root, so systemd-analyze
# finds the program there, and the man pages of Documentation= on MANPATH.
analyze() {	# analyze <systemd-analyze args...>
	mkdir -p "$tmp/unit"
	sed "s|^ExecStart=/|ExecStart=$root/|" "$root/$UNIT" > "$tmp/unit/maquisd.service"
	(cd "$tmp/unit" && MANPATH=$root/usr/share/man systemd-analyze "$@" ./maquisd.service 2>&1)
}

check_verify() {
	local out

	if ! command -v systemd-analyze > /dev/null; then
		log "no systemd-analyze on this host"
		return 4
	fi
	[[ -e $root/$UNIT ]] || { log "missing: /$UNIT"; return 1; }
	out=$(analyze verify) || { diag <<< "$out"; return 1; }
	[[ -z $out ]] || { diag <<< "$out"; return 1; }
}

check_exposure() {
	local out rc

	if ! command -v systemd-analyze > /dev/null ||
	   ! systemd-analyze security --help 2>&1 | grep -q -- --offline; then
		log "no offline systemd-analyze security on this host"
		return 4
	fi
	[[ -e $root/$UNIT ]] || { log "missing: /$UNIT"; return 1; }
	out=$(analyze security --offline=yes --threshold="$MAX_EXPOSURE")
	rc=$?
	# the settings that cost exposure, then the score
	[[ $rc -eq 0 ]] || echo "$out" | grep -v -e '^✓' -e 'Overall exposure' | diag
	echo "$out" | grep 'Overall exposure' | diag
	return $((rc != 0))
}

check_conf() {
	local d=$root/etc/maquis

	mode 755 "$d" && mode 644 "$d/maquisd.conf.example" && mode 644 "$d/maquisd.conf" || return 1
	cmp -s "$top/daemon/maquisd.conf" "$d/maquisd.conf.example" ||
		{ log "maquisd.conf.example is not daemon/maquisd.conf"; return 1; }
	cmp -s "$d/maquisd.conf.example" "$d/maquisd.conf" ||
		{ log "a fresh maquisd.conf is not the example"; return 1; }
}

# maquisd -t exists once the daemon does; until then these two skip.
have_test_config() {
	[[ -x $root/usr/sbin/maquisd ]] &&
		timeout 10 "$root/usr/sbin/maquisd" --help 2>&1 | grep -q -- --test-config
}

# The configurations the documentation shows: the example as shipped and
# with every setting uncommented, and every .nf/.fi block of the man pages
# that holds a "key = value" line.
check_doc_configs() {
	local f n=0 bad=0 out

	if ! have_test_config; then
		log "maquisd has no --test-config yet"
		return 4
	fi
	mkdir -p "$tmp/conf"
	cp "$root/etc/maquis/maquisd.conf.example" "$tmp/conf/example"
	sed 's/^#\([a-z]\)/\1/' "$root/etc/maquis/maquisd.conf.example" > "$tmp/conf/uncommented"
	for f in maquisd.8 maquisd.conf.5; do
		awk -v out="$tmp/conf/$f" '
			/^\.nf/ { inb = 1; buf = ""; keys = 0; next }
			/^\.fi/ { if (keys) print buf > (out "." ++n); inb = 0; next }
			inb { gsub(/\\-/, "-"); buf = buf $0 "\n";
			      if ($0 ~ /^[a-z-]+ = /) keys = 1 }
		' "$top/daemon/$f"
	done
	for f in "$tmp"/conf/*; do
		n=$((n + 1))
		out=$(timeout 10 "$root/usr/sbin/maquisd" -t -c "$f" 2>&1) ||
			{ log "${f##*/}: $out"; bad=1; }
	done
	# example, uncommented, the relay and five hosts of maquisd.8, the
	# client of maquisd.conf.5
	[[ $n -ge 9 ]] || { log "only $n configurations found"; bad=1; }
	return $bad
}

check_bad_config() {
	local out rc

	if ! have_test_config; then
		log "maquisd has no --test-config yet"
		return 4
	fi
	printf 'role = relay\n\nhops = 9\n' > "$tmp/bad.conf"
	out=$(timeout 10 "$root/usr/sbin/maquisd" -t -c "$tmp/bad.conf" 2>&1)
	rc=$?
	[[ $rc -eq 1 && $out == *"$tmp/bad.conf:3: hops:"* ]] ||
		{ log "rc=$rc: $out"; return 1; }
}

EDITED='# edited by the operator
role = relay
listen = 192.0.2.7
'

check_reinstall() {
	printf '%s' "$EDITED" > "$root/etc/maquis/maquisd.conf"
	snapshot > "$tmp/snap.before"
	do_install "$tmp/install2.log" ||
		{ tail -n 30 "$tmp/install2.log" | diag; return 1; }
	snapshot > "$tmp/snap.after"
	diff -u "$tmp/snap.before" "$tmp/snap.after" | diag
	cmp -s "$tmp/snap.before" "$tmp/snap.after"
}

check_kept() {
	[[ $(cat "$root/etc/maquis/maquisd.conf" 2>/dev/null)$'\n' == "$EDITED" ]] ||
		{ log "maquisd.conf was overwritten"; return 1; }
}

# The daemon's part alone (the module does not depend on PREFIX).
check_local() {
	local r=$tmp/local exec bad=0

	timeout "$MAKE_TIMEOUT" make -C "$top/daemon" --no-print-directory install \
		DESTDIR="$r" > "$tmp/local.log" 2>&1 ||
		{ tail -n 30 "$tmp/local.log" | diag; return 1; }
	mode 755 "$r/usr/local/sbin/maquisd" || bad=1
	mode 644 "$r/usr/local/share/man/man8/maquisd.8" || bad=1
	mode 644 "$r/etc/maquis/maquisd.conf.example" || bad=1
	exec=$(sed -n 's/^ExecStart=//p' "$r/usr/local/lib/systemd/system/maquisd.service" 2>/dev/null)
	[[ $exec == "/usr/local/sbin/maquisd --config /etc/maquis/maquisd.conf" ]] ||
		{ log "PREFIX=/usr/local: ExecStart='$exec'"; bad=1; }
	return $bad
}

check_uninstall() {
	local left

	timeout "$MAKE_TIMEOUT" make -C "$top" --no-print-directory uninstall \
		DESTDIR="$root" PREFIX=/usr > "$tmp/uninstall.log" 2>&1 ||
		{ tail -n 30 "$tmp/uninstall.log" | diag; return 1; }
	left=$(cd "$root" && find . ! -type d)
	[[ $left == ./etc/maquis/maquisd.conf ]] ||
		{ log "left after uninstall: $(echo "$left" | tr '\n' ' ')"; return 1; }
}

ktap_print_header
ktap_set_plan "$NTESTS"

real_state > "$tmp/real.before"
t "make install DESTDIR=... PREFIX=/usr succeeds" check_install
if [[ $KTAP_CNT_FAIL -ne 0 ]]; then
	for ((i = 1; i < NTESTS; i++)); do ktap_test_fail "not installed"; done
	ktap_finished
fi
t "the real system is untouched" check_real
t "module in lib/modules/6.12/updates, as built" check_module
t "dkms tree: dkms.conf and the module sources, no build products" check_dkms
t "maquis and maquisd in /usr/sbin, 0755, as built" check_progs
t "man pages in man8 and man5, 0644" check_man_files
for p in "${MAN_PAGES[@]}"; do
	t "man --warnings renders ${p#*/} cleanly" check_man_render "$p"
done
t "unit: 0644, ExecStart=$EXEC" check_unit
t "systemd-analyze verify accepts the unit" check_verify
t "systemd-analyze security: exposure at most $((MAX_EXPOSURE / 10)).$((MAX_EXPOSURE % 10))" \
	check_exposure
t "/etc/maquis: example config, maquisd.conf created from it" check_conf
t "maquisd -t accepts the example and the man pages' configs" check_doc_configs
t "maquisd -t names file, line and key of a bad setting" check_bad_config
t "second install: same files, modes and contents" check_reinstall
t "second install keeps an edited maquisd.conf" check_kept
t "PREFIX=/usr/local: sbin, man, unit and ExecStart follow" check_local
t "uninstall leaves only the edited maquisd.conf" check_uninstall
t "the real system is still untouched" check_real
ktap_finished
