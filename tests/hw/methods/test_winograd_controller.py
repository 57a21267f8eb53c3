"""Winograd on the mapped-program controller (workloads/methods/winograd/plan.TAP_DATAPATHS):
one command runs a layer's a² tap GEMMs, the load transforming raw windows through the patch
stage, the write-back transforming each tile pixel's planes through the tile stage. Checked
bit-exact, in Amaranth's simulator, against the integer pipeline of
workloads/methods/winograd/reference.winograd_tiles requantized as the controller's stage does
(requant_ref), on commands written here from the layer (the op, its models and its stimulus
are not written yet)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.hw.controller.layouts import ControllerParams, check_command
from dlaforge.hw.controller.run import run_amaranth
from dlaforge.hw.layouts import GeneratorParams
from dlaforge.hw.requant import param_table
from dlaforge.program import CONTROLLER_DATAFLOWS, LOOP_ORDERS
from dlaforge.workloads.methods.requant_ref import random_requant
from dlaforge.workloads.methods.winograd.plan import TAP_DATAPATHS
from dlaforge.workloads.methods.winograd.reference import pad_input, winograd_tiles
from dlaforge.workloads.methods.winograd.variants import VARIANTS, tiles


@dataclass
class WinogradCase:
    """A 3x3 stride-1 layer x[N, C, H, W] as one Winograd-domain command: its transformed
    weights u[K, C, a, a] (int8, as the DRAM holds them), the taps' input shifts and output
    alignments, and a tiling in tile pixels (pt, qt Winograd tiles; every c tile all C)."""

    variant: str
    x: np.ndarray
    u: np.ndarray
    padding: int
    v_shift: np.ndarray
    align: np.ndarray
    kt: int
    pt: int
    qt: int
    order: str = "nkcp"
    dataflow: str = "ws"
    relu: bool = False

    def __post_init__(self):
        self.arch = load_arch("edge_tiny_winograd")
        self.params = GeneratorParams()
        self.datapath = TAP_DATAPATHS[self.variant]
        self.geo = ControllerParams.of(self.arch, self.params, self.datapath)
        v = self.v = VARIANTS[self.variant]
        N, C, H, W = self.x.shape
        self.P, self.Q = H + 2 * self.padding - 2, W + 2 * self.padding - 2
        self.tp, self.tq = tiles(self.P, self.Q, v.m)
        self.K = len(self.u)
        self.sums = winograd_tiles(pad_input(self.x, self.padding, self.P, self.Q, v.m),
                                   self.u, self.v_shift, (1 << 7) - 1, self.align, v.bt, v.at,
                                   v.m, self.P, self.Q)
        rng = np.random.default_rng(int(np.abs(self.u).sum()))
        self.requant = random_requant(self.sums.transpose(1, 0, 2, 3), 8, rng, self.relu)

    @property
    def regions(self) -> dict:
        N, C, H, W = self.x.shape
        a = self.v.a
        sizes = {"ifmap": N * H * W * C, "weight": a * a * C * self.K,
                 "requant": len(param_table(self.requant)), "ofmap": N * self.P * self.Q * self.K}
        bases, at = {}, 0
        for name, size in sizes.items():
            bases[name], at = at, at + size
        bases["end"] = at
        return bases

    def dram_image(self) -> np.ndarray:
        at = self.regions
        memory = np.zeros(at["end"], np.int64)
        memory[at["ifmap"]:at["weight"]] = self.x.transpose(0, 2, 3, 1).ravel()
        memory[at["weight"]:at["requant"]] = self.u.transpose(2, 3, 1, 0).ravel()
        memory[at["requant"]:at["ofmap"]] = param_table(self.requant)
        return memory

    def commands(self) -> list[dict]:
        N, C, H, W = self.x.shape
        a, at = self.v.a, self.regions
        fields = {"N": N, "C": C, "H": self.tp * a, "W": self.tq * a, "K": self.K, "R": a,
                  "S": a, "P": self.tp, "Q": self.tq, "stride": a, "padding": 0, "Ct": C,
                  "Kt": self.K, "kt": self.kt, "ct": C, "pt": self.pt, "qt": self.qt,
                  "order": LOOP_ORDERS.index(self.order), "ifmap_base": at["ifmap"],
                  "weight_base": at["weight"], "ofmap_base": at["ofmap"], "psum_base": 0,
                  "requant_base": at["requant"], "requant": 1, "relu": int(self.relu),
                  "dataflow": CONTROLLER_DATAFLOWS.index(self.dataflow),
                  "mode": self.datapath.mode_of(self.datapath.pe_op),
                  "raw_H": H, "raw_W": W, "raw_P": self.P, "raw_Q": self.Q,
                  "raw_padding": self.padding,
                  "v_shift": _packed(self.v_shift, self.v.shift_bits),
                  "align": _packed(self.align, self.v.align_bits)}
        return [check_command(self.geo, fields)]

    def output_of(self, memory: np.ndarray) -> np.ndarray:
        at = self.regions
        return memory[at["ofmap"]:at["end"]].reshape(len(self.x), self.P, self.Q, self.K)

    def expected(self) -> np.ndarray:
        return self.requant.apply(self.sums.transpose(1, 0, 2, 3), 8).transpose(1, 2, 3, 0)


def _packed(values: np.ndarray, bits: int) -> int:
    """An a x a array of small unsigned fields as one command field, tap t at bit t*bits."""
    return sum(int(value) << (bits * t) for t, value in enumerate(np.ravel(values)))


def random_case(variant: str, N: int, C: int, H: int, W: int, K: int, padding: int, seed: int,
                **tiling) -> WinogradCase:
    rng = np.random.default_rng(seed)
    a = VARIANTS[variant].a
    x = rng.integers(-128, 128, (N, C, H, W))
    x.flat[:2] = (-128, 127)
    u = rng.integers(-128, 128, (K, C, a, a))
    u.flat[:2] = (-128, -128)
    return WinogradCase(variant, x, u, padding, rng.integers(0, 5, (a, a)),
                        rng.integers(0, 4, (a, a)), **tiling)


CASES = {
    # two channel blocks, two filter blocks, tiles of 1 x 2 tile pixels, edge tiles
    "f2_ws": ("F2", dict(N=1, C=5, H=6, W=5, K=6, padding=1, kt=4, pt=1, qt=2)),
    "f4_ws": ("F4", dict(N=1, C=3, H=6, W=5, K=5, padding=1, kt=4, pt=1, qt=1)),
    "f2_is_two_images": ("F2", dict(N=2, C=4, H=5, W=7, K=3, padding=0, kt=3, pt=2, qt=2,
                                    dataflow="is", order="npkc")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_winograd_command_bit_exact(name):
    variant, dims = CASES[name]
    case = random_case(variant, seed=len(name), **dims)
    expected = case.expected()
    assert np.count_nonzero(expected) > expected.size // 2     # not a vacuous comparison
    result = run_amaranth(case)
    np.testing.assert_array_equal(result.output, expected)
