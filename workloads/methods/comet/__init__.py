"""COMET (`comet`; Jin et al., "COMET: A Novel Memory-Efficient Deep Learning Training
Framework by Using Error-Bounded Lossy Compression", VLDB 2022, the seed abstract: 13.5x less
training memory than the baseline).

The forward is the baseline's (under `--phase infer` it runs as the baseline). Under
`--phase train` every activation kept for the backward (a layer's input kept for its dW, a
vector layer's saved input) is stored compressed, `--compress-ratio x` times smaller (8 by
default; COMET's error bound and its adaptive control set the ratio it reaches, which is
given here):

- the forward's input stream passes a compressor that writes the compressed copy to DRAM
  (its reads are the forward's); the full tensor is freed once the next layer has read it;
- the backward's read of the kept input passes a decompressor: DRAM moves the compressed
  bytes (dW's read of X, a vector layer's read of its saved input);
- peak memory holds the compressed copies.

The compressor and decompressor are priced on the vector unit (the arch vocabulary,
dlaforge/arch.py, has no compressor unit): per element, compression is a Lorenzo prediction
(3 adds), the residual's quantization to the error bound (a mult and a rounding add); the
decompression the dequantization (a mult) and the prediction (3 adds). Left out: the entropy
coding (Huffman) of the quantized residuals, the accuracy under the error bound, and the
inputs of a matmul (two activations), which stay uncompressed.
"""

from __future__ import annotations

import math
from dataclasses import replace

from dlaforge.workloads.hwop import HwOp
from dlaforge.workloads.training import has_weights, plain_backward
from dlaforge.workloads.training_memory import input_elements, keeps_input
from dlaforge.workloads.method_options import MethodOption
from dlaforge.errors import SpecError
from dlaforge.workloads.training_methods import TrainingMethod, positive_option
from dlaforge.workloads.vector_ops import VectorOp

from .. import Method, baseline

COMPRESS_OPS = {"add": 4, "mult": 1}        # per element (module doc)
DECOMPRESS_OPS = {"add": 3, "mult": 1}


OPTIONS = (MethodOption("compress_ratio", 8.0, float,
                        "the compression ratio of the kept activations", "X"),)

class Comet(TrainingMethod):
    """The training hooks of COMET (module doc)."""

    def check(self) -> None:
        ratio = positive_option(self.options, "compress_ratio", float)
        if not 1 <= ratio < math.inf:
            raise SpecError(f"--compress-ratio must be a finite ratio of at least 1 (the kept "
                            f"activations' bits over their compressed bits), not {ratio!r}")
        object.__setattr__(self, "ratio", ratio)

    def compressed(self, layer) -> bool:
        return layer.kind != "matmul"

    def kept_bits(self, layer, part, arch, training) -> int:
        full = super().kept_bits(layer, part, arch, training)
        return math.ceil(full / self.ratio) if self.compressed(layer) else full

    def _elements(self, layer, part) -> int:
        return input_elements(part if part is not None else layer)

    def forward_ops(self, layer, part, arch, training, input_gradient: bool) -> list:
        if not (self.compressed(layer) and keeps_input(layer, part, input_gradient)):
            return []
        n = self._elements(layer, part)
        return [VectorOp(name=f"{layer.name}.compress", op="compress", read_elements=0,
                         write_elements=math.ceil(self.kept_bits(layer, part, arch, training)
                                                  / 8), bits=8,
                         ops={k: v * n for k, v in COMPRESS_OPS.items()})]

    def backward(self, layer, part, arch, training, input_gradient: bool) -> list:
        if not self.compressed(layer):
            return plain_backward(layer, part, arch, training, input_gradient)
        saved = self.kept_bits(layer, part, arch, training) if layer.kind == "vector" else None
        ops = plain_backward(layer, part, arch, training, input_gradient, saved)
        if not keeps_input(layer, part, input_gradient):
            return ops
        n = self._elements(layer, part)
        decompress = VectorOp(name=f"{layer.name}.decompress", op="decompress",
                              read_elements=0, write_elements=0, bits=8,
                              ops={k: v * n for k, v in DECOMPRESS_OPS.items()})
        phase = "dW" if has_weights(layer) else "dX"
        return [(phase, decompress)] + [(p, self._compressed_read(layer, p, op))
                                        for p, op in ops]

    def _compressed_read(self, layer, phase, op):
        """dW's read of the kept X at the compressed size (X is dW's weight operand; a
        transposed conv's ifmap)."""
        if phase != "dW" or not isinstance(op, HwOp):
            return op
        operand = "ifmap" if layer.kind == "transposed_conv" else "weight"
        scale = dict(op.dram_scale)
        scale[operand] = scale.get(operand, 1.0) / self.ratio
        return replace(op, dram_scale=scale)


TRAINING = Comet

METHODS = (Method(name="comet", transform=baseline.transform, pe_kinds=("mac",),
                  presets=("edge_tiny", "tpu_like"), training_only=True,
                  description="training: activations kept for the backward stored compressed "
                              "(error-bounded lossy compression, COMET)"),)
