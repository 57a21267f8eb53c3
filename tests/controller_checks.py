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


def random_window(rng) -> tuple:
    """(R, S, stride, padding, H, W, P, Q) of a small random layer: 1-3 taps a side, strides
    1-2, padding 0-1, up to 6 pixels a side, the output maybe one larger than the window
    gives (a window hanging past the bottom or right edge)."""
    R, S, stride = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
    pad = int(rng.integers(0, 2))
    H, W = int(rng.integers(R, 7)), int(rng.integers(S, 7))
    P = (H + 2 * pad - R) // stride + 1 + int(rng.integers(0, 2))
    Q = (W + 2 * pad - S) // stride + 1 + int(rng.integers(0, 2))
    return R, S, stride, pad, H, W, P, Q


def assert_network_matches(arch, dataflow: str, method: str, network=CHAIN) -> list:
    """`simulate --model rtl --method M` on `network` (default CHAIN) equal to `--model cycle`
    in every layer's statistics and mapping, the analytical model's cycles within 10% of the
    RTL's; the names of the layers whose PE operation multiplies ("mult" in their ops)."""
    import dlaforge
    runs = {model: dlaforge.simulate(arch, network, dataflow, model=model,
                                     method=method).to_json()
            for model in ("rtl", "cycle", "analytical")}
    rtl, cycle = runs["rtl"], runs["cycle"]
    assert rtl["totals"] == cycle["totals"]
    for rtl_row, cycle_row, analytical_row in zip(rtl["layers"], cycle["layers"],
                                                  runs["analytical"]["layers"]):
        rtl_row["mapping"].pop("input"), rtl_row["mapping"].pop("simulator")
        assert rtl_row["mapping"] == cycle_row["mapping"]
        for key in STATS:
            assert rtl_row[key] == cycle_row[key], (rtl_row["name"], key)
        assert abs(analytical_row["cycles"] - rtl_row["cycles"]) <= 0.1 * rtl_row["cycles"]
    return [row["name"] for row in rtl["layers"] if "mult" in row["ops"]]


def packed_bytes_read(shape, mapping, cols: int, bits: int = 1) -> int:
    """The packed weight bytes one load of every k tile's rows reads, counted bit by bit
    (independently of program.packed_blocks): per filter block the bytes its first bit to its
    last bit touch, per (r, s, c) row."""
    total = 0
    for k0 in range(0, shape.K, mapping.kt):
        for b0 in range(k0, min(k0 + mapping.kt, shape.K), cols):
            last = min(b0 + cols, k0 + mapping.kt, shape.K) - 1
            total += (last * bits + bits - 1) // 8 - (b0 * bits) // 8 + 1
    return total * shape.R * shape.S * shape.C
