"""DIR-Net runs on the XNOR unit (hw/methods/xnor/): its hardware is the XNOR unit's.

Its arithmetic fits that unit: the popcount dot product is the same, and its per-filter
power-of-two scale is an α_q of 2^e with K_q constant. The unit's scaling stage, though,
multiplies where a DIR-Net accelerator would shift (sim/methods/dirnet.py prices the shift the
method performs; a shift-only scaling stage and its verification remain), so `rtl verify
--method dirnet` verifies the XNOR unit itself.
"""

from ..xnor import (cell_stats, cells_row, check, generate, run,  # noqa: F401  (the interface)
                    run_random, verify)
