"""The options a method takes from its user (`--prune`, `--filter-patch`, ...), declared once.

A family that takes options declares them in its `workloads/methods/<family>/__init__.py` as
`OPTIONS`, a tuple of `MethodOption` (name, default, type, help); every method of the family
takes them. Nothing else lists them: the command line builds one flag per declared option from
`declared()` (dlaforge/cli.py), `dlaforge.simulate(..., method_options=...)` checks what it is
given with `check()`, and the parts of a method read them resolved to their defaults
(`resolved()`): a training method's hooks (workloads/training_methods.py, `TrainingMethod`)
and a method's network rewrite (`Method.network_transform`, workloads/methods/__init__.py).

An option of a training-only method (`Method.training_only`) applies under `--phase train`
only; a method that changes inference (nisp's `prune`) takes its options in both phases.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from dlaforge.errors import SpecError


@dataclass(frozen=True)
class MethodOption:
    name: str                   # the keyword (`filter_patch`); the flag is `--filter-patch`
    default: object
    type: type = str            # what the command line converts the flag's text to
    help: str = ""
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return option_flag(self.name)


def option_flag(name: str) -> str:
    """The command-line spelling of an option."""
    return "--" + name.replace("_", "-")


def family_options(family: str) -> tuple[MethodOption, ...]:
    """The options the family's methods take (its `OPTIONS`; none when it declares none)."""
    return tuple(getattr(import_module(f"{__package__}.methods.{family}"), "OPTIONS", ()))


def options_of(method: str) -> tuple[MethodOption, ...]:
    """The options registered method `method` takes (SpecError for an unknown method)."""
    from .methods import METHODS
    if method not in METHODS:
        raise SpecError(f"unknown method {method!r}; choose from {', '.join(sorted(METHODS))}")
    return family_options(METHODS[method].family)


def declared() -> dict[str, tuple[MethodOption, tuple[str, ...]]]:
    """Every declared option by name: (the option, the methods that take it), the table the
    command line's flags are built from."""
    from .methods import METHODS
    table: dict[str, tuple[MethodOption, tuple[str, ...]]] = {}
    for method in METHODS.values():
        for option in family_options(method.family):
            known, takers = table.get(option.name, (option, ()))
            table[option.name] = (known, takers + (method.name,))
    return table


def check(method: str, options: dict, phase: str) -> dict:
    """`options` (name -> value) if `method` takes every one of them in `phase`; SpecError
    naming the first flag it refuses otherwise (the values are checked by their users)."""
    from .methods import METHODS
    takes = {option.name for option in options_of(method)}
    for name in options:
        if name not in takes:
            if phase == "infer" and name in declared() and all(
                    METHODS[m].training_only for m in declared()[name][1]):
                raise SpecError(f"{option_flag(name)} applies to --phase train")
            flags = ", ".join(option_flag(o) for o in sorted(takes)) or "none"
            raise SpecError(f"{option_flag(name)} is not an option of method {method!r} "
                            f"(its options: {flags})")
        if phase == "infer" and METHODS[method].training_only:
            raise SpecError(f"{option_flag(name)} applies to --phase train")
    return dict(options)


def resolved(method: str, options: dict) -> dict:
    """Every option `method` takes, `options` over its defaults."""
    return {**{o.name: o.default for o in options_of(method)}, **options}
