"""One binarized layer run on the XNOR unit: its DRAM image, command and bit-exact result.

`XnorJob` holds the layer's signs (+1 / -1) of activations x[C, H, W] and weights w[K, C, R, S]
and the fixed-point scales alpha_q[K] and K_q[P, Q] (unsigned SCALE_BITS-bit integers) with
the output shift. DRAM (one 64-bit element per address): the packed activations
(words x H x W), the packed weights (K x words x R x S), alpha_q, K_q (P*Q), then room for the
outputs (K x P x Q). Packing is at the spec's `xnor_word_bits` (dlaforge/rtl_xnor_plan.py).

`expected()` is the reference: workloads/methods/xnor_ref.xnor_dot (64-bit packed
XNOR-popcount, padded taps skipped) times alpha_q and K_q, shifted right, wrapped to psum_bits.
`fixed_point_scales` turns XNOR-Net's real alpha and K (xnor_ref.alpha, xnor_ref.k_map) into
alpha_q, K_q and the shift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.rtl_plan import Gemm, element_bytes
from dlaforge.rtl_xnor_plan import (DATAFLOW, DRAM_WORD_BYTES, SCALE_BITS, SHIFT_BITS, plan,
                                    tap_bias, word_bits, xnor_gemm)
from dlaforge.workloads.layer import out_size
from dlaforge.workloads.methods import xnor_ref

from ..layouts import command_fields


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
    x_signs: np.ndarray      # C x H x W of +1 / -1
    w_signs: np.ndarray      # K x C x R x S of +1 / -1
    alpha_q: np.ndarray      # K
    k_q: np.ndarray          # P x Q
    out_shift: int
    stride: int = 1
    padding: int = 0
    bandwidth: float = None  # DRAM model; default: the spec's
    latency: int = None
    dataflow: str = DATAFLOW

    def __post_init__(self):
        C, H, W = self.x_signs.shape
        K, _, R, S = self.w_signs.shape
        P, Q = out_size(H, R, self.stride, self.padding), out_size(W, S, self.stride, self.padding)
        self.channels = C
        self.gemm: Gemm = xnor_gemm(self.arch, C, H, W, K, R, S, P, Q, self.stride, self.padding)
        self.plan = plan(self.arch, self.gemm)
        if not 0 <= self.out_shift < 1 << SHIFT_BITS:
            raise ValueError(f"out_shift must fit {SHIFT_BITS} bits, not {self.out_shift}")
        if self.bandwidth is None:
            self.bandwidth = self.arch.dram.bandwidth_bytes_per_cycle
        if self.latency is None:
            self.latency = self.arch.dram.latency_cycles

    @staticmethod
    def random(arch, gemm_dims: dict, rng, signs: str = "random", scales: str = "random",
               **kwargs) -> XnorJob:
        """A layer of `gemm_dims` (C H W K R S stride padding) with random (or all +1 / all -1)
        signs and random (or extreme: all at the SCALE_BITS maximum) scales."""
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
        return XnorJob(arch, draw((C, H, W)), draw((K, C, R, S)), alpha, kmap, shift,
                       stride, padding, **kwargs)

    @property
    def bases(self) -> tuple[int, int, int, int, int]:
        """DRAM bases of the ifmap words, weight words, alpha_q, K_q and the outputs."""
        g = self.gemm
        ifmap = 0
        weight = ifmap + g.C * g.H * g.W
        alpha = weight + g.K * g.Kd
        kmap = alpha + g.K
        return ifmap, weight, alpha, kmap, kmap + g.M

    def dram_image(self) -> np.ndarray:
        g = self.gemm
        bits = word_bits(self.arch)
        *_, out_base = self.bases
        x_words = pack_words(self.x_signs[None], bits)[0]
        w_words = pack_words(self.w_signs, bits)
        return np.concatenate([x_words.ravel(), w_words.ravel(), self.alpha_q.ravel(),
                               self.k_q.ravel(), np.zeros(g.K * g.M, np.int64)]).astype(np.int64)

    def command(self) -> dict:
        ifmap, weight, alpha, kmap, out = self.bases
        fields = command_fields(self.plan, ifmap, weight, out)
        fields.update(alpha_base=alpha, kmap_base=kmap, out_shift=self.out_shift,
                      tap_bias=tap_bias(self.arch, self.channels))
        return fields

    def output_of(self, memory: np.ndarray) -> np.ndarray:
        g = self.gemm
        *_, out_base = self.bases
        return memory[out_base:out_base + g.K * g.M].reshape(g.K, g.P, g.Q)

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
        return ((DRAM_WORD_BYTES, DRAM_WORD_BYTES),
                element_bytes(self.arch.pe_array.psum_bits))
