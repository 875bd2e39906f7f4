"""Edge gives local mode's answers: writes, collections, errors, and the list of what
Edge lacks (issue 18). Each write runs on a local-mode client and on each Edge client,
then every point (ids, payloads, vectors) and the count must agree. Reads:
``test_edge_conformance.py``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _conformance import (
    ENGINES,
    LOCAL_MODE_NOTICES,
    SPARSE_CONFIG,
    VECTORS_CONFIG,
    compare_points,
    documented_unsupported,
    expect_same,
    fill,
    local_client,
    make_points,
    point_id,
    random_vector,
)
from qdrant_client import QdrantClient, models
from qdrant_client.client_base import QdrantBase

from qdrant_tokenpool import _backend
from qdrant_tokenpool.edge_client import AsyncEdgeQdrantClient, EdgeQdrantClient
from qdrant_tokenpool.engines import EdgeUnsupportedError, StorageLockedError
from qdrant_tokenpool.engines.edge import EdgeBackend

pytestmark = LOCAL_MODE_NOTICES
SMALL = 30
C = "w"


def _pair(engine: str) -> Iterator[tuple[QdrantClient, QdrantClient]]:
    points = make_points(SMALL, seed=3)
    local, edge = local_client(), ENGINES[engine]()
    for c in (local, edge):
        fill(c, C, points, indexed=False)
    yield local, edge
    local.close()
    edge.close()


@pytest.fixture(params=list(ENGINES))
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[QdrantClient, QdrantClient]]:
    """A local-mode client and an Edge client, each with the same small collection."""
    yield from _pair(request.param)


@pytest.fixture(scope="module", params=list(ENGINES))
def shared_pair(request: pytest.FixtureRequest) -> Iterator[tuple[QdrantClient, QdrantClient]]:
    """As :func:`pair`, shared by the tests that write nothing to collection ``w``."""
    yield from _pair(request.param)


def all_points(c: QdrantClient, collection: str = C) -> list[models.Record]:
    return c.scroll(collection, limit=1000, with_payload=True, with_vectors=True)[0]


def same_state(local: QdrantClient, edge: QdrantClient, collection: str = C) -> None:
    assert edge.count(collection) == local.count(collection)
    compare_points(all_points(local, collection), all_points(edge, collection), where="after the write")


def both(pair: tuple[QdrantClient, QdrantClient], fn: Callable[[QdrantClient], Any]) -> None:
    """``fn`` on both clients (both succeed or both raise), then the same points."""
    local, edge = pair
    expect_same(fn, local, edge, lambda x, y: None)
    same_state(local, edge)


FLAG = models.Filter(must=[models.FieldCondition(key="flag", match=models.MatchValue(value=True))])
NOT_FLAG = models.Filter(must=[models.FieldCondition(key="flag", match=models.MatchValue(value=False))])
IDS = [0, point_id(3), 5, point_id(7)]

WRITES: dict[str, Callable[[QdrantClient], Any]] = {
    "set-payload-ids": lambda c: c.set_payload(C, {"new": 1, "flag": False}, points=IDS),
    "set-payload-bool-filter": lambda c: c.set_payload(C, {"hit": True}, points=FLAG),
    "set-payload-filter-selector": lambda c: c.set_payload(C, {"hit": "x"}, points=models.FilterSelector(filter=NOT_FLAG)),
    "set-payload-key": lambda c: c.set_payload(C, {"z": [1, 2]}, points=IDS, key="meta"),
    "set-payload-nested-key": lambda c: c.set_payload(C, {"q": None}, points=models.PointIdsList(points=IDS), key="meta.deep"),
    "overwrite-payload-ids": lambda c: c.overwrite_payload(C, {"only": "this"}, points=IDS),
    "overwrite-payload-bool-filter": lambda c: c.overwrite_payload(C, {"only": True}, points=FLAG),
    "delete-payload": lambda c: c.delete_payload(C, ["color", "meta.a", "tags"], points=IDS),
    "delete-payload-bool-filter": lambda c: c.delete_payload(C, ["text"], points=FLAG),
    "clear-payload-ids": lambda c: c.clear_payload(C, IDS),
    "clear-payload-bool-filter": lambda c: c.clear_payload(C, models.FilterSelector(filter=FLAG)),
    "delete-ids": lambda c: c.delete(C, IDS + [999]),
    "delete-bool-filter": lambda c: c.delete(C, FLAG),
    "delete-nested-filter": lambda c: c.delete(C, models.Filter(must=[models.NestedCondition(nested=models.Nested(
        key="items", filter=models.Filter(must=[models.FieldCondition(key="k", match=models.MatchValue(value="x"))])))])),
    "update-vectors": lambda c: c.update_vectors(C, [
        models.PointVectors(id=0, vector={"dense": [0.5] * 8, "sparse": models.SparseVector(indices=[1, 9], values=[0.3, 0.4])}),
        models.PointVectors(id=point_id(3), vector={"multi": [[0.1, 0.2, 0.3, 0.4], [1, 0, 0, 0]]}),
    ]),
    "update-vectors-filtered": lambda c: c.update_vectors(C, [models.PointVectors(id=i, vector={"dot": [1.0] * 6}) for i in (0, 1, 2, 3)],
                                                          update_filter=FLAG),
    "delete-vectors-ids": lambda c: c.delete_vectors(C, ["multi", "sparse"], IDS),
    "delete-vectors-bool-filter": lambda c: c.delete_vectors(C, ["dense"], FLAG),
    "upsert-update-filter": lambda c: c.upsert(C, [models.PointStruct(id=i, vector={"dense": [0.2] * 8}, payload={"u": i}) for i in range(6)],
                                               update_filter=NOT_FLAG),
    "upsert-insert-only": lambda c: c.upsert(C, [models.PointStruct(id=i, vector={"dense": [0.2] * 8}, payload={"u": i}) for i in (1, 100)],
                                             update_mode=models.UpdateMode.INSERT_ONLY),
    "upsert-update-only": lambda c: c.upsert(C, [models.PointStruct(id=i, vector={"dense": [0.2] * 8}, payload={"u": i}) for i in (1, 100)],
                                             update_mode=models.UpdateMode.UPDATE_ONLY),
    "upsert-batch": lambda c: c.upsert(C, models.Batch(ids=[200, 201], vectors={"dense": [[0.1] * 8, [0.3] * 8]}, payloads=[{"b": 1}, None])),
    "upsert-batch-arrays": lambda c: c.upsert(C, models.Batch.model_construct(  # read column by column on Edge
        ids=[210, 211, 212], vectors={"dense": np.linspace(-1, 1, 24).reshape(3, 8), "dot": np.ones((3, 6), dtype=np.float32)},
        payloads=[{"b": 1}, None, {"b": 1}])),
    "upload-points": lambda c: c.upload_points(C, [models.PointStruct(id=300 + i, vector={"euclid": [float(i)] * 5}, payload={"i": i})
                                                  for i in range(70)], batch_size=16),
    "upload-collection": lambda c: c.upload_collection(C, {"manhattan": np.ones((20, 4), dtype=np.float32)}, payload=[{"k": i} for i in range(20)],
                                                       ids=range(400, 420), batch_size=7),
    "batch-update": lambda c: c.batch_update_points(C, [
        models.UpsertOperation(upsert=models.PointsList(points=[models.PointStruct(id=500, vector={"dense": [0.4] * 8}, payload={"a": True})])),
        models.SetPayloadOperation(set_payload=models.SetPayload(payload={"s": 1}, filter=FLAG)),
        models.OverwritePayloadOperation(overwrite_payload=models.SetPayload(payload={"o": 1}, points=[1])),
        models.DeletePayloadOperation(delete_payload=models.DeletePayload(keys=["s"], points=[0])),
        models.ClearPayloadOperation(clear_payload=models.PointIdsList(points=[2])),
        models.UpdateVectorsOperation(update_vectors=models.UpdateVectors(points=[models.PointVectors(id=4, vector={"dot": [2.0] * 6})])),
        models.DeleteVectorsOperation(delete_vectors=models.DeleteVectors(vector=["euclid"], filter=NOT_FLAG)),
        models.DeleteOperation(delete=models.FilterSelector(filter=models.Filter(must=[models.HasIdCondition(has_id=[5, 6])]))),
    ]),
    "payload-index": lambda c: (c.create_payload_index(C, "color", models.PayloadSchemaType.KEYWORD),
                                c.delete_payload_index(C, "color")),
}


@pytest.mark.parametrize("name", list(WRITES))
def test_write(pair: tuple[QdrantClient, QdrantClient], name: str) -> None:
    both(pair, WRITES[name])


def test_vector_names(pair: tuple[QdrantClient, QdrantClient]) -> None:
    """``create_vector_name`` for dense, multi and sparse vectors (issue 18, item 6: a
    sparse config failed validation), writes to them, ``delete_vector_name``."""
    local, edge = pair
    configs = {
        "new_dense": models.DenseVectorNameConfig(dense=models.DenseVectorConfig(size=3, distance=models.Distance.DOT)),
        "new_multi": models.DenseVectorNameConfig(dense=models.DenseVectorConfig(
            size=2, distance=models.Distance.COSINE,
            multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM))),
        "new_sparse": models.SparseVectorNameConfig(sparse=models.SparseVectorConfig(modifier=models.Modifier.IDF)),
        "new_sparse_typed": models.SparseVectorNameConfig(sparse=models.SparseVectorConfig(datatype=models.VectorStorageDatatype.FLOAT16)),
    }
    for name, cfg in configs.items():
        both(pair, lambda c: c.create_vector_name(C, name, cfg))  # noqa: B023
        for c in (local, edge):
            assert name in {**c.get_collection(C).config.params.vectors, **(c.get_collection(C).config.params.sparse_vectors or {})}
    sparse_cfg = edge.get_collection(C).config.params.sparse_vectors
    assert sparse_cfg["new_sparse"].modifier == models.Modifier.IDF
    assert sparse_cfg["new_sparse_typed"].index.datatype == models.Datatype.FLOAT16
    both(pair, lambda c: c.update_vectors(C, [models.PointVectors(id=1, vector={
        "new_dense": [1.0, 2.0, 3.0], "new_multi": [[1.0, 0.0], [0.0, 1.0]],
        "new_sparse": models.SparseVector(indices=[3], values=[1.0])})]))
    compare_points(local.query_points(C, [1.0, 1.0, 1.0], using="new_dense").points,
                   edge.query_points(C, [1.0, 1.0, 1.0], using="new_dense").points)
    for name in configs:
        both(pair, lambda c: c.delete_vector_name(C, name))  # noqa: B023


def test_no_vectors(pair: tuple[QdrantClient, QdrantClient]) -> None:
    """A collection without vectors (payload only) works as in local mode (issue 18,
    item 8): writes, reads, filters, its config; a query with a vector fails on both."""
    local, edge = pair
    for c in (local, edge):
        c.create_collection("novec", vectors_config={})
        assert c.get_collection("novec").config.params.vectors == {}
        assert not c.get_collection("novec").config.params.sparse_vectors
    points = [models.PointStruct(id=point_id(i), vector={}, payload={"i": i, "flag": i % 2 == 0}) for i in range(12)]
    expect_same(lambda c: c.upsert("novec", points), local, edge, lambda x, y: None)
    same_state(local, edge, "novec")
    flt = models.Filter(must=[models.FieldCondition(key="flag", match=models.MatchValue(value=True))])
    assert edge.count("novec", count_filter=flt) == local.count("novec", count_filter=flt)
    compare_points(local.query_points("novec", query_filter=flt, with_vectors=True).points,
                   edge.query_points("novec", query_filter=flt, with_vectors=True).points)
    compare_points(local.retrieve("novec", [0, 1], with_vectors=True), edge.retrieve("novec", [0, 1], with_vectors=True))
    expect_same(lambda c: c.query_points("novec", [1.0, 2.0]), local, edge, lambda x, y: None)
    expect_same(lambda c: c.set_payload("novec", {"x": 1}, points=flt), local, edge, lambda x, y: None)
    expect_same(lambda c: c.delete("novec", [0, 1]), local, edge, lambda x, y: None)
    same_state(local, edge, "novec")


def test_collections(pair: tuple[QdrantClient, QdrantClient]) -> None:
    """Collection methods: config as created, exists, list, metadata, recreate, delete."""
    local, edge = pair
    kwargs = {"vectors_config": VECTORS_CONFIG, "sparse_vectors_config": SPARSE_CONFIG, "metadata": {"a": 1, "n": {"x": [1]}}}
    for c in (local, edge):
        c.create_collection("c2", **kwargs)
        for i, q in enumerate(QUANTIZATIONS):
            c.create_collection(f"q{i}", models.VectorParams(size=8, distance=models.Distance.COSINE), quantization_config=q)
    for i, q in enumerate(QUANTIZATIONS):  # as given (a server reports it too; local mode drops it)
        assert edge.get_collection(f"q{i}").config.quantization_config == q
    for c_l, c_e in ((local.get_collection("c2"), edge.get_collection("c2")), (local.get_collection(C), edge.get_collection(C))):
        assert c_e.config.params.vectors == c_l.config.params.vectors
        assert c_e.config.params.sparse_vectors == c_l.config.params.sparse_vectors
        assert c_e.config.metadata == c_l.config.metadata
        assert c_e.points_count == c_l.points_count
    assert sorted(c.name for c in edge.get_collections().collections) == sorted(c.name for c in local.get_collections().collections)
    expect_same(lambda c: c.create_collection("c2", vectors_config={}), local, edge, lambda x, y: None)
    expect_same(lambda c: c.update_collection("c2", metadata={"b": 2}), local, edge, lambda x, y: None)
    assert edge.get_collection("c2").config.metadata == local.get_collection("c2").config.metadata
    expect_same(lambda c: c.recreate_collection("c2", vectors_config=models.VectorParams(size=3, distance=models.Distance.DOT)),
                local, edge, lambda x, y: None)
    assert edge.get_collection("c2").config.params.vectors == local.get_collection("c2").config.params.vectors
    for name in ("c2", "missing"):
        assert edge.collection_exists(name) == local.collection_exists(name)
        assert edge.delete_collection(name) == local.delete_collection(name)
    assert edge.get_aliases().aliases == [] and edge.get_collection_aliases(C).aliases == []
    assert edge.list_snapshots(C) == [] and edge.list_full_snapshots() == []


QUANTIZATIONS = [
    models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99, always_ram=True)),
    models.ProductQuantization(product=models.ProductQuantizationConfig(compression=models.CompressionRatio.X16)),
    models.BinaryQuantization(binary=models.BinaryQuantizationConfig(always_ram=False)),
    models.TurboQuantization(turbo=models.TurboQuantQuantizationConfig(bits=models.TurboQuantBitSize.BITS1_5)),
]


def test_info(shared_pair: tuple[QdrantClient, QdrantClient]) -> None:
    """``info()`` has local mode's title; the version is qdrant-edge-py's (issue 18, item 12)."""
    local, edge = shared_pair
    assert edge.info().title == local.info().title
    assert edge.info().version


def test_lock_message(tmp_path: Path) -> None:
    """A second client on a folder fails with local mode's words (issue 18, item 12)."""
    local = QdrantClient(path=str(tmp_path / "local"))
    with pytest.raises(RuntimeError, match="already accessed by another instance of Qdrant client") as local_err:
        QdrantClient(path=str(tmp_path / "local"))
    local.close()
    edge = EdgeQdrantClient(path=str(tmp_path / "edge"))
    with pytest.raises(StorageLockedError, match="already accessed by another instance of Qdrant client") as edge_err:
        EdgeQdrantClient(path=str(tmp_path / "edge"))
    edge.close()
    assert "concurrent access" in str(local_err.value) and "concurrent access" in str(edge_err.value)


def test_migrate_from_edge(pair: tuple[QdrantClient, QdrantClient]) -> None:
    """``QdrantClient.migrate`` (qdrant-client's own, over scroll and upsert) copies an Edge
    collection whole."""
    local, edge = pair
    dest = local_client()
    edge.migrate(dest, [C])
    compare_points(all_points(local), all_points(dest))
    dest.close()


@pytest.mark.anyio
async def test_async_twin() -> None:
    """``AsyncEdgeQdrantClient`` runs the same backend: a boolean filter, a sparse query by
    point id and an MMR query answer as local mode does."""
    points = make_points(SMALL, seed=4)
    local, aedge = local_client(), AsyncEdgeQdrantClient(":memory:")
    fill(local, C, points, indexed=False)
    await aedge.create_collection(C, VECTORS_CONFIG, sparse_vectors_config=SPARSE_CONFIG)
    await aedge.upsert(C, points)
    assert (await aedge.count(C, count_filter=FLAG)) == local.count(C, count_filter=FLAG)
    for query, using in ((point_id(1), "sparse"), (models.NearestQuery(nearest=[0.5] * 8, mmr=models.Mmr()), "dense")):
        compare_points(local.query_points(C, query, using=using, limit=5).points,
                       (await aedge.query_points(C, query, using=using, limit=5)).points, 5)
    await aedge.close()
    local.close()


# ---------------------------------------------------------------------------------------
# errors: where local mode raises, Edge raises a ValueError (never a bare engine error)
# ---------------------------------------------------------------------------------------
ERRORS: dict[str, Callable[[QdrantClient], Any]] = {
    "unknown-collection-query": lambda c: c.query_points("nope", [1.0] * 8, using="dense"),
    "unknown-collection-scroll": lambda c: c.scroll("nope"),
    "unknown-collection-count": lambda c: c.count("nope"),
    "unknown-collection-upsert": lambda c: c.upsert("nope", [models.PointStruct(id=1, vector={}, payload={})]),
    "unknown-collection-delete": lambda c: c.delete("nope", [1]),
    "unknown-vector": lambda c: c.query_points(C, [1.0] * 8, using="nope"),
    "wrong-dimension": lambda c: c.query_points(C, [1.0] * 7, using="dense"),
    "sparse-query-on-dense": lambda c: c.query_points(C, models.SparseVector(indices=[1], values=[1.0]), using="dense"),
    "unknown-point-id": lambda c: c.query_points(C, 12345, using="dense"),
    "limit-zero": lambda c: c.query_points(C, [1.0] * 8, using="dense", limit=0),
    "negative-offset": lambda c: c.query_points(C, [1.0] * 8, using="dense", offset=-1),
    "threshold-without-query": lambda c: c.query_points(C, score_threshold=0.5),
    "prefetch-without-query": lambda c: c.query_points(C, prefetch=models.Prefetch(query=[1.0] * 8, using="dense")),
    "fusion-without-prefetch": lambda c: c.query_points(C, models.FusionQuery(fusion=models.Fusion.RRF)),
    "fusion-with-using": lambda c: c.query_points(C, models.FusionQuery(fusion=models.Fusion.RRF), using="dense",
                                                  prefetch=models.Prefetch(query=[1.0] * 8, using="dense")),
    "recommend-average-no-positive": lambda c: c.query_points(C, models.RecommendQuery(recommend=models.RecommendInput(negative=[1])), using="dense"),
    "mmr-bad-diversity": lambda c: c.query_points(C, models.NearestQuery(nearest=[1.0] * 8, mmr=models.Mmr(diversity=1.5)), using="dense"),
    "order-by-and-threshold": lambda c: c.query_points(C, models.OrderByQuery(order_by="count"), score_threshold=0.1),
    "scroll-limit-zero": lambda c: c.scroll(C, limit=0),
    "facet-limit-zero": lambda c: c.facet(C, "color", limit=0),
    "bad-point-id": lambda c: c.retrieve(C, ["not-a-uuid"]),
    "match-any-bools": lambda c: c.count(C, count_filter=models.Filter(must=[models.FieldCondition.model_construct(
        key="flag", match=models.MatchAny.model_construct(any=[True]))])),
    "dict-filter-invalid": lambda c: c.count(C, count_filter={"must": [{"key": "flag", "match": {"nope": 1}}]}),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors(shared_pair: tuple[QdrantClient, QdrantClient], name: str) -> None:
    local, edge = shared_pair
    if name in ("match-any-bools", "dict-filter-invalid", "bad-point-id"):
        # local mode does not reject these (a server does): Edge refuses them by name
        with pytest.raises(ValueError):
            ERRORS[name](edge)
        return
    expect_same(ERRORS[name], local, edge, lambda x, y: pytest.fail(f"{name}: both answered"))


# ---------------------------------------------------------------------------------------
# what Edge lacks: raised by name, and docs/engines.md lists exactly that
# ---------------------------------------------------------------------------------------
def unsupported_methods() -> set[str]:
    """``QdrantBase`` methods the Edge backend answers with ``EdgeUnsupportedError``."""
    names = set()
    for name, _ in inspect.getmembers(QdrantBase, inspect.isfunction):
        if name.startswith("_"):
            continue
        doc = getattr(EdgeBackend, name).__doc__ or ""
        if "Not available on Qdrant Edge" in doc:
            names.add(name)
    return names


FEATURES: dict[str, Callable[[QdrantClient], Any]] = {
    "update_collection": lambda c: c.update_collection(C, hnsw_config=models.HnswConfigDiff(m=8)),
    "create_vector_name": lambda c: (c.create_collection("single", models.VectorParams(size=2, distance=models.Distance.DOT)),
                                     c.create_vector_name("single", "v", models.DenseVectorNameConfig(
                                         dense=models.DenseVectorConfig(size=2, distance=models.Distance.DOT)))),
    "NearestQuery(mmr=...)": lambda c: c.query_points(C, models.NearestQuery(
        nearest=models.SparseVector(indices=[1, 2], values=[1.0, 0.5]), mmr=models.Mmr()), using="sparse"),
}
"""Features (not whole methods) Edge lacks, each keyed as docs/engines.md names it."""


@pytest.mark.parametrize("feature", list(FEATURES))
def test_unsupported_feature(shared_pair: tuple[QdrantClient, QdrantClient], feature: str) -> None:
    with pytest.raises(EdgeUnsupportedError):
        FEATURES[feature](shared_pair[1])
    assert feature in documented_unsupported()


@pytest.mark.parametrize("method", sorted(unsupported_methods()))
def test_unsupported_method(shared_pair: tuple[QdrantClient, QdrantClient], method: str) -> None:
    with pytest.raises(EdgeUnsupportedError, match=method):
        getattr(_backend.backend(shared_pair[1]), method)(C)
    assert method in documented_unsupported()


def test_documented_list_is_exact() -> None:
    """Every feature docs/engines.md lists as missing is one the suite sees raise."""
    assert documented_unsupported() == unsupported_methods() | set(FEATURES)


def test_vector_kinds_cover_the_collection() -> None:
    """The query vectors are of the collection's kinds (a guard on the test data)."""
    rng = np.random.default_rng(0)
    for name, vp in VECTORS_CONFIG.items():
        v = np.asarray(random_vector(rng, name))
        assert v.shape[-1] == vp.size
