"""Binary-weight layers as commands of the adder accelerator with sign-add PEs
(hw/methods/bwn/).

A `BwnJob` is the adder accelerator's job (AdderJob: the baseline's DRAM image, command and
output layout on the adder arch's plan view) whose weights are ±1, one element of the array's
width each (the loader has no 1-bit unpacker), and whose reference is the binary-weight kernel:
Σ ±x over the zero-padded window (workloads/methods/bwn/reference.bwn_conv_int on the packed
signs), wrapped to psum_bits, then requantized by the writer, whose per-channel multiplier is
where α_k is folded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlaforge.workloads.methods.bwn.reference import bwn_conv_int
from dlaforge.workloads.methods.xnor.reference import pack_signs

from ...stimulus import wrap
from ..addernet.stimulus import AdderJob


@dataclass
class BwnJob(AdderJob):
    """`arch` is the adder arch's plan view; `weight` holds ±1."""

    def sums(self) -> np.ndarray:
        g = self.gemm
        out = bwn_conv_int(self.ifmap[None], pack_signs(self.weight), g.stride, g.padding,
                           out_size=(g.P, g.Q))[0]
        return wrap(out, self.arch.pe_array.psum_bits)

    @staticmethod
    def random(arch, gemm, rng, low=None, high=None, requant=True, relu=False,
               **dram) -> BwnJob:
        """Activations drawn from [low, high) (default: the ifmap width's full range), weights
        ±1 at random; with `requant`, per-channel scales over the outputs' range."""
        lo = -(1 << (arch.pe_array.ifmap_bits - 1)) if low is None else low
        hi = (1 << (arch.pe_array.ifmap_bits - 1)) if high is None else high
        x = rng.integers(lo, hi, (gemm.C, gemm.H, gemm.W))
        w = rng.choice(np.array([-1, 1]), (gemm.K, gemm.C, gemm.R, gemm.S))
        return BwnJob.of(arch, gemm, x, w, rng, requant, relu, **dram)

