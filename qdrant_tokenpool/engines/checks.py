"""Every vector of a write request checked against a collection's :class:`VectorsSchema`
before anything is written (Qdrant Edge checks point by point *while* writing): a known
name; dense 1-D of the right size; multivector ``(n >= 1, d)``, not ragged; sparse with
matching indices/values, unique indices in ``0..2**32-1``; finite float32 values. Errors
are :class:`~qdrant_tokenpool.InvalidVectorError` naming the point, the vector and the
problem. Inference objects are left to qdrant-client; vectors are never rewritten.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qdrant_client import models

from ..inference import is_inference_object
from ..pooling.validation import (
    InvalidVectorError,
    as_multivector,
    as_vector,
    is_array,
    vector_label,
)

__all__ = [
    "MAX_SPARSE_INDEX",
    "CheckedVector",
    "VectorSpec",
    "VectorsSchema",
    "check_batch",
    "check_batch_lengths",
    "check_columns",
    "check_operations",
    "check_points",
    "check_struct",
    "check_vector",
]

MAX_SPARSE_INDEX = 2**32 - 1
"""Largest sparse vector index (Qdrant stores indices as ``u32``)."""


class CheckedVector:
    """Base of the vectors the write path hands over already checked (e.g. a multivector
    still being pooled): trusted here, so that checking never waits for them."""

    __slots__ = ()

    def size_hint(self) -> int:
        """At most how many values it holds (for the free-space estimate of a write)."""
        return 0


@dataclass(frozen=True)
class VectorSpec:
    """A dense vector name of a collection: size ``d``, distance, multivector or not."""

    size: int
    distance: models.Distance
    multivector: bool
    datatype: str = "float32"

    @classmethod
    def from_params(cls, params: models.VectorParams) -> VectorSpec:
        datatype = getattr(params.datatype, "value", params.datatype) or "float32"
        return cls(
            size=int(params.size),
            distance=params.distance,
            multivector=params.multivector_config is not None,
            datatype=str(datatype),
        )


@dataclass(frozen=True)
class VectorsSchema:
    """A collection's dense and multi vectors by name (``""``: its one unnamed vector), and
    its sparse vector names."""

    dense: Mapping[str, VectorSpec] = field(default_factory=dict)
    sparse: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, vectors: Any, sparse: Mapping[str, Any] | None) -> VectorsSchema:
        """From a collection's ``vectors`` (one ``VectorParams``, a dict of them, or ``None``)
        and ``sparse_vectors`` configs."""
        if vectors is None:
            dense: dict[str, VectorSpec] = {}
        elif isinstance(vectors, models.VectorParams):
            dense = {"": VectorSpec.from_params(vectors)}
        else:
            dense = {k: VectorSpec.from_params(v) for k, v in vectors.items()}
        return cls(dense, frozenset(sparse or ()))

    @classmethod
    def from_info(cls, info: models.CollectionInfo) -> VectorsSchema:
        """From ``get_collection``'s answer."""
        params = info.config.params
        return cls.from_config(params.vectors, params.sparse_vectors)

    def describe(self) -> str:
        """The collection's vector names, for messages."""
        dense = ", ".join(repr(n) for n in self.dense) or "none"
        text = f"vectors: {dense}"
        if self.sparse:
            text += f"; sparse vectors: {', '.join(repr(n) for n in sorted(self.sparse))}"
        return text


def _kind(spec: VectorSpec) -> str:
    return f"a {'multivector' if spec.multivector else 'dense vector'} of size {spec.size}"


def check_vector(vector: Any, schema: VectorsSchema, name: str, point_id: Any) -> int:
    """Check one vector of a point against the collection's vector ``name``; returns its
    number of values (a sparse entry counts 2).

    Raises:
        InvalidVectorError: naming ``point_id``, ``name`` and the problem.
    """
    if isinstance(vector, CheckedVector):
        return vector.size_hint()
    if vector is None or is_inference_object(vector):
        return 0
    sparse_given = isinstance(vector, models.SparseVector)
    spec = schema.dense.get(name)
    if spec is None:
        if name not in schema.sparse:
            raise InvalidVectorError(
                f"the collection has no such vector ({schema.describe()})",
                point_id=point_id,
                vector_name=name,
            )
        if not sparse_given:
            raise InvalidVectorError(
                f"expected a sparse vector (models.SparseVector), got {type(vector).__name__}",
                point_id=point_id,
                vector_name=name,
            )
        _check_sparse(vector, name, point_id)
        return 2 * len(vector.indices)
    if sparse_given:
        raise InvalidVectorError(
            f"got a sparse vector; the collection's {vector_label(name)} is {_kind(spec)}",
            point_id=point_id,
            vector_name=name,
        )
    if spec.multivector:
        return _check_multivector(vector, spec, name, point_id)
    return int(as_vector(vector, dim=spec.size, point_id=point_id, vector_name=name).size)


def _check_multivector(vector: Any, spec: VectorSpec, name: str, point_id: Any) -> int:
    if _is_flat(vector):
        raise InvalidVectorError(
            f"got a single dense vector; the collection's {vector_label(name)} is "
            f"{_kind(spec)}: give its rows, (n, {spec.size})",
            point_id=point_id,
            vector_name=name,
        )
    arr = as_multivector(vector, dim=spec.size, point_id=point_id, vector_name=name, allow_zero=True)
    return int(arr.size)


def _is_flat(vector: Any) -> bool:
    """A 1-D vector (a list of numbers, or a 1-D array or tensor)."""
    if is_array(vector):
        return len(vector.shape) == 1 and vector.shape[0] > 0
    return isinstance(vector, (list, tuple)) and bool(vector) and not hasattr(vector[0], "__len__")


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_sparse(vector: models.SparseVector, name: str, point_id: Any) -> None:
    def bad(problem: str) -> InvalidVectorError:
        return InvalidVectorError(f"sparse vector: {problem}", point_id=point_id, vector_name=name)

    indices, values = vector.indices, vector.values
    if len(indices) != len(values):
        raise bad(f"{len(indices)} indices but {len(values)} values")
    if not len(indices):
        return
    # plain Python: sparse vectors are short lists, checked faster so than through numpy
    try:
        low, high = min(indices), max(indices)
        ok = all(map(math.isfinite, values)) and max(map(abs, values)) <= _FLOAT32_MAX
    except TypeError:
        raise bad("indices must be integers and values numbers") from None
    if low < 0 or high > MAX_SPARSE_INDEX:
        raise bad(f"index {low if low < 0 else high} is outside 0..{MAX_SPARSE_INDEX}")
    if len(set(indices)) != len(indices):
        seen: set[Any] = set()
        for i in indices:
            if i in seen:
                raise bad(f"index {i} appears more than once")
            seen.add(i)
    if not ok:
        k, v = next((k, v) for k, v in enumerate(values) if not math.isfinite(v) or abs(v) > _FLOAT32_MAX)
        if math.isfinite(v):
            raise bad(f"value {float(v)!r} at position {k} is outside the float32 range")
        raise bad(f"non-finite value {v} at position {k}")


def check_struct(
    vector: Any, schema: VectorsSchema, point_id: Any, skip: Iterable[str] = ()
) -> int:
    """Check one point's vector struct (``{name: vector}``, or the unnamed vector); names in
    ``skip`` were checked by the caller. Returns the values checked."""
    if vector is None:
        return 0
    if isinstance(vector, Mapping):
        values = 0
        for name, v in vector.items():
            if name not in skip:
                values += check_vector(v, schema, name, point_id)
        return values
    if "" not in schema.dense:
        raise InvalidVectorError(
            "an unnamed vector, but the collection's vectors are named "
            f"({schema.describe()}): give {{name: vector}}",
            point_id=point_id,
        )
    return 0 if "" in skip else check_vector(vector, schema, "", point_id)


def check_points(points: Iterable[Any], schema: VectorsSchema, skip: Iterable[str] = ()) -> int:
    """Check every vector of ``points`` (``PointStruct``, ``PointVectors`` or ``Record``:
    anything with ``.id`` and ``.vector``); returns the values checked."""
    skip = frozenset(skip)
    return sum(check_struct(p.vector, schema, p.id, skip) for p in points)


def _labels(ids: Sequence[Any] | np.ndarray | None, n: int) -> Sequence[Any]:
    """How errors name the points of a column: their ids, else ``"#k"``."""
    given: Sequence[Any] = [] if ids is None else ids.tolist() if isinstance(ids, np.ndarray) else ids
    if len(given) >= n:
        return given
    return [given[k] if k < len(given) else f"#{k}" for k in range(n)]


def check_columns(
    vectors: Any,
    schema: VectorsSchema,
    ids: Sequence[Any] | np.ndarray | None = None,
    skip: Iterable[str] = (),
) -> int:
    """Check ``upload_collection``'s (or a ``Batch``'s) sized ``vectors``: a dict of
    per-name columns, an array of the unnamed vector (checked in one pass), or a list of
    vector structs. Errors name the point by ``ids[k]`` (else ``"#k"``). Returns the values
    checked."""
    skip = frozenset(skip)
    if not isinstance(vectors, Mapping):
        if not (isinstance(vectors, np.ndarray) and "" in schema.dense and vectors.dtype != object):
            labels = _labels(ids, len(vectors))
            return sum(check_struct(row, schema, labels[k], skip) for k, row in enumerate(vectors))
        vectors = {"": vectors}  # the unnamed vector's column
    values = 0
    for name, column in vectors.items():
        if name in skip:
            continue
        spec = schema.dense.get(name)
        if isinstance(column, np.ndarray) and spec is not None and column.dtype != object:
            _check_array_column(column, spec, name, ids)
            values += int(column.size)
            continue
        labels = _labels(ids, len(column))
        values += sum(check_vector(v, schema, name, labels[k]) for k, v in enumerate(column))
    return values


def _check_array_column(
    column: np.ndarray, spec: VectorSpec, name: str, ids: Sequence[Any] | np.ndarray | None
) -> None:
    """A numeric array column (``(N, d)`` dense, ``(N, n, d)`` multi) at once, naming the
    first bad point."""
    want = 3 if spec.multivector else 2
    if column.ndim != want or column.shape[-1] != spec.size or (want == 3 and column.shape[1] == 0):
        labels = _labels(ids, len(column))
        for k in range(len(column)):  # the per-point check names what is wrong
            _check_one(column[k], spec, name, labels[k])
        raise InvalidVectorError(f"column of shape {column.shape} does not fit {_kind(spec)}", vector_name=name)
    if not np.issubdtype(column.dtype, np.number) or np.iscomplexobj(column):
        raise InvalidVectorError(f"values must be real numbers, got dtype {column.dtype}", vector_name=name)
    with np.errstate(over="ignore", under="ignore"):
        as32 = column if column.dtype == np.float32 else column.astype(np.float32)
    finite = np.isfinite(as32.reshape(len(column), -1)).all(axis=1)
    if finite.all():
        return
    bad = int(np.argmin(finite))
    _check_one(column[bad], spec, name, _labels(ids, len(column))[bad])


def _check_one(vector: Any, spec: VectorSpec, name: str, point_id: Any) -> None:
    if spec.multivector:
        _check_multivector(vector, spec, name, point_id)
    else:
        as_vector(vector, dim=spec.size, point_id=point_id, vector_name=name)


def check_batch_lengths(batch: models.Batch) -> None:
    """Check that each of a ``models.Batch``'s columns (every named vector, the unnamed
    vectors, the payloads) has one row per id.

    Raises:
        ValueError: naming the column and both lengths.
    """
    n = len(batch.ids)
    vectors = batch.vectors
    if isinstance(vectors, Mapping):
        for name, column in vectors.items():
            if len(column) != n:
                raise ValueError(f"Batch: vector {name!r} has {len(column)} rows for {n} ids")
    elif len(vectors) != n:
        raise ValueError(f"Batch: {len(vectors)} vectors for {n} ids")
    if batch.payloads is not None and len(batch.payloads) != n:
        raise ValueError(f"Batch: {len(batch.payloads)} payloads for {n} ids")


def check_batch(batch: models.Batch, schema: VectorsSchema, skip: Iterable[str] = ()) -> int:
    """Check a column-wise ``models.Batch`` (its lengths, :func:`check_batch_lengths`, then
    its vectors); returns the values checked."""
    check_batch_lengths(batch)
    return check_columns(batch.vectors, schema, list(batch.ids), skip)


def check_operations(
    operations: Iterable[Any], schema: VectorsSchema, skip: Iterable[str] = ()
) -> int:
    """Check the vectors of ``batch_update_points`` operations (upserts and vector
    updates; other operations carry none); returns the values checked."""
    values = 0
    for op in operations:
        if isinstance(op, models.UpsertOperation):
            up = op.upsert
            if isinstance(up, models.PointsBatch):
                values += check_batch(up.batch, schema, skip)
            else:
                values += check_points(up.points, schema, skip)
        elif isinstance(op, models.UpdateVectorsOperation):
            values += check_points(op.update_vectors.points, schema, skip)
    return values
