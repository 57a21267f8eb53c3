"""The training report (`report --phase train`): the forward/backward split per layer, the
memory timeline of one iteration and the training methods against the baseline hold the
numbers of the records they came from; saved records (with or without `memory_steps`) give
the same report."""

import json

import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.report_driver import _methods_for
from dlaforge.reports.training import memory_timeline, phase_costs
from dlaforge.stats import RunRecord
from report_fixtures import network  # noqa: F401  (fixture)
from test_report_numbers import md_tables, shows

METHODS = ("baseline", "gradient_filter", "sparse_update")
PHASES = ("forward", "loss", "dX", "dW", "update")
PARTS = ("weights (B)", "gradients + optimizer state (B)", "kept activations (B)",
         "step's working tensors (B)")


@pytest.fixture(scope="module")
def records(network):
    return {m: dlaforge.simulate("edge_tiny", network, dataflow="os", method=m, phase="train")
            for m in METHODS}


@pytest.fixture(scope="module")
def report(tmp_path_factory, network):
    out = tmp_path_factory.mktemp("train") / "r"
    dlaforge.report(out, arch="edge_tiny", network=network, methods=",".join(METHODS),
                    dataflows="os", phase="train", area=False)
    return out


def test_the_phases_of_each_layer_add_up_to_its_record(records):
    for record in records.values():
        for layer in record.layers:
            costs = phase_costs(layer)
            assert sum(e for e, _ in costs.values()) == pytest.approx(layer.stats.energy_pj,
                                                                       rel=1e-12)
            assert sum(c for _, c in costs.values()) == layer.stats.cycles


def test_the_forward_backward_table_holds_the_records_numbers(report, records):
    tables = md_tables((report / "report.md").read_text())
    headers, rows = tables["Forward and backward per layer: edge_tiny / os / baseline"]
    record = records["baseline"]
    assert [r[0] for r in rows] == [layer.name for layer in record.layers] + ["TOTAL"]
    for row, layer in zip(rows, record.layers):
        cells = dict(zip(headers, row))
        costs = phase_costs(layer)
        for phase in PHASES:
            energy, cycles = costs.get(phase, (0.0, 0))
            assert shows(cells[f"{phase} (µJ)"], energy / 1e6), (layer.name, phase)
            assert shows(cells[f"{phase} cycles"], cycles), (layer.name, phase)
        assert shows(cells["energy (µJ)"], layer.stats.energy_pj / 1e6)
        assert shows(cells["cycles"], layer.stats.cycles)
        back = sum(costs.get(p, (0.0, 0))[0] for p in PHASES[1:])
        assert shows(cells["backward / forward energy"], back / costs["forward"][0])
    total = dict(zip(headers, rows[-1]))
    assert shows(total["energy (µJ)"], record.totals.energy_pj / 1e6)
    assert shows(total["cycles"], record.totals.cycles)
    # the loss is priced with the last layer only; the first layer computes no dX
    assert [r[headers.index("loss (µJ)")] != "0" for r in rows[:-1]] == [False] * 3 + [True]
    assert rows[0][headers.index("dX (µJ)")] == "0"


def test_the_memory_timeline_peaks_at_the_records_peak(report, records):
    tables = md_tables((report / "report.md").read_text())
    headers, rows = tables["Memory timeline of one iteration: edge_tiny / baseline"]
    record = records["baseline"]
    names = [layer.name for layer in record.layers]
    steps = [(r[1], r[2]) for r in rows]
    assert steps == [(n, "forward") for n in names] + [(n, "backward") for n in names[::-1]]
    live = [int(r[headers.index("live (B)")].replace(",", "")) for r in rows]
    for row, total in zip(rows, live):
        assert sum(int(row[headers.index(p)].replace(",", "")) for p in PARTS) == total
    assert max(live) == record.peak_memory_bytes
    assert [r[-1] for r in rows].count("peak") == 1
    assert live[[r[-1] for r in rows].index("peak")] == record.peak_memory_bytes
    for layer in record.layers:
        assert layer.peak_memory_bytes == max(t for (n, _), t in zip(steps, live)
                                              if n == layer.name)
    # kept activations grow through the forward and fall back through the backward
    kept = [int(r[headers.index(PARTS[2])].replace(",", "")) for r in rows]
    assert kept[0] == 0 and kept[:4] == sorted(kept[:4]) and kept[4:] == sorted(kept[4:])[::-1]
    assert (report / "figures" / "edge_tiny_train_memory.png").stat().st_size > 0


def test_each_training_method_is_compared_with_the_baseline(report, records):
    tables = md_tables((report / "report.md").read_text())
    headers, rows = tables["Training methods vs baseline: edge_tiny (one iteration; ratio "
                           "below 1 is better)"]
    assert [r[0] for r in rows] == list(METHODS)
    base = records["baseline"]
    for row in rows:
        cells, record = dict(zip(headers, row)), records[row[0]]
        assert cells["dataflow"] == "os" and cells["baseline of"] == "edge_tiny"
        assert shows(cells["energy (µJ)"], record.totals.energy_pj / 1e6)
        assert shows(cells["cycles"], record.totals.cycles)
        assert shows(cells["peak memory (B)"], record.peak_memory_bytes)
        dram = record.totals.dram_read_bytes + record.totals.dram_write_bytes
        assert shows(cells["DRAM bytes (B)"], dram)
        assert shows(cells["energy / baseline's"], record.totals.energy_pj / base.totals.energy_pj)
        assert shows(cells["cycles / baseline's"], record.totals.cycles / base.totals.cycles)
        assert shows(cells["peak memory / baseline's"],
                     record.peak_memory_bytes / base.peak_memory_bytes)
    # the training methods cut the iteration's work and memory on this network
    for method in METHODS[1:]:
        assert records[method].totals.energy_pj < base.totals.energy_pj
        assert records[method].peak_memory_bytes < base.peak_memory_bytes
    md = (report / "report.md").read_text()
    for name in ("train_phases", "train_methods"):
        assert f"figures/edge_tiny_{name}.png" in md
        assert (report / "figures" / f"edge_tiny_{name}.png").stat().st_size > 0


def test_the_default_methods_of_a_training_report_include_the_training_methods():
    chosen, _ = _methods_for(load_arch("edge_tiny"), None, "train")
    assert chosen[0] == "baseline"
    assert {"gradient_filter", "sparse_update", "mobiletl", "comet"} <= set(chosen)
    chosen, _ = _methods_for(load_arch("edge_tiny"), None, "infer")
    assert not {"gradient_filter", "sparse_update", "mobiletl", "comet"} & set(chosen)


def test_records_keep_their_memory_steps_through_json(records):
    record = records["gradient_filter"]
    again = RunRecord.from_json(json.loads(json.dumps(record.to_json())))
    assert again == record
    assert memory_timeline(again) == memory_timeline(record)
    for layer in record.layers:
        totals = [sum(s.values()) for s in layer.memory_steps.values() if s is not None]
        assert max(totals) == layer.peak_memory_bytes


def test_saved_records_without_memory_steps_report_without_the_timeline(tmp_path, records):
    """A record saved before `memory_steps` was kept (here the baseline's) loads and reports;
    the timeline is left out, the rest of the training sections stay."""
    old = records["baseline"].to_json()
    for layer in old["layers"]:
        del layer["memory_steps"]
    saved = [tmp_path / "old.json", tmp_path / "new.json"]
    saved[0].write_text(json.dumps(old))
    saved[1].write_text(json.dumps(records["gradient_filter"].to_json()))
    dlaforge.report(tmp_path / "r", from_json=saved, area=False)
    md = (tmp_path / "r" / "report.md").read_text()
    assert "Memory timeline of one iteration" not in md
    assert "the timeline is left out" in md
    assert "Forward and backward per layer: edge_tiny / os / baseline" in md
    assert "| gradient_filter | os | edge_tiny |" in md
    assert not (tmp_path / "r" / "figures" / "edge_tiny_train_memory.png").exists()


def test_an_inference_report_has_no_training_sections(tmp_path, network):
    dlaforge.report(tmp_path / "r", arch="edge_tiny", network=network, methods="baseline",
                    dataflows="os", area=False)
    md = (tmp_path / "r" / "report.md").read_text()
    assert "Forward and backward per layer" not in md and "Memory timeline" not in md
    assert not list((tmp_path / "r" / "figures").glob("*train*"))


def test_a_default_method_that_refuses_the_network_is_listed_as_not_run(tmp_path):
    """mobiletl needs inverted-residual blocks; the fixture network has none: a training
    report of the default methods lists it under "Methods not run" with its reason."""
    from report_fixtures import TOPOLOGY
    lines = []
    dlaforge.report(tmp_path / "r", arch="edge_tiny", network=str(TOPOLOGY), dataflows="os",
                    phase="train", area=False, progress=lines.append)
    assert any("mobiletl: not run: mobiletl fine-tunes inverted-residual blocks" in line
               for line in lines)
    assert "inverted-residual blocks" in (tmp_path / "r" / "report.md").read_text()
