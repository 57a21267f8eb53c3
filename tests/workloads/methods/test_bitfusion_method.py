"""Bit Fusion as a method (workloads/methods/bitfusion/, sim/methods/bitfusion.py): the
transform's packed op against a formula, the precisions it rounds to and refuses, the fused
MAC's energy, a network YAML's per-layer widths running 4x / 16x faster in compute, ResNet-18
on tpu_like_bitfusion under the analytical and cycle models, and the CLI's refusals."""

import math
from dataclasses import replace

import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.cli import main
from dlaforge.errors import SpecError
from dlaforge.sim.energy import energy_table
from dlaforge.sim.methods import bitfusion as model
from dlaforge.workloads.layer import conv, linear, matmul
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.networks import Network, load_network

TPU = load_arch("tpu_like_bitfusion")
EDGE = load_arch("edge_tiny_bitfusion")
METHOD = get_method("bitfusion", TPU)


def fused(layer, bits):
    a, w = bits
    return METHOD.transform(replace(layer, ifmap_bits=a, weight_bits=w), TPU)[0]


@pytest.mark.parametrize("bits, rounded", [((8, 8), (8, 8)), ((4, 4), (4, 4)), ((2, 2), (2, 2)),
                                           ((8, 4), (8, 4)), ((2, 8), (2, 8)), ((3, 5), (4, 8)),
                                           ((1, 6), (2, 8)), ((None, None), (8, 8))])
@pytest.mark.parametrize("layer", [conv("c", 70, 24, 9, R=3, stride=2),
                                   conv("g", 48, 32, 8, R=3, groups=4),
                                   conv("dw", 16, 16, 8, R=3, groups=16), linear("fc", 100, 10)])
def test_transform_packs_the_reduction_by_the_lanes(layer, bits, rounded):
    op = METHOD.transform(replace(layer, ifmap_bits=bits[0], weight_bits=bits[1]), TPU)[0]
    a, w = rounded
    lanes = 64 // (a * w)                            # 16 bricks / ((a/2)(w/2))
    cg = layer.C // layer.groups
    assert op.pe_op == "fused_mac"
    assert op.C == math.ceil(cg / lanes) * layer.groups and op.K == layer.K
    assert (op.ifmap_bits, op.weight_bits) == (lanes * a, lanes * w)
    assert op.ops == {"mult": layer.macs, "add": layer.macs,
                      "bricks": layer.macs * (a // 2) * (w // 2)}
    assert op.weight_storage_bits == layer.K * cg * layer.R * layer.S * w
    real = cg / (math.ceil(cg / lanes) * lanes)     # the zero lanes taken out of DRAM
    assert op.dram_scale == ({} if real == 1 else {"ifmap": real, "weight": real})


def test_widths_beyond_8_bits_and_other_arrays_are_refused():
    with pytest.raises(SpecError, match="ifmap_bits=16: a Bit Fusion unit fuses"):
        fused(conv("c", 8, 8, 4), (16, 8))
    with pytest.raises(SpecError, match="needs a PE array of kind bitfusion"):
        get_method("bitfusion", load_arch("tpu_like"))
    matmul_op = fused(matmul("qk", 16, 64, 16), (4, 8))
    assert (matmul_op.ifmap_bits, matmul_op.weight_bits) == (16, 16)    # at the activations'


def test_fused_mac_energy_follows_the_bricks_switched():
    table = energy_table(TPU)
    full = {bits: fused(conv("c", 64, 64, 8), bits) for bits in ((8, 8), (4, 4), (2, 2))}
    for op in full.values():                          # 16 bricks + one accumulate = int8 MAC
        assert model.fused_mac_pj(TPU, op) == pytest.approx(table.mac_pj)
    assert model.fused_mac_pj_45nm(1, 32) == pytest.approx(0.2 / 16 + 0.1)    # one 2x2 product
    partial = fused(conv("c", 6, 64, 8), (2, 2))      # 6 of 16 lanes
    assert model.fused_mac_pj_45nm(6, 32) == pytest.approx(
        model.fused_mac_pj(TPU, partial) / model.node_factor(TPU))


@pytest.mark.parametrize("layer", [conv("c", 64, 128, 14, R=3), conv("p", 96, 32, 7, R=1),
                                   linear("fc", 512, 10)])
def test_8_bit_layers_price_as_the_int8_mac_array(layer):
    """At 8x8 a fused MAC is one int8 MAC (16 bricks and an accumulate): the mapper finds the
    baseline's mapping and figures on the plain MAC array under the same closed form (the
    baseline's ops are otherwise priced as the generated controller, controller=False)."""
    from dlaforge.sim.analytical import search
    base = load_arch("tpu_like")
    plain = get_method("baseline", base).transform(layer, base)[0]
    ours = METHOD.transform(layer, TPU)[0]
    want = search(base, plain, "ws", "energy", energy_table(base), controller=False)
    got = search(TPU, ours, "ws", "energy", energy_table(TPU))
    assert got[0] == want[0]
    assert (got[1].cycles, got[1].dram_read_bytes) == (want[1].cycles, want[1].dram_read_bytes)
    assert got[1].energy_pj == pytest.approx(want[1].energy_pj)


def test_a_network_yaml_at_4_and_2_bits_runs_4x_and_16x_faster(tmp_path):
    path = tmp_path / "widths.yaml"
    path.write_text("name: widths\nlayers:\n" + "".join(
        f"  - {{name: w{b}, kind: conv2d, C: 512, K: 64, H: 14, R: 3, padding: 1, "
        f"ifmap_bits: {b}, weight_bits: {b}}}\n" for b in (8, 4, 2)))
    for name in ("analytical", "cycle"):
        record = dlaforge.simulate(TPU, str(path), model=name, method="bitfusion")
        w8, w4, w2 = (layer.stats for layer in record.layers)
        assert w8.compute_cycles == 4 * w4.compute_cycles == 16 * w2.compute_cycles
        assert w8.energy_breakdown_pj["mac"] == pytest.approx(4 * w4.energy_breakdown_pj["mac"])
        assert w8.dram_read_bytes > w4.dram_read_bytes > w2.dram_read_bytes


def test_resnet18_on_tpu_like_bitfusion_under_both_models():
    net = load_network("resnet18", 1)
    at4 = Network("resnet18_4b", tuple(layer if layer.kind == "vector" else
                                       replace(layer, ifmap_bits=4, weight_bits=4)
                                       for layer in net.layers))
    records = {(name, bits): dlaforge.simulate(TPU, network, model=name, method="bitfusion")
               for name in ("analytical", "cycle") for bits, network in ((8, net), (4, at4))}
    for (name, bits), record in records.items():
        t = record.totals
        assert t.macs == net.macs and t.ops["mult"] == net.macs
        assert t.energy_pj == pytest.approx(sum(t.energy_breakdown_pj.values()))
    for name in ("analytical", "cycle"):
        t8, t4 = records[(name, 8)].totals, records[(name, 4)].totals
        assert 3 < t8.compute_cycles / t4.compute_cycles <= 4     # conv1 (3 channels) no lanes
        assert t4.energy_pj < t8.energy_pj / 2
    assert (records[("cycle", 8)].totals.compute_cycles
            == records[("analytical", 8)].totals.compute_cycles)


@pytest.mark.parametrize("arch, method, bits, message", [
    ("tpu_like", "bitfusion", 8, "needs a PE array of kind bitfusion"),
    ("tpu_like_bitfusion", "baseline", 8, "needs a PE array of kind mac"),
    ("tpu_like_bitfusion", "bitfusion", 16, "ifmap_bits=16: a Bit Fusion unit fuses")])
def test_cli_refuses_in_one_line(tmp_path, capsys, arch, method, bits, message):
    path, out = tmp_path / "net.yaml", tmp_path / "r.json"
    path.write_text(f"layers:\n  - {{name: c, kind: conv2d, C: 8, K: 8, H: 4, R: 3, "
                    f"ifmap_bits: {bits}}}\n")
    code = main(["simulate", "--arch", arch, "--network", str(path), "--method", method,
                 "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and not out.exists()
    assert len(captured.err.strip().splitlines()) == 1 and message in captured.err
