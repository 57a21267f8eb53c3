"""The write-back engine (hw/writer.py) on its own in Amaranth's simulator, against a numpy
model: for one output tile under ws, os and is, the write requests the DRAM takes (address,
data, order: row by row, one FETCH cycle per row, lane by lane), with the requantization stage
off and on (values from workloads/methods/requant_ref.requantize with the parameters of the
lane's or row's filter, ReLU too), with a DRAM that holds `wr.ready` low some cycles (a request
is held unchanged until taken), and `done` in the cycle the last one is taken."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from dlaforge.hw.layouts import DATAFLOW_CODES, DesignParams, GeneratorParams
from dlaforge.hw.writer import Writer
from dlaforge.program import BufferGeometry
from dlaforge.workloads.methods.requant_ref import requantize

HALF = 4
OFMAP_BASE = 1000


def geometry(rows, cols, requant):
    return DesignParams(rows, cols, 8, 8, 32, BufferGeometry(HALF, HALF, HALF),
                        ("ws", "os", "is"), GeneratorParams(requant=requant), requant=requant,
                        ofmap_bits=8, block_filters=max(cols, HALF) if requant else 0)


def run_writer(geo, cmd, tile, acc, params, ready_of):
    """One write-back; the requests taken (cycle, addr, data), FETCH cycles, done cycles and
    the start cycle. `params`: per channel of the n-block (multiplier, shift)."""
    dut = Writer(geo)
    out = {"taken": [], "fetch": [], "done": [], "channels": []}

    async def bench(ctx):
        for name, value in cmd.items():
            ctx.set(getattr(dut.cmd, name), value)
        for name, value in tile.items():
            ctx.set(getattr(dut, name), value)
        for _ in range(2):                    # idle: nothing asked for
            assert (ctx.get(dut.wr.valid), ctx.get(dut.fetch), ctx.get(dut.done)) == (0, 0, 0)
            await ctx.tick()
        t, addr_seen, held = 0, 0, None
        out["start"] = t
        ctx.set(dut.start, 1)
        while True:
            for j in range(geo.cols):         # synchronous read of the accumulator
                ctx.set(dut.acc_data[j], int(acc[addr_seen % len(acc), j]))
            addr_seen = ctx.get(dut.acc_addr)
            if geo.requant:                   # the parameter table answers combinationally
                channel = ctx.get(dut.channel)
                multiplier, shift = params[channel % len(params)]
                ctx.set(dut.param.multiplier, multiplier)
                ctx.set(dut.param.shift, shift)
            ready = ready_of(t)
            ctx.set(dut.wr.ready, ready)
            valid = ctx.get(dut.wr.valid)
            request = (ctx.get(dut.wr.payload.addr), ctx.get(dut.wr.payload.data))
            if held is not None:
                assert (valid, *request) == (1, *held), t
            held = request if valid and not ready else None
            if valid and ready:
                out["taken"].append((t, *request))
                if geo.requant:
                    out["channels"].append(channel)
            if ctx.get(dut.fetch):
                out["fetch"].append((t, addr_seen))
                assert not valid
            done = ctx.get(dut.done)
            if done:
                out["done"].append(t)
            await ctx.tick()
            ctx.set(dut.start, 0)
            t += 1
            if done:
                break
            assert t < 1000
        for _ in range(2):
            ctx.set(dut.wr.ready, 1)
            assert (ctx.get(dut.wr.valid), ctx.get(dut.fetch), ctx.get(dut.done)) == (0, 0, 0)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out


def model(dataflow, M, n0, m0, n_size, m_size, out_half, acc, requant=None, relu=False):
    """The writes in order: (addr, value), and the accumulator word of each row. ws, os: row m
    (word out_half*HALF + m), lane n; is: row n, lane m. Address OFMAP_BASE + (n0+n)*M + m0+m."""
    writes, words = [], []
    rows, lanes = (n_size, m_size) if dataflow == "is" else (m_size, n_size)
    for row in range(rows):
        words.append(out_half * HALF + row)
        for lane in range(lanes):
            n, m = (row, lane) if dataflow == "is" else (lane, row)
            value = int(acc[out_half * HALF + row, lane])
            if requant is not None:
                multiplier, shift = requant[n]
                value = int(requantize(np.array([[value]]), np.array([multiplier]),
                                       np.array([shift]), 8, relu)[0, 0])
            writes.append((OFMAP_BASE + (n0 + n) * M + m0 + m, value))
    return writes, words


READY = {"always": lambda t: True,
         "stalls": lambda t: (t * 5) % 7 not in (1, 2, 4)}


@pytest.mark.parametrize("ready", list(READY))
@pytest.mark.parametrize("mode", ["plain_design", "requant_off", "requant", "requant_relu"])
@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_writer_against_model(dataflow, mode, ready):
    rows, cols = (2, 3) if dataflow != "os" else (3, 2)
    requant_design = mode != "plain_design"
    on = mode.startswith("requant") and mode != "requant_off"
    relu = mode == "requant_relu"
    geo = geometry(rows, cols, requant_design)
    rng = np.random.default_rng(len(dataflow) + len(mode) * 3 + len(ready))
    M, n0, m0, out_half = 23, 3, 5, 1
    acc = rng.integers(-40000, 40000, (2 * HALF, cols))
    # two sums of the tile (rows 0 and 1, lane 0) that saturate either way when requantized
    acc[out_half * HALF, 0], acc[out_half * HALF + 1, 0] = 200_000_000, -200_000_000
    # a tile not at the origin: n0, m0 > 0, sizes below the block's
    if dataflow == "is":
        n_size, m_size = HALF - 1, cols - 1       # rows: filters n, lanes: pixels m
    else:
        n_size, m_size = cols - 1, HALF - 1 if dataflow == "ws" else rows
    params = [(int(rng.integers(1, 1 << 16)), int(rng.integers(23, 26))) for _ in range(HALF)]
    cmd = {"ofmap_base": OFMAP_BASE, "M": M, "dataflow": DATAFLOW_CODES[dataflow]}
    if requant_design:
        cmd.update({"requant": int(on), "relu": int(relu)})
    tile = {"n0": n0, "m0": m0, "out_half": out_half, "m_size": m_size, "n_size": n_size}
    got = run_writer(geo, cmd, tile, acc, params, READY[ready])

    want, words = model(dataflow, M, n0, m0, n_size, m_size, out_half, acc,
                        params if on else None, relu)
    assert [(a, v) for _, a, v in got["taken"]] == want
    # the writes are not all the same value, so that the order above means something, and
    # requantized ones lie in the 8-bit range, with saturation both ways (0 with ReLU)
    values = np.array([v for _, v in want])
    assert len(set(values.tolist())) > len(values) // 2
    if on:
        assert values.max() == 127 and values.min() == (0 if relu else -128)
    else:
        assert np.abs(values).max() > 127
    # one FETCH per row, of the row's word, before its lanes
    rows_ = n_size if dataflow == "is" else m_size
    lanes = m_size if dataflow == "is" else n_size
    assert [w for _, w in got["fetch"]] == words
    taken_t = [t for t, _, _ in got["taken"]]
    for r, (t_fetch, _) in enumerate(got["fetch"]):
        row_t = taken_t[r * lanes:(r + 1) * lanes]
        assert t_fetch < row_t[0] and (r == 0 or taken_t[r * lanes - 1] < t_fetch)
    # done in the cycle the last write is taken
    assert got["done"] == [taken_t[-1]]
    if ready == "always":
        # FETCH the cycle after start, then one write per cycle, a fetch between rows
        assert got["fetch"][0][0] == got["start"] + 1
        assert taken_t[-1] == got["start"] + rows_ * (lanes + 1)
    else:
        assert taken_t[-1] > got["start"] + rows_ * (lanes + 1)
    if on:
        # the parameter table is addressed by the filter within the n-block
        assert got["channels"] == [(r if dataflow == "is" else lane)
                                   for r in range(rows_) for lane in range(lanes)]
