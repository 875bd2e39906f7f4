"""Shared numerics of the pooling methods: row normalisation and cluster means."""

from __future__ import annotations

from typing import Literal

import numpy as np

from . import kernels

__all__ = ["cluster_means", "normalise", "run_means"]

_TINY = np.float32(np.finfo(np.float32).tiny)


def normalise(
    x: np.ndarray,
    fallback: np.ndarray | None = None,
    *,
    zero: Literal["raise", "keep"] = "raise",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Rows of ``x`` (``(n, d)``) scaled to unit L2 norm, as a new float32 array (or into ``out``).

    A row whose squared norm under- or overflows float32 gets its norm in float64, so every
    finite non-zero row comes out a unit vector; the result never holds NaN or inf.

    ``fallback``: ``(n, d)`` rows replacing ``x``'s all-zero rows; without it ``zero``
    says whether an all-zero row raises (naming it) or is kept zero (Qdrant's Cosine);
    ``out``: a float32 C array of ``x``'s shape to write into. ``ValueError`` for NaN/inf.
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


def cluster_means(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Unit-normalised mean of the rows of ``x`` (``(n, d)``) in each cluster of ``labels``.

    ``labels`` (``(n,)``) holds any integer cluster ids. Returns ``(k, d)`` float32, one
    row per distinct label, ordered by each cluster's first token. Sums are taken in row
    order (a zero-padded ``(k, s, d)`` gather, or the compiled kernel), so the result is
    deterministic to the bit; a dense ``(k, n) @ (n, d)`` product where padding would cost
    more. A cluster whose vectors cancel out (a zero sum) is represented by its first token.
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
    """Unit-normalised means ``(k, d)`` float32 of ``k`` contiguous runs of the rows of
    ``x`` (run ``j``: rows ``i`` with ``i * k // n == j``)."""
    n = x.shape[0]
    starts = -((-np.arange(k, dtype=np.int64) * n) // k)  # ceil(j * n / k)
    return normalise(np.add.reduceat(x, starts, axis=0), fallback=x[starts])
