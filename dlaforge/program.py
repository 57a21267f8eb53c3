"""The mapped program: how the generated accelerator's controller runs the mapper's loop nest
under ws (docs/controller.md is the contract; this module holds what the RTL (hw/controller/),
the cycle model and the analytical model must compute alike).

A layer is one command per group. The command walks tiles of `kt` filters x `ct` channels x
`pt` output rows (all Q columns) of every image, in the mapping's loop `order` (a permutation
of n, k, c, p, outermost first; LOOP_ORDERS lists the ones the mapper tries).

DRAM is one channel of `bandwidth` bytes per cycle. A request moves a run of up to
`beat_elements(bytes, bandwidth)` contiguous elements of one buffer word and holds the
channel `beat_gap(count, bytes, bandwidth)` cycles.

Buffers: each shared level is split evenly between the operands it holds, each share into two
halves (rtl_plan.BufferGeometry). A word of the ifmap buffer holds `rows` channels of one pixel,
of the weight buffer `cols` filters of one (r, s, c), of the accumulator `cols` sums of one
output pixel. `tile_words` counts the words a tile needs; a mapping runs only if every
operand's tile fits one half (`fits`).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .arch import ArchSpec
from .rtl_plan import BufferGeometry

LOOP_ORDERS = tuple(o for perm in itertools.permutations("kcp")
                    for o in ("n" + "".join(perm), "".join(perm) + "n"))


def ceil_div(a, b):
    return -(-a // b)


def beat_elements(element_bytes: int, bandwidth: float) -> int:
    """Elements one DRAM request may carry: as many as the channel moves in one cycle, at
    least one."""
    return max(1, int(bandwidth // element_bytes))


def beat_gap(count, element_bytes: int, bandwidth: float):
    """Cycles a request of `count` elements holds the channel (at least one)."""
    return np.maximum(1, np.ceil(np.asarray(count) * element_bytes / bandwidth)).astype(np.int64)


def requests_per_run(run, element_bytes: int, bandwidth: float):
    """Requests a run of `run` contiguous elements is cut into."""
    return ceil_div(np.asarray(run), beat_elements(element_bytes, bandwidth))


def run_cycles(run, element_bytes: int, bandwidth: float):
    """Cycles the channel is held by one run of `run` elements: full beats, then the rest."""
    run = np.asarray(run)
    per_beat = beat_elements(element_bytes, bandwidth)
    full, rest = run // per_beat, run % per_beat
    return (full * beat_gap(per_beat, element_bytes, bandwidth)
            + np.where(rest > 0, beat_gap(rest, element_bytes, bandwidth), 0))


def max_in_rows(H: int, R_extent: int, stride: int, pt):
    """Most ifmap rows one tile of `pt` output rows reads (its words per channel block and
    column): the window of its first row to that of its last, inside the image."""
    return np.minimum(H, (np.asarray(pt) - 1) * stride + R_extent)


def tile_words(rows: int, cols: int, *, W: int, H: int, R: int, S: int, Q: int, stride: int,
               kt, ct, pt) -> dict:
    """Buffer words of one tile per operand (arrays broadcast over kt, ct, pt)."""
    kt, ct, pt = (np.asarray(x) for x in (kt, ct, pt))
    return {"ifmap": ceil_div(ct, rows) * max_in_rows(H, R, stride, pt) * W,
            "weight": ceil_div(kt, cols) * R * S * ct,
            "ofmap": ceil_div(kt, cols) * pt * Q}


def fits(arch: ArchSpec, *, W: int, H: int, R: int, S: int, Q: int, stride: int, kt, ct, pt):
    """True where the tile's words fit one half of each operand's buffer share."""
    pe = arch.pe_array
    words = tile_words(pe.rows, pe.cols, W=W, H=H, R=R, S=S, Q=Q, stride=stride, kt=kt, ct=ct,
                       pt=pt)
    geo = BufferGeometry.of(arch)
    return ((words["ifmap"] <= geo.ifmap_half) & (words["weight"] <= geo.weight_half)
            & (words["ofmap"] <= geo.acc_half))


def folds(rows: int, cols: int, R: int, S: int, k_size, c_size):
    """Array folds of one ws tile: one per filter block, channel block and kernel tap."""
    return ceil_div(np.asarray(k_size), cols) * ceil_div(np.asarray(c_size), rows) * R * S


def ws_fold_length(rows: int, cols: int, pixels) -> np.ndarray:
    """Cycles of one ws fold streaming `pixels` output pixels: preload `rows` weight words,
    stream, drain through the de-skew and the accumulator (rtl_plan.fold_length's ws)."""
    return 2 * rows + cols + np.asarray(pixels) + 1


def loop_trips(N: int, Kg: int, Cg: int, P: int, kt, ct, pt) -> dict:
    return {"n": N, "k": ceil_div(Kg, kt), "c": ceil_div(Cg, ct), "p": ceil_div(P, pt)}


def tile_count(trips: dict) -> int:
    return math.prod(int(v) for v in trips.values())
