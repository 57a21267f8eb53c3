"""The energy-model interface: the fixed table behind it (every existing figure unchanged), the
per-cycle energies (leakage, clock, control), arch validation, and the `cacti` model (CACTI
through hwcomponents in its side venv; skipped, saying why, where `make` could not install it)."""

import json
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from dlaforge import cli
from dlaforge.arch import ENERGY_MODELS, arch_from_mapping, arch_mapping, list_presets, load_arch
from dlaforge.errors import SpecError
from dlaforge.sim.energy import (REGISTER_PJ_PER_BIT_45NM, energy_table, sram_word_energy_45nm,
                                 technology_factor, time_energy)
from dlaforge.sim.energy_models import MODEL_NAMES, EnergyModel, MemoryCost, get_model
from dlaforge.sim.run import run_network
from dlaforge.stats import Stats
from dlaforge.workloads.layer import conv
from dlaforge.workloads.networks import Network

ROOT = Path(__file__).resolve().parents[2]
NET = Network("t", (conv("c1", C=8, K=8, H=8), conv("c2", C=8, K=16, H=8, R=1)))


def _arch(changes=None, levels=None, base="edge_tiny"):
    """`base` with top-level `changes` and per-level changes {level name: {key: value}}."""
    data = arch_mapping(base)
    data.update(changes or {})
    data["memory"] = [{**lv, **(levels or {}).get(lv["name"], {})} for lv in data["memory"]]
    return arch_from_mapping(data)


def test_the_registry_names_the_models_the_spec_accepts():
    assert MODEL_NAMES == ENERGY_MODELS
    for name in MODEL_NAMES:
        model = get_model(name)
        assert isinstance(model, EnergyModel) and model.name == name


def test_the_cacti_pins_are_pyprojects():
    from dlaforge.sim.energy_models.cacti import PINS
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["cacti"]
    pinned = dict(d.split(";")[0].strip().split("==") for d in extra)
    assert pinned == PINS


@pytest.mark.parametrize("name", list_presets())
def test_the_table_model_is_the_table_every_preset_had(name):
    """Through the interface, the default model gives the hand-kept table's figures, and a
    preset prices nothing per cycle (no leakage, clock or control: records are unchanged)."""
    arch = load_arch(name)
    table = energy_table(arch)
    costs = get_model("table").memory_costs(arch, list(arch.memory))
    for level in arch.memory:
        for write, per_word in ((False, table.read_pj_per_word), (True, table.write_pj_per_word)):
            given = level.write_energy_pj if write else level.read_energy_pj
            if given is None:
                scale = technology_factor(arch.technology_nm)
                given = scale * (REGISTER_PJ_PER_BIT_45NM * level.word_bits if level.per_pe
                                 else sram_word_energy_45nm(level.size_bytes, level.word_bits,
                                                            write))
            assert per_word[level.name] == pytest.approx(given, rel=1e-12)
        assert costs[level.name] == MemoryCost(table.read_pj_per_word[level.name],
                                               table.write_pj_per_word[level.name])
    assert table.leakage_pj_per_cycle == 0 and table.area_um2 == {}
    stats = Stats(macs=1, pe_ops=1, pe_count=1, compute_cycles=10, stall_cycles=5,
                  energy_breakdown_pj={"mac": 1.0}, dram_read_bytes=0, dram_write_bytes=0,
                  sram_read_bytes=0, sram_write_bytes=0, weight_storage_bits=0)
    if name == "eyeriss_like":      # its clock, control and leakage: one constant fitted on
        # AlexNet conv1 (bench/RESULTS_eyeriss.md), charged every cycle
        clock = arch.energy.clock_pj_per_cycle
        assert table.clock_pj_per_cycle == clock > 0 and table.control_pj_per_cycle == 0
        assert time_energy(stats, table).energy_breakdown_pj == {"mac": 1.0, "clock": 15 * clock}
        return
    assert table.clock_pj_per_cycle == 0 and table.control_pj_per_cycle == 0
    assert time_energy(stats, table) is stats


def test_leakage_clock_and_control_are_priced_per_cycle():
    """Fixed figures: leakage (mW) x runtime at the clock is static energy, apart from
    energy_pj; clock and control pJ per cycle join the breakdown; areas reach the record."""
    base = _arch()
    arch = _arch({"clock_mhz": 250, "energy": {"clock_pj_per_cycle": 3.0,
                                               "control_pj_per_cycle": 0.5,
                                               "leakage_mw": 2.0}},
                 {"scratchpad": {"leakage_mw": 0.25, "area_um2": 1000.0},
                  "pe_reg": {"leakage_mw": 0.01, "area_um2": 10.0}})
    table = energy_table(arch)
    leak_mw = 2.0 + 0.25 + 0.01 * arch.pe_count
    assert table.leakage_mw["logic"] == 2.0 and table.leakage_mw["pe_reg"] == pytest.approx(0.16)
    assert table.leakage_pj_per_cycle == pytest.approx(leak_mw * 1e-3 / 250e6 * 1e12)  # J -> pJ
    assert table.area_um2 == {"scratchpad": 1000.0, "pe_reg": 160.0}
    before = run_network(base, NET, "ws", "baseline", "energy", 1, "test")
    after = run_network(arch, NET, "ws", "baseline", "energy", 1, "test")
    for old, new in zip(before.layers, after.layers):
        cycles = new.stats.cycles
        assert cycles == old.stats.cycles
        assert new.stats.energy_breakdown_pj["clock"] == pytest.approx(3.0 * cycles)
        assert new.stats.energy_breakdown_pj["control"] == pytest.approx(0.5 * cycles)
        assert new.stats.energy_pj == pytest.approx(old.stats.energy_pj + 3.5 * cycles)
        assert new.stats.static_energy_pj == pytest.approx(leak_mw * 1e-3 * cycles / 250e6 * 1e12)
        assert old.stats.static_energy_pj == 0 and "clock" not in old.stats.energy_breakdown_pj
    data = after.to_json()
    assert data["area_um2"] == {"scratchpad": 1000.0, "pe_reg": 160.0}
    totals = data["totals"]
    assert totals["total_energy_pj"] == pytest.approx(totals["energy_pj"]
                                                      + totals["static_energy_pj"])
    # an older record, written before static_energy_pj existed, still reads
    old = before.layers[0].stats.to_dict()
    del old["static_energy_pj"]
    assert Stats.from_dict(old).static_energy_pj == 0


@pytest.mark.parametrize("level, message", [
    ({"energy_model": "cactus"}, "memory level 'scratchpad': unknown energy_model 'cactus'; "
                                 "choose from table, cacti"),
    ({"energy_model": "cacti", "read_energy_pj": 5.0},
     "energy_model 'cacti' computes read_energy_pj; give either the model or fixed figures"),
    ({"leakage_mw": -1}, "leakage_mw` must be a positive number"),
])
def test_a_bad_energy_spec_is_one_line_and_exit_2(tmp_path, capsys, level, message):
    data = arch_mapping("edge_tiny")
    data["memory"] = [{**lv, **level} if lv["name"] == "scratchpad" else lv
                      for lv in data["memory"]]
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(data))       # JSON is YAML
    out = tmp_path / "out.json"
    assert cli.main(["simulate", "--arch", str(path), "--network", "alexnet",
                     "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("dlaforge: error: ")
    assert not out.exists()


# CACTI -------------------------------------------------------------------------------------
def _cacti_or_skip():
    from dlaforge.sim.energy_models import cacti
    try:
        cacti.side_python()
    except SpecError as exc:
        pytest.skip(f"the cacti model is not installed here: {exc}")
    return cacti


def test_cacti_energies_grow_with_size_and_the_cache_returns_fresh_answers(tmp_path,
                                                                          monkeypatch):
    cacti = _cacti_or_skip()
    monkeypatch.setenv("DLAFORGE_CACHE", str(tmp_path))
    monkeypatch.setattr(cacti, "_memo", {})
    sizes = (4096, 16384, 65536)
    arch = _arch(levels={"scratchpad": {"energy_model": "cacti"}})
    levels = [replace(arch.shared_level("ifmap"), name=f"s{size}", size_bytes=size)
              for size in sizes]
    costs = get_model("cacti").memory_costs(arch, levels)
    ordered = [costs[f"s{size}"] for size in sizes]
    for small, big in zip(ordered, ordered[1:]):
        assert small.read_pj < big.read_pj and small.write_pj < big.write_pj
        assert small.leakage_mw < big.leakage_mw and small.area_um2 < big.area_um2
    # on disk, one file per SRAM; a new process (an empty memo) reads them, equal to CACTI's
    # fresh answers
    files = sorted((tmp_path / "energy").glob("cacti-*.json"))
    assert len(files) == len(sizes)
    monkeypatch.setattr(cacti, "_memo", {})
    monkeypatch.setattr(cacti, "run_cacti", lambda queries: pytest.fail("not cached"))
    assert get_model("cacti").memory_costs(arch, levels) == costs
    monkeypatch.undo()
    answers = cacti.run_cacti([cacti.query(arch, lv) for lv in levels])
    for size, answer in zip(sizes, answers):
        cost = costs[f"s{size}"]
        assert (cost.read_pj, cost.write_pj, cost.leakage_mw, cost.area_um2) == (
            answer["read_pj"], answer["write_pj"], answer["leakage_mw"], answer["area_um2"])


def test_cacti_levels_price_through_the_one_table():
    """An arch whose SRAMs name cacti: the table holds CACTI's figures, leakage and area, and
    a run prices with them (static energy from the leakage at the arch's clock)."""
    _cacti_or_skip()
    arch = _arch(levels={"scratchpad": {"energy_model": "cacti"},
                         "accumulator": {"energy_model": "cacti"}})
    table = energy_table(arch)
    direct = get_model("cacti").memory_costs(arch, list(arch.shared_levels))
    assert table.energy_models["scratchpad"] == "cacti"
    for name in ("scratchpad", "accumulator"):
        assert table.read_pj_per_word[name] == direct[name].read_pj
        assert table.area_um2[name] == direct[name].area_um2 > 0
    assert table.read_pj_per_word["pe_reg"] == energy_table(_arch()).read_pj_per_word["pe_reg"]
    record = run_network(arch, NET, "ws", "baseline", "energy", 1, "test")
    cycles = record.totals.cycles
    leak_mw = direct["scratchpad"].leakage_mw + direct["accumulator"].leakage_mw
    assert record.totals.static_energy_pj == pytest.approx(
        leak_mw * 1e-3 * cycles / (arch.clock_mhz * 1e6) * 1e12)
    assert set(record.area_um2) == {"scratchpad", "accumulator"}
