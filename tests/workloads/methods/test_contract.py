"""The method contract (DESIGN.md, Methods): every registered method has its part at every level,
found by its family's folder, each written against that level's Protocol, and its presets
exist and accept it. Nothing else lists methods by name, so this test is what keeps the levels
together when a method is added (docs/adding_a_method.md)."""

from importlib import import_module, util

import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.workloads.hwop import HwOp
from dlaforge.workloads.layer import conv
from dlaforge.workloads.methods import (METHODS, MethodFamily, families, get_method, pe_kinds,
                                        unit_kinds)

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
    assert method.presets, f"{name} names no arch preset made for it"
    for preset in method.presets:
        arch = load_arch(preset)                    # the preset exists
        assert get_method(name, arch) is method     # and can run the method
    arch = load_arch(method.presets[0])
    ops = method.transform(conv("c", 16, 8, 6, R=3, padding=1), arch)
    assert ops and all(isinstance(op, HwOp) for op in ops)
    if method.units:        # a method beyond plain int8 layers has its own references
        assert util.find_spec(f"dlaforge.workloads.methods.{method.family}.reference")


def test_an_arch_may_name_only_what_the_methods_declare(tmp_path):
    """The core checks a PE kind's and a unit's form only; workloads.methods, which knows the
    methods, refuses an arch naming a kind or unit that no method declares."""
    assert "mac" in pe_kinds() and "vector" in unit_kinds()
    assert set(unit_kinds()) - {"vector"} == {u for m in METHODS.values() for u in m.units}
    for text, refusal in (("pe_array: {pe_kind: fpu}", "unknown pe_kind 'fpu'"),
                          ("units: {fft: {ops_per_cycle: 4}}", "unknown unit 'fft'")):
        path = tmp_path / "odd.yaml"
        path.write_text(f"base: edge_tiny\nname: odd\n{text}\n")
        with pytest.raises(SpecError, match=refusal):
            get_method("baseline", load_arch(path))
    with pytest.raises(SpecError, match="not a PE kind or unit name"):
        path.write_text("base: edge_tiny\nname: odd\npe_array: {pe_kind: Mac-2}\n")
        load_arch(path)


@pytest.mark.parametrize("name", NAMES)
def test_every_pe_operation_is_priced_by_a_family(name):
    """A method's ops name their PE operation (HwOp.pe_op); each one but a MAC ("mac" and a
    method's mac_ops, priced as the table's MAC) is priced by a family's model
    (sim/methods/<family>.py's PE_OP_PJ), on every preset made for it."""
    from dlaforge.sim.methods import family_models
    priced = ({"mac"} | {op for model in family_models() for op in model.PE_OP_PJ}
              | {op for method in METHODS.values() for op in method.mac_ops})
    method = METHODS[name]
    layers = (conv("c", 16, 8, 6, R=3, padding=1), conv("s", 16, 32, 9, R=3, stride=2),
              conv("p", 32, 16, 5, R=1))
    for preset in method.presets:
        arch = load_arch(preset)
        used = {op.pe_op for layer in layers for op in method.transform(layer, arch)}
        assert used <= priced, f"{name} on {preset}: unpriced {used - priced}"


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


def test_registering_the_methods_imports_no_reference():
    """A family's __init__ keeps its numba references out of its imports (they take a third of
    a second to load): `dlaforge list methods` and `--help` start quickly."""
    import subprocess
    import sys
    code = ("import sys, dlaforge.workloads.methods; "
            "print(sorted(m for m in sys.modules if m == 'numba' or m.endswith('.reference')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
