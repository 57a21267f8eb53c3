"""The requantization stage (hw/requant.py) in Amaranth's simulator against the numba reference
(workloads/methods/requant_ref.py): random sums, multipliers and shifts, and the corners; and
the parameter table's DRAM encoding."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from dlaforge.hw.requant import Requantizer, param_table
from dlaforge.workloads.methods.requant_ref import Requant, requantize


def run_stage(acc_bits, out_bits, cases):
    """q of each (acc, multiplier, shift, relu) case, read from the stage."""
    dut = Requantizer(acc_bits, out_bits)
    got = []

    async def bench(ctx):
        for acc, multiplier, shift, relu in cases:
            ctx.set(dut.acc, acc)
            ctx.set(dut.param.multiplier, multiplier)
            ctx.set(dut.param.shift, shift)
            ctx.set(dut.relu, relu)
            got.append(ctx.get(dut.q))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return got


def corners(acc_bits):
    top, bottom = (1 << (acc_bits - 1)) - 1, -(1 << (acc_bits - 1))
    cases = []
    for acc in (top, bottom, 0, 1, -1, 3, -3, 5, -5, 128 * 128 * 18, -128 * 127 * 18):
        for multiplier, shift in ((1, 0), (1, 1), (65535, 0), (65535, 63), (40000, 20),
                                  (32768, 16), (1, 2), (0, 5)):
            for relu in (0, 1):
                cases.append((max(bottom, min(top, acc)), multiplier, shift, relu))
    return cases


@pytest.mark.parametrize("acc_bits,out_bits", [(32, 8), (20, 4)])
def test_stage_equals_reference(acc_bits, out_bits):
    rng = np.random.default_rng(acc_bits)
    n = 400
    random = list(zip(rng.integers(-(1 << (acc_bits - 1)), 1 << (acc_bits - 1), n).tolist(),
                      rng.integers(0, 1 << 16, n).tolist(), rng.integers(0, 64, n).tolist(),
                      rng.integers(0, 2, n).tolist()))
    # shifts near the product's magnitude, where the outputs are neither 0 nor saturated
    near = [(a, m, int(np.clip(np.log2(abs(a) * m + 1) - out_bits + 2 + d, 0, 63)), r)
            for (a, m, _, r), d in zip(random, rng.integers(-2, 3, n).tolist())]
    cases = corners(acc_bits) + random + near
    got = run_stage(acc_bits, out_bits, cases)
    for (acc, multiplier, shift, relu), q in zip(cases, got):
        want = requantize(np.array([[acc]]), np.array([multiplier]), np.array([shift]),
                          out_bits, bool(relu))[0, 0]
        assert q == want, (acc, multiplier, shift, relu)
    qs = np.array(got)
    top = (1 << (out_bits - 1)) - 1
    assert (qs == top).any() and (qs == -top - 1).any() and len(np.unique(qs)) > (top + 1) // 2


def test_parameter_table_is_bytes_of_multiplier_and_shift():
    table = param_table(Requant(np.array([0x1234, 0xFFFF, 0]), np.array([7, 63, 0])))
    assert table.tolist() == [0x34, 0x12, 7, -1, -1, 63, 0, 0, 0]
