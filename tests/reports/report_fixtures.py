"""Fixtures of the report tests, imported by their modules (not a conftest.py: a second module
named `conftest` would shadow tests/conftest.py for `from conftest import ...`).

Stand-in efficiency methods, so that method comparison and refusal are exercised whatever
methods are registered: `half_weights` stores and moves weights at half the arch's width;
`needs_xnor` asks for a PE kind no preset has. Both run on the baseline family's hardware
and models (a registered method names its family)."""

from dataclasses import replace
from pathlib import Path

import pytest

from dlaforge.workloads.methods import METHODS, Method, baseline

TOPOLOGY = Path(__file__).parents[1] / "fixtures" / "scalesim" / "conv_4x16_ws" / "topology.csv"


def _half_weights(layer, arch):
    return [replace(op, weight_bits=op.weight_bits // 2,
                    weight_storage_bits=op.weight_storage_bits // 2)
            for op in baseline.transform(layer, arch)]


STAND_INS = {
    "half_weights": Method(name="half_weights", description="test stand-in: weights at half width",
                           transform=_half_weights, pe_kinds=("mac",), family="baseline"),
    "needs_xnor": Method(name="needs_xnor", description="test stand-in: needs an xnor PE array",
                         transform=baseline.transform, pe_kinds=("xnor",), family="baseline"),
}


@pytest.fixture(scope="module")
def stand_in_methods():
    with pytest.MonkeyPatch.context() as mp:
        for name, method in STAND_INS.items():
            mp.setitem(METHODS, name, method)
        yield


@pytest.fixture(scope="session")
def network():
    """A four-layer SCALE-Sim topology: small enough for reports in about a second."""
    return str(TOPOLOGY)
