"""SmartDeal on the mapped-program controller (workloads/methods/smartdeal/plan.py's
CONTROLLER_DATAPATH): the MAC array at the rebuilt weights' width, its weights read as code
regions (workloads/methods/smartdeal/regions.py) and rebuilt by the load's stage
(hw/methods/smartdeal/rebuild_stage.py). The lookup and the refusals, the closed forms against
the exact timing model, random layers on Icarus (outputs bit-exact, every counter equal to the
timing model's) and a small network under `--model rtl` equal to `--model cycle`."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.hw.controller.free_run import run_free
from dlaforge.hw.controller.stimulus import ControllerJob
from dlaforge.program import COUNTERS, LOOP_ORDERS, BufferGeometry, Mapping, Shape
from dlaforge.sim import controller_cost, controller_cycles
from dlaforge.sim.analytical import evaluate
from dlaforge.sim.cycle.controller_timing import controller_counters
from dlaforge.sim.energy import energy_table
from dlaforge.workloads.layer import Layer, conv, linear
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.methods.datapath import controller_datapath, method_datapath
from dlaforge.workloads.methods.smartdeal import regions
from dlaforge.workloads.methods.smartdeal.plan import CONTROLLER_DATAPATH as SMARTDEAL
from dlaforge.workloads.methods.smartdeal import REBUILT_MAC
from dlaforge.workloads.networks import Network

from controller_checks import assert_network_matches, assert_run_matches, random_window
from simulators import needs_icarus

ARCH = load_arch("edge_tiny_smartdeal")         # 4 x 4, 4 bytes a cycle
# one byte a cycle and latency 3: a region's byte-row of 4 filters is 4 requests
NARROW = replace(ARCH, name="smartdeal_1_byte",
                 dram=replace(ARCH.dram, bandwidth_bytes_per_cycle=1, latency_cycles=3))
# 6 rows x 3 columns at 2 bytes a cycle: blocks of 3 filters, a byte-row 2 requests
TALL = replace(ARCH, name="smartdeal_6x3", pe_array=replace(ARCH.pe_array, rows=6, cols=3),
               dram=replace(ARCH.dram, bandwidth_bytes_per_cycle=2))
# half a byte a cycle and latency 30: a load of code regions and partial sums outlasts the
# folds of a 1x1 output (the partial sums' wait on the critical path)
SLOW = replace(ARCH, name="smartdeal_slow",
               dram=replace(ARCH.dram, bandwidth_bytes_per_cycle=0.5, latency_cycles=30))
# conv 3x3, a strided conv, a 1x1 (Ce rows of 3 channels) and an FC, each reading the last
SMALL = Network("smartdeal_small", (
    conv("c1", 3, 8, 8, R=3),
    Layer(name="c2", kind="conv2d", C=8, K=8, H=8, W=8, R=3, S=3, stride=2, P=4, Q=4),
    conv("pw", 8, 6, 4, R=1),
    linear("fc", 96, 10),
))


def smartdeal_op(C, K, H, R=3, stride=1, groups=1, arch=ARCH):
    [op] = get_method("smartdeal", arch).transform(
        conv("s", C, K, H, R=R, stride=stride, groups=groups), arch)
    return op


def test_lookup_shape_and_refusals():
    op = smartdeal_op(8, 6, 6)
    assert op.pe_op == REBUILT_MAC
    assert controller_datapath(ARCH, op.pe_op, op) is SMARTDEAL
    assert method_datapath(ARCH, get_method("smartdeal", ARCH)) is SMARTDEAL
    assert method_datapath(load_arch("edge_tiny_addernet"),
                           get_method("smartdeal", ARCH)) is None
    shape = controller_cost.shape_of(op, ARCH)
    codes = SMARTDEAL.weight_code.of_op(op)
    assert (shape.region_fixed, shape.region_rows) == regions.region_table(codes, 4, 8)
    assert shape.rebuilt_bits == 17 and shape.region_filters == 4
    assert shape.region_channels == 8           # all 8 x 3 x 3 words fit a weight half
    assert len(shape.region_rows) == 2          # 6 filters: blocks of 4 and 2
    assert controller_cost.controller_runs(ARCH, op, "ws")
    assert controller_cost.controller_runs(ARCH, op, "os")
    # is would hold 17-bit weights in 8-bit ifmap lanes
    assert "ws, os only" in controller_cost.controller_refusal(ARCH, op, "is")
    grouped = smartdeal_op(8, 8, 6, groups=2)
    assert "one group" in controller_cost.controller_refusal(ARCH, grouped, "ws")
    # 64 x 3 x 3 weights a filter pass the 481 words of a half: regions of 32 channels, c
    # tiles of whole regions
    big = smartdeal_op(64, 4, 6)
    assert controller_cost.controller_runs(ARCH, big, "ws")
    big_shape = controller_cost.shape_of(big, ARCH)
    assert big_shape.region_channels == 32 and len(big_shape.region_rows) == 2
    fits = controller_cost.grid_fits(ARCH, big_shape, {
        "kt": np.array([4, 4, 4]), "ct": np.array([32, 16, 64]), "pt": np.array([1, 1, 1])})
    assert list(fits) == [True, False, False]
    # a user's mapping of another channel tile is told why it does not run
    with pytest.raises(SpecError, match="one group of its code regions a channel tile, ct = 32"):
        evaluate(ARCH, big, Mapping(kt=4, ct=16, pt=1, order="nkcp"), "ws", energy_table(ARCH))
    # 13 x 13 kernels: not even 3 channels (whole rows of codes) fit a half
    huge = smartdeal_op(4, 4, 14, R=13)
    assert "not even the smallest" in controller_cost.controller_refusal(ARCH, huge, "ws")


def test_regions_cost_their_layout_bytes():
    """A load of every block reads what regions.region holds, the fixed byte-rows and the
    code byte-rows of the block's densest filter; fewer bytes than int8 weights here."""
    op = smartdeal_op(16, 10, 6)
    shape = controller_cost.shape_of(op, ARCH)
    codes = SMARTDEAL.weight_code.of_op(op)
    rows = codes.sign.shape[1]
    laid = sum(regions.region(codes, k, min(4, 10 - k), 0, rows, regions.bitmap_rows(rows)).size
               for k in range(0, 10, 4))
    mapping = Mapping(kt=4, ct=16, pt=2, order="nkcp")
    counters = controller_counters(ARCH, shape, mapping, True)
    weights = 10 * 16 * 9
    loads = counters["weight_writes"] // weights
    ifmap = counters["ifmap_writes"]
    params = 3 * 10     # the default quantizer's table, fetched once per k tile
    assert counters["dram_read_bytes"] == loads * laid + ifmap + params
    assert laid < weights


@pytest.mark.parametrize("arch", [ARCH, NARROW, TALL], ids=lambda a: a.name)
def test_closed_form_counters_equal_the_timing_model(arch):
    """Random layers, some of more channels than a weight half holds (regions of channel
    groups, a c tile each: partial sums come back after the regions)."""
    rng = np.random.default_rng(3)
    cols, worst, checked = arch.pe_array.cols, 0.0, 0
    for index in range(12):
        C = int(rng.integers(1, 12) if index % 3 else rng.integers(50, 130))
        K, H = int(rng.integers(1, 11)), int(rng.integers(3, 9))
        R, stride = int(rng.choice([1, 3])), int(rng.choice([1, 2]))
        op = smartdeal_op(C, K, H, R=R, stride=stride, arch=arch)
        shape = controller_cost.shape_of(op, arch)
        for dataflow in ("ws", "os"):
            for kt in sorted({min(K, cols), K}):
                order = LOOP_ORDERS[int(rng.integers(len(LOOP_ORDERS)))]
                ct = shape.region_channels
                g = {"kt": np.array([kt]), "ct": np.array([ct]),
                     "pt": np.array([int(rng.integers(1, op.P + 1))])}
                if not controller_cost.grid_fits(arch, shape, g)[0]:
                    continue
                mapping = Mapping(kt=kt, ct=ct, pt=int(g["pt"][0]), order=order)
                exact = controller_counters(arch, shape, mapping, True, dataflow=dataflow)
                closed = controller_cost.counters(arch, shape, g, order, True, dataflow)
                assert {n: int(np.asarray(closed[n]).ravel()[0]) for n in COUNTERS[1:]} == {
                    n: exact[n] for n in COUNTERS[1:]}
                cycles = controller_cycles.cycles(arch, shape, g, order, True,
                                                  dataflow=dataflow)[0]
                worst = max(worst, abs(cycles - exact["cycles"]) / exact["cycles"])
                checked += 1
    assert checked >= 20 and worst < 0.05


def random_jobs(arch, rng, count: int) -> list:
    """`count` random layers on `arch` (ws and os, random loop orders, tiles of whole regions,
    one or two images), each with random codes and random requantization, ReLU; every third
    a 3x3 layer of more channels than a weight half holds (regions of channel groups, a c tile
    each)."""
    jobs, cols = [], arch.pe_array.cols
    half = BufferGeometry.of(SMARTDEAL.operand_arch(arch)).weight_half
    while len(jobs) < count:
        R, S, stride, pad, H, W, P, Q = random_window(rng)
        C, K = int(rng.integers(1, 7)), int(rng.integers(1, 11))
        ct = C
        if len(jobs) % 3 == 2:
            R = S = 3
            stride, pad, H, W = 1, 1, int(rng.integers(2, 5)), int(rng.integers(2, 5))
            P, Q = H, W
            C = int(rng.integers(half // 9 + 1, half // 4))
            ct = regions.group_channels(C, R, S, half)
        shape = Shape(N=int(rng.integers(1, 3)), C=C, H=H, W=W, K=K, R=R, S=S, P=P, Q=Q,
                      stride=stride, padding=pad)
        kt = int(rng.choice([min(K, cols), K, 2 * cols])) if ct == C else min(K, cols)
        mapping = Mapping(kt=kt, ct=ct,
                          pt=int(rng.integers(1, P + 1)),
                          order=LOOP_ORDERS[int(rng.integers(len(LOOP_ORDERS)))])
        jobs.append(ControllerJob.random(arch, shape, mapping, rng, requant=True, relu=True,
                                         dataflow=("ws", "os")[len(jobs) % 2],
                                         datapath=SMARTDEAL))
    return jobs


@needs_icarus
def test_random_layers_on_icarus():
    """Random layers on three designs (a byte-row in one request, in four, in two; blocks of
    4 and 3 filters), the widest rebuilt sums among the codes, some of channel groups:
    outputs bit-exact, every counter and cycle equal to the timing model's."""
    rng = np.random.default_rng(11)
    jobs = [job for arch in (ARCH, NARROW, TALL) for job in random_jobs(arch, rng, 5)]
    # 60 channels: groups of 30, c outermost: partial sums come back after the regions
    spill = Shape(N=1, C=60, H=1, W=1, K=8, R=3, S=3, P=1, Q=1, stride=1, padding=1)
    jobs += [ControllerJob.random(SLOW, spill, Mapping(kt=4, ct=30, pt=1, order=order), rng,
                                  requant=True, relu=True, datapath=SMARTDEAL)
             for order in ("ckpn", "cpkn")]
    for job, result in zip(jobs, run_free(jobs)):
        assert_run_matches(result, job)


@needs_icarus
def test_network_rtl_equals_cycle_ws():
    assert_network_matches(ARCH, "ws", "smartdeal", SMALL)


@needs_icarus
@pytest.mark.long
def test_network_rtl_equals_cycle_os():
    assert_network_matches(ARCH, "os", "smartdeal", SMALL)
