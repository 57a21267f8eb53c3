"""The cocotb testbench of the generated accelerator (run by hw/run_cocotb.py).

Driver: the command, packed into the `cmd__payload` vector by the manifest's field offsets.
DRAM: hw/dram.py's model, stepped once per cycle at the falling edge (requests are stable
then; `ready` and the due response are driven for the next rising edge). Monitor: the write
stream lands in the model's memory. The checker lives in the caller, which compares the
outputs with the numba reference.

A job is one DRAM image and the commands run on it one after another (a layer: one command;
a network, hw/network_stimulus.py: every command of every layer, each layer's outputs left in DRAM
for the next); the design is reset and the DRAM channel idle before each command.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from dlaforge.hw.dram import DramModel


def _field(value: int, fields: dict, name: str, signed: bool = False) -> int:
    f = fields[name]
    v = (value >> f["offset"]) & ((1 << f["width"]) - 1)
    return v - (1 << f["width"]) if signed and v >> (f["width"] - 1) else v


def _pack(values: dict, fields: dict) -> int:
    word = 0
    for name, v in values.items():
        f = fields[name]
        word |= (int(v) & ((1 << f["width"]) - 1)) << f["offset"]
    return word


def tag_span(fields: dict) -> tuple[int, int]:
    """(offset, width) of the whole `tag` struct inside a payload."""
    tags = [f for name, f in fields.items() if name.startswith("tag.")]
    low = min(f["offset"] for f in tags)
    return low, max(f["offset"] + f["width"] for f in tags) - low


async def run_file(dut, key: str, run_one) -> None:
    """Run every entry of list `key` in the file named by DLAFORGE_JOBS with
    `run_one(dut, ports, entry)`, one after another, and write their results to the file it
    names."""
    with open(os.environ["DLAFORGE_JOBS"]) as f:
        spec = json.load(f)
    with open(spec["manifest"]) as f:
        ports = {p["name"]: p for p in json.load(f)["ports"]}
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    results = [await run_one(dut, ports, entry) for entry in spec[key]]
    with open(spec["result"], "w") as out:
        json.dump(results, out)


async def serve_command(dut, ports, command: dict, dram, read, write) -> tuple[dict, int]:
    """Reset the design, give it `command`, and serve its DRAM port from `dram` until it is
    idle: `read(t, word)` takes an accepted read request, `write(t, word)` an accepted write
    (payload words), and `dram.response(t)` gives (data, tag) due at cycle t. Returns the
    design's counters and the cycles it was busy."""
    resp_f, perf_f = ports["rd_resp__payload"]["fields"], ports["perf"]["fields"]
    resp_lo, _ = tag_span(resp_f)
    dut.rst.value = 1
    for name in ("cmd__valid", "cmd__payload", "rd_req__ready", "rd_resp__valid",
                 "rd_resp__payload", "wr__ready"):
        getattr(dut, name).value = 0
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    dut.cmd__payload.value = _pack(command, ports["cmd__payload"]["fields"])
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
            read(t, int(rd_payload.value))
        if ready and int(wr_valid.value):
            write(t, int(wr_payload.value))
        dram.retire(t)
        await falling
        t += 1
    perf_word = int(dut.perf.value)
    return {name: _field(perf_word, perf_f, name) for name in perf_f}, t


@cocotb.test()
async def run_jobs(dut):
    """Every job of the file named by DLAFORGE_JOBS, one after another, reset between."""
    await run_file(dut, "jobs", run_job)


async def run_job(dut, ports, job):
    req_f, wr_f = ports["rd_req__payload"]["fields"], ports["wr__payload"]["fields"]
    memory = np.array(job["memory"], dtype=np.int64)
    req_lo, tag_bits = tag_span(req_f)
    perfs, cycles = [], []
    for command in job["commands"]:
        dram = DramModel(memory, job["bandwidth"], job["latency"], tuple(job["read_bytes"]),
                         job["write_bytes"])

        def read(t, word, dram=dram):
            dram.read(t, _field(word, req_f, "addr"), (word >> req_lo) & ((1 << tag_bits) - 1),
                      bool(_field(word, req_f, "tag.weight")))

        def write(t, word, dram=dram):
            dram.write(t, _field(word, wr_f, "addr"), _field(word, wr_f, "data", signed=True))

        perf, t = await serve_command(dut, ports, command, dram, read, write)
        perfs.append(perf)
        cycles.append(t)
    return {"memory": memory.tolist(), "perf": perfs, "cycles": cycles}
