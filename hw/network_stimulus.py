"""A whole network on the first accelerator (hw/accelerator.py, the fixed program of
workloads/methods/accelerator_plan.py): one DRAM image, every layer's commands in order, each
layer's requantized outputs left in DRAM as the next layer's ifmap.

Layers chain by shape: a layer reads the previous layer's outputs when its input (N images of
C x H x W) is the previous layer's output (N x K x P x Q, the same layout) and the outputs fit
the ifmap width (ofmap_bits <= ifmap_bits); its ifmap region is then the previous layer's
output region, written by the accelerator and read back by it, never copied by the host. Any
other layer (the first, a shape that does not follow, a layer of several hardware ops) reads
fresh random operands, and `ChainedLayer.input_note` says why. Only the listed layers run:
the pooling, residual adds and branches of the real network are not computed, so in a network
with branches a chained layer's input is the previous listed layer's output.

DRAM image, layer by layer: ifmap (unless chained), weights (K x C/groups x R x S), the
requantization table (K x program.REQUANT_PIECES elements), outputs (N x K x P x Q). A layer
is one command per image and group (sim/rtl_program.gemm_of), its bases selecting the image's
and the group's slices. `expected()` is the reference network: per layer
conv2d_int (wrapped to psum_bits), then the layer's Requant, fed forward the same way.

`--model rtl` no longer runs this: it runs the mapped-program controller's networks
(hw/controller/network.py, whose `chains` rule this module shares). What remains here serves
the first accelerator's own tests and benchmarks until the method units move to the
controller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.program import REQUANT_PIECES, element_bytes
from dlaforge.workloads.methods.accelerator_plan import Gemm, RtlPlan
from dlaforge.workloads.methods.conv_ref import conv2d_int
from dlaforge.workloads.methods.requant_ref import Requant, random_requant

from .controller.network import chains
from .stimulus import wrap
from .layouts import command_fields
from .requant import param_table


@dataclass
class ChainedLayer:
    name: str
    gemm: Gemm               # one command: one image, one group (C and K per group)
    groups: int
    images: int
    weight: np.ndarray       # K x C/groups x R x S, all groups
    requant: Requant         # K channels
    source: np.ndarray       # N x C x H x W fresh input, or None: the previous layer's outputs
    input_note: str = "chained"

    @property
    def chained(self) -> bool:
        return self.source is None

    def sums(self, x: np.ndarray, psum_bits: int) -> np.ndarray:
        g = self.gemm
        out = conv2d_int(x, self.weight, g.stride, g.padding, self.groups, out_size=(g.P, g.Q))
        return wrap(out, psum_bits)

    def outputs(self, x: np.ndarray, arch: ArchSpec) -> np.ndarray:
        """N x K x P x Q requantized outputs of input x (N x C x H x W)."""
        sums = self.sums(x, arch.pe_array.psum_bits)
        return np.stack([self.requant.apply(s, arch.pe_array.ofmap_bits) for s in sums])


class NetworkJob:
    """Layers of one network on one arch and dataflow, with DRAM settings (default: the spec's)."""

    def __init__(self, arch: ArchSpec, dataflow: str, layers: list[ChainedLayer],
                 bandwidth: float = None, latency: int = None):
        self.arch, self.dataflow, self.layers = arch, dataflow, layers
        self.bandwidth = arch.dram.bandwidth_bytes_per_cycle if bandwidth is None else bandwidth
        self.latency = arch.dram.latency_cycles if latency is None else latency
        self.plans = [RtlPlan.make(arch, dataflow, layer.gemm, requant=True) for layer in layers]
        self.regions = self._regions()

    @staticmethod
    def random(arch: ArchSpec, dataflow: str, shapes: list[tuple], rng, **dram) -> NetworkJob:
        """Layers of `shapes` = [(name, gemm, groups, images, chainable)], random weights and
        fresh inputs in the operands' full ranges, chained where `chains` allows and
        `chainable` says (a layer of one hardware op); per-channel scales that spread each
        layer's sums over the ofmap range (requant_ref.random_requant), a ReLU on every layer
        but the last."""
        pe = arch.pe_array
        layers, prev, x = [], None, None
        for index, (name, gemm, groups, images, chainable) in enumerate(shapes):
            note = chains(prev, gemm, groups, images, arch) if chainable else \
                "random: the layer is several hardware ops"
            source = None
            if note != "chained":
                half = 1 << (pe.ifmap_bits - 1)
                source = x = rng.integers(-half, half, (images, gemm.C * groups, gemm.H, gemm.W))
            half = 1 << (pe.weight_bits - 1)
            weight = rng.integers(-half, half, (gemm.K * groups, gemm.C, gemm.R, gemm.S))
            layer = ChainedLayer(name, gemm, groups, images, weight, None, source, note)
            sums = layer.sums(x, pe.psum_bits)
            layer.requant = random_requant(np.moveaxis(sums, 1, 0), pe.ofmap_bits, rng,
                                           relu=index + 1 < len(shapes))
            x = layer.outputs(x, arch)
            layers.append(layer)
            prev = x.shape
        return NetworkJob(arch, dataflow, layers, **dram)

    def _regions(self) -> list[dict]:
        """Per layer the DRAM bases of its ifmap, weights, table and outputs."""
        regions, top, prev_out = [], 0, None
        for layer in self.layers:
            g = layer.gemm
            if layer.chained:
                ifmap = prev_out
            else:
                ifmap, top = top, top + layer.source.size
            weight, top = top, top + layer.weight.size
            table, top = top, top + REQUANT_PIECES * layer.requant.channels
            out, top = top, top + layer.images * g.K * layer.groups * g.P * g.Q
            regions.append({"ifmap": ifmap, "weight": weight, "table": table, "out": out})
            prev_out = out
        self.size = top
        return regions

    def dram_image(self) -> np.ndarray:
        memory = np.zeros(self.size, dtype=np.int64)
        for layer, r in zip(self.layers, self.regions):
            if not layer.chained:
                memory[r["ifmap"]:r["ifmap"] + layer.source.size] = layer.source.ravel()
            memory[r["weight"]:r["weight"] + layer.weight.size] = layer.weight.ravel()
            table = param_table(layer.requant)
            memory[r["table"]:r["table"] + table.size] = table
        return memory

    def layer_commands(self, index: int) -> list[dict]:
        """The commands of layer `index`: per image, per group."""
        layer, plan, r = self.layers[index], self.plans[index], self.regions[index]
        g = layer.gemm
        commands = []
        for n in range(layer.images):
            for k in range(layer.groups):
                commands.append(command_fields(
                    plan, r["ifmap"] + (n * layer.groups + k) * g.C * g.H * g.W,
                    r["weight"] + k * g.K * g.C * g.R * g.S,
                    r["out"] + (n * layer.groups + k) * g.K * g.P * g.Q,
                    requant_base=r["table"] + k * g.K * REQUANT_PIECES,
                    relu=layer.requant.relu))
        return commands

    def commands(self) -> list[dict]:
        return [c for i in range(len(self.layers)) for c in self.layer_commands(i)]

    def outputs_of(self, memory: np.ndarray) -> list[np.ndarray]:
        """Each layer's N x K x P x Q outputs as the accelerator left them in DRAM."""
        outs = []
        for layer, r in zip(self.layers, self.regions):
            g = layer.gemm
            shape = (layer.images, g.K * layer.groups, g.P, g.Q)
            outs.append(memory[r["out"]:r["out"] + int(np.prod(shape))].reshape(shape))
        return outs

    def expected(self) -> list[np.ndarray]:
        """The reference network's outputs, layer by layer."""
        outs, x = [], None
        for layer in self.layers:
            x = layer.outputs(layer.source if not layer.chained else x, self.arch)
            outs.append(x)
        return outs

    def element_bytes(self) -> tuple[tuple[int, int], int]:
        pe = self.arch.pe_array
        return ((element_bytes(pe.ifmap_bits), element_bytes(pe.weight_bits)),
                element_bytes(pe.ofmap_bits))
