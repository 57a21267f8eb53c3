"""The report's matplotlib figures, each a pure function of the report input.

Figures are built on `matplotlib.figure.Figure` (Agg canvas, no pyplot state) and rendered to
PNG bytes by `png`. Every quantity plotted is one of the tables' columns (reports.tables), in the
same unit or a stated one.
"""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import metrics
from .inputs import ReportInput
from .style import (DATAFLOW_COLOURS, DATAFLOW_MARKERS, component_colour, component_label,
                    number, series_colour)
from .tables import all_components, pareto_keys

DPI = 100


def png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _layer_ticks(ax, names) -> None:
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
    ax.set_xlim(-0.6, len(names) - 0.4)


def _components_of(inp: ReportInput, arch: str) -> tuple[str, ...]:
    """The energy components with energy in some run of `arch` (colours stay fixed per name)."""
    return tuple(c for c in all_components(inp)
                 if any(r.record.totals.energy_breakdown_pj.get(c) for r in inp.runs_of(arch)))


def energy_totals(inp: ReportInput, arch: str) -> Figure:
    """Stacked bars of network energy by component, one bar per dataflow (and method)."""
    runs = inp.runs_of(arch)
    every, comps = all_components(inp), _components_of(inp, arch)
    several_methods = len(inp.methods_of(arch)) > 1
    labels = [f"{r.record.dataflow} / {r.record.method}" if several_methods else r.record.dataflow
              for r in runs]
    fig = _figure(max(6.0, 0.75 * len(runs) + 3.5), 4.2)
    ax = fig.add_subplot()
    bottom = np.zeros(len(runs))
    for c in comps:
        values = np.array([r.record.totals.energy_breakdown_pj.get(c, 0.0) / 1e6 for r in runs])
        ax.bar(range(len(runs)), values, bottom=bottom, color=component_colour(c, every),
               label=component_label(c), width=0.65)
        bottom += values
    for x, total in enumerate(bottom):
        ax.annotate(number(float(total)), (x, total), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 2), textcoords="offset points")
    if several_methods:
        ax.set_xticks(range(len(runs)), labels, fontsize=8, rotation=35, ha="right",
                      rotation_mode="anchor")
    else:
        ax.set_xticks(range(len(runs)), labels)
    ax.set_xlabel("dataflow / method" if several_methods else "dataflow")
    ax.set_ylabel("energy (µJ)")
    ax.set_ylim(0, bottom.max() * 1.12)
    ax.set_title(f"{arch}: {inp.network} energy by component\n"
                 f"(network total, {inp.model} model)")
    ax.legend(title="component", loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def energy_per_layer(inp: ReportInput, arch: str) -> Figure:
    """Stacked bars of energy by component for every layer, one panel per dataflow."""
    runs = inp.reference_runs(arch)
    every, comps = all_components(inp), _components_of(inp, arch)
    names = [layer.name for layer in runs[0].record.layers]
    fig = _figure(max(7.0, 0.38 * len(names) + 3.0), 2.4 * len(runs) + 1.6)
    axes = fig.subplots(len(runs), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    for ax, run in zip(axes, runs):
        bottom = np.zeros(len(names))
        for c in comps:
            values = np.array([l.stats.energy_breakdown_pj.get(c, 0.0) / 1e6
                               for l in run.record.layers])
            ax.bar(range(len(names)), values, bottom=bottom, color=component_colour(c, every),
                   label=component_label(c), width=0.7)
            bottom += values
        ax.set_ylabel("energy (µJ)")
        ax.set_title(f"dataflow {run.record.dataflow} ({run.record.method})", fontsize=10)
    _layer_ticks(axes[-1], names)
    axes[0].legend(title="component", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.suptitle(f"{arch}: {inp.network} energy per layer by component ({inp.model} model)")
    return fig


def _grouped_offsets(n: int, width: float = 0.8) -> tuple[np.ndarray, float]:
    bar = width / n
    return (np.arange(n) - (n - 1) / 2) * bar, bar


def cycles_and_utilization(inp: ReportInput, arch: str) -> Figure:
    """Per layer: compute and stall cycles per dataflow (top), PE utilization (bottom)."""
    runs = inp.reference_runs(arch)
    names = [layer.name for layer in runs[0].record.layers]
    fig = _figure(max(7.0, 0.38 * len(names) + 3.0), 7.2)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    offsets, bar = _grouped_offsets(len(runs))
    x = np.arange(len(names))
    for off, run in zip(offsets, runs):
        df = run.record.dataflow
        colour = DATAFLOW_COLOURS.get(df, "#777777")
        compute = np.array([l.stats.compute_cycles for l in run.record.layers], dtype=float)
        stall = np.array([l.stats.stall_cycles for l in run.record.layers], dtype=float)
        top.bar(x + off, compute, bar, color=colour)
        top.bar(x + off, stall, bar, bottom=compute, color=colour, alpha=0.35, hatch="///",
                edgecolor=colour, linewidth=0)
        util = [l.stats.utilization for l in run.record.layers]
        bottom.plot(x, util, marker=DATAFLOW_MARKERS.get(df, "o"), color=colour, label=df,
                    markersize=5, linewidth=1)
    handles = [Patch(color=DATAFLOW_COLOURS.get(r.record.dataflow, "#777777"),
                     label=f"{r.record.dataflow} compute") for r in runs]
    handles.append(Patch(facecolor="#bbbbbb", hatch="///", edgecolor="#555555",
                         label="stall (hatched, on top)"))
    top.legend(handles=handles, title="dataflow", loc="upper left", bbox_to_anchor=(1.01, 1))
    top.set_ylabel("cycles")
    top.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    top.set_title(f"{arch}: {inp.network} cycles per layer ({runs[0].record.method}, "
                  f"{inp.model} model)")
    bottom.set_ylabel("PE utilization")
    bottom.set_ylim(0, 1.05)
    bottom.grid(axis="y", alpha=0.3)
    bottom.legend(title="dataflow", loc="upper left", bbox_to_anchor=(1.01, 1))
    _layer_ticks(bottom, names)
    return fig


def dram_traffic(inp: ReportInput, arch: str) -> Figure:
    """Per layer: DRAM bytes moved per dataflow, with the compulsory traffic marked."""
    runs = inp.reference_runs(arch)
    names = [layer.name for layer in runs[0].record.layers]
    fig = _figure(max(7.0, 0.38 * len(names) + 3.0), 4.6)
    ax = fig.add_subplot()
    offsets, bar = _grouped_offsets(len(runs))
    x = np.arange(len(names))
    for off, run in zip(offsets, runs):
        df = run.record.dataflow
        moved = [metrics.dram_bytes(l.stats) for l in run.record.layers]
        ax.bar(x + off, moved, bar, color=DATAFLOW_COLOURS.get(df, "#777777"), label=df)
    # compulsory traffic depends on the method's bit widths, not on the dataflow
    compulsory = runs[0].compulsory_dram_bytes
    ax.hlines(compulsory, x - 0.45, x + 0.45, colors="black", linewidth=2,
              label="compulsory (each tensor once)")
    ax.set_yscale("log")
    ax.set_ylabel("DRAM traffic, read + write (bytes)")
    ax.set_title(f"{arch}: {inp.network} DRAM traffic per layer vs compulsory "
                 f"({runs[0].record.method}, {inp.model} model)")
    ax.grid(axis="y", which="major", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    _layer_ticks(ax, names)
    return fig


def roofline(inp: ReportInput, arch: str) -> Figure:
    """Achieved PE operations per cycle against PE operations per DRAM byte for every layer,
    under the arch's roofs (the PE count, and the DRAM bandwidth)."""
    facts = inp.arch(arch)
    runs = inp.reference_runs(arch)
    peak, bw = facts.peak_macs_per_cycle, facts.dram_bandwidth_bytes_per_cycle
    ridge = peak / bw
    placed = {run.record.dataflow: [(metrics.op_intensity(l.stats), metrics.ops_per_cycle(l.stats))
                                    for l in run.record.layers] for run in runs}
    placed = {df: [p for p in pts if math.isfinite(p[0]) and p[0] > 0 and p[1] > 0]
              for df, pts in placed.items()}
    xs = [p[0] for pts in placed.values() for p in pts] or [ridge]
    ys = [p[1] for pts in placed.values() for p in pts] or [peak]
    lo, hi = min(min(xs), ridge) / 3, max(max(xs), ridge) * 3
    y_lo, y_hi = min(min(ys), peak) / 5, peak * 3
    fig = _figure(7.8, 5.0)
    ax = fig.add_subplot()
    grid = np.geomspace(lo, hi, 200)
    ax.plot(grid, np.minimum(peak, bw * grid), color="black", linewidth=1.8,
            label=f"roofs: {number(peak)} PEs,\nDRAM {number(bw)} B/cycle x intensity")
    ax.axhline(peak, color="black", linestyle=":", linewidth=0.8)
    ax.annotate(f"peak {number(peak)} operations/cycle", (hi / 1.2, peak), ha="right",
                va="bottom", fontsize=8, xytext=(0, 3), textcoords="offset points")
    ax.axvline(ridge, color="grey", linestyle="--", linewidth=0.8)
    ax.annotate(f"ridge {number(ridge)} operations/B", (ridge, y_lo * 1.5), rotation=90,
                ha="right", va="bottom", fontsize=8, color="grey", xytext=(-2, 0),
                textcoords="offset points")
    for df, pts in placed.items():
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=28, alpha=0.8,
                   color=DATAFLOW_COLOURS.get(df, "#777777"),
                   marker=DATAFLOW_MARKERS.get(df, "o"), label=f"{df} layers", zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_xlabel("operational intensity (PE operations per DRAM byte)")
    ax.set_ylabel("achieved throughput (PE operations per cycle)")
    ax.set_title(f"{arch}: roofline, {inp.network} layers ({runs[0].record.method}, "
                 f"{inp.model} model)")
    ax.grid(which="major", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def method_comparison(inp: ReportInput, arch: str) -> Figure:
    """Each method's energy, cycles, DRAM bytes and weight storage over its baseline's, per
    dataflow (the baseline is the line at 1)."""
    pairs = inp.compared_runs(arch)
    ratios = {(run.record.method, run.record.dataflow):
              metrics.method_ratios(run.record.totals, base.record.totals) for run, base in pairs}
    methods = list(dict.fromkeys(run.record.method for run, _ in pairs))
    dataflows = list(dict.fromkeys(run.record.dataflow for run, _ in pairs))
    bases = ", ".join(dict.fromkeys(base.record.arch for _, base in pairs))
    fig = _figure(max(8.0, 1.2 * len(methods) * 2 + 4), 6.0)
    axes = fig.subplots(2, 2, squeeze=False).ravel()
    offsets, bar = _grouped_offsets(len(dataflows))
    for i, (ax, (title, _)) in enumerate(zip(axes, metrics.METHOD_METRICS)):
        for off, df in zip(offsets, dataflows):
            values = [ratios[m, df][i] if (m, df) in ratios else np.nan for m in methods]
            ax.bar(np.arange(len(methods)) + off, values, bar,
                   color=DATAFLOW_COLOURS.get(df, "#777777"), label=df)
        ax.axhline(1.0, color="black", linewidth=1, linestyle="--", label=f"baseline ({bases})")
        ax.set_xticks(range(len(methods)), methods, fontsize=9)
        ax.set_ylabel(f"{title} / baseline's")
        ax.set_title(title, fontsize=10)
    axes[1].legend(title="dataflow", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.suptitle(f"{arch}: {inp.network} methods over the baseline of {bases} "
                 f"(ratio, below 1 is better; {inp.model} model)")
    return fig


def energy_latency(inp: ReportInput) -> Figure:
    """Every run's network energy against its latency: a colour per arch (per arch and method
    when an arch ran several), a marker per dataflow; the Pareto front numbered."""
    by_method = any(len(inp.methods_of(a.name)) > 1 for a in inp.archs)
    series = list(dict.fromkeys((r.record.arch, r.record.method if by_method else "")
                                for r in inp.runs))
    points = {inp.key(r): (metrics.latency_us(r.record.totals, inp.arch(r.record.arch)),
                           r.record.totals.energy_pj / 1e6) for r in inp.runs}
    front = pareto_keys(inp)
    fig = _figure(10.5, 6.2)
    ax = fig.add_subplot()
    for run in inp.runs:
        key = inp.key(run)
        colour = series_colour(series.index((key[0], key[2] if by_method else "")))
        ax.scatter(*points[key], s=64 if key in front else 36, color=colour,
                   marker=DATAFLOW_MARKERS.get(key[1], "o"), zorder=3,
                   edgecolor="black" if key in front else "none")
    # equal points share one number; the legend below names the runs behind each
    numbered = {}
    for key in sorted(front, key=lambda k: (points[k], k)):   # ties: by name, not hash order
        numbered.setdefault(points[key], []).append("/".join(key))
    ax.step([p[0] for p in numbered], [p[1] for p in numbered], where="post", color="black",
            linewidth=1, linestyle="--", zorder=2)
    for n, point in enumerate(numbered, 1):   # above and below in turn: neighbours are close
        ax.annotate(str(n), point, fontsize=9, fontweight="bold",
                    xytext=(6, 5 if n % 2 else -13), textcoords="offset points")
    xs, ys = [p[0] for p in points.values()], [p[1] for p in points.values()]
    if max(xs) / min(xs) > 20:
        ax.set_xscale("log")
    if max(ys) / min(ys) > 20:
        ax.set_yscale("log")
    ax.set_xlabel("latency (µs, at each arch's clock)")
    ax.set_ylabel("energy (µJ)")
    ax.set_title(f"{inp.network}: energy vs latency of every run ({inp.model} model)")
    ax.grid(which="both", alpha=0.3)
    handles = [Patch(color=series_colour(i), label=f"{a} / {m}" if m else a)
               for i, (a, m) in enumerate(series)]
    handles += [Line2D([], [], linestyle="none", color="#444444", label=f"dataflow {df}",
                       marker=DATAFLOW_MARKERS.get(df, "o"))
                for df in dict.fromkeys(run.record.dataflow for run in inp.runs)]
    legend = ax.legend(handles=handles, title="arch / method" if by_method else "arch",
                       loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.add_artist(legend)
    front_handles = [Line2D([], [], linestyle="none", label=f"{n}: {', '.join(keys)}")
                     for n, keys in enumerate(numbered.values(), 1)]
    ax.legend(handles=front_handles, title="Pareto front (dashed), arch/dataflow/method",
              loc="lower left", bbox_to_anchor=(1.01, 0), fontsize=8, handlelength=0,
              title_fontsize=8)
    return fig
