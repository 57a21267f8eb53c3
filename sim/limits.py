"""Sizes refused before a model allocates: each model's memory and time follow from closed
forms of a hardware op's dims, checked for every layer before the first is priced, so a run
that would exhaust the machine ends at once with one line naming the limit and the way
around it (DESIGN.md, "CLI"), instead of after minutes, or in MemoryError.

What grows with a layer, per model (the limits leave a few GB and tens of seconds at most):

- analytical mapper: one entry per output-row tile of every candidate tile height,
  sum(ceil(P / height)) over `tile_candidates` and the seed mapping's height
  (`analytical.search`): at most MAX_ROW_TILES.
- cycle model: about 260 bytes per tile,
  tiles = groups N ceil(K/kt) ceil(C/ct) ceil(P/pt) ceil(Q/qt).
  Before the mapper runs, a lower bound (every tile's weights and outputs fit their buffer;
  every image and group is its own tile) is checked for all layers; once it has chosen,
  `check_cycle_tiles` checks the exact count. At most MAX_TILES.
- the RTL's schedule (`--schedule rtl`, `--model rtl`): its timing model holds one row per
  tile of accelerator_plan's tiling per command: at most MAX_TILES.
- the RTL (`--model rtl`): the free-running simulator's time, about 2.5 us a cycle in Verilator
  on edge_tiny; a network's commands, by the cycle model's exact timing, may take at most
  MAX_RTL_CYCLES in all (about 20 minutes; ResNet-18 on edge_tiny takes 128-409 million).
- SCALE-Sim replay (`.cfg` with `--model cycle`): its operand matrices, P Q x R S C and
  R S C x K, and one index per address: at most MAX_REPLAY_ELEMENTS.
"""

from __future__ import annotations

import numpy as np

from dlaforge.arch import ArchSpec
from dlaforge.errors import SpecError
from dlaforge.workloads.methods.accelerator_plan import Gemm, RtlPlan
from dlaforge.workloads.hwop import HwOp

from .analytical import Mapping, default_mapping, tile_candidates
from .rtl_program import commands_of, gemm_of

MAX_ROW_TILES = 20_000_000
MAX_TILES = 8_000_000
MAX_REPLAY_ELEMENTS = 200_000_000
MAX_RTL_CYCLES = 500_000_000


def check_sizes(arch: ArchSpec, ops: list, dataflow: str, model: str, schedule: str) -> None:
    """SpecError naming the first layer too large for `model`; `ops` is [(layer, [HwOp])]."""
    for layer, layer_ops in ops:
        for op in layer_ops:
            if schedule == "rtl":
                _rtl_tiles(arch, dataflow, op, layer.name)
            elif arch.scalesim is not None:
                if model == "cycle":
                    _replay(op, layer.name)
            else:
                _row_tiles(arch, op, dataflow, layer.name)
                if model == "cycle":
                    _refuse(layer.name, "cycle model", _tiles_at_least(arch, op, dataflow),
                            MAX_TILES, "tiles at least", "use --model analytical, a smaller "
                                                         "--batch or larger buffers")


def check_cycle_tiles(op: HwOp, mapping: Mapping, commands: int | None = None) -> None:
    """SpecError if the cycle model would time more than MAX_TILES tiles of `op`, run as
    `commands` group commands (default: one per group; the controller runs a Winograd op's
    groups, its taps, as one: controller_cost.command_groups)."""
    kg, cg = op.K // op.groups, op.C // op.groups
    commands = op.groups if commands is None else commands
    tiles = (commands * -(-op.N // mapping.nt) * -(-kg // mapping.kt) * -(-cg // mapping.ct)
             * -(-op.P // mapping.pt) * -(-op.Q // mapping.columns(op.Q)))
    _refuse(op.name, "cycle model", tiles, MAX_TILES, "tiles",
            "use --model analytical, a smaller --batch or larger buffers")


def check_rtl_cycles(network: str, dataflow: str, cycles: int) -> None:
    """SpecError if `--model rtl` of `network` would simulate more than MAX_RTL_CYCLES."""
    if cycles > MAX_RTL_CYCLES:
        raise SpecError(f"network {network!r} needs {cycles:,} cycles on the RTL under "
                        f"{dataflow}, more than the {MAX_RTL_CYCLES:,} --model rtl simulates; "
                        f"use --model cycle (the same counters, from the exact timing model)")


def check_rtl_tiles(arch: ArchSpec, dataflow: str, gemm: Gemm, commands: int,
                    name: str) -> None:
    """SpecError if the RTL's schedule of `commands` runs of `gemm` has more than MAX_TILES
    tiles, checked before its timing model builds them (or if the RTL cannot run it)."""
    tiles = int(np.prod(RtlPlan.make(arch, dataflow, gemm).trips, dtype=object)) * commands
    _refuse(name, "RTL schedule", tiles, MAX_TILES, "tiles",
            "use the default --schedule mapped, or a smaller layer")


def _rtl_tiles(arch: ArchSpec, dataflow: str, op: HwOp, name: str) -> None:
    try:
        RtlPlan.make(arch, dataflow, gemm_of(op))
    except SpecError:
        return      # the RTL cannot run it: its pricing says why, or a method's unit runs it
    check_rtl_tiles(arch, dataflow, gemm_of(op), commands_of(op), name)


def _row_tiles(arch: ArchSpec, op: HwOp, dataflow: str, name: str) -> None:
    rows, cols = arch.pe_array.rows, arch.pe_array.cols
    heights = set(tile_candidates(op.P, cols, 6) if dataflow == "rs"
                  else tile_candidates(op.P, rows if dataflow == "os" else cols).tolist())
    heights.add(default_mapping(arch, op, dataflow).pt)
    count = sum(-(-op.P // int(h)) for h in heights)
    _refuse(name, "analytical mapper", count, MAX_ROW_TILES, "output-row tiles",
            "split the layer's output rows (P, or M of a GEMM) or give the array more columns")


def _tiles_at_least(arch: ArchSpec, op: HwOp, dataflow: str) -> int:
    """Fewest tiles any mapping of `op` has: every group is a tile of its own (but a Winograd
    op's taps, HwOp.tap_layer, which the controller runs as one command), and so is every
    image but under rs (which tiles images); each tile's weights and outputs fit into (half,
    when double-buffered) their buffer."""
    kg, cg = op.K // op.groups, op.C // op.groups
    cap = {o: arch.shared_level(o).size_bytes // (2 if arch.shared_level(o).double_buffered
                                                   else 1) for o in ("weight", "ofmap")}
    images = 1 if dataflow == "rs" else op.N
    weights = kg * cg * op.R * op.S * op.weight_bits // 8
    outputs = op.N // images * kg * op.P * op.Q * op.psum_bits // 8
    per_tile = max(1, weights // max(1, cap["weight"]), outputs // max(1, cap["ofmap"]))
    return (1 if op.tap_layer else op.groups) * images * per_tile


def _replay(op: HwOp, name: str) -> None:
    rsc = op.R * op.S * op.C
    elements = op.N * op.P * op.Q * rsc + rsc * op.K + op.ifmap_elements + op.ofmap_elements
    _refuse(name, "SCALE-Sim replay", elements, MAX_REPLAY_ELEMENTS, "matrix elements",
            "use --model analytical, or a smaller layer")


def _refuse(name: str, model: str, count: int, limit: int, what: str, around: str) -> None:
    if count > limit:
        raise SpecError(f"layer {name!r} is too large for the {model}: {count:,} {what}, "
                        f"more than the {limit:,} it handles; {around}")
