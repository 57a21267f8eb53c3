"""One layer run on the accelerator: its DRAM image, its command, its reference result.

`LayerJob` places the ifmap (C x H x W), the weights (K x C x R x S), with `requant` the
parameter table (K x program.REQUANT_PIECES elements, hw/requant.param_table), and room for the
outputs (K x P x Q) one after another in a flat DRAM of elements, builds the command
descriptor, and knows the bit-exact expected output: the numba direct convolution of
workloads/methods/conv_ref.py wrapped to psum_bits as the PEs' adders wrap, then with
`requant` requantized to ofmap_bits (workloads/methods/requant_ref.py).
`RtlResult` is what a simulator run gives back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.program import element_bytes
from dlaforge.workloads.methods.accelerator_plan import Gemm, RtlPlan
from dlaforge.workloads.methods.conv_ref import conv2d_int
from dlaforge.workloads.methods.requant_ref import Requant, random_requant

from .layouts import command_fields
from .requant import param_table


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
    requant: Requant = None  # None: the outputs are the psum_bits sums

    def __post_init__(self):
        self.plan = RtlPlan.make(self.arch, self.dataflow, self.gemm,
                                 requant=self.requant is not None)
        if self.requant is not None and self.requant.channels != self.gemm.K:
            raise ValueError(f"`requant` has {self.requant.channels} channels, the layer "
                             f"{self.gemm.K} filters")
        if self.bandwidth is None:
            self.bandwidth = self.arch.dram.bandwidth_bytes_per_cycle
        if self.latency is None:
            self.latency = self.arch.dram.latency_cycles

    @staticmethod
    def random(arch, dataflow, gemm, rng, low=None, high=None, requant=False, relu=False,
               **dram) -> LayerJob:
        """Operands drawn from [low, high) (default: the widths' full ranges); with `requant`,
        per-channel scales that spread the outputs over the ofmap_bits range with some
        saturation both ways (requant_ref.random_requant), and `relu`."""
        pe = arch.pe_array
        lo_i, hi_i = -(1 << (pe.ifmap_bits - 1)), 1 << (pe.ifmap_bits - 1)
        lo_w, hi_w = -(1 << (pe.weight_bits - 1)), 1 << (pe.weight_bits - 1)
        g = gemm
        x = rng.integers(lo_i if low is None else low, hi_i if high is None else high,
                         (g.C, g.H, g.W))
        w = rng.integers(lo_w if low is None else low, hi_w if high is None else high,
                         (g.K, g.C, g.R, g.S))
        job = LayerJob(arch, dataflow, gemm, x, w, **dram)
        if requant:
            job = replace(job, requant=random_requant(job.sums(), pe.ofmap_bits, rng, relu))
        return job

    @property
    def table(self) -> np.ndarray:
        """The parameter table's DRAM elements (none without requant)."""
        return (np.zeros(0, dtype=np.int64) if self.requant is None
                else param_table(self.requant))

    @property
    def bases(self) -> tuple[int, int, int]:
        """DRAM bases of the ifmap, the weights and the outputs."""
        ifmap_base = 0
        weight_base = self.ifmap.size
        return ifmap_base, weight_base, weight_base + self.weight.size + self.table.size

    def dram_image(self) -> np.ndarray:
        g = self.gemm
        _, _, out_base = self.bases
        memory = np.zeros(out_base + g.K * g.P * g.Q, dtype=np.int64)
        memory[:out_base] = np.concatenate([self.ifmap.ravel(), self.weight.ravel(),
                                            self.table])
        return memory

    def command(self) -> dict:
        ifmap_base, weight_base, out_base = self.bases
        relu = self.requant is not None and self.requant.relu
        return command_fields(self.plan, ifmap_base, weight_base, out_base,
                              requant_base=weight_base + self.weight.size, relu=relu)

    def output_of(self, memory: np.ndarray) -> np.ndarray:
        g = self.gemm
        _, _, out_base = self.bases
        return memory[out_base:out_base + g.K * g.P * g.Q].reshape(g.K, g.P, g.Q)

    def sums(self) -> np.ndarray:
        """The accumulators' K x P x Q sums (wrapped to psum_bits)."""
        g = self.gemm
        out = conv2d_int(self.ifmap[None], self.weight, g.stride, g.padding,
                         out_size=(g.P, g.Q))[0]
        return wrap(out, self.arch.pe_array.psum_bits)

    def expected(self) -> np.ndarray:
        if self.requant is None:
            return self.sums()
        return self.requant.apply(self.sums(), self.arch.pe_array.ofmap_bits)

    def element_bytes(self) -> tuple[tuple[int, int], int]:
        """DRAM bytes of an (ifmap, weight) element read and of an output written. A parameter
        piece is read as one byte, which is an ifmap element's size wherever requantization
        is built (8-bit elements), so the DRAM model times it as an ifmap beat."""
        pe = self.arch.pe_array
        out_bits = pe.psum_bits if self.requant is None else pe.ofmap_bits
        return ((element_bytes(pe.ifmap_bits), element_bytes(pe.weight_bits)),
                element_bytes(out_bits))


@dataclass
class RtlResult:
    output: np.ndarray       # K x P x Q
    perf: dict               # the accelerator's counters
    testbench_cycles: int    # cycles from taking the command to idle, counted by the testbench
    wall_seconds: float = 0.0
    extra: dict = field(default_factory=dict)
