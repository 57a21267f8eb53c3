"""Layer shapes for checking the RTL (tests and `dlaforge rtl verify`): corner cases of tiling and im2col on a rows x cols array."""

from dlaforge.workloads.methods.accelerator_plan import Gemm
from dlaforge.workloads.layer import out_size


def conv(C, H, W, K, R, S, stride=1, padding=0):
    return Gemm(C=C, H=H, W=W, K=K, R=R, S=S, stride=stride, padding=padding,
                P=out_size(H, R, stride, padding), Q=out_size(W, S, stride, padding))


def shapes(rows, cols):
    """21 shapes scaled to the array: exact fits, one more than the array, 1xN and Nx1
    kernels, stride 2 and 3, zero padding up to the kernel's reach, windows hanging past the
    bottom and right edges (SCALE-Sim's rounded-up output size), plain GEMMs."""
    r, c = rows, cols
    return {
        "gemm_exact": Gemm.matmul(r, r, c),
        "gemm_one_more": Gemm.matmul(r + 1, r + 1, c + 1),
        "gemm_1x1x1": Gemm.matmul(1, 1, 1),
        "gemm_odd": Gemm.matmul(2 * r - 1, 2 * r + 1, 3 * c + 1),
        "gemm_deep": Gemm.matmul(3, 4 * r + 1, c - 1 if c > 1 else 1),
        "gemm_wide": Gemm.matmul(2, r + 3, 2 * c + 3),
        "conv3x3": conv(3, 5, 5, c + 1, 3, 3),
        "conv3x3_pad_s2": conv(2, 6, 6, c - 1 if c > 1 else 1, 3, 3, stride=2, padding=1),
        "conv1xN": conv(2, 4, 8, c, 1, 5),
        "convNx1": conv(2, 8, 4, c + 1, 5, 1),
        "pointwise": conv(r + 1, 3, 3, c + 2, 1, 1),
        "pad2": conv(1, 4, 4, 2, 3, 3, padding=2),
        "stride2": conv(3, 7, 7, 4, 3, 3, stride=2),
        "rect_kernel": conv(4, 5, 3, c, 2, 2),
        "stride3_pad": conv(2, 9, 9, 3, 3, 3, stride=3, padding=1),
        "conv5x5_pad": conv(1, 6, 6, 5, 5, 5, padding=2),
        "one_pixel": conv(r + 1, 3, 3, c + 1, 3, 3),
        "tall_image": conv(1, 2 * r + 1, 2, 2, 2, 1),
        "channels_one_more": conv(r + 1, 4, 4, c + 1, 2, 2, padding=1),
        "stride2_1x1": conv(3, 6, 6, 2, 1, 1, stride=2),
        # rounded up: 4 x 3 outputs where the floor rule gives 3 x 2
        "hanging_window": Gemm(C=2, H=8, W=6, K=c, R=3, S=3, P=4, Q=3, stride=2),
    }
