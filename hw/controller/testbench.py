"""The cocotb testbench of the mapped-program controller (run by hw/controller/run.py).

Per job: one DRAM image and its commands (one per group), each after a reset. Driver: the
command, packed by the manifest's field offsets; DRAM: hw/dram.py's model (`read_run` /
`write_run`), stepped once per cycle at the falling edge by hw/cocotb_tb.serve_command;
monitor: the write stream's values land in the model's memory. The checker lives in the caller.
"""

from __future__ import annotations

import cocotb
import numpy as np

from dlaforge.hw.cocotb_tb import _field, run_file, serve_command, tag_span
from dlaforge.hw.dram import DramModel


@cocotb.test()
async def run_jobs(dut):
    await run_file(dut, "jobs", run_job)


def lanes(word: int, field: dict, bits: int, count: int) -> list[int]:
    """The first `count` signed `bits`-wide lanes of the vector `field` of payload `word`."""
    v = word >> field["offset"]
    out = []
    for i in range(count):
        x = (v >> (i * bits)) & ((1 << bits) - 1)
        out.append(x - (1 << bits) if x >> (bits - 1) else x)
    return out


async def run_job(dut, ports, job):
    req_f, wr_f = ports["rd_req__payload"]["fields"], ports["wr__payload"]["fields"]
    memory = np.array(job["memory"], dtype=np.int64)
    req_lo, tag_bits = tag_span(req_f)
    perfs, cycles = [], []
    for command in job["commands"]:
        dram = DramModel(memory, job["bandwidth"], job["latency"], (1, 1), 1)

        def read(t, word, dram=dram):
            dram.read_run(t, _field(word, req_f, "addr"), _field(word, req_f, "count"),
                          _field(word, req_f, "bytes"),
                          (word >> req_lo) & ((1 << tag_bits) - 1), job["lane_bits"])

        def write(t, word, dram=dram):
            count = _field(word, wr_f, "count")
            dram.write_run(t, _field(word, wr_f, "addr"),
                           lanes(word, wr_f["data"], job["write_bits"], count),
                           _field(word, wr_f, "bytes"))

        perf, t = await serve_command(dut, ports, command, dram, read, write)
        perfs.append(perf)
        cycles.append(t)
    return {"memory": memory.tolist(), "perf": perfs, "cycles": cycles}
