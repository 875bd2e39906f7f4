"""Consecutive ranges of items under a size budget: the one greedy loop behind the write
path's request splitting (floats per REST body) and MaxSim's query groups and corpus
chunks (tokens per matrix product). numpy only, no imports from the package."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["budget_ranges"]


def budget_ranges(sizes: Sequence[int] | np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Greedy ``[start, stop)`` ranges of consecutive items whose sizes sum to at most
    ``budget``; an item larger than the budget forms a range of its own (every range has
    at least one item). ``[]`` for no items. One ``searchsorted`` per range over the
    running sums, so a million items cost little."""
    ends = np.cumsum(np.asarray(sizes, dtype=np.int64))
    n = int(ends.shape[0])
    ranges: list[tuple[int, int]] = []
    start, base = 0, 0
    while start < n:
        stop = max(start + 1, int(np.searchsorted(ends, base + budget, side="right")))
        ranges.append((start, stop))
        base, start = int(ends[stop - 1]), stop
    return ranges
