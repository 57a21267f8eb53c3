"""The `comet` training method runs on the baseline accelerator: its hardware is the
baseline's (it changes only the ops of a training iteration)."""

from ..baseline import (cell_stats, cells_row, check, generate, run,  # noqa: F401  (the interface)
                        run_random, verify)
