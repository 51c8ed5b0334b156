"""Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
Localization", ICCV 2017) on the model's last convolutional map.

Eq. 1: alpha_k = mean_ij dy/dA^k_ij;  Eq. 2: L = ReLU(sum_k alpha_k A^k). y is the logit of the explained
class (pneumonia: +z, normal: -z). The map is upsampled to the input image and scaled to [0, 1].
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from engine.vision.model import XrayNet


def grad_cam(model: XrayNet, image: np.ndarray, target: int = 1) -> tuple[np.ndarray, float]:
    """(s, s) uint8 image -> (heatmap (s, s) in [0, 1], calibrated pneumonia probability)."""
    model.eval()
    x = torch.from_numpy(np.ascontiguousarray(image))[None]  # (1, s, s)
    with torch.enable_grad():
        A = model.feature_map(model.prepare(x)).detach().requires_grad_(True)  # (1, c, h, w)
        z = model.logits_from_map(A)  # (1,)
        y = z if target == 1 else -z
        (dy_dA,) = torch.autograd.grad(y.sum(), A)
    alpha = dy_dA.mean(dim=(2, 3))  # (1, c)          Eq. 1
    cam = F.relu(torch.einsum("bc,bchw->bhw", alpha, A.detach()))  # (1, h, w)   Eq. 2
    cam = F.interpolate(cam[:, None], size=image.shape, mode="bilinear", align_corners=False)[0, 0]
    cam = cam / cam.max() if float(cam.max()) > 0 else cam
    return cam.numpy().astype(np.float32), float(torch.sigmoid(z).item())
