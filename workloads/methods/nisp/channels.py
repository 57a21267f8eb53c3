"""Which channels of a network must be pruned alike: its channel spaces, inferred from the
layer list.

A network here is a list of layers in execution order, without its graph: the presets leave
residual adds (and pooling) out. `channel_flow(layers)` recovers, per layer, what it reads and
which channel space its output belongs to:

- its producer: the previous layer when the previous layer's output fits its input (the
  same channel count, the same or a larger, pooled, spatial size; a linear layer may read a
  conv's output flattened, C = K·f with f <= P·Q features per channel); else, inside a
  block, the block's input (a projection shortcut, ResNet's `downsample`); else the latest
  earlier layer whose output fits; else nothing: the network's input (the image), whose
  channels are never pruned;
- its output space: a depthwise conv (C = K = groups) and a one-input vector layer keep
  their producer's space; every other layer with weights starts its own;
- residual adds: a *block* is a run of consecutive layers whose names share everything before
  their last dot (`layer1.0.conv1`, `layer1.0.conv2`, `layer1.0.downsample`; `block3.expand`,
  `block3.dw`, `block3.project`), as torchvision and the presets name them. A block layer
  that reads the block's input and has the previous layer's output shape (a projection
  shortcut) is added to that layer's output: one space; a block of two or more layers without
  one whose last output has the shape of the block's input (channels and spatial size) is
  added to that input (an identity shortcut): one space.

Kept whole (never pruned): the space of the last layer's output (the classes) and of every
output nothing reads (a network output, or one concatenated with others: the presets leave
concatenations out too); the spaces of the layers from a producer to its reader when the
reader reads it from further back than the rules above explain (an edge the list hides, such
as a concatenation's); a space a matmul touches (its channels are not a
weight's); the spaces of tensors shaped as a two-input vector layer's operands (an imported
`add_tensors` says neither of its operands); every space of a layer's channel count when a
layer's input is unresolved (not the first layer). Keeping a space whole is always
consistent; the rules above may keep more whole than a graph would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...vector_ops import TWO_INPUTS

WEIGHTED = ("conv2d", "pointwise", "depthwise", "linear", "gemm", "transposed_conv")


@dataclass(frozen=True)
class ChannelFlow:
    producer: tuple          # per layer: the index of the layer it reads, or None (the input)
    per_channel: tuple       # per layer: its input features per producer channel (flatten: f)
    space: tuple             # per layer: the id of its output's channel space
    whole: frozenset         # the spaces kept whole
    granule: dict            # space -> the multiple its kept channel count must be (groups)


def _block(name: str):
    return name.rsplit(".", 1)[0] if "." in name else None


def _fits(src, layer):
    """Features per channel of `src`'s output in `layer`'s input, or None if it cannot be it."""
    if layer.C == src.K and src.P >= layer.H and src.Q >= layer.W:
        return 1
    if layer.kind in ("linear", "gemm") and layer.C % src.K == 0 \
            and layer.C // src.K <= src.P * src.Q:
        return layer.C // src.K
    return None


def _depthwise(layer) -> bool:
    return layer.groups > 1 and layer.groups == layer.C == layer.K


def channel_flow(layers) -> ChannelFlow:
    """The producers and channel spaces of `layers` (module doc)."""
    n = len(layers)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a, b):
        parent[find(a)] = find(b)

    producer, per_channel, whole, unresolved, added = [None] * n, [1] * n, set(), [], set()
    start, joined = 0, False                    # the current block's first layer; its add found
    for i, layer in enumerate(layers):
        if i and _block(layer.name) != _block(layers[i - 1].name):
            start, joined = i, False
        block = _block(layer.name) is not None and start < i
        entry = producer[start] if block else None
        candidates = ([i - 1] if i else []) \
            + ([entry] if block and entry is not None else []) + list(range(i - 2, -1, -1))
        for j in candidates:
            f = _fits(layers[j], layer)
            if f is not None:
                producer[i], per_channel[i] = j, f
                break
        else:
            if i:
                unresolved.append(i)
        p = producer[i]
        if p is not None and p != i - 1 and not (block and p == entry):
            whole.update(range(p, i))       # a far read: an edge (a concat) the list hides
        if layer.kind == "matmul":
            whole.update(x for x in (i, p) if x is not None)
        elif p is not None and (_depthwise(layer) or layer.kind == "vector"):
            union(i, p)
        if layer.kind == "vector" and layer.op in TWO_INPUTS:
            whole.update(j for j in range(i + 1) if (layers[j].K, layers[j].P, layers[j].Q)
                         == (layer.C, layer.H, layer.W))
        # a projection shortcut: reads the block's input, shaped as the previous output
        if block and entry is not None and p == entry and p != i - 1 \
                and (layer.K, layer.P, layer.Q) == (layers[i - 1].K, layers[i - 1].P,
                                                   layers[i - 1].Q):
            union(i, i - 1)
            joined, added = True, added | {i - 1}
        last_of_block = i + 1 == n or _block(layers[i + 1].name) != _block(layer.name)
        if block and not joined and last_of_block and entry is not None \
                and (layer.K, layer.P, layer.Q) == (layers[start].C, layers[start].H,
                                                   layers[start].W):
            union(i, entry)                      # an identity shortcut
            added.add(i)
    read = {p for p in producer if p is not None}
    read |= {i for i in added if find(i) in {find(p) for p in read}}    # through the sum
    weighted = [i for i, layer in enumerate(layers) if layer.kind in WEIGHTED]
    whole = {find(i) for i in whole}
    whole |= {find(i) for i in range(n) if i not in read}
    if weighted:
        whole.add(find(weighted[-1]))
    for i in unresolved:
        whole |= {find(j) for j in range(n) if layers[j].K == layers[i].C}
    whole |= {find(i) for i, layer in enumerate(layers) if layer.kind not in WEIGHTED
              and (producer[i] is None or layer.kind == "matmul")}
    granule: dict = {}
    for i, layer in enumerate(layers):
        if layer.groups > 1 and not _depthwise(layer):
            for s in (find(i), *(() if producer[i] is None else (find(producer[i]),))):
                granule[s] = math.lcm(granule.get(s, 1), layer.groups)
    return ChannelFlow(producer=tuple(producer), per_channel=tuple(per_channel),
                       space=tuple(find(i) for i in range(n)), whole=frozenset(whole),
                       granule=granule)
