"""Run a whole network through a model: method transform, mapping, Stats per layer (a vector
layer's work goes to the vector unit, sim/vector_cost.py, whatever the method)."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import TYPE_CHECKING

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.stats import LayerRecord, RunRecord
from dlaforge.workloads.compression import coded
from dlaforge.workloads.hwop import HwOp
from dlaforge.workloads.method_options import resolved
from dlaforge.workloads.methods.datapath import link_packed_codes, method_datapath
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.networks import Network
from dlaforge.workloads.quantizers import DEFAULT_QUANTIZER, Quantizer
from dlaforge.workloads.training import Training, iteration_ops
from dlaforge.workloads.training_memory import layer_peak, memory_steps
from dlaforge.workloads.vector_ops import VectorOp, vector_work

from .analytical import search
from .methods import method_timing
from .energy import energy_table, time_energy
from .limits import check_sizes
from .controller_cost import controller_refusal, controller_runs
from .rtl_program import analytical_rtl_stats, rtl_cannot_run, rtl_layer_reason, rtl_mapping
from .scalesim_mode import scalesim_stats
from .vector_cost import vector_stats

if TYPE_CHECKING:
    from .cycle.trace import TraceWriter

SCHEDULES = ("mapped", "rtl")


def _rtl_pricing(arch: ArchSpec, method: str, model: str, dataflow: str, layer, op):
    """(price, mapping) of one op under `--schedule rtl`: the baseline's generated hardware is
    the controller, which runs the mapper's program (None: priced as under --schedule mapped),
    and so is a method's whose family has a controller datapath on the arch (AdderNet on an
    adder arch, Winograd: `rtl generate|verify` build that controller); another
    method's, its units when they run the op (through their timing model, cycle model only),
    else the first accelerator beside them (a method's int8 edge layers); SpecError for an op
    the hardware cannot run."""
    datapath = method_datapath(arch, get_method(method, arch))
    on_controller = method == "baseline" or datapath is not None
    if on_controller and not isinstance(op, VectorOp):
        if not controller_runs(arch, op, dataflow):
            raise SpecError(f"--schedule rtl: the generated hardware cannot run layer "
                            f"{layer.name!r} under {dataflow}: "
                            f"{controller_refusal(arch, op, dataflow)}")
        return None
    reasons = []
    if isinstance(op, VectorOp):
        raise SpecError(f"--schedule rtl: the generated hardware has no vector unit for layer "
                        f"{layer.name!r} ({op.op})")
    if rtl_layer_reason(op) is not None:
        raise SpecError(f"--schedule rtl: the generated hardware cannot run layer "
                        f"{layer.name!r}: {rtl_layer_reason(op)}")
    if method != "baseline":
        timing = method_timing(method)
        reason = "it has no RTL" if timing is None else timing.cannot_run(arch, op, dataflow)
        if reason is None:
            if model != "cycle":
                raise SpecError(f"--schedule rtl prices method {method!r}'s hardware with its "
                                f"timing model: use --model cycle")
            return timing.op_stats, lambda arch, op, dataflow: {"schedule": "rtl",
                                                                "hardware": method}
        reasons.append(f"{method}'s hardware: {reason}")
    reason = rtl_cannot_run(arch, op, dataflow)
    if reason is None:
        from .cycle.rtl_timing import rtl_op_stats      # numba: imported when a model needs it
        return (rtl_op_stats if model == "cycle" else analytical_rtl_stats), rtl_mapping
    reasons.append(reason if method == "baseline" else f"the baseline accelerator: {reason}")
    raise SpecError(f"--schedule rtl: the generated hardware cannot run layer {layer.name!r} "
                    f"under {dataflow} ({'; '.join(reasons)})")


def asymmetric_refusal(quantizer: Quantizer, layer_name: str, pe_op: str) -> str:
    """Why an asymmetric quantizer cannot requantize an op of `pe_op`: its zero-point fold
    into the bias (b_k = -z_x * sum(w_k)) holds for a MAC's linear sum only."""
    return (f"--quant {quantizer.name}: layer {layer_name!r} runs {pe_op} PE operations; an "
            f"asymmetric quantizer's zero-point bias fold holds for MAC (linear) PEs only")


def _check_quantizer(arch: ArchSpec, network, forward, dataflow: str, method: str,
                     schedule: str, quantizer: Quantizer) -> None:
    """SpecError unless every layer's ops run on the controller, whose requantization stage is
    the one generated for any quantizer (the first accelerator and the methods' own units
    requantize per_channel_symmetric only)."""
    where = f"--quant {quantizer.name}"
    if arch.scalesim is not None:
        raise SpecError(f"{where}: a SCALE-Sim .cfg models no requantization stage")
    if schedule == "rtl" and method != "baseline":
        raise SpecError(f"{where}: method {method!r} under --schedule rtl runs on the first "
                        f"accelerator, which requantizes per_channel_symmetric only")
    for layer, ops in zip(network.layers, forward):
        for op in ops:
            if isinstance(op, HwOp) and not quantizer.symmetric and op.pe_op != "mac":
                raise SpecError(asymmetric_refusal(quantizer, layer.name, op.pe_op))
            if isinstance(op, HwOp) and not controller_runs(arch, op, dataflow):
                raise SpecError(f"{where}: layer {layer.name!r} does not run on the controller "
                                f"({controller_refusal(arch, op, dataflow)}), the hardware "
                                f"whose requantization stage builds any quantizer")


def _op_stats(arch, op, dataflow, objective, table, model, tracing, rtl_program):
    """(Stats, mapping dict, per-tile schedule or None) of one hardware op under `model`
    (under the RTL's program when `rtl_program` = (price, mapping) is given)."""
    if isinstance(op, VectorOp):
        if arch.scalesim is not None:
            raise SpecError(f"layer {op.name!r} ({op.op}): a SCALE-Sim .cfg has no vector unit")
        if tracing:
            raise SpecError(f"--trace does not trace the vector unit (layer {op.name!r})")
        return vector_stats(arch, op, table), {"unit": "vector"}, None
    if rtl_program is not None:
        price, mapping = rtl_program
        return price(arch, op, dataflow, table), mapping(arch, op, dataflow), None
    if model == "cycle":
        # the cycle model (numba) is imported only by the runs that use it: a quick start
        from .cycle.model import native_cycle_stats, scalesim_cycle_stats
    if arch.scalesim is not None:
        price = scalesim_cycle_stats if model == "cycle" else scalesim_stats
        return price(arch, op, dataflow, table), {"fixed": "scalesim"}, None
    if model == "cycle":
        found, stats, timed = native_cycle_stats(arch, op, dataflow, objective, table,
                                                 keep_schedule=tracing)
        return stats, found.to_dict(), timed.schedule
    found, stats = search(arch, op, dataflow, objective, table)
    return stats, found.to_dict(), None


def _weight_as_activation(op, stats):
    """A product of two activations reads its second operand from DRAM where activations live:
    its DRAM reads count as ifmap reads (on chip it keeps the weight's buffer and port)."""
    if isinstance(op, VectorOp) or not op.weight_is_activation:
        return stats
    dram = {o: dict(v) for o, v in stats.accesses.get("dram", {}).items()}
    moved = dram.get("weight", {}).get("reads", 0)
    if not moved:
        return stats
    dram["ifmap"]["reads"] += moved
    dram["weight"]["reads"] = 0
    return replace(stats, accesses={**stats.accesses, "dram": dram})


def pricing_context(arch: ArchSpec, dataflow: str, method: str, objective: str, model: str,
                    schedule: str, tracing: bool) -> str:
    """What an op's price depends on besides the op: every arch parameter but its name and
    clock (no model reads them: cycles are counted, not timed), the dataflow, the mapper's
    objective, the model and the schedule (and the method under --schedule rtl, which picks
    the hardware running the op)."""
    params = [getattr(arch, f.name) for f in fields(arch) if f.name not in ("name", "clock_mhz")]
    return repr((params, dataflow, objective, model, schedule,
                 method if schedule == "rtl" else "", tracing))


def method_network(network, method: str, arch: ArchSpec, method_options: dict | None = None):
    """`network` as `method` runs it: rewritten by its `Method.network_transform` (nisp's
    pruning) with `method_options` over its defaults, else unchanged; every model (the RTL's
    included, dlaforge/rtl_driver.py) runs this network."""
    chosen = get_method(method, arch)
    if chosen.network_transform is None:
        return network
    return chosen.network_transform(network, resolved(method, method_options or {}))


def run_network(arch: ArchSpec, network: Network, dataflow: str, method: str,
                objective: str, batch: int, version: str, model: str = "analytical",
                tracer: TraceWriter | None = None, schedule: str = "mapped",
                cache: dict | None = None, progress=None,
                training: Training | None = None,
                method_options: dict | None = None,
                quantizer: Quantizer = DEFAULT_QUANTIZER) -> RunRecord:
    """Per-layer Stats of `network` on `arch`; every op of a layer is summed into its record.
    With `training` (--phase train) a layer's ops are one training iteration's: the forward,
    dX, dW and the update (workloads/training.py), listed with their costs under the layer's
    mapping "ops"; `macs` is the nominal forward, dX and dW MACs.
    With a `tracer` (cycle model only) each op's accesses are streamed to its trace files.
    `schedule` is "mapped" (the mapper's tiling and loop order) or "rtl" (the program the
    generated accelerator runs, accelerator_plan). `cache`, a dict the caller keeps across
    runs (a sweep's worker), holds every priced op under `pricing_context` and the op.
    `progress`, when given, is called with each layer's name once the layer is priced.
    A method that rewrites the whole network (`Method.network_transform`, e.g. nisp's pruning)
    does it here, once, with `method_options` over its defaults; the record holds the
    rewritten layers. `quantizer` (--quant) requantizes every op's outputs
    (workloads/quantizers.py)."""
    arch.check_dataflow(dataflow)
    chosen = get_method(method, arch)
    options = resolved(method, method_options or {})
    network = method_network(network, method, arch, options)
    if training is not None:        # the method's training hooks (workloads/training_methods)
        training = training.for_method(method)
    table = energy_table(arch)
    forward = [[vector_work(layer, layer.ifmap_bits or arch.pe_array.ifmap_bits)]
               if layer.kind == "vector" else
               # the arch's DRAM compression once, over the method's own DRAM form
               [coded(arch, replace(op, quantizer=quantizer)) if isinstance(op, HwOp) else op
                for op in chosen.transform(layer, arch)]
               for layer in network.layers]
    # activation codes handed on packed (HwOp.packed_codes)
    forward = _linked(forward, method_datapath(arch, chosen), arch, dataflow)
    if quantizer != DEFAULT_QUANTIZER:
        if training is not None:
            raise SpecError(f"--quant {quantizer.name}: --phase train prices the default "
                            f"quantizer ({DEFAULT_QUANTIZER.name}) only (its dX and dW ops)")
        _check_quantizer(arch, network, forward, dataflow, method, schedule, quantizer)
    if training is None:
        phases = [[("forward", op) for op in layer_ops] for layer_ops in forward]
    elif schedule == "rtl":
        raise SpecError("--phase train runs under the mapper's schedule on the analytical "
                        "and cycle models: the generated hardware runs inference only (no "
                        "vector unit for the weight update)")
    else:
        phases = iteration_ops(network.layers, forward, arch, training)
    ops = [(layer, [op for _, op in ph]) for layer, ph in zip(network.layers, phases)]
    # before pricing; the baseline's hardware (the controller) runs the mapper's program
    check_sizes(arch, [(layer, [op for op in layer_ops if not isinstance(op, VectorOp)])
                       for layer, layer_ops in ops if layer.kind != "vector"],
                dataflow, model, "mapped" if method == "baseline" else schedule)
    # under --schedule rtl every op's hardware is settled before anything is priced
    rtl_programs = {id(op): _rtl_pricing(arch, method, model, dataflow, layer, op)
                    for layer, layer_ops in ops for op in layer_ops} if schedule == "rtl" else {}
    weight_bits = [sum(op.weight_storage_bits for op in layer_ops if isinstance(op, HwOp))
                   for layer_ops in forward]
    steps = memory_steps(network.layers, weight_bits, arch, training)
    peaks = [layer_peak(step) for step in steps]
    records, priced = [], {} if cache is None else cache
    context = pricing_context(arch, dataflow, method, objective, model, schedule,
                              tracer is not None)
    for (layer, layer_ops), layer_phases in zip(ops, phases):
        total, mappings = None, []
        for (phase, _), op in zip(layer_phases, layer_ops):
            # networks repeat blocks: an op differing only in its name is priced once
            key = (context, repr(replace(op, name="")))
            if key not in priced:
                priced[key] = _op_stats(arch, op, dataflow, objective, table, model,
                                        tracer is not None, rtl_programs.get(id(op)))
            stats, mapping, tiles = priced[key]
            stats = _weight_as_activation(op, stats)
            if tracer is not None:
                tracer.add(layer.name, op, tiles, stats.cycles)
            total = stats if total is None else total + stats
            mappings.append(mapping if training is None else _phase_entry(phase, op, stats,
                                                                          mapping))
        mac_phases = {phase for phase, op in layer_phases if not isinstance(op, VectorOp)}
        total = time_energy(replace(total, macs=layer.macs * len(mac_phases)), table)
        records.append(LayerRecord(name=layer.name, kind=layer.kind, shape=layer.shape(),
                                   stats=total, mapping=mappings[0] if len(mappings) == 1
                                   and training is None else {"ops": mappings},
                                   peak_memory_bytes=peaks[len(records)],
                                   memory_steps=None if training is None
                                   else steps[len(records)]))
        if progress is not None:
            progress(layer.name)
    return RunRecord(version=version, arch=arch.name, network=network.name, dataflow=dataflow,
                     model=model, method=method, batch=batch, objective=objective,
                     layers=tuple(records), area_um2=table.area_um2,
                     phase="infer" if training is None else "train",
                     training={} if training is None else training.to_dict(),
                     method_options=options, quantizer=quantizer.name)


def _linked(forward: list, datapath, arch: ArchSpec, dataflow: str) -> list:
    """Each layer's ops (`forward`, a list per layer) as datapath.link_packed_codes hands the
    activation codes on through the whole network, between the ops the controller runs
    under `dataflow`."""
    flat = link_packed_codes(datapath, [op for layer_ops in forward for op in layer_ops], arch,
                             lambda op: controller_runs(arch, op, dataflow))
    out, at = [], 0
    for layer_ops in forward:
        out.append(flat[at:at + len(layer_ops)])
        at += len(layer_ops)
    return out


def _phase_entry(phase: str, op, stats, mapping: dict) -> dict:
    """One op of a training layer in its record's mapping: its phase (forward, dX, dW or
    update), its name, its cost and its mapping."""
    return {"phase": phase, "op": op.name, "pe_ops": stats.pe_ops, "cycles": stats.cycles,
            "energy_pj": stats.energy_pj, "dram_read_bytes": stats.dram_read_bytes,
            "dram_write_bytes": stats.dram_write_bytes, "mapping": mapping}


def settle_schedule(arch: ArchSpec, model: str, schedule: str | None) -> str:
    """The schedule a run of `model` prices: `schedule`, by default "rtl" for the RTL model and
    "mapped" for the others; SpecError for a schedule no model runs that way."""
    schedule = schedule or ("rtl" if model == "rtl" else "mapped")
    if schedule not in SCHEDULES:
        raise SpecError(f"unknown schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")
    if model == "rtl" and schedule != "rtl":
        raise SpecError("--model rtl runs the generated hardware's own program, what "
                        "--schedule rtl (its default) prices; --schedule mapped is for the "
                        "analytical and cycle models")
    if schedule == "rtl" and arch.scalesim is not None:
        raise SpecError("--schedule rtl needs a preset or arch YAML: a SCALE-Sim .cfg runs "
                        "SCALE-Sim's schedule")
    return schedule


def run_networks(arch: ArchSpec, network: Network, dataflows, model: str, method: str,
                 objective: str, batch: int, version: str, schedule: str = "mapped",
                 trace=None, progress=None, training: Training | None = None,
                 method_options: dict | None = None,
                 quantizer: Quantizer = DEFAULT_QUANTIZER) -> list[RunRecord]:
    """`run_network` under each of `dataflows` with the analytical or cycle model. `trace`, a
    folder, makes the cycle model write each run's DRAM and SRAM access traces there
    (cycle/trace.py): all of them are published or none is."""
    if trace is None:
        return [run_network(arch, network, df, method, objective, batch, version, model,
                            schedule=schedule, progress=progress, training=training,
                            method_options=method_options, quantizer=quantizer)
                for df in dataflows]
    if schedule == "rtl":
        raise SpecError("--trace follows the mapper's schedule; it is not available with "
                        "--schedule rtl")
    if model != "cycle" or arch.scalesim is not None:
        raise SpecError("--trace needs --model cycle on a preset or arch YAML (the SCALE-Sim "
                        ".cfg replay writes no traces)")
    from .cycle.trace import TraceWriter
    writers, records = [], []
    try:
        for df in dataflows:
            writers.append(TraceWriter(trace, f"{arch.name}_{network.name}_{df}", arch))
            records.append(run_network(arch, network, df, method, objective, batch, version,
                                       model, writers[-1], progress=progress,
                                       training=training, method_options=method_options,
                                       quantizer=quantizer))
    except BaseException:
        for writer in writers:
            writer.discard()
        raise
    for writer in writers:
        writer.close()
    return records
