"""Shared numerics of the pooling methods: normalisation, cluster counts, cluster means."""

from __future__ import annotations

from typing import Literal

import numpy as np

from . import kernels
from .spec import cluster_count

__all__ = [
    "cluster_count",
    "cluster_means",
    "normalise",
    "relabel_by_first_token",
    "run_means",
]


_TINY = np.float32(np.finfo(np.float32).tiny)


def normalise(
    x: np.ndarray,
    fallback: np.ndarray | None = None,
    *,
    zero: Literal["raise", "keep"] = "raise",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Rows of ``x`` (``(n, d)``) scaled to unit L2 norm, as a new float32 array (or into ``out``).

    The package's one row normalisation. Robust for every finite float32 row: a row whose
    squared norm under- or overflows float32 gets its norm in float64, so it comes out a unit
    vector too; the result never holds NaN or inf.

    Args:
        x: ``(n, d)`` rows (any real dtype).
        fallback: ``(n, d)`` non-zero rows replacing ``x``'s all-zero rows.
        zero: an all-zero row with no ``fallback``: ``"raise"`` (naming the row) or ``"keep"``
            it zero (Qdrant's Cosine behaviour).
        out: a float32 C array of ``x``'s shape to write into (``x`` itself: in place).

    Raises:
        ValueError: a row holds NaN/inf, or an all-zero row with ``zero="raise"``.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"normalise expects an (n, d) array, got shape {x.shape}")
    sq = np.einsum("ij,ij->i", x, x)
    ok = (sq >= _TINY) & (sq < np.inf)  # False for NaN, zero, subnormal and overflowed sums
    if ok.all():
        np.sqrt(sq, out=sq)
        return np.divide(x, sq[:, None], dtype=np.float32, out=out)
    bad = np.flatnonzero(~ok)
    rows = x[bad].astype(np.float64)
    sq64 = np.einsum("ij,ij->i", rows, rows)  # finite and > 0 for every finite non-zero row
    zero_rows = sq64 == 0
    if fallback is not None and zero_rows.any():
        rows[zero_rows] = fallback[bad[zero_rows]]
        sq64 = np.einsum("ij,ij->i", rows, rows)
        zero_rows = sq64 == 0
    finite = np.isfinite(sq64)
    if not finite.all():
        raise ValueError(f"row {int(bad[np.argmin(finite)])} holds a non-finite value")
    if zero_rows.any():
        if zero == "raise":
            raise ValueError(
                f"row {int(bad[np.argmax(zero_rows)])} is a zero vector (it has no direction)"
            )
        sq64[zero_rows] = 1.0
    sq[bad] = 1.0
    np.sqrt(sq, out=sq)
    out = np.divide(x, sq[:, None], dtype=np.float32, out=out)
    out[bad] = rows / np.sqrt(sq64)[:, None]
    return out


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


def cluster_means(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Unit-normalised mean of the rows of ``x`` (``(n, d)``) in each cluster of ``labels``.

    ``labels`` (``(n,)``) holds any integer cluster ids. Returns ``(k, d)`` float32 with
    one row per distinct label, ordered by each cluster's first token (lowest row index).
    The mean's scale does not matter before re-normalisation, so the sums are normalised
    directly. The sums are taken over a ``(k, s, d)`` gather padded with zero rows (``s``:
    the largest cluster), in row order, so the result is deterministic to the bit; one
    dense ``(k, n) @ (n, d)`` product instead when padding would cost more (the compiled
    kernel, when built, sums row by row in row order, as the gather does). A cluster whose
    vectors cancel out exactly (a zero sum, e.g. two opposite tokens) has no mean
    direction: it is represented by its first token.
    """
    if kernels.compiled_kernels():
        sums, firsts = kernels.cluster_sums(x, labels)
        return normalise(sums, fallback=x[firsts])
    n, d = x.shape
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_labels[1:] != sorted_labels[:-1])))
    k = starts.size
    sizes = np.diff(np.append(starts, n))
    group = np.repeat(np.arange(k), sizes)
    largest = int(sizes.max())
    if k * largest <= 4 * n:
        slots = np.full((k, largest), n, dtype=np.intp)
        slots[group, np.arange(n) - starts[group]] = order
        padded = np.concatenate([x, np.zeros((1, d), dtype=x.dtype)])
        sums = padded[slots].sum(axis=1)
    else:
        onehot = np.zeros((k, n), dtype=np.float32)
        onehot[group, order] = 1.0
        sums = onehot @ x
    # within a cluster rows stay in index order, so order[starts] is each first token
    firsts = order[starts]
    by_first = np.argsort(firsts, kind="stable")
    return normalise(sums[by_first], fallback=x[firsts[by_first]])


def run_means(x: np.ndarray, k: int) -> np.ndarray:
    """Unit-normalised means of ``k`` contiguous runs of near-equal length of the rows of ``x``.

    Run ``j`` holds rows ``i`` with ``i * k // n == j`` (lengths ``n // k`` or
    ``n // k + 1``). Returns ``(k, d)`` float32, in row order.
    """
    n = x.shape[0]
    starts = -((-np.arange(k, dtype=np.int64) * n) // k)  # ceil(j * n / k)
    return normalise(np.add.reduceat(x, starts, axis=0), fallback=x[starts])
