"""Splitting a rewritten request for a remote backend's REST body limit: each part
carries at most a float budget (:data:`REQUEST_FLOAT_BUDGET`), operations keep their
order, an operation larger than the budget becomes several of the same kind. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from qdrant_client import models

from .._budget import budget_ranges
from ._common import carried, replace, with_carried

__all__ = [
    "JSON_BYTES_PER_FLOAT",
    "MAX_REQUEST_BYTES",
    "REQUEST_FLOAT_BUDGET",
    "count_floats",
    "split_batch",
    "split_operations",
    "split_points",
]

MAX_REQUEST_BYTES = 32 * 1024 * 1024
"""Qdrant's default REST body limit (``service.max_request_size_mb`` = 32)."""

JSON_BYTES_PER_FLOAT = 22
"""Upper estimate of one float32 value's size in a JSON body (``-0.012345678918063641,``)."""

REQUEST_FLOAT_BUDGET = (MAX_REQUEST_BYTES - 4 * 1024 * 1024) // JSON_BYTES_PER_FLOAT
"""Floats per request when splitting for a remote backend (4 MiB left for ids, payloads)."""


def count_floats(vector: Any) -> int:
    """Number of floats a ``VectorStruct`` (or one vector of it) carries in a request."""
    if vector is None:
        return 0
    if isinstance(vector, dict):
        return sum(count_floats(v) for v in vector.values())
    if isinstance(vector, np.ndarray):
        return int(vector.size)
    if isinstance(vector, models.SparseVector):
        return 2 * len(vector.indices)
    if isinstance(vector, (list, tuple)):
        if not vector:
            return 0
        first = vector[0]
        if isinstance(first, (list, tuple, np.ndarray)):
            return len(vector) * len(first)
        return len(vector)
    return 0


def _chunks_by_budget(sizes: Sequence[int], budget: int) -> list[tuple[int, int]]:
    """Greedy ``[start, stop)`` ranges within ``budget`` (:func:`budget_ranges`); one empty
    range for no items, so an empty request is still sent once."""
    return budget_ranges(sizes, budget) or [(0, 0)]


def split_points(points: Sequence[Any], budget: int = REQUEST_FLOAT_BUDGET) -> list[list[Any]]:
    """Split a list of points into lists carrying at most ``budget`` floats each."""
    sizes = [count_floats(p.vector) for p in points]
    return [list(points[a:b]) for a, b in _chunks_by_budget(sizes, budget)]


def split_batch(batch: models.Batch, budget: int = REQUEST_FLOAT_BUDGET) -> list[models.Batch]:
    """Split a ``Batch`` into batches carrying at most ``budget`` floats each."""
    v = batch.vectors
    n = len(batch.ids)
    if isinstance(v, dict):
        sizes = [sum(count_floats(col[k]) for col in v.values()) for k in range(n)]
    else:
        sizes = [count_floats(v[k]) for k in range(n)]
    ranges = _chunks_by_budget(sizes, budget)
    if len(ranges) == 1:
        return [batch]
    out = []
    for a, b in ranges:
        vec = {name: col[a:b] for name, col in v.items()} if isinstance(v, dict) else v[a:b]
        pay = None if batch.payloads is None else batch.payloads[a:b]
        out.append(replace(batch, ids=batch.ids[a:b], vectors=vec, payloads=pay))
    return out


def _floats(value: Any) -> int:
    """Floats carried by a list of points or a ``Batch``."""
    if isinstance(value, models.Batch):
        v = value.vectors
        cols = v.values() if isinstance(v, dict) else [v]
        return sum(count_floats(x) for col in cols for x in col)
    return sum(count_floats(p.vector) for p in value)


def _split_operation(op: Any, budget: int) -> list[tuple[Any, int]]:
    """An operation as one or more operations of at most ``budget`` floats, with sizes."""
    where = carried(op)
    if where is None:
        return [(op, 0)]
    value = getattr(where[1], where[2])
    batch = isinstance(value, models.Batch)
    parts: list[Any] = split_batch(value, budget) if batch else split_points(value, budget)
    if len(parts) == 1:
        return [(op, _floats(value))]
    return [(with_carried(op, where, p), _floats(p)) for p in parts]


def split_operations(
    operations: Sequence[Any], budget: int = REQUEST_FLOAT_BUDGET
) -> list[list[Any]]:
    """Split ``batch_update_points`` operations into requests of at most ``budget`` floats
    (in order; an operation over the budget becomes several of its kind)."""
    flat: list[tuple[Any, int]] = []
    for op in operations:
        flat.extend(_split_operation(op, budget))
    ranges = _chunks_by_budget([s for _, s in flat], budget)
    return [[op for op, _ in flat[a:b]] for a, b in ranges]
