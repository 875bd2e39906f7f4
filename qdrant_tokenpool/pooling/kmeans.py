"""K-means pooling: seeded spherical k-means (cosine geometry), deterministic."""

from __future__ import annotations

import numpy as np

__all__ = ["kmeans_labels"]

DEFAULT_SEED = 0
MAX_ITER = 30


def _kmeanspp_init(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding on cosine distance ``1 - x.c`` (x unit rows). Returns ``(k, d)``."""
    n = x.shape[0]
    centres = np.empty((k, x.shape[1]), dtype=np.float32)
    first = int(rng.integers(n))
    centres[0] = x[first]
    dist = np.maximum(1.0 - x @ x[first], 0.0)
    for j in range(1, k):
        total = float(dist.sum())
        if total <= 0.0:  # all remaining points coincide with a centre
            idx = int(rng.integers(n))
        else:
            idx = int(rng.choice(n, p=dist / total))
        centres[j] = x[idx]
        dist = np.minimum(dist, np.maximum(1.0 - x @ x[idx], 0.0))
    return centres


def _fill_empty(labels: np.ndarray, sims: np.ndarray, k: int) -> np.ndarray:
    """Give every empty cluster the point worst served by a cluster of size > 1."""
    counts = np.bincount(labels, minlength=k)
    empty = np.flatnonzero(counts == 0)
    if empty.size == 0:
        return labels
    labels = labels.copy()
    own = sims[np.arange(labels.size), labels]
    order = np.argsort(own, kind="stable")  # worst-fitting points first
    it = iter(order)
    for c in empty:
        for i in it:
            if counts[labels[i]] > 1:
                counts[labels[i]] -= 1
                labels[i] = c
                counts[c] = 1
                break
    return labels


def kmeans_labels(x: np.ndarray, k: int, *, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Spherical k-means of the unit rows of ``x`` (``(n, d)``) into exactly ``k`` clusters.

    Deterministic: k-means++ seeding from ``seed``, then Lloyd iterations on cosine
    similarity (centroids re-normalised) until the assignment is stable or ``MAX_ITER``.
    Empty clusters are refilled, so every one of the ``k`` clusters keeps a token.
    """
    n = x.shape[0]
    if k >= n:
        return np.arange(n, dtype=np.intp)
    if k == 1:
        return np.zeros(n, dtype=np.intp)
    rng = np.random.default_rng(seed)
    centres = _kmeanspp_init(x, k, rng)
    labels = np.full(n, -1, dtype=np.intp)
    for _ in range(MAX_ITER):
        sims = x @ centres.T
        new = _fill_empty(np.argmax(sims, axis=1).astype(np.intp), sims, k)
        if np.array_equal(new, labels):
            break
        labels = new
        onehot = np.zeros((k, n), dtype=np.float32)
        onehot[labels, np.arange(n)] = 1.0
        sums = onehot @ x
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centres = np.where(norms > 0, sums / np.where(norms > 0, norms, 1.0), centres).astype(
            np.float32
        )
    return labels
