"""The report folder: which figures it holds and that they are real pictures, reuse of saved
records, replacing an earlier report, and bad input (one line, exit 2, nothing written)."""

import json

import numpy as np
import pytest
from matplotlib.image import imread

import dlaforge
from dlaforge.cli import main
from dlaforge import outputs
from dlaforge.errors import SpecError
from report_fixtures import network, stand_in_methods  # noqa: F401  (fixtures)

ARCH_FIGURES = ("energy_totals", "energy_layers", "cycles_utilization", "dram_traffic",
                "roofline")


def _report(args, out):
    """`dlaforge report ARGS --out OUT` on the command line: its exit code."""
    return main(["report", *args, "--out", str(out)])


def _assert_real_picture(path):
    assert path.stat().st_size > 15_000, path.name
    pixels = imread(path).reshape(-1, 4)
    colours = np.unique((pixels * 255).astype(np.uint8), axis=0)
    assert len(colours) > 50, (path.name, len(colours))


def test_figures_for_two_archs_and_two_methods(tmp_path, stand_in_methods, network):
    out = tmp_path / "r"
    assert dlaforge.report(out, arch=["edge_tiny", "gemmini_like"], network=network,
                           methods="baseline,half_weights", dataflows="ws") == out / "index.html"
    expected = {"energy_latency.png"} | {f"{arch}_{name}.png" for arch in ("edge_tiny", "gemmini_like")
                                         for name in ARCH_FIGURES + ("methods",)}
    assert {p.name for p in (out / "figures").iterdir()} == expected
    for path in (out / "figures").iterdir():
        _assert_real_picture(path)
    md = (out / "report.md").read_text()
    assert all(f"](figures/{name})" in md for name in expected)
    # the report states the model, the arch parameters, the energy table and the technology
    assert "analytical model" in md and "#### Energy table: gemmini_like (22 nm)" in md
    assert "| technology (nm) | 22 |" in md and "| clock (MHz) | 1,000 |" in md


def test_one_arch_one_method_has_no_comparison_figures(tmp_path, network):
    out = tmp_path / "r"
    dlaforge.report(out, arch="edge_tiny", network=network, methods=["baseline"])
    assert {p.name for p in (out / "figures").iterdir()} == {f"edge_tiny_{n}.png"
                                                             for n in ARCH_FIGURES}
    assert "Pareto" not in (out / "report.md").read_text()


def test_default_methods_skip_those_the_arch_cannot_run(tmp_path, stand_in_methods, network):
    lines = []
    dlaforge.report(tmp_path / "r", arch="edge_tiny", network=network, dataflows="os",
                    progress=lines.append)
    err = "\n".join(lines)
    assert "edge_tiny / os / baseline" in err and "edge_tiny / os / half_weights" in err
    assert "needs_xnor" not in err


def test_reports_of_inference_leave_out_the_training_only_methods(tmp_path, network):
    """gradient_filter's inference is the baseline's: an inference report does not run it
    again, a training report does."""
    for phase, runs in (("infer", False), ("train", True)):
        lines = []
        dlaforge.report(tmp_path / phase, arch="edge_tiny", network=network, dataflows="os",
                        phase=phase, area=False, progress=lines.append)
        assert ("edge_tiny / os / gradient_filter" in "\n".join(lines)) is runs
        assert "edge_tiny / os / baseline" in "\n".join(lines)


def test_a_saved_json_gives_the_same_report(tmp_path, network):
    saved = tmp_path / "saved.json"
    assert main(["simulate", "--arch", "edge_tiny", "--network", network, "--dataflow", "all",
                 "--json", str(saved), "--quiet"]) == 0
    dlaforge.report(tmp_path / "direct", arch="edge_tiny", network=network, methods="baseline")
    dlaforge.report(tmp_path / "reused", from_json=[saved])
    direct = (tmp_path / "direct" / "report.md").read_text()
    assert (tmp_path / "reused" / "report.md").read_text() == direct
    # the report keeps its records, and they rebuild it too
    dlaforge.report(tmp_path / "again", from_json=[tmp_path / "direct" / "records.json"])
    assert (tmp_path / "again" / "report.md").read_text() == direct


def test_the_report_says_which_quantizer_the_runs_used(tmp_path, network):
    """A saved run's quantizer is in the report; a record saved before the field was kept
    loads as the default; runs that differ in it are listed each with its own."""
    quant, old = tmp_path / "quant.json", tmp_path / "old.json"
    assert main(["simulate", "--arch", "edge_tiny", "--network", network, "--dataflow", "os",
                 "--quant", "per_tensor_asymmetric", "--pow2-scales", "--json", str(quant),
                 "--quiet"]) == 0
    assert main(["simulate", "--arch", "edge_tiny", "--network", network, "--dataflow", "ws",
                 "--json", str(old), "--quiet"]) == 0
    record = json.loads(old.read_text())
    for r in record if isinstance(record, list) else [record]:
        del r["quantizer"]
    old.write_text(json.dumps(record))
    for files, says in (([quant], "outputs requantized per_tensor_asymmetric+pow2 (--quant)"),
                        ([old], "outputs requantized per_channel_symmetric (--quant)"),
                        ([quant, old], "quantizers (--quant): os/baseline per_tensor_asymmetric"
                                       "+pow2, ws/baseline per_channel_symmetric")):
        out = tmp_path / f"r{len(files)}{files[0].stem}"
        dlaforge.report(out, from_json=files, area=False)
        assert says in (out / "report.md").read_text()
        assert says in (out / "index.html").read_text()


def test_a_run_with_no_requantization_stage_claims_no_quantizer(tmp_path, network):
    """eyeriss_like's rs array has no requantization stage: its report names no quantizer."""
    saved = tmp_path / "rs.json"
    assert main(["simulate", "--arch", "eyeriss_like", "--network", network, "--json",
                 str(saved), "--quiet"]) == 0
    out = tmp_path / "report"
    dlaforge.report(out, from_json=[saved], area=False)
    assert "requantized" not in (out / "report.md").read_text()
    assert "(--quant)" not in (out / "report.md").read_text()


def test_a_record_of_a_non_preset_arch_needs_its_file(tmp_path, arch_yaml, network, capsys):
    arch = arch_yaml()
    saved = tmp_path / "tiny.json"
    assert main(["simulate", "--arch", str(arch), "--network", network, "--json", str(saved),
                 "--quiet"]) == 0
    assert _report(["--from-json", str(saved)], tmp_path / "r") == 2
    assert "arch 'tiny' is not a preset; give its arch file with --arch" in capsys.readouterr().err
    dlaforge.report(tmp_path / "r", from_json=[saved], arch=str(arch))
    assert "#### Parameters: tiny" in (tmp_path / "r" / "report.md").read_text()


def test_a_new_report_replaces_an_earlier_one_and_leaves_no_temporary(tmp_path, network):
    out = tmp_path / "r"
    dlaforge.report(out, arch="edge_tiny", network=network, dataflows="ws")
    dlaforge.report(out, arch="nvdla_small", network=network, dataflows=["os"])
    assert "nvdla_small" in (out / "report.md").read_text()
    assert not (out / "figures" / "edge_tiny_roofline.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


@pytest.mark.parametrize("foreign", ["thesis.txt", "figures/mine.png", "notes/"])
def test_a_report_never_replaces_a_file_it_did_not_write(tmp_path, capsys, network, foreign):
    out = tmp_path / "r"
    assert _report(["--arch", "edge_tiny", "--network", network, "--dataflows", "ws"], out) == 0
    (out / foreign).mkdir() if foreign.endswith("/") else (out / foreign).write_text("mine")
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    assert _report(["--arch", "nvdla_small", "--network", network, "--dataflows", "os"], out) == 2
    assert "which dlaforge did not write" in capsys.readouterr().err
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_a_failed_write_keeps_the_earlier_report(tmp_path, monkeypatch):
    out = tmp_path / "r"
    outputs.publish_tree(out, {"index.html": b"old", "report.md": b"old"}, "--out")
    written, write_bytes = [], type(out).write_bytes

    def failing(self, data):
        if written:
            raise OSError(28, "No space left on device")
        written.append(self)
        return write_bytes(self, data)

    monkeypatch.setattr(type(out), "write_bytes", failing)
    with pytest.raises(SpecError, match="No space left on device"):
        outputs.publish_tree(out, {"index.html": b"new", "report.md": b"new"}, "--out")
    monkeypatch.undo()
    assert (out / "index.html").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


TINY_BUF = ("pe_array: {rows: 4, cols: 4, dataflows: [ws]}\n"
            "memory: [{name: buf, size_bytes: 64, operands: [ifmap, weight, ofmap]}]\n")


@pytest.mark.parametrize("args, files, message", [
    (["--arch", "edge_tiny,nope", "--network", "{net}"], {}, "unknown arch 'nope'"),
    (["--arch", "edge_tiny,", "--network", "{net}"], {}, "--arch 'edge_tiny,' has an empty name"),
    (["--arch", "edge_tiny", "--network", "lenet"], {}, "unknown network 'lenet'"),
    (["--arch", "edge_tiny", "--network", "{net}", "--methods", "magic"], {}, "unknown method 'magic'"),
    (["--arch", "edge_tiny", "--network", "{net}", "--methods", "baseline,needs_xnor"], {},
     "method 'needs_xnor' needs a PE array of kind xnor"),
    (["--arch", "edge_tiny,eyeriss_like", "--network", "{net}", "--dataflows", "ws"], {},
     "does not support dataflow 'ws'"),
    (["--arch", "edge_tiny", "--network", "{net}", "--batch", "0"], {}, "`batch` must be a positive integer, not 0"),
    (["--arch", "edge_tiny", "--network", "{net}", "--model", "exact"], {}, "invalid choice: 'exact'"),
    (["--arch", "edge_tiny,{d}/tiny.yaml", "--network", "{net}"], {"tiny.yaml": TINY_BUF}, "too small for any tile"),
    (["--network", "{net}"], {}, "give --arch (or --from-json)"),
    (["--arch", "edge_tiny"], {}, "give --network (or --from-json)"),
    (["--from-json", "{d}/missing.json"], {}, "saved record '{d}/missing.json' does not exist"),
    (["--from-json", "{d}/bad.json"], {"bad.json": "{"}, "is not valid JSON"),
    (["--from-json", "{d}/other.json"], {"other.json": '{"arch": "edge_tiny"}'},
     "is not a `dlaforge simulate --json` record"),
    (["--from-json", "{d}/s.json", "--methods", "baseline"], {"s.json": "[]"},
     "--methods cannot be combined with --from-json"),
    (["--arch", "edge_tiny", "--network", "{net}", "--out", "{d}/no/such/r"], {}, "does not exist"),
    (["--arch", "edge_tiny", "--network", "{net}", "--out", "{d}/notes"], {"notes/keep.txt": "mine"},
     "it holds 'keep.txt', which dlaforge did not write"),
    (["--arch", "edge_tiny", "--network", "{net}", "--out", "{d}/file"], {"file": "mine"},
     "it is a file, not a folder"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, stand_in_methods,
                                                          network, args, files, message):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    args = [a.format(d=tmp_path, net=network) for a in args]
    extra = [] if "--out" in args else ["--out", str(tmp_path / "r")]
    assert main(["report", *args, *extra]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("dlaforge: error: ") and message.format(d=tmp_path) in err[-1]
    assert all(not line.startswith("dlaforge: error") for line in err[:-1])
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_saved_records_of_different_networks_are_refused(tmp_path, network, capsys):
    records = [dlaforge.simulate("edge_tiny", net).to_json() for net in (network, "alexnet")]
    (tmp_path / "mixed.json").write_text(json.dumps(records))
    assert _report(["--from-json", str(tmp_path / "mixed.json")], tmp_path / "r") == 2
    assert "records are of different networks" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_saved_records_of_a_method_preset_are_compared_with_its_base(tmp_path, network):
    records = [dlaforge.simulate(arch, network, dataflow="ws", method=method).to_json()
               for arch, method in (("edge_tiny", "baseline"), ("edge_tiny_palquant", "baseline"),
                                    ("edge_tiny_palquant", "palquant"))]
    (tmp_path / "saved.json").write_text(json.dumps(records))
    dlaforge.report(tmp_path / "r", from_json=[tmp_path / "saved.json"])
    md = (tmp_path / "r" / "report.md").read_text()
    table = md.split("#### Methods vs baseline: edge_tiny_palquant")[1].split("\n\n")[1]
    assert "| palquant | ws | edge_tiny |" in table
    assert "Methods vs baseline: edge_tiny " not in md     # edge_tiny ran the baseline only


def test_saved_training_runs_of_different_training_methods_make_one_report(tmp_path, network):
    """Each record's training settings name its own method; only the shared ones (optimizer,
    widths) must agree across the records."""
    saved = []
    for method in ("baseline", "gradient_filter"):
        path = tmp_path / f"{method}.json"
        assert main(["simulate", "--arch", "edge_tiny", "--network", network, "--phase",
                     "train", "--method", method, "--json", str(path), "--quiet"]) == 0
        saved.append(path)
    dlaforge.report(tmp_path / "r", from_json=saved)
    text = (tmp_path / "r" / "report.md").read_text()
    assert "gradient_filter" in text and "one training iteration per run" in text
    adam = tmp_path / "adam.json"
    assert main(["simulate", "--arch", "edge_tiny", "--network", network, "--phase", "train",
                 "--optimizer", "adam", "--json", str(adam), "--quiet"]) == 0
    with pytest.raises(dlaforge.SpecError, match="different trainings"):
        dlaforge.report(tmp_path / "r2", from_json=[saved[1], adam])
