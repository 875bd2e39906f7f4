"""Update operations as Qdrant Edge's (upserts and vector updates checked first,
:mod:`qdrant_tokenpool.engines.checks`), and ``upload_collection``'s columns as points."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import qdrant_edge as E
from qdrant_client import models

from .. import EdgeUnsupportedError
from ..checks import VectorsSchema, check_batch, check_points
from .filters import edge_filter
from .points import (
    batch_edge_points,
    batch_points,
    edge_id,
    edge_payload,
    edge_point,
    edge_vector_struct,
)

__all__ = [
    "Op",
    "clear_payload_op",
    "columns_as_points",
    "delete_op",
    "delete_payload_op",
    "delete_vectors_op",
    "edge_target",
    "operation",
    "overwrite_payload_op",
    "set_payload_op",
    "update_vectors_op",
    "upsert_op",
]


class Op(NamedTuple):
    """An Edge update operation with the vector values and points it writes (for the
    free-space check)."""

    op: Any
    values: int = 0
    points: int = 0


def points_or_filter(points: Any, flt: Any) -> Any:
    if points is not None:
        return list(points)
    if flt is not None:
        return models.FilterSelector(filter=flt)
    raise ValueError("either points or filter is required")


def edge_target(selector: Any) -> list[int | uuid.UUID | str] | E.Filter:
    """The points a selector names, as Edge takes them: ids (a list, ``PointIdsList``) or a
    filter (``FilterSelector``, ``Filter``)."""
    if isinstance(selector, models.PointIdsList):
        return [edge_id(i) for i in selector.points]
    if isinstance(selector, (models.FilterSelector, models.Filter)):
        flt = edge_filter(selector.filter if isinstance(selector, models.FilterSelector) else selector)
        if flt is not None:
            return flt
    elif isinstance(selector, Iterable) and not isinstance(selector, (str, bytes, Mapping)):
        return [edge_id(i) for i in selector]
    raise ValueError(f"unsupported points selector {selector!r}")


def _on_points(selector: Any, operation: str, *args: Any) -> Any:
    """Edge's ``UpdateOperation.<operation>(ids, *args)``, or its ``<operation>_by_filter``
    form, for the points ``selector`` names."""
    target = edge_target(selector)
    name = operation if isinstance(target, list) else f"{operation}_by_filter"
    return getattr(E.UpdateOperation, name)(target, *args)


def delete_op(selector: Any) -> Any:
    return _on_points(selector, "delete_points")


def set_payload_op(payload: Any, selector: Any, key: str | None) -> Any:
    return _on_points(selector, "set_payload", edge_payload(payload) or {}, key)


def overwrite_payload_op(payload: Any, selector: Any, key: str | None = None) -> Any:
    return _on_points(selector, "overwrite_payload", edge_payload(payload) or {}, key)


def delete_payload_op(keys: list[str], selector: Any) -> Any:
    return _on_points(selector, "delete_payload", keys)


def clear_payload_op(selector: Any) -> Any:
    return _on_points(selector, "clear_payload")


def update_vectors_op(schema: VectorsSchema, points: Sequence[Any], update_filter: Any) -> Op:
    values = check_points(points, schema)
    pvs = [E.PointVectors(edge_id(p.id), edge_vector_struct(p.vector)) for p in points]
    if not pvs:
        raise ValueError("Empty update request")
    return Op(E.UpdateOperation.update_vectors(pvs, edge_filter(update_filter)), values, len(pvs))


def delete_vectors_op(names: list[str], selector: Any) -> Any:
    return _on_points(selector, "delete_vectors", names)


def columns_as_points(vectors: Any, payload: Iterable[Any] | None, ids: Iterable[Any] | None) -> Iterator[Any]:
    """``upload_collection`` columns as a stream of point structs, ending with the shortest
    input as a server's upload does."""
    if isinstance(vectors, Mapping):
        lengths = {len(v) for v in vectors.values()}
        if len(lengths) > 1:
            raise ValueError("Each named vector should have the same number of vectors")
        n = lengths.pop() if lengths else 0
        rows: Iterable[Any] = ({k: col[i] for k, col in vectors.items()} for i in range(n))
    elif isinstance(vectors, np.ndarray):
        rows = (vectors[i] for i in range(len(vectors)))
    else:
        rows = vectors
    id_iter: Iterable[Any] = (str(uuid.uuid4()) for _ in itertools.count()) if ids is None else ids
    pay_iter: Iterable[Any] = itertools.repeat(None) if payload is None else payload
    for pid, vec, pay in zip(id_iter, rows, pay_iter):
        yield models.PointStruct.model_construct(id=pid, vector=vec, payload=pay)


def upsert_op(
    schema: VectorsSchema, points: Any, update_filter: Any, update_mode: Any, check: bool = True
) -> Op:
    """An upsert of ``points`` (a list or a ``Batch``), every vector checked against
    ``schema`` first unless ``check=False``; a ``Batch`` of numpy columns column by column
    (:func:`batch_edge_points`: the token index's writes), other input point by point."""
    if isinstance(points, models.Batch) and not list(points.ids):
        raise ValueError("Empty update request")
    edge_points = None
    if isinstance(points, models.Batch):
        edge_points = batch_edge_points(points)  # converted, not written: checked next
        if edge_points is not None:
            values = check_batch(points, schema) if check else 0
    if edge_points is None:
        structs = batch_points(points) if isinstance(points, models.Batch) else list(points)
        if not structs:
            raise ValueError("Empty update request")
        values = check_points(structs, schema) if check else 0
        edge_points = [edge_point(p) for p in structs]
    mode = None
    if update_mode is not None:
        mode = {
            models.UpdateMode.UPSERT: E.UpdateMode.Upsert,
            models.UpdateMode.INSERT_ONLY: E.UpdateMode.InsertOnly,
            models.UpdateMode.UPDATE_ONLY: E.UpdateMode.UpdateOnly,
        }[models.UpdateMode(update_mode)]
    op = E.UpdateOperation.upsert_points(edge_points, edge_filter(update_filter), mode)
    return Op(op, values, len(edge_points))


def operation(schema: VectorsSchema, op: Any) -> Any:
    """One operation of ``batch_update_points`` as Edge's (checked and converted)."""
    if isinstance(op, models.UpsertOperation):
        up = op.upsert
        points = up.batch if isinstance(up, models.PointsBatch) else up.points
        return upsert_op(schema, points, up.update_filter, up.update_mode)
    if isinstance(op, models.DeleteOperation):
        return delete_op(op.delete)
    if isinstance(op, models.SetPayloadOperation):
        sp = op.set_payload
        return set_payload_op(sp.payload, points_or_filter(sp.points, sp.filter), sp.key)
    if isinstance(op, models.OverwritePayloadOperation):
        sp = op.overwrite_payload
        return overwrite_payload_op(sp.payload, points_or_filter(sp.points, sp.filter), sp.key)
    if isinstance(op, models.DeletePayloadOperation):
        dp = op.delete_payload
        return delete_payload_op(list(dp.keys), points_or_filter(dp.points, dp.filter))
    if isinstance(op, models.ClearPayloadOperation):
        return clear_payload_op(op.clear_payload)
    if isinstance(op, models.UpdateVectorsOperation):
        uv = op.update_vectors
        return update_vectors_op(schema, uv.points, uv.update_filter)
    if isinstance(op, models.DeleteVectorsOperation):
        dv = op.delete_vectors
        return delete_vectors_op(list(dv.vector), points_or_filter(dv.points, dv.filter))
    raise EdgeUnsupportedError(f"batch_update_points with {type(op).__name__}")
