"""AdderNet as a method (workloads/methods/addernet/, sim/methods/addernet.py): its transform's
counts against a formula, the layers it keeps as int8 MACs, what it stores; the presets' MAC
totals; the analytical and cycle models on its presets; `--schedule rtl --model cycle` on the
adder array and what that refuses."""

import numpy as np
import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.sim.energy import energy_table
from dlaforge.sim.methods import addernet as model
from dlaforge.sim.rtl_program import gemm_of
from dlaforge.workloads.layer import conv, linear
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.methods.addernet import SCALE_BITS, SCALE_GROUPS
from dlaforge.workloads.networks import load_network

EDGE = load_arch("edge_tiny_addernet")
TPU = load_arch("tpu_like_addernet")
METHOD_BITS = [("addernet", 8), ("addernet_w4a4", 4)]


@pytest.mark.parametrize("method, bits", METHOD_BITS)
@pytest.mark.parametrize("layer", [conv("c", 16, 24, 9, R=3, stride=2),
                                   conv("g", 16, 32, 8, R=3, groups=4),
                                   conv("p", 64, 2, 5, R=1)])
def test_transform_counts_a_sub_an_abs_and_an_add_per_mac(method, bits, layer):
    [op] = get_method(method, EDGE).transform(layer, EDGE)
    macs = layer.N * layer.K * (layer.C // layer.groups) * layer.P * layer.Q * layer.R * layer.S
    assert op.pe_op == "sad" and op.pe_macs == macs
    assert op.ops == {"sub": macs, "abs": macs, "add": macs}          # no "mult"
    assert (op.ifmap_bits, op.weight_bits) == (bits, bits)
    weights = layer.K * (layer.C // layer.groups) * layer.R * layer.S
    assert op.weight_storage_bits == weights * bits + min(SCALE_GROUPS, layer.K) * SCALE_BITS


@pytest.mark.parametrize("method", ["addernet", "addernet_w4a4"])
def test_first_conv_and_fc_stay_int8_macs(method):
    for layer in (conv("conv1", 3, 64, 32, R=7, stride=2), linear("fc", 512, 10)):
        [op] = get_method(method, EDGE).transform(layer, EDGE)
        assert op.pe_op == "mac" and op.ops == {"mult": op.pe_macs, "add": op.pe_macs}
        assert (op.ifmap_bits, op.weight_bits) == (8, 8)


def test_the_adder_methods_need_the_adder_array():
    with pytest.raises(SpecError, match="needs a PE array of kind adder"):
        get_method("addernet", load_arch("tpu_like"))
    with pytest.raises(SpecError, match="needs a PE array of kind mac"):
        get_method("baseline", TPU)


def test_an_adder_op_costs_adds_not_a_multiply():
    [op] = get_method("addernet", TPU).transform(conv("c", 64, 64, 8), TPU)
    table = energy_table(TPU)
    assert model.sad_pj(TPU, op) < 0.6 * table.mac_pj
    assert model.sad_pj_45nm(8, 32) == pytest.approx(0.1 * (9 + 9 + 32) / 32)


@pytest.fixture(scope="module")
def resnet18():
    return {m: dlaforge.simulate("tpu_like_addernet", "resnet18", method=m)
            for m, _ in METHOD_BITS}


def test_presets_mac_totals(resnet18):
    """The nominal MACs are the network's whatever the method (ResNet-18: 1.81 G); the adder
    layers are all but the first conv (118 M MACs) and the FC (0.5 M)."""
    net = load_network("resnet18")
    nominal = sum(layer.macs for layer in net.layers)
    assert nominal == 1_814_073_344
    kept = 118_013_952 + 512_000
    for method, record in resnet18.items():
        t = record.totals
        assert t.macs == nominal
        assert t.ops["mult"] == kept and t.ops["sub"] == t.ops["abs"] == nominal - kept
        assert t.ops["add"] == nominal
    edge = dlaforge.simulate("edge_tiny_addernet", "resnet18", method="addernet")
    assert edge.totals.macs == nominal


def test_four_bits_store_half_the_weights(resnet18):
    a8, a4 = (resnet18[m].totals for m, _ in METHOD_BITS)
    assert a4.weight_storage_bits < 0.55 * a8.weight_storage_bits
    assert a4.dram_read_bytes < a8.dram_read_bytes and a4.energy_pj < a8.energy_pj


@pytest.fixture
def adder_csv(tmp_path):
    """Two adder layers (more than 4 input channels: neither is a first conv)."""
    csv = tmp_path / "adder.csv"
    csv.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                   "Channels, Num Filter, Strides,\na3, 8, 8, 3, 3, 8, 6, 1,\n"
                   "a1, 6, 6, 1, 1, 6, 5, 1,\n")
    return str(csv)


@pytest.mark.parametrize("method", ["addernet", "addernet_w4a4"])
@pytest.mark.parametrize("which", ["analytical", "cycle"])
def test_both_models_run_the_adder_layers(adder_csv, method, which):
    record = dlaforge.simulate("edge_tiny_addernet", adder_csv, method=method, model=which)
    t = record.totals
    assert t.ops["sub"] == t.macs and "mult" not in t.ops and t.cycles > 0
    assert t.energy_breakdown_pj["mac"] == pytest.approx(
        sum(model.sad_pj(EDGE, op) * op.pe_macs for layer in load_network(adder_csv).layers
            for op in get_method(method, EDGE).transform(layer, EDGE)))


def test_schedule_rtl_prices_the_controller_program(adder_csv):
    """AdderNet's generated hardware is the controller with its adder datapath (`rtl
    generate|verify --method addernet`), which runs the mapper's program: `--schedule rtl`
    prices what `--schedule mapped` does, under both models, and ResNet-18's int8 first conv
    and FC run in the PEs' MAC mode rather than being refused."""
    for model_name in ("cycle", "analytical"):
        rtl = dlaforge.simulate("edge_tiny_addernet", adder_csv, method="addernet",
                                model=model_name, schedule="rtl").to_json()
        mapped = dlaforge.simulate("edge_tiny_addernet", adder_csv, method="addernet",
                                   model=model_name, schedule="mapped").to_json()
        assert rtl["layers"] == mapped["layers"]
    resnet = dlaforge.simulate("edge_tiny_addernet", "resnet18", method="addernet",
                               model="analytical", schedule="rtl")
    first = resnet.layers[0].stats
    assert first.ops == {"mult": first.macs, "add": first.macs} and first.cycles > 0


def test_schedule_rtl_prices_addernet_w4a4_on_the_controller(adder_csv):
    """The generated hardware of addernet_w4a4 is the controller with its w4a4 datapath, which
    runs the mapper's program: --schedule rtl prices it as --schedule mapped does, the first
    layer writing its 6 x 6 x 6 outputs as packed 4-bit values for the second (AdderNet's
    int8 network: a byte each)."""
    records = [dlaforge.simulate("edge_tiny_addernet", adder_csv, method=method,
                                 model="cycle", schedule=schedule).to_json()
               for method, schedule in (("addernet_w4a4", "rtl"), ("addernet_w4a4", "mapped"),
                                        ("addernet", "rtl"))]
    assert records[0]["totals"] == records[1]["totals"]
    assert [record["layers"][0]["dram_write_bytes"] for record in records] == [108, 108, 216]
    # the first accelerator's adder array (its timing model, kept for the bench's slices)
    [op] = get_method("addernet", EDGE).transform(conv("deep", 4096, 2, 3), EDGE)
    assert "overflow" in model.cannot_run(load_arch_narrow(), op, "os")


def load_arch_narrow():
    """edge_tiny_addernet with 16-bit sums: 4096 x 9 taps of |x - w| <= 255 do not fit."""
    from dataclasses import replace
    return replace(EDGE, pe_array=replace(EDGE.pe_array, psum_bits=16))
