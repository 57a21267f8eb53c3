"""SCALE-Sim 3.0 topology CSVs, read as scalesim/topology_utils.py reads them.

Conv form: `Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,
Num Filter, Strides,` — the ifmap is taken as already padded, and the output size follows
SCALE-Sim's rule ceil((H - R + stride) / stride). A layer whose name contains `DP` is split, as
SCALE-Sim does, into one single-channel layer per channel, each with all the filters.
GEMM form: `Layer, M, N, K,` — SCALE-Sim maps it to an M x K ifmap with one 1 x K filter per
output column; here it becomes a `gemm` layer with P=M, C=K, K=N.
Every row ends with a comma that SCALE-Sim drops; an optional last `a:b` sparsity field is
accepted and ignored (dlaforge does not model SCALE-Sim's sparsity).
"""

from __future__ import annotations

from pathlib import Path

from dlaforge.errors import SpecError, positive_int, shown
from dlaforge.inputs import read_text

from ..layer import Layer

# The most layers one network may have (a SCALE-Sim `DP` layer is one layer per channel).
MAX_LAYERS = 20_000


def read_topology(path: Path) -> list[Layer]:
    rows = [line.strip() for line in read_text(path, "network file").splitlines()[1:]]
    layers = []
    for number, row in enumerate(rows, start=2):
        if not row:
            continue
        fields = [f.strip() for f in row.split(",")[:-1]]
        if fields and ":" in fields[-1]:
            fields.pop()
        try:
            values = [int(f) for f in fields[1:]]
        except ValueError:
            raise SpecError(f"{path.name} line {number}: expected integers after the layer name, "
                            f"got {shown(row, 80)}") from None
        try:
            if len(values) == 3:
                layers.append(_gemm(fields[0], *values))
            elif len(values) in (7, 8):
                layers.extend(_conv(fields[0], *values[:7]))
            else:
                raise SpecError(f"expected 3 (GEMM) or 7 (conv) numbers, got {len(values)} "
                                f"(did the row lose its trailing comma?)")
        except SpecError as exc:
            raise SpecError(f"{path.name} line {number}: {exc}") from None
        if len(layers) > MAX_LAYERS:
            raise SpecError(f"{path.name} has more than the {MAX_LAYERS:,} layers a network "
                            f"may have")
    if not layers:
        raise SpecError(f"{path.name} has no layer rows")
    return layers


def _gemm(name, m, n, k) -> Layer:
    for value, what in ((m, "M"), (n, "N"), (k, "K")):
        positive_int(value, what)
    return Layer(name=name, kind="gemm", K=n, C=k, P=m, Q=1, H=m, W=1)


def _conv(name, H, W, R, S, C, K, stride) -> list[Layer]:
    for value, what in zip((H, W, R, S, C, K, stride), ("H", "W", "R", "S", "C", "K", "stride")):
        positive_int(value, what)
    if R > H or S > W:
        raise SpecError(f"filter {R}x{S} is larger than the {H}x{W} ifmap")
    P = -(-(H - R + stride) // stride)
    Q = -(-(W - S + stride) // stride)
    shape = dict(kind="conv2d", K=K, P=P, Q=Q, H=H, W=W, R=R, S=S, stride=stride)
    if "DP" in name:
        if C > MAX_LAYERS:
            raise SpecError(f"depthwise layer {shown(name)} would split into {C:,} layers, more "
                            f"than the {MAX_LAYERS:,} a network may have")
        return [Layer(name=f"{name}Channel_{i}", C=1, **shape) for i in range(C)]
    return [Layer(name=name, C=C, **shape)]
