"""Multigrid-in-channels (`mgic`; Eliasof, Ephrath, Ruthotto and Treister, "MGIC:
Multigrid-in-Channels Neural Network Architectures", the seed abstract): each CNN block's
dense channel coupling is replaced by a hierarchy of nested grouped convolutions of a small
group size, so that parameters and MACs grow linearly with the width instead of quadratically,
while every channel stays coupled to every other through the coarsest level.

The structure modelled (one V-cycle without post-smoothing; group size s = GROUP_SIZE = 16
channels). A conv of C -> K channels (R x S, its stride and padding) with C = s·2^L, L >= 1,
and K a multiple of 2^(L+1) becomes, with c_l = C/2^l, k_l = K/2^l and g_l = c_l/s = 2^(L-l)
groups at level l = 0..L:

- restriction, l = 0..L-1: a 1x1 grouped conv c_l -> c_(l+1) with g_l groups (each group of
  s fine channels to s/2 coarse ones) on the input's H x W;
- the level conv, l = 0..L: the layer's R x S conv c_l -> k_l with g_l groups (s input
  channels per group; the coarsest, g_L = 1, is dense over its s channels);
- prolongation, l = L-1..0: a 1x1 grouped conv k_(l+1) -> k_l with g_l groups on the output's
  P x Q, added to level l's output.

Weights (all int8): R·S·s·Σ_l k_l + s·Σ_(l<L) c_(l+1) + Σ_(l<L) k_(l+1)·k_l/g_l
= R·S·s·K·(2 - 2^-L) + (1 - 2^-L)·(s·C + s·K²/C), against R·S·C·K dense; MACs: the level
and prolongation weights times N·P·Q plus the restriction weights times N·H·W.

What it performs: those 3L + 1 ordinary grouped int8 convs on the unchanged MAC array (each
as the baseline runs a conv: its weights, its input and output moved at int8); no reference of
its own (a grouped conv is covered by the baseline's reference, workloads/methods/conv_ref.py).
Other layers (the first conv, C not s times a power of two, K not a multiple of 2^(L+1),
grouped and depthwise convs, fully-connected layers, transposed convs, matmuls) run as the
baseline's. `macs` in the record stays the layer's nominal (dense) count; `ops` and
`weight_storage_bits` are the hierarchy's.

What follows from it: a 3x3 conv's MACs fall to about 2s/C of the dense conv's (ResNet-18:
0.48 at C = 64 down to 0.068 at C = 512; 569 M of 1,814 M MACs in all, 1.76 MB of weights
against 11.7 MB); a strided 1x1 conv saves little or nothing, since its restrictions run on the
full input (ResNet-18's downsamples: 1.19x the dense MACs at C = 64, 0.36x at C = 256). The
grouped convs fill a wide array poorly (s = 16 input channels per group): on tpu_like's 32x32
array ResNet-18 takes more cycles than the dense baseline; on edge_tiny fewer.

Left out: the element-wise additions of the prolongations (vector work, as the presets leave
residual adds out), the batch norms and activations between levels, post-smoothing convs, the
paper's MGIC variants of MobileNetV3 blocks (depthwise parts are kept as they are), the
training that makes the hierarchy as accurate as the dense conv (accuracy is not modelled).
"""

from __future__ import annotations

from dataclasses import replace

from ...layer import Layer, conv_kind
from .. import Method, baseline

GROUP_SIZE = 16     # s: the channels per group at every level


def levels(layer) -> int:
    """L, the number of coarsenings of `layer` (0: it is left as it is; module doc)."""
    if layer.kind not in ("conv2d", "pointwise") or layer.groups != 1 \
            or layer.C <= GROUP_SIZE or layer.C % GROUP_SIZE:
        return 0
    L = (layer.C // GROUP_SIZE).bit_length() - 1
    if GROUP_SIZE << L != layer.C or layer.K % (2 << L):
        return 0
    return L


def _part(layer, name, C, K, groups, spatial_in: bool, kernel: bool) -> Layer:
    if kernel:                              # the layer's own window at this level
        return replace(layer, name=name, C=C, K=K, groups=groups,
                       kind=conv_kind(C, K, layer.R, layer.S, groups))
    H, W = (layer.H, layer.W) if spatial_in else (layer.P, layer.Q)
    return Layer(name=name, kind=conv_kind(C, K, 1, 1, groups), N=layer.N, C=C, K=K, H=H, W=W,
                 P=H, Q=W, groups=groups, ifmap_bits=layer.ifmap_bits,
                 weight_bits=layer.weight_bits)


def mgic_split(layer) -> list[Layer]:
    """`layer` as its MGIC hierarchy (module doc): the restrictions, the level convs, the
    prolongations, in that order; [layer] when it is left as it is."""
    L = levels(layer)
    if not L:
        return [layer]
    c = [layer.C >> l for l in range(L + 1)]
    k = [layer.K >> l for l in range(L + 1)]
    g = [1 << (L - l) for l in range(L + 1)]
    name = f"{layer.name}.mgic"
    return ([_part(layer, f"{name}.restrict{l}", c[l], c[l + 1], g[l], True, False)
             for l in range(L)]
            + [_part(layer, f"{name}.level{l}", c[l], k[l], g[l], True, True)
               for l in range(L + 1)]
            + [_part(layer, f"{name}.prolong{l}", k[l + 1], k[l], g[l], False, False)
               for l in reversed(range(L))])


def transform(layer, arch) -> list:
    return [op for part in mgic_split(layer) for op in baseline.transform(part, arch)]


METHODS = (Method(name="mgic", transform=transform, pe_kinds=("mac",),
                  presets=("edge_tiny", "tpu_like"),
                  description="multigrid-in-channels: each conv as nested grouped convs "
                              "(group size 16, groups halving per level to a dense coarsest)"),)
