"""An MGIC hierarchy is ordinary grouped int8 convolutions on the baseline accelerator: its
hardware is the baseline's."""

from ..baseline import (cell_stats, cells_row, check, generate, run,  # noqa: F401  (the interface)
                        run_random, verify)
