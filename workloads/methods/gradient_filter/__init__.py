"""Gradient filtering (`gradient_filter`; Yang et al., "Efficient On-device Training via
Gradient Filtering", CVPR 2023, the seed abstract: up to 19x speed-up and 77.1% memory saving
on ImageNet).

The forward is the baseline's (the method changes training only; under `--phase infer` it runs
as the baseline). Under `--phase train`, every convolution (conv2d, grouped, depthwise,
pointwise) whose gradient map dY (P x Q) is at least r x r (`--filter-patch r`, 4 by default)
trains as the paper's approximation does (its code's Conv2dAvgOp):

- dY is averaged per r x r patch (centred, patches cut by the map's edge average what they
  hold): a map of ceil(P/r) x ceil(Q/r), on the vector unit;
- the forward keeps, instead of X, X summed over the (r·s) x (r·s) patches the dY patches
  come from (s the stride), at the activations' width plus the bits the sum grows by (a
  vector-unit op that reads X from DRAM again and writes the pooled map);
- dX: the filters summed over their R x S taps (vector unit), a 1x1 convolution of the reduced
  dY with them on the array (K -> C per group), broadcast back to H x W (a move on the vector
  unit, which writes the full dX);
- dW: the GEMM of the reduced dY with the pooled X (one value per filter and input channel,
  the same for its R x S taps).

So each of dX and dW costs N·K·(C/g)·ceil(P/r)·ceil(Q/r) MACs instead of the layer's
N·K·(C/g)·R·S·P·Q, and the kept input shrinks about (r·s)² times. The reference
(reference.py) computes these gradients; the tests check it against the definition.

Left out: the paper's accuracy (the approximation is priced, not trained); its dilated-conv
variant (a dilated conv is filtered as any other); the bias gradient's own saving (a filtered
layer's dBias still sums the full dY, though the averaged dY already holds its sums); the
update still reads and writes every tap's gradient (it is one value per R x S taps).
"""

from __future__ import annotations

import math

from dlaforge.workloads.training import (activation_bits, grad_op, plain_backward,
                                         update_op)
from dlaforge.workloads.method_options import MethodOption
from dlaforge.workloads.training_methods import TrainingMethod, positive_option
from dlaforge.workloads.vector_ops import VectorOp

from .. import Method, baseline

FILTERED_KINDS = ("conv2d", "depthwise", "pointwise")


def _bytes(bits: int) -> int:
    return math.ceil(bits / 8)


def reduced_map(layer, r: int) -> tuple[int, int]:
    """The size of the patch-averaged gradient map."""
    return math.ceil(layer.P / r), math.ceil(layer.Q / r)


def pooled_bits(layer, arch, r: int) -> int:
    """The width of X summed over the (r·s) x (r·s) patches."""
    sh, sw = layer.strides
    return activation_bits(layer, arch) + math.ceil(math.log2(r * sh * r * sw))


OPTIONS = (MethodOption("filter_patch", 4, int,
                        "average dY per R x R patch", "R"),)

class GradientFilter(TrainingMethod):
    """The training hooks of gradient filtering (module doc)."""


    def check(self) -> None:
        positive_option(self.options, "filter_patch")

    @property
    def r(self) -> int:
        return self.options["filter_patch"]

    def filtered(self, layer) -> bool:
        return layer.kind in FILTERED_KINDS and min(layer.P, layer.Q) >= self.r

    def kept_bits(self, layer, part, arch, training) -> int:
        if not self.filtered(layer):
            return super().kept_bits(layer, part, arch, training)
        ph, pw = reduced_map(layer, self.r)
        return layer.N * layer.C * ph * pw * pooled_bits(layer, arch, self.r)

    def forward_ops(self, layer, part, arch, training, input_gradient: bool) -> list:
        if part is None or not self.filtered(layer):
            return []
        inputs = layer.N * layer.C * layer.H * layer.W
        return [VectorOp(name=f"{layer.name}.pool_x", op="sum_pool",
                         read_elements=_bytes(inputs * activation_bits(layer, arch)),
                         write_elements=_bytes(self.kept_bits(layer, part, arch, training)),
                         bits=8, ops={"add": inputs})]

    def backward(self, layer, part, arch, training, input_gradient: bool) -> list:
        if not self.filtered(layer):
            return plain_backward(layer, part, arch, training, input_gradient)
        return filtered_backward(layer, arch, training, self.r, input_gradient)


def filtered_backward(layer, arch, training, r: int, input_gradient: bool) -> list:
    """[(phase, op)] of a filtered convolution's backward (module doc)."""
    N, K, C, g = layer.N, layer.K, layer.C, layer.groups
    ph, pw = reduced_map(layer, r)
    gb = training.grad_bits
    wbits = layer.weight_bits or arch.pe_array.weight_bits
    taps = layer.R * layer.S
    ops = [("dW", VectorOp(name=f"{layer.name}.avg_dY", op="avg_pool",
                           read_elements=_bytes(N * K * layer.P * layer.Q * gb),
                           write_elements=_bytes(N * K * ph * pw * gb), bits=8,
                           ops={"add": N * K * layer.P * layer.Q, "mult": N * K * ph * pw}))]
    if input_gradient:
        weights = K * (C // g) * taps
        summed_bits = wbits + math.ceil(math.log2(taps))
        ops += [("dX", VectorOp(name=f"{layer.name}.sum_W", op="sum_taps",
                                read_elements=_bytes(weights * wbits),
                                write_elements=_bytes(K * (C // g) * summed_bits), bits=8,
                                ops={"add": weights})),
                ("dX", grad_op(arch, f"{layer.name}.dX", N=N, K=C, C=K, P=ph, Q=pw, H=ph,
                               W=pw, groups=g, ifmap_bits=gb, weight_bits=summed_bits,
                               ofmap_bits=gb)),
                ("dX", VectorOp(name=f"{layer.name}.dX_broadcast", op="broadcast",
                                read_elements=_bytes(N * C * ph * pw * gb),
                                write_elements=_bytes(N * C * layer.H * layer.W * gb), bits=8))]
    ops += [("dW", grad_op(arch, f"{layer.name}.dW", N=1, K=C, C=g * N * ph * pw, P=K // g,
                           Q=1, H=K // g, W=1, groups=g, ifmap_bits=gb,
                           weight_bits=pooled_bits(layer, arch, r), ofmap_bits=gb,
                           weight_is_activation=True)),
            ("update", update_op(layer, arch, training))]
    return ops


TRAINING = GradientFilter

METHODS = (Method(name="gradient_filter", transform=baseline.transform, pe_kinds=("mac",),
                  presets=("edge_tiny", "tpu_like"), training_only=True,
                  description="training: dY averaged per r x r patch, backward on the reduced "
                              "map, X kept pooled (Yang et al. 2023)"),)
