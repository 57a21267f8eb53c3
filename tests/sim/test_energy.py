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


def test_eyeriss_energies_are_their_sources():
    """eyeriss_like's header: the Aladdin 16-bit MAC at 5 ns, the Accelergy exercise's 65 nm
    scratchpads, and Eyeriss's relative costs anchored at the exercise's 207.7 fJ MAC for the
    GLB (6x), the array NoC (2x) and DRAM (200x), per 16-bit access."""
    t = energy_table(load_arch("eyeriss_like"))
    anchor = 0.2077
    assert t.mac_pj == pytest.approx(8.63 / 4 + 0.0857 / 2, rel=0.01)   # quadratic / linear
    assert t.access_pj("weight_spad", 16, False) == pytest.approx(1.0067)
    assert t.access_pj("ifmap_spad", 16, False) == pytest.approx(0.1124)
    assert 2 * t.access_pj("psum_spad", 16, True) == pytest.approx(0.3868)
    assert t.access_pj("global_buffer", 16, False) == pytest.approx(6 * anchor)
    assert t.dram_read_pj_per_bit * 16 == pytest.approx(200 * anchor)
    assert t.noc_pj_per_bit * 16 == pytest.approx(2 * anchor)


def test_unknown_node_needs_explicit_energies(arch_yaml):
    arch = load_arch(arch_yaml({"technology_nm": 90}))
    with pytest.raises(SpecError, match="give every energy"):
        energy_table(arch)
