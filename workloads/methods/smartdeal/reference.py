"""SmartDeal weight decomposition and rebuild (VITA-Group/SmartDeal; REFERENCES.md §3).

Each output filter's weights are reshaped to a block A (m0 x 3): for a 3x3 conv the rows are
the (input channel, kernel row) pairs and the columns the kernel columns; other shapes are
flattened and zero-padded to a multiple of 3. A ≈ Ce·B with B a 3x3 basis per filter and Ce
sparse with signed power-of-two entries.

Decomposition (`decompose`): start from B = s·I (s puts Ce's largest entry at 2**p_max), Ce = A/s;
repeat: quantize Ce to signed powers of two, stop when the quantized Ce no longer changes,
B = lstsq(Ce, A), Ce = lstsq(B, A), zero |Ce| < θ; finish with a quantize and a last B fit. B is
then stored as 8-bit codes with a power-of-two exponent per filter. Optional structured pruning
removes the input channels of smallest L1 norm before the decomposition: the layer keeps only
the other channels, so a pruned channel has no Ce entries, costs no storage and rebuilds to
exactly zero (for 1x1 layers, whose flattened rows of 3 mix channels, zeroing the channel
instead would let Ce·B put a small nonzero back in its place).

Storage: a Ce entry is a 1-bit sign + exponent code (p - p_min, `EXP_BITS` bits) when nonzero;
the sparse index is a bitmap with one bit per Ce entry; B is 9 x 8 bits plus an 8-bit exponent
per filter.

Rebuild (`rebuild`, numba, the shift-add engine): a weight row is Σ_i ±(B_q row i << (p_i − p_min)),
integer; the real weights are that times 2**(b_exp + p_min).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numba import njit

from ..conv_ref import pow2_exponent

P_MIN, P_MAX = -2, 5            # |Ce| in {2^-2 .. 2^5}; REFERENCES.md: |Ce| <= 32
EXP_BITS = 3                    # 8 exponents
CODE_BITS = 1 + EXP_BITS
B_BITS = 8
B_EXP_BITS = 8
ROW_ENTRIES = 3         # Ce entries per row (= weights per rebuilt row)
B_BYTES = 9             # B codes per filter (3 x 3, 8 bits each)


def rebuilt_bits(b_bits: int, exponent_span: int) -> int:
    """Signed width of a rebuilt integer weight: three B codes of b_bits shifted by at most
    exponent_span and added."""
    return b_bits + exponent_span + 2


REBUILT_BITS = rebuilt_bits(B_BITS, P_MAX - P_MIN)     # the rebuilt integer weights


def storage_bits(nnz: int, filters: int, entries_per_filter: int) -> int:
    """Codes of the nonzero Ce entries, the bitmap index, and B with its exponent per filter."""
    return nnz * CODE_BITS + filters * (entries_per_filter + 9 * B_BITS + B_EXP_BITS)


def entries_per_filter(cg: int, R: int, S: int) -> int:
    """Ce entries of one filter: its weights padded to whole rows of 3."""
    return -(-cg * R * S // 3) * 3


def blocks(w) -> np.ndarray:
    """w[K, C, R, S] -> A[K, m0, 3]."""
    w = np.asarray(w, np.float64)
    K = w.shape[0]
    if w.shape[3] == 3:
        return w.reshape(K, -1, 3)
    flat = w.reshape(K, -1)
    pad = -flat.shape[1] % 3
    return np.pad(flat, ((0, 0), (0, pad))).reshape(K, -1, 3)


def quantize_pow2(ce) -> tuple[np.ndarray, np.ndarray]:
    """(sign in {-1, 0, 1}, exponent) of the nearest signed power of two in log domain;
    entries below 2**p_min (after rounding) become 0, above 2**p_max saturate."""
    mag = np.abs(ce)
    p = np.round(np.log2(np.where(mag > 0, mag, 1.0)))
    sign = np.where((mag > 0) & (p >= P_MIN), np.sign(ce), 0).astype(np.int64)
    return sign, np.clip(p, P_MIN, P_MAX).astype(np.int64) * (sign != 0)


def _value(sign, exp):
    return sign * 2.0 ** exp


@dataclass(frozen=True)
class Decomposition:
    """Ce as sign/exponent codes [K, m0, 3] of the kept channels, B as 8-bit codes [K, 3, 3]
    with an exponent per filter, the kept input channels, the original weight shape, and the
    relative reconstruction error ‖w − rebuilt‖/‖w‖ (with the 8-bit B, against the unpruned
    weights)."""

    sign: np.ndarray
    exp: np.ndarray
    b_q: np.ndarray
    b_exp: np.ndarray
    channels_kept: np.ndarray
    shape: tuple
    rel_error: float
    iterations: int

    @property
    def nnz(self) -> int:
        return int(np.count_nonzero(self.sign))

    @property
    def rows_used(self) -> int:
        """Ce rows with at least one nonzero: rows the rebuild engine must produce by shift-adds."""
        return int(np.count_nonzero(np.any(self.sign != 0, axis=2)))

    def storage_bits(self) -> int:
        return storage_bits(self.nnz, self.sign.shape[0], self.sign[0].size)

    def ce(self) -> np.ndarray:
        return _value(self.sign, self.exp)

    def b(self) -> np.ndarray:
        return self.b_q * 2.0 ** self.b_exp[:, None, None]

    def weights(self, blocks_) -> np.ndarray:
        """Blocks [K, m0, 3] of the kept channels back to w[K, C, R, S], pruned channels 0."""
        K, _, R, S = self.shape
        w = np.zeros(self.shape, dtype=blocks_.dtype)
        w[:, self.channels_kept] = unblock(blocks_, (K, len(self.channels_kept), R, S))
        return w


def prune_channels(w, fraction: float) -> np.ndarray:
    """Indices of the input channels kept when the `fraction` of smallest L1 norm is pruned."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"pruned fraction must be in [0, 1), not {fraction}")
    norms = np.abs(np.asarray(w, np.float64)).sum(axis=(0, 2, 3))
    drop = min(int(round(fraction * len(norms))), len(norms) - 1)
    return np.sort(np.argsort(norms, kind="stable")[drop:])


def decompose(w, theta: float = 1e-3, max_iter: int = 50, prune: float = 0.0) -> Decomposition:
    """SmartDeal decomposition of w[K, C, R, S] (see the module docstring)."""
    w = np.asarray(w, np.float64)
    kept = prune_channels(w, prune)
    a = blocks(w[:, kept])
    peak = np.maximum(np.abs(a).max(axis=(1, 2)), np.finfo(np.float64).tiny)
    b = (peak / 2.0 ** P_MAX)[:, None, None] * np.eye(3)
    ce = a / (peak / 2.0 ** P_MAX)[:, None, None]
    previous = None
    iterations = 0
    for iterations in range(1, max_iter + 1):
        sign, exp = quantize_pow2(ce)
        if previous is not None and np.array_equal(sign, previous[0]) and np.array_equal(exp, previous[1]):
            break
        previous = (sign, exp)
        b = np.linalg.pinv(_value(sign, exp)) @ a
        ce = a @ np.linalg.pinv(b)
        ce[np.abs(ce) < theta] = 0.0
    sign, exp = quantize_pow2(ce)
    b = np.linalg.pinv(_value(sign, exp)) @ a
    b_exp = pow2_exponent(np.abs(b).max(axis=(1, 2)), 2 ** (B_BITS - 1) - 1)
    b_q = np.clip(np.floor(b / 2.0 ** b_exp[:, None, None] + 0.5), -127, 127).astype(np.int64)
    d = Decomposition(sign, exp, b_q, b_exp, kept, w.shape, 0.0, iterations)
    error = w - d.weights(rebuild_float(d))      # includes what pruning removed
    rel = float(np.linalg.norm(error) / max(np.linalg.norm(w), 1e-300))
    return replace(d, rel_error=rel)


@njit(cache=True)
def _rebuild(sign, exp, b_q, p_min):
    K, m0, _ = sign.shape
    out = np.zeros((K, m0, 3), dtype=np.int64)
    for k in range(K):
        for row in range(m0):
            for i in range(3):
                s = sign[k, row, i]
                if s == 0:
                    continue
                shift = exp[k, row, i] - p_min
                for j in range(3):
                    term = b_q[k, i, j] << shift
                    out[k, row, j] += term if s > 0 else -term
    return out


def rebuild(d: Decomposition) -> np.ndarray:
    """Integer weight blocks W_int[K, m0, 3] by shift-adds; real = W_int · 2**(b_exp + p_min)."""
    return _rebuild(d.sign, d.exp, d.b_q, np.int64(P_MIN))


def rebuild_float(d: Decomposition) -> np.ndarray:
    """Float definition: Ce · B with the stored codes, in real units."""
    return d.ce() @ d.b()


def unblock(blocks_, shape) -> np.ndarray:
    """A[K, m0, 3] back to w[K, C, R, S] (dropping the zero padding of flattened shapes)."""
    K = shape[0]
    return blocks_.reshape(K, -1)[:, :int(np.prod(shape[1:]))].reshape(shape)


def random_decomposition(rng, K: int, Kd: int, nonzero: float = 0.5,
                         zero_rows: float = 0.3) -> Decomposition:
    """Codes for K filters of Kd weights: each Ce entry nonzero with probability `nonzero`, a
    `zero_rows` fraction of rows all zero, random signs and exponents over the whole range,
    B codes in [-127, 127]."""
    rows = -(-Kd // ROW_ENTRIES)
    sign = (rng.choice([-1, 1], (K, rows, ROW_ENTRIES))
            * (rng.random((K, rows, ROW_ENTRIES)) < nonzero))
    sign[rng.random((K, rows)) < zero_rows] = 0
    exp = rng.integers(P_MIN, P_MAX + 1, sign.shape) * (sign != 0)
    b_q = rng.integers(-127, 128, (K, ROW_ENTRIES, ROW_ENTRIES))
    return Decomposition(sign.astype(np.int64), exp.astype(np.int64), b_q.astype(np.int64),
                         np.zeros(K, np.int64), np.arange(K), (K, 1, 1, Kd), 0.0, 0)


def synthetic_decomposition(op) -> Decomposition:
    """SmartDeal's decomposition of seeded normal weights of the op's shape, every filter (the
    simulator has no trained weights): the codes the RTL runs and the timing model times."""
    cg = op.C // op.groups
    rng = np.random.default_rng([op.K, cg, op.R, op.S])
    return decompose(rng.normal(0.0, np.sqrt(2.0 / (cg * op.R * op.S)), (op.K, cg, op.R, op.S)))
