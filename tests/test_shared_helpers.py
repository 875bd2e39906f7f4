"""The package's one home for small shared helpers: budget ranges, the vector label, the
integer check, tensor detection."""

from __future__ import annotations

import numpy as np
import pytest

from qdrant_tokenpool._budget import budget_ranges
from qdrant_tokenpool.pooling.validation import check_int, is_tensor, vector_label


def reference_ranges(sizes, budget):
    """The greedy loop the write path and MaxSim each had before."""
    ranges, start, total = [], 0, 0
    for k, s in enumerate(sizes):
        if k > start and total + s > budget:
            ranges.append((start, k))
            start, total = k, 0
        total += s
    if start < len(sizes):
        ranges.append((start, len(sizes)))
    return ranges


def test_budget_ranges_equal_the_greedy_loop():
    rng = np.random.default_rng(0)
    for _ in range(200):
        sizes = rng.integers(0, 30, size=int(rng.integers(0, 40))).tolist()
        budget = int(rng.integers(1, 60))
        assert budget_ranges(sizes, budget) == reference_ranges(sizes, budget), (sizes, budget)
    assert budget_ranges([], 5) == []
    assert budget_ranges([9, 1, 1], 5) == [(0, 1), (1, 3)]  # an oversized item alone


def test_one_vector_label_int_check_and_tensor_test():
    assert vector_label("colbert") == "vector 'colbert'"
    assert vector_label("") == "default vector ''"
    assert check_int("k", np.int64(3)) == 3
    for bad in (0, True, 1.0, "2"):
        with pytest.raises(ValueError, match="k must be an integer >= 1"):
            check_int("k", bad)
    assert not is_tensor(np.zeros(2)) and not is_tensor([1.0])
    torch = pytest.importorskip("torch")
    assert is_tensor(torch.zeros(2))
