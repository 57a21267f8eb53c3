"""DIR-Net layers as jobs of the XNOR unit (hw/methods/xnor/), checked against DIR-Net's own
reference.

A `DirnetJob` is an XnorJob (the unit's DRAM image and command) built from int8 activations x
and real weights w: the host packs sign(x) and sign(ŵ) (ŵ the balanced, standardized weights
of workloads/methods/dirnet/reference.py), K_q is 1 at every pixel, and the power-of-two scale
of filter k is α_q = 2^(s_k + frac_bits + out_shift) with out_shift = max(0, -(min s + frac_bits)),
so the unit's (dot · α_q · K_q) >> out_shift is dot · 2^(s_k + frac_bits) floored: the DIR-Net
layer of `dirnet_conv_int`, which `expected()` computes independently (wrapped to psum_bits).
The unit multiplies by α_q where a DIR-Net accelerator would shift; its sums and outputs are
the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlaforge.workloads.layer import out_size
from dlaforge.workloads.methods.dirnet.reference import balanced, dirnet_conv_int, exponents
from dlaforge.workloads.methods.xnor.plan import SCALE_BITS, SHIFT_BITS
from dlaforge.workloads.methods.xnor.reference import signs

from ...stimulus import wrap
from ..xnor import layer_cases
from ..xnor.stimulus import XnorJob


@dataclass
class DirnetJob(XnorJob):
    x_values: np.ndarray = None      # C x H x W int8 activations
    w_values: np.ndarray = None      # K x C x R x S real weights
    frac_bits: int = 0

    @staticmethod
    def of(arch, x, w, stride: int = 1, padding: int = 0, frac_bits: int = 0,
           **dram) -> DirnetJob:
        """The job of activations x[C, H, W] and weights w[K, C, R, S] (module doc);
        ValueError when the filters' exponents span more than α_q's SCALE_BITS."""
        s = exponents(w) + frac_bits
        out_shift = max(0, -int(s.min()))
        if int(s.max()) + out_shift >= SCALE_BITS or out_shift >= 1 << SHIFT_BITS:
            raise ValueError(f"exponents {s.min()}..{s.max()} do not fit a {SCALE_BITS}-bit "
                             f"alpha_q and a {SHIFT_BITS}-bit shift")
        H, W = np.shape(x)[1:]
        R, S = np.shape(w)[2:]
        P, Q = out_size(H, R, stride, padding), out_size(W, S, stride, padding)
        return DirnetJob(arch, signs(x), signs(balanced(w)), 1 << (s + out_shift),
                         np.ones((P, Q), np.int64), out_shift, stride, padding, **dram,
                         x_values=np.asarray(x, np.int64), w_values=np.asarray(w, np.float64),
                         frac_bits=frac_bits)

    def expected(self) -> np.ndarray:
        out = dirnet_conv_int(self.x_values[None], self.w_values, self.stride, self.padding,
                              self.frac_bits)[0]
        return wrap(out, self.arch.pe_array.psum_bits)


def verification_jobs(arch, rng) -> tuple[list[str], list[DirnetJob]]:
    """The XNOR unit's layer cases (hw/methods/xnor/layers.py) with random int8 activations
    (a fifth of them -128) and heavy-tailed weights, and the corners: -128 activations against
    filters of one raw value (balanced to all +1) and against a filter with one outlier tap,
    output fraction bits 0 to 4."""
    pe = arch.pe_array
    names, jobs = [], []
    for i, (name, d) in enumerate(layer_cases(pe.rows, pe.cols).items()):
        shape = (d["C"], d["H"], d["W"])
        x = np.where(rng.random(shape) < 0.2, -128, rng.integers(-128, 128, shape))
        w = rng.standard_t(3, (d["K"], d["C"], d["R"], d["S"]))
        names.append(name)
        jobs.append(DirnetJob.of(arch, x, w, d.get("stride", 1), d.get("padding", 0), i % 5))
    d = layer_cases(pe.rows, pe.cols)["tail_bits"]
    x = np.full((d["C"], d["H"], d["W"]), -128)
    outlier = rng.normal(size=(d["K"], d["C"], d["R"], d["S"]))
    outlier[:, 0, 1, 1] = 100.0
    for name, w in {"min_act_equal_filters": np.full((d["K"], d["C"], 3, 3), 0.25),
                    "min_act_outlier_filters": outlier}.items():
        names.append(name)
        jobs.append(DirnetJob.of(arch, x, w, 1, d["padding"], frac_bits=2))
    return names, jobs
