"""The requantization stage and the controller generated for each deployable quantizer
(workloads/quantizers.py): the stage bit-exact against requant_ref in Amaranth's simulator,
its table's DRAM encoding, and whole layers on the controller (Amaranth, one on Icarus), the
outputs bit-exact and every counter of every command equal to the exact timing model
(sim/cycle/controller_timing.py) and the analytical closed forms (sim/controller_cost.py)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.hw.requant import Requantizer, param_table
from dlaforge.program import COUNTERS, Mapping, Shape
from dlaforge.sim import controller_cost
from dlaforge.sim.cycle.controller_timing import controller_counters
from dlaforge.workloads.methods.requant_ref import (Requant, requantize_affine,
                                                    requantize_float)
from dlaforge.workloads.quantizers import NAMES, Quantizer

ALL = [Quantizer.of(name, pow2) for name in NAMES for pow2 in (False, True)]
EDGE_TINY = load_arch("edge_tiny")
SHAPE = Shape(N=1, C=2, H=4, W=5, K=5, R=3, S=3, P=4, Q=5, stride=1, padding=1)
MAPPING = Mapping(4, 1, 2, "nckp")


def stage_cases(q: Quantizer, rng, n=150):
    """(acc, multiplier, shift, bias, zero, relu): corners, then random values."""
    top, bottom = 2**31 - 1, -2**31
    cases = []
    for acc in (top, bottom, 0, 1, -1, 128 * 128 * 18, -128 * 127 * 18):
        for m, s in ((1, 0), (65535, 0), (65535, 63), (40000, 20), (1, 5)):
            for bias, zero in ((0, 0), (top, 127), (bottom, -128), (-77777, 3)):
                cases.append((acc, m, s, bias, zero, int(acc) & 1))
    cases += list(zip(rng.integers(bottom, top, n, endpoint=True).tolist(),
                      rng.integers(0, 1 << 16, n).tolist(), rng.integers(0, 64, n).tolist(),
                      rng.integers(bottom, top, n, endpoint=True).tolist(),
                      rng.integers(-128, 128, n).tolist(), rng.integers(0, 2, n).tolist()))
    return [(a, 1 if q.pow2 else m, s, 0 if q.symmetric else b, 0 if q.symmetric else z, r)
            for a, m, s, b, z, r in cases]


@pytest.mark.parametrize("q", ALL, ids=[q.name for q in ALL])
def test_stage_equals_reference(q):
    dut = Requantizer(32, 8, q)
    assert hasattr(dut.param, "multiplier") != q.pow2       # no multiplier under pow2
    assert hasattr(dut.param, "bias") != q.symmetric
    cases = stage_cases(q, np.random.default_rng(len(q.name)))
    got = []

    async def bench(ctx):
        for acc, m, s, bias, zero, relu in cases:
            ctx.set(dut.acc, acc)
            if not q.pow2:
                ctx.set(dut.param.multiplier, m)
            ctx.set(dut.param.shift, s)
            if not q.symmetric:
                ctx.set(dut.param.bias, bias)
                ctx.set(dut.param.zero, zero)
            ctx.set(dut.relu, relu)
            got.append(ctx.get(dut.q))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    for (acc, m, s, bias, zero, relu), value in zip(cases, got):
        want = requantize_affine(np.array([[acc]]), np.array([m]), np.array([s]),
                                 np.array([bias]), zero, 8, bool(relu))[0, 0]
        assert value == want, (acc, m, s, bias, zero, relu)
    assert {-128, 127} <= set(got)


def test_param_table_encodes_head_and_entries():
    m, s = np.array([0x1234, 0x1234]), np.array([7, 7])
    per_tensor = Requant(m, s, quantizer=Quantizer("tensor", False), bias=np.array([-2, 300]),
                         zero=-5)
    # head: multiplier (low, high), shift, z_y; then each channel's bias, low byte first
    assert param_table(per_tensor).tolist() == [0x34, 0x12, 7, -5, -2, -1, -1, -1,
                                                44, 1, 0, 0]
    assert param_table(Requant(np.ones(2, np.int64), s, quantizer=Quantizer(pow2=True))).tolist() \
        == [7, 7]
    # one table per group: the per-tensor head repeats
    assert len(param_table(per_tensor, groups=2)) == 2 * (4 + 4)


def test_first_accelerator_refuses_other_quantizers():
    from dlaforge.hw.requant import first_accelerator_refusal
    with pytest.raises(SpecError, match="per_channel_symmetric only, not per_tensor_symmetric"):
        first_accelerator_refusal(Quantizer("tensor"))
    first_accelerator_refusal(Quantizer())


def run_checked(job):
    """Run `job` in Amaranth; outputs bit-exact, each command's counters equal to the timing
    model's and (all but cycles) to the analytical closed forms."""
    from dlaforge.hw.controller.run import run_amaranth

    result = run_amaranth(job)
    assert np.array_equal(result.output, job.expected())
    model = controller_counters(job.arch, job.shape, job.mapping, job.quantizer,
                                dataflow=job.dataflow)
    for counters, cycles in result.per_command:
        assert counters == model and cycles == counters["cycles"]
    closed_forms_equal(job, model)
    return result


def job_of(q, seed=0, groups=2, relu=True):
    from dlaforge.hw.controller.stimulus import ControllerJob
    return ControllerJob.random(EDGE_TINY, SHAPE, MAPPING, np.random.default_rng(seed),
                                groups=groups, requant=q, relu=relu)


def closed_forms_equal(job, model):
    closed = controller_cost.counters(job.arch, job.shape, job.mapping.as_grid(job.dataflow),
                                      job.mapping.order, requant=job.quantizer,
                                      dataflow=job.dataflow)
    for name in COUNTERS[1:]:
        assert int(np.asarray(closed[name]).ravel()[0]) == model[name], name


def float_reference(job):
    """The float definition of an asymmetric layer (one group): the reals x = s_x (x_q - z_x)
    convolved with real zero padding (windows hanging past the edge: zeros too), then scaled by
    M / 2**s (= s_x s_w / s_y), rounded, shifted by z_y and clamped (requantize_float):
    N x P x Q x K."""
    s, rq = job.shape, job.requant
    x = job.ifmap.astype(np.float64) - rq.in_zero
    rows, cols = (s.P - 1) * s.stride + s.R, (s.Q - 1) * s.stride + s.S
    xp = np.zeros((s.N, s.C, max(rows, s.H + 2 * s.padding), max(cols, s.W + 2 * s.padding)))
    xp[:, :, s.padding:s.padding + s.H, s.padding:s.padding + s.W] = x
    acc = np.zeros((s.K, s.N, s.P, s.Q))
    for r in range(s.R):
        for c in range(s.S):
            win = xp[:, :, r:r + (s.P - 1) * s.stride + 1:s.stride,
                     c:c + (s.Q - 1) * s.stride + 1:s.stride]
            acc += np.einsum("nchw,kc->knhw", win, job.weight[:, :, r, c].astype(np.float64))
    out = requantize_float(acc, rq.multiplier, rq.shift, job.arch.pe_array.ofmap_bits,
                           rq.relu, zero=rq.zero)
    return out.transpose(1, 2, 3, 0).astype(np.int64)


@pytest.mark.parametrize("dataflow", ("ws", "os", "is"))
def test_asymmetric_padding_is_real_zero_padding(dataflow):
    """An asymmetric layer with padding (and windows past the edge: P x Q cover the whole
    padded input): the controller pads with the command's `pad`, the input zero point, so every
    output, the border included, equals the float definition (float_reference), and the
    counters still equal the models'."""
    from dlaforge.hw.controller.stimulus import ControllerJob
    q = Quantizer.of("per_channel_asymmetric")
    job = ControllerJob.random(EDGE_TINY, SHAPE, MAPPING, np.random.default_rng(3),
                               requant=q, relu=True, dataflow=dataflow)
    z = job.requant.in_zero
    assert z != 0 and job.commands()[0]["pad"] == z & 0xFF
    want = job.expected()
    assert np.array_equal(want, float_reference(job))
    zero_padded = job.requant.apply(job.sums(pad=0).transpose(3, 0, 1, 2), 8).transpose(
        1, 2, 3, 0)
    assert not np.array_equal(zero_padded[:, 0], want[:, 0])        # the border tells
    run_checked(job)


def test_symmetric_designs_have_no_pad_field():
    from dlaforge.hw.controller.layouts import ControllerParams
    from dlaforge.hw.layouts import GeneratorParams
    for q in ALL:
        geo = ControllerParams.of(EDGE_TINY, GeneratorParams(quantizer=q))
        assert ("pad" in geo.command_layout().members) == (not q.symmetric) == geo.pads


# make test runs a network on Icarus (below: a head run then entries, bias and zero point, no
# multiplier); make test-long every quantizer's layer in Amaranth (two groups' tables too)


@pytest.mark.long
@pytest.mark.parametrize("q", ALL, ids=[q.name for q in ALL])
def test_controller_every_quantizer(q):
    for seed, relu in ((1, False), (2, True)):
        run_checked(job_of(q, seed, groups=1 + seed % 2, relu=relu))


def test_param_bytes_follow_the_quantizer():
    """Per fetch: the head and the entries of the tile's filters (5 filters, k tiles of 4)."""
    fetched = {q.name: controller_counters(EDGE_TINY, SHAPE, MAPPING, q)["dram_read_bytes"]
               for q in ALL}
    base = controller_counters(EDGE_TINY, SHAPE, MAPPING, False)["dram_read_bytes"]
    tiles = 2             # k tiles of 4 and 1 filters, each fetched once (order nckp)
    for q in ALL:
        assert fetched[q.name] - base == tiles * q.head_pieces + SHAPE.K * q.channel_pieces


TWO_LAYERS = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
              "Num Filter, Strides,\nconv1, 10, 10, 3, 3, 8, 12, 1,\nconv2, 8, 8, 3, 3, 12, 8, 1,\n")


def test_model_rtl_runs_a_network_with_a_non_default_quantizer(tmp_path):
    """--model rtl on Icarus (free-running, build cached): two chained layers, per-tensor
    asymmetric with pow2 scales; the run checks every output bit-exact against the reference
    (RunError otherwise), and its record equals the cycle and analytical models'."""
    import dlaforge
    from dlaforge.hw.run_cocotb import simulator_available

    if simulator_available("icarus") is not None:
        pytest.skip("Icarus is not installed")
    net = tmp_path / "two.csv"
    net.write_text(TWO_LAYERS)
    runs = {model: dlaforge.simulate("edge_tiny", str(net), model=model,
                                     quant="per_tensor_asymmetric", pow2_scales=True)
            for model in ("rtl", "cycle", "analytical")}
    rtl = runs["rtl"]
    assert rtl.quantizer == "per_tensor_asymmetric+pow2"
    assert rtl.layers[0].mapping["simulator"] == "icarus"
    assert rtl.layers[1].mapping["input"] == "chained"
    for model in ("cycle", "analytical"):
        other = runs[model].totals
        assert (rtl.totals.cycles, rtl.totals.dram_read_bytes, rtl.totals.dram_write_bytes) \
            == (other.cycles, other.dram_read_bytes, other.dram_write_bytes), model
        assert rtl.totals.energy_pj == pytest.approx(other.energy_pj, rel=1e-12), model


def test_icarus_network_pads_with_each_layers_input_zero_point(tmp_path):
    """Free-running on Icarus (the command packed into the payload's bits by the harness): a
    per-channel asymmetric network whose padded layers pad with their input zero point, a
    chained layer's the previous layer's output zero point; every output bit-exact."""
    from dlaforge.hw.controller.network import ControllerNetworkJob, LayerSpec, run_network
    from dlaforge.hw.run_cocotb import simulator_available

    if simulator_available("icarus") is not None:
        pytest.skip("Icarus is not installed")
    specs = [LayerSpec("a", Shape(1, 3, 5, 5, 4, 3, 3, 5, 5, 1, 1),
                       Mapping(kt=4, ct=2, pt=3, order="nkcp")),
             LayerSpec("b", Shape(1, 4, 5, 5, 3, 3, 3, 3, 3, 2, 1),
                       Mapping(kt=3, ct=3, pt=2, order="kcpn"), dataflow="os")]
    job = ControllerNetworkJob.random(EDGE_TINY, specs, np.random.default_rng(5),
                                      quantizer=Quantizer.of("per_channel_asymmetric"))
    a, b = (layer.job for layer in job.layers)
    assert job.layers[1].chained and b.requant.in_zero == a.requant.zero
    assert a.requant.in_zero != 0 and b.requant.in_zero != 0
    result = run_network(job, "icarus", tmp_path)
    assert job.first_difference(result.output) is None
