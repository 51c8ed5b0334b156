"""Explaining one X-ray: probability, Grad-CAM, nearest training cases (faiss) and an out-of-distribution score.

Nearest cases use the run's own embedding (what the classifier sees). The OOD score uses the frozen
ImageNet EfficientNet-Lite0 embedding (at `OOD_INPUT` px) instead: fine-tuning keeps only what separates
normal from pneumonia, so a flower and an X-ray can land close in the fine-tuned space, while generic
ImageNet features keep them apart. Score: cosine distance to the k-th nearest training embedding; the
threshold is the 0.999 quantile of the same score on val images (never trained on): an image is flagged
when it lies farther from the training set than (almost) every genuine val X-ray. On the sample X-rays the
score is 0.13-0.26, on colour photographs, flat or noise images 0.45-0.62 (threshold about 0.3).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.data.images import Preprocessed, Source, preprocess
from engine.data.medmnist import CLASSES
from engine.errors import ConfigError, EmbedLabError, Message
from engine.retrieval import IndexSpec, VectorIndex
from engine.store import load_json
from engine.vision.gradcam import DEFAULT_CAM_LAYER, grad_cam_batch
from engine.vision.model import XrayNet
from engine.vision.train import XrayConfig, load_config, load_model

OOD_K = 5
OOD_QUANTILE = 0.999  # about the largest val score: flags what lies beyond (almost) every genuine val X-ray
OOD_INPUT = 96
COSINE = IndexSpec(kind="exact", metric="cosine")


def ood_reference(padding: str = "same") -> XrayNet:
    """The frozen ImageNet backbone whose embeddings the OOD score compares (padded as the run's model was)."""
    return XrayNet("linear-probe", input_size=OOD_INPUT, pretrained=True, padding=padding).eval()


def kth_distance(index: VectorIndex, queries: np.ndarray, k: int) -> np.ndarray:
    """1 - cosine similarity to the k-th nearest indexed vector, per query (q,)."""
    sims, _ = index.search(queries, k)
    return 1.0 - sims[:, k - 1].astype(np.float64)


def fit_ood_threshold(train_emb: np.ndarray, val_emb: np.ndarray, k: int = OOD_K, quantile: float = OOD_QUANTILE) -> dict:
    """Threshold on the k-th-neighbour distance, set on val only."""
    index = VectorIndex(train_emb, COSINE)
    k = min(k, index.n)
    scores = kth_distance(index, val_emb, k)
    return {"k": k, "quantile": quantile, "threshold": float(np.quantile(scores, quantile)), "val_scores": scores.tolist()}


@dataclass(frozen=True)
class Neighbour:
    index: int  # row of the training split
    label: str
    similarity: float


@dataclass(frozen=True)
class Analysis:
    file: str
    pre: Preprocessed
    probability: float
    label: str
    heatmap: np.ndarray  # (s, s) in [0, 1], Grad-CAM of the predicted class
    cam_layer: str  # engine.vision.gradcam.CAM_LAYERS
    cam_grid: tuple[int, int]  # (h, w) of the feature map the heatmap comes from
    neighbours: tuple[Neighbour, ...]
    ood_score: float
    ood_threshold: float
    ood: bool
    warnings: tuple[str, ...]

    def as_json(self) -> dict:
        return {"file": self.file, "probability": round(self.probability, 4), "label": self.label, "ood": self.ood}


class XrayExplainer:
    """A trained run, ready to analyse images: model + faiss index over its training embeddings."""

    def __init__(self, run: str | os.PathLike, train_labels: np.ndarray | None = None) -> None:
        self.run = Path(run)
        try:
            self.config: XrayConfig = load_config(self.run)
            self.model: XrayNet = load_model(self.run)
            with np.load(self.run / "embeddings.npz") as z:
                train_emb = z["train"].astype(np.float32)
                ood_train = z["ood_train"].astype(np.float32)
        except (OSError, KeyError, RuntimeError, ValueError, TypeError) as e:
            raise ConfigError(
                f"{self.run} is not a complete X-ray run of this version ({type(e).__name__}: {e}); "
                "train it again with `python -m engine xray train`."
            ) from e
        self.index = VectorIndex(train_emb, COSINE)
        self.ood_index = VectorIndex(ood_train, COSINE)
        shared = self.config.strategy == "linear-probe" and self.config.input_size == OOD_INPUT
        self.reference = self.model if shared else ood_reference(self.config.padding)
        ood = load_json(self.run / "evaluation.json")["ood"]
        self.ood_k, self.ood_threshold = int(ood["k"]), float(ood["threshold"])
        self.train_labels = train_labels

    def analyse(self, source: Source, name: str = "image", n_neighbours: int = 5, keep_steps: bool = True,
                cam_layer: str = DEFAULT_CAM_LAYER) -> Analysis:
        """Preprocess -> probability + Grad-CAM (of the predicted class) -> nearest training cases -> OOD check."""
        pre = preprocess(source, self.config.data_size, keep_steps=keep_steps)
        image = pre.image
        with torch.no_grad():
            emb = self.model.embed(torch.from_numpy(image)[None]).numpy()
        cam = grad_cam_batch(self.model, image[None], None, cam_layer)
        heat, p = cam.heatmaps[0], float(cam.probabilities[0])
        label = CLASSES[int(cam.targets[0])]
        sims, ids = self.index.search(emb, n_neighbours)
        neighbours = tuple(
            Neighbour(int(i), CLASSES[int(self.train_labels[i])] if self.train_labels is not None else "?", float(s))
            for s, i in zip(sims[0], ids[0])
        )
        with torch.no_grad():
            ref = self.reference.embed(torch.from_numpy(image)[None]).numpy()
        score = float(kth_distance(self.ood_index, ref, self.ood_k)[0])
        ood = score > self.ood_threshold
        warnings = list(pre.warnings)
        if ood:
            warnings.append(
                Message("This image looks unlike the chest X-rays the model was trained on "
                        f"(distance {score:.3f} > threshold {self.ood_threshold:.3f}); do not trust the prediction.",
                        "ood", distance=f"{score:.3f}", threshold=f"{self.ood_threshold:.3f}")
            )
        return Analysis(name, pre, p, label, heat, cam_layer, cam.grid, neighbours, score, self.ood_threshold, ood, tuple(warnings))

    def analyse_safely(self, source: Source, name: str = "image", **kw) -> Analysis | str:
        """Like `analyse`, but any failure comes back as a sentence for the user, never as an exception."""
        try:
            return self.analyse(source, name, **kw)
        except Exception as e:  # a decoder bug must not take the page or the CLI down
            return failure_message(e)


def failure_message(e: Exception) -> str:
    """A failed image as a sentence the app can translate (a str that keeps the error's code)."""
    if isinstance(e, EmbedLabError):
        return Message.of(e)
    if isinstance(e, MemoryError):
        return Message("The image is too large to process; downscale it and upload it again.", "image_memory")
    return Message(f"This file could not be processed ({type(e).__name__}: {e}); upload a PNG, JPEG or DICOM chest X-ray.",
                   "image_unprocessable", detail=f"{type(e).__name__}: {e}")


@dataclass(frozen=True)
class CamView:
    """One run's answer for one image: what the side-by-side view of every stored strategy shows."""

    probability: float
    label: str  # at threshold 0.5 (X1; the runs' temperature calibration keeps the decision there)
    heatmap: np.ndarray  # (s, s) in [0, 1]
    image: np.ndarray  # (s, s) uint8 at the run's data size
    grid: tuple[int, int]


def cam_view(model: XrayNet, config: XrayConfig, source: Source, layer: str = DEFAULT_CAM_LAYER) -> CamView | str:
    """Probability, label and Grad-CAM of one run for one image; a failure comes back as a sentence (coded)."""
    try:
        image = preprocess(source, config.data_size, keep_steps=False).image
        cam = grad_cam_batch(model, image[None], None, layer)
    except Exception as e:  # the same answers as XrayExplainer.analyse_safely
        return failure_message(e)
    return CamView(float(cam.probabilities[0]), CLASSES[int(cam.targets[0])], cam.heatmaps[0], image, cam.grid)


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Grayscale image (s, s) uint8 + heatmap (s, s) in [0, 1] -> RGB (s, s, 3) uint8 (a blue-red 'jet' ramp)."""
    h = np.clip(heatmap, 0.0, 1.0)[..., None]
    jet = np.concatenate([np.clip(1.5 - np.abs(4 * h - 3), 0, 1), np.clip(1.5 - np.abs(4 * h - 2), 0, 1),
                          np.clip(1.5 - np.abs(4 * h - 1), 0, 1)], axis=-1)  # (s, s, 3)
    gray = np.repeat(image[..., None].astype(np.float32) / 255.0, 3, axis=-1)
    return np.round(255 * ((1 - alpha * h) * gray + alpha * h * jet)).clip(0, 255).astype(np.uint8)


def embedding_maps(run: str | os.PathLike, seed: int = 0) -> dict[str, np.ndarray]:
    """t-SNE of the test embeddings before (ImageNet / random init) and after training: {'before','after'} (n, 2)."""
    from engine.projection import project

    with np.load(Path(run) / "embeddings.npz") as z:
        before, after = z["test_before"].astype(np.float32), z["test"].astype(np.float32)
    perplexity = float(min(30, max(2, len(after) // 4)))
    return {name: project(e, "tsne", perplexity=perplexity, iterations=500, seed=seed).xy for name, e in
            (("before", before), ("after", after))}
