"""PalQuant layers as commands of the low-bit array (hw/methods/palquant/).

A PalQuant layer of G groups (palquant_ref.palquant_conv: 2-bit codes qa[G·C, H, W] and
qw[G·K, C, R, S]) runs as G commands of the accelerator, one per group, one after another:

- the ifmap is stored once, all G·C channels of codes (C x H x W per group, group after group);
  command g reads stored input group (g + shift) mod G: the cyclic shuffle is the command's
  `ifmap_base` (an address remap, no data moves);
- command g's weights are group g's filters as the PalQuant level times three,
  w' = 2·q_w − 3 ∈ {−3, −1, 1, 3}, so the array's Σ w'·q_a is PalQuant's integer output
  T = 2·Σq_w·q_a − 3·Σq_a itself (no separate window sum or combine step);
- its outputs are group g's K output channels.

A wider layer (`bitsliced_conv`'s unsigned codes, e.g. 4 bit) is one `SlicedJob`: its ifmap and
weights stored as 2-bit slice planes, least significant first, and one command whose passes
(dlaforge.workloads.methods.palquant.plan.slice_passes) add every slice pair's products into the
accumulator, shifted between diagonals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlaforge.workloads.methods.palquant.plan import CODE_BITS, slice_tops
from dlaforge.workloads.methods.accelerator_plan import Gemm
from dlaforge.workloads.methods.palquant.reference import (LEVELS, bitsliced_conv, palquant_conv,
                                                           slices)

from ...stimulus import LayerJob, wrap
from ...layouts import GeneratorParams, command_fields

CODES = LEVELS + 1          # 2-bit codes 0..3
PARAMS = GeneratorParams(slice_bits=CODE_BITS)   # the generator's parameters for the array
ONE_PASS = {"a_top": 0, "w_top": 0, "ifmap_plane": 0, "weight_plane": 0}


def weight_levels(qw: np.ndarray) -> np.ndarray:
    """The PalQuant weight level times three, as the array's signed weight operand."""
    return 2 * np.asarray(qw, np.int64) - LEVELS


@dataclass
class GroupJob(LayerJob):
    """Command g of a PalQuant layer. `ifmap` holds every stored group (G·C x H x W), `weight`
    group g's levels (K x C x R x S); `source` is the stored input group the command reads."""

    source: int = 0
    reference: np.ndarray = None      # the group's K x P x Q outputs, from palquant_ref

    def command(self) -> dict:
        g = self.gemm
        _, weight_base, ofmap_base = self.bases
        return command_fields(self.plan, self.source * g.C * g.H * g.W, weight_base, ofmap_base,
                              PARAMS, ONE_PASS)

    def expected(self) -> np.ndarray:
        return self.reference


@dataclass
class PalquantLayer:
    """One PalQuant layer on the low-bit array `arch`: codes, groups, shuffle and its commands."""

    arch: object
    dataflow: str
    gemm: Gemm                # one group's conv (C -> K channels)
    groups: int
    shift: int
    qa: np.ndarray            # G·C x H x W activation codes
    qw: np.ndarray            # G·K x C x R x S weight codes
    bandwidth: float = None
    latency: int = None

    @staticmethod
    def random(arch, dataflow, gemm, groups, shift, rng, low=0, high=CODES, **dram):
        qa = rng.integers(low, high, (groups * gemm.C, gemm.H, gemm.W))
        qw = rng.integers(low, high, (groups * gemm.K, gemm.C, gemm.R, gemm.S))
        return PalquantLayer(arch, dataflow, gemm, groups, shift, qa, qw, **dram)

    def expected(self) -> np.ndarray:
        """T of every output (G·K x P x Q), wrapped to the accumulators' width."""
        g = self.gemm
        out = palquant_conv(self.qa[None], self.qw, self.groups, g.stride, g.padding,
                            self.shift, out_size=(g.P, g.Q))[0]
        return wrap(out, self.arch.pe_array.psum_bits)

    def jobs(self) -> list[GroupJob]:
        K, expected = self.gemm.K, self.expected()
        return [GroupJob(self.arch, self.dataflow, self.gemm, self.qa,
                         weight_levels(self.qw[g * K:(g + 1) * K]), self.bandwidth, self.latency,
                         source=(g + self.shift) % self.groups,
                         reference=expected[g * K:(g + 1) * K])
                for g in range(self.groups)]


@dataclass
class SlicedJob(LayerJob):
    """A layer of unsigned `bits`-bit codes as one bit-sliced command: `ifmap` holds the slice
    planes (slices x C x H x W), `weight` the weight's (slices x K x C x R x S)."""

    bits: int = 2 * CODE_BITS

    @staticmethod
    def of_codes(arch, dataflow, gemm, a_codes, w_codes, bits, **dram) -> SlicedJob:
        return SlicedJob(arch, dataflow, gemm, np.stack(slices(a_codes, bits, CODE_BITS)),
                         np.stack(slices(w_codes, bits, CODE_BITS)), bits=bits, **dram)

    @staticmethod
    def random(arch, dataflow, gemm, rng, bits=2 * CODE_BITS, low=0, high=None, **dram):
        high = 1 << bits if high is None else high
        a = rng.integers(low, high, (gemm.C, gemm.H, gemm.W))
        w = rng.integers(low, high, (gemm.K, gemm.C, gemm.R, gemm.S))
        return SlicedJob.of_codes(arch, dataflow, gemm, a, w, bits, **dram)

    def jobs(self) -> list[SlicedJob]:
        return [self]

    def command(self) -> dict:
        top = slice_tops(self.bits)
        passes = {"a_top": top, "w_top": top, "ifmap_plane": self.ifmap[0].size,
                  "weight_plane": self.weight[0].size}
        return command_fields(self.plan, *self.bases, PARAMS, passes)

    def codes(self) -> tuple[np.ndarray, np.ndarray]:
        """The unsigned codes the slice planes hold: Σ_i plane_i · 4^i."""
        weights = 1 << (CODE_BITS * np.arange(len(self.ifmap)))
        return np.tensordot(weights, self.ifmap, 1), np.tensordot(weights, self.weight, 1)

    def expected(self) -> np.ndarray:
        g = self.gemm
        a, w = self.codes()
        out = bitsliced_conv(a[None], w, self.bits, g.stride, g.padding, CODE_BITS,
                             out_size=(g.P, g.Q))[0]
        return wrap(out, self.arch.pe_array.psum_bits)
