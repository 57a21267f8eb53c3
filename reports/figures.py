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
from .style import (DATAFLOW_COLOURS, DATAFLOW_MARKERS, arch_colour, component_colour,
                    component_label, number)
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


def energy_totals(inp: ReportInput, arch: str) -> Figure:
    """Stacked bars of network energy by component, one bar per dataflow (and method)."""
    runs = inp.runs_of(arch)
    comps = all_components(inp)
    several_methods = len(inp.methods_of(arch)) > 1
    labels = [f"{r.record.dataflow}\n{r.record.method}" if several_methods else r.record.dataflow
              for r in runs]
    fig = _figure(max(6.0, 0.75 * len(runs) + 3.5), 4.2)
    ax = fig.add_subplot()
    bottom = np.zeros(len(runs))
    for c in comps:
        values = np.array([r.record.totals.energy_breakdown_pj.get(c, 0.0) / 1e6 for r in runs])
        ax.bar(range(len(runs)), values, bottom=bottom, color=component_colour(c, comps),
               label=component_label(c), width=0.65)
        bottom += values
    for x, total in enumerate(bottom):
        ax.annotate(number(float(total)), (x, total), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(runs)), labels, fontsize=8 if several_methods else 10)
    ax.set_xlabel("dataflow / method" if several_methods else "dataflow")
    ax.set_ylabel("energy (µJ)")
    ax.set_ylim(0, bottom.max() * 1.12)
    ax.set_title(f"{arch}: {inp.network} energy by component (network total)")
    ax.legend(title="component", loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def energy_per_layer(inp: ReportInput, arch: str) -> Figure:
    """Stacked bars of energy by component for every layer, one panel per dataflow."""
    runs = inp.reference_runs(arch)
    comps = all_components(inp)
    names = [layer.name for layer in runs[0].record.layers]
    fig = _figure(max(7.0, 0.38 * len(names) + 3.0), 2.4 * len(runs) + 1.6)
    axes = fig.subplots(len(runs), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    for ax, run in zip(axes, runs):
        bottom = np.zeros(len(names))
        for c in comps:
            values = np.array([l.stats.energy_breakdown_pj.get(c, 0.0) / 1e6
                               for l in run.record.layers])
            ax.bar(range(len(names)), values, bottom=bottom, color=component_colour(c, comps),
                   label=component_label(c), width=0.7)
            bottom += values
        ax.set_ylabel("energy (µJ)")
        ax.set_title(f"dataflow {run.record.dataflow} ({run.record.method})", fontsize=10)
    _layer_ticks(axes[-1], names)
    axes[0].legend(title="component", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.suptitle(f"{arch}: {inp.network} energy per layer by component")
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
    top.set_title(f"{arch}: {inp.network} cycles per layer ({runs[0].record.method})")
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
                 f"({runs[0].record.method})")
    ax.grid(axis="y", which="major", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    _layer_ticks(ax, names)
    return fig


def roofline(inp: ReportInput, arch: str) -> Figure:
    """Achieved MACs/cycle against MACs per DRAM byte for every layer, under the arch's roofs."""
    facts = inp.arch(arch)
    runs = inp.reference_runs(arch)
    peak, bw = facts.peak_macs_per_cycle, facts.dram_bandwidth_bytes_per_cycle
    ridge = peak / bw
    points = [(metrics.intensity(l.stats), metrics.macs_per_cycle(l.stats))
              for r in runs for l in r.record.layers]
    xs = [p[0] for p in points if math.isfinite(p[0]) and p[0] > 0] or [ridge]
    lo, hi = min(min(xs), ridge) / 3, max(max(xs), ridge) * 3
    fig = _figure(7.8, 5.0)
    ax = fig.add_subplot()
    grid = np.geomspace(lo, hi, 200)
    ax.plot(grid, np.minimum(peak, bw * grid), color="black", linewidth=1.8,
            label=f"roofs: {number(peak)} MACs/cycle,\nDRAM {number(bw)} B/cycle x intensity")
    ys = [p[1] for p in points if p[1] > 0] or [peak]
    y_lo, y_hi = min(min(ys), peak) / 5, peak * 3
    ax.axhline(peak, color="black", linestyle=":", linewidth=0.8)
    ax.annotate(f"peak {number(peak)} MACs/cycle", (hi / 1.2, peak), ha="right", va="bottom",
                fontsize=8, xytext=(0, 3), textcoords="offset points")
    ax.axvline(ridge, color="grey", linestyle="--", linewidth=0.8)
    ax.annotate(f"ridge {number(ridge)} MACs/B", (ridge, y_lo * 1.5), rotation=90, ha="right",
                va="bottom", fontsize=8, color="grey", xytext=(-2, 0), textcoords="offset points")
    for run in runs:
        df = run.record.dataflow
        pts = [(metrics.intensity(l.stats), metrics.macs_per_cycle(l.stats))
               for l in run.record.layers]
        pts = [p for p in pts if math.isfinite(p[0]) and p[0] > 0 and p[1] > 0]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=28, alpha=0.8,
                   color=DATAFLOW_COLOURS.get(df, "#777777"),
                   marker=DATAFLOW_MARKERS.get(df, "o"), label=f"{df} layers", zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_xlabel("operational intensity (MACs per DRAM byte)")
    ax.set_ylabel("achieved throughput (MACs per cycle)")
    ax.set_title(f"{arch}: roofline, {inp.network} layers ({runs[0].record.method})")
    ax.grid(which="major", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


METHOD_METRICS = (("energy", lambda s: s.energy_pj), ("cycles", lambda s: s.cycles),
                  ("DRAM bytes", metrics.dram_bytes),
                  ("weight storage", lambda s: s.weight_storage_bits))


def method_comparison(inp: ReportInput, arch: str) -> Figure:
    """Each method's energy, cycles, DRAM bytes and weight storage over the baseline's, per
    dataflow (the baseline is the line at 1)."""
    runs = inp.runs_of(arch)
    base = {r.record.dataflow: r.record.totals for r in runs if r.record.method == "baseline"}
    methods = [m for m in inp.methods_of(arch) if m != "baseline"]
    dataflows = [df for df in inp.dataflows_of(arch) if df in base]
    fig = _figure(max(8.0, 1.2 * len(methods) * 2 + 4), 6.0)
    axes = fig.subplots(2, 2, squeeze=False).ravel()
    offsets, bar = _grouped_offsets(len(dataflows))
    by_key = {(r.record.method, r.record.dataflow): r.record.totals for r in runs}
    for ax, (title, value) in zip(axes, METHOD_METRICS):
        for off, df in zip(offsets, dataflows):
            ratios = [metrics.ratio(value(by_key[m, df]), value(base[df]))
                      if (m, df) in by_key else np.nan for m in methods]
            ax.bar(np.arange(len(methods)) + off, ratios, bar,
                   color=DATAFLOW_COLOURS.get(df, "#777777"), label=df)
        ax.axhline(1.0, color="black", linewidth=1, linestyle="--", label="baseline")
        ax.set_xticks(range(len(methods)), methods, fontsize=9)
        ax.set_ylabel(f"{title} / baseline")
        ax.set_title(title, fontsize=10)
    axes[1].legend(title="dataflow", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.suptitle(f"{arch}: {inp.network} methods vs baseline (ratio, below 1 is better)")
    return fig


def energy_latency(inp: ReportInput) -> Figure:
    """Every run's network energy against its latency, coloured by arch, with the Pareto front."""
    front = pareto_keys(inp)
    fig = _figure(8.6, 5.6)
    ax = fig.add_subplot()
    pts = {}
    for i, facts in enumerate(inp.archs):
        for run in inp.runs_of(facts.name):
            s = run.record.totals
            p = (metrics.latency_us(s, facts), s.energy_pj / 1e6)
            pts[inp.key(run)] = p
            on_front = inp.key(run) in front
            ax.scatter(*p, s=60 if on_front else 34, color=arch_colour(i),
                       marker=DATAFLOW_MARKERS.get(run.record.dataflow, "o"),
                       edgecolor="black" if on_front else "none", zorder=3)
    ordered = sorted(pts[k] for k in front)
    ax.step([p[0] for p in ordered], [p[1] for p in ordered], where="post", color="black",
            linewidth=1, linestyle="--", zorder=2)
    for key in front:
        ax.annotate("/".join(key), pts[key], fontsize=7, xytext=(5, 4), textcoords="offset points")
    xs, ys = [p[0] for p in pts.values()], [p[1] for p in pts.values()]
    if max(xs) / min(xs) > 20:
        ax.set_xscale("log")
    if max(ys) / min(ys) > 20:
        ax.set_yscale("log")
    ax.set_xlabel("latency (µs, at each arch's clock)")
    ax.set_ylabel("energy (µJ)")
    ax.set_title(f"{inp.network}: energy vs latency of every run")
    ax.grid(which="major", alpha=0.3)
    arch_handles = [Patch(color=arch_colour(i), label=a.name) for i, a in enumerate(inp.archs)]
    seen = dict.fromkeys(run.record.dataflow for run in inp.runs)
    df_handles = [Line2D([], [], linestyle="none", color="#444444",
                         marker=DATAFLOW_MARKERS.get(df, "o"), label=df) for df in seen]
    front_handle = [Line2D([], [], color="black", linestyle="--", marker="o",
                           markeredgecolor="black", markerfacecolor="white",
                           label="Pareto front")]
    ax.legend(handles=arch_handles + df_handles + front_handle, title="arch / dataflow",
              loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig
