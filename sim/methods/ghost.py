"""The Ghost module needs no unit beside the array and runs on the baseline accelerator: its
model is the baseline's."""

from .baseline import (PE_OP_PJ, UNIT_OPS, cannot_run, command_counters,  # noqa: F401
                       counters_to_stats, op_stats, unit_op_pj_45nm)  # (the interface)
