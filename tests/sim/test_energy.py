import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.sim.energy import energy_table, sram_word_energy_45nm, technology_factor


def test_sram_reference_point_is_the_cacti_figure():
    assert sram_word_energy_45nm(128 * 1024, 64, write=False) == pytest.approx(32.4)
    assert sram_word_energy_45nm(128 * 1024, 64, write=True) == pytest.approx(26.2)
    # twice as deep: x 2^0.78; four times as wide at the same depth: x (0.7*4 + 0.3)
    assert sram_word_energy_45nm(256 * 1024, 64, False) == pytest.approx(32.4 * 2 ** 0.78)
    assert sram_word_energy_45nm(512 * 1024, 256, False) == pytest.approx(32.4 * 3.1)


def test_mac_energy_at_45nm_is_horowitz():
    table = energy_table(load_arch("edge_tiny"))        # 45 nm, int8 x int8 + int32 add
    assert table.mac_pj == pytest.approx(0.2 + 0.1)


def test_technology_scaling():
    assert technology_factor(22) == 0.29
    tpu = energy_table(load_arch("tpu_like"))            # 28 nm
    assert tpu.mac_pj == pytest.approx(0.3 * 0.51)
    assert tpu.dram_read_pj_per_bit == pytest.approx(700 / 64)
    with pytest.raises(SpecError, match="technology_nm 90 is not in the scaling table"):
        technology_factor(90)


def test_eyeriss_relative_costs():
    t = energy_table(load_arch("eyeriss_like"))
    mac = t.mac_pj
    assert t.access_pj("weight_spad", 16, False) == pytest.approx(mac)        # RF 1x
    assert t.access_pj("global_buffer", 16, False) == pytest.approx(6 * mac)  # GLB 6x
    assert t.dram_read_pj_per_bit * 16 == pytest.approx(200 * mac)          # DRAM 200x
    assert t.noc_pj_per_bit * 16 == pytest.approx(2 * mac)                  # array 2x


def test_unknown_node_needs_explicit_energies(arch_yaml):
    arch = load_arch(arch_yaml({"technology_nm": 90}))
    with pytest.raises(SpecError, match="give every energy"):
        energy_table(arch)
