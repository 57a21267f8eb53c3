"""SmartDeal: the shift-add rebuild equals Ce·B exactly; decomposition codes, storage and error."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dlaforge.workloads.methods.smartdeal import reference as sd


@st.composite
def weights(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    R = draw(st.sampled_from([1, 3]))
    return rng.normal(0, draw(st.sampled_from([0.01, 0.1, 1.0])),
                      (draw(st.integers(1, 6)), draw(st.integers(1, 8)), R, R))


@settings(max_examples=30, deadline=None)
@given(weights(), st.sampled_from([0.0, 0.25, 0.5]))
def test_rebuild_by_shift_adds_equals_ce_times_b(w, prune):
    d = sd.decompose(w, prune=prune)
    w_int = sd.rebuild(d)
    real = w_int * 2.0 ** (d.b_exp[:, None, None] + sd.P_MIN)
    assert np.array_equal(real, sd.rebuild_float(d))
    # the codes are what the hardware stores: signed powers of two within range, 8-bit B
    nz = d.sign != 0
    assert ((d.exp[nz] >= sd.P_MIN) & (d.exp[nz] <= sd.P_MAX)).all() and (d.exp[~nz] == 0).all()
    assert np.abs(d.b_q).max() <= 127
    # structured pruning removes channels: Ce covers only the kept ones, the others rebuild to 0
    K, C, R, S = w.shape
    kept = d.channels_kept
    assert d.sign.shape[1] * 3 == sd.entries_per_filter(len(kept), R, S)
    rebuilt = d.weights(real)
    assert rebuilt.shape == w.shape
    assert (rebuilt[:, np.setdiff1d(np.arange(C), kept)] == 0).all()
    assert np.array_equal(rebuilt[:, kept], sd.unblock(real, (K, len(kept), R, S)))
    # the reported error is the error of the stored codes against the original weights
    assert d.rel_error == pytest.approx(np.linalg.norm(w - rebuilt) / np.linalg.norm(w))


def test_storage_counts_codes_bitmap_and_bases():
    w = np.random.default_rng(0).normal(size=(4, 5, 3, 3))
    d = sd.decompose(w)
    ce_entries = 4 * 5 * 3 * 3
    assert d.sign.size == ce_entries
    assert d.storage_bits() == d.nnz * 4 + ce_entries + 4 * (9 * 8 + 8)


def test_alternation_improves_on_plain_power_of_two_quantization():
    # the starting point B = s·I, Ce = quantize(A/s) is plain power-of-two weight quantization;
    # the least-squares fits of B must not make the reconstruction worse
    rng = np.random.default_rng(1)
    for shape in ((4, 8, 3, 3), (6, 16, 3, 3), (3, 10, 1, 1)):
        w = rng.normal(size=shape)
        a = sd.blocks(w)
        s = np.abs(a).max(axis=(1, 2))[:, None, None] / 2.0**sd.P_MAX
        sign, exp = sd.quantize_pow2(a / s)
        plain = np.linalg.norm(a - sign * 2.0**exp * s) / np.linalg.norm(a)
        assert sd.decompose(w).rel_error < plain


def test_pruning_drops_the_weakest_channels():
    w = np.ones((2, 4, 3, 3)) * np.array([1.0, 0.1, 2.0, 0.2])[None, :, None, None]
    assert sd.prune_channels(w, 0.5).tolist() == [0, 2]
    pruned, whole = sd.decompose(w, prune=0.5), sd.decompose(w)
    assert pruned.nnz <= whole.nnz and pruned.storage_bits() < whole.storage_bits()
    # the error counts what pruning removed: channels 1 and 3 hold 0.05/3.05 of the L2 energy
    assert pruned.rel_error >= np.sqrt(0.1**2 + 0.2**2) / np.sqrt(1 + 0.01 + 4 + 0.04) - 1e-9


def test_a_pruned_channel_inside_a_flattened_row_rebuilds_to_zero():
    # 1x1 weights are flattened into rows of 3 that mix channels; the pruned channel 0 shares
    # a row with channels 1 and 2 (a hypothesis example once rebuilt it to 7.6e-6)
    w = np.array([9.9e-5, 4.6e-4, -2.5e-3, 2.2e-3, 7.7e-3]).reshape(1, 5, 1, 1)
    d = sd.decompose(w, prune=0.25)
    assert d.channels_kept.tolist() == [1, 2, 3, 4]
    rebuilt = d.weights(sd.rebuild_float(d))
    assert rebuilt[0, 0, 0, 0] == 0 and np.abs(rebuilt[0, 1:, 0, 0]).max() > 0
