"""The testbench DRAM: a flat array of elements behind the accelerator's stream port.

One model, stepped once per clock cycle by either simulator's adapter (Amaranth's testbench or
cocotb), so both see the same timing:

- one channel for reads and writes: it takes a request at cycle t only if t >= free, and
  then is busy until free = t + gap: gap = max(1, ceil(bytes / bandwidth)) for one element
  (the old accelerator's requests, `read` / `write`), program.beat_gap(n, bytes, bandwidth)
  for a run of n elements of `bytes` each (the mapped-program controller's, `read_run` /
  `write_run`, whose read data comes back as one integer of n lanes of `lane_bits`);
- the data of a read taken at cycle t comes back at cycle t + max(1, latency) with its tag;
  reads are taken one per cycle at most, so at most one response is due per cycle;
- writes are posted: stored when taken.

`ready` depends only on the cycle, never on the request, so there is no combinational loop.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from dlaforge.program import beat_gap as run_gap
from dlaforge.workloads.methods.accelerator_plan import dram_beat_gap as beat_gap


class DramModel:
    def __init__(self, memory: np.ndarray, bandwidth_bytes_per_cycle: float, latency: int,
                 read_bytes: tuple[int, int], write_bytes: int):
        self.memory = memory
        self.bandwidth = bandwidth_bytes_per_cycle
        self.latency = max(1, int(latency))
        self.read_gaps = tuple(beat_gap(b, bandwidth_bytes_per_cycle) for b in read_bytes)
        self.write_gap = beat_gap(write_bytes, bandwidth_bytes_per_cycle)
        self.free = 0
        self.pending = deque()      # (cycle due, data, tag)

    def ready(self, cycle: int) -> bool:
        return cycle >= self.free

    def response(self, cycle: int):
        """(data, tag) due at `cycle`, or None."""
        if self.pending and self.pending[0][0] == cycle:
            return self.pending[0][1:]
        return None

    def read(self, cycle: int, addr: int, tag: int, weight: bool) -> None:
        self.free = cycle + self.read_gaps[int(weight)]
        self.pending.append((cycle + self.latency, int(self.memory[addr]), tag))

    def write(self, cycle: int, addr: int, value: int) -> None:
        self.free = cycle + self.write_gap
        self.memory[addr] = value

    def retire(self, cycle: int) -> None:
        if self.pending and self.pending[0][0] == cycle:
            self.pending.popleft()

    def read_run(self, cycle: int, addr: int, count: int, nbytes: int, tag: int,
                 lane_bits: int) -> None:
        """Take a read of `count` elements of `nbytes` from `addr`; the data (element i in
        lane i, two's complement in `lane_bits`) is due after the latency."""
        self.free = cycle + int(run_gap(count, nbytes, self.bandwidth))
        mask = (1 << lane_bits) - 1
        packed = sum((int(v) & mask) << (i * lane_bits)
                     for i, v in enumerate(self.memory[addr:addr + count]))
        self.pending.append((cycle + self.latency, packed, tag))

    def write_run(self, cycle: int, addr: int, values, nbytes: int) -> None:
        """Take a write of `values` (elements of `nbytes`) to `addr` onwards."""
        self.free = cycle + int(run_gap(len(values), nbytes, self.bandwidth))
        self.memory[addr:addr + len(values)] = values
