#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch Debian's 6.12 kernel pieces without installing them: installing the
# image would trigger an initramfs rebuild, and the build only needs files.
#
#   fetch-kernel.sh headers  -> prints the KDIR to build modules against
#   fetch-kernel.sh image    -> prints the directory holding vmlinuz + modules
#   fetch-kernel.sh source   -> prints the directory of the extracted source
#
# Everything lands in $MAQUIS_CACHE (default: <repo>/build/kernel), once.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${MAQUIS_CACHE:-$top/build/kernel}
root=$cache/root
mkdir -p "$cache/debs" "$root"

# Resolve the versioned package behind a Debian meta package.
resolve() {
	apt-cache depends "$1" 2>/dev/null | awk '/Depends: linux-/{print $2; exit}'
}

fetch() {	# fetch <package>... : download and extract each once
	local p
	for p in "$@"; do
		[[ -e $cache/debs/$p.done ]] && continue
		(cd "$cache/debs" && rm -f "${p}"_*.deb && apt-get download "$p" >/dev/null 2>&1) ||
			{ apt-get update -qq && (cd "$cache/debs" && apt-get download "$p" >/dev/null); }
		dpkg -x "$cache/debs/${p}"_*.deb "$root"
		rm -f "$cache/debs/${p}"_*.deb
		touch "$cache/debs/$p.done"
	done
}

need_meta() {
	local v
	v=$(resolve "$1")
	if [[ -z $v ]]; then
		apt-get update -qq >/dev/null
		v=$(resolve "$1")
	fi
	[[ -n $v ]] || { echo "fetch-kernel: cannot resolve $1 in apt" >&2; exit 1; }
	echo "$v"
}

case "${1:-}" in
headers)
	hdr=$(need_meta linux-headers-6.12-amd64)
	deps=$(apt-cache depends "$hdr" | awk '/Depends: linux-(headers|kbuild)/{print $2}')
	fetch "$hdr" $deps
	kdir=$root/usr/src/$hdr
	# Debian's arch Makefile includes the common tree by absolute path.
	sed -i "s|^include /usr/src/|include $root/usr/src/|" "$kdir/Makefile"
	echo "$kdir"
	;;
image)
	img=$(need_meta linux-image-6.12-amd64)
	fetch "$img"
	echo "$root"
	;;
source)
	fetch linux-source-6.12
	src=$cache/src
	if [[ ! -d $src/tools ]]; then
		mkdir -p "$src"
		tar -C "$src" --strip-components=1 -xf "$root"/usr/src/linux-source-6.12.tar.xz \
			--wildcards '*/tools/testing/selftests/kselftest*' \
			'*/tools/net/ynl' '*/Documentation/netlink/genetlink*.yaml'
	fi
	echo "$src"
	;;
*)
	echo "usage: $0 headers|image|source" >&2
	exit 2
	;;
esac
