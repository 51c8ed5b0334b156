"""Is a Grad-CAM map faithful? Deletion and insertion checks (after Petsiuk et al., "RISE: Randomized Input
Sampling for Explanation of Black-box Models", BMVC 2018, section 4.1), reduced to a few fixed fractions.

For each image the explained class c is the predicted one and p_c its calibrated probability.
- deletion at fraction f: fill the top-f pixels of the heatmap with the image's mean grey; drop = p_c(image) -
  p_c(masked). A faithful map drops p_c more than
- the random control: the same mask (same area and shape) shifted by a random offset (circular roll,
  `numpy.random.default_rng(seed)`), filled the same way.
- insertion at fraction f: start from a strongly blurred copy (Gaussian, sigma = s / 7 px: the lung fields
  stay, the detail goes, as RISE's insertion canvas) and paste the top-f pixels back; p_c(result) against the
  same for the shifted mask. A faithful map restores more of p_c.
Mean grey rather than black for deletion: black is what the air around the chest looks like, so it is not
neutral here. (A mostly grey canvas for insertion gives every image the same output, so it measures nothing.)
Intervals: 95 % percentile bootstrap over images (`default_rng(seed)`, 2,000 resamples) of the mean, and of
the mean paired difference (map - random).
"""
from __future__ import annotations

import numpy as np
import torch

from engine.vision.gradcam import DEFAULT_CAM_LAYER, grad_cam_batch
from engine.vision.model import XrayNet

FRACTIONS = (0.1, 0.2, 0.5)
BOOTSTRAP = 2000


def top_mask(heatmap: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean (s, s): the round(fraction * s * s) pixels with the highest heatmap values (ties: first in row order)."""
    flat = heatmap.reshape(-1)
    k = int(round(fraction * flat.size))
    mask = np.zeros(flat.size, dtype=bool)
    if k > 0:
        mask[np.argsort(-flat, kind="stable")[:k]] = True
    return mask.reshape(heatmap.shape)


def shifted(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same region moved by a random offset (circular roll): same area, same shape."""
    dy, dx = rng.integers(0, mask.shape[0]), rng.integers(0, mask.shape[1])
    return np.roll(mask, (int(dy), int(dx)), axis=(0, 1))


def fill(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pixels under `mask` set to the image's mean grey (uint8)."""
    out = image.copy()
    out[mask] = np.uint8(round(float(image.mean())))
    return out


def blurred(image: np.ndarray) -> np.ndarray:
    """The insertion canvas: Gaussian blur with sigma = s / 7 px (uint8)."""
    from scipy.ndimage import gaussian_filter

    return np.clip(np.round(gaussian_filter(image.astype(np.float64), sigma=image.shape[-1] / 7)), 0, 255).astype(np.uint8)


def paste(image: np.ndarray, canvas: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`canvas` with the pixels under `mask` taken from `image`."""
    return np.where(mask, image, canvas)


@torch.no_grad()
def class_probability(model: XrayNet, images: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """(b, s, s) uint8 -> probability of each image's class in `classes` (b,)."""
    model.eval()
    p1 = torch.sigmoid(model(torch.from_numpy(np.ascontiguousarray(images)))).numpy().astype(np.float64)
    return np.where(classes == 1, p1, 1.0 - p1)


def bootstrap_ci(values: np.ndarray, seed: int = 0, n: int = BOOTSTRAP) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the mean."""
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (n, len(values)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def faithfulness(model: XrayNet, images: np.ndarray, layer: str = DEFAULT_CAM_LAYER,
                 fractions: tuple[float, ...] = FRACTIONS, seed: int = 0, batch: int = 64) -> dict:
    """Per-image deletion / insertion numbers for `layer` on (n, s, s) uint8 images.

    Returns {"grid", "p_class" (n,), "p_blurred" (n,), "deletion": {f: {"map", "random"} (n,)}, "insertion": {...}}
    with deletion as the drop in p_c and insertion as p_c of the blurred canvas with the region pasted back.
    """
    rng = np.random.default_rng(seed)
    out: dict = {"p_class": [], "p_blurred": [], "deletion": {f: {"map": [], "random": []} for f in fractions},
                 "insertion": {f: {"map": [], "random": []} for f in fractions}}
    for i in range(0, len(images), batch):
        x = images[i : i + batch]
        cam = grad_cam_batch(model, x, None, layer)
        out["grid"] = cam.grid
        c = cam.targets
        p = np.where(c == 1, cam.probabilities, 1.0 - cam.probabilities)
        out["p_class"].append(p)
        canvas = np.stack([blurred(im) for im in x])
        out["p_blurred"].append(class_probability(model, canvas, c))
        for f in fractions:
            top = [top_mask(h, f) for h in cam.heatmaps]
            rand = [shifted(m, rng) for m in top]
            for kind, masks in (("map", top), ("random", rand)):
                deleted = np.stack([fill(im, m) for im, m in zip(x, masks)])
                kept = np.stack([paste(im, cv, m) for im, cv, m in zip(x, canvas, masks)])
                out["deletion"][f][kind].append(p - class_probability(model, deleted, c))
                out["insertion"][f][kind].append(class_probability(model, kept, c))
    out["p_class"], out["p_blurred"] = np.concatenate(out["p_class"]), np.concatenate(out["p_blurred"])
    for test in ("deletion", "insertion"):
        for f in fractions:
            for kind in ("map", "random"):
                out[test][f][kind] = np.concatenate(out[test][f][kind])
    return out


def summarise(result: dict, seed: int = 0) -> list[dict]:
    """One row per (test, fraction): mean and 95 % interval for the map, the random region and their paired difference."""
    rows = []
    for test in ("deletion", "insertion"):
        for f, d in result[test].items():
            diff = d["map"] - d["random"]
            row = {"test": test, "fraction": f, "n": int(len(diff))}
            for name, v in (("map", d["map"]), ("random", d["random"]), ("difference", diff)):
                lo, hi = bootstrap_ci(v, seed)
                row |= {name: float(v.mean()), f"{name}_lo": lo, f"{name}_hi": hi}
            row["map_wins"] = float((diff > 0).mean())  # share of images where the map beats the random region
            row["p_class"], row["p_blurred"] = float(result["p_class"].mean()), float(result["p_blurred"].mean())
            rows.append(row)
    return rows
