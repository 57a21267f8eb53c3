"""The compute engine (hw/fold.py) on its own in Amaranth's simulator: one fold under ws, os and
is on 2x3 and 3x2 arrays, from buffer contents the test places (the buffers are Python models
of synchronous-read memories: data one cycle after the address), against the numpy GEMM of the
tile: the accumulator rows written, their order and cycles, first_k (overwrite) and accumulate
cases, the other half untouched, buffer rows past the tile's size ignored, and the fold's length
equal to accelerator_plan.fold_length."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from dlaforge.hw.fold import FoldEngine
from dlaforge.hw.layouts import DATAFLOW_CODES, DesignParams, GeneratorParams
from dlaforge.program import BufferGeometry
from dlaforge.workloads.methods.accelerator_plan import fold_length

HALF = 5      # words per buffer half


def run_folds(rows, cols, folds, ifmap, weight, acc):
    """Run `folds` (dicts of the engine's inputs) one after another, a cycle apart; the memories
    (arrays of words) are changed in place. Per fold: its start cycle, done cycles, the
    accumulator writes (cycle, address, row) and reads (cycle, address)."""
    geo = DesignParams(rows, cols, 8, 8, 32, BufferGeometry(HALF, HALF, HALF),
                       ("ws", "os", "is"), GeneratorParams(requant=False))
    dut = FoldEngine(geo)
    log = []

    async def bench(ctx):
        t = 0
        data = {"i": 0, "w": 0, "a": 0}       # addresses seen last cycle
        for fold in folds:
            record = {"start": t, "done": [], "writes": [], "reads": [], "ifmap_reads": 0,
                      "weight_reads": 0}
            log.append(record)
            for name, value in fold.items():
                ctx.set(getattr(dut, name), value)
            ctx.set(dut.start, 1)
            while True:
                # synchronous reads: the word at last cycle's address (an address past the
                # memory, outside the engine's reads, gives another word: not zeros)
                for j in range(rows):
                    ctx.set(dut.ifmap_data[j], int(ifmap[data["i"] % len(ifmap), j]))
                for j in range(cols):
                    ctx.set(dut.weight_data[j], int(weight[data["w"] % len(weight), j]))
                    ctx.set(dut.acc_rdata[j], int(acc[data["a"] % len(acc), j]))
                data = {"i": ctx.get(dut.ifmap_addr), "w": ctx.get(dut.weight_addr),
                        "a": ctx.get(dut.acc_raddr)}
                assert ctx.get(dut.busy) == 1
                record["ifmap_reads"] += ctx.get(dut.ifmap_read)
                record["weight_reads"] += ctx.get(dut.weight_read)
                if ctx.get(dut.acc_ren):
                    record["reads"].append((t, data["a"]))
                done = ctx.get(dut.done)
                if done:
                    record["done"].append(t)
                if ctx.get(dut.acc_we):
                    address = ctx.get(dut.acc_waddr)
                    row = [ctx.get(dut.acc_wdata[j]) for j in range(cols)]
                    record["writes"].append((t, address, row))
                    acc[address] = row           # after this cycle's read (not transparent)
                await ctx.tick()
                ctx.set(dut.start, 0)
                t += 1
                if done:
                    break
                assert t < 1000
            assert ctx.get(dut.busy) == 0 and ctx.get(dut.acc_we) == 0
            await ctx.tick()
            t += 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return log


def expected(dataflow, rows, cols, sizes, half, ifmap, weight):
    """The tile's GEMM from the buffers, row by row as the accumulator gets it (docstring):
    ws: row m = ifmap word m (kd lanes) x weight words 0 .. k_size-1 (n lanes), rows of the
    weight half past k_size read as zero; is: the same with T = n_size streamed weight words;
    os: row i (pixel m) = sum over k < k_size of ifmap[k][i] * weight[k][:]."""
    m_size, k_size, n_size = sizes
    i_half, w_half = ifmap[half * HALF:(half + 1) * HALF], weight[half * HALF:(half + 1) * HALF]
    if dataflow == "os":
        return i_half[:k_size].T @ w_half[:k_size]                       # rows x cols
    T = n_size if dataflow == "is" else m_size
    stationary = np.zeros((rows, cols), dtype=np.int64)
    stationary[:k_size] = w_half[:k_size]
    return i_half[:T] @ stationary                                        # T x cols


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
@pytest.mark.parametrize("rows,cols", [(2, 3), (3, 2)])
def test_fold_writes_the_tile_gemm(dataflow, rows, cols):
    rng = np.random.default_rng(rows * 10 + cols + len(dataflow))
    # every word of both halves random, the parts outside the tile too (they must not count)
    ifmap = rng.integers(-128, 128, (2 * HALF, rows))
    weight = rng.integers(-128, 128, (2 * HALF, cols))
    acc = rng.integers(-1000, 1000, (2 * HALF, cols))
    code = DATAFLOW_CODES[dataflow]
    # (m_size, k_size, n_size, half, out_half, first_k): sizes below and at the array's and
    # the buffer half's; the second and third folds accumulate onto the first's rows
    if dataflow == "ws":
        sizes = [(HALF, rows, cols, 0, 1, 1), (3, rows - 1, cols, 1, 1, 0),
                 (2, 1, cols - 1, 0, 1, 0)]
    elif dataflow == "os":
        sizes = [(rows, HALF, cols, 1, 0, 1), (rows - 1, 2, cols, 0, 0, 0),
                 (rows, 1, cols - 1, 1, 0, 0)]
    else:
        sizes = [(cols, rows, HALF, 0, 0, 1), (cols - 1, rows - 1, 3, 1, 0, 0),
                 (cols, 1, 2, 1, 0, 0)]
    folds = [{"dataflow": code, "m_size": m, "k_size": k, "n_size": n, "half": h,
              "out_half": o, "first_k": f} for m, k, n, h, o, f in sizes]
    before = acc.copy()
    model = before.copy()
    log = run_folds(rows, cols, folds, ifmap, weight, acc)

    for (m_size, k_size, n_size, half, out_half, first_k), record in zip(sizes, log):
        T = {"ws": m_size, "os": k_size, "is": n_size}[dataflow]
        length = fold_length(dataflow, rows, cols, T)
        start = record["start"]
        assert record["done"] == [start + length - 1]
        tile = expected(dataflow, rows, cols, (m_size, k_size, n_size), half, ifmap, weight)
        base = out_half * HALF
        out_rows = list(range(T)) if dataflow != "os" else list(range(rows - 1, -1, -1))
        # rows in order, one per cycle, the last in the fold's last cycle
        first = start + (2 * rows + cols + 1 if dataflow != "os" else T + rows + cols)
        assert [(t, a) for t, a, _ in record["writes"]] == \
            [(first + i, base + r) for i, r in enumerate(out_rows)]
        assert record["writes"][-1][0] == record["done"][0]
        # accumulate: each row read one cycle before it is written, unless first_k
        assert record["reads"] == ([] if first_k else
                                   [(t - 1, a) for t, a, _ in record["writes"]])
        for r in out_rows:
            model[base + r] = tile[r] + (0 if first_k else model[base + r])
        for t, a, row in record["writes"]:
            assert row == model[a].tolist(), (dataflow, t, a)
        # buffer reads: rows weight words and T ifmap words (ws, is), T of each (os)
        assert (record["ifmap_reads"], record["weight_reads"]) == \
            ((T, T) if dataflow == "os" else (T, rows))
    assert np.array_equal(acc, model)
    other = 1 - sizes[0][4]
    assert np.array_equal(acc[other * HALF:(other + 1) * HALF],
                          before[other * HALF:(other + 1) * HALF])


def test_fold_sums_wrap_at_psum_bits():
    """-128 x -128 over the whole reduction, accumulated onto a sum near the top: wraps."""
    rows, cols = 2, 3
    ifmap = np.full((2 * HALF, rows), -128)
    weight = np.full((2 * HALF, cols), -128)
    top = (1 << 31) - 1
    acc = np.full((2 * HALF, cols), top - 100)
    fold = {"dataflow": 0, "m_size": 1, "k_size": rows, "n_size": cols, "half": 0,
            "out_half": 0, "first_k": 0}
    [record] = run_folds(rows, cols, [fold], ifmap, weight, acc)
    want = (top - 100 + rows * 128 * 128 + (1 << 31)) % (1 << 32) - (1 << 31)
    assert record["writes"][0][2] == [want] * cols and want < 0
