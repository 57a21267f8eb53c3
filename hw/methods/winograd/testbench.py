"""The cocotb testbench of the Winograd top (run by hw/methods/winograd/testbench_runner.py).

Per layer, after a reset: driver: the one command, packed by the manifest's field offsets;
DRAM: `WinogradDram` (testbench_runner.py: hw/dram.py's model, with a beat's gap set by what
it carries: an ifmap, weight or tap-sum read, an accelerator-sum, V or output write), stepped
once per cycle at the falling edge until the top is idle again; monitor: every write lands in
the model's memory.
Returns the memory, the design's counters and the cycles counted here. The checker lives in
the caller.
"""

from __future__ import annotations

import cocotb
import numpy as np

from dlaforge.hw.cocotb_tb import _field, run_file, serve_command, tag_span
from dlaforge.hw.methods.winograd.testbench_runner import WinogradDram


@cocotb.test()
async def run_layers(dut):
    """Every layer of the file named by DLAFORGE_JOBS."""
    await run_file(dut, "layers", run_layer)


async def run_layer(dut, ports, layer):
    req_f, wr_f = ports["rd_req__payload"]["fields"], ports["wr__payload"]["fields"]
    memory = np.array(layer["memory"], dtype=np.int64)
    dram = WinogradDram(memory, layer["bandwidth"], layer["latency"], layer["read_bytes"],
                        layer["write_bytes"])
    req_lo, tag_bits = tag_span(req_f)

    def read(t, word):
        kind = 1 if _field(word, req_f, "tag.weight") else 2 * _field(word, req_f, "tag.sum")
        dram.read_kind(t, _field(word, req_f, "addr"), (word >> req_lo) & ((1 << tag_bits) - 1),
                       kind)

    def write(t, word):
        dram.write_kind(t, _field(word, wr_f, "addr"), _field(word, wr_f, "data", signed=True),
                        _field(word, wr_f, "kind"))

    perf, cycles = await serve_command(dut, ports, layer["command"], dram, read, write)
    return {"memory": memory.tolist(), "perf": perf, "cycles": cycles}
