"""Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
Localization", ICCV 2017) on a chosen convolutional layer of an `XrayNet`.

Eq. 1: alpha_k = mean_ij dy/dA^k_ij;  Eq. 2: L = ReLU(sum_k alpha_k A^k). y is the logit of the explained
class (pneumonia: +z, normal: -z). The map is upsampled to the input image and scaled to [0, 1] per image.

Which map: the paper uses the last convolutional layer, but here that map is only 3 x 3 (EfficientNet-Lite0
at 96 px input, stride 32; the small CNN at 28 px, stride 8), so its overlay is a blur of nine cells. The
default layer is therefore `mid`: the end of EfficientNet's stride-16 stage (block 10, 112 channels, 6 x 6 at
96 px) and the small CNN's third conv (before its last pooling, 128 channels, 7 x 7 at 28 px). `early` goes
one stride further down (12 x 12 / 14 x 14), `last` is the paper's choice. Whether a map is faithful (masking
its top region moves the prediction more than masking a random region) is measured, not assumed:
`engine/vision/faithfulness.py`, numbers in bench/xray/cam_faithfulness.md.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.vision.model import XrayNet

CAM_LAYERS = ("early", "mid", "last")
DEFAULT_CAM_LAYER = "mid"
# Module index of each named layer: EfficientNet-Lite0 `_blocks[i]` / SmallCNN `body[i]` (the ReLU of a stage).
_EFFICIENTNET_BLOCK = {"early": 4, "mid": 10}  # end of stage 3 (stride 8, 40 ch), of stage 5 (stride 16, 112 ch)
_SCRATCH_RELU = {"early": 6, "mid": 10}  # conv 2 (stride 2, 64 ch), conv 3 (stride 4, 128 ch), before pooling


@dataclass(frozen=True)
class CamResult:
    heatmaps: np.ndarray  # (b, s, s) in [0, 1], Grad-CAM of each image's explained class
    probabilities: np.ndarray  # (b,) calibrated pneumonia probability
    targets: np.ndarray  # (b,) the explained class per image
    grid: tuple[int, int]  # (h, w) of the feature map the heatmap was computed on


def layer_module(model: XrayNet, layer: str) -> nn.Module | None:
    """The module whose output is Grad-CAM's A for `layer` (None for `last`: the backbone's final map)."""
    if layer not in CAM_LAYERS:
        raise ValueError(f"unknown Grad-CAM layer {layer!r}; choose one of {', '.join(CAM_LAYERS)}")
    if layer == "last":
        return None
    if model.is_scratch:
        return model.backbone.body[_SCRATCH_RELU[layer]]
    return model.backbone._blocks[_EFFICIENTNET_BLOCK[layer]]


def _forward_capturing(model: XrayNet, x: torch.Tensor, layer: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Prepared input -> (A (b, c, h, w) as a leaf that requires grad, calibrated logit z (b,) computed from it)."""
    module = layer_module(model, layer)
    if module is None:
        A = model.feature_map(x).detach().requires_grad_(True)  # (b, c, h, w)
        return A, model.logits_from_map(A)
    captured: list[torch.Tensor] = []

    def swap_in_leaf(_m: nn.Module, _inp: tuple, out: torch.Tensor) -> torch.Tensor:
        leaf = out.detach().clone().requires_grad_(True)  # the rest of the network runs from this leaf
        captured.append(leaf)
        return leaf

    handle = module.register_forward_hook(swap_in_leaf)
    try:
        z = model.logits_from_map(model.feature_map(x))  # (b,)
    finally:
        handle.remove()
    return captured[0], z


def grad_cam_batch(model: XrayNet, images: np.ndarray, targets: np.ndarray | None = None,
                   layer: str = DEFAULT_CAM_LAYER) -> CamResult:
    """(b, s, s) uint8 images -> Grad-CAM per image. `targets` (b,) in {0, 1}; None explains the predicted class.

    Images are independent in eval mode (BatchNorm uses its running statistics), so the gradient of the summed
    logits gives every image its own dy/dA.
    """
    model.eval()
    x = torch.from_numpy(np.ascontiguousarray(images))  # (b, s, s)
    with torch.enable_grad():
        A, z = _forward_capturing(model, model.prepare(x), layer)
        z_d = z.detach()
        t = torch.from_numpy(np.asarray(targets)).long() if targets is not None else (z_d >= 0).long()
        sign = torch.where(t == 1, 1.0, -1.0)  # (b,)
        (dy_dA,) = torch.autograd.grad((sign * z).sum(), A)
    alpha = dy_dA.mean(dim=(2, 3))  # (b, c)                                    Eq. 1
    cam = F.relu(torch.einsum("bc,bchw->bhw", alpha, A.detach()))  # (b, h, w)  Eq. 2
    s = images.shape[-1]
    cam = F.interpolate(cam[:, None], size=(s, s), mode="bilinear", align_corners=False)[:, 0]  # (b, s, s)
    peak = cam.amax(dim=(1, 2), keepdim=True)
    cam = torch.where(peak > 0, cam / peak.clamp_min(1e-12), cam)
    return CamResult(cam.numpy().astype(np.float32), torch.sigmoid(z_d).numpy().astype(np.float64),
                     t.numpy(), (int(A.shape[2]), int(A.shape[3])))


def grad_cam(model: XrayNet, image: np.ndarray, target: int = 1, layer: str = DEFAULT_CAM_LAYER) -> tuple[np.ndarray, float]:
    """(s, s) uint8 image -> (heatmap (s, s) in [0, 1], calibrated pneumonia probability)."""
    r = grad_cam_batch(model, image[None], np.array([target]), layer)
    return r.heatmaps[0], float(r.probabilities[0])


def map_grid(model: XrayNet, image_size: int, layer: str = DEFAULT_CAM_LAYER) -> tuple[int, int]:
    """(h, w) of the feature map Grad-CAM uses for `layer` on an image of `image_size` px."""
    r = grad_cam_batch(model, np.zeros((1, image_size, image_size), np.uint8), np.array([1]), layer)
    return r.grid
