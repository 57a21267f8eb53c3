"""The method contract (DESIGN.md, Methods): every registered method has its part at every level,
found by its family's folder, each written against that level's Protocol, and its presets
exist and accept it. Nothing else lists methods by name, so this test is what keeps the levels
together when a method is added (docs/adding_a_method.md)."""

from importlib import import_module, util

import pytest

from dlaforge import arch as arch_module
from dlaforge.arch import load_arch
from dlaforge.workloads.hwop import HwOp
from dlaforge.workloads.layer import conv
from dlaforge.workloads.methods import METHODS, MethodFamily, families, get_method

NAMES = list(METHODS)


def test_every_family_folder_registers_methods_and_nothing_else_does():
    assert families(), "no method family found"
    assert {m.family for m in METHODS.values()} == set(families())
    for family in families():
        assert isinstance(import_module(f"dlaforge.workloads.methods.{family}"), MethodFamily)


@pytest.mark.parametrize("name", NAMES)
def test_method_declares_what_it_needs(name):
    method = METHODS[name]
    assert method.name == name and method.description and callable(method.transform)
    assert set(method.pe_kinds) <= set(arch_module.PE_KINDS)
    assert set(method.units) <= set(arch_module.UNIT_KINDS)
    assert method.presets, f"{name} names no arch preset made for it"
    for preset in method.presets:
        arch = load_arch(preset)                    # the preset exists
        assert get_method(name, arch) is method     # and can run the method
    arch = load_arch(method.presets[0])
    ops = method.transform(conv("c", 16, 8, 6, R=3, padding=1), arch)
    assert ops and all(isinstance(op, HwOp) for op in ops)
    if method.units:        # a method beyond plain int8 layers has its own references
        assert util.find_spec(f"dlaforge.workloads.methods.{method.family}.reference")


def test_the_core_vocabulary_is_what_the_methods_declare():
    """arch.py (the core, which imports nothing of the project) checks PE kinds and unit names
    at load; its lists must be exactly what the registered methods declare (plus the vector
    unit of the non-MAC layers)."""
    assert set(arch_module.PE_KINDS) == {k for m in METHODS.values() for k in m.pe_kinds}
    assert set(arch_module.UNIT_KINDS) - {"vector"} == {u for m in METHODS.values()
                                                       for u in m.units}


def test_every_pe_operation_is_priced_by_a_family():
    """HwOp checks pe_op against workloads/hwop.PE_OPS; each one but the MAC is priced by the
    family that uses it (sim/methods/<family>.py's PE_OP_PJ)."""
    from dlaforge.sim.methods import family_models
    from dlaforge.workloads.hwop import PE_OPS
    assert set(PE_OPS) == {"mac"} | {name for model in family_models() for name in model.PE_OP_PJ}


@pytest.mark.parametrize("name", NAMES)
def test_method_has_hardware(name):
    from dlaforge.hw.methods import FUNCTIONS, FamilyHardware, method_hardware
    hardware = method_hardware(name)
    module = import_module(f"dlaforge.hw.methods.{METHODS[name].family}")
    assert isinstance(module, FamilyHardware)
    assert all(callable(getattr(hardware, function)) for function in FUNCTIONS)
    hardware.check(load_arch(METHODS[name].presets[0]))


@pytest.mark.parametrize("family", families())
def test_family_has_a_model(family):
    from dlaforge.sim.methods import FamilyModel
    model = import_module(f"dlaforge.sim.methods.{family}")
    assert isinstance(model, FamilyModel)
    units = {u for m in METHODS.values() if m.family == family for u in m.units}
    assert set(model.UNIT_OPS) == units, "every unit the family's methods need is priced"
    preset = next(m for m in METHODS.values() if m.family == family).presets[0]
    keys = {key for ops in model.UNIT_OPS.values() for key in ops}
    assert set(model.unit_op_pj_45nm(load_arch(preset))) == keys
