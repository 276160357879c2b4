#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: boot the VM bench with maquis.ko and run guest.sh in it:
# maquisd on the testbed's nine relays and three endpoints, gossip, a 3-hop
# circuit built by the daemons, traffic while keys rotate, what every host
# saw, a tampered cell dropped, a service reached by its alias through a
# rendezvous relay, a relay deleted under traffic and routed around,
# teardown.  Exits with guest.sh's status (the VM bench's own, 124..126,
# when the VM timed out or the kernel misbehaved).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
make -s -C tests/kmod >/dev/null
echo "maquis demo: booting Debian's 6.12 kernel in QEMU (TCG, takes a minute)..."
# Show what the guest prints, not the kernel's boot log or the bench's markers.
tests/vm/run.sh --timeout 600 --insmod kmod/maquis.ko -- tests/demo/guest.sh |
	grep --line-buffered -vE '^\[ *[0-9]+\.[0-9]+\]|^MAQUIS-VM-|^maquis-vm: insmod' |
	sed -u -n '/^maquis-vm: /p; /^$/,$p'
