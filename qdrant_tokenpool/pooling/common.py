"""Shared numerics of the pooling methods: normalisation, cluster counts, cluster means."""

from __future__ import annotations

import numpy as np

__all__ = ["normalise", "cluster_count", "relabel_by_first_token", "cluster_means"]


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float32). Rows must be non-zero."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float32))
    return (x / norms[:, None]).astype(np.float32, copy=False)


def cluster_count(n_tokens: int, pool_factor: int) -> int:
    """``max(1, n_tokens // pool_factor)``: clusters for ``n_tokens`` unprotected tokens."""
    return max(1, n_tokens // pool_factor)


def relabel_by_first_token(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Renumber cluster labels ``0..k-1`` in order of each cluster's first token.

    Makes the output order deterministic and independent of the clustering's own ids.
    Returns ``(labels, k)``.
    """
    uniq, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse].astype(np.intp, copy=False), int(uniq.size)


def cluster_means(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Unit-normalised mean of the rows of ``x`` (``(n, d)``) in each of ``k`` clusters.

    ``labels`` (``(n,)``, values ``0..k-1``, every cluster non-empty). Returns ``(k, d)``
    float32. The sum is done as one ``(k, n) @ (n, d)`` product; the mean's scale does not
    matter before re-normalisation, so the sum is normalised directly.
    """
    onehot = np.zeros((k, x.shape[0]), dtype=np.float32)
    onehot[labels, np.arange(x.shape[0])] = 1.0
    sums = onehot @ x
    return normalise(sums)
