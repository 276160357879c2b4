#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Generate the uapi header and the kernel policy tables from the YNL spec
# include/maquis.yaml with the kernel's own generator (tools/net/ynl from
# Debian's linux-source-6.12).  `ynl-gen.sh --check` regenerates into a
# temporary directory and fails if the committed files differ.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
src=$("$top/kmod/fetch-kernel.sh" source)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# The generator looks for the schema next to the spec's parent directory.
mkdir -p "$stage/specs" "$stage/out"
cp "$top/include/maquis.yaml" "$stage/specs/maquis.yaml"
ln -s "$src/Documentation/netlink/genetlink.yaml" "$stage/genetlink.yaml"
# ...and names the spec relative to the first parent holding MAINTAINERS.
touch "$stage/MAINTAINERS"

# Debian's python3 with python3-yaml and python3-jsonschema (DEBIAN_DEPS),
# whatever other python3 comes first in PATH.
gen() {		# gen <mode> <--header|--source> <output>
	/usr/bin/python3 "$src/tools/net/ynl/ynl-gen-c.py" --mode "$1" "$2" \
		--spec "$stage/specs/maquis.yaml" -o "$3" >"$stage/log" ||
		{ cat "$stage/log" >&2; exit 1; }
	# The generator names the staging path; name the committed spec instead.
	sed -i "s|\tspecs/maquis.yaml|\tinclude/maquis.yaml|" "$3"
}

gen uapi --header "$stage/out/maquis.h"
# The generator only accepts specs under GPL-2.0-with-note OR BSD-3-Clause;
# we wrote the spec, and our uapi headers are licensed like the rest of them.
sed -i '1s|.*|/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */|' \
	"$stage/out/maquis.h"
gen kernel --header "$stage/out/netlink-gen.h"
gen kernel --source "$stage/out/netlink-gen.c"
sed -i 's|#include <uapi/linux/maquis.h>|#include <linux/maquis.h>|' \
	"$stage/out/netlink-gen.h" "$stage/out/netlink-gen.c"

targets=("include/uapi/linux/maquis.h:maquis.h"
	 "kmod/netlink-gen.h:netlink-gen.h"
	 "kmod/netlink-gen.c:netlink-gen.c")
rc=0
for t in "${targets[@]}"; do
	dst=$top/${t%%:*} out=$stage/out/${t##*:}
	if [[ ${1:-} == --check ]]; then
		if ! diff -u "$dst" "$out"; then
			echo "ynl-gen: ${t%%:*} is stale; run kmod/ynl-gen.sh" >&2
			rc=1
		fi
	else
		install -m 0644 "$out" "$dst"
	fi
done
exit $rc
