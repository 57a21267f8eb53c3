"""`dlaforge sweep` and `dlaforge.sweep`: run a sweep spec into its folder (sim.sweep) and
export its rows: the Pareto column, the PE array's cells when the spec asks for area,
DIR/results.csv and DIR/index.html (reports.sweep).

Both files are written to a temporary name and renamed into place once complete; the store
(DIR/sweep.sqlite) keeps every finished point, so rerunning the same command computes only
what is missing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from pathlib import Path

from . import __version__
from .arch import arch_from_mapping
from .errors import SpecError
from .outputs import publish_files
from .reports import metrics
from .reports.sweep import AREA_COLUMNS, SweepFacts, sweep_page
from .sim.sweep.runner import ROW_FIGURES, SweepOutcome, run_sweep
from .sim.sweep.spec import SweepSpec, load_sweep_spec


@dataclass(frozen=True)
class SweepExport:
    """A finished sweep: its rows (results.csv's), counts, and the page's path."""

    outcome: SweepOutcome
    index: Path

    def summary(self) -> str:
        o = self.outcome
        refused = sum(row["status"] != "ok" for row in o.rows)
        return (f"{o.points} points, {len(o.rows)} runs ({refused} refused): {o.computed} "
                f"points computed now, {o.points - o.computed} from the store")


def sweep_folder(spec, out, workers=None, scheduler=None,
                 progress=lambda done, total: None) -> SweepExport:
    """Run `spec` (a sweep YAML path or its mapping) into folder `out` and export it."""
    spec = load_sweep_spec(spec)
    out = Path(out)
    outcome = run_sweep(spec, out, __version__, workers, scheduler, progress)
    rows = _with_pareto(_with_area(outcome.rows, spec) if spec.area else outcome.rows)
    facts = SweepFacts(spec.base, spec.model, spec.objective, spec.varied, outcome.points)
    _write(out / "results.csv", _csv_text(rows, spec))
    _write(out / "index.html", sweep_page(rows, facts))
    return SweepExport(replace(outcome, rows=rows), out / "index.html")


def _with_area(rows: list[dict], spec: SweepSpec) -> list[dict]:
    """Rows with `area_cells`, the cells of the point's PE array (hw.area, cached by array
    parameters), and `area_um2`, the µm² of its generated accelerator synthesized onto the
    Liberty (hw.area.synth_area: from `rtl synth`'s cache, or synthesized now under `area:
    synth`); None where the RTL does not build it, it is not synthesized, or the point was
    refused."""
    from .hw.area import array_cells, synth_area
    figures = {}
    for point in spec.points():
        try:
            arch = arch_from_mapping(point.arch)
            cells = array_cells(arch)
        except SpecError:
            figures[point.index] = (None, None)
            continue
        synthesized = synth_area(arch, run=spec.area == "synth")
        figures[point.index] = (cells, synthesized and synthesized["total_area_um2"])
    return [{**row, **dict(zip(AREA_COLUMNS, figures[row["point"]]
                                if row["status"] == "ok" else (None, None)))}
            for row in rows]


def _with_pareto(rows: list[dict]) -> list[dict]:
    """Rows with `pareto`: true where no other priced row of the same network is at most as
    good in both energy and cycles and better in one."""
    front = set()
    for network in dict.fromkeys(row["network"] for row in rows):
        mine = [i for i, row in enumerate(rows) if row["network"] == network
                and row["status"] == "ok"]
        points = [(rows[i]["energy_pj"], rows[i]["cycles"]) for i in mine]
        front.update(mine[j] for j in metrics.pareto_front(points))
    return [{**row, "pareto": i in front} for i, row in enumerate(rows)]


def csv_columns(spec: SweepSpec) -> list[str]:
    area = list(AREA_COLUMNS) if spec.area else []
    return ["point", *spec.varied, "network", "dataflow", "method", "status", "reason",
            *ROW_FIGURES, *area, "pareto"]


def _csv_text(rows: list[dict], spec: SweepSpec) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=csv_columns(spec), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _write(path: Path, text: str) -> None:
    publish_files(path.parent, {path.name: text})
