"""``pool_tokens``: pool one document's token vectors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..config import METHODS
from ..validation import InvalidMultivectorError, as_multivector
from . import kernels
from ._blas import single_blas_thread
from .common import cluster_count, cluster_means, normalise, run_means
from .hierarchical import COMPILED_MAX_ROWS, hierarchical_labels
from .kmeans import kmeans_labels
from .sequential import sequential_labels

__all__ = ["LABELLERS", "check_pooling_args", "pool_tokens"]

LABELLERS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "hierarchical": hierarchical_labels,
    "kmeans": kmeans_labels,
    "sequential": sequential_labels,
}


def check_pooling_args(pool_factor: Any, method: Any, protected_tokens: Any) -> None:
    """Raise ``ValueError`` for a bad pool factor, method or protected-token count."""
    if isinstance(pool_factor, bool) or not isinstance(pool_factor, (int, np.integer)):
        raise ValueError(  # noqa: TRY004 - documented API: every bad argument is a ValueError
            f"pool_factor must be an integer >= 1, got {pool_factor!r}"
        )
    if pool_factor < 1:
        raise ValueError(f"pool_factor must be an integer >= 1, got {pool_factor!r}")
    if method not in METHODS:
        raise ValueError(f"unknown pooling method {method!r}; expected one of {', '.join(METHODS)}")
    if isinstance(protected_tokens, bool) or not isinstance(protected_tokens, (int, np.integer)):
        raise ValueError(  # noqa: TRY004 - documented API: every bad argument is a ValueError
            f"protected_tokens must be an integer >= 0, got {protected_tokens!r}"
        )
    if protected_tokens < 0:
        raise ValueError(f"protected_tokens must be an integer >= 0, got {protected_tokens!r}")


def pool_checked(x: np.ndarray, pool_factor: int, method: str, protected_tokens: int) -> np.ndarray:
    """``pool_tokens`` on an already validated float32 ``(n, d)`` array (no checks).

    Always returns a new array (never ``x`` itself).
    """
    n_free = x.shape[0] - protected_tokens
    if pool_factor == 1 or n_free <= 0:
        return x.copy()
    k = cluster_count(n_free, pool_factor)
    if method == "hierarchical" and kernels.compiled_kernels() and n_free <= COMPILED_MAX_ROWS:
        # the whole document in one compiled call: normalise, Ward, cut, means
        return kernels.ward_pool(np.ascontiguousarray(x), protected_tokens, k)
    free = normalise(x[protected_tokens:])
    if k >= n_free:
        pooled = free
    elif method == "sequential":
        pooled = run_means(free, k)
    else:
        pooled = cluster_means(free, LABELLERS[method](free, k))
    if protected_tokens == 0:
        return pooled
    return np.concatenate([x[:protected_tokens], pooled], axis=0)


def pool_tokens(
    vectors: Any,
    pool_factor: int,
    method: str = "hierarchical",
    protected_tokens: int = 1,
) -> np.ndarray:
    """Pool one document's token vectors (Clavié, Chaffin and Adams 2024).

    The first ``protected_tokens`` vectors pass through unchanged, in front. The other
    ``u = n - protected_tokens`` vectors are L2-normalised, clustered into
    ``max(1, u // pool_factor)`` clusters, and each cluster's mean is re-normalised to
    unit length (a cluster whose vectors cancel out exactly, e.g. two opposite tokens, is
    represented by its first token). Clusters are ordered by their first token. A document
    with fewer than
    ``2 * pool_factor`` unprotected tokens still follows the formula, so it keeps one
    pooled vector (e.g. 5 tokens at ``pool_factor=4``: ``5 // 4 = 1`` cluster); a document
    with no unprotected tokens is returned as is.

    Args:
        vectors: ``(n, d)`` token vectors: numpy array, torch tensor or nested list.
        pool_factor: ``>= 1``; ``1`` returns the input unchanged (as float32).
        method: ``"hierarchical"`` (Ward linkage on cosine geometry), ``"kmeans"``
            (seeded spherical k-means) or ``"sequential"`` (neighbouring tokens).
        protected_tokens: leading vectors (e.g. ``[CLS]``, ``[D]``) kept as they are.

    Returns:
        float32 array ``(m, d)`` with ``m = min(n, protected_tokens) +
        max(1, u // pool_factor)`` (or ``n`` when ``u <= 0``).

    Raises:
        ValueError: bad arguments; :class:`InvalidMultivectorError` (a ``ValueError``) for an
            empty, ragged, 1-D or 3-D input, NaN/inf values or zero vectors.

    Same input, same bytes: all methods are deterministic.
    """
    check_pooling_args(pool_factor, method, protected_tokens)
    x = as_multivector(vectors)
    with single_blas_thread():
        return pool_checked(x, int(pool_factor), method, int(protected_tokens))


__all__ += ["InvalidMultivectorError", "pool_checked"]
