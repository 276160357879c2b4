#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: boot the VM bench with maquis.ko and run guest.sh in it: five
# namespaces, a 3-hop circuit, traffic, and what every host saw.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
make -s -C tests/kmod >/dev/null
echo "maquis demo: booting Debian's 6.12 kernel in QEMU (TCG, takes a minute)..."
exec tests/vm/run.sh --quiet --timeout 900 --insmod kmod/maquis.ko -- \
	tests/demo/guest.sh
