import re

import pytest
import yaml

from dlaforge import inputs
from dlaforge.arch import PRESET_DIR, ArchSpec, list_presets, load_arch
from dlaforge.errors import SpecError

PRESETS = ["edge_tiny", "eyeriss_like", "gemmini_like", "nvdla_small", "tpu_like"]


def test_the_contracted_presets_ship():
    """The base presets, and each one a method names as made for it (the method's `presets`),
    ship; nothing else does."""
    from dlaforge.workloads.methods import METHODS
    declared = {preset for method in METHODS.values() for preset in method.presets}
    assert list_presets() == sorted(set(PRESETS) | declared)


def test_presets_read_alike_by_both_yaml_parsers():
    """Presets are parsed by libyaml where PyYAML has it (inputs._Shipped: `list archs` reads
    them all); each must be the document PyYAML's own parser, which reads users' files, sees."""
    for path in sorted(PRESET_DIR.glob("*.yaml")):
        text = path.read_text()
        assert yaml.load(text, Loader=inputs._Shipped) == yaml.load(text, Loader=inputs._Loader)


@pytest.mark.parametrize("name, rows, cols, dataflows, bits", [
    ("tpu_like", 32, 32, ("ws", "os", "is"), 8),
    ("eyeriss_like", 12, 14, ("rs",), 16),
    ("gemmini_like", 16, 16, ("os", "ws"), 8),
    ("nvdla_small", 8, 8, ("ws", "os"), 8),
    ("edge_tiny", 4, 4, ("ws", "os", "is"), 8),
])
def test_presets_describe_the_machines_they_name(name, rows, cols, dataflows, bits):
    arch = load_arch(name)
    assert isinstance(arch, ArchSpec)
    assert (arch.pe_array.rows, arch.pe_array.cols) == (rows, cols)
    assert arch.pe_array.dataflows == dataflows
    assert arch.pe_array.weight_bits == bits
    assert arch.peak_macs_per_cycle == rows * cols


def test_gemmini_buffers_match_the_published_default():
    arch = load_arch("gemmini_like")
    assert arch.shared_level("weight").size_bytes == 256 * 1024
    assert arch.shared_level("ofmap").size_bytes == 64 * 1024
    assert load_arch("nvdla_small").shared_level("ifmap").size_bytes == 128 * 1024


def test_yaml_file_loads(arch_yaml):
    arch = load_arch(arch_yaml())
    assert arch.name == "tiny" and arch.pe_count == 16
    assert arch.shared_level("ifmap").name == "buf"
    assert arch.pe_level("weight").name == "reg"


@pytest.mark.parametrize("changes, message", [
    ({"pe_array.rows": 0}, "`pe_array.rows` must be a positive integer, not 0"),
    ({"memory.1.size_bytes": -4}, "size_bytes` must be a positive integer, not -4"),
    ({"pe_array.dataflows": ["xs"]}, "unknown dataflow 'xs'"),
    ({"memory.1.operands": ["ifmap", "weight"]}, "operand 'ofmap' must be held by exactly one"),
    ({"memory.1.operands": ["ifmap", "weight", "ofmap", "psum"]}, "unknown operand 'psum'"),
    ({"pe_array.color": "red"}, "unknown key `color` in pe_array"),
    ({"dram.type": "SDR"}, "has no energy in the table"),
    ({"dram.bandwidth_bytes_per_cycle": 0}, "bandwidth_bytes_per_cycle` must be a positive number"),
])
def test_bad_values_are_named(arch_yaml, changes, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        load_arch(arch_yaml(changes))


def test_malformed_and_missing_files(arch_yaml, tmp_path):
    with pytest.raises(SpecError, match="not valid YAML at line"):
        load_arch(arch_yaml(raw="pe_array: [1, 2\nmemory: x"))
    with pytest.raises(SpecError, match="does not exist"):
        load_arch(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match="unknown arch 'warp_drive'"):
        load_arch("warp_drive")


def test_scalesim_cfg_is_read_as_scalesim_reads_it(scalesim_cfg):
    arch = load_arch(scalesim_cfg(rows=16, cols=8, dataflow="ws", ifmap_kb=6, filter_kb=7,
                                  ofmap_kb=3, mode="USER", bandwidth=12))
    assert (arch.pe_array.rows, arch.pe_array.cols) == (16, 8)
    assert arch.pe_array.dataflows == ("ws",)
    sizes = {lv.name: lv.size_bytes for lv in arch.memory}
    assert sizes == {"ifmap_sram": 6 * 1024, "filter_sram": 7 * 1024, "ofmap_sram": 3 * 1024}
    assert arch.scalesim.bandwidth_mode == "USER"
    assert arch.scalesim.bandwidth_words_per_cycle == 12
    assert arch.dram.bandwidth_bytes_per_cycle == 12


def test_malformed_scalesim_cfg(tmp_path, scalesim_cfg):
    broken = tmp_path / "broken.cfg"
    broken.write_text("[general]\nrun_name = x\n")
    with pytest.raises(SpecError, match="malformed: missing 'architecture_presets'"):
        load_arch(broken)
    bad_df = scalesim_cfg(dataflow="rs")
    with pytest.raises(SpecError, match="Dataflow must be os, ws or is"):
        load_arch(bad_df)
    with pytest.raises(SpecError, match="InterfaceBandwidth must be CALC or USER"):
        load_arch(scalesim_cfg(mode="FAST"))


def test_rs_needs_scratchpads(arch_yaml):
    with pytest.raises(SpecError, match="dataflow 'rs' needs a per-PE register file"):
        load_arch(arch_yaml({"pe_array.dataflows": ["rs"], "memory.0.operands": ["ifmap"]}))


def test_a_base_may_itself_build_on_a_base(tmp_path):
    """edge_tiny_addernet builds on edge_tiny; a file building on it gets both."""
    path = tmp_path / "two.yaml"
    path.write_text("base: edge_tiny_addernet\nname: two\npe_array: {rows: 2}\n")
    spec, method_preset = load_arch(path), load_arch("edge_tiny_addernet")
    assert spec.name == "two" and spec.pe_array.rows == 2
    assert spec.pe_array.pe_kind == "adder" and spec.memory == method_preset.memory
