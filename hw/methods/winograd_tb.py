"""The cocotb testbench of the Winograd top (run by hw/methods/winograd_sim.py).

Per layer, after a reset: driver: the one command, packed by the manifest's field offsets;
DRAM: `WinogradDram` (hw/dram.py's model, with a beat's gap set by what it carries: an ifmap,
weight or tap-sum read, an accelerator-sum, V or output write), stepped once per cycle at the
falling edge until the top is idle again; monitor: every write lands in the model's memory.
Returns the memory, the design's counters and the cycles counted here. The checker lives in
the caller.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from dlaforge.hw.cocotb_tb import _field, _pack
from dlaforge.hw.dram import DramModel, beat_gap


class WinogradDram(DramModel):
    """The DRAM model with one read gap per read kind (0 ifmap, 1 weight, 2 tap sum) and one
    write gap per write kind (rtl_winograd_plan.WRITE_KINDS)."""

    def __init__(self, memory, bandwidth, latency, read_bytes, write_bytes):
        super().__init__(memory, bandwidth, latency, tuple(read_bytes[:2]), write_bytes[0])
        self.read_gaps = tuple(beat_gap(b, bandwidth) for b in read_bytes)
        self.write_gaps = tuple(beat_gap(b, bandwidth) for b in write_bytes)

    def read_kind(self, cycle: int, addr: int, tag: int, kind: int) -> None:
        self.free = cycle + self.read_gaps[kind]
        self.pending.append((cycle + self.latency, int(self.memory[addr]), tag))

    def write_kind(self, cycle: int, addr: int, value: int, kind: int) -> None:
        self.free = cycle + self.write_gaps[kind]
        self.memory[addr] = value


def tag_span(fields: dict) -> tuple[int, int]:
    """(offset, width) of the whole `tag` struct inside a payload."""
    tags = [f for name, f in fields.items() if name.startswith("tag.")]
    low = min(f["offset"] for f in tags)
    return low, max(f["offset"] + f["width"] for f in tags) - low


@cocotb.test()
async def run_layers(dut):
    """Every layer of the file named by DLAFORGE_JOBS."""
    with open(os.environ["DLAFORGE_JOBS"]) as f:
        spec = json.load(f)
    with open(spec["manifest"]) as f:
        ports = {p["name"]: p for p in json.load(f)["ports"]}
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    results = [await run_layer(dut, ports, layer) for layer in spec["layers"]]
    with open(spec["result"], "w") as out:
        json.dump(results, out)


async def run_layer(dut, ports, layer):
    req_f, resp_f = ports["rd_req__payload"]["fields"], ports["rd_resp__payload"]["fields"]
    wr_f, perf_f = ports["wr__payload"]["fields"], ports["perf"]["fields"]
    memory = np.array(layer["memory"], dtype=np.int64)
    dram = WinogradDram(memory, layer["bandwidth"], layer["latency"], layer["read_bytes"],
                        layer["write_bytes"])
    (req_lo, tag_bits), (resp_lo, _) = tag_span(req_f), tag_span(resp_f)
    tag_mask = (1 << tag_bits) - 1

    dut.rst.value = 1
    for name in ("cmd__valid", "cmd__payload", "rd_req__ready", "rd_resp__valid",
                 "rd_resp__payload", "wr__ready"):
        getattr(dut, name).value = 0
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    dut.cmd__payload.value = _pack(layer["command"], ports["cmd__payload"]["fields"])
    dut.cmd__valid.value = 1
    await FallingEdge(dut.clk)
    dut.cmd__valid.value = 0
    busy, rd_valid, rd_payload = dut.busy, dut.rd_req__valid, dut.rd_req__payload
    wr_valid, wr_payload = dut.wr__valid, dut.wr__payload
    rd_ready, wr_ready = dut.rd_req__ready, dut.wr__ready
    resp_valid, resp_payload = dut.rd_resp__valid, dut.rd_resp__payload
    falling = FallingEdge(dut.clk)
    driven_ready, driven_resp = False, False
    t = 0
    while int(busy.value):
        ready = dram.ready(t)
        if ready != driven_ready:
            rd_ready.value = wr_ready.value = int(ready)
            driven_ready = ready
        due = dram.response(t)
        if (due is not None) != driven_resp:
            resp_valid.value = int(due is not None)
            driven_resp = due is not None
        if due is not None:
            resp_payload.value = _pack({"data": due[0]}, resp_f) | (due[1] << resp_lo)
        if ready and int(rd_valid.value):
            word = int(rd_payload.value)
            kind = 1 if _field(word, req_f, "tag.weight") else 2 * _field(word, req_f, "tag.sum")
            dram.read_kind(t, _field(word, req_f, "addr"), (word >> req_lo) & tag_mask, kind)
        if ready and int(wr_valid.value):
            word = int(wr_payload.value)
            dram.write_kind(t, _field(word, wr_f, "addr"), _field(word, wr_f, "data", signed=True),
                            _field(word, wr_f, "kind"))
        dram.retire(t)
        await falling
        t += 1
    perf_word = int(dut.perf.value)
    perf = {name: _field(perf_word, perf_f, name) for name in perf_f}
    return {"memory": memory.tolist(), "perf": perf, "cycles": t}
