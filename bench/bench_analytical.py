"""Benchmark: the analytical model with its mapping search against ZigZag 3.9.1.

Whole ResNet-18 on `tpu_like`, all three dataflows, mapping search included; median wall time
of several runs in this process. ZigZag runs once in its own venv (bench/_work/zigzag-venv,
created on first use) on its shipped ResNet-18 ONNX and tpu_like accelerator, in the same
script, so both are measured on the same machine at the same time. Writes
bench/RESULTS_analytical.md.

    .venv/bin/python bench/bench_analytical.py [--repeats N] [--no-peer]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import dlaforge

ROOT = Path(__file__).resolve().parent.parent
ZIGZAG_VENV = ROOT / "bench" / "_work" / "zigzag-venv"
RESULTS = ROOT / "bench" / "RESULTS_analytical.md"


def time_dlaforge(repeats: int):
    times, records = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        records = dlaforge.simulate("tpu_like", "resnet18", dataflow="all")
        times.append(time.perf_counter() - start)
    return times, records


def run_zigzag():
    python = ZIGZAG_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(ZIGZAG_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "zigzag-dse==3.9.1", "six"],
                       check=True)
    start = time.perf_counter()
    out = subprocess.run([str(python), str(ROOT / "bench" / "peers" / "zigzag_run.py"), "tpu_like"],
                         check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-peer", action="store_true", help="skip ZigZag")
    args = parser.parse_args()

    dlaforge.simulate("tpu_like", "alexnet")           # import and first-call warm-up
    times, records = time_dlaforge(args.repeats)
    median = statistics.median(times)
    zz = None if args.no_peer else run_zigzag()
    lines = [
        "# Analytical model: ResNet-18 on tpu_like, all dataflows, mapping search included",
        "",
        f"Machine: {platform.machine()}, {platform.python_version()}, measured side by side in one "
        f"run of bench/bench_analytical.py ({args.repeats} dlaforge runs).",
        "",
        "| tool | what | wall time s | energy uJ | latency Mcycles |",
        "|---|---|---|---|---|",
    ]
    for record in records:
        t = record.totals
        lines.append(f"| dlaforge | dataflow {record.dataflow} (one of the three timed together) | "
                     f"| {t.energy_pj / 1e6:.0f} | {t.cycles / 1e6:.3f} |")
    lines.append(f"| dlaforge | all three dataflows, median (min {min(times):.3f}, max "
                 f"{max(times):.3f}) | {median:.3f} | | |")
    if zz:
        lines.append(f"| ZigZag 3.9.1 | one dataflow (ws), its own mapping search | "
                     f"{zz['wall_s']:.1f} | {zz['energy_pj'] / 1e6:.0f} | "
                     f"{zz['latency_cycles'] / 1e6:.3f} |")
        lines += ["", f"Speed-up: ZigZag's one dataflow / dlaforge's three = "
                      f"**{zz['wall_s'] / median:.0f}x** (target >= 50x, dlaforge < 1 s)."]
    lines += ["", "Energies differ because the two tools model different machines under the same",
              "name: ZigZag's tpu_like has 0.04 pJ MACs, a 128 B weight RF per PE and a 2 MB",
              "SRAM for inputs and outputs only; dlaforge's tpu_like uses Horowitz MACs scaled",
              "to 28 nm, a unified 2 MiB buffer priced by CACTI scaling, and im2col ifmap",
              "reads per column fold. Both charge 700/750 pJ per 64-bit DRAM access."]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
