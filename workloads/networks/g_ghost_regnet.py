"""G-GhostNet: the G-Ghost RegNetX-3.2GF of "GhostNets on Heterogeneous Devices via Cheap
Operations" (Han et al., IJCV 2022; the seed's C-Ghost / G-Ghost abstract), at 224x224, layer by
layer as the official code (huawei-noah/Efficient-AI-Backbones, g_ghost_regnet.py, linked from the
seed) builds it: 1,801,746,240 MACs (the official model table: 1.8 B FLOPs, counting
multiply-adds as RegNet does).

What the seed's abstract gives: for CPU-like devices the C-Ghost module (the CVPR GhostNet's Ghost
module: the `ghostnet` preset is C-GhostNet, and the `ghost` method puts C-Ghost modules into any
network); for GPUs, which run depthwise convs poorly, the G-Ghost stage: a stage's features are
split in two, one part made by the stage's blocks with fewer output channels (the intrinsic,
"complicated" features), the other by cheap operations that exploit the redundancy between the
stage's blocks (the "ghost" features). The abstract gives no shapes; these come from the
official code:

- the backbone is RegNetX-3.2GF (Radosavovic et al. 2020): a 3x3 stride-2 stem to 32 channels,
  four stages of depths 2, 6, 15, 2 and widths 96, 192, 432, 1008 of X blocks (a 1x1 conv, a 3x3
  group conv with 48 channels a group that carries the stage's stride, a 1x1 conv; a 1x1
  stride-2 projection shortcut in each stage's first block), global pooling and the classifier;
- stages 2 and 3 are G-Ghost stages (the official code makes stage 3 one always, stages 2 and
  4 when they have more than two blocks, stage 1 never), each of n blocks at width w:
  - `base`: the stage's first block, at full width w and stride 2 (its output x0);
  - `layers`: n - 2 blocks on only the first `raw` channels of x0, with group width
    int(0.75 * 48) = 36 and raw = int(w * (1 - 0.5) / 36) * 36 (the cheap ratio 0.5): 72 of 192
    and 216 of 432; the first one's shortcut (the official code's channel slice) is the identity;
  - `cheap`: a 1x1 conv over the other w - raw channels of x0 (the ghost features);
  - `merge`, the mix: x0 and every `layers` output concatenated (w + raw (n - 2) channels),
    globally pooled, then a 1x1 conv to w - raw and a 1x1 conv w - raw to w - raw (on the
    1x1 pooled map); its result is added to every pixel of `cheap`'s;
  - the last `layers` output and the mixed ghost features concatenated to w channels, then
    `end`: one more full-width block.

Left out, as in the other presets (not PE-array work): batch norm, ReLU, the residual adds,
the global pooling (also the mix's, which reads x0 and every `layers` output once more), the
broadcast add of the mix, dropout; the concatenations are where each part writes. The seed's
training (the accuracy, 77.8 % top-1 for this model) is not modelled.

The `ghost` method runs on it: it makes each one-group conv after the stem a C-Ghost module
(the X blocks' 1x1 convs, the cheap and the mix convs; the group convs stay), a combination of
the two the paper does not evaluate.
"""

from __future__ import annotations

from ..layer import Layer, conv, linear

STEM_WIDTH = 32
CHEAP_RATIO = 0.5             # the part of a G-Ghost stage's channels made by cheap operations
LAYERS_GROUP_WIDTH = 0.75     # the `layers` blocks' group width, as a part of the stage's

# RegNetX (depths, widths, group width) as the official code's g_ghost_regnetx_NNN, with the
# official table's FLOPs for those it published: 3.2GF 1.8 B, 4.0GF 2.2 B, 8.0GF 4.2 B,
# 16GF 9.0 B (tests/workloads/test_g_ghost_preset.py)
REGNETX = {
    "032": ([2, 6, 15, 2], [96, 192, 432, 1008], 48),
    "040": ([2, 5, 14, 2], [80, 240, 560, 1360], 40),
    "080": ([2, 5, 15, 1], [80, 240, 720, 1920], 120),
    "160": ([2, 6, 13, 1], [256, 512, 896, 2048], 128),
}


def g_ghost_regnetx_032() -> list[Layer]:
    """G-Ghost RegNetX-3.2GF (module doc): 1,801,746,240 MACs (the official 1.8 B FLOPs)."""
    return g_ghost_regnet(*REGNETX["032"])


def g_ghost_regnet(depths, widths, group_width) -> list[Layer]:
    """A G-Ghost RegNetX of four stages (module doc)."""
    layers, c_in, size = [conv("conv1", 3, STEM_WIDTH, 224, stride=2)], STEM_WIDTH, 112
    for stage, (blocks, width) in enumerate(zip(depths, widths), start=1):
        prefix = f"layer{stage}"
        if g_ghost_stage(stage, blocks):
            layers += _g_ghost_stage(prefix, c_in, width, size, blocks, group_width)
        else:
            layers += _x_block(f"{prefix}.0", c_in, width, size, 2, group_width)
            for b in range(1, blocks):
                layers += _x_block(f"{prefix}.{b}", width, width, size // 2, 1, group_width)
        c_in, size = width, size // 2
    layers.append(linear("fc", c_in, 1000))
    return layers


def g_ghost_stage(stage: int, blocks: int) -> bool:
    """Whether the official code makes stage `stage` (1-4) a G-Ghost stage."""
    return stage == 3 or (stage in (2, 4) and blocks > 2)


def _g_ghost_stage(prefix, c_in, width, size, blocks, group_width) -> list[Layer]:
    if blocks < 3:
        raise ValueError(f"{prefix}: a G-Ghost stage needs at least 3 blocks, not {blocks}")
    out = size // 2
    narrow = int(group_width * LAYERS_GROUP_WIDTH)
    raw = int(width * (1 - CHEAP_RATIO) / narrow) * narrow
    cheap = width - raw
    layers = _x_block(f"{prefix}.base", c_in, width, size, 2, group_width)
    for b in range(blocks - 2):
        layers += _x_block(f"{prefix}.layers.{b}", raw, raw, out, 1, narrow)
    layers += [conv(f"{prefix}.cheap.0", cheap, cheap, out, R=1),
               conv(f"{prefix}.merge.1", width + raw * (blocks - 2), cheap, 1, R=1),
               conv(f"{prefix}.merge.4", cheap, cheap, 1, R=1)]
    return layers + _x_block(f"{prefix}.end", width, width, out, 1, group_width)


def _x_block(prefix, c_in, width, size, stride, group_width) -> list[Layer]:
    """RegNet's X block (bottleneck ratio 1): 1x1, 3x3 group conv at `stride`, 1x1, and a 1x1
    projection shortcut when it downsamples."""
    out = size // stride
    groups = width // min(width, group_width)
    layers = [conv(f"{prefix}.conv1", c_in, width, size, R=1),
              conv(f"{prefix}.conv2", width, width, size, stride=stride, groups=groups),
              conv(f"{prefix}.conv3", width, width, out, R=1)]
    if stride > 1:
        layers.append(conv(f"{prefix}.downsample", c_in, width, size, R=1, stride=stride))
    return layers
