"""The load engine (hw/loader.py) on its own in Amaranth's simulator, driven through every tile
of a small command in the order of accelerator_plan, against an im2col model in numpy: the
DRAM addresses it requests, in order, with their tags; the buffer writes (buffer, word, lane,
data), zero-padding writes included, which need no DRAM read and never take a cycle in which
read data arrives; one element per cycle, requests held until the DRAM takes them; and `done`
in the first cycle in which every element is issued and no read is outstanding. The DRAM of
the testbench answers after a latency and is sometimes not ready."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from dlaforge.arch import load_arch
from dlaforge.hw.layouts import DesignParams, GeneratorParams, command_fields
from dlaforge.hw.loader import Loader
from dlaforge.hw.shapes import conv
from dlaforge.workloads.methods.palquant.plan import slice_passes
from dlaforge.workloads.methods.accelerator_plan import Gemm, RtlPlan

IFMAP_BASE, WEIGHT_BASE = 7, 300


def im2col(g: Gemm, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A[m, kd] of the image x (C x H x W) and its DRAM address (-1: zero padding), from numpy
    index arrays: m = p*Q + q, kd = (c*R + r)*S + s."""
    p, q = np.divmod(np.arange(g.M), g.Q)
    c, rs = np.divmod(np.arange(g.Kd), g.R * g.S)
    r, s = np.divmod(rs, g.S)
    h = p[:, None] * g.stride + r[None, :] - g.padding
    w = q[:, None] * g.stride + s[None, :] - g.padding
    inside = (h >= 0) & (h < g.H) & (w >= 0) & (w < g.W)
    addr = IFMAP_BASE + (c[None, :] * g.H + h) * g.W + w
    addr = np.where(inside, addr, -1)
    values = np.where(inside, x[c[None, :], np.clip(h, 0, g.H - 1), np.clip(w, 0, g.W - 1)], 0)
    return values, addr


def tile_walk(plan: RtlPlan, passes=((0, 0),)):
    """The loads of a command in the order of accelerator_plan (with bit-sliced passes: n-block,
    m-block, pass, kd-block, as hw/tiles.py walks them): per tile the loader's inputs."""
    tn, tm, tk = plan.trips
    g = plan.gemm
    tiles = []
    for nb in range(tn):
        for mb in range(tm):
            for index, (i, j) in enumerate(passes):
                last_pass = index == len(passes) - 1
                for kb in range(tk):
                    n0, m0, kd0 = nb * plan.Nt, mb * plan.Mt, kb * plan.Kt
                    tiles.append({
                        "n0": n0, "m0": m0, "kd0": kd0, "half": len(tiles) % 2,
                        "n_size": min(plan.Nt, g.K - n0), "m_size": min(plan.Mt, g.M - m0),
                        "k_size": min(plan.Kt, g.Kd - kd0),
                        "last_k": int(kb == tk - 1 and last_pass), "last_m": int(mb == tm - 1),
                        "plane_a": i, "plane_w": j,
                        "pass_end": int(kb == tk - 1 and not last_pass)})
    return tiles


def tile_elements(plan: RtlPlan, geo: DesignParams, tile, a_addr, planes=(0, 0)):
    """The elements of one tile's load in order: (DRAM address or -1 for padding, buffer,
    buffer word, lane). A block then B block, word by word, lane by lane (docstring); with
    passes, the ifmap and weight slice planes `planes` elements apart."""
    n0, m0, kd0, half = tile["n0"], tile["m0"], tile["kd0"], tile["half"]
    n_size, m_size, k_size = tile["n_size"], tile["m_size"], tile["k_size"]
    a_off = tile["plane_a"] * planes[0]
    w_off = tile["plane_w"] * planes[1]
    Kd = plan.gemm.Kd
    halves = {"ifmap": geo.buffers.ifmap_half, "weight": geo.buffers.weight_half}
    df = plan.dataflow
    out = []

    def put(addr, buffer, word, lane):
        out.append((int(addr), buffer, half * halves[buffer] + word, lane))

    def a(m, kd):
        addr = a_addr[m0 + m, kd0 + kd]
        return addr + a_off if addr >= 0 else -1

    a_buffer, b_buffer = ("weight", "ifmap") if df == "is" else ("ifmap", "weight")
    if df == "ws":
        for m in range(m_size):
            for kd in range(k_size):
                put(a(m, kd), a_buffer, m, kd)
    else:
        for kd in range(k_size):
            for m in range(m_size):
                put(a(m, kd), a_buffer, kd, m)
    if df == "is":
        for n in range(n_size):
            for kd in range(k_size):
                put(WEIGHT_BASE + w_off + (n0 + n) * Kd + kd0 + kd, b_buffer, n, kd)
    else:
        for kd in range(k_size):
            for n in range(n_size):
                put(WEIGHT_BASE + w_off + (n0 + n) * Kd + kd0 + kd, b_buffer, kd, n)
    return out


def run_loader(geo, fields, tiles, memory, latency, ready_of, gap_after):
    """Load every tile in order; per tile, its start cycle, the requests taken (cycle, addr,
    tag), the writes (cycle, buffer, word, lane, data), the response cycles and the cycles in
    which `done` was high."""
    dut = Loader(geo)
    log = []

    async def bench(ctx):
        for name, value in fields.items():
            ctx.set(getattr(dut.cmd, name), value)
        ctx.set(dut.restart, 1)
        await ctx.tick()
        ctx.set(dut.restart, 0)
        t = 0
        pending = {}
        held = None
        for index, tile in enumerate(tiles):
            record = {"start": t, "reads": [], "writes": [], "arrivals": [], "done": []}
            log.append(record)
            for name in ("n0", "kd0", "half", "m_size", "k_size", "n_size", "last_k", "last_m",
                         "plane_a", "plane_w", "pass_end"):
                ctx.set(getattr(dut, name), tile[name])
            ctx.set(dut.start, 1)
            while True:
                ready = ready_of(t)
                ctx.set(dut.req.ready, ready)
                due = pending.pop(t, None)
                ctx.set(dut.resp.valid, due is not None)
                if due is not None:
                    ctx.set(dut.resp.payload.data, due[0])
                    ctx.set(dut.resp.payload.tag.as_value(), due[1])
                    record["arrivals"].append(t)
                assert ctx.get(dut.resp.ready) == 1
                valid = ctx.get(dut.req.valid)
                addr = ctx.get(dut.req.payload.addr)
                tag = ctx.get(dut.req.payload.tag.as_value())
                if held is not None:       # a request not taken is offered again, unchanged
                    assert (valid, addr, tag) == (1, *held), (index, t)
                held = (addr, tag) if valid and not ready else None
                if valid and ready:
                    assert t + latency not in pending
                    pending[t + latency] = (int(memory[addr]), tag)
                    record["reads"].append((t, addr, (
                        ctx.get(dut.req.payload.tag.weight), ctx.get(dut.req.payload.tag.word),
                        ctx.get(dut.req.payload.tag.lane))))
                w_i, w_w = ctx.get(dut.wr_ifmap), ctx.get(dut.wr_weight)
                assert not (w_i and w_w)
                if w_i or w_w:
                    record["writes"].append((t, "weight" if w_w else "ifmap",
                                             ctx.get(dut.wr_word), ctx.get(dut.wr_lane),
                                             ctx.get(dut.wr_data)))
                done = ctx.get(dut.done)
                if done:
                    record["done"].append(t)
                await ctx.tick()
                ctx.set(dut.start, 0)
                t += 1
                if done:
                    break
                assert t < 10_000
            assert not pending
            # the engine is idle after `done`: nothing is asked for while it waits
            for _ in range(gap_after(index)):
                ctx.set(dut.req.ready, ready_of(t))
                ctx.set(dut.resp.valid, 0)
                assert (ctx.get(dut.req.valid), ctx.get(dut.wr_ifmap), ctx.get(dut.wr_weight),
                        ctx.get(dut.done)) == (0, 0, 0, 0)
                await ctx.tick()
                t += 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return log


def check_loads(plan, geo, tiles, log, memory, a_values, a_addr, latency, ready_of,
                planes=(0, 0)):
    """Every tile's record against the model; counts of padding writes, and of cycles a
    padding write waited for arriving data. a_values[i]: the im2col matrix of ifmap slice
    plane i."""
    buffers = {}
    pads_seen = 0
    stats = {"pads_after_data": 0}
    always_ready = all(ready_of(t) for t in range(100))
    for index, (tile, record) in enumerate(zip(tiles, log)):
        elements = tile_elements(plan, geo, tile, a_addr, planes)
        reads = [e for e in elements if e[0] >= 0]
        # the DRAM reads, in order, with the tag naming the element's buffer, word and lane
        assert [(a, tag) for _, a, tag in record["reads"]] == \
            [(addr, (int(buf == "weight"), word, lane)) for addr, buf, word, lane in reads]
        # every arriving element is written in its cycle; padding zeros only in other cycles
        arrivals = set(record["arrivals"])
        writes = {t: tuple(w) for t, *w in record["writes"]}
        assert len(writes) == len(record["writes"]) == len(elements)
        data = [writes[t] for t in record["arrivals"]]
        assert data == [(buf, word, lane, int(memory[addr])) for addr, buf, word, lane in reads]
        pads = [w for t, w in sorted(writes.items()) if t not in arrivals]
        assert pads == [(buf, word, lane, 0) for addr, buf, word, lane in elements if addr < 0]
        pads_seen += len(pads)
        # one element per cycle, in the walk's order: a read when taken, a pad when written
        issues = sorted([(t, ("read", a)) for t, a, _ in record["reads"]] +
                        [(t, ("pad", w[0], w[1], w[2])) for t, w in writes.items()
                         if t not in arrivals])
        assert len({t for t, _ in issues}) == len(issues)
        assert [e for _, e in issues] == [("read", addr) if addr >= 0 else ("pad", buf, word, lane)
                                          for addr, buf, word, lane in elements]
        first_issue, last_issue = issues[0][0], issues[-1][0]
        assert first_issue >= record["start"] + 1
        # no cycle lost: an element waits only while the DRAM is not ready (a read) or read
        # data arrives (a pad, as the write port is the data's first)
        for (before, _), (t, element) in zip([(record["start"], None)] + issues, issues):
            for idle in range(before + 1, t):
                if element[0] == "read":
                    assert not ready_of(idle), (index, idle)
                else:
                    assert idle in arrivals, (index, idle)
                    stats["pads_after_data"] += 1
        # done: one cycle, the first with everything issued and nothing outstanding
        assert record["done"] == [max(last_issue, max(arrivals, default=0)) + 1]
        if always_ready:
            assert first_issue == record["start"] + 1
            if not pads:      # the timing contract's closed form (gap 1, no padding)
                assert record["done"][0] == record["start"] + len(elements) + latency + 1
        for t, buf, word, lane, value in record["writes"]:
            buffers[buf, word, lane, index] = value
        # the model's buffer contents for this tile
        for addr, buf, word, lane in elements:
            want = 0 if addr < 0 else int(memory[addr])
            assert buffers[buf, word, lane, index] == want
        # A in the buffer is the im2col block of the tile
        dataflow = plan.dataflow
        m0, kd0, m_size, k_size = tile["m0"], tile["kd0"], tile["m_size"], tile["k_size"]
        a_buf = "weight" if dataflow == "is" else "ifmap"
        half = tile["half"] * (geo.buffers.weight_half if dataflow == "is"
                               else geo.buffers.ifmap_half)
        block = np.array([[buffers[a_buf, half + (m if dataflow == "ws" else kd),
                                   kd if dataflow == "ws" else m, index]
                           for kd in range(k_size)] for m in range(m_size)])
        assert np.array_equal(block, a_values[tile["plane_a"]][m0:m0 + m_size,
                                                                kd0:kd0 + k_size])
    return pads_seen, stats["pads_after_data"]


CASES = {
    # name: (rows, cols, dataflow, gemm)
    "ws_padding": (2, 3, "ws", conv(2, 4, 4, 3, 3, 3, padding=1)),
    "os_stride2_padding": (2, 3, "os", conv(2, 5, 5, 2, 3, 3, stride=2, padding=1)),
    "is_padding": (3, 2, "is", conv(1, 4, 3, 4, 2, 3, padding=1)),
    # rounded-up output size: the last row and column of windows hang past the image
    "ws_hanging_window": (3, 2, "ws", Gemm(C=1, H=6, W=4, K=2, R=3, S=3, P=3, Q=2, stride=2)),
    "os_stride2": (3, 2, "os", conv(2, 7, 5, 3, 3, 1, stride=2)),
    "is_gemm": (2, 3, "is", Gemm.matmul(4, 5, 5)),
}
# DRAMs: (latency, ready pattern): always ready; not ready in bursts; data the next cycle
DRAMS = {"ready": (3, lambda t: True),
         "stalls": (5, lambda t: (t * 7) % 11 not in (0, 3, 4, 8)),
         "latency1": (1, lambda t: t % 4 != 1)}


@pytest.mark.parametrize("dram", list(DRAMS))
@pytest.mark.parametrize("name", list(CASES))
def test_loader_against_im2col_model(arch_yaml, name, dram):
    rows, cols, dataflow, gemm = CASES[name]
    latency, ready_of = DRAMS[dram]
    # 144 bytes shared by the three operands: a few words per half, several tiles per loop
    arch = load_arch(arch_yaml({"pe_array.rows": rows, "pe_array.cols": cols,
                                "memory.1.size_bytes": 144}))
    plan = RtlPlan.make(arch, dataflow, gemm)
    geo = DesignParams.of(arch, GeneratorParams(requant=False))
    fields = command_fields(plan, IFMAP_BASE, WEIGHT_BASE, 0)
    rng = np.random.default_rng(len(name))
    memory = rng.integers(1, 128, 600) * rng.choice([-1, 1], 600)   # no zeros: padding shows
    x = memory[IFMAP_BASE:IFMAP_BASE + gemm.C * gemm.H * gemm.W].reshape(gemm.C, gemm.H, gemm.W)
    a_values, a_addr = im2col(gemm, x)
    assert WEIGHT_BASE >= IFMAP_BASE + x.size and WEIGHT_BASE + gemm.K * gemm.Kd <= 600
    tiles = tile_walk(plan)
    assert [[t["n0"] // plan.Nt, t["m0"] // plan.Mt, t["kd0"] // plan.Kt, t["n_size"],
             t["m_size"], t["k_size"]] for t in tiles] == plan.tiles().tolist()
    log = run_loader(geo, fields, tiles, memory, latency, ready_of, gap_after=lambda i: i % 3)
    pads_seen, waits = check_loads(plan, geo, tiles, log, memory, [a_values], a_addr, latency,
                                   ready_of)
    if dram == "latency1" and name == "ws_padding":
        assert waits > 0          # the case shows a padding write waiting for arriving data
    assert len(log) == len(tiles) > 2
    has_padding = (a_addr < 0).any()
    assert (pads_seen > 0) == has_padding
    if "padding" in name or "hanging" in name:
        assert has_padding


@pytest.mark.parametrize("dataflow,buffer_bytes,C", [("ws", 288, 2), ("os", 144, 3)])
def test_loader_reads_the_slice_planes_of_each_pass(arch_yaml, dataflow, buffer_bytes, C):
    """Bit-sliced passes: the tile of pass (i, j) reads ifmap plane i and weight plane j, and
    after a pass's last kd tile (`pass_end`) the next pass walks the same m block again."""
    params = GeneratorParams(slice_bits=2, requant=False)
    arch = load_arch(arch_yaml({"pe_array.rows": 2, "pe_array.cols": 3,
                                "memory.1.size_bytes": buffer_bytes}))
    gemm = conv(C, 3, 3, 2, 2, 2, padding=1)
    plan = RtlPlan.make(arch, dataflow, gemm)
    geo = DesignParams.of(arch, params)
    planes = (40, 60)
    a_top, w_top = 2, 1
    fields = command_fields(plan, IFMAP_BASE, WEIGHT_BASE, 0, params=params,
                            slices={"a_top": a_top, "w_top": w_top, "ifmap_plane": planes[0],
                                    "weight_plane": planes[1]})
    rng = np.random.default_rng(5)
    memory = rng.integers(1, 128, 600) * rng.choice([-1, 1], 600)
    size = gemm.C * gemm.H * gemm.W
    assert IFMAP_BASE + a_top * planes[0] + size <= WEIGHT_BASE
    a_values = []
    for i in range(a_top + 1):
        x = memory[IFMAP_BASE + i * planes[0]:][:size].reshape(gemm.C, gemm.H, gemm.W)
        values, a_addr = im2col(gemm, x)
        a_values.append(values)
    passes = [(i, j) for i, j, _ in slice_passes(a_top, w_top)]
    tiles = tile_walk(plan, passes)
    assert plan.trips[1] > 1 and plan.trips[2] > 1 and len(tiles) == 6 * len(plan.tiles())
    ready_of = lambda t: t % 5 != 3        # noqa: E731
    log = run_loader(geo, fields, tiles, memory, 2, ready_of, gap_after=lambda i: 0)
    assert check_loads(plan, geo, tiles, log, memory, a_values, a_addr, 2, ready_of,
                       planes)[0] > 0
