"""One binarized layer run on the XNOR unit: its DRAM image, command and bit-exact result.

`XnorJob` holds the layer's signs (+1 / -1) of activations x[C, H, W] and weights w[K, C, R, S]
and the fixed-point scales alpha_q[K] and K_q[P, Q] (unsigned SCALE_BITS-bit integers) with
the output shift. DRAM (one 64-bit element per address): the packed activations
(words x H x W), the packed weights (K x words x R x S), alpha_q, K_q (P*Q), room for the
outputs (K x P x Q), then, for a job that binarizes on chip, the int8 activations (eight
channels per element, workloads/methods/xnor/plan.py) and room for the A plane (H x W). Packing is
at the spec's `xnor_word_bits`.

A job given int8 activations (`x_int8`) sets the command's `binarize`: the unit packs the signs
(sign(0) = +1) and forms K_q itself, and the reference K_q is `kmap_fixed` (the fixed-point
form of xnor_ref.k_map); otherwise the host's packed words and K_q are in DRAM.
`expected()` is the reference: workloads/methods/xnor/reference.xnor_dot (64-bit packed
XNOR-popcount, padded taps skipped) times alpha_q and K_q, shifted right, wrapped to psum_bits.
`fixed_point_scales` turns XNOR-Net's real alpha and K (xnor_ref.alpha, xnor_ref.k_map) into
alpha_q, K_q and the shift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.workloads.methods.accelerator_plan import Gemm
from dlaforge.workloads.methods.xnor.plan import (DATAFLOW, DRAM_WORD_BYTES, INT8_PER_ELEMENT,
                                                  SCALE_BITS, SHIFT_BITS, kmap_scale,
                                                  layer_channels, plan, sums_fit, tap_bias,
                                                  word_bits, xnor_gemm)
from dlaforge.workloads.layer import out_size
from dlaforge.workloads.methods.xnor import reference as xnor_ref
from dlaforge.workloads.methods.conv_ref import conv2d_int

from ...layouts import command_fields


def pack_words(signs: np.ndarray, bits: int) -> np.ndarray:
    """signs[A, C, ...] of +1/-1 -> int64[A, words, ...]: bit c % bits of word c // bits is 1
    for +1; unused high bits 0 (the 64-bit word's top bit lands in the int64 sign)."""
    signs = np.asarray(signs)
    channels = signs.shape[1]
    words = -(-channels // bits)
    padded = np.zeros((signs.shape[0], words * bits) + signs.shape[2:], dtype=np.uint64)
    padded[:, :channels] = signs > 0
    grouped = padded.reshape((signs.shape[0], words, bits) + signs.shape[2:])
    weights = (np.uint64(1) << np.arange(bits, dtype=np.uint64)).reshape(
        (1, 1, bits) + (1,) * (signs.ndim - 2))
    return (grouped * weights).sum(axis=2, dtype=np.uint64).view(np.int64)


def pack_int8(x: np.ndarray) -> np.ndarray:
    """int8 x[C, H, W] -> int64[ceil(C/8), H, W]: channel 8g+j in byte j of element g."""
    C = x.shape[0]
    groups = -(-C // INT8_PER_ELEMENT)
    padded = np.zeros((groups * INT8_PER_ELEMENT,) + x.shape[1:], dtype=np.uint64)
    padded[:C] = np.asarray(x, np.int64) & 0xFF
    lanes = padded.reshape((groups, INT8_PER_ELEMENT) + x.shape[1:])
    shifts = (np.arange(INT8_PER_ELEMENT, dtype=np.uint64) * np.uint64(8)).reshape(1, -1, 1, 1)
    return (lanes << shifts).sum(axis=1, dtype=np.uint64).view(np.int64)


def kmap_fixed(x_int8, R: int, S: int, stride: int, padding: int, recip_q: int,
               k_shift: int) -> np.ndarray:
    """K_q[P, Q] from int8 activations: min((box sum of A = sum_c |x|) * recip_q >> k_shift,
    2**SCALE_BITS - 1), the box sum over the window's in-image taps (zero padding)."""
    a_plane = np.abs(np.asarray(x_int8, np.int64)).sum(axis=0)
    ksum = conv2d_int(a_plane[None, None], np.ones((1, 1, R, S), np.int64), stride, padding)[0, 0]
    return np.minimum((ksum * recip_q) >> k_shift, (1 << SCALE_BITS) - 1)


def fixed_point_scales(x, w, stride: int, padding: int, frac_bits: int = 12):
    """alpha_q[K], K_q[P, Q] (round(v * 2**frac_bits), clipped to SCALE_BITS) and the shift
    that leaves the output with `frac_bits` fraction bits."""
    limit = (1 << SCALE_BITS) - 1
    alpha = xnor_ref.alpha(w)
    kmap = xnor_ref.k_map(np.asarray(x, np.float64)[None], w.shape[2], w.shape[3], stride,
                          padding)[0, 0]
    quantize = lambda v: np.clip(np.round(v * (1 << frac_bits)), 0, limit).astype(np.int64)
    return quantize(alpha), quantize(kmap), frac_bits


@dataclass
class XnorJob:
    arch: ArchSpec
    x_signs: np.ndarray      # C x H x W of +1 / -1 (None with x_int8)
    w_signs: np.ndarray      # K x C x R x S of +1 / -1
    alpha_q: np.ndarray      # K
    k_q: np.ndarray          # P x Q (None with x_int8)
    out_shift: int
    stride: int = 1
    padding: int = 0
    bandwidth: float = None  # DRAM model; default: the spec's
    latency: int = None
    x_int8: np.ndarray = None    # C x H x W int8: binarize on chip
    kmap_frac_bits: int = 8      # fraction bits of the on-chip K_q (K <= 128 fits 16 bits)
    dataflow: str = DATAFLOW

    def __post_init__(self):
        K, C, R, S = self.w_signs.shape
        binarize = self.x_int8 is not None
        H, W = (self.x_int8 if binarize else self.x_signs).shape[1:]
        self.recip_q, self.k_shift = kmap_scale(C, R, S, self.kmap_frac_bits)
        if binarize:
            self.x_signs = xnor_ref.signs(self.x_int8)
            self.k_q = kmap_fixed(self.x_int8, R, S, self.stride, self.padding, self.recip_q,
                                  self.k_shift)
        P, Q = out_size(H, R, self.stride, self.padding), out_size(W, S, self.stride, self.padding)
        self.channels = C
        self.gemm: Gemm = xnor_gemm(self.arch, C, H, W, K, R, S, P, Q, self.stride, self.padding)
        self.plan = plan(self.arch, self.gemm)
        if not sums_fit(self.arch, self.gemm):
            raise ValueError(f"the layer's popcount sums may overflow psum_bits "
                             f"{self.arch.pe_array.psum_bits}")
        if not 0 <= self.out_shift < 1 << SHIFT_BITS:
            raise ValueError(f"out_shift must fit {SHIFT_BITS} bits, not {self.out_shift}")
        if self.bandwidth is None:
            self.bandwidth = self.arch.dram.bandwidth_bytes_per_cycle
        if self.latency is None:
            self.latency = self.arch.dram.latency_cycles

    @property
    def binarize(self) -> bool:
        return self.x_int8 is not None

    @staticmethod
    def random(arch, gemm_dims: dict, rng, signs: str = "random", scales: str = "random",
               binarize: bool = False, **kwargs) -> XnorJob:
        """A layer of `gemm_dims` (C H W K R S stride padding) with random (or all +1 / all -1)
        signs and random (or extreme: all at the SCALE_BITS maximum) scales; with `binarize`,
        int8 activations (random, or all 127 / all -128) instead of host-packed signs and K."""
        d = dict(gemm_dims)
        stride, padding = d.pop("stride", 1), d.pop("padding", 0)
        C, H, W, K, R, S = (d[k] for k in "CHWKRS")
        draw = {"random": lambda shape: rng.choice([-1, 1], shape),
                "plus": lambda shape: np.ones(shape, np.int64),
                "minus": lambda shape: -np.ones(shape, np.int64)}[signs]
        P, Q = out_size(H, R, stride, padding), out_size(W, S, stride, padding)
        top = 1 << SCALE_BITS
        if scales == "max":
            alpha, kmap, shift = np.full(K, top - 1), np.full((P, Q), top - 1), 0
        else:
            alpha, kmap = rng.integers(0, top, K), rng.integers(0, top, (P, Q))
            shift = int(rng.integers(0, 2 * SCALE_BITS))
        if binarize:
            x_int8 = {"random": lambda: rng.integers(-128, 128, (C, H, W)),
                      "plus": lambda: np.full((C, H, W), 127),
                      "minus": lambda: np.full((C, H, W), -128)}[signs]()
            return XnorJob(arch, None, draw((K, C, R, S)), alpha, None, shift, stride, padding,
                           x_int8=x_int8, **kwargs)
        return XnorJob(arch, draw((C, H, W)), draw((K, C, R, S)), alpha, kmap, shift,
                       stride, padding, **kwargs)

    @staticmethod
    def for_op(arch, op, rng, **kwargs) -> XnorJob:
        """One image of a binarized HwOp (workloads/methods/xnor/) with random int8
        activations, weight signs and alpha_q, binarized on chip (what `--model rtl` runs)."""
        dims = dict(C=layer_channels(arch, op), H=op.H, W=op.W, K=op.K, R=op.R, S=op.S,
                    stride=op.stride, padding=op.padding)
        return XnorJob.random(arch, dims, rng, binarize=True, **kwargs)

    @property
    def bases(self) -> dict:
        """DRAM base of each area (module doc), in address order."""
        g = self.gemm
        sizes = {"ifmap": g.C * g.H * g.W, "weight": g.K * g.Kd, "alpha": g.K, "kmap": g.M,
                 "out": g.K * g.M, "x": -(-self.channels // INT8_PER_ELEMENT) * g.H * g.W,
                 "a": g.H * g.W}
        bases, at = {}, 0
        for name, size in sizes.items():
            bases[name], at = at, at + size
        return bases

    def dram_image(self) -> np.ndarray:
        """The memory before the run: what the host provides, zeros where the unit writes."""
        g, b = self.gemm, self.bases
        bits = word_bits(self.arch)
        memory = np.zeros(b["a"] + g.H * g.W, np.int64)
        if self.binarize:
            memory[b["x"]:b["a"]] = pack_int8(self.x_int8).ravel()
        else:
            memory[:b["weight"]] = pack_words(self.x_signs[None], bits)[0].ravel()
            memory[b["kmap"]:b["out"]] = self.k_q.ravel()
        memory[b["weight"]:b["alpha"]] = pack_words(self.w_signs, bits).ravel()
        memory[b["alpha"]:b["kmap"]] = self.alpha_q
        return memory

    def command(self) -> dict:
        b = self.bases
        fields = command_fields(self.plan, b["ifmap"], b["weight"], b["out"])
        fields.update(alpha_base=b["alpha"], kmap_base=b["kmap"], out_shift=self.out_shift,
                      tap_bias=tap_bias(self.arch, self.channels), binarize=int(self.binarize),
                      x_base=b["x"], a_base=b["a"], channels=self.channels,
                      recip_q=self.recip_q, k_shift=self.k_shift)
        return fields

    def output_of(self, memory: np.ndarray) -> np.ndarray:
        g, out = self.gemm, self.bases["out"]
        return memory[out:out + g.K * g.M].reshape(g.K, g.P, g.Q)

    def dot(self) -> np.ndarray:
        """sum sign(x)*sign(w) per output (K x P x Q), from the reference's 64-bit packing."""
        xb = xnor_ref.pack_signs(self.x_signs[None])
        wb = xnor_ref.pack_signs(self.w_signs)
        return xnor_ref.xnor_dot(xb, wb, self.channels, self.stride, self.padding)[0]

    def expected(self) -> np.ndarray:
        """The outputs in exact integers: dot * alpha_q * K_q >> out_shift, wrapped."""
        bits, shift = self.arch.pe_array.psum_bits, self.out_shift

        def scale_one(value):
            value = (value >> shift) & ((1 << bits) - 1)
            return value - (1 << bits) if value >> (bits - 1) else value

        dot = self.dot().astype(object)
        scaled = dot * self.alpha_q.astype(object)[:, None, None] * self.k_q.astype(object)[None]
        return np.frompyfunc(scale_one, 1, 1)(scaled).astype(np.int64)

    def element_bytes(self) -> tuple[tuple[int, int], int]:
        """Bytes of a read beat (ifmap, weight tags) and of a write beat: one element each."""
        return (DRAM_WORD_BYTES, DRAM_WORD_BYTES), DRAM_WORD_BYTES
