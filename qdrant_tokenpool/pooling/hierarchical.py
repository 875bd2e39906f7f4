"""Hierarchical pooling: exact Ward linkage on the unit token vectors.

For unit vectors ``||a - b||^2 = 2 (1 - cos(a, b))``, so Ward on the normalised vectors
is Ward on cosine geometry: a nearest-neighbour chain, ``O(n^2)`` after one ``O(n^2 d)``
Gram matrix. PyLate 1.6 and sentence-transformers instead call
``linkage(squareform(1 - cos), "ward")``, which takes the cosine distance as a Euclidean
one: a different criterion, whose later merges drift from Ward's.

Two implementations, the same partitions:

- compiled (``_kernels``): a float64 Gram matrix (``dsyrk``), scipy's ``nn_chain`` step by
  step in C and the cut at ``k`` clusters in one call, up to :data:`COMPILED_MAX_ROWS`
  rows (``pool_tokens`` pools a whole document in one call, ``_kernels.ward_pool``);
- fallback: condensed distances from the Gram matrix straight into scipy's private
  ``nn_chain`` (what ``linkage(..., "ward")`` ends in), checked once against the public
  ``linkage``; if missing or different (a future scipy), the public ``linkage`` is used.
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
"""Most tokens one exact Ward clustering takes (its condensed distances: 268 MB here, and
scipy copies them once). ``pool_tokens`` first averages runs of neighbouring tokens of a
longer document down to this many (``sequential`` pooling), then clusters those; only
documents of more than 8,192 pooled tokens are affected (e.g. one over Qdrant's cap)."""


def cut_linkage(z: np.ndarray, n: int, k: int) -> np.ndarray:
    """Labels of exactly ``k`` clusters: the state after the first ``n - k`` merges of ``z``.

    ``z`` is a scipy linkage matrix (``(n - 1, 4)``, merges in order of increasing height,
    merge ``j`` creating cluster ``n + j``). Unlike ``fcluster(..., criterion="maxclust")``
    this gives exactly ``k`` clusters even when merge heights tie (e.g. duplicate tokens).
    Returns labels ``(n,)``: the id of each token's cluster (arbitrary ids, not ``0..k-1``).
    """
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
    """Condensed Euclidean distances between the rows of ``x`` (``(n, d)``), float64.

    Same layout as :func:`scipy.spatial.distance.pdist` (pairs ``(i, j)``, ``i < j``, row by
    row; ``n (n - 1) / 2`` values) and equal to it up to float64 rounding: one float64 Gram
    matrix ``G`` (a BLAS product), then ``sqrt(max(0, G_ii + G_jj - 2 G_ij))`` on the upper
    triangle. For unit vectors the cancellation in ``2 - 2 G_ij`` costs ~1e-16 absolute,
    far below the float32 resolution of the input. Above 2,048 rows the Gram matrix is
    built by blocks of rows, so the memory beyond the output stays small.
    """
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
    """Ward linkage matrix (scipy layout, ``(n - 1, 4)``) of the rows of ``x`` (``(n, d)``).

    Equal to ``scipy.cluster.hierarchy.linkage(x, "ward")`` up to float64 rounding of the
    distances: the same merges, in order of increasing height. Needs ``n >= 2``.
    """
    global _ward_impl
    if _ward_impl is None:
        _ward_impl = _select_ward()
    return _ward_impl(condensed_distances(x), x.shape[0])


def threshold_clusters(z: np.ndarray, n: int, threshold: float) -> int:
    """Clusters left when every merge of ``z`` of height ``<= threshold`` is made.

    ``z``: a scipy Ward linkage matrix of ``n`` rows (heights in ``z[:, 2]``, the Ward
    distance ``sqrt(2 |a| |b| / (|a| + |b|)) * ||mean_a - mean_b||`` between the merged
    clusters ``a`` and ``b``). Ward heights never decrease along the merges, so this is the
    partition of ``fcluster(z, threshold, criterion="distance")``.
    """
    return n - int(np.count_nonzero(z[:, 2] <= threshold))


def hierarchical_labels(
    x: np.ndarray, k: int, *, threshold: float | None = None, compiled: bool = True
) -> np.ndarray:
    """Ward clustering of the unit rows of ``x`` (``(n, d)``) into at most ``k`` clusters.

    Without ``threshold``: exactly ``k`` clusters, the partition after the first ``n - k``
    merges of the Ward dendrogram (the same partition as ``linkage(x, "ward")`` cut at
    ``k`` clusters). With ``threshold`` (a merge height in scipy's linkage scale, see
    :func:`threshold_clusters`): every merge of height ``<= threshold`` is made too, so
    ``min(k, k_threshold)`` clusters. Returns labels ``(n,)`` (cluster ids; ``0..k-1`` by
    first row on the compiled path, arbitrary on the fallback). ``compiled=False`` forces
    the numpy/scipy fallback (for comparisons).
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
