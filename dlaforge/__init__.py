"""dlaforge: a hardware/software co-design simulator and accelerator generator for edge DNN
accelerators.

    import dlaforge
    record = dlaforge.simulate("tpu_like", "resnet18", dataflow="ws")
    record.totals.energy_pj, record.to_json()
"""

from __future__ import annotations

__version__ = "0.1.0"

MODELS = ("analytical", "cycle", "rtl")


def simulate(arch, network, dataflow=None, model="analytical", method="baseline", batch=1,
             objective="energy", trace=None):
    """Simulate `network` on `arch` and return a RunRecord (a list of them for dataflow="all").

    `arch` is a preset name, an arch YAML path, a SCALE-Sim .cfg path or an ArchSpec; `network`
    a preset name or a SCALE-Sim topology CSV; `dataflow` defaults to the arch's first one.
    `trace`, a folder, makes the cycle model write DRAM and SRAM access traces there
    (sim/cycle/trace.py). Bad input raises dlaforge.errors.SpecError.
    """
    from .arch import ArchSpec, load_arch
    from .errors import SpecError
    from .sim.run import run_network
    from .workloads.networks import load_network

    spec = arch if isinstance(arch, ArchSpec) else load_arch(arch)
    net = load_network(network, batch)
    if model not in MODELS:
        raise SpecError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
    dataflows = spec.pe_array.dataflows if dataflow == "all" else (dataflow or spec.pe_array.dataflows[0],)
    if model == "rtl":
        from .rtl_driver import check_rtl_dataflow, run_rtl_network
        for df in dataflows:
            check_rtl_dataflow(spec, df)
        records = [run_rtl_network(spec, net, df, method, batch, __version__, objective)
                   for df in dataflows]
    elif trace is not None:
        records = _traced_runs(spec, net, dataflows, model, method, batch, objective, trace)
    else:
        records = [run_network(spec, net, df, method, objective, batch, __version__, model)
                   for df in dataflows]
    return records if dataflow == "all" else records[0]


def _traced_runs(spec, net, dataflows, model, method, batch, objective, folder):
    """The runs of `simulate(..., trace=folder)`: all traces are published or none is."""
    from .errors import SpecError
    from .sim.cycle.trace import TraceWriter
    from .sim.run import run_network

    if model != "cycle" or spec.scalesim is not None:
        raise SpecError("--trace needs --model cycle on a preset or arch YAML (the SCALE-Sim "
                        ".cfg replay writes no traces)")
    writers, records = [], []
    try:
        for df in dataflows:
            writers.append(TraceWriter(folder, f"{spec.name}_{net.name}_{df}", spec))
            records.append(run_network(spec, net, df, method, objective, batch, __version__,
                                       model, writers[-1]))
    except BaseException:
        for writer in writers:
            writer.discard()
        raise
    for writer in writers:
        writer.close()
    return records
