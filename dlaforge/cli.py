"""The `dlaforge` command line (DESIGN.md, "CLI").

Bad input ends with one line on stderr and exit code 2; output files are written only after
every result is in hand, through a temporary file renamed into place, so an error never leaves
a partial file (dlaforge.outputs). Ctrl-C ends with "interrupted" and exit code 130, SIGTERM
with "terminated" and exit code 143 (128 + the signal, as a shell reports it), both leaving no
output; a run that exhausts memory ends with one line and exit code 2.
"""

from __future__ import annotations

import argparse
import errno
import json
import shutil
import signal
import sys
import threading
from pathlib import Path

from . import MODELS, SIMULATORS, __version__, report, rtl_generate, rtl_verify, simulate
from .errors import RunError, SpecError, Terminated

# the arch spec (YAML), the output files and the tables are imported by the commands that use
# them: `--help` and `list` start quicker


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise SpecError(message)


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; the methods' option flags are added only for `simulate`
    (`command`), as they import every method family (a quick `--help` or `list` does not)."""
    parser = _Parser(prog="dlaforge", description="DNN accelerator co-design simulator")
    parser.add_argument("--version", action="version", version=f"dlaforge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sim = sub.add_parser("simulate", help="energy, cycles and traffic of a network on an arch")
    sim.add_argument("--arch", required=True, help="preset, arch YAML or SCALE-Sim .cfg")
    sim.add_argument("--network", required=True,
                     help="preset, SCALE-Sim topology CSV, ONNX model (.onnx) or network YAML")
    sim.add_argument("--input-shape", action="append", metavar="NAME=DxDx...",
                     help="ONNX: the shape of a graph input (repeatable), e.g. "
                          "input=1x3x224x224; needed when a dimension is dynamic")
    sim.add_argument("--skip-unsupported", action="store_true",
                     help="ONNX: leave out the operators dlaforge cannot import (listed on "
                          "stderr) instead of refusing the model")
    sim.add_argument("--dataflow", help="ws, os, is, rs or all (default: the arch's first)")
    sim.add_argument("--model", default="analytical", choices=MODELS,
                     help="analytical (default; closed form), cycle (tile by tile) or rtl "
                          "(the generated Verilog, simulated: the mapped-program controller "
                          "running the mapper's program under ws, os or is)")
    sim.add_argument("--method", default="baseline",
                     help="efficiency method (dlaforge list methods; default baseline)")
    sim.add_argument("--batch", type=int, default=1, help="images per inference (default 1)")
    sim.add_argument("--objective", default="energy", choices=("energy", "cycles", "edp"),
                     help="what the mapper minimises")
    sim.add_argument("--json", help="write the result record(s) as JSON (- for stdout, "
                                    "instead of the tables)")
    sim.add_argument("--csv", help="write per-layer rows and totals as CSV (- for stdout, "
                                   "instead of the tables)")
    sim.add_argument("--quiet", action="store_true", help="do not print the tables")
    sim.add_argument("--wide", action="store_true",
                     help="print every column of the tables on a terminal (default: those "
                          "that fit its width)")
    sim.add_argument("--schedule", choices=("mapped", "rtl"),
                     help="mapped: the mapper's tiling and loop order (default); rtl: the "
                          "first accelerator's fixed program (what the method units run)")
    sim.add_argument("--trace", type=Path, metavar="DIR",
                     help="cycle model: write DRAM and SRAM access traces (gzip CSV) into DIR")
    sim.add_argument("--precision", type=Path, metavar="POLICY.yaml",
                     help="per-layer widths for any method: a YAML of `default:` and "
                          "`layers: {name: {weight_bits, ifmap_bits}}`")
    sim.add_argument("--quant", metavar="Q",
                     help="how outputs are requantized: per_channel_symmetric (default), "
                          "per_tensor_symmetric, per_channel_asymmetric or "
                          "per_tensor_asymmetric (asymmetric activations, symmetric weights)")
    sim.add_argument("--pow2-scales", action="store_true",
                     help="power-of-two requantization scales: a shift-only stage, no "
                          "multiplier")
    sim.add_argument("--phase", default="infer", choices=("infer", "train"),
                     help="infer (default) or train: one training iteration per layer "
                          "(forward, dX, dW, weight update; analytical and cycle models)")
    sim.add_argument("--optimizer", default="sgd", choices=("sgd", "adam"),
                     help="the weight update under --phase train: sgd (with momentum, "
                          "default) or adam")
    if command == "simulate":
        _method_option_flags(sim)
    rep = sub.add_parser("report", help="HTML and Markdown report with figures comparing "
                                        "dataflows, methods and archs")
    rep.add_argument("--arch", help="comma-separated presets, arch YAMLs or SCALE-Sim .cfg files")
    rep.add_argument("--network", help="preset, SCALE-Sim topology CSV, ONNX model or network "
                                       "YAML")
    rep.add_argument("--methods", help="comma-separated methods or all (default: every method "
                                       "each arch can run)")
    rep.add_argument("--dataflows", help="comma-separated dataflows or all (default: all)")
    rep.add_argument("--model", choices=MODELS, help="default: analytical")
    rep.add_argument("--batch", type=int, help="default: 1")
    rep.add_argument("--phase", choices=("infer", "train"),
                     help="infer (default) or train: one training iteration per run")
    rep.add_argument("--optimizer", choices=("sgd", "adam"),
                     help="the weight update under --phase train (default sgd)")
    rep.add_argument("--from-json", nargs="+", type=Path, metavar="FILE",
                     help="report saved `simulate --json` records instead of running")
    rep.add_argument("--out", required=True, help="folder to write the report into")
    rep.add_argument("--no-area", action="store_true",
                     help="leave out the Yosys cell count of each arch's PE array (about a "
                          "minute for a 32x32 array the first time; cached afterwards) and "
                          "the synthesized area")
    rep.add_argument("--synth-area", action="store_true",
                     help="synthesize each arch's generated accelerator onto the Liberty "
                          "when its area (µm²) is not cached yet (minutes per arch: edge_tiny "
                          "about two); without it the report shows only cached areas")
    rtl = sub.add_parser("rtl", help="generate or verify the accelerator's Verilog")
    rtl_sub = rtl.add_subparsers(dest="rtl_command", required=True, parser_class=_Parser)
    gen = rtl_sub.add_parser("generate", help="Verilog and a JSON manifest of its ports and "
                                              "command interface")
    gen.add_argument("--arch", required=True)
    gen.add_argument("--method", default="baseline",
                     help="the method whose hardware to build (default baseline: the "
                          "mapped-program controller; others: their units in hw/methods/)")
    gen.add_argument("--out", required=True, help="folder to write into")
    gen.add_argument("--stats", action="store_true",
                     help="count cells with the built-in Yosys: the baseline's PE and whole "
                          "accelerator, a method's PE, array and units")
    ver = rtl_sub.add_parser("verify", help="corner-case and random layers vs the reference "
                                            "(and, for the baseline, the exact timing model)")
    ver.add_argument("--arch", required=True)
    ver.add_argument("--method", default="baseline",
                     help="the method whose hardware to check (default baseline)")
    ver.add_argument("--sim", choices=SIMULATORS,
                     help="default: verilator when installed for the baseline, else icarus")
    from .synth_driver import add_synth_parser
    add_synth_parser(rtl_sub)
    swp = sub.add_parser("sweep", help="design-space sweep of arch parameters into a "
                                       "resumable store, results.csv and index.html")
    swp.add_argument("spec", type=Path, help="sweep YAML: base, networks, vary, ...")
    swp.add_argument("--out", type=Path, required=True, help="folder of the store and results")
    swp.add_argument("--workers", type=int, help="local worker processes (default: cores)")
    swp.add_argument("--scheduler", metavar="ADDRESS",
                     help="run on the Dask cluster at ADDRESS (tcp://host:port)")
    lst = sub.add_parser("list", help="list presets and choices")
    lst.add_argument("what", choices=("archs", "networks", "methods", "dataflows"))
    return parser


def main(argv=None) -> int:
    previous = _raise_on_sigterm()
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        if not argv:
            print(_parser().format_help())
            return 2
        args = _parser(argv[0]).parse_args(argv)
        if args.command == "list":
            print(_listing(args.what))
            return 0
        if args.command == "report":
            return _report(args)
        if args.command == "rtl":
            return _rtl(args)
        if args.command == "sweep":
            return _sweep(args)
        return _simulate(args)
    except (SpecError, RunError) as exc:
        print(f"dlaforge: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("dlaforge: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("dlaforge: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except Exception as exc:
        if not _out_of_memory(exc):
            raise
        print("dlaforge: error: out of memory (a memory limit such as `ulimit -v` is lower "
              "than this run needs; raise it or run a smaller network, batch or arch)",
              file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _raise_on_sigterm():
    """Make SIGTERM raise Terminated (so temporary files are removed on the way out) and
    return the handler it replaced; None when not on the main thread, where Python cannot."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def terminate(signum, frame):
        raise Terminated()
    return signal.signal(signal.SIGTERM, terminate)


def _out_of_memory(exc: Exception) -> bool:
    """True for an allocation that failed: MemoryError, ENOMEM, or a tool (Yosys' WebAssembly
    runtime) reporting that it could not reserve its memory."""
    if isinstance(exc, MemoryError) or getattr(exc, "errno", None) == errno.ENOMEM:
        return True
    text = str(exc)
    return "Cannot allocate memory" in text or "mmap failed to reserve" in text


def _method_option_flags(parser) -> None:
    """A flag per option some method declares (workloads/method_options.py), from that one
    table: `--prune`, `--filter-patch`, ..."""
    from .workloads.method_options import declared
    for name, (option, methods) in sorted(declared().items()):
        default = "" if option.default is None else f" (default {option.default})"
        parser.add_argument(option.flag, dest=f"option_{name}", type=option.type,
                            metavar=option.metavar,
                            help=f"{', '.join(methods)}: {option.help}{default}")


def _method_options(args) -> dict:
    """The method options given on the command line."""
    prefix = "option_"
    return {key[len(prefix):]: value for key, value in vars(args).items()
            if key.startswith(prefix) and value is not None}


def _simulate(args) -> int:
    """Every output is checked before the run and all are published together after it."""
    from .outputs import STDOUT, Outputs
    from .reports.text import csv_text, format_table

    with Outputs() as outs:
        json_out, csv_out = outs.file(args.json, "--json"), outs.file(args.csv, "--csv")
        trace = outs.streamed_folder(args.trace, "--trace")
        with _layer_bar() as bar:
            result = simulate(args.arch, _network(args), dataflow=args.dataflow,
                              model=args.model, method=args.method, batch=args.batch,
                              objective=args.objective, trace=trace, schedule=args.schedule,
                              progress=lambda layer: bar.update(1), phase=args.phase,
                              optimizer=args.optimizer, method_options=_method_options(args),
                              precision=args.precision, quant=args.quant,
                              pow2_scales=args.pow2_scales)
        records = result if isinstance(result, list) else [result]
        payload = [r.to_json() for r in records] if isinstance(result, list) else result.to_json()
        outs.publish({**({json_out: json.dumps(payload, indent=1)} if json_out else {}),
                      **({csv_out: csv_text(records)} if csv_out else {})})
    if not args.quiet and STDOUT not in (args.json, args.csv):   # stdout holds the output
        for record in records:
            print(format_table(record, shutil.get_terminal_size().columns
                               if sys.stdout.isatty() and not args.wide else None))
    return 0


def _network(args):
    """`--network` as given, or loaded here when ONNX options apply (their warning is ours)."""
    if not args.input_shape and not args.skip_unsupported:
        return args.network
    from .workloads.networks import load_network
    from .workloads.networks.onnx_import import parse_input_shape
    shapes = dict(parse_input_shape(text) for text in args.input_shape or ())
    network = load_network(args.network, input_shapes=shapes,
                           skip_unsupported=args.skip_unsupported)
    if network.skipped:
        print(f"dlaforge: warning: left out unsupported ONNX operators "
              f"{', '.join(network.skipped)}", file=sys.stderr)
    return network


class _NoBar:
    """The progress bar when stderr is not a terminal: nothing to show."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        pass


def _layer_bar():
    """A progress bar of priced layers on stderr, shown when stderr is a terminal and the run
    takes more than a second (tqdm is imported only then)."""
    if not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm
    return tqdm(unit=" layers", file=sys.stderr, disable=not sys.stderr.isatty(), delay=1,
                leave=False)


def _report(args) -> int:
    """Progress goes to stderr, one line per run; the path of index.html to stdout."""
    index = report(args.out, arch=args.arch, network=args.network, methods=args.methods,
                   dataflows=args.dataflows, model=args.model, batch=args.batch,
                   phase=args.phase, optimizer=args.optimizer,
                   from_json=args.from_json,
                   area=False if args.no_area else "synth" if args.synth_area else True,
                   progress=lambda line: print(f"dlaforge: {line}", file=sys.stderr))
    print(index)
    return 0


def _sweep(args) -> int:
    """A progress bar on stderr when it is a terminal, a summary line on stderr, the path of
    index.html on stdout; Ctrl-C keeps the finished points in the store (exit 130)."""
    from tqdm import tqdm

    from .sweep_driver import sweep_folder
    with tqdm(unit="point", file=sys.stderr, disable=not sys.stderr.isatty(), delay=0.5) as bar:
        def progress(done, total):
            bar.reset(total=total) if done == 0 else bar.update(1)
        try:
            export = sweep_folder(args.spec, args.out, args.workers, args.scheduler, progress)
        except KeyboardInterrupt:
            export = None
    if export is None:
        print("dlaforge: sweep interrupted; finished points are in the store, rerun to resume",
              file=sys.stderr)
        return 130
    print(f"dlaforge: {export.summary()}", file=sys.stderr)
    print(export.index)
    return 0


def _rtl(args) -> int:
    """`rtl generate`: files appear only complete; `rtl verify`: a line per case on stderr,
    exit 1 if any case mismatches; `rtl synth`: area by block (dlaforge.synth_driver)."""
    if args.rtl_command == "synth":
        return args.synth_handler(args)
    if args.rtl_command == "verify":
        passed, failed = rtl_verify(args.arch, args.method, args.sim,
                                    lambda line: print(f"dlaforge: {line}", file=sys.stderr))
        print(f"{passed} passed, {failed} failed")
        return 1 if failed else 0
    generated = rtl_generate(args.arch, args.out, args.method, args.stats)
    for path in generated.files:
        print(path)
    for line in _cell_lines(generated.cells):
        print(line)
    return 0


def _cell_lines(stats: dict, prefix: str = "") -> list[str]:
    """`rtl generate --stats`: a line per counted design (total cells and its word-level
    cells: every kind, or for a design of many kinds its multipliers and a count of the rest)
    and per ratio between two of them."""
    lines = []
    for what, value in stats.items():
        if isinstance(value, dict) and "total" in value:
            kinds = {k: v for k, v in value["by_type"].items() if not k.startswith("$_")}
            if len(kinds) > 12:
                muls = {k: v for k, v in kinds.items() if k.startswith("$mul")}
                rest = sum(v for k, v in kinds.items() if k not in muls)
                kinds = {**muls, f"and {rest} other word-level cells of "
                                 f"{len(kinds) - len(muls)} kinds": ""}
            words = ", ".join(f"{k} {v}".strip() for k, v in kinds.items())
            lines.append(f"{prefix}{what}: {value['total']} cells ({words}; the rest single-bit "
                         f"gates and flip-flops)")
        elif isinstance(value, dict):
            lines += _cell_lines(value, f"{prefix}{what}.")
        elif isinstance(value, (list, tuple)):     # what the counts are of (dataflows)
            lines.append(f"{prefix}{what}: {', '.join(map(str, value))}")
        else:
            lines.append(f"{prefix}{what}: {value:.3f}")
    return lines


def _listing(what: str) -> str:
    if what == "archs":
        from .arch import list_presets, load_arch
        specs = [load_arch(name) for name in list_presets()]
        return _aligned([(a.name, f"{a.pe_array.rows}x{a.pe_array.cols}", a.pe_array.pe_kind,
                          f"{a.pe_array.ifmap_bits}b,",
                          f"dataflows {','.join(a.pe_array.dataflows)},",
                          f"{a.technology_nm} nm") for a in specs])
    if what == "networks":
        from .workloads.networks import list_networks, load_network
        networks = [load_network(n) for n in list_networks()]
        return _aligned([(n.name, f"{len(n.layers):3d} layers,", f"{n.macs / 1e9:.3f} GMAC")
                         for n in networks])
    if what == "methods":
        from .workloads.methods import METHODS
        return _aligned([(m.name, m.description) for m in METHODS.values()])
    from .arch import DATAFLOWS
    return "\n".join(DATAFLOWS)


def _aligned(rows: list[tuple[str, ...]]) -> str:
    """Rows of cells as lines, each column as wide as its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(" ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in rows)

if __name__ == "__main__":
    sys.exit(main())
