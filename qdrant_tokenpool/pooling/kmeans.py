"""K-means pooling: seeded spherical k-means (cosine geometry), deterministic."""

from __future__ import annotations

import numpy as np

from .common import normalise

__all__ = ["DEFAULT_SEED", "MAX_ITER", "kmeans_labels"]

DEFAULT_SEED = 0
MAX_ITER = 20


def _fill_empty(labels: np.ndarray, own: np.ndarray, k: int) -> np.ndarray:
    """Give every empty cluster the point (``own``: similarity to its centre) worst served
    by a cluster of size > 1."""
    counts = np.bincount(labels, minlength=k)
    empty = np.flatnonzero(counts == 0)
    if empty.size == 0:
        return labels
    labels = labels.copy()
    order = np.argsort(own, kind="stable")  # worst-fitting points first
    it = iter(order.tolist())
    for c in empty.tolist():
        for i in it:
            if counts[labels[i]] > 1:
                counts[labels[i]] -= 1
                labels[i] = c
                counts[c] = 1
                break
    return labels


def _centroids(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Unit-normalised cluster sums ``(k, d)`` (every cluster non-empty)."""
    onehot = np.zeros((k, x.shape[0]), dtype=np.float32)
    onehot[labels, np.arange(x.shape[0])] = 1.0
    # a cluster whose vectors cancel out gets a zero centre (it then attracts no token
    # and is refilled); never a division by zero
    return normalise(onehot @ x, zero="keep")


def kmeans_labels(x: np.ndarray, k: int, *, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Spherical k-means of the unit rows of ``x`` (``(n, d)``) into exactly ``k`` clusters:
    labels ``(n,)``, ``0..k-1``. Deterministic: ``k`` distinct tokens drawn with ``seed``
    as centres, then Lloyd iterations on cosine similarity (at most :data:`MAX_ITER`),
    empty clusters refilled, ties to the lowest centre.
    """
    n = x.shape[0]
    if k >= n:
        return np.arange(n, dtype=np.intp)
    if k <= 1:
        return np.zeros(n, dtype=np.intp)
    rng = np.random.default_rng(seed)
    centres = x[np.sort(rng.choice(n, size=k, replace=False))]
    labels = np.full(n, -1, dtype=np.intp)
    rows = np.arange(n)
    for _ in range(MAX_ITER):
        sims = x @ centres.T
        best = np.argmax(sims, axis=1)
        new = _fill_empty(best, sims[rows, best], k)
        if np.array_equal(new, labels):
            break
        labels = new
        centres = _centroids(x, labels, k)
    return labels
