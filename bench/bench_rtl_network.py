"""Benchmark: whole networks on the generated accelerator (the mapped-program controller,
hw/controller/) through the public API, `dlaforge.simulate(..., model="rtl")` (dlaforge/
rtl_driver.py: the mapper plans every layer, the whole network runs as one free-running
simulator process, hw/controller/free_run.py, every layer's outputs checked bit-exact against
the numba reference). Writes bench/RESULTS_rtl_network.md.

    .venv/bin/python bench/bench_rtl_network.py [--no-os] [--budget SECONDS]

Every case runs in a fresh Python process (as `dlaforge simulate` would), with DLAFORGE_CACHE
pointing at a temporary build cache: "cold" is an empty cache (the simulator is built in the
run), "cached" one a cold run of the same design filled. Each case reports its wall time, where
the time went (the parent's calls timed exclusively: the mapper's plan, the random operands,
the reference convolutions, Verilog generation, the simulator build, the DRAM image and input
files, the simulation process, reading the output image, the output check), the simulator
`--model rtl` chose, its peak memory (getrusage of the process and of its children: the
simulator and, cold, the compiler), and whether every layer's cycles, DRAM bytes and energy
equal `--model cycle`'s (run after it in the same process).

1. The 5-layer chained CNN (CNN below) on edge_tiny under ws, os and is (at about 50k cycles
   `choose_simulator` picks Icarus), and under ws forced onto Verilator (its rate).
2. ResNet-18 on edge_tiny under ws, cold and cached, and os cached (`--no-os` leaves it out,
   as does `--budget` when the bench has run longer than it allows); is (about 400 M cycles)
   is left out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS_rtl_network.md"
# a CIFAR-sized CNN whose every layer reads the previous one's outputs
CNN = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
       "Num Filter, Strides,\nconv1, 18, 18, 3, 3, 3, 16, 1,\nconv2, 16, 16, 3, 3, 16, 16, 2,\n"
       "conv3, 8, 8, 3, 3, 16, 32, 1,\nconv4, 6, 6, 3, 3, 32, 32, 2,\nfc, 3, 3, 1, 1, 32, 10, 1,\n")
ARCH = "edge_tiny"
PHASES = ("plan", "operands", "reference", "verilog", "build", "image", "inputs", "simulation",
          "read", "check")
PHASE_NAMES = {"plan": "mapper's plan", "operands": "random operands",
               "reference": "reference convolutions (numba)", "verilog": "Verilog generation",
               "build": "simulator build", "image": "DRAM image", "inputs": "input files write",
               "simulation": "simulation process", "read": "output image read",
               "check": "output check (excl. reference)"}


# ---------------------------------------------------------------- one case, in its own process

class Timer:
    """Exclusive wall seconds per phase: a call inside another's is charged to the inner one."""

    def __init__(self):
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.stack: list = []       # [phase, started]

    def wrap(self, owner, name: str, phase, pick=None):
        """Time calls of `owner.name` as `phase` (or `pick(args)` when given)."""
        original = getattr(owner, name, None)
        if original is None:
            return
        timer = self

        def timed(*args, **kwargs):
            label = pick(args, kwargs) if pick else phase
            now = time.perf_counter()
            if timer.stack:
                outer = timer.stack[-1]
                timer.seconds[outer[0]] += now - outer[1]
            timer.stack.append([label, now])
            try:
                return original(*args, **kwargs)
            finally:
                end = time.perf_counter()
                done = timer.stack.pop()
                timer.seconds[done[0]] += end - done[1]
                if timer.stack:
                    timer.stack[-1][1] = end
        setattr(owner, name, staticmethod(timed) if isinstance(
            owner.__dict__.get(name), staticmethod) else timed)


def run_case(case: dict) -> dict:
    import dlaforge
    from dlaforge import rtl_driver
    from dlaforge.hw.controller import free_run, network
    from dlaforge.hw.controller.stimulus import ControllerJob

    timer, builds = Timer(), []
    timer.wrap(rtl_driver, "_plan", "plan")
    timer.wrap(network.ControllerNetworkJob, "random", "operands")
    timer.wrap(ControllerJob, "sums", "reference")
    timer.wrap(free_run, "design_of", "verilog")
    timer.wrap(free_run, "_run", None,
               lambda args, kw: "build" if "build" in (args[3] if len(args) > 3 else
                                                       kw.get("what", "")) else "simulation")
    timer.wrap(network.ControllerNetworkJob, "dram_image", "image")
    timer.wrap(free_run, "write_inputs", "inputs")
    timer.wrap(free_run, "read_image", "read")
    timer.wrap(network.ControllerNetworkJob, "first_difference", "check")
    peaks = watch_children(free_run)
    original_build = free_run.build_free

    def recorded_build(*args, **kwargs):
        build = original_build(*args, **kwargs)
        builds.append({"sim": build.sim, "built": build.built, "depth_bits": build.depth_bits})
        return build
    free_run.build_free = recorded_build
    if case.get("force"):
        rtl_driver.choose_simulator = lambda cycles: case["force"]

    network_arg = case["network"]
    if network_arg == "cnn":
        # in the bench's temporary build cache, removed with it
        folder = Path(os.environ.get("DLAFORGE_CACHE") or tempfile.mkdtemp())
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "cnn5.csv"
        path.write_text(CNN)
        network_arg = str(path)
    start = time.perf_counter()
    rtl = dlaforge.simulate(ARCH, network_arg, dataflow=case["dataflow"], model="rtl")
    wall = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    cycle = dlaforge.simulate(ARCH, network_arg, dataflow=case["dataflow"], model="cycle")
    cycle_wall = time.perf_counter() - start
    layers, worst_energy = [], 0.0
    for a, b in zip(rtl.layers, cycle.layers):
        sa, sb = a.stats, b.stats
        rel = abs(sa.energy_pj - sb.energy_pj) / max(abs(sb.energy_pj), 1e-30)
        worst_energy = max(worst_energy, rel)
        layers.append({"name": a.name, "cycles": sa.cycles, "cycle_model": sb.cycles,
                       "equal": (a.name == b.name and sa.cycles == sb.cycles
                                 and sa.dram_read_bytes == sb.dram_read_bytes
                                 and sa.dram_write_bytes == sb.dram_write_bytes
                                 and sa.energy_pj == sb.energy_pj),
                       "input": a.mapping.get("input")})
    sims = sorted({layer.mapping.get("simulator") for layer in rtl.layers})
    cycles = rtl.totals.cycles
    return {**case, "wall": wall, "phases": timer.seconds, "builds": builds,
            "simulator": ",".join(map(str, sims)), "cycles": cycles,
            "cycle_model_cycles": cycle.totals.cycles, "cycle_wall": cycle_wall,
            "layers": layers, "equal": len(rtl.layers) == len(cycle.layers) and all(
                layer["equal"] for layer in layers), "worst_energy_rel": worst_energy,
            "chained": sum(layer["input"] == "chained" for layer in layers),
            "rss_self_mb": own / 1024, "rss_children_mb": children / 1024,
            "sim_peak_mb": max([mb for what, mb in peaks if what == "simulation"], default=0)}


def watch_children(module) -> list:
    """Have `module`'s subprocess.Popen children sampled for their peak RSS (VmHWM, every
    0.2 s while they live): getrusage's children figure starts from this process' size at
    fork time (Popen with a preexec_fn forks the whole interpreter before exec), so it cannot
    tell a small simulator from a large parent. Returns the list (what, MB) it fills."""
    import subprocess as real
    import threading
    import types

    peaks: list = []

    def sampler(proc, what: str) -> None:
        peak = 0
        while proc.poll() is None:
            try:
                for line in open(f"/proc/{proc.pid}/status"):
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except OSError:
                break
            time.sleep(0.2)
        peaks.append((what, peak / 1024))

    class Popen(real.Popen):
        def __init__(self, command, *args, **kwargs):
            super().__init__(command, *args, **kwargs)
            what = ("build" if Path(str(command[0])).name in ("verilator", "iverilog")
                    else "simulation")
            threading.Thread(target=sampler, args=(self, what), daemon=True).start()

    shim = types.SimpleNamespace(**{k: getattr(real, k) for k in dir(real)
                                    if not k.startswith("__")})
    shim.Popen = Popen
    module.subprocess = shim
    return peaks


# ---------------------------------------------------------------- the bench

def spawn(case: dict, cache: Path) -> dict:
    """`case` in a fresh Python process whose build cache is `cache`."""
    env = {**os.environ, "DLAFORGE_CACHE": str(cache)}
    print(f"[{time.strftime('%H:%M:%S')}] {case}", flush=True)
    done = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)], env=env,
                          stdout=subprocess.PIPE, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        out = {**case, "error": f"exit status {done.returncode}: {done.stdout[-2000:]}"}
    else:
        out = json.loads(lines[-1][len("RESULT "):])
        print(f"    {out['simulator']} {out['wall']:.1f} s, {out['cycles']:,} cycles, equal "
              f"{out['equal']}, phases " + ", ".join(f"{k} {v:.1f}" for k, v in
                                                     out["phases"].items() if v >= 0.05),
              flush=True)
    return out


def built(r: dict) -> str:
    return "built" if any(b["built"] for b in r.get("builds", [])) else "cached"


def row(r: dict, label: str) -> str:
    if "error" in r:
        return f"| {label} | failed: {r['error'][:300].replace(chr(10), ' ')} |"
    p = r["phases"]
    rate = r["cycles"] / p["simulation"] if p["simulation"] else 0
    return (f"| {label} | {r['simulator']} ({built(r)}) | {r['wall']:.1f} | {p['build']:.1f} | "
            f"{p['simulation']:.1f} | {r['cycles']:,} | {rate:,.0f} | "
            f"{r['chained']} of {len(r['layers'])} | {r['equal']} | "
            f"{r['rss_self_mb']:,.0f} / {r['sim_peak_mb']:,.0f} / {r['rss_children_mb']:,.0f} |")


HEADER = ["| case | simulator (build) | wall s | build s | simulation s | simulated cycles "
          "| cycles/s (simulation) | layers chained | every layer = `--model cycle` "
          "| peak MB (python / simulator / getrusage children) |",
          "|---|---|---|---|---|---|---|---|---|---|"]


def phases_table(results: list) -> list[str]:
    shown = [(label, r) for label, r in results if "error" not in r]
    lines = ["| phase | " + " | ".join(label for label, _ in shown) + " |",
             "|---|" + "---|" * len(shown)]
    for phase in PHASES:
        cells = []
        for _, r in shown:
            s = r["phases"][phase]
            cells.append(f"{s:.1f} ({100 * s / r['wall']:.0f}%)")
        lines.append(f"| {PHASE_NAMES[phase]} | " + " | ".join(cells) + " |")
    other = [r["wall"] - sum(r["phases"].values()) for _, r in shown]
    lines.append("| other (lazy imports, records, pricing) | " +
                 " | ".join(f"{o:.1f}" for o in other) + " |")
    lines.append("| whole `simulate(model=\"rtl\")` | " +
                 " | ".join(f"{r['wall']:.1f}" for _, r in shown) + " |")
    lines.append("| `simulate(model=\"cycle\")` after it | " +
                 " | ".join(f"{r['cycle_wall']:.1f}" for _, r in shown) + " |")
    return lines


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--case":
        print("RESULT " + json.dumps(run_case(json.loads(sys.argv[2]))), flush=True)
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-os", action="store_true", help="leave ResNet-18 under os out")
    parser.add_argument("--budget", type=float, default=2400.0,
                        help="leave ResNet-18 os out when the bench has run longer than this")
    args = parser.parse_args()
    began, load_before = time.perf_counter(), os.getloadavg()
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cnn, resnet = [], []
    with tempfile.TemporaryDirectory(prefix="bench_rtl_network_") as tmp:
        tmp = Path(tmp)
        for df in ("ws", "os", "is"):
            cnn.append((f"CNN {df}, cold", spawn({"network": "cnn", "dataflow": df},
                                                 tmp / f"cnn-{df}")))
        for label in ("cold", "cached"):
            cnn.append((f"CNN ws, Verilator forced, {label}",
                        spawn({"network": "cnn", "dataflow": "ws", "force": "verilator"},
                              tmp / "cnn-verilator")))
        resnet.append(("ResNet-18 ws, cold", spawn({"network": "resnet18", "dataflow": "ws"},
                                                   tmp / "resnet")))
        resnet.append(("ResNet-18 ws, cached", spawn({"network": "resnet18", "dataflow": "ws"},
                                                     tmp / "resnet")))
        skipped_os = args.no_os or time.perf_counter() - began > args.budget
        if not skipped_os:
            resnet.append(("ResNet-18 os, cached",
                           spawn({"network": "resnet18", "dataflow": "os"}, tmp / "resnet")))
    total, load_after = time.perf_counter() - began, os.getloadavg()
    write(cnn, resnet, skipped_os, date, load_before, load_after, total)


def write(cnn, resnet, skipped_os, date, load_before, load_after, total) -> None:
    fmt = lambda load: ", ".join(f"{x:.2f}" for x in load)
    ok = [r for _, r in resnet if "error" not in r]
    lines = [
        "# Whole networks on the generated accelerator (`simulate --model rtl`)", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {date}. `bench/bench_rtl_network.py`, one run of "
        f"{total / 60:.1f} min. The machine is shared with other sessions: load average "
        f"{fmt(load_before)} before, {fmt(load_after)} after (1, 5, 15 min), so wall times "
        f"are those of a busy 2-core machine.", "",
        "Each case is `dlaforge.simulate(\"edge_tiny\", network, dataflow, model=\"rtl\")` in a "
        "fresh Python process: the mapped-program controller (hw/controller/) runs the mapper's "
        "program for every layer, the whole network as one free-running simulator process "
        "(hw/controller/free_run.py; Verilator when installed and the run is >= 100k predicted "
        "cycles, else Icarus), every layer's int8 outputs checked bit-exact against the numba "
        "reference (a run that differs raises). \"cold\": an empty build cache (DLAFORGE_CACHE), "
        "the simulator built in the run; \"cached\": the cache a cold run filled. Wall time is "
        "the call's: it includes the modules `simulate` imports lazily, not the "
        "interpreter's start or `import dlaforge`. `= --model cycle`: every layer's cycles, "
        "DRAM read and write bytes and energy_pj equal (exactly) those of `simulate(..., "
        "model=\"cycle\")`. Peak MB: max RSS of the Python process (getrusage self); of "
        "the simulator process (its VmHWM, sampled every 0.2 s); and getrusage's children "
        "figure, the largest waited-for descendant, which includes the compiler when cold and "
        "starts from the Python process' size at fork time (the simulator is started with a "
        "preexec_fn, so the interpreter is forked before exec).", "",
        "## The 5-layer CNN (18x18x3 input, every layer chained through DRAM)", "", *HEADER]
    lines += [row(r, label) for label, r in cnn]
    lines += ["", "## ResNet-18 (21 conv/fc layers; no pooling or residual adds run)", "",
              *HEADER]
    lines += [row(r, label) for label, r in resnet]
    if skipped_os:
        lines.append("| ResNet-18 os | left out (time budget) |")
    lines.append("| ResNet-18 is | left out: the cycle model gives it about 408 M cycles, "
                 "three times ws's |")
    lines += ["", "## Where the time goes (seconds of `simulate(model=\"rtl\")`, exclusive)", "",
              *phases_table(cnn[:1] + cnn[-2:] + resnet)]
    verdict = []
    for label, r in resnet:
        if "error" in r:
            verdict.append(f"{label}: failed")
            continue
        verdict.append(f"{label}: {r['wall'] / 60:.1f} min "
                       f"({'under' if r['wall'] < 600 else 'NOT under'} 10 minutes), "
                       f"{r['cycles']:,} cycles, every layer = --model cycle: {r['equal']}")
    lines += ["", "## ResNet-18 on edge_tiny under 10 minutes? (issue 21)", "",
              *[f"- {v}" for v in verdict]]
    if ok:
        worst = max(ok, key=lambda r: r["wall"])
        share = {p: worst["phases"][p] / worst["wall"] for p in PHASES}
        top = sorted(share, key=share.get, reverse=True)[:3]
        lines += ["", "What dominates (the slowest ResNet-18 run): " + ", ".join(
            f"{PHASE_NAMES[p]} {100 * share[p]:.0f}%" for p in top) + "."]
    lines += ["", "The first accelerator (hw/network_stimulus.py, its fixed program timed by "
              "sim/cycle/rtl_timing.py) is no longer the baseline's generated hardware; this "
              "file's earlier ResNet-18 cycle counts were that program's."]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
