"""The sliding window of a convolution beyond one stride and one symmetric padding: a column
stride, padding per side and dilation, shared by `Layer` and `HwOp`.

Both keep `stride` (rows) and `padding` (every side) as before, and three optional fields:
`stride_w` (columns; None: `stride`), `pads` (top, left, bottom, right; None: `padding` on
every side; `padding` is then 0) and `dilation` (rows, cols; (1, 1): none).
`canonical_window` folds the optional fields back when they say nothing new (equal strides,
equal pads, no dilation), so a plain window has exactly one form and old records, cache keys
and the SCALE-Sim-compatible paths see nothing new.
"""

from __future__ import annotations

from dlaforge.errors import SpecError, non_negative_int, positive_int


class Window:
    """Read-only views of the window fields of a frozen dataclass that has `R`, `S`,
    `stride`, `padding`, `stride_w`, `pads` and `dilation`."""

    @property
    def strides(self) -> tuple[int, int]:
        """(rows, cols)."""
        return self.stride, self.stride if self.stride_w is None else self.stride_w

    @property
    def paddings(self) -> tuple[int, int, int, int]:
        """(top, left, bottom, right)."""
        return (self.padding,) * 4 if self.pads is None else self.pads

    @property
    def extent(self) -> tuple[int, int]:
        """Rows and cols one dilated window spans: d * (R - 1) + 1."""
        dh, dw = self.dilation
        return dh * (self.R - 1) + 1, dw * (self.S - 1) + 1

    @property
    def plain_window(self) -> bool:
        """One stride, one symmetric padding, no dilation (what SCALE-Sim and the RTL run)."""
        return self.stride_w is None and self.pads is None and self.dilation == (1, 1)

    def window_shape(self) -> dict:
        """The optional window fields that differ from a plain window, for a record's shape."""
        out = {}
        if self.stride_w is not None:
            out["stride_w"] = self.stride_w
        if self.pads is not None:
            out["pads"] = list(self.pads)
        if self.dilation != (1, 1):
            out["dilation"] = list(self.dilation)
        return out

    def window_reason(self) -> str | None:
        """What makes the window non-plain, in words (None for a plain window)."""
        parts = []
        if self.dilation != (1, 1):
            parts.append(f"dilation {self.dilation[0]}x{self.dilation[1]}")
        if self.pads is not None:
            parts.append("asymmetric padding (top, left, bottom, right) = "
                         f"{tuple(self.pads)}")
        if self.stride_w is not None:
            parts.append(f"rectangular stride {self.stride}x{self.stride_w}")
        return ", ".join(parts) or None


def canonical_window(obj, where: str) -> None:
    """Validate the window fields of frozen dataclass `obj` and fold redundant ones back."""
    positive_int(obj.stride, f"{where}: stride")
    non_negative_int(obj.padding, f"{where}: padding")
    if obj.stride_w is not None:
        positive_int(obj.stride_w, f"{where}: stride_w")
        if obj.stride_w == obj.stride:
            object.__setattr__(obj, "stride_w", None)
    dilation = tuple(obj.dilation)
    if len(dilation) != 2:
        raise SpecError(f"`{where}: dilation` must be (rows, cols), not {obj.dilation!r}")
    for d in dilation:
        positive_int(d, f"{where}: dilation")
    object.__setattr__(obj, "dilation", dilation)
    if obj.pads is not None:
        pads = tuple(obj.pads)
        if len(pads) != 4:
            raise SpecError(f"`{where}: pads` must be (top, left, bottom, right), not {obj.pads!r}")
        for p in pads:
            non_negative_int(p, f"{where}: pads")
        if obj.padding not in (0, pads[0]):
            raise SpecError(f"{where}: give `padding` or `pads`, not both")
        symmetric = len(set(pads)) == 1
        object.__setattr__(obj, "padding", pads[0] if symmetric else 0)
        object.__setattr__(obj, "pads", None if symmetric else pads)
