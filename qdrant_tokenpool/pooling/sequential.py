"""Sequential pooling: runs of neighbouring tokens, in document order."""

from __future__ import annotations

import numpy as np

__all__ = ["sequential_labels"]


def sequential_labels(x: np.ndarray, k: int) -> np.ndarray:
    """Labels ``(n,)``, ``0..k-1`` in order, splitting the ``n`` rows of ``x`` into ``k``
    contiguous runs of ``n // k`` or ``n // k + 1`` rows."""
    n = x.shape[0]
    return (np.arange(n, dtype=np.int64) * k // n).astype(np.intp)
