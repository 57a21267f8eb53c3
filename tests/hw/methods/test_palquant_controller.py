"""PalQuant on the mapped-program controller (issue 14): the controller built with PalQuant's
datapath (workloads/methods/palquant/plan.CONTROLLER_DATAPATH: code-MAC PEs on the spec's
2-bit lanes, c + q_a·(2·q_w − 3), with a MAC mode of unsigned 2-bit slices) reads the 2-bit
layers' weight codes packed four to a byte and runs them under ws and os (not is: the PE
decodes the weight operand, which is swaps); it runs the int8 first conv and FC, and
bitslice_w4a4's 4-bit layers, as slice passes (a pass per slice pair, each loading its tiles
again and shifting its sums by 2·(i + j)) under ws, os and is; it requantizes every layer to
the next layer's 2-bit activation codes. Outputs bit-exact against PalQuant's reference T
(products and window sums, palquant/reference.py) and conv2d_int of the whole codes, every
counter equal to the exact timing model, which the closed form matches; the family's
generated hardware is this controller."""

from dataclasses import replace

import numpy as np
import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.hw.controller.free_run import run_free
from dlaforge.hw.controller.network import ControllerNetworkJob, LayerSpec
from dlaforge.hw.controller.layouts import ControllerParams
from dlaforge.hw.controller.stimulus import ControllerJob, pack_rows, unpack_rows
from dlaforge.program import LOOP_ORDERS, Mapping, Shape, packed_codes_refusal
from dlaforge.sim import controller_cost, controller_stats
from dlaforge.sim.analytical import search
from dlaforge.sim.cycle.controller_timing import controller_counters
from dlaforge.sim.energy import energy_table
from dlaforge.workloads.layer import conv
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.methods.datapath import (controller_datapath, method_datapath,
                                                 link_packed_codes)
from dlaforge.workloads.methods.palquant.plan import CONTROLLER_DATAPATH as PQ, code_sums
from dlaforge.workloads.methods.palquant.reference import palquant_conv
from controller_checks import (CHAIN, assert_closed_form_matches, assert_network_matches,
                               assert_packed_bytes_counted, assert_run_matches,
                               packed_bytes_read, random_packed_case)
from simulators import needs_icarus

ARCH = load_arch("edge_tiny_palquant")           # 4 x 4 2-bit PEs, ws, os and is
# 6 columns and an 8 byte/cycle DRAM: filter blocks start at bits 0, 4 of a byte and span two
SIX = replace(ARCH, name="palquant_6_columns", pe_array=replace(ARCH.pe_array, cols=6),
              dram=replace(ARCH.dram, bandwidth_bytes_per_cycle=8))
# 6 rows and 8 columns: a pixel's second channel block starts mid-byte, and a filter block's
# 8 packed output codes take two write requests of 4 (one requantizer per code)
WIDE = replace(ARCH, name="palquant_6x8", pe_array=replace(ARCH.pe_array, rows=6, cols=8))
# 8 columns on a 2 byte/cycle DRAM: a filter block's 16 packed bits always start on a byte,
# so its run fills one request exactly (program.packed_span)
NARROW = replace(ARCH, name="palquant_8_columns_2_bytes", pe_array=replace(ARCH.pe_array, cols=8),
                 dram=replace(ARCH.dram, bandwidth_bytes_per_cycle=2))


def code_op(C, K, H, R=3, stride=1, groups=1, arch=ARCH):
    [op] = get_method("palquant", arch).transform(conv("p", C, K, H, R=R, stride=stride,
                                                       groups=groups), arch)
    return op


def test_the_datapath_and_what_it_refuses():
    assert controller_datapath(ARCH, "code_mac") is PQ
    assert method_datapath(ARCH, get_method("palquant", ARCH)) is PQ
    assert controller_datapath(ARCH, "slice_mac") is PQ
    assert controller_datapath(ARCH, "mac") is not PQ       # the baseline's MAC array
    op = code_op(8, 8, 6)
    assert op.pe_op == "code_mac" and op.groups == 2
    assert controller_cost.controller_runs(ARCH, op, "ws")
    assert controller_cost.controller_runs(ARCH, op, "os")
    assert controller_cost.controller_refusal(ARCH, op, "is") == (
        "the palquant PEs run code_mac under ws, os only")
    [first] = get_method("palquant", ARCH).transform(CHAIN.layers[0], ARCH)  # int8, sliced
    assert first.pe_op == "slice_mac" and (first.N, first.K) == (4, 4 * 8)
    assert all(controller_cost.controller_runs(ARCH, first, d) for d in ("ws", "os", "is"))
    shape = controller_cost.shape_of(first, ARCH)
    assert (shape.N, shape.C, shape.K, shape.ifmap_slices, shape.weight_slices) == (1, 3, 8, 4, 4)
    shape, mapping = Shape(1, 4, 4, 4, 8, 3, 3, 4, 4, 1, 1), Mapping(8, 4, 4, "nkcp")
    with pytest.raises(SpecError, match="a multiple of 4 filters .or all 9., not kt=6"):
        ControllerJob.random(ARCH, replace(shape, K=9), replace(mapping, kt=6),
                             np.random.default_rng(0), datapath=PQ)
    with pytest.raises(SpecError, match="channel tiles that divide its 4 channels, not ct=3"):
        ControllerJob.random(ARCH, replace(shape, ifmap_slices=2, weight_slices=2),
                             replace(mapping, ct=3), np.random.default_rng(0), datapath=PQ,
                             pe_op="slice_mac")
    with pytest.raises(SpecError, match="runs no slice passes of code_mac"):
        ControllerJob.random(ARCH, replace(shape, ifmap_slices=2), mapping,
                             np.random.default_rng(0), datapath=PQ)
    job = ControllerJob.random(ARCH, shape, mapping, np.random.default_rng(0), requant=True,
                               datapath=PQ)
    # codes 0..3 by default, ReLU forced; the requantizer holds codes of up to 8 bits
    assert job.requant.relu and job.out_codes == 2 and job.geo.ofmap_bits == 9
    assert job.commands()[0]["out_codes"] == 2 and job.expected().max() == 3
    with pytest.raises(SpecError, match="output codes of 9 bits; the palquant datapath"):
        replace(job, out_codes=9)
    wide = replace(ARCH, pe_array=replace(ARCH.pe_array, weight_bits=4))
    with pytest.raises(SpecError, match="takes 2-bit code lanes, not 2-bit ifmap and 4-bit"):
        ControllerJob.random(wide, shape, mapping, np.random.default_rng(0), datapath=PQ)
    assert controller_cost.controller_refusal(wide, first, "ws") == (
        "the controller's palquant datapath takes 2-bit code lanes, not 2-bit ifmap and 4-bit "
        "weight lanes")
    with pytest.raises(ValueError, match="needs the ReLU"):
        replace(job, requant=replace(job.requant, relu=False))
    from dlaforge.workloads.quantizers import Quantizer
    with pytest.raises(SpecError, match="unsigned activation codes; quantizer .* asymmetric"):
        ControllerJob.random(ARCH, shape, mapping, np.random.default_rng(0),
                             requant=Quantizer.of("per_channel_asymmetric"), datapath=PQ)


def test_the_code_sums_are_palquants_t():
    """code_sums (conv2d_int with the decoded levels 2*q_w - 3) equals the reference's
    2*sum(q_w*q_a) - 3*sum(q_a), windows and all, on random grouped, strided, padded layers."""
    rng = np.random.default_rng(3)
    for G, C, K, H, R, stride, padding in ((2, 3, 5, 7, 3, 1, 1), (3, 4, 2, 6, 3, 2, 1),
                                           (4, 2, 3, 5, 1, 1, 0), (2, 5, 4, 6, 2, 2, 0)):
        qa = rng.integers(0, 4, (2, G * C, H, H))
        qw = rng.integers(0, 4, (G * K, C, R, R))
        assert np.array_equal(code_sums(qa, qw, stride, padding, G),
                              palquant_conv(qa, qw, G, stride, padding))


def test_the_weight_codes_are_packed_four_to_a_byte():
    """The DRAM image holds, per group, R x S x C rows of ceil(K/4) bytes, filter k's code at
    bits 2*(k mod 4) of byte k // 4, read back here by an independent loop."""
    job = ControllerJob.random(ARCH, Shape(1, 3, 4, 4, 7, 2, 3, 3, 2, 1, 0),
                               Mapping(4, 3, 3, "nkcp"), np.random.default_rng(5), groups=2,
                               datapath=PQ)
    assert set(np.unique(job.weight)) == {0, 1, 2, 3}
    memory, at = job.dram_image(), job.regions
    packed = memory[at["weight"]:at["requant"]]
    assert len(packed) == 2 * 2 * 3 * 3 * 2      # groups x R x S x C rows of 2 bytes
    for g in range(2):
        for k in range(7):
            for c in range(3):
                for r in range(2):
                    for s in range(3):
                        row = ((g * 2 + r) * 3 + s) * 3 + c
                        code = (packed[row * 2 + k // 4] >> (2 * (k % 4))) & 3
                        assert job.weight[g * 7 + k, c, r, s] == code
    assert [f["weight_base"] - at["weight"] for f in job.commands()] == [0, 36]


def test_activation_codes_are_packed_four_to_a_byte():
    """A command with pack_in reads, and one with pack_out writes, each pixel's row of the
    layer's codes as ceil(codes/4) bytes, code c at bits 2*(c mod 4) of byte c // 4 (read
    here by an independent loop); a group's codes start on a byte; what cannot be packed is
    refused."""
    rng = np.random.default_rng(6)
    codes = rng.integers(0, 4, (3, 2, 7))
    rows = pack_rows(codes, 2)
    assert rows.shape == (3, 2, 2) and np.array_equal(unpack_rows(rows, 2, 7), codes)
    for index in np.ndindex(codes.shape):
        *pixel, c = index
        assert (rows[(*pixel, c // 4)] >> (2 * (c % 4))) & 3 == codes[index]
    shape = Shape(1, 8, 3, 3, 4, 3, 3, 3, 3, 1, 1, ifmap_pack=2, ofmap_pack=2)
    job = ControllerJob.random(ARCH, shape, Mapping(4, 4, 3, "nkcp"), rng, groups=2,
                               requant=True, datapath=PQ)
    memory, at = job.dram_image(), job.regions
    assert at["weight"] - at["ifmap"] == 3 * 3 * 4        # pixels x 16 codes in 4 bytes
    ifmap = memory[at["ifmap"]:at["weight"]]
    for h, w, c in np.ndindex(3, 3, 16):
        assert (ifmap[(h * 3 + w) * 4 + c // 4] >> (2 * (c % 4))) & 3 == job.ifmap[0, c, h, w]
    commands = job.commands()
    assert [f["ifmap_base"] - at["ifmap"] for f in commands] == [0, 2]     # 8 codes a group
    assert [f["ofmap_base"] - at["ofmap"] for f in commands] == [0, 1]
    assert all(f["pack_in"] == f["pack_out"] == 1 for f in commands)
    written = np.zeros_like(memory)
    written[at["ofmap"]:at["psum"]] = pack_rows(job.expected(), 2).ravel()
    assert np.array_equal(job.output_of(written), job.expected())
    sums = ControllerJob.random(ARCH, shape, Mapping(4, 4, 3, "nkcp"), rng, groups=2,
                                datapath=PQ)      # no requantization: the sums as they are
    assert not sums.packs_outputs and sums.commands()[0]["pack_out"] == 0
    for change, mapping, options, match in (
            ({"C": 6}, Mapping(4, 6, 3, "nkcp"), {"groups": 2},
             "packed codes of 2 groups need a multiple of 4 channels per group, not 6"),
            ({}, Mapping(4, 3, 3, "nkcp"), {},
             "a tile of packed 2-bit codes holds a multiple of 4 channels .or all 8., not 3"),
            ({"ifmap_pack": 0}, Mapping(2, 8, 3, "nkcp"), {},
             "multiple of 4 filters .or all 4., not kt=2"),
            ({"ofmap_pack": 0}, Mapping(4, 8, 3, "nkcp"), {"pe_op": "slice_mac"},
             "a slice_mac command reads its ifmap unpacked"),
            ({"ifmap_pack": 0}, Mapping(4, 8, 3, "nkcp"), {"out_codes": 4},
             "packed outputs are 2-bit codes, not 4")):
        with pytest.raises(SpecError, match=match):
            ControllerJob.random(ARCH, replace(shape, **change), mapping, rng, datapath=PQ,
                                 **options)
    # six columns: a write request's 6 codes are 12 bits; the design keeps codes a byte each
    assert not ControllerParams.of(SIX, datapath=PQ).packs_codes
    assert packed_codes_refusal(SIX, 2) == ("a write request's 6 activation codes of 2 bits do "
                                            "not fill whole bytes; the outputs cannot be packed")
    with pytest.raises(SpecError, match="moves no 2-bit packed ifmap codes"):
        ControllerJob.random(SIX, shape, Mapping(4, 4, 3, "nkcp"), rng, datapath=PQ)


def test_the_network_hands_packed_codes_on():
    """link_packed_codes over CHAIN: the int8 first conv writes packed 2-bit codes, the strided
    conv reads them packed but writes one code a byte (the depthwise after it reads one
    channel a group, and itself writes one filter a group), the 1x1 reads unpacked and
    writes the FC's 8-bit codes; a chain of ungrouped 2-bit layers packs every code it hands
    on; under is, where the 2-bit layers do not run on the controller, nothing is packed, nor
    on six columns. The models count the bytes so (the first conv's outputs: a quarter); an
    op that names an operand its layer cannot pack is refused."""
    ops = [op for layer in CHAIN.layers for op in get_method("palquant", ARCH).transform(layer,
                                                                                        ARCH)]
    linked = link_packed_codes(PQ, ops, ARCH)
    assert [op.packed_codes for op in linked] == [("ofmap",), ("ifmap",), (), (), ()]
    assert link_packed_codes(PQ, ops, SIX) == ops
    # under is the 2-bit layers do not run on the controller: the first conv writes a byte each
    under_is = link_packed_codes(PQ, ops, ARCH,
                                 lambda op: controller_cost.controller_runs(ARCH, op, "is"))
    assert [op.packed_codes for op in under_is] == [()] * 5
    with pytest.raises(ValueError, match="hw op 'dw': the controller's palquant datapath "
                                         "cannot move its ifmap as packed codes"):
        controller_cost.shape_of(replace(ops[2], packed_codes=("ifmap",)), ARCH)
    plain = [code_op(8, 8, 6, groups=1), code_op(8, 12, 6, groups=1), code_op(12, 4, 6)]
    assert [op.packed_codes for op in link_packed_codes(PQ, plain, ARCH)] == [
        ("ifmap", "ofmap"), ("ifmap", "ofmap"), ("ifmap",)]
    record = dlaforge.simulate(ARCH, CHAIN, "ws", model="cycle", method="palquant")
    c1 = record.layers[0]
    assert c1.stats.dram_write_bytes == 8 * 8 * 8 // 4       # K x P x Q codes, 4 a byte
    plain_record = dlaforge.simulate(SIX, CHAIN, "ws", model="cycle", method="palquant")
    assert plain_record.layers[0].stats.dram_write_bytes == 8 * 8 * 8


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_the_models_count_packed_activation_codes(dataflow):
    """The closed form equals the timing model on every counter of commands reading and
    writing packed codes (cycles within 5%); the ifmap is loaded as often as unpacked, with
    each pixel's channel tiles in their bytes (counted bit by bit: a quarter),
    and the outputs are written in a quarter of the bytes; the op's Stats split the DRAM
    writes into outputs and spilled sums as the closed form counts them."""
    table, spills = energy_table(ARCH), 0
    for C, K, H, stride in ((16, 20, 8, 1), (8, 36, 6, 2), (12, 8, 5, 1), (20, 12, 4, 1)):
        op = replace(code_op(C, K, H, stride=stride), packed_codes=("ifmap", "ofmap"))
        shape = controller_cost.shape_of(op, ARCH)
        assert (shape.ifmap_pack, shape.ofmap_pack) == (2, 2)
        for mapping in {search(ARCH, op, dataflow, "energy", table)[0],
                        Mapping(min(K, 8), min(C, 4), 2, "nckp")}:
            assert mapping.ct % 4 == 0 or mapping.ct >= C
            assert mapping.kt % 4 == 0 or mapping.kt >= K
            timed = assert_closed_form_matches(ARCH, shape, mapping, dataflow)
            unpacked = controller_counters(ARCH, replace(shape, ifmap_pack=0, ofmap_pack=0),
                                           mapping, True, dataflow=dataflow)
            assert timed["ifmap_writes"] == unpacked["ifmap_writes"]
            loads = timed["ifmap_writes"]       # codes brought, a byte each unpacked
            # each channel tile's pixel runs (rows = 4 codes), as often as each other tile's
            per_pixel = packed_bytes_read(Shape(1, 1, 1, 1, C, 1, 1, 1, 1),
                                          Mapping(mapping.ct, 1, 1), 4, 2)
            packed = loads // C * per_pixel
            assert per_pixel == -(-C // 4)
            assert unpacked["dram_read_bytes"] - timed["dram_read_bytes"] == loads - packed
            outputs = shape.N * shape.P * shape.Q * K       # K a multiple of 4: 4 a byte
            assert (unpacked["dram_write_bytes"] - timed["dram_write_bytes"]
                    == outputs - outputs // 4)
            # the op's DRAM traffic (its G groups' commands) split from the counters: the
            # spilled sums read back
            closed = {name: int(closed[0]) * op.groups for name, closed in
                      controller_cost.counters(ARCH, shape, mapping.as_grid(dataflow),
                                               mapping.order, dataflow=dataflow).items()
                      if name in ("readback", "spill")}
            stats = controller_stats.op_stats(ARCH, op, timed, table, dataflow)
            assert stats.accesses["dram"]["ofmap"] == {
                "reads": closed["readback"], "writes": op.groups * outputs + closed["spill"]}
            spills += closed["spill"]
    assert spills > 0


@pytest.mark.parametrize("arch", [ARCH, SIX], ids=["4 columns", "6 columns"])
@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_the_models_count_packed_bytes(arch, dataflow):
    """The closed form equals the timing model on every counter, its cycles within 5%; the
    weights' DRAM bytes are the blocks' byte spans, counted here bit by bit."""
    table = energy_table(arch)
    for C, K, H, stride in ((16, 20, 8, 1), (8, 36, 6, 2), (12, 9, 5, 1), (5, 30, 4, 1)):
        op = code_op(C, K, H, stride=stride, arch=arch)
        shape = controller_cost.shape_of(op, arch)
        assert shape.weight_bits == 2
        for mapping in {search(arch, op, dataflow, "energy", table)[0],
                        Mapping(min(K, 8), max(1, C // 2), 2, "nckp")}:
            assert mapping.kt % 4 == 0 or mapping.kt >= K
            timed = assert_closed_form_matches(arch, shape, mapping, dataflow)
            assert_packed_bytes_counted(arch, shape, mapping, dataflow, timed)


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_the_models_time_slice_passes(dataflow):
    """An int8 layer of slice passes: the mapper keeps every channel tile in one pass (ct
    divides C), the closed form equals the timing model on every counter (cycles within 5%),
    and every pass moves the tiles again: the DRAM bytes of the ifmap and weights are 16x a
    pass's, the outputs written once."""
    table = energy_table(ARCH)
    for layer in (CHAIN.layers[0], conv("c", 4, 10, 6, R=3, stride=2), CHAIN.layers[-1]):
        [op] = get_method("palquant", ARCH).transform(layer, ARCH)
        shape = controller_cost.shape_of(op, ARCH)
        assert shape.passes == 16
        mapping = search(ARCH, op, dataflow, "energy", table)[0]
        assert shape.C % mapping.ct == 0
        timed = assert_closed_form_matches(ARCH, shape, mapping, dataflow)
        one = controller_counters(ARCH, replace(shape, ifmap_slices=1, weight_slices=1),
                                  mapping, True, dataflow=dataflow)
        assert timed["dram_write_bytes"] == one["dram_write_bytes"]
        assert timed["ifmap_writes"] == 16 * one["ifmap_writes"]
        assert timed["weight_writes"] == 16 * one["weight_writes"]


@needs_icarus
def test_random_palquant_layers_and_a_network_free_running_on_icarus(tmp_path):
    """Eight random 2-bit layers (strides 1-2, padding, hanging windows, groups, N = 2, column
    tiles) under ws and os, requantized to codes or writing the sums; the extreme codes (all
    3: T = 9 per tap, all weight codes 0 against activation 3: -9 per tap); four layers on 6
    columns (filter blocks starting mid-byte); int8 layers of 16 slice passes under ws, os
    and is (two channel tiles per pass, spilled partial sums under nckp) and a 4-bit one of 4
    under is; nine layers reading and writing packed codes (one of two groups; four on 6
    rows and 8 columns: runs starting mid-byte, two write requests a filter block); two on
    8 columns and a 2 byte/cycle DRAM (a filter block's packed weights a whole request); and a
    three-layer network whose layers read the previous layer's codes from DRAM (the host's
    packed codes, 4-bit codes a byte each, packed 2-bit codes): all on one build, bit-exact
    and equal to the timing model."""
    rng = np.random.default_rng(8)
    jobs = []
    for index in range(12):
        arch = SIX if index >= 8 else ARCH
        shape, mapping = random_packed_case(rng, arch, PQ)
        jobs.append(ControllerJob.random(arch, shape, mapping, rng, groups=1 + (index in (3, 9)),
                                         requant=index % 3 != 2, dataflow=("ws", "os")[index % 2],
                                         datapath=PQ))
    extreme = Shape(1, 5, 4, 4, 4, 3, 3, 4, 4, 1, 1)
    for low_a, low_w in ((3, 3), (3, 0)):
        job = ControllerJob.random(ARCH, extreme, Mapping(4, 5, 4, "nkcp"), rng, datapath=PQ)
        jobs.append(replace(job, ifmap=np.full_like(job.ifmap, low_a),
                            weight=np.full_like(job.weight, low_w)))
    taps = 5 * 3 * 3                # an inner pixel's window: C x R x S
    assert jobs[-2].expected().max() == 9 * taps and jobs[-1].expected().min() == -9 * taps
    for index, (slices, dataflow) in enumerate(((4, "ws"), (4, "os"), (4, "is"), (2, "is"))):
        shape = Shape(1, 2 + 2 * (index % 2), 3, 3, 4, 3, 3, 3, 3, 1, index % 2,
                      ifmap_slices=slices, weight_slices=slices)
        jobs.append(ControllerJob.random(ARCH, shape, Mapping(4, 1 + index % 2, 2, "nckp"),
                                         rng, requant=index != 1, dataflow=dataflow,
                                         datapath=PQ, pe_op="slice_mac"))
    assert max(job.ifmap.max() for job in jobs[-4:]) > 200      # int8 codes, all 4 slices
    packed = [ControllerJob.random(ARCH, Shape(1, 8, 4, 4, 8, 3, 3, 4, 4, 1, 1, ifmap_pack=2,
                                               ofmap_pack=2), Mapping(4, 4, 2, "nkcp"), rng,
                                   groups=2, requant=True, dataflow="os", datapath=PQ)]
    while len(packed) < 9:      # random layers reading and writing packed codes
        arch = ARCH if len(packed) < 5 else WIDE
        shape, mapping = random_packed_case(rng, arch, PQ)
        shape = replace(shape, ifmap_pack=2, ofmap_pack=2)
        mapping = replace(mapping, ct=mapping.ct if mapping.ct % 4 == 0 else shape.C)
        try:
            packed.append(ControllerJob.random(arch, shape, mapping, rng, requant=True,
                                               dataflow=("ws", "os")[len(packed) % 2],
                                               datapath=PQ))
        except SpecError:       # all the channels do not fit the buffers
            continue
    jobs += packed
    for index in range(2):      # packed weight runs of a whole request
        shape, mapping = random_packed_case(rng, NARROW, PQ)
        jobs.append(ControllerJob.random(NARROW, shape, mapping, rng, requant=True,
                                         dataflow=("ws", "os")[index], datapath=PQ))
    # a code layer reading packed codes and writing 4-bit codes, a layer of 2 x 2 slice
    # passes reading them and writing packed 2-bit codes, a code layer reading those packed
    # and writing 8-bit codes
    network = ControllerNetworkJob.random(ARCH, [
        LayerSpec("a", Shape(1, 6, 6, 6, 8, 3, 3, 6, 6, 1, 1, ifmap_pack=2),
                  Mapping(8, 6, 6, "nkcp"), dataflow="ws", out_codes=4),
        LayerSpec("b", Shape(1, 8, 6, 6, 8, 3, 3, 3, 3, 2, 1, ifmap_slices=2, weight_slices=2,
                             ofmap_pack=2),
                  Mapping(4, 4, 3, "nckp"), dataflow="os", pe_op="slice_mac", out_codes=2),
        LayerSpec("c", Shape(1, 8, 3, 3, 5, 1, 1, 3, 3, 1, 0, ifmap_pack=2),
                  Mapping(5, 8, 3, "nkcp"), dataflow="ws", out_codes=8)], rng, datapath=PQ)
    assert [layer.input_note for layer in network.layers[1:]] == ["chained", "chained"]
    outputs = network.expected()
    assert [int(out.max()) for out in outputs] == [15, 3, 255]     # each clamped to its codes
    *singles, chained = run_free(jobs + [network], tmp_path, "icarus")
    for job, result in zip(jobs, singles):
        assert_run_matches(result, job)
    assert network.first_difference(chained.output) is None
    for layer, commands in zip(network.layers, network.per_layer(chained)):
        model = controller_counters(ARCH, layer.job.shape, layer.job.mapping, True,
                                    dataflow=layer.job.dataflow)
        assert all(counters == model for counters, _ in commands)
    assert all(int(out.min()) >= 0 for out in chained.output)     # codes, unsigned


@needs_icarus
def test_a_palquant_network_runs_on_the_controller():
    """`simulate --model rtl --method palquant` on CHAIN on edge_tiny_palquant: the int8 first
    conv and FC as slice passes, the 2-bit layers (a strided conv, a depthwise and a 1x1) with
    packed weight codes; every statistic equal to `--model cycle`'s, the analytical cycles
    within 10%. Under is the 2-bit layers are refused, naming the first."""
    import dlaforge
    assert assert_network_matches(ARCH, "ws", "palquant") == ["c1", "c2", "dw", "pw", "fc"]
    with pytest.raises(SpecError, match="cannot run layer 'c2' under is: the palquant PEs run "
                                        "code_mac under ws, os only"):
        dlaforge.simulate(ARCH, CHAIN, "is", model="rtl", method="palquant")


@pytest.mark.long
@needs_icarus
@pytest.mark.parametrize("method", ["palquant", "bitslice_w4a4"])
def test_palquant_networks_under_os(method):
    assert len(assert_network_matches(ARCH, "os", method)) == 5


def test_rtl_generate_builds_the_controller_with_the_palquant_datapath(tmp_path):
    import json
    import dlaforge
    dlaforge.rtl_generate(ARCH, tmp_path, method="palquant")
    info = json.loads((tmp_path / "dlaforge_accel.json").read_text())
    assert info["parameters"]["datapath"] == {
        "family": "palquant", "pe_ops": ["code_mac", "slice_mac"], "codes": 2,
        "slice_bits": 2, "weight_bits": 2, "weight_levels": [0, 1, 2, 3], "packed_codes": True}
    assert info["command"]["pe_modes"] == ["code_mac", "slice_mac"]
    assert {"a_slices", "w_slices", "pack_in", "pack_out"} <= set(info["command"]["fields"])
    assert "a command with pack_in: packed (4 codes a byte)" in (
        info["command"]["dram_layouts"]["ifmap"])


@pytest.mark.long
def test_rtl_verify_runs_both_pe_operations():
    import dlaforge
    lines = []
    passed, failed = dlaforge.rtl_verify(ARCH, method="palquant", progress=lines.append)
    assert failed == 0 and passed == 185          # code_mac under ws, os; slice_mac also is
    assert sum(" code_mac " in line for line in lines) == 74


def test_the_tile_walker_is_the_models_pass_channels():
    """The RTL's tile walker (Amaranth simulation) steps through a command of slice passes as
    the models' tile sequence of the command over passes x C channels
    (program.pass_channels): every tile's indices, its slice pair, its first-channel-tile
    flag and the reuse flags, on random shapes, slice counts 1-3 each (unequal too), every
    loop order, channel tiles that divide C."""
    import random

    from amaranth.sim import Simulator

    from dlaforge.hw.controller.layouts import ControllerParams
    from dlaforge.hw.controller.tiles import TileWalker
    from dlaforge.program import pass_channels
    from dlaforge.sim.cycle.controller_timing import tile_sequence

    geo = ControllerParams.of(ARCH, datapath=PQ)
    dut = TileWalker(geo.command_layout(), geo.params.dim_bits, slices=True)
    draw, cases = random.Random(1), []
    for index in range(24):
        C = draw.choice([1, 2, 3, 4, 6])
        K, P = draw.randint(1, 5), draw.randint(1, 3)
        shape = Shape(draw.randint(1, 2), C, P + 2, P + 2, K, 3, 3, P, P,
                      ifmap_slices=draw.randint(1, 3), weight_slices=draw.randint(1, 3))
        ct = draw.choice([d for d in range(1, C + 1) if C % d == 0])
        order = LOOP_ORDERS[index % len(LOOP_ORDERS)]
        cases.append((shape, Mapping(draw.randint(1, K), ct, draw.randint(1, P), order)))
    flags = ("load_ifmap", "load_weight", "readback", "leaves", "final", "k0", "p0")
    mismatches = []

    async def testbench(ctx):
        for shape, mapping in cases:
            model = tile_sequence(pass_channels(shape), mapping)
            fields = dict(N=shape.N, C=shape.C, H=shape.H, W=shape.W, K=shape.K, R=3, S=3,
                          P=shape.P, Q=shape.Q, stride=1, padding=0, kt=mapping.kt,
                          ct=mapping.ct, pt=mapping.pt, qt=shape.Q,
                          order=LOOP_ORDERS.index(mapping.order), a_slices=shape.ifmap_slices,
                          w_slices=shape.weight_slices)
            for name, value in fields.items():
                ctx.set(getattr(dut.cmd, name), value)
            ctx.set(dut.restart, 1)
            await ctx.tick()
            ctx.set(dut.restart, 0)
            for i in range(len(model["c0"])):
                channel = int(model["c0"][i])           # of passes x C channels
                pass_, c0 = divmod(channel, shape.C)
                want = {name: int(model[name][i]) for name in flags}
                want.update(c0=c0, n=int(model["index"]["n"][i]),
                            a_slice=pass_ // shape.weight_slices,
                            w_slice=pass_ % shape.weight_slices, c_first=int(channel == 0))
                got = {name: ctx.get(getattr(dut.tile, name)) for name in want}
                if got != want or ctx.get(dut.finished):
                    mismatches.append((shape, mapping, i, got, want))
                    break
                ctx.set(dut.next, 1)
                await ctx.tick()
                ctx.set(dut.next, 0)
            if not ctx.get(dut.finished):
                mismatches.append((shape, mapping, "not finished"))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert mismatches == []
    assert any(s.ifmap_slices != s.weight_slices for s, _ in cases)
