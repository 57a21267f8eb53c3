"""Sparse update (`sparse_update`; Lin et al., "On-Device Training Under 256KB Memory",
NeurIPS 2022, the Tiny Training Engine, the seed abstract).

The forward is the baseline's (under `--phase infer` it runs as the baseline). Under
`--phase train` only the weights a policy names get a gradient and an update, each layer whole
or a leading fraction of its output channels (the paper's sparse tensor update; a grouped or
depthwise layer updates whole groups); the backward stops below the first updated layer (the
Tiny Training Engine prunes the backward graph at compile time), and a layer that is not
updated computes only the dX its layers below need and keeps no input. The training runs at
int8 as the paper's quantized graph does: dY, dX and dW are 8 bits wide (the weights stay int8;
the optimizer state is `state_bits` wide, SGD by default).

The policy (`--train-policy FILE`, YAML): `last: k` updates the last k layers with weights
whole; `layers: {name: fraction}` names layers and the fraction of their output channels
updated (1 = whole); `bias_last: k` also updates the biases of the last k layers with weights,
bias only where their weights stay frozen (the paper's bias update reaching deeper than its
weight update: the backward then runs down to the lowest of them, computing dX but no dW
there); any may be given. Without a file: `last: 4` (biases of the updated layers only).

Left out: the quantization-aware scaling of the gradients (one multiply per weight gradient),
the policy search (the contribution analysis that picks the layers: the policy is given), and
the operator reordering that frees each gradient right after its update (the memory model
keeps gradients and state resident, workloads/training_memory.py).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from dlaforge.errors import SpecError
from dlaforge.inputs import load_yaml
from dlaforge.workloads.training import has_weights
from dlaforge.workloads.method_options import MethodOption
from dlaforge.workloads.training_methods import TrainingMethod

from .. import Method, baseline

DEFAULT_POLICY = {"last": 4}


def read_policy(path) -> dict:
    """The policy YAML at `path` as {"last": k, "layers": {name: fraction}} (SpecError)."""
    where = f"--train-policy {path}"
    data = load_yaml(Path(path), "--train-policy")
    if not isinstance(data, dict) or not data or set(data) - {"last", "layers", "bias_last"}:
        raise SpecError(f"{where}: a policy is a mapping with `last: k`, "
                        f"`layers: {{name: fraction}}` and/or `bias_last: k`")
    for key in ("last", "bias_last"):
        count = data.get(key, 0)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise SpecError(f"{where}: `{key}` must be a non-negative integer, not {count!r}")
    last = data.get("last", 0)
    layers = data.get("layers") or {}
    if not isinstance(layers, dict):
        raise SpecError(f"{where}: `layers` must map layer names to fractions")
    for name, fraction in layers.items():
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) \
                or not 0 < fraction <= 1:
            raise SpecError(f"{where}: layer {name!r}: the fraction updated must be in (0, 1], "
                            f"not {fraction!r}")
    return {"last": last, "layers": {str(k): float(v) for k, v in layers.items()},
            "bias_last": data.get("bias_last", 0)}


def weight_slice(layer, fraction: float):
    """The part of `layer` whose weights are updated: its first ceil(fraction·K) output
    channels (whole groups of a grouped layer)."""
    if fraction >= 1:
        return layer
    if layer.groups == 1:
        return replace(layer, K=math.ceil(layer.K * fraction))
    groups = math.ceil(layer.groups * fraction)
    return replace(layer, K=groups * (layer.K // layer.groups),
                   C=groups * (layer.C // layer.groups), groups=groups)


OPTIONS = (MethodOption("train_policy", None, str,
                        "the policy YAML of the layers updated (default: last: 4)", "FILE"),)

class SparseUpdate(TrainingMethod):
    """The training hooks of the sparse update (module doc)."""

    GRAD_BITS = 8

    def check(self) -> None:
        path = self.options["train_policy"]
        object.__setattr__(self, "policy", DEFAULT_POLICY if path is None else read_policy(path))

    def trained_parts(self, layers) -> list:
        weighted = [i for i, layer in enumerate(layers) if has_weights(layer)]
        fractions = dict.fromkeys(weighted[len(weighted) - self.policy["last"]:]
                                  if self.policy["last"] else [], 1.0)
        index = {layer.name: i for i, layer in enumerate(layers)}
        for name, fraction in self.policy.get("layers", {}).items():
            if name not in index or not has_weights(layers[index[name]]):
                raise SpecError(f"the sparse-update policy names {name!r}, which is not a "
                                f"layer with weights of this network")
            fractions[index[name]] = fraction
        if not fractions and not self.policy.get("bias_last"):
            raise SpecError("the sparse-update policy updates no layer")
        return [weight_slice(layer, fractions[i]) if i in fractions else None
                for i, layer in enumerate(layers)]

    def bias_parts(self, layers, trained: list) -> list:
        """The trained parts' biases, and every bias of the last `bias_last` layers with
        weights (bias-only where their weights stay frozen)."""
        weighted = [i for i, layer in enumerate(layers) if has_weights(layer)]
        count = self.policy.get("bias_last", 0)
        chosen = set(weighted[len(weighted) - count:]) if count else set()
        return [layer if i in chosen else part
                for i, (layer, part) in enumerate(zip(layers, trained))]


TRAINING = SparseUpdate

METHODS = (Method(name="sparse_update", transform=baseline.transform, pe_kinds=("mac",),
                  presets=("edge_tiny", "tpu_like"), training_only=True,
                  description="training: int8, only a policy's layers (or channels) updated, "
                              "backward pruned below them (Tiny Training Engine)"),)
