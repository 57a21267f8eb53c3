"""GhostNet's Ghost module as a method (`ghost`): every convolution but the first becomes a
primary convolution with ceil(K/2) outputs and a cheap 3x3 depthwise convolution producing the
remaining maps from them (workloads/ghost.py: s = 2, d = 3), as the seed paper's Ghost-VGG and
Ghost-ResNet replace the convolutions of an existing network.

What it performs: two ordinary int8 MAC ops on the unchanged array, the primary conv
(m = ceil(K/2) outputs, the layer's kernel, stride and padding: about half the layer's MACs)
and the cheap depthwise conv over m of its outputs (K - m maps, 9 MACs per output pixel).
Stored and moved: the primary's and the cheap op's weights (m·C/g·R·S + 9 (K - m), int8); the
input once; the intrinsic maps written once (int8, the first m channels of the output) and
read back by the cheap op, which writes the ghost maps beside them, so the concatenation costs
no move.

Which layers: conv2d and pointwise convs with one group, except the first conv (it reads the
image: at most 4 input channels) and layers with one output. Depthwise and grouped convs,
linear/gemm layers, transposed convs, matmuls and vector layers run as the baseline's.

Left out: the training that makes the ghost maps useful (accuracy is not modelled), the batch
norm and ReLU after each part (vector work, as the presets leave them out), the Ghost
bottleneck's other parts (those are layers of the `ghostnet` preset, which is already built of
Ghost modules: run it with `baseline`; `ghost` would split its primary convs again). The
journal version (the seed's "GhostNets on heterogeneous devices") calls this module C-Ghost;
its G-Ghost stage (a stage's blocks on fewer channels, the other features made from the
stage's first output by cheap operations and a mix of intermediate features) is no per-layer
transform (it changes what a stage's blocks compute): it is the `g_ghost_regnetx_032` preset
(workloads/networks/g_ghost_regnet.py, shaped as the official code since the seed's abstract
gives no shapes), which this method also runs on.
"""

from __future__ import annotations

from ...ghost import ghost_split
from .. import Method, baseline
from ..common import IMAGE_CHANNELS


def ghosted(layer) -> bool:
    """Whether the method turns `layer` into a Ghost module (module doc)."""
    return (layer.kind in ("conv2d", "pointwise") and layer.groups == 1 and layer.K > 1
            and layer.C > IMAGE_CHANNELS)


def transform(layer, arch) -> list:
    if not ghosted(layer):
        return baseline.transform(layer, arch)
    return [op for part in ghost_split(layer) for op in baseline.transform(part, arch)]


METHODS = (Method(name="ghost", transform=transform, pe_kinds=("mac",),
                  presets=("edge_tiny", "tpu_like"),
                  description="each conv but the first as a Ghost module: a primary conv to "
                              "K/2 maps and a cheap 3x3 depthwise conv to the rest"),)
