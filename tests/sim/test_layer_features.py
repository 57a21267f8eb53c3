"""The models on dilation, padding per side, rectangular strides and products of two
activations; the SCALE-Sim paths and the RTL refuse what they cannot run in one line."""

from pathlib import Path

import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.sim.analytical import Mapping, evaluate
from dlaforge.sim.cycle.model import native_cycle_stats
from dlaforge.sim.energy import energy_table
from dlaforge.sim.rtl_program import rtl_cannot_run
from dlaforge.sim.run import run_network
from dlaforge.workloads.layer import Layer, conv, matmul
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.networks import Network

SCALESIM_CFG = Path(__file__).parent.parent / "fixtures/scalesim/conv_4x16_ws/arch.cfg"


def op_of(arch, layer):
    [op] = get_method("baseline", arch).transform(layer, arch)
    return op


def run(arch, layers, model="analytical", schedule="mapped", dataflow="ws"):
    return run_network(arch, Network("t", tuple(layers)), dataflow, "baseline", "energy", 1,
                       "test", model, schedule=schedule)


def test_dilated_conv_fetches_the_rows_of_its_extent_and_does_the_macs_of_its_kernel():
    """Under one mapping a 3x3 conv dilated 2 moves the ifmap of a 5x5 conv (the same window
    span) and performs 9/25 of its MACs, in both models."""
    arch, table = load_arch("tpu_like"), energy_table(load_arch("tpu_like"))
    dilated = Layer(name="d", kind="conv2d", K=16, C=8, H=20, W=20, P=20, Q=20, R=3, S=3,
                    padding=2, dilation=(2, 2))
    wide = conv("w", 8, 16, 20, R=5)
    mapping = Mapping(kt=16, ct=4, pt=5, order="nkcp")
    a, b = (evaluate(arch, op_of(arch, layer), mapping, "ws", table) for layer in (dilated, wide))
    assert a.accesses["dram"]["ifmap"] == b.accesses["dram"]["ifmap"]
    assert a.pe_ops * 25 == b.pe_ops * 9 == dilated.macs * 25
    _, ca, _ = native_cycle_stats(arch, op_of(arch, dilated), "ws", "energy", table, mapping)
    _, cb, _ = native_cycle_stats(arch, op_of(arch, wide), "ws", "energy", table, mapping)
    assert ca.accesses["dram"]["ifmap"] == cb.accesses["dram"]["ifmap"]
    # four 5-row tiles: rows [0, 7), [3, 12), [8, 17), [13, 20) of the 20-row ifmap
    assert ca.accesses["dram"]["ifmap"]["reads"] == 8 * (7 + 9 + 9 + 7) * 20


def test_asymmetric_padding_loads_only_rows_inside_the_image():
    """Padding only at the top shifts every window up: one output-row tile at a time, each
    tile loads the rows its 3 taps cover inside the 8-row image (brute force below)."""
    arch, table = load_arch("tpu_like"), energy_table(load_arch("tpu_like"))
    layer = Layer(name="a", kind="conv2d", K=8, C=4, H=8, W=8, P=8, Q=8, R=3, S=3,
                  pads=(2, 1, 0, 1))
    rows = sum(len([h for h in range(p - 2, p + 1) if 0 <= h < 8]) for p in range(8))
    mapping = Mapping(kt=8, ct=4, pt=1, order="nkcp")
    priced = evaluate(arch, op_of(arch, layer), mapping, "ws", table)
    _, timed, _ = native_cycle_stats(arch, op_of(arch, layer), "ws", "energy", table, mapping)
    assert priced.accesses["dram"]["ifmap"]["reads"] == 4 * rows * 8
    assert timed.accesses["dram"]["ifmap"]["reads"] == 4 * rows * 8


@pytest.mark.parametrize("model", ["analytical", "cycle"])
def test_a_batched_matmul_of_activations_costs_one_product_per_image(model):
    """N products of two activations: each image has its own second operand, so DRAM moves N
    times what one product moves and energy is N times as large; no weights are stored and the
    second operand's DRAM reads count as activations."""
    arch = load_arch("gemmini_like")
    one = run(arch, [matmul("qk", 64, 32, 64)], model).totals
    heads = run(arch, [matmul("qk", 64, 32, 64, N=6)], model).totals
    assert heads.macs == 6 * one.macs == 6 * 64 * 32 * 64
    assert heads.dram_read_bytes == 6 * one.dram_read_bytes >= 6 * (64 * 32 + 32 * 64)
    assert heads.energy_pj == pytest.approx(6 * one.energy_pj, rel=1e-9)
    assert heads.weight_storage_bits == 0
    dram = heads.accesses["dram"]
    assert dram["weight"]["reads"] == 0 and dram["ifmap"]["reads"] >= 6 * 2 * 64 * 32


def test_a_weight_matmul_is_not_refetched_per_image_but_an_activation_one_is():
    arch = load_arch("gemmini_like")
    gemm = Layer(name="g", kind="gemm", N=6, P=64, C=32, K=64, H=64, W=1, Q=1)
    shared = run(arch, [gemm]).totals
    own = run(arch, [matmul("qk", 64, 32, 64, N=6)]).totals

    def operand_reads(totals):     # ifmap and weight elements (not the gemm's requantization
        dram = totals.accesses["dram"]                  # parameters, fetched by the controller)
        return dram["ifmap"]["reads"] + dram["weight"]["reads"]

    assert operand_reads(own) - operand_reads(shared) >= 5 * 32 * 64


@pytest.mark.parametrize("layer, reason", [
    (Layer(name="dil", kind="conv2d", K=4, C=4, H=8, W=8, P=8, Q=8, R=3, S=3, padding=2,
           dilation=(2, 2)), "dilation 2x2"),
    (Layer(name="asym", kind="conv2d", K=4, C=4, H=8, W=8, P=8, Q=7, R=3, S=3,
           pads=(1, 1, 1, 0)), "asymmetric padding"),
    (Layer(name="rect", kind="conv2d", K=4, C=4, H=8, W=8, P=4, Q=8, R=3, S=3, padding=1,
           stride=2, stride_w=1), "rectangular stride 2x1"),
    (matmul("scores", 8, 8, 8, N=2), "both operands are activations"),
])
def test_the_rtl_refuses_what_its_loader_cannot_walk(layer, reason):
    arch = load_arch("edge_tiny")
    assert reason in rtl_cannot_run(arch, op_of(arch, layer), "ws")
    with pytest.raises(SpecError, match=f"cannot run layer '{layer.name}'.*{reason}"):
        run(arch, [layer], "cycle", schedule="rtl")
    import dlaforge.rtl_driver as driver
    with pytest.raises(SpecError, match=f"--model rtl cannot run layer '{layer.name}'"):
        driver.run_rtl_network(arch, Network("t", (layer,)), "ws", "baseline", 1, "test")


@pytest.mark.parametrize("model", ["analytical", "cycle"])
def test_scalesim_cfg_refuses_windows_it_has_no_form_for(model):
    arch = load_arch(SCALESIM_CFG)
    dilated = Layer(name="dil", kind="conv2d", K=4, C=4, H=8, W=8, P=4, Q=4, R=3, S=3,
                    dilation=(2, 2))
    with pytest.raises(SpecError, match="SCALE-Sim has one stride .* cannot run dilation 2x2"):
        run(arch, [dilated], model, dataflow=arch.pe_array.dataflows[0])
    with pytest.raises(SpecError, match="one filter matrix per layer"):
        run(arch, [matmul("qk", 8, 8, 8, N=2)], model, dataflow=arch.pe_array.dataflows[0])


@pytest.mark.parametrize("preset", ["eyeriss_like", "nvdla_small"])
def test_every_dataflow_prices_the_new_windows(preset):
    arch = load_arch(preset)
    layers = [Layer(name="dil", kind="conv2d", K=16, C=8, H=14, W=14, P=14, Q=10, R=3, S=3,
                    pads=(2, 0, 2, 0), dilation=(2, 2)),
              Layer(name="rect", kind="conv2d", K=16, C=8, H=14, W=14, P=7, Q=14, R=3, S=1,
                    stride=2, stride_w=1, pads=(1, 0, 1, 0)),
              matmul("qk", 20, 16, 20, N=3)]
    for dataflow in arch.pe_array.dataflows:
        for model in ("analytical", "cycle"):
            record = run(arch, layers, model, dataflow=dataflow)
            for layer, rec in zip(layers, record.layers):
                assert rec.stats.macs == rec.stats.pe_ops == layer.macs
                assert rec.stats.cycles * arch.pe_count >= layer.macs
