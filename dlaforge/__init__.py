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
             objective="energy"):
    """Simulate `network` on `arch` and return a RunRecord (a list of them for dataflow="all").

    `arch` is a preset name, an arch YAML path, a SCALE-Sim .cfg path or an ArchSpec; `network`
    a preset name or a SCALE-Sim topology CSV; `dataflow` defaults to the arch's first one.
    Bad input raises dlaforge.errors.SpecError.
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
        from .rtl_driver import run_rtl_network
        records = [run_rtl_network(spec, net, df, method, batch, __version__, objective)
                   for df in dataflows]
    else:
        records = [run_network(spec, net, df, method, objective, batch, __version__, model)
                   for df in dataflows]
    return records if dataflow == "all" else records[0]
