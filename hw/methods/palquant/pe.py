"""The code-MAC processing element of the controller's PalQuant datapath, a drop-in PE for
hw/array.py's SystolicArray.

Same ports, registers and modes as hw/pe.MacPE on the spec's 2-bit lanes, with the product a·w
replaced by q_a·(2·q_w − 3): both lanes hold unsigned codes (the activation's q_a, the weight's
q_w), and the weight code is decoded to its odd level (−3, −1, 1, 3) inside the PE, a shift and
an add in front of a 2 x 3-bit multiplier. The sums are PalQuant's T = 2·Σq_w·q_a − 3·Σq_a
(workloads/methods/palquant/reference.py). A zero activation lane (padding, lanes past a tile's
channels) adds nothing; a zero weight lane is the level −3, so the ws fold masks the ifmap lanes
past a tile's channels (Datapath.zero_weight_idle False).
"""

from __future__ import annotations

from ...pe import MacPE


class CodeMacPE(MacPE):
    """hw/pe.MacPE with its operation c + q_a·(2·q_w − 3) on unsigned code lanes, and (with
    hw/pe.with_mac_mode) a MAC mode multiplying unsigned 2-bit slices, c + a·w: a slice pass
    of wider unsigned codes (the accumulator weights its sums, hw/controller/fold.accumulate)."""

    @staticmethod
    def accumulate(partial, a, w):
        return partial + a.as_unsigned() * ((w.as_unsigned() << 1) - 3)

    @staticmethod
    def mac_accumulate(partial, a, w):
        return partial + a.as_unsigned() * w.as_unsigned()
