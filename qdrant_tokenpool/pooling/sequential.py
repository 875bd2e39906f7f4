"""Sequential pooling: runs of neighbouring tokens, in document order."""

from __future__ import annotations

import numpy as np

__all__ = ["sequential_labels"]


def sequential_labels(x: np.ndarray, k: int) -> np.ndarray:
    """Split the ``n`` rows of ``x`` into ``k`` contiguous runs of near-equal size.

    Runs differ in length by at most one token (``n // k`` or ``n // k + 1``), so with
    ``k = n // pool_factor`` each run holds about ``pool_factor`` neighbouring tokens.
    Returns labels ``(n,)`` with values ``0..k-1`` in order.
    """
    n = x.shape[0]
    return (np.arange(n, dtype=np.int64) * k // n).astype(np.intp)
