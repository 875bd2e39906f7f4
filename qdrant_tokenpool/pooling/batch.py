"""``pool_batch``: pool many documents on all cores, results in input order."""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..validation import as_multivector
from .tokens import check_pooling_args, pool_checked

__all__ = ["pool_batch"]


def pool_batch(
    documents: Iterable[Any],
    pool_factor: int,
    method: str = "hierarchical",
    protected_tokens: int = 1,
    workers: int | None = None,
) -> list[np.ndarray]:
    """Pool many documents; identical to ``[pool_tokens(d, ...) for d in documents]``.

    Args:
        documents: iterable of ``(n_i, d)`` token matrices (numpy, torch or nested lists;
            lengths may differ).
        workers: threads to use (``None``: all cores; ``1``: no threads). The clustering
            runs in numpy/scipy code that releases the GIL.

    Returns:
        list of float32 ``(m_i, d)`` arrays, in input order.

    Raises:
        InvalidMultivectorError: for the first bad document, naming its position. All
            documents are checked before any is pooled.
    """
    check_pooling_args(pool_factor, method, protected_tokens)
    arrays = []
    for i, doc in enumerate(documents):
        arrays.append(as_multivector(doc, point_id=i))
    pf, prot = int(pool_factor), int(protected_tokens)
    if pf == 1:
        return arrays
    n_workers = os.cpu_count() or 1 if workers is None else max(1, int(workers))
    if n_workers == 1 or len(arrays) < 2 * n_workers:
        return [pool_checked(x, pf, method, prot) for x in arrays]
    with ThreadPoolExecutor(n_workers) as ex:
        return list(ex.map(lambda x: pool_checked(x, pf, method, prot), arrays))
