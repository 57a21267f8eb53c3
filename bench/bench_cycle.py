"""Benchmark: the cycle model against SCALE-Sim 3.0 on ResNet-18's 20 conv layers.

32x32 array, CALC bandwidth, os/ws/is. SCALE-Sim runs through its Python API without trace
files, in its own venv (bench/_work/scalesim-venv, numpy < 2.4), one process per dataflow;
dlaforge runs `dlaforge.simulate(cfg, topology, model="cycle")` in a fresh process per dataflow
(first call, which loads or compiles the numba kernels, and the median of warm repeats). Both
report wall time and peak resident memory; every layer's cycles, stalls and DRAM counts are
compared. Writes bench/RESULTS_cycle.md.

    .venv/bin/python bench/bench_cycle.py [--repeats N] [--reuse-scalesim] [--scalesim-only]

SCALE-Sim needs 4-15 minutes per dataflow here; --reuse-scalesim takes its reports and timings
from the last run saved under bench/_work/cycle_bench/ (the table says when it did).
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "_work" / "cycle_bench"
SCALESIM_PY = ROOT / "bench" / "_work" / "scalesim-venv" / "bin" / "python"
RESULTS = ROOT / "bench" / "RESULTS_cycle.md"
DATAFLOWS = ("os", "ws", "is")
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from scalesim_cfg import SCALESIM_CFG  # noqa: E402
from scalesim_fixtures import ensure_venv  # noqa: E402

# runs in a fresh dlaforge process: first call, then warm repeats, then peak memory
DLAFORGE_JOB = """
import json, resource, statistics, sys, time
t0 = time.perf_counter()
import dlaforge
cfg, topo, df, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
t1 = time.perf_counter()
record = dlaforge.simulate(cfg, topo, dataflow=df, model="cycle")
first = time.perf_counter() - t1
warm = []
for _ in range(repeats):
    t = time.perf_counter()
    dlaforge.simulate(cfg, topo, dataflow=df, model="cycle")
    warm.append(time.perf_counter() - t)
layers = [{"cycles": l.stats.cycles, "stalls": l.stats.stall_cycles,
           "dram": l.stats.accesses["dram"]} for l in record.layers]
print(json.dumps({"import_s": t1 - t0, "first_s": first, "warm_s": warm,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "layers": layers}))
"""


def write_inputs() -> Path:
    """ResNet-18's conv layers in SCALE-Sim's topology form. SCALE-Sim has no padding and
    rounds its ofmap up, so each ifmap is given as exactly the rows a layer reads:
    H = (P - 1) * stride + R, which keeps every layer's output size and MACs."""
    from dlaforge.workloads.networks import load_network
    WORK.mkdir(parents=True, exist_ok=True)
    lines = ["Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
             "Num Filter, Strides,"]
    for layer in load_network("resnet18").layers:
        if layer.kind == "linear":
            continue
        h, w = (layer.P - 1) * layer.stride + layer.R, (layer.Q - 1) * layer.stride + layer.S
        lines.append(f"{layer.name}, {h}, {w}, {layer.R}, {layer.S}, {layer.C}, {layer.K}, "
                     f"{layer.stride},")
    topology = WORK / "resnet18_conv.csv"
    topology.write_text("\n".join(lines) + "\n")
    (WORK / "layout.csv").write_text("Layer name,\n")
    for df in DATAFLOWS:
        (WORK / f"{df}.cfg").write_text(SCALESIM_CFG.format(
            name=f"resnet18_{df}", rows=32, cols=32, dataflow=df, mode="CALC", bandwidth=10,
            ifmap_kb=256, filter_kb=256, ofmap_kb=256, bank_bandwidth=10, bank_num=10))
    return topology


def read_report(path: Path) -> list[dict]:
    with open(path) as f:
        rows = list(csv.reader(f))
    header = [h.strip() for h in rows[0] if h.strip()]
    return [dict(zip(header, (float(v) for v in row if v.strip()))) for row in rows[1:] if row]


def run_scalesim(df: str, topology: Path) -> dict:
    out = WORK / df
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    proc = subprocess.run([str(SCALESIM_PY), str(ROOT / "bench" / "peers" / "scalesim_run.py"),
                           str(WORK / f"{df}.cfg"), str(topology), str(WORK / "layout.csv"),
                           str(out)], check=True, capture_output=True, text=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["when"] = time.strftime("%Y-%m-%d %H:%M")
    report_dir = out / f"resnet18_{df}"
    result["compute"] = read_report(report_dir / "COMPUTE_REPORT.csv")
    result["access"] = read_report(report_dir / "DETAILED_ACCESS_REPORT.csv")
    (WORK / f"{df}_scalesim.json").write_text(json.dumps(result))
    return result


def run_dlaforge(df: str, topology: Path, repeats: int) -> dict:
    proc = subprocess.run([sys.executable, "-c", DLAFORGE_JOB, str(WORK / f"{df}.cfg"),
                           str(topology), df, str(repeats)], check=True, capture_output=True,
                          text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def agreement(ours: dict, theirs: dict) -> tuple[int, int, list[str]]:
    """(layers whose cycles are equal, layers whose stalls and DRAM counts are all equal,
    differences)."""
    cycles_equal = counts_equal = 0
    diffs = []
    for i, (mine, comp, acc) in enumerate(zip(ours["layers"], theirs["compute"], theirs["access"])):
        pairs = {"cycles": (mine["cycles"], comp["Total Cycles"]),
                 "stalls": (mine["stalls"], comp["Stall Cycles"]),
                 "DRAM ifmap reads": (mine["dram"]["ifmap"]["reads"], acc["DRAM IFMAP Reads"]),
                 "DRAM filter reads": (mine["dram"]["weight"]["reads"], acc["DRAM Filter Reads"]),
                 "DRAM ofmap writes": (mine["dram"]["ofmap"]["writes"], acc["DRAM OFMAP Writes"])}
        cycles_equal += pairs["cycles"][0] == pairs["cycles"][1]
        counts_equal += all(a == b for a, b in pairs.values())
        diffs += [f"layer {i} {k}: ours {a} vs {b:.0f}" for k, (a, b) in pairs.items() if a != b]
    return cycles_equal, counts_equal, diffs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reuse-scalesim", action="store_true")
    parser.add_argument("--scalesim-only", action="store_true")
    args = parser.parse_args()
    ensure_venv()
    topology = write_inputs()
    rows, notes = [], []
    for df in DATAFLOWS:
        cached = WORK / f"{df}_scalesim.json"
        if args.reuse_scalesim and cached.exists():
            theirs = json.loads(cached.read_text())
        else:
            print(f"SCALE-Sim {df} ...", file=sys.stderr, flush=True)
            theirs = run_scalesim(df, topology)
        if args.scalesim_only:
            continue
        print(f"dlaforge {df} ...", file=sys.stderr, flush=True)
        ours = run_dlaforge(df, topology, args.repeats)
        cyc_eq, cnt_eq, diffs = agreement(ours, theirs)
        warm = sorted(ours["warm_s"])[len(ours["warm_s"]) // 2]
        total_theirs = int(sum(c["Total Cycles"] for c in theirs["compute"]))
        total_ours = sum(l["cycles"] for l in ours["layers"])
        rows.append(f"| {df} | {theirs['wall_s']:.1f} | {theirs['peak_rss_mb']:.0f} | "
                    f"{ours['first_s']:.3f} | {warm:.3f} | {ours['peak_rss_mb']:.0f} | "
                    f"{theirs['wall_s'] / warm:,.0f}x | {total_theirs:,} | {total_ours:,} | "
                    f"{cyc_eq}/{len(ours['layers'])} | {cnt_eq}/{len(ours['layers'])} | "
                    f"{theirs['when']} |")
        notes += [f"- {df}: {d}" for d in diffs]
    if args.scalesim_only:
        return
    text = [
        "# Cycle model vs SCALE-Sim 3.0: ResNet-18 conv layers, 32x32, CALC", "",
        f"Machine: {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}; made by `bench/bench_cycle.py` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}.", "",
        "SCALE-Sim: Python API, no trace files, one process per dataflow. dlaforge: "
        "`dlaforge.simulate(cfg, topology, model=\"cycle\")` in a fresh process per dataflow; "
        "'first' includes loading the cached numba kernels, 'warm' is the median of "
        f"{args.repeats} further runs. Peak memory is each process's maximum resident set.", "",
        "| dataflow | SCALE-Sim s | SCALE-Sim MB | dlaforge first s | dlaforge warm s | "
        "dlaforge MB | speed-up (warm) | SCALE-Sim total cycles | dlaforge total cycles | "
        "layers with equal cycles | layers with equal stalls + DRAM counts | SCALE-Sim run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|", *rows, "",
        "Differences per layer:" if notes else "Every layer's cycles, stall cycles, DRAM ifmap "
        "reads, DRAM filter reads and DRAM ofmap writes are equal.", *notes, ""]
    RESULTS.write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
