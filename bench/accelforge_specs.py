"""Write dlaforge's archs, layers and mappings as AccelForge 1.0.467 inputs (YAML text).

Used by bench/bench_accelforge.py. Every number comes from the dlaforge ArchSpec, its energy
table (dlaforge.sim.energy.energy_table: the same pJ per word dlaforge prices with), the Layer
and the mapping dlaforge's mapper chose; nothing here is a result.

- arch_yaml: MainMemory (the DRAM: pJ per bit x 64-bit actions, latency = bytes / the spec's
  bandwidth), GlobalBuffer (the shared SRAM, one action per `word_bits` word, latency = the
  slower of its read and write ports at the spec's bytes/cycle), a PE container with the
  array's two spatial dims, the per-PE storage and the MAC (latency = MACs per PE / clock).
  Area 0 in the like-for-like arch, and leakage 0 but for dlaforge's per-cycle energy (its
  clock, control and leakage pJ per cycle, `per_cycle_pj`), given to AccelForge as the one
  thing it charges per unit of time: MainMemory's leak power = per_cycle_pj x clock, which
  AccelForge multiplies by its latency (its "leak" action) as dlaforge multiplies its pJ per
  cycle by its cycles. `models=True` gives the same structure with AccelForge's own component
  models (hwcomponents: SmartBufferSRAM, IntMAC) for its area.
- workload_yaml: one conv einsum O[m,p,q] = I[c, p*stride + r, q*stride + s] * W[m,c,r,s].
- mapping_rs / mapping_ws: dlaforge's tiling and loop order written as AccelForge's loop nest.
"""

from __future__ import annotations

from dlaforge.arch import ArchSpec

DRAM_ACTION_BITS = 64
RELEVANT = {"I": "ncpq", "W": "kc", "O": "nkpq"}      # which tile loops each tensor depends on
RANK = {"k": "m", "c": "c", "p": "p", "q": "q"}        # dlaforge loop -> AccelForge rank variable


def _pj(x: float) -> str:
    return f"{x:.9g}e-12"


def _memory(name, size_bits, keep, read_pj, write_pj, bits_per_action, latency=None,
            model=None, extra=None, bits_per_value=None, leak_w=0.0):
    lines = ["  - !Memory", f"    name: {name}"]
    if model and name != "MainMemory":
        lines.append(f"    component_class: {model}")
        if extra:
            lines.append(f"    extra_attributes_for_component_model: {extra}")
    else:
        lines += [f"    leak_power: {leak_w:.9g}" if leak_w else "    leak_power: 0",
                  "    area: 0"]
    lines += [f"    size: {size_bits}", f"    tensors: {keep}"]
    if bits_per_value:
        lines.append(f"    bits_per_value: {bits_per_value}")
    if latency:
        lines.append(f"    total_latency: {latency}")
    if model and name != "MainMemory":          # the component model prices the actions
        return lines + ["    actions:",
                        f"    - {{name: read, bits_per_action: {bits_per_action}}}",
                        f"    - {{name: write, bits_per_action: {bits_per_action}}}"]
    lines += ["    actions:",
              f"    - {{name: read, energy: {_pj(read_pj)}, bits_per_action: {bits_per_action}, "
              f"throughput: inf}}",
              f"    - {{name: write, energy: {_pj(write_pj)}, bits_per_action: {bits_per_action}, "
              f"throughput: inf}}"]
    return lines


def per_cycle_pj(table) -> float:
    """dlaforge's energy per clock cycle (sim/energy.time_energy): clock tree, control and
    leakage, each charged x the layer's cycles."""
    return table.clock_pj_per_cycle + table.control_pj_per_cycle + table.leakage_pj_per_cycle


def arch_yaml(spec: ArchSpec, table, dataflow: str, models: bool = False) -> str:
    """`spec` as an AccelForge arch. `table` is dlaforge's EnergyTable for it."""
    clock = spec.clock_mhz * 1e6
    pe = spec.pe_array
    glb = [m for m in spec.memory if not m.per_pe]
    per_pe = [m for m in spec.memory if m.per_pe]
    if len(glb) != 1:
        raise ValueError(f"{spec.name}: one shared buffer expected, found {len(glb)}")
    g = glb[0]
    lines = ["arch:"]
    if models:
        lines.append(f"  extra_attributes_for_all_component_models: "
                     f"{{tech_node: {spec.technology_nm}e-9}}")
    lines.append("  nodes:")
    dram_bw = spec.dram.bandwidth_bytes_per_cycle
    # dlaforge's per-cycle energy as a power AccelForge charges over its latency (not in the
    # area arch, whose AccelForge models give their own leakage)
    leak_w = 0.0 if models else per_cycle_pj(table) * 1e-12 * clock
    lines += _memory("MainMemory", "inf", "{keep: ~Intermediates, may_keep: All}",
                     table.dram_read_pj_per_bit * DRAM_ACTION_BITS,
                     table.dram_write_pj_per_bit * DRAM_ACTION_BITS, DRAM_ACTION_BITS,
                     latency=f"sum(a.n_calls for a in actions) * {DRAM_ACTION_BITS // 8}"
                             f" / {dram_bw} / {clock}", leak_w=leak_w)
    # separate read and write ports, each at the spec's bytes/cycle
    rd = g.read_bandwidth_bytes_per_cycle * 8 / g.word_bits
    wr = g.write_bandwidth_bytes_per_cycle * 8 / g.word_bits
    glb_latency = (f'max(sum(a.n_calls for a in actions if a.name == "read") / {rd:.9g}, '
                   f'sum(a.n_calls for a in actions if a.name == "write") / {wr:.9g}) / {clock}')
    psum = {"O": pe.psum_bits} if dataflow != "rs" and pe.psum_bits != pe.ofmap_bits else None
    lines += _memory("GlobalBuffer", g.size_bytes * 8, "{keep: ~MainMemory, may_keep: All}",
                     table.read_pj_per_word[g.name], table.write_pj_per_word[g.name],
                     g.word_bits, latency=glb_latency,
                     model="SmartBufferSRAM" if models else None,
                     extra=f"{{n_banks: {g.banks}, width: {g.word_bits}}}" if models else None,
                     bits_per_value=psum)
    # rows x cols; row stationary: psums accumulate up the rows (filter rows), ifmap rows and
    # weights are shared along the columns / diagonals. ws: rows reduce (channels), columns
    # share the ifmap (filters).
    if dataflow == "rs":
        dims = [("cols", pe.cols, "weight"), ("rows", pe.rows, "output")]
    else:
        dims = [("rows", pe.rows, "output"), ("cols", pe.cols, "input")]
    lines += ["  - !Container", "    name: PE", "    spatial:"]
    lines += [f"    - {{name: {n}, fanout: {f}, reuse: {r}, min_usage: 1}}" for n, f, r in dims]
    operand_tensor = {"ifmap": "input", "weight": "weight", "ofmap": "output"}
    for m in per_pe:
        if dataflow == "rs":
            keep = "{keep: " + " | ".join(operand_tensor[o] for o in m.operands) + "}"
        else:
            keep = "{keep: weight}"        # ws: the stationary weight; the rest moves through
        lines += _memory(m.name, m.size_bytes * 8, keep, table.read_pj_per_word[m.name],
                         table.write_pj_per_word[m.name], m.word_bits,
                         model="SmartBufferSRAM" if models else None,
                         extra=f"{{n_banks: 1, width: {m.word_bits}}}" if models else None)
    lines += ["  - !Compute", "    name: MAC"]
    if models:
        lines += ["    component_class: IntMAC",
                  f"    extra_attributes_for_component_model: {{multiplier_width: "
                  f"{max(pe.ifmap_bits, pe.weight_bits)}, adder_width: {pe.psum_bits}}}"]
    else:
        lines += ["    leak_power: 0", "    area: 0"]
    lines.append(f"    total_latency: sum(a.n_calls for a in actions) / {clock}")
    lines += ["    actions:", "    - {name: compute}"] if models else [
        "    actions:", f"    - {{name: compute, energy: {_pj(table.mac_pj)}, throughput: inf}}"]
    return "\n".join(lines) + "\n"


def workload_yaml(layer, spec: ArchSpec) -> str:
    pe = spec.pe_array
    sh, sw = layer.stride, getattr(layer, "stride_w", None) or layer.stride
    dil = getattr(layer, "dilation", None) or (1, 1)
    dh, dw = (dil, dil) if isinstance(dil, int) else tuple(dil)
    h = f"p * {sh} + r * {dh}" if dh != 1 else f"p * {sh} + r"
    w = f"q * {sw} + s * {dw}" if dw != 1 else f"q * {sw} + s"
    bits = {"I": layer.ifmap_bits or pe.ifmap_bits, "W": layer.weight_bits or pe.weight_bits,
            "O": pe.ofmap_bits}
    return f"""renames:
  einsums:
  - name: default
    tensor_accesses:
    - {{name: input, source: Inputs & Intermediates, expected_count: 1}}
    - {{name: output, source: Outputs, expected_count: 1}}
    - {{name: weight, source: ~(input | output), expected_count: 1}}
workload:
  bits_per_value: {{I: {bits['I']}, W: {bits['W']}, O: {bits['O']}}}
  einsums:
  - einsum: "O[m, p, q] = I[c, H: {h}, W: {w}] * W[m, c, r, s]"
    iteration_space_shape:
    - 0 <= p < {layer.P}
    - 0 <= q < {layer.Q}
    - 0 <= c < {layer.C}
    - 0 <= m < {layer.K}
    - 0 <= r < {layer.R}
    - 0 <= s < {layer.S}
    renames: {{output: O, input: I, weight: W}}
"""


def _storage(tensors, component):
    return f"  - !Storage {{tensors: [{', '.join(tensors)}], component: {component}}}"


def _temporal(rank, tile):
    return f"  - !Temporal {{rank_variable: {rank}, tile_shape: {tile}}}"


def _spatial(rank, tile, dim):
    return (f"  - !Spatial {{rank_variable: {rank}, tile_shape: {tile}, name: {dim}, "
            f"component: PE}}")


def dram_level(layer, tile: dict, order: str) -> list[str]:
    """The tile loops in dlaforge's order (outermost first; q, when tiled, beside p), each
    tensor's GlobalBuffer storage under its innermost relevant loop with more than one trip
    (the loops inside it reuse the tile: dlaforge's rule, sim/analytical.py)."""
    full = {"k": layer.K, "c": layer.C, "p": layer.P, "q": layer.Q}
    size = {"k": tile["K"], "c": tile["C"], "p": tile["P"], "q": tile["Q"]}
    loops = [d for d in order.replace("p", "pq") if d in full and size[d] < full[d]]
    lines = [_storage(["I", "W", "O"], "MainMemory")]
    innermost = {t: max([i for i, d in enumerate(loops) if d in RELEVANT[t]], default=-1)
                 for t in RELEVANT}
    placed = [t for t in RELEVANT if innermost[t] == -1]
    if placed:
        lines.append(_storage(placed, "GlobalBuffer"))
    for i, d in enumerate(loops):
        lines.append(_temporal(RANK[d], size[d]))
        here = [t for t in RELEVANT if innermost[t] == i]
        if here:
            lines.append(_storage(here, "GlobalBuffer"))
    return lines


def mapping_rs(layer, spec: ArchSpec, m: dict) -> str:
    """Row stationary (sim/array_cost.row_stationary_tile): per GLB tile, passes over output
    rows (`cols` at a time), filters (tk*pf) and channels (tc*q); a pass uses R rows x up to
    `cols` columns x tc x tk PE sets; each PE holds q channels x pf filters x S taps of
    weights, pf partial sums and a window of one ifmap row, and runs Q x S x q x pf MACs."""
    tile, g = m["tile"], m["row_stationary"]
    pe = spec.pe_array
    kt, ct, pt = tile["K"], tile["C"], tile["P"]
    lines = ["mapping:", "  nodes:"] + dram_level(layer, tile, m["loop_order"])
    names = {"weight_spad": "W", "ifmap_spad": "I", "psum_spad": "O"}
    spads = {names[x.name]: x.name for x in spec.memory if x.per_pe}
    if pt > pe.cols:
        lines.append(_temporal("p", pe.cols))
    if layer.R > pe.rows:
        lines.append(_temporal("r", pe.rows))
    if kt > g["tk"] * g["pf"]:
        lines.append(_temporal("m", g["tk"] * g["pf"]))
    if ct > g["tc"] * g["q"]:
        lines.append(_temporal("c", g["tc"] * g["q"]))
    lines.append(_spatial("p", 1, "cols"))
    lines.append(_spatial("r", 1, "rows"))
    if g["tc"] > 1:
        lines.append(_spatial("c", g["q"], "rows"))
    if g["tk"] > 1:
        lines.append(_spatial("m", g["pf"], "rows"))
    lines += [_storage(["W"], spads["W"]), _temporal("q", 1), _storage(["O"], spads["O"]),
              _temporal("c", 1), _storage(["I"], spads["I"]), _temporal("m", 1),
              _temporal("s", 1), "  - !Compute {einsum: O, component: MAC}"]
    return "\n".join(lines) + "\n"


def mapping_ws(layer, spec: ArchSpec, m: dict) -> str:
    """The ws controller's folds (docs/controller.md): per tile, for kb (cols filters), cb
    (rows channels), r, s: preload a rows x cols block of weights, stream the tile's pixels.
    Rows reduce channels, columns hold filters."""
    tile = m["tile"]
    pe = spec.pe_array
    reg = next(x.name for x in spec.memory if x.per_pe)
    lines = ["mapping:", "  nodes:"] + dram_level(layer, tile, m["loop_order"])
    if tile["K"] > pe.cols:
        lines.append(_temporal("m", pe.cols))
    if tile["C"] > pe.rows:
        lines.append(_temporal("c", pe.rows))
    lines += [_temporal("r", 1), _temporal("s", 1), _spatial("c", 1, "rows"),
              _spatial("m", 1, "cols"), _storage(["W"], reg), _temporal("p", 1),
              _temporal("q", 1), "  - !Compute {einsum: O, component: MAC}"]
    return "\n".join(lines) + "\n"
