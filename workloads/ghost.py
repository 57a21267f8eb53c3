"""The Ghost module (GhostNet, Han et al., CVPR 2020) as layers: a convolution with K outputs
becomes a primary convolution with m = ceil(K / RATIO) outputs (the intrinsic feature maps; the
original kernel, stride and padding) and a cheap depthwise CHEAP_KERNEL x CHEAP_KERNEL
convolution (stride 1, 'same' padding) over the intrinsic maps that produces the K - m ghost
maps; the output is the two concatenated (intrinsic first), so the concatenation is only where
each writes. With RATIO = 2 every intrinsic map but, for odd K, the last has one ghost map.

The official code (huawei-noah/ghostnet) computes m * (RATIO - 1) ghost maps and slices the
output back to K channels; here only the K - m kept are computed. Shared by the `ghost` method
(workloads/methods/ghost) and the `ghostnet` preset (workloads/networks/ghostnet.py).
"""

from __future__ import annotations

import math
from dataclasses import replace

from .layer import Layer, conv_kind

RATIO = 2           # s: output maps per intrinsic map
CHEAP_KERNEL = 3    # d: the cheap depthwise kernel


def ghost_split(layer: Layer) -> tuple[Layer, Layer]:
    """(primary, cheap): `layer` (a conv, K >= 2) as a Ghost module (module doc)."""
    m = math.ceil(layer.K / RATIO)
    ghosts = layer.K - m
    primary = replace(layer, name=f"{layer.name}.primary", K=m,
                      kind=conv_kind(layer.C, m, layer.R, layer.S, layer.groups))
    cheap = Layer(name=f"{layer.name}.cheap", N=layer.N, K=ghosts, C=ghosts,
                  kind=conv_kind(ghosts, ghosts, CHEAP_KERNEL, CHEAP_KERNEL, ghosts),
                  groups=ghosts, H=layer.P, W=layer.Q, P=layer.P, Q=layer.Q, R=CHEAP_KERNEL,
                  S=CHEAP_KERNEL, padding=CHEAP_KERNEL // 2, ifmap_bits=layer.ifmap_bits,
                  weight_bits=layer.weight_bits)
    return primary, cheap
