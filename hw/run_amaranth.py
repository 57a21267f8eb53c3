"""Testbench runner: run a LayerJob on the accelerator in Amaranth's own simulator.

The testbench is the DRAM adapter: each cycle it drives `ready` and the due read response
from hw/dram.py's model, then samples the accelerator's requests and hands them to it.
`run_commands_amaranth` runs several commands on one DRAM image (a network, as the cocotb
testbench does).
"""

from __future__ import annotations

import time

import numpy as np
from amaranth.sim import Simulator

from dlaforge.errors import RunError

from .accelerator import Accelerator
from .dram import DramModel
from .stimulus import LayerJob, RtlResult


def run_amaranth(job: LayerJob, max_cycles: int = 10_000_000, dut: Accelerator = None) -> RtlResult:
    memory = job.dram_image()
    start = time.perf_counter()
    (perf, cycles), = run_commands_amaranth(job, memory, [job.command()], max_cycles, dut)
    return RtlResult(job.output_of(memory), perf, cycles, time.perf_counter() - start)


def run_commands_amaranth(job, memory: np.ndarray, commands: list[dict],
                          max_cycles: int = 10_000_000, dut: Accelerator = None) -> list:
    """Run `commands` one after another on `memory` (changed in place), each from reset with
    an idle DRAM channel (job: the arch, DRAM settings and element bytes); (counters, cycles)
    per command."""
    dut = dut or Accelerator(job.arch)
    read_bytes, write_bytes = job.element_bytes()
    return [_run_command(dut, command, DramModel(memory, job.bandwidth, job.latency, read_bytes,
                                                 write_bytes), max_cycles)
            for command in commands]


def _run_command(dut, command: dict, dram: DramModel, max_cycles: int) -> tuple[dict, int]:
    def read(ctx, t):
        tag = dut.rd_req.payload.tag
        dram.read(t, ctx.get(dut.rd_req.payload.addr), ctx.get(tag.as_value()),
                  bool(ctx.get(tag.weight)))

    def write(ctx, t):
        dram.write(t, ctx.get(dut.wr.payload.addr), ctx.get(dut.wr.payload.data))

    return serve_command(dut, command, dram, read, write, max_cycles, "the accelerator")


def _field(view, dotted: str):
    """The command payload's field `dotted` (a.b for a nested struct) as a settable value."""
    for name in dotted.split("."):
        view = getattr(view, name)
    return view.as_value() if hasattr(view, "as_value") else view


def serve_command(dut, command: dict, dram, read, write, max_cycles: int,
                  what: str) -> tuple[dict, int]:
    """Give `dut` `command` in Amaranth's simulator and serve its DRAM port from `dram` (a
    model with hw/dram.py's ready/response/retire) until it is idle: `read(ctx, t)` takes the
    read request accepted at cycle t, `write(ctx, t)` the write. Returns the design's counters
    and the cycles it was busy; RunError past `max_cycles` (`what` names the design). The
    Amaranth twin of hw/cocotb_tb.serve_command."""
    perf = {}
    cycles = [0]

    async def bench(ctx):
        for name, value in command.items():
            ctx.set(_field(dut.cmd.payload, name), value)
        ctx.set(dut.cmd.valid, 1)
        await ctx.tick()
        ctx.set(dut.cmd.valid, 0)
        t = 0
        while ctx.get(dut.busy):
            ready = dram.ready(t)
            ctx.set(dut.rd_req.ready, ready)
            ctx.set(dut.wr.ready, ready)
            due = dram.response(t)
            ctx.set(dut.rd_resp.valid, due is not None)
            if due is not None:
                ctx.set(_field(dut.rd_resp.payload, "data"), due[0])
                ctx.set(dut.rd_resp.payload.tag.as_value(), due[1])
            if ready and ctx.get(dut.rd_req.valid):
                read(ctx, t)
            if ready and ctx.get(dut.wr.valid):
                write(ctx, t)
            dram.retire(t)
            await ctx.tick()
            t += 1
            if t > max_cycles:
                raise RunError(f"{what} did not finish in {max_cycles} cycles")
        cycles[0] = t
        for name in dut.perf.shape().members:
            perf[name] = ctx.get(getattr(dut.perf, name))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return perf, cycles[0]
