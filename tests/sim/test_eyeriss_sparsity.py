"""Eyeriss's sparsity features and mapping (issue 17 item 4): run-length coding of zero
activations in DRAM, zero gating of MACs, the time-aware mapper on conv1, and the analytical and
cycle models agreeing with them on (bench/RESULTS_eyeriss.md uses them against silicon)."""

from dataclasses import replace

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.sim.analytical import evaluate, search
from dlaforge.sim.cycle.model import native_cycle_stats
from dlaforge.sim.energy import energy_table
from dlaforge.workloads import compression
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.networks import load_network
from dlaforge.workloads.networks.yaml_network import read_network_yaml

# Eyeriss JSSC 2017's measured ifmap zeros on AlexNet (REFERENCES.md §2)
ZEROS = {"conv1": 0.0001, "conv2": 0.387, "conv3": 0.725, "conv4": 0.793, "conv5": 0.776}


def alexnet_ops(arch, zeros=True, batch=4):
    method = get_method("baseline", arch)
    layers = [layer for layer in load_network("alexnet", batch).layers if layer.name in ZEROS]
    if zeros:
        layers = [replace(layer, ifmap_zeros=ZEROS[layer.name], ofmap_zeros=ZEROS[layer.name])
                  for layer in layers]
    return {layer.name: compression.coded(arch, method.transform(layer, arch)[0])
            for layer in layers}


def test_rle_pairs_and_words_by_hand():
    # two zeros then 7; four zeros then 3; forty zeros (31 run + a zero level, then 8) then 5
    stream = [0, 0, 7, 0, 0, 0, 0, 3] + [0] * 40 + [5]
    assert compression.zero_rle_pairs(stream) == [(2, 7), (4, 3), (31, 0), (8, 5)]
    assert compression.pairs_per_word(16) == 3            # 3 x (5 + 16) + 1 termination bit
    assert compression.zero_rle_words(stream, 16) == 2     # 128 bits for 49 x 16 = 784 raw
    assert compression.zero_rle_pairs([1, 0, 0]) == [(0, 1), (1, 0)]   # trailing zeros


def test_rle_expected_size_formula():
    # dense 16-bit data: 64/3 bits a value, more than raw, so it is stored raw
    assert compression.zero_rle_bits_per_value(0.0, 16) == pytest.approx(64 / 3)
    assert compression.zero_rle_factor(0.0, 16) == 1.0
    # half zeros: two values a pair on average (less the 32-value cap), 32/3 bits a value
    half = 64 / 3 * 0.5 / (1 - 0.5 ** 32)
    assert compression.zero_rle_bits_per_value(0.5, 16) == pytest.approx(half)
    assert compression.zero_rle_factor(0.5, 16) == pytest.approx(half / 16)
    # the expectation is the coder's size on a long stream of independent zeros
    rng = np.random.default_rng(7)
    for zeros in (0.3, 0.725, 0.95):
        stream = np.where(rng.random(200_000) < zeros, 0, 1)
        coded = compression.zero_rle_words(stream.tolist(), 16) * 64 / len(stream)
        assert coded == pytest.approx(compression.zero_rle_bits_per_value(zeros, 16), rel=0.01)


def test_dense_default_is_unchanged():
    arch = load_arch("eyeriss_like")
    dense = alexnet_ops(arch, zeros=False)
    assert all(op.dram_scale == {} and op.ifmap_zeros == 0 for op in dense.values())
    # without compression or gating, stated zeros change nothing either
    plain = replace(arch, dram=replace(arch.dram, compression="none"),
                    pe_array=replace(arch.pe_array, zero_gating=False))
    table = energy_table(plain)
    sparse, dense = alexnet_ops(plain)["conv3"], alexnet_ops(plain, zeros=False)["conv3"]
    mapping, found = search(plain, sparse, "rs", "energy", table)
    assert evaluate(plain, dense, mapping, "rs", table) == found


def test_rle_scales_activation_dram_traffic_only():
    arch = load_arch("eyeriss_like")
    table = energy_table(arch)
    sparse = alexnet_ops(arch)["conv4"]
    dense = replace(sparse, dram_scale={})
    factor = compression.zero_rle_factor(ZEROS["conv4"], 16)
    assert sparse.dram_scale == pytest.approx({"ifmap": factor, "ofmap": factor})
    mapping, coded = search(arch, sparse, "rs", "energy", table)
    raw = evaluate(arch, dense, mapping, "rs", table)
    for operand in ("ifmap", "weight"):
        scale = factor if operand == "ifmap" else 1.0
        assert coded.accesses["dram"][operand]["reads"] == round(
            raw.accesses["dram"][operand]["reads"] * scale)
    spills = raw.accesses["dram"]["ofmap"]["reads"]             # psums move raw
    assert coded.accesses["dram"]["ofmap"]["writes"] == round(
        spills + sparse.ofmap_elements * factor)
    assert raw.accesses["dram"]["ofmap"]["writes"] == spills + sparse.ofmap_elements


def test_zero_gating_saves_mac_and_weight_read_energy():
    arch = load_arch("eyeriss_like")
    table = energy_table(arch)
    sparse = alexnet_ops(arch)["conv3"]
    dense = replace(sparse, ifmap_zeros=0.0)
    mapping, gated = search(arch, sparse, "rs", "energy", table)
    full = evaluate(arch, dense, mapping, "rs", table)
    saved = (ZEROS["conv3"] * sparse.pe_macs
             * (table.mac_pj + table.access_pj("weight_spad", 16, False)))
    assert full.energy_pj - gated.energy_pj == pytest.approx(saved, rel=1e-9)
    assert full.energy_breakdown_pj["dram"] == gated.energy_breakdown_pj["dram"]
    assert (full.cycles, full.accesses) == (gated.cycles, gated.accesses)   # not cycles


def test_conv1_uses_eleven_rows_and_every_column():
    """AlexNet conv1's 11x11 stride-4 filters: a PE set of 11 rows x 14 output rows, as Eyeriss
    maps 154 PEs; busy PE-equivalents near that, not the 43 of the energy-only mapping."""
    arch = load_arch("eyeriss_like")
    op = alexnet_ops(arch)["conv1"]
    mapping, stats = search(arch, op, "rs", "energy", energy_table(arch))
    assert mapping.pt >= arch.pe_array.cols and mapping.tc * mapping.tk == 1
    assert stats.utilization * arch.pe_count >= 0.95 * 11 * 14


@pytest.mark.parametrize("name", ["conv2", "conv4"])
def test_analytical_and_cycle_agree_with_compression(name):
    arch = load_arch("eyeriss_like")
    table = energy_table(arch)
    op = alexnet_ops(arch, batch=1)[name]
    assert op.dram_scale and op.ifmap_zeros > 0
    mapping, ana = search(arch, op, "rs", "energy", table)
    _, cyc, _ = native_cycle_stats(arch, op, "rs", "energy", table, mapping)
    assert cyc.accesses == ana.accesses
    # coded sizes are fractional expectations: the cycle model rounds each operand's bytes
    # up, the analytical their sum, so they may differ by a byte per operand
    assert abs(cyc.dram_read_bytes - ana.dram_read_bytes) <= 3
    assert abs(cyc.dram_write_bytes - ana.dram_write_bytes) <= 1
    assert cyc.energy_pj == pytest.approx(ana.energy_pj, rel=1e-6)   # those bytes' energy
    assert cyc.compute_cycles == ana.compute_cycles
    assert abs(ana.cycles - cyc.cycles) <= 0.10 * cyc.cycles


def test_spec_and_layer_checks(arch_yaml, tmp_path):
    with pytest.raises(SpecError, match="unknown dram.compression 'lz4'"):
        load_arch(arch_yaml({"dram.compression": "lz4"}))
    with pytest.raises(SpecError, match="zero_gating is priced for the rs dataflow only"):
        load_arch(arch_yaml({"pe_array.zero_gating": True}))
    with pytest.raises(SpecError, match="must be a share of zeros from 0 to 1"):
        replace(load_network("alexnet").layers[1], ifmap_zeros=1.5)
    path = tmp_path / "net.yaml"
    path.write_text("layers:\n  - {name: c, kind: conv2d, C: 8, K: 8, H: 8, R: 3, "
                    "ifmap_zeros: 0.5}\n")
    _, (layer,) = read_network_yaml(path)
    assert (layer.ifmap_zeros, layer.ofmap_zeros) == (0.5, 0.0)
    assert layer.shape()["ifmap_zeros"] == 0.5 and "ofmap_zeros" not in layer.shape()
