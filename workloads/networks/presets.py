"""The shipped networks (the CNNs at 224x224, ICNet at 1024x2048, DCGAN's generator to 64x64),
with their exact layer shapes (convs, transposed convs and fully connected; pooling,
activations, batch norm and residual adds are not PE-array work and are left out), and the
transformers of transformers.py.
"""

from __future__ import annotations

from ..layer import Layer, conv, linear
from .g_ghost_regnet import g_ghost_regnetx_032
from .ghostnet import ghostnet
from .icnet import icnet
from .transformers import TRANSFORMERS


def resnet18() -> list[Layer]:
    """ResNet-18 (He et al. 2016, torchvision): 20 convs + fc, 1,814,073,344 MACs."""
    layers = [conv("conv1", 3, 64, 224, R=7, stride=2)]
    layers += _basic_stages([2, 2, 2, 2])
    layers.append(linear("fc", 512, 1000))
    return layers


def _basic_stages(blocks_per_stage: list[int]) -> list[Layer]:
    layers, c_in, size = [], 64, 56
    for stage, blocks in enumerate(blocks_per_stage):
        width = 64 << stage
        for b in range(blocks):
            stride = 2 if stage > 0 and b == 0 else 1
            prefix = f"layer{stage + 1}.{b}"
            layers.append(conv(f"{prefix}.conv1", c_in, width, size, stride=stride))
            out = size // stride
            layers.append(conv(f"{prefix}.conv2", width, width, out))
            if stride != 1 or c_in != width:
                layers.append(conv(f"{prefix}.downsample", c_in, width, size, R=1, stride=stride))
            c_in, size = width, out
    return layers


def resnet50() -> list[Layer]:
    """ResNet-50 v1.5 (torchvision: stride on the 3x3 conv of each bottleneck)."""
    layers = [conv("conv1", 3, 64, 224, R=7, stride=2)]
    c_in, size = 64, 56
    for stage, blocks in enumerate([3, 4, 6, 3]):
        width = 64 << stage
        for b in range(blocks):
            stride = 2 if stage > 0 and b == 0 else 1
            prefix = f"layer{stage + 1}.{b}"
            out = size // stride
            layers.append(conv(f"{prefix}.conv1", c_in, width, size, R=1))
            layers.append(conv(f"{prefix}.conv2", width, width, size, stride=stride))
            layers.append(conv(f"{prefix}.conv3", width, 4 * width, out, R=1))
            if b == 0:
                layers.append(conv(f"{prefix}.downsample", c_in, 4 * width, size, R=1, stride=stride))
            c_in, size = 4 * width, out
    layers.append(linear("fc", 2048, 1000))
    return layers


def mobilenet_v2() -> list[Layer]:
    """MobileNetV2 1.0 (Sandler et al. 2018): inverted residuals with depthwise 3x3."""
    layers = [conv("conv1", 3, 32, 224, stride=2)]
    c_in, size, index = 32, 112, 0
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden, prefix = c_in * t, f"block{index}"
            if t != 1:
                layers.append(conv(f"{prefix}.expand", c_in, hidden, size, R=1))
            layers.append(conv(f"{prefix}.dw", hidden, hidden, size, stride=stride, groups=hidden))
            size //= stride
            layers.append(conv(f"{prefix}.project", hidden, c, size, R=1))
            c_in, index = c, index + 1
    layers.append(conv("conv_last", 320, 1280, 7, R=1))
    layers.append(linear("fc", 1280, 1000))
    return layers


def vgg16() -> list[Layer]:
    """VGG-16 (Simonyan & Zisserman 2015, configuration D)."""
    layers, c_in, size = [], 3, 224
    for stage, (width, count) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]):
        for i in range(count):
            layers.append(conv(f"conv{stage + 1}_{i + 1}", c_in, width, size))
            c_in = width
        size //= 2
    layers += [linear("fc6", 512 * 7 * 7, 4096), linear("fc7", 4096, 4096),
               linear("fc8", 4096, 1000)]
    return layers


def alexnet() -> list[Layer]:
    """AlexNet as in Krizhevsky et al. 2012 and Eyeriss: grouped conv2/4/5 (2 groups).

    The 224x224 input with padding 2 gives conv1's 55x55 output (the paper's 227 without padding
    gives the same).
    """
    return [
        conv("conv1", 3, 96, 224, R=11, stride=4, padding=2),
        conv("conv2", 96, 256, 27, R=5, padding=2, groups=2),
        conv("conv3", 256, 384, 13),
        conv("conv4", 384, 384, 13, groups=2),
        conv("conv5", 384, 256, 13, groups=2),
        linear("fc6", 256 * 6 * 6, 4096),
        linear("fc7", 4096, 4096),
        linear("fc8", 4096, 1000),
    ]


def dcgan() -> list[Layer]:
    """DCGAN's 64x64 generator as PyTorch's DCGAN example builds it (nz = 100, ngf = 64): a
    4x4 stride-1 transposed conv projects z (1x1x100) to 4x4x512, then four 4x4 stride-2
    padding-1 transposed convs double the size to 8x8x256, 16x16x128, 32x32x64 and 64x64x3
    (batch norm, ReLU and the final tanh left out, as in the other presets):
    104,628,224 MACs."""
    return [_tconv("project", 100, 512, 1, stride=1, padding=0),
            *(_tconv(f"up{i}", c, k, 4 << (i - 1)) for i, (c, k) in
              enumerate([(512, 256), (256, 128), (128, 64), (64, 3)], start=1))]


def _tconv(name, C, K, H, R=4, stride=2, padding=1) -> Layer:
    size = (H - 1) * stride - 2 * padding + R
    return Layer(name=name, kind="transposed_conv", K=K, C=C, H=H, W=H, P=size, Q=size, R=R,
                 S=R, stride=stride, padding=padding)


PRESETS = {"resnet18": resnet18, "resnet50": resnet50, "mobilenet_v2": mobilenet_v2,
           "vgg16": vgg16, "alexnet": alexnet, "dcgan": dcgan, "ghostnet": ghostnet,
           "g_ghost_regnetx_032": g_ghost_regnetx_032, "icnet": icnet, **TRANSFORMERS}
