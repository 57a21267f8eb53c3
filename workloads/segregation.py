"""Kernel segregation: a transposed convolution as stride-1 sub-convolutions, one per output
phase, over the input as it is (no zeros inserted between its pixels).

A stride-s transposed conv scatters each input pixel x[h] through the kernel taps to the outputs
y[h*s - before + d*r] (`before` the padding at the top/left, d the dilation). Output y[a + s*i]
therefore receives only the taps r with (a + before - d*r) divisible by s, each reading
x[i + (a + before - d*r) / s]: per phase a a stride-1 convolution of x with that subset of the
kernel (the taps in increasing input offset, i.e. rotated), whose taps are `step` input pixels
apart. In two dimensions a phase is a pair (a, b) of a row and a column phase, s_h x s_w
sub-convolutions in all, together performing each real product once.

The same lowering is the input gradient of a strided convolution (dX = the transposed conv of dY,
workloads/training.py) and the `tconv_segregation` method's forward
(workloads/methods/tconv_segregation). Like any conv op, a sub-convolution counts the taps that
land on padding at the borders; a phase whose taps read padding only has zero output and no op.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AxisPhase:
    """One phase along one axis: the outputs phase, phase + stride, ... as a stride-1
    sub-convolution over the input."""

    phase: int          # the first output position
    taps: tuple         # the kernel taps it uses, in increasing input offset (decreasing r)
    outputs: int        # how many outputs (phase, phase + stride, ...) the output holds
    step: int           # input pixels between consecutive taps (the sub-kernel's dilation)
    pad_before: int     # zeros before the first input pixel read
    crop: int           # the first input pixel read
    length: int         # input pixels from `crop` to the end
    pad_after: int      # zeros after the last input pixel

    @property
    def sub_conv(self) -> tuple:
        """(outputs, taps, dilation, pad_before, crop, length, pad_after)."""
        return (self.outputs, len(self.taps), self.step, self.pad_before, self.crop,
                self.length, self.pad_after)


def segregate_axis(out_size: int, in_size: int, kernel: int, stride: int, before: int,
                   dilation: int) -> list[AxisPhase]:
    """The phases of one axis of a transposed conv from `in_size` to `out_size` pixels (the
    outputs past the window rule, ONNX's output_padding, included) that some tap reaches
    inside the input."""
    phases = []
    for a in range(min(stride, out_size)):
        taps = [r for r in range(kernel) if (a + before - dilation * r) % stride == 0]
        if not taps:
            continue
        outputs = -(-(out_size - a) // stride)
        offsets = [(a + before - dilation * r) // stride for r in reversed(taps)]
        lo, hi = offsets[0], offsets[-1]
        if lo > in_size - 1 or hi + outputs - 1 < 0:
            continue        # its taps read padding only: a zero output, no op
        step = offsets[1] - offsets[0] if len(offsets) > 1 else 1
        crop, pad_before = max(lo, 0), max(-lo, 0)
        length = in_size - crop
        pad_after = max(0, outputs - 1 + hi - crop - (length - 1))
        phases.append(AxisPhase(a, tuple(reversed(taps)), outputs, step, pad_before, crop,
                                length, pad_after))
    return phases


def axis_phases(size_in: int, size_out: int, kernel: int, stride: int, before: int,
                dilation: int) -> list[tuple]:
    """Kernel segregation along one axis of a conv (input `size_in`, output `size_out`), the
    view its input gradient takes: per dX phase that some tap reaches inside dY, the stride-1
    sub-conv over dY as (outputs, taps, dilation, pad_before, first dY index read, dY length,
    pad_after)."""
    return [p.sub_conv for p in segregate_axis(size_in, size_out, kernel, stride, before,
                                               dilation)]


@dataclass(frozen=True)
class SubConv:
    """One (row phase, column phase) sub-convolution, at position (i, j) of the live phases."""

    i: int
    j: int
    rows: AxisPhase
    cols: AxisPhase

    def dims(self) -> dict:
        """Its loop dims and window, as Layer/HwOp fields (the input is the cropped one)."""
        rows, cols = self.rows, self.cols
        return dict(P=rows.outputs, Q=cols.outputs, R=len(rows.taps), S=len(cols.taps),
                    H=rows.length, W=cols.length, stride=1, stride_w=None, padding=0,
                    pads=(rows.pad_before, cols.pad_before, rows.pad_after, cols.pad_after),
                    dilation=(rows.step, cols.step))


def sub_convolutions(out_size: tuple, in_size: tuple, window) -> list[SubConv]:
    """The sub-convolutions of a transposed conv from `in_size` (rows, cols) to `out_size`
    with the kernel, strides, top/left padding and dilation of `window` (a Layer)."""
    (sh, sw), (top, left, _, _), (dh, dw) = window.strides, window.paddings, window.dilation
    rows = segregate_axis(out_size[0], in_size[0], window.R, sh, top, dh)
    cols = segregate_axis(out_size[1], in_size[1], window.S, sw, left, dw)
    return [SubConv(i, j, r, c) for i, r in enumerate(rows) for j, c in enumerate(cols)]
