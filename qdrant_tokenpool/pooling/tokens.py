"""``pool_tokens``: pool one document's token vectors."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from . import kernels
from ._blas import single_blas_thread
from .common import cluster_means, normalise, run_means
from .hierarchical import COMPILED_MAX_ROWS, WARD_MAX_ROWS, hierarchical_labels
from .kmeans import kmeans_labels
from .spec import DocumentLayout, PoolingSpec, as_spec
from .validation import InvalidMultivectorError, as_multivector

__all__ = ["InvalidMultivectorError", "check_layout", "grid_labels", "pool_checked", "pool_tokens"]


def check_layout(x: np.ndarray, spec: PoolingSpec, point_id: Any = None) -> None:
    """Raise :class:`InvalidMultivectorError` naming ``point_id`` when ``x`` does not fit
    the spec's fixed layout (a ``grid`` document with the wrong token count)."""
    problem = spec.layout_error(x.shape[0])
    if problem is not None:
        raise InvalidMultivectorError(f"multivector {problem}", point_id=point_id)


def grid_labels(rows: int, cols: int, grid_pool: str, block: int = 1) -> np.ndarray:
    """Cell of each patch of a ``rows x cols`` grid (patches in row-major order): its row,
    its column, or its ``block x block`` block (row-major). Returns ``(rows * cols,)``
    labels whose first occurrences increase, so cluster means come out in cell order."""
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
    """``pool_tokens`` on a validated float32 ``(n, d)`` array; always a new array."""
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
        pooled = cluster_means(free, kmeans_labels(free, k))
    parts = [p for p in (x[:lead], pooled, x[n - tail :]) if p.shape[0]]
    return parts[0] if len(parts) == 1 and parts[0] is pooled else np.concatenate(parts, axis=0)


def pool_checked_many(arrays: list[np.ndarray], spec: PoolingSpec) -> list[np.ndarray]:
    """:func:`pool_checked` on each array, the same bytes; the documents the compiled kernel
    pools whole go through one ``ward_pool_many`` call, which releases the GIL."""
    if (
        spec.method != "hierarchical"
        or not kernels.compiled_kernels()
        or not kernels.has("ward_pool_many")
        or len(arrays) < 2
    ):
        return [pool_checked(x, spec) for x in arrays]
    out: list[np.ndarray | None] = [None] * len(arrays)
    batch: list[tuple[int, DocumentLayout]] = []
    layout = functools.lru_cache(maxsize=None)(spec.layout)  # documents of one shape share one
    for i, x in enumerate(arrays):
        lay = layout(*x.shape)
        as_is = lay.free <= 0 or (lay.bound == lay.free and spec.keeps_unbounded)
        if as_is or lay.free > COMPILED_MAX_ROWS:
            out[i] = pool_checked(x, spec)
        else:
            batch.append((i, lay))
    if batch:
        pooled = kernels.ward_pool_many(
            [np.ascontiguousarray(arrays[i][: len(arrays[i]) - lay.tail]) for i, lay in batch],
            [lay.lead for _, lay in batch],
            [lay.bound for _, lay in batch],
            spec.distance_threshold,
        )
        for (i, lay), p in zip(batch, pooled):
            out[i] = np.concatenate([p, arrays[i][len(arrays[i]) - lay.tail :]]) if lay.tail else p
    return out  # type: ignore[return-value]


def pool_tokens(
    vectors: Any, spec: PoolingSpec | float | None = None, *args: Any, **settings: Any
) -> np.ndarray:
    """Pool one document's token vectors (Clavié, Chaffin and Adams 2024, with budgets).

    The protected leading and trailing vectors pass through unchanged; the others are
    L2-normalised, clustered, and each cluster's mean re-normalised, clusters in order of
    their first token (how many: :class:`~.spec.PoolingSpec`). A document that no bound
    reduces at ``pool_factor`` 1 is returned unchanged.

    Args:
        vectors: ``(n, d)`` token vectors: numpy array, torch tensor or nested list.
        spec: a :class:`~.spec.PoolingSpec`, or its settings (``pool_factor``, ``method``,
            ``protected_tokens`` positionally, the others by name).

    Returns:
        a new float32 ``(m, d)`` array; same input, same bytes.

    Raises:
        ValueError: bad settings; :class:`InvalidMultivectorError` for an empty, ragged,
            1-D or 3-D input, NaN/inf, zero vectors, or one that does not fit ``grid_shape``.
    """
    spec = as_spec(spec, *args, **settings)
    x = as_multivector(vectors)
    check_layout(x, spec)
    with single_blas_thread():
        return pool_checked(x, spec)

