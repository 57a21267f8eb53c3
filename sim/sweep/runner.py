"""Run a sweep into its folder's store and read its rows back.

`run_sweep` expands the spec into points, asks the store which runs it already holds, runs
the rest (sim.sweep.execute) committing each point as it finishes, and returns one row per
(point, network, dataflow, method) read from the store. Exporting the rows (Pareto column,
area, results.csv, index.html) is the entry point's part (dlaforge/sweep_driver.py).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from dlaforge.errors import SpecError, positive_int

from .execute import Run, Task, connect, execute
from .spec import Point, SweepSpec
from .store import Store, run_key

# The figures of a run that go into its row, from its totals.
ROW_FIGURES = ("energy_pj", "cycles", "dram_read_bytes", "dram_write_bytes", "utilization")


@dataclass(frozen=True)
class SweepOutcome:
    """The rows, and how many points there are and this invocation computed."""

    rows: list[dict]
    points: int
    computed: int


def check_out(out: Path) -> None:
    """Refuse an output folder that cannot be one (before anything is written)."""
    if out.exists() and not out.is_dir():
        raise SpecError(f"--out {str(out)!r} is a file, not a folder")
    if not out.parent.is_dir():
        raise SpecError(f"cannot write into {str(out)!r}: folder {str(out.parent)!r} does not "
                        f"exist")


def run_sweep(spec: SweepSpec, out: Path, version: str, workers: int | None = None,
              scheduler: str | None = None, progress=lambda done, total: None) -> SweepOutcome:
    """Run every run of `spec` that the store in `out` lacks, on `workers` local processes
    (default: the core count) or the Dask cluster at `scheduler`. `progress(done, total)` is
    called as points finish (total: the points to compute now)."""
    workers = positive_int(os.cpu_count() if workers is None else workers, "workers")
    check_out(out)
    points = spec.points()
    keyed = [(point, [Run(run_key(point.arch, net, spec.model, method, df, spec.objective,
                                  spec.batch, version), net, df, method)
                      for net in spec.networks for df in spec.dataflows
                      for method in spec.methods]) for point in points]
    client = connect(scheduler) if scheduler is not None else None
    try:
        out.mkdir(exist_ok=True)
        store = Store(out)
        try:
            tasks = _tasks(keyed, store.results(run.key for _, runs in keyed for run in runs),
                           spec, version)
            session = uuid.uuid4().hex
            progress(0, len(tasks))
            finished = execute(tasks, workers, client)
            try:
                for done, results in enumerate(finished, 1):
                    store.commit(results, session)
                    progress(done, len(tasks))
            finally:
                finished.close()
            stored = store.results(run.key for _, runs in keyed for run in runs)
        finally:
            store.close()
    finally:
        if client is not None:
            client.close()
    rows = [_row(point, run, stored[run.key]) for point, runs in keyed for run in runs]
    return SweepOutcome(rows, len(points), len(tasks))


def _tasks(keyed, stored: dict, spec: SweepSpec, version: str) -> list[Task]:
    """A task per point with runs the store lacks; a run that two points share (equal
    varied values) is computed once."""
    tasks, scheduled = [], set(stored)
    for point, runs in keyed:
        missing = tuple(r for r in runs if r.key not in scheduled)
        scheduled.update(r.key for r in missing)
        if missing:
            tasks.append(Task(point.arch, missing, spec.model, spec.objective, spec.batch,
                              version))
    return tasks


def _row(point: Point, run: Run, result) -> dict:
    row = {"point": point.index, **dict(point.values), "network": run.network.name,
           "dataflow": run.dataflow, "method": run.method, "status": result.status,
           "reason": result.reason or ""}
    totals = result.totals or {}
    row.update({name: totals.get(name) for name in ROW_FIGURES})
    return row
