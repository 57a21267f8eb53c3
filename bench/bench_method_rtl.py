"""Benchmark of the method hardware (issue 6), written to bench/RESULTS_method_rtl.md: per
method, the cells of one method PE (or unit) and of its array beside the int8 MAC PE and array
of the same size; and cycles and energy of one ResNet-18 layer (and one VGG-16 layer for
Winograd) from the RTL run in Icarus, from the method's timing model (sim/methods/<m>.py)
and from the analytical model, with the int8 baseline accelerator as the reference row.

A whole layer is millions of cycles, too many for Icarus, so the RTL runs the channel slices
the method engineers chose in bench/RESULTS_method_rtl_<m>.md (SLICES below), and the timing
model alone prices the whole layer beside the analytical model. Every RTL run is checked here:
outputs bit-exact against the method's reference, the testbench's cycles equal to the design's
counter, every counter equal to the timing model's, and the counters priced exactly as the
timing model prices them (the same Stats as `op_stats` of the method's HwOp for the slice).
Any disagreement is listed in the Markdown and the script exits with status 1.

Then the methods that run on the mapped-program controller (issue 14: the baseline, AdderNet
(int8, and w4a4 with its 4-bit values packed) and BWN on their datapaths with a MAC mode,
GhostNet's plain MAC ops, PalQuant and
bitslice_w4a4 on the code-MAC datapath with slice passes, XNOR-Net on the XNOR datapath with
its binarizer, SmartDeal rebuilding its weights, Winograd F4 and F2 in the Winograd domain
with the direct layers in the MAC mode) on the same slices under ws, os and
is (those the arch lists and the datapath runs):
`simulate --model rtl` (Icarus or Verilator, outputs checked bit-exact inside the run) beside
`--model cycle` and `--model analytical`; an RTL record that differs from the cycle model's in
any statistic is a disagreement too.

    .venv/bin/python bench/bench_method_rtl.py [--quick] [--jobs N]

--quick leaves the two longest RTL runs (bitslice_w4a4, winograd_f2) to the models; --jobs is
how many Icarus / Yosys processes run at once (default 2).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from dlaforge import __version__
from dlaforge.arch import load_arch
from dlaforge.hw.methods import OpCase, method_hardware
from dlaforge.outputs import publish_files
from dlaforge.sim.methods import method_timing, summed
from dlaforge.sim.controller_cost import controller_runs
from dlaforge.sim.energy import energy_table
from dlaforge.sim.run import run_network
from dlaforge.workloads.layer import conv
from dlaforge.workloads.methods import METHODS, get_method
from dlaforge.workloads.networks import Network, load_network

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS_method_rtl.md"
START = time.perf_counter()
QUICK_SKIP = ("bitslice_w4a4", "winograd_f2")     # RTL runs --quick leaves out
LONGEST = ("palquant", "winograd_f2", "winograd_f4", "baseline", "smartdeal", "xnor")


def longest(hardware: str) -> int:
    """Where a design's RTL runs start: the longest (as last measured) first, others last."""
    return LONGEST.index(hardware) if hardware in LONGEST else len(LONGEST)


@dataclass(frozen=True)
class Case:
    """One method on one layer: its arch and dataflow, the network layer, the slice the RTL
    runs (`conv` arguments) and the arch that prices the whole layer."""

    method: str
    arch: str
    dataflow: str
    network: str
    layer: str
    slice: dict
    rtl: bool = True
    full_arch: str | None = None       # default: `arch`

    def slice_layer(self):
        return conv(f"{self.layer} slice", **self.slice)

    def slice_name(self) -> str:
        s = self.slice
        pad = f", pad {s['padding']}" if s.get("padding") else ", no pad"
        window = f", {s['R']}x{s['R']} stride {s.get('stride', 1)}" if "R" in s else ""
        return (f"{self.network} {self.layer}: C={s['C']}, K={s['K']}, "
                f"{s['H']}x{s['H']}{window}{pad}")

    def full(self):
        layers = {layer.name: layer for layer in load_network(self.network).layers}
        return layers[self.layer]


# The slices of bench/RESULTS_method_rtl_<m>.md. ResNet-18 layer1.0.conv1 (64 -> 64, 56x56):
# all 64 input channels, 8 filters, a 10x10 interior crop (8x8 outputs, no padding) for XNOR,
# PalQuant and the baseline; 16 -> 8 channels at 8x8 with padding for SmartDeal (its 192 Ce rows
# per filter of the whole layer do not fit edge_tiny's 160-row rebuilt-weight buffer, so its
# whole layer is priced on tpu_like_smartdeal). Winograd: ResNet-18 layer2.0.conv2 (C=K=8 of
# 128, full 28x28) and VGG-16 conv5_1 (C=K=16 of 512, full 14x14).
RESNET_CROP = dict(C=64, K=8, H=10, padding=0)
RESNET_WINO = dict(C=8, K=8, H=28, padding=1)
VGG_WINO = dict(C=16, K=16, H=14, padding=1)
SMARTDEAL_SLICE = dict(C=16, K=8, H=8, padding=1)
SLICES = (      # grouped by slice, the int8 baseline first in each group
    Case("baseline", "edge_tiny", "ws", "resnet18", "layer1.0.conv1", RESNET_CROP),
    Case("xnor", "edge_tiny_xnor", "os", "resnet18", "layer1.0.conv1", RESNET_CROP),
    Case("palquant", "edge_tiny_palquant", "ws", "resnet18", "layer1.0.conv1", RESNET_CROP),
    Case("bitslice_w4a4", "edge_tiny_palquant", "ws", "resnet18", "layer1.0.conv1", RESNET_CROP),
    Case("baseline", "edge_tiny", "ws", "resnet18", "layer1.0.conv1", SMARTDEAL_SLICE,
         rtl=False, full_arch="tpu_like"),
    Case("smartdeal", "edge_tiny_smartdeal", "ws", "resnet18", "layer1.0.conv1",
         SMARTDEAL_SLICE, full_arch="tpu_like_smartdeal"),
    Case("baseline", "edge_tiny", "ws", "resnet18", "layer2.0.conv2", RESNET_WINO, rtl=False),
    Case("winograd_f4", "edge_tiny_winograd", "ws", "resnet18", "layer2.0.conv2", RESNET_WINO),
    Case("winograd_f2", "edge_tiny_winograd", "ws", "resnet18", "layer2.0.conv2", RESNET_WINO),
    Case("baseline", "edge_tiny", "ws", "vgg16", "conv5_1", VGG_WINO, rtl=False),
    Case("winograd_f4", "edge_tiny_winograd", "ws", "vgg16", "conv5_1", VGG_WINO),
    Case("winograd_f2", "edge_tiny_winograd", "ws", "vgg16", "conv5_1", VGG_WINO),
)


def hardware_of(method: str) -> str:
    """The design that runs `method`, named by the first registered method built the same way
    (its family and options): one Icarus build and one cell count per design."""
    m = METHODS[method]
    return next(name for name, other in METHODS.items()
                if (other.family, other.options) == (m.family, m.options))


def designs() -> dict[str, str]:
    """Each design and the arch its cells are counted on (its method's first preset)."""
    return {hardware_of(name): METHODS[hardware_of(name)].presets[0] for name in METHODS}


def log(line: str) -> None:
    print(f"[{time.perf_counter() - START:6.1f} s] {line}", file=sys.stderr, flush=True)


def slice_op(case: Case):
    """The method's one HwOp for the slice (the transform of a slice must give one op)."""
    arch = load_arch(case.arch)
    ops = get_method(case.method, arch).transform(case.slice_layer(), arch)
    if len(ops) != 1:
        raise RuntimeError(f"{case.method}: the slice transforms into {len(ops)} ops, not 1")
    return arch, ops[0]


def timing_stats(method: str, arch, op, dataflow: str, table):
    """The op on the method's hardware by its timing model (sim/methods/<family>.py)."""
    timing = method_timing(method)
    why = timing.cannot_run(arch, op, dataflow)
    if why:
        raise RuntimeError(f"{method} cannot run {op.name!r} on {arch.name}: {why}")
    return timing.op_stats(arch, op, dataflow, table)


# --- RTL runs (each family's `run_random`, hw/methods/<family>/) -----------------------------
@dataclass
class Measured:
    """An RTL run of a slice: its counters (per command), the timing model's for the same
    commands, the counters priced by the method's own pricing, and what the checks found."""

    counters: list
    model: list
    stats: object
    problems: list
    wall_seconds: float = 0.0


def _checks(run, model) -> list[str]:
    """The run's output problems, then where its testbench's cycles or its counters differ
    from its design's counters and the timing model's."""
    problems = list(run.problems)
    if len(run.counters) != len(model):
        problems.append(f"{len(run.counters)} commands run, the timing model has {len(model)}")
    for n, (cycles, mine, theirs) in enumerate(zip(run.testbench_cycles, run.counters, model)):
        if cycles != mine["cycles"]:
            problems.append(f"command {n}: testbench counted {cycles} cycles, "
                            f"the design {mine['cycles']}")
        differ = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        if differ:
            problems.append(f"command {n}: counters differ from the timing model: " + ", ".join(
                f"{k} RTL {mine.get(k)} model {theirs.get(k)}" for k in differ))
    return problems


def rtl_runs(hardware: str, cases, build_dir: Path, rng) -> list[Measured]:
    """The slices of `cases` on the design of `hardware` (one build) by its family's
    `run_random`, each checked against its timing model's `command_counters` and priced by
    its `counters_to_stats`."""
    prepared = [(case, *slice_op(case)) for case in cases]
    runs = method_hardware(hardware).run_random(
        [OpCase(arch, case.slice_layer(), op, case.dataflow) for case, arch, op in prepared],
        build_dir, rng)
    out = []
    for (case, arch, op), run in zip(prepared, runs):
        timing = method_timing(case.method)
        model = timing.command_counters(arch, op, case.dataflow)
        stats = timing.counters_to_stats(arch, op, summed(run.counters), case.dataflow,
                                         energy_table(arch))
        out.append(Measured(run.counters, model, stats, _checks(run, model)))
    return out


def rtl_task(hardware: str, indices: list[int]) -> dict[int, Measured]:
    """Run SLICES[indices] (one hardware) in one Icarus process; {case index: Measured}."""
    started = time.perf_counter()
    cases = [SLICES[i] for i in indices]
    with tempfile.TemporaryDirectory(prefix=f"bench_method_rtl_{hardware}_") as tmp:
        measured = rtl_runs(hardware, cases, Path(tmp) / "build", np.random.default_rng(0))
    wall = time.perf_counter() - started
    for m in measured:
        m.wall_seconds = wall
    return dict(zip(indices, measured))


def cells_task(hardware: str) -> dict:
    """The hardware module's cell_stats on its edge_tiny arch."""
    return method_hardware(hardware).cell_stats(load_arch(designs()[hardware]))


# --- the models -----------------------------------------------------------------------------
def analytical(method: str, arch_name: str, dataflow: str, layer):
    """The analytical model (mapper's schedule, energy objective) on one layer."""
    arch = load_arch(arch_name)
    record = run_network(arch, Network(layer.name, (layer,)), dataflow, method, "energy", 1,
                         __version__, "analytical")
    return record.totals


def timing_on_layer(method: str, arch_name: str, dataflow: str, layer):
    """The timing model of the method's hardware on every op of a layer, summed."""
    arch = load_arch(arch_name)
    table = energy_table(arch)
    ops = get_method(method, arch).transform(layer, arch)
    total = None
    for op in ops:
        stats = timing_stats(method, arch, op, dataflow, table)
        total = stats if total is None else total + stats
    return total


def same_pricing(rtl, model) -> list[str]:
    """Where the RTL's priced Stats differ from the timing model's `op_stats`."""
    problems = []
    for field in ("cycles", "compute_cycles", "dram_read_bytes", "dram_write_bytes",
                  "sram_read_bytes", "sram_write_bytes"):
        if getattr(rtl, field) != getattr(model, field):
            problems.append(f"{field}: RTL {getattr(rtl, field)} model {getattr(model, field)}")
    for part in set(rtl.energy_breakdown_pj) | set(model.energy_breakdown_pj):
        a, b = rtl.energy_breakdown_pj.get(part, 0.0), model.energy_breakdown_pj.get(part, 0.0)
        if not math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9):
            problems.append(f"{part} energy: RTL {a:.1f} pJ model {b:.1f} pJ")
    return problems


# --- Markdown ---------------------------------------------------------------------------------
def _n(value) -> str:
    return f"{value:,}"


def _uj(stats) -> str:
    return f"{stats.energy_pj / 1e6:,.3f}"


def cells_table(cells: dict) -> list[str]:
    """One row per hardware (its family's `cells_row`): its PE (or units), its array, the int8
    MAC reference; a row equal to one above it once (the methods that run on the int8 MAC
    array count the same baseline design)."""
    lines = ["| method | method PE / unit | cells | int8 MAC PE (built for) | cells | PE ratio | "
             "method array 4x4 | int8 MAC array 4x4 | array ratio | other blocks |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---|"]
    for hardware, counted in cells.items():
        row = "| " + " | ".join(method_hardware(hardware).cells_row(counted)) + " |"
        row = row.replace("|  |", "| |")
        if row not in lines:
            lines.append(row)
    return lines


def against_int8(stats, int8) -> str:
    """Cycles and energy of `stats` over the int8 baseline's on the same layer."""
    if int8 is None or stats is int8:
        return "—"
    return f"{stats.cycles / int8.cycles:.2f} / {stats.energy_pj / int8.energy_pj:.2f}"


def slice_table(rows) -> list[str]:
    lines = ["| method | arch, dataflow | layer slice | RTL cycles | timing model cycles | "
             "analytical cycles | RTL µJ | timing model µJ | analytical µJ | "
             "RTL DRAM read / write B | analytical DRAM read / write B | RTL = model | "
             "Icarus wall s | timing model / int8 baseline: cycles / energy |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    int8 = {c.slice_name(): model for c, _, model, _ in rows if c.method == "baseline"}
    for case, measured, model, ana in rows:
        if measured is None:
            why = "not run (--quick)" if case.rtl else "model only"
            rtl_cycles, rtl_uj, rtl_dram, agree, wall = "—", "—", "—", why, "—"
        else:
            st = measured.stats
            rtl_cycles, rtl_uj = _n(st.cycles), _uj(st)
            rtl_dram = f"{_n(st.dram_read_bytes)} / {_n(st.dram_write_bytes)}"
            agree = "yes" if not measured.problems else "**NO**"
            wall = f"{measured.wall_seconds:.0f}"
        lines.append(f"| {case.method} | {case.arch}, {case.dataflow} | {case.slice_name()} | "
                     f"{rtl_cycles} | {_n(model.cycles)} | {_n(ana.cycles)} | {rtl_uj} | "
                     f"{_uj(model)} | {_uj(ana)} | {rtl_dram} | "
                     f"{_n(ana.dram_read_bytes)} / {_n(ana.dram_write_bytes)} | {agree} | "
                     f"{wall} | {against_int8(model, int8.get(case.slice_name()))} |")
    return lines


def full_table(rows) -> list[str]:
    lines = ["| method | arch, dataflow | layer | timing model cycles | analytical cycles | "
             "cycles timing / analytical | timing model µJ | analytical µJ | "
             "energy timing / analytical | timing model DRAM B | analytical DRAM B | "
             "timing model / int8 baseline: cycles / energy |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    int8 = {(arch, name): model for method, arch, _, name, model, _ in rows
            if method == "baseline"}
    for method, arch, dataflow, name, model, ana in rows:
        base_arch = "tpu_like" if arch.startswith("tpu_like") else "edge_tiny"
        lines.append(f"| {method} | {arch}, {dataflow} | {name} | {_n(model.cycles)} | "
                     f"{_n(ana.cycles)} | {model.cycles / ana.cycles:.2f} | {_uj(model)} | "
                     f"{_uj(ana)} | {model.energy_pj / ana.energy_pj:.2f} | "
                     f"{_n(model.dram_read_bytes + model.dram_write_bytes)} | "
                     f"{_n(ana.dram_read_bytes + ana.dram_write_bytes)} | "
                     f"{against_int8(model, int8.get((base_arch, name)))} |")
    return lines


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        names = [line.split(":", 1)[1].strip() for line in
                 Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (f"{platform.node()}: {cpu}, {os.cpu_count()} cores, load average {load} at the "
            f"end; Python {platform.python_version()}, numpy {np.__version__}")


def source_state() -> str:
    """The commit and any uncommitted edits under the packages the figures come from."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout
    head = git("rev-parse", "--short", "HEAD").strip()
    dirty = [line[3:] for line in git("status", "--porcelain", "--", "hw", "sim", "dlaforge",
                                      "workloads").splitlines()]
    return (f"commit {head}" + (f" with uncommitted edits in {', '.join(dirty)}" if dirty else ""))


# --- main -------------------------------------------------------------------------------------
def run_pool(args) -> tuple[dict, dict]:
    """Cells of every hardware and the RTL runs, `args.jobs` processes at a time, longest
    RTL runs first; ({hardware: cells}, {case index: Measured})."""
    groups: dict[str, list[int]] = {}
    for i, case in enumerate(SLICES):
        if case.rtl and not (args.quick and case.method in QUICK_SKIP):
            groups.setdefault(hardware_of(case.method), []).append(i)
    log(f"cells of {len(designs())} designs, {sum(map(len, groups.values()))} RTL slices in "
        f"Icarus, {args.jobs} processes at once")
    cells, measured = {}, {}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        cell = {hw: pool.submit(cells_task, hw) for hw in designs()}
        rtl = {hw: pool.submit(rtl_task, hw, groups[hw]) for hw in sorted(groups, key=longest)}
        for hw, future in cell.items():
            cells[hw] = future.result()
            log(f"cells of {hw}: done")
        for hw, future in rtl.items():
            measured.update(future.result())
            log(f"RTL {hw}: {len(groups[hw])} slice(s) in Icarus, "
                f"{measured[groups[hw][0]].wall_seconds:.0f} s")
    return cells, measured


def slice_models(measured: dict) -> tuple[list, list[str]]:
    """Each slice's (case, Measured or None, timing model Stats, analytical Stats), and every
    disagreement of an RTL run with its timing model."""
    problems, rows = [], []
    for i, case in enumerate(SLICES):
        arch, op = slice_op(case)
        model = timing_stats(case.method, arch, op, case.dataflow, energy_table(arch))
        ana = analytical(case.method, case.arch, case.dataflow, case.slice_layer())
        m = measured.get(i)
        if m is not None:
            m.problems += same_pricing(m.stats, model)
            problems += [f"{case.method}, {case.slice_name()}: {p}" for p in m.problems]
        rows.append((case, m, model, ana))
        log(f"models of {case.method} on {case.slice_name()}: done")
    return rows, problems


def whole_layers() -> list:
    """(method, arch, dataflow, layer name, timing model Stats, analytical Stats) of each
    method's whole layer."""
    rows, seen = [], set()
    for case in SLICES:
        arch = case.full_arch or case.arch
        key = (case.method, arch, case.network, case.layer)
        if key in seen:
            continue
        seen.add(key)
        layer = case.full()
        rows.append((case.method, arch, case.dataflow, f"{case.network} {layer.name}",
                     timing_on_layer(case.method, arch, case.dataflow, layer),
                     analytical(case.method, arch, case.dataflow, layer)))
        log(f"whole {case.network} {layer.name}, {case.method} on {arch}: done")
    return rows


# The methods on the mapped-program controller, each on its arch (issue 14's "after"), on the
# slices above and a crop of ResNet-18's first conv (3 -> 8 channels, 7x7 stride 2, 8x8
# outputs): an int8 layer AdderNet and BWN keep, run in their PEs' MAC mode, and PalQuant as
# 16 slice passes
CONTROLLER_METHODS = (("baseline", "edge_tiny"), ("addernet", "edge_tiny_addernet"),
                      ("addernet_w4a4", "edge_tiny_addernet"),
                      ("bwn", "edge_tiny_bwn"), ("ghost", "edge_tiny"),
                      ("palquant", "edge_tiny_palquant"), ("bitslice_w4a4", "edge_tiny_palquant"),
                      ("smartdeal", "edge_tiny_smartdeal"), ("xnor", "edge_tiny_xnor"),
                      ("winograd_f4", "edge_tiny_winograd"), ("winograd_f2", "edge_tiny_winograd"))
FIRST_CONV = Case("baseline", "edge_tiny", "ws", "resnet18", "conv1",
                  dict(C=3, K=8, H=21, R=7, stride=2, padding=0))
CONTROLLER_STATS = ("cycles", "compute_cycles", "stall_cycles", "energy_pj",
                    "energy_breakdown_pj", "dram_read_bytes", "dram_write_bytes",
                    "sram_read_bytes", "sram_write_bytes", "accesses", "macs", "ops")


def controller_rows(quick: bool = False) -> tuple[list, list[str]]:
    """Each (method, arch) of CONTROLLER_METHODS on each distinct slice (with `quick` the first
    and FIRST_CONV) under those of ws, os and is its arch has and the controller runs its ops
    under (PalQuant's 2-bit layers not is): (method, arch, dataflow, slice
    name, RTL totals, cycle totals, analytical totals, wall s), and every statistic where the
    RTL record differs from the cycle model's."""
    import dlaforge
    slices = {case.slice_name(): case for case in (*SLICES, FIRST_CONV)}
    if quick:
        slices = {name: case for name, case in slices.items()
                  if case in (SLICES[0], FIRST_CONV)}
    rows, problems = [], []
    for name, case in slices.items():
        net = Network(case.layer, (case.slice_layer(),))
        for method, arch in CONTROLLER_METHODS:
            spec = load_arch(arch)
            ops = get_method(method, spec).transform(case.slice_layer(), spec)
            runs = [d for d in ("ws", "os", "is") if d in spec.pe_array.dataflows
                    and all(controller_runs(spec, op, d) for op in ops)]
            for dataflow in runs:
                started = time.perf_counter()
                rtl = dlaforge.simulate(arch, net, dataflow, model="rtl", method=method)
                wall = time.perf_counter() - started
                cycle = dlaforge.simulate(arch, net, dataflow, model="cycle", method=method)
                ana = dlaforge.simulate(arch, net, dataflow, model="analytical", method=method)
                a, b = rtl.totals, cycle.totals
                problems += [f"controller, {method} on {arch} ({dataflow}), {name}: {key} RTL "
                             f"{getattr(a, key)} cycle model {getattr(b, key)}"
                             for key in CONTROLLER_STATS if getattr(a, key) != getattr(b, key)]
                rows.append((method, arch, dataflow, name, rtl.totals, cycle.totals,
                             ana.totals, wall))
                log(f"controller: {method} on {arch}, {dataflow}, {name}: {wall:.0f} s")
    return rows, problems


def controller_table(rows) -> list[str]:
    lines = ["| method | arch, dataflow | layer slice | RTL cycles | cycle model cycles | "
             "analytical cycles | analytical / RTL cycles | RTL µJ | analytical µJ | "
             "RTL DRAM read / write B | analytical DRAM read / write B | RTL = cycle model | "
             "RTL wall s |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for method, arch, dataflow, name, rtl, cycle, ana, wall in rows:
        same = all(getattr(rtl, k) == getattr(cycle, k) for k in CONTROLLER_STATS)
        lines.append(f"| {method} | {arch}, {dataflow} | {name} | {_n(rtl.cycles)} | "
                     f"{_n(cycle.cycles)} | {_n(ana.cycles)} | {ana.cycles / rtl.cycles:.3f} | "
                     f"{_uj(rtl)} | {_uj(ana)} | "
                     f"{_n(rtl.dram_read_bytes)} / {_n(rtl.dram_write_bytes)} | "
                     f"{_n(ana.dram_read_bytes)} / {_n(ana.dram_write_bytes)} | "
                     f"{'yes' if same else '**NO**'} | {wall:.0f} |")
    return lines


def controller_gap(rows) -> str:
    worst = max(abs(ana.cycles / rtl.cycles - 1) for *_, rtl, _, ana, _ in rows)
    return f"{100 * worst:.2f}%"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"leave {' and '.join(QUICK_SKIP)} out of the Icarus runs")
    parser.add_argument("--jobs", type=int, default=2, help="processes at once (default 2)")
    args = parser.parse_args()
    started = datetime.now(timezone.utc)
    cells, measured = run_pool(args)

    slice_rows, problems = slice_models(measured)
    full_rows = whole_layers()
    on_controller, differ = controller_rows(args.quick)
    problems += differ
    elapsed = time.perf_counter() - START
    command = " ".join([".venv/bin/python bench/bench_method_rtl.py", *sys.argv[1:]])
    text = "\n".join(report(cells, slice_rows, full_rows, problems, started, command, elapsed,
                            args.jobs, on_controller))
    publish_files(RESULTS.parent, {RESULTS.name: text + "\n"})
    log(f"wrote {RESULTS} ({elapsed:.0f} s)")
    if problems:
        for p in problems:
            print(f"MISMATCH {p}", file=sys.stderr)
        print(f"bench_method_rtl: {len(problems)} disagreements between the RTL and the timing "
              f"models (listed in {RESULTS.name})", file=sys.stderr)
        return 1
    return 0


def gaps(slice_rows) -> str:
    """The range of timing model / analytical cycles and energy over the slices."""
    cycles = [model.cycles / ana.cycles for case, _, model, ana in slice_rows]
    energy = [model.energy_pj / ana.energy_pj for case, _, model, ana in slice_rows]
    return (f"{min(cycles):.1f}-{max(cycles):.1f}x the analytical cycles and "
            f"{min(energy):.1f}-{max(energy):.1f}x its energy")


def report(cells, slice_rows, full_rows, problems, started, command, elapsed,
           jobs, on_controller) -> list[str]:
    lines = [
        "# Method hardware: cells, and RTL vs timing model vs analytical "
        "(bench/bench_method_rtl.py)",
        "",
        f"Machine: {machine()}. Date: {started:%Y-%m-%d %H:%M} UTC. Command: `{command}`; "
        f"it took {elapsed / 60:.1f} min (wall; the Icarus runs and Yosys counts in "
        f"{jobs} processes at once). Source: {source_state()}. Every figure below is computed by "
        "that run, none is typed in.",
        "",
    ]
    if problems:
        lines += ["## RTL and timing model DISAGREE", ""] + [f"- {p}" for p in problems] + [""]
    lines += [
        "## Cells",
        "",
        "Each module's `cell_stats(arch)` (hw/methods/<m>.py, through `method_hardware(name)`) on "
        "its edge_tiny arch (4x4 PEs): hw.verilog.cell_stats, Amaranth's reduced Yosys flow "
        "without the `share` pass, the MAC PE with one multiplier. A word-level adder or "
        "multiplier counts one cell and every flip-flop bit one, so these are structural sizes, "
        "not gate counts (an 8x8 multiplier is one cell, which flatters the MAC PE). Each "
        "module builds its int8 reference for the dataflows its own unit has, so the int8 "
        "MAC PE differs between rows.",
        "",
        *cells_table(cells),
        "",
        "## The layer slices: RTL (Icarus) vs timing model vs analytical",
        "",
        "The slices of bench/RESULTS_method_rtl_<m>.md, so the figures compare with theirs: a "
        "whole layer is millions of cycles, too many for Icarus. ResNet-18 layer1.0.conv1 "
        "(64 -> 64, 56x56, 3x3): all 64 input channels, 8 filters, a 10x10 interior crop "
        "(8x8 outputs, no padding) for XNOR, PalQuant and the int8 baseline; C=16, K=8 at 8x8 "
        "with padding for SmartDeal (its 192 Ce rows per filter of the whole layer do not fit "
        "edge_tiny_smartdeal's 160-row rebuilt-weight buffer). Winograd: ResNet-18 "
        "layer2.0.conv2 (128 -> 128, 28x28) with C=K=8 at the full 28x28, and VGG-16 conv5_1 "
        "(512 -> 512, 14x14) with C=K=16 at the full 14x14. Data: random codes from "
        "np.random.default_rng(0) (SmartDeal: the decomposition of the seeded weights its "
        "timing model times; PalQuant G=2 with shuffle shift 1; bitslice_w4a4 one 4-pass "
        "command).",
        "",
        "- RTL: the method's unit in Icarus through its design's `run` "
        "(hw/methods/<family>/), its counters priced by the method's own pricing "
        "(`counters_to_stats` of sim/methods/<family>.py; PalQuant's on the 2-bit array's "
        "spec). `RTL = model`: outputs "
        "bit-exact against the reference, testbench cycles equal to the design's counter, every "
        "counter of every command equal to the timing model's, and the priced Stats (cycles, "
        "compute cycles, DRAM and SRAM bytes, every energy part) equal to the timing model's "
        "`op_stats` of the slice's HwOp. Icarus wall time is per build, including generation, "
        "compilation and every slice it ran.",
        "- timing model: `sim/methods/<family>.py` (`method_timing(m).op_stats`) (baseline: "
        "`rtl_timing.rtl_op_stats`) of the method's transform of the slice.",
        "- analytical: `sim.run.run_network(..., model=\"analytical\")` on the slice as a "
        "one-layer network (the mapper's schedule, energy objective), as "
        "`dlaforge.simulate(arch, net, method=M, model=\"analytical\")`.",
        "- The baseline rows without an RTL run are the int8 accelerator (edge_tiny, ws) on the "
        "other methods' slices, by its timing model (held equal to its RTL by "
        "tests/hw/test_icarus.py).",
        "",
        *slice_table(slice_rows),
        "",
        "## The whole layers: timing model vs analytical",
        "",
        "The timing model only (Icarus would take hours); SmartDeal's whole layer on "
        "tpu_like_smartdeal (32x32, the only preset whose buffer holds 192 Ce rows per filter), "
        "beside the baseline on tpu_like.",
        "",
        *full_table(full_rows),
        "",
        "## The methods on the mapped-program controller (issue 14)",
        "",
        "The same slices on the controller the baseline's `--model rtl` runs (hw/controller/), "
        "each as a one-layer network: `dlaforge.simulate(arch, net, dataflow, model=M, "
        "method=m)` for M = rtl, cycle, analytical. The RTL runs the mapper's program (the "
        "tiling and loop order `--model cycle` picks) in Icarus or Verilator, its outputs "
        "checked bit-exact against the reference inside the run; `RTL = cycle model`: every "
        "total (cycles, stalls, energy and its parts, DRAM and SRAM bytes, every access count, "
        "MACs, operations) equal. AdderNet runs on its adder datapath (adder PEs with a MAC "
        "mode), addernet_w4a4 on the same PEs with its 4-bit weights and activations packed "
        "two to a DRAM byte (a one-layer slice reads the host's packed input and writes its "
        "8-bit outputs a byte each), BWN on its sign-add datapath (packed 1-bit weights "
        "unpacked on the load; "
        "edge_tiny_bwn lists os only); GhostNet's ops (a primary conv and a cheap depthwise "
        "conv) are plain int8 MAC ops on the baseline's array; PalQuant and bitslice_w4a4 on "
        "PalQuant's code-MAC datapath (2-bit lanes; a 2-bit layer's packed weight codes "
        "decoded in the PE, ws and os; 4-bit layers as 4 slice passes of its unsigned slice-MAC "
        "mode); SmartDeal on its rebuilding datapath (the MAC array at 17-bit weight lanes, "
        "each block of 4 filters' weights read as a code region, B and bitmap then the code "
        "rows the bitmap's ones call for, and rebuilt a weight word a cycle by the load's "
        "stage; a layer whose C x R x S rebuilt words pass a weight half is laid out in "
        "regions of groups of channels, a channel tile each: the 64-channel crop in groups "
        "of 32); "
        "XNOR-Net on its XNOR datapath (64-bit sign words in the buffers and DRAM, a "
        "valid bit beside each lane, the binarized layers reading int8 activations whose signs "
        "the load packs, K_q formed on chip before the requantizer); Winograd F4 and F2 on "
        "their Winograd datapath (the MAC array; a 3x3 stride-1 slice as one Winograd-domain "
        "command: raw windows staged and transformed by the load's patch stage, a plane of "
        "sums per tap, each tile pixel's planes transformed by the write-back's tile stage; "
        "ws and is). The last slice, a crop of "
        "ResNet-18's first conv (3 -> 8 channels, 7x7 at stride 2, 8x8 outputs), is an int8 "
        "layer AdderNet, BWN, PalQuant, XNOR-Net and Winograd keep: it runs in AdderNet's, "
        "BWN's and XNOR's PEs' MAC mode and the Winograd datapath's, and as 16 slice passes "
        "on PalQuant's. Wall time includes the design's build when it is not cached.",
        "",
        *controller_table(on_controller),
        "",
        "## Reading it",
        "",
        ("- The RTL and its timing model DISAGREE on the slices listed at the top. "
         if problems else
         "- The RTL and its timing model are one machine: equal cycles, counters and energy on "
         "every slice above (the script exits with status 1 otherwise). ") +
        f"On the slices the timing model takes {gaps(slice_rows)}, for the reasons the "
        "per-method RESULTS "
        "files give: every unit runs the baseline accelerator's RTL schedule (im2col loads "
        "that re-read each ifmap element R·S times per filter block from DRAM, one element per "
        "DRAM beat, outputs written as accumulator sums of 24 to 64 bits, and in the XNOR, "
        "SmartDeal and Winograd units steps that do not overlap), "
        "while the analytical mapper picks tilings that reuse data on chip.",
        f"- On the controller the analytical model is within {controller_gap(on_controller)} "
        "of the RTL's cycles on every slice and dataflow above, where the units of the slice "
        "table take several times the analytical cycles: the controller runs the mapper's "
        "program (on-chip im2col, the mapper's tile reuse, loads overlapping folds), so the "
        "three models describe one machine.",
        "- Cell counts are regenerated on every run; some hand-written ones in the per-method "
        "RESULTS files (SmartDeal's, Winograd's int8 MAC PE) predate the shared-multiplier MAC "
        "PE and the flow without `share`.",
    ]
    return lines


if __name__ == "__main__":
    sys.exit(main())
