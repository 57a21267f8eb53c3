"""A whole network on the mapped-program controller: one DRAM image, every layer's commands in
order (one per group, all N images inside a command), each layer's requantized outputs left in
DRAM as the next layer's ifmap.

A layer is a `ControllerJob` (its shape, mapping, operands, requantization and reference) whose
DRAM regions (ifmap, weight, requant, ofmap, psum: `ControllerJob.regions`) are placed in the
network's image at bases of their own: its commands are the job's, with each base moved from the
job's region to the network's (`relocated`), its operands are copied from the job's own image.

Layers chain by shape, as hw/network_job.py's do (`chains`): a layer reads the previous layer's
outputs when its input (N x groups*C x H x W) is the previous layer's output (N x Kt x P x Q) and
the outputs fit the ifmap width (ofmap_bits <= ifmap_bits). Its ifmap region is then the
previous layer's outputs region: the outputs are N x P x Q x Kt at ofmap_bits, the ifmap N x H
x W x Ct, the same elements in the same order, written by the controller and read back by it,
never copied by the host. Its job's `ifmap` is the reference's input (the previous layer's
expected outputs), used for the reference only. Any other layer (the first, a shape that does
not follow, a layer of several hardware ops) reads fresh random operands, and
`NetworkLayer.input_note` says why. Only the listed layers run (no pooling, residual adds or
branches), so a chained layer's input is the previous listed layer's output.

Every layer requantizes with random per-channel parameters that spread its sums over the ofmap
range (requant_ref.random_requant), a ReLU on every layer but the last. `expected()` is the
reference network: conv2d_int wrapped to psum_bits, then the layer's Requant, fed forward the
same way.

`run_network` runs the commands in Amaranth's simulator or under cocotb (Icarus or Verilator),
all in one simulator process, and returns hw/controller/job.ControllerResult with `output` the
list of the layers' outputs (N x P x Q x Kt each) and `per_command` the counters of every
command; `per_layer` splits them by layer.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.program import Mapping, Shape
from dlaforge.workloads.methods.requant_ref import random_requant

from ..network_job import chains
from .job import ControllerJob, ControllerResult
from .layouts import Geometry, check_command

REGIONS = ("ifmap", "weight", "requant", "ofmap", "psum")    # ControllerJob.regions' order
BASE_FIELDS = {"ifmap_base": "ifmap", "weight_base": "weight", "requant_base": "requant",
               "ofmap_base": "ofmap", "psum_base": "psum"}
SEVERAL_OPS = "random: the layer is several hardware ops"


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
    hardware ops), and its dataflow."""

    name: str
    shape: Shape
    mapping: Mapping
    groups: int = 1
    chainable: bool = True
    dataflow: str = "ws"


class ControllerNetworkJob:
    """The layers of one network on one arch (its DRAM settings included)."""

    def __init__(self, arch: ArchSpec, layers: list[NetworkLayer]):
        self.arch, self.layers = arch, layers
        self.geo = Geometry.of(arch)
        self.bases, self.size = self._regions()
        self.commands()                 # every relocated field fits its width

    @staticmethod
    def random(arch: ArchSpec, specs: list[LayerSpec], rng) -> ControllerNetworkJob:
        """Layers of `specs`, random weights (and fresh inputs where a layer does not chain) in
        the operands' full ranges, random per-channel requantization, ReLU on all but the
        last."""
        layers, prev = [], None
        for index, spec in enumerate(specs):
            s = spec.shape
            note = (chains(prev, s, spec.groups, s.N, arch) if spec.chainable else SEVERAL_OPS)
            # a ws job is ControllerJob's default (the keyword exists once it runs os too)
            other = {} if spec.dataflow == "ws" else {"dataflow": spec.dataflow}
            job = ControllerJob.random(arch, s, spec.mapping, rng, groups=spec.groups, **other)
            if note == "chained":
                job = replace(job, ifmap=layers[-1].job.expected().transpose(0, 3, 1, 2))
            sums = job.sums().transpose(3, 0, 1, 2)
            requant = random_requant(sums, arch.pe_array.ofmap_bits, rng,
                                     relu=index + 1 < len(specs))
            layers.append(NetworkLayer(spec.name, replace(job, requant=requant), note))
            prev = (s.N, spec.groups * s.K, s.P, s.Q)
        return ControllerNetworkJob(arch, layers)

    def _regions(self) -> tuple[list[dict], int]:
        """Per layer the network's DRAM base of each of its job's regions, and the image's
        size (elements)."""
        out, top = [], 0
        for index, layer in enumerate(self.layers):
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
        """Each layer's weights, parameter table and (unless chained) ifmap, as its job lays
        them out, at the layer's bases."""
        memory = np.zeros(self.size, dtype=np.int64)
        for layer, bases in zip(self.layers, self.bases):
            local, image = layer.job.regions, layer.job.dram_image()
            for name, following in zip(REGIONS[:3], REGIONS[1:4]):
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


def relocated(geo: Geometry, command: dict, local: dict, bases: dict) -> dict:
    """`command` (a job's, its bases in the job's own `local` regions) with every base moved to
    the region's network base; SpecError if a field overflows."""
    moved = {field: command[field] - local[region] + bases[region]
             for field, region in BASE_FIELDS.items()}
    return check_command(geo, {**command, **moved})


def run_network(job: ControllerNetworkJob, sim: str = "amaranth",
                build_dir: Path | None = None) -> ControllerResult:
    """Every command of `job` on its one DRAM image, in Amaranth's simulator or under cocotb
    (`sim` "icarus" or "verilator", `build_dir` the build folder: a temporary one by default),
    one simulator process. The outputs are not checked here (`first_difference`)."""
    from .run import run_amaranth, run_cocotb
    if sim == "amaranth":
        return run_amaranth(job)
    if build_dir is None:
        with tempfile.TemporaryDirectory(prefix="dlaforge_controller_") as tmp:
            return run_network(job, sim, Path(tmp))
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    runner = verilator_runner(job.arch, build_dir) if sim == "verilator" else None
    return run_cocotb([job], build_dir, sim, runner)[0]


def verilator_runner(arch: ArchSpec, build_dir: Path):
    """The controller's Verilog (and manifest) in `build_dir`, built for Verilator with its
    UNOPTFLAT warning off: hw/controller/tiles.py computes a tile's `lo` and `in_rows` from its
    own `p_size`, fields of one struct signal, which Verilator sees as a combinational loop of
    that signal (a false one: no bit depends on itself). To go once tiles.py computes p_size in
    a signal of its own (the first accelerator lints clean with hw/verilog.LINT_WAIVERS)."""
    from ..sim_cocotb import compile_verilog
    from .run import TOP, generate
    verilog_path, _ = generate(arch, build_dir)
    verilog_path.write_text("/* verilator lint_off UNOPTFLAT */\n" + verilog_path.read_text())
    return compile_verilog(verilog_path, TOP, build_dir, "verilator")
