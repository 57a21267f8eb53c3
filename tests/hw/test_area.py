"""The PE array's cell count (hw/area.py): counted once, then read from the cache; None for a
PE the generator does not build."""

import json

from dlaforge.arch import load_arch
from dlaforge.hw import area, verilog
from dlaforge.hw.array import SystolicArray


def test_array_cells_are_counted_once_then_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("DLAFORGE_CACHE", str(tmp_path))
    arch = load_arch("edge_tiny")
    lines = []
    cells = area.array_cells(arch, lines.append)
    p = arch.pe_array
    direct = verilog.cell_stats(SystolicArray(p.rows, p.cols, p.ifmap_bits, p.weight_bits,
                                              p.psum_bits, ("ws", "os", "is")))["total"]
    assert cells == direct > 16 * 40 and len(lines) == 1 and "4x4" in lines[0]
    assert list(json.loads((tmp_path / "array_cells.json").read_text()).values()) == [cells]

    def no_count(design):
        raise AssertionError("counted again")
    monkeypatch.setattr(verilog, "cell_stats", no_count)
    assert area.array_cells(arch, lines.append) == cells and len(lines) == 1


def test_a_wider_array_has_more_cells_and_other_pes_none(tmp_path, monkeypatch, arch_yaml):
    monkeypatch.setenv("DLAFORGE_CACHE", str(tmp_path))
    tiny = area.array_cells(load_arch("edge_tiny"))
    wide = area.array_cells(load_arch(arch_yaml({"pe_array.cols": 8})))
    assert wide > 1.8 * tiny
    assert area.array_cells(load_arch("edge_tiny_xnor")) is None     # not a MAC PE
    assert area.array_cells(load_arch("eyeriss_like")) is None       # rs only


def test_report_without_area_says_so(tmp_path):
    import dlaforge
    out = tmp_path / "r"
    dlaforge.report(out, arch="edge_tiny", network="alexnet", methods="baseline",
                    dataflows="ws", area=False)
    md = (out / "report.md").read_text()
    assert "| PE array cells (Yosys) | — |" in md and "is not counted" in md
    assert "| area (µm², synthesized) | — |" in md and "made with --no-area" in md


def test_reports_show_the_synthesized_area_only_once_cached(tmp_path, synth_cache):
    """hw/area.synth_area: a look-up of `rtl synth`'s figures by design (no Yosys run here:
    the figures are stored by hand), "—" and the reason until then and for archs the
    generator does not build."""
    import dlaforge
    arch = load_arch("edge_tiny")
    assert area.synth_area(arch) is None and "not synthesized yet" in area.synth_area_reason(arch)
    assert area.synth_area(load_arch("eyeriss_like")) is None
    assert "not built by the RTL generator" in area.synth_area_reason(load_arch("eyeriss_like"))

    synth_cache(arch, 1234567.0, 4321)
    assert area.synth_area(arch)["total_area_um2"] == 1234567.0
    dlaforge.report(tmp_path / "r", arch="edge_tiny", network="alexnet", methods="baseline",
                    dataflows="ws")
    md = (tmp_path / "r" / "report.md").read_text()
    assert "| area (µm², synthesized) | 1,234,567 |" in md and "4,321 cells on cells.lib" in md
    assert "1,234,567 |" in md.split("All runs: energy and time")[1].split("\n\n")[1]
