"""The mapped-program controller's Verilog under cocotb on Icarus (one build, one simulator
process): requantized and spilling layers, groups, N = 2, a hanging window, outputs bit-exact
and counters and cycles equal to the timing model, as in Amaranth's simulator."""

import numpy as np

from dlaforge.arch import load_arch
from dlaforge.program import Mapping, Shape
from dlaforge.hw.controller.job import ControllerJob
from dlaforge.hw.controller.run import run_amaranth, run_cocotb
from dlaforge.sim.cycle.controller_timing import controller_counters
from simulators import needs_icarus

pytestmark = needs_icarus


def test_icarus_bit_exact_and_equal_to_the_timing_model(tmp_path):
    arch = load_arch("edge_tiny")
    rng = np.random.default_rng(5)
    jobs = [
        ControllerJob.random(arch, Shape(1, 3, 5, 5, 5, 3, 3, 5, 5, 1, 1), Mapping(5, 2, 2, "nckp"),
                             rng, requant=True, relu=True),
        ControllerJob.random(arch, Shape(2, 2, 4, 5, 3, 3, 3, 2, 3, 2, 1), Mapping(2, 2, 2, "pkcn"),
                             rng, groups=2),
        ControllerJob.random(arch, Shape(1, 6, 5, 4, 6, 2, 2, 3, 3, 2, 0), Mapping(4, 5, 1, "ckpn"),
                             rng, requant=True),
    ]
    results = run_cocotb(jobs, tmp_path / "build", "icarus")
    for job, result in zip(jobs, results):
        assert np.array_equal(result.output, job.expected())
        model = controller_counters(arch, job.shape, job.mapping, job.requant is not None)
        assert all(counters == model for counters, _ in result.per_command)
        assert all(cycles == counters["cycles"] for counters, cycles in result.per_command)
    # the two simulators see the same timing
    assert run_amaranth(jobs[1]).per_command == results[1].per_command
