"""The check every controller test makes of a run: outputs equal the job's reference, and each
command's counters (and cycles) equal the exact timing model's."""

import numpy as np

from dlaforge.sim.cycle.controller_timing import controller_counters


def assert_run_matches(result, job):
    """`result` (a controller run of `job`): bit-exact outputs, counters equal to the model's."""
    assert np.array_equal(result.output, job.expected())
    model = controller_counters(job.arch, job.shape, job.mapping, job.requant is not None,
                                dataflow=job.dataflow)
    for counters, cycles in result.per_command:
        assert counters == model
        assert cycles == counters["cycles"]
