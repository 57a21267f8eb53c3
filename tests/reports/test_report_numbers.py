"""Every number in the report's tables is the Stats (or arch fact) it came from: the Markdown
tables are parsed back and each cell compared with an independent run of the same simulation;
the HTML page holds the same tables and embeds the same figures."""

import base64
import contextlib
import io
import re
from html.parser import HTMLParser

import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.cli import main
from dlaforge.errors import SpecError
from dlaforge.hw.area import array_cells, synth_area
from dlaforge.sim.energy import energy_table
from dlaforge.workloads.methods import METHODS, get_method
from dlaforge.workloads.networks import load_network
from report_fixtures import network, stand_in_methods  # noqa: F401  (fixtures)

# edge_tiny_winograd is edge_tiny with Winograd transform units (`base: edge_tiny`): its
# methods are compared with edge_tiny's baseline, and its runs have unit energy (PalQuant's
# preset, which had it too, now runs on the generated controller, which has no units).
ARCHS = ("edge_tiny", "nvdla_small", "edge_tiny_winograd")
BASELINE_OF = {"edge_tiny": "edge_tiny", "nvdla_small": "nvdla_small",
               "edge_tiny_winograd": "edge_tiny"}


def _registry_plan():
    """Every registered inference method each arch can run, and the registry's reason for the
    others (an inference report leaves out the methods that change only training)."""
    runs, refused = [], {}
    for arch in ARCHS:
        spec = load_arch(arch)
        for method in METHODS:
            if METHODS[method].training_only:
                continue
            try:
                get_method(method, spec)
            except SpecError as exc:
                refused[arch, method] = str(exc)
                continue
            runs += [(arch, df, method) for df in spec.pe_array.dataflows]
    return runs, refused


@pytest.fixture(scope="module")
def report(tmp_path_factory, stand_in_methods, network):
    """The report of every method each arch can run (the default, as in make demo)."""
    out = tmp_path_factory.mktemp("report") / "r"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["report", "--arch", ",".join(ARCHS), "--network", network,
                     "--out", str(out)])
    assert code == 0, stderr.getvalue()
    return out, stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope="module")
def expected(stand_in_methods, network):
    """The same runs made independently, keyed by (arch, dataflow, method)."""
    runs, _ = _registry_plan()
    return {(a, df, m): dlaforge.simulate(a, network, dataflow=df, method=m) for a, df, m in runs}


def _compulsory(arch, method, network):
    spec = load_arch(arch)
    return [sum(sum(op.compulsory_dram_bytes()) for op in get_method(method, spec).transform(l, spec))
            for l in load_network(network).layers]


def md_tables(text):
    """{title: (headers, rows)} of every `#### title` followed by a pipe table."""
    lines, tables = text.splitlines(), {}
    for i, line in enumerate(lines):
        if line.startswith("#### "):
            block = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                block.append([c.strip().replace("\\|", "|")
                              for c in re.split(r"(?<!\\)\|", row.strip()[1:-1])])
            tables[line[5:]] = (block[0], block[2:])
    return tables


def shows(cell, value):
    """`cell` prints `value`: integers exactly, other numbers rounded to the digits shown,
    and those are at least four significant digits."""
    text = cell.replace(",", "")
    if isinstance(value, int):
        return int(text) == value
    decimals = len(text.split(".")[1]) if "." in text else 0
    half_unit = 0.5 * 10.0 ** -decimals
    return abs(float(text) - value) <= half_unit * (1 + 1e-9) and \
        (value == 0 or half_unit <= 5e-4 * abs(value) * (1 + 1e-9))


COMPONENT_HEADERS = {"MAC (µJ)": "mac", "register files (µJ)": "rf",
                     "inter-PE network (µJ)": "noc", "SRAM (µJ)": "sram", "DRAM (µJ)": "dram",
                     "method units (µJ)": "units", "requantization stage (µJ)": "requant"}
STATS_COLUMNS = {
    "MACs": lambda s, a: s.macs,
    "cycles": lambda s, a: s.cycles,
    "compute cycles": lambda s, a: s.compute_cycles,
    "stall cycles": lambda s, a: s.stall_cycles,
    "latency (µs)": lambda s, a: s.cycles / a.clock_mhz,
    "utilization": lambda s, a: s.utilization,
    "energy (µJ)": lambda s, a: s.energy_pj / 1e6,
    **{h: (lambda c: lambda s, a: s.energy_breakdown_pj.get(c, 0.0) / 1e6)(c)
       for h, c in COMPONENT_HEADERS.items()},
    "DRAM read (B)": lambda s, a: s.dram_read_bytes,
    "DRAM write (B)": lambda s, a: s.dram_write_bytes,
    "DRAM (B)": lambda s, a: s.dram_read_bytes + s.dram_write_bytes,
    "SRAM read (B)": lambda s, a: s.sram_read_bytes,
    "SRAM write (B)": lambda s, a: s.sram_write_bytes,
    "weight storage (bit)": lambda s, a: s.weight_storage_bits,
    "MACs per DRAM byte": lambda s, a: s.macs / (s.dram_read_bytes + s.dram_write_bytes),
    "MACs per cycle": lambda s, a: s.macs / s.cycles,
    "MACs per cycle per 1k array cells": lambda s, a: s.macs / s.cycles / (array_cells(a) / 1e3),
    "PE operations": lambda s, a: s.pe_ops,
    "PE operations per DRAM byte": lambda s, a: s.pe_ops / (s.dram_read_bytes + s.dram_write_bytes),
    "PE operations per cycle": lambda s, a: s.pe_ops / s.cycles,
}


def _check_stats_row(headers, row, stats, arch, compulsory, skip):
    for header, cell in list(zip(headers, row))[skip:]:
        if header == "area (µm², synthesized)":      # the arch's, when its synthesis is cached
            figures = synth_area(arch)
            assert cell == "—" if figures is None else shows(cell, figures["total_area_um2"])
            continue
        if header == "compulsory DRAM (B)":
            value = compulsory
        else:
            value = STATS_COLUMNS[header](stats, arch)
        assert shows(cell, value), (header, cell, value)


def _front(expected):
    points = {k: (r.totals.cycles / load_arch(k[0]).clock_mhz, r.totals.energy_pj)
              for k, r in expected.items()}
    return {k for k, p in points.items()
            if not any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in points.values())}


def test_every_table_number_equals_the_stats_it_came_from(report, expected, network):
    out, _, _ = report
    tables = md_tables((out / "report.md").read_text())
    specs = {a: load_arch(a) for a in ARCHS}
    compulsory = {(a, m): _compulsory(a, m, network) for a, _, m in expected}
    front = _front(expected)
    seen_per_layer = set()
    assert any(r.totals.energy_breakdown_pj.get("units") for r in expected.values())
    for title, (headers, rows) in tables.items():
        assert rows, title
        if title.startswith("All runs"):
            assert {tuple(r[:3]) for r in rows} == set(expected)
            for row in rows:
                key = tuple(row[:3])
                cells = row[:-1] if headers[-1] == "Pareto front" else row
                if headers[-1] == "Pareto front":
                    assert (row[-1] == "yes") == (key in front), key
                _check_stats_row(headers, cells, expected[key].totals, specs[key[0]],
                                 sum(compulsory[key[0], key[2]]), 3)
        elif title.startswith("Per layer: "):
            key = tuple(title[len("Per layer: "):].split(" / "))
            record, spec = expected[key], specs[key[0]]
            layers = {l.name: (l.kind, l.stats, c)
                      for l, c in zip(record.layers, compulsory[key[0], key[2]])}
            layers["TOTAL"] = ("network", record.totals, sum(compulsory[key[0], key[2]]))
            assert [r[0] for r in rows] == list(layers)
            for row in rows:
                kind, stats, c = layers[row[0]]
                assert row[1] == kind
                _check_stats_row(headers, row, stats, spec, c, 2)
            seen_per_layer.add(key)
        elif title.startswith("Methods vs baseline: "):
            arch = title.split(": ")[1].split(" ")[0]
            for method, df, base, *cells in rows:
                assert base == BASELINE_OF[arch]
                s, b = expected[arch, df, method].totals, expected[base, df, "baseline"].totals
                ratios = [s.energy_pj / b.energy_pj, s.cycles / b.cycles,
                          (s.dram_read_bytes + s.dram_write_bytes)
                          / (b.dram_read_bytes + b.dram_write_bytes),
                          s.weight_storage_bits / b.weight_storage_bits]
                assert all(shows(c, r) for c, r in zip(cells, ratios)), (method, df, cells)
            assert {(m, df) for m, df, *_ in rows} == {(m, df) for a, df, m in expected
                                                        if a == arch and m != "baseline"}
        elif title == "Energy-latency Pareto front":
            assert {tuple(r[:3]) for r in rows} == front
            for row in rows:
                t = expected[tuple(row[:3])].totals
                assert shows(row[3], t.cycles / specs[row[0]].clock_mhz)
                assert shows(row[4], t.energy_pj / 1e6)
        elif title.startswith("Parameters: "):
            spec = specs[title.split(": ")[1]]
            values = dict(rows)
            assert values["PE array (rows x cols)"] == f"{spec.pe_array.rows} x {spec.pe_array.cols}"
            assert values["dataflows"] == ", ".join(spec.pe_array.dataflows)
            numeric = {"peak (PE operations per cycle)": spec.peak_macs_per_cycle,
                       "clock (MHz)": spec.clock_mhz,
                       "peak (G PE operations per s)":
                           spec.peak_macs_per_cycle * spec.clock_mhz / 1e3,
                       "technology (nm)": spec.technology_nm,
                       "DRAM bandwidth (B per cycle)": spec.dram.bandwidth_bytes_per_cycle,
                       "DRAM latency (cycles)": spec.dram.latency_cycles,
                       "roofline ridge (PE operations per DRAM byte)":
                           spec.peak_macs_per_cycle / spec.dram.bandwidth_bytes_per_cycle}
            assert all(shows(values[k], v) for k, v in numeric.items())
            assert values["DRAM"] == spec.dram.type
            cells = array_cells(spec)
            assert cells is not None and shows(values["PE array cells (Yosys)"], cells)
            assert shows(values["peak PE operations per cycle per 1k cells"],
                         spec.peak_macs_per_cycle / (cells / 1e3))
        elif title.startswith("Memory levels: "):
            spec = specs[title.split(": ")[1].split(" ")[0]]
            assert [r[0] for r in rows] == [lv.name for lv in spec.memory]
            for row, lv in zip(rows, spec.memory):
                assert row[2] == ", ".join(lv.operands)
                assert [shows(c, v) for c, v in zip(row[3:], (
                    lv.size_bytes, lv.word_bits, lv.read_bandwidth_bytes_per_cycle,
                    lv.write_bandwidth_bytes_per_cycle))] == [True] * 4
        elif title.startswith("Energy table: "):
            spec = specs[title.split(": ")[1].split(" ")[0]]
            table = energy_table(spec)
            want = {"MAC": table.mac_pj, "inter-PE network": table.noc_pj_per_bit,
                    f"DRAM ({spec.dram.type}) read": table.dram_read_pj_per_bit,
                    f"DRAM ({spec.dram.type}) write": table.dram_write_pj_per_bit}
            for lv in spec.memory:
                want[f"{lv.name} read"] = table.read_pj_per_word[lv.name]
                want[f"{lv.name} write"] = table.write_pj_per_word[lv.name]
            assert {r[0] for r in rows} == set(want)
            assert all(shows(r[2], want[r[0]]) for r in rows)
        elif title == "Methods not run":
            assert {(a, m): reason for a, m, reason in rows} == _registry_plan()[1]
        else:
            pytest.fail(f"no check for table {title!r}")
    # per layer: the baseline, but a method preset whose base is in the report shows its first
    # method (its base shows the baseline)
    first_method = {a: next(m for b, _, m in expected if b == a and m != "baseline")
                    for a in ARCHS}
    shown = {a: first_method[a] if BASELINE_OF[a] != a else "baseline" for a in ARCHS}
    assert seen_per_layer == {k for k in expected if k[2] == shown[k[0]]}
    assert "Methods not run" in tables
    assert all(any(t.startswith(f"Methods vs baseline: {a} ") for t in tables) for a in ARCHS)


class _HtmlTables(HTMLParser):
    """Collects (caption, rows of cell texts) and every <img> src of a page."""

    def __init__(self):
        super().__init__()
        self.tables, self.images, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append(["", []])
        elif tag == "tr":
            self.tables[-1][1].append([])
        elif tag in ("td", "th", "caption"):
            self._cell = ""
        elif tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag == "caption":
            self.tables[-1][0] = self._cell
        elif tag in ("td", "th"):
            self.tables[-1][1][-1].append(self._cell)
        if tag in ("td", "th", "caption"):
            self._cell = None


def test_the_html_page_holds_the_same_tables_and_embeds_every_figure(report):
    out, _, _ = report
    md = (out / "report.md").read_text()
    page = _HtmlTables()
    page.feed((out / "index.html").read_text())
    md_as_lists = {t: [h, *rows] for t, (h, rows) in md_tables(md).items()}
    assert {caption: rows for caption, rows in page.tables} == md_as_lists
    figures = re.findall(r"\]\((figures/[^)]+\.png)\)", md)
    assert len(page.images) == len(figures) > 0
    for src, path in zip(page.images, figures):
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]) == (out / path).read_bytes()
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", (out / "index.html").read_text())


def test_progress_is_one_line_per_run_and_stdout_names_the_page(report, expected):
    out, stdout, stderr = report
    assert stdout == f"{out / 'index.html'}\n"
    lines = stderr.splitlines()
    runs = [l for l in lines if re.match(r"dlaforge: \[\s*\d+/\d+\] ", l)]
    assert len(runs) == len(expected)
    assert {tuple(re.search(r"\] (.+?): [\d.]+ s$", l).group(1).split(" / ")) for l in runs} \
        == set(expected)
    rendering = [f"dlaforge: rendering the {part}"
                 for part in ("overview", *(f"figures of {a}" for a in ARCHS))]
    # an array's cells are counted once per cache (a line each), unless an earlier test did
    counting = [l for l in lines if l.startswith("dlaforge: counting the cells of ")]
    assert all(re.search(r"\(once; cached in .+\)$", l) for l in counting)
    assert [l for l in lines if l not in counting] == runs + rendering


def test_a_cycle_model_report_states_its_model_and_holds_its_numbers(tmp_path, network,
                                                                      stand_in_methods):
    out = tmp_path / "r"
    dlaforge.report(out, arch="edge_tiny", network=network, methods="half_weights",
                    dataflows="ws", model="cycle")
    md = (out / "report.md").read_text()
    assert "every number is from the cycle-level model" in md and "analytical" not in md.lower()
    # half-width weights: the generated controller (ws, os and is), which both models price
    # and may agree on to the cycle, does not run them; the generic tiled model does
    cycle = dlaforge.simulate("edge_tiny", network, dataflow="ws", model="cycle",
                              method="half_weights")
    analytical = dlaforge.simulate("edge_tiny", network, dataflow="ws", method="half_weights")
    assert cycle.totals.cycles != analytical.totals.cycles    # so the check can tell them apart
    headers, rows = md_tables(md)["All runs: energy and time (network totals)"]
    assert [tuple(r[:3]) for r in rows] == [("edge_tiny", "ws", "half_weights")]
    _check_stats_row(headers, rows[0], cycle.totals, load_arch("edge_tiny"), None, 3)
