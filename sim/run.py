"""Run a whole network through a model: method transform, mapping, Stats per layer."""

from __future__ import annotations

from dataclasses import replace

from dlaforge.arch import ArchSpec
from dlaforge.stats import LayerRecord, RunRecord
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.networks import Network

from .analytical import search
from .cycle.model import native_cycle_stats, scalesim_cycle_stats
from .cycle.trace import TraceWriter
from .energy import energy_table
from .scalesim_mode import scalesim_stats


def _op_stats(arch, op, dataflow, objective, table, model, tracing):
    """(Stats, mapping dict, per-tile schedule or None) of one hardware op under `model`."""
    if arch.scalesim is not None:
        price = scalesim_cycle_stats if model == "cycle" else scalesim_stats
        return price(arch, op, dataflow, table), {"fixed": "scalesim"}, None
    if model == "cycle":
        found, stats, timed = native_cycle_stats(arch, op, dataflow, objective, table,
                                                 keep_schedule=tracing)
        return stats, found.to_dict(), timed.schedule
    found, stats = search(arch, op, dataflow, objective, table)
    return stats, found.to_dict(), None


def run_network(arch: ArchSpec, network: Network, dataflow: str, method: str,
                objective: str, batch: int, version: str, model: str = "analytical",
                tracer: TraceWriter | None = None) -> RunRecord:
    """Per-layer Stats of `network` on `arch`; every op of a layer is summed into its record.
    With a `tracer` (cycle model only) each op's accesses are streamed to its trace files."""
    arch.check_dataflow(dataflow)
    chosen = get_method(method, arch)
    table = energy_table(arch)
    records, priced = [], {}
    for layer in network.layers:
        total, mappings = None, []
        for op in chosen.transform(layer, arch):
            # networks repeat blocks: an op differing only in its name is priced once
            key = repr(replace(op, name=""))
            if key not in priced:
                priced[key] = _op_stats(arch, op, dataflow, objective, table, model,
                                        tracer is not None)
            stats, mapping, schedule = priced[key]
            if tracer is not None:
                tracer.add(layer.name, op, schedule, stats.cycles)
            total = stats if total is None else total + stats
            mappings.append(mapping)
        total = replace(total, macs=layer.macs)
        records.append(LayerRecord(name=layer.name, kind=layer.kind, shape=layer.shape(),
                                   stats=total, mapping=mappings[0] if len(mappings) == 1
                                   else {"ops": mappings}))
    return RunRecord(version=version, arch=arch.name, network=network.name, dataflow=dataflow,
                     model=model, method=method, batch=batch, objective=objective,
                     layers=tuple(records))
