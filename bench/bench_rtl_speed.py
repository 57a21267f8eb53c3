"""Benchmark: RTL simulation speed of the mapped-program controller, the cocotb path
(hw/controller/run.run_cocotb: Python serves every DRAM request) against the free-running
harness (hw/controller/free_run.run_free: the DRAM model in Verilog), on Icarus and Verilator,
for 4x4, 8x8 and 16x16 arrays (edge_tiny resized), side by side in one run.

One layer for every size: conv 32 -> 32 channels, 8x8, 3x3, padding 1, requantized, ws, under
the largest tile (kt*ct*pt) that fits the arch's buffers, loop order nkcp; edge_tiny's DRAM
(4 B/cycle, 20 cycles). Speed is simulated cycles per wall second of one simulator process
running the layer once (start included; the build not), the median of `--repeats` runs; every
run's outputs, counters and cycles are checked against the reference and the timing model.
Builds are timed cold (a fresh cache for the harness); "cached start" is what a new process
pays before simulating when the harness is in the cache (Verilog generation and the key).
Writes bench/RESULTS_rtl_speed.md.

    .venv/bin/python bench/bench_rtl_speed.py [--sizes 4,8,16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dlaforge.arch import load_arch
from dlaforge.hw.controller.free_run import build_free, design_of, run_built, tool_version
from dlaforge.hw.controller.stimulus import ControllerJob
from dlaforge.hw.controller.run import TOP, generate, run_cocotb
from dlaforge.hw.run_cocotb import compile_verilog, simulator_available
from dlaforge.hw.simulator_process import cocotb_runner
from dlaforge.hw.verilog import LINT_WAIVERS
from dlaforge.program import Mapping, Shape, fits
from dlaforge.sim.cycle.controller_timing import controller_counters

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS_rtl_speed.md"
SIMS = ("icarus", "verilator")
LAYER = Shape(N=1, C=32, H=8, W=8, K=32, R=3, S=3, P=8, Q=8, stride=1, padding=1)
TINY = Shape(N=1, C=1, H=1, W=1, K=1, R=1, S=1, P=1, Q=1)


def arch_of(size: int, folder: Path):
    path = folder / f"array{size}.yaml"
    path.write_text(f"base: edge_tiny\nname: array{size}\n"
                    f"pe_array: {{rows: {size}, cols: {size}}}\n")
    return load_arch(path)


def mapping_of(arch, s: Shape) -> Mapping:
    """The largest tile that fits (then the largest kt, ct, pt), loop order nkcp."""
    dims = dict(W=s.W, H=s.H, R=s.R, S=s.S, Q=s.Q, stride=s.stride)
    best = max((kt * ct * pt, kt, ct, pt) for kt in range(1, s.K + 1)
               for ct in range(1, s.C + 1) for pt in range(1, s.P + 1)
               if fits(arch, **dims, kt=kt, ct=ct, pt=pt))
    return Mapping(*best[1:], "nkcp")


def cocotb_build(verilog_path: Path, build_dir: Path, sim: str):
    """run_cocotb's build (hw/run_cocotb.compile_verilog), except that Verilator also waives
    UNOPTFLAT: the controller's tile walkers read back a field of their `tile` output
    (hw/controller/tiles.py), which Verilator takes for a combinational loop, fatal under
    the waivers compile_verilog gives it."""
    if sim == "icarus":
        return compile_verilog(verilog_path, TOP, build_dir, sim)
    runner = cocotb_runner(sim)
    runner.build(sources=[verilog_path], hdl_toplevel=TOP, build_dir=build_dir, always=True,
                 timescale=("1ns", "1ps"), log_file=build_dir / "build.log",
                 build_args=[*LINT_WAIVERS, "-Wno-UNOPTFLAT"])
    return runner


def children_cpu() -> float:
    """CPU seconds (user + system) of this process' finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def checked(job, result, model) -> None:
    assert np.array_equal(result.output, job.expected()), "outputs differ from the reference"
    assert all(c == model and t == model["cycles"] for c, t in result.per_command), \
        "counters or cycles differ from the timing model"


def measure(size: int, folder: Path, repeats: int) -> dict:
    arch = arch_of(size, folder)
    mapping = mapping_of(arch, LAYER)
    model = controller_counters(arch, LAYER, mapping, True)
    jobs = [ControllerJob.random(arch, LAYER, mapping, np.random.default_rng(seed), requant=True)
            for seed in range(repeats)]
    row = {"size": f"{size}x{size}", "mapping": f"{mapping.kt}/{mapping.ct}/{mapping.pt}",
           "cycles": model["cycles"]}
    design_of.cache_clear()
    start = time.perf_counter()
    design = design_of(arch)
    row["gen_s"] = time.perf_counter() - start
    row["lines"] = design.verilog.count("\n")
    for sim in SIMS:
        if simulator_available(sim) is not None:
            continue
        # the cocotb path, as run_cocotb builds it
        build_dir = folder / f"cocotb_{sim}{size}"
        verilog_path, _ = generate(arch, build_dir)
        start = time.perf_counter()
        runner = cocotb_build(verilog_path, build_dir, sim)
        row[f"cocotb_{sim}_build_s"] = time.perf_counter() - start
        rates, cpu_rates = [], []
        for job in jobs:
            cpu = children_cpu()
            result, = run_cocotb([job], build_dir, sim, runner=runner)
            cpu_rates.append(result.cycles / (children_cpu() - cpu))
            checked(job, result, model)
            rates.append(result.cycles / result.wall_seconds)
        row[f"cocotb_{sim}"] = statistics.median(rates)
        row[f"cocotb_{sim}_cpu"] = statistics.median(cpu_rates)
        # the free-running harness, built into an empty cache
        os.environ["DLAFORGE_CACHE"] = str(folder / f"cache_{sim}{size}")
        build = build_free(arch, sim)                 # the design is generated already
        assert build.built
        row[f"free_{sim}_build_s"] = build.seconds
        design_of.cache_clear()
        again = build_free(arch, sim)
        assert not again.built
        row[f"free_{sim}_start_s"] = again.seconds
        rates, cpu_rates, sim_walls, python = [], [], [], []
        for j, job in enumerate(jobs):
            work = folder / f"free_{sim}{size}_{j}"
            work.mkdir()
            start, cpu = time.perf_counter(), children_cpu()
            result, = run_built(build, [job], work)
            total = time.perf_counter() - start
            cpu_rates.append(result.cycles / (children_cpu() - cpu))
            checked(job, result, model)
            rates.append(result.cycles / result.wall_seconds)
            sim_walls.append(result.wall_seconds)
            python.append(total - result.wall_seconds)
        row[f"free_{sim}"] = statistics.median(rates)
        row[f"free_{sim}_cpu"] = statistics.median(cpu_rates)
        row[f"free_{sim}_sim_s"] = statistics.median(sim_walls)
        row[f"free_{sim}_files_s"] = statistics.median(python)
        # the simulator's fixed cost: a one-cycle-of-work layer in the same binary
        tiny = ControllerJob.random(arch, TINY, Mapping(1, 1, 1), np.random.default_rng(0))
        fixed = []
        for j in range(repeats):
            work = folder / f"tiny_{sim}{size}_{j}"
            work.mkdir()
            fixed.append(run_built(build, [tiny], work)[0].wall_seconds)
        row[f"free_{sim}_fixed_s"] = statistics.median(fixed)
        row[f"free_{sim}_steady"] = row["cycles"] / max(1e-9, row[f"free_{sim}_sim_s"]
                                                        - row[f"free_{sim}_fixed_s"])
    return row


def fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def table(rows: list[dict]) -> list[str]:
    lines = ["| array | tile kt/ct/pt | layer cycles | Icarus cocotb cyc/s | Icarus free cyc/s "
             "| Verilator cocotb cyc/s | Verilator free cyc/s | Verilator free / cocotb |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = (r["free_verilator"] / r["cocotb_verilator"]
                 if r.get("cocotb_verilator") else None)
        lines.append(
            f"| {r['size']} | {r['mapping']} | {r['cycles']} | "
            f"{fmt(r.get('cocotb_icarus'), ',.0f')} | {fmt(r.get('free_icarus'), ',.0f')} | "
            f"{fmt(r.get('cocotb_verilator'), ',.0f')} | {fmt(r.get('free_verilator'), ',.0f')} | "
            f"{fmt(ratio, '.1f')}x |")
    lines += ["", "The same runs per CPU second of the simulator process (user + system; "
              "less sensitive to the other work on the machine than wall time):", "",
              "| array | Icarus cocotb | Icarus free | Verilator cocotb | Verilator free |",
              "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['size']} | " + " | ".join(
            fmt(r.get(f"{path}_{sim}_cpu"), ",.0f") for sim in SIMS
            for path in ("cocotb", "free")) + " |")
    lines += ["", "Builds and fixed costs (seconds; the free harness' build includes writing "
              "its sources and the cache's rename; Verilog generation is Amaranth's, once per "
              "process):", "",
              "| array | Verilog lines | Verilog gen | Icarus cocotb build | Icarus free build "
              "| Verilator cocotb build | Verilator free build | free cached start | free "
              "simulator fixed cost (Icarus / Verilator) | free files in/out (Icarus / "
              "Verilator) | Verilator free, start excluded (cyc/s) |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['lines']} | {r['gen_s']:.1f} | "
            f"{fmt(r.get('cocotb_icarus_build_s'), '.1f')} | "
            f"{fmt(r.get('free_icarus_build_s'), '.1f')} | "
            f"{fmt(r.get('cocotb_verilator_build_s'), '.1f')} | "
            f"{fmt(r.get('free_verilator_build_s'), '.1f')} | "
            f"{fmt(r.get('free_verilator_start_s', r.get('free_icarus_start_s')), '.1f')} | "
            f"{fmt(r.get('free_icarus_fixed_s'), '.2f')} / "
            f"{fmt(r.get('free_verilator_fixed_s'), '.3f')} | "
            f"{fmt(r.get('free_icarus_files_s'), '.2f')} / "
            f"{fmt(r.get('free_verilator_files_s'), '.2f')} | "
            f"{fmt(r.get('free_verilator_steady'), ',.0f')} |")
    return lines


def remains(rows: list[dict]) -> list[str]:
    """What the time of a free-running run goes to, from the measured figures."""
    out = []
    for r in rows:
        if "free_verilator" in r:
            sim_s, fixed = r["free_verilator_sim_s"], r["free_verilator_fixed_s"]
            out.append(
                f"- {r['size']} Verilator: a new process that finds the harness in the cache "
                f"spends {r['free_verilator_start_s']:.1f} s before simulating (Amaranth's "
                f"Verilog generation {r['gen_s']:.1f} s of it), then {sim_s:.3f} s in the "
                f"simulator, of which {fixed:.3f} s ({100 * fixed / sim_s:.0f}%) is its fixed "
                "cost (process start, DRAM allocation, image load and dump: the one-cycle "
                f"layer's time) and the rest the design's evaluation, and "
                f"{r['free_verilator_files_s']:.2f} s writing and reading the files in Python.")
        if "free_icarus" in r and "cocotb_icarus" in r:
            gain = r["free_icarus_cpu"] / r["cocotb_icarus_cpu"]
            what = (f"so Python serving the port was about {100 * (1 - 1 / gain):.0f}% of the "
                    "cocotb run's CPU time; the rest" if gain > 1.1 else
                    "no gain beyond the noise: Python serving the port is a small part of the "
                    "cocotb run here; all of it")
            out.append(
                f"- {r['size']} Icarus: free is {gain:.1f}x cocotb per CPU second, {what}, "
                "vvp's event-driven evaluation of the design, remains (the simulator's fixed "
                f"cost {r['free_icarus_fixed_s']:.2f} s).")
    return out


def git_state() -> str:
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "hw", "dlaforge")
    return f"{git('rev-parse', '--short', 'HEAD')}" + (
        " with uncommitted changes under hw/ or dlaforge/ (other work in progress)"
        if dirty else "")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="4,8,16")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()
    started = time.perf_counter()
    saved = os.environ.get("DLAFORGE_CACHE")
    try:
        with tempfile.TemporaryDirectory(prefix="dlaforge_bench_") as tmp:
            rows = [measure(int(s), Path(tmp), args.repeats) for s in args.sizes.split(",")]
    finally:
        if saved is None:
            os.environ.pop("DLAFORGE_CACHE", None)
        else:
            os.environ["DLAFORGE_CACHE"] = saved
    load_after = os.getloadavg()
    versions = "; ".join(f"{sim}: {tool_version(sim)}" for sim in SIMS
                         if simulator_available(sim) is None)
    lines = [
        "# RTL simulation speed: cocotb vs the free-running harness (bench/bench_rtl_speed.py)",
        "",
        f"Run {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} on "
        f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average {' '.join(f'{x:.1f}' for x in load_before)} before and "
        f"{' '.join(f'{x:.1f}' for x in load_after)} after (the machine is shared); "
        f"{time.perf_counter() - started:.0f} s in all. Code: {git_state()}. {versions}.",
        "",
        f"Layer: conv {LAYER.C} -> {LAYER.K}, {LAYER.H}x{LAYER.W}, {LAYER.R}x{LAYER.S}, padding "
        f"{LAYER.padding}, requantized, ws, edge_tiny's DRAM (4 B/cycle, 20 cycles), under the "
        "largest tile that fits, order nkcp. Speed: simulated cycles per wall second of one "
        "simulator process running the layer (start included, build not), median of "
        f"{args.repeats} runs on different operands; every run checked bit-exact against the "
        "reference and equal to the timing model on every counter and the cycles. cocotb: "
        "hw/controller/run.run_cocotb (cocotb's start and Python serving each DRAM request per "
        "cycle); free: hw/controller/free_run.run_built on the cached build (the simulator "
        "process: start, DRAM image load, simulation, final image dump).",
        "", *table(rows), "",
        "## What remains", "",
        "Per run (medians):", "", *remains(rows), "",
        "- The cocotb path pays Python on every cycle (a coroutine per falling edge, the DRAM "
        "model, payload packing); the free harness has none, so what remains is the "
        "simulator's evaluation of the design, the simulator's fixed cost, and, per new "
        "process, Amaranth's Verilog generation (the cache key needs the text).",
        "- Builds: the Verilator builds (g++ on the generated model) are the largest single "
        "costs, paid once per design with the cache.",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print(RESULTS.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
