"""Vector layers: their dims, operation counts and the elements they move, written out here
for small shapes."""

import pytest

from dlaforge.errors import SpecError
from dlaforge.workloads.layer import Layer, vector
from dlaforge.workloads.vector_ops import VECTOR_OPS, vector_work


def test_softmax_counts_per_row():
    # 2 x 3 rows of 5: max over 4 pairs, 5 subtractions + 4 additions, 5 exps, 5 divisions
    work = vector_work(vector("sm", "softmax", C=5, H=3, N=2), bits=8)
    assert work.ops == {"max": 6 * 4, "add": 6 * 9, "exp": 6 * 5, "div": 6 * 5}
    assert (work.read_elements, work.write_elements) == (30, 30)


def test_layernorm_and_rmsnorm_counts_per_row():
    L, rows = 8, 4
    ln = vector_work(vector("ln", "layernorm", C=L, H=rows), bits=8).ops
    # mean: L-1 adds, 1 mult; centre: L subs; variance: L mults, L-1 adds, 1 mult; +eps;
    # sqrt; reciprocal; normalize: L mults; affine: L mults, L adds
    assert ln == {"add": rows * ((L - 1) + L + (L - 1) + 1 + L),
                  "mult": rows * (1 + L + 1 + L + L), "sqrt": rows, "div": rows}
    rms = vector_work(vector("rms", "rmsnorm", C=L, H=rows), bits=8).ops
    assert rms == {"add": rows * ((L - 1) + 1), "mult": rows * (L + 1 + L + L), "sqrt": rows,
                   "div": rows}


def test_pooling_counts_per_window():
    pool = Layer(name="mp", kind="vector", op="maxpool", C=4, K=4, H=9, W=9, P=4, Q=4, R=3,
                 S=3, stride=2)
    work = vector_work(pool, bits=8)
    assert work.ops == {"max": 4 * 4 * 4 * 8} and work.read_elements == 4 * 81
    gap = Layer(name="gap", kind="vector", op="avgpool", C=16, K=16, H=7, W=7, P=1, Q=1, R=7,
                S=7)
    assert vector_work(gap, bits=8).ops == {"add": 16 * 48, "mult": 16}
    assert pool.macs == gap.macs == 0


def test_elementwise_two_inputs_and_data_movement():
    add = vector_work(vector("res", "add_tensors", C=8, H=4, W=4), bits=8)
    assert add.ops == {"add": 128} and (add.read_elements, add.write_elements) == (256, 128)
    bias = vector_work(vector("bias", "add", C=8, H=4, W=4), bits=8)
    assert bias.read_elements == 128
    move = vector_work(vector("t", "transpose", C=8, H=4, W=4), bits=8)
    assert move.ops == {} and (move.read_elements, move.write_elements) == (128, 128)
    gelu = vector_work(vector("g", "gelu", C=3, H=1), bits=8)
    assert gelu.ops == {"mult": 18, "add": 12, "exp": 3, "div": 3}


@pytest.mark.parametrize("changes, message", [
    (dict(op="nope"), "unknown vector op 'nope'"),
    (dict(op=None), "a vector layer needs `op`"),
    (dict(K=4), "keeps its channels \\(K = C\\)"),
    (dict(P=2), "keeps its size: P = H, Q = W"),
    (dict(op="softmax", W=2, Q=2), "N·H rows of C elements"),
])
def test_bad_vector_layers(changes, message):
    args = dict(name="v", kind="vector", op="relu", C=8, K=8, H=3, W=1, P=3, Q=1)
    with pytest.raises(SpecError, match=message):
        Layer(**{**args, **changes})
    with pytest.raises(SpecError, match="only a vector layer has one"):
        Layer(name="c", kind="conv2d", op="relu", C=8, K=8, H=3, W=3, P=3, Q=3)


def test_every_vector_op_builds():
    for op in VECTOR_OPS:
        assert vector_work(vector("v", op, C=4, H=2), bits=8).op == op
