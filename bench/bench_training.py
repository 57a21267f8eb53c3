"""Training of the baseline (issue 19, items 1-2), written to bench/RESULTS_training.md:
ResNet-18 and MobileNetV2 on edge_tiny and tpu_like, one training iteration against one
inference: energy by phase (forward, loss, dX, dW, update), cycles, PE operations, DRAM bytes
and peak memory, with SGD (momentum) and Adam, at batch 1 and 8 (analytical model), and the
cycle model beside the analytical one at batch 1; then the seeds' training methods (gradient
filtering, sparse update, MobileTL, COMET; issue 19 item 3) against the baseline, beside the
seeds' own figures (`methods_section`), and SmartDeal's training mode (decomposed weights)
against the baseline's training beside the seed's 10.56x storage (`smartdeal_section`).

    .venv/bin/python bench/bench_training.py
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.workloads.layer import vector
from dlaforge.workloads.methods.mobiletl import inverted_residual_blocks
from dlaforge.workloads.networks import Network, load_network
from dlaforge.workloads.training import Training, weight_elements
from dlaforge.workloads.training_memory import kept_bytes

OUT = Path(__file__).parent / "RESULTS_training.md"
PHASES = ("forward", "loss", "dX", "dW", "update")


def by_phase(record) -> dict:
    out = dict.fromkeys(PHASES, 0.0)
    for layer in record.layers:
        for op in layer.mapping["ops"]:
            out[op["phase"]] += op["energy_pj"]
    return out


def mb(n: int) -> str:
    return f"{n / 1e6:,.1f}"


def main() -> None:
    rows, check = [], []
    start = time.perf_counter()
    for net in ("resnet18", "mobilenet_v2"):
        for arch in ("edge_tiny", "tpu_like"):
            for batch in (1, 8):
                infer = dlaforge.simulate(arch, net, batch=batch)
                for opt in ("sgd", "adam"):
                    train = dlaforge.simulate(arch, net, batch=batch, phase="train",
                                              optimizer=opt)
                    t, i, e = train.totals, infer.totals, by_phase(train)
                    rows.append(
                        f"| {net} | {arch} | {batch} | {opt} | {i.energy_pj / 1e6:,.0f} | "
                        f"{t.energy_pj / 1e6:,.0f} | "
                        + " / ".join(f"{e[p] / 1e6:,.0f}" for p in PHASES)
                        + f" | {t.energy_pj / i.energy_pj:.2f} | {i.cycles / 1e6:,.2f} | "
                        f"{t.cycles / 1e6:,.2f} | {t.macs / 1e9:.3f} | {t.pe_ops / 1e9:.3f} | "
                        f"{(t.dram_read_bytes + t.dram_write_bytes) / 1e6:,.1f} | "
                        f"{mb(infer.peak_memory_bytes)} | {mb(train.peak_memory_bytes)} |")
            train_a = dlaforge.simulate(arch, net, phase="train")
            train_c = dlaforge.simulate(arch, net, phase="train", model="cycle")
            check.append(f"| {net} | {arch} | {train_a.totals.cycles:,} | "
                         f"{train_c.totals.cycles:,} | "
                         f"{train_c.totals.cycles / train_a.totals.cycles - 1:+.3%} | "
                         f"{train_a.totals.energy_pj / 1e6:,.1f} | "
                         f"{train_c.totals.energy_pj / 1e6:,.1f} |")
    methods = methods_section() + smartdeal_section()
    elapsed = time.perf_counter() - start
    text = f"""# Training: one iteration, the baseline (issue 19, items 1-2) and the training methods

`bench/bench_training.py`, dlaforge {dlaforge.__version__}, Python {platform.python_version()},
{elapsed:.0f} s. The ws dataflow, the mapper's `energy` objective. A training iteration is,
per layer, the forward, dX (none for the first conv), dW and the optimizer's update, and the
loss with the last layer (workloads/training.py): gradients at 16 bits (two 8-bit slices on
these int8 arrays, so the backward's PE operations are twice its nominal MACs), optimizer
state at 32 bits, read and written from DRAM by the update on the vector unit. Energy is
dynamic (uJ); peak memory in MB (10^6 bytes; workloads/training_memory.py: inference holds the
weights and one layer's input and output, training the weights, gradients, optimizer state
and every activation kept for the backward).

| network | arch | batch | optimizer | infer uJ | train uJ | forward / loss / dX / dW / update uJ | train / infer | infer Mcycles | train Mcycles | train GMAC (nominal) | train G PE ops | train DRAM MB | peak infer MB | peak train MB |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

The update's cost is per iteration, not per image: at batch 8 the backward dominates, at
batch 1 the update is 10% (MobileNetV2, tpu_like, SGD) to 51% (ResNet-18, tpu_like, Adam) of
the energy, nearly all of it DRAM traffic (8-bit weights, 16-bit gradients, one or two 32-bit
state copies read, weights and state written). MobileNetV2's forward on tpu_like is already
costly at inference (its 17 depthwise layers keep about one PE of the 32x32 array busy,
utilization under 0.1%, and take 94% of its energy), so its train/infer ratio is low. Training memory is 5-7x inference's for ResNet-18 with SGD (the
gradients and momentum of 11.7 M weights), 8-10x with Adam; the Tiny Training Engine trains
within 256 KB by updating few layers at int8 with its sparse update, the kind of method
item 3 adds.

## Cycle model beside the analytical model (batch 1, SGD)

| network | arch | analytical cycles | cycle-model cycles | difference | analytical uJ | cycle-model uJ |
|---|---|---|---|---|---|---|
{chr(10).join(check)}

{methods}"""
    OUT.write_text(text)
    print(text)


TRAINING_METHODS = ("gradient_filter", "sparse_update", "mobiletl", "comet")


def unfused(network: Network) -> Network:
    """MobileNetV2 with its normalizations and ReLU6 as layers: a batchnorm after every conv,
    a clip (ReLU6) after every conv but the blocks' projections and the classifier."""
    layers = []
    for layer in network.layers:
        layers.append(layer)
        if layer.kind == "linear":
            continue
        stem = layer.name.rsplit(".", 1)[0] + "." if "." in layer.name else layer.name + "_"
        shape = dict(C=layer.K, H=layer.P, W=layer.Q, N=layer.N)
        layers.append(vector(f"{stem}bn{len(layers)}", "batchnorm", **shape))
        if not layer.name.endswith(".project"):
            layers.append(vector(f"{stem}relu{len(layers)}", "clip", **shape))
    return Network(name=f"{network.name}_unfused", layers=tuple(layers))


def kept_mb(network: Network, arch: str, method: str, start: int = 0) -> float:
    training = Training(method=method)
    return sum(kept_bytes(network.layers, load_arch(arch), training)[start:]) / 1e6


def backward_pe_ops(record) -> int:
    return sum(op["pe_ops"] for layer in record.layers for op in layer.mapping["ops"]
               if op["phase"] in ("dX", "dW"))


def methods_section() -> str:
    """The training methods against the baseline (batch 1, SGD, analytical), and MobileTL on
    the unfused MobileNetV2."""
    rows, found = [], {}
    for net in ("resnet18", "mobilenet_v2"):
        network = load_network(net, 1)
        for arch in ("edge_tiny", "tpu_like"):
            base = dlaforge.simulate(arch, net, phase="train")
            base_kept = kept_mb(network, arch, "baseline")
            for method in ("baseline",) + TRAINING_METHODS:
                try:
                    run = base if method == "baseline" else dlaforge.simulate(
                        arch, net, phase="train", method=method)
                except dlaforge.SpecError as exc:
                    rows.append(f"| {net} | {arch} | {method} | refused: {exc} |" + " |" * 9)
                    continue
                t, kept = run.totals, kept_mb(network, arch, method)
                found[net, arch, method] = (base.totals.cycles / t.cycles,
                                            backward_pe_ops(base) / backward_pe_ops(run),
                                            1 - kept / base_kept)
                rows.append(
                    f"| {net} | {arch} | {method} | {t.energy_pj / 1e6:,.0f} | "
                    f"{t.cycles / 1e6:,.2f} | {base.totals.cycles / t.cycles:.2f}x | "
                    f"{t.pe_ops / 1e9:.3f} | {backward_pe_ops(run) / 1e9:.3f} | "
                    f"{(t.dram_read_bytes + t.dram_write_bytes) / 1e6:,.1f} | {kept:.2f} | "
                    f"{1 - kept / base_kept:.1%} | {mb(run.peak_memory_bytes)} | "
                    f"{1 - run.peak_memory_bytes / base.peak_memory_bytes:.1%} |")
    mobiletl = []
    for network in (load_network("mobilenet_v2", 1), unfused(load_network("mobilenet_v2", 1))):
        first = inverted_residual_blocks(network.layers)[-5]
        last = max(i for i, layer in enumerate(network.layers) if layer.name.startswith("block"))
        plain = sum(kept_bytes(network.layers, load_arch("edge_tiny"),
                               Training())[first:last + 1]) / 1e6
        tl = sum(kept_bytes(network.layers, load_arch("edge_tiny"),
                            Training(method="mobiletl"))[first:last + 1]) / 1e6
        mobiletl.append(f"| {network.name} | {plain:.3f} | {tl:.3f} | {1 - tl / plain:.1%} |")
    sparse = dlaforge.simulate("edge_tiny", "mobilenet_v2", phase="train",
                               method="sparse_update")
    sparse_training = Training(method="sparse_update")
    layers = load_network("mobilenet_v2", 1).layers
    parts = dict(zip((layer.name for layer in layers),
                     sparse_training.hooks.trained_parts(layers)))
    frozen = sum(layer.stats.weight_storage_bits for layer in sparse.layers
                 if parts[layer.name] is None) // 8
    trained = sum(weight_elements(part) for part in parts.values() if part is not None)
    gradients_state = trained * (sparse_training.grad_bits + sparse_training.state_bits) // 8
    lines = []
    for net in ("resnet18", "mobilenet_v2"):
        (edge, fewer, kept), tpu = (found[net, arch, "gradient_filter"]
                                    for arch in ("edge_tiny", "tpu_like"))
        lines.append(f"  - {net}: the backward's PE operations {fewer:.0f}x fewer, the "
                     f"iteration {edge:.2f}x (edge_tiny) / {tpu[0]:.2f}x (tpu_like) faster, "
                     f"the kept activations {kept:.1%} smaller")
    filtering = "\n".join(lines)
    return f"""## The seeds' training methods (issue 19, item 3)

Batch 1, SGD with momentum, the analytical model, ws. Each method's forward is the baseline's;
what it changes is the backward and what is kept for it (workloads/methods/<method>/, the hooks
of workloads/training_methods.py), at its defaults: gradient_filter r = 4; sparse_update the
last 4 layers with weights, int8 gradients; mobiletl the top 5 inverted-residual blocks
(ResNet-18 has none and is fine-tuned whole: as the baseline, its activations and
normalizations being fused into the convs); comet a compression ratio of 8. "kept" is the activations kept
from the forward for the backward (MB), "peak" the iteration's peak memory (MB, weights,
gradients and optimizer state included); savings and speed-up are against the baseline's
training on the same arch.

| network | arch | method | train uJ | Mcycles | speed-up | G PE ops | backward G PE ops | DRAM MB | kept MB | kept saving | peak MB | peak saving |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Beside the seeds' figures:

- **Gradient filtering** (up to 19x speed-up and 77.1% memory saving on ImageNet, the
  seed):
{filtering}

  The paper's figures are for the layers it filters, usually the last
  few, against training them unfiltered, on CPUs and GPUs; here every conv with a map of at
  least 4x4 is filtered. MobileNetV2's backward gains less than ResNet-18's: most of its
  convs are 1x1, where filtering saves only the map's r² (no R x S taps to sum), and the pooled
  X (8 + 4 bits) takes two slices on the int8 arrays. The whole iteration gains less than the
  backward's products: the
  forward, the update and the full-size dY and dX still move through DRAM, and the peak moves
  little because the gradients and momentum of every weight stay resident.
- **MobileTL** (46% less memory in MobileNetV2's inverted-residual blocks): the activations the
  top 5 blocks keep, fine-tuned plainly or with MobileTL, on the preset (normalization and
  ReLU6 fused into the convs) and on the same network with them as layers (`unfused`):

| network | top-5 blocks kept, plain (MB) | with MobileTL (MB) | saving |
|---|---|---|---|
{chr(10).join(mobiletl)}

  On the fused preset the blocks keep only the convolutions' inputs, which MobileTL keeps too;
  unfused, the 1-bit masks and the shift-only normalizations give the saving to compare with
  the paper's 46%.
- **Sparse update / Tiny Training Engine** (training within 256 KB of SRAM): MobileNetV2 on
  edge_tiny, the last 4 layers updated at int8, peaks at {mb(sparse.peak_memory_bytes)} MB:
  the frozen weights ({frozen / 1e6:.2f} MB, which the Tiny Training Engine reads from flash),
  the int8 gradients and 32-bit momentum of the {trained / 1e6:.2f} M weights updated
  ({gradients_state / 1e6:.2f} MB; those of the 1280 x 1000 classifier most of it) and the
  updated weights and activations. Without the frozen weights that is still
  {mb(sparse.peak_memory_bytes - frozen)} MB, far above 256 KB: the paper updates a few
  layers' biases and weight slices of MCUNet-sized models at 128 x 128, with SGD without
  momentum and gradients freed as soon as they are applied, which a policy file
  (`--train-policy`, `layers: {{name: fraction}}`) and `--optimizer` approach only in part.
- **COMET** (13.5x less training memory than the baseline): the kept activations shrink by the
  given ratio (8); the peak less, since weights, gradients and state are not compressed. DRAM
  traffic drops where the backward's re-reads of the kept inputs outweigh the compressed
  copies written; the compressor's operations run on the vector unit.
"""


def storage_bytes(record) -> int:
    """What a training run stores besides activations: weights (and biases), their gradients
    and the optimizer state (the resident parts of its memory steps)."""
    step = record.layers[0].memory_steps["forward"]
    return step["weights"] + step["gradients_state"]


def smartdeal_storage_at(layers, arch, density: float, training: Training) -> float:
    """Bytes of SmartDeal's training storage if Ce kept `density` of its entries nonzero
    (the measured runs use the synthetic decomposition's), biases as the runs count them."""
    from dlaforge.workloads.methods.smartdeal.reference import (B_BITS, B_EXP_BITS, CODE_BITS,
                                                                entries_per_filter)
    g, state = training.grad_bits, training.state_copies * training.state_bits
    bits = 0.0
    for layer in layers:
        if layer.kind in ("vector", "matmul"):
            continue
        entries = entries_per_filter(layer.C // layer.groups, layer.R, layer.S) * layer.K
        nnz = density * weight_elements(layer)
        bits += (nnz * CODE_BITS + entries + layer.K * (9 * B_BITS + B_EXP_BITS)
                 + (nnz + 9 * layer.K) * (g + state)
                 + layer.K * (arch.pe_array.psum_bits + g + state))          # biases
    return bits / 8


def smartdeal_section() -> str:
    """SmartDeal's training mode against the baseline's training on the SmartDeal presets
    (batch 1, SGD, analytical)."""
    from dlaforge.workloads.methods.smartdeal.training import decomposed
    rows, what_if = [], []
    for net in ("resnet18", "mobilenet_v2"):
        layers = load_network(net, 1).layers
        weighted = [layer for layer in layers if layer.kind not in ("vector", "matmul")]
        density = sum(decomposed(layer)["nnz"] for layer in weighted) \
            / sum(weight_elements(layer) for layer in weighted)
        for arch in ("edge_tiny_smartdeal", "tpu_like_smartdeal"):
            base = dlaforge.simulate(arch, net, phase="train")
            runs = {"baseline": base,
                    "smartdeal": dlaforge.simulate(arch, net, phase="train",
                                                   method="smartdeal")}
            for method, run in runs.items():
                t, e = run.totals, by_phase(run)
                rows.append(
                    f"| {net} | {arch} | {method} | {t.energy_pj / 1e6:,.0f} | "
                    + " / ".join(f"{e[p] / 1e6:,.0f}" for p in PHASES)
                    + f" | {base.totals.energy_pj / t.energy_pj:.2f}x | {t.cycles / 1e6:,.2f} | "
                    f"{(t.dram_read_bytes + t.dram_write_bytes) / 1e6:,.1f} | "
                    f"{mb(run.peak_memory_bytes)} | {mb(storage_bytes(run))} | "
                    f"{storage_bytes(base) / storage_bytes(run):.2f}x |")
        spec, training = load_arch("tpu_like_smartdeal"), Training()
        base_storage = storage_bytes(dlaforge.simulate("tpu_like_smartdeal", net, phase="train"))
        fp32 = sum(weight_elements(l) + l.K for l in weighted) * (32 + 32 + 32) / 8
        for rho in (density, 0.5, 0.2, 0.1, 0.05):
            sd = smartdeal_storage_at(layers, spec, rho, training)
            what_if.append(f"| {net} | {rho:.1%}{' (measured)' if rho == density else ''} | "
                           f"{sd / 1e6:.2f} | {base_storage / sd:.2f}x | {fp32 / sd:.2f}x |")
    return f"""
## SmartDeal's training mode (decomposed weights; the seed: 10.56x storage, 4.48x energy)

Batch 1, SGD with momentum, the analytical model, ws, on the SmartDeal presets (the arrays
with the rebuild unit), `--method smartdeal --phase train` against the baseline's training on
the same arch (workloads/methods/smartdeal/training.py): the forward and dX rebuild W = Ce·B
from the codes, the dense dW is reduced to dB and Ce's masked gradient on the vector unit,
and the update, gradients and momentum are those of B and Ce's nonzeros only. "storage" is
what the iteration keeps besides activations: weights (and biases), gradients and optimizer
state (MB).

| network | arch | method | train uJ | forward / loss / dX / dW / update uJ | energy saving | Mcycles | DRAM MB | peak MB | storage MB | storage saving |
|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

The measured Ce comes from decomposing untrained (normal) weights: nearly every entry stays
nonzero, so the decomposed form saves only the weights' width (4-bit codes and a bitmap bit
against 8 bits) while each nonzero still carries a 16-bit gradient and a 32-bit momentum;
its backward costs more than the baseline's (dX rebuilds W, and dB and dCe re-read the dense
dW that the array wrote), its forward and update a little less (the codes move instead of int8
weights), so ResNet-18's iteration costs more. MobileNetV2 on tpu_like_smartdeal is the
exception: its forward is the inference's, and SmartDeal's inference on that arch already
prices the depthwise layers far below the baseline's (the mapper picks another tiling once
the weights move as codes: compare `dlaforge simulate --arch tpu_like_smartdeal --network
mobilenet_v2` with and without `--method smartdeal`), which no training change causes. The
storage SmartDeal's training keeps falls with Ce's density, which
its training drives down (the seed's sparse, power-of-two Ce); the same formula as the runs
(tpu_like_smartdeal's 32-bit biases, 16-bit gradients, SGD) at other densities, against this
baseline (int8 weights) and against an fp32 training (32-bit weights, gradients and momentum,
biases included):

| network | Ce density | SmartDeal storage MB | vs int8 baseline | vs fp32 training |
|---|---|---|---|---|
{chr(10).join(what_if)}

The seed's 10.56x is against its own training baselines, whose widths the abstract does not
give: the formula reaches it on ResNet-18 at a Ce density between 10% and 5% against the int8
baseline and between 20% and 10% against an fp32 training. The floor is a bitmap bit per
weight, and every Ce nonzero keeps 48 bits of gradient and state.
"""


if __name__ == "__main__":
    main()
