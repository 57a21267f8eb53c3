"""Benchmark of the inference methods, written to bench/RESULTS_methods.md:

(a) ResNet-18, VGG-16 and the DCGAN generator on tpu_like and eyeriss_like under every
    registered inference method that names a tpu_like preset, against the arch's plain
    integer baseline (energy and its breakdown, cycles, DRAM bytes, weight storage), with
    the analytical and the cycle model, beside the papers' analytically derivable claims;
(b) Winograd quantization error, tap-wise against per-tensor power-of-two scales, on uniform and
    on heavy-tailed (Laplacian) data, scales calibrated on one batch and measured on another;
(c) throughput of each numba reference against a straightforward numpy implementation of the
    same layer (im2col + int32 matmul) on a ResNet-18 layer, medians of interleaved runs.

tpu_like runs each method on its `tpu_like_<method>` preset. eyeriss_like has no method
presets; its variants are written to bench/_work/methods/ (the base plus the method's units
at tpu_like's rates per PE, an XNOR PE kind, or 2-bit PEs with the MAC energy scaled from
eyeriss_like's 16-bit MAC by the 45 nm multiplier and adder model) and shown in the results.

    .venv/bin/python bench/bench_methods.py [--repeats N] [--skip-networks]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.sim.energy import mac_pj_45nm
from dlaforge.stats import ENERGY_COMPONENTS
from dlaforge.workloads.methods import conv_ref
from dlaforge.workloads.methods.palquant import reference as palquant_ref
from dlaforge.workloads.methods.smartdeal import reference as smartdeal_ref
from dlaforge.workloads.methods.winograd import reference as winograd_ref
from dlaforge.workloads.methods.xnor import reference as xnor_ref
from dlaforge.workloads.methods import METHODS as REGISTERED
from dlaforge.workloads.methods.common import keeps_full_precision
from dlaforge.workloads.layer import conv
from dlaforge.workloads.networks import Network, load_network

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "_work" / "methods"
RESULTS = ROOT / "bench" / "RESULTS_methods.md"



def _suffix(method) -> str | None:
    """The suffix of the tpu_like preset a method names as made for it ("" for tpu_like
    itself), or None when it names none."""
    found = [p for p in method.presets if p == "tpu_like" or p.startswith("tpu_like_")]
    return found[0].removeprefix("tpu_like").removeprefix("_") if found else None


# method -> suffix of the arch variant that runs it: every registered inference method with a
# tpu_like preset (the registry's order; training-only methods are bench_training's)
METHODS = {name: _suffix(m) for name, m in REGISTERED.items()
           if name != "baseline" and not m.training_only and _suffix(m) is not None}
NETWORKS = ("resnet18", "vgg16", "dcgan")
CLASSIFIERS = ("resnet18", "vgg16")    # the first wave's claims are about these
BASES = ("tpu_like", "eyeriss_like")
COMPONENTS = ENERGY_COMPONENTS + ("units",)


# (a) networks --------------------------------------------------------------------------------
def eyeriss_variant(suffix: str) -> dict:
    """eyeriss_like plus what `tpu_like_<suffix>` adds, unit rates scaled by PE count."""
    if not suffix:
        return {"base": "eyeriss_like", "name": "eyeriss_like"}
    tpu = yaml.safe_load((ROOT / "dlaforge" / "presets" / f"tpu_like_{suffix}.yaml").read_text())
    base, tpu_base = load_arch("eyeriss_like"), load_arch("tpu_like")
    per_pe = base.pe_count / tpu_base.pe_count
    spec = {"base": "eyeriss_like", "name": f"eyeriss_like_{suffix}",
            "units": {u: {"ops_per_cycle": max(1, round(v["ops_per_cycle"] * per_pe))}
                      for u, v in tpu.get("units", {}).items()}}
    pe = dict(tpu.get("pe_array", {}))
    if pe.get("ifmap_bits") == 2:          # 2-bit PEs: keep eyeriss_like's 16-bit psums
        pe.pop("psum_bits", None)
        narrow = replace(base.pe_array, ifmap_bits=2, weight_bits=2)
        spec["energy"] = {"mac_pj": round(base.energy.mac_pj * mac_pj_45nm(narrow)
                                          / mac_pj_45nm(base.pe_array), 6)}
    if "rs" not in pe.get("dataflows", ["rs"]):   # Eyeriss's zero gating and RLE price rs only
        pe["zero_gating"] = False
        spec["dram"] = {"compression": "none"}
    if pe:
        spec["pe_array"] = pe
    return spec


def method_arch(base: str, suffix: str) -> str:
    if not suffix:
        return base
    if base == "tpu_like":
        return f"tpu_like_{suffix}"
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"eyeriss_like_{suffix}.yaml"
    path.write_text(yaml.safe_dump(eyeriss_variant(suffix), sort_keys=False))
    return str(path)


def run_networks(models) -> dict:
    runs = {}
    for base in BASES:
        for net in NETWORKS:
            for model in models:
                runs[base, net, "baseline", model] = dlaforge.simulate(base, net, model=model)
                for method, suffix in METHODS.items():
                    try:
                        runs[base, net, method, model] = dlaforge.simulate(
                            method_arch(base, suffix), net, method=method, model=model)
                    except dlaforge.SpecError as refusal:   # e.g. 8-bit bricks, 16-bit arch
                        runs[base, net, method, model] = f"not run: {refusal}"
    return runs


def _mb(nbytes) -> str:
    return f"{nbytes / 1e6:.2f}"


def network_table(runs, model) -> list[str]:
    head = ["arch", "network", "method", "energy uJ", *[f"{c} uJ" for c in COMPONENTS],
            "cycles M", "util", "DRAM MB", "weights MB", "energy / base", "cycles / base",
            "DRAM / base"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for base in BASES:
        for net in NETWORKS:
            ref = runs[base, net, "baseline", model].totals
            for method in ("baseline", *METHODS):
                if isinstance(runs[base, net, method, model], str):
                    lines.append(f"| {base} | {net} | {method} | "
                                 f"{runs[base, net, method, model]} |" + " |" * (len(head) - 4))
                    continue
                t = runs[base, net, method, model].totals
                dram = t.dram_read_bytes + t.dram_write_bytes
                ref_dram = ref.dram_read_bytes + ref.dram_write_bytes
                cells = [base, net, method, f"{t.energy_pj / 1e6:.1f}",
                         *[f"{t.energy_breakdown_pj.get(c, 0.0) / 1e6:.1f}" for c in COMPONENTS],
                         f"{t.cycles / 1e6:.2f}", f"{t.utilization:.2f}", _mb(dram), _mb(t.weight_storage_bits / 8),
                         f"{t.energy_pj / ref.energy_pj:.2f}", f"{t.cycles / ref.cycles:.2f}",
                         f"{dram / ref_dram:.2f}"]
                lines.append("| " + " | ".join(cells) + " |")
    return lines


def claims(runs) -> list[str]:
    """The papers' analytically derivable claims against what the analytical model counts."""
    lines = ["| claim | paper | arch, network | ours | reproduced |", "|---|---|---|---|---|"]
    for base in BASES:
        for net in CLASSIFIERS:
            layers = load_network(net).layers
            where = f"{base}, {net}"
            for method, paper in (("winograd_f4", 4.0), ("winograd_f2", 2.25)):
                recs = runs[base, net, method, "analytical"].layers
                elig = [r for r in recs if "direct_conv_fallback" not in r.stats.ops]
                m = 4 if method == "winograd_f4" else 2
                exact = [r for r in elig if r.shape["P"] % m == 0 and r.shape["Q"] % m == 0]
                ratio = sum(r.stats.macs for r in elig) / sum(r.stats.ops["mult"] for r in elig)
                whole = sum(r.stats.macs for r in exact) / sum(r.stats.ops["mult"] for r in exact)
                lines.append(
                    f"| {method}: fewer multiplies on eligible layers | {paper}x | {where} | "
                    f"{ratio:.2f}x on {len(elig)} layers ({whole:.2f}x on the {len(exact)} whose "
                    f"outputs fill whole tiles) | {_verdict(whole, paper)} on whole tiles; "
                    f"edge tiles lower it |")
            lines.append(_binary_weights_claim(runs, base, net, "xnor", layers))
            slow = runs[base, net, "bitslice_w4a4", "analytical"].layers
            fast = runs[base, net, "palquant", "analytical"].layers
            inner = [i for i, l in enumerate(layers) if not keeps_full_precision(l)]
            speed = sum(slow[i].stats.cycles for i in inner) / sum(fast[i].stats.cycles for i in inner)
            macs = sum(slow[i].stats.ops["mult"] for i in inner) / sum(fast[i].stats.ops["mult"] for i in inner)
            total = (runs[base, net, "bitslice_w4a4", "analytical"].totals.cycles
                     / runs[base, net, "palquant", "analytical"].totals.cycles)
            lines.append(f"| palquant G=2 vs 4-bit bit-sliced: speedup | 1.96x (estimate) | "
                         f"{where} | {speed:.2f}x cycles on the 2-bit layers ({macs:.2f}x array "
                         f"passes), {total:.2f}x whole network | {_verdict(speed, 1.96)} |")
            sd = runs[base, net, "smartdeal", "analytical"].totals.weight_storage_bits
            fp32 = 32 * sum(l.K * (l.C // l.groups) * l.R * l.S for l in layers)
            lines.append(f"| smartdeal: weight storage | 10.56x (trained, pruned) | {where} | "
                         f"{fp32 / sd:.2f}x vs fp32 | not comparable: untrained weights, "
                         f"no pruning |")
    return lines


def second_wave_claims(runs) -> list[str]:
    """The second wave's derivable claims (issue 18): AdderNet's adder layers multiply nothing,
    BWN's binarized weights are 32x smaller than fp32, kernel segregation does stride² fewer
    multiplies on a transposed conv, Bit Fusion runs 4x (16x) the products at 4 (2) bits,
    GhostNet 1.0x is 141 M MACs, G-Ghost RegNetX-3.2GF 1.8 G."""
    lines = []
    for base in BASES:
        for net in CLASSIFIERS:
            where = f"{base}, {net}"
            layers = load_network(net).layers
            adder = [r for l, r in zip(layers, runs[base, net, "addernet", "analytical"].layers)
                     if not keeps_full_precision(l)]
            mults = sum(r.stats.ops.get("mult", 0) for r in adder)
            subs = sum(r.stats.ops.get("sub", 0) for r in adder)
            lines.append(f"| addernet: no multiplies in the adder layers | 0 | {where} | "
                         f"{mults} multiplies, {subs:,} subtractions on {len(adder)} layers | "
                         f"{'yes' if mults == 0 else 'no'} |")
            lines.append(_binary_weights_claim(runs, base, net, "bwn", layers))
        layers = load_network("dcgan").layers
        base_recs = runs[base, "dcgan", "baseline", "analytical"].layers
        seg_recs = runs[base, "dcgan", "tconv_segregation", "analytical"].layers
        for layer, plain, seg in zip(layers, base_recs, seg_recs):
            if layer.kind != "transposed_conv" or layer.stride == 1:
                continue
            ratio = plain.stats.ops["mult"] / seg.stats.ops["mult"]
            lines.append(f"| tconv_segregation: stride² fewer multiplies than zero insertion | "
                         f"{layer.stride ** 2}x | {base}, dcgan {layer.name} | {ratio:.2f}x "
                         f"({plain.stats.ops['mult']:,} / {seg.stats.ops['mult']:,}) | "
                         f"{_verdict(ratio, layer.stride ** 2)} |")
    wide = conv("layer4_like", 512, 512, 7, R=3, padding=1)
    compute = {bits: dlaforge.simulate("tpu_like_bitfusion", Network(f"w{bits}", (
        replace(wide, weight_bits=bits, ifmap_bits=bits),)), method="bitfusion")
        .totals.compute_cycles for bits in (8, 4, 2)}
    for bits, paper in ((4, 4), (2, 16)):
        ratio = compute[8] / compute[bits]
        lines.append(f"| bitfusion: throughput at {bits} bits against 8 | {paper}x | "
                     f"tpu_like_bitfusion, a 512-channel 3x3 layer at 7x7 | {ratio:.2f}x "
                     f"compute cycles | {_verdict(ratio, paper)} |")
    macs = load_network("ghostnet").macs
    lines.append(f"| ghostnet (the preset): GhostNet 1.0x MACs | 141 M | ghostnet | "
                 f"{macs / 1e6:.1f} M | {_verdict(macs, 141e6, 0.01)} |")
    macs = load_network("g_ghost_regnetx_032").macs
    lines.append(f"| g_ghost_regnetx_032 (the preset): G-Ghost RegNetX-3.2GF MACs | 1.8 G | "
                 f"g_ghost_regnetx_032 | {macs / 1e9:.3f} G | {_verdict(macs, 1.8e9, 0.01)} |")
    return lines


def _binary_weights_claim(runs, base: str, net: str, method: str, layers) -> str:
    """XNOR-Net's (and BWN's) 32x smaller weights than fp32, on the binarized layers."""
    records = runs[base, net, method, "analytical"].layers
    binarized = [(l, r) for l, r in zip(layers, records) if not keeps_full_precision(l)]
    fp32 = sum(32 * l.K * (l.C // l.groups) * l.R * l.S for l, _ in binarized)
    stored = sum(r.stats.weight_storage_bits for _, r in binarized)
    return (f"| {method}: weights smaller than fp32 (binarized layers) | 32x | {base}, {net} | "
            f"{fp32 / stored:.2f}x (signs exactly 32x; a 16-bit α per filter) | "
            f"{_verdict(fp32 / stored, 32, 0.02)} |")


def _verdict(ours: float, paper: float, tolerance: float = 0.05) -> str:
    """'yes' within `tolerance` of the paper's figure, else the ratio."""
    return "yes" if abs(ours / paper - 1) <= tolerance else f"no (ours / paper = {ours / paper:.2f})"


# (b) Winograd quantization error ---------------------------------------------------------------
def _sample(kind: str, rng, shape) -> np.ndarray:
    if kind == "uniform":
        return rng.integers(-128, 128, shape)
    return np.clip(np.round(rng.laplace(0.0, 10.0, shape)), -128, 127).astype(np.int64)


def _weights(kind: str, rng, shape) -> np.ndarray:
    w = rng.normal(size=shape) if kind == "uniform" else rng.laplace(size=shape)
    return np.clip(np.round(w / np.abs(w).max() * 127), -127, 127).astype(np.int64)


def winograd_errors(seeds=(0, 1, 2)) -> list[str]:
    """Relative RMS error and SQNR of the int8 Winograd pipeline against the exact convolution;
    scales calibrated on a batch of 2 images, error on another batch of 2 (C = K = 64, 16x16)."""
    lines = ["| data | variant | scales | rel. RMS error (median of 3) | SQNR dB | transformed inputs "
             "clipped by calibration |", "|---|---|---|---|---|---|"]
    for kind in ("uniform", "laplacian"):
        for v in (winograd_ref.F4, winograd_ref.F2):
            for tapwise in (True, False):
                errors, clipped = [], []
                for seed in seeds:
                    rng = np.random.default_rng(seed)
                    calib, x = _sample(kind, rng, (2, 64, 16, 16)), _sample(kind, rng, (2, 64, 16, 16))
                    w = _weights(kind, rng, (64, 64, 3, 3))
                    qw = winograd_ref.quantize_weights(w, v, tapwise)
                    shifts = winograd_ref.calibrate_input(calib, 1, v, tapwise)
                    out = winograd_ref.conv_quant(x, qw, shifts, 1, v)
                    exact = conv_ref.conv2d_int(x, w, 1, 1)
                    errors.append(np.linalg.norm(out.y * 2.0 ** out.exp - exact) / np.linalg.norm(exact))
                    vt = winograd_ref.input_transform_float(
                        winograd_ref.pad_input(x, 1, 16, 16, v.m), v, 16, 16)
                    clipped.append(np.mean(np.abs(vt / 2.0 ** shifts) > 127.5))
                err = statistics.median(errors)
                lines.append(f"| {kind} | {v.name} | {'tap-wise' if tapwise else 'per-tensor'} | "
                             f"{err:.4f} | {-20 * np.log10(err):.1f} | "
                             f"{100 * statistics.median(clipped):.3f}% |")
    return lines


def smartdeal_decompositions() -> list[str]:
    """The decomposition on ResNet-18 layer shapes with synthetic (He-normal, untrained) weights,
    with and without structured channel pruning."""
    lines = ["| layer shape K x C x R x S | pruned channels | rel. error ‖w − Ce·B‖/‖w‖ | "
             "Ce nonzeros | stored bits per weight | iterations |", "|---|---|---|---|---|---|"]
    for shape in ((64, 64, 3, 3), (256, 256, 3, 3), (128, 64, 1, 1)):
        w = np.random.default_rng(0).normal(0, np.sqrt(2 / np.prod(shape[1:])), shape)
        for prune in (0.0, 0.25, 0.5):
            d = smartdeal_ref.decompose(w, prune=prune)
            lines.append(f"| {' x '.join(map(str, shape))} | {prune:.0%} | {d.rel_error:.3f} | "
                         f"{d.nnz / d.sign.size:.1%} of {d.sign.size} | "
                         f"{d.storage_bits() / w.size:.2f} | {d.iterations} |")
    return lines


# (c) throughput -------------------------------------------------------------------------------
def im2col(x, R, S, stride, padding) -> np.ndarray:
    """x[N, C, H, W] -> [N·P·Q, C·R·S] int32 patches (the numpy yardstick's operand)."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = np.lib.stride_tricks.sliding_window_view(x, (R, S), axis=(2, 3))[:, :, ::stride, ::stride]
    N, C, P, Q = win.shape[:4]
    return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(N * P * Q, C * R * S).astype(np.int32)


def numpy_conv(x, w, stride=1, padding=1, groups=1) -> np.ndarray:
    """im2col + int32 matmul, per group."""
    N, C, H, W = x.shape
    K, Cg, R, S = w.shape
    Kg, outs = K // groups, []
    for g in range(groups):
        cols = im2col(x[:, g * Cg:(g + 1) * Cg], R, S, stride, padding)
        outs.append(cols @ w[g * Kg:(g + 1) * Kg].reshape(Kg, -1).T.astype(np.int32))
    P = (H + 2 * padding - R) // stride + 1
    y = np.concatenate(outs, axis=1)
    return y.reshape(N, P, -1, K).transpose(0, 3, 1, 2)


def _to_int8(w_int) -> np.ndarray:
    """Rebuilt SmartDeal weights (up to 17 bits) shifted into int8 for the int8 array."""
    return w_int >> max(0, int(np.abs(w_int).max()).bit_length() - 7)


def throughput_cases(rng):
    """(name, numba reference, numpy yardstick, exact?, MACs or None for the layer's) on
    ResNet-18's layer3 3x3 conv (and a depthwise 3x3 conv of its shape)."""
    C = K = 256
    x = rng.integers(-128, 128, (1, C, 14, 14))
    w = rng.integers(-127, 128, (K, C, 3, 3))
    wd = rng.integers(-127, 128, (C, 1, 3, 3))
    cases = [("direct conv int8", lambda: conv_ref.conv2d_int(x, w, 1, 1),
              lambda: numpy_conv(x, w), True),
             ("depthwise 3x3 int8 (256 groups)", lambda: conv_ref.conv2d_int(x, wd, 1, 1, C),
              lambda: numpy_conv(x, wd, groups=C), True, C * 9 * 14 * 14)]
    for v in (winograd_ref.F4, winograd_ref.F2):
        qw = winograd_ref.quantize_weights(w, v, True)
        shifts = winograd_ref.calibrate_input(x, 1, v, True)
        cases.append((f"Winograd {v.name} tap-wise int8",
                      lambda v=v, qw=qw, s=shifts: winograd_ref.conv_quant(x, qw, s, 1, v).y,
                      lambda: numpy_conv(x, w), False))
    cases.append(("XNOR popcount (packing included)",
                  lambda: xnor_ref.xnor_dot(xnor_ref.pack_signs(x), xnor_ref.pack_signs(w), C, 1, 1),
                  lambda: numpy_conv(xnor_ref.signs(x), xnor_ref.signs(w)), True))
    d = smartdeal_ref.decompose(rng.normal(0, 0.05, (K, C, 3, 3)))
    ce_int = d.sign * (1 << (d.exp - smartdeal_ref.P_MIN))

    def sd_numba():
        rebuilt = smartdeal_ref.unblock(smartdeal_ref.rebuild(d), (K, C, 3, 3))
        return conv_ref.conv2d_int(x, _to_int8(rebuilt), 1, 1)

    def sd_numpy():
        rebuilt = smartdeal_ref.unblock(np.einsum("kri,kij->krj", ce_int, d.b_q), (K, C, 3, 3))
        return numpy_conv(x, _to_int8(rebuilt))
    cases.append(("SmartDeal rebuild + int8 conv", sd_numba, sd_numpy, True))
    qa, qw2 = rng.integers(0, 4, (1, 2 * C, 14, 14)), rng.integers(0, 4, (2 * K, C, 3, 3))
    ones = np.ones((2, C, 3, 3), np.int64)
    cases.append(("PalQuant G=2, 2-bit",
                  lambda: palquant_ref.palquant_conv(qa, qw2, 2, 1, 1),
                  lambda: 2 * numpy_conv(qa, qw2, groups=2)
                  - 3 * np.repeat(numpy_conv(qa, ones, groups=2), K, axis=1), True))
    a4, w4 = rng.integers(0, 16, (1, C, 14, 14)), rng.integers(0, 16, (K, C, 3, 3))
    cases.append(("4-bit as 4 bit-sliced 2-bit passes",
                  lambda: palquant_ref.bitsliced_conv(a4, w4, 4, 1, 1),
                  lambda: numpy_conv(a4, w4), True))
    return cases, K * C * 9 * 14 * 14


def throughput(repeats: int) -> list[str]:
    cases, macs = throughput_cases(np.random.default_rng(0))
    lines = [f"Layer: ResNet-18 layer3 3x3 conv, C = K = 256, 14x14 outputs, padding 1 "
             f"({macs / 1e6:.1f} M MACs; PalQuant G=2 runs twice that on 2-bit codes; the "
             f"depthwise row is one 3x3 filter per channel of it, 0.45 M MACs). Medians of "
             f"{repeats} interleaved runs after a warm-up call (numba compile excluded).", "",
             "| reference | numba ms | numpy im2col+int32 ms | numba / numpy speed | "
             "layer GMAC/s numba | same output |", "|---|---|---|---|---|---|"]
    for name, ref, yard, exact, *own_macs in cases:
        case_macs = own_macs[0] if own_macs else macs
        a, b = ref(), yard()
        same = bool(np.array_equal(a, b)) if exact else "n/a (quantized vs exact)"
        t_ref, t_np = [], []
        for _ in range(repeats):
            for fn, acc in ((ref, t_ref), (yard, t_np)):
                start = time.perf_counter()
                fn()
                acc.append(time.perf_counter() - start)
        r, n = statistics.median(t_ref), statistics.median(t_np)
        lines.append(f"| {name} | {1e3 * r:.1f} | {1e3 * n:.1f} | {n / r:.2f}x | "
                     f"{case_macs / r / 1e9:.2f} | {same} |")
    return lines


# ---------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-networks", action="store_true", help="only (b) and (c)")
    args = parser.parse_args()
    started = time.perf_counter()
    lines = ["# Methods: Winograd, XNOR, SmartDeal and PalQuant (bench/bench_methods.py)", "",
             f"Machine: {platform.processor() or platform.machine()}, Python "
             f"{platform.python_version()}, numpy {np.__version__}. Written by "
             "`.venv/bin/python bench/bench_methods.py`; every figure below is computed by that "
             "run, none is typed in.", ""]
    if not args.skip_networks:
        runs = run_networks(("analytical", "cycle"))
        lines += ["## (a) Networks: each method against the arch's plain integer baseline", "",
                  "`baseline` is the arch's native width: int8 on tpu_like, 16 bit on "
                  "eyeriss_like. Dataflow: the arch's first (ws on tpu_like, rs on "
                  "eyeriss_like); mapper objective energy; batch 1. `weights MB` is "
                  "weight_storage_bits / 8 (codes, indices, scales and bases included). Equal to "
                  "`dlaforge simulate --arch <arch> --network <net> --method <method> "
                  "[--model cycle]`.", "",
                  "Two machines are compared here, not one: the baseline's ops on ws, os and is "
                  "are priced as the generated controller runs them (hw/controller/: the "
                  "mapper's program, int8 outputs requantized on chip, buffer words of `rows` "
                  "channels, its fold lengths), and so are AdderNet's, BWN's and PalQuant's "
                  "(the controller with their datapaths: adder or sign-add PEs with a MAC mode "
                  "for the int8 layers, BWN's weights packed a bit each; PalQuant's code-MAC "
                  "PEs on 2-bit lanes, its weight and activation codes packed four to a byte, "
                  "its int8 layers "
                  "as 16 slice passes) and XNOR's and DIR-Net's (XNOR-popcount PEs on 64-bit "
                  "sign words, the load binarizing int8 activations, K_q formed on chip; the "
                  "int8 first conv and FC in the PEs' MAC mode, one int8 per 64-bit buffer "
                  "lane: on tpu_like_xnor's 32 rows a buffer word is 2,048 bits, so ResNet-18's "
                  "conv1 (3 channels) costs 3.1 mJ of SRAM reads and a binarized layer of at "
                  "most 512 channels fills at most 8 of the 32 rows) and SmartDeal's (the "
                  "MAC array at 17-bit weight lanes, its weights loaded as code regions per "
                  "block of filters and group of channels and rebuilt on the load, once per "
                  "load of a weight tile), while the ops of Winograd are priced on the "
                  "generic tiled array of the analytical model, a machine dlaforge does not "
                  "generate (its units are not on the controller yet: issue 14). So on a "
                  "ws/os/is arch Winograd's `/ base` ratios mix the two machines, whichever is "
                  "cheaper on the network; "
                  "eyeriss_like (rs) runs no op on the controller, so there both sides are the "
                  "generic array.", "",
                  "### Analytical model", "",
                  *network_table(runs, "analytical"), "", "### Cycle model (tiled event model)",
                  "", *network_table(runs, "cycle"), "",
                  "### The papers' analytically derivable claims", "", *claims(runs),
                  *second_wave_claims(runs), "",
                  "Method archs: tpu_like uses the `tpu_like_<method>` presets; the eyeriss_like "
                  "variants are these files (bench/_work/methods/):", ""]
        for suffix in sorted(set(METHODS.values()) - {""}):
            lines += ["```yaml", yaml.safe_dump(eyeriss_variant(suffix), sort_keys=False).strip(),
                      "```"]
        lines.append("")
    lines += ["## (b) Winograd quantization error: tap-wise vs per-tensor scales", "",
              "int8 inputs and weights, C = K = 64, 16x16, padding 1; power-of-two scales per "
              "Winograd tap (tap-wise) or one for all 36 (16) taps (per-tensor), inputs "
              "calibrated on a separate batch; error of the integer pipeline's output against "
              "the exact integer convolution. `uniform`: inputs uniform in [-128, 127], weights "
              "normal; `laplacian`: inputs Laplace(0, 10) rounded and clipped, weights Laplace; "
              "weights scaled to ±127.", "", *winograd_errors(), "",
              "## SmartDeal decomposition: reconstruction error and storage", "",
              "Synthetic normal weights (no training, so Ce is far denser than after "
              "SmartDeal's training); 4-bit codes (sign + 3-bit exponent) per nonzero, a bitmap "
              "bit per Ce entry, 8-bit B and its exponent per filter; int8 would be 8 bits per "
              "weight. Pruned channels are removed before decomposing and count as error.", "",
              *smartdeal_decompositions(), "",
              "## (c) Throughput of the numba references", "", *throughput(args.repeats), "",
              f"Total run time {time.perf_counter() - started:.0f} s."]
    RESULTS.write_text("\n".join(lines) + "\n")
    print(RESULTS)


if __name__ == "__main__":
    main()
