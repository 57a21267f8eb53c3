"""The page of a design-space sweep (DIR/index.html), built only from its rows.

A row is one (point, network, dataflow, method) as `dlaforge sweep` exports it to
results.csv: `point`, the varied parameters under their dotted names, `network`,
`dataflow`, `method`, `status` (ok | refused), `reason`, `energy_pj`, `cycles`,
`dram_read_bytes`, `dram_write_bytes`, `utilization`, `area_cells` and `area_um2` when the
sweep asks for area (None: not counted, not synthesized), and `pareto`. The page has, per
network, the Pareto front of energy against cycles (and against area), each varied
parameter's effect on energy and cycles, the best points by the sweep's objective, and the
refused points with their reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.figure import Figure

from . import metrics
from .document import Heading, Image, Text, page
from .figures import png
from .style import number, series_colour
from .tables import Table

TOP_ROWS = 10
# The area figures of a sweep with `area` and their column headings ("—": none for the point).
AREA_COLUMNS = {"area_cells": "PE array cells", "area_um2": "synthesized µm²"}
# A parameter with at most this many distinct values gets a median line per series.
MEDIAN_LINE_VALUES = 12
# Fixed margins rather than a layout engine: constrained layout took most of the page's time.


@dataclass(frozen=True)
class SweepFacts:
    """What the page states about the sweep besides its rows."""

    base: str
    model: str
    objective: str
    varied: tuple[str, ...]
    points: int


def objective_value(row: dict, objective: str) -> float:
    """The row's value of the sweep's objective (edp: energy x cycles)."""
    if objective == "edp":
        return row["energy_pj"] * row["cycles"]
    return row["energy_pj"] if objective == "energy" else row["cycles"]


def pareto_rows(rows: list[dict], x: str, y: str) -> list[dict]:
    """The rows on the Pareto front of `x` and `y` (both minimised), ordered by `x`."""
    return [rows[i] for i in metrics.pareto_front([(r[x], r[y]) for r in rows])]


def sweep_page(rows: list[dict], facts: SweepFacts) -> str:
    ok = [r for r in rows if r["status"] == "ok"]
    refused = [r for r in rows if r["status"] != "ok"]
    networks = list(dict.fromkeys(r["network"] for r in rows))
    blocks = [Heading(1, f"Sweep of {facts.base}"),
              Text(f"{facts.points} points varying {', '.join(facts.varied)}; {len(rows)} runs "
                   f"of the {facts.model} model (mapper objective: {facts.objective}), "
                   f"{len(ok)} priced and {len(refused)} refused. Every run is a row of "
                   f"results.csv beside this page.")]
    for network in networks:
        mine = [r for r in ok if r["network"] == network]
        if not mine:
            continue
        blocks.append(Heading(2, f"{network}: Pareto front"))
        blocks.append(_image(f"{network}_pareto", f"{network}: energy against cycles of every "
                             f"priced run; the Pareto front joined", _front(mine, "cycles")))
        for key, stem in (("area_cells", "pareto_area"), ("area_um2", "pareto_um2")):
            if all(r.get(key) is not None for r in mine):
                blocks.append(_image(f"{network}_{stem}", f"{network}: energy against the "
                                     f"{AREA_COLUMNS[key]}", _front(mine, key)))
        blocks.append(_front_table(network, mine, facts))
        blocks.append(Heading(2, f"{network}: effect of each parameter"))
        for path in facts.varied:
            blocks.append(_image(f"{network}_{path}", f"{network}: energy and cycles against "
                                 f"{path}", _effect(mine, path)))
        blocks.append(Heading(2, f"{network}: best points by {facts.objective}"))
        blocks.append(_top_table(network, mine, facts))
    if refused:
        blocks.append(Heading(2, "Refused points"))
        blocks.append(_refused_table(refused, facts))
    return page(f"dlaforge sweep: {facts.base}", blocks)


def _image(stem: str, caption: str, fig: Figure) -> Image:
    return Image(f"figures/{stem}.png", caption, png(fig))


def _series(rows: list[dict]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((r["dataflow"], r["method"]) for r in rows))


def _label(series: tuple[str, str]) -> str:
    return f"{series[0]} / {series[1]}"


def _front(rows: list[dict], x: str) -> Figure:
    fig = Figure(figsize=(8.5, 5.2))
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.1, top=0.96)
    ax = fig.add_subplot()
    series = _series(rows)
    for i, s in enumerate(series):
        mine = [r for r in rows if (r["dataflow"], r["method"]) == s]
        ax.scatter([r[x] for r in mine], [r["energy_pj"] / 1e6 for r in mine], s=14,
                   color=series_colour(i), alpha=0.6, label=_label(s))
    front = pareto_rows(rows, x, "energy_pj")
    ax.step([r[x] for r in front], [r["energy_pj"] / 1e6 for r in front], where="post",
            color="black", linewidth=1.2, marker="o", markersize=4, label="Pareto front")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(AREA_COLUMNS.get(x, x))
    ax.set_ylabel("energy (µJ)")
    ax.grid(which="both", alpha=0.3)
    ax.legend(title="dataflow / method", fontsize=8)
    return fig


def _effect(rows: list[dict], path: str) -> Figure:
    fig = Figure(figsize=(11, 4.2))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.13, top=0.95, wspace=0.22)
    axes = fig.subplots(1, 2)
    numeric = all(isinstance(r[path], (int, float)) and not isinstance(r[path], bool)
                  for r in rows)
    labels = sorted({str(r[path]) for r in rows})
    x_of = (lambda r: r[path]) if numeric else (lambda r: labels.index(str(r[path])))
    medians = len({x_of(r) for r in rows}) <= MEDIAN_LINE_VALUES
    for ax, (what, unit, scale) in zip(axes, (("energy_pj", "energy (µJ)", 1e6),
                                              ("cycles", "cycles", 1))):
        for i, s in enumerate(_series(rows)):
            mine = [r for r in rows if (r["dataflow"], r["method"]) == s]
            ax.scatter([x_of(r) for r in mine], [r[what] / scale for r in mine], s=10,
                       alpha=0.35, color=series_colour(i), label=_label(s))
            if medians:
                by_value = {}
                for r in mine:
                    by_value.setdefault(x_of(r), []).append(r[what] / scale)
                xs = sorted(by_value)
                ax.plot(xs, [sorted(by_value[v])[len(by_value[v]) // 2] for v in xs],
                        color=series_colour(i), linewidth=1.5)
        if not numeric:
            ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_yscale("log")
        ax.set_xlabel(path)
        ax.set_ylabel(unit)
        ax.grid(which="both", alpha=0.3)
    axes[1].legend(title="dataflow / method" + (" (line: median)" if medians else ""),
                   fontsize=8)
    return fig


def _cells(row: dict, facts: SweepFacts) -> tuple[str, ...]:
    area = tuple("—" if row[key] is None else number(row[key])
                 for key in AREA_COLUMNS if key in row)
    return (str(row["point"]), *(str(row[p]) for p in facts.varied), row["dataflow"],
            row["method"], number(row["energy_pj"] / 1e6), number(row["cycles"]),
            number(row["dram_read_bytes"] + row["dram_write_bytes"]),
            number(row["utilization"]), *area)


def _headers(rows: list[dict], facts: SweepFacts) -> tuple[str, ...]:
    area = tuple(AREA_COLUMNS[key] for key in AREA_COLUMNS if rows and key in rows[0])
    return ("point", *facts.varied, "dataflow", "method", "energy (µJ)", "cycles",
            "DRAM bytes", "utilization", *area)


def _text_columns(facts: SweepFacts) -> int:
    return 3 + len(facts.varied)


def _front_table(network: str, rows: list[dict], facts: SweepFacts) -> Table:
    front = pareto_rows(rows, "cycles", "energy_pj")
    return Table(f"{network}: the runs on the energy-cycles Pareto front ({len(front)})",
                 _headers(front, facts), tuple(_cells(r, facts) for r in front),
                 text_columns=_text_columns(facts))


def _top_table(network: str, rows: list[dict], facts: SweepFacts) -> Table:
    best = sorted(rows, key=lambda r: objective_value(r, facts.objective))[:TOP_ROWS]
    return Table(f"{network}: the {len(best)} best runs by {facts.objective}",
                 _headers(best, facts), tuple(_cells(r, facts) for r in best),
                 text_columns=_text_columns(facts))


def _refused_table(rows: list[dict], facts: SweepFacts) -> Table:
    return Table(f"Refused runs ({len(rows)})",
                 ("point", *facts.varied, "network", "dataflow", "method", "reason"),
                 tuple((str(r["point"]), *(str(r[p]) for p in facts.varied), r["network"],
                        r["dataflow"], r["method"], r["reason"]) for r in rows),
                 text_columns=5 + len(facts.varied))
