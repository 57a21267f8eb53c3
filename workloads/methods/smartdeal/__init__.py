"""SmartDeal (`smartdeal`): weights stored decomposed, rebuilt on chip by a shift-add engine,
then used by the MAC array (references: smartdeal/reference.py): a decomposed layer's op is
pe_op `rebuilt_mac` (REBUILT_MAC), an int8 activation times a rebuilt integer weight of
REBUILT_BITS, which the controller's SmartDeal datapath (plan.CONTROLLER_DATAPATH) runs.

What a layer stores depends on its trained weights, which the simulator does not have. The
counts here come from decomposing synthetic weights of the layer's shape (normal, seeded by the
shape) — an untrained filter, so Ce is far less sparse than after SmartDeal's training — on a
sample of at most `SAMPLE_FILTERS` filters, scaled to all K filters. Storage is nnz(Ce)·code
bits + one bitmap bit per Ce entry + 8-bit B and its exponent per filter; DRAM moves that
instead of the int8 weights (`dram_scale` of the weights, the generic models' view; the
controller reads the code regions of regions.py, their bytes counted exactly). The rebuild
engine shifts one B row per nonzero Ce entry (3 shifts) and adds the rows of each Ce row
together: the op's ops count one rebuild of each weight, which the models of the generic
array charge once per layer and the controller's once per load of the weights
(sim/controller_stats.py).

Under `--phase train` the weights stay decomposed through the iteration: `TRAINING`
(smartdeal/training.py) prices the rebuild for dX, dB and Ce's masked gradient through the
rebuild, and an update of B and Ce's nonzeros only.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np

from .. import Method, baseline
from .training import SmartDealTraining

SAMPLE_FILTERS = 32
REBUILT_MAC = "rebuilt_mac"     # HwOp.pe_op of a decomposed layer: a MAC of rebuilt weights


@lru_cache(maxsize=None)
def sampled_counts(K: int, cg: int, R: int, S: int) -> tuple[int, int]:
    """(nnz of Ce, Ce rows with a nonzero) of the decomposition, estimated for all K filters."""
    from .reference import decompose      # numba: imported when a layer is priced, not listed
    sample = min(K, SAMPLE_FILTERS)
    rng = np.random.default_rng([K, cg, R, S])
    d = decompose(rng.normal(0.0, np.sqrt(2.0 / (cg * R * S)), (sample, cg, R, S)))
    return round(d.nnz * K / sample), round(d.rows_used * K / sample)


def transform(layer, arch) -> list:
    from .reference import entries_per_filter, storage_bits
    op = baseline.transform(layer, arch)[0]
    if op.weight_is_activation:         # no weights to decompose
        return [op]
    cg = layer.C // layer.groups
    nnz, rows = sampled_counts(layer.K, cg, layer.R, layer.S)
    storage = storage_bits(nnz, layer.K, entries_per_filter(cg, layer.R, layer.S))
    ops = {**op.ops, "rebuild_shift": 3 * nnz, "rebuild_add": 3 * (nnz - rows)}
    return [replace(op, pe_op=REBUILT_MAC, ops=ops, weight_storage_bits=storage,
                    dram_scale={"weight": storage / (op.weight_elements * op.weight_bits)})]


TRAINING = SmartDealTraining

METHODS = (Method(name="smartdeal", transform=transform, pe_kinds=("mac",),
                  units=("smartdeal_rebuild",), mac_ops=(REBUILT_MAC,),
                  presets=("edge_tiny_smartdeal", "tpu_like_smartdeal"),
                  description="SmartDeal: power-of-two sparse Ce x 8-bit B, rebuilt by "
                              "shift-adds"),)
