"""One DNN layer in loop-dim form: N K C P Q R S (batch, out-channels, in-channels, out-rows,
out-cols, kernel-rows, kernel-cols), with stride, padding, groups and input size.

Input rows/cols `H`, `W` are the unpadded input; `P`, `Q` are given explicitly because two
conventions exist (the usual floor rule and SCALE-Sim's ceil rule, see workloads.networks).
A transposed conv's `H`, `W` are its input and `P`, `Q` its (larger) output (up to
stride - 1 more than the window rule gives: ONNX's output_padding, added at the bottom/right).
The window may have a column stride, padding per side and dilation (workloads/window.py).

A `matmul` is a batched product of two activations (attention's scores Q·Kᵀ and context
A·V): N independent products of a P x C matrix (the ifmap) by a C x K matrix that is itself an
activation of the network, held where a weight would be. Nothing is stored as weights; each
image has its own second operand, moved as an activation.

A `vector` layer is a non-MAC operator (element-wise, pooling, softmax, normalization, data
movement) that the arch's vector unit runs; `op` names it (workloads/vector_ops.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from dlaforge.errors import SpecError, positive_int

from .compression import zero_fraction
from .vector_ops import POOLS, check_vector_layer
from .window import Window, canonical_window

LAYER_KINDS = ("conv2d", "depthwise", "pointwise", "linear", "gemm", "transposed_conv", "matmul",
               "vector")


@dataclass(frozen=True)
class Layer(Window):
    name: str
    kind: str
    K: int
    C: int
    P: int
    Q: int
    H: int
    W: int
    R: int = 1
    S: int = 1
    N: int = 1
    stride: int = 1
    padding: int = 0
    groups: int = 1
    ifmap_bits: int | None = None   # None: the PE array's native width
    weight_bits: int | None = None
    stride_w: int | None = None     # column stride (None: `stride`)
    pads: tuple | None = None       # (top, left, bottom, right) (None: `padding` all round)
    dilation: tuple = (1, 1)        # (rows, cols)
    op: str | None = None           # a vector layer's operator
    bias: bool | None = None        # None: a layer with weights has one (training prices it)
    # share of zero values in its input and output activations (0: dense), which an arch's
    # zero gating and DRAM compression use (workloads/compression.py); measured data, such as
    # Eyeriss's on AlexNet, is given per layer (network YAML or dataclasses.replace)
    ifmap_zeros: float = 0.0
    ofmap_zeros: float = 0.0

    def __post_init__(self):
        where = f"layer {self.name!r}"
        if self.kind not in LAYER_KINDS:
            raise SpecError(f"{where}: unknown kind {self.kind!r}; choose from {', '.join(LAYER_KINDS)}")
        for dim in ("K", "C", "P", "Q", "H", "W", "R", "S", "N", "groups"):
            positive_int(getattr(self, dim), f"{where}: {dim}")
        canonical_window(self, where)
        for name in ("ifmap_zeros", "ofmap_zeros"):
            object.__setattr__(self, name, zero_fraction(getattr(self, name), name, where))
        for name in ("ifmap_bits", "weight_bits"):
            if getattr(self, name) is not None:
                positive_int(getattr(self, name), f"{where}: {name}")
        if self.C % self.groups or self.K % self.groups:
            raise SpecError(f"{where}: groups={self.groups} must divide C={self.C} and K={self.K}")
        if self.bias not in (None, True, False):
            raise SpecError(f"{where}: bias must be true or false, not {self.bias!r}")
        if self.bias and self.kind in ("vector", "matmul"):
            raise SpecError(f"{where}: a {self.kind} layer has no weights, hence no bias")
        if (self.kind == "vector") != (self.op is not None):
            raise SpecError(f"{where}: a vector layer needs `op` (its operator), and only a "
                            f"vector layer has one")
        if self.kind == "vector":
            check_vector_layer(self)
            if self.op not in POOLS:
                return
        if self.kind == "matmul" and (self.groups, self.R, self.S, self.Q, self.W) != (1,) * 5:
            raise SpecError(f"{where}: a matmul is N x (P x C) by (C x K): groups, R, S, Q and W "
                            f"must be 1")
        (sh, sw), (top, left, bottom, right) = self.strides, self.paddings
        (eh, ew) = self.extent
        for axis, size, out, stride, extent, pad in (
                ("rows", self.H, self.P, sh, eh, top + bottom),
                ("cols", self.W, self.Q, sw, ew, left + right)):
            if self.kind == "transposed_conv":
                expected = (size - 1) * stride - pad + extent
                if not expected <= out < expected + stride:
                    upto = f" to {expected + stride - 1}" if stride > 1 else ""
                    raise SpecError(f"{where}: transposed conv output {axis} {out}, expected "
                                    f"{expected}{upto}")
            elif (out - 1) * stride + extent > size + pad + stride - 1:
                raise SpecError(f"{where}: a {self.R}x{self.S} window (extent {eh}x{ew}) at "
                                f"stride {sh}x{sw} over {self.H}x{self.W} (padding {pad} in "
                                f"{axis}) cannot give P={self.P}, Q={self.Q}")

    @property
    def macs(self) -> int:
        """Nominal multiply-accumulates of the layer, whatever method runs it."""
        c_per_group = self.C // self.groups
        if self.kind == "vector":
            return 0
        if self.kind == "transposed_conv":
            # every input pixel scatters one R x S kernel per (in, out) channel pair
            return self.N * self.K * c_per_group * self.H * self.W * self.R * self.S
        return self.N * self.K * c_per_group * self.P * self.Q * self.R * self.S

    def shape(self) -> dict:
        return {"N": self.N, "K": self.K, "C": self.C, "P": self.P, "Q": self.Q, "R": self.R,
                "S": self.S, "H": self.H, "W": self.W, "stride": self.stride,
                "padding": self.padding, "groups": self.groups, **self.window_shape(),
                **({"op": self.op} if self.op else {}),
                **({"bias": self.bias} if self.bias is not None else {}),
                **{width: getattr(self, width) for width in ("ifmap_bits", "weight_bits")
                   if getattr(self, width) is not None},
                **{share: getattr(self, share) for share in ("ifmap_zeros", "ofmap_zeros")
                   if getattr(self, share)}}


def out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output rows of a convolution, the usual floor rule."""
    return (size + 2 * padding - kernel) // stride + 1


def conv_kind(C: int, K: int, R: int, S: int, groups: int) -> str:
    """depthwise (one channel per group), pointwise (1x1) or conv2d."""
    if groups == C == K and groups > 1:
        return "depthwise"
    return "pointwise" if R == S == 1 else "conv2d"


def conv(name, C, K, H, R=3, stride=1, padding=None, groups=1, N=1, W=None) -> Layer:
    """A square-kernel convolution; padding defaults to 'same' (R // 2)."""
    padding = R // 2 if padding is None else padding
    W = H if W is None else W
    return Layer(name=name, kind=conv_kind(C, K, R, R, groups), K=K, C=C, H=H, W=W, R=R, S=R,
                 N=N, stride=stride, padding=padding, groups=groups,
                 P=out_size(H, R, stride, padding), Q=out_size(W, R, stride, padding))


def linear(name, in_features, out_features, N=1) -> Layer:
    return Layer(name=name, kind="linear", K=out_features, C=in_features, P=1, Q=1, H=1, W=1, N=N)


def matmul(name, P, C, K, N=1) -> Layer:
    """N products of two activations: a P x C matrix by a C x K matrix."""
    return Layer(name=name, kind="matmul", N=N, P=P, C=C, K=K, Q=1, H=P, W=1)


def vector(name, op, C, H, W=1, N=1) -> Layer:
    """A vector layer that keeps its size: N x C x H x W (rows of C elements for softmax and
    the norms: W = 1)."""
    return Layer(name=name, kind="vector", op=op, N=N, C=C, K=C, H=H, W=W, P=H, Q=W)
