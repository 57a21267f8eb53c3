"""`dlaforge rtl verify`: corner-case and random layers on a user's own spec, in the chosen
simulator, checked bit-exact against the numba reference and for the testbench's cycle count
equal to the design's own counter.

`verify_controller` checks the generated accelerator, the mapped-program controller
(hw/controller/), under every dataflow it builds for the arch (ws, os, is): per dataflow
`controller_cases`, the corner-case shapes of hw/shapes.py as layers of one image under the
mapper's mapping, extreme operands (every element -2^(b-1), every element 1) over a padded
window, a ReLU layer and a psum_bits layer, and RANDOM_LAYERS random layers (N of 1-2, groups,
strides 1-3, padding, windows hanging past the edges, channel-split tiles that spill partial
sums, column tiles) under random mappings that fit, every loop order among them. Besides the
outputs and the testbench's cycles, every command's counters must equal the exact timing model's
(given by the caller: hw does not import sim). The free-running harness runs them
(hw/controller/free_run.py, Icarus or Verilator, one simulator process), or Amaranth's simulator
one job at a time. A method's datapath (workloads/methods/datapath.py: AdderNet's adder PEs
with a MAC mode) runs the same cases once per PE operation it has (the command's `mode`),
against that operation's reference; a datapath of unsigned codes (Datapath.codes) takes its
extremes as every code 0 and every code the largest (of signed codes: the most negative and
1, as signed lanes), and one whose MAC mode runs slice passes
(Datapath.slice_bits: PalQuant's) runs that mode's cases as int8 codes (8 // slice_bits slices
of each operand; the random layers int8 and 4-bit in turn), every channel tile in one pass.

`verify` checks the first accelerator (hw/accelerator.py), which the method units still build
on (hw/methods/): the shapes of hw/shapes.py plus extreme operands, outputs and cycles.

The outputs are requantized (random per-channel scales that saturate some outputs both ways)
where the design has the requantization stage, as `--model rtl` runs layers; two more layers
per dataflow check the stage's ReLU and the psum_bits sums a method's unit takes. Without the
stage (arch not 8-bit, see program.requant_refusal) every layer checks the sums."""

from __future__ import annotations

import random
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError

from dlaforge.program import (BINARY_WORD_BITS, LOOP_ORDERS, Mapping, Shape, acc_planes,
                              channel_align, fewest_channels, fewest_filters, filter_align, fits,
                              packed_align, region_channel_tile, tap_shape)

from .stimulus import LayerJob
from .accelerator import buildable
from .shapes import conv, shapes

SIMS = ("amaranth", "icarus", "verilator")


def verify(arch: ArchSpec, sim: str = "icarus", progress=lambda line: None) -> tuple[int, int]:
    """(passed, failed) over every dataflow the RTL builds for `arch`."""
    if sim not in SIMS:
        raise SpecError(f"unknown simulator {sim!r}; choose from {', '.join(SIMS)}")
    geo = buildable(arch)
    passed = failed = 0
    rng = np.random.default_rng(0)
    low = -(1 << (arch.pe_array.ifmap_bits - 1))
    for dataflow in geo.dataflows:
        cases = dict(shapes(geo.rows, geo.cols))
        requant = geo.requant
        jobs = [LayerJob.random(arch, dataflow, gemm, rng, requant=requant)
                for gemm in cases.values()]
        names = list(cases)
        padded = conv(2, 4, 4, 3, 3, 3, padding=1)
        for value in (low, 1):
            jobs.append(LayerJob.random(arch, dataflow, padded, rng, low=value, high=value + 1,
                                        requant=requant))
            names.append(f"all_{value}")
        if requant:
            jobs += [LayerJob.random(arch, dataflow, padded, rng, requant=True, relu=True),
                     LayerJob.random(arch, dataflow, padded, rng)]
            names += ["relu", "sums"]
        ok, bad = tally(dataflow, names, jobs, _run(jobs, sim), progress)
        passed, failed = passed + ok, failed + bad
    return passed, failed


def tally(dataflow: str, names, jobs, results, progress) -> tuple[int, int]:
    """(passed, failed) of jobs run: a job passes when its outputs equal its reference and the
    testbench's cycle count equals the design's own counter; a progress line each."""
    passed = failed = 0
    for name, job, result in zip(names, jobs, results):
        ok = (np.array_equal(result.output, job.expected())
              and result.testbench_cycles == result.perf["cycles"])
        passed, failed = passed + ok, failed + (not ok)
        progress(f"{dataflow} {name}: {'ok' if ok else 'MISMATCH'} "
                 f"({result.testbench_cycles} cycles)")
    return passed, failed


def _run(jobs, sim):
    if sim == "amaranth":
        from .run_amaranth import run_amaranth
        return [run_amaranth(job) for job in jobs]
    from .run_cocotb import run_cocotb
    with tempfile.TemporaryDirectory(prefix="dlaforge_verify_") as tmp:
        return run_cocotb(jobs, Path(tmp), sim)


# The mapped-program controller -------------------------------------------------------------
RANDOM_LAYERS = 12          # per dataflow: each loop order once


def _fits(arch: ArchSpec, shape: Shape, kt, ct, pt, qt=None) -> bool:
    return bool(fits(arch, W=shape.W, H=shape.H, R=shape.R, S=shape.S, Q=shape.Q,
                     stride=shape.stride, padding=shape.padding, kt=kt, ct=ct, pt=pt, qt=qt,
                     planes=acc_planes(shape)))


def smallest_tile_fits(arch: ArchSpec, shape: Shape) -> bool:
    """True when one filter (packed weights: a byte's worth), one channel and one output pixel
    of `shape` fit the buffer halves (the controller's smallest tile;
    sim/controller_cost.controller_runs' condition)."""
    return _fits(arch, shape, fewest_filters(shape), fewest_channels(shape), 1, 1)


def random_layer(rng: random.Random, most: int = 9) -> tuple[Shape, int]:
    """(one group's shape, groups): 1-3 taps a side, strides 1-3, padding up to 2, a window
    hanging past the bottom or right edge (the rounded-up output size) three times in ten."""
    R, S = rng.choice([1, 2, 3]), rng.choice([1, 2, 3])
    stride = rng.choice([1, 2, 3])
    pad = rng.choice([0, 1, 2]) if max(R, S) > 1 else 0
    H, W = rng.randint(R, most), rng.randint(S, most)
    P, Q = (H + 2 * pad - R) // stride + 1, (W + 2 * pad - S) // stride + 1
    if rng.random() < 0.3:
        P = -(-(H + 2 * pad - R) // stride) + 1
    if rng.random() < 0.3:
        Q = -(-(W + 2 * pad - S) // stride) + 1
    groups = rng.choice([1, 1, 1, 2, 3])
    return Shape(N=rng.choice([1, 1, 2]), C=rng.randint(1, most), H=H, W=W,
                 K=rng.randint(1, most), R=R, S=S, P=P, Q=Q, stride=stride,
                 padding=pad), groups


def random_mapping(arch: ArchSpec, shape: Shape, rng: random.Random, order: str,
                   tries: int = 200) -> Mapping | None:
    """Random tile sizes in `order` that fit the buffer halves, column tiles (qt < Q) one time
    in three, with packed weights, outputs or ifmap whole bytes of them per tile
    (program.filter_align, channel_align; None if none found)."""
    align, c_align = filter_align(shape), channel_align(shape)
    # slice passes: every channel tile in one pass (program.pass_channels)
    # a binarized command's tile holds all its words (program.binarize_refusal), a rebuilt
    # one's one group of code regions (Shape.region_channels)
    channel_tiles = [c for c in range(1, shape.C + 1) if (shape.passes == 1 or shape.C % c == 0)
                     and (c == shape.C or not shape.binarized)
                     and (not shape.region_rows or c == region_channel_tile(shape))
                     and (c % c_align == 0 or c == shape.C)]
    for _ in range(tries):
        qt = rng.randint(1, shape.Q) if rng.random() < 1 / 3 else None
        kt = min(shape.K, -(-rng.randint(1, shape.K) // align) * align)
        m = Mapping(kt=kt, ct=rng.choice(channel_tiles),
                    pt=rng.randint(1, shape.P), qt=qt, order=order)
        if _fits(arch, shape, m.kt, m.ct, m.pt, m.qt):
            return m
    return None


def _shape_of(gemm, weight_bits: int = 0) -> Shape:
    return Shape(N=1, C=gemm.C, H=gemm.H, W=gemm.W, K=gemm.K, R=gemm.R, S=gemm.S, P=gemm.P,
                 Q=gemm.Q, stride=gemm.stride, padding=gemm.padding, weight_bits=weight_bits)


def packed_codes_case(datapath, shape: Shape, groups: int, pe_op: str,
                      index: int) -> tuple[Shape, dict]:
    """Random layer `index` of a design that packs activation codes (ControllerParams
    .packs_codes), as (its shape, job options): an op of the datapath's own operation reads
    its ifmap packed every other layer (Shape.ifmap_pack), any op writes its outputs packed
    two layers in three (ofmap_pack, as the datapath's codes: out_codes), where its groups'
    channels or filters start on a byte (Datapath.reads_packed, writes_packed)."""
    bits, align = datapath.codes, packed_align(datapath.codes)
    options = {}
    if pe_op == datapath.pe_op and index % 2 == 0 and (groups == 1 or shape.C % align == 0):
        shape = replace(shape, ifmap_pack=bits)
    if index % 3 != 1 and (groups == 1 or shape.K % align == 0):
        shape = replace(shape, ofmap_pack=bits)
        options["out_codes"] = bits
    return shape, options


def tap_case(shape: Shape, side: int) -> Shape:
    """A layer of a transforming design's own operation (Datapath.tap_transform): the 3x3
    stride-1 layer of `shape`'s images, channels, filters and padding, on an input at least
    3 x 3, as its Winograd-domain command of side x side output tiles (program.tap_shape)."""
    return tap_shape(shape.N, shape.C, shape.K, max(shape.H, 3), max(shape.W, 3),
                     shape.padding, side)


def rebuilt_case(datapath, shape: Shape, geo, rng) -> tuple[Shape, dict] | None:
    """A layer of a design `geo` (ControllerParams) that rebuilds its weights
    (Datapath.weight_code), as (its shape with the code regions of random codes, the job
    options that give them); None where not even one group of its regions fits a weight
    buffer half."""
    code, half = datapath.weight_code, geo.buffers.weight_half
    if not code.group_channels(shape.C, shape.R, shape.S, half):
        return None
    codes = code.random(rng, shape.K, shape.C, shape.R, shape.S)
    return replace(shape, **datapath.region_fields(codes, geo.cols, half)), {"codes": codes}


def controller_cases(arch: ArchSpec, dataflow: str, mapper: Callable, seed: int = 0,
                     datapath=None, pe_op: str | None = None):
    """(named ControllerJobs, skipped names and why) of `dataflow` on `arch` (module doc), on
    the controller with `datapath`'s PEs (None: the MAC array) running `pe_op` (None: the
    datapath's own); `mapper(shape, groups, dataflow, pe_op)` gives the mapper's Mapping of a
    layer."""
    from .controller.stimulus import ControllerJob
    from .controller.layouts import ControllerParams

    geo = ControllerParams.of(arch, datapath=datapath)
    d = geo.datapath
    held = d.operand_arch(arch)         # the buffers' geometry: the operands as held
    pe_op = pe_op or d.pe_op
    bits = d.weight_bits if d.packs(pe_op) else 0
    rng, draw = np.random.default_rng(seed), random.Random(f"{arch.name} {dataflow} {seed}")
    requant = geo.requant
    # the operands' extreme values: signed lanes' most negative and 1; unsigned codes' 0 and
    # largest (a slice pass's: int8 codes, 8 // slice_bits slices of each operand)
    slices = 8 // d.slice_bits if d.slice_bits and pe_op == d.mac_op else 1
    extremes = (-(1 << (d.op_bits(arch, pe_op)[0] - 1)), 1)
    if d.unsigned_codes:
        extremes = (0, (1 << d.ifmap_codes(pe_op, slices)) - 1)

    def shape_of(gemm, passes_of=slices):
        return replace(_shape_of(gemm, bits), ifmap_slices=passes_of, weight_slices=passes_of)

    padded = shape_of(conv(2, 4, 4, 3, 3, 3, padding=1))
    # (name, shape, groups, mapping or None: the mapper's, job options)
    plan = [(name, shape_of(gemm), 1, None, {})
            for name, gemm in shapes(geo.rows, geo.cols).items()]
    rebuilds = d.rebuilt_bits and pe_op == d.pe_op
    transforms = d.tap_transform is not None and pe_op == d.pe_op
    if transforms:              # every layer 3x3 stride 1, in the Winograd domain, one group
        padded = tap_case(padded, d.tap_transform.m)
        plan = [(name, tap_case(shape, d.tap_transform.m), 1, None, options)
                for name, shape, _, _, options in plan]
    plan += [(f"all_{value}", padded, 1, None, {"low": value, "high": value + 1})
             for value in extremes]
    if requant:
        plan += [("relu", padded, 1, None, {"relu": True}), ("sums", padded, 1, None,
                                                             {"requant": False})]
    for index in range(RANDOM_LAYERS):
        shape, groups = random_layer(draw)
        passes_of = max(1, slices // (1 + index % 2))      # int8 and 4-bit codes in turn
        shape = replace(shape, weight_bits=bits, ifmap_slices=passes_of,
                        weight_slices=passes_of)
        if d.binarizes and pe_op == d.pe_op and index % 2:  # int8 activations, binarized
            binarized = draw.randint(1, 150)
            shape = replace(shape, binarized=binarized, C=-(-binarized // BINARY_WORD_BITS))
        options = {}
        if geo.packs_codes:     # packed activation codes: read in turn, written two in three
            shape, options = packed_codes_case(d, shape, groups, pe_op, index)
        if rebuilds:            # one group's weights, rebuilt from random codes
            groups = 1
            shape, options = rebuilt_case(d, shape, geo, rng) or (shape, options)
        if transforms:
            shape, groups = tap_case(shape, d.tap_transform.m), 1
        plan.append((f"random{index}", shape, groups,
                     random_mapping(held, shape, draw, LOOP_ORDERS[index % len(LOOP_ORDERS)]),
                     options))
    jobs, skipped = [], []
    for name, shape, groups, mapping, options in plan:
        if rebuilds and not shape.region_rows:      # the fixed cases' codes
            case = rebuilt_case(d, shape, geo, rng)
            if case is None:
                skipped.append((name, "not one group of its code regions fits a weight half"))
                continue
            shape, options = case[0], {**options, **case[1]}
        if not smallest_tile_fits(held, shape):
            skipped.append((name, "its smallest tile does not fit the buffer halves"))
            continue
        mapping = mapping or mapper(shape, groups, dataflow, pe_op)
        options = {"requant": requant, **options}
        options["requant"] = options["requant"] and requant
        options["relu"] = options.get("relu", False) and options["requant"]
        jobs.append((name, ControllerJob.random(arch, shape, mapping, rng, groups=groups,
                                                dataflow=dataflow, datapath=datapath,
                                                pe_op=pe_op, **options)))
    return jobs, skipped


def verify_controller(arch: ArchSpec, sim: str, timing: Callable, mapper: Callable,
                      progress=lambda line: None, datapath=None) -> tuple[int, int]:
    """(passed, failed) over `controller_cases` of every dataflow the controller builds for
    `arch` (with `datapath`'s PEs, None: the MAC array; each of its PE operations in turn): a
    case passes when its outputs equal the reference and every command's counters equal
    `timing(arch, shape, mapping, requant, dataflow)` (the exact timing model), its cycle
    count as the testbench counted it included. A case the controller cannot run on `arch`
    is skipped with a progress line."""
    from .controller.free_run import run_free
    from .controller.layouts import ControllerParams
    from .controller.run import run_amaranth

    if sim not in SIMS:
        raise SpecError(f"unknown simulator {sim!r}; choose from {', '.join(SIMS)}")
    geo = ControllerParams.of(arch, datapath=datapath)
    pe_ops = geo.datapath.pe_ops
    passed = failed = 0
    for dataflow, pe_op in ((d, op) for d in geo.dataflows for op in pe_ops
                            if geo.datapath.runs_under(op, d)):
        cases, skipped = controller_cases(arch, dataflow, mapper, datapath=datapath,
                                          pe_op=pe_op)
        if len(pe_ops) > 1:         # name the PE operation too
            cases = [(f"{pe_op} {name}", job) for name, job in cases]
            skipped = [(f"{pe_op} {name}", why) for name, why in skipped]
        for name, why in skipped:
            progress(f"{dataflow} {name}: skipped ({why})")
        jobs = [job for _, job in cases]
        if sim == "amaranth":
            results = [run_amaranth(job) for job in jobs]
        else:
            results = run_free(jobs, None, sim) if jobs else []
        for (name, job), result in zip(cases, results):
            model = timing(arch, job.shape, job.mapping, job.requant is not None, job.dataflow)
            counted = all(counters == model and cycles == counters["cycles"]
                          for counters, cycles in result.per_command)
            exact = np.array_equal(result.output, job.expected())
            ok = counted and exact
            passed, failed = passed + ok, failed + (not ok)
            why = "" if ok else (" outputs differ" if not exact else "") + (
                " counters differ from the timing model" if not counted else "")
            progress(f"{dataflow} {name}: {'ok' if ok else 'MISMATCH' + why} "
                     f"({result.cycles} cycles)")
    return passed, failed
