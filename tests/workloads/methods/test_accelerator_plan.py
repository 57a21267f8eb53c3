"""The RTL's tiling plan: buffer halves from the spec, tiles that cover the GEMM once in
n, m, kd order, and clear refusals."""

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.program import BufferGeometry
from dlaforge.workloads.methods.accelerator_plan import Gemm, RtlPlan, dram_beat_gap, fold_length


def test_buffer_halves_follow_the_spec():
    arch = load_arch("edge_tiny")
    pe, scratch, acc = arch.pe_array, arch.shared_level("ifmap"), arch.shared_level("ofmap")
    geo = BufferGeometry.of(arch)
    # the scratchpad holds ifmap and weights: half each, then two halves of words
    assert geo.ifmap_half == scratch.size_bytes * 8 // 2 // (pe.rows * pe.ifmap_bits) // 2
    assert geo.weight_half == scratch.size_bytes * 8 // 2 // (pe.cols * pe.weight_bits) // 2
    assert geo.acc_half == acc.size_bytes * 8 // (pe.cols * pe.psum_bits) // 2


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
@pytest.mark.parametrize("M,Kd,N", [(1, 1, 1), (5, 9, 7), (300, 33, 4), (4, 2000, 9)])
def test_tiles_cover_the_gemm_once_with_kd_innermost(dataflow, M, Kd, N):
    plan = RtlPlan.make(load_arch("edge_tiny"), dataflow, Gemm.matmul(M, Kd, N))
    tiles = plan.tiles()
    covered = np.zeros((M, Kd, N), dtype=int)
    for nb, mb, kb, n, m, k in tiles:
        covered[mb * plan.Mt:mb * plan.Mt + m, kb * plan.Kt:kb * plan.Kt + k,
                nb * plan.Nt:nb * plan.Nt + n] += 1
    assert (covered == 1).all()
    order = tiles[:, 0] * 10**6 + tiles[:, 1] * 10**3 + tiles[:, 2]
    assert (np.diff(order) > 0).all()


def test_fold_lengths_and_dram_gaps():
    assert fold_length("ws", 4, 4, 10) == fold_length("is", 4, 4, 10) == 2 * 4 + 4 + 10 + 1
    assert fold_length("os", 4, 8, 10) == 10 + 2 * 4 + 8
    assert dram_beat_gap(1, 4.0) == 1 and dram_beat_gap(4, 0.5) == 8 and dram_beat_gap(3, 2.0) == 2


def test_refusals(arch_yaml):
    arch = load_arch("edge_tiny")
    with pytest.raises(SpecError, match="runs dataflows ws, os, is, not 'rs'"):
        RtlPlan.make(arch, "rs", Gemm.matmul(1, 1, 1))
    odd = load_arch(arch_yaml({"pe_array.ifmap_bits": 4}))
    with pytest.raises(SpecError, match="'is' only when ifmap_bits == weight_bits"):
        RtlPlan.make(odd, "is", Gemm.matmul(1, 1, 1))
    tiny = load_arch(arch_yaml({"memory.1.size_bytes": 48}))   # 16 B per operand
    with pytest.raises(SpecError, match="too small for the RTL's ws tiles"):
        RtlPlan.make(tiny, "ws", Gemm.matmul(1, 1, 1))


def test_rtl_cannot_run_names_the_reason():
    from dlaforge.sim.rtl_program import rtl_cannot_run
    from dlaforge.workloads.methods import get_method
    from dlaforge.workloads.networks import load_network
    conv, depthwise = load_network("resnet18").layers[1], load_network("mobilenet_v2").layers[1]
    tiny, xnor = load_arch("edge_tiny"), load_arch("edge_tiny_xnor")
    (op,) = get_method("baseline", tiny).transform(conv, tiny)
    assert [rtl_cannot_run(tiny, op, df) for df in ("ws", "os", "is")] == [None] * 3
    (op,) = get_method("baseline", tiny).transform(depthwise, tiny)
    assert rtl_cannot_run(tiny, op, "ws") is None      # one command per group
    (op,) = get_method("baseline", xnor).transform(conv, xnor)
    assert "MAC PEs only" in rtl_cannot_run(xnor, op, "ws")
    eyeriss = load_arch("eyeriss_like")
    (op,) = get_method("baseline", eyeriss).transform(conv, eyeriss)
    assert "not 'rs'" in rtl_cannot_run(eyeriss, op, "rs")
