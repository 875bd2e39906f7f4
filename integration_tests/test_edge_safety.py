"""Qdrant Edge keeps Qdrant's guarantees (issue 18, items 11 and 13-20): a client dropped
without ``close()`` frees its folder; a bad request writes nothing; a full disk is an
error, not a crash; damaged or foreign folders are refused or reported, never deleted.
Crash tests kill a writer with SIGKILL in a subprocess, reopen the folder and check that
no half request is served and no acknowledged write is lost."""

from __future__ import annotations

import asyncio
import gc

import numpy as np
import pytest
from qdrant_client import models

from qdrant_tokenpool import AsyncTokenPoolingClient, PoolingConfig, TokenPoolingClient

pytest.importorskip("qdrant_edge", reason="needs qdrant-edge-py (scripts/setup.sh installs it)")

from qdrant_tokenpool.engines.select import AsyncEdgeQdrantClient, EdgeQdrantClient

D = 16
ENGINES = [None, "edge"]  # None: the drop-in default, qdrant-client's local mode


@pytest.fixture
def no_gc():
    """The cyclic garbage collector off for the test: what is freed, is freed by refcount."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def _dense(size: int = D) -> models.VectorParams:
    return models.VectorParams(size=size, distance=models.Distance.COSINE)


# -- item 11: a dropped client frees its folder ------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_dropped_client_frees_its_folder_without_gc(tmp_path, engine, no_gc):
    path = str(tmp_path / "db")
    client = TokenPoolingClient(path=path, engine=engine)
    client.create_collection("c", _dense())
    client.upsert("c", [models.PointStruct(id=1, vector=[1.0] * D)])  # builds the pooling state
    client.upload_points("c", [models.PointStruct(id=2, vector=[1.0] * D)])
    del client
    again = TokenPoolingClient(path=path, engine=engine)  # StorageLockedError before the fix
    assert again.count("c").count == 2
    again.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_dropped_async_client_frees_its_folder_without_gc(tmp_path, engine, no_gc):
    path = str(tmp_path / "db")

    async def write() -> None:
        client = AsyncTokenPoolingClient(path=path, engine=engine)
        await client.create_collection("c", _dense())
        await client.upsert("c", [models.PointStruct(id=1, vector=[1.0] * D)])
        client.upload_points("c", [models.PointStruct(id=2, vector=[1.0] * D)])  # sync twin

    async def read() -> int:
        client = AsyncTokenPoolingClient(path=path, engine=engine)
        try:
            return (await client.count("c")).count
        finally:
            await client.close()

    asyncio.run(write())
    assert asyncio.run(read()) == 2


# -- items 13-15: a bad vector anywhere in a request writes nothing --------------------------
MV = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
N_POINTS, BAD_AT, BATCH = 150, 120, 32


def _config(pooled: bool) -> dict:
    vectors = {
        "d": _dense(),
        "m": models.VectorParams(size=D, distance=models.Distance.DOT, multivector_config=MV),
        "c": models.VectorParams(size=D, distance=models.Distance.COSINE, multivector_config=MV),
    }
    pooling = {"c": PoolingConfig(pool_factor=2)} if pooled else None
    return {"vectors_config": vectors, "sparse_vectors_config": {"s": models.SparseVectorParams()}, "pooling": pooling}


def _vectors(i: int) -> dict:
    rng = np.random.default_rng(i)
    return {
        "d": rng.standard_normal(D).tolist(),
        "m": rng.standard_normal((3, D)).tolist(),
        "c": rng.standard_normal((8, D)).astype(np.float32),
        "s": models.SparseVector(indices=[1, 5 + i % 7], values=[0.5, 0.25]),
    }


NAN = float("nan")
BAD_VECTORS = {  # item 13: wrong size, unknown name, wrong kind; item 15: NaN/inf where pooling does not look
    "dense wrong size": ({"d": [0.1] * (D - 1)}, "wrong dimension"),
    "unknown name": ({"x": [0.1] * D}, "the collection has no such vector"),
    "sparse for dense": ({"d": models.SparseVector(indices=[1], values=[1.0])}, "got a sparse vector"),
    "dense for sparse": ({"s": [0.1] * D}, "expected a sparse vector"),
    "ragged multivector": ({"m": [[0.1] * D, [0.1] * 3]}, "ragged multivector"),  # crashed Edge
    "NaN dense": ({"d": [NAN] * D}, "non-finite value nan"),
    "inf dense": ({"d": [float("inf")] + [0.1] * (D - 1)}, "non-finite value inf"),
    "NaN unpooled multivector": ({"m": [[0.1] * D, [NAN] * D]}, "non-finite value nan"),
    "NaN sparse value": ({"s": models.SparseVector(indices=[1], values=[NAN])}, "non-finite value nan"),
    "NaN pooled multivector": ({"c": [[NAN] * D] * 4}, "non-finite value nan"),
}


def _points(bad: dict | None = None) -> list[models.PointStruct]:
    points = [models.PointStruct(id=i, vector=_vectors(i), payload={"i": i}) for i in range(N_POINTS)]
    if bad is not None:
        points[BAD_AT] = models.PointStruct.model_construct(
            id=BAD_AT, vector={**_vectors(BAD_AT), **bad}, payload=None
        )
    return points


def _client(kind: str, path=None):
    """``plain``: EdgeQdrantClient; ``pooling``: TokenPoolingClient on Edge with a pooled
    vector; ``local``: TokenPoolingClient on local mode (the reference)."""
    where = {"path": str(path)} if path is not None else {"location": ":memory:"}
    if kind == "plain":
        return EdgeQdrantClient(**where)
    return TokenPoolingClient(**where, engine=None if kind == "local" else "edge")


def _create(client, pooled: bool = True) -> None:
    kw = _config(pooled)
    if isinstance(client, TokenPoolingClient):
        client.create_collection("c", kw["vectors_config"], kw["sparse_vectors_config"], pooling=kw["pooling"])
    else:
        client.create_collection("c", kw["vectors_config"], kw["sparse_vectors_config"])


WRITES = {
    "upsert": lambda c, pts: c.upsert("c", pts),
    "upsert Batch": lambda c, pts: c.upsert(
        "c", models.Batch.model_construct(ids=[p.id for p in pts], vectors={
            k: [p.vector.get(k) for p in pts] for k in ("d", "m", "c", "s", "x") if any(k in p.vector for p in pts)
        }, payloads=None),
    ),
    "update_vectors": lambda c, pts: c.update_vectors("c", [models.PointVectors.model_construct(id=p.id, vector=p.vector) for p in pts]),
    "batch_update_points": lambda c, pts: c.batch_update_points("c", [
        models.DeleteOperation(delete=models.PointIdsList(points=[0])),
        models.UpsertOperation(upsert=models.PointsList.model_construct(points=pts)),
    ]),
}


def _stored(client) -> dict:
    records, _ = client.scroll("c", limit=1000, with_vectors=["d"], with_payload=True)
    return {r.id: (r.payload, r.vector) for r in records}


CASES = [(bad, "upsert") for bad in BAD_VECTORS] + [
    (bad, write)
    for write in WRITES
    if write != "upsert"
    for bad in ("dense wrong size", "ragged multivector", "NaN sparse value", "NaN pooled multivector")
]


@pytest.mark.parametrize("kind", ["plain", "pooling"])
@pytest.mark.parametrize(("bad", "write"), CASES)
def test_a_bad_vector_anywhere_writes_nothing(kind, bad, write):
    """Every write method, plain EdgeQdrantClient and TokenPoolingClient on Edge: the bad
    point is named and the collection is exactly as before."""
    vector, problem = BAD_VECTORS[bad]
    client = _client(kind)
    _create(client)
    client.upsert("c", [models.PointStruct(id=i, vector=_vectors(1000 + i), payload={"old": i}) for i in range(N_POINTS)])
    before = _stored(client)
    with pytest.raises(ValueError, match=problem) as exc:
        WRITES[write](client, _points(vector))
    assert f"point {BAD_AT}" in str(exc.value)
    assert _stored(client) == before  # not one point of the request written
    client.close()


def test_a_failed_upsert_stays_unwritten_after_reopen(tmp_path):
    """The subset Edge had stored changed after a reopen: now there is none to change."""
    for kind in ("plain", "pooling", "local"):
        path = tmp_path / kind
        client = _client(kind, path)
        _create(client)
        with pytest.raises(ValueError):
            client.upsert("c", _points(BAD_VECTORS["dense wrong size"][0]))
        assert client.count("c").count == 0
        client.close()
        client = _client(kind, path)
        assert client.count("c").count == 0, kind
        client.close()


# -- item 14: uploads of sized inputs are checked whole; generators batch by batch ----------------
UPLOADS = {
    "upload_points list": (lambda c, pts: c.upload_points("c", pts, batch_size=BATCH), True),
    "upload_points generator": (lambda c, pts: c.upload_points("c", iter(pts), batch_size=BATCH), False),
    "upload_collection list": (lambda c, pts: c.upload_collection("c", [p.vector for p in pts], ids=[p.id for p in pts], batch_size=BATCH), True),
    "upload_collection columns": (lambda c, pts: c.upload_collection("c", {
        "d": np.array([p.vector["d"] for p in pts], dtype=np.float64), "c": [p.vector["c"] for p in pts],
    }, ids=[p.id for p in pts], batch_size=BATCH), True),
    "upload_collection generator": (lambda c, pts: c.upload_collection("c", (p.vector for p in pts), ids=[p.id for p in pts], batch_size=BATCH), False),
}


@pytest.mark.parametrize(("kind", "pooled"), [("plain", False), ("pooling", True), ("pooling", False), ("local", True)])
@pytest.mark.parametrize("upload", list(UPLOADS))
def test_uploads_check_sized_inputs_whole_and_stream_generators(kind, pooled, upload):
    """Sized inputs (lists, arrays, dicts of columns): nothing written. Generators on Edge:
    exactly the batches before the bad point's own, each whole; local mode: nothing."""
    call, sized = UPLOADS[upload]
    client = _client(kind)
    _create(client, pooled)
    with pytest.raises(ValueError, match=f"point {BAD_AT}|Vector contains NaN"):
        call(client, _points({"d": [NAN] * D}))
    written = client.count("c").count
    if sized or kind == "local":  # local mode collects a whole upload before writing
        assert written == 0
    else:  # a generator: the batches before the bad point's batch are written, whole
        assert written == BAD_AT // BATCH * BATCH
        ids = sorted(r.id for r in client.scroll("c", limit=1000)[0])
        assert ids == list(range(written))
    client.close()


def test_async_plain_client_checks_sized_uploads_whole():
    async def run() -> int:
        client = AsyncEdgeQdrantClient(":memory:")
        kw = _config(False)
        await client.create_collection("c", kw["vectors_config"], kw["sparse_vectors_config"])
        with pytest.raises(ValueError, match=f"point {BAD_AT}, vector 'd': wrong dimension"):
            client.upload_points("c", _points({"d": [0.1] * 3}), batch_size=BATCH)
        with pytest.raises(ValueError, match=f"point '#{BAD_AT}', vector 'd': wrong dimension"):
            client.upload_collection("c", [p.vector for p in _points({"d": [0.1] * 3})], batch_size=BATCH)
        n = (await client.count("c")).count
        await client.close()
        return n

    assert asyncio.run(run()) == 0
