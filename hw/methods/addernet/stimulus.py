"""Adder layers as commands of the adder accelerator (hw/methods/addernet/).

An `AdderJob` is the baseline's LayerJob (hw/stimulus.py: the same DRAM image, command and output
layout) whose reference is the adder layer's: the accumulators hold -Σ|x - w| over the
zero-padded window (reference.adder_conv_int, padded taps counting |0 - w|), wrapped to
psum_bits, then requantized by the writer where the design has that stage.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dlaforge.workloads.methods.addernet.plan import DATAFLOW, adder_arch
from dlaforge.workloads.methods.addernet.reference import adder_conv_int
from dlaforge.workloads.methods.requant_ref import random_requant

from ...stimulus import LayerJob, wrap


@dataclass
class AdderJob(LayerJob):
    """`arch` is the adder arch's plan view (plan.adder_arch)."""

    def sums(self) -> np.ndarray:
        g = self.gemm
        out = adder_conv_int(self.ifmap[None], self.weight, g.stride, g.padding,
                             out_size_=(g.P, g.Q))[0]
        return wrap(out, self.arch.pe_array.psum_bits)

    @staticmethod
    def random(arch, gemm, rng, low=None, high=None, requant=True, relu=False,
               **dram) -> AdderJob:
        """Operands drawn from [low, high) (default: the widths' full ranges) on the adder arch
        `arch` (pe_kind adder); with `requant`, per-channel scales over the outputs' range."""
        built = adder_arch(arch)
        pe = built.pe_array
        lo_i, hi_i = -(1 << (pe.ifmap_bits - 1)), 1 << (pe.ifmap_bits - 1)
        lo_w, hi_w = -(1 << (pe.weight_bits - 1)), 1 << (pe.weight_bits - 1)
        x = rng.integers(lo_i if low is None else low, hi_i if high is None else high,
                         (gemm.C, gemm.H, gemm.W))
        w = rng.integers(lo_w if low is None else low, hi_w if high is None else high,
                         (gemm.K, gemm.C, gemm.R, gemm.S))
        return AdderJob.of(arch, gemm, x, w, rng, requant, relu, **dram)

    @classmethod
    def of(cls, arch, gemm, x, w, rng=None, requant=True, relu=False, **dram) -> AdderJob:
        """The job of operands x, w on the adder arch `arch` (a subclass's job for a subclass,
        whose `sums` the requantization scales are drawn over)."""
        job = cls(adder_arch(arch), DATAFLOW, gemm, np.asarray(x, np.int64),
                  np.asarray(w, np.int64), **dram)
        if requant:
            job = replace(job, requant=random_requant(job.sums(), job.arch.pe_array.ofmap_bits,
                                                      rng or np.random.default_rng(0), relu))
        return job
