"""Deployable quantizers (`--quant`): how a layer's accumulator sums become its stored outputs,
and so what the requantization stage computes and which parameters it reads from DRAM.

    per_channel_symmetric    per output channel k a scale M_k / 2**s_k; zero points 0 (default)
    per_tensor_symmetric     one scale M / 2**s for the layer
    per_channel_asymmetric   per channel scales; activations carry zero points
    per_tensor_asymmetric    one scale; activations carry zero points
    + pow2 (--pow2-scales)   every scale is 2**-s: the stage shifts, it has no multiplier

The requantization stage (workloads/methods/requant_ref.py, hw/requant.py) computes, per
output channel k,

    out = clamp(round_shift((acc + b_k) * M_k, s_k) + z_y, lo, hi)

(M_k = 1 under pow2, b_k = z_y = 0 under symmetric quantizers; lo = z_y with a ReLU, else the
signed minimum). The semantics are TFLite's int8 scheme (gemmlowp's arithmetic):

- Asymmetric *activations*: x = s_x (q_x - z_x), y = s_y (q_y - z_y), stored as signed
  ofmap_bits elements with zero points z in the signed range (an unsigned uint8 tensor with
  zero point z + 128 is the same tensor with its top bit flipped). The PEs multiply the stored
  q_x; the input zero-point correction -z_x * sum(w_k) (plus the layer's constant term) is
  folded offline into a 32-bit per-output-channel bias b_k that the stage adds before scaling;
  z_y is added after scaling and the clamp (and a fused ReLU, at z_y) keeps the result in the
  stored range. The folding is exact for every output, a padded border included: a real-zero
  padded tap is x_q = z_x, and the controller's fold engines feed every tap outside the image
  (padding, or a window hanging past the edge) the command's `pad` field, the layer's input
  zero point (hw/controller/fold.py; the field and its path exist only in a design generated
  for an asymmetric quantizer, symmetric ones pad with 0), so the folded -z_x * sum(w_k) covers
  the padded taps too. The reference (hw/controller/stimulus.py, `Requant.in_zero`,
  requant_ref.pad_input) pads the quantized input with z_x alike.
- *Weights are symmetric* under every quantizer here (z_w = 0), as in TFLite's int8 spec and
  most deployable int8 backends: an asymmetric weight would need the term z_w * sum(window x)
  per output pixel (window sums of the input and a multiply-add per output), which no level
  of dlaforge implements.

The parameter table of a layer in DRAM (one-byte elements): a head of `head_pieces` bytes
(per-tensor: the layer's scale part) followed by `channel_pieces` bytes per output channel
(per-channel: the channel's scale part; asymmetric: its bias). A scale part is the multiplier
(two bytes, low first; absent under pow2), the shift, and under asymmetric quantizers z_y; a
bias is four bytes, low first. The controller fetches the head and the entries of the filters
a write-back needs (`fetch_bytes`).

Energy: the stage's operations (`Quantizer.stage_ops`) are priced on every output element the
controller requantizes, whatever the quantizer (the default included), as the `requant`
component of a run's energy (sim/controller_stats.py); the table's bytes are DRAM reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlaforge.errors import SpecError

NAMES = ("per_tensor_symmetric", "per_channel_symmetric", "per_tensor_asymmetric",
         "per_channel_asymmetric")
DEFAULT = "per_channel_symmetric"
BIAS_BYTES = 4


@dataclass(frozen=True)
class Quantizer:
    """A deployable quantizer: `granularity` of the scales ("tensor" or "channel"), whether the
    activations are `symmetric`, and whether the scales are powers of two (`pow2`)."""

    granularity: str = "channel"
    symmetric: bool = True
    pow2: bool = False

    def __post_init__(self):
        if self.granularity not in ("tensor", "channel"):
            raise ValueError(f"`granularity` must be 'tensor' or 'channel', not "
                             f"{self.granularity!r}")

    @staticmethod
    def of(name: str, pow2: bool = False) -> Quantizer:
        """The quantizer named `name` (one of NAMES); SpecError for another name."""
        if name not in NAMES:
            raise SpecError(f"unknown quantizer {name!r}; choose one of {', '.join(NAMES)}")
        if not isinstance(pow2, bool):
            raise SpecError(f"`pow2` must be true or false, not {pow2!r}")
        granularity, kind = name.split("_")[1], name.split("_")[2]
        return Quantizer(granularity, kind == "symmetric", pow2)

    @property
    def name(self) -> str:
        """e.g. "per_channel_symmetric" or "per_tensor_asymmetric+pow2"."""
        base = f"per_{self.granularity}_{'symmetric' if self.symmetric else 'asymmetric'}"
        return base + ("+pow2" if self.pow2 else "")

    @property
    def per_channel(self) -> bool:
        return self.granularity == "channel"

    @property
    def scale_pieces(self) -> tuple:
        """The bytes of a scale part, in order."""
        return ((() if self.pow2 else ("m0", "m1")) + ("shift",)
                + (() if self.symmetric else ("zero",)))

    @property
    def bias_pieces(self) -> tuple:
        return () if self.symmetric else tuple(f"b{i}" for i in range(BIAS_BYTES))

    @property
    def head(self) -> tuple:
        """The bytes of the table's head (the per-tensor scale part)."""
        return () if self.per_channel else self.scale_pieces

    @property
    def entry(self) -> tuple:
        """The bytes of one output channel's entry."""
        return (self.scale_pieces if self.per_channel else ()) + self.bias_pieces

    @property
    def head_pieces(self) -> int:
        return len(self.head)

    @property
    def channel_pieces(self) -> int:
        return len(self.entry)

    def table_bytes(self, channels: int) -> int:
        """DRAM bytes of a table for `channels` output channels."""
        return self.head_pieces + self.channel_pieces * channels

    def fetch_bytes(self, filters):
        """Bytes one parameter fetch moves for `filters` filters (int or array)."""
        return self.head_pieces + self.channel_pieces * filters

    def stage_ops(self) -> dict:
        """Operations of the requantization stage per output element: the multiply (none
        under pow2), the rounding shift with its rounding add, the clamp's two compares, and
        under asymmetric quantizers the bias and output zero-point adds. The models price
        them on every output the controller writes, under every quantizer, as the energy
        component `requant` (sim/controller_stats.requant_stage_pj)."""
        adds = 1 + 2 + (0 if self.symmetric else 2)
        return {"mult": 0 if self.pow2 else 1, "shift": 1, "add": adds}


DEFAULT_QUANTIZER = Quantizer()


def as_quantizer(requant) -> Quantizer | None:
    """A `requant` argument as models take it (False/None: no requantization, True: the default
    quantizer, or a Quantizer) as a Quantizer or None."""
    if requant is None or requant is False:
        return None
    if requant is True:
        return DEFAULT_QUANTIZER
    if isinstance(requant, Quantizer):
        return requant
    raise TypeError(f"`requant` must be a bool or a Quantizer, not {requant!r}")
