"""The generated Verilog under cocotb on Icarus: edge_tiny, 8x8 and 16x16 arrays, ws, os and is,
21 shapes each, outputs bit-exact against the numba reference and cycles and counters equal to
the timing model (sim/cycle/rtl_timing.py). One simulator process per array."""

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.hw.job import LayerJob
from dlaforge.hw.sim_cocotb import run_cocotb, simulator_available
from dlaforge.sim.cycle.rtl_timing import rtl_timing
from dlaforge.hw.shapes import shapes

pytestmark = pytest.mark.skipif(simulator_available("icarus") is not None,
                                reason="iverilog is not installed (make test installs it)")


def array_arch(tmp_path, size):
    if size == 4:
        return load_arch("edge_tiny")
    path = tmp_path / f"array{size}.yaml"
    path.write_text(f"base: edge_tiny\nname: array{size}\n"
                    f"pe_array: {{rows: {size}, cols: {size}}}\n")
    return load_arch(path)


@pytest.mark.parametrize("size", [4, 8, 16])
def test_icarus_bit_exact_and_cycle_exact(tmp_path, size):
    """21 shapes x ws, os and is on one build: the dataflow is a field of the command."""
    arch = array_arch(tmp_path, size)
    rng = np.random.default_rng(size)
    cases = shapes(size, size)
    drams = [(None, None), (1.0, 3), (2.0, 1)]
    jobs = [LayerJob.random(arch, dataflow, gemm, rng, bandwidth=drams[i % 3][0],
                            latency=drams[i % 3][1])
            for dataflow in ("ws", "os", "is") for i, gemm in enumerate(cases.values())]
    results = run_cocotb(jobs, tmp_path / "build", "icarus")
    assert len(results) == len(jobs) == 63
    for name, job, result in zip(list(cases) * 3, jobs, results):
        where = f"{job.dataflow} {name}"
        assert np.array_equal(result.output, job.expected()), where
        model = rtl_timing(arch, job.dataflow, job.gemm, job.bandwidth, job.latency)
        assert result.perf == model.counters, where
        assert result.testbench_cycles == model.cycles, where
