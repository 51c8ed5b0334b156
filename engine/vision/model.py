"""The X-ray classifier: a backbone's last convolutional map -> mean pool (the embedding) -> dropout -> logit.

The model takes what `engine.data.images.preprocess` returns, (b, s, s) uint8 at the dataset's size
(28 px under X1), and resizes inside: EfficientNet-Lite0 works on `input_size` px (the constructor's
default is 64; training uses 96, `engine.vision.train.DEFAULT_INPUT`) with the grayscale copied to three
channels and normalised as in ImageNet training, its convolutions padded like TF "SAME" (the weights'
source network, see `efficientnet_lite.py`); the scratch CNN works at the native size. A final affine (`logit_scale`, `logit_bias`, fitted on val only) calibrates the logit.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.vision.efficientnet_lite import FEATURES, EfficientNetLite0
from engine.vision.pretrained import MEAN, STD, load_imagenet_state
from engine.vision.scratch_cnn import SmallCNN

STRATEGIES = ("linear-probe", "partial", "full", "scratch")
PARTIAL_FROM_BLOCK = 11  # 'partial' trains blocks 11-15 (the last two stages), the head conv and the classifier


class XrayNet(nn.Module):
    def __init__(self, strategy: str, input_size: int = 64, pretrained: bool = True, dropout: float = 0.2,
                 padding: str = "same") -> None:
        super().__init__()
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}")
        self.strategy = strategy
        self.is_scratch = strategy == "scratch"
        if self.is_scratch:
            self.backbone: nn.Module = SmallCNN()
            self.dim = SmallCNN.out_channels
            self.input_size = 0  # native size
        else:
            net = EfficientNetLite0(padding=padding)
            if pretrained:
                net.load_state_dict(load_imagenet_state(), strict=True)
            del net._fc  # the ImageNet classifier is not used
            self.backbone = net
            self.dim = FEATURES
            self.input_size = input_size
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.dim, 1)
        self.register_buffer("logit_scale", torch.ones(()))
        self.register_buffer("logit_bias", torch.zeros(()))

    # --- which parameters train -------------------------------------------------------------
    def frozen_modules(self) -> list[nn.Module]:
        """Backbone parts that stay at their pretrained values (kept in eval mode, BN statistics frozen)."""
        if self.strategy == "linear-probe":
            return [self.backbone]
        if self.strategy == "partial":
            b = self.backbone
            return [b._conv_stem, b._bn0, *list(b._blocks)[:PARTIAL_FROM_BLOCK]]
        return []

    def param_groups(self, lr_head: float, lr_backbone: float, weight_decay: float) -> list[dict]:
        """Head at `lr_head`; trainable backbone at `lr_backbone` (scratch: everything at `lr_head`)."""
        frozen = {id(p) for m in self.frozen_modules() for p in m.parameters()}
        for p in self.backbone.parameters():
            p.requires_grad_(id(p) not in frozen)
        backbone = [p for p in self.backbone.parameters() if p.requires_grad]
        groups = [{"params": list(self.head.parameters()), "lr": lr_head, "weight_decay": weight_decay}]
        if backbone:
            groups.append({"params": backbone, "lr": lr_head if self.is_scratch else lr_backbone, "weight_decay": weight_decay})
        return groups

    def train(self, mode: bool = True) -> "XrayNet":
        super().train(mode)
        for m in self.frozen_modules():
            m.eval()
        return self

    # --- forward ---------------------------------------------------------------------------
    def prepare(self, x: torch.Tensor, grid: torch.Tensor | None = None) -> torch.Tensor:
        """(b, s, s) uint8 -> backbone input; `grid` (b, S, S, 2) resamples (augmentation + resize in one step)."""
        x = x.float().div(255.0).unsqueeze(1)  # (b, 1, s, s) in [0, 1]
        if grid is not None:
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        elif self.input_size and x.shape[-1] != self.input_size:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False)
        if self.is_scratch:
            return x
        return ((x - MEAN) / STD).expand(-1, 3, -1, -1)  # (b, 3, S, S)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """Prepared input -> last convolutional map (b, c, h, w) (Grad-CAM's target)."""
        return self.backbone.features(x)

    def logits_from_map(self, fmap: torch.Tensor) -> torch.Tensor:
        emb = fmap.mean(dim=(2, 3))  # (b, c)
        z = self.head(self.dropout(emb)).squeeze(1)  # (b,)
        return z * self.logit_scale + self.logit_bias

    def forward(self, x: torch.Tensor, grid: torch.Tensor | None = None) -> torch.Tensor:
        """(b, s, s) uint8 -> calibrated logit of pneumonia (b,)."""
        return self.logits_from_map(self.feature_map(self.prepare(x, grid)))

    @torch.no_grad()
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(b, s, s) uint8 -> embedding (b, c): the pooled last convolutional map."""
        return self.feature_map(self.prepare(x)).mean(dim=(2, 3))
