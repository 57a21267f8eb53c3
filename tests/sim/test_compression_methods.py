"""The arch's zero_rle DRAM compression is applied once, after a method's transform, over the
method's own DRAM form; zero gating gates plain MAC ifmaps only; bad input is one line, exit 2
(reviewer's findings on the sparsity features with methods)."""

from dataclasses import replace

import pytest

import dlaforge
from dlaforge.arch import load_arch
from dlaforge.cli import main
from dlaforge.errors import SpecError
from dlaforge.sim.analytical import zero_gated
from dlaforge.sim.rtl_program import rtl_cannot_run
from dlaforge.workloads import compression
from dlaforge.workloads.methods import datapath, get_method
from dlaforge.workloads.networks.yaml_network import read_network_yaml

UNITS = "units:\n  smartdeal_rebuild: {ops_per_cycle: 4}\n  winograd_transform: {ops_per_cycle: 8}\n"


@pytest.fixture
def eyeriss_units(tmp_path):
    """eyeriss_like (zero_rle, zero gating, rs) with SmartDeal's and Winograd's units."""
    path = tmp_path / "eyeriss_units.yaml"
    path.write_text("base: eyeriss_like\nname: eyeriss_units\n" + UNITS)
    return str(path)


def network(tmp_path, zeros, C=16):
    path = tmp_path / f"net{zeros}.yaml"
    path.write_text(f"layers:\n  - {{name: c1, kind: conv2d, C: {C}, K: 16, H: 12, R: 3, "
                    f"ifmap_zeros: {zeros}, ofmap_zeros: {zeros}}}\n")
    return str(path)


@pytest.mark.parametrize("method", ["smartdeal", "winograd_f2"])
def test_a_methods_dram_scale_keeps_the_archs_zero_rle(method, eyeriss_units, tmp_path):
    dense, sparse = (dlaforge.simulate(eyeriss_units, network(tmp_path, z), method=method,
                                       dataflow="rs").layers[0].stats for z in (0, 0.9))
    # the ifmap and the ofmap move coded: fewer DRAM bytes both ways
    assert sparse.dram_read_bytes < dense.dram_read_bytes
    assert sparse.dram_write_bytes < 0.5 * dense.dram_write_bytes


def test_compression_applied_once_over_the_methods_own_form(eyeriss_units, tmp_path):
    arch = load_arch(eyeriss_units)
    _, (layer,) = read_network_yaml(__import__("pathlib").Path(network(tmp_path, 0.9)))
    op = get_method("winograd_f2", arch).transform(layer, arch)[0]
    coded = compression.coded(arch, op)
    factor = compression.zero_rle_factor(0.9, op.ifmap_bits)
    assert coded.dram_scale["ifmap"] == pytest.approx(op.dram_scale["ifmap"] * factor)
    assert coded.dram_scale["ofmap"] == pytest.approx(op.dram_scale["ofmap"] * factor)


def test_zero_rle_refuses_packed_operands_and_gating_skips_them(eyeriss_units, tmp_path):
    arch = load_arch(eyeriss_units)
    _, (layer,) = read_network_yaml(__import__("pathlib").Path(network(tmp_path, 0.5)))
    plain = get_method("baseline", arch).transform(layer, arch)[0]
    assert zero_gated(arch, plain) == 0.5
    for packed in (replace(plain, pe_op="xnor_popcount"), replace(plain, pe_op="sad")):
        assert zero_gated(arch, packed) == 0.0       # |0 - w| is not 0; words are not zeros
        with pytest.raises(SpecError, match="zero_rle codes plain activations"):
            compression.coded(arch, packed)
        dense = replace(packed, ifmap_zeros=0.0, ofmap_zeros=0.0)
        assert compression.coded(arch, dense) is dense   # nothing stated, nothing coded
    wino = get_method("winograd_f2", arch).transform(layer, arch)[0]
    assert not wino.ifmap_plain and zero_gated(arch, wino) == 0.0


def test_winograd_gates_nothing_and_models_agree(eyeriss_units, tmp_path):
    runs = {(z, model): dlaforge.simulate(eyeriss_units, network(tmp_path, z),
                                          method="winograd_f2", dataflow="rs",
                                          model=model).layers[0].stats
            for z in (0, 0.9) for model in ("analytical", "cycle")}
    for model in ("analytical", "cycle"):       # the array's work is the same
        assert runs[0.9, model].pe_ops == runs[0, model].pe_ops
        assert (runs[0.9, model].energy_breakdown_pj.get("mac")
                == runs[0, model].energy_breakdown_pj.get("mac"))
    ana, cyc = (runs[0.9, model].energy_breakdown_pj for model in ("analytical", "cycle"))
    for part in ("mac", "rf", "noc", "sram", "dram"):    # the clock follows each model's cycles
        assert ana[part] == pytest.approx(cyc[part], rel=1e-3), part


def test_zero_rle_refuses_values_wider_than_a_pair(tmp_path, capsys):
    arch = tmp_path / "wide.yaml"
    arch.write_text("base: eyeriss_like\nname: wide\npe_array: {ifmap_bits: 60}\n")
    assert main(["simulate", "--arch", str(arch), "--network", network(tmp_path, 0.5)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "zero_rle codes values of at most 58 bits" in err
    with pytest.raises(SpecError, match="at most 58 bits"):
        compression.pairs_per_word(59)


def test_rtl_refusal_names_the_dataflow_then_the_compression(tmp_path):
    arch = load_arch("eyeriss_like")
    _, (layer,) = read_network_yaml(__import__("pathlib").Path(network(tmp_path, 0.9)))
    op = compression.coded(arch, get_method("baseline", arch).transform(layer, arch)[0])
    assert "not 'rs'" in rtl_cannot_run(arch, op, "rs")
    assert rtl_cannot_run(arch, op, "ws") == "DRAM compression (dram.compression zero_rle)"


def test_bad_ifmap_zeros_is_one_clean_line(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("layers:\n  - {name: c1, kind: conv2d, C: 8, K: 8, H: 8, R: 3, "
                    "ifmap_zeros: 1.5}\n")
    assert main(["simulate", "--arch", "eyeriss_like", "--network", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "dlaforge: error: network file bad.yaml: layer 'c1': `ifmap_zeros` must be a share "
        "of zeros from 0 to 1, not 1.5")


def test_a_broken_import_inside_a_plan_is_not_hidden(monkeypatch):
    def broken(name):
        raise ModuleNotFoundError("No module named 'missing_dep'", name="missing_dep")
    monkeypatch.setattr(datapath, "import_module", broken)
    with pytest.raises(ModuleNotFoundError, match="missing_dep"):
        datapath.family_datapaths.__wrapped__()

    def absent(name):
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    monkeypatch.setattr(datapath, "import_module", absent)
    assert datapath.family_datapaths.__wrapped__() == ()
