"""dlaforge: a hardware/software co-design simulator and accelerator generator for edge DNN
accelerators.

    import dlaforge
    record = dlaforge.simulate("tpu_like", "resnet18", dataflow="ws")
    record.totals.energy_pj, record.to_json()

Bad input raises `dlaforge.SpecError` (its message names the problem, as the CLI prints it);
a run that fails (RTL outputs that differ from the reference, a simulator that does not
finish) raises `dlaforge.RunError`.
"""

from __future__ import annotations

from .errors import RunError, SpecError  # noqa: F401  (public API)
from .numba_cache import use_writable_cache

__version__ = "0.1.0"

use_writable_cache()       # before any model imports numba

MODELS = ("analytical", "cycle", "rtl")


def simulate(arch, network, dataflow=None, model="analytical", method="baseline", batch=1,
             objective="energy", trace=None, schedule=None, progress=None):
    """Simulate `network` on `arch` and return a RunRecord (a list of them for dataflow="all").

    `arch` is a preset name, an arch YAML path, a SCALE-Sim .cfg path or an ArchSpec; `network`
    a preset name, a SCALE-Sim topology CSV, an ONNX model, a network YAML or a Network
    (workloads.networks.load_network); `dataflow` defaults to the arch's first one.
    `trace`, a folder, makes the cycle model write DRAM and SRAM access traces there
    (sim/cycle/trace.py). `schedule` is "mapped" (the mapper's tiling and loop order; the
    default for the analytical and cycle models) or "rtl" (the program the generated
    accelerator runs, dlaforge.rtl_plan; the only one --model rtl runs). `progress`, when
    given, is called with each layer's name as the analytical or cycle model finishes it. Bad
    input raises dlaforge.SpecError.
    """
    from .arch import ArchSpec, load_arch
    from .errors import SpecError
    from .sim.run import SCHEDULES, run_network
    from .workloads.networks import load_network

    spec = arch if isinstance(arch, ArchSpec) else load_arch(arch)
    net = load_network(network, batch)
    if model not in MODELS:
        raise SpecError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
    schedule = schedule or ("rtl" if model == "rtl" else "mapped")
    if schedule not in SCHEDULES:
        raise SpecError(f"unknown schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")
    if model == "rtl" and schedule != "rtl":
        raise SpecError("--model rtl runs the generated accelerator's own schedule "
                        "(--schedule rtl), not the mapper's")
    if schedule == "rtl" and spec.scalesim is not None:
        raise SpecError("--schedule rtl needs a preset or arch YAML: a SCALE-Sim .cfg runs "
                        "SCALE-Sim's schedule")
    dataflow = spec.pe_array.dataflows[0] if dataflow is None else dataflow
    dataflows = spec.pe_array.dataflows if dataflow == "all" else (dataflow,)
    if model == "rtl":
        from .rtl_driver import check_rtl_dataflow, run_rtl_network
        for df in dataflows:
            check_rtl_dataflow(spec, df)
        records = [run_rtl_network(spec, net, df, method, batch, __version__, objective)
                   for df in dataflows]
    elif trace is not None:
        if schedule == "rtl":
            raise SpecError("--trace follows the mapper's schedule; it is not available with "
                            "--schedule rtl")
        records = _traced_runs(spec, net, dataflows, model, method, batch, objective, trace,
                               progress)
    else:
        records = [run_network(spec, net, df, method, objective, batch, __version__, model,
                               schedule=schedule, progress=progress) for df in dataflows]
    return records if dataflow == "all" else records[0]


def _traced_runs(spec, net, dataflows, model, method, batch, objective, folder, progress):
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
                                       model, writers[-1], progress=progress))
    except BaseException:
        for writer in writers:
            writer.discard()
        raise
    for writer in writers:
        writer.close()
    return records


def sweep(spec, out, workers=None, scheduler=None):
    """Run a design-space sweep and return its rows, one dict per (point, network, dataflow,
    method), as DIR/results.csv holds them (sim/sweep/spec.py describes the spec).

    `spec` is a sweep YAML path or its mapping; `out` the folder of the resumable store
    (sweep.sqlite), results.csv and index.html: a rerun computes only what the store lacks.
    `workers` local processes (default: the core count), or the Dask cluster at `scheduler`
    (tcp://host:port). Bad input raises dlaforge.errors.SpecError before anything is written.
    """
    from .sweep_driver import sweep_folder

    return sweep_folder(spec, out, workers, scheduler).outcome.rows
