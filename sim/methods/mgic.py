"""MGIC's grouped convolutions need no unit beside the array and run on the baseline
accelerator: its model is the baseline's."""

from .baseline import (PE_OP_PJ, UNIT_OPS, cannot_run, command_counters,  # noqa: F401
                       counters_to_stats, op_stats, unit_op_pj_45nm)  # (the interface)
