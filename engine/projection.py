"""2-D maps of embeddings: PCA or t-SNE, cached by a hash of the vectors and the settings.

    xy = project(item_vectors[1:], "tsne", perplexity=30, iterations=1000)   # [N, 2]
    pts = place_extra(extra_vectors, item_vectors[1:], xy, method, pca)      # [M, 2]

t-SNE (van der Maaten and Hinton, 2008) has no transform for new points, so vectors that are not
part of the map (a user's interest vectors) are placed by `place_extra`:

- PCA: exactly, by the same linear projection (centre with the items' mean, multiply by the two
  principal axes);
- t-SNE: at the softmax(score)-weighted mean of the map positions of the `top` items with the
  largest inner product with the vector (its nearest items under the model's own score), i.e. an
  interest sits among the items it would retrieve.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from engine.errors import ConfigError

_CACHE: "OrderedDict[str, Map]" = OrderedDict()
_CACHE_SIZE = 32


@dataclass(frozen=True)
class Map:
    """A 2-D map: positions [N, 2] and, for PCA, what places new vectors (mean [d], axes [2, d])."""

    xy: np.ndarray
    method: str
    mean: np.ndarray | None = None
    axes: np.ndarray | None = None


def content_key(vectors: np.ndarray, **settings) -> str:
    """sha1 of the vectors' bytes, shape and the settings: same input, same key."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    h = hashlib.sha1(x.tobytes())
    h.update(repr((x.shape, sorted(settings.items()))).encode())
    return h.hexdigest()


def project(vectors: np.ndarray, method: str = "tsne", *, perplexity: float = 30.0, iterations: int = 1000, seed: int = 0) -> Map:
    """Map [N, d] vectors to 2-D with "pca" or "tsne" (cached by content hash; deterministic per seed)."""
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] < 3:
        raise ConfigError(f"A map needs at least 3 vectors; got shape {x.shape}.", code="map_too_small", shape=str(x.shape))
    if method == "pca":
        settings = {"method": "pca"}
    elif method == "tsne":
        if not 1 <= perplexity < x.shape[0]:
            raise ConfigError(f"t-SNE perplexity must be between 1 and the number of items minus one ({x.shape[0] - 1}); got {perplexity}.", code="perplexity_range", max=x.shape[0] - 1, perplexity=perplexity)
        if iterations < 250:
            raise ConfigError(f"t-SNE needs at least 250 iterations; got {iterations}.", code="tsne_iterations", iterations=iterations)
        settings = {"method": "tsne", "perplexity": float(perplexity), "iterations": int(iterations), "seed": int(seed)}
    else:
        raise ConfigError(f"Unknown map method {method!r}; choose 'pca' or 'tsne'.")
    key = content_key(x, **settings)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    mean = x.mean(0)
    centred = x - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]  # [2, d]
    # fix each axis' sign (the largest-magnitude coordinate positive) so maps do not flip between runs
    signs = np.sign(axes[np.arange(2), np.abs(axes).argmax(1)])
    axes = axes * signs[:, None]
    if method == "pca":
        m = Map(xy=(centred @ axes.T).astype(np.float32), method="pca", mean=mean, axes=axes)
    else:
        from sklearn.manifold import TSNE

        xy = TSNE(n_components=2, perplexity=float(perplexity), max_iter=int(iterations), init="pca",
                  learning_rate="auto", random_state=int(seed)).fit_transform(x)
        m = Map(xy=xy.astype(np.float32), method="tsne")
    _CACHE[key] = m
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return m


def place_extra(extra: np.ndarray, vectors: np.ndarray, m: Map, top: int = 10) -> np.ndarray:
    """Positions [M, 2] on map `m` (of `vectors` [N, d]) for extra vectors [M, d] (see the module docstring)."""
    e = np.asarray(extra, dtype=np.float32)
    if e.ndim == 1:
        e = e[None, :]
    if len(e) == 0:
        return np.zeros((0, 2), dtype=np.float32)
    if m.method == "pca":
        return ((e - m.mean) @ m.axes.T).astype(np.float32)
    scores = e @ np.asarray(vectors, dtype=np.float32).T  # [M, N]
    top = min(top, scores.shape[1])
    idx = np.argsort(-scores, axis=1)[:, :top]  # [M, top]
    s = np.take_along_axis(scores, idx, 1)
    w = np.exp(s - s.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    return np.einsum("mt,mtc->mc", w, m.xy[idx]).astype(np.float32)
