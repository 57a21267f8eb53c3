"""Where a sweep's points run: in this process, in local worker processes, or on a Dask
cluster. Each task is one point with the runs the store lacks; its results come back to the
process that owns the store, as each point finishes.

Every worker keeps one cache of priced ops across the points it runs (sim.run's
`pricing_context`: the arch parameters an op's price depends on, the dataflow, objective
and model), so an op that several points price alike is priced once per worker.
"""

from __future__ import annotations

import signal
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from dlaforge.arch import arch_from_mapping
from dlaforge.errors import SpecError
from dlaforge.workloads.networks import Network

from ..run import run_network
from .store import Result

CACHE_ENTRIES = 4096


@dataclass(frozen=True)
class Run:
    """One (network, dataflow, method) of a point, under its store key."""

    key: str
    network: Network
    dataflow: str
    method: str


@dataclass(frozen=True)
class Task:
    """A point's arch mapping (validated by the worker) and its runs to compute."""

    arch: dict
    runs: tuple[Run, ...]
    model: str
    objective: str
    batch: int
    version: str


class _LRU(OrderedDict):
    """A dict that forgets its least recently used entries beyond `size`."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def __getitem__(self, key):
        self.move_to_end(key)
        return super().__getitem__(key)

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)


# The worker process's op cache (this process's, when the sweep runs in it).
_PRICED = _LRU(CACHE_ENTRIES)


def run_task(task: Task) -> list[Result]:
    """The point's results: each run's totals, or why the arch validator (every run) or the
    run (a buffer too small for any tile, a method the arch cannot run) refused it."""
    try:
        arch = arch_from_mapping(task.arch)
    except SpecError as exc:
        return [Result(run.key, "refused", str(exc)) for run in task.runs]
    out = []
    for run in task.runs:
        try:
            record = run_network(arch, run.network, run.dataflow, run.method, task.objective,
                                 task.batch, task.version, task.model, cache=_PRICED)
        except SpecError as exc:
            out.append(Result(run.key, "refused", str(exc)))
        else:
            out.append(Result(run.key, "ok", totals=record.totals.to_dict()))
    return out


def connect(scheduler: str):
    """A Dask client of the cluster at `scheduler` (tcp://host:port)."""
    from distributed import Client
    try:
        return Client(scheduler, timeout=10)
    except (OSError, TimeoutError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SpecError(f"cannot reach the Dask scheduler at {scheduler!r}: {first}") from None


def execute(tasks: list[Task], workers: int, client=None):
    """Yield each task's results as it finishes: on the Dask `client`'s cluster, else in
    `workers` local processes (in this process when 1). Closing the generator cancels the
    tasks not started; those running finish and are dropped."""
    if client is not None:
        yield from _on_dask(tasks, client)
    elif workers == 1 or len(tasks) <= 1:
        for task in tasks:
            yield run_task(task)
    else:
        yield from _in_processes(tasks, workers)


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the sweep's process, which stops them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _in_processes(tasks, workers):
    pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), initializer=_ignore_sigint)
    try:
        futures = [pool.submit(run_task, task) for task in tasks]
        for future in as_completed(futures):
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _on_dask(tasks, client):
    from distributed import as_completed as dask_completed
    futures = client.map(run_task, tasks, pure=False)
    try:
        for future in dask_completed(futures):
            yield future.result()
    finally:
        client.cancel(futures)
