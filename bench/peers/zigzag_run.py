"""Run ZigZag 3.9.1 on its shipped ResNet-18 ONNX and tpu_like accelerator; print JSON.

Runs inside ZigZag's own venv (bench/_work/zigzag-venv), started by bench/bench_analytical.py.
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import zigzag
from zigzag.api import get_hardware_performance_zigzag

inputs = Path(zigzag.__file__).parent / "inputs"
with tempfile.TemporaryDirectory() as dump:
    start = time.perf_counter()
    energy, latency, _ = get_hardware_performance_zigzag(
        workload=str(inputs / "workload" / "resnet18.onnx"),
        accelerator=str(inputs / "hardware" / f"{sys.argv[1]}.yaml"),
        mapping=str(inputs / "mapping" / f"{sys.argv[1]}.yaml"),
        opt="energy", dump_folder=dump)
    wall = time.perf_counter() - start
print(json.dumps({"energy_pj": float(energy), "latency_cycles": float(latency), "wall_s": wall}))
