"""What the write path's modules share: a fast model copy, and where an update operation
carries its vectors."""

from __future__ import annotations

from typing import Any

from qdrant_client import models

__all__ = ["carried", "replace", "with_carried"]


def replace(model: Any, **update: Any) -> Any:
    """Shallow copy of a pydantic model with fields replaced (no re-validation: fast)."""
    return model.model_copy(update=update)


def carried(op: Any) -> tuple[str, Any, str] | None:
    """Where a ``batch_update_points`` operation carries vectors: ``(its field, the inner
    model, the inner field)``, the inner field holding points or a ``Batch``; ``None`` for
    deletes, payload and other operations."""
    if isinstance(op, models.UpsertOperation):
        inner = op.upsert
        return "upsert", inner, "batch" if isinstance(inner, models.PointsBatch) else "points"
    if isinstance(op, models.UpdateVectorsOperation):
        return "update_vectors", op.update_vectors, "points"
    return None


def with_carried(op: Any, where: tuple[str, Any, str], value: Any) -> Any:
    """``op`` carrying ``value`` (points or a ``Batch``) where :func:`carried` found its own."""
    field, inner, name = where
    return replace(op, **{field: replace(inner, **{name: value})})
