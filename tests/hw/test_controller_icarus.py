"""The mapped-program controller's Verilog under cocotb on Icarus (one build, one simulator
process per test): requantized and spilling layers, groups, N = 2, a hanging window, column
tiles, under ws, os and is, outputs bit-exact and counters and cycles equal to the timing model, as in
Amaranth's simulator."""

import numpy as np

from dlaforge.arch import load_arch
from dlaforge.program import Mapping, Shape
from dlaforge.hw.controller.stimulus import ControllerJob
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
    results = check_icarus(jobs, tmp_path)
    # the two simulators see the same timing
    assert run_amaranth(jobs[1]).per_command == results[1].per_command


def check_icarus(jobs, tmp_path):
    """Run `jobs` on Icarus; outputs equal the reference, counters and cycles the model."""
    arch = jobs[0].arch
    results = run_cocotb(jobs, tmp_path / "build", "icarus")
    for job, result in zip(jobs, results):
        assert np.array_equal(result.output, job.expected())
        model = controller_counters(arch, job.shape, job.mapping, job.requant is not None,
                                    dataflow=job.dataflow)
        assert all(counters == model for counters, _ in result.per_command)
        assert all(cycles == counters["cycles"] for counters, cycles in result.per_command)
    return results


def test_icarus_os_is_bit_exact_and_equal_to_the_timing_model(tmp_path):
    """os and is commands on the same design: padding with channel tiles that spill, stride 2
    with a hanging window, groups and N = 2, requantized; one ws command between them; then
    column tiles (qt not dividing Q, padding on both column edges, stride 2, a hanging window)
    under ws, os and is."""
    arch = load_arch("edge_tiny")
    rng = np.random.default_rng(6)
    jobs = [
        ControllerJob.random(arch, Shape(1, 5, 4, 5, 6, 3, 3, 4, 5, 1, 1), Mapping(5, 3, 2, "nckp"),
                             rng, requant=True, relu=True, dataflow="os"),
        ControllerJob.random(arch, Shape(2, 3, 2, 4, 2, 3, 2, 2, 2, 1, 0), Mapping(2, 2, 1, "pkcn"),
                             rng, dataflow="ws"),
        ControllerJob.random(arch, Shape(2, 2, 5, 4, 3, 2, 2, 3, 3, 2, 0), Mapping(2, 2, 2, "kpcn"),
                             rng, groups=2, requant=True, dataflow="os"),
        ControllerJob.random(arch, Shape(1, 5, 4, 5, 6, 3, 3, 4, 5, 1, 1), Mapping(5, 3, 2, "nckp"),
                             rng, requant=True, dataflow="is"),
        ControllerJob.random(arch, Shape(2, 2, 5, 4, 9, 2, 2, 3, 3, 2, 0), Mapping(9, 2, 2, "kpcn"),
                             rng, groups=2, dataflow="is"),
    ] + [
        ControllerJob.random(arch, Shape(1, 3, 4, 9, 5, 3, 3, 2, 6, 2, 1),
                             Mapping(5, 2, 1, "ncpk", qt=4), rng, requant=True, dataflow=df)
        for df in ("ws", "os", "is")
    ]
    check_icarus(jobs, tmp_path)
