"""GhostNet 1.0x (Han et al., CVPR 2020) at 224x224, layer by layer as the official code
(huawei-noah/ghostnet, ghostnet.py) builds it: a 3x3 stride-2 stem conv, sixteen Ghost
bottlenecks, a 1x1 conv to 960 channels, global pooling, a 1x1 conv head to 1280 and the
classifier.

A Ghost bottleneck is a Ghost module expanding to `mid` channels (a 1x1 primary conv and the
cheap 3x3 depthwise conv, workloads/ghost.py), a k x k stride-2 depthwise conv when it
downsamples, a squeeze-and-excitation block when it has one (1x1 convs mid -> mid / 4 -> mid
on the pooled 1x1 map; the gate multiply is vector work), a second Ghost module to the output
channels, and, when the input and output shapes differ, a shortcut of a k x k depthwise conv
(at the block's stride) and a 1x1 conv. Batch norm, activations, pooling, the gates and the
residual adds are not PE-array work and are left out, as in the other presets.
"""

from __future__ import annotations

from ..ghost import ghost_split
from ..layer import Layer, conv, linear

# per bottleneck: (kernel, expansion channels, output channels, has squeeze-excite, stride)
BOTTLENECKS = [
    (3, 16, 16, False, 1),
    (3, 48, 24, False, 2), (3, 72, 24, False, 1),
    (5, 72, 40, True, 2), (5, 120, 40, True, 1),
    (3, 240, 80, False, 2), (3, 200, 80, False, 1), (3, 184, 80, False, 1),
    (3, 184, 80, False, 1), (3, 480, 112, True, 1), (3, 672, 112, True, 1),
    (5, 672, 160, True, 2), (5, 960, 160, False, 1), (5, 960, 160, True, 1),
    (5, 960, 160, False, 1), (5, 960, 160, True, 1),
]


def ghostnet() -> list[Layer]:
    """GhostNet 1.0x (module doc): 141,150,512 MACs (the paper: 141 M FLOPs, counting
    multiply-adds)."""
    layers, c_in, size = [conv("conv_stem", 3, 16, 224, stride=2)], 16, 112
    for i, (k, mid, c_out, se, stride) in enumerate(BOTTLENECKS):
        layers += _bottleneck(f"blocks.{i}", c_in, mid, c_out, size, k, stride, se)
        c_in, size = c_out, size // stride
    layers += [conv("conv_last", c_in, 960, size, R=1), conv("conv_head", 960, 1280, 1, R=1),
               linear("classifier", 1280, 1000)]
    return layers


def _bottleneck(name, c_in, mid, c_out, size, k, stride, se) -> list[Layer]:
    out = size // stride
    layers = [*ghost_split(conv(f"{name}.ghost1", c_in, mid, size, R=1))]
    if stride > 1:
        layers.append(conv(f"{name}.conv_dw", mid, mid, size, R=k, stride=stride, groups=mid))
    if se:
        reduced = _divisible(mid / 4)
        layers += [conv(f"{name}.se.conv_reduce", mid, reduced, 1, R=1),
                   conv(f"{name}.se.conv_expand", reduced, mid, 1, R=1)]
    layers += ghost_split(conv(f"{name}.ghost2", mid, c_out, out, R=1))
    if stride > 1 or c_in != c_out:
        layers += [conv(f"{name}.shortcut.dw", c_in, c_in, size, R=k, stride=stride,
                        groups=c_in),
                   conv(f"{name}.shortcut.pw", c_in, c_out, out, R=1)]
    return layers


def _divisible(v: float, divisor: int = 4) -> int:
    """The official `_make_divisible`: v rounded to a multiple of `divisor`, not below 90 %."""
    rounded = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded
