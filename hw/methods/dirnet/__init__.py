"""DIR-Net runs on the XNOR unit (hw/methods/xnor/): its hardware is the XNOR unit's.

Its arithmetic fits that unit: the popcount dot product is the same, and its per-filter
power-of-two scale is an α_q of 2^e with K_q constant (hw/methods/dirnet/stimulus.py). The
unit's scaling stage multiplies where a DIR-Net accelerator would shift, and the DIR-Net jobs
give it host-packed signs (its binarizing pre-pass also forms XNOR-Net's K map, which DIR-Net
has no use for); sim/methods/dirnet.py prices the shift the method performs, and a shift-only
scaling stage with a sign-only pre-pass remains to be built.

- `verify(arch, sim)`: DIR-Net layers (the XNOR unit's layer cases on int8 activations and
  real weights, balanced and binarized with power-of-two scales, and corners) on the XNOR unit,
  bit-exact against workloads/methods/dirnet/reference.dirnet_conv_int and with the
  testbench's cycles equal to the unit's counter;
- `check`, `generate`, `cell_stats`, `cells_row`, `run`, `run_random`: the XNOR unit's.
"""

from ..xnor import (cell_stats, cells_row, check, generate, run,  # noqa: F401  (the interface)
                    run_random)
from ..xnor import verify as xnor_verify
from .stimulus import verification_jobs


def verify(arch, sim: str = "icarus", progress=lambda line: None) -> tuple[int, int]:
    """(passed, failed) of DIR-Net's layers on the XNOR unit (module doc)."""
    return xnor_verify(arch, sim, progress, cases=verification_jobs)
