"""Unit tests of qdrant_tokenpool.engines.checks: every vector of a write request checked
against the collection's vectors (names, kinds, sizes, NaN/inf, sparse rules), errors
naming the point, the vector and the problem. No database."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import models

from qdrant_tokenpool import InvalidMultivectorError, InvalidVectorError
from qdrant_tokenpool.engines.checks import (
    CheckedVector,
    VectorsSchema,
    check_batch,
    check_batch_lengths,
    check_columns,
    check_operations,
    check_points,
)

D = 4
MV = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
SCHEMA = VectorsSchema.from_config(
    {
        "d": models.VectorParams(size=D, distance=models.Distance.COSINE),
        "m": models.VectorParams(size=D, distance=models.Distance.DOT, multivector_config=MV),
    },
    {"s": models.SparseVectorParams()},
)
UNNAMED = VectorsSchema.from_config(models.VectorParams(size=D, distance=models.Distance.DOT), None)
NAN, INF = float("nan"), float("inf")


def good(i: int) -> models.PointStruct:
    return models.PointStruct(
        id=i,
        vector={
            "d": [0.5] * D,
            "m": [[0.1] * D, [0.0] * D],  # zero rows are fine: only pooling needs a direction
            "s": models.SparseVector(indices=[3, 1], values=[0.5, 2.0]),
        },
    )


BAD = [
    ({"d": [0.5] * (D - 1)}, InvalidVectorError, "wrong dimension: vector has 3 values, the collection expects 4"),
    ({"d": [NAN] * D}, InvalidVectorError, "non-finite value nan at position 0"),
    ({"d": [0.5, INF, 0.5, 0.5]}, InvalidVectorError, "non-finite value inf at position 1"),
    ({"d": [0.5, 1e39, 0.5, 0.5]}, InvalidVectorError, "value 1e\\+39 at position 1 is outside the float32 range"),
    ({"d": [[0.5] * D]}, InvalidVectorError, r"expected a dense vector \(d,\), got shape \(1, 4\)"),
    ({"d": models.SparseVector(indices=[1], values=[1.0])}, InvalidVectorError, "got a sparse vector; the collection's vector 'd' is a dense vector of size 4"),
    ({"x": [0.5] * D}, InvalidVectorError, r"the collection has no such vector \(vectors: 'd', 'm'; sparse vectors: 's'\)"),
    ({"m": [[0.5] * D, [0.5] * 3]}, InvalidMultivectorError, "ragged multivector: row 1 has 3 values, row 0 has 4"),
    ({"m": []}, InvalidMultivectorError, "empty multivector"),
    ({"m": [[0.5] * 3]}, InvalidMultivectorError, "wrong dimension: vectors have 3 values, the collection expects 4"),
    ({"m": [[0.5, NAN, 0.5, 0.5]]}, InvalidMultivectorError, "non-finite value nan at row 0, column 1"),
    ({"m": [0.5] * D}, InvalidVectorError, r"got a single dense vector; the collection's vector 'm' is a multivector of size 4: give its rows, \(n, 4\)"),
    ({"s": [0.5] * D}, InvalidVectorError, "expected a sparse vector \\(models.SparseVector\\), got list"),
    ({"s": models.SparseVector(indices=[1, 2], values=[NAN, 1.0])}, InvalidVectorError, "sparse vector: non-finite value nan at position 0"),
    ({"s": models.SparseVector(indices=[1, 2], values=[1.0, -INF])}, InvalidVectorError, "sparse vector: non-finite value -inf at position 1"),
    ({"s": models.SparseVector(indices=[1], values=[1e39])}, InvalidVectorError, "outside the float32 range"),
    ({"s": models.SparseVector(indices=[7, 2, 7], values=[1.0, 1.0, 1.0])}, InvalidVectorError, "sparse vector: index 7 appears more than once"),
    ({"s": models.SparseVector(indices=[-1], values=[1.0])}, InvalidVectorError, "sparse vector: index -1 is outside 0..4294967295"),
    ({"s": models.SparseVector(indices=[2**32], values=[1.0])}, InvalidVectorError, "index 4294967296 is outside"),
]


@pytest.mark.parametrize(("vector", "error", "problem"), BAD)
def test_bad_vector_is_named_by_point_vector_and_problem(vector, error, problem):
    points = [good(i) for i in range(5)]
    points[3] = models.PointStruct.model_construct(id=3, vector={**good(3).vector, **vector}, payload=None)
    with pytest.raises(error, match=problem) as exc:
        check_points(points, SCHEMA)
    assert exc.value.point_id == 3 and exc.value.vector_name == next(iter(vector))
    assert str(exc.value).startswith(f"point 3, vector '{next(iter(vector))}': ")


def test_good_requests_pass_and_are_not_modified():
    points = [good(i) for i in range(3)]
    before = [p.model_dump() for p in points]
    check_points(points, SCHEMA)
    assert [p.model_dump() for p in points] == before
    arrays = models.PointStruct.model_construct(
        id=9, vector={"d": np.ones(D, np.float64), "m": np.ones((3, D), np.float16)}, payload=None
    )
    check_points([arrays], SCHEMA)
    check_points([models.PointStruct(id=1, vector={})], SCHEMA)  # a point without vectors
    check_points([models.PointStruct(id=1, vector=[1.0] * D)], UNNAMED)


def test_unnamed_vector_only_in_a_collection_of_one_unnamed_vector():
    with pytest.raises(InvalidVectorError, match=r"point 1: an unnamed vector, but the collection's vectors are named \(vectors: 'd', 'm'"):
        check_points([models.PointStruct(id=1, vector=[1.0] * D)], SCHEMA)
    with pytest.raises(InvalidVectorError, match="point 1, default vector '': wrong dimension"):
        check_points([models.PointStruct(id=1, vector=[1.0] * (D + 1))], UNNAMED)
    with pytest.raises(InvalidVectorError, match="an unnamed vector"):
        check_points([models.PointStruct(id=1, vector=[1.0])], VectorsSchema())  # no vectors


def test_inference_objects_and_checked_vectors_are_left_alone():
    class Pending(CheckedVector):
        def __array__(self, *a, **k):  # would be a wrong size: never read by the checks
            raise AssertionError("checked vectors are not read")

    doc = models.Document(text="hello", model="some/model")
    point = models.PointStruct.model_construct(id=1, vector={"m": Pending(), "d": doc}, payload=None)
    check_points([point], SCHEMA)


def test_skip_leaves_names_to_the_caller_but_not_unknown_names():
    bad = models.PointStruct.model_construct(id=1, vector={"m": [[NAN] * D]}, payload=None)
    check_points([bad], SCHEMA, skip={"m"})


def test_columns_arrays_in_one_pass_name_the_point_by_id():
    dense = np.ones((6, D), np.float32)
    multi = np.ones((6, 2, D), np.float32)
    check_columns({"d": dense, "m": multi}, SCHEMA, ids=list(range(10, 16)))
    dense[4, 2] = np.nan
    with pytest.raises(InvalidVectorError, match="point 14, vector 'd': non-finite value nan at position 2"):
        check_columns({"d": dense}, SCHEMA, ids=np.arange(10, 16))
    with pytest.raises(InvalidVectorError, match="point '#4', vector 'd'"):
        check_columns({"d": dense}, SCHEMA)
    with pytest.raises(InvalidMultivectorError, match="point 0, vector 'm': wrong dimension"):
        check_columns({"m": np.ones((3, 2, D + 1))}, SCHEMA, ids=[0, 1, 2])
    with pytest.raises(InvalidVectorError, match="point 1, vector 'd': value 1e\\+39 at position 0"):
        check_columns({"d": np.array([[1.0] * D, [1e39] + [1.0] * (D - 1)])}, SCHEMA, ids=[0, 1])
    # a list column, ragged documents (one array per point), a list of vector structs
    check_columns({"m": [np.ones((k + 1, D)) for k in range(3)]}, SCHEMA)
    with pytest.raises(InvalidVectorError, match="point 'b', vector 'x': the collection has no such vector"):
        check_columns([{"d": [1.0] * D}, {"x": [1.0] * D}], SCHEMA, ids=["a", "b"])
    with pytest.raises(InvalidVectorError, match="point 7, default vector '': wrong dimension"):
        check_columns(np.ones((3, D + 1)), UNNAMED, ids=[7, 8, 9])
    with pytest.raises(InvalidVectorError, match="an unnamed vector, but the collection's vectors are named"):
        check_columns(np.ones((3, D)), SCHEMA)


def test_batches_and_operations():
    batch = models.Batch(ids=[1, 2], vectors={"d": [[1.0] * D, [1.0] * (D + 1)]})
    with pytest.raises(InvalidVectorError, match="point 2, vector 'd': wrong dimension"):
        check_batch(batch, SCHEMA)
    ops = [
        models.DeleteOperation(delete=models.PointIdsList(points=[1])),
        models.UpsertOperation(upsert=models.PointsList(points=[good(1)])),
        models.UpdateVectorsOperation(
            update_vectors=models.UpdateVectors(points=[models.PointVectors(id=7, vector={"d": [NAN] * D})])
        ),
    ]
    with pytest.raises(InvalidVectorError, match="point 7, vector 'd': non-finite"):
        check_operations(ops, SCHEMA)
    ops[2] = models.UpsertOperation(upsert=models.PointsBatch(batch=batch))
    with pytest.raises(InvalidVectorError, match="point 2"):
        check_operations(ops, SCHEMA)


@pytest.mark.parametrize(
    ("batch", "problem"),
    [
        (models.Batch(ids=[1, 2], vectors={"d": [[1.0] * D]}), "Batch: vector 'd' has 1 rows for 2 ids"),
        (models.Batch(ids=[1], vectors=[[1.0] * D, [1.0] * D]), "Batch: 2 vectors for 1 ids"),
        (models.Batch(ids=[1], vectors=[[1.0] * D], payloads=[{}, {}]), "Batch: 2 payloads for 1 ids"),
    ],
)
def test_a_batch_needs_one_row_per_id_in_every_column(batch, problem):
    with pytest.raises(ValueError, match=problem):
        check_batch_lengths(batch)
    with pytest.raises(ValueError, match=problem):
        check_batch(batch, UNNAMED if isinstance(batch.vectors, list) else SCHEMA)
    check_batch_lengths(models.Batch(ids=[1, 2], vectors={"d": [[1.0] * D] * 2}, payloads=[{}, {}]))


def test_schema_from_collection_info():
    info = models.CollectionInfo.model_construct(
        config=models.CollectionConfig.model_construct(
            params=models.CollectionParams.model_construct(
                vectors={"m": models.VectorParams(size=8, distance=models.Distance.DOT, multivector_config=MV)},
                sparse_vectors={"s": models.SparseVectorParams()},
            )
        )
    )
    schema = VectorsSchema.from_info(info)
    assert schema.dense["m"].multivector and schema.dense["m"].size == 8 and schema.sparse == {"s"}
