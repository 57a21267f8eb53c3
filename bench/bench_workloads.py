"""Benchmark: workloads from the ecosystem (issue 15). Writes bench/RESULTS_workloads.md.

1. ONNX import time: a BERT-base encoder written here as an ONNX graph the way exporters
   write it (MatMul with weights, bias Add, Reshape/Transpose into heads, MatMul of two
   activations, Softmax, LayerNormalization, Gelu; weights in absent external data, so the
   file holds shapes only), 12 layers on 128 tokens; and ZigZag 3.9.1's shipped models when
   `ZIGZAG_WORKLOADS` names their folder. Median of 5 imports (`read_onnx`, skip_unsupported),
   and the imported MACs beside the preset's.
2. `simulate` on `llama32_1b_prefill` on tpu_like for each model level, and the cycle model
   under the RTL's schedule (one process each, wall time including start-up).

    .venv/bin/python bench/bench_workloads.py
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from dlaforge.workloads.networks import load_network
from dlaforge.workloads.networks.onnx_import import read_onnx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS_workloads.md"


def _absent(name: str, *dims: int) -> TensorProto:
    """An initializer whose data lives in a file that is not there (shape only)."""
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims,
                         data_location=TensorProto.EXTERNAL)
    for key, value in (("location", "absent.bin"), ("offset", "0"), ("length", "0")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def bert_onnx(layers=12, tokens=128, width=768, heads=12, mlp=3072) -> onnx.ModelProto:
    nodes, inits = [], []
    head_dim = width // heads
    for shape_name, shape in (("to_heads", [1, tokens, heads, head_dim]),
                              ("to_width", [1, tokens, width])):
        inits.append(numpy_helper.from_array(np.array(shape, np.int64), shape_name))

    def linear(x, name, d_in, d_out):
        inits.extend([_absent(f"{name}.weight", d_in, d_out), _absent(f"{name}.bias", d_out)])
        nodes.append(helper.make_node("MatMul", [x, f"{name}.weight"], [f"{name}.mm"], name=name))
        nodes.append(helper.make_node("Add", [f"{name}.mm", f"{name}.bias"], [f"{name}.out"],
                                      name=f"{name}.bias_add"))
        return f"{name}.out"

    def to_heads(x, name, perm):
        nodes.append(helper.make_node("Reshape", [x, "to_heads"], [f"{name}.r"], name=f"{name}.r"))
        nodes.append(helper.make_node("Transpose", [f"{name}.r"], [f"{name}.t"],
                                      name=f"{name}.t", perm=perm))
        return f"{name}.t"

    def norm(x, name):
        inits.extend([_absent(f"{name}.weight", width), _absent(f"{name}.bias", width)])
        nodes.append(helper.make_node("LayerNormalization", [x, f"{name}.weight", f"{name}.bias"],
                                      [f"{name}.out"], name=name, axis=-1))
        return f"{name}.out"

    x = "hidden"
    for i in range(layers):
        p = f"encoder.layer.{i}"
        q = to_heads(linear(x, f"{p}.attention.self.query", width, width), f"{p}.q", [0, 2, 1, 3])
        k = to_heads(linear(x, f"{p}.attention.self.key", width, width), f"{p}.k", [0, 2, 3, 1])
        v = to_heads(linear(x, f"{p}.attention.self.value", width, width), f"{p}.v", [0, 2, 1, 3])
        nodes.append(helper.make_node("MatMul", [q, k], [f"{p}.scores"], name=f"{p}.attention.scores"))
        nodes.append(helper.make_node("Softmax", [f"{p}.scores"], [f"{p}.probs"],
                                      name=f"{p}.softmax", axis=-1))
        nodes.append(helper.make_node("MatMul", [f"{p}.probs", v], [f"{p}.ctx"],
                                      name=f"{p}.attention.context"))
        nodes.append(helper.make_node("Transpose", [f"{p}.ctx"], [f"{p}.ctx_t"],
                                      name=f"{p}.ctx_t", perm=[0, 2, 1, 3]))
        nodes.append(helper.make_node("Reshape", [f"{p}.ctx_t", "to_width"], [f"{p}.ctx_w"],
                                      name=f"{p}.ctx_w"))
        out = linear(f"{p}.ctx_w", f"{p}.attention.output.dense", width, width)
        nodes.append(helper.make_node("Add", [out, x], [f"{p}.res1"], name=f"{p}.res1"))
        x1 = norm(f"{p}.res1", f"{p}.attention.output.LayerNorm")
        h = linear(x1, f"{p}.intermediate.dense", width, mlp)
        nodes.append(helper.make_node("Gelu", [h], [f"{p}.gelu"], name=f"{p}.gelu"))
        out = linear(f"{p}.gelu", f"{p}.output.dense", mlp, width)
        nodes.append(helper.make_node("Add", [out, x1], [f"{p}.res2"], name=f"{p}.res2"))
        x = norm(f"{p}.res2", f"{p}.output.LayerNorm")
    graph = helper.make_graph(
        nodes, "bert_base_encoder",
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [1, tokens, width])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])


def time_import(path: Path) -> tuple[float, int, int, list]:
    """(median seconds, layers, MACs, operators left out) of importing `path`."""
    times = []
    for _ in range(5):
        start = time.perf_counter()
        layers, skipped = read_onnx(path, skip_unsupported=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(layers), sum(l.macs for l in layers), skipped


SIMULATE = """
import json, sys, time
start = time.perf_counter()
import dlaforge
from dlaforge.errors import SpecError
try:
    r = dlaforge.simulate("tpu_like", "llama32_1b_prefill", model=sys.argv[1],
                          schedule=sys.argv[2] or None)
    t = r.totals
    out = {"cycles": t.cycles, "utilization": t.utilization, "energy_uj": t.energy_pj / 1e6,
           "dram_mib": (t.dram_read_bytes + t.dram_write_bytes) / 2**20}
except SpecError as exc:
    out = {"refused": str(exc)}
out["seconds"] = time.perf_counter() - start
print(json.dumps(out))
"""


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        bert = Path(tmp) / "bert_base_encoder.onnx"
        onnx.save(bert_onnx(), str(bert))
        preset = load_network("bert_base")
        encoder_macs = sum(l.macs for l in preset.layers if not l.name.startswith("pooler"))
        rows.append(("BERT-base encoder, 128 tokens (written here)", bert.stat().st_size,
                     *time_import(bert), f"bert_base without its pooler: {encoder_macs:,}"))
    zigzag = os.environ.get("ZIGZAG_WORKLOADS")
    for file, name in (("resnet18.onnx", "resnet18"), ("mobilenetv2.onnx", "mobilenet_v2"),
                       ("alexnet.onnx", None)):
        path = Path(zigzag or "-") / file
        if path.is_file():
            same = f"{name}: {load_network(name).macs:,}" if name else "(Caffe AlexNet, no preset)"
            rows.append((f"ZigZag 3.9.1 {file}", path.stat().st_size, *time_import(path), same))
    runs = []
    for model, schedule in (("analytical", ""), ("cycle", ""), ("cycle", "rtl"), ("rtl", "")):
        done = subprocess.run([sys.executable, "-c", SIMULATE, model, schedule],
                              capture_output=True, text=True, check=True, cwd=ROOT)
        label = f"{model} --schedule {schedule}" if schedule else model
        runs.append((label, json.loads(done.stdout.strip().splitlines()[-1])))
    lines = ["# Workloads from the ecosystem (issue 15)", "",
             f"Measured by bench/bench_workloads.py on {platform.machine()}, Python "
             f"{platform.python_version()}, onnx {onnx.__version__}.", "",
             "## ONNX import (median of 5, `read_onnx` with skip_unsupported)", "",
             "| graph | file bytes | seconds | layers | MACs | left out | preset MACs |",
             "|---|---:|---:|---:|---:|---|---|"]
    for name, size, seconds, count, macs, skipped, preset_macs in rows:
        lines.append(f"| {name} | {size:,} | {seconds:.3f} | {count} | {macs:,} | "
                     f"{', '.join(skipped)} | {preset_macs} |")
    lines += ["", "## `simulate --arch tpu_like --network llama32_1b_prefill` per model", "",
              "One process each; seconds include start-up and imports.", "",
              "| model | seconds | cycles | utilization | energy (uJ) | DRAM (MiB) |",
              "|---|---:|---:|---:|---:|---:|"]
    for model, out in runs:
        if "refused" in out:
            lines.append(f"| {model} | {out['seconds']:.1f} | refused: {out['refused']} | | | |")
        else:
            lines.append(f"| {model} | {out['seconds']:.1f} | {out['cycles']:,} | "
                         f"{out['utilization']:.3f} | {out['energy_uj']:,.0f} | "
                         f"{out['dram_mib']:,.0f} |")
    RESULTS.write_text("\n".join(lines) + "\n")
    print(RESULTS)


if __name__ == "__main__":
    main()
