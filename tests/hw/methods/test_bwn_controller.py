"""Binary-weight networks on the mapped-program controller (issue 14): the controller built
with BWN's datapath (workloads/methods/bwn/plan.CONTROLLER_DATAPATH: sign-add PEs with a MAC
mode) reads the ±1 weights packed, one bit each (a row of K filters padded to whole bytes),
and unpacks them into its int8 weight lanes on the load; it runs the binarized layers under
ws and os (not is: the PE takes the sign from the weight operand, which is swaps) and the
int8 first conv and FC in the MAC mode. Outputs bit-exact against conv2d_int with ±1 weights,
every counter equal to the exact timing model, whose packed byte counts the closed form
matches; the mapper keeps every k tile but the last a multiple of 8 filters."""

from dataclasses import replace

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.hw.controller.free_run import run_free
from dlaforge.hw.controller.layouts import ControllerParams
from dlaforge.hw.controller.stimulus import ControllerJob
from dlaforge.program import Mapping, Shape
from dlaforge.sim import controller_cost
from dlaforge.sim.analytical import controller_stats, search
from dlaforge.sim.energy import energy_table
from dlaforge.workloads.layer import conv
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.methods.bwn.plan import CONTROLLER_DATAPATH as BWN
from dlaforge.workloads.methods.datapath import controller_datapath, method_datapath
from controller_checks import (assert_closed_form_matches, assert_network_matches,
                               assert_packed_bytes_counted, assert_run_matches,
                               random_packed_case)
from simulators import needs_icarus

ARCH = load_arch("edge_tiny_bwn")                 # os only, as the preset
WIDE = replace(ARCH, pe_array=replace(ARCH.pe_array, dataflows=("os", "ws", "is")))
# 6 columns and an 8 byte/cycle DRAM: filter blocks start at bits 0, 6, 4, 2 of a byte and
# span two bytes, a request carrying the whole run
SIX = replace(WIDE, name="bwn_6_columns", pe_array=replace(WIDE.pe_array, cols=6),
              dram=replace(WIDE.dram, bandwidth_bytes_per_cycle=8))


def bwn_op(C, K, H, R=3, stride=1, groups=1, arch=ARCH):
    [op] = get_method("bwn", arch).transform(conv("b", C, K, H, R=R, stride=stride,
                                                  groups=groups), arch)
    return op


def test_the_datapath_and_what_it_refuses():
    assert controller_datapath(ARCH, "sign_add") is BWN
    assert method_datapath(ARCH, get_method("bwn", ARCH)) is BWN
    assert BWN.pe_ops == ("sign_add", "mac") and BWN.packs("sign_add") and not BWN.packs("mac")
    op = bwn_op(8, 8, 6, arch=WIDE)
    assert controller_cost.controller_runs(WIDE, op, "ws")
    assert not controller_cost.controller_runs(WIDE, op, "is")
    assert controller_cost.controller_refusal(WIDE, op, "is") == (
        "the bwn PEs run sign_add under ws, os only")
    shape, mapping = Shape(1, 4, 4, 4, 8, 3, 3, 4, 4, 1, 1), Mapping(8, 4, 4, "nkcp")
    with pytest.raises(SpecError, match="run sign_add under ws, os only, not is"):
        ControllerJob.random(WIDE, shape, mapping, np.random.default_rng(0), dataflow="is",
                             datapath=BWN)
    with pytest.raises(SpecError, match="a multiple of 8 filters .or all 9., not kt=4"):
        ControllerJob.random(ARCH, replace(shape, K=9), replace(mapping, kt=4),
                             np.random.default_rng(0), dataflow="os", datapath=BWN)
    # a 1 byte/cycle DRAM: 4 columns' blocks start at bit 0 or 4 and fit a byte; 6 columns'
    # start at bits 0, 6, 4, 2 and span up to 2 bytes, read in two requests
    # (tests/hw/methods/test_addernet_w4a4_controller runs such runs on Icarus)
    slow = replace(ARCH, pe_array=replace(ARCH.pe_array, cols=6),
                   dram=replace(ARCH.dram, bandwidth_bytes_per_cycle=1))
    for arch, chunks in ((replace(ARCH, dram=slow.dram), 1), (slow, 2)):
        assert controller_cost.controller_runs(arch, bwn_op(8, 8, 6), "os")
        assert ControllerParams.of(arch, datapath=BWN).packed_chunks("weight") == chunks


def test_extreme_operands_keep_their_weight_signs():
    """rtl verify's all_-128 and all_1 cases: drawn weights of one value become that value's
    nearest level (-1 and +1), so every filter is all -1 or all +1."""
    shape, mapping = Shape(1, 3, 4, 4, 8, 3, 3, 4, 4, 1, 1), Mapping(8, 3, 4, "nkcp")
    for value, level in ((-128, -1), (1, 1)):
        job = ControllerJob.random(ARCH, shape, mapping, np.random.default_rng(0), low=value,
                                   high=value + 1, dataflow="os", datapath=BWN)
        assert (job.weight == level).all()


def test_the_weights_are_packed_a_bit_each_row_by_row():
    """The DRAM image holds, per group, R x S x C rows of ceil(K/8) bytes, filter k's bit at
    bit k mod 8 of byte k // 8 (1 for -1), read back here by an independent loop."""
    rng = np.random.default_rng(5)
    job = ControllerJob.random(ARCH, Shape(1, 3, 4, 4, 11, 2, 3, 3, 2, 1, 0),
                               Mapping(8, 3, 3, "nkcp"), rng, groups=2, dataflow="os",
                               datapath=BWN)
    assert set(np.unique(job.weight)) == {-1, 1}
    memory, at = job.dram_image(), job.regions
    packed = memory[at["weight"]:at["requant"]]
    assert len(packed) == 2 * 2 * 3 * 3 * 2      # groups x R x S x C rows of 2 bytes
    for g in range(2):
        for k in range(11):
            for c in range(3):
                for r in range(2):
                    for s in range(3):
                        row = ((g * 2 + r) * 3 + s) * 3 + c
                        bit = (packed[row * 2 + k // 8] >> (k % 8)) & 1
                        assert job.weight[g * 11 + k, c, r, s] == (-1 if bit else 1)
    fields = job.commands()
    assert [f["weight_base"] - at["weight"] for f in fields] == [0, 36]


@pytest.mark.parametrize("arch", [WIDE, SIX], ids=["4 columns", "6 columns"])
@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_the_models_count_packed_bytes(arch, dataflow):
    """The closed form equals the timing model on every counter, its cycles within 5%; the
    weights' DRAM bytes are the blocks' byte spans, counted here bit by bit (on 6 columns the
    blocks start mid-byte and span two bytes, on 4 two blocks share each byte)."""
    table = energy_table(arch)
    for C, K, H, stride in ((16, 20, 8, 1), (8, 64, 6, 2), (24, 9, 5, 1), (5, 31, 4, 1)):
        op = bwn_op(C, K, H, stride=stride, arch=arch)
        shape = controller_cost.shape_of(op, arch)
        assert shape.weight_bits == 1
        for mapping in {search(arch, op, dataflow, "energy", table)[0],
                        Mapping(min(K, 16), max(1, C // 2), 2, "nckp")}:
            assert mapping.kt % 8 == 0 or mapping.kt >= K
            timed = assert_closed_form_matches(arch, shape, mapping, dataflow)
            assert_packed_bytes_counted(arch, shape, mapping, dataflow, timed)


@needs_icarus
def test_random_bwn_and_mac_layers_free_running_on_icarus(tmp_path):
    """Six random binarized layers (strides 1-2, padding, hanging windows, groups, N = 2,
    column tiles; on 4 columns two filter blocks share a byte) under os and ws, MAC-mode layers
    under os, ws and is on the same build, and four binarized layers on 6 columns (blocks
    starting mid-byte, runs of two bytes): bit-exact and equal to the timing model."""
    rng = np.random.default_rng(21)
    jobs = []
    for index in range(13):
        arch = SIX if index >= 9 else WIDE
        shape, mapping = random_packed_case(rng, arch, BWN)
        mac = 6 <= index < 9
        dataflow = ("os", "ws", "is")[index % 3] if mac else ("os", "ws")[index % 2]
        jobs.append(ControllerJob.random(arch, shape, mapping, rng,
                                         groups=1 + (index in (4, 10)),
                                         requant=index % 2 == 0, relu=index % 3 == 0,
                                         dataflow=dataflow, datapath=BWN,
                                         pe_op="mac" if mac else "sign_add"))
    assert sum(job.shape.weight_bits for job in jobs) == 10
    for job, result in zip(jobs, run_free(jobs, tmp_path, "icarus")):
        assert_run_matches(result, job)


@needs_icarus
def test_a_bwn_network_with_int8_layers_runs_on_one_design():
    """`simulate --model rtl --method bwn` on edge_tiny_bwn: the int8 first conv and FC in the
    MAC mode, the binarized layers (a strided conv, a depthwise and a 1x1) with packed
    weights; every statistic equal to `--model cycle`'s, the analytical cycles within 10%."""
    assert assert_network_matches(ARCH, "os", "bwn") == ["c1", "fc"]


def test_rtl_generate_builds_the_controller_with_the_bwn_datapath(tmp_path):
    import json
    import dlaforge
    dlaforge.rtl_generate(ARCH, tmp_path, method="bwn")
    info = json.loads((tmp_path / "dlaforge_accel.json").read_text())
    assert info["parameters"]["datapath"] == {"family": "bwn", "pe_ops": ["sign_add", "mac"],
                                              "weight_bits": 1, "weight_levels": [1, -1]}
    assert info["command"]["pe_modes"] == ["sign_add", "mac"]
    assert "packed, 1 bit(s) per weight" in info["command"]["dram_layouts"]["weight"]


@pytest.mark.long
def test_rtl_verify_runs_both_pe_operations():
    import dlaforge
    lines = []
    passed, failed = dlaforge.rtl_verify(ARCH, method="bwn", progress=lines.append)
    assert failed == 0 and passed == 74
    assert sum(" sign_add " in line for line in lines) == sum(" mac " in line for line in lines)
