"""Which timing model prices a method's hardware ops under `--schedule rtl`: each method's
hardware (hw/methods/) has its own exact timing model here, held equal to its RTL by
tests/hw/methods/."""

from __future__ import annotations

from importlib import import_module

# method name -> module of sim/cycle with op_stats(arch, op, dataflow, table) and
# cannot_run(arch, op, dataflow)
TIMING = {
    "xnor": "rtl_xnor",
    "smartdeal": "rtl_smartdeal",
    "winograd_f4": "rtl_winograd",
    "winograd_f2": "rtl_winograd",
    **{name: "rtl_palquant" for name in ("palquant", "palquant_g3", "palquant_g4",
                                         "bitslice_w4a4")},
}


def method_timing(method: str):
    """The timing module of `method`'s hardware, or None when it has none."""
    name = TIMING.get(method)
    return None if name is None else import_module(f"{__package__}.{name}")
