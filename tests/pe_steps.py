"""A PE of the systolic array (hw/pe.py's ports and modes) stepped in Amaranth's simulator,
and what a simple model of its operation says it should give: the harness the tests of the
drop-in PEs (adder, sign-add) share."""

from amaranth.sim import Simulator

from dlaforge.hw.pe import Mode


def wrap(v: int, bits: int) -> int:
    """`v` as a `bits`-wide two's-complement number."""
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def run_steps(dut, mode, held: int, steps) -> list[int]:
    """c_out after each (a_in, b_in, c_in) of `steps` under `mode` (WS loads `held` first),
    then after one IDLE cycle."""
    seen = []

    async def bench(ctx):
        if mode == Mode.WS:
            ctx.set(dut.mode, Mode.LOAD)
            ctx.set(dut.b_in, held)
            await ctx.tick()
        ctx.set(dut.mode, mode)
        for a, b, c in steps:
            ctx.set(dut.a_in, a)
            ctx.set(dut.b_in, b)
            ctx.set(dut.c_in, c)
            await ctx.tick()
            seen.append(ctx.get(dut.c_out))
        ctx.set(dut.mode, Mode.IDLE)
        await ctx.tick()
        seen.append(ctx.get(dut.c_out))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen


def modelled(mode, held: int, steps, operation, bits: int) -> list[int]:
    """What `run_steps` should see: OS accumulates onto the PE's own sum with the passing
    weight, WS onto c_in with the held one; `operation(partial, a, w)`; sums wrap at `bits`."""
    want, c = [], 0
    for a, b, c_in in steps:
        own = mode == Mode.OS
        c = wrap(operation(c if own else c_in, a, b if own else held), bits)
        want.append(c)
    return want
