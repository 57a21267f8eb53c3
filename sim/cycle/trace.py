"""Access traces of the native cycle model (`dlaforge simulate --model cycle --trace DIR`),
for users who feed a DRAM simulator or inspect the schedule. Off by default.

Two gzip-compressed CSV files per run, written row block by row block as layers finish
(never held whole in memory), under temporary names until the run ends:

- `<stem>_dram.csv.gz`, one row per DRAM request of `BURST` bytes:
  `cycle,address,type,layer,operand` (type R or W; operand ifmap, weight, psum or ofmap).
  A tile's transfer issues its requests evenly over the cycles the channel spends on it
  (ceil(bytes / bandwidth), sim/cycle/tiled.py), ifmap then weights then partial sums.
  Addresses follow a fixed layout: each tensor at its own base (`DRAM_BASES`), ifmap NCHW,
  weights KCRS (channels of the group), partial sums and outputs NKPQ; a tile's rows of one
  channel (or one filter) are one contiguous chunk, split into BURST-aligned requests. A
  method that stores a tensor in another form (HwOp.dram_scale) scales its addresses alike.
- `<stem>_sram.csv.gz`, one row per tile and operand: `start,end,layer,tile,buffer,operand,
  array_reads,array_writes,dram_fills,dram_drains`: the cycles the array works on the tile,
  the elements the array reads from and writes into the shared buffer for it (partial and
  final sums are writes), and the elements DRAM fills the buffer with before it and drains
  from it after it (partial sums coming back count as fills).

Cycles run on across the network: each layer starts where the previous one ended.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.outputs import inside
from dlaforge.workloads.hwop import HwOp

from .tiled import TileSchedule

BURST = 64
DRAM_BASES = {"ifmap": 0x0000_0000, "weight": 0x4000_0000, "psum": 0x8000_0000,
              "ofmap": 0xC000_0000}
DRAM_HEADER = "cycle,address,type,layer,operand\n"
SRAM_HEADER = (
    "start,end,layer,tile,buffer,operand,array_reads,array_writes,dram_fills,dram_drains\n")


class TraceWriter:
    """Streams the traces of one run into `folder`; `close()` publishes them, `discard()`
    removes what was written (so a failed run leaves nothing half-written)."""

    def __init__(self, folder: Path, stem: str, arch: ArchSpec):
        folder = Path(folder)
        if not folder.is_dir():
            raise SpecError(f"trace folder {str(folder)!r} is not a folder")
        self.arch = arch
        self.offset = 0
        self.paths = {kind: inside(folder, f"{stem}_{kind}.csv.gz") for kind in ("dram", "sram")}
        self.files = {}
        for kind, header in (("dram", DRAM_HEADER), ("sram", SRAM_HEADER)):
            self.files[kind] = gzip.open(self._partial(kind), "wt", newline="")
            self.files[kind].write(header)

    def _partial(self, kind: str) -> Path:
        path = self.paths[kind]
        return path.with_name(path.name + ".partial")

    def add(self, layer: str, op: HwOp, schedule: TileSchedule, cycles: int) -> None:
        """Append the rows of one op that took `cycles`, then move the clock past it."""
        self._write_dram(layer, op, schedule)
        self._write_sram(layer, op, schedule)
        self.offset += cycles

    def close(self) -> None:
        for kind, f in self.files.items():
            f.close()
            os.replace(self._partial(kind), self.paths[kind])

    def discard(self) -> None:
        for kind, f in self.files.items():
            f.close()
            self._partial(kind).unlink(missing_ok=True)

    # DRAM -----------------------------------------------------------------------------------
    def _write_dram(self, layer: str, op: HwOp, s: TileSchedule) -> None:
        bandwidth = self.arch.dram.bandwidth_bytes_per_cycle
        bits = _dram_bits(op)
        out = self.files["dram"]
        for i in range(len(s.done)):
            if s.load_start[i] >= 0:
                cycle = self.offset + s.load_start[i]
                for operand, loaded, chunks in (
                        ("ifmap", "ifmap", _ifmap_chunks), ("weight", "weight", _weight_chunks),
                        ("psum", "ofmap", _output_chunks)):
                    if s.loads[loaded][i] > 0:
                        cycle = _requests(out, cycle, chunks(op, s, i, bits[operand]), operand,
                                          "R", layer, bandwidth)
            if s.write_start[i] >= 0:
                operand = "ofmap" if s.final[i] else "psum"
                _requests(out, self.offset + s.write_start[i],
                          _output_chunks(op, s, i, bits[operand]), operand, "W", layer, bandwidth)

    # SRAM -----------------------------------------------------------------------------------
    def _write_sram(self, layer: str, op: HwOp, s: TileSchedule) -> None:
        """Per tile and operand, elements the array reads from / writes to the shared buffer
        and elements the buffer receives from / sends to DRAM, in the array's form."""
        bits = _dram_bits(op)
        none = np.zeros(len(s.done))
        drains = s.writes * 8 / np.where(s.final, bits["ofmap"], bits["psum"])
        fills = {o: s.loads[o] * 8 / bits["psum" if o == "ofmap" else o] for o in s.loads}
        columns = {"ifmap": (s.sram_reads["ifmap"], none, fills["ifmap"], none),
                   "weight": (s.sram_reads["weight"], none, fills["weight"], none),
                   "ofmap": (none, s.sram_reads["ofmap"], fills["ofmap"], drains)}
        buffers = {o: self.arch.shared_level(o).name for o in columns}
        out = self.files["sram"]
        for i in range(len(s.done)):
            span = f"{self.offset + s.start[i]:.0f},{self.offset + s.done[i]:.0f},{layer},{i}"
            for operand, (reads, writes, filled, sent) in columns.items():
                out.write(f"{span},{buffers[operand]},{operand},"
                          f"{reads[i]:.0f},{writes[i]:.0f},{filled[i]:.0f},{sent[i]:.0f}\n")


def _requests(out, cycle: float, chunks: list, operand: str, kind: str, layer: str,
              bandwidth: float) -> float:
    """Write BURST-aligned requests covering `chunks` [(first byte, bytes)], paced at the
    channel's bandwidth from `cycle`; returns the cycle after the last one."""
    base = DRAM_BASES[operand]
    sent = 0
    for first, size in chunks:
        if size <= 0:
            continue
        bursts = np.arange(first // BURST * BURST, first + size, BURST)
        # the chunk's bytes, not its bursts' padding, set the pace
        times = cycle + np.floor((sent + np.arange(len(bursts)) * size / len(bursts)) / bandwidth)
        out.writelines(f"{t:.0f},0x{base + a:08x},{kind},{layer},{operand}\n"
                       for t, a in zip(times, bursts))
        sent += size
    return cycle + np.ceil(sent / bandwidth)


def _dram_bits(op: HwOp) -> dict:
    """Bits per element of each tensor as DRAM holds it (a method's form, HwOp.dram_scale)."""
    return {"ifmap": op.ifmap_bits * op.dram_factor("ifmap"),
            "weight": op.weight_bits * op.dram_factor("weight"), "psum": op.psum_bits,
            "ofmap": op.ofmap_bits * op.dram_factor("ofmap")}


def _bytes(elements, bits: float) -> int:
    return int(elements * bits // 8)


def _ifmap_chunks(op: HwOp, s: TileSchedule, i: int, bits: float) -> list:
    """One chunk per image and channel of the tile: the ifmap rows it loads, all columns (NCHW)."""
    lo, hi = s.rows[0][i], s.rows[1][i]
    if hi <= lo:
        return []
    first = s.index["g"][i] * (op.C // op.groups) + s.c_first[i]
    return [(_bytes(((n * op.C + ch) * op.H + lo) * op.W, bits), _bytes((hi - lo) * op.W, bits))
            for n in range(s.n_first[i], s.n_first[i] + s.n_size[i])
            for ch in range(first, first + int(s.c_size[i]))]


def _weight_chunks(op: HwOp, s: TileSchedule, i: int, bits: float) -> list:
    """One chunk per filter of the tile: its channels' R x S weights (KCRS, C of the group)."""
    cg, taps = op.C // op.groups, op.R * op.S
    first = s.index["g"][i] * (op.K // op.groups) + s.k_first[i]
    return [(_bytes((k * cg + s.c_first[i]) * taps, bits), _bytes(s.c_size[i] * taps, bits))
            for k in range(first, first + int(s.k_size[i]))]


def _output_chunks(op: HwOp, s: TileSchedule, i: int, bits: float) -> list:
    """One chunk per image and filter of the tile: its output rows, all columns (NKPQ)."""
    first = s.index["g"][i] * (op.K // op.groups) + s.k_first[i]
    p0 = s.p_first[i]
    return [(_bytes(((n * op.K + k) * op.P + p0) * op.Q, bits), _bytes(s.p_size[i] * op.Q, bits))
            for n in range(s.n_first[i], s.n_first[i] + s.n_size[i])
            for k in range(first, first + int(s.k_size[i]))]
