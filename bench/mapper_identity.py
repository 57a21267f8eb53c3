"""Bit-identity check of the analytical model and its mapper: every mapping chosen, counter,
cycle and energy of `dlaforge.simulate(...).to_json()` across networks, architectures,
dataflows and objectives, dumped as JSON (sorted keys, floats as repr: exact) and compared
byte for byte with an earlier dump. Run it before a change that must not change a result
(`dump`), and after (`check`):

    .venv/bin/python bench/mapper_identity.py dump  FILE [--quick]
    .venv/bin/python bench/mapper_identity.py check FILE [--quick]

`check` prints the first differing case and exits 1 on any difference. `--quick` covers one
network per architecture (resnet18), for a fast loop; the full set adds mobilenet_v2, vgg16
and bert_base (a transformer preset).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

ARCHS = {"edge_tiny": ("ws", "os", "is"), "tpu_like": ("ws", "os", "is"),
         "eyeriss_like": ("rs",)}
NETWORKS = ("resnet18", "mobilenet_v2", "vgg16", "bert_base")
OBJECTIVES = ("energy", "cycles", "edp")


def cases(quick: bool):
    for network in NETWORKS[:1] if quick else NETWORKS:
        for arch, dataflows in ARCHS.items():
            for dataflow in dataflows:
                for objective in OBJECTIVES:
                    yield f"{network} {arch} {dataflow} {objective}", dict(
                        arch=arch, network=network, dataflow=dataflow, objective=objective)


def run(quick: bool) -> dict:
    from dlaforge import simulate

    out = {}
    for name, kwargs in cases(quick):
        start = time.perf_counter()
        record = simulate(model="analytical", **kwargs).to_json()
        record.pop("dlaforge_version", None)
        out[name] = json.dumps(record, sort_keys=True)
        print(f"{name}: {time.perf_counter() - start:.2f} s", file=sys.stderr)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=("dump", "check"))
    parser.add_argument("file")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    results = run(args.quick)
    if args.action == "dump":
        with open(args.file, "w") as f:
            json.dump(results, f)
        print(f"{len(results)} cases written to {args.file}")
        return 0
    with open(args.file) as f:
        before = json.load(f)
    differ = [name for name in results if before.get(name) != results[name]]
    if differ:
        name = differ[0]
        a, b = before.get(name) or "", results[name]
        at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        print(f"{len(differ)} of {len(results)} cases differ, first {name!r} at char {at}:\n"
              f"before: {a[max(0, at - 200):at + 200]}\nafter:  {b[max(0, at - 200):at + 200]}")
        return 1
    print(f"all {len(results)} cases identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
