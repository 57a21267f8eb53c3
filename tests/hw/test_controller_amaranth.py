"""The mapped-program controller (hw/controller/) in Amaranth's simulator: outputs bit-exact
against conv_ref (wrapped to psum_bits, requantized where asked) and every counter and the
cycle count equal to the exact timing model (sim/cycle/controller_timing.py) of
docs/controller.md, under ws, os and is, on random layers over three arrays (edge_tiny; 4x8
with small buffers and a 1 byte/cycle DRAM; 3x5 with 2 bytes/cycle; the os and the is cases
each take every loop order once) and the corners: -128 x -128 sums, saturation both ways,
padding and hanging windows, strides 1-3, groups, N = 2, spilling loop orders; column tiles
(qt < Q: padding on both column edges, strides 2 and 3, hanging windows, qt not dividing Q, a
non-square array, a layer only column tiles fit); the transposers and the collector against
a model."""

from dataclasses import replace

import numpy as np
import pytest
from amaranth import signed
from amaranth.sim import Simulator

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.program import CONTROLLER_DATAFLOWS, LOOP_ORDERS, Mapping, Shape, fits
from dlaforge.hw.controller.stimulus import ControllerJob, with_dram
from dlaforge.hw.controller.run import run_amaranth, run_layer
from dlaforge.hw.controller.transposer import Collector, Transposer
from dlaforge.sim.cycle.controller_timing import controller_counters
from dlaforge.workloads.methods.requant_ref import Requant

from controller_checks import assert_run_matches

EDGE_TINY = load_arch("edge_tiny")


@pytest.fixture(scope="module")
def archs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("archs")
    (folder / "a4x8.yaml").write_text(
        "base: edge_tiny\nname: a4x8\npe_array: {rows: 4, cols: 8}\nmemory:\n"
        "  - {name: pe_reg, per_pe: true, size_bytes: 8, word_bits: 8,"
        " operands: [ifmap, weight, ofmap], double_buffered: false}\n"
        "  - {name: scratchpad, size_bytes: 1024, word_bits: 32, operands: [ifmap, weight]}\n"
        "  - {name: accumulator, size_bytes: 1024, word_bits: 128, operands: [ofmap]}\n"
        "dram: {type: LPDDR4, bandwidth_bytes_per_cycle: 1, latency_cycles: 5}\n")
    (folder / "a3x5.yaml").write_text(
        "base: edge_tiny\nname: a3x5\npe_array: {rows: 3, cols: 5}\n"
        "dram: {type: LPDDR4, bandwidth_bytes_per_cycle: 2, latency_cycles: 2}\n")
    (folder / "a5x3.yaml").write_text(
        "base: edge_tiny\nname: a5x3\npe_array: {rows: 5, cols: 3}\n"
        "dram: {type: LPDDR4, bandwidth_bytes_per_cycle: 3, latency_cycles: 4}\n")
    return {"edge_tiny": EDGE_TINY, "a4x8": load_arch(folder / "a4x8.yaml"),
            "a3x5": load_arch(folder / "a3x5.yaml"), "a5x3": load_arch(folder / "a5x3.yaml")}


def check(job):
    """Run `job`; its outputs equal the reference, each command's counters the model's."""
    result = run_amaranth(job)
    assert_run_matches(result, job)
    return result


def random_case(arch, rng):
    """A small random layer and a mapping that fits `arch` (edge tiles on every loop likely)."""
    while True:
        R, S, stride = (int(x) for x in rng.integers(1, 4, 3))
        pad = int(rng.integers(0, 2))
        H, W = int(rng.integers(R, 7)), int(rng.integers(S, 7))
        P = (H + 2 * pad - R) // stride + 1 + int(rng.integers(0, 2))   # maybe hanging
        Q = (W + 2 * pad - S) // stride + 1 + int(rng.integers(0, 2))
        N, C, K = int(rng.integers(1, 3)), int(rng.integers(1, 9)), int(rng.integers(1, 11))
        kt, ct, pt = int(rng.integers(1, K + 1)), int(rng.integers(1, C + 1)), int(
            rng.integers(1, P + 1))
        order = LOOP_ORDERS[int(rng.integers(0, len(LOOP_ORDERS)))]
        qt = int(rng.integers(1, Q + 1)) if rng.random() < 0.5 else None    # column tiles
        small = N * P * Q * K <= 200
        if small and fits(arch, W=W, H=H, R=R, S=S, Q=Q, stride=stride, kt=kt, ct=ct, pt=pt,
                          qt=qt, padding=pad):
            return (Shape(N, C, H, W, K, R, S, P, Q, stride, pad),
                    Mapping(kt, ct, pt, order, qt=qt))


CASES = [(name, seed) for name in ("edge_tiny", "a4x8", "a3x5") for seed in range(4)]


def _case_runs(name, seed, dataflow):
    """Every case in `make test` but seeds 2-3 of the other arrays under ws, which go to
    test-long (under os and is each case is one of the loop orders, so they all stay)."""
    long = dataflow == "ws" and name != "edge_tiny" and seed >= 2
    return pytest.param(name, seed, dataflow, marks=pytest.mark.long if long else ())


@pytest.mark.parametrize("name,seed,dataflow", [_case_runs(name, seed, dataflow)
                                                for name, seed in CASES
                                                for dataflow in CONTROLLER_DATAFLOWS])
def test_random_layers_bit_exact_and_equal_to_the_timing_model(archs, name, seed, dataflow):
    case = CASES.index((name, seed))
    index = CONTROLLER_DATAFLOWS.index(dataflow)
    rng = np.random.default_rng(100 + seed if dataflow == "ws" else [200 + index, case])
    arch = archs[name]
    bandwidth, latency = [(None, None), (None, 1), (0.5, 3), (3.0, 7)][seed % 4]
    if name == "a4x8":
        bandwidth = None          # its own narrow 1 byte/cycle
    arch = with_dram(arch, bandwidth, latency)
    shape, mapping = random_case(arch, rng)
    if dataflow != "ws":          # every loop order once over the cases
        mapping = replace(mapping, order=LOOP_ORDERS[case if dataflow == "os" else -1 - case])
    requant = seed % 2 == 1
    job = ControllerJob.random(arch, shape, mapping, rng, requant=requant, relu=seed % 4 == 3,
                               dataflow=dataflow)
    check(job)


@pytest.mark.parametrize("value", [-128, 127])
def test_extreme_operands_over_padded_windows(value):
    """All -128 (sums of (-128)^2 over 2 channels x 3x3) and all 127, stride 1, padding 1, two
    channel tiles (the sums spill and come back)."""
    shape = Shape(N=1, C=2, H=4, W=5, K=5, R=3, S=3, P=4, Q=5, stride=1, padding=1)
    job = ControllerJob.random(EDGE_TINY, shape, Mapping(4, 1, 2, "nckp"), np.random.default_rng(0),
                               low=value, high=value + 1)
    result = check(job)
    assert result.output.max() == value * value * 2 * 9
    assert result.counters["dram_write_bytes"] > 4 * shape.P * shape.Q * shape.K   # spilled


def test_saturation_both_ways_and_relu():
    """Requantized outputs clamp at 127 (even filters: -128 x -128) and -128 (odd: -128 x 127),
    and at 0 with ReLU; shift 0 passes the scaled sum."""
    shape = Shape(N=1, C=2, H=3, W=4, K=7, R=3, S=3, P=3, Q=4, stride=1, padding=1)
    x = np.full((1, 2, 3, 4), -128)
    w = np.where(np.arange(7)[:, None, None, None] % 2 == 0, -128, 127) * np.ones(
        (7, 2, 3, 3), dtype=np.int64)
    loud = Requant(np.full(7, 65535), np.full(7, 20))
    mapping = Mapping(6, 2, 3, "npkc")
    out = check(ControllerJob(EDGE_TINY, shape, mapping, x, w, requant=loud)).output
    assert (out[..., 0::2] == 127).all() and (out[..., 1::2] == -128).all()
    relu = Requant(loud.multiplier, loud.shift, relu=True)
    assert check(ControllerJob(EDGE_TINY, shape, mapping, x, w, requant=relu)).output.min() == 0
    small = np.random.default_rng(1)
    unit = Requant(np.arange(1, 8), np.zeros(7, dtype=np.int64))
    check(ControllerJob(EDGE_TINY, shape, mapping, small.integers(-2, 3, x.shape),
                        small.integers(-2, 3, w.shape), requant=unit))


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_strides_hanging_windows_groups_and_two_images(stride):
    """Two groups of 3 channels x 5 filters, N = 2, odd sizes, P and Q one more than the floor
    rule (the last windows hang past the bottom and right edges), channel and row tiles that
    do not divide the layer (edge tiles), an order that spills partial sums."""
    H, W, R, S = 5, 4, 3, 2
    P = (H + 2 - R) // stride + 2
    Q = (W + 2 - S) // stride + 2
    shape = Shape(N=2, C=3, H=H, W=W, K=5, R=R, S=S, P=P, Q=Q, stride=stride, padding=1)
    job = ControllerJob.random(EDGE_TINY, shape, Mapping(3, 2, 2, "cpkn"),
                               np.random.default_rng(stride), groups=2, requant=stride == 2)
    result = check(job)
    assert len(result.per_command) == 2


def test_non_square_array_small_buffers_narrow_dram(archs):
    """rows 4 x cols 8, a 1 KiB scratchpad and accumulator, 1 byte/cycle: kt = 11 spans two
    filter blocks, ct = 5 two channel blocks; the k, c and p loops have several tiles."""
    arch = archs["a4x8"]
    shape = Shape(N=1, C=9, H=4, W=4, K=13, R=1, S=2, P=4, Q=3, stride=1, padding=0)
    job = ControllerJob.random(arch, shape, Mapping(11, 5, 1, "pkcn"), np.random.default_rng(7),
                               requant=True)
    check(job)


def test_parameters_are_fetched_one_table_word_at_a_time(archs):
    """3x5 array, 2 bytes/cycle: a block's 15 parameter bytes take 8 requests (the last
    one byte), so 10 filters take 16 requests where one run of 30 bytes would take 15."""
    arch = archs["a3x5"]
    shape = Shape(N=1, C=2, H=3, W=3, K=10, R=1, S=1, P=3, Q=3)
    check(ControllerJob.random(arch, shape, Mapping(10, 2, 3, "nkcp"),
                               np.random.default_rng(0), requant=True))


def test_refusals():
    shape = Shape(N=1, C=64, H=32, W=32, K=64, R=3, S=3, P=32, Q=32, padding=1)
    with pytest.raises(SpecError, match="does not fit arch 'edge_tiny'"):
        ControllerJob.random(EDGE_TINY, shape, Mapping(64, 64, 32), np.random.default_rng(0))
    wide = Shape(N=1, C=1, H=1, W=1, K=1, R=1, S=1, P=1, Q=1, padding=1 << 16)
    with pytest.raises(SpecError, match="command field padding = 65536 does not fit its 16 bits"):
        ControllerJob.random(EDGE_TINY, wide, Mapping(1, 1, 1), np.random.default_rng(0))
    with pytest.raises(SpecError, match="loop order 'xyz'"):
        ControllerJob.random(EDGE_TINY, Shape(1, 1, 1, 1, 1, 1, 1, 1, 1), Mapping(1, 1, 1, "xyz"),
                             np.random.default_rng(0))


def test_run_layer_entry_point():
    """run_layer: random operands, checked against the reference, counters of the groups
    summed."""
    shape = Shape(N=1, C=2, H=3, W=3, K=3, R=3, S=3, P=3, Q=3, padding=1)
    result = run_layer(EDGE_TINY, shape, Mapping(3, 2, 3), groups=2, requant=True)
    model = controller_counters(EDGE_TINY, shape, Mapping(3, 2, 3), True)
    assert result.counters == {name: 2 * value for name, value in model.items()}


# os --------------------------------------------------------------------------------------
def simulate(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("lanes,depth", [(3, 3), (2, 4), (4, 2)])
def test_transposer_emits_a_skewed_transposed_block_per_block_of_words(lanes, depth):
    """Blocks of `lanes` words every max(lanes, depth) cycles, word i of block b presented at
    cycle b*period + i: element j of it leaves on lane i at cycle b*period + i + 1 + j, zeros
    in between; lanes without a word empty."""
    period, blocks = max(lanes, depth), 3
    words = np.random.default_rng(0).integers(-128, 128, (blocks, lanes, depth))
    dut = Transposer(lanes, signed(8), depth)
    seen = {}

    async def bench(ctx):
        for cycle in range((blocks + 2) * period):
            b, i = divmod(cycle, period)
            ctx.set(dut.load, b < blocks and i < lanes)
            ctx.set(dut.lane, min(i, lanes - 1))
            for j in range(depth):
                ctx.set(dut.word[j], int(words[b, i, j]) if b < blocks and i < lanes else 0)
            for lane in range(lanes):
                seen[cycle, lane] = ctx.get(dut.o[lane])
            await ctx.tick()

    simulate(dut, bench)
    for (cycle, lane), value in seen.items():
        b, j = divmod(cycle - lane - 1, period)
        expected = (int(words[b, lane, j]) if 0 <= b < blocks and j < depth and cycle > lane
                    else 0)
        assert value == expected, (cycle, lane)


def test_gated_transposer_holds_then_shifts_aligned():
    """Gated: words loaded one per cycle stay put; then each `shift` cycle shows element m of
    every row at once."""
    lanes, depth = 3, 4
    words = np.random.default_rng(1).integers(-128, 128, (lanes, depth))
    dut = Transposer(lanes, signed(8), depth, gated=True)
    seen = []

    async def bench(ctx):
        for i in range(lanes):
            ctx.set(dut.load, 1)
            ctx.set(dut.lane, i)
            for j in range(depth):
                ctx.set(dut.word[j], int(words[i, j]))
            await ctx.tick()
        ctx.set(dut.load, 0)
        await ctx.tick()                                    # held
        ctx.set(dut.shift, 1)
        for _ in range(depth + 1):
            seen.append([ctx.get(dut.o[i]) for i in range(lanes)])
            await ctx.tick()

    simulate(dut, bench)
    assert seen == [list(words[:, m]) for m in range(depth)] + [[0] * lanes]


def test_collector_holds_each_lane_last_vectors():
    """A skewed wavefront in (element f of lane j at cycle f + j): row j holds the `depth`
    elements in order from cycle depth + j on."""
    lanes, depth = 3, 3
    values = np.random.default_rng(2).integers(-1000, 1000, (depth, lanes))
    dut = Collector(lanes, depth, signed(16))
    rows = {}

    async def bench(ctx):
        for cycle in range(depth + lanes + 1):
            for j in range(lanes):
                f = cycle - j
                ctx.set(dut.i[j], int(values[f, j]) if 0 <= f < depth else 0)
            j = cycle - depth
            if 0 <= j < lanes:
                ctx.set(dut.row, j)
                rows[j] = [ctx.get(dut.o[f]) for f in range(depth)]
            await ctx.tick()

    simulate(dut, bench)
    assert rows == {j: list(values[:, j]) for j in range(lanes)}


@pytest.mark.parametrize("dataflow", ["os", "is"])
def test_os_is_strides_hanging_windows_groups_spills(dataflow):
    """os and is: two groups of 5 channels x 6 filters, N = 2, stride 2, padding 1, P and Q
    one more than the floor rule, channel tiles of 3 (two blocks of the 4-row array and one) in
    a loop order that spills and reads back, edge tiles on k and p, requantized."""
    shape = Shape(N=2, C=5, H=5, W=4, K=6, R=3, S=2, P=4, Q=4, stride=2, padding=1)
    job = ControllerJob.random(EDGE_TINY, shape, Mapping(5, 3, 3, "ncpk"),
                               np.random.default_rng(3), groups=2, requant=True,
                               dataflow=dataflow)
    result = check(job)
    assert len(result.per_command) == 2
    assert result.counters["dram_write_bytes"] > 2 * shape.N * shape.P * shape.Q * shape.K


@pytest.mark.parametrize("dataflow", ["os", "is"])
def test_os_is_on_more_rows_than_columns(archs, dataflow):
    """5 x 3: an is filter block streams for 5 cycles, 3 of them filters; two filter blocks
    and a part one, three channel blocks, several pixel blocks, a hanging window."""
    shape = Shape(N=1, C=11, H=4, W=4, K=8, R=2, S=2, P=3, Q=4, stride=1, padding=0)
    check(ControllerJob.random(archs["a5x3"], shape, Mapping(8, 11, 2, "nkpc"),
                               np.random.default_rng(4), requant=True, dataflow=dataflow))


@pytest.mark.parametrize("dataflow", ["os", "is"])
def test_os_is_extreme_operands_over_padded_windows(dataflow):
    """os and is: all -128 (sums of (-128)^2 over 2 channels x 3x3), stride 1, padding 1, two
    channel tiles: the sums spill and come back."""
    shape = Shape(N=1, C=2, H=4, W=5, K=5, R=3, S=3, P=4, Q=5, stride=1, padding=1)
    job = ControllerJob.random(EDGE_TINY, shape, Mapping(4, 1, 2, "nckp"),
                               np.random.default_rng(0), low=-128, high=-127, dataflow=dataflow)
    assert check(job).output.max() == 128 * 128 * 2 * 9


def test_a_design_runs_the_dataflows_of_its_arch(tmp_path):
    """A design generated for os alone runs os (its command's dataflow field ignored); one for
    ws alone refuses an os job, and one whose weights are wider than its ifmap an is job."""
    (tmp_path / "os_only.yaml").write_text(
        "base: edge_tiny\nname: os_only\npe_array: {rows: 3, cols: 2, dataflows: [os]}\n")
    os_only = load_arch(tmp_path / "os_only.yaml")
    shape = Shape(N=1, C=4, H=3, W=3, K=3, R=2, S=2, P=2, Q=2)
    check(ControllerJob.random(os_only, shape, Mapping(3, 4, 2), np.random.default_rng(0),
                               dataflow="os"))
    with pytest.raises(SpecError, match="runs os, not 'ws'"):
        ControllerJob.random(os_only, shape, Mapping(3, 4, 2), np.random.default_rng(0))
    (tmp_path / "ws_only.yaml").write_text(
        "base: edge_tiny\nname: ws_only\npe_array: {dataflows: [ws]}\n")
    with pytest.raises(SpecError, match="runs ws, not 'os'"):
        ControllerJob.random(load_arch(tmp_path / "ws_only.yaml"), shape, Mapping(3, 4, 2),
                             np.random.default_rng(0), dataflow="os")
    (tmp_path / "wide_weights.yaml").write_text(
        "base: edge_tiny\nname: wide_weights\npe_array: {weight_bits: 16, psum_bits: 40}\n")
    with pytest.raises(SpecError, match="runs ws, os, not 'is'"):    # is needs equal widths
        ControllerJob.random(load_arch(tmp_path / "wide_weights.yaml"), shape,
                             Mapping(3, 4, 2), np.random.default_rng(0), dataflow="is")


# column tiles ----------------------------------------------------------------------------
COLUMN_CASES = {
    # padding on both column edges, stride 2, Q one more than the floor rule (the last window
    # hangs past the right edge), column tiles 3, 3, 1, odd sizes, a spilling order
    "pad-stride2-hanging": ("edge_tiny", Shape(N=1, C=5, H=5, W=11, K=5, R=3, S=3, P=3, Q=7,
                                               stride=2, padding=1),
                            Mapping(4, 3, 2, "ncpk", qt=3)),
    # a 5 x 3 array, stride 3, a window wider than the stride (halo columns fetched twice),
    # N = 2, column tiles 2, 2, 1, row tiles 2, 1
    "stride3-non-square": ("a5x3", Shape(N=2, C=4, H=7, W=13, K=4, R=2, S=4, P=3, Q=5,
                                         stride=3, padding=1),
                           Mapping(4, 4, 2, "kcpn", qt=2)),
}


@pytest.mark.parametrize("dataflow", CONTROLLER_DATAFLOWS)
@pytest.mark.parametrize("case", list(COLUMN_CASES))
def test_column_tiles(archs, case, dataflow):
    name, shape, mapping = COLUMN_CASES[case]
    rng = np.random.default_rng([CONTROLLER_DATAFLOWS.index(dataflow), len(case)])
    job = ControllerJob.random(archs[name], shape, mapping, rng, requant=name == "edge_tiny",
                               dataflow=dataflow)
    check(job)


@pytest.mark.parametrize("dataflow", CONTROLLER_DATAFLOWS)
def test_a_layer_only_column_tiles_fit_runs_the_mappers_choice(archs, dataflow):
    """4 x 8 with a 1 KiB scratchpad (64 ifmap words a half): one output row of a 3 x 3 window
    over 24 columns reads 72 words, so the smallest full-width tile does not fit; the mapper
    tiles the columns and the controller runs its choice."""
    from dlaforge.sim.analytical import search
    from dlaforge.sim.controller_cost import controller_runs
    from dlaforge.sim.energy import energy_table
    from dlaforge.workloads.hwop import HwOp

    arch = archs["a4x8"]
    shape = Shape(N=1, C=3, H=3, W=24, K=4, R=3, S=3, P=2, Q=12, stride=2, padding=1)
    pe = arch.pe_array
    op = HwOp(name="wide", N=1, K=shape.K, C=shape.C, P=shape.P, Q=shape.Q, R=3, S=3,
              H=shape.H, W=shape.W, stride=2, padding=1, groups=1, ifmap_bits=pe.ifmap_bits,
              weight_bits=pe.weight_bits, psum_bits=pe.psum_bits, ofmap_bits=pe.ofmap_bits)
    assert not fits(arch, W=24, H=3, R=3, S=3, Q=12, stride=2, kt=1, ct=1, pt=1)
    assert controller_runs(arch, op, dataflow)
    mapping, _ = search(arch, op, dataflow, "energy", energy_table(arch))
    assert mapping.qt < shape.Q
    check(ControllerJob.random(arch, shape, mapping, np.random.default_rng(5), requant=True,
                               dataflow=dataflow))
