"""Each method's transform(layer, arch): the hardware operations and their exact counts, the bits
of what is stored, and the layers each method keeps as they are."""

import math

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.workloads.layer import conv, linear
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.methods.smartdeal import reference as sd
from dlaforge.workloads.methods.winograd import tile_adds

LAYER = conv("mid", C=96, K=40, H=13)          # 3x3, stride 1, 13 x 13 outputs: edge tiles


def only_op(method, arch_name, layer):
    arch = load_arch(arch_name)
    [op] = get_method(method, arch).transform(layer, arch)
    return op


@pytest.mark.parametrize("method, m, taps, direct", [("winograd_f4", 4, 36, 144),
                                                     ("winograd_f2", 2, 16, 36)])
def test_winograd_multiplies_per_output_tile(method, m, taps, direct):
    op = only_op(method, "tpu_like_winograd", LAYER)
    tiles = math.ceil(LAYER.P / m) * math.ceil(LAYER.Q / m)
    assert op.ops["mult"] == LAYER.N * LAYER.K * LAYER.C * taps * tiles
    assert op.pe_macs == op.ops["mult"] and "direct_conv_fallback" not in op.ops
    # per (C_in, C_out) pair and output tile: taps multiplies against `direct` (m² · 9) for the
    # direct convolution, as the baseline method counts them on a layer without edge tiles
    whole = conv("whole", C=96, K=40, H=4 * 3 * m)     # no edge tiles: exactly direct/taps fewer
    whole_tiles = (whole.P // m) * (whole.Q // m)
    assert whole.P % m == 0 and whole.Q % m == 0
    direct_op = only_op("baseline", "tpu_like_winograd", whole)
    assert direct_op.ops["mult"] == whole.macs == whole.N * whole.K * whole.C * direct * whole_tiles
    assert whole.macs / only_op(method, "tpu_like_winograd", whole).ops["mult"] == direct / taps


def test_winograd_transform_additions_match_lavin_and_gray():
    # F(2x2,3x3): 32 additions per input tile and 24 per output tile (Lavin & Gray, §4.1)
    from dlaforge.workloads.methods.winograd.reference import F2, F4
    assert tile_adds(F2) == (32, 24)
    # F(4x4,3x3): every Bᵀ row has 4 power-of-two terms (-5 = -4 - 1), the Aᵀ rows 5, 4, 4, 5
    adds_in, adds_out = tile_adds(F4)
    assert adds_in == 2 * 6 * (3 + 3 + 3 + 3 + 3 + 3)
    assert adds_out == (6 + 4) * (4 + 3 + 3 + 4)
    op = only_op("winograd_f2", "tpu_like_winograd", LAYER)
    tiles = math.ceil(LAYER.P / 2) ** 2
    assert op.ops["wino_in_add"] == 32 * LAYER.C * tiles
    assert op.ops["wino_out_add"] == 24 * LAYER.K * tiles


@pytest.mark.parametrize("method, ratio", [("winograd_f4", 36 / 9), ("winograd_f2", 16 / 9)])
def test_winograd_weights_are_stored_transformed(method, ratio):
    op = only_op(method, "tpu_like_winograd", LAYER)
    taps = round(ratio * 9)
    direct_bits = LAYER.K * LAYER.C * 9 * 8
    scale_bits = 2 * taps * 8      # one exponent per tap for weights and one for inputs
    assert op.weight_storage_bits - scale_bits == ratio * direct_bits
    # DRAM sees the layer's own ifmap and ofmap: the transform units sit on chip
    assert op.ifmap_elements * op.dram_factor("ifmap") == pytest.approx(LAYER.C * LAYER.H * LAYER.W)
    assert op.ofmap_elements * op.dram_factor("ofmap") == pytest.approx(LAYER.K * LAYER.P * LAYER.Q)


@pytest.mark.parametrize("layer", [conv("s2", C=64, K=64, H=28, stride=2), conv("pw", C=64, K=64, H=28, R=1),
                                   conv("dw", C=64, K=64, H=28, groups=64), linear("fc", 512, 10),
                                   conv("k7", C=3, K=64, H=56, R=7, stride=2)],
                         ids=lambda layer: layer.name)
def test_winograd_falls_back_to_direct_conv_and_says_so(layer):
    op = only_op("winograd_f4", "tpu_like_winograd", layer)
    assert op.ops["direct_conv_fallback"] == 1
    assert op.ops["mult"] == layer.macs and op.weight_storage_bits == op.weight_elements * 8


def test_winograd_fallback_is_recorded_per_layer_in_the_run():
    import dlaforge
    record = dlaforge.simulate("edge_tiny_winograd", "resnet18", method="winograd_f4")
    fell_back = {l.name for l in record.layers if l.stats.ops.get("direct_conv_fallback")}
    eligible = {l.name for l in record.layers
                if l.shape["R"] == 3 and l.shape["stride"] == 1 and l.kind == "conv2d"}
    assert fell_back == {l.name for l in record.layers} - eligible
    assert len(eligible) == 13 and "conv1" in fell_back and "fc" in fell_back
    for l in record.layers:
        if l.name in eligible:
            s = l.shape
            tiles = math.ceil(s["P"] / 4) * math.ceil(s["Q"] / 4)
            assert l.stats.ops["mult"] == s["N"] * s["K"] * s["C"] * 36 * tiles


def test_xnor_binary_ops_and_one_bit_weights():
    layer = conv("b", C=100, K=32, H=14)            # 100 channels: two 64-bit words per tap
    op = only_op("xnor", "tpu_like_xnor", layer)
    outputs = layer.K * layer.P * layer.Q
    assert op.pe_op == "xnor_popcount" and op.C == 2 and op.ifmap_bits == op.weight_bits == 64
    assert op.ops["popcount"] == outputs * 9 * 2
    assert op.ops["xnor_bits"] == outputs * 9 * 128      # word-wide XNORs, padding bits included
    # · K_q per output, K_q per pixel (α folded into the requantizer's multiplier)
    assert op.ops["scale_mult"] == outputs + layer.P * layer.Q
    assert "mult" not in op.ops
    # packed signs: one bit per weight (the last word per tap half empty) and a 16-bit α per filter
    assert op.weight_storage_bits == layer.K * 9 * 128 + layer.K * 16
    # XNOR-Net's 32x against fp32 holds for the signs; the α per filter costs 16/(9·C) more
    full = conv("f", C=128, K=32, H=14)
    fp32_bits = full.K * full.C * 9 * 32
    stored = only_op("xnor", "tpu_like_xnor", full).weight_storage_bits
    assert (stored - full.K * 16) * 32 == fp32_bits
    assert fp32_bits / stored == pytest.approx(32 / (1 + 16 / (9 * 128)))
    # activations come from DRAM at int8 and are packed on chip: 8 bits per channel
    assert op.ifmap_elements * op.ifmap_bits * op.dram_factor("ifmap") == pytest.approx(
        layer.C * layer.H * layer.W * 8)


@pytest.mark.parametrize("layer", [conv("conv1", C=3, K=64, H=224, R=7, stride=2),
                                   linear("fc", 512, 1000)], ids=lambda layer: layer.name)
def test_xnor_and_palquant_keep_the_first_conv_and_fc_at_int8(layer):
    # XNOR's int8 layers are plain MACs; PalQuant's run as slice passes of unsigned codes
    for method, arch, pe_op in (("xnor", "tpu_like_xnor", "mac"),
                                ("palquant", "tpu_like_palquant", "slice_mac")):
        op = only_op(method, arch, layer)
        assert op.pe_op == pe_op and op.weight_storage_bits == layer.macs // (
            layer.N * layer.P * layer.Q) * 8


def test_smartdeal_storage_is_codes_bitmap_and_bases():
    layer = conv("sd", C=16, K=24, H=14)
    op = only_op("smartdeal", "tpu_like_smartdeal", layer)
    # the transform decomposes normal weights seeded by the shape; with K <= 32 all filters
    rng = np.random.default_rng([24, 16, 3, 3])
    d = sd.decompose(rng.normal(0.0, np.sqrt(2.0 / (16 * 9)), (24, 16, 3, 3)))
    entries = 16 * 9
    assert op.weight_storage_bits == d.nnz * (1 + sd.EXP_BITS) + 24 * (entries + 9 * 8 + 8)
    assert op.ops["rebuild_shift"] == 3 * d.nnz
    assert op.ops["rebuild_add"] == 3 * (d.nnz - d.rows_used)
    assert op.ops["mult"] == layer.macs                 # the array runs rebuilt int8 weights
    # DRAM moves the stored form, not int8 weights
    assert op.weight_elements * 8 * op.dram_factor("weight") == pytest.approx(op.weight_storage_bits)
    assert op.weight_storage_bits < op.weight_elements * 8


@pytest.mark.parametrize("G", [2, 3, 4])
def test_palquant_is_a_grouped_two_bit_conv(G):
    method = "palquant" if G == 2 else f"palquant_g{G}"
    layer = conv("pq", C=64, K=48, H=14)
    op = only_op(method, "tpu_like_palquant", layer)
    assert (op.groups, op.C, op.K) == (G, G * 64, G * 48)
    assert op.ifmap_bits == op.weight_bits == op.ofmap_bits == 2
    assert op.ops["mult"] == G * layer.macs
    assert op.weight_storage_bits == G * layer.macs // (layer.P * layer.Q) * 2
    # the decoded weight level 2*q_w - 3 makes the sums T: no window sums or combination
    assert op.pe_op == "code_mac" and set(op.ops) == {"mult", "add"}


def test_four_bit_layer_runs_as_four_two_bit_passes():
    layer = conv("pq", C=64, K=48, H=14)
    sliced = only_op("bitslice_w4a4", "tpu_like_palquant", layer)
    pal = only_op("palquant", "tpu_like_palquant", layer)
    assert sliced.ops["mult"] == 4 * layer.macs and sliced.weight_bits == 2
    assert sliced.ops["slice_add"] == layer.K * layer.P * layer.Q * 3
    # PalQuant G=2 has the 4-bit layer's storage (2 x 2 bits) and half its array passes
    assert pal.weight_storage_bits == sliced.weight_storage_bits
    assert sliced.ops["mult"] / pal.ops["mult"] == 2
    # an int8 layer on the 2-bit array: 4 x 4 slice passes
    edge = only_op("bitslice_w4a4", "tpu_like_palquant", linear("fc", 512, 1000))
    assert edge.ops["mult"] == 16 * 512 * 1000


@pytest.mark.parametrize("method, arch, message", [
    ("xnor", "tpu_like", "needs a PE array of kind xnor"),
    ("winograd_f4", "tpu_like", "needs the unit winograd_transform"),
    ("smartdeal", "tpu_like_winograd", "needs the unit smartdeal_rebuild"),
    ("palquant", "tpu_like_xnor", "needs a PE array of kind mac"),
])
def test_methods_refuse_an_arch_without_their_hardware(method, arch, message):
    with pytest.raises(SpecError, match=message):
        get_method(method, load_arch(arch))
