#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the bench's figure lines into results.md, data files and plots.

  report.py DIR

reads DIR/bench.txt ("bench: NAME=VALUE UNIT"), DIR/not-measured.txt
("not-measured: NAME: REASON") and DIR/info.txt (KEY=VALUE about the run),
writes DIR/results.md, DIR/payload.dat, DIR/scale.dat, DIR/e2e.dat,
DIR/scale-vm.dat and, with gnuplot, the PNG of each (scale-vm and e2e only
when their steps ran).
"""
import os
import re
import subprocess
import sys

PAYLOADS = (64, 512, 1292)


def load(d):
    figs, units, missing, info = {}, {}, {}, {}
    try:
        for line in open(os.path.join(d, "bench.txt")):
            m = re.match(r"bench: (\S+)=(\S+) (\S+)", line)
            if m:
                try:
                    figs[m.group(1)] = float(m.group(2))
                    units[m.group(1)] = m.group(3)
                except ValueError:
                    pass
    except OSError:
        pass
    try:
        for line in open(os.path.join(d, "not-measured.txt")):
            m = re.match(r"not-measured: (\S+): (.*)", line.rstrip("\n"))
            if m:
                missing[m.group(1)] = m.group(2)
    except OSError:
        pass
    try:
        for line in open(os.path.join(d, "info.txt")):
            k, _, v = line.rstrip("\n").partition("=")
            info[k] = v
    except OSError:
        pass
    return figs, units, missing, info


def fmt(v, unit):
    if v is None:
        return None
    if abs(v) >= 100:
        s = "%.0f" % v
    elif abs(v) >= 10:
        s = "%.1f" % v
    elif abs(v) >= 1:
        s = "%.2f" % v
    else:
        s = "%.3g" % v
    return "%s %s" % (s, unit)


class Table:
    def __init__(self, figs, units, missing):
        self.figs, self.units, self.missing = figs, units, missing
        self.rows = []

    def cell(self, name, why=None):
        """Value of a figure, or why it is missing."""
        if name is None:
            return "—"
        if name in self.figs:
            return fmt(self.figs[name], self.units[name])
        # a figure of a path that did not run says why its headline did not
        sibling = re.sub(r"_[a-z]+$", "_tcp", name)
        reason = (self.missing.get(name) or why or self.missing.get(sibling)
                  or "not measured: step not run")
        if not reason.startswith("not measured"):
            reason = "not measured: " + reason
        return reason

    def row(self, figure, maq, base, why_maq=None, why_base=None,
            ratio=None):
        m = self.cell(maq, why_maq)
        b = self.cell(base, why_base)
        if ratio == "-":
            r = "—"
        elif ratio and ratio in self.figs:
            r = fmt(self.figs[ratio], "×")
        elif maq in self.figs and base in self.figs and self.figs[base]:
            r = fmt(self.figs[maq] / self.figs[base], "×")
        else:
            r = "—"
        self.rows.append((figure, m, b, r))

    def section(self, title):
        self.rows.append((title,))

    def markdown(self):
        out = ["| figure | maquis | baseline | ratio |",
               "|---|---|---|---|"]
        for r in self.rows:
            if len(r) == 1:
                out.append("| **%s** | | | |" % r[0])
            else:
                out.append("| %s | %s | %s | %s |" % r)
        return "\n".join(out)


def scale_ns(figs):
    ns = set()
    for k in figs:
        m = re.match(r"xdp_scale_(\d+)_relay_fwd_rate$", k)
        if m:
            ns.add(int(m.group(1)))
    return sorted(ns)


def vm_scale_ns(figs):
    ns = set()
    for k in figs:
        m = re.match(r"vm_xdp_scale_(\d+)_kfunc_fwd_rate$", k)
        if m:
            ns.add(int(m.group(1)))
    return sorted(ns)


def kmem_ns(figs):
    return sorted(int(m.group(1)) for m in
                  (re.match(r"kmod_bytes_per_circuit_(\d+)$", k) for k in figs)
                  if m)


def build_table(figs, units, missing, info):
    t = Table(figs, units, missing)
    kfunc = missing.get("vm_xdp_kfunc_fwd_rate",
                        "the VM part did not run (run.sh --vm)")
    kmem = missing.get("vm_xdp_kfunc_fwd_rate",
                       "measured in the VM (xdp_rate --kfunc): did not run")
    t.section("1. Per-hop relay rate, one core, XDP live frames through veth "
              "(host, pure-BPF ChaCha20-Poly1305); baseline: bpf/xdp_fwd")
    t.row("forward cells (verify, decrypt, strip), Mpps",
          "xdp_relay_fwd_rate", "xdp_base_rate", ratio="xdp_relay_fwd_ratio")
    t.row("backward cells (wrap a layer), Mpps",
          "xdp_relay_back_rate", "xdp_base_rate", ratio="xdp_relay_back_ratio")
    t.row("forward, ns per cell", "xdp_relay_fwd_ns", "xdp_base_ns")
    t.row("forward, Gb/s of 1478-byte frames", "xdp_relay_fwd_wire",
          "xdp_base_wire")
    for p in PAYLOADS:
        t.row("forward goodput, %d-byte inner payload (the same 1436-byte "
              "cell), Gb/s" % p, "xdp_relay_fwd_goodput_%d" % p,
              "xdp_base_goodput_%d" % p)
    t.row("backward, without the feeder (self-relabelling circuit), Mpps",
          "xdp_relay_back_bare_rate", "xdp_base_bare_rate")
    t.row("feeder cost (xdp_fwd with minus without), ns per cell",
          None, "xdp_feeder_overhead")
    t.row("forward cells, kfunc crypto (VM), Mpps; baseline xdp_fwd in "
          "the same VM", "vm_xdp_kfunc_fwd_rate", "vm_xdp_base_rate",
          why_maq=kfunc, why_base=kfunc, ratio="vm_xdp_kfunc_fwd_ratio")
    t.row("forward cells, pure-BPF crypto (VM), Mpps; baseline xdp_fwd",
          "vm_xdp_relay_fwd_rate", "vm_xdp_base_rate", why_maq=kfunc,
          why_base=kfunc, ratio="vm_xdp_relay_fwd_ratio")
    t.row("forward cells (VM): kfunc vs pure-BPF relay, Mpps",
          "vm_xdp_kfunc_fwd_rate", "vm_xdp_relay_fwd_rate", why_maq=kfunc,
          why_base=kfunc, ratio="vm_xdp_kfunc_vs_bpf_ratio")
    t.row("forward cells, maquis.ko's own path without XDP (UDP socket, "
          "VM), Mpps; baseline xdp_fwd", "vm_xdp_kmod_fwd_rate",
          "vm_xdp_base_rate", why_maq=kfunc, why_base=kfunc,
          ratio="vm_xdp_kmod_fwd_ratio")
    t.row("forward cells (VM): kfunc XDP relay vs the module's socket path, "
          "Mpps", "vm_xdp_kfunc_fwd_rate", "vm_xdp_kmod_fwd_rate",
          why_maq=kfunc, why_base=kfunc, ratio="vm_xdp_kfunc_vs_kmod_ratio")

    t.section("2. 3-hop end to end (host), namespaces origin-r1-r2-r3-term: "
              "maquis with BPF-only relays (XDP, pure-BPF crypto) and "
              "userspace TUN endpoints; baselines through the same "
              "namespaces in the same run")
    wg = "3 chained WireGuard tunnels (%s)" % info.get("wg_impl",
                                                       "wireguard-go")
    bases = (("e2e_plain", "plain veth routing"), ("e2e_wg", wg),
             ("tor", "Tor, 3 relays, SOCKS bulk download"))
    maq = "e2e_maquis_bpf"
    why = missing.get(maq + "_tcp")
    for base, what in bases:
        t.row("iperf3 TCP vs %s, Gb/s" % what, maq + "_tcp", base + "_tcp",
              why_maq=why)
    udp = "iperf3 UDP, 1264-byte datagrams (one full cell each)"
    for base, what in bases[:2]:
        t.row("%s vs %s, Gb/s received" % (udp, what), maq + "_udp",
              base + "_udp", why_maq=missing.get(maq + "_udp", why))
        t.row("%s vs %s: datagrams lost, %%" % (udp, what),
              maq + "_udp_loss", base + "_udp_loss",
              why_maq=missing.get(maq + "_udp", why),
              why_base=missing.get(base + "_udp"), ratio="-")
    for base, what in bases:
        t.row("RTT vs %s, ms" % what.split(",")[0], maq + "_rtt",
              base + "_rtt", why_maq=why)
    for base, what in bases[1:]:
        t.row("added RTT over plain routing vs %s, ms" % what.split(",")[0],
              maq + "_added_rtt", base + "_added_rtt", why_maq=why)
    for base, what in bases:
        t.row("CPU seconds per GB vs %s" % what.split(",")[0], maq + "_cpu",
              base + "_cpu", why_maq=why)
    t.row("iperf3 TCP through maquis.ko's maq0 (host), Gb/s",
          "e2e_maquis_tcp", None, why_maq=missing.get("e2e_maquis_tcp"))

    if any(k.startswith("vm_") for k in list(figs) + list(missing)):
        t.section("2b. the same in the VM (QEMU TCG: slow, compare only "
                  "within this section)")
        vmaq = "vm_e2e_maquis_tcp"
        for base, what in (("vm_e2e_plain", "plain veth routing"),
                           ("vm_e2e_wg", "3 chained WireGuard tunnels "
                            "(kernel)")):
            t.row("throughput vs %s, Gb/s" % what, vmaq, base + "_tcp",
                  why_maq=missing.get(vmaq))
            t.row("RTT vs %s, ms" % what, "vm_e2e_maquis_rtt", base + "_rtt",
                  why_maq=missing.get(vmaq))
            t.row("CPU seconds per GB vs %s" % what, "vm_e2e_maquis_cpu",
                  base + "_cpu", why_maq=missing.get(vmaq))
            t.row("%s vs %s, Gb/s received" % (udp, what),
                  "vm_e2e_maquis_udp", base + "_udp",
                  why_maq=missing.get("vm_e2e_maquis_udp",
                                      missing.get(vmaq)),
                  # e2e.sh's ratio is over plain routing only
                  ratio=("vm_e2e_maquis_udp_ratio"
                         if base == "vm_e2e_plain" else None))
            t.row("%s vs %s: datagrams lost, %%" % (udp, what),
                  "vm_e2e_maquis_udp_loss", base + "_udp_loss",
                  why_maq=missing.get("vm_e2e_maquis_udp",
                                      missing.get(vmaq)),
                  why_base=missing.get(base + "_udp"), ratio="-")
        why_tor = missing.get("vm_tor_tcp")
        t.row("throughput vs Tor (same VM), Gb/s", vmaq, "vm_tor_tcp",
              why_maq=missing.get(vmaq), why_base=why_tor)
        t.row("RTT vs Tor (same VM), ms", "vm_e2e_maquis_rtt", "vm_tor_rtt",
              why_maq=missing.get(vmaq), why_base=why_tor)
        t.row("added RTT vs Tor (same VM), ms", "vm_e2e_maquis_added_rtt",
              "vm_tor_added_rtt", why_maq=missing.get(vmaq),
              why_base=why_tor)
        t.row("CPU seconds per GB vs Tor (same VM)", "vm_e2e_maquis_cpu",
              "vm_tor_cpu", why_maq=missing.get(vmaq), why_base=why_tor)

    why_ctl = missing.get("ctl_relay_setup_rate")
    t.section("3. Control plane: 1-RTT setup of a 3-relay circuit, CPU per "
              "role without I/O, one core (host, libsodium); baselines in "
              "the same run")
    t.row("circuit setups per second per relay core vs WireGuard-like "
          "responder handshakes/s", "ctl_relay_setup_rate", "ctl_base_wg_rate",
          why_maq=why_ctl, why_base=why_ctl, ratio="ctl_relay_setup_ratio_wg")
    t.row("relay CPU per setup (CREATE in, CREATED back) vs X25519 + Ed25519 "
          "verify, µs", "ctl_relay_setup_us", "ctl_base_dhsig_us",
          why_maq=why_ctl, why_base=why_ctl)
    t.row("origin CPU per setup (build, open), µs", "ctl_origin_setup_us",
          None, why_maq=why_ctl)
    t.row("terminus CPU per setup, µs", "ctl_terminus_setup_us", None,
          why_maq=why_ctl)
    t.row("CPU along the whole setup path (origin + 3 relays + terminus), ms",
          "ctl_path_cpu_ms", None, why_maq=why_ctl)
    why_d = missing.get("vm_ctl_setup_rate",
                        "the VM part did not run (run.sh --vm)")
    t.row("end to end through maquisd (VM): circuits built per second "
          "(build + destroy loop)", "vm_ctl_setup_rate", None, why_maq=why_d)
    t.row("end to end through maquisd (VM): `maquis circuit build` wall "
          "time, ms", "vm_ctl_setup_latency", None, why_maq=why_d)
    t.row("end to end through maquisd (VM): setup_ms the daemon reports",
          "vm_ctl_setup_ms", None,
          why_maq=missing.get("vm_ctl_setup_ms", why_d))

    t.section("4. Scale: forward rate with N installed circuits, one cell "
              "per circuit in turn, scrambled order (host, pure BPF; rows "
              "marked VM: module table, QEMU TCG)")
    if not scale_ns(figs):
        t.row("N circuits, Mpps", "xdp_scale", None,
              why_maq=missing.get("xdp_scale"))
    for n in scale_ns(figs):
        t.row("%s circuits, Mpps" % format(n, ","),
              "xdp_scale_%d_relay_fwd_rate" % n, "xdp_scale_%d_base_rate" % n,
              ratio="xdp_scale_%d_ratio" % n)
    for n in scale_ns(figs):
        t.row("kernel memory per circuit, BPF hash map of %s (fdinfo "
              "memlock / N)" % format(n, ","),
              "xdp_map_bytes_per_circuit_%d" % n, None)
    if not kmem_ns(figs):
        t.row("kernel memory per circuit, module table (VM)",
              "kmod_bytes_per_circuit", None, why_maq=kmem)
    for n in kmem_ns(figs):
        t.row("kernel memory per circuit, module table of %s (VM, "
              "/proc/meminfo used; slab alone)" % format(n, ","),
              "kmod_bytes_per_circuit_%d" % n,
              "kmod_slab_bytes_per_circuit_%d" % n, ratio="-")
        t.row("left over after deleting the %s circuits (used; slab)"
              % format(n, ","), "kmod_left_after_delete_%d" % n,
              "kmod_slab_left_after_delete_%d" % n, ratio="-")
    if not vm_scale_ns(figs):
        t.row("forward rate with N circuits, kfunc crypto (VM)",
              "vm_xdp_scale_rate", None, why_maq=kfunc)
    for n in vm_scale_ns(figs):
        t.row("%s module circuits, kfunc crypto (VM), Mpps; baseline "
              "xdp_fwd" % format(n, ","), "vm_xdp_scale_%d_kfunc_fwd_rate" % n,
              "vm_xdp_scale_%d_base_rate" % n,
              ratio="vm_xdp_scale_%d_kfunc_ratio" % n)
        t.row("%s module circuits, the module's socket path, no XDP (VM), "
              "Mpps; baseline xdp_fwd" % format(n, ","),
              "vm_xdp_scale_%d_kmod_fwd_rate" % n,
              "vm_xdp_scale_%d_base_rate" % n,
              ratio="vm_xdp_scale_%d_kmod_ratio" % n)
        t.row("%s circuits, pure-BPF crypto (VM), Mpps" % format(n, ","),
              "vm_xdp_scale_%d_relay_fwd_rate" % n,
              "vm_xdp_scale_%d_base_rate" % n)
    return t


def dat_line(first, vals):
    """One line of a gnuplot data file: FIRST, then each value or NaN."""
    return "%s %s\n" % (first, " ".join("NaN" if v is None else "%.6f" % v
                                        for v in vals))


def write_scale_vm(d, figs):
    """scale-vm.dat (N, Mpps: kfunc, pure BPF, xdp_fwd, module socket path;
    module bytes per circuit); False when the VM's scale step did not
    run."""
    ns = vm_scale_ns(figs)
    with open(os.path.join(d, "scale-vm.dat"), "w") as f:
        f.write("# module circuits, Mpps: kfunc relay, pure-BPF relay, "
                "xdp_fwd, module socket path; kernel bytes per module "
                "circuit\n")
        for n in ns:
            vals = [figs.get("vm_xdp_scale_%d_%s" % (n, k))
                    for k in ("kfunc_fwd_rate", "relay_fwd_rate",
                              "base_rate", "kmod_fwd_rate")]
            vals.append(figs.get("kmod_bytes_per_circuit_%d" % n))
            f.write(dat_line(n, vals))
    return bool(ns)


def write_dat(d, figs):
    with open(os.path.join(d, "payload.dat"), "w") as f:
        f.write("# inner payload bytes, goodput Gb/s: relay fwd, relay back, "
                "xdp_fwd\n")
        for p in PAYLOADS:
            vals = [figs.get("xdp_%s_goodput_%d" % (k, p))
                    for k in ("relay_fwd", "relay_back", "base")]
            f.write(dat_line(p, vals))
    with open(os.path.join(d, "scale.dat"), "w") as f:
        f.write("# circuits, Mpps: relay fwd, xdp_fwd\n")
        for n in scale_ns(figs):
            f.write("%d %.6f %.6f\n" % (
                n, figs.get("xdp_scale_%d_relay_fwd_rate" % n, float("nan")),
                figs.get("xdp_scale_%d_base_rate" % n, float("nan"))))


# the axes of both plots against the number of installed circuits
CIRCUITS_X = r"""set ylabel 'Mpps (log scale)'
set logscale x
set xrange [500:2000000]
set xtics ("10^3" 1000, "10^4" 10000, "10^5" 100000, "10^6" 1000000)"""

GNUPLOT = r"""
set terminal pngcairo size 900,560 noenhanced
set grid
set output '{d}/payload.png'
set title "Per-hop goodput vs inner payload, one core, XDP live frames"
set xlabel 'inner payload per cell, bytes (every cell is 1436 bytes on the wire: goodput = cells/s x payload)'
set ylabel 'Gb/s (log scale)'
set logscale y
set xrange [0:1350]
set xtics (64, 512, 1292)
set key bottom right
plot '{d}/payload.dat' using 1:2 with linespoints lw 2 title 'maquis relay, forward', \
     '' using 1:3 with linespoints lw 2 title 'maquis relay, backward', \
     '' using 1:4 with linespoints lw 2 title 'xdp_fwd baseline (no crypto)'
set output '{d}/scale.png'
set title "Forward rate vs installed circuits, one core, pure-BPF crypto"
set xlabel 'installed circuits'
{circuits_x}
set key top right
plot '{d}/scale.dat' using 1:2 with linespoints lw 2 title 'maquis relay, forward', \
     '' using 1:3 with linespoints lw 2 title 'xdp_fwd baseline'
"""


E2E_PATHS = (("e2e_plain", "plain routing"),
             ("e2e_wg", "WireGuard x3"),
             ("e2e_maquis_bpf", "maquis, BPF relays"),
             ("tor", "Tor"))

GNUPLOT_SCALE_VM = r"""
set terminal pngcairo size 900,560 noenhanced
set grid
set output '{d}/scale-vm.png'
set title "Forward rate vs installed module circuits, one core, VM (QEMU TCG)"
set xlabel 'installed circuits (module table for kfunc; BPF hash map for the others)'
{circuits_x}
set y2label 'kernel bytes per module circuit'
set logscale y
set y2range [0:*]
set y2tics
set ytics nomirror
set key below
plot '{d}/scale-vm.dat' using 1:2 with linespoints lw 2 title 'maquis relay, module kfunc crypto', \
     '' using 1:3 with linespoints lw 2 title 'maquis relay, pure-BPF crypto', \
     '' using 1:5 with linespoints lw 2 title 'maquis.ko socket path, no XDP', \
     '' using 1:4 with linespoints lw 2 title 'xdp_fwd baseline', \
     '' using 1:6 axes x1y2 with linespoints lw 1 dt 2 title 'module memory per circuit (right axis)'
"""

GNUPLOT_E2E = r"""
set terminal pngcairo size 900,560 noenhanced
set grid ytics
set output '{d}/e2e.png'
set title "3-hop end to end on the host, same namespaces, same run"
set ylabel 'Gb/s received (log scale)'
set logscale y
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top right
plot '{d}/e2e.dat' using 2:xtic(1) title 'iperf3 TCP', \
     '' using 3 title 'iperf3 UDP, 1264-byte datagrams'
"""


def write_e2e(d, figs):
    """e2e.dat (path, TCP and UDP Gb/s); False when no path has a figure."""
    rows = [(what, figs.get(p + "_tcp"), figs.get(p + "_udp"))
            for p, what in E2E_PATHS]
    with open(os.path.join(d, "e2e.dat"), "w") as f:
        f.write("# path, Gb/s: TCP, UDP\n")
        for what, tcp, udp in rows:
            f.write(dat_line('"%s"' % what, (tcp, udp)))
    return any(tcp is not None for _, tcp, _ in rows)


def gnuplot(script):
    try:
        r = subprocess.run(["gnuplot"], input=script, text=True,
                           capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "gnuplot failed: %s" % e
    if r.returncode:
        return "gnuplot failed: %s" % r.stderr.strip()
    return None


def plot(d, e2e=False, scale_vm=False):
    """Each plot on its own, so that a step not run spoils only its plot."""
    errs = [gnuplot(GNUPLOT.format(d=d, circuits_x=CIRCUITS_X))]
    if e2e:
        errs.append(gnuplot(GNUPLOT_E2E.format(d=d)))
    if scale_vm:
        errs.append(gnuplot(GNUPLOT_SCALE_VM.format(d=d,
                                                    circuits_x=CIRCUITS_X)))
    errs = [e for e in errs if e]
    return "; ".join(errs) if errs else None


def main():
    d = sys.argv[1]
    figs, units, missing, info = load(d)
    t = build_table(figs, units, missing, info)
    write_dat(d, figs)
    err = plot(d, write_e2e(d, figs), write_scale_vm(d, figs))
    lines = ["# maquis bench, %s" % info.get("date", "?"), ""]
    lines.append("Host: %s; %s; kernel %s; %s CPUs (%s); mode %s; load "
                 "average at start %s, at the end %s (1, 5, 15 min; a "
                 "shared machine: the ratios are from one run, absolute "
                 "figures move with the load); %s s." % (
                     info.get("host", "?"), info.get("os", "?"),
                     info.get("kernel", "?"), info.get("cpus", "?"),
                     info.get("cpu", "?"), info.get("mode", "?"),
                     info.get("load", "?"), info.get("load_end", "?"),
                     info.get("seconds", "?")))
    lines.append("Ratio is maquis / baseline (for ns, RTT and CPU, lower is "
                 "better).  Cells are constant-size: the 64/512/1292-byte "
                 "rows are one measurement, multiplied by the payload.")
    lines.append("")
    lines.append(t.markdown())
    lines.append("")
    if figs:
        lines.append("Raw figures: `bench.txt`; logs: `logs/`; plots: "
                     "`payload.png`, `scale.png`, `e2e.png`%s." %
                     (", `scale-vm.png`" if vm_scale_ns(figs) else ""))
    if err:
        lines.append("")
        lines.append("Plots missing: %s" % err)
    if missing:
        lines.append("")
        lines.append("Not measured:")
        lines.append("")
        for k in sorted(missing):
            lines.append("* `%s`: %s" % (k, missing[k]))
    with open(os.path.join(d, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
