"""Hierarchical pooling: exact Ward linkage on the unit token vectors.

For unit vectors ``||a - b||^2 = 2 (1 - cos(a, b))``, so Ward on the normalised vectors
is Ward on cosine geometry. (PyLate 1.6 and sentence-transformers call
``linkage(squareform(1 - cos), "ward")``, taking the cosine distance as a Euclidean one: a
different criterion.) Two implementations, the same partitions: the compiled kernel up to
:data:`COMPILED_MAX_ROWS` rows, and condensed distances into scipy's private ``nn_chain``
(checked once against the public ``linkage``, which is used if they differ).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from . import kernels

__all__ = [
    "COMPILED_MAX_ROWS",
    "WARD_MAX_ROWS",
    "condensed_distances",
    "cut_linkage",
    "hierarchical_labels",
    "threshold_clusters",
    "ward_linkage",
]

_WARD_CODE = 5  # scipy.cluster.hierarchy._LINKAGE_METHODS["ward"]
COMPILED_MAX_ROWS = 2048  # longer documents: the fallback (condensed, half the memory)
WARD_MAX_ROWS = 8192
"""Most tokens one exact Ward clustering takes (its condensed distances are ``O(n^2)``):
``pool_tokens`` first averages runs of neighbouring tokens of a longer document down to
this many, then clusters those."""


def cut_linkage(z: np.ndarray, n: int, k: int) -> np.ndarray:
    """Labels ``(n,)`` (arbitrary ids) of exactly ``k`` clusters: the state after the first
    ``n - k`` merges of the scipy linkage matrix ``z``. Unlike ``fcluster(...,
    criterion="maxclust")``, exactly ``k`` even when merge heights tie."""
    merges = n - k
    if merges <= 0:
        return np.arange(n, dtype=np.intp)
    parent = np.arange(n + merges, dtype=np.intp)
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


_TRIU_CACHE: dict[int, np.ndarray] = {}
_TRIU_LOCK = threading.Lock()
_TRIU_CACHE_BYTES = 32 << 20
_BLOCKED_ABOVE = 2048  # longer documents: Gram matrix by row blocks (bounded memory)
_BLOCK_ROWS = 256


def _triu_flat(n: int) -> np.ndarray:
    """Flat indices of the strict upper triangle of an ``n x n`` matrix, row by row (cached)."""
    idx = _TRIU_CACHE.get(n)
    if idx is None:
        i, j = np.triu_indices(n, 1)
        idx = (i * n + j).astype(np.intp)
        with _TRIU_LOCK:
            if sum(a.nbytes for a in _TRIU_CACHE.values()) + idx.nbytes > _TRIU_CACHE_BYTES:
                _TRIU_CACHE.clear()
            _TRIU_CACHE[n] = idx
    return idx


def condensed_distances(x: np.ndarray) -> np.ndarray:
    """Condensed Euclidean distances between the rows of ``x`` (``(n, d)``), float64, as
    :func:`scipy.spatial.distance.pdist` lays them out (up to float64 rounding), from one
    Gram matrix (by blocks of rows above ``_BLOCKED_ABOVE`` rows, to bound memory)."""
    n = x.shape[0]
    x64 = x.astype(np.float64)
    if n > _BLOCKED_ABOVE:
        return _condensed_blocked(x64)
    gram = x64 @ x64.T
    sq = gram.diagonal().copy()
    gram *= -2.0
    gram += sq[:, None]
    gram += sq
    out = gram.ravel().take(_triu_flat(n))
    np.maximum(out, 0.0, out=out)
    np.sqrt(out, out=out)
    return out


def _condensed_blocked(x64: np.ndarray) -> np.ndarray:
    n = x64.shape[0]
    sq = np.einsum("ij,ij->i", x64, x64)
    out = np.empty(n * (n - 1) // 2, dtype=np.float64)
    pos = 0
    for r0 in range(0, n - 1, _BLOCK_ROWS):
        r1 = min(r0 + _BLOCK_ROWS, n - 1)
        block = x64[r0:r1] @ x64[r0:].T  # rows r0..r1-1 against columns r0..n-1
        block *= -2.0
        block += sq[r0:r1, None]
        block += sq[r0:]
        for i in range(r0, r1):
            row = block[i - r0, i - r0 + 1 :]
            out[pos : pos + row.size] = row
            pos += row.size
    np.maximum(out, 0.0, out=out)
    np.sqrt(out, out=out)
    return out


def _public_ward(y: np.ndarray, n: int) -> np.ndarray:
    from scipy.cluster.hierarchy import linkage  # scipy on first use: imports stay light

    return linkage(y, method="ward")


_ward_impl: Callable[[np.ndarray, int], np.ndarray] | None = None


def _select_ward() -> Callable[[np.ndarray, int], np.ndarray]:
    """scipy's private nn_chain when it agrees with the public ``linkage``, else ``linkage``."""
    try:
        from scipy.cluster import _hierarchy

        nn_chain = _hierarchy.nn_chain

        def fast(y: np.ndarray, n: int) -> np.ndarray:
            return nn_chain(y, n, _WARD_CODE)

        rng = np.random.default_rng(12345)
        for n in (2, 3, 17, 40):
            y = condensed_distances(rng.standard_normal((n, 5)))
            if not np.array_equal(fast(y, n), _public_ward(y, n)):
                return _public_ward
        return fast
    except Exception:  # noqa: BLE001  # pragma: no cover - depends on scipy internals
        return _public_ward


def ward_linkage(x: np.ndarray) -> np.ndarray:
    """``scipy.cluster.hierarchy.linkage(x, "ward")`` (``(n - 1, 4)``) of the ``n >= 2`` rows
    of ``x``, up to float64 rounding of the distances."""
    global _ward_impl
    if _ward_impl is None:
        _ward_impl = _select_ward()
    return _ward_impl(condensed_distances(x), x.shape[0])


def threshold_clusters(z: np.ndarray, n: int, threshold: float) -> int:
    """Clusters left when every merge of the Ward linkage ``z`` (``n`` rows) of height
    ``<= threshold`` is made: ``fcluster(z, threshold, criterion="distance")``'s count, as
    Ward heights never decrease."""
    return n - int(np.count_nonzero(z[:, 2] <= threshold))


def hierarchical_labels(
    x: np.ndarray, k: int, *, threshold: float | None = None, compiled: bool = True
) -> np.ndarray:
    """Ward clustering of the unit rows of ``x`` (``(n, d)``): exactly ``k`` clusters (the
    first ``n - k`` merges), fewer where merges of height ``<= threshold`` (scipy's linkage
    scale) make fewer. Returns cluster ids ``(n,)``; ``compiled=False`` forces the fallback.
    """
    n = x.shape[0]
    if k <= 1:
        return np.zeros(n, dtype=np.intp)
    if k >= n and (threshold is None or n == 1):
        return np.arange(n, dtype=np.intp)
    k = min(k, n)
    if compiled and kernels.compiled_kernels() and n <= COMPILED_MAX_ROWS:
        return kernels.ward_labels(np.ascontiguousarray(x, dtype=np.float32), k, threshold)
    z = ward_linkage(x)
    if threshold is not None:
        k = min(k, threshold_clusters(z, n, threshold))
    return cut_linkage(z, n, k)
