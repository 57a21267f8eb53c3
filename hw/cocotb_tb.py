"""The cocotb testbench of the generated accelerator (run by hw/sim_cocotb.py).

Driver: the command, packed into the `cmd__payload` vector by the manifest's field offsets.
DRAM: hw/dram.py's model, stepped once per cycle at the falling edge (requests are stable
then; `ready` and the due response are driven for the next rising edge). Monitor: the write
stream lands in the model's memory. The checker lives in the caller, which compares the
outputs with the numba reference.
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


@cocotb.test()
async def run_jobs(dut):
    """Every job of the file named by DLAFORGE_JOBS, one after another, reset between."""
    with open(os.environ["DLAFORGE_JOBS"]) as f:
        spec = json.load(f)
    with open(spec["manifest"]) as f:
        ports = {p["name"]: p for p in json.load(f)["ports"]}
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    results = [await run_job(dut, ports, job) for job in spec["jobs"]]
    with open(spec["result"], "w") as out:
        json.dump(results, out)


async def run_job(dut, ports, job):
    req_f, resp_f = ports["rd_req__payload"]["fields"], ports["rd_resp__payload"]["fields"]
    wr_f, perf_f = ports["wr__payload"]["fields"], ports["perf"]["fields"]
    memory = np.array(job["memory"], dtype=np.int64)
    dram = DramModel(memory, job["bandwidth"], job["latency"], tuple(job["read_bytes"]),
                     job["write_bytes"])
    tag_mask = (1 << (resp_f["tag.lane"]["offset"] + resp_f["tag.lane"]["width"]
                      - resp_f["tag.weight"]["offset"])) - 1
    tag_shift = resp_f["tag.weight"]["offset"]
    req_tag_shift = req_f["tag.weight"]["offset"]

    dut.rst.value = 1
    for name in ("cmd__valid", "cmd__payload", "rd_req__ready", "rd_resp__valid",
                 "rd_resp__payload", "wr__ready"):
        getattr(dut, name).value = 0
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    dut.cmd__payload.value = _pack(job["command"], ports["cmd__payload"]["fields"])
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
            resp_payload.value = _pack({"data": due[0]}, resp_f) | ((due[1] & tag_mask) << tag_shift)
        if ready and int(rd_valid.value):
            word = int(rd_payload.value)
            dram.read(t, _field(word, req_f, "addr"), (word >> req_tag_shift) & tag_mask,
                      bool(_field(word, req_f, "tag.weight")))
        if ready and int(wr_valid.value):
            word = int(wr_payload.value)
            dram.write(t, _field(word, wr_f, "addr"), _field(word, wr_f, "data", signed=True))
        dram.retire(t)
        await falling
        t += 1
    perf_word = int(dut.perf.value)
    perf = {name: _field(perf_word, perf_f, name) for name in perf_f}
    return {"memory": memory.tolist(), "perf": perf, "cycles": t}
