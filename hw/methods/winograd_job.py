"""One 3x3 stride-1 convolution run through the Winograd RTL: its data in the order the units
and the accelerator take it, its quantization parameters, and its bit-exact reference.

The host side of the three phases of dlaforge/rtl_winograd_plan.py:
- `input_tiles`: the a x a input tiles, (channel, tile row, tile column) order, cut from the
  zero-padded ifmap (winograd_ref.pad_input); the input-transform unit turns each into a² taps;
- `tap_job(tap, v)`: the accelerator's LayerJob of one tap: ifmap V_tap (C x tp x tq, taken from
  the input-transform unit's outputs), weights U_tap (K x C x 1 x 1);
- `m_tiles(sums)`: the a² tap sums of every (filter, tile row, tile column), the
  output-transform unit's input, gathered from the accelerator's K x tp x tq output per tap;
- `output_of(y_tiles)`: the m x m output tiles put back as K x P x Q.
`expected()` is winograd_ref.conv_quant's integer result for the same x, U, exponents and
shifts (the output before requantization).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.rtl_winograd_plan import ALIGN_BITS, SHIFT_BITS, WinogradPlan
from dlaforge.workloads.methods.winograd_ref import QuantWeights, Variant, conv_quant, pad_input

from ..job import LayerJob


@dataclass
class WinogradJob:
    arch: ArchSpec
    variant: Variant
    dataflow: str
    x: np.ndarray            # C x H x W ifmap codes
    u: np.ndarray            # K x C x a x a Winograd-domain weight codes
    u_exp: np.ndarray        # a x a weight exponents (power-of-two scale per tap)
    v_shift: np.ndarray      # a x a input right shifts (tap-wise input scales)
    padding: int = 1
    bandwidth: float = None  # DRAM model of the tap GEMMs; default: the spec's
    latency: int = None

    def __post_init__(self):
        C, H, W = self.x.shape
        self.P, self.Q = H + 2 * self.padding - 2, W + 2 * self.padding - 2
        self.plan = WinogradPlan.of_conv(self.variant.m, C, self.u.shape[0], self.P, self.Q)
        self.plan.tap_plan(self.arch, self.dataflow)     # SpecError if a tap cannot run
        tap_exp = np.asarray(self.v_shift, np.int64) + np.asarray(self.u_exp, np.int64)
        self.align = tap_exp - tap_exp.min()
        for name, values, bits in (("input shift", self.v_shift, SHIFT_BITS),
                                   ("alignment shift", self.align, ALIGN_BITS)):
            if np.min(values) < 0 or np.max(values) >= 1 << bits:
                raise SpecError(f"a tap's {name} must lie in 0..{(1 << bits) - 1}, "
                                f"not {np.min(values)}..{np.max(values)}")
        if self.bandwidth is None:
            self.bandwidth = self.arch.dram.bandwidth_bytes_per_cycle
        if self.latency is None:
            self.latency = self.arch.dram.latency_cycles

    @staticmethod
    def random(arch, variant, dataflow, C, H, W, K, rng, padding=1, x_range=None,
               u_range=None, **dram) -> WinogradJob:
        """Random codes over the array's widths (or the given [low, high) ranges), random
        weight exponents in -8..0 and input shifts in 0..7."""
        pe, a = arch.pe_array, variant.a
        x_lo, x_hi = x_range or (-(1 << (pe.ifmap_bits - 1)), 1 << (pe.ifmap_bits - 1))
        u_lo, u_hi = u_range or (-(1 << (pe.weight_bits - 1)) + 1, 1 << (pe.weight_bits - 1))
        return WinogradJob(arch, variant, dataflow, rng.integers(x_lo, x_hi, (C, H, W)),
                           rng.integers(u_lo, u_hi, (K, C, a, a)), rng.integers(-8, 1, (a, a)),
                           rng.integers(0, 8, (a, a)), padding, **dram)

    @property
    def taps(self) -> int:
        return self.plan.taps

    def input_tiles(self) -> np.ndarray:
        """(C * tp * tq) x a² input tiles."""
        v, p = self.variant, self.plan
        xpad = pad_input(self.x[None], self.padding, self.P, self.Q, v.m)[0]
        tiles = [xpad[c, i * v.m:i * v.m + v.a, j * v.m:j * v.m + v.a].ravel()
                 for c in range(p.C) for i in range(p.tp) for j in range(p.tq)]
        return np.array(tiles, dtype=np.int64)

    def tap_weights(self, tap: int) -> np.ndarray:
        """K x C x 1 x 1 weights of one tap."""
        return self.u.reshape(self.plan.K, self.plan.C, self.taps)[:, :, tap, None, None]

    def tap_job(self, tap: int, v_tiles: np.ndarray) -> LayerJob:
        """The accelerator's job for `tap` on the input-transform unit's outputs `v_tiles`."""
        p = self.plan
        ifmap = np.asarray(v_tiles)[:, tap].reshape(p.C, p.tp, p.tq)
        return LayerJob(self.arch, self.dataflow, p.tap_gemm, ifmap, self.tap_weights(tap),
                        self.bandwidth, self.latency)

    def m_tiles(self, sums: list) -> np.ndarray:
        """(K * tp * tq) x a² tap sums from the accelerator's per-tap outputs (K x tp x tq)."""
        return np.stack([np.asarray(s).ravel() for s in sums], axis=1)

    def output_of(self, y_tiles: np.ndarray) -> np.ndarray:
        """K x P x Q from (K * tp * tq) x m² output tiles."""
        p, m = self.plan, self.variant.m
        y = np.asarray(y_tiles).reshape(p.K, p.tp, p.tq, m, m).transpose(0, 1, 3, 2, 4)
        return y.reshape(p.K, p.tp * m, p.tq * m)[:, :self.P, :self.Q]

    def expected(self) -> np.ndarray:
        """conv_quant's K x P x Q integer result."""
        qw = QuantWeights(self.u, np.asarray(self.u_exp, np.int64))
        return conv_quant(self.x[None], qw, self.v_shift, self.padding, self.variant,
                          self.arch.pe_array.ifmap_bits).y[0]
