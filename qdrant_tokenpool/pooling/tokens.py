"""``pool_tokens``: pool one document's token vectors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import kernels
from ._blas import single_blas_thread
from .common import cluster_means, normalise, run_means
from .hierarchical import COMPILED_MAX_ROWS, WARD_MAX_ROWS, hierarchical_labels
from .kmeans import kmeans_labels
from .sequential import sequential_labels
from .spec import PoolingSpec
from .validation import InvalidMultivectorError, as_multivector

__all__ = ["LABELLERS", "check_pooling_args", "make_spec", "pool_tokens"]

LABELLERS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "hierarchical": hierarchical_labels,
    "kmeans": kmeans_labels,
    "sequential": sequential_labels,
}


def make_spec(
    pool_factor: Any,
    method: Any,
    protected_tokens: Any,
    *,
    protected_tail_tokens: Any = 0,
    max_vectors: Any = None,
    distance_threshold: Any = None,
    grid_shape: Any = None,
    grid_pool: Any = None,
    grid_block: Any = None,
) -> PoolingSpec:
    """The :class:`PoolingSpec` of ``pool_tokens``'s arguments (``ValueError`` if bad)."""
    return PoolingSpec(
        pool_factor=pool_factor,
        method=method,
        protected_tokens=protected_tokens,
        protected_tail_tokens=protected_tail_tokens,
        max_vectors=max_vectors,
        distance_threshold=distance_threshold,
        grid_shape=grid_shape,
        grid_pool=grid_pool,
        grid_block=grid_block,
    )


def check_pooling_args(pool_factor: Any, method: Any, protected_tokens: Any) -> None:
    """Raise ``ValueError`` for a bad pool factor, method or protected-token count."""
    make_spec(pool_factor, method, protected_tokens)


def check_layout(x: np.ndarray, spec: PoolingSpec, point_id: Any = None) -> None:
    """Raise :class:`InvalidMultivectorError` (naming ``point_id``) when the document does
    not fit the spec's fixed layout (a ``grid`` document with the wrong token count)."""
    problem = spec.layout_error(x.shape[0])
    if problem is not None:
        raise InvalidMultivectorError(f"multivector {problem}", point_id=point_id)


def grid_labels(rows: int, cols: int, grid_pool: str, block: int = 1) -> np.ndarray:
    """Cell of each patch of a ``rows x cols`` grid (patches in row-major order).

    ``"rows"``: the patch's row; ``"columns"``: its column; ``"blocks"``: its
    ``block x block`` block, blocks numbered in row-major order. Returns ``(rows * cols,)``
    labels whose first occurrences come in increasing order (so cluster means come out
    in cell order).
    """
    r = np.repeat(np.arange(rows, dtype=np.intp), cols)
    c = np.tile(np.arange(cols, dtype=np.intp), rows)
    if grid_pool == "rows":
        return r
    if grid_pool == "columns":
        return c
    return (r // block) * -(-cols // block) + c // block


def _grid_pooled(free: np.ndarray, spec: PoolingSpec, k: int) -> np.ndarray:
    """Grid cells of the unit rows ``free``, neighbouring cells merged in runs if more than ``k``."""
    assert spec.grid_shape is not None and spec.grid_pool is not None
    rows, cols = spec.grid_shape
    labels = grid_labels(rows, cols, spec.grid_pool, spec.grid_block or 1)
    cells = int(labels.max()) + 1
    if cells > k:
        labels = labels * k // cells  # cells in row-major order, in k runs of near-equal length
    return cluster_means(free, labels)


def pool_checked(x: np.ndarray, spec: PoolingSpec) -> np.ndarray:
    """``pool_tokens`` on an already validated float32 ``(n, d)`` array (no checks).

    Always returns a new array (never ``x`` itself).
    """
    n, d = x.shape
    lay = spec.layout(n, d)
    k = lay.bound
    if lay.free <= 0 or (k == lay.free and spec.keeps_unbounded):
        return x.copy()
    lead, tail, n_free = lay.lead, lay.tail, lay.free
    body = x[: n - tail] if tail else x
    threshold = spec.distance_threshold
    method = spec.method
    grid = method == "grid" and lead == spec.protected_tokens and tail == spec.protected_tail_tokens
    if method == "grid" and not grid:
        method = "sequential"  # protection lost under Qdrant's cap (see PoolingSpec.layout)
    if method == "hierarchical" and kernels.compiled_kernels() and n_free <= COMPILED_MAX_ROWS:
        # the whole document in one compiled call: normalise, Ward, cut, means
        head_pooled = kernels.ward_pool(np.ascontiguousarray(body), lead, k, threshold)
        return np.concatenate([head_pooled, x[n - tail :]]) if tail else head_pooled
    free = normalise(body[lead:])
    if method == "hierarchical" and n_free > WARD_MAX_ROWS:
        if k >= WARD_MAX_ROWS and threshold is None:
            method = "sequential"  # too many clusters for Ward: runs of neighbours
        else:  # runs of neighbours first, then Ward on their means (see WARD_MAX_ROWS)
            free = run_means(free, WARD_MAX_ROWS)
            n_free = WARD_MAX_ROWS
            k = min(k, n_free)
    if grid:
        pooled = _grid_pooled(free, spec, k)
    elif k >= n_free and threshold is None:
        pooled = free
    elif method == "sequential":
        pooled = run_means(free, k)
    elif method == "hierarchical":
        pooled = cluster_means(free, hierarchical_labels(free, k, threshold=threshold))
    else:
        pooled = cluster_means(free, LABELLERS[method](free, k))
    parts = [p for p in (x[:lead], pooled, x[n - tail :]) if p.shape[0]]
    return parts[0] if len(parts) == 1 and parts[0] is pooled else np.concatenate(parts, axis=0)


def pool_checked_many(arrays: list[np.ndarray], spec: PoolingSpec) -> list[np.ndarray]:
    """:func:`pool_checked` on each array, the same bytes; the documents that the compiled
    kernel pools whole (hierarchical, up to ``COMPILED_MAX_ROWS`` free rows) go through
    one :func:`~qdrant_tokenpool.pooling.kernels.ward_pool_many` call, which holds the GIL
    only to start and to finish (a pooling thread then runs next to Python threads)."""
    if (
        spec.method != "hierarchical"
        or not kernels.compiled_kernels()
        or not kernels.has("ward_pool_many")
        or len(arrays) < 2
    ):
        return [pool_checked(x, spec) for x in arrays]
    out: list[np.ndarray | None] = [None] * len(arrays)
    batch: list[int] = []
    bodies: list[np.ndarray] = []
    leads: list[int] = []
    ks: list[int] = []
    tails: list[int] = []
    layouts: dict[tuple[int, int], Any] = {}  # documents of one length share a layout
    for i, x in enumerate(arrays):
        n, d = x.shape
        lay = layouts.get((n, d))
        if lay is None:
            lay = layouts[n, d] = spec.layout(n, d)
        k = lay.bound
        if lay.free <= 0 or (k == lay.free and spec.keeps_unbounded) or lay.free > COMPILED_MAX_ROWS:
            out[i] = pool_checked(x, spec)
            continue
        batch.append(i)
        bodies.append(np.ascontiguousarray(x[: n - lay.tail] if lay.tail else x))
        leads.append(lay.lead)
        ks.append(k)
        tails.append(lay.tail)
    if batch:
        pooled = kernels.ward_pool_many(bodies, leads, ks, spec.distance_threshold)
        for i, p, tail in zip(batch, pooled, tails):
            x = arrays[i]
            out[i] = np.concatenate([p, x[x.shape[0] - tail :]]) if tail else p
    return out  # type: ignore[return-value]


def pool_tokens(
    vectors: Any,
    pool_factor: float = 2,
    method: str = "hierarchical",
    protected_tokens: int = 1,
    *,
    protected_tail_tokens: int = 0,
    max_vectors: int | None = None,
    distance_threshold: float | None = None,
    grid_shape: tuple[int, int] | None = None,
    grid_pool: str | None = None,
    grid_block: int | None = None,
) -> np.ndarray:
    """Pool one document's token vectors (Clavié, Chaffin and Adams 2024, and budgets).

    The first ``protected_tokens`` vectors pass through unchanged, in front, and the last
    ``protected_tail_tokens`` unchanged, in order, at the end. The other ``u`` vectors are
    L2-normalised, clustered, and each cluster's mean is re-normalised to unit length (a
    cluster whose vectors cancel out exactly, e.g. two opposite tokens, is represented by
    its first token). Clusters are ordered by their first token. How many clusters: the
    smallest of these bounds (see :mod:`qdrant_tokenpool.pooling.spec`):

    - ``max(1, floor(u / pool_factor))`` (``pool_factor`` may be fractional; 1: no bound);
    - ``max_vectors`` minus the protected vectors;
    - Qdrant's cap, always: the result holds fewer than 1,048,576 floats
      (:func:`~qdrant_tokenpool.pooling.spec.max_rows`);
    - with ``distance_threshold`` (hierarchical only), the clusters of the Ward dendrogram
      cut at that height (scipy's linkage scale), when that leaves fewer.

    ``method="grid"`` pools an image's patch grid instead: the document must be
    ``protected_tokens + rows * cols + protected_tail_tokens`` vectors (``grid_shape =
    (rows, cols)``, patches in row-major order), and keeps one mean per grid row, column,
    or ``grid_block x grid_block`` block (``grid_pool``).

    A document with fewer than ``2 * pool_factor`` unprotected tokens still follows the
    formula, so it keeps one pooled vector (e.g. 5 tokens at ``pool_factor=4``); a
    document with no unprotected tokens is returned as is, and so is one that no bound
    reduces when ``pool_factor`` is 1 (unchanged, not normalised).

    Args:
        vectors: ``(n, d)`` token vectors: numpy array, torch tensor or nested list.
        pool_factor: number ``>= 1``.
        method: ``"hierarchical"`` (Ward linkage on cosine geometry), ``"kmeans"``
            (seeded spherical k-means), ``"sequential"`` (neighbouring tokens) or
            ``"grid"`` (image patch grid).
        protected_tokens: leading vectors (e.g. ``[CLS]``, ``[D]``) kept as they are.
        protected_tail_tokens: trailing vectors (e.g. ColPali's prompt after the
            patches) kept as they are, at the end.
        max_vectors: at most this many vectors in the result, protected ones included.
        distance_threshold: Ward merge height (``>= 0``, finite) up to which tokens merge.
        grid_shape: ``(rows, cols)`` of the patch grid, for ``method="grid"``.
        grid_pool: ``"rows"`` (default with a grid), ``"columns"`` or ``"blocks"``.
        grid_block: side of the ``k x k`` blocks of ``grid_pool="blocks"`` (default 2).

    Returns:
        float32 array ``(m, d)``: protected vectors in front and at the end, pooled
        vectors between them.

    Raises:
        ValueError: bad arguments; :class:`InvalidMultivectorError` (a ``ValueError``) for an
            empty, ragged, 1-D or 3-D input, NaN/inf values, zero vectors, or a document
            that does not match ``grid_shape``.

    Same input, same bytes: all methods are deterministic.
    """
    spec = make_spec(
        pool_factor,
        method,
        protected_tokens,
        protected_tail_tokens=protected_tail_tokens,
        max_vectors=max_vectors,
        distance_threshold=distance_threshold,
        grid_shape=grid_shape,
        grid_pool=grid_pool,
        grid_block=grid_block,
    )
    x = as_multivector(vectors)
    check_layout(x, spec)
    with single_blas_thread():
        return pool_checked(x, spec)


__all__ += ["InvalidMultivectorError", "check_layout", "grid_labels", "pool_checked"]
