"""Request parts between qdrant-client's models (or their dicts, lists, numpy arrays) and
Qdrant Edge's types: point ids, payloads, vectors, points, the payload / vector selectors of
reads, and their results back as ``models.*`` (ids as ``int`` or UUID ``str``).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import qdrant_edge as E
from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python
from qdrant_client import models

from ...pooling.validation import is_array, to_numpy
from .. import EdgeUnsupportedError
from ..checks import check_batch_lengths

__all__ = [
    "ResultShape",
    "batch_edge_points",
    "batch_points",
    "edge_id",
    "edge_payload",
    "edge_point",
    "edge_vector",
    "edge_vector_struct",
    "edge_with_payload",
    "edge_with_vectors",
    "model_id",
    "model_vector",
    "parse_model",
]


@functools.cache
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def parse_model(value: Any, annotation: Any) -> Any:
    """``value`` validated into qdrant-client's model ``annotation`` when it is a dict (or a
    list holding one), as qdrant-client's remote client does; anything else passes as is.

    Raises:
        pydantic.ValidationError: (a ``ValueError``) the dict is not a valid ``annotation``.
    """
    if isinstance(value, Mapping) or (
        isinstance(value, list) and any(isinstance(v, Mapping) for v in value)
    ):
        return _adapter(annotation).validate_python(value)
    return value


def edge_id(pid: Any) -> int | str:
    """A point id for Edge: an unsigned int, or a UUID (string or ``uuid.UUID``) as a
    canonical string. Anything else is a ``ValueError`` naming the id."""
    if isinstance(pid, (bool, np.bool_)):
        raise ValueError(f"Point id {pid!r} is not an unsigned integer or a UUID")  # noqa: TRY004 - ValueError, as qdrant-client
    if isinstance(pid, (int, np.integer)):
        if pid < 0:
            raise ValueError(f"Point id {pid!r} is negative: ids are unsigned integers or UUIDs")
        return int(pid)
    if isinstance(pid, uuid.UUID):
        return str(pid)
    if isinstance(pid, str):
        try:
            return str(uuid.UUID(pid))
        except ValueError:
            raise ValueError(f"Point id {pid!r} is not an unsigned integer or a UUID") from None
    raise ValueError(f"Point id {pid!r} ({type(pid).__name__}) is not an unsigned integer or a UUID")


def model_id(pid: Any) -> int | str:
    """Edge's id back as qdrant-client returns it (``int`` or UUID ``str``)."""
    return str(pid) if isinstance(pid, uuid.UUID) else pid


def edge_payload(payload: Any) -> dict[str, Any] | None:
    """JSON-ready payload (datetimes, UUIDs, numpy scalars become JSON values, as a
    server stores them)."""
    if payload is None:
        return None
    if not isinstance(payload, Mapping):
        raise ValueError(f"payload must be a dict, got {type(payload).__name__}")  # noqa: TRY004 - ValueError, as qdrant-client
    return to_jsonable_python(dict(payload))


def _point_rows(vec: Any) -> Any:
    """A point's dense or multi vector given as an array or tensor as Edge reads it fastest:
    float32 memoryviews (one per row of a multivector), no ``tolist()``. Lists pass as is."""
    if is_array(vec):
        arr = np.ascontiguousarray(to_numpy(vec), dtype=np.float32)
    elif hasattr(vec, "__array__"):  # other array-likes, e.g. a vector still being pooled
        arr = np.ascontiguousarray(np.asarray(vec), dtype=np.float32)
    else:
        return vec
    if arr.ndim == 1:
        return arr.data
    if arr.ndim != 2 or arr.shape[1] == 0:
        return arr.tolist()  # Edge names what is wrong
    n, d = arr.shape
    flat = arr.data.cast("B").cast("f")
    return [flat[i * d : (i + 1) * d] for i in range(n)]


def edge_vector(vec: Any, name: str = "") -> Any:
    """A point's vector (dense, multi or sparse) as Edge takes it."""
    if isinstance(vec, models.SparseVector):
        return E.SparseVector(list(vec.indices), list(vec.values))
    if isinstance(vec, (models.Document, models.Image, models.InferenceObject)):
        raise EdgeUnsupportedError(
            f"{type(vec).__name__} input for vector {name!r}",
            "embed it first (local inference runs in QdrantClient before the engine)",
        )
    return _point_rows(vec)


def edge_vector_struct(vector: Any) -> Any:
    """A point's vector struct: unnamed dense/multi vector, or ``{name: vector}``."""
    if isinstance(vector, Mapping):
        return {name: edge_vector(v, name) for name, v in vector.items()}
    return edge_vector(vector)


def edge_point(point: Any) -> E.Point:
    """``models.PointStruct`` (or a ``Record``) as an Edge point."""
    vector = point.vector if point.vector is not None else {}
    return E.Point(edge_id(point.id), edge_vector_struct(vector), edge_payload(point.payload))


def batch_points(batch: models.Batch) -> list[Any]:
    """``models.Batch`` (columns) as point structs."""
    vectors = batch.vectors
    ids, payloads = _ids_payloads(batch)
    if isinstance(vectors, Mapping):
        cols = {k: list(v) for k, v in vectors.items()}
        rows: list[Any] = [{k: cols[k][i] for k in cols} for i in range(len(ids))]
    else:
        rows = list(vectors)
    return [
        models.PointStruct.model_construct(id=i, vector=v, payload=p)
        for i, v, p in zip(ids, rows, payloads)
    ]


def _ids_payloads(batch: models.Batch) -> tuple[list[Any], list[Any]]:
    """``batch``'s ids and payloads (``None`` each without), once its columns are checked
    to have one row per id (:func:`~..checks.check_batch_lengths`)."""
    check_batch_lengths(batch)
    ids = list(batch.ids)
    payloads = list(batch.payloads) if batch.payloads is not None else [None] * len(ids)
    return ids, payloads


def _array_columns(batch: models.Batch) -> dict[str, np.ndarray] | None:
    """The named vector columns of ``batch`` when every one is a numeric 2-D numpy array
    (a dense vector, one row per point), else ``None``."""
    vectors: Any = batch.vectors  # model_construct: arrays, not the annotated lists
    if not isinstance(vectors, Mapping) or not vectors:
        return None
    columns: dict[str, np.ndarray] = {}
    for name, col in vectors.items():
        if not isinstance(col, np.ndarray) or col.ndim != 2 or col.dtype == object:
            return None
        columns[name] = col
    return columns


def batch_edge_points(batch: models.Batch) -> list[E.Point] | None:
    """``batch`` as Edge points read column by column when its vectors are named numpy
    columns (else ``None``: use :func:`batch_points`): no model per point, each distinct
    payload object converted once (the token index shares one among a document's points).
    Check the batch first (``checks.check_batch``).

    Raises:
        ValueError: a column or the payloads do not have one row per id.
    """
    columns = _array_columns(batch)
    if columns is None:
        return None
    ids, payloads = _ids_payloads(batch)
    rows = {k: _point_rows(col) for k, col in columns.items()}
    converted: dict[int, Any] = {}  # id(payload) -> Edge's payload; the batch keeps them alive
    out = []
    for i, (pid, payload) in enumerate(zip(ids, payloads)):
        if payload is not None:
            key = id(payload)
            if key not in converted:
                converted[key] = edge_payload(payload)
            payload = converted[key]
        out.append(E.Point(edge_id(pid), {k: r[i] for k, r in rows.items()}, payload))
    return out


def _out_vector(vec: Any) -> Any:
    if isinstance(vec, E.SparseVector):
        return models.SparseVector(indices=list(vec.indices), values=list(vec.values))
    return vec


def model_vector(vector: Any) -> Any:
    """Edge's vectors back: ``{name: ...}``; the unnamed vector alone as its value."""
    if vector is None:
        return None
    if isinstance(vector, Mapping):
        if set(vector) == {""}:
            return _out_vector(vector[""])
        return {k: _out_vector(v) for k, v in vector.items()}
    return _out_vector(vector)


class ResultShape(NamedTuple):
    """What a read returns of each point: its payload or not, and which vectors (Edge's
    ``with_vector``: a bool or names; selected here again: after MMR, Edge returns the
    vector it diversified on even when the request asked for none)."""

    with_payload: bool
    with_vectors: Any

    def vector(self, vector: Any) -> Any:
        if not self.with_vectors:
            return None
        out = model_vector(vector)
        if isinstance(self.with_vectors, list) and isinstance(out, Mapping):
            return {k: v for k, v in out.items() if k in self.with_vectors}
        return out

    def scored(self, points: Iterable[Any]) -> list[models.ScoredPoint]:
        return [
            models.ScoredPoint.model_construct(
                id=model_id(p.id),
                version=p.version,
                score=p.score,
                payload=p.payload if self.with_payload else None,
                vector=self.vector(p.vector),
                shard_key=None,
                order_value=p.order_value,
            )
            for p in points
        ]

    def records(self, records: Iterable[Any]) -> list[models.Record]:
        return [
            models.Record.model_construct(
                id=model_id(r.id),
                payload=r.payload if self.with_payload else None,
                vector=self.vector(r.vector),
                shard_key=None,
                order_value=r.order_value,
            )
            for r in records
        ]


def edge_with_payload(with_payload: Any) -> tuple[Any, bool]:
    """``with_payload`` for Edge (a bool, field names, a selector model or its dict), and
    whether any payload is returned."""
    with_payload = parse_model(with_payload, models.WithPayloadInterface)
    if with_payload is None or isinstance(with_payload, bool):
        return bool(with_payload), bool(with_payload)
    if isinstance(with_payload, models.PayloadSelectorInclude):
        return E.PayloadSelector.Include(list(with_payload.include)), True
    if isinstance(with_payload, models.PayloadSelectorExclude):
        return E.PayloadSelector.Exclude(list(with_payload.exclude)), True
    if isinstance(with_payload, Sequence) and not isinstance(with_payload, str):
        return E.PayloadSelector.Include([str(k) for k in with_payload]), True
    raise ValueError(f"with_payload: unsupported selector {with_payload!r}")


def edge_with_vectors(with_vectors: Any) -> Any:
    if with_vectors is None or isinstance(with_vectors, bool):
        return bool(with_vectors)
    if isinstance(with_vectors, Sequence) and not isinstance(with_vectors, str):
        return [str(v) for v in with_vectors]
    raise ValueError(f"with_vectors: unsupported selector {with_vectors!r}")
