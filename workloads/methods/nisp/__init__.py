"""NISP channel pruning (`nisp`; Yu et al., "NISP: Pruning Networks using Neuron Importance
Score Propagation", CVPR 2018, the seed abstract): the neurons (channels) of least importance
are removed from every layer, the importance of the final response layer's neurons propagated
back through the whole network, and the pruned network fine-tuned.

What it performs: the pruned network, on the unchanged int8 MAC array. Pruning is a rewrite of
the network (`Method.network_transform`), since a layer's C is its producer's pruned K: each
layer keeps ceil(keep · K) of its output channels (`--prune KEEP`, KEEP in (0, 1], 0.5 by
default, or `--prune FILE`, a YAML of per-layer fractions, below), the next layer reads only
those (C = the producer's kept K, times the features per channel where a linear layer reads a
conv's output flattened), and each pruned layer then runs as the baseline's ordinary int8 conv
or fully-connected layer (weights, MACs and traffic of the smaller shapes). Channels that must
be pruned alike are pruned as one (workloads/methods/nisp/channels.py): the outputs that meet
at a residual add, a depthwise conv's input and output (C = K), and the channels a
one-input vector layer passes through. Never pruned: the image (the first layer's input), the
classes (the last layer's outputs), and what channels.py keeps whole. A grouped conv's
channels stay a multiple of its groups.

The YAML: `default: KEEP` (1 when absent) and `layers: {name: KEEP}`; a layer's fraction
prunes its output channels and those joined to them (a residual group takes one fraction:
naming two of its layers with different fractions is refused, as are unknown layer names and
fractions outside (0, 1]).

No reference of its own: a pruned layer is an ordinary int8 convolution, which the baseline's
reference (workloads/methods/conv_ref.py) covers.

Left out: which channels are removed. NISP ranks them by importance scores propagated from the
final response layer, which need the trained weights and data; this model prunes by count
only (the kept channels' costs do not depend on which they are). Also the fine-tuning and the
accuracy. The record's `macs` are the pruned network's.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from dlaforge.errors import SpecError
from dlaforge.inputs import load_yaml
from dlaforge.workloads.method_options import MethodOption

from .. import Method, baseline
from .channels import WEIGHTED, channel_flow

OPTIONS = (MethodOption("prune", 0.5, str, "the fraction of channels kept per layer, in "
                        "(0, 1], or a YAML of per-layer fractions (default: 0.5 and layers: "
                        "{name: keep})", "KEEP|FILE"),)


def _fraction(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0 < value <= 1:
        raise SpecError(f"{where}: the fraction of channels kept must be in (0, 1], not "
                        f"{value!r}")
    return float(value)


def read_ratios(prune) -> tuple[float, dict]:
    """(the default fraction kept, {layer name: fraction}) of `--prune` (a number, its text,
    or the path of a YAML file; module doc)."""
    try:
        number = None if isinstance(prune, bool) else float(prune)
    except (TypeError, ValueError):
        number = None
    if isinstance(prune, (bool, int, float)) and number is None:
        raise SpecError(f"--prune: the fraction of channels kept must be in (0, 1], not "
                        f"{prune!r}")
    if number is not None:
        if not math.isfinite(number):
            number = str(prune)
        return _fraction(number, f"--prune {prune}"), {}
    where = f"--prune {prune}"
    data = load_yaml(Path(prune), "--prune file")
    if not isinstance(data, dict) or set(data) - {"default", "layers"} or not data:
        raise SpecError(f"{where}: a pruning file is a mapping with `default: KEEP` and/or "
                        f"`layers: {{name: KEEP}}`")
    layers = data.get("layers") or {}
    if not isinstance(layers, dict):
        raise SpecError(f"{where}: `layers` must map layer names to fractions kept")
    return (_fraction(data.get("default", 1), f"{where}: `default`"),
            {str(name): _fraction(keep, f"{where}: layer {name!r}")
             for name, keep in layers.items()})


def pruned_network(network, options: dict):
    """`network` with its channels pruned as `options["prune"]` says (module doc)."""
    default, named = read_ratios(options["prune"])
    layers = network.layers
    flow = channel_flow(layers)
    index = {layer.name: i for i, layer in enumerate(layers)}
    keep: dict = {}
    for name, fraction in named.items():
        i = index.get(name)
        if i is None or layers[i].kind not in WEIGHTED:
            raise SpecError(f"--prune: {name!r} is not a conv or fully-connected layer of "
                            f"network {network.name!r}")
        space = flow.space[i]
        if fraction < 1 and space in flow.whole:
            raise SpecError(f"--prune: the output channels of layer {name!r} are never "
                            f"pruned (the network's outputs, or channels whose readers this "
                            f"model cannot follow)")
        if keep.get(space, (fraction,))[0] != fraction:
            raise SpecError(f"--prune: layers {keep[space][1]!r} and {name!r} give different "
                            f"fractions to channels that are pruned alike (joined at a "
                            f"residual add or through a depthwise conv)")
        keep[space] = (fraction, name)

    def kept(i: int) -> int:
        space, channels = flow.space[i], layers[i].K
        if space in flow.whole:
            return channels
        step = flow.granule.get(space, 1)
        fraction = keep.get(space, (default,))[0]
        # at least one granule: a fraction keeping under one channel keeps one
        return min(channels, step * max(1, math.ceil(channels * fraction / step - 1e-9)))

    rewritten = []
    for i, layer in enumerate(layers):
        p = flow.producer[i]
        C = layer.C if p is None else kept(p) * flow.per_channel[i]
        K = kept(i) if layer.kind in WEIGHTED or layer.kind == "vector" else layer.K
        groups = K if flow.producer[i] is not None and layer.groups == layer.C == layer.K \
            and layer.groups > 1 else layer.groups
        if layer.kind == "vector":
            C = K
        rewritten.append(replace(layer, C=C, K=K, groups=groups))
    return replace(network, layers=tuple(rewritten))


METHODS = (Method(name="nisp", transform=baseline.transform, pe_kinds=("mac",),
                  presets=("edge_tiny", "tpu_like"), network_transform=pruned_network,
                  description="NISP channel pruning: --prune KEEP of each layer's channels "
                              "(or a per-layer YAML), residual groups pruned alike"),)
