"""The XNOR unit (hw/methods/xnor*.py): the PE in Amaranth's simulator, the whole unit in Icarus
bit-exact against the reference (xnor_ref.xnor_dot, scaled in fixed point) with cycles and
every counter equal to the timing model (sim/methods/xnor.py), on edge_tiny_xnor and on a
3x5 array packing 16-bit words with 20-bit sums; one layer in Amaranth's simulator; the spec
checks, generation and cell counts."""

import json

import numpy as np
import pytest
from amaranth.sim import Simulator

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.hw.methods import xnor
from dlaforge.hw.methods.xnor.stimulus import (XnorJob, fixed_point_scales, kmap_fixed, pack_int8,
                                          pack_words)
from dlaforge.hw.methods.xnor.pe import XnorPE
from dlaforge.hw.methods.xnor.unit import XnorUnit
from dlaforge.hw.pe import Mode
from dlaforge.hw.run_amaranth import run_amaranth
from dlaforge.workloads.methods.xnor.plan import kmap_scale, xnor_gemm
from dlaforge.sim.methods.xnor import cannot_run, op_stats, packed_gemm, xnor_timing
from dlaforge.sim.energy import energy_table
from dlaforge.workloads.layer import Layer
from dlaforge.workloads.methods import get_method
from dlaforge.workloads.methods.xnor import reference as xnor_ref
from dlaforge.workloads.methods.conv_ref import conv2d_float
from simulators import needs_icarus

EDGE_TINY_XNOR = load_arch("edge_tiny_xnor")


def narrow_arch(tmp_path):
    """3x5 XNOR PEs packing 16 signs per word, 20-bit sums."""
    path = tmp_path / "xnor16.yaml"
    path.write_text("base: edge_tiny\nname: xnor16\nunits: {xnor_scale: {ops_per_cycle: 4}}\n"
                    "pe_array: {rows: 3, cols: 5, pe_kind: xnor, xnor_word_bits: 16, "
                    "psum_bits: 20}\n")
    return load_arch(path)


# --- packing and the reference --------------------------------------------------------------
def test_pack_words_at_64_bits_is_the_references_packing():
    signs = np.random.default_rng(1).choice([-1, 1], (2, 70, 3, 4))
    ours = pack_words(signs, 64).view(np.uint64)                   # [A, words, H, W]
    assert np.array_equal(ours, xnor_ref.pack_signs(signs).transpose(0, 3, 1, 2))


def test_job_dot_is_the_float_convolution_of_the_signs_with_zero_padding():
    job = XnorJob.random(EDGE_TINY_XNOR, dict(C=70, H=5, W=4, K=3, R=3, S=3, stride=2,
                                              padding=2), np.random.default_rng(2))
    want = conv2d_float(job.x_signs[None], job.w_signs, 2, 2)[0]
    assert np.array_equal(job.dot(), want.astype(np.int64))


def test_fixed_point_scales_approximate_xnor_net():
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(40, 6, 6)), rng.normal(size=(4, 40, 3, 3)) * 0.3
    alpha_q, k_q, shift = fixed_point_scales(x, w, 1, 1, frac_bits=12)
    job = XnorJob(EDGE_TINY_XNOR, xnor_ref.signs(x), xnor_ref.signs(w), alpha_q, k_q,
                  out_shift=12, padding=1)
    real = xnor_ref.xnor_conv(x[None], w, 1, 1)[0]
    fixed = job.expected() / (1 << shift)
    assert np.abs(fixed - real).max() < 0.02 * np.abs(real).max()


def test_int8_activations_sit_eight_channels_to_an_element():
    x = np.random.default_rng(6).integers(-128, 128, (11, 2, 3))
    elements = pack_int8(x).view(np.uint64)                 # [2, 2, 3]
    lanes = [(elements >> np.uint64(8 * j)) & np.uint64(0xFF) for j in range(8)]
    unpacked = np.stack(lanes, axis=1).reshape(16, 2, 3).astype(np.int64)
    assert np.array_equal(np.where(unpacked >= 128, unpacked - 256, unpacked)[:11], x)
    assert not unpacked[11:].any()


def test_kmap_fixed_is_xnor_nets_k_in_fixed_point():
    x = np.random.default_rng(7).integers(-128, 128, (20, 6, 5))
    recip_q, k_shift = kmap_scale(20, 3, 3, 8)
    k_q = kmap_fixed(x, 3, 3, 2, 1, recip_q, k_shift)
    real = xnor_ref.k_map(x[None], 3, 3, 2, 1)[0, 0] * (1 << 8)
    assert k_q.shape == real.shape and np.abs(k_q - real).max() < 1.5   # floor + rounding


# --- the PE ---------------------------------------------------------------------------------
def test_xnor_pe_adds_the_popcount_of_valid_words_only():
    w = 16
    dut = XnorPE(w + 1, w, 12)
    rng = np.random.default_rng(4)
    steps = [(int(a), int(b), int(v)) for a, b, v in
             zip(rng.integers(0, 1 << w, 40), rng.integers(0, 1 << w, 40), rng.integers(0, 2, 40))]
    steps += [(0xFFFF, 0xFFFF, 1), (0x0000, 0xFFFF, 1), (0x1234, 0x1234, 0), (0, 0, 1)]
    seen = []

    async def bench(ctx):
        ctx.set(dut.mode, Mode.OS)
        for a, b, valid in steps:
            ctx.set(dut.a_in, a | valid << w)
            ctx.set(dut.b_in, b)
            await ctx.tick()
            seen.append(ctx.get(dut.c_out))
        ctx.set(dut.mode, Mode.IDLE)
        await ctx.tick()
        seen.append(ctx.get(dut.c_out))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    agree = [bin(~(a ^ b) & 0xFFFF).count("1") * v for a, b, v in steps]
    assert seen[:-1] == list(np.cumsum(agree) % (1 << 12)) and seen[-1] == 0
    assert agree[-4:] == [16, 0, 0, 16]


def model_of(job):
    return xnor_timing(job.arch, job.gemm, job.bandwidth, job.latency,
                       binarize_channels=job.channels if job.binarize else None)


# --- the whole unit ------------------------------------------------------------------------
def test_amaranth_runs_a_binarizing_layer_bit_and_cycle_exact():
    job = XnorJob.random(EDGE_TINY_XNOR, dict(C=20, H=3, W=3, K=2, R=3, S=3, padding=1),
                         np.random.default_rng(8), binarize=True, bandwidth=2.0, latency=3)
    result = run_amaranth(job, dut=XnorUnit(EDGE_TINY_XNOR))
    assert np.array_equal(result.output, job.expected())
    assert result.perf == model_of(job) and result.testbench_cycles == result.perf["cycles"]


@pytest.mark.long      # 15-45 s; make test runs the unit in Amaranth and verify on Icarus
@needs_icarus
@pytest.mark.parametrize("which", ["edge_tiny_xnor", "xnor16"])
def test_icarus_bit_exact_and_cycle_exact(tmp_path, which):
    """edge_tiny_xnor: the 18 verification layers (13 binarizing int8 activations on chip, 3
    host-packed, 2 extremes); the 3x5 16-bit-word array: 7 of them. Under four DRAM settings:
    outputs equal to the reference, counters and cycles equal to the timing model."""
    arch = EDGE_TINY_XNOR if which == "edge_tiny_xnor" else narrow_arch(tmp_path)
    names, jobs = xnor.verification_jobs(arch, np.random.default_rng(5))
    if which == "xnor16":
        keep = ("tail_bits", "two_words_tail", "stride2_pad", "pad2", "kd_tiles",
                "tail_bits_host_packed", "all_minus_max_scales")
        names, jobs = zip(*[(n, j) for n, j in zip(names, jobs) if n in keep])
    drams = [(None, None), (1.0, 3), (2.0, 1), (8.0, 5)]
    for i, job in enumerate(jobs):
        bandwidth, latency = drams[i % len(drams)]
        job.bandwidth = bandwidth or job.bandwidth
        job.latency = latency or job.latency
    results = xnor.run(list(jobs), tmp_path / "build")
    assert len(results) == len(jobs) == (18 if which == "edge_tiny_xnor" else 7)
    kd_tiles = 0
    for name, job, result in zip(names, jobs, results):
        assert np.array_equal(result.output, job.expected()), name
        model = model_of(job)
        assert result.perf == model, name
        assert result.testbench_cycles == model["cycles"], name
        assert (result.perf["binarize_cycles"] > 0) == job.binarize, name
        kd_tiles = max(kd_tiles, job.plan.trips[2])
    assert kd_tiles > 1          # some output accumulated over more than one kd tile


@needs_icarus
def test_verify_counts_mismatches_and_reports_every_case(tmp_path, monkeypatch):
    """verify's bookkeeping on two small layers, one with a wrong reference."""
    def two_jobs(arch, rng):
        jobs = [XnorJob.random(arch, dict(C=9, H=3, W=3, K=2, R=3, S=3, padding=1), rng,
                               binarize=True) for _ in range(2)]
        wrong = jobs[1].expected() + 1
        jobs[1].expected = lambda: wrong
        return ["right", "wrong"], jobs

    monkeypatch.setattr(xnor, "verification_jobs", two_jobs)
    lines = []
    assert xnor.verify(EDGE_TINY_XNOR, progress=lines.append) == (1, 1)
    assert lines[0].startswith("os right: ok (") and lines[1].startswith("os wrong: MISMATCH (")


# --- the spec, generation, cells, the model -------------------------------------------------
def test_check_refuses_what_the_unit_cannot_build(tmp_path):
    with pytest.raises(SpecError, match="pe_kind 'xnor'"):
        xnor.check(load_arch("edge_tiny"))
    no_os = tmp_path / "no_os.yaml"
    no_os.write_text("base: edge_tiny\nname: no_os\nunits: {xnor_scale: {ops_per_cycle: 4}}\n"
                     "pe_array: {pe_kind: xnor, dataflows: [ws]}\n")
    with pytest.raises(SpecError, match="dataflow 'os'"):
        xnor.check(load_arch(no_os))
    wide = tmp_path / "wide.yaml"
    wide.write_text("base: edge_tiny\nname: wide\nunits: {xnor_scale: {ops_per_cycle: 4}}\n"
                    "pe_array: {pe_kind: xnor, xnor_word_bits: 128}\n")
    with pytest.raises(SpecError, match="at most 64"):
        xnor.check(load_arch(wide))
    tiny = tmp_path / "tiny_buf.yaml"
    tiny.write_text("base: edge_tiny\nname: tiny_buf\nunits: {xnor_scale: {ops_per_cycle: 4}}\n"
                    "pe_array: {pe_kind: xnor}\nmemory:\n"
                    "  - {name: scratchpad, size_bytes: 64, operands: [ifmap, weight]}\n"
                    "  - {name: accumulator, size_bytes: 4096, operands: [ofmap]}\n")
    with pytest.raises(SpecError, match="too small"):
        xnor.check(load_arch(tiny))


def test_generate_writes_the_unit_and_its_manifest(tmp_path):
    verilog_path, manifest_path = xnor.generate(narrow_arch(tmp_path), tmp_path / "out")
    text = verilog_path.read_text()
    info = json.loads(manifest_path.read_text())
    assert verilog_path.name == "dlaforge_xnor.v" and "module dlaforge_xnor(" in text
    assert info["parameters"]["xnor_word_bits"] == 16 and info["parameters"]["dataflows"] == ["os"]
    ports = {p["name"]: p for p in info["ports"]}
    assert ports["rd_resp__payload"]["fields"]["data"]["width"] == 64    # one DRAM element
    assert {"alpha_base", "kmap_base", "tap_bias", "out_shift"} <= set(
        ports["cmd__payload"]["fields"])
    assert "scale_reads" in ports["perf"]["fields"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "dlaforge_xnor.json", "dlaforge_xnor.v"]


@pytest.mark.long
def test_cell_stats_put_the_xnor_pe_beside_the_int8_mac_pe():
    stats = xnor.cell_stats(EDGE_TINY_XNOR)
    xnor_pe, mac_pe = stats["xnor_pe"]["by_type"], stats["mac_pe"]["by_type"]
    assert sum(n for kind, n in xnor_pe.items() if kind.startswith("$_XOR_")) >= 64
    assert "$mul(8x8x16)" in mac_pe and not any(k.startswith("$mul") for k in xnor_pe)
    assert stats["pe_ratio"] == stats["xnor_pe"]["total"] / stats["mac_pe"]["total"]
    xors = sum(n for kind, n in stats["xnor_array"]["by_type"].items() if kind == "$_XOR_")
    assert xors >= 16 * 64        # every PE keeps its 64 XNORs


def test_op_stats_price_the_timing_models_counters():
    method = get_method("xnor", EDGE_TINY_XNOR)
    layer = Layer(name="c2", kind="conv2d", N=2, C=100, H=6, W=6, K=5, R=3, S=3, P=6, Q=6,
                  padding=1)
    op = method.transform(layer, EDGE_TINY_XNOR)[0]
    assert op.pe_op == "xnor_popcount" and cannot_run(EDGE_TINY_XNOR, op, "os") is None
    assert "os" in cannot_run(EDGE_TINY_XNOR, op, "ws")
    stats = op_stats(EDGE_TINY_XNOR, op, "os", energy_table(EDGE_TINY_XNOR))
    counters = xnor_timing(EDGE_TINY_XNOR, xnor_gemm(EDGE_TINY_XNOR, 100, 6, 6, 5, 3, 3, 6, 6,
                                                     padding=1), binarize_channels=100)
    assert stats.cycles == 2 * counters["cycles"]
    assert stats.dram_read_bytes == 2 * counters["dram_read_bytes"]
    assert stats.ops["popcount"] == op.pe_macs and stats.energy_breakdown_pj["units"] > 0
    assert stats.ops["scale_add"] == 2 * (5 * 36 + 100 * 36 + 16 * 16)   # outputs, A, K taps
    job = XnorJob.for_op(EDGE_TINY_XNOR, op, np.random.default_rng(0))
    assert (job.channels, job.gemm) == (100, packed_gemm(op)) and job.binarize
    first = method.transform(Layer(name="conv1", kind="conv2d", C=3, H=8, W=8, K=4, R=3, S=3,
                                   P=8, Q=8, padding=1), EDGE_TINY_XNOR)[0]
    assert "not a binarized op" in cannot_run(EDGE_TINY_XNOR, first, "os")


def test_cannot_run_a_layer_whose_popcount_sums_could_wrap(tmp_path):
    path = tmp_path / "psum12.yaml"
    path.write_text("base: edge_tiny\nname: psum12\nunits: {xnor_scale: {ops_per_cycle: 4}}\n"
                    "pe_array: {pe_kind: xnor, psum_bits: 12}\n")
    arch = load_arch(path)
    method = get_method("xnor", arch)
    small, big = (method.transform(Layer(name="c", kind="conv2d", C=C, H=4, W=4, K=2, R=3, S=3,
                                         P=4, Q=4, padding=1), arch)[0] for C in (64, 512))
    assert cannot_run(arch, small, "os") is None            # 9 taps x 64 bits < 2**11
    assert "overflow psum_bits 12" in cannot_run(arch, big, "os")
    with pytest.raises(ValueError, match="overflow"):
        XnorJob.random(arch, dict(C=512, H=4, W=4, K=2, R=3, S=3, padding=1),
                       np.random.default_rng(0))
