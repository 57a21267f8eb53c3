"""One DNN layer in loop-dim form: N K C P Q R S (batch, out-channels, in-channels, out-rows,
out-cols, kernel-rows, kernel-cols), with stride, padding, groups and input size.

Input rows/cols `H`, `W` are the unpadded input; `P`, `Q` are given explicitly because two
conventions exist (the usual floor rule and SCALE-Sim's ceil rule, see workloads.networks).
A transposed conv's `H`, `W` are its input and `P`, `Q` its (larger) output.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlaforge.errors import SpecError, non_negative_int, positive_int

LAYER_KINDS = ("conv2d", "depthwise", "pointwise", "linear", "gemm", "transposed_conv")


@dataclass(frozen=True)
class Layer:
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

    def __post_init__(self):
        where = f"layer {self.name!r}"
        if self.kind not in LAYER_KINDS:
            raise SpecError(f"{where}: unknown kind {self.kind!r}; choose from {', '.join(LAYER_KINDS)}")
        for dim in ("K", "C", "P", "Q", "H", "W", "R", "S", "N", "stride", "groups"):
            positive_int(getattr(self, dim), f"{where}: {dim}")
        non_negative_int(self.padding, f"{where}: padding")
        for name in ("ifmap_bits", "weight_bits"):
            if getattr(self, name) is not None:
                positive_int(getattr(self, name), f"{where}: {name}")
        if self.C % self.groups or self.K % self.groups:
            raise SpecError(f"{where}: groups={self.groups} must divide C={self.C} and K={self.K}")
        if self.kind == "transposed_conv":
            expected = (self.H - 1) * self.stride - 2 * self.padding + self.R
            if self.P != expected:
                raise SpecError(f"{where}: transposed conv output rows P={self.P}, expected {expected}")
        elif (self.P - 1) * self.stride + self.R > self.H + 2 * self.padding + self.stride - 1:
            raise SpecError(f"{where}: a {self.R}x{self.S} window at stride {self.stride} over "
                            f"{self.H} rows (padding {self.padding}) cannot give P={self.P}")

    @property
    def macs(self) -> int:
        """Nominal multiply-accumulates of the layer, whatever method runs it."""
        c_per_group = self.C // self.groups
        if self.kind == "transposed_conv":
            # every input pixel scatters one R x S kernel per (in, out) channel pair
            return self.N * self.K * c_per_group * self.H * self.W * self.R * self.S
        return self.N * self.K * c_per_group * self.P * self.Q * self.R * self.S

    def shape(self) -> dict:
        return {"N": self.N, "K": self.K, "C": self.C, "P": self.P, "Q": self.Q, "R": self.R,
                "S": self.S, "H": self.H, "W": self.W, "stride": self.stride,
                "padding": self.padding, "groups": self.groups}


def out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output rows of a convolution, the usual floor rule."""
    return (size + 2 * padding - kernel) // stride + 1


def conv(name, C, K, H, R=3, stride=1, padding=None, groups=1, N=1, W=None) -> Layer:
    """A square-kernel convolution; padding defaults to 'same' (R // 2)."""
    padding = R // 2 if padding is None else padding
    W = H if W is None else W
    kind = "depthwise" if groups == C == K and groups > 1 else ("pointwise" if R == 1 else "conv2d")
    return Layer(name=name, kind=kind, K=K, C=C, H=H, W=W, R=R, S=R, N=N, stride=stride,
                 padding=padding, groups=groups, P=out_size(H, R, stride, padding),
                 Q=out_size(W, R, stride, padding))


def linear(name, in_features, out_features, N=1) -> Layer:
    return Layer(name=name, kind="linear", K=out_features, C=in_features, P=1, Q=1, H=1, W=1, N=N)
