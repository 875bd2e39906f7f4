"""Hierarchical pooling: Ward linkage on the unit token vectors.

For unit vectors ``||a - b||^2 = 2 (1 - cos(a, b))``, so Ward's criterion on the
normalised vectors themselves is Ward on cosine geometry. This is exact and cheap
(scipy's nearest-neighbour-chain Ward, ``O(n^2 d)``); ColBERT, RAGatouille and PyLate
instead feed the ``n x n`` matrix of cosine distances to ``linkage`` as if its rows were
``n``-dimensional observations, which costs ``O(n^3)`` and clusters a different geometry.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import linkage

__all__ = ["hierarchical_labels", "cut_linkage"]


def cut_linkage(z: np.ndarray, n: int, k: int) -> np.ndarray:
    """Labels of exactly ``k`` clusters: the state after the first ``n - k`` merges of ``z``.

    ``z`` is a scipy linkage matrix (merges in order of increasing height). Unlike
    ``fcluster(..., criterion="maxclust")`` this gives exactly ``k`` clusters even when
    merge heights tie (e.g. duplicate tokens). Returns labels ``(n,)`` (arbitrary ids).
    """
    parent = np.arange(2 * n - 1, dtype=np.intp)
    merges = n - k
    if merges > 0:
        children = z[:merges, :2].astype(np.intp)
        new = np.arange(n, n + merges, dtype=np.intp)
        parent[children[:, 0]] = new
        parent[children[:, 1]] = new
    # pointer jumping: each pass doubles how far every node looks up the tree
    while True:
        jumped = parent[parent]
        if np.array_equal(jumped, parent):
            return parent[:n]
        parent = jumped


def hierarchical_labels(x: np.ndarray, k: int) -> np.ndarray:
    """Ward clustering of the unit rows of ``x`` (``(n, d)``) into exactly ``k`` clusters."""
    n = x.shape[0]
    if k >= n:
        return np.arange(n, dtype=np.intp)
    if k == 1:
        return np.zeros(n, dtype=np.intp)
    z = linkage(x.astype(np.float64, copy=False), method="ward", metric="euclidean")
    return cut_linkage(z, n, k)
