"""A small CNN trained from scratch: the baseline the pretrained strategies must beat.

Four conv-BN-ReLU stages (32, 64, 128, 256 channels), max-pooling between them; at 28 px the last
convolutional map is 3 x 3. Same interface as `XrayNet`'s backbone: `features(x) -> (b, c, h, w)`.
"""
from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    out_channels = 256

    def __init__(self) -> None:
        super().__init__()
        chans = (1, 32, 64, 128, 256)
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(chans[:-1], chans[1:])):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            if i < 3:
                layers.append(nn.MaxPool2d(2))  # 28 -> 14 -> 7 -> 3
        self.body = nn.Sequential(*layers)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(b, 1, s, s) in [0, 1] -> (b, 256, s/8, s/8)."""
        return self.body((x - 0.5) / 0.25)
