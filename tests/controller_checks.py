"""The check every controller test makes of a run: outputs equal the job's reference, and each
command's counters (and cycles) equal the exact timing model's; and the small network and the
statistics the `--model rtl` tests compare with `--model cycle`."""

import numpy as np

from dlaforge.sim.cycle.controller_timing import controller_counters
from dlaforge.workloads.layer import Layer, conv, linear
from dlaforge.workloads.networks import Network

# c2 (stride 2; its last window hangs past the bottom and right edges), the depthwise dw and
# the 1x1 pw each read the previous layer's outputs; fc (a GEMM) reads fresh operands
CHAIN = Network("chain", (
    conv("c1", 3, 8, 8, R=3),
    Layer(name="c2", kind="conv2d", C=8, K=8, H=8, W=8, R=3, S=3, stride=2, P=4, Q=4),
    conv("dw", 8, 8, 4, R=3, groups=8),
    conv("pw", 8, 6, 4, R=1),
    linear("fc", 96, 10),
))
STATS = ("cycles", "compute_cycles", "stall_cycles", "energy_pj", "energy_breakdown_pj",
         "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes",
         "accesses", "macs", "ops", "weight_storage_bits", "utilization")


def assert_run_matches(result, job):
    """`result` (a controller run of `job`): bit-exact outputs, counters equal to the model's."""
    assert np.array_equal(result.output, job.expected())
    model = controller_counters(job.arch, job.shape, job.mapping, job.requant is not None,
                                dataflow=job.dataflow)
    for counters, cycles in result.per_command:
        assert counters == model
        assert cycles == counters["cycles"]
