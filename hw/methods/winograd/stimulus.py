"""One 3x3 stride-1 convolution run through the Winograd RTL: its DRAM image and command,
its quantization parameters, and its bit-exact reference.

The host side of the one command that runs it on the Winograd top (hw/methods/winograd/top.py):
- `regions()`: where each operand lives in DRAM (elements): the zero-padded ifmap
  (winograd_ref.pad_input, C planes of (tp·m + 2) x (tq·m + 2)), the Winograd-domain weights
  (tap-major: tap t's K x C block), the V region the top writes (tap-major: tap t's C x tp x tq
  plane), the tap sums the accelerator writes (tap-major: K x tp x tq each) and the outputs
  the top writes (K x tp x tq tiles of m x m, row-major inside a tile);
- `dram_image()` and `command()`: the memory before the run and the command's fields;
- `tap_job(tap, v)`: the accelerator's LayerJob of one tap (its reference sums);
- `read_back(memory)`: V, the tap sums and the K x P x Q output out of the memory after the run.
`expected()` is winograd_ref.conv_quant's integer result for the same x, U, exponents and
shifts (the output before requantization).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.workloads.methods.winograd.plan import ALIGN_BITS, SHIFT_BITS, WinogradPlan
from dlaforge.workloads.methods.winograd.reference import (QuantWeights, Variant, conv_quant,
                                                           pad_input)

from ...stimulus import LayerJob
from ...layouts import command_fields


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

    def padded(self) -> np.ndarray:
        """C x (tp·m + 2) x (tq·m + 2): the ifmap zero-padded so that every tile is whole."""
        return pad_input(self.x[None], self.padding, self.P, self.Q, self.variant.m)[0]

    def regions(self) -> dict:
        """DRAM base of each region (elements), and `end`, the memory's size."""
        p = self.plan
        sizes = {"x": self.padded().size, "u": self.taps * p.K * p.C,
                 "v": self.taps * p.input_tiles, "m": self.taps * p.output_tiles,
                 "y": p.output_tiles * self.variant.m ** 2}
        bases, at = {}, 0
        for name, size in sizes.items():
            bases[name], at = at, at + size
        return {**bases, "end": at}

    def dram_image(self) -> np.ndarray:
        r = self.regions()
        memory = np.zeros(r["end"], np.int64)
        memory[r["x"]:r["u"]] = self.padded().ravel()
        weights = [self.tap_weights(t).ravel() for t in range(self.taps)]
        memory[r["u"]:r["v"]] = np.concatenate(weights)
        return memory

    def command(self) -> dict:
        """The top's command, field by dotted name (as hw.verilog's manifest names them)."""
        p, r, xpad = self.plan, self.regions(), self.padded()
        tap = command_fields(p.tap_plan(self.arch, self.dataflow), r["v"], r["u"], r["m"])
        lanes = {"in_shift": (np.ravel(self.v_shift), SHIFT_BITS),
                 "out_align": (self.align.ravel(), ALIGN_BITS)}
        packed = {name: sum(int(x) << (n * bits) for n, x in enumerate(values))
                  for name, (values, bits) in lanes.items()}
        return {**{f"tap.{name}": value for name, value in tap.items()},
                "v_step": p.input_tiles, "u_step": p.K * p.C, "m_step": p.output_tiles,
                "x_base": r["x"], "x_row": xpad.shape[2], "x_plane": xpad.shape[1] * xpad.shape[2],
                "y_base": r["y"], **packed}

    def read_back(self, memory: np.ndarray) -> tuple[np.ndarray, list, np.ndarray]:
        """(V as (C·tp·tq) x a², the K x tp x tq sums of each tap, the K x P x Q output)."""
        p, r, m = self.plan, self.regions(), self.variant.m
        v = memory[r["v"]:r["m"]].reshape(self.taps, p.input_tiles).T
        sums = [s.reshape(p.K, p.tp, p.tq)
                for s in memory[r["m"]:r["y"]].reshape(self.taps, p.output_tiles)]
        y = memory[r["y"]:r["end"]].reshape(p.K, p.tp, p.tq, m, m).transpose(0, 1, 3, 2, 4)
        return v, sums, y.reshape(p.K, p.tp * m, p.tq * m)[:, :self.P, :self.Q]

    def tap_weights(self, tap: int) -> np.ndarray:
        """K x C x 1 x 1 weights of one tap."""
        return self.u.reshape(self.plan.K, self.plan.C, self.taps)[:, :, tap, None, None]

    def tap_job(self, tap: int, v_tiles: np.ndarray) -> LayerJob:
        """The accelerator's job for `tap` on the input-transform unit's outputs `v_tiles`."""
        p = self.plan
        ifmap = np.asarray(v_tiles)[:, tap].reshape(p.C, p.tp, p.tq)
        return LayerJob(self.arch, self.dataflow, p.tap_gemm, ifmap, self.tap_weights(tap),
                        self.bandwidth, self.latency)

    def expected(self) -> np.ndarray:
        """conv_quant's K x P x Q integer result."""
        qw = QuantWeights(self.u, np.asarray(self.u_exp, np.int64))
        return conv_quant(self.x[None], qw, self.v_shift, self.padding, self.variant,
                          self.arch.pe_array.ifmap_bits).y[0]
