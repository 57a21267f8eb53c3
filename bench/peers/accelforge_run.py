"""Evaluate fixed mappings with AccelForge 1.0.467; print one JSON object on stdout.

Runs inside AccelForge's own venv (bench/_work/accelforge-venv, Python 3.12), started by
bench/bench_accelforge.py, which writes the job file: a JSON list of cases, each
{"id", "dir", "clock_hz", "repeats", "area": bool}, where `dir` holds arch.yaml, workload.yaml
and mapping.yaml (and, when "area" is true, area_arch.yaml: the same arch with AccelForge's own
component models, whose per-component area is reported).

    <accelforge-venv>/bin/python bench/peers/accelforge_run.py JOB.json

Per case: energies in pJ per (component, tensor, action), action counts, latency per component
in cycles (latency x clock), the total, the wall time of every repeat of Spec.from_yaml +
evaluate_mapping, and area in um^2 per component when asked. A case AccelForge refuses has
"error" (its exception, one line) instead.
"""

import json
import os
import sys
import time
from pathlib import Path

from accelforge.frontend.spec import Spec
from accelforge.model.main import evaluate_mapping
from accelforge.util.parallel import set_n_parallel_jobs

set_n_parallel_jobs(1)


def evaluate(folder: Path):
    spec = Spec.from_yaml(folder / "arch.yaml", folder / "workload.yaml",
                          folder / "mapping.yaml")
    return evaluate_mapping(spec)


def area_um2(folder: Path) -> dict:
    spec = Spec.from_yaml(folder / "area_arch.yaml", folder / "workload.yaml",
                          folder / "mapping.yaml")
    spec = spec.calculate_component_costs(area=True, energy=True, throughput=False, leak=True)
    out = {}
    for node in spec.arch.get_nodes_of_type(__import__("accelforge").frontend.arch.Component):
        total = getattr(node, "total_area", None)
        if total is not None:
            sram = getattr(getattr(node, "component_model", None), "sram", None)
            copies = float(total) / float(node.area) if node.area else 1.0
            out[node.name] = {"area_um2": float(total) * 1e12,
                              "sram_area_um2": float(sram.area) * copies * 1e12
                              if sram is not None else None,
                              "energy_pj": {a.name: float(a.energy) * 1e12
                                            for a in node.actions if a.energy is not None},
                              "leak_mw": float(getattr(node, "total_leak_power", 0) or 0) * 1e3}
    return out


def run_case(case: dict) -> dict:
    folder = Path(case["dir"])
    walls, result = [], None
    for _ in range(case["repeats"]):
        start = time.perf_counter()
        result = evaluate(folder)
        walls.append(time.perf_counter() - start)
    clock = case["clock_hz"]
    energy = {"|".join(map(str, k)): float(v) * 1e12
              for k, v in result.energy(per_component=True, per_tensor=True,
                                        per_action=True).items()}
    actions = {"|".join(map(str, k)): float(v)
               for k, v in result.actions(per_component=True, per_tensor=True).items()}
    latency = {k: float(v) * clock for k, v in result.latency(per_component=True).items()}
    out = {"id": case["id"], "energy_pj": energy, "actions": actions,
           "latency_cycles": latency, "cycles": float(result.latency()) * clock,
           "total_energy_pj": float(result.energy()) * 1e12, "wall_s": walls}
    if case.get("area"):
        try:
            out["components"] = area_um2(folder)
        except Exception as error:
            out["area_error"] = f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
    return out


def main() -> None:
    cases = json.loads(Path(sys.argv[1]).read_text())
    os.chdir(Path(sys.argv[1]).parent)          # its mapper writes ./mapping.svg on some paths
    results = []
    for case in cases:
        try:
            results.append(run_case(case))
        except Exception as error:              # report AccelForge's refusal, do not stop
            text = " ".join(str(error).split())[:400]
            results.append({"id": case["id"], "error": f"{type(error).__name__}: {text}"})
    print(json.dumps({"accelforge": __import__("accelforge").__version__
                      if hasattr(__import__("accelforge"), "__version__") else "?",
                      "results": results}))


if __name__ == "__main__":
    main()
