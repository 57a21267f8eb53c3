"""Run a whole network through the analytical model: method transform, mapping, Stats."""

from __future__ import annotations

from dataclasses import replace

from dlaforge.arch import ArchSpec
from dlaforge.stats import LayerRecord, RunRecord
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.networks import Network

from .analytical import search
from .energy import energy_table
from .scalesim_mode import scalesim_stats


def run_analytical(arch: ArchSpec, network: Network, dataflow: str, method: str,
                   objective: str, batch: int, version: str) -> RunRecord:
    """Per-layer Stats of `network` on `arch`; every op of a layer is summed into its record."""
    arch.check_dataflow(dataflow)
    chosen = get_method(method, arch)
    table = energy_table(arch)
    records = []
    for layer in network.layers:
        total, mappings = None, []
        for op in chosen.transform(layer, arch):
            if arch.scalesim is not None:
                stats, mapping = scalesim_stats(arch, op, dataflow, table), {"fixed": "scalesim"}
            else:
                found, stats = search(arch, op, dataflow, objective, table)
                mapping = found.to_dict()
            total = stats if total is None else total + stats
            mappings.append(mapping)
        total = replace(total, macs=layer.macs)
        records.append(LayerRecord(name=layer.name, kind=layer.kind, shape=layer.shape(),
                                   stats=total, mapping=mappings[0] if len(mappings) == 1
                                   else {"ops": mappings}))
    return RunRecord(version=version, arch=arch.name, network=network.name, dataflow=dataflow,
                     model="analytical", method=method, batch=batch, objective=objective,
                     layers=tuple(records))
