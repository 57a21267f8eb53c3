"""The public Python API (dlaforge/__init__.py): every command has its function, which the
CLI only wraps; bad input raises SpecError with the message the CLI prints."""

import json

import pytest

import dlaforge


def test_rtl_generate_writes_the_verilog_and_its_manifest(tmp_path):
    out = tmp_path / "rtl"
    generated = dlaforge.rtl_generate("edge_tiny", out)
    assert [p.name for p in generated.files] == ["dlaforge_accel.v", "dlaforge_accel.json"]
    assert generated.cells == {}
    assert "module dlaforge_accel" in (out / "dlaforge_accel.v").read_text()
    assert json.loads((out / "dlaforge_accel.json").read_text())


def test_rtl_generate_refuses_an_arch_it_cannot_build_and_writes_nothing(tmp_path):
    with pytest.raises(dlaforge.SpecError, match="has no dataflow the RTL builds"):
        dlaforge.rtl_generate("eyeriss_like", tmp_path / "rtl")
    assert list(tmp_path.iterdir()) == []


def test_rtl_verify_refuses_an_unknown_simulator_or_method():
    with pytest.raises(dlaforge.SpecError, match="unknown simulator 'iverilog'"):
        dlaforge.rtl_verify("edge_tiny", sim="iverilog")
    with pytest.raises(dlaforge.SpecError, match="no RTL for method 'magic'"):
        dlaforge.rtl_verify("edge_tiny", method="magic")


def test_simulate_chooses_the_model_and_checks_the_schedule_first(tmp_path):
    with pytest.raises(dlaforge.SpecError, match="unknown model 'exact'"):
        dlaforge.simulate("edge_tiny", "alexnet", model="exact")
    with pytest.raises(dlaforge.SpecError, match="--model rtl runs the generated"):
        dlaforge.simulate("edge_tiny", "alexnet", model="rtl", schedule="mapped")
    with pytest.raises(dlaforge.SpecError, match="--trace needs --model cycle"):
        dlaforge.simulate("edge_tiny", "alexnet", trace=tmp_path)
    records = dlaforge.simulate("edge_tiny", "alexnet", model="cycle", dataflow="all")
    assert [r.dataflow for r in records] == ["ws", "os", "is"]
    assert {r.model for r in records} == {"cycle"}
