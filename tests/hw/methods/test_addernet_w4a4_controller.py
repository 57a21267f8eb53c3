"""AdderNet w4a4 on the mapped-program controller (workloads/methods/addernet/plan.py's
W4A4_DATAPATH): AdderNet's adder PEs and int8 lanes, its adder layers' 4-bit signed weights and
activations packed two to a byte in DRAM and sign-extended on the load, their outputs clamped
to the next layer's signed width; and packed runs that span several DRAM requests (a word's or a
filter block's program.packed_span bytes over a narrow channel), which BWN's and PalQuant's
designs read the same way."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.hw.controller.free_run import run_free
from dlaforge.hw.controller.layouts import ControllerParams
from dlaforge.hw.controller.stimulus import ControllerJob, pack_rows, unpack_rows
from dlaforge.program import Mapping, Shape, packed_codes_refusal, packed_run_refusal
from dlaforge.sim import controller_cost
from dlaforge.sim.analytical import search
from dlaforge.sim.cycle.controller_timing import controller_counters
from dlaforge.sim.energy import energy_table
from dlaforge.workloads.layer import conv
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.methods.addernet.plan import CONTROLLER_DATAPATH as ADDER
from dlaforge.workloads.methods.addernet.plan import W4A4_DATAPATH as W4
from dlaforge.workloads.methods.bwn.plan import CONTROLLER_DATAPATH as BWN
from dlaforge.workloads.methods.datapath import (controller_datapath, method_datapath,
                                                 twos_complement)
from dlaforge.workloads.methods.palquant.plan import CONTROLLER_DATAPATH as PQ
from dlaforge.workloads.quantizers import Quantizer

from controller_checks import (CHAIN, assert_closed_form_matches, assert_network_matches,
                               assert_packed_bytes_counted, assert_run_matches,
                               random_packed_case)
from simulators import needs_icarus

ARCH = load_arch("edge_tiny_addernet")          # 4 x 4 int8 adder PEs, 4 bytes a cycle
# 8 x 8 on 2 bytes a cycle: a word's run of 8 packed 4-bit codes and a filter block's of 8
# weights are 4 bytes, two requests
NARROW = replace(ARCH, name="adder_8x8_2_bytes",
                 pe_array=replace(ARCH.pe_array, rows=8, cols=8),
                 dram=replace(ARCH.dram, bandwidth_bytes_per_cycle=2))
# PalQuant's 2-bit weight codes on 8 x 8 and 1 byte a cycle: runs of 2 bytes, two requests
# (its activation codes stay a byte each there: a write request's one code fills no byte)
PALQUANT = load_arch("edge_tiny_palquant")
PALQUANT_NARROW = replace(PALQUANT, name="palquant_8x8_1_byte",
                          pe_array=replace(PALQUANT.pe_array, rows=8, cols=8),
                          dram=replace(PALQUANT.dram, bandwidth_bytes_per_cycle=1))
# BWN's sign bits on 16 columns and 1 byte a cycle: a filter block's 2 bytes, two requests
BWN_ARCH = load_arch("edge_tiny_bwn")
BWN_NARROW = replace(BWN_ARCH, name="bwn_16_columns_1_byte",
                     pe_array=replace(BWN_ARCH.pe_array, cols=16),
                     dram=replace(BWN_ARCH.dram, bandwidth_bytes_per_cycle=1))


def adder_op(C, K, H, R=3, stride=1, groups=1, arch=ARCH, method="addernet_w4a4"):
    [op] = get_method(method, arch).transform(conv("a", C, K, H, R=R, stride=stride,
                                                   groups=groups), arch)
    return op


def test_the_method_and_its_ops_find_the_w4a4_datapath():
    """addernet_w4a4 runs on its own datapath (METHOD_DATAPATHS), AdderNet on the int8 one;
    an op finds the datapath of its widths, an int8 layer writing packed codes the one that
    packs them; a 4-bit adder layer moves its weights, ifmap and outputs packed at 4 bits."""
    assert method_datapath(ARCH, get_method("addernet_w4a4", ARCH)) is W4
    assert method_datapath(ARCH, get_method("addernet", ARCH)) is ADDER
    low, full = adder_op(8, 8, 6), adder_op(8, 8, 6, method="addernet")
    assert (low.pe_op, low.ifmap_bits, low.weight_bits) == ("sad", 4, 4)
    assert W4.op_bits(ARCH, "sad") == (4, 4) and ADDER.op_bits(ARCH, "sad") == (8, 8)
    assert controller_datapath(ARCH, "sad", low) is W4
    assert controller_datapath(ARCH, "sad", full) is ADDER
    [first] = get_method("addernet_w4a4", ARCH).transform(conv("c1", 3, 8, 8), ARCH)
    assert first.pe_op == "mac" and controller_datapath(ARCH, "mac", first) is ADDER
    assert controller_datapath(ARCH, "mac", replace(first, packed_codes=("ofmap",))) is W4
    shape = controller_cost.shape_of(replace(low, packed_codes=("ifmap", "ofmap")), ARCH)
    assert (shape.weight_bits, shape.ifmap_pack, shape.ofmap_pack) == (4, 4, 4)
    for dataflow in ("ws", "os", "is"):
        assert controller_cost.controller_runs(ARCH, low, dataflow)


def test_signed_values_and_what_the_datapath_refuses():
    """The levels of 4-bit values are their two's complement, packed low nibble first; the
    datapath holds them in lanes of 8 bits or more (its MAC mode's int8)."""
    assert twos_complement(4) == (0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1)
    assert W4.code_levels == twos_complement(4) and PQ.code_levels == ()
    assert W4.code_range(4) == (-8, 8) and W4.code_range(8) == (-128, 128)
    assert PQ.code_range(2) == (0, 4)
    assert W4.out_bits == 0 and W4.unsigned_codes is False and PQ.out_bits == 9
    values = np.array([[-1, 2, -8, 7, 0]])
    rows = pack_rows(values, 4)
    assert rows.tolist() == [[0x2F, 0x78, 0x00]]
    assert np.array_equal(unpack_rows(rows, 4, 5, signed=True), values)
    assert unpack_rows(rows, 4, 5).tolist() == [[15, 2, 8, 7, 0]]
    narrow = replace(ARCH, name="adder_4_bit", pe_array=replace(ARCH.pe_array, ifmap_bits=4,
                                                                weight_bits=4))
    assert W4.arch_refusal(narrow) == (
        "the controller's addernet datapath holds its 4-bit values sign-extended in lanes of "
        "8 bits or more (its MAC mode's int8), not 4-bit ifmap and 4-bit weight lanes")
    six = replace(ARCH, name="adder_6_bit_out", pe_array=replace(ARCH.pe_array, ofmap_bits=6))
    assert W4.arch_refusal(six) == ("the controller's addernet datapath writes values of up to "
                                    "8 bits (an int8 layer's input), not 6-bit outputs")
    # its designs are not AdderNet's: a cache of their cells keys on the datapaths' fields
    assert W4.rules() != ADDER.rules() and W4.rules()["signed_codes"] == "True"
    with pytest.raises(SpecError, match="signed activation codes; quantizer .* asymmetric"):
        ControllerJob.random(ARCH, Shape(1, 4, 4, 4, 4, 3, 3, 4, 4, 1, 1),
                             Mapping(4, 4, 4, "nkcp"), np.random.default_rng(0),
                             requant=Quantizer.of("per_channel_asymmetric"), datapath=W4)


def test_packed_runs_may_span_several_requests():
    """A run of packed values longer than a DRAM request is read in several, a request's
    codes unpacked into their lanes; only values that never straddle a byte may be (bits
    dividing 8), so tpu_like_addernet's 32 lanes of 4-bit codes (16 bytes, 8 a request) move
    packed."""
    assert packed_codes_refusal(load_arch("tpu_like_addernet"), 4) is None
    assert packed_run_refusal(NARROW, 4) is None
    geo = ControllerParams.of(NARROW, datapath=W4)
    assert (geo.packed_chunks("ifmap"), geo.packed_chunks("weight")) == (2, 2)
    assert ControllerParams.of(ARCH, datapath=W4).packed_chunks("ifmap") == 1
    assert packed_run_refusal(NARROW, 3) == (
        "a run of 8 packed 3-bit weights spans up to 3 bytes, more than the 2 a DRAM request "
        "carries, and its values would straddle requests")


@pytest.mark.parametrize("arch", [ARCH, NARROW], ids=["4x4", "8x8 2 bytes"])
@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_the_models_count_w4a4_layers(arch, dataflow):
    """The closed form equals the timing model on every counter of 4-bit adder commands
    reading and writing packed values (cycles within 5%); the packed weights' bytes are the
    blocks' byte spans (counted bit by bit), the outputs written in half the bytes."""
    table = energy_table(arch)
    for C, K, H, stride in ((16, 20, 8, 1), (8, 36, 6, 2), (12, 8, 5, 1)):
        op = replace(adder_op(C, K, H, stride=stride, arch=arch),
                     packed_codes=("ifmap", "ofmap"))
        shape = controller_cost.shape_of(op, arch)
        for mapping in {search(arch, op, dataflow, "energy", table)[0],
                        Mapping(min(K, 8), min(C, 4), 2, "nckp")}:
            timed = assert_closed_form_matches(arch, shape, mapping, dataflow)
            assert_packed_bytes_counted(arch, replace(shape, ifmap_pack=0, ofmap_pack=0),
                                        mapping, dataflow,
                                        controller_counters(arch, replace(
                                            shape, ifmap_pack=0, ofmap_pack=0), mapping, True,
                                            dataflow=dataflow))
            unpacked = controller_counters(arch, replace(shape, ofmap_pack=0), mapping, True,
                                           dataflow=dataflow)
            outputs = shape.N * shape.P * shape.Q * K           # K even: 2 a byte
            assert (unpacked["dram_write_bytes"] - timed["dram_write_bytes"]
                    == outputs - outputs // 2)


def _w4_jobs(rng, arch, count: int) -> list:
    """Random 4-bit adder layers reading and writing packed values (one in three writing
    8-bit outputs unpacked), under ws, os and is in turn."""
    jobs = []
    while len(jobs) < count:
        shape, mapping = random_packed_case(rng, arch, W4)
        index = len(jobs)
        pack_out = index % 3 != 2
        shape = replace(shape, ifmap_pack=4, ofmap_pack=4 if pack_out else 0)
        mapping = replace(mapping, ct=mapping.ct if mapping.ct % 2 == 0 else shape.C)
        try:
            jobs.append(ControllerJob.random(arch, shape, mapping, rng, requant=True,
                                             dataflow=("ws", "os", "is")[index % 3],
                                             datapath=W4, out_codes=4 if pack_out else 8))
        except SpecError:       # all the channels do not fit the buffers
            continue
    return jobs


@needs_icarus
def test_random_w4a4_layers_free_running_on_icarus(tmp_path):
    """On one build per arch: random 4-bit adder layers on edge_tiny_addernet and on 8 x 8 at
    2 bytes a cycle (runs of two requests), the extremes (every value -8 against every
    weight 7: -15 a tap), int8 layers in the MAC mode writing packed 4-bit values: all
    bit-exact and equal to the timing model."""
    rng = np.random.default_rng(4)
    jobs = _w4_jobs(rng, ARCH, 6) + _w4_jobs(rng, NARROW, 6)
    extreme = ControllerJob.random(ARCH, Shape(1, 4, 4, 4, 4, 3, 3, 4, 4, 1, 1, ifmap_pack=4),
                                   Mapping(4, 4, 4, "nkcp"), rng, datapath=W4)
    extreme = replace(extreme, ifmap=np.full_like(extreme.ifmap, -8),
                      weight=np.full_like(extreme.weight, 7))
    assert extreme.expected().min() == -15 * 4 * 3 * 3
    jobs.append(extreme)
    for index in range(2):      # int8 in the MAC mode, writing packed 4-bit values
        jobs.append(ControllerJob.random(ARCH, Shape(1, 3, 6, 6, 8, 3, 3, 6, 6, 1, 1,
                                                     ofmap_pack=4),
                                         Mapping(4, 3, 3, "nkcp"), rng, requant=True,
                                         relu=index == 1, dataflow=("ws", "is")[index],
                                         datapath=W4, pe_op="mac", out_codes=4))
    assert min(int(job.ifmap.min()) for job in jobs[:12]) < 0     # signed values
    results = run_free(jobs, tmp_path, "icarus")
    for job, result in zip(jobs, results):
        assert_run_matches(result, job)
    outputs = [job.expected() for job in jobs[:12] if job.shape.ofmap_pack]
    assert min(int(out.min()) for out in outputs) == -8          # clamped to 4 bits


@pytest.mark.long
@needs_icarus
def test_palquant_and_bwn_runs_of_two_requests_free_running_on_icarus(tmp_path):
    """PalQuant's packed weight codes on 8 x 8 at 1 byte a cycle and BWN's sign bits on 16
    columns at 1 byte a cycle, each filter block's run two requests: bit-exact and equal to
    the timing model."""
    rng, jobs = np.random.default_rng(5), []
    for arch, datapath in ((PALQUANT_NARROW, PQ), (BWN_NARROW, BWN)):
        assert ControllerParams.of(arch, datapath=datapath).packed_chunks("weight") == 2
        for dataflow in ControllerParams.of(arch, datapath=datapath).dataflows[:2]:
            shape, mapping = random_packed_case(rng, arch, datapath)
            jobs.append(ControllerJob.random(arch, shape, mapping, rng, requant=True,
                                             dataflow=dataflow, datapath=datapath))
    for job, result in zip(jobs, run_free(jobs, tmp_path, "icarus")):
        assert_run_matches(result, job)


@needs_icarus
def test_an_addernet_w4a4_network_runs_on_the_controller():
    """`simulate --model rtl --method addernet_w4a4` on CHAIN on edge_tiny_addernet: the int8
    first conv writes packed 4-bit values, the strided adder layer reads them packed, the
    depthwise and the 1x1 keep a value a byte, the FC reads int8; every statistic equal to
    `--model cycle`'s, the analytical cycles within 10%; the first conv writes half the bytes
    of AdderNet's int8 network."""
    import dlaforge
    assert assert_network_matches(ARCH, "ws", "addernet_w4a4") == ["c1", "fc"]
    rows = {method: dlaforge.simulate(ARCH, CHAIN, "ws", model="cycle",
                                      method=method).to_json()["layers"]
            for method in ("addernet", "addernet_w4a4")}
    assert rows["addernet_w4a4"][0]["dram_write_bytes"] * 2 == rows["addernet"][0][
        "dram_write_bytes"]


@pytest.mark.long
@needs_icarus
@pytest.mark.parametrize("dataflow", ["os", "is"])
def test_addernet_w4a4_networks_under_os_and_is(dataflow):
    assert assert_network_matches(ARCH, dataflow, "addernet_w4a4") == ["c1", "fc"]


@pytest.mark.long
def test_rtl_verify_runs_w4a4_on_runs_of_two_requests():
    """`rtl verify --method addernet_w4a4` on 8 x 8 at 2 bytes a cycle: every case passes."""
    from dlaforge import rtl_verify
    passed, failed = rtl_verify(NARROW, method="addernet_w4a4", sim="verilator")
    assert failed == 0 and passed > 200
