"""One layer run on the accelerator: its DRAM image, its command, its reference result.

`LayerJob` places the ifmap (C x H x W), the weights (K x C x R x S) and room for the outputs
(K x P x Q, psum_bits each) one after another in a flat DRAM of elements, builds the command
descriptor, and knows the bit-exact expected output (the numba direct convolution of
workloads/methods/conv_ref.py, wrapped to psum_bits as the PEs' adders wrap).
`RtlResult` is what a simulator run gives back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.rtl_plan import Gemm, RtlPlan, element_bytes
from dlaforge.workloads.methods.conv_ref import conv2d_int

from .layouts import command_fields


def wrap(values, bits: int) -> np.ndarray:
    """Two's-complement wrap of integers to `bits`."""
    v = np.asarray(values, dtype=np.int64) & ((1 << bits) - 1)
    return np.where(v >= 1 << (bits - 1), v - (1 << bits), v)


@dataclass
class LayerJob:
    arch: ArchSpec
    dataflow: str
    gemm: Gemm
    ifmap: np.ndarray        # C x H x W
    weight: np.ndarray       # K x C x R x S
    bandwidth: float = None  # DRAM model; default: the spec's
    latency: int = None

    def __post_init__(self):
        self.plan = RtlPlan.make(self.arch, self.dataflow, self.gemm)
        if self.bandwidth is None:
            self.bandwidth = self.arch.dram.bandwidth_bytes_per_cycle
        if self.latency is None:
            self.latency = self.arch.dram.latency_cycles

    @staticmethod
    def random(arch, dataflow, gemm, rng, low=None, high=None, **dram) -> LayerJob:
        pe = arch.pe_array
        lo_i, hi_i = -(1 << (pe.ifmap_bits - 1)), 1 << (pe.ifmap_bits - 1)
        lo_w, hi_w = -(1 << (pe.weight_bits - 1)), 1 << (pe.weight_bits - 1)
        g = gemm
        x = rng.integers(lo_i if low is None else low, hi_i if high is None else high,
                         (g.C, g.H, g.W))
        w = rng.integers(lo_w if low is None else low, hi_w if high is None else high,
                         (g.K, g.C, g.R, g.S))
        return LayerJob(arch, dataflow, gemm, x, w, **dram)

    @property
    def bases(self) -> tuple[int, int, int]:
        ifmap_base = 0
        weight_base = self.ifmap.size
        return ifmap_base, weight_base, weight_base + self.weight.size

    def dram_image(self) -> np.ndarray:
        g = self.gemm
        _, _, out_base = self.bases
        memory = np.zeros(out_base + g.K * g.P * g.Q, dtype=np.int64)
        memory[:out_base] = np.concatenate([self.ifmap.ravel(), self.weight.ravel()])
        return memory

    def command(self) -> dict:
        return command_fields(self.plan, *self.bases)

    def output_of(self, memory: np.ndarray) -> np.ndarray:
        g = self.gemm
        _, _, out_base = self.bases
        return memory[out_base:out_base + g.K * g.P * g.Q].reshape(g.K, g.P, g.Q)

    def expected(self) -> np.ndarray:
        g = self.gemm
        out = conv2d_int(self.ifmap[None], self.weight, g.stride, g.padding,
                         out_size=(g.P, g.Q))[0]
        return wrap(out, self.arch.pe_array.psum_bits)

    def element_bytes(self) -> tuple[tuple[int, int], int]:
        pe = self.arch.pe_array
        return ((element_bytes(pe.ifmap_bits), element_bytes(pe.weight_bits)),
                element_bytes(pe.psum_bits))


@dataclass
class RtlResult:
    output: np.ndarray       # K x P x Q
    perf: dict               # the accelerator's counters
    testbench_cycles: int    # cycles from taking the command to idle, counted by the testbench
    wall_seconds: float = 0.0
    extra: dict = field(default_factory=dict)
