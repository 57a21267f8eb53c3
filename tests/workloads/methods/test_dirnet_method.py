"""DIR-Net as a method (workloads/methods/dirnet/, sim/methods/dirnet.py): its transform's
counts against a formula and against XNOR-Net's, what it stores, the shift's energy, both
models on ResNet-18, and the refusal of `--schedule rtl`."""

import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.sim.method_costs import SHIFT_PJ_PER_BIT_45NM, unit_energy_pj, unit_op_pj
from dlaforge.sim.methods import dirnet as model
from dlaforge.workloads.layer import conv, linear
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.methods.dirnet.reference import EXPONENT_BITS
from dlaforge.workloads.networks import load_network

EDGE = load_arch("edge_tiny_xnor")
TPU = load_arch("tpu_like_xnor")


@pytest.mark.parametrize("layer", [conv("c", 16, 24, 9, R=3, stride=2),
                                   conv("w", 130, 8, 5, R=3, W=7),
                                   conv("p", 64, 2, 5, R=1)])
def test_transform_shifts_once_per_output_where_xnor_multiplies_by_its_k_map(layer):
    [op] = get_method("dirnet", EDGE).transform(layer, EDGE)
    [x] = get_method("xnor", EDGE).transform(layer, EDGE)
    words = -(-layer.C // 64)
    pe_ops = layer.N * layer.K * words * layer.P * layer.Q * layer.R * layer.S
    outputs = layer.N * layer.K * layer.P * layer.Q
    assert op.pe_op == "xnor_popcount" and op.pe_macs == pe_ops
    assert op.ops == {"xnor_bits": 64 * pe_ops, "popcount": pe_ops, "add": pe_ops,
                      "shift": outputs, "scale_add": outputs}
    # XNOR-Net: K_q per output and per pixel (alpha folded into the requantizer's multiplier)
    assert x.ops["scale_mult"] == outputs + layer.N * layer.P * layer.Q
    assert "shift" not in x.ops
    packed = layer.K * words * layer.R * layer.S * 64
    assert op.weight_storage_bits == packed + layer.K * EXPONENT_BITS
    assert op.dram_scale == x.dram_scale                # int8 activations, packed on the way in


def test_first_conv_and_fc_stay_int8_macs():
    for layer in (conv("conv1", 3, 64, 32, R=7, stride=2), linear("fc", 512, 10)):
        [op] = get_method("dirnet", EDGE).transform(layer, EDGE)
        assert op.pe_op == "mac" and op.ops == {"mult": op.pe_macs, "add": op.pe_macs}


def test_the_shift_is_priced_from_the_shifter_figure():
    factor = unit_op_pj(TPU)["scale_add"] / model.unit_op_pj_45nm(TPU)["scale_add"]
    assert model.unit_op_pj_45nm(TPU)["shift"] == pytest.approx(0.417 * 1.15)
    assert unit_op_pj(TPU)["shift"] == pytest.approx(SHIFT_PJ_PER_BIT_45NM * 32 * factor)


def test_the_shift_is_charged_in_the_models():
    [op] = get_method("dirnet", TPU).transform(conv("c", 64, 64, 8), TPU)
    pj = unit_op_pj(TPU)
    assert unit_energy_pj(TPU, op) == pytest.approx(
        op.ops["shift"] * pj["shift"] + op.ops["scale_add"] * pj["scale_add"])


@pytest.mark.parametrize("which", ["analytical", "cycle"])
def test_both_models_run_resnet18(which):
    """Binarized layers: all but the first conv and the FC; one shift per output of each."""
    record = dlaforge.simulate("edge_tiny_xnor", "resnet18", method="dirnet", model=which)
    t = record.totals
    net = load_network("resnet18")
    binarized = [layer for layer in net.layers if layer.kind != "linear" and layer.C > 4]
    assert t.ops["shift"] == sum(layer.K * layer.P * layer.Q for layer in binarized)
    assert "scale_mult" not in t.ops and t.ops["mult"] == 118_013_952 + 512_000
    assert t.macs == 1_814_073_344 and t.cycles > 0


def test_schedule_rtl_refuses_the_binarized_layers():
    [op] = get_method("dirnet", EDGE).transform(conv("c", 64, 64, 8), EDGE)
    assert "shift-only stage has no RTL" in model.cannot_run(EDGE, op, "os")
    with pytest.raises(SpecError, match="shift-only stage has no RTL"):
        model.op_stats(EDGE, op, "os", None)
