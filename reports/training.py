"""The training report's sections (a report of `--phase train` records): each layer's energy
and cycles by phase of the iteration (forward, loss, dX, dW, update), the memory live at each
step of one iteration's schedule, and each training method against the baseline.

Built only from the records: a train record's layer lists its ops under its mapping's "ops",
each with its phase and costs (sim/run.py), and keeps the bytes live at its forward and
backward steps by part as `memory_steps` (workloads/training_memory.py). Records saved before
`memory_steps` was kept have no timeline (the report says so). Energies in µJ, memory and
traffic in bytes, as in the rest of the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from dlaforge.stats import LayerRecord, RunRecord

from . import metrics
from .figures import _figure, _grouped_offsets, _layer_ticks
from .inputs import ReportInput, Run
from .style import (DATAFLOW_COLOURS, MEMORY_COLOURS, MEMORY_LABELS, MEMORY_PARTS, PHASES,
                    number, phase_colour, phase_label, series_colour)
from .tables import Table

# the energy a layer has beyond its ops' (the arch's clock and control energy per cycle,
# priced on the layer's summed cycles, sim/energy.time_energy), shown when some layer has it
PER_CYCLE = "clock and control"


# -- per layer, by phase --------------------------------------------------------------------------
def phase_costs(layer: LayerRecord) -> dict[str, tuple[float, int]] | None:
    """{phase: (energy in pJ, cycles)} summed over the layer's ops (None: no per-op entries)."""
    ops = layer.mapping.get("ops") if isinstance(layer.mapping, dict) else None
    if not ops:
        return None
    out = {}
    for op in ops:
        energy, cycles = out.get(op["phase"], (0.0, 0))
        out[op["phase"]] = (energy + op["energy_pj"], cycles + op["cycles"])
    return out


def per_cycle_energy(layer: LayerRecord) -> float:
    """The layer's energy beyond the sum of its ops' (pJ): its clock and control energy."""
    return layer.stats.energy_pj - sum(e for e, _ in phase_costs(layer).values())


def has_phases(run: Run) -> bool:
    return all(phase_costs(layer) is not None for layer in run.record.layers)


def phases_of(runs) -> tuple[str, ...]:
    """PHASES followed by any other phase the runs' ops name, in order of appearance."""
    extra = [p for run in runs for layer in run.record.layers for p in phase_costs(layer)
             if p not in PHASES]
    return PHASES + tuple(dict.fromkeys(extra))


def shows_per_cycle(runs) -> bool:
    return any(abs(per_cycle_energy(layer)) > 1e-9 * max(1.0, layer.stats.energy_pj)
               for run in runs for layer in run.record.layers)


def _uj(pj: float) -> str:
    return number(pj / 1e6)


def phase_table(run: Run, phases: tuple[str, ...], per_cycle: bool) -> Table:
    """Per layer (and the network): energy and cycles of each phase, and their sums."""
    r = run.record

    def cells(name, kind, costs, rest, stats):
        fwd = costs.get("forward", (0.0, 0))[0]
        back = sum(costs.get(p, (0.0, 0))[0] for p in phases if p != "forward")
        return (name, kind, *(_uj(costs.get(p, (0.0, 0))[0]) for p in phases),
                *((_uj(rest),) if per_cycle else ()), _uj(stats.energy_pj),
                number(metrics.ratio(back, fwd)),
                *(number(costs.get(p, (0.0, 0))[1]) for p in phases), number(stats.cycles))

    rows, total = [], {}
    for layer in r.layers:
        costs = phase_costs(layer)
        for p, (e, c) in costs.items():
            te, tc = total.get(p, (0.0, 0))
            total[p] = (te + e, tc + c)
        rows.append(cells(layer.name, layer.kind, costs, per_cycle_energy(layer), layer.stats))
    totals = r.totals
    rows.append(cells("TOTAL", "network", total,
                      totals.energy_pj - sum(e for e, _ in total.values()), totals))
    headers = ("layer", "kind", *(f"{p} (µJ)" for p in phases),
               *((f"{PER_CYCLE} (µJ)",) if per_cycle else ()), "energy (µJ)",
               "backward / forward energy", *(f"{p} cycles" for p in phases),
               "cycles")
    return Table(f"Forward and backward per layer: {r.arch} / {r.dataflow} / {r.method}",
                 headers, tuple(rows), 2)


def phase_figure(inp: ReportInput, arch: str) -> Figure:
    """Per layer, energy and cycles stacked by phase, two panels per dataflow."""
    runs = inp.reference_runs(arch)
    phases = phases_of(runs)
    per_cycle = shows_per_cycle(runs)
    names = [layer.name for layer in runs[0].record.layers]
    fig = _figure(max(7.0, 0.38 * len(names) + 3.0), 4.4 * len(runs) + 1.2)
    axes = fig.subplots(2 * len(runs), 1, sharex=True, squeeze=False)[:, 0]
    x = np.arange(len(names))
    for i, run in enumerate(runs):
        top, below = axes[2 * i], axes[2 * i + 1]
        costs = [phase_costs(layer) for layer in run.record.layers]
        e_bottom, c_bottom = np.zeros(len(names)), np.zeros(len(names))
        for p in phases:
            energy = np.array([c.get(p, (0.0, 0))[0] / 1e6 for c in costs])
            cycles = np.array([c.get(p, (0.0, 0))[1] for c in costs], dtype=float)
            colour = phase_colour(p, phases)
            top.bar(x, energy, bottom=e_bottom, color=colour, label=phase_label(p), width=0.7)
            below.bar(x, cycles, bottom=c_bottom, color=colour, width=0.7)
            e_bottom += energy
            c_bottom += cycles
        if per_cycle:
            rest = np.array([per_cycle_energy(layer) / 1e6 for layer in run.record.layers])
            top.bar(x, rest, bottom=e_bottom, color="#cccccc", label=PER_CYCLE, width=0.7,
                    hatch="..")
        top.set_ylabel("energy (µJ)")
        below.set_ylabel("cycles")
        below.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
        for ax, what in ((top, "energy"), (below, "cycles")):
            ax.set_title(f"{what}, dataflow {run.record.dataflow} ({run.record.method})",
                         fontsize=10)
    _layer_ticks(axes[-1], names)
    axes[0].legend(title="phase", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.suptitle(f"{arch}: {inp.network} training iteration per layer by phase "
                 f"({inp.model} model)")
    return fig


# -- the memory timeline --------------------------------------------------------------------------
@dataclass(frozen=True)
class MemoryStep:
    """One step of an iteration's schedule: the forward or backward step of a layer, and the
    bytes live during it by part (MEMORY_PARTS)."""

    slot: int           # position on the full schedule: forward 0..n-1, backward n..2n-1
    layer: str
    step: str           # "forward" or "backward"
    parts: dict

    @property
    def total(self) -> int:
        return sum(self.parts.values())


def memory_timeline(record: RunRecord) -> list[MemoryStep] | None:
    """The steps of one iteration in schedule order (forward through layers 0..n-1, then
    backward n-1..0; a layer with no backward step has none); None when a layer's record
    holds no `memory_steps` (saved before it was kept)."""
    layers = record.layers
    if any(layer.memory_steps is None for layer in layers):
        return None
    n = len(layers)
    steps = [MemoryStep(i, layer.name, "forward", layer.memory_steps["forward"])
             for i, layer in enumerate(layers)]
    steps += [MemoryStep(n + j, layer.name, "backward", layer.memory_steps["backward"])
              for j, layer in enumerate(reversed(layers))
              if layer.memory_steps.get("backward") is not None]
    return steps


def peak_step(steps: list[MemoryStep]) -> MemoryStep:
    """The first step with the most live memory."""
    return max(steps, key=lambda s: (s.total, -s.slot))


def memory_run(inp: ReportInput, arch: str) -> Run:
    """The run whose timeline the report draws: the reference method's first dataflow (the
    memory of an iteration does not depend on the dataflow)."""
    return inp.reference_runs(arch)[0]


def memory_table(run: Run) -> Table:
    steps = memory_timeline(run.record)
    peak = peak_step(steps)
    rows = tuple((number(i), s.layer, s.step, *(number(s.parts.get(p, 0)) for p in MEMORY_PARTS),
                  number(s.total), "peak" if s is peak else "")
                 for i, s in enumerate(steps, 1))
    r = run.record
    return Table(f"Memory timeline of one iteration: {r.arch} / {r.method}",
                 ("step", "layer", "pass", *(f"{MEMORY_LABELS[p]} (B)" for p in MEMORY_PARTS),
                  "live (B)", "peak"), rows, 3)


def _slot_labels(record: RunRecord) -> list[str]:
    names = [layer.name for layer in record.layers]
    return [f"{n} fwd" for n in names] + [f"{n} bwd" for n in reversed(names)]


def memory_figure(inp: ReportInput, arch: str) -> Figure:
    """The live memory at each step of one iteration, stacked by part, the peak marked; below
    it, when the arch ran several methods with timelines, each method's live total."""
    run = memory_run(inp, arch)
    steps = memory_timeline(run.record)
    labels = _slot_labels(run.record)
    n = len(run.record.layers)
    others = [r for r in _method_runs(inp, arch) if memory_timeline(r.record) is not None]
    width = max(8.0, min(0.2 * len(labels) + 4.0, 48.0))
    fig = _figure(width, 8.0 if len(others) > 1 else 4.8)
    axes = fig.subplots(2 if len(others) > 1 else 1, 1, sharex=True, squeeze=False)[:, 0]
    top = axes[0]
    x = np.array([s.slot for s in steps])
    bottom = np.zeros(len(steps))
    for p in MEMORY_PARTS:
        values = np.array([s.parts.get(p, 0) for s in steps], dtype=float)
        top.bar(x, values, bottom=bottom, color=MEMORY_COLOURS[p], label=MEMORY_LABELS[p],
                width=0.75)
        bottom += values
    peak = peak_step(steps)
    top.axhline(peak.total, color="black", linestyle="--", linewidth=1)
    top.annotate(f"peak {number(peak.total)} B\n({peak.layer}, {peak.step})",
                 (peak.slot, peak.total), ha="center", va="bottom", fontsize=8,
                 xytext=(0, 4), textcoords="offset points")
    top.set_ylim(0, peak.total * 1.2)
    top.set_ylabel("live memory (bytes)")
    top.set_title(f"live memory per step ({run.record.method}), stacked by part", fontsize=10)
    for at, text, align in ((n - 0.5, "forward →  ", "right"), (n - 0.5, "  ← backward", "left")):
        top.annotate(text, (at, 1), xycoords=("data", "axes fraction"), ha=align, va="top",
                     fontsize=8, color="grey", xytext=(0, -3), textcoords="offset points")
    top.legend(title="part", loc="upper left", bbox_to_anchor=(1.01, 1))
    for ax in axes:
        ax.axvline(n - 0.5, color="grey", linewidth=0.8)
        ax.grid(axis="y", alpha=0.3)
    if len(others) > 1:
        below = axes[1]
        for i, other in enumerate(others):
            totals = np.full(2 * n, np.nan)
            for s in memory_timeline(other.record):
                totals[s.slot] = s.total
            below.plot(np.arange(2 * n), totals, marker="o", markersize=3, linewidth=1.2,
                       color=series_colour(i), label=other.record.method)
        below.set_ylabel("live memory (bytes)")
        below.set_ylim(bottom=0)
        below.set_title("live memory per step of each training method", fontsize=10)
        below.legend(title="method", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.suptitle(f"{arch}: {inp.network}, memory of one training iteration\n"
                 f"(forward steps in layer order, then backward in reverse)")
    axes[-1].set_xticks(range(2 * n), labels, rotation=90, fontsize=7)
    axes[-1].set_xlim(-0.6, 2 * n - 0.4)
    return fig


def _method_runs(inp: ReportInput, arch: str) -> list[Run]:
    """One run per method of `arch` (its first dataflow's), the baseline first."""
    first = {}
    for run in inp.runs_of(arch):
        first.setdefault(run.record.method, run)
    return sorted(first.values(), key=lambda r: r.record.method != "baseline")


# -- training methods against the baseline --------------------------------------------------------
TRAINING_METRICS = (("energy", lambda r: r.totals.energy_pj),
                    ("cycles", lambda r: r.totals.cycles),
                    ("peak memory", lambda r: r.peak_memory_bytes),
                    ("DRAM bytes", lambda r: metrics.dram_bytes(r.totals)))
_UNITS = {"energy": "µJ", "cycles": None, "peak memory": "B", "DRAM bytes": "B"}


def training_ratios(record: RunRecord, baseline: RunRecord) -> tuple[float, ...]:
    """`record` over `baseline` on each of TRAINING_METRICS (nan where a record saved before
    peak memory was kept has none)."""
    out = []
    for _, value in TRAINING_METRICS:
        a, b = value(record), value(baseline)
        out.append(math.nan if a is None or b is None else metrics.ratio(a, b))
    return tuple(out)


def _value_cell(name: str, value) -> str:
    if value is None:
        return "—"
    return _uj(value) if name == "energy" else number(value)


def methods_table(inp: ReportInput, arch: str) -> Table:
    """Every run of `arch` that has a baseline: its totals and their ratios to the baseline's
    (the baseline's own rows at 1)."""
    rows = []
    for run in inp.runs_of(arch):
        base = inp.baseline_run(arch, run.record.dataflow)
        if base is None:
            continue
        r = run.record
        values = [value(r) for _, value in TRAINING_METRICS]
        ratios = training_ratios(r, base.record)
        rows.append((r.method, r.dataflow, base.record.arch,
                     *(_value_cell(n, v) for (n, _), v in zip(TRAINING_METRICS, values)),
                     *("—" if math.isnan(q) else number(q) for q in ratios)))
    headers = ("method", "dataflow", "baseline of",
               *(f"{n} ({_UNITS[n]})" if _UNITS[n] else n for n, _ in TRAINING_METRICS),
               *(f"{n} / baseline's" for n, _ in TRAINING_METRICS))
    return Table(f"Training methods vs baseline: {arch} (one iteration; ratio below 1 is "
                 f"better)", headers, tuple(rows), 3)


def methods_figure(inp: ReportInput, arch: str) -> Figure:
    """Each method's energy, cycles, peak memory and DRAM bytes over its baseline's, per
    dataflow (the baseline is the line at 1)."""
    pairs = inp.compared_runs(arch)
    ratios = {(run.record.method, run.record.dataflow): training_ratios(run.record, base.record)
              for run, base in pairs}
    methods = list(dict.fromkeys(run.record.method for run, _ in pairs))
    dataflows = list(dict.fromkeys(run.record.dataflow for run, _ in pairs))
    bases = ", ".join(dict.fromkeys(base.record.arch for _, base in pairs))
    fig = _figure(max(9.0, 0.9 * len(methods) * len(dataflows) + 5), 6.4)
    axes = fig.subplots(2, 2, squeeze=False).ravel()
    offsets, bar = _grouped_offsets(len(dataflows))
    for i, (ax, (title, _)) in enumerate(zip(axes, TRAINING_METRICS)):
        for off, df in zip(offsets, dataflows):
            values = [ratios[m, df][i] if (m, df) in ratios else np.nan for m in methods]
            ax.bar(np.arange(len(methods)) + off, values, bar,
                   color=DATAFLOW_COLOURS.get(df, "#777777"), label=df)
        ax.axhline(1.0, color="black", linewidth=1, linestyle="--")
        ax.set_xticks(range(len(methods)), methods, fontsize=9, rotation=20, ha="right",
                      rotation_mode="anchor")
        ax.set_ylabel(f"{title} / baseline's")
        ax.set_title(title, fontsize=10)
    handles = [Line2D([], [], color=DATAFLOW_COLOURS.get(df, "#777777"), linewidth=6,
                      label=df) for df in dataflows]
    handles.append(Line2D([], [], color="black", linestyle="--", label=f"baseline ({bases})"))
    axes[1].legend(handles=handles, title="dataflow", loc="upper left",
                   bbox_to_anchor=(1.01, 1))
    fig.suptitle(f"{arch}: {inp.network} training methods over the baseline of {bases}, one "
                 f"iteration (ratio, below 1 is better; {inp.model} model)")
    return fig
