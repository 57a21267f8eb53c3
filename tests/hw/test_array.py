"""The PE array in Amaranth's simulator, bit-exact against numpy integer math (wrapped at
psum_bits), for both dataflows, with the extreme int8 operands."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from dlaforge.hw.array import Skew, SystolicArray
from dlaforge.hw.pe import Mode


def wrap(x, bits):
    x = np.asarray(x, dtype=np.int64) & ((1 << bits) - 1)
    return np.where(x >= 1 << (bits - 1), x - (1 << bits), x)


def run_array(dataflow, A, B, psum_bits=32):
    """Drive a bare array cycle by cycle: A is T x rows (ws) or rows x T (os), B rows x cols
    (ws) or T x cols (os). Returns the output matrix read from the south edge."""
    if dataflow == "ws":
        T, rows = A.shape
        cols = B.shape[1]
    else:
        rows, T = A.shape
        cols = B.shape[1]
    dut = SystolicArray(rows, cols, 8, 8, psum_bits, (dataflow,))
    out = np.zeros((T, cols) if dataflow == "ws" else (rows, cols), dtype=np.int64)

    async def bench(ctx):
        def west(k, x):
            for i in range(rows):
                t = k - x - i
                ok = 0 <= t < T
                ctx.set(dut.west[i], int((A[t, i] if dataflow == "ws" else A[i, t]) if ok else 0))

        if dataflow == "ws":
            for k in range(rows):                       # preload, last row first
                ctx.set(dut.mode, Mode.LOAD)
                for j in range(cols):
                    ctx.set(dut.north[j], int(B[rows - 1 - k, j]))
                await ctx.tick()
            x = rows
            for k in range(x, x + T + rows + cols - 1):
                ctx.set(dut.mode, Mode.WS if k < x + T + rows + cols - 2 else Mode.IDLE)
                west(k, x)
                for j in range(cols):
                    t = k - x - rows - j
                    if 0 <= t < T:
                        out[t, j] = ctx.get(dut.south[j])
                await ctx.tick()
        else:
            for k in range(T + rows + cols - 2):
                ctx.set(dut.mode, Mode.OS)
                west(k, 0)
                for j in range(cols):
                    t = k - j
                    ctx.set(dut.north[j], int(B[t, j]) if 0 <= t < T else 0)
                await ctx.tick()
            for d in range(rows):
                ctx.set(dut.mode, Mode.DRAIN)
                for j in range(cols):
                    out[rows - 1 - d, j] = ctx.get(dut.south[j])
                await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out


def operands(kind, rng, shape_a, shape_b):
    if kind == "random":
        return (rng.integers(-128, 128, shape_a), rng.integers(-128, 128, shape_b))
    value = {"min": -128, "ones": 1, "all_ones_bits": -1}[kind]
    return np.full(shape_a, value), np.full(shape_b, value)


@pytest.mark.parametrize("kind", ["random", "min", "ones", "all_ones_bits"])
@pytest.mark.parametrize("rows,cols,T", [(4, 4, 6), (3, 5, 1), (2, 3, 9)])
def test_ws_array_is_bit_exact(kind, rows, cols, T):
    A, B = operands(kind, np.random.default_rng(rows * 100 + T), (T, rows), (rows, cols))
    assert np.array_equal(run_array("ws", A, B), wrap(A @ B, 32))


@pytest.mark.parametrize("kind", ["random", "min", "ones", "all_ones_bits"])
@pytest.mark.parametrize("rows,cols,T", [(4, 4, 6), (3, 5, 1), (2, 3, 9)])
def test_os_array_is_bit_exact(kind, rows, cols, T):
    A, B = operands(kind, np.random.default_rng(rows * 100 + T), (rows, T), (T, cols))
    assert np.array_equal(run_array("os", A, B), wrap(A @ B, 32))


def test_narrow_psum_wraps_like_twos_complement():
    A, B = np.full((2, 2), -128), np.full((2, 2), -128)      # 2 * 16384 = 32768 wraps at 16 bit
    assert wrap(A @ B, 16)[0, 0] == -32768
    assert np.array_equal(run_array("os", A, B, psum_bits=16), wrap(A @ B, 16))
    assert np.array_equal(run_array("ws", A, B, psum_bits=16), wrap(A @ B, 16))


@pytest.mark.parametrize("reverse", [False, True])
def test_skew_delays_each_lane_by_its_index(reverse):
    dut = Skew(3, 8, reverse=reverse)
    seen = []

    async def bench(ctx):
        for k in range(6):
            for lane in range(3):
                ctx.set(dut.i[lane], 10 * k + lane)
            seen.append([ctx.get(dut.o[lane]) for lane in range(3)])
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    for k in range(2, 6):
        delays = [2, 1, 0] if reverse else [0, 1, 2]
        assert seen[k] == [10 * (k - d) + lane for lane, d in enumerate(delays)]
