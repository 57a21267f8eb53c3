"""The exception types a user sees: bad input, and a run that failed.

Loaders and validators raise `SpecError` with a message that names the problem; a simulation
that fails (a simulator that does not finish, hardware outputs that differ from the reference)
raises `RunError`. The CLI turns either into one line on stderr and exit code 2. Everything else
escaping a model is a bug.
"""


class SpecError(ValueError):
    """Bad input from the user: a name, a file, a number or a combination that cannot work."""


class RunError(RuntimeError):
    """A run that failed: the RTL's outputs differ from the reference, or its simulator did not
    finish or wrote no result."""


def positive_int(value, what):
    """Return `value` as an int if it is a positive integer, else raise SpecError."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SpecError(f"`{what}` must be a positive integer, not {value!r}")
    return value


def non_negative_int(value, what):
    """Return `value` if it is an integer >= 0, else raise SpecError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SpecError(f"`{what}` must be a non-negative integer, not {value!r}")
    return value


def positive_number(value, what):
    """Return `value` as a float if it is a number > 0, else raise SpecError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise SpecError(f"`{what}` must be a positive number, not {value!r}")
    return float(value)
