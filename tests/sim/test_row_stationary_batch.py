"""Row stationary tiles the batch (Mapping.nt, Eyeriss's n images per pass): a pass loads its
filter rows once and runs the tile's images through them, and a tile's filters come from DRAM
once for all its images. Both models price the same schedule."""

import numpy as np
import pytest

from dlaforge.arch import load_arch
from dlaforge.errors import SpecError
from dlaforge.sim.analytical import Mapping, evaluate, search
from dlaforge.sim.array_cost import row_stationary_tile
from dlaforge.sim.cycle.model import native_cycle_stats
from dlaforge.sim.energy import energy_table
from dlaforge.workloads.layer import conv, matmul
from dlaforge.workloads.methods import get_method

ARCH = load_arch("eyeriss_like")
TABLE = energy_table(ARCH)


def op_of(layer):
    [op] = get_method("baseline", ARCH).transform(layer, ARCH)
    return op


def test_a_pass_runs_every_image_of_the_tile_through_the_same_filter_rows():
    op = op_of(conv("c", 8, 12, 9, R=3))
    args = (ARCH.pe_array.rows, ARCH.pe_array.cols, op, np.array([12]), np.array([8]),
            np.array([9]), 2, 2, 2, 3)
    one, three = row_stationary_tile(*args, 1), row_stationary_tile(*args, 3)
    for field in ("pe_ops", "sram_ifmap_reads", "sram_psum_writes"):
        assert getattr(three, field) == 3 * getattr(one, field)
    assert three.rf_writes["ifmap"] == 3 * one.rf_writes["ifmap"]
    # the filter rows are read from the GLB and written to the scratchpads once per pass
    assert three.sram_weight_reads == one.sram_weight_reads
    assert three.rf_writes["weight"] == one.rf_writes["weight"]
    # a pass: the fill (R + columns used) once, then every image's rows
    passes = 1 * 1 * 2 * 2                       # r, p folds; channel and filter blocks
    fill = 3 + 9
    assert one.cycles == passes * (op.Q * op.S * 2 * 3 + fill)
    assert three.cycles == passes * (3 * op.Q * op.S * 2 * 3 + fill)


@pytest.mark.parametrize("rows, cols, R, pt, kt, ct, tc, tk, q, pf", [
    (12, 14, 3, 9, 7, 5, 2, 2, 2, 3), (12, 14, 3, 9, 12, 8, 2, 2, 2, 3),
    (12, 14, 3, 20, 1, 3, 1, 4, 4, 2), (12, 14, 3, 27, 25, 9, 4, 1, 3, 8),
    (2, 4, 5, 7, 5, 6, 1, 1, 4, 2), (3, 5, 7, 11, 9, 10, 1, 1, 3, 4)])
def test_a_pass_counts_what_it_holds(rows, cols, R, pt, kt, ct, tc, tk, q, pf):
    """Fold by fold and pass by pass: a fold takes up to `rows` filter rows and `cols` output
    rows; a pass's channels split over tc sets and its filters over tk sets, each PE walking
    its share (q and pf in a full pass, fewer in the tile's last); every filter row lands in
    the scratchpads of its fold's columns, every channel's ifmap rows in every set of the pass
    that has filters, and psums climb the fold's rows in every channel set."""
    op = op_of(conv("c", 32, 32, 30, R=R))
    got = row_stationary_tile(rows, cols, op, np.array([kt]), np.array([ct]), np.array([pt]),
                              tc, tk, q, pf)
    w_padded = op.Q + R - 1
    cycles = weight_writes = ifmap_writes = ifmap_reads = hops = 0
    for r0 in range(0, R, rows):
        r_f = min(rows, R - r0)
        for p0 in range(0, pt, cols):
            p_f = min(cols, pt - p0)
            for c0 in range(0, ct, tc * q):
                c_in = min(tc * q, ct - c0)
                for k0 in range(0, kt, tk * pf):
                    k_in = min(tk * pf, kt - k0)
                    cycles += op.Q * op.S * -(-c_in // tc) * -(-k_in // tk) + r_f + p_f
                    weight_writes += c_in * k_in * r_f * op.S * p_f
                    ifmap_writes += c_in * min(tk, k_in) * r_f * p_f * w_padded
                    ifmap_reads += c_in * (p_f - 1 + r_f - 1 + 1) * w_padded
                    hops += k_in * p_f * op.Q * (r_f - 1) * min(tc, c_in)
    assert got.cycles == cycles
    assert got.rf_writes["weight"] == weight_writes
    assert got.rf_writes["ifmap"] == ifmap_writes
    assert got.sram_ifmap_reads == ifmap_reads
    assert got.noc_bits == (ifmap_writes * op.ifmap_bits + weight_writes * op.weight_bits
                            + hops * op.psum_bits)
    assert got.pe_ops == kt * ct * pt * op.Q * R * op.S


def test_filters_come_from_dram_once_for_a_tile_of_the_whole_batch():
    op = op_of(conv("c", 8, 16, 9, R=3, N=4))
    rs = dict(tc=2, tk=2, q=4, pf=4)
    # two filter tiles: with one image per tile and n outermost, each image fetches both again
    whole = evaluate(ARCH, op, Mapping(8, 8, 9, "nkcp", nt=4, **rs), "rs", TABLE)
    single = evaluate(ARCH, op, Mapping(8, 8, 9, "nkcp", nt=1, **rs), "rs", TABLE)
    weights = op.K * op.C * op.R * op.S
    assert whole.accesses["dram"]["weight"]["reads"] == weights
    assert single.accesses["dram"]["weight"]["reads"] == 4 * weights       # once per image
    assert whole.accesses["dram"]["ifmap"] == single.accesses["dram"]["ifmap"]
    assert whole.pe_ops == single.pe_ops == op.pe_macs


@pytest.mark.parametrize("N, nt, order", [(4, 4, "nkcp"), (3, 2, "kcpn"), (5, 2, "ncpk"),
                                           (3, 3, "cnkp")])
def test_both_models_price_a_batch_tile_alike(N, nt, order):
    """Edge tiles of fewer images (3 = 2 + 1) and every loop position of n."""
    op = op_of(conv("odd", 7, 10, 11, R=3, stride=2, N=N, W=9))
    mapping = Mapping(5, 4, 3, order, tc=2, tk=2, q=2, pf=4, nt=nt)
    ana = evaluate(ARCH, op, mapping, "rs", TABLE)
    _, cyc, _ = native_cycle_stats(ARCH, op, "rs", "energy", TABLE, mapping)
    assert cyc.pe_ops == ana.pe_ops == op.pe_macs
    assert cyc.compute_cycles == ana.compute_cycles
    assert cyc.accesses == ana.accesses
    assert (cyc.dram_read_bytes, cyc.dram_write_bytes) == (ana.dram_read_bytes,
                                                           ana.dram_write_bytes)


def test_the_mapper_tiles_the_batch_where_filters_dominate():
    """AlexNet's conv3 at batch 4 (Eyeriss's measurement): its filters (1.77 MB) outweigh an
    image's ifmap (86 KB), so the mapper keeps all four images in a tile."""
    op = op_of(conv("conv3", 256, 384, 13, R=3, N=4))
    mapping, stats = search(ARCH, op, "rs", "energy", TABLE)
    assert mapping.nt == 4
    assert mapping.to_dict()["tile"]["N"] == 4
    assert stats.accesses["dram"]["weight"]["reads"] == op.K * op.C * op.R * op.S


def test_images_share_a_tile_only_where_they_share_the_weights():
    """A matmul of two activations has weights per image: its tiles hold one image, and a
    mapping that tiles images is refused there and under the systolic dataflows."""
    op = op_of(matmul("mm", 64, 64, 64, N=4))
    assert op.weight_is_activation
    mapping, _ = search(ARCH, op, "rs", "energy", TABLE)
    assert mapping.nt == 1
    with pytest.raises(SpecError, match="tiles images: only row stationary"):
        evaluate(ARCH, op, Mapping(16, 16, 8, "nkcp", tc=4, tk=1, q=4, pf=16, nt=2), "rs",
                 TABLE)
    tpu = load_arch("tpu_like")
    [conv_op] = get_method("baseline", tpu).transform(conv("c", 8, 16, 9, R=3, N=2), tpu)
    with pytest.raises(SpecError, match="tiles images"):
        evaluate(tpu, conv_op, Mapping(16, 8, 9, "nkcp", nt=2), "ws", energy_table(tpu))


def test_one_image_per_tile_stays_a_candidate_for_a_large_batch():
    """Balanced splits of a batch of 20 leave out 1; where only one image fits a tile the
    mapper still finds it."""
    op = op_of(conv("big", 1, 1, 1000, R=11, N=20))
    mapping, stats = search(ARCH, op, "rs", "energy", TABLE)
    assert mapping.nt == 1 and stats.pe_ops == op.pe_macs
