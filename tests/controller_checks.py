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


def assert_closed_form_matches(arch, shape, mapping, dataflow: str) -> dict:
    """The closed form (sim/controller_cost) equal to the exact timing model on every counter
    of one command of `shape` under `mapping`, its cycle estimate within 5%; returns the
    timing model's counters."""
    from dlaforge.program import COUNTERS
    from dlaforge.sim import controller_cost, controller_cycles
    timed = controller_counters(arch, shape, mapping, True, dataflow=dataflow)
    g = mapping.as_grid(dataflow)
    closed = controller_cost.counters(arch, shape, g, mapping.order, dataflow=dataflow)
    for name in COUNTERS[1:]:
        assert int(np.asarray(closed[name]).ravel()[0]) == timed[name], name
    estimate = float(controller_cycles.cycles(arch, shape, g, mapping.order,
                                              dataflow=dataflow)[0])
    assert abs(estimate - timed["cycles"]) <= 0.05 * timed["cycles"]
    return timed


def assert_packed_bytes_counted(arch, shape, mapping, dataflow: str, timed: dict) -> None:
    """`timed` (a command of packed weights, shape.weight_bits each) reads the weights as
    often as the unpacked command, whole passes over them, and per pass exactly the bytes
    packed_bytes_read counts fewer."""
    from dataclasses import replace
    unpacked = controller_counters(arch, replace(shape, weight_bits=0), mapping, True,
                                   dataflow=dataflow)
    weights = shape.K * shape.C * shape.R * shape.S
    loads = timed["weight_writes"] // weights
    assert timed["weight_writes"] == unpacked["weight_writes"] == loads * weights
    assert (unpacked["dram_read_bytes"] - timed["dram_read_bytes"]
            == loads * (weights - packed_bytes_read(shape, mapping, arch.pe_array.cols,
                                                    shape.weight_bits)))


def random_packed_case(rng, arch, datapath) -> tuple:
    """(Shape, Mapping) of a small random layer (random_window, N <= 2, at most 150 outputs) and
    a mapping that fits `arch`'s buffers with whole bytes of `datapath`'s packed weights per
    k tile (program.packed_align filters, one or two of them)."""
    from dlaforge.errors import SpecError
    from dlaforge.hw.controller.stimulus import ControllerJob
    from dlaforge.program import LOOP_ORDERS, Mapping, Shape, packed_align
    align = packed_align(datapath.weight_bits)
    while True:
        R, S, stride, pad, H, W, P, Q = random_window(rng)
        N, C, K = int(rng.integers(1, 3)), int(rng.integers(1, 10)), int(rng.integers(1, 20))
        kt = min(K, align * int(rng.integers(1, 3)))
        ct, pt = (int(rng.integers(1, x + 1)) for x in (C, P))
        order = LOOP_ORDERS[int(rng.integers(0, len(LOOP_ORDERS)))]
        qt = int(rng.integers(1, Q + 1)) if rng.random() < 0.5 else None
        shape = Shape(N, C, H, W, K, R, S, P, Q, stride, pad)
        mapping = Mapping(kt, ct, pt, order, qt=qt)
        try:
            ControllerJob.random(arch, shape, mapping, rng, dataflow="os", datapath=datapath)
        except SpecError:       # does not fit the buffers
            continue
        if N * P * Q * K <= 150:
            return shape, mapping
