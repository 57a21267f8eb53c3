"""Method hardware: the units that run a method's operations (issue 6), one module per method,
each built from the same ArchSpec and verified like the baseline accelerator.

Every module offers `check(arch)`, `generate(arch, out_dir)`, `verify(arch, sim, progress)`
and `cell_stats(arch)`; `method_hardware(name)` gives them for a registered method name (the
Winograd module builds F4 or F2 by a `variant` argument)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from importlib import import_module

from dlaforge.errors import SpecError

# method name -> (module under hw/methods, keyword arguments of its functions)
HARDWARE = {
    "baseline": ("baseline", {}),
    "xnor": ("xnor", {}),
    "smartdeal": ("smartdeal", {}),
    "winograd_f4": ("winograd", {"variant": "F4"}),
    "winograd_f2": ("winograd", {"variant": "F2"}),
    **{name: ("palquant", {}) for name in ("palquant", "palquant_g3", "palquant_g4",
                                          "bitslice_w4a4")},
}


@dataclass(frozen=True)
class MethodHardware:
    """A method's unit: the functions of its module, bound to its options."""

    name: str
    module: str
    options: dict = field(default_factory=dict)

    def __getattr__(self, function: str):
        if function not in ("check", "generate", "verify", "cell_stats"):
            raise AttributeError(function)
        found = getattr(import_module(f"{__name__}.{self.module}"), function)
        return partial(found, **self.options)


def method_hardware(name: str) -> MethodHardware:
    """The hardware of method `name`, or SpecError naming those that have one."""
    if name not in HARDWARE:
        raise SpecError(f"no RTL for method {name!r}; the RTL generator builds "
                        f"{', '.join(HARDWARE)}")
    module, options = HARDWARE[name]
    return MethodHardware(name, module, options)
