"""Benchmark: a whole small CNN on the generated accelerator (edge_tiny, ws), its layers chained
through DRAM (hw/network_job.py), in Icarus and Verilator: build seconds, run seconds,
simulated cycles per wall second; every layer's int8 outputs checked bit-exact against the
chained numba reference and every command's counters against the timing model. From the
measured rates, how long ResNet-18 on edge_tiny would take (its cycles from the timing model,
as `--model cycle --schedule rtl` gives them). Writes bench/RESULTS_rtl_network.md.

    .venv/bin/python bench/bench_rtl_network.py
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from dlaforge.arch import load_arch
from dlaforge.hw.network_job import NetworkJob
from dlaforge.hw.run_cocotb import build, run_programs, simulator_available
from dlaforge.sim.cycle.rtl_timing import rtl_timing
from dlaforge.sim.rtl_program import commands_of, gemm_of
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.networks import load_network

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS_rtl_network.md"
# a CIFAR-sized CNN whose every layer reads the previous one's outputs
CNN = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
       "Num Filter, Strides,\nconv1, 18, 18, 3, 3, 3, 16, 1,\nconv2, 16, 16, 3, 3, 16, 16, 2,\n"
       "conv3, 8, 8, 3, 3, 16, 32, 1,\nconv4, 6, 6, 3, 3, 32, 32, 2,\nfc, 3, 3, 1, 1, 32, 10, 1,\n")


def network_cycles(arch, network, dataflow: str) -> tuple[int, int]:
    """(total cycles, largest layer's cycles) of a network on the RTL, from the timing model."""
    per_layer = []
    for layer in network.layers:
        per_layer.append(sum(rtl_timing(arch, dataflow, gemm_of(op), requant=True).cycles
                             * commands_of(op)
                             for op in get_method("baseline", arch).transform(layer, arch)))
    return sum(per_layer), max(per_layer)


def run(arch, network, sim: str, folder: Path) -> dict:
    shapes = [(layer.name, gemm_of(op), op.groups, op.N, True)
              for layer in network.layers
              for op in get_method("baseline", arch).transform(layer, arch)]
    job = NetworkJob.random(arch, "ws", shapes, np.random.default_rng(0))
    start = time.perf_counter()
    runner = build(arch, folder, sim)
    built = time.perf_counter() - start
    ((memory, perfs, cycles),), wall = run_programs([job], [job.commands()], folder, sim, runner)
    exact = all(np.array_equal(out, want)
                for out, want in zip(job.outputs_of(memory), job.expected()))
    models = [rtl_timing(arch, "ws", layer.gemm, requant=True).counters for layer in job.layers
              for _ in range(layer.images * layer.groups)]
    return {"sim": sim, "build_s": built, "run_s": wall, "cycles": sum(cycles),
            "rate": sum(cycles) / wall, "exact": exact, "model_equal": perfs == models,
            "chained": sum(layer.chained for layer in job.layers), "layers": len(job.layers)}


def main() -> None:
    arch = load_arch("edge_tiny")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "cnn.csv"
        csv.write_text(CNN)
        network = load_network(str(csv))
        for sim in ("icarus", "verilator"):
            if simulator_available(sim) is None:
                rows.append(run(arch, network, sim, Path(tmp) / sim))
    resnet = {df: network_cycles(arch, load_network("resnet18"), df) for df in ("ws", "os", "is")}
    lines = ["# Whole networks on the RTL", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}. `bench/bench_rtl_network.py`; edge_tiny (4x4), ws, "
             f"the spec's DRAM; a 5-layer CNN (18x18x3 input, every layer chained through "
             f"DRAM), int8 outputs requantized per channel.", "",
             "| simulator | build s | run s | simulated cycles | cycles/s | layers chained "
             "| outputs bit-exact | counters = timing model |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['sim']} | {r['build_s']:.1f} | {r['run_s']:.1f} | {r['cycles']:,} | "
                     f"{r['rate']:,.0f} | {r['chained']} of {r['layers']} | {r['exact']} | "
                     f"{r['model_equal']} |")
    lines += ["", "ResNet-18 on edge_tiny (timing model, requantized outputs) at these rates:",
              "", "| dataflow | cycles | largest layer | " +
              " | ".join(f"{r['sim']} hours" for r in rows) + " |",
              "|---|---|---|" + "---|" * len(rows)]
    for df, (total, largest) in resnet.items():
        hours = " | ".join(f"{total / r['rate'] / 3600:,.1f}" for r in rows)
        lines.append(f"| {df} | {total:,} | {largest:,} | {hours} |")
    lines += ["", "`--model rtl` refuses no layer for its length: each command's cycle limit is "
              "the cycle model's total plus a quarter."]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
