"""Binary-weight networks as a method (workloads/methods/bwn/, sim/methods/bwn.py): the
transform's counts and storage against a formula, the layers it keeps as int8 MACs, the
sign-add energy; ResNet-18's totals on its preset; the analytical and cycle models and
`--schedule rtl` on the sign-add array."""

from dataclasses import replace

import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.sim.energy import energy_table
from dlaforge.sim.methods import addernet, bwn as model
from dlaforge.workloads.layer import conv, linear
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.methods.bwn import ALPHA_BITS
from dlaforge.workloads.networks import load_network

EDGE = load_arch("edge_tiny_bwn")
TPU = load_arch("tpu_like_bwn")


@pytest.mark.parametrize("layer", [conv("c", 16, 24, 9, R=3, stride=2),
                                   conv("g", 16, 32, 8, R=3, groups=4),
                                   conv("p", 64, 2, 5, R=1, W=7)])
def test_transform_counts_one_add_per_mac_and_stores_a_bit_per_weight(layer):
    [op] = get_method("bwn", EDGE).transform(layer, EDGE)
    macs = layer.N * layer.K * (layer.C // layer.groups) * layer.P * layer.Q * layer.R * layer.S
    assert op.pe_op == "sign_add" and op.pe_macs == macs
    assert op.ops == {"add": macs}                                     # no "mult"
    assert (op.ifmap_bits, op.weight_bits) == (8, 1)
    weights = layer.K * (layer.C // layer.groups) * layer.R * layer.S
    assert op.weight_storage_bits == weights + layer.K * ALPHA_BITS


def test_first_conv_and_fc_stay_int8_macs_and_the_method_needs_the_adder_kind():
    for layer in (conv("conv1", 3, 64, 32, R=7, stride=2), linear("fc", 512, 10)):
        [op] = get_method("bwn", EDGE).transform(layer, EDGE)
        assert op.pe_op == "mac" and op.ops == {"mult": op.pe_macs, "add": op.pe_macs}
        assert (op.ifmap_bits, op.weight_bits) == (8, 8)
    with pytest.raises(SpecError, match="needs a PE array of kind adder"):
        get_method("bwn", load_arch("tpu_like"))


def test_a_sign_add_costs_less_than_the_adder_and_the_mac():
    [op] = get_method("bwn", TPU).transform(conv("c", 64, 64, 8), TPU)
    assert model.sign_add_pj_45nm(8, 32) == pytest.approx(0.1 * (9 + 32) / 32)
    sad = addernet.sad_pj(TPU, replace(op, weight_bits=8))
    assert model.sign_add_pj(TPU, op) < sad < energy_table(TPU).mac_pj


def test_resnet18_totals_on_tpu_like_bwn():
    """Nominal MACs are the network's (1.81 G); all but the first conv (118 M MACs) and the FC
    (0.5 M) are sign-adds; the binarized weights take 1 bit each plus α per filter."""
    record = dlaforge.simulate("tpu_like_bwn", "resnet18", method="bwn")
    base = dlaforge.simulate("tpu_like", "resnet18")
    net = load_network("resnet18")
    t, nominal, kept = record.totals, 1_814_073_344, 118_013_952 + 512_000
    assert t.macs == sum(layer.macs for layer in net.layers) == nominal
    assert t.ops["mult"] == kept and t.ops["add"] == nominal
    binarized = [layer for layer in net.layers if layer.kind != "linear" and layer.C > 4]
    weights = sum(layer.K * layer.C * layer.R * layer.S for layer in binarized)
    kept_bits = base.totals.weight_storage_bits - 8 * weights
    assert t.weight_storage_bits == kept_bits + weights + ALPHA_BITS * sum(
        layer.K for layer in binarized)
    assert t.energy_pj < base.totals.energy_pj and t.dram_read_bytes < base.totals.dram_read_bytes


@pytest.fixture
def bwn_csv(tmp_path):
    """Two binary-weight layers (more than 4 input channels: neither is a first conv)."""
    csv = tmp_path / "bwn.csv"
    csv.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                   "Channels, Num Filter, Strides,\nb3, 8, 7, 3, 3, 8, 6, 1,\n"
                   "b1, 6, 6, 1, 1, 6, 5, 1,\n")
    return str(csv)


@pytest.mark.parametrize("which", ["analytical", "cycle"])
def test_both_models_price_sign_adds(bwn_csv, which):
    record = dlaforge.simulate("edge_tiny_bwn", bwn_csv, method="bwn", model=which)
    t = record.totals
    assert t.ops == {"add": t.macs} and t.cycles > 0
    assert t.energy_breakdown_pj["mac"] == pytest.approx(
        sum(model.sign_add_pj(EDGE, op) * op.pe_macs for layer in load_network(bwn_csv).layers
            for op in get_method("bwn", EDGE).transform(layer, EDGE)))


def test_schedule_rtl_prices_the_controller_program(bwn_csv):
    """BWN's generated hardware is the controller with sign-add PEs and packed 1-bit weights
    (`rtl generate|verify --method bwn`), which runs the mapper's program: `--schedule rtl`
    prices what `--schedule mapped` does, and ResNet-18's int8 first conv runs in the PEs'
    MAC mode rather than being refused."""
    for which in ("cycle", "analytical"):
        rtl = dlaforge.simulate("edge_tiny_bwn", bwn_csv, method="bwn", model=which,
                                schedule="rtl").to_json()
        mapped = dlaforge.simulate("edge_tiny_bwn", bwn_csv, method="bwn", model=which,
                                   schedule="mapped").to_json()
        assert rtl["layers"] == mapped["layers"]
    resnet = dlaforge.simulate("edge_tiny_bwn", "resnet18", method="bwn", model="analytical",
                               schedule="rtl")
    first = resnet.layers[0].stats
    assert first.ops == {"mult": first.macs, "add": first.macs}


def test_the_first_accelerators_sign_add_array_keeps_its_timing_model(bwn_csv):
    """The first accelerator's sign-add array (os, ±1 weights as int8 elements: the bench's
    unit slices) and its timing model, which the controller replaced under --schedule rtl."""
    table = energy_table(EDGE)
    for layer in load_network(bwn_csv).layers:
        [op] = get_method("bwn", EDGE).transform(layer, EDGE)
        stats = model.op_stats(EDGE, op, "os", table)
        assert stats.cycles == sum(c["cycles"] for c in model.command_counters(EDGE, op, "os"))
        assert stats.ops == {"add": op.pe_macs}
        assert stats.weight_storage_bits == op.weight_storage_bits
        assert stats.energy_breakdown_pj["mac"] == pytest.approx(
            op.pe_macs * model.sign_add_pj(EDGE, op))
