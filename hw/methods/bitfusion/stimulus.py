"""Layers as commands of the Bit Fusion accelerator (hw/methods/bitfusion/).

A `BitFusionJob` is the baseline's LayerJob (hw/stimulus.py: the same DRAM image, command and output
layout) on the accelerator built for one precision (plan.fused_arch): its ifmap and weights are
the layer's codes packed into fused words along the channels (reference.pack_lanes: C' =
ceil(C / lanes) words, the last one's missing lanes zero), its command the packed layer's, and
its reference the Bit Fusion reference on the codes (reference.bitfusion_conv_int, brick by
brick), wrapped to psum_bits, then requantized where that design requantizes (8x8).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dlaforge.workloads.methods.bitfusion.plan import (fused_arch, lanes, packed_channels,
                                                       requantizes)
from dlaforge.workloads.methods.bitfusion.reference import bitfusion_conv_int, pack_lanes
from dlaforge.workloads.methods.requant_ref import random_requant

from ...stimulus import LayerJob, wrap


def code_range(bits: int) -> tuple[int, int]:
    """[low, high) of signed `bits`-bit codes."""
    return -(1 << (bits - 1)), 1 << (bits - 1)


@dataclass
class BitFusionJob(LayerJob):
    """`arch` is the fused view (plan.fused_arch), `gemm` the packed layer, `ifmap` and
    `weight` the packed words; `codes` the layer's (x[C, H, W], w[K, C, R, S]) codes and
    `precision` their (a_bits, w_bits)."""

    codes: tuple = None
    precision: tuple = (8, 8)

    def sums(self) -> np.ndarray:
        g, (x, w) = self.gemm, self.codes
        out = bitfusion_conv_int(x[None], w, *self.precision, g.stride, g.padding,
                                 out_size=(g.P, g.Q))[0]
        return wrap(out, self.arch.pe_array.psum_bits)

    @classmethod
    def of(cls, arch, precision, dataflow, gemm, x, w, rng=None, requant=True, relu=False,
           **dram) -> BitFusionJob:
        """The job of codes x[C, H, W], w[K, C, R, S] of the layer `gemm` (its real channels) on
        the bitfusion arch `arch` at `precision` = (a_bits, w_bits); with `requant` (where the
        design requantizes), per-channel scales over the outputs' range."""
        a_bits, w_bits = precision
        n = lanes(a_bits, w_bits)
        x, w = np.asarray(x, np.int64), np.asarray(w, np.int64)
        job = cls(fused_arch(arch, a_bits, w_bits), dataflow,
                  replace(gemm, C=packed_channels(gemm.C, n)), pack_lanes(x, a_bits, n),
                  pack_lanes(w, w_bits, n, axis=1), codes=(x, w), precision=(a_bits, w_bits),
                  **dram)
        if requant and requantizes(arch, a_bits, w_bits):
            job = replace(job, requant=random_requant(job.sums(), job.arch.pe_array.ofmap_bits,
                                                      rng or np.random.default_rng(0), relu))
        return job

    @classmethod
    def random(cls, arch, precision, dataflow, gemm, rng, low=None, high=None, requant=True,
               relu=False, **dram) -> BitFusionJob:
        """Codes drawn from [low, high) (default: each width's full range)."""
        (lo_a, hi_a), (lo_w, hi_w) = (code_range(bits) for bits in precision)
        x = rng.integers(lo_a if low is None else low, hi_a if high is None else high,
                         (gemm.C, gemm.H, gemm.W))
        w = rng.integers(lo_w if low is None else low, hi_w if high is None else high,
                         (gemm.K, gemm.C, gemm.R, gemm.S))
        return cls.of(arch, precision, dataflow, gemm, x, w, rng, requant, relu, **dram)
