"""Benchmark: dlaforge side by side with AccelForge 1.0.467 (Timeloop + Accelergy's successor).

The same layers on the same architecture in both tools: dlaforge's eyeriss_like (row
stationary) and tpu_like (weight stationary) presets, written as AccelForge arch specs with the
same sizes, bit widths, bandwidths and per-access energies (dlaforge's own energy table), and
dlaforge's mapping of each layer written as an AccelForge mapping, so both models price one
loop nest (AccelForge's `Spec.evaluate_mapping`, not its mapper: its full mapper took 1,160 s
on the first layer here, ../shared/TOOLCHAIN.md). First row: the Timeloop/Accelergy exercise
layer (C=3, M=32, P=Q=112, R=S=3, stride 2); then ResNet-18 layers. Energy is compared as
the energy of actions (MAC, storage, NoC, DRAM: the same pJ per action in both; dlaforge's
requantization stage of the ws controller's outputs, which AccelForge's workload lacks, is an
item of its own) with the
per-cycle energy apart: a preset's clock/control/leakage pJ per cycle (eyeriss_like's fitted
clock_pj_per_cycle) is given to AccelForge as a leak power, so each tool charges it over its
own total cycles and its gap is the cycle gap. The global buffer's capacity is as the preset
declares it (single- or double-buffered, dlaforge's mapper's check; AccelForge checks the
whole buffer). The layers are dense (no stated zeros), so eyeriss_like's zero gating and
zero-RLE DRAM compression are inactive; the bench refuses a layer that states zeros. Area: the same arch with
AccelForge's own component models (hwcomponents + CACTI) beside dlaforge's `cacti` energy model
of the memories. Wall times: medians of both tools on the same layers in this run.

AccelForge runs in its own venv (bench/_work/accelforge-venv, Python 3.12, created on first
use: pip install accelforge==1.0.467, then CACTI rebuilt from the source hwcomponents-cacti
ships, as the Makefile does for dlaforge's cacti model). Writes bench/RESULTS_accelforge.md.

    .venv/bin/python bench/bench_accelforge.py [--repeats N] [--layers NAME,...]
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
VENV = ROOT / "bench" / "_work" / "accelforge-venv"
WORK = ROOT / "bench" / "_work" / "accelforge"
RESULTS = ROOT / "bench" / "RESULTS_accelforge.md"
PIN = "accelforge==1.0.467"
RESNET_LAYERS = ("conv1", "layer1.0.conv1", "layer2.0.conv1", "layer2.0.downsample",
                 "layer3.0.conv2", "layer4.0.conv2")
ARCHS = (("eyeriss_like", "rs"), ("tpu_like", "ws"))


def fail(message: str) -> None:
    print(f"bench_accelforge: {message}", file=sys.stderr)
    sys.exit(2)


def python312() -> str:
    candidates = ["python3.12"] + sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.12*/bin"
                                                       "/python3.12")))
    for p in candidates:
        exe = shutil.which(p) or (p if Path(p).exists() else None)
        if exe and subprocess.run([exe, "-c", "import sys; assert sys.version_info[:2] == "
                                   "(3, 12)"], capture_output=True).returncode == 0:
            return exe
    raise RuntimeError("AccelForge needs Python 3.12 and none was found")


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    if not stamp.exists():
        if not python.exists():
            subprocess.run([python312(), "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", PIN], check=True)
        cacti = subprocess.run([str(python), "-c", "import hwcomponents_cacti, os; print(os.path."
                                "join(os.path.dirname(hwcomponents_cacti.__file__), 'cacti'))"],
                               check=True, capture_output=True, text=True).stdout.strip()
        subprocess.run(["make", "-s", "-C", cacti, "opt", "NTHREADS=2", "-j2"], check=True,
                       capture_output=True)
        stamp.touch()
    return python


def the_layers(names):
    from dlaforge.workloads.layer import Layer
    from dlaforge.workloads.networks import load_network
    exercise = Layer(name="timeloop_exercise", kind="conv2d", K=32, C=3, P=112, Q=112, H=225,
                     W=225, R=3, S=3, stride=2, padding=0)
    resnet = {layer.name: layer for layer in load_network("resnet18").layers}
    chosen = [exercise] if "timeloop_exercise" in names else []
    for name in names:
        if name != "timeloop_exercise":
            chosen.append(resnet[name])
    return chosen


def run_dlaforge(arch, dataflow, layer, repeats, objective="energy", pinned=None):
    """dlaforge's analytical model on one layer: through its mapper (`objective`), or on the
    `pinned` mapping (dlaforge.program.Mapping) through sim.analytical.evaluate (plus
    sim.energy.time_energy: the per-cycle energy the models add to a layer's Stats)."""
    import dlaforge
    from dlaforge.workloads.networks import Network
    net = Network(name=layer.name, layers=(layer,))
    walls, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        if pinned is None:
            record = dlaforge.simulate(arch, net, dataflow=dataflow, model="analytical",
                                       objective=objective)
        else:
            from dlaforge.arch import load_arch
            from dlaforge.sim.analytical import evaluate
            from dlaforge.sim.energy import energy_table, time_energy
            from dlaforge.workloads.methods.baseline import transform
            spec = load_arch(arch)
            (op,) = transform(layer, spec)
            table = energy_table(spec)
            # the per-cycle energy, as the models add it to a layer's summed Stats
            stats = time_energy(evaluate(spec, op, pinned, dataflow, table), table)
        walls.append(time.perf_counter() - start)
    if pinned is None:
        out = record.to_json()["layers"][0]
    else:
        out = replace(stats, macs=layer.macs).to_dict()
        out["mapping"] = pinned.to_dict()
    out["mapping"]["tile"].setdefault("Q", layer.Q)       # untiled output columns
    out["wall_s"] = walls
    return out


def timeloop_like(layer, spec):
    """A row-stationary mapping of the exercise layer that keeps 126 of the 168 PEs busy, as
    Timeloop's mapper's does (75%): R = 3 rows x tc = 3 channel sets = 9 rows, 14 output rows on
    the 14 columns, one channel and 4 filters per PE; tiles of 14 output rows and the largest
    filter tile that divides K, is a whole number of 4-filter passes, and fits the GLB as the
    preset declares it (dlaforge's own capacity check, sim/analytical._fits: the whole buffer
    when it is single-buffered, half of it when double-buffered)."""
    from dlaforge.program import Mapping
    from dlaforge.sim.analytical import _fits
    from dlaforge.workloads.methods.baseline import transform
    (op,) = transform(layer, spec)
    rs = {"tc": 3, "tk": 1, "q": 1, "pf": 4}
    kt = max(k for k in range(rs["pf"], layer.K + 1, rs["pf"]) if not layer.K % k
             and bool(_fits(spec, op, {"kt": k, "ct": layer.C, "pt": 14, **rs})))
    return Mapping(kt=kt, ct=layer.C, pt=14, order="ncpk", **rs)


def cacti_variant(spec):
    """`spec` with every memory level priced by dlaforge's `cacti` energy model (for area)."""
    levels = tuple(replace(m, energy_model="cacti", read_energy_pj=None, write_energy_pj=None,
                           leakage_mw=None, area_um2=None) for m in spec.memory)
    return replace(spec, memory=levels)


def dlaforge_area(spec):
    from dlaforge.sim.energy import energy_table
    try:
        t = energy_table(cacti_variant(spec))
    except Exception as error:              # no hwcomponents side venv: say so in the table
        return {}, " ".join(str(error).split())[:200], {}
    return t.area_um2, None, {n: (t.read_pj_per_word[n], t.write_pj_per_word[n])
                              for n in t.read_pj_per_word}


def median(xs):
    return statistics.median(xs) if xs else float("nan")


# --- comparison --------------------------------------------------------------------------

def group_accelforge(result, spec):
    """AccelForge's energy in dlaforge's breakdown categories (pJ); its leak energy (dlaforge's
    per-cycle energy given as a leak power, bench/accelforge_specs.py) as "clock"."""
    per_pe = {m.name for m in spec.memory if m.per_pe}
    cats = {"mac": 0.0, "rf": 0.0, "sram": 0.0, "dram": 0.0, "clock": 0.0}
    for key, pj in result["energy_pj"].items():
        component, action = key.split("|")[0], key.split("|")[2]
        cat = ("clock" if action == "leak" else
               "dram" if component == "MainMemory" else "sram" if component == "GlobalBuffer"
               else "mac" if component == "MAC" else "rf" if component in per_pe else None)
        if cat is None:
            raise ValueError(f"unexpected AccelForge component {component}")
        cats[cat] += pj
    return cats


def accesses_accelforge(result, spec, layer):
    """AccelForge's actions as elements read/written per (level, operand), dlaforge's way."""
    pe = spec.pe_array
    glb = next(m for m in spec.memory if not m.per_pe)
    bpa = {"MainMemory": 64, "GlobalBuffer": glb.word_bits}
    bpa.update({m.name: m.word_bits for m in spec.memory if m.per_pe})
    bits = {"I": layer.ifmap_bits or pe.ifmap_bits, "W": layer.weight_bits or pe.weight_bits,
            "O": pe.ofmap_bits}
    operand = {"I": "ifmap", "W": "weight", "O": "ofmap"}
    out = {}
    for key, n in result["actions"].items():
        component, tensor, action = key.split("|")
        if component == "MAC":
            continue
        b = bits[tensor]
        if component == "GlobalBuffer" and tensor == "O" and pe.psum_bits != pe.ofmap_bits \
                and spec.pe_array.dataflows[0] != "rs":
            b = pe.psum_bits
        level = "dram" if component == "MainMemory" else (
            glb.name if component == "GlobalBuffer" else component)
        out.setdefault(level, {}).setdefault(operand[tensor], {"reads": 0, "writes": 0})
        out[level][operand[tensor]]["reads" if action == "read" else "writes"] += \
            round(n * bpa[component] / b)
    return out


def pct(a, b):
    return f"{(a - b) / b * 100:+.1f}%" if b else ("0" if a == 0 else "n/a")


def fmt(x, digits=0):
    return f"{x:,.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", default="5")
    parser.add_argument("--layers", default=",".join(("timeloop_exercise",) + RESNET_LAYERS))
    parser.error = fail                     # one line on stderr, exit 2
    args = parser.parse_args()
    try:
        repeats = int(args.repeats)
        if repeats < 1:
            raise ValueError
    except ValueError:
        fail(f"--repeats must be a positive integer, not {args.repeats!r}")
    names = [n.strip() for n in args.layers.split(",") if n.strip()]
    known = ("timeloop_exercise",) + tuple(
        l.name for l in __import__("dlaforge.workloads.networks", fromlist=["x"])
        .load_network("resnet18").layers if l.kind in ("conv2d", "pointwise"))
    bad = [n for n in names if n not in known]
    if not names:
        fail("--layers names no layer")
    if bad:
        fail(f"unknown layer {bad[0]!r}; choose from {', '.join(known)}")

    import dlaforge
    from dlaforge.arch import load_arch
    from dlaforge.sim.energy import energy_table
    from accelforge_specs import arch_yaml, mapping_rs, mapping_ws, workload_yaml

    try:
        python = ensure_venv()
    except (subprocess.CalledProcessError, RuntimeError, OSError) as error:
        print(f"bench_accelforge: AccelForge could not be installed: {error}", file=sys.stderr)
        sys.exit(1)

    layers = the_layers(names)
    zeros = [l.name for l in layers if getattr(l, "ifmap_zeros", 0) or getattr(l, "ofmap_zeros", 0)]
    if zeros:       # AccelForge is given a dense workload: zero gating / RLE must be inactive
        fail(f"layer {zeros[0]!r} states zeros; this comparison is of dense layers")
    dlaforge.simulate("eyeriss_like", Network_of(layers[0]), model="analytical")   # warm-up
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    cases, rows = [], []
    for arch, dataflow in ARCHS:
        spec = load_arch(arch)
        table = energy_table(spec)
        arch_text = arch_yaml(spec, table, dataflow)
        area_text = arch_yaml(spec, table, dataflow, models=True)
        variants = [(layer, "dlaforge's mapper (energy)", {}) for layer in layers]
        if dataflow == "rs" and layers[0].name == "timeloop_exercise":
            variants[1:1] = [
                (layers[0], "dlaforge's mapper (cycles)", {"objective": "cycles"}),
                (layers[0], "pinned: 126 PEs busy, like Timeloop's",
                 {"pinned": timeloop_like(layers[0], spec)})]
        for i, (layer, how, options) in enumerate(variants):
            ours = run_dlaforge(arch, dataflow, layer, repeats, **options)
            mapping = (mapping_rs if dataflow == "rs" else mapping_ws)(layer, spec,
                                                                       ours["mapping"])
            case = WORK / f"{arch}__{layer.name}__{i}"
            case.mkdir()
            (case / "arch.yaml").write_text(arch_text)
            (case / "area_arch.yaml").write_text(area_text)
            (case / "workload.yaml").write_text(workload_yaml(layer, spec))
            (case / "mapping.yaml").write_text(mapping)
            cid = f"{arch}/{layer.name}/{i}"
            cases.append({"id": cid, "dir": str(case), "clock_hz": spec.clock_mhz * 1e6,
                          "repeats": repeats, "area": i == 0})
            rows.append({"id": cid, "arch": arch, "dataflow": dataflow, "layer": layer, "how": how,
                         "spec": spec, "table": table, "dlaforge": ours})
    job = WORK / "job.json"
    job.write_text(json.dumps(cases, indent=1))
    start = time.perf_counter()
    proc = subprocess.run([str(python), str(ROOT / "bench" / "peers" / "accelforge_run.py"),
                           str(job)], capture_output=True, text=True)
    peer_process_s = time.perf_counter() - start
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        print("bench_accelforge: AccelForge failed (its error above)", file=sys.stderr)
        sys.exit(1)
    peer = json.loads(proc.stdout.strip().splitlines()[-1])
    by_id = {r["id"]: r for r in peer["results"]}
    for row in rows:
        row["accelforge"] = by_id[row["id"]]
    areas = {arch: dlaforge_area(load_arch(arch)) for arch, _ in ARCHS}
    RESULTS.write_text(render(rows, areas, repeats, peer_process_s))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


def summary(rows) -> list[str]:
    """Headline figures of this run (all computed here)."""
    from explain_accelforge import (dynamic_energy, per_cycle_energy, rs_cycles, slot_ratios,
                                    ws_cycles)
    ok = [r for r in rows if "error" not in r["accelforge"]]
    refused = [label(r) for r in rows if "error" in r["accelforge"]]
    name = {id(r): label(r) + f" ({r['arch']})" for r in ok}
    dyn = {name[id(r)]: (lambda o, t: o / t - 1)(*dynamic_energy(r)) for r in ok}
    total = {name[id(r)]: r["dlaforge"]["energy_pj"] / r["accelforge"]["total_energy_pj"] - 1
             for r in ok}
    within = [k for k, v in dyn.items() if abs(v) <= 0.10]
    items = {name[id(r)]: r.get("items", []) for r in ok}
    outside = [f"{k} {v:+.1%}" + (f" (largest item: {items[k][0][0]}, "
                                   f"{items[k][0][1] / 1e6:+.2f} uJ for dlaforge)"
                                   if items[k] else "")
               for k, v in dyn.items() if abs(v) > 0.10]
    t_within = [k for k, v in total.items() if abs(v) <= 0.10]
    t_outside = []
    for r in ok:
        if abs(total[name[id(r)]]) > 0.10 and any(per_cycle_energy(r)):
            lat = r["accelforge"]["latency_cycles"]
            t_outside.append(f"{name[id(r)]} {total[name[id(r)]]:+.1%}, cycles "
                             f"{r['dlaforge']['cycles']:,} vs {r['accelforge']['cycles']:,.0f} "
                             f"(AccelForge's slowest: {max(lat, key=lat.get)})")
    with_clock = [r for r in ok if any(per_cycle_energy(r))]
    clock_ok = [r for r in with_clock if abs(per_cycle_energy(r)[0] / per_cycle_energy(r)[1]
                                             - r["dlaforge"]["cycles"] / r["accelforge"]["cycles"])
                < 1e-6]
    slots_equal, partial = [], []
    for r in ok:
        slots, fill = (rs_cycles if r["dataflow"] == "rs" else ws_cycles)(
            r["layer"], r["spec"], r["dlaforge"]["mapping"])
        if abs(slots - r["accelforge"]["latency_cycles"]["MAC"]) < 0.5:
            slots_equal.append(name[id(r)])
            continue
        dims = slot_ratios(r["layer"], r["spec"], r["dlaforge"]["mapping"], r["dataflow"])
        exact = abs(r["accelforge"]["latency_cycles"]["MAC"] * math.prod(
            dims.values()) - slots) < 1e-6 * slots
        partial.append(name[id(r)] + ("" if exact else " [NOT exact]"))
    lines = ["## Summary of this run", "",
             f"- Energy of actions (MAC, per-PE storage, NoC, global buffer, DRAM, dlaforge's "
             f"requantization stage; the same per-action energies in both): within 10% on "
             f"{len(within)} of {len(ok)} rows"
             + (f"; outside: {', '.join(outside)} (each taken apart in its section below)"
                if outside else "") + ".",
             f"- Per-cycle energy (the preset's fitted clock/control/leakage pJ per cycle, "
             f"given to AccelForge as the same rate): listed apart; on {len(clock_ok)} of "
             f"{len(with_clock)} rows that have it, its dlaforge / AccelForge ratio is exactly "
             f"their total-cycle ratio (it adds no energy-model difference, only the cycle "
             f"difference). Total energy with it: within 10% on {len(t_within)} of {len(ok)} "
             f"rows" + (f"; outside, where the total cycles part: {'; '.join(t_outside)} (a "
                        f"GlobalBuffer-bound AccelForge total comes from the ifmap reads it "
                        f"makes without Eyeriss's multicast, taken apart in the row's section)"
                        if t_outside else "")
             + "; any other row outside is outside on energy of actions (above).",
             f"- Cycles on the same mapping: dlaforge's PE-slot cycles (its compute cycles less "
             f"fill/drain) equal AccelForge's MAC cycles exactly on {len(slots_equal)} of "
             f"{len(ok)} rows"
             + (f"; on {', '.join(partial)} dlaforge charges a pass per partial tile where "
                f"AccelForge prorates its tile loop" if partial else "")
             + " (each ratio recomputed per dim in its section). Fill/drain and pipeline "
             "stalls are dlaforge's alone (AccelForge has no pipeline)."]
    pinned = next((r for r in ok if r["how"].startswith("pinned")), None)
    by_how = {r["how"]: r for r in ok if r["arch"] == "eyeriss_like"
              and r["layer"].name == "timeloop_exercise"}
    energy_row = by_how.get("dlaforge's mapper (energy)")
    cycles_row = by_how.get("dlaforge's mapper (cycles)")
    if pinned and energy_row and cycles_row:
        mac = pinned["accelforge"]["latency_cycles"]["MAC"]
        d_p, d_c, d_e = pinned["dlaforge"], cycles_row["dlaforge"], energy_row["dlaforge"]
        bw = pinned["spec"].dram.bandwidth_bytes_per_cycle
        lines.append(
            f"- The exercise layer on a pinned 126-PE row-stationary mapping: AccelForge "
            f"{mac:,.0f} MAC cycles (Timeloop's published figure is 86,016), dlaforge "
            f"{d_p['compute_cycles']:,} compute cycles (the same plus its fill/drain), "
            f"{d_p['cycles']:,} in total. dlaforge's own mapper picks other mappings: by "
            f"energy (per-cycle energy included) {d_e['compute_cycles']:,} compute cycles, "
            f"{d_e['cycles']:,} in total ({d_e['utilization']:.1%} utilization); by cycles "
            f"{d_c['compute_cycles']:,} compute cycles, {d_c['cycles']:,} in total. On "
            f"eyeriss_like's {bw:g} B/cycle DRAM all three end DRAM-bound near the same total, "
            f"so neither objective needs the 126-PE mapping. AccelForge's own mapper was not "
            f"run here (it found Timeloop's mapping in 1,160 s, ../shared/TOOLCHAIN.md).")
    if refused:
        lines.append(f"- AccelForge refused: {', '.join(refused)}.")
    return lines + [""]


def label(row) -> str:  # explain_accelforge.label_of is the same
    name = row["layer"].name
    return name if row["how"].startswith("dlaforge's mapper (energy)") else \
        f"{name}, {row['how']}"


def Network_of(layer):
    from dlaforge.workloads.networks import Network
    return Network(name=layer.name, layers=(layer,))


# --- the report --------------------------------------------------------------------------

def render(rows, areas, repeats, peer_process_s) -> str:
    from explain_accelforge import dynamic_energy, explain_row, general_notes, per_cycle_energy
    out = ["# dlaforge beside AccelForge 1.0.467", "",
           f"Generated by `bench/bench_accelforge.py` on {platform.node() or 'this machine'}, "
           f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python "
           f"{platform.python_version()} (dlaforge) and 3.12 (AccelForge, its own venv). Every "
           f"number below comes from running both tools in this run; nothing is typed in.", "",
           "Both tools price **the same loop nest**: dlaforge's analytical model with its "
           "mapper's choice, and AccelForge's `evaluate_mapping` on that choice written as an "
           "AccelForge mapping (bench/accelforge_specs.py), on an AccelForge arch built from "
           "the dlaforge preset: same array shape, buffer sizes, word widths, bandwidths, clock "
           "and per-access energies (dlaforge's energy table), area 0, and dlaforge's "
           "per-cycle energy (clock, control, leakage pJ per cycle) as the one leak power "
           "AccelForge charges over its latency. The like-for-like energy is that of actions; "
           "the per-cycle energy is shown apart (it differs exactly as the total cycles do). "
           "AccelForge's own mapper was not run (1,160 s for the first layer alone, "
           "../shared/TOOLCHAIN.md).",
           "", "Reference (shared/REFERENCES.md §2): Timeloop's mapper on the exercise layer: "
           "86,016 cycles, 75% utilization, 59.28 uJ with Accelergy's 65 nm energies; those "
           "energies are not the ones used here, and its mapping is not dlaforge's.", ""]
    accesses = {id(row): accesses_accelforge(row["accelforge"], row["spec"], row["layer"])
                for row in rows if "error" not in row["accelforge"]}
    explained = {id(row): explain_row(row, accesses[id(row)]) for row in rows
                 if "error" not in row["accelforge"]}      # also row["items"] for the summary
    out += summary(rows)
    out += ["## Cycles and energy", "",
            "| arch | layer | MACs | cycles dlaforge (compute / total) | cycles AccelForge "
            "(MAC / total) | Δ compute | util dlaforge / AccelForge | energy of actions uJ "
            "dlaforge / AccelForge | Δ actions | per-cycle energy uJ dlaforge / AccelForge | "
            "total uJ dlaforge / AccelForge | Δ total |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        d, a = row["dlaforge"], row["accelforge"]
        if "error" in a:
            out.append(f"| {row['arch']} | {label(row)} | {fmt(d['macs'])} | "
                       f"{fmt(d['compute_cycles'])} / {fmt(d['cycles'])} | AccelForge refused "
                       f"the mapping: `{a['error'][:160]}` | | | | | | "
                       f"{d['energy_pj'] / 1e6:.2f} / | |")
            continue
        pe = row["spec"].pe_array
        mac_cycles = a["latency_cycles"]["MAC"]
        a_util = d["macs"] / (a["cycles"] * pe.rows * pe.cols)
        d_dyn, a_dyn = dynamic_energy(row)
        d_clk, a_clk = per_cycle_energy(row)
        d_tot, a_tot = d["energy_pj"], a["total_energy_pj"]
        out.append(f"| {row['arch']} | {label(row)} | {fmt(d['macs'])} | "
                   f"{fmt(d['compute_cycles'])} / {fmt(d['cycles'])} | {fmt(mac_cycles)} / "
                   f"{fmt(a['cycles'])} | {pct(d['compute_cycles'], mac_cycles)} | "
                   f"{d['utilization']:.1%} / {a_util:.1%} | {d_dyn / 1e6:.3f} / "
                   f"{a_dyn / 1e6:.3f} | {pct(d_dyn, a_dyn)} | {d_clk / 1e6:.3f} / "
                   f"{a_clk / 1e6:.3f} | {d_tot / 1e6:.3f} / {a_tot / 1e6:.3f} | "
                   f"{pct(d_tot, a_tot)} |")
    out += ["", "Δ is dlaforge relative to AccelForge. dlaforge's utilization is MACs / "
            "(total cycles x PEs); AccelForge's the same with its total latency. Energy of "
            "actions: every priced access and MAC (dlaforge's NoC and requantization stage "
            "included, AccelForge has neither); per-cycle energy: the preset's pJ per cycle x "
            "each tool's own total cycles (0 on presets without it); total: both.", ""]
    out += ["## Energy per component (uJ, dlaforge / AccelForge)", "",
            "| arch | layer | MAC | RF (per-PE storage) | NoC | global buffer | DRAM | "
            "requant stage | per-cycle (clock) |", "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        d, a = row["dlaforge"], row["accelforge"]
        if "error" in a:
            continue
        cats = group_accelforge(a, row["spec"])
        b = d["energy_breakdown_pj"]
        cell = {c: f"{b.get(c, 0) / 1e6:.3f} / {cats[c] / 1e6:.3f}" for c in cats}
        cell["clock"] = (f"{per_cycle_energy(row)[0] / 1e6:.3f} / "
                         f"{per_cycle_energy(row)[1] / 1e6:.3f}")
        out.append(f"| {row['arch']} | {label(row)} | {cell['mac']} | {cell['rf']} | "
                   f"{b.get('noc', 0) / 1e6:.3f} / — | {cell['sram']} | {cell['dram']} | "
                   f"{b.get('requant', 0) / 1e6:.3f} / — | {cell['clock']} |")
    extra = sorted({k for row in rows for k in row["dlaforge"]["energy_breakdown_pj"]}
                   - {"mac", "rf", "noc", "sram", "dram", "requant", "clock", "control"})
    if extra:
        out += ["", f"dlaforge categories not shown (all zero here unless listed): "
                f"{', '.join(extra)}."]
    out += ["", "## Accesses per level and operand (elements read / written: dlaforge vs "
            "AccelForge)", ""]
    for row in rows:
        d, a = row["dlaforge"], row["accelforge"]
        if "error" in a:
            continue
        acc = accesses[id(row)]
        out += [f"**{row['arch']} / {label(row)}**", "",
                "| level | operand | reads dlaforge | reads AccelForge | writes dlaforge | "
                "writes AccelForge |", "|---|---|---|---|---|---|"]
        levels = list(d["accesses"])
        for level in levels:
            for operand, rw in d["accesses"][level].items():
                theirs = acc.get(level, {}).get(operand, {"reads": 0, "writes": 0})
                out.append(f"| {level} | {operand} | {fmt(rw['reads'])} | "
                           f"{fmt(theirs['reads'])} | {fmt(rw['writes'])} | "
                           f"{fmt(theirs['writes'])} |")
        for level in acc:
            for operand in acc[level]:
                if operand not in d["accesses"].get(level, {}):
                    t = acc[level][operand]
                    out.append(f"| {level} | {operand} | — | {fmt(t['reads'])} | — | "
                               f"{fmt(t['writes'])} |")
        out += ["", f"dlaforge's mapping: `{json.dumps(d['mapping'])}`", ""]
        out += explained[id(row)] + [""]
    out += ["## Area (um^2)", "",
            "AccelForge: the same arch with its own component models (hwcomponents: "
            "SmartBufferSRAM = CACTI SRAM plus its address logic, IntMAC), totals for all "
            "copies. dlaforge: its `cacti` energy model (hwcomponents-cacti through its side "
            "venv) of each memory level; dlaforge's record has no MAC or PE-array area from "
            "the analytical model (`dlaforge rtl synth` gives the array's cells from synthesis, "
            "not run here).", "",
            "| arch | component | dlaforge (cacti) | AccelForge | Δ | AccelForge's SRAM array "
            "alone | Δ |", "|---|---|---|---|---|---|---|"]
    for arch, _ in ARCHS:
        ours, why, _ = areas[arch]
        first = next((r for r in rows if r["arch"] == arch and "components" in r["accelforge"]),
                     None)
        theirs = first["accelforge"]["components"] if first else {}
        spec = next(r["spec"] for r in rows if r["arch"] == arch)
        names = {"GlobalBuffer": next(m.name for m in spec.memory if not m.per_pe)}
        for comp, info in theirs.items():
            level = names.get(comp, comp)
            mine = ours.get(level)
            sram = info.get("sram_area_um2")
            out.append(f"| {arch} | {comp} | {fmt(mine) if mine is not None else '—'} | "
                       f"{fmt(info['area_um2'])} | "
                       f"{pct(mine, info['area_um2']) if mine is not None else ''} | "
                       f"{fmt(sram) if sram is not None else '—'} | "
                       f"{pct(mine, sram) if mine is not None and sram else ''} |")
        if why:
            out.append(f"| {arch} | (dlaforge area unavailable: {why}) | | | |")
    out += ["", "The memories' SRAM arrays are the same CACTI estimate in both (dlaforge's "
            "`cacti` model and AccelForge's SmartBufferSRAM both call hwcomponents-cacti's SRAM "
            "with the level's width, depth and banks): the last two columns. AccelForge's "
            "SmartBufferSRAM adds, per buffer instance, an address register, a delta register "
            "and an adder (hwcomponents_library, misc.py), which dlaforge's level does not have; "
            "on a 12- to 224-entry per-PE scratchpad that logic is a large share of the area, "
            "on the global buffer almost none. MainMemory (DRAM) has no area in either.", "",
            "With their own models AccelForge would price these components per action "
            "as follows (pJ; not used in the tables above, where dlaforge's energies are given "
            "to both):", ""]
    out += ["| arch | component | dlaforge's table (used above) read / write | dlaforge "
            "`cacti` model read / write | AccelForge's model read / write | AccelForge "
            "leakage mW (all copies) |", "|---|---|---|---|---|---|"]
    for arch, _ in ARCHS:
        first = next((r for r in rows if r["arch"] == arch and "components" in r["accelforge"]),
                     None)
        if not first:
            continue
        table, cacti = first["table"], areas[arch][2]
        spec = first["spec"]
        names = {"GlobalBuffer": next(m.name for m in spec.memory if not m.per_pe)}
        for comp, info in first["accelforge"]["components"].items():
            level = names.get(comp, comp)
            e = " / ".join(f"{v:.4g}" for v in info["energy_pj"].values())
            if comp == "MAC":
                used, model = f"{table.mac_pj:.4g}", "—"
            elif comp == "MainMemory":
                used = (f"{table.dram_read_pj_per_bit * 64:.4g} / "
                        f"{table.dram_write_pj_per_bit * 64:.4g}")
                model = "—"
            else:
                used = (f"{table.read_pj_per_word[level]:.4g} / "
                        f"{table.write_pj_per_word[level]:.4g}")
                model = (" / ".join(f"{v:.4g}" for v in cacti[level]) if level in cacti
                         else "—")
            out.append(f"| {arch} | {comp} | {used} | {model} | {e} | "
                       f"{info['leak_mw']:.3g} |")
    out += ["", "Per action of the component's word (64-bit DRAM actions, the level's "
            "`word_bits`, one MAC). eyeriss_like's figures are its preset's (an Aladdin MAC, "
            "the Accelergy exercise's scratchpads, Eyeriss's relative costs for the GLB), not "
            "a circuit model of these sizes, hence the gap to CACTI; "
            "AccelForge's SmartBufferSRAM adds its address logic's energy to CACTI's. MainMemory "
            "has no model in either run: both get dlaforge's DRAM figures."]
    out += ["", "## Wall time (median of "
            f"{repeats} runs per layer, both tools on the same machine in this run)", "",
            "| arch | layer | dlaforge simulate, mapper included (ms) | AccelForge from_yaml "
            "+ evaluate_mapping (ms) | AccelForge / dlaforge |", "|---|---|---|---|---|"]
    for row in rows:
        d, a = row["dlaforge"], row["accelforge"]
        if "error" in a:
            continue
        md, ma = median(d["wall_s"]) * 1e3, median(a["wall_s"]) * 1e3
        out.append(f"| {row['arch']} | {label(row)} | {md:.1f} | {ma:.1f} | "
                   f"{ma / md:.2g}x |")
    out += ["", f"dlaforge's time includes its mapper's search (the pinned row: "
            f"sim.analytical.evaluate of the one mapping); AccelForge's is one fixed "
            f"mapping (no search). The AccelForge process (import, all cases, area models) took "
            f"{peer_process_s:.1f} s.", ""]
    out += general_notes(rows)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
