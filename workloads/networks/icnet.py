"""ICNet (Zhao et al., ECCV 2018) for Cityscapes at 1024x2048, layer by layer as the authors'
model (hszhao/ICNet's prototxt, as its TensorFlow ports build it): three branches over the image
at full, half and quarter resolution, joined by cascade feature fusion.

- sub2 (the half-resolution image, 512x1024): a stem of three 3x3 convs (the first at stride 2)
  and a max pool to 1/8, PSPNet-50's bottlenecks at half width (conv2_x: 32-32-128, conv3_1 at
  stride 2: 64-64-256), to 1/16;
- sub4 (conv3_1's output halved to 1/32): conv3_2..conv3_4, then conv4_x (128-128-512, the 3x3
  dilated by 2) and conv5_x (256-256-1024, dilated by 4), the pyramid pooling (summed, vector
  work) and a 1x1 conv to 256;
- sub1 (the full image): three 3x3 stride-2 convs to 1/8 (32, 32, 64 channels);
- cascade feature fusion: each coarser branch upsampled by 2 and convolved 3x3 dilated by 2
  to 128 channels (conv_sub4, conv_sub2), the finer one projected 1x1 to 128
  (conv3_1_sub2_proj, conv3_sub1_proj), summed; the classifier conv6_cls (19 classes) at 1/4.

Convolutions only: the resizes, poolings, sums, batch norm, activations and the training-only
auxiliary classifiers are left out, as in the other presets.
"""

from __future__ import annotations

from ..layer import Layer, conv

HEIGHT, WIDTH, CLASSES = 1024, 2048, 19


def icnet() -> list[Layer]:
    """ICNet (module doc): 29,028,777,984 MACs (later papers' comparison tables quote 28.3 G)."""
    h, w = HEIGHT // 2, WIDTH // 2                  # data_sub2
    layers = [conv("conv1_1_3x3_s2", 3, 32, h, stride=2, W=w)]
    h, w = h // 2, w // 2
    layers += [conv("conv1_2_3x3", 32, 32, h, W=w), conv("conv1_3_3x3", 32, 64, h, W=w)]
    h, w = h // 2, w // 2                           # pool1_3x3_s2: 1/8
    c = 64
    for i in range(1, 4):
        layers += _bottleneck(f"conv2_{i}", c, 32, 128, h, w)
        c = 128
    layers += _bottleneck("conv3_1", c, 64, 256, h, w, stride=2)
    h2, w2 = h // 2, w // 2                         # 1/16: conv3_1's output
    h4, w4 = h2 // 2, w2 // 2                       # conv3_1_sub4: 1/32
    c = 256
    for i in range(2, 5):
        layers += _bottleneck(f"conv3_{i}", c, 64, 256, h4, w4)
    for stage, (mid, out, blocks, dilation) in ((4, (128, 512, 6, 2)), (5, (256, 1024, 3, 4))):
        for i in range(1, blocks + 1):
            layers += _bottleneck(f"conv{stage}_{i}", c, mid, out, h4, w4, dilation=dilation)
            c = out
    layers += [conv("conv5_4_k1", 1024, 256, h4, R=1, W=w4),
               _dilated("conv_sub4", 256, 128, h2, w2),
               conv("conv3_1_sub2_proj", 256, 128, h2, R=1, W=w2),
               _dilated("conv_sub2", 128, 128, h2 * 2, w2 * 2)]
    h, w = HEIGHT, WIDTH                            # sub1: the full image
    for name, c_in, c_out in (("conv1_sub1", 3, 32), ("conv2_sub1", 32, 32),
                              ("conv3_sub1", 32, 64)):
        layers.append(conv(name, c_in, c_out, h, stride=2, W=w))
        h, w = h // 2, w // 2
    layers += [conv("conv3_sub1_proj", 64, 128, h, R=1, W=w),
               conv("conv6_cls", 128, CLASSES, h * 2, R=1, W=w * 2)]
    return layers


def _bottleneck(name, c_in, mid, c_out, h, w, stride=1, dilation=1) -> list[Layer]:
    """PSPNet's bottleneck: 1x1 reduce (carrying the stride), 3x3 (dilated), 1x1 increase, and a
    1x1 projection of the input when the shape changes."""
    ho, wo = h // stride, w // stride
    layers = [conv(f"{name}_1x1_reduce", c_in, mid, h, R=1, stride=stride, W=w),
              _dilated(f"{name}_3x3", mid, mid, ho, wo, dilation),
              conv(f"{name}_1x1_increase", mid, c_out, ho, R=1, W=wo)]
    if stride > 1 or c_in != c_out:
        layers.append(conv(f"{name}_1x1_proj", c_in, c_out, h, R=1, stride=stride, W=w))
    return layers


def _dilated(name, c_in, c_out, h, w, dilation=2) -> Layer:
    """A 3x3 conv dilated by `dilation` with 'same' padding."""
    if dilation == 1:
        return conv(name, c_in, c_out, h, W=w)
    return Layer(name=name, kind="conv2d", C=c_in, K=c_out, H=h, W=w, P=h, Q=w, R=3, S=3,
                 padding=dilation, dilation=(dilation, dilation))
