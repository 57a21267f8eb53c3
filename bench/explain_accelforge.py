"""The differences in bench/RESULTS_accelforge.md, taken apart with numbers from the run.

Used by bench/bench_accelforge.py. For every row: the cycles split into what each tool counts
(dlaforge's closed forms, sim/array_cost.py for row stationary and docs/controller.md for the
ws controller, recomputed here from the mapping and checked against dlaforge's figure), and
every access count that differs, with its energy (dlaforge's pJ per access) and its cause. A
cause is stated only where the numbers check it (the check is printed); otherwise the row
says "not explained".
"""

from __future__ import annotations

from math import ceil, prod


def _edges(n: int, t: int):
    """(tile size, how many) of a dimension of `n` cut in tiles of `t`."""
    out = [(t, n // t)] if n // t else []
    return out + ([(n % t, 1)] if n % t else [])


def _fmt(x) -> str:
    return f"{x:,.0f}"


def rs_cycles(layer, spec, m):
    """dlaforge's row-stationary compute cycles of the mapping (sim/array_cost.py), split into
    the PE slots (Q x S x the channels x filters a PE walks per pass: q and pf in a full pass,
    its set's share of a partial one) and the fill (the fold's rows + columns per pass)."""
    pe, t, g = spec.pe_array, m["tile"], m["row_stationary"]
    slots = fill = 0

    def walked(size, sets, per_pe):     # a PE's walk over one tile's passes along a dim
        full, rest = divmod(size, sets * per_pe)
        return full * per_pe + ceil(rest / sets), ceil(size / (sets * per_pe))
    for kt, nk in _edges(layer.K, t["K"]):
        for ct, nc in _edges(layer.C, t["C"]):
            for pt, np_ in _edges(layer.P, t["P"]):
                n = nk * nc * np_
                r_folds, p_folds = ceil(layer.R / pe.rows), ceil(pt / pe.cols)
                (pf, k_passes), (q, c_passes) = (walked(kt, g["tk"], g["pf"]),
                                                 walked(ct, g["tc"], g["q"]))
                slots += n * r_folds * p_folds * layer.Q * layer.S * q * pf
                fill += n * c_passes * k_passes * (p_folds * layer.R + r_folds * pt)
    return slots, fill


def ws_cycles(layer, spec, m):
    """dlaforge's ws controller busy cycles (docs/controller.md: F_i folds of 2*rows + cols +
    n_px + 1 cycles), split into the streaming cycles (n_px per fold) and the fold overhead
    (weight preload and skew, 2*rows + cols + 1 per fold)."""
    pe, t = spec.pe_array, m["tile"]
    slots = fill = 0
    for kt, nk in _edges(layer.K, t["K"]):
        for ct, nc in _edges(layer.C, t["C"]):
            for pt, np_ in _edges(layer.P, t["P"]):
                for qt, nq in _edges(layer.Q, t["Q"]):
                    n = nk * nc * np_ * nq
                    folds = ceil(kt / pe.cols) * ceil(ct / pe.rows) * layer.R * layer.S
                    slots += n * folds * pt * qt
                    fill += n * folds * (2 * pe.rows + pe.cols + 1)
    return slots, fill


def _time_ratio(n, tile, cap, per_pe):
    """Along one dim cut in tiles of `tile`, dlaforge's pass time over AccelForge's. A pass
    spreads up to `cap` of the dim over PE sets, each PE walking `per_pe` of it in time
    (row stationary: K over tk sets of pf filters, C over tc sets of q channels, P over the
    columns with per_pe 1). dlaforge: every tile whole, its full passes per_pe each and a
    partial last pass its share over the sets (ceil). AccelForge: its tile loop prorated
    (n / tile trips of the full tile), a tile over `cap` in tile / cap passes, a tile within
    one pass min(tile, per_pe) (its spatial loop uses only the sets the tile fills)."""
    sets = cap // per_pe
    ours = sum(count * ((size // cap) * per_pe + ceil(size % cap / sets))
               for size, count in _edges(n, tile))
    theirs = n / tile * (tile / cap * per_pe if tile > cap else min(tile, per_pe))
    return ours / theirs


def slot_ratios(layer, spec, m, df) -> dict:
    """Per dim, dlaforge's PE-slot cycles over AccelForge's MAC cycles (their product is the
    whole ratio)."""
    pe, t = spec.pe_array, m["tile"]
    if df == "rs":
        g = m["row_stationary"]
        return {"K": _time_ratio(layer.K, t["K"], g["tk"] * g["pf"], g["pf"]),
                "C": _time_ratio(layer.C, t["C"], g["tc"] * g["q"], g["q"]),
                "P": _time_ratio(layer.P, t["P"], pe.cols, 1)}
    return {"K": _time_ratio(layer.K, t["K"], pe.cols, 1),
            "C": _time_ratio(layer.C, t["C"], pe.rows, 1)}


def _imperfect(layer, m) -> list[str]:
    t = m["tile"]
    full = {"K": layer.K, "C": layer.C, "P": layer.P, "Q": layer.Q}
    return [f"{d} {full[d]} in tiles of {t[d]}" for d in "KCPQ" if full[d] % t[d]]


def _pj_per_element(row, level, operand):
    spec, table, pe = row["spec"], row["table"], row["spec"].pe_array
    bits = {"ifmap": pe.ifmap_bits, "weight": pe.weight_bits, "ofmap": pe.ofmap_bits}[operand]
    if level == "dram":
        return table.dram_read_pj_per_bit * bits, table.dram_write_pj_per_bit * bits
    mem = next(x for x in spec.memory if x.name == level)
    if operand == "ofmap" and not mem.per_pe and row["dataflow"] != "rs":
        bits = pe.psum_bits
    f = bits / mem.word_bits
    return table.read_pj_per_word[level] * f, table.write_pj_per_word[level] * f


def explain_row(row, acc) -> list[str]:
    layer, spec, d, a = row["layer"], row["spec"], row["dlaforge"], row["accelforge"]
    pe, m, df = spec.pe_array, d["mapping"], row["dataflow"]
    out = ["Differences, taken apart:", ""]
    # --- cycles -------------------------------------------------------------------------
    slots, fill = (rs_cycles if df == "rs" else ws_cycles)(layer, spec, m)
    mac = a["latency_cycles"]["MAC"]
    residual = d["compute_cycles"] - slots - fill
    what = ("Q·S x the filters and channels a PE walks, per pass" if df == "rs"
            else "n_px per fold")
    out.append(f"- Compute cycles: dlaforge {_fmt(d['compute_cycles'])} = PE slots "
               f"{_fmt(slots)} ({what}) + fill/drain {_fmt(fill)} "
               f"({'rows + columns of the fold per pass' if df == 'rs' else '2·rows + cols + 1 per fold: weight preload and skew'})"
               + (f" + {_fmt(residual)} not recomputed here" if residual else " (recomputed "
                  "here from the mapping: exact)")
               + f". AccelForge's MAC latency {_fmt(mac)} is MACs / PEs of the mapping's full "
               f"tile: it has no fill/drain (a loop-nest model, no pipeline).")
    idle = slots - mac
    if abs(idle) > 0.5:
        dims = slot_ratios(layer, spec, m, df)
        predicted = mac * prod(dims.values())
        ok = abs(predicted - slots) < 1e-6 * slots
        parts = ", ".join(f"{d} x{r:.4f}" for d, r in dims.items() if abs(r - 1) > 1e-9)
        out.append(
            f"- PE slots / AccelForge's MAC latency = {slots / mac:.4f} = {parts or 'none'} "
            f"({'checked: exact' if ok else f'predicted {_fmt(predicted)}: not exact'}). "
            "Along a dim, dlaforge counts every tile whole: a partial last tile, or a tile "
            "that overflows a pass by a little, takes a pass of its own (a row-stationary PE "
            "walks its set's share of the pass's filters and channels; an output-row fold "
            "takes its whole time). AccelForge prorates its tile loops (a partial tile costs its share) and a "
            "tile within one pass uses only the PE sets it fills.")
    # total cycles
    lat = a["latency_cycles"]
    slowest = max(lat, key=lat.get)
    glb = next(x for x in spec.memory if not x.per_pe)
    stalls = (("its tile pipeline's bounds, sim/analytical.py: first load and DRAM latency, "
               "the channel (every transfer, and the last tile's load after all but the last "
               "three tiles' write-backs), refills, last drain"
               + ("; the GLB is single-buffered (one tile in its "
                  f"{glb.size_bytes // 1024} KB, no ping-pong halves), and the model still "
                  "overlaps DRAM with compute, as the preset states" if not glb.double_buffered
                  else "")) if df == "rs" else "the ws controller's DRAM engine, docs/controller.md: "
              "a tile's loads, the previous tiles' write-backs and the compute overlap only "
              "as far as its two buffer halves allow")
    out.append(f"- Total: dlaforge {_fmt(d['cycles'])} = compute + {_fmt(d['stall_cycles'])} "
               f"stall cycles ({stalls}). AccelForge {_fmt(a['cycles'])} = its slowest "
               f"component, {slowest} (" + ", ".join(f"{k} {_fmt(v)}" for k, v in lat.items()
                                                    if v) + "), all overlapped"
               + ("; its GlobalBuffer time includes the ifmap reads it makes without "
                  "Eyeriss's multicast (below)." if slowest == "GlobalBuffer" and df == "rs"
                  else "; MainMemory time is bytes / the spec's DRAM bytes per cycle, with no "
                  "latency." if slowest == "MainMemory" else "."))
    # --- energy -------------------------------------------------------------------------
    b = d["energy_breakdown_pj"]
    ours_t, theirs_t = per_cycle_energy(row)
    if ours_t or theirs_t:
        from accelforge_specs import per_cycle_pj
        pj = per_cycle_pj(row["table"])
        ratio_ok = abs(ours_t / theirs_t - d["cycles"] / a["cycles"]) < 1e-6 if theirs_t else False
        out.append(f"- Per-cycle energy (dlaforge's clock/control/leakage, "
                   f"{pj:g} pJ per cycle, given to AccelForge as MainMemory leak power "
                   f"{pj * 1e-12 * row['spec'].clock_mhz * 1e6:.4g} W): dlaforge "
                   f"{ours_t / 1e6:.3f} uJ over its {_fmt(d['cycles'])} cycles, AccelForge "
                   f"{theirs_t / 1e6:.3f} uJ over its {_fmt(a['cycles'])}: the same rate, so "
                   f"their ratio {ours_t / theirs_t:.4f} is the ratio of total cycles "
                   f"({'checked: exact' if ratio_ok else 'NOT equal to the cycles ratio'}); "
                   f"the difference is the total-cycle difference above, not an energy model's.")
    if b.get("noc"):
        out.append(f"- NoC {b['noc'] / 1e6:.3f} uJ: dlaforge prices operand moves between "
                   f"PEs / from the bus ({row['table'].noc_pj_per_bit:.4g} pJ/bit/hop); the "
                   f"AccelForge arch here has no network component, so it counts none.")
    diffs = []
    for level, ops in d["accesses"].items():
        for operand, rw in ops.items():
            theirs = acc.get(level, {}).get(operand, {"reads": 0, "writes": 0})
            rd_pj, wr_pj = _pj_per_element(row, level, operand)
            for kind, pj in (("reads", rd_pj), ("writes", wr_pj)):
                delta = rw[kind] - theirs[kind]
                if delta and abs(delta) > 1e-6 * max(rw[kind], 1):
                    diffs.append((level, operand, kind, rw[kind], theirs[kind], delta * pj))
    for level, operand, kind, ours, theirs, pj in diffs:
        out.append(f"- {level} {operand} {kind}: dlaforge {_fmt(ours)}, AccelForge "
                   f"{_fmt(theirs)} ({pj / 1e6:+.3f} uJ for dlaforge): "
                   f"{cause(row, acc, level, operand, kind, ours, theirs)}")
    # DRAM bytes beside the three operands (the ws controller's requant parameter table)
    bits = {"ifmap": pe.ifmap_bits, "weight": pe.weight_bits, "ofmap": pe.ofmap_bits}
    dram_acc = d["accesses"].get("dram", {})
    extra_pj = 0.0
    for key, kind, pj_bit in (("dram_read_bytes", "reads", row["table"].dram_read_pj_per_bit),
                              ("dram_write_bytes", "writes",
                               row["table"].dram_write_pj_per_bit)):
        operand_bytes = sum(rw[kind] * bits[o] for o, rw in dram_acc.items()) / 8
        extra = d.get(key, operand_bytes) - operand_bytes
        if extra >= 1:
            extra_pj += extra * 8 * pj_bit
            out.append(f"- DRAM {kind[:-1]} bytes beside the operands: dlaforge moves "
                       f"{_fmt(d[key])} bytes, its ifmap/weight/ofmap counts above make "
                       f"{_fmt(operand_bytes)}; the other {_fmt(extra)} "
                       f"({extra / layer.K:.3g} per output channel) are "
                       + ("the requant parameter table the ws controller fetches per k tile "
                          "(its head and per-channel entries, sim/controller_cost.py)"
                          if df != "rs" else "not attributed here")
                       + f" ({extra * 8 * pj_bit / 1e6:+.3f} uJ for dlaforge); AccelForge's "
                       f"workload has no such tensor.")
    # the requantization stage of the controller's outputs (ws; sim/controller_cost.py)
    requant = b.get("requant", 0)
    if requant:
        out.append(f"- Requantization stage: dlaforge {requant / 1e6:.3f} uJ, the generated "
                   f"stage (hw/requant.Requantizer: a (psum+1)x16 multiply, adds, rounding "
                   f"shift, clamp) on each of its {_fmt(layer.K * layer.P * layer.Q)} "
                   f"outputs ({requant / (layer.K * layer.P * layer.Q):.4g} pJ each, "
                   f"sim/controller_stats.requant_stage_pj); AccelForge's workload has no "
                   f"requantization.")
    row["items"] = sorted([(f"{lv} {op} {kind}", pj) for lv, op, kind, _, _, pj in diffs]
                          + [("NoC (dlaforge only)", b.get("noc", 0)),
                             ("requantization stage (dlaforge only)", requant)],
                          key=lambda x: -abs(x[1]))
    mac_gap = b.get("mac", 0) - sum(v for k, v in a["energy_pj"].items() if k.startswith("MAC|"))
    explained = sum(x[5] for x in diffs) + b.get("noc", 0) + mac_gap + extra_pj + requant
    d_dyn, a_dyn = dynamic_energy(row)
    gap = d_dyn - a_dyn
    out.append(f"- Energy of actions: dlaforge {d_dyn / 1e6:.3f} uJ, AccelForge "
               f"{a_dyn / 1e6:.3f} uJ, gap {gap / 1e6:+.3f} uJ; the items above (access "
               f"differences x dlaforge's pJ per access, NoC, MAC, DRAM bytes beside the "
               f"operands, the requantization stage) sum to "
               f"{explained / 1e6:+.3f} uJ"
               + (" (reconciled)" if abs(gap - explained) <= 1e-3 * max(abs(gap), d_dyn * 1e-3)
                  else f": {(gap - explained) / 1e6:+.3f} uJ NOT accounted for") + ".")
    out.append("- MAC energy: equal (same MAC count, same pJ per MAC)." if
               abs(b.get("mac", 0) - sum(v for k, v in a["energy_pj"].items()
                                         if k.startswith("MAC|"))) < 1e-3 * b.get("mac", 1)
               else "- MAC energy differs: not explained.")
    return out


PER_CYCLE = ("clock", "control")


def dynamic_energy(row) -> tuple[float, float]:
    """(dlaforge, AccelForge) energy of actions (pJ): all but the per-cycle energy."""
    d, a = row["dlaforge"], row["accelforge"]
    ours = sum(v for k, v in d["energy_breakdown_pj"].items() if k not in PER_CYCLE)
    theirs = sum(v for k, v in a["energy_pj"].items() if k.split("|")[2] != "leak")
    return ours, theirs


def per_cycle_energy(row) -> tuple[float, float]:
    """(dlaforge, AccelForge) per-cycle energy (pJ): dlaforge's clock, control and leakage;
    AccelForge's leak energy (the same pJ per cycle as a power, x its latency)."""
    d, a = row["dlaforge"], row["accelforge"]
    ours = d["energy_pj"] - dynamic_energy(row)[0]
    theirs = sum(v for k, v in a["energy_pj"].items() if k.split("|")[2] == "leak")
    return ours, theirs


def cause(row, acc, level, operand, kind, ours, theirs) -> str:
    layer, spec, df, m = row["layer"], row["spec"], row["dataflow"], row["dlaforge"]["mapping"]
    pe = spec.pe_array
    per_pe = {x.name for x in spec.memory if x.per_pe}
    glb = next(x.name for x in spec.memory if not x.per_pe)
    imperfect = _imperfect(layer, m)
    frac = ("; AccelForge prorates the trips of a partially filled last tile (" +
            "; ".join(imperfect) + "), dlaforge counts whole tiles") if imperfect else ""
    pad = getattr(layer, "padding", 0)
    if df == "ws" and layer.C < pe.rows and (
            (level == glb and operand in ("ifmap", "weight") and kind == "reads")
            or (level in per_pe and operand == "weight" and kind == "writes")):
        ratio = ours / theirs if theirs else float("inf")
        return (f"lane padding: C={layer.C} channels on {pe.rows} rows, dlaforge's controller "
                f"reads whole {pe.rows}-lane words (zeros fed to the idle rows) and counts "
                f"every lane; AccelForge counts only the {layer.C} used. Ratio {ratio:.2f} vs "
                f"{pe.rows}/{layer.C} = {pe.rows / layer.C:.2f}{frac}.")
    if df == "rs" and ((level in per_pe and operand == "ifmap" and kind == "reads")
                       or (level in per_pe and operand == "weight" and kind == "writes")):
        g, t = m["row_stationary"], m["tile"]

        def padded(n, tile, per_pass):      # slots over the dimension's tiles / its size
            return sum(count * ceil(size / per_pass) * per_pass
                       for size, count in _edges(n, tile)) / n
        slots = (padded(layer.K, t["K"], g["tk"] * g["pf"])
                 * padded(layer.C, t["C"], g["tc"] * g["q"]))
        observed = max(ours, theirs) / min(ours, theirs) if min(ours, theirs) else 0
        if slots > 1 and abs(observed - slots) < 1e-3 * slots:
            more = "dlaforge" if ours > theirs else "AccelForge"
            return (f"idle slots: a pass has tk·pf = {g['tk'] * g['pf']} filter and tc·q = "
                    f"{g['tc'] * g['q']} channel slots (tiles of K {t['K']}, C {t['C']} of "
                    f"{layer.K}, {layer.C}); {more} counts this access for every slot of every "
                    f"pass, the other tool for the filters and channels present (ratio "
                    f"{observed:.4f} = slots / present, checked).")
    if df == "rs" and level in per_pe and operand == "ifmap" and kind == "writes":
        spad = next(x for x in spec.memory if x.name == level)
        row_len = (layer.Q - 1) * layer.stride + layer.S
        predicted = layer.Q * layer.S / row_len
        observed = theirs / ours if ours else 0
        check = (f"ratio {observed:.4f} = Q·S / row, checked" if abs(observed - predicted)
                 < 1e-3 * predicted else f"ratio {observed:.4f}, Q·S / row = {predicted:.4f}")
        return (f"sliding window: dlaforge loads each ifmap row once per PE per pass "
                f"(({layer.Q}-1)·stride + S = {row_len} values per row) and slides it through "
                f"the {spad.size_bytes * 8 // spad.word_bits}-entry spad; AccelForge re-fills "
                f"the S={layer.S}-value window for every output column (Q·S = "
                f"{layer.Q * layer.S} per row): its tile model has no sliding-window reuse in a "
                f"buffer smaller than a row ({check}){frac}.")
    if df == "rs" and level == glb and operand == "ifmap" and kind == "reads":
        spad = next(x for x in per_pe if "ifmap" in x)
        fills = acc.get(spad, {}).get("ifmap", {}).get("writes")
        check = ("equal to its ifmap spad fills (checked)" if fills == theirs
                 else f"its ifmap spad fills are {_fmt(fills or 0)}")
        return (f"multicast: dlaforge sends each ifmap row once per pass to all the PEs of its "
                f"diagonal (Eyeriss's ifmap reuse); AccelForge's spatial reuse is per array "
                f"dimension (columns share weights, rows reduce outputs), so it reads the buffer "
                f"for every PE's fill: {check}{frac}.")
    if df == "rs" and level in per_pe and operand == "ofmap":
        g = m["row_stationary"]
        c_passes = layer.C / (g["tc"] * g["q"]) if not layer.C % m["tile"]["C"] else None
        reducing = min(layer.R, pe.rows) * g["tc"]
        outputs = layer.K * layer.P * layer.Q
        if c_passes:
            predicted = (c_passes - 1) * reducing * outputs
            ok = abs((theirs - ours) - predicted) < 1e-6 * max(theirs, 1)
            return (f"psum reloads: AccelForge refills the partial sum into the psum spad of "
                    f"each of the {reducing} reducing PEs (R x tc) at every channel pass after "
                    f"the first, (passes - 1) x {reducing} x K·P·Q = {_fmt(predicted)} more "
                    f"({'checked: exact' if ok else 'observed ' + _fmt(theirs - ours)}); "
                    f"dlaforge counts one psum read and one write per MAC and no refill.")
        return ("psum reloads at each channel pass (AccelForge refills every reducing PE's psum "
                f"spad; dlaforge counts one read and one write per MAC){frac}; not checked "
                f"exactly here (C {layer.C} is cut in uneven tiles).")
    if level == "dram" and operand == "ifmap" or (level == glb and operand == "ifmap"
                                                  and kind == "writes"):
        padded = ((layer.P - 1) * layer.stride + layer.R, (layer.Q - 1) * layer.stride
                  + layer.S)
        return (f"input halo and padding: AccelForge's input tensor is the padded "
                f"{padded[0]}x{padded[1]} window space (padding {pad} counted as data), "
                f"dlaforge fetches only the image's {layer.H}x{layer.W} pixels (plus the halo "
                f"rows between tiles) and makes the padding on chip{frac}.")
    if df == "rs" and operand == "weight" and ((level in per_pe and kind == "writes")
                                               or (level == glb and kind == "reads")):
        passes = slot_ratios(layer, spec, m, df)["P"]
        observed = ours / theirs if theirs else 0
        if passes != 1 and abs(observed - passes) < 1e-6 * passes:
            cols = pe.cols
            return (f"weights per pass: dlaforge loads a PE's filter rows from the buffer once "
                    f"per pass, and a tile of {m['tile']['P']} output rows on {cols} columns "
                    f"takes {ceil(m['tile']['P'] / cols)} passes (a partial last pass whole); "
                    f"AccelForge prorates its output-row loop (ratio {observed:.4f} = the "
                    f"passes' ratio, checked){frac}.")
    if imperfect:
        return _edge_ratio(layer, m, ours, theirs)
    return "not explained."


def _edge_ratio(layer, m, ours, theirs) -> str:
    """Which tool counts whole edge tiles: the dims whose ceil(n/t)·t/n product is the ratio."""
    from itertools import combinations
    t = m["tile"]
    full = {"K": layer.K, "C": layer.C, "P": layer.P, "Q": layer.Q}
    dims = [d for d in "KCPQ" if full[d] % t[d]]
    observed = max(ours, theirs) / min(ours, theirs) if min(ours, theirs) else 0
    more = "dlaforge" if ours > theirs else "AccelForge"
    for n in range(1, len(dims) + 1):
        for subset in combinations(dims, n):
            ratio = prod(ceil(full[d] / t[d]) * t[d] / full[d] for d in subset)
            if abs(ratio - observed) < 2e-4 * ratio:
                what = ", ".join(f"{d} {full[d]} in tiles of {t[d]}: ceil = "
                                 f"{ceil(full[d] / t[d])} trips, not {full[d] / t[d]:.3g}"
                                 for d in subset)
                return (f"edge tiles: {more} counts this access over whole trips ({what}); "
                        f"the other tool counts the partial last tile as a fraction of a trip "
                        f"(ratio {observed:.4f}, checked).")
    return (f"edge tiles ({'; '.join(_imperfect(layer, m))}): the tools count partial last "
            f"tiles differently (ratio {observed:.4f}; not matched exactly here).")


def general_notes(rows) -> list[str]:
    from accelforge_specs import per_cycle_pj
    per_cycle = sorted({(r["arch"], per_cycle_pj(r["table"])) for r in rows
                        if per_cycle_pj(r["table"])})
    glb = {r["arch"]: next(x for x in r["spec"].memory if not x.per_pe) for r in rows}
    features = sorted({r["arch"] for r in rows if r["spec"].pe_array.zero_gating
                       or r["spec"].dram.compression != "none"})
    notes = ["## What the two models share and where they part", "",
             "- Same arch numbers: array shape, buffer sizes and word widths, bandwidths (as "
             "AccelForge `total_latency` expressions), clock, and dlaforge's pJ per access for "
             "every level (bench/accelforge_specs.py writes them from the preset and "
             "dlaforge's energy table). AccelForge gets area 0 and leakage 0 but for "
             "dlaforge's per-cycle energy"
             + (" (" + ", ".join(f"{a}: {pj:g} pJ per cycle" for a, pj in per_cycle) + ")"
                if per_cycle else "")
             + ", which it is given as MainMemory leak power (pJ per cycle x clock): both tools "
             "then charge it x their own total cycles. The like-for-like energy figure is the "
             "energy of actions (MAC, per-PE storage, NoC, global buffer, DRAM); the per-cycle "
             "energy is listed apart, and its gap is exactly the total-cycle gap.",
             "- Global buffer: "
             + "; ".join(f"{a}: {g.size_bytes // 1024} KB, "
                         + ("double-buffered (a tile fits half of it in dlaforge's mapper)"
                            if g.double_buffered else "single-buffered (a tile fits all of it)")
                         for a, g in glb.items())
             + ". AccelForge checks every mapping against the whole buffer's size, the same "
             "bound as dlaforge's for a single-buffered level.",
             "- Same loop nest: dlaforge's tiles and loop order at the DRAM level, each tensor "
             "kept in the buffer under its innermost relevant loop (dlaforge's reuse rule); the "
             "row-stationary passes (R rows x output-row columns x tc x tk sets, q channels x pf "
             "filters per PE) or the ws controller's folds (rows reduce channels, columns hold "
             "filters, r and s in time) below it.",
             "- AccelForge has no notion of a systolic or row-stationary pipeline (fill, "
             "drain, weight preload), of the Eyeriss diagonal ifmap multicast, of the NoC "
             "energy dlaforge prices, or of a controller that reads whole array-wide words; "
             "dlaforge has no notion of AccelForge's fractional trips for a partial last tile."]
    if features:
        notes.append(f"- {', '.join(features)}: zero gating and zero-RLE DRAM compression are "
                     "on in the preset but act only on a layer's stated share of zeros "
                     "(Layer.ifmap_zeros / ofmap_zeros); every layer here states none (checked "
                     "by the bench), so neither changes a count or an energy, and AccelForge "
                     "(dense) is given none.")
    return notes + [""]


def label_of(row) -> str:
    name = row["layer"].name
    return name if row["how"].startswith("dlaforge's mapper (energy)") else \
        f"{name}, {row['how']}"
