"""A whole network on the mapped-program controller: one DRAM image, every layer's commands in
order (one per group, all N images inside a command), each layer's requantized outputs left in
DRAM as the next layer's ifmap.

A layer is a `ControllerJob` (its shape, mapping, operands, requantization and reference) whose
DRAM regions (ifmap, weight, requant, kmap, ofmap, psum: `ControllerJob.regions`) are placed in
the network's image at bases of their own: its commands are the job's, with each base moved from the
job's region to the network's (`relocated`), its operands are copied from the job's own image.

Layers chain by shape (`chains`, which hw/network_stimulus.py's first-accelerator networks use too):
a layer reads the previous layer's outputs when its input (N x groups*C x H x W) is the previous
layer's output (N x Kt x P x Q) and the outputs fit the ifmap width (ofmap_bits <= ifmap_bits,
or the datapath's activation codes, Datapath.codes).
Its ifmap region is then the previous layer's outputs region: the outputs are N x P x Q x Kt at
ofmap_bits, the ifmap N x H x W x Ct, the same elements in the same order (or the same
packed codes: a layer chains only when it reads its ifmap packed as the previous layer wrote
its outputs, Shape.ifmap_pack and ofmap_pack), written by the controller and read back by it,
never copied by the host. Its job's `ifmap` is the reference's
input (the previous layer's expected outputs), used for the reference only. Any other layer (the
first, a shape that does not follow, a layer of several hardware ops) reads fresh random
operands, and `NetworkLayer.input_note` says why. Only the listed layers run (no pooling,
residual adds or branches), so a chained layer's input is the previous listed layer's output.

Every layer requantizes with random per-channel parameters that spread its sums over the ofmap
range (requant_ref.random_requant), a ReLU on every layer but the last (none on a layer whose
sums are never positive, Datapath.signed_sums_of False: it would zero every output; on every
layer of a datapath of unsigned activation codes, Datapath.codes: the clamp to the codes). On a
dual-PE datapath (Datapath.mac_mode) each layer names the PE operation it runs
(`LayerSpec.pe_op`: an AdderNet's adder layers and its int8 first conv and FC), which its
commands' `mode` field selects.
`expected()` is the reference network: conv2d_int wrapped to psum_bits, then the layer's
Requant, fed forward the same way.

`run_network` runs the commands free-running on Icarus or Verilator (free_run.run_free: the
design and its DRAM model in one simulator process, no Python between cycles), or in Amaranth's
simulator, and returns hw/controller/job.ControllerResult with `output` the list of the layers'
outputs (N x P x Q x Kt each) and `per_command` the counters of every command; `per_layer`
splits them by layer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.program import Mapping, Shape, element_bytes, in_size, out_size
from dlaforge.workloads.quantizers import DEFAULT_QUANTIZER, Quantizer

from ..layouts import GeneratorParams
from .stimulus import ControllerJob, ControllerResult, random_requant_of
from .layouts import ControllerParams, check_command

# ControllerJob.regions' order (kmap: a scale map, empty but on a datapath that reads one)
REGIONS = ("ifmap", "weight", "requant", "kmap", "ofmap", "psum")
BASE_FIELDS = {"ifmap_base": "ifmap", "weight_base": "weight", "requant_base": "requant",
               "kmap_base": "kmap", "ofmap_base": "ofmap", "psum_base": "psum"}
SEVERAL_OPS = "random: the layer is several hardware ops"
MAX_CYCLES = 10_000_000     # per command, as run.run_amaranth's and free_run.run_free's


@dataclass
class NetworkLayer:
    name: str
    job: ControllerJob        # requantized; its ifmap is the reference's input
    input_note: str = "chained"

    @property
    def chained(self) -> bool:
        return self.input_note == "chained"


@dataclass(frozen=True)
class LayerSpec:
    """One hardware op of a network: its name, one group's Shape (all N images), its mapping,
    its groups, whether it may read the previous op's outputs (False: a layer of several
    hardware ops), its dataflow, its PE operation (None: the datapath's own), on a
    datapath of activation codes the code bits of its outputs (None: the datapath's codes),
    and on one that rebuilds its weights their codes (Datapath.weight_code; None: random)."""

    name: str
    shape: Shape
    mapping: Mapping
    groups: int = 1
    chainable: bool = True
    dataflow: str = "ws"
    pe_op: str | None = None
    out_codes: int | None = None    # a datapath of codes: its outputs' code bits
    codes: object = None            # a rebuilding datapath's weight codes


class ControllerNetworkJob:
    """The layers of one network on one arch (its DRAM settings included)."""

    def __init__(self, arch: ArchSpec, layers: list[NetworkLayer], datapath=None,
                 quantizer: Quantizer = DEFAULT_QUANTIZER):
        self.layers, self.datapath = layers, datapath
        self.quantizer = quantizer
        self.geo = ControllerParams.of(arch, self.params, datapath=datapath)
        self.arch = self.geo.datapath.operand_arch(arch)    # as the design holds the operands
        self.bases, self.size = self._regions()
        self.commands()                 # every relocated field fits its width

    @property
    def params(self) -> GeneratorParams:
        """The generator's parameters of the design the network runs on (its quantizer's)."""
        return GeneratorParams(quantizer=self.quantizer)

    @staticmethod
    def random(arch: ArchSpec, specs: list[LayerSpec], rng, datapath=None,
               quantizer: Quantizer = DEFAULT_QUANTIZER) -> ControllerNetworkJob:
        """Layers of `specs`, random weights (and fresh inputs where a layer does not chain) in
        the operands' full ranges, random requantization by `quantizer` (an asymmetric one's
        bias folding the input zero point in, and the padded taps holding it: the previous
        layer's output zero point for a chained layer, else a random one:
        stimulus.random_requant_of), ReLU on all but the last unless the layer's sums are
        never positive (Datapath.signed_sums_of False: a ReLU would zero every output), on
        every layer of a datapath of unsigned activation codes (Datapath.codes); `datapath` the
        design's PE (workloads/methods/datapath.py; None: MAC)."""
        layers, prev, packed_out = [], None, 0
        for index, spec in enumerate(specs):
            s = spec.shape
            note = (chains(prev, s, spec.groups, s.N, arch, bool(datapath and datapath.codes))
                    if spec.chainable else SEVERAL_OPS)
            if note == "chained" and s.ifmap_pack != packed_out:
                note = (f"random: it reads {'packed' if s.ifmap_pack else 'unpacked'} codes, "
                        f"the previous layer wrote {'packed' if packed_out else 'unpacked'}")
            job = ControllerJob.random(arch, s, spec.mapping, rng, groups=spec.groups,
                                       dataflow=spec.dataflow, datapath=datapath,
                                       pe_op=spec.pe_op, out_codes=spec.out_codes,
                                       codes=spec.codes)
            in_zero = None
            if note == "chained":
                job = replace(job, ifmap=layers[-1].job.expected().transpose(0, 3, 1, 2))
                in_zero = layers[-1].job.requant.zero     # its input is those outputs
            requant = random_requant_of(job, quantizer, rng, relu=index + 1 < len(specs),
                                        in_zero=in_zero)
            layers.append(NetworkLayer(spec.name, replace(job, requant=requant), note))
            prev, packed_out = (s.N, spec.groups * s.K, *out_size(s)), s.ofmap_pack
        return ControllerNetworkJob(arch, layers, datapath, quantizer)

    def _regions(self) -> tuple[list[dict], int]:
        """Per layer the network's DRAM base of each of its job's regions, and the image's
        size (elements)."""
        out, top = [], 0
        for index, layer in enumerate(self.layers):
            if layer.chained and (bool(layer.job.shape.ifmap_pack)
                                  != self.layers[index - 1].job.packs_outputs):
                raise SpecError(f"layer {layer.name!r} reads the previous layer's outputs "
                                f"{'packed' if layer.job.shape.ifmap_pack else 'unpacked'}, "
                                f"as they were not written")
            local, bases = layer.job.regions, {}
            for name, following in zip(REGIONS, REGIONS[1:] + ("end",)):
                if name == "ifmap" and layer.chained:
                    bases[name] = out[index - 1]["ofmap"]
                else:
                    bases[name], top = top, top + local[following] - local[name]
            out.append(bases)
        return out, top

    @property
    def regions(self) -> dict:
        """DRAM base of each layer's regions, named "<layer index>.<region>" (a chained ifmap
        is the previous layer's ofmap), and "end", the image's size (as ControllerJob.regions,
        for the runners that size their memory by it)."""
        named = {f"{i}.{name}": base for i, bases in enumerate(self.bases)
                 for name, base in bases.items()}
        return {**named, "end": self.size}

    def dram_image(self) -> np.ndarray:
        """Each layer's weights, parameter table, scale map and (unless chained) ifmap, as its
        job lays them out, at the layer's bases."""
        memory = np.zeros(self.size, dtype=np.int64)
        for layer, bases in zip(self.layers, self.bases):
            local, image = layer.job.regions, layer.job.dram_image()
            for name, following in zip(REGIONS[:4], REGIONS[1:5]):
                if name == "ifmap" and layer.chained:
                    continue
                memory[bases[name]:bases[name] + local[following] - local[name]] = \
                    image[local[name]:local[following]]
        return memory

    def layer_commands(self, index: int) -> list[dict]:
        """Layer `index`'s commands (one per group) with the network's bases."""
        job, bases = self.layers[index].job, self.bases[index]
        return [relocated(self.geo, command, job.regions, bases) for command in job.commands()]

    def commands(self) -> list[dict]:
        return [c for i in range(len(self.layers)) for c in self.layer_commands(i)]

    def output_of(self, memory: np.ndarray) -> list[np.ndarray]:
        """Each layer's N x P x Q x Kt outputs as the controller left them in DRAM (the name
        hw/controller/run.py's runners call)."""
        outs = []
        for layer, bases in zip(self.layers, self.bases):
            local = layer.job.regions
            outs.append(layer.job.output_of(memory[bases["ofmap"] - local["ofmap"]:]))
        return outs

    def expected(self) -> list[np.ndarray]:
        """The reference network's outputs, layer by layer (N x P x Q x Kt)."""
        return [layer.job.expected() for layer in self.layers]

    def per_layer(self, result: ControllerResult) -> list[list[tuple[dict, int]]]:
        """`result.per_command` split by layer: (counters, cycles) of each of its commands."""
        out, done = [], 0
        for layer in self.layers:
            out.append(result.per_command[done:done + layer.job.groups])
            done += layer.job.groups
        return out

    def first_difference(self, outputs: list[np.ndarray]) -> int | None:
        """The index of the first layer whose outputs differ from the reference, or None."""
        for index, (out, want) in enumerate(zip(outputs, self.expected())):
            if not np.array_equal(out, want):
                return index
        return None


def chains(prev: tuple | None, shape, groups: int, images: int, arch: ArchSpec,
           codes: bool = False) -> str:
    """'chained' if a layer of `shape` (one group's C, H, W; a binarized layer's int8 channels,
    Shape.binarized) x `groups` over `images` reads the
    previous layer's outputs (prev: its (images, channels, P, Q)), else why not. `codes`: the
    outputs are the ifmap's activation codes (Datapath.codes), which fit it in elements of
    the same bytes."""
    pe = arch.pe_array
    if prev is None:
        return "random: first layer"
    same_bytes = element_bytes(pe.ofmap_bits) == element_bytes(pe.ifmap_bits)
    if pe.ofmap_bits > pe.ifmap_bits and not (codes and same_bytes):
        return f"random: {pe.ofmap_bits}-bit outputs are wider than the {pe.ifmap_bits}-bit ifmap"
    channels = getattr(shape, "binarized", 0) or shape.C     # (a first-accelerator Gemm: C)
    size = in_size(shape) if isinstance(shape, Shape) else (shape.H, shape.W)
    mine = (images, channels * groups, *size)
    if mine != prev:
        return (f"random: its input {'x'.join(map(str, mine[1:]))} is not the previous "
                f"layer's output {'x'.join(map(str, prev[1:]))}")
    return "chained"


def relocated(geo: ControllerParams, command: dict, local: dict, bases: dict) -> dict:
    """`command` (a job's, its bases in the job's own `local` regions) with every base moved to
    the region's network base; SpecError if a field overflows."""
    moved = {field: command[field] - local[region] + bases[region]
             for field, region in BASE_FIELDS.items() if field in command}
    return check_command(geo, {**command, **moved})


def run_network(job: ControllerNetworkJob, sim: str = "amaranth",
                build_dir: Path | None = None, max_cycles: int = MAX_CYCLES) -> ControllerResult:
    """Every command of `job` on its one DRAM image: free-running on "icarus" or "verilator"
    (free_run.run_free, `build_dir` its working folder: a temporary one by default; the
    simulator itself comes from the build cache), or in Amaranth's simulator ("amaranth").
    RunError if a command runs past `max_cycles`. The outputs are not checked here
    (`first_difference`)."""
    from .free_run import run_free
    from .run import run_amaranth
    if sim == "amaranth":
        return run_amaranth(job, max_cycles=max_cycles)
    result, = run_free([job], build_dir, sim, max_cycles)
    return result
