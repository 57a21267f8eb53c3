"""The exception types a user sees: bad input, and a run that failed.

Loaders and validators raise `SpecError` with a message that names the problem; a simulation
that fails (a simulator that does not finish, hardware outputs that differ from the reference)
raises `RunError`. The CLI turns either into one line on stderr and exit code 2. Everything else
escaping a model is a bug.
"""

import math


class SpecError(ValueError):
    """Bad input from the user: a name, a file, a number or a combination that cannot work."""


class RunError(RuntimeError):
    """A run that failed: the RTL's outputs differ from the reference, or its simulator did not
    finish or wrote no result."""


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM). Like KeyboardInterrupt it is no Exception, so
    nothing catches it by accident; the CLI turns it into one line and exit code 143."""


# The largest integer and number a spec or a layer may hold: far beyond any accelerator, small
# enough that products of a few of them stay exact in numpy's int64 and float64.
MAX_INT = 2**48
MAX_NUMBER = 1e15


def shown(value, limit: int = 40) -> str:
    """`repr(value)` for a message, cut short when long (a huge value is never printed whole)."""
    if isinstance(value, (list, dict, tuple, set)):
        return f"a {type(value).__name__}"
    if _is_int(value) and value.bit_length() > 128:
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(value, what):
    """Return `value` if it is an integer from 1 to MAX_INT, else raise SpecError."""
    if not _is_int(value) or not 0 < value <= MAX_INT:
        raise SpecError(f"`{what}` must be a positive integer{_upto(value)}, not {shown(value)}")
    return value


def non_negative_int(value, what):
    """Return `value` if it is an integer from 0 to MAX_INT, else raise SpecError."""
    if not _is_int(value) or not 0 <= value <= MAX_INT:
        raise SpecError(f"`{what}` must be a non-negative integer{_upto(value)}, "
                        f"not {shown(value)}")
    return value


def positive_number(value, what, minimum: float = 0.0):
    """Return `value` as a float if it is a finite number above `minimum` (at least it, when
    `minimum` > 0) and at most MAX_NUMBER, else raise SpecError."""
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value) and value > 0 and value >= minimum and value <= MAX_NUMBER)
    if not ok:
        bounds = f" from {minimum:g} to {MAX_NUMBER:g}" if minimum else \
            (f" up to {MAX_NUMBER:g}" if _too_big(value) else "")
        raise SpecError(f"`{what}` must be a positive number{bounds}, not {shown(value)}")
    return float(value)


def boolean(value, what):
    """Return `value` if it is true or false (not a string such as "false"), else SpecError."""
    if not isinstance(value, bool):
        raise SpecError(f"`{what}` must be true or false, not {shown(value)}")
    return value


def _too_big(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 and \
        (not math.isfinite(value) or value > MAX_NUMBER)


def _upto(value) -> str:
    return " up to 2^48" if _is_int(value) and value > MAX_INT else ""
