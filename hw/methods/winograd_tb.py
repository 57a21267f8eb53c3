"""The cocotb testbench of the Winograd top (run by hw/methods/winograd_sim.py).

Per layer, the three phases of dlaforge/rtl_winograd_plan.py, each after a reset:
1. driver: the input tiles into `in_tiles`, one per cycle; monitor: `v_tiles` (always ready);
2. for each tap, hw/cocotb_tb.run_job on the accelerator's ports, with the tap's V (as the
   input-transform unit gave it) and weights in the DRAM model;
3. driver: the tap sums of every output tile into `m_tiles`; monitor: `y_tiles`.
Each phase's cycles are counted here (falling edges while the part is busy) and read from
the design's own counters. The checker lives in the caller.
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from dlaforge.hw.cocotb_tb import _field, _pack, run_job

TRANSFORM_INPUTS = ("in_tiles__valid", "in_tiles__payload", "in_shift", "v_tiles__ready",
                    "m_tiles__valid", "m_tiles__payload", "out_align", "y_tiles__ready")


def lane_fields(lanes: int, bits: int) -> dict:
    """A tile port's lanes as manifest-style fields: lane n at bit n * bits."""
    return {n: {"offset": n * bits, "width": bits} for n in range(lanes)}


def pack_lanes(values, bits: int) -> int:
    return _pack(dict(enumerate(values)), lane_fields(len(values), bits))


def unpack_lanes(word: int, lanes: int, bits: int) -> list:
    fields = lane_fields(lanes, bits)
    return [_field(word, fields, n, signed=True) for n in range(lanes)]


@cocotb.test()
async def run_layers(dut):
    """Every layer of the file named by DLAFORGE_JOBS."""
    with open(os.environ["DLAFORGE_JOBS"]) as f:
        spec = json.load(f)
    with open(spec["manifest"]) as f:
        manifest = json.load(f)
    ports = {p["name"]: p for p in manifest["ports"]}
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    results = [await run_layer(dut, ports, layer) for layer in spec["layers"]]
    with open(spec["result"], "w") as out:
        json.dump(results, out)


async def reset(dut):
    dut.rst.value = 1
    for name in TRANSFORM_INPUTS:
        getattr(dut, name).value = 0
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


async def stream_tiles(dut, ports, src: str, dst: str, tiles: list,
                       out_lanes: int) -> tuple[list, int]:
    """Drive `tiles` into stream `src` one per cycle, collect stream `dst` (`out_lanes`
    elements a tile); returns the outputs and the cycles the units were busy."""
    in_bits = ports[f"{src}__payload"]["width"] // len(tiles[0])
    valid, payload = getattr(dut, f"{src}__valid"), getattr(dut, f"{src}__payload")
    out_valid, out_payload = getattr(dut, f"{dst}__valid"), getattr(dut, f"{dst}__payload")
    getattr(dut, f"{dst}__ready").value = 1
    out_bits = ports[f"{dst}__payload"]["width"] // out_lanes
    outputs = []
    valid.value = 1
    payload.value = pack_lanes(tiles[0], in_bits)
    sent = 1
    await FallingEdge(dut.clk)
    t = 0
    while int(dut.transform_busy.value):
        if int(out_valid.value):
            outputs.append(unpack_lanes(int(out_payload.value), out_lanes, out_bits))
        if sent < len(tiles):
            payload.value = pack_lanes(tiles[sent], in_bits)
            sent += 1
        else:
            valid.value = 0
        await FallingEdge(dut.clk)
        t += 1
    return outputs, t


def _perf(dut, ports, name: str) -> dict:
    fields = ports[name]["fields"]
    word = int(getattr(dut, name).value)
    return {field: _field(word, fields, field) for field in fields}


async def run_layer(dut, ports, layer):
    await reset(dut)
    dut.in_shift.value = pack_lanes(layer["in_shift"], ports["in_shift"]["width"]
                                    // len(layer["in_shift"]))
    v_tiles, input_cycles = await stream_tiles(dut, ports, "in_tiles", "v_tiles",
                                               layer["in_tiles"], len(layer["in_shift"]))
    input_perf = _perf(dut, ports, "transform_perf")["input_cycles"]

    sums, tap_perf, tap_cycles = [], [], []
    for tap, weights in enumerate(layer["tap_weights"]):
        ifmap = [tile[tap] for tile in v_tiles]
        job = {key: layer[key] for key in ("command", "bandwidth", "latency", "read_bytes",
                                           "write_bytes")}
        job["memory"] = ifmap + weights + [0] * layer["out_size"]
        result = await run_job(dut, ports, job)
        base = len(ifmap) + len(weights)
        sums.append(result["memory"][base:base + layer["out_size"]])
        tap_perf.append(result["perf"])
        tap_cycles.append(result["cycles"])

    await reset(dut)
    dut.out_align.value = pack_lanes(layer["out_align"], ports["out_align"]["width"]
                                     // len(layer["out_align"]))
    m_tiles = [list(group) for group in zip(*sums)]
    y_tiles, output_cycles = await stream_tiles(dut, ports, "m_tiles", "y_tiles", m_tiles,
                                                layer["outputs_per_tile"])
    output_perf = _perf(dut, ports, "transform_perf")["output_cycles"]
    return {"v_tiles": v_tiles, "sums": sums, "y_tiles": y_tiles, "tap_perf": tap_perf,
            "tap_cycles": tap_cycles, "input_cycles": input_cycles,
            "output_cycles": output_cycles, "input_perf": input_perf,
            "output_perf": output_perf}
