"""Kernel segregation for transposed convolutions (`tconv_segregation`).

The seed paper (efficient transposed convolution by kernel segregation) observes that the
zero-insertion lowering of a stride-2 transposed conv, which the baseline uses (the input
upsampled with stride - 1 zeros between pixels, then convolved at stride 1), spends most of its
multiplies on the inserted zeros; it segregates the kernel, by which taps are "activated" at each
output position, into four sub-kernels and convolves each over the original input. The model
generalises this to any stride s (rows and columns apart), padding, dilation and output padding
(workloads/segregation.py): s_h x s_w stride-1 sub-convolutions, the sub-kernel of output phase
(a, b) holding the taps that reach outputs (a + s_h i, b + s_w j), each an ordinary int8 MAC op
on the unchanged array, writing its phase of the output (a strided write address).

What it performs: every product of a real input pixel with a tap once, plus, as any conv op,
the taps that fall on padding at the borders; per axis sum_a ceil((P - a) / s) * taps(a)
instead of the baseline's P * R, so 1/s² of the baseline's PE MACs when s divides the output
and every phase has work. Stored and moved: the input as it is (int8, no upsampled copy in
DRAM), the weights once (the sub-kernels are a reordering of the kernel's taps, done offline;
taps that only ever meet padding are not stored), the outputs once (int8).

Left out: the paper's GPU measurements and its training speed-up (this is inference); each
sub-convolution is priced as its own op, so the models may read the input from DRAM once per
phase where a fused schedule would share it across the s² sub-kernels; a transposed conv
from a 1 x 1 input (DCGAN's projection) stays, as in the baseline, a conv over a padded pixel,
although a GEMM would do only its nominal MACs. The sub-convolutions pad their input
unevenly (a phase's taps reach one side only), which the generated accelerator's loader does
not walk: `--schedule rtl` refuses them in one line. Other layers run as the baseline's.
"""

from __future__ import annotations

from dataclasses import replace

from dlaforge.errors import SpecError

from ...segregation import sub_convolutions
from .. import Method, baseline
from ..common import mac_ops


def transform(layer, arch) -> list:
    ops = baseline.transform(layer, arch)
    if layer.kind != "transposed_conv":
        return ops
    whole = ops[0]
    subs = sub_convolutions((layer.P, layer.Q), (layer.H, layer.W), layer)
    if not subs:
        raise SpecError(f"layer {layer.name!r}: no output of the transposed conv receives an "
                        f"input pixel (padding {layer.paddings} crops every tap), so kernel "
                        f"segregation has no sub-convolution to run")
    out = []
    for sub in subs:
        name = layer.name if len(subs) == 1 else (
            f"{layer.name}[{sub.rows.phase},{sub.cols.phase}]")
        op = replace(whole, name=name, **sub.dims())
        out.append(replace(op, ops=mac_ops(op),
                           weight_storage_bits=op.weight_elements * op.weight_bits))
    return out


METHODS = (Method(name="tconv_segregation", transform=transform, pe_kinds=("mac",),
                  presets=("edge_tiny", "tpu_like"),
                  description="transposed convs as stride² sub-kernel convolutions over the "
                              "input as it is (no inserted zeros)"),)
