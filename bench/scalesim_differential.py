"""Random cases through SCALE-Sim 3.0 itself and through `--model cycle`, compared report by
report: a wider net than the fixtures (random arrays, buffer sizes, bandwidths, conv and GEMM
shapes, both bandwidth modes). Writes bench/RESULTS_scalesim_random.md.

    .venv/bin/python bench/scalesim_differential.py [--cases N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
import dlaforge  # noqa: E402
from scalesim_fixtures import ensure_venv, run_scalesim, write_case  # noqa: E402
from scalesim_reports import agree, side_by_side  # noqa: E402


def random_case(rng: random.Random) -> dict:
    gemm = rng.random() < 0.3
    if gemm:
        layers = [f"g{i}, {rng.randint(1, 70)}, {rng.randint(1, 70)}, {rng.randint(1, 90)},"
                  for i in range(rng.randint(1, 2))]
        topology = "Layer, M, N, K,\n" + "\n".join(layers) + "\n"
    else:
        layers = []
        for i in range(rng.randint(1, 2)):
            H, W = rng.randint(1, 20), rng.randint(1, 20)
            R, S = rng.randint(1, min(5, H)), rng.randint(1, min(5, W))
            layers.append(f"c{i}, {H}, {W}, {R}, {S}, {rng.randint(1, 24)}, "
                          f"{rng.randint(1, 40)}, {rng.randint(1, 3)},")
        topology = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                    "Channels, Num Filter, Strides,\n" + "\n".join(layers) + "\n")
    mode = rng.choice(["CALC", "USER"])
    bank_bandwidth = rng.randint(1, 10)     # SCALE-Sim asserts its banks divide it
    bank_num = rng.choice([n for n in range(1, 5) if bank_bandwidth % n == 0])
    return dict(rows=rng.randint(2, 16), cols=rng.randint(2, 16),
                dataflow=rng.choice(["os", "ws", "is"]), topology=topology, gemm=gemm,
                mode=mode, kb=rng.choice([1, 2, 8, 64]), bandwidth=rng.randint(1, 10),
                bank_bandwidth=bank_bandwidth, bank_num=bank_num)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    python = ensure_venv()
    rng = random.Random(args.seed)
    failures, compared, layers = [], 0, 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        for i in range(args.cases):
            case = random_case(rng)
            folder = Path(work) / f"case{i}"
            cfg, topo = write_case(folder, case["rows"], case["cols"], case["dataflow"],
                                   case["topology"], case["mode"], case["kb"], case["bandwidth"],
                                   case["bank_bandwidth"], case["bank_num"])
            run_scalesim(python, cfg, topo, case["gemm"], folder)
            record = dlaforge.simulate(cfg, topo, model="cycle")
            rows = side_by_side(record, folder)
            compared += len(rows)
            layers += len(record.layers)
            bad = [r for r in rows if not agree(r[2], r[3])]
            if bad:
                failures.append((case, bad))
            print(f"case {i + 1}/{args.cases}: {'MISMATCH' if bad else 'equal'}",
                  file=sys.stderr, flush=True)
    lines = ["# `--model cycle` against SCALE-Sim 3.0 on random cases", "",
             f"{args.cases} random cases (seed {args.seed}), {layers} layers, {compared} "
             f"reported quantities compared (total and stall cycles, utilization, SRAM and DRAM "
             f"counts per operand); {len(failures)} cases with a difference. "
             f"Wall time {time.perf_counter() - started:.0f} s, mostly SCALE-Sim.", ""]
    for case, bad in failures:
        lines += [f"## {case['rows']}x{case['cols']} {case['dataflow']} {case['mode']} "
                  f"{case['kb']} kB, bandwidth {case['bandwidth']}, banks "
                  f"{case['bank_num']}x{case['bank_bandwidth']}", "", "```",
                  case["topology"].rstrip(), "```", "",
                  "| layer | quantity | dlaforge | SCALE-Sim |", "|---|---|---:|---:|"]
        lines += [f"| {name} | {key} | {ours:g} | {theirs:g} |" for name, key, ours, theirs in bad]
        lines.append("")
    out = ROOT / "bench" / "RESULTS_scalesim_random.md"
    out.write_text("\n".join(lines))
    print(out)


if __name__ == "__main__":
    main()
