"""Benchmark: a design-space sweep of ResNet-18 (analytical model, ws and os) against running
`dlaforge.simulate` once per point in one process.

The points are a Latin-hypercube sample (seed 0) of edge_tiny with pe_array.rows and .cols in
4..64, the scratchpad 8 KiB..256 KiB (log-uniform) and the DRAM bandwidth 1..64 bytes/cycle:
every point a different arch, so the per-worker op cache finds nothing to share between
points and the speed-up is the sweep's own (parallel workers, one network load, no per-call
setup). Each repeat times, side by side in this process and in this order: simulate once per
point and dataflow; the sweep with 1 local worker (in this process); with 2 local worker
processes; on a 2-worker Dask LocalCluster (processes, one thread each; its start-up timed
apart); and a rerun of the finished sweep (everything from the store). Each sweep starts from
an empty folder and an empty op cache. The rows of every sweep are checked equal to each
other and to simulate's totals. Writes bench/RESULTS_sweep.md.

    .venv/bin/python bench/bench_sweep.py [--points 1000] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import dlaforge
from dlaforge.arch import arch_from_mapping
from dlaforge.errors import SpecError
from dlaforge.sim.sweep import execute
from dlaforge.sim.sweep.spec import load_sweep_spec

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS_sweep.md"
DATAFLOWS = ("ws", "os")
LOADS = []      # the 1-minute load average after each timed configuration


def sweep_spec(points: int) -> dict:
    return {"base": "edge_tiny", "networks": ["resnet18"], "model": "analytical",
            "objective": "energy", "dataflows": list(DATAFLOWS), "methods": ["baseline"],
            "vary": {"pe_array.rows": {"min": 4, "max": 64},
                     "pe_array.cols": {"min": 4, "max": 64},
                     "memory.scratchpad.size_bytes": {"min": 8192, "max": 262144, "log": True},
                     "dram.bandwidth_bytes_per_cycle": {"min": 1, "max": 64}},
            "samples": {"count": points, "method": "lhs", "seed": 0}}


def one_by_one(spec: dict) -> dict:
    """simulate() once per point and dataflow: {(point, dataflow): (energy, cycles) or None}."""
    out = {}
    for point in load_sweep_spec(spec).points():
        for df in DATAFLOWS:
            try:
                arch = arch_from_mapping(point.arch)
                totals = dlaforge.simulate(arch, "resnet18", dataflow=df).totals
                out[point.index, df] = (totals.energy_pj, totals.cycles)
            except SpecError:
                out[point.index, df] = None
    return out


def cpu_seconds() -> float:
    """CPU time of this process and of its reaped children (the local workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), \
        resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn, cpu: list | None = None):
    start, start_cpu = time.perf_counter(), cpu_seconds()
    value = fn()
    if cpu is not None:
        cpu.append(cpu_seconds() - start_cpu)
    LOADS.append(os.getloadavg()[0])
    return time.perf_counter() - start, value


def timed_sweep(spec: dict, work: Path, name: str, rerun: bool = False, cpu=None, **how):
    out = work / name
    if not rerun:
        shutil.rmtree(out, ignore_errors=True)
        execute._PRICED.clear()          # no op priced by an earlier configuration
    return timed(lambda: dlaforge.sweep(spec, out, **how), cpu)


def as_pairs(rows) -> dict:
    return {(r["point"], r["dataflow"]): (r["energy_pj"], r["cycles"]) if r["status"] == "ok"
            else None for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    from distributed import LocalCluster

    spec = sweep_spec(args.points)
    dlaforge.simulate("edge_tiny", "resnet18")          # imports and first-call warm-up
    times = {k: [] for k in ("simulate", "w1", "w2", "dask", "rerun", "cluster")}
    cpu = {k: [] for k in ("simulate", "w1", "w2")}
    reference = rows = None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for _ in range(args.repeats):
            t, reference = timed(lambda: one_by_one(spec), cpu["simulate"])
            times["simulate"].append(t)
            for key, how in (("w1", {"workers": 1}), ("w2", {"workers": 2})):
                t, rows = timed_sweep(spec, work, key, cpu=cpu[key], **how)
                times[key].append(t)
                assert as_pairs(rows) == reference, f"{key}: rows differ from simulate"
            t, _ = timed_sweep(spec, work, "w2", rerun=True, workers=2)
            times["rerun"].append(t)
            start = time.perf_counter()
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster:
                times["cluster"].append(time.perf_counter() - start)
                t, dask_rows = timed_sweep(spec, work, "dask",
                                           scheduler=cluster.scheduler_address)
            times["dask"].append(t)
            assert dask_rows == rows, "Dask rows differ from local workers'"
    write_results(args, times, cpu, rows)
    print(RESULTS.read_text())


def write_results(args, times, cpu, rows) -> None:
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    refused = len({r["point"] for r in rows if r["status"] != "ok"})
    spread = lambda k: (f"{med[k]:.1f} (min {min(times[k]):.1f}, max {max(times[k]):.1f})"
                        if len(times[k]) > 1 else f"{med[k]:.1f}")
    rate = lambda k: args.points / med[k]
    lines = [
        f"# Sweep: {args.points} points of ResNet-18 (analytical model, ws and os)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared), Python "
        f"{platform.python_version()}; other work on the machine: 1-minute load average "
        f"{min(LOADS):.2f} to {max(LOADS):.2f} after the timed runs (2.0 is both cores busy). "
        f"Measured side by side in one run of "
        f"`bench/bench_sweep.py --points {args.points} --repeats {args.repeats}` "
        f"({'median of ' + str(args.repeats) + ' repeats' if args.repeats > 1 else 'one repeat: single measurements, not medians'}).",
        "",
        f"Points: a Latin-hypercube sample of edge_tiny (pe_array.rows and .cols 4..64, "
        f"scratchpad 8 KiB..256 KiB log-uniform, DRAM 1..64 B/cycle, seed 0); every point a "
        f"different arch, {args.points * len(DATAFLOWS)} network runs; {refused} points "
        f"refused (buffers too small for any tile), priced like the others. Rows of every "
        f"sweep checked equal to each other and to `simulate`'s totals.",
        "",
        "| how | wall s | points/s | vs simulate one by one | CPU s (with workers) |",
        "|---|---|---|---|---|",
    ]
    for key, what in (("simulate", "`dlaforge.simulate` once per point and dataflow, one "
                                   "process"),
                      ("w1", "`dlaforge sweep --workers 1` (in the sweep's process)"),
                      ("w2", "`dlaforge sweep --workers 2` (local processes)"),
                      ("dask", "Dask LocalCluster, 2 worker processes (`--scheduler`)")):
        used = f"{cpu_med[key]:.1f}" if key in cpu_med else "not measured"
        lines.append(f"| {what} | {spread(key)} | {rate(key):.2f} | "
                     f"{med['simulate'] / med[key]:.2f}x | {used} |")
    lines += [
        "",
        f"The Dask cluster's start-up, not in its row: {med['cluster']:.1f} s. A rerun of the "
        f"finished 2-worker sweep (every point from the store; results.csv and index.html "
        f"written again): {med['rerun']:.1f} s.",
        "",
        f"Target: {args.points} points in under 120 s on 2 cores: "
        f"{'met' if med['w2'] < 120 * args.points / 1000 else 'not met'} with 2 local workers "
        f"({med['w2']:.1f} s{'' if args.points == 1000 else ', scaled target ' + format(120 * args.points / 1000, '.0f') + ' s'}).",
        "",
    ]
    RESULTS.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
