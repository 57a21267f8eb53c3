"""Hostile input to the command line, as a table (issue 16): each row is what a user typed and
what must come of it. Add a row for every new way in which dlaforge was broken.

A row gives the files to create in the test folder (name -> text or bytes; a name ending in
"/" is a folder; CHAR_DEVICE a character device like /dev/null; Symlink(target) a link), the
arguments after `dlaforge` ("{d}" is the test folder, which is also the
current folder), the exit code (2 unless given) and a piece of the one stderr line. For exit 2
the test asserts one stderr line, no traceback, and the test folder exactly as it was: nothing
written, nothing removed, no temporary left. `after(folder, out)` checks more (out: stdout).
"""

from __future__ import annotations

import json
import math
import stat
from dataclasses import dataclass, field
from typing import Callable

from scalesim_cfg import SCALESIM_CFG

SIM = ["simulate", "--arch", "edge_tiny", "--network", "{d}/one.csv", "--quiet"]
ONE_LAYER = "name, M, N, K,\nfc, 8, 8, 8,\n"          # a GEMM small enough for every model
CFG = dict(name="h", rows=4, cols=4, dataflow="os", mode="USER", bandwidth=10, ifmap_kb=64,
           filter_kb=64, ofmap_kb=64, bank_bandwidth=10, bank_num=1)


CHAR_DEVICE = "<a character device like /dev/null>"


@dataclass(frozen=True)
class Symlink:
    target: str


@dataclass(frozen=True)
class Hostile:
    item: str                                   # the item of issue 16 it reproduces
    args: list
    message: str = ""
    files: dict = field(default_factory=dict)
    code: int = 2
    after: Callable | None = None

    @property
    def id(self) -> str:
        return f"{self.item}-{self.message[:40] or ' '.join(self.args)[:40]}"


def arch(text: str) -> dict:
    """An arch YAML on edge_tiny with `text` added, as a.yaml."""
    return {"a.yaml": "base: edge_tiny\n" + text}


def cfg(**changes) -> dict:
    return {"h.cfg": SCALESIM_CFG.format(**{**CFG, **changes})}


def record(**changes) -> str:
    """A saved `simulate --json` record of one layer with `changes` to its first layer."""
    layer = {"name": "fc", "kind": "gemm", "shape": {"N": 1, "K": 8, "C": 8, "P": 8, "Q": 1,
                                                     "R": 1, "S": 1, "H": 8, "W": 1,
                                                     "stride": 1, "padding": 0, "groups": 1},
             "macs": 512, "pe_ops": 512, "pe_count": 16, "compute_cycles": 40,
             "stall_cycles": 0, "energy_breakdown_pj": {"mac": 1.0, "dram": 2.0},
             "dram_read_bytes": 128, "dram_write_bytes": 64, "sram_read_bytes": 0,
             "sram_write_bytes": 0, "weight_storage_bits": 512, "ops": {"mult": 512},
             "accesses": {}, "mapping": {}}
    top = {"dlaforge_version": "0.1.0", "arch": "edge_tiny", "network": "one",
           "dataflow": "ws", "model": "analytical", "method": "baseline", "batch": 1,
           "objective": "energy"}
    top.update({k: v for k, v in changes.items() if k in top or k in ("phase", "training")})
    layer.update({k: v for k, v in changes.items() if k not in top})
    return json.dumps({**top, "layers": [layer]})


def alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nname: *a{levels - 1}\n"


def _is_char_device(name):
    return lambda d, out: stat.S_ISCHR((d / name).lstat().st_mode)


def _symlink_written_through(d, out):
    return (d / "link.json").is_symlink() and json.loads((d / "real.json").read_text())["arch"]


def _json_on_stdout(d, out):
    return json.loads(out)["arch"] == "edge_tiny"


CASES = [
    # 1: special files are written through, never replaced
    Hostile("1", SIM + ["--json", "{d}/null"], code=0, files={"null": CHAR_DEVICE},
            after=_is_char_device("null")),
    Hostile("1", SIM + ["--json", "{d}/link.json"], code=0,
            files={"real.json": "old", "link.json": Symlink("real.json")},
            after=_symlink_written_through),
    Hostile("1", SIM + ["--json", "-"], code=0, after=_json_on_stdout),
    # 2: a report folder holding a file dlaforge did not write is refused, not emptied
    Hostile("2", ["report", "--arch", "edge_tiny", "--network", "{d}/one.csv", "--no-area",
                  "--out", "{d}/p"], "which dlaforge did not write",
            files={"p/thesis.txt": "x", "p/index.html": "x", "p/report.md": "x"}),
    # 3: an arch name cannot lead an output out of its folder
    Hostile("3", ["simulate", "--arch", "{d}/a.yaml", "--network", "{d}/one.csv", "--model",
                  "cycle", "--quiet", "--trace", "{d}/tr"], "`name` must be a plain name",
            files={**arch("name: ../escaped\n"), "tr/": None}),
    # 4: every output is checked before the run; nothing is published unless all can be
    Hostile("4", SIM + ["--json", "{d}/ok.json", "--csv", "/proc/x.csv"], "cannot write --csv"),
    Hostile("4", ["simulate", "--arch", "edge_tiny", "--network", "{d}/one.csv", "--model",
                  "cycle", "--quiet", "--trace", "{d}/tr", "--json", "/proc/x.json"],
            "cannot write --json", files={"tr/": None}),
    Hostile("4", SIM + ["--json", "{d}/SOMEDIR"], "it is a folder", files={"SOMEDIR/": None}),
    # 5: sizes that would exhaust memory or time are refused up front
    Hostile("5", ["simulate", "--arch", "edge_tiny", "--network", "{d}/g.csv", "--quiet"],
            "too large for the analytical mapper",
            files={"g.csv": "n, M, N, K,\nL, 100000000, 100000000, 100000000,\n"}),
    Hostile("5", ["simulate", "--arch", "edge_tiny", "--network", "{d}/g.csv", "--quiet",
                  "--model", "cycle"], "too large for the",
            files={"g.csv": "n, M, N, K,\nL, 10000000, 10000000, 10000000,\n"}),
    Hostile("5", ["simulate", "--arch", "edge_tiny", "--network", "{d}/c.csv", "--quiet",
                  "--model", "cycle"], "too large for the cycle model",
            files={"c.csv": "n, H, W, R, S, C, K, s,\nL, 3, 3, 1, 1, 1000000, 1000000, 1,\n"}),
    Hostile("5", ["simulate", "--arch", "tpu_like", "--network", "{d}/c.csv", "--quiet",
                  "--model", "cycle"], "too large for the cycle model: 12,799,744 tiles",
            files={"c.csv": "n, H, W, R, S, C, K, s,\nL, 100000, 100000, 3, 3, 3, 64, 1,\n"}),
    Hostile("5", ["simulate", "--arch", "edge_tiny", "--network", "resnet18", "--quiet",
                  "--model", "cycle", "--batch", "1000000000"], "too large for the cycle model"),
    Hostile("5", ["simulate", "--arch", "edge_tiny_smartdeal", "--method", "smartdeal",
                  "--network", "{d}/g.csv", "--quiet", "--model", "cycle", "--schedule", "rtl"],
            "too large for the RTL schedule",
            files={"g.csv": "n, M, N, K,\nL, 5000, 5000, 5000,\n"}),
    Hostile("5", ["simulate", "--arch", "edge_tiny", "--network", "{d}/g.csv", "--quiet",
                  "--model", "rtl"], "needs 721,665,391 cycles on the RTL under ws",
            files={"g.csv": "n, M, N, K,\nL, 2000, 2000, 2000,\n"}),
    # 6: tracebacks on bad input
    Hostile("6", ["simulate", "--arch", "{d}/g.yaml", "--network", "resnet18"],
            "is not UTF-8 text", files={"g.yaml": bytes(range(256))}),
    Hostile("6", ["simulate", "--arch", "edge_tiny", "--network", "{d}/g.csv"],
            "is not UTF-8 text", files={"g.csv": b"\xd0\xcf\x11\xe0" * 64}),
    Hostile("6", ["simulate", "--arch", "{d}/a.yaml", "--network", "resnet18"],
            "`units.winograd_transform` must be a mapping",
            files=arch("units: {winograd_transform: 5}\n")),
    Hostile("6", ["simulate", "--arch", "{d}/a.yaml", "--network", "resnet18"],
            "latency_cycles` must be a non-negative integer up to 2^48",
            files=arch("dram: {latency_cycles: 99999999999999999999}\n")),
    Hostile("6", ["simulate", "--arch", "{d}/a.yaml", "--network", "resnet18"],
            "size_bytes` must be a positive integer up to 2^48",
            files={"a.yaml": "pe_array: {rows: 4, cols: 4, dataflows: [ws]}\nmemory: [{name: b, "
                             "size_bytes: 9223372036854775808, operands: [ifmap, weight, "
                             "ofmap]}]\n"}),
    Hostile("6", SIM + ["--batch", "99999999999999999999"], "`batch` must be a positive integer"),
    Hostile("6", ["simulate", "--arch", "edge_tiny", "--network", "{d}/z.csv"],
            "`stride` must be a positive integer, not 0",
            files={"z.csv": "n, H, W, R, S, C, K, s,\nL, 8, 8, 3, 3, 4, 4, 0,\n"}),
    Hostile("6", ["simulate", "--arch", "{d}/h.cfg", "--network", "{d}/one.csv", "--model",
                  "cycle"], "`IfmapSRAMBankBandwidth` must be a positive integer, not 0",
            files=cfg(bank_bandwidth=0)),
    Hostile("6", SIM + ["--json", "/proc/x"], "cannot write --json '/proc/x'"),
    Hostile("6", SIM + ["--csv", "/sys/x"], "cannot write --csv '/sys/x'"),
    Hostile("6", SIM + ["--json", "."], "it is a folder"),
    Hostile("6", SIM + ["--json", ""], "--json needs a file name"),
    Hostile("6", ["report", "--arch", "edge_tiny", "--network", "{d}/one.csv", "--no-area",
                  "--out", "."], "it is the current folder"),
    Hostile("6", ["report", "--arch", "edge_tiny", "--network", "{d}/one.csv", "--no-area",
                  "--out", ""], "--out needs a folder name"),
    Hostile("6", ["rtl", "generate", "--arch", "edge_tiny", "--out", "/proc/g"],
            "cannot write --out '/proc/g'"),
    Hostile("6", ["simulate", "--arch", "edge_tiny", "--network", "{d}/one.csv", "--model",
                  "cycle", "--quiet", "--trace", "/proc"], "cannot write --trace '/proc'"),
    Hostile("6", ["report", "--from-json", "{d}/r.json", "--out", "{d}/o"],
            "`the record` must be a mapping", files={"r.json": "[[1]]"}),
    Hostile("6", ["report", "--from-json", "{d}/r.json", "--out", "{d}/o"],
            "is nested more than", files={"r.json": "[" * 100_000 + "]" * 100_000}),
    # 7: values accepted that should not be
    Hostile("7", ["simulate", "--arch", "{d}/a.yaml", "--network", "resnet18"],
            "the document expands to more than 100,000 values", files={"a.yaml": alias_bomb()}),
    Hostile("7", ["simulate", "--arch", "{d}/a.yaml", "--network", "resnet18"],
            "`name` must be a plain name", files=arch("name: [a]\n")),
    Hostile("7", ["simulate", "--arch", "{d}/a.yaml", "--network", "resnet18"],
            "`name` must be a plain name", files=arch("name: null\n")),
    Hostile("7", ["simulate", "--arch", "{d}/a.yaml", "--network", "resnet18"],
            "`name` must be a plain name", files=arch("name: 5\n")),
    Hostile("7", ["simulate", "--arch", "{d}/a.yaml", "--network", "resnet18"],
            "double_buffered` must be true or false, not 'false'",
            files=arch("memory: [{name: b, size_bytes: 65536, operands: [ifmap, weight, "
                       "ofmap], double_buffered: 'false'}]\n")),
    Hostile("7", ["simulate", "--arch", "{d}/a.yaml", "--network", "resnet18"],
            "`clock_mhz` must be a positive number up to 1e+15, not inf",
            files=arch("clock_mhz: .inf\n")),
    Hostile("7", ["simulate", "--arch", "{d}/a.yaml", "--network", "resnet18"],
            "`energy.mac_pj` must be a positive number, not nan",
            files=arch("energy: {mac_pj: .nan}\n")),
    Hostile("7", ["simulate", "--arch", "{d}/a.yaml", "--network", "resnet18"],
            "bandwidth_bytes_per_cycle` must be a positive number from 0.001",
            files=arch("dram: {bandwidth_bytes_per_cycle: 1.0e-300}\n")),
    Hostile("7", ["simulate", "--arch", "{d}/h.cfg", "--network", "{d}/one.csv"],
            "`FilterSRAMBankBandwidth` must be a positive integer, not -5",
            files={"h.cfg": SCALESIM_CFG.format(**CFG).replace(
                "FilterSRAMBankBandwidth: 10", "FilterSRAMBankBandwidth: -5")}),
    Hostile("7", SIM + ["--dataflow", ""], "unknown dataflow ''"),
    Hostile("7", ["simulate", "--arch", "{d}/a.yaml", "--network", "resnet18"],
            "key 'clock_mhz' is given twice (line 3)",
            files=arch("clock_mhz: 100\nclock_mhz: 200\n")),
    Hostile("7", ["report", "--from-json", "{d}/r.json", "--out", "{d}/o"],
            "`dataflow` must be one of ws, os, is, rs, not 'zz'",
            files={"r.json": record(dataflow="zz")}),
    Hostile("7", ["report", "--from-json", "{d}/r.json", "--out", "{d}/o"],
            "`layers[0].energy_breakdown_pj.mac` must be a finite number >= 0, not None",
            files={"r.json": record(energy_breakdown_pj={"mac": None})}),
    Hostile("7", ["report", "--from-json", "{d}/r.json", "--out", "{d}/o"],
            "is not valid JSON", files={"r.json": record(energy_breakdown_pj={"mac": math.nan})}),
    Hostile("7", ["report", "--from-json", "{d}/r.json", "--out", "{d}/o"],   # found by fuzzing
            "`layers[0].accesses` must be a mapping, not None", files={"r.json": record(
                accesses=None)}),
    # 8: messages that mislead
    Hostile("8", ["simulate", "--arch", "{d}/a.yaml", "--network", "resnet18"],
            "`dram.type` must be a name such as LPDDR4, not a list",
            files=arch("dram: {type: [a]}\n")),
    Hostile("8", ["simulate", "--arch", "{d}/x.yaml", "--network", "resnet18"],
            "is a folder, not a file", files={"x.yaml/": None}),
    Hostile("8", ["simulate", "--arch", "edge_tiny", "--network", "{d}/z.csv"],
            "`H` must be a positive integer, not -12",
            files={"z.csv": "n, H, W, R, S, C, K, s,\nL, -12, 10, 3, 3, 4, 4, 1,\n"}),
    Hostile("8", ["simulate", "--arch", "edge_tiny", "--network", "{d}/one.csv", "--model",
                  "cycle", "--quiet", "--trace", "{d}/f"], "it is a file, not a folder",
            files={"f": ""}),
    # issue 19: training
    Hostile("19", SIM + ["--phase", "foo"], "argument --phase: invalid choice: 'foo'"),
    Hostile("19", SIM + ["--phase", "train", "--optimizer", "foo"],
            "argument --optimizer: invalid choice: 'foo'"),
    Hostile("19", SIM + ["--phase", "train", "--model", "rtl"],
            "--phase train runs on the analytical and cycle models under the mapper's "
            "schedule, not --model rtl"),
    Hostile("19", ["report", "--from-json", "{d}/r.json", "--out", "{d}/o"],
            "`phase` must be one of infer, train, not 'zz'", files={"r.json": record(
                phase="zz")}),
    Hostile("19", ["report", "--from-json", "{d}/r.json", "--out", "{d}/o"],
            "`layers[0].peak_memory_bytes` must be a non-negative integer, not -1",
            files={"r.json": record(peak_memory_bytes=-1)}),
    Hostile("19", ["report", "--from-json", "{d}/r.json", "--out", "{d}/o"],
            "unknown optimizer 'foo'; choose from sgd, adam",
            files={"r.json": record(phase="train", training={"optimizer": "foo"})}),
    Hostile("19", ["report", "--from-json", "{d}/r.json", "--out", "{d}/o"],
            "the record's `training` is malformed",
            files={"r.json": record(phase="train", training={"lr": 1})}),
    Hostile("19", ["report", "--from-json", "{d}/r.json", "--out", "{d}/o", "--phase",
                   "train"], "--phase cannot be combined with --from-json",
            files={"r.json": record()}),
    Hostile("19", ["report", "--arch", "edge_tiny", "--network", "{d}/one.csv", "--no-area",
                   "--phase", "foo", "--out", "{d}/o"], "argument --phase: invalid choice"),
    Hostile("19", ["simulate", "--arch", "{d}/h.cfg", "--network", "{d}/one.csv", "--phase",
                   "train"], "(softmax_cross_entropy): a SCALE-Sim .cfg has no vector unit",
            files=cfg()),
    Hostile("19", SIM + ["--phase", "train", "--model", "cycle", "--trace", "{d}/tr"],
            "--trace does not trace the vector unit", files={"tr/": None}),
]
