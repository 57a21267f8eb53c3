"""What the hardware really performs for a layer under a method.

A `HwOp` is one convolution-shaped job for the PE array: the loop dims it runs (which may differ
from the layer's, e.g. a transposed conv lowered by zero insertion), the bit widths of every
tensor it stores or moves, and the operation counts it adds to the layer's record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dlaforge.errors import positive_int


@dataclass(frozen=True)
class HwOp:
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

    def __post_init__(self):
        for dim in ("N", "K", "C", "P", "Q", "R", "S", "H", "W", "stride", "groups",
                    "ifmap_bits", "weight_bits", "psum_bits", "ofmap_bits"):
            positive_int(getattr(self, dim), f"hw op {self.name!r}: {dim}")

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
        return self.K * (self.C // self.groups) * self.R * self.S

    @property
    def ofmap_elements(self) -> int:
        return self.N * self.K * self.P * self.Q

    def compulsory_dram_bytes(self) -> tuple[int, int]:
        """(read, write) bytes that any schedule must move: each input once, each output once."""
        read_bits = self.ifmap_elements * self.ifmap_bits + self.weight_elements * self.weight_bits
        return -(-read_bits // 8), -(-self.ofmap_elements * self.ofmap_bits // 8)
