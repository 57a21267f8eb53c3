"""MobileTL (`mobiletl`; Chiang et al., "MobileTL: On-device Transfer Learning with Inverted
Residual Blocks", AAAI 2023, the seed abstract: 46% (MobileNetV2) and 53% (MobileNetV3) less
memory in the inverted-residual blocks, 36% fewer FLOPs fine-tuning 5 blocks of MobileNetV3).

The forward is the baseline's (under `--phase infer` it runs as the baseline). Under
`--phase train`:

- only the top k inverted-residual blocks (`--train-blocks k`, 5 by default) and the layers
  after them are fine-tuned: their weights get gradients; nothing below the first of them
  computes a gradient or keeps an input, so the memory and backward work of the rest disappear.
  A block is the layers whose names share their prefix up to the first dotted part ending in
  a digit (`block7.expand`, `block7.dw` -> block7; `blocks.3.ghost1.primary` -> blocks.3);
  it is inverted-residual when it holds a depthwise conv. A network with fewer than k such
  blocks, or none (ResNet-18), is refused (a report of every method lists it as not run);
- an activation layer (relu, clip as ReLU6) keeps a binary mask, 1 bit per element, instead
  of its input: its backward reads the mask with dY (exact for ReLU and ReLU6; MobileTL's
  signed approximation of Hard-Swish is the same cost);
- a batchnorm layer trains only its shift, whose gradient needs no saved input: it keeps
  nothing, and its dX (the frozen scale times dY) reads none.

Networks whose activations and normalizations are fused into the convolutions (the
mobilenet_v2 preset) keep only the convolutions' inputs, which MobileTL keeps too: there the
saving is the top-k fine-tuning alone; with explicit activation and batchnorm layers (an
ONNX import, or bench/bench_training.py's unfused MobileNetV2) the masks and the shift-only
normalizations are counted as well.

Left out: the accuracy, the normalizations' statistics (frozen, as the paper's fine-tuning
keeps them), and the classifier's own choices (the layers after the top block are trained).
"""

from __future__ import annotations

from dlaforge.workloads.training import has_weights, plain_backward
from dlaforge.workloads.training_memory import input_elements
from dlaforge.workloads.method_options import MethodOption
from dlaforge.errors import SpecError
from dlaforge.workloads.training_methods import TrainingMethod, positive_option

from .. import Method, baseline

MASKED = ("relu", "clip")       # activations whose derivative a 1-bit mask gives
SHIFT_ONLY = ("batchnorm",)     # normalizations trained in their shift only


def block_of(name: str) -> str | None:
    """The block a layer's name puts it in: its name up to the first dotted part that ends in
    a digit (`block3.expand` -> block3, `blocks.1.ghost1.primary` -> blocks.1); None for a
    layer outside the numbered blocks (the stem, the head)."""
    parts = name.split(".")
    for i, part in enumerate(parts[:-1]):
        if part[-1:].isdigit():
            return ".".join(parts[:i + 1])
    return None


def inverted_residual_blocks(layers) -> list[int]:
    """The index of the first layer of each inverted-residual block (module doc), in order."""
    blocks: dict[str, list[int]] = {}
    for i, layer in enumerate(layers):
        block = block_of(layer.name)
        if block is not None:
            blocks.setdefault(block, []).append(i)
    return [members[0] for members in blocks.values()
            if any(layers[i].kind == "depthwise" for i in members)]


OPTIONS = (MethodOption("train_blocks", 5, int,
                        "fine-tune the top K inverted-residual blocks", "K"),)


class MobileTL(TrainingMethod):
    """The training hooks of MobileTL (module doc)."""

    def check(self) -> None:
        positive_option(self.options, "train_blocks")

    def trained_parts(self, layers) -> list:
        blocks = inverted_residual_blocks(layers)
        k = self.options["train_blocks"]
        if not blocks:
            raise SpecError("mobiletl fine-tunes inverted-residual blocks (numbered blocks "
                            "with a depthwise conv, e.g. mobilenet_v2's block3.*); this "
                            "network has none")
        if k > len(blocks):
            raise SpecError(f"--train-blocks {k}: the network has {len(blocks)} "
                            f"inverted-residual blocks")
        first = blocks[-k]
        return [layer if has_weights(layer) and i >= first else None
                for i, layer in enumerate(layers)]

    def kept_bits(self, layer, part, arch, training) -> int:
        if layer.kind == "vector" and layer.op in MASKED:
            return input_elements(layer)
        if layer.kind == "vector" and layer.op in SHIFT_ONLY:
            return 0
        return super().kept_bits(layer, part, arch, training)

    def backward(self, layer, part, arch, training, input_gradient: bool) -> list:
        saved = self.kept_bits(layer, part, arch, training) if layer.kind == "vector" else None
        return plain_backward(layer, part, arch, training, input_gradient, saved)


TRAINING = MobileTL

METHODS = (Method(name="mobiletl", transform=baseline.transform, pe_kinds=("mac",),
                  presets=("edge_tiny", "tpu_like"), training_only=True,
                  description="training: top-k inverted-residual blocks fine-tuned, 1-bit "
                              "activation masks, shift-only normalization (Chiang et al. 2023)"),)
