"""How the first accelerator (hw/accelerator.py, which the method units run on) tiles a layer.

Shared by its RTL (hw/), which runs this schedule, by its timing models
(sim/cycle/rtl_timing.py, sim/rtl_program.py, sim/methods/) and by the method families' plans
(workloads/methods/<family>/plan.py), which extend it; hw and sim may not import each other,
so the schedule lives here, beside the method plans. It reads only the ArchSpec. The buffer
geometry and the requantization table it shares with the mapped-program controller
(hw/controller/) are in dlaforge/program.py.

The accelerator runs one layer as a GEMM  out[m, n] = sum_kd A[m, kd] * B[kd, n]  with
M = P*Q output pixels, Kd = C*R*S reduction and N = K filters (A is the im2col view of the
ifmap, built by address generation, never stored). The GEMM is cut into tiles, one array fold
each, visited n-block outermost, then m-block, then kd-block (innermost, so partial sums stay in
the accumulator):

- ws: a tile is Kt = rows reduction rows x Nt = cols filters held in the PEs, with up to Mt
  ifmap rows streamed through; Mt is what half of the ifmap buffer and half of the accumulator
  hold (one buffer word per streamed row).
- os: a tile is Mt = rows output pixels x Nt = cols filters accumulating in the PEs, with up to
  Kt reduction steps streamed; Kt is what half of the ifmap and of the weight buffer hold.
- is: ws with the operands swapped: Kt = rows reduction rows x Mt = cols output pixels of the
  ifmap held in the PEs, with up to Nt filters streamed (half the ifmap buffer, which then
  holds weights, and half the accumulator). It needs ifmap_bits == weight_bits.

Buffers: each shared level's bytes are split equally among the operands it holds; each operand's
buffer is split in two halves (double buffering). The ifmap buffer's word holds `rows` elements,
the weight buffer's `cols`, the accumulator's `cols` partial sums (psum_bits each).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.program import BufferGeometry, ceil_div, requant_refusal

RTL_DATAFLOWS = ("ws", "os", "is")


def fold_length(dataflow: str, rows: int, cols: int, T: int) -> int:
    """Cycles of one fold of the RTL's compute engine (hw/fold.py): ws preloads `rows` weight
    rows, streams T ifmap rows and drains through the de-skew and the accumulator
    (2*rows + cols + T + 1); is is ws with T streamed filters; os streams T reduction steps and
    drains `rows` rows (T + 2*rows + cols)."""
    return T + 2 * rows + cols if dataflow == "os" else 2 * rows + cols + T + 1


def dram_beat_gap(nbytes: int, bandwidth_bytes_per_cycle: float) -> int:
    """Cycles one DRAM beat (one element of `nbytes`) occupies the channel of the stream port:
    the port moves at most one element per cycle, and no more bytes per cycle than the spec's
    DRAM bandwidth."""
    return max(1, math.ceil(nbytes / bandwidth_bytes_per_cycle))


def tile_sizes(arch: ArchSpec, dataflow: str) -> tuple[int, int, int]:
    """(Mt, Kt, Nt) of `dataflow`'s tiles on `arch` (the rule of the module docstring; whether
    the buffers hold them is RtlPlan.make's check)."""
    rows, cols = arch.pe_array.rows, arch.pe_array.cols
    geo = BufferGeometry.of(arch)
    return {"ws": (min(geo.ifmap_half, geo.acc_half), rows, cols),
            "os": (rows, min(geo.ifmap_half, geo.weight_half), cols),
            "is": (cols, rows, min(geo.ifmap_half, geo.acc_half))}[dataflow]


@dataclass(frozen=True)
class Gemm:
    """A layer as the accelerator sees it: conv dims plus its GEMM view (N = 1, groups = 1)."""

    C: int
    H: int
    W: int
    K: int
    R: int
    S: int
    P: int
    Q: int
    stride: int = 1
    padding: int = 0

    @property
    def M(self) -> int:
        return self.P * self.Q

    @property
    def Kd(self) -> int:
        return self.C * self.R * self.S

    @staticmethod
    def matmul(M: int, Kd: int, N: int) -> Gemm:
        """A plain GEMM: A[M, Kd] is stored as A^T (Kd rows of M), a 1 x M image of Kd channels."""
        return Gemm(C=Kd, H=1, W=M, K=N, R=1, S=1, P=1, Q=M)


@dataclass(frozen=True)
class RtlPlan:
    """The tiling of one Gemm on one arch under one dataflow."""

    arch: ArchSpec
    dataflow: str
    gemm: Gemm
    Mt: int
    Kt: int
    Nt: int
    requant: bool = False     # outputs requantized to ofmap_bits (see program.REQUANT_PIECES)

    @staticmethod
    def make(arch: ArchSpec, dataflow: str, gemm: Gemm, requant: bool = False) -> RtlPlan:
        if dataflow not in RTL_DATAFLOWS:
            raise SpecError(f"the RTL runs dataflows {', '.join(RTL_DATAFLOWS)}, not {dataflow!r}")
        arch.check_dataflow(dataflow)
        if arch.pe_array.pe_kind != "mac":
            raise SpecError(f"the RTL builds MAC PEs only, not pe_kind {arch.pe_array.pe_kind!r}")
        rows = arch.pe_array.rows
        geo = BufferGeometry.of(arch)
        if dataflow == "is" and arch.pe_array.ifmap_bits != arch.pe_array.weight_bits:
            raise SpecError("the RTL runs dataflow 'is' only when ifmap_bits == weight_bits")
        Mt, Kt, Nt = tile_sizes(arch, dataflow)
        need = {"ws": {"weight": (geo.weight_half, rows), "ifmap": (Mt, 1)},
                "os": {"ofmap": (geo.acc_half, rows), "ifmap": (Kt, 1)},
                "is": {"weight": (geo.weight_half, rows), "ifmap": (Nt, 1)}}[dataflow]
        for operand, (have, want) in need.items():
            if have < want:
                level = arch.shared_level(operand).name
                raise SpecError(f"buffer {level!r} is too small for the RTL's {dataflow} tiles: "
                                f"half of its {operand} share holds {have} words, needs {want}")
        if requant and (why := requant_refusal(arch)):
            raise SpecError(why)
        return RtlPlan(arch, dataflow, gemm, Mt=Mt, Kt=Kt, Nt=Nt, requant=requant)

    @property
    def trips(self) -> tuple[int, int, int]:
        """Tile counts along n, m and kd."""
        g = self.gemm
        return ceil_div(g.K, self.Nt), ceil_div(g.M, self.Mt), ceil_div(g.Kd, self.Kt)

    def tiles(self) -> np.ndarray:
        """One row per tile in execution order: nb, mb, kb, n size, m size, kd size."""
        tn, tm, tk = self.trips
        nb, mb, kb = (a.ravel() for a in np.indices((tn, tm, tk)))
        g = self.gemm
        n_size = np.minimum(self.Nt, g.K - nb * self.Nt)
        m_size = np.minimum(self.Mt, g.M - mb * self.Mt)
        k_size = np.minimum(self.Kt, g.Kd - kb * self.Kt)
        return np.stack([nb, mb, kb, n_size, m_size, k_size], axis=1).astype(np.int64)
