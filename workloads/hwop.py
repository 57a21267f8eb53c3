"""What the hardware really performs for a layer under a method.

A `HwOp` is one convolution-shaped job for the PE array: the loop dims it runs (which may differ
from the layer's, e.g. a transposed conv lowered by zero insertion), the bit widths of every
tensor it stores or moves, and the operation counts it adds to the layer's record.

`pe_op` names what one PE operation is: "mac" (a multiply-accumulate at ifmap_bits x
weight_bits) or "xnor_popcount" (XNOR of two ifmap_bits-wide words of signs, a popcount and an
accumulate) or "sad" (AdderNet: a subtraction, an absolute value and an accumulate,
c - |a - w|). `dram_scale[operand]` is the number of DRAM elements per array-side element when
a unit between DRAM and the array changes the tensor's form (Winograd transforms, the SmartDeal
rebuild, sign packing, bit slices); operands not named move as they are.

The window may have a column stride, padding per side and dilation (workloads/window.py).
`weight_is_activation` marks a product of two activations (a `matmul` layer): the operand in
the weight's place differs per image (N of them), is an activation of the network and is
never stored as a weight. `packed_codes` names the operands ("ifmap", "ofmap") that travel
as activation codes packed several to a DRAM byte, as the network's layers hand them on
(a datapath of activation codes decides it over the whole network:
workloads/methods/datapath.link_packed_codes); the controller's models count their bytes so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from dlaforge.errors import positive_int

from .compression import zero_fraction
from .quantizers import DEFAULT_QUANTIZER, Quantizer
from .window import Window, canonical_window

# What one PE does per step of the op: "mac", or an operation of another PE kind, named by the
# family that uses it and priced by that family's model (sim/methods/<family>.py, PE_OP_PJ).
PE_OP = re.compile(r"[a-z][a-z0-9_]{0,39}")


@dataclass(frozen=True)
class HwOp(Window):
    name: str
    N: int
    K: int
    C: int
    P: int
    Q: int
    R: int
    S: int
    H: int            # input rows as stored in DRAM (unpadded)
    W: int
    stride: int
    padding: int
    groups: int
    ifmap_bits: int
    weight_bits: int
    psum_bits: int
    ofmap_bits: int
    ops: dict = field(default_factory=dict)
    weight_storage_bits: int = 0
    pe_op: str = "mac"
    dram_scale: dict = field(default_factory=dict)
    stride_w: int | None = None
    pads: tuple | None = None
    dilation: tuple = (1, 1)
    weight_is_activation: bool = False
    ifmap_zeros: float = 0.0        # share of zero ifmap values (the layer's; zero gating)
    ofmap_zeros: float = 0.0
    # the array-side ifmap is the layer's activations as they are (False: Winograd-domain
    # tiles, whose zeros are not the layer's; zero gating gates only plain MAC ifmaps)
    ifmap_plain: bool = True
    quantizer: Quantizer = DEFAULT_QUANTIZER   # how its outputs are requantized (--quant)
    packed_codes: tuple = ()        # operands moved as packed activation codes
    # (m, H, W, padding): the 3x3 stride-1 layer a Winograd op runs in the Winograd domain, in
    # output tiles of m x m (workloads/methods/winograd; the controller runs it as one
    # command, program.tap_shape); () for any other op
    tap_layer: tuple = ()
    # the width of the sums its design's requantization stage takes (0: psum_bits): a Winograd
    # design's stage is as wide as its transformed outputs (Variant.output_bits), for the
    # layers it runs direct too (workloads/methods/winograd)
    requant_bits: int = 0

    def __post_init__(self):
        for dim in ("N", "K", "C", "P", "Q", "R", "S", "H", "W", "groups",
                    "ifmap_bits", "weight_bits", "psum_bits", "ofmap_bits"):
            positive_int(getattr(self, dim), f"hw op {self.name!r}: {dim}")
        canonical_window(self, f"hw op {self.name!r}")
        for name in ("ifmap_zeros", "ofmap_zeros"):
            zero_fraction(getattr(self, name), name, f"hw op {self.name!r}")
        if not isinstance(self.pe_op, str) or not PE_OP.fullmatch(self.pe_op):
            raise ValueError(f"hw op {self.name!r}: pe_op {self.pe_op!r} is not an operation name")

    def dram_factor(self, operand: str) -> float:
        """DRAM elements per array-side element of `operand` (1 unless a unit reshapes it)."""
        return self.dram_scale.get(operand, 1.0)

    @property
    def pe_macs(self) -> int:
        """Multiply-accumulates the PE array executes for this op."""
        return self.N * self.K * (self.C // self.groups) * self.P * self.Q * self.R * self.S

    # Tensor sizes in elements, as stored in DRAM --------------------------------------------
    @property
    def ifmap_elements(self) -> int:
        return self.N * self.C * self.H * self.W

    @property
    def weight_elements(self) -> int:
        """Elements of the weight operand: one set, or one per image when it is an activation."""
        images = self.N if self.weight_is_activation else 1
        return images * self.K * (self.C // self.groups) * self.R * self.S

    @property
    def ofmap_elements(self) -> int:
        return self.N * self.K * self.P * self.Q

    @property
    def read_ifmap_elements(self) -> int:
        """Ifmap elements some output reads: with stride > kernel the rows and columns between
        windows are never needed (a strided 1x1 conv reads a quarter of its input)."""
        (sh, sw), (top, left, _, _), (dh, dw) = self.strides, self.paddings, self.dilation
        return self.N * self.C * (_touched(self.H, self.P, self.R, sh, top, dh)
                                  * _touched(self.W, self.Q, self.S, sw, left, dw))

    def compulsory_dram_bytes(self) -> tuple[int, int]:
        """(read, write) bytes that any schedule must move: each input some output reads once,
        each output once."""
        read_bits = (self.read_ifmap_elements * self.ifmap_bits * self.dram_factor("ifmap")
                     + self.weight_elements * self.weight_bits * self.dram_factor("weight"))
        write_bits = self.ofmap_elements * self.ofmap_bits * self.dram_factor("ofmap")
        return math.ceil(read_bits / 8), math.ceil(write_bits / 8)


def _touched(size: int, outputs: int, window: int, stride: int, padding: int,
             dilation: int) -> int:
    """Positions along one ifmap axis that some output's window taps (padding excluded)."""
    starts = np.arange(outputs) * stride - padding
    covered = (starts[:, None] + dilation * np.arange(window)).ravel()
    return len(np.unique(covered[(covered >= 0) & (covered < size)]))
