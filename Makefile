# SPDX-License-Identifier: GPL-2.0
#
# maquis top-level build.  `make` builds module, BPF objects, daemon and CLI;
# `make check` runs every test; `make demo` shows a circuit at work.
# Missing Debian packages are installed by the `deps` target (as root).

TOP	:= $(CURDIR)
BUILD	:= $(TOP)/build
export TOP BUILD

# The one list of Debian packages maquis needs to build, test and demo.
DEBIAN_DEPS := make gcc gcc-12 libc6-dev clang llvm lld bpftool dwarves \
	libbpf-dev libelf-dev zlib1g-dev libnl-3-dev libnl-genl-3-dev \
	libsodium-dev pkg-config python3 python3-yaml python3-jsonschema \
	qemu-system-x86 busybox-static cpio xz-utils kmod iproute2 iperf3 \
	iputils-ping ethtool procps xxd libclang-rt-14-dev \
	libxdp-dev xdp-tools

PREFIX	?= /usr/local
DESTDIR	?=

.PHONY: all deps module bpf userspace check demo bench fuzz install uninstall \
	clean

all: module bpf userspace

deps:
	@missing=$$(for p in $(DEBIAN_DEPS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing" $$missing; \
		[ "$$(id -u)" = 0 ] || { echo "deps: run as root to install:" $$missing >&2; exit 1; }; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

module: deps
	@kdir=$$($(TOP)/kmod/fetch-kernel.sh headers) && \
	$(MAKE) -C "$$kdir" M=$(TOP) modules

bpf: deps
	$(MAKE) -C bpf

userspace: deps bpf
	$(MAKE) -C daemon

check: all
	$(TOP)/tests/run-tests.sh

demo: all
	$(TOP)/tests/demo/run.sh

bench: all
	$(TOP)/tests/bench/run.sh

# The long libFuzzer run over every parser (make check runs a bounded one).
fuzz: userspace
	$(MAKE) -C tests/fuzz fuzz

VERSION	:= 0.1
DKMS_SRC := $(DESTDIR)/usr/src/maquis-$(VERSION)

# The module goes in for the 6.12 kernel it was built against, and its
# source into /usr/src for dkms, which rebuilds it for every new kernel.
# Debian's headers carry no signing key, so the module goes in unsigned
# rather than through a failing sign-file (dkms signs its own builds with
# its MOK key).  kbuild's depmod needs a System.map the headers lack: run
# depmod here, on the real system only, for a kernel installed there (else
# the kernel package's postinst runs it).
install: all
	@set -e; kdir=$$($(TOP)/kmod/fetch-kernel.sh headers); \
	kver=$$(cat "$$kdir/include/config/kernel.release"); \
	key=$$(sed -n 's/^CONFIG_MODULE_SIG_KEY="\(.*\)"$$/\1/p' "$$kdir/.config"); \
	case $$key in /*|pkcs11:*) ;; *) key=$$kdir/$$key ;; esac; \
	nosign=; \
	if grep -q '^CONFIG_MODULE_SIG_ALL=y' "$$kdir/.config" && \
	   { [ ! -f "$$key" ] || [ ! -f "$$kdir/certs/signing_key.x509" ]; }; then \
		echo "install: no signing key in $$kdir: maquis.ko goes in unsigned"; \
		nosign=CONFIG_MODULE_SIG_ALL=; \
	fi; \
	$(MAKE) -C "$$kdir" M=$(TOP) INSTALL_MOD_PATH=$(DESTDIR) \
		INSTALL_MOD_DIR=updates $$nosign modules_install; \
	if [ -z "$(DESTDIR)" ] && [ -e /lib/modules/$$kver/modules.builtin ]; then \
		echo "install: depmod -a $$kver"; depmod -a "$$kver"; \
	fi
	install -d $(DKMS_SRC)/kmod $(DKMS_SRC)/include/maquis $(DKMS_SRC)/include/uapi/linux
	install -m 0644 dkms.conf Kbuild $(DKMS_SRC)/
	install -m 0644 kmod/Kbuild $(filter-out %.mod.c,$(wildcard kmod/*.c)) kmod/*.h \
		$(DKMS_SRC)/kmod/
	install -m 0644 include/maquis/*.h $(DKMS_SRC)/include/maquis/
	install -m 0644 include/uapi/linux/maquis.h $(DKMS_SRC)/include/uapi/linux/
	$(MAKE) -C daemon install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

# The dkms registration too, on the real system; an edited
# /etc/maquis/maquisd.conf stays.
uninstall:
	@set -e; if [ -z "$(DESTDIR)" ] && command -v dkms >/dev/null && \
	   dkms status maquis/$(VERSION) 2>/dev/null | grep -q .; then \
		echo "uninstall: dkms remove maquis/$(VERSION) --all"; \
		dkms remove maquis/$(VERSION) --all; \
	fi
	rm -rf $(DKMS_SRC)
	@set -e; for ko in $(DESTDIR)/lib/modules/*/updates/kmod/maquis.ko*; do \
		[ -e "$$ko" ] || continue; \
		echo "rm $$ko"; rm -f "$$ko"; \
		rmdir --ignore-fail-on-non-empty "$${ko%/*}" "$${ko%/kmod/*}"; \
		kver=$${ko#$(DESTDIR)/lib/modules/}; kver=$${kver%%/*}; \
		if [ -z "$(DESTDIR)" ] && [ -e /lib/modules/$$kver/modules.builtin ]; then \
			depmod -a "$$kver"; \
		fi; \
	done
	$(MAKE) -C daemon uninstall PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

clean:
	@kdir=$$(ls -d $(BUILD)/kernel/root/usr/src/linux-headers-*-amd64 2>/dev/null | head -1); \
	[ -z "$$kdir" ] || $(MAKE) -C "$$kdir" M=$(TOP) clean
	$(MAKE) -C bpf clean
	$(MAKE) -C daemon clean
