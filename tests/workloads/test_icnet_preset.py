"""The `icnet` preset (workloads/networks/icnet.py): its three branches, dilations and MACs."""

from dlaforge.workloads.networks import load_network


def test_icnet_branches_dilations_and_macs():
    layers = {layer.name: layer for layer in load_network("icnet").layers}
    # the three inputs: the half image (sub2, shared with sub4) and the full image (sub1)
    assert (layers["conv1_1_3x3_s2"].H, layers["conv1_1_3x3_s2"].W) == (512, 1024)
    assert (layers["conv1_sub1"].H, layers["conv1_sub1"].W) == (1024, 2048)
    assert (layers["conv3_2_1x1_reduce"].H, layers["conv3_2_1x1_reduce"].W) == (32, 64)  # 1/32
    dilated = {name: layer.dilation[0] for name, layer in layers.items()
               if layer.dilation != (1, 1)}
    assert dilated == {**{f"conv4_{i}_3x3": 2 for i in range(1, 7)},
                       **{f"conv5_{i}_3x3": 4 for i in range(1, 4)},
                       "conv_sub4": 2, "conv_sub2": 2}
    assert all(layer.P == layer.H for layer in layers.values() if layer.dilation != (1, 1))
    assert (layers["conv6_cls"].K, layers["conv6_cls"].P, layers["conv6_cls"].Q) == (19, 256, 512)
    total = sum(layer.macs for layer in layers.values())
    assert total == 29_028_777_984
    assert abs(total / 28.3e9 - 1) < 0.03        # the figure later papers quote for ICNet
