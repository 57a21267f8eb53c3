"""G-GhostNet (the seed's "GhostNets on heterogeneous devices"): the `g_ghost_regnetx_032`
preset's MACs against a closed form computed here from the official architecture (RegNetX
depths, widths and group width; cheap ratio 0.5; the `layers` blocks' group width 0.75 of the
stage's) and against the official table's FLOPs, its G-Ghost stages' channel split, and the
`ghost` method on it."""

import math

import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.workloads.methods import METHODS
from dlaforge.workloads.networks import load_network
from dlaforge.workloads.networks.g_ghost_regnet import g_ghost_regnet

# the official g_ghost_regnetx_NNN: (depths, widths, group width), and its table's FLOPs
REGNETX = {"032": (([2, 6, 15, 2], [96, 192, 432, 1008], 48), 1.8e9),
           "040": (([2, 5, 14, 2], [80, 240, 560, 1360], 40), 2.2e9),
           "080": (([2, 5, 15, 1], [80, 240, 720, 1920], 120), 4.2e9),
           "160": (([2, 6, 13, 1], [256, 512, 896, 2048], 128), 9.0e9)}


def x_block(c_in, w, size, stride, group_width):
    """An X block's MACs: 1x1 c_in -> w at `size`, 3x3 with w // (w / group_width) channels a
    group at `stride`, 1x1 w -> w, and the 1x1 stride-2 shortcut when it downsamples."""
    out = size // stride
    per_group = min(w, group_width)
    return (c_in * w * size ** 2 + w * per_group * 9 * out ** 2 + w * w * out ** 2
            + (c_in * w * out ** 2 if stride > 1 else 0))


def regnetx_macs(depths, widths, gw, g_ghost=True):
    """Stem, four stages (stage 3, and 2 and 4 when deeper than two blocks, as G-Ghost stages
    when `g_ghost`), the classifier."""
    macs, c_in, size = 3 * 32 * 9 * 112 ** 2, 32, 112
    for stage, (n, w) in enumerate(zip(depths, widths), start=1):
        out = size // 2
        if g_ghost and (stage == 3 or (stage in (2, 4) and n > 2)):
            narrow = int(0.75 * gw)
            raw = (w // 2) // narrow * narrow
            cheap = w - raw
            macs += (x_block(c_in, w, size, 2, gw)                  # base
                     + (n - 2) * x_block(raw, raw, out, 1, narrow)  # blocks on raw channels
                     + cheap * cheap * out ** 2                     # cheap 1x1 conv
                     + (w + (n - 2) * raw) * cheap + cheap ** 2     # the mix, pooled to 1x1
                     + x_block(w, w, out, 1, gw))                   # end
        else:
            macs += x_block(c_in, w, size, 2, gw) + (n - 1) * x_block(w, w, out, 1, gw)
        c_in, size = w, out
    return macs + c_in * 1000


def test_the_preset_has_the_closed_forms_and_the_official_tables_macs():
    """1,801,746,240 MACs: the official 1.8 B FLOPs x 1.001; RegNetX-3.2GF itself (no G-Ghost
    stage) by the same formula is torchvision's 3.177 GFLOPs."""
    (arch, published) = REGNETX["032"]
    net = load_network("g_ghost_regnetx_032")
    assert net.macs == regnetx_macs(*arch) == 1_801_746_240
    assert abs(net.macs / published - 1) < 0.001
    assert round(regnetx_macs(*arch, g_ghost=False) / 1e9, 3) == 3.177
    assert net.macs / regnetx_macs(*arch, g_ghost=False) == pytest.approx(0.567, abs=0.001)


@pytest.mark.parametrize("name", ["040", "080", "160"])
def test_the_other_published_sizes_within_1_5_percent(name):
    """The builder on the official 4.0GF, 8.0GF and 16GF configurations: 2.228, 4.150 and
    8.997 G MACs against the table's 2.2, 4.2 and 9.0 B (printed to two digits)."""
    arch, published = REGNETX[name]
    macs = sum(layer.macs for layer in g_ghost_regnet(*arch))
    assert macs == regnetx_macs(*arch)
    assert abs(macs / published - 1) < 0.015


def test_g_ghost_stages_split_the_channels_and_use_no_depthwise_conv():
    """Stage 2 (192 wide) runs its middle blocks on 72 channels and makes 120 by the cheap
    1x1 conv, stage 3 (432) on 216 and 216; stages 1 and 4 (two blocks) stay plain. Nothing
    is depthwise (G-Ghost is the GPU variant)."""
    layers = {layer.name: layer for layer in load_network("g_ghost_regnetx_032").layers}
    for stage, width, raw, blocks in [(2, 192, 72, 6), (3, 432, 216, 15)]:
        p = f"layer{stage}"
        cheap = width - raw
        assert (layers[f"{p}.base.conv3"].K, layers[f"{p}.end.conv1"].C) == (width, width)
        middle = [n for n in layers if n.startswith(f"{p}.layers.") and n.endswith(".conv2")]
        assert len(middle) == blocks - 2
        assert {(layers[n].C, layers[n].groups) for n in middle} == {(raw, raw // 36)}
        assert (layers[f"{p}.cheap.0"].C, layers[f"{p}.cheap.0"].K) == (cheap, cheap)
        assert layers[f"{p}.merge.1"].C == width + (blocks - 2) * raw
        assert layers[f"{p}.merge.1"].P == layers[f"{p}.merge.4"].P == 1
    assert "layer1.1.conv3" in layers and "layer4.1.conv3" in layers
    assert not any(name.startswith(("layer1.layers", "layer4.layers")) for name in layers)
    assert not any(layer.kind == "depthwise" for layer in layers.values())


def test_ghost_runs_on_it():
    """`ghost` makes every one-group conv after the stem a C-Ghost module (the X blocks' 1x1s,
    the cheap and the mix convs) and leaves the group convs: `mult` is the Ghost module's
    formula over those; the weights shrink by about a third."""
    net = load_network("g_ghost_regnetx_032")
    want = 0
    for layer in net.layers:
        if layer.groups == 1 and layer.name not in ("conv1", "fc"):
            m = math.ceil(layer.K / 2)
            want += layer.macs * m // layer.K + (layer.K - m) * 9 * layer.P * layer.Q
        else:
            want += layer.macs
    tpu = load_arch("tpu_like")
    assert sum(op.pe_macs for layer in net.layers
               for op in METHODS["ghost"].transform(layer, tpu)) == want
    ghost = dlaforge.simulate("tpu_like", "g_ghost_regnetx_032", method="ghost")
    base = dlaforge.simulate("tpu_like", "g_ghost_regnetx_032", method="baseline")
    assert ghost.totals.macs == base.totals.macs == net.macs
    assert base.totals.ops["mult"] == net.macs and ghost.totals.ops["mult"] == want
    assert 0.6 < ghost.totals.weight_storage_bits / base.totals.weight_storage_bits < 0.7
