"""Class-stratified training subsets, fixed per seed (the label-efficiency curve, quick tests, the CLI's --subset).

For a seed, each class's indices are shuffled once; a subset takes the first q_c of every class c, where the
quotas q_c share round(fraction * n) out in proportion to the class sizes (largest remainder, at least one
per class), so the class mix matches the full set and, for one seed, a smaller
fraction is always contained in a larger one (1% within 5% within 10% ...).
"""
from __future__ import annotations

import numpy as np


def stratified_subset(labels: np.ndarray, seed: int, fraction: float = 1.0, count: int = 0) -> np.ndarray:
    """Indices (in dataset order) of a class-stratified subset: `count` items if count > 0, else `fraction`."""
    labels = np.asarray(labels).reshape(-1)
    n = len(labels)
    if count > 0:
        fraction = count / n
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], not {fraction}")
    if fraction >= 1.0:
        return np.arange(n)
    classes, sizes = np.unique(labels, return_counts=True)  # sorted, so the draw does not depend on label order
    exact = fraction * sizes
    quota = np.floor(exact).astype(int)
    short = int(round(fraction * n)) - quota.sum()
    quota[np.argsort(-(exact - quota), kind="stable")[:max(short, 0)]] += 1
    quota = np.clip(quota, 1, sizes)
    rng = np.random.default_rng(seed)
    take = [rng.permutation(np.flatnonzero(labels == c))[:q] for c, q in zip(classes, quota)]
    return np.sort(np.concatenate(take))
