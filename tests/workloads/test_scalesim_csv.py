import pytest

from dlaforge.errors import SpecError
from dlaforge.workloads.networks import load_network


def write(tmp_path, text, name="topo.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_conv_topology_uses_scalesims_ceil_rule(tmp_path):
    path = write(tmp_path, "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                           "Channels, Num Filter, Strides,\n"
                           "Conv1, 224, 224, 7, 7, 3, 64, 2,\n"
                           "\n"
                           "CB2a_1, 56, 56, 1, 1, 64, 64, 1,\n")
    net = load_network(path)
    conv1, cb = net.layers
    # ceil((224 - 7 + 2) / 2) = 110 (the floor rule with no padding would give 109)
    assert (conv1.P, conv1.Q, conv1.R, conv1.C, conv1.K, conv1.stride) == (110, 110, 7, 3, 64, 2)
    assert conv1.padding == 0 and conv1.H == 224
    assert cb.macs == 56 * 56 * 64 * 64
    assert net.name == "topo"


def test_gemm_topology(tmp_path):
    net = load_network(write(tmp_path, "Layer, M, N, K,\nfc1, 128, 64, 256,\nfc2, 3, 5, 7, 1:1,\n"))
    fc1, fc2 = net.layers
    assert (fc1.kind, fc1.P, fc1.K, fc1.C) == ("gemm", 128, 64, 256)
    assert fc1.macs == 128 * 64 * 256 and fc2.macs == 3 * 5 * 7


def test_dp_layers_split_per_channel_as_scalesim_does(tmp_path):
    net = load_network(write(tmp_path, "name,h,w,r,s,c,k,st,\nDP1, 10, 10, 3, 3, 4, 1, 1,\n"))
    assert [l.name for l in net.layers] == [f"DP1Channel_{i}" for i in range(4)]
    assert all(l.C == 1 and l.K == 1 for l in net.layers)


@pytest.mark.parametrize("text, message", [
    ("h\nConv1, 224, 224, 7, 7, 3, 64, 2\n", "line 2: expected 3 \\(GEMM\\) or 7 \\(conv\\) numbers, got 6"),
    ("h\nConv1, 224, x, 7, 7, 3, 64, 2,\n", "line 2: expected integers"),
    ("h\nConv1, 5, 5, 7, 7, 3, 64, 2,\n", "filter 7x7 is larger than the 5x5 ifmap"),
    ("h\n", "has no layer rows"),
    ("h\nConv1, 8, 8, 3, 3, 0, 4, 1,\n", "C` must be a positive integer, not 0"),
])
def test_malformed_topologies(tmp_path, text, message):
    with pytest.raises(SpecError, match=message):
        load_network(write(tmp_path, text))
    with pytest.raises(SpecError, match="does not exist"):
        load_network(tmp_path / "missing.csv")
