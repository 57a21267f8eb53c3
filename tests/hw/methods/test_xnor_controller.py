"""XNOR-Net on the mapped-program controller (issue 14, plan Stage 1): the controller built with
the XNOR datapath (workloads/methods/xnor/plan.CONTROLLER_DATAPATH) holds 64-bit sign words in its
buffers and DRAM, feeds its XNOR-popcount PEs each word with a valid bit (zero lanes, padding
included, add nothing), runs ws, os and is, and scales each requantized output by the pixel's
K_q after correcting the popcount sums by the taps' bias: y = requant((2·sum −
taps·tap_bias)·K_q). K_q comes from a map in DRAM, or, when the load binarizes int8 activations
(packing their signs and summing their magnitudes), is formed on chip. Its PEs' MAC mode runs
int8 layers on the same lanes. Outputs bit-exact, from the plain sign convolution too; every
counter equal to the exact timing model, whose scale-map and int8 bytes the closed form and
plain counts here match."""

from dataclasses import replace

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.hw.controller.free_run import run_free
from dlaforge.hw.controller.layouts import ControllerParams
from dlaforge.hw.controller.stimulus import ControllerJob, random_requant_of
from dlaforge.hw.stimulus import wrap
from dlaforge.program import LOOP_ORDERS, Mapping, Shape, fits
from dlaforge.sim.cycle.controller_timing import controller_counters, tile_sequence
from dlaforge.workloads.methods.conv_ref import conv2d_float
from dlaforge.workloads.methods.xnor import reference as ref
from dlaforge.workloads.methods.xnor.plan import CONTROLLER_DATAPATH as XNOR, kmap_scale
from controller_checks import (assert_closed_form_matches, assert_network_matches,
                               assert_run_matches, random_window)
from simulators import needs_icarus

PRESET = load_arch("edge_tiny_xnor")
# every dataflow, as the controller's XNOR datapath runs them; the design's arch: 64-bit words
ARCH = XNOR.operand_arch(replace(PRESET, pe_array=replace(PRESET.pe_array,
                                                          dataflows=("ws", "os", "is"))))


def in_image_taps(shape: Shape) -> np.ndarray:
    """P x Q: the window taps of each output pixel that fall inside the image."""
    s = shape
    rows = [sum(0 <= p * s.stride + r - s.padding < s.H for r in range(s.R)) for p in range(s.P)]
    cols = [sum(0 <= q * s.stride + c - s.padding < s.W for c in range(s.S)) for q in range(s.Q)]
    return np.outer(rows, cols)


@pytest.mark.parametrize("channels", [5, 64, 70, 130])
@pytest.mark.parametrize("stride, padding, groups", [(1, 1, 1), (2, 0, 1), (2, 1, 2)])
def test_popcount_sums_give_the_sign_convolution(channels, stride, padding, groups):
    """2·popcount_sums − taps·tap_bias is the convolution of the signs with zero padding
    (numpy float), the unused high bits of the last word 0 on both sides, per group."""
    rng = np.random.default_rng(channels + stride)
    x = rng.standard_normal((2, groups * channels, 7, 6))
    w = rng.standard_normal((3 * groups, channels, 3, 3))
    x_words = np.concatenate([ref.pack_signs(x[:, g * channels:(g + 1) * channels])
                              for g in range(groups)], axis=3).transpose(0, 3, 1, 2)
    w_words = ref.pack_signs(w).transpose(0, 3, 1, 2)
    sums = ref.popcount_sums(x_words.view(np.int64), w_words.view(np.int64), stride, padding,
                             groups)
    words = -(-channels // 64)
    shape = Shape(2, words, 7, 6, 3, 3, 3, sums.shape[2], sums.shape[3], stride, padding)
    dot = 2 * sums - in_image_taps(shape) * (2 * words * 64 - channels)
    expect = np.concatenate([conv2d_float(ref.signs(x[:, g * channels:(g + 1) * channels]),
                                          ref.signs(w[3 * g:3 * g + 3]), stride, padding)
                             for g in range(groups)], axis=1)
    assert np.array_equal(dot, expect)


def test_the_datapath_and_what_it_refuses():
    """The design's lanes, beats and command fields; what it refuses: other word widths, a
    DRAM that cannot feed the binarizer whole requests, binarized tiles without all of a
    pixel's words, a channel count the words do not hold."""
    geo = ControllerParams.of(ARCH, datapath=XNOR)
    assert geo.dataflows == ("ws", "os", "is") and geo.requant and geo.scales
    assert (geo.ifmap_bits, geo.weight_bits, geo.lane_bits) == (64, 64, (65, 65))
    assert geo.beats.bytes["ifmap"] == geo.beats.bytes["weight"] == 8
    assert geo.beats.bytes["kmap"] == 2
    assert {"kmap_base", "tap_bias"} <= set(geo.command_layout().members)
    # the buffers hold words of 64-bit elements: an eighth of the int8 preset's
    int8 = ControllerParams.of(load_arch("edge_tiny"))
    assert geo.buffers.ifmap_half == int8.buffers.ifmap_half // 8
    # the preset's own lanes are int8 (the MAC mode's): the design takes them as its words
    assert ControllerParams.of(PRESET, datapath=XNOR).buffers == geo.buffers
    narrow = replace(PRESET, pe_array=replace(PRESET.pe_array, xnor_word_bits=32))
    with pytest.raises(SpecError, match="packs 64 signs per word, not xnor_word_bits 32"):
        ControllerParams.of(narrow, datapath=XNOR)
    assert XNOR.arch_refusal(narrow).startswith("the controller's xnor datapath packs 64")
    # a design without the scaling stage writes the popcount sums; the baseline has no map
    assert not ControllerParams.of(load_arch("edge_tiny")).scales
    # the binarizer: int8 activations in requests of the 4-byte channel, K_q's fixed point
    assert geo.binarizes and geo.beats.act == 4 and "last" in geo.tag_layout().members
    # the MAC mode of the int8 first conv and FC: a byte per element, four per request
    assert geo.datapath.pe_ops == ("xnor_popcount", "mac")
    assert "mode" in geo.command_layout().members
    assert (geo.beats.mac_ifmap, geo.beats.mac_weight, geo.beats.bytes["mac"]) == (4, 4, 1)
    assert {"binarize", "signs", "recip", "k_shift"} <= set(geo.command_layout().members)
    six = replace(ARCH, dram=replace(ARCH.dram, bandwidth_bytes_per_cycle=6))
    with pytest.raises(SpecError, match="moves 6, not a power of two up to 64"):
        ControllerParams.of(six, datapath=XNOR)
    rng = np.random.default_rng(0)
    shape = Shape(1, 2, 4, 4, 3, 3, 3, 4, 4, 1, 1, binarized=100)
    with pytest.raises(SpecError, match="sums a pixel's magnitudes in one tile: ct=1 of the 2"):
        ControllerJob.random(ARCH, shape, Mapping(3, 1, 2), rng, datapath=XNOR)
    with pytest.raises(SpecError, match="100 binarized channels make 2 words, not C=3"):
        ControllerJob.random(ARCH, replace(shape, C=3), Mapping(3, 3, 2), rng, datapath=XNOR)


def scale_map_reads(shape: Shape, mapping: Mapping) -> int:
    """Bytes of scale map a command reads, counted over its tiles plainly: a final
    write-back reads its pixels' scales (two bytes each) unless the final write-back before
    it had the same image and pixels."""
    t = tile_sequence(shape, mapping)
    total, last = 0, None
    for i in range(len(t["k0"])):
        if not (t["leaves"][i] and t["final"][i]):
            continue
        at = (t["index"]["n"][i], t["p0"][i], t["q0"][i])
        if at != last:
            total += 2 * int(t["p_size"][i] * t["q_size"][i])
        last = at
    return total


def ifmap_pixels_loaded(shape: Shape, mapping: Mapping) -> int:
    """The pixels the command's ifmap loads bring, counted over its tiles."""
    t = tile_sequence(shape, mapping)
    words = (t["hi"] - t["lo"]) * (t["whi"] - t["wlo"])
    return int(np.where(t["load_ifmap"], words, 0).sum())


def test_the_models_count_the_scale_map_and_the_binarized_loads():
    """On 60 random XNOR commands over every dataflow and loop order, a third of them
    binarizing int8 activations: the closed form equals the timing model on every counter
    (cycles within 5%); the map's bytes are those counted plainly (the difference the map
    makes to the DRAM reads), and a binarizing command reads no map but, for each pixel its
    loads bring, its int8 channels where the packed words take 8 bytes each."""
    rng = np.random.default_rng(5)
    done = 0
    while done < 60:
        R, S, stride, pad, H, W, P, Q = random_window(rng)
        binarized = int(rng.integers(1, 200)) if done % 3 == 2 else 0
        C = -(-binarized // 64) if binarized else int(rng.integers(1, 4))
        shape = Shape(int(rng.integers(1, 3)), C, H, W, int(rng.integers(1, 12)), R, S, P, Q,
                      stride, pad, scale_bytes=2, binarized=binarized)
        mapping = Mapping(int(rng.integers(1, shape.K + 1)),
                          C if binarized else int(rng.integers(1, C + 1)),
                          int(rng.integers(1, P + 1)),
                          LOOP_ORDERS[int(rng.integers(len(LOOP_ORDERS)))],
                          qt=int(rng.integers(1, Q + 1)))
        if not fits(ARCH, W=W, H=H, R=R, S=S, Q=Q, stride=stride, padding=pad, kt=mapping.kt,
                    ct=mapping.ct, pt=mapping.pt, qt=mapping.qt):
            continue
        dataflow = ("ws", "os", "is")[done % 3]
        timed = assert_closed_form_matches(ARCH, shape, mapping, dataflow)
        plain = controller_counters(ARCH, replace(shape, scale_bytes=0, binarized=0), mapping,
                                    True, dataflow=dataflow)
        extra = (ifmap_pixels_loaded(shape, mapping) * (binarized - 8 * C) if binarized
                 else scale_map_reads(shape, mapping))
        assert timed["dram_read_bytes"] - plain["dram_read_bytes"] == extra
        assert timed["ifmap_writes"] == plain["ifmap_writes"]   # a lane per word either way
        done += 1


def sign_job(rng, shape: Shape, channels: int, mapping: Mapping, dataflow: str
             ) -> tuple[ControllerJob, np.ndarray]:
    """A job of real activations and weights (`channels` of them per pixel and filter tap)
    packed as the host packs them (reference.pack_signs), K_q XNOR-Net's K map in 8-bit fixed
    point, random requantization; and its expected output computed from the reference's
    xnor_dot (not the job's own formula)."""
    x = rng.standard_normal((shape.N, channels, shape.H, shape.W))
    w = rng.standard_normal((shape.K, channels, shape.R, shape.S))
    xb, wb = ref.pack_signs(x), ref.pack_signs(w)
    kmap = np.minimum(np.round(ref.k_map(x, shape.R, shape.S, shape.stride, shape.padding)
                               * 256), (1 << 16) - 1).astype(np.int64)[:, 0]
    kmap = np.pad(kmap, ((0, 0), (0, shape.P - kmap.shape[1]), (0, shape.Q - kmap.shape[2])))
    words = -(-channels // 64)
    job = ControllerJob(ARCH, shape, mapping, xb.transpose(0, 3, 1, 2).view(np.int64),
                        wb.transpose(0, 3, 1, 2).view(np.int64), dataflow=dataflow,
                        datapath=XNOR, kmap=kmap, tap_bias=2 * words * 64 - channels)
    job = replace(job, requant=random_requant_of(job, job.quantizer, rng, relu=True))
    dot = ref.xnor_dot(xb, wb, channels, shape.stride, shape.padding)
    dot = np.pad(dot, ((0, 0), (0, 0), (0, shape.P - dot.shape[2]),
                       (0, shape.Q - dot.shape[3])))        # windows wholly past the edge
    scaled = wrap(dot * kmap[:, None], ARCH.pe_array.psum_bits)
    return job, job.requant.apply(scaled.transpose(1, 0, 2, 3), job.out_width
                                  ).transpose(1, 2, 3, 0)


def binarizing_job(rng, shape: Shape, mapping: Mapping, dataflow: str
                   ) -> tuple[ControllerJob, np.ndarray]:
    """A job of int8 activations the load binarizes (Shape.binarized channels) and real
    weights packed by the host, K_q formed on chip in 8-bit fixed point (plan.kmap_scale),
    random requantization; and its expected output computed plainly: the reference's
    xnor_dot of the activations' signs, times K_q from window sums of |x| taken here (within
    one 256th of XNOR-Net's K, reference.k_map)."""
    s = shape
    x = rng.integers(-128, 128, (s.N, s.binarized, s.H, s.W))
    w = rng.standard_normal((s.K, s.binarized, s.R, s.S))
    wb = ref.pack_signs(w)
    recip, k_shift = kmap_scale(s.binarized, s.R, s.S, 8)
    job = ControllerJob(ARCH, s, mapping, x, wb.transpose(0, 3, 1, 2).view(np.int64),
                        dataflow=dataflow, datapath=XNOR, recip=recip, k_shift=k_shift,
                        tap_bias=2 * s.C * 64 - s.binarized)
    job = replace(job, requant=random_requant_of(job, job.quantizer, rng, relu=True))
    magnitudes = np.abs(x).sum(axis=1)
    kq = np.zeros((s.N, s.P, s.Q), np.int64)
    for n, p, q in np.ndindex(kq.shape):
        total = sum(int(magnitudes[n, h, v]) for h in range(p * s.stride - s.padding,
                                                             p * s.stride - s.padding + s.R)
                    for v in range(q * s.stride - s.padding, q * s.stride - s.padding + s.S)
                    if 0 <= h < s.H and 0 <= v < s.W)
        kq[n, p, q] = min((total * recip) >> k_shift, (1 << 16) - 1)
    k_float = ref.k_map(x, s.R, s.S, s.stride, s.padding)[:, 0]
    assert np.abs(kq[:, :k_float.shape[1], :k_float.shape[2]] - 256 * k_float).max() <= 1
    dot = ref.xnor_dot(ref.pack_signs(x), wb, s.binarized, s.stride, s.padding)
    dot = np.pad(dot, ((0, 0), (0, 0), (0, s.P - dot.shape[2]), (0, s.Q - dot.shape[3])))
    scaled = wrap(dot * kq[:, None], ARCH.pe_array.psum_bits)
    return job, job.requant.apply(scaled.transpose(1, 0, 2, 3), job.out_width
                                  ).transpose(1, 2, 3, 0)


@pytest.mark.long      # 40 s: make test-long (make test keeps the network and the commands)
@needs_icarus
def test_binarized_layers_free_running_on_icarus(tmp_path):
    """On one build: nine random layers of random sign words (ws, os, is; strides, padding,
    windows hanging past the edge, two groups, N = 2, column tiles, c tiles spilling popcount
    sums, requantized or writing the sums), four random layers binarizing int8 activations
    on the load (two groups: a map per group; one writing the sums), three int8 layers in
    the MAC mode (one byte per DRAM element, int8 in the low bits of the lanes), three of real
    activations packed by the host (70, 64 and 130 channels) and three of int8 activations
    binarized on chip with XNOR-Net's K map (100, 64 and 150 channels); bit-exact and equal
    to the timing model."""
    rng = np.random.default_rng(14)
    jobs = []
    while len(jobs) < 9:
        R, S, stride, pad, H, W, P, Q = random_window(rng)
        shape = Shape(int(rng.integers(1, 3)), int(rng.integers(1, 4)), H, W,
                      int(rng.integers(1, 9)), R, S, P, Q, stride, pad)
        mapping = Mapping(*(int(rng.integers(1, x + 1)) for x in (shape.K, shape.C, P)),
                          LOOP_ORDERS[int(rng.integers(len(LOOP_ORDERS)))],
                          qt=int(rng.integers(1, Q + 1)) if rng.random() < 0.5 else None)
        try:
            jobs.append(ControllerJob.random(ARCH, shape, mapping, rng,
                                             groups=1 + (len(jobs) == 4),
                                             requant=len(jobs) % 4 != 3, relu=len(jobs) % 2,
                                             dataflow=("ws", "os", "is")[len(jobs) % 3],
                                             datapath=XNOR))
        except SpecError:       # does not fit the buffers
            continue
    while len(jobs) < 13:       # binarizing int8 activations on the load
        R, S, stride, pad, H, W, P, Q = random_window(rng)
        binarized = int(rng.integers(1, 150))
        C = -(-binarized // 64)
        shape = Shape(int(rng.integers(1, 3)), C, H, W, int(rng.integers(1, 9)), R, S, P, Q,
                      stride, pad, binarized=binarized)
        mapping = Mapping(int(rng.integers(1, shape.K + 1)), C, int(rng.integers(1, P + 1)),
                          LOOP_ORDERS[int(rng.integers(len(LOOP_ORDERS)))],
                          qt=int(rng.integers(1, Q + 1)) if rng.random() < 0.5 else None)
        try:
            jobs.append(ControllerJob.random(ARCH, shape, mapping, rng,
                                             groups=1 + (len(jobs) == 10),
                                             requant=len(jobs) != 12, relu=True,
                                             dataflow=("ws", "os", "is")[len(jobs) % 3],
                                             datapath=XNOR))
        except SpecError:       # does not fit the buffers
            continue
    while len(jobs) < 16:       # int8 layers in the MAC mode: int8 elements, int8 lanes
        R, S, stride, pad, H, W, P, Q = random_window(rng)
        shape = Shape(1, int(rng.integers(1, 9)), H, W, int(rng.integers(1, 9)), R, S, P, Q,
                      stride, pad)
        try:
            jobs.append(ControllerJob.random(ARCH, shape, Mapping(
                int(rng.integers(1, shape.K + 1)), int(rng.integers(1, shape.C + 1)),
                int(rng.integers(1, P + 1)), LOOP_ORDERS[int(rng.integers(len(LOOP_ORDERS)))]),
                rng, requant=True, dataflow=("ws", "os", "is")[len(jobs) % 3], datapath=XNOR,
                pe_op="mac"))
        except SpecError:       # does not fit the buffers
            continue
    signed = [sign_job(rng, Shape(1, 2, 6, 5, 6, 3, 3, 6, 5, 1, 1), 70,
                       Mapping(4, 1, 3, "nkcp", qt=3), "ws"),
              sign_job(rng, Shape(2, 1, 7, 7, 5, 3, 3, 4, 4, 2, 1), 64,
                       Mapping(5, 1, 2, "kcpn"), "os"),
              sign_job(rng, Shape(1, 3, 5, 6, 7, 2, 2, 4, 5, 1, 0), 130,
                       Mapping(3, 2, 4, "pkcn", qt=2), "is"),
              binarizing_job(rng, Shape(1, 2, 6, 6, 5, 3, 3, 6, 6, 1, 1, binarized=100),
                             Mapping(3, 2, 2, "kcpn", qt=4), "os"),
              binarizing_job(rng, Shape(2, 1, 7, 5, 4, 3, 3, 4, 3, 2, 1, binarized=64),
                             Mapping(4, 1, 4, "nckp"), "ws"),
              binarizing_job(rng, Shape(1, 3, 4, 6, 6, 2, 2, 3, 5, 1, 0, binarized=150),
                             Mapping(6, 3, 3, "pkcn", qt=3), "is")]
    assert any(job.mapping.ct < job.shape.C for job in jobs)       # sums spilled, read back
    assert [job.shape.element_bits for job in jobs[-3:]] == [8, 8, 8]
    results = run_free(jobs + [job for job, _ in signed], tmp_path, "icarus")
    for job, result in zip(jobs, results):
        assert_run_matches(result, job)
    for (job, expected), result in zip(signed, results[len(jobs):]):
        assert np.array_equal(result.output, expected)
        assert_run_matches(result, job)


@needs_icarus
def test_an_xnor_network_runs_on_one_design():
    """`simulate --model rtl --method xnor` on edge_tiny_xnor under os: the int8 first conv and
    FC in the MAC mode, the binarized layers (a strided conv, a depthwise: a K map per group,
    a 1x1) binarizing the previous layer's int8 outputs on the load; every statistic equal to
    `--model cycle`'s, the analytical cycles within 10%."""
    assert assert_network_matches(PRESET, "os", "xnor") == ["c1", "fc"]


@pytest.mark.long
@pytest.mark.parametrize("dataflow", ["ws", "is"])
def test_an_xnor_network_under_ws_and_is(dataflow):
    assert assert_network_matches(PRESET, dataflow, "xnor") == ["c1", "fc"]


def test_rtl_generate_builds_the_controller_with_the_xnor_datapath(tmp_path):
    import json
    import dlaforge
    dlaforge.rtl_generate(PRESET, tmp_path, method="xnor")
    info = json.loads((tmp_path / "dlaforge_accel.json").read_text())
    assert info["parameters"]["datapath"] == {
        "family": "xnor", "pe_ops": ["xnor_popcount", "mac"], "operand_bits": 64,
        "valid_lanes": True, "mac_bits": 8, "scale_map_bits": 16}
    assert {"binarize", "signs", "recip", "k_shift", "kmap_base", "tap_bias"} <= set(
        info["command"]["fields"])
    assert "packed on the load" in info["command"]["dram_layouts"]["ifmap"]


@pytest.mark.long
def test_rtl_verify_runs_both_pe_operations():
    import dlaforge
    lines = []
    passed, failed = dlaforge.rtl_verify(PRESET, method="xnor", progress=lines.append)
    assert failed == 0 and passed == 222
    assert sum(" xnor_popcount " in line for line in lines) == 111


@pytest.mark.parametrize("channels", [100, 256, 512])
def test_binarized_layers_of_several_words_run_on_the_controller(channels):
    """A binarized layer of more than 64 channels holds all its words in a tile: the
    controller runs it under every dataflow (its smallest tile has all C words), and the
    mapper's default and searched tilings keep ct = C."""
    from dlaforge.sim import controller_cost
    from dlaforge.sim.analytical import default_mapping, search
    from dlaforge.sim.energy import energy_table
    from dlaforge.workloads.layer import conv
    from dlaforge.workloads.methods import get_method
    [op] = get_method("xnor", PRESET).transform(conv("b", channels, 64, 14, R=3), PRESET)
    shape = controller_cost.shape_of(op, PRESET)
    assert (shape.binarized, shape.C) == (channels, -(-channels // 64))
    for dataflow in ("ws", "os", "is"):
        assert controller_cost.controller_runs(PRESET, op, dataflow)
        assert default_mapping(PRESET, op, dataflow).ct == shape.C
        assert search(PRESET, op, dataflow, "energy", energy_table(PRESET))[0].ct == shape.C


def test_asymmetric_quantizers_pad_only_the_mac_mode():
    """The popcount layers pad with nothing (a valid bit of 0), so an asymmetric quantizer's
    input zero point is refused there; the MAC mode's int8 layers take one of int8 range."""
    from dlaforge.workloads.quantizers import Quantizer
    asymmetric = Quantizer.of("per_tensor_asymmetric")
    rng = np.random.default_rng(2)
    shape, mapping = Shape(1, 2, 4, 4, 3, 3, 3, 4, 4, 1, 1), Mapping(3, 2, 2)
    with pytest.raises(SpecError, match="pads its xnor_popcount layers with nothing"):
        ControllerJob.random(ARCH, shape, mapping, rng, datapath=XNOR, requant=asymmetric)
    for _ in range(5):
        job = ControllerJob.random(ARCH, shape, mapping, rng, datapath=XNOR, pe_op="mac",
                                   requant=asymmetric)
        # the pad field is a lane's width; the MAC mode takes its low 8 bits: the zero point
        assert -128 <= job.in_zero < 128
        assert job.commands()[0]["pad"] & 0xFF == job.in_zero & 0xFF


def test_a_network_of_host_packed_layers_reads_each_layer_s_scale_map():
    """Each layer's command reads the scale map at its own region of the network's image."""
    from dlaforge.hw.controller.network import ControllerNetworkJob, LayerSpec
    shape = Shape(1, 1, 4, 4, 3, 3, 3, 4, 4, 1, 1)
    specs = [LayerSpec(f"l{i}", shape, Mapping(3, 1, 2), dataflow="os") for i in range(2)]
    job = ControllerNetworkJob.random(ARCH, specs, np.random.default_rng(1), XNOR)
    bases = [job.layer_commands(i)[0]["kmap_base"] for i in range(2)]
    assert bases == [job.bases[i]["kmap"] for i in range(2)] and bases[0] != bases[1]
    image = job.dram_image()
    for layer, base in zip(job.layers, bases):
        assert np.array_equal(image[base:base + 16], layer.job.kmap.ravel())
