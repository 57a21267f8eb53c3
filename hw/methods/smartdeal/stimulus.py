"""One layer on the SmartDeal unit: its DRAM image (ifmap, codes, room for the outputs), its
command and its bit-exact expected output.

The expected output is the numba direct convolution (conv_ref.conv2d_int) of the ifmap with
the integer weights smartdeal_ref.rebuild gives for the decomposition, wrapped to psum_bits;
real outputs are those times 2**(b_exp + p_min) per filter, a scale the unit leaves to
whatever consumes its outputs (the baseline accelerator has no output scaling either).
`random_decomposition` makes codes with the corner cases the rebuild engine must get right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.program import element_bytes
from dlaforge.workloads.methods.accelerator_plan import Gemm
from dlaforge.workloads.methods.smartdeal.plan import SmartDealPlan, ce_rows
from dlaforge.workloads.methods.conv_ref import conv2d_int
from dlaforge.workloads.methods.smartdeal.reference import (  # noqa: F401 (its tests' draw)
    P_MIN, Decomposition, random_decomposition, rebuild, unblock)

from ...stimulus import wrap
from ...layouts import command_fields
from .unit import REBUILT_BITS


def code_region(d: Decomposition, first: int, count: int) -> np.ndarray:
    """The DRAM bytes of filters first .. first+count-1 (layout: workloads/methods/smartdeal/
    plan.py)."""
    sign = d.sign[first:first + count]
    b_bytes = d.b_q[first:first + count].ravel() & 0xFF
    bits = (sign != 0).ravel().astype(np.uint8)
    bitmap = np.packbits(bits, bitorder="little")
    exp = d.exp[first:first + count]
    nibbles = (((sign < 0) << 3) | (exp - P_MIN))[sign != 0]
    nibbles = np.concatenate([nibbles, np.zeros(len(nibbles) % 2, nibbles.dtype)])
    codes = nibbles[0::2] | (nibbles[1::2] << 4)
    return np.concatenate([b_bytes, bitmap, codes]).astype(np.int64)


@dataclass
class SmartDealJob:
    arch: ArchSpec
    gemm: Gemm
    decomposition: Decomposition     # K filters of ce_rows(Kd) rows
    ifmap: np.ndarray                # C x H x W
    bandwidth: float = None
    latency: int = None
    dataflow: str = "ws"

    def __post_init__(self):
        self.plan = SmartDealPlan.make(self.arch, self.gemm, REBUILT_BITS)
        if self.bandwidth is None:
            self.bandwidth = self.arch.dram.bandwidth_bytes_per_cycle
        if self.latency is None:
            self.latency = self.arch.dram.latency_cycles
        cols = self.arch.pe_array.cols
        self.codes = np.concatenate([code_region(self.decomposition, n0, min(cols, self.gemm.K - n0))
                                     for n0 in range(0, self.gemm.K, cols)])

    @staticmethod
    def random(arch, gemm, rng, **options) -> SmartDealJob:
        """Random ifmap over the full range and random_decomposition codes."""
        dram = {k: options.pop(k) for k in ("bandwidth", "latency") if k in options}
        half = 1 << (arch.pe_array.ifmap_bits - 1)
        x = rng.integers(-half, half, (gemm.C, gemm.H, gemm.W))
        return SmartDealJob(arch, gemm, random_decomposition(rng, gemm.K, gemm.Kd, **options),
                            x, **dram)

    @property
    def bases(self) -> tuple[int, int, int]:
        return 0, self.ifmap.size, self.ifmap.size + self.codes.size

    def weights(self) -> np.ndarray:
        """The rebuilt integer weights K x C x R x S."""
        g = self.gemm
        return unblock(rebuild(self.decomposition), (g.K, g.C, g.R, g.S))

    def dram_image(self) -> np.ndarray:
        g = self.gemm
        return np.concatenate([self.ifmap.ravel(), self.codes,
                               np.zeros(g.K * g.P * g.Q, np.int64)]).astype(np.int64)

    def command(self) -> dict:
        return {**command_fields(self.plan.tiling, *self.bases),
                "ce_rows": self.plan.rows_per_filter}

    def output_of(self, memory: np.ndarray) -> np.ndarray:
        g = self.gemm
        out_base = self.bases[2]
        return memory[out_base:out_base + g.K * g.P * g.Q].reshape(g.K, g.P, g.Q)

    def expected(self) -> np.ndarray:
        g = self.gemm
        out = conv2d_int(self.ifmap[None], self.weights(), g.stride, g.padding,
                         out_size=(g.P, g.Q))[0]
        return wrap(out, self.arch.pe_array.psum_bits)

    def element_bytes(self) -> tuple[tuple[int, int], int]:
        pe = self.arch.pe_array
        return (element_bytes(pe.ifmap_bits), 1), element_bytes(pe.psum_bits)
