"""The mapped-program controller (hw/controller/) in Amaranth's simulator: outputs bit-exact
against conv_ref (wrapped to psum_bits, requantized where asked) and every counter and the
cycle count equal to the exact timing model (sim/cycle/controller_timing.py) of
docs/controller.md, under ws and os, on random layers over three arrays (edge_tiny; 4x8 with
small buffers and a 1 byte/cycle DRAM; 3x5 with 2 bytes/cycle; the os cases take every loop
order once) and the corners: -128 x -128 sums, saturation both ways, padding and hanging
windows, strides 1-3, groups, N = 2, spilling loop orders; os's transposer against a model."""

from dataclasses import replace

import numpy as np
import pytest
from amaranth import signed
from amaranth.sim import Simulator

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.program import CONTROLLER_DATAFLOWS, LOOP_ORDERS, Mapping, Shape, fits
from dlaforge.hw.controller.job import ControllerJob, with_dram
from dlaforge.hw.controller.run import run_amaranth, run_layer
from dlaforge.hw.controller.transposer import Transposer
from dlaforge.sim.cycle.controller_timing import controller_counters
from dlaforge.workloads.methods.requant_ref import Requant

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
    return {"edge_tiny": EDGE_TINY, "a4x8": load_arch(folder / "a4x8.yaml"),
            "a3x5": load_arch(folder / "a3x5.yaml")}


def check(job):
    """Run `job`; its outputs equal the reference, each command's counters the model's."""
    result = run_amaranth(job)
    assert np.array_equal(result.output, job.expected())
    model = controller_counters(job.arch, job.shape, job.mapping, job.requant is not None,
                                dataflow=job.dataflow)
    for counters, cycles in result.per_command:
        assert counters == model
        assert cycles == counters["cycles"]
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
        small = N * P * Q * K <= 200
        if small and fits(arch, W=W, H=H, R=R, S=S, Q=Q, stride=stride, kt=kt, ct=ct, pt=pt):
            return Shape(N, C, H, W, K, R, S, P, Q, stride, pad), Mapping(kt, ct, pt, order)


CASES = [(name, seed) for name in ("edge_tiny", "a4x8", "a3x5") for seed in range(4)]


@pytest.mark.parametrize("dataflow", CONTROLLER_DATAFLOWS)
@pytest.mark.parametrize("name,seed", CASES)
def test_random_layers_bit_exact_and_equal_to_the_timing_model(archs, name, seed, dataflow):
    case = CASES.index((name, seed))
    rng = np.random.default_rng(100 + seed if dataflow == "ws" else [200, case])
    arch = archs[name]
    bandwidth, latency = [(None, None), (None, 1), (0.5, 3), (3.0, 7)][seed % 4]
    if name == "a4x8":
        bandwidth = None          # its own narrow 1 byte/cycle
    arch = with_dram(arch, bandwidth, latency)
    shape, mapping = random_case(arch, rng)
    if dataflow == "os":          # every loop order once over the cases
        mapping = replace(mapping, order=LOOP_ORDERS[case])
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
def test_transposer_emits_a_skewed_transposed_block_per_block_of_words():
    """Blocks of `lanes` words back to back, word i of block b presented at cycle b*n + i:
    element j of it leaves on lane i at cycle b*n + i + 1 + j; lanes without a word empty."""
    n, blocks = 3, 3
    rng = np.random.default_rng(0)
    words = rng.integers(-128, 128, (blocks, n, n))
    dut = Transposer(n, signed(8))
    seen = {}

    async def bench(ctx):
        for cycle in range(blocks * n + 2 * n + 1):
            b, i = divmod(cycle, n)
            ctx.set(dut.load, b < blocks)
            ctx.set(dut.lane, i)
            for j in range(n):
                ctx.set(dut.word[j], int(words[b, i, j]) if b < blocks else 0)
            for lane in range(n):
                seen[cycle, lane] = ctx.get(dut.o[lane])
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    for (cycle, lane), value in seen.items():
        b, j = divmod(cycle - lane - 1, n)
        expected = int(words[b, lane, j]) if 0 <= b < blocks and cycle > lane else 0
        assert value == expected, (cycle, lane)


def test_os_strides_hanging_windows_groups_spills():
    """os: two groups of 5 channels x 6 filters, N = 2, stride 2, padding 1, P and Q one more
    than the floor rule, channel tiles of 3 (two blocks of the 4-row array and one) in a loop
    order that spills and reads back, edge tiles on k and p, requantized."""
    shape = Shape(N=2, C=5, H=5, W=4, K=6, R=3, S=2, P=4, Q=4, stride=2, padding=1)
    job = ControllerJob.random(EDGE_TINY, shape, Mapping(5, 3, 3, "ncpk"),
                               np.random.default_rng(3), groups=2, requant=True,
                               dataflow="os")
    result = check(job)
    assert len(result.per_command) == 2
    assert result.counters["dram_write_bytes"] > 2 * shape.N * shape.P * shape.Q * shape.K


def test_os_extreme_operands_over_padded_windows():
    """os: all -128 (sums of (-128)^2 over 2 channels x 3x3), stride 1, padding 1, two channel
    tiles: the sums spill and come back."""
    shape = Shape(N=1, C=2, H=4, W=5, K=5, R=3, S=3, P=4, Q=5, stride=1, padding=1)
    job = ControllerJob.random(EDGE_TINY, shape, Mapping(4, 1, 2, "nckp"),
                               np.random.default_rng(0), low=-128, high=-127, dataflow="os")
    assert check(job).output.max() == 128 * 128 * 2 * 9


def test_a_design_runs_the_dataflows_of_its_arch(tmp_path):
    """A design generated for os alone runs os (its command's dataflow field ignored); one for
    ws alone refuses an os job."""
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
