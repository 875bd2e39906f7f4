"""Write path on every backend: each write method, sync and async, pools what is configured.

Every writer below is an ``async def`` that awaits only what the client returns as
awaitable, so one writer serves the sync client (run with ``asyncio.run``) and the async
client (awaited in an anyio test).
"""

from __future__ import annotations

import asyncio
import inspect
import warnings
from typing import Any

import numpy as np
import pytest
from qdrant_client import models

from qdrant_tokenpool import InvalidMultivectorError, PoolingConfig, PoolingConfigError, pool_tokens
from qdrant_tokenpool.firststage import Muvera, MuveraParams

DIM = 16
DENSE = 8
MAXSIM = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)


def vectors_config() -> dict[str, models.VectorParams]:
    # DOT for the untouched vectors: Qdrant stores them exactly as given (Cosine normalises).
    return {
        "colbert": models.VectorParams(size=DIM, distance=models.Distance.COSINE, multivector_config=MAXSIM),
        "plain_mv": models.VectorParams(size=DIM, distance=models.Distance.DOT, multivector_config=MAXSIM),
        "dense": models.VectorParams(size=DENSE, distance=models.Distance.DOT),
    }


async def aw(x: Any) -> Any:
    return await x if inspect.isawaitable(x) else x


def make_docs(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(n):
        tokens = int(rng.integers(3, 20))
        docs.append(
            {
                "id": i,
                "colbert": rng.normal(size=(tokens, DIM)).astype(np.float32),
                "plain_mv": rng.normal(size=(4, DIM)).astype(np.float32),
                "dense": rng.normal(size=DENSE).astype(np.float32),
                "payload": {"i": i, "tag": f"doc-{i}"},
            }
        )
    return docs


def point(d: dict[str, Any]) -> models.PointStruct:
    return models.PointStruct(
        id=d["id"],
        vector={"colbert": d["colbert"].tolist(), "plain_mv": d["plain_mv"].tolist(), "dense": d["dense"].tolist()},
        payload=d["payload"],
    )


# -- one writer per write method (and request shape) ---------------------------------------
async def w_upsert_points(c, name, docs):
    await aw(c.upsert(name, [point(d) for d in docs]))


async def w_upsert_batch(c, name, docs):
    batch = models.Batch(
        ids=[d["id"] for d in docs],
        vectors={k: [d[k].tolist() for d in docs] for k in ("colbert", "plain_mv", "dense")},
        payloads=[d["payload"] for d in docs],
    )
    await aw(c.upsert(name, batch))


async def w_upload_points(c, name, docs):
    # a generator: streamed in batches
    await aw(c.upload_points(name, (point(d) for d in docs), batch_size=16, wait=True))


async def w_upload_points_list(c, name, docs):
    # a list: validated whole before the first batch is sent, on every backend
    await aw(c.upload_points(name, [point(d) for d in docs], batch_size=16, wait=True))


async def w_upload_collection(c, name, docs):
    await aw(
        c.upload_collection(
            name,
            vectors={
                "colbert": [d["colbert"] for d in docs],  # ragged: a list of (n_i, d) arrays
                "plain_mv": np.stack([d["plain_mv"] for d in docs]),
                "dense": np.stack([d["dense"] for d in docs]),
            },
            payload=[d["payload"] for d in docs],
            ids=[d["id"] for d in docs],
            batch_size=16,
            wait=True,
        )
    )


async def w_batch_upsert_list(c, name, docs):
    op = models.UpsertOperation(upsert=models.PointsList(points=[point(d) for d in docs]))
    await aw(c.batch_update_points(name, [op]))


async def w_batch_upsert_batch(c, name, docs):
    batch = models.Batch(
        ids=[d["id"] for d in docs],
        vectors={k: [d[k].tolist() for d in docs] for k in ("colbert", "plain_mv", "dense")},
        payloads=[d["payload"] for d in docs],
    )
    await aw(c.batch_update_points(name, [models.UpsertOperation(upsert=models.PointsBatch(batch=batch))]))


async def _without_colbert(c, name, docs):
    # points first written without the pooled vector; the tested call then adds it
    with c.pooling_disabled():
        await aw(
            c.upsert(
                name,
                [
                    models.PointStruct(
                        id=d["id"],
                        vector={"plain_mv": d["plain_mv"].tolist(), "dense": d["dense"].tolist()},
                        payload=d["payload"],
                    )
                    for d in docs
                ],
            )
        )


async def w_update_vectors(c, name, docs):
    await _without_colbert(c, name, docs)
    pv = [models.PointVectors(id=d["id"], vector={"colbert": d["colbert"].tolist()}) for d in docs]
    await aw(c.update_vectors(name, pv))


async def w_batch_update_vectors(c, name, docs):
    await _without_colbert(c, name, docs)
    pv = [models.PointVectors(id=d["id"], vector={"colbert": d["colbert"].tolist()}) for d in docs]
    op = models.UpdateVectorsOperation(update_vectors=models.UpdateVectors(points=pv))
    await aw(c.batch_update_points(name, [op]))


WRITERS = {
    "upsert-points": w_upsert_points,
    "upsert-batch": w_upsert_batch,
    "upload_points": w_upload_points,
    "upload_collection": w_upload_collection,
    "batch-upsert-list": w_batch_upsert_list,
    "batch-upsert-batch": w_batch_upsert_batch,
    "update_vectors": w_update_vectors,
    "batch-update-vectors": w_batch_update_vectors,
}


# -- checks ------------------------------------------------------------------------------
def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


async def read_all(c, name, ids) -> dict[Any, models.Record]:
    recs = await aw(c.retrieve(name, ids, with_vectors=True, with_payload=True))
    return {r.id: r for r in recs}


async def check_pooled(c, name, docs, pool_factor):
    got = await read_all(c, name, [d["id"] for d in docs])
    assert sorted(got) == sorted(d["id"] for d in docs)
    for d in docs:
        rec = got[d["id"]]
        expected = pool_tokens(d["colbert"], pool_factor)
        stored = np.asarray(rec.vector["colbert"], dtype=np.float32)
        assert stored.shape == expected.shape  # exactly the pooled count
        # a Cosine collection stores unit rows (the protected token is not normalised by pooling)
        np.testing.assert_allclose(stored, unit_rows(expected), atol=1e-5)
        # untouched vectors and payloads: exactly as written
        np.testing.assert_array_equal(np.asarray(rec.vector["plain_mv"], dtype=np.float32), d["plain_mv"])
        np.testing.assert_array_equal(np.asarray(rec.vector["dense"], dtype=np.float32), d["dense"])
        assert rec.payload == d["payload"]


async def create(c, name, pool_factor=2):
    await aw(c.create_collection(name, vectors_config(), pooling={"colbert": PoolingConfig(pool_factor=pool_factor)}))


# -- pooled writes, per method, sync and async ----------------------------------------------
@pytest.mark.parametrize("method", list(WRITERS))
def test_sync_write_pools(client, collection_name, method):
    async def go():
        await create(client, collection_name, pool_factor=3)
        docs = make_docs(12)
        await WRITERS[method](client, collection_name, docs)
        await check_pooled(client, collection_name, docs, 3)

    asyncio.run(go())


@pytest.mark.anyio
@pytest.mark.parametrize("method", list(WRITERS))
async def test_async_write_pools(async_client, collection_name, method):
    await create(async_client, collection_name, pool_factor=3)
    docs = make_docs(12, seed=1)
    await WRITERS[method](async_client, collection_name, docs)
    await check_pooled(async_client, collection_name, docs, 3)


# -- a bad point in a batch of 100 leaves the collection unchanged ------------------------
BAD = {
    "dense-for-multivector": lambda rng: rng.normal(size=DIM).astype(np.float32),
    "wrong-dim": lambda rng: rng.normal(size=(5, DIM + 1)).astype(np.float32),
    "nan": lambda rng: np.where(np.eye(5, DIM) > 0, np.nan, 1.0).astype(np.float32),
    "empty": lambda rng: np.zeros((0, DIM), dtype=np.float32),
}
BAD_ID = 77  # in the second upload batch of 64


async def check_bad_batch(c, name, method, bad_kind):
    await create(c, name)
    before = make_docs(3, seed=5)
    await w_upsert_points(c, name, before)
    docs = make_docs(100, seed=6)  # ids 0..99 overlap the 3 stored points
    docs[BAD_ID]["colbert"] = BAD[bad_kind](np.random.default_rng(0))
    with pytest.raises(InvalidMultivectorError) as err:
        await INSERT_WRITERS[method](c, name, docs)
    assert err.value.point_id == BAD_ID and err.value.vector_name == "colbert"
    assert f"point {BAD_ID}" in str(err.value) and "'colbert'" in str(err.value)
    assert (await aw(c.count(name))).count == 3
    await check_pooled(c, name, before, 2)


# all-or-nothing writers: upload_points gets a list here (a generator is validated batch by
# batch on a server, see docs/write-path.md)
INSERT_WRITERS = {
    **{m: w for m, w in WRITERS.items() if m not in ("update_vectors", "batch-update-vectors")},
    "upload_points": w_upload_points_list,
}
INSERTS = list(INSERT_WRITERS)


@pytest.mark.parametrize("bad_kind", list(BAD))
@pytest.mark.parametrize("method", INSERTS)
def test_sync_bad_point_writes_nothing(client, collection_name, method, bad_kind):
    asyncio.run(check_bad_batch(client, collection_name, method, bad_kind))


@pytest.mark.anyio
@pytest.mark.parametrize("method", INSERTS)
async def test_async_bad_point_writes_nothing(async_client, collection_name, method):
    await check_bad_batch(async_client, collection_name, method, "wrong-dim")


async def check_bad_update(c, name, method):
    await create(c, name)
    docs = make_docs(100, seed=8)
    await w_upsert_points(c, name, docs)
    new = make_docs(100, seed=9)
    new[BAD_ID]["colbert"] = new[BAD_ID]["colbert"][:, :-1]
    pv = [models.PointVectors(id=d["id"], vector={"colbert": d["colbert"].tolist()}) for d in new]
    with pytest.raises(InvalidMultivectorError, match=f"point {BAD_ID}, vector 'colbert': wrong dimension"):
        if method == "update_vectors":
            await aw(c.update_vectors(name, pv))
        else:
            op = models.UpdateVectorsOperation(update_vectors=models.UpdateVectors(points=pv))
            await aw(c.batch_update_points(name, [op]))
    await check_pooled(c, name, docs, 2)  # the old vectors, all of them


@pytest.mark.parametrize("method", ["update_vectors", "batch-update-vectors"])
def test_sync_bad_update_writes_nothing(client, collection_name, method):
    asyncio.run(check_bad_update(client, collection_name, method))


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["update_vectors", "batch-update-vectors"])
async def test_async_bad_update_writes_nothing(async_client, collection_name, method):
    await check_bad_update(async_client, collection_name, method)


async def check_batch_lengths_refused(c, name):
    await create(c, name)
    docs = make_docs(3)
    rows = [d["colbert"].tolist() for d in docs]
    cases = [
        (models.Batch(ids=[1, 2, 3], vectors={"colbert": rows[:2]}), r"Batch: vector 'colbert' has 2 rows for 3 ids"),
        (models.Batch(ids=[1], vectors={"colbert": rows[:2]}), r"Batch: vector 'colbert' has 2 rows for 1 ids"),
        (models.Batch(ids=[1, 2], vectors={"colbert": rows[:2]}, payloads=[{}]), r"Batch: 1 payloads for 2 ids"),
    ]
    for batch, problem in cases:
        with pytest.raises(ValueError, match=problem):
            await aw(c.upsert(name, batch))
        op = models.UpsertOperation(upsert=models.PointsBatch(batch=batch))
        with pytest.raises(ValueError, match=problem):
            await aw(c.batch_update_points(name, [op]))
    assert (await aw(c.count(name))).count == 0


def test_sync_batch_without_one_row_per_id_is_refused_by_name(client, collection_name):
    asyncio.run(check_batch_lengths_refused(client, collection_name))


@pytest.mark.anyio
async def test_async_batch_without_one_row_per_id_is_refused_by_name(async_client, collection_name):
    await check_batch_lengths_refused(async_client, collection_name)


# -- config: survives clients, separate per collection, extras ------------------------------
def test_config_survives_new_client_and_pools_there(reopen, collection_name):
    first = reopen()
    asyncio.run(create(first, collection_name, pool_factor=4))
    first.close()
    second = reopen()
    try:
        assert second.get_pooling(collection_name) == {"colbert": PoolingConfig(pool_factor=4)}
        docs = make_docs(5)
        asyncio.run(w_upsert_points(second, collection_name, docs))
        asyncio.run(check_pooled(second, collection_name, docs, 4))
    finally:
        second.close()


@pytest.mark.anyio
async def test_async_config_survives_new_client(reopen_async, collection_name):
    first = reopen_async()
    await create(first, collection_name, pool_factor=4)
    await first.close()
    second = reopen_async()
    try:
        assert await second.get_pooling(collection_name) == {"colbert": PoolingConfig(pool_factor=4)}
        docs = make_docs(5)
        await w_upsert_points(second, collection_name, docs)
        await check_pooled(second, collection_name, docs, 4)
    finally:
        await second.close()


def test_two_collections_with_different_pool_factors(client, collection_name):
    other = collection_name + "_b"
    try:
        asyncio.run(create(client, collection_name, pool_factor=2))
        asyncio.run(create(client, other, pool_factor=4))
        docs = make_docs(6)
        asyncio.run(w_upsert_points(client, collection_name, docs))
        asyncio.run(w_upsert_points(client, other, docs))
        asyncio.run(check_pooled(client, collection_name, docs, 2))
        asyncio.run(check_pooled(client, other, docs, 4))
    finally:
        client.delete_collection(other)


def test_unconfigured_collection_passes_through(client, collection_name):
    client.create_collection(collection_name, vectors_config())
    docs = make_docs(4)
    asyncio.run(w_upsert_points(client, collection_name, docs))
    recs = asyncio.run(read_all(client, collection_name, [d["id"] for d in docs]))
    for d in docs:
        stored = np.asarray(recs[d["id"]].vector["colbert"], dtype=np.float32)
        np.testing.assert_allclose(stored, unit_rows(d["colbert"]), atol=1e-6)  # all tokens kept


def test_extra_vectors_are_filled(client, collection_name):
    cfg = PoolingConfig(pool_factor=2, summary_vector="summary", keep_original_vector="full")
    mv = vectors_config()["colbert"]
    client.create_collection(collection_name, {"colbert": mv}, pooling={"colbert": cfg})
    docs = make_docs(5)
    client.upsert(collection_name, [models.PointStruct(id=d["id"], vector={"colbert": d["colbert"]}) for d in docs])
    recs = asyncio.run(read_all(client, collection_name, [d["id"] for d in docs]))
    for d in docs:
        v = recs[d["id"]].vector
        assert np.asarray(v["colbert"]).shape == pool_tokens(d["colbert"], 2).shape
        np.testing.assert_allclose(np.asarray(v["full"]), unit_rows(d["colbert"]), atol=1e-6)
        mean = unit_rows(d["colbert"]).mean(axis=0)
        np.testing.assert_allclose(np.asarray(v["summary"]), mean / np.linalg.norm(mean), atol=1e-6)


MUVERA = MuveraParams(k_sim=2, dim_proj=4, r_reps=3, seed=9)


async def check_fde(c, name, docs):
    got = await read_all(c, name, [d["id"] for d in docs])
    enc = Muvera.for_dim(DIM, MUVERA)
    want = enc.encode_documents([d["colbert"] for d in docs], normalize=True)
    for d, w in zip(docs, want):
        np.testing.assert_allclose(np.asarray(got[d["id"]].vector["fde"]), w, rtol=1e-4, atol=1e-5)


async def create_muvera(c, name):
    cfg = PoolingConfig(pool_factor=3, summary_vector="fde", summary_method="muvera", muvera=MUVERA)
    await aw(c.create_collection(name, vectors_config(), pooling={"colbert": cfg}))


@pytest.mark.parametrize("method", list(WRITERS))
def test_sync_write_fills_the_muvera_summary(client, collection_name, method):
    async def go():
        await create_muvera(client, collection_name)
        docs = make_docs(12, seed=2)
        await WRITERS[method](client, collection_name, docs)
        await check_pooled(client, collection_name, docs, 3)
        await check_fde(client, collection_name, docs)

    asyncio.run(go())


@pytest.mark.anyio
@pytest.mark.parametrize("method", list(WRITERS))
async def test_async_write_fills_the_muvera_summary(async_client, collection_name, method):
    await create_muvera(async_client, collection_name)
    docs = make_docs(12, seed=3)
    await WRITERS[method](async_client, collection_name, docs)
    await check_pooled(async_client, collection_name, docs, 3)
    await check_fde(async_client, collection_name, docs)


def test_default_unnamed_vector_is_pooled(client, collection_name):
    client.create_collection(
        collection_name, vectors_config()["colbert"], pooling=PoolingConfig(pool_factor=2)
    )
    docs = make_docs(4)
    client.upsert(collection_name, [models.PointStruct(id=d["id"], vector=d["colbert"].tolist()) for d in docs])
    client.upload_collection(
        collection_name, [d["colbert"] for d in docs], ids=[10 + d["id"] for d in docs], wait=True
    )
    for offset in (0, 10):
        recs = client.retrieve(collection_name, [offset + d["id"] for d in docs], with_vectors=True)
        by_id = {r.id: r for r in recs}
        for d in docs:
            stored = np.asarray(by_id[offset + d["id"]].vector, dtype=np.float32)
            np.testing.assert_allclose(stored, unit_rows(pool_tokens(d["colbert"], 2)), atol=1e-5)
    with pytest.raises(InvalidMultivectorError, match="point 99, default vector '': expected a multivector"):
        client.upsert(collection_name, [models.PointStruct(id=99, vector=[0.5] * DIM)])


def test_upload_collection_streams_a_generator(client, collection_name):
    asyncio.run(create(client, collection_name, pool_factor=2))
    docs = make_docs(40)
    consumed = []

    def gen():
        for d in docs:
            consumed.append(d["id"])
            yield {"colbert": d["colbert"], "plain_mv": d["plain_mv"], "dense": d["dense"]}

    client.upload_collection(
        collection_name, gen(), payload=(d["payload"] for d in docs), ids=iter(range(40)), batch_size=8, wait=True
    )
    assert consumed == list(range(40))
    asyncio.run(check_pooled(client, collection_name, docs, 2))


def test_inference_object_with_cloud_inference_is_refused(client, collection_name):
    """With cloud inference the server embeds: no token vectors on the client to pool.
    (Local inference embeds, then pools: tests/test_fastembed.py, on a real fastembed.)"""
    asyncio.run(create(client, collection_name))
    client.cloud_inference = True  # what the constructor sets (local mode refuses it there)
    doc = models.Document(text="hello", model="colbert-ir/colbertv2.0")
    with pytest.raises(
        InvalidMultivectorError, match="point 1, vector 'colbert': got a models.Document.*cloud"
    ):
        client.upsert(collection_name, [models.PointStruct(id=1, vector={"colbert": doc})])
    client.cloud_inference = False
    assert client.count(collection_name).count == 0


def test_over_the_cap_given_but_not_pooled_is_stored(client, collection_name):
    """9,000 x 128 (1,152,000 floats) at pool_factor 2 stores 4,500 x 128: accepted (it was
    refused before pooling); only a keep-original copy over the cap is refused, by name."""
    mv = models.VectorParams(size=128, distance=models.Distance.COSINE, multivector_config=MAXSIM)
    cfg = PoolingConfig(pool_factor=2, method="sequential", protected_tokens=0)
    client.create_collection(collection_name, {"colbert": mv, "full": mv}, pooling={"colbert": cfg})
    doc = np.random.default_rng(0).standard_normal((9000, 128)).astype(np.float32)
    client.upsert(collection_name, [models.PointStruct(id=1, vector={"colbert": doc})])
    stored = client.retrieve(collection_name, [1], with_vectors=True)[0].vector["colbert"]
    assert np.asarray(stored).shape == (4500, 128)
    client.set_pooling(
        collection_name,
        {"colbert": PoolingConfig(pool_factor=2, method="sequential", keep_original_vector="full")},
    )
    with pytest.raises(InvalidMultivectorError, match=r"point 3, vector 'colbert': multivector too large to keep unpooled in 'full': 9000 x 128 = 1152000 floats; .*\(the pooled vector would be 4500 x 128 and fit\)"):
        client.upsert(collection_name, [models.PointStruct(id=3, vector={"colbert": doc})])
    assert client.count(collection_name).count == 1


def test_pooling_disabled_and_migrate(client, collection_name):
    asyncio.run(create(client, collection_name, pool_factor=2))
    docs = make_docs(6)
    asyncio.run(w_upsert_points(client, collection_name, docs))
    # copy the pooled collection into a second, embedded pooling client: without pooling
    from qdrant_tokenpool import TokenPoolingClient

    dest = TokenPoolingClient(":memory:")
    try:
        with dest.pooling_disabled():
            client.migrate(dest, [collection_name])
        assert dest.get_pooling(collection_name) == {"colbert": PoolingConfig(pool_factor=2)}
        asyncio.run(check_pooled(dest, collection_name, docs, 2))  # pooled once, not twice
        # and pooling is back on afterwards
        more = make_docs(2, seed=3)
        for d in more:
            d["id"] += 100
        asyncio.run(w_upsert_points(dest, collection_name, more))
        asyncio.run(check_pooled(dest, collection_name, more, 2))
    finally:
        dest.close()


def test_schema_changes_refresh_the_cached_config(client, collection_name):
    client.create_collection(collection_name, {"dense": vectors_config()["dense"]})
    assert client.get_pooling(collection_name) == {}  # cached now
    client.create_vector_name(
        collection_name,
        "colbert",
        models.DenseVectorNameConfig(
            dense=models.DenseVectorConfig(size=DIM, distance=models.Distance.COSINE, multivector_config=MAXSIM)
        ),
    )
    client.set_pooling(collection_name, {"colbert": PoolingConfig(pool_factor=2)})
    docs = make_docs(2)
    client.upsert(collection_name, [models.PointStruct(id=d["id"], vector={"colbert": d["colbert"]}) for d in docs])
    stored = client.retrieve(collection_name, [0], with_vectors=True)[0].vector["colbert"]
    assert len(stored) == len(pool_tokens(docs[0]["colbert"], 2))
    # a metadata change made by update_collection (as another tool would) is seen at once
    client.update_collection(
        collection_name,
        metadata={"qdrant_tokenpool": {"format": 1, "vectors": {"colbert": {"pool_factor": 3}}}},
    )
    assert client.get_pooling(collection_name) == {"colbert": PoolingConfig(pool_factor=3)}


def test_another_clients_change_is_seen_after_refresh(reopen, backend, collection_name):
    if not backend.remote:
        pytest.skip("two clients on one embedded path cannot be open at once")
    a, b = reopen(), reopen()
    try:
        asyncio.run(create(a, collection_name, pool_factor=2))
        assert b.get_pooling(collection_name) == {"colbert": PoolingConfig(pool_factor=2)}
        a.set_pooling(collection_name, {"colbert": PoolingConfig(pool_factor=4)})
        assert b.get_pooling(collection_name) == {"colbert": PoolingConfig(pool_factor=2)}  # cached
        b.refresh_pooling(collection_name)
        assert b.get_pooling(collection_name) == {"colbert": PoolingConfig(pool_factor=4)}
    finally:
        a.close()
        b.close()


# -- pooling started while the request is still being read (threads) -------------------------
@pytest.mark.parametrize("method", list(WRITERS))
def test_pooling_started_while_reading_writes_the_same(client, backend, collection_name, method, monkeypatch):
    """Every document handed to the pooling threads as soon as it is validated (forced
    here): the same pooled vectors on every backend; Qdrant Edge gets the ones still
    pooling as PendingArray, and a bad point at the end still writes nothing."""
    from qdrant_tokenpool import write_path as wp
    from qdrant_tokenpool.pooling import batch, kernels

    monkeypatch.setattr(wp.plan, "STREAM_CHUNK_SECONDS", 0.0)
    client.pooling_workers = 2
    started, resolved = [], []
    real_soon, real_array = batch.pool_soon, wp.plan.PendingArray.__array__

    def soon(arrays, spec, workers=None):
        future = real_soon(arrays, spec, workers)
        started.append(future is not None)
        return future

    def array(self, *a, **k):
        resolved.append(1)
        return real_array(self, *a, **k)

    monkeypatch.setattr(wp.plan, "pool_soon", soon)
    monkeypatch.setattr(wp.plan.PendingArray, "__array__", array)
    asyncio.run(create(client, collection_name, pool_factor=3))
    docs = make_docs(24, seed=5)
    bad = [dict(d) for d in docs]
    bad[23]["colbert"] = bad[23]["colbert"][:, :-2]
    if method not in ("upload_points",):  # a generator upload writes the batches before it
        with pytest.raises(InvalidMultivectorError, match="point 23"):
            asyncio.run(WRITERS[method](client, collection_name, bad))
        if "update" not in method:  # those write the points without 'colbert' first
            assert client.count(collection_name).count == 0
    asyncio.run(WRITERS[method](client, collection_name, docs))
    asyncio.run(check_pooled(client, collection_name, docs, 3))
    assert any(started) == kernels.compiled_kernels()
    edge_points = backend.engine == "edge" and method in ("upsert-points", "upload_points", "upload_collection")
    # only Edge's point lists take vectors still being pooled
    assert bool(resolved) == (edge_points and kernels.compiled_kernels())


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["upsert-points", "upload_collection"])
async def test_async_pooling_started_while_reading_writes_the_same(async_client, collection_name, method, monkeypatch):
    from qdrant_tokenpool import write_path as wp

    monkeypatch.setattr(wp.plan, "STREAM_CHUNK_SECONDS", 0.0)
    async_client.pooling_workers = 2
    await create(async_client, collection_name, pool_factor=3)
    docs = make_docs(24, seed=6)
    await WRITERS[method](async_client, collection_name, docs)
    await check_pooled(async_client, collection_name, docs, 3)


# -- the server code path (split requests) against real storage ------------------------------
@pytest.mark.parametrize("method", ["upsert-points", "upsert-batch", "batch-upsert-list", "update_vectors"])
def test_split_requests_write_everything_pooled(client, collection_name, method, monkeypatch):
    """Requests split for the REST limit (forced small here) still write every point pooled,
    and a bad point still stops the whole request before the first part is sent."""
    from qdrant_client import QdrantClient

    from qdrant_tokenpool import write_path as wp

    monkeypatch.setattr(wp.flows, "REQUEST_FLOAT_BUDGET", 3 * 10 * DIM)  # ~3 pooled docs per part
    monkeypatch.setattr(client._pooling_state, "remote", True)
    parent = QdrantClient
    sent = []

    def counting(name):
        real = getattr(parent, name)
        return lambda self, *a, **k: sent.append(name) or real(self, *a, **k)

    for name in ("upsert", "update_vectors", "batch_update_points"):
        monkeypatch.setattr(parent, name, counting(name))

    asyncio.run(create(client, collection_name))
    docs = make_docs(30, seed=11)
    bad = [dict(d) for d in docs]
    bad[25]["colbert"] = bad[25]["colbert"][:, :-2]
    sent.clear()
    with pytest.raises(InvalidMultivectorError, match="point 25"):
        asyncio.run(WRITERS[method](client, collection_name, bad))
    n_before = len(sent)
    # nothing sent but update_vectors' own set-up write of the points without 'colbert'
    assert sent == (["upsert"] if method == "update_vectors" else [])
    asyncio.run(WRITERS[method](client, collection_name, docs))
    assert len(sent) - n_before > 3  # really split
    asyncio.run(check_pooled(client, collection_name, docs, 2))


def test_recreate_collection_with_pooling(client, collection_name):
    asyncio.run(create(client, collection_name, pool_factor=2))
    assert client.get_pooling(collection_name)["colbert"].pool_factor == 2  # cached
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # deprecated upstream, still served
        client.recreate_collection(
            collection_name, vectors_config(), pooling={"colbert": PoolingConfig(pool_factor=4)}
        )
    docs = make_docs(3)
    asyncio.run(w_upsert_points(client, collection_name, docs))
    asyncio.run(check_pooled(client, collection_name, docs, 4))


def test_generator_upload_with_a_bad_point(client, backend, collection_name):
    """A generator is validated batch by batch: the error names the point; on local mode
    nothing is written (it collects the whole upload first); on engines that stream (a
    server, Qdrant Edge) earlier batches stay."""
    asyncio.run(create(client, collection_name))
    docs = make_docs(100, seed=12)
    docs[BAD_ID]["colbert"] = docs[BAD_ID]["colbert"][:, :-1]
    with pytest.raises(InvalidMultivectorError, match=f"point {BAD_ID}, vector 'colbert'"):
        asyncio.run(w_upload_points(client, collection_name, docs))
    count = client.count(collection_name).count
    if backend.streams_uploads:
        assert count < BAD_ID  # only whole batches before the bad one
    else:
        assert count == 0


def test_pooled_points_survive_a_reopen(reopen, collection_name):
    cfg = PoolingConfig(pool_factor=2, summary_vector="summary", keep_original_vector="full")
    first = reopen()
    first.create_collection(collection_name, vectors_config(), pooling={"colbert": cfg})
    docs = make_docs(8, seed=21)
    asyncio.run(w_upsert_points(first, collection_name, docs))
    asyncio.run(w_upsert_batch(first, collection_name, [dict(d, id=d["id"] + 100) for d in docs]))
    first.close()
    second = reopen()  # embedded: the same path= folder, loaded from disk
    try:
        asyncio.run(check_pooled(second, collection_name, docs, 2))
        again = [dict(d, id=d["id"] + 100) for d in docs]
        asyncio.run(check_pooled(second, collection_name, again, 2))
        rec = second.retrieve(collection_name, [0], with_vectors=True)[0]
        np.testing.assert_allclose(rec.vector["full"], unit_rows(docs[0]["colbert"]), atol=1e-6)
        assert isinstance(rec.vector["colbert"], list)
    finally:
        second.close()


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_extreme_finite_values_are_stored_as_unit_rows(client, collection_name, scale):
    """Token vectors scaled by 1e-30 (squares underflow in float32) or 1e30 (squares
    overflow) are stored as the unit rows of the unscaled vectors:
    pooled, kept-original and summary; no NaN or zero row, and queries score them."""
    cfg = PoolingConfig(pool_factor=2, summary_vector="summary", keep_original_vector="full")
    mv = vectors_config()["colbert"]
    client.create_collection(collection_name, {"colbert": mv}, pooling={"colbert": cfg})
    docs = make_docs(4, seed=5)
    # powers of two keep the scaled tokens' directions exact: only the magnitude is odd
    factor = np.float32(2.0 ** np.round(np.log2(scale)))
    client.upsert(
        collection_name,
        [models.PointStruct(id=d["id"], vector={"colbert": d["colbert"] * factor}) for d in docs],
    )
    recs = asyncio.run(read_all(client, collection_name, [d["id"] for d in docs]))
    for d in docs:
        v = recs[d["id"]].vector
        for name in ("colbert", "full", "summary"):
            assert np.isfinite(np.asarray(v[name], dtype=np.float32)).all(), name
        np.testing.assert_allclose(
            np.asarray(v["colbert"]), unit_rows(pool_tokens(d["colbert"], 2)), atol=1e-5
        )
        np.testing.assert_allclose(np.asarray(v["full"]), unit_rows(d["colbert"]), atol=1e-6)
        mean = unit_rows(d["colbert"]).mean(axis=0)
        np.testing.assert_allclose(np.asarray(v["summary"]), mean / np.linalg.norm(mean), atol=1e-6)
    hits = client.query_late_interaction(collection_name, docs[0]["colbert"], limit=4).points
    assert len(hits) == 4 and hits[0].id == docs[0]["id"]
    assert all(np.isfinite(h.score) for h in hits)


def test_values_outside_float32_are_refused_by_name(client, collection_name):
    asyncio.run(create(client, collection_name))
    big = make_docs(1)[0]["colbert"].astype(np.float64)
    big[2, 3] = 1e39
    with pytest.raises(InvalidMultivectorError, match=r"point 7, vector 'colbert': value 1e\+39 at row 2, column 3 is outside the float32 range"):
        client.upsert(collection_name, [models.PointStruct.model_construct(id=7, vector={"colbert": big})])
    tiny = make_docs(1)[0]["colbert"].astype(np.float64)
    tiny[1] = 1e-50
    with pytest.raises(InvalidMultivectorError, match="point 8, vector 'colbert': row 1 underflows to a zero vector"):
        client.upsert(collection_name, [models.PointStruct.model_construct(id=8, vector={"colbert": tiny})])
    assert client.count(collection_name).count == 0


@pytest.mark.parametrize(
    "stored, problem",
    [
        ({"format": 1}, "'vectors' is missing"),
        ({"format": 1, "vectors": {}}, "'vectors' is empty"),
        ({"format": True, "vectors": {"colbert": {"pool_factor": 2}}}, "'format' must be an integer"),
        ({"format": 1.0, "vectors": {"colbert": {"pool_factor": 2}}}, "'format' must be an integer"),
        ({"format": 1, "vectors": {"nope": {"pool_factor": 2}}}, "has no vector 'nope'"),
        ({"format": 1, "vectors": {"plain_mv": {"pool_factor": 2, "summary_vector": "gone"}}}, "summary vector 'gone'"),
    ],
)
def test_partial_or_foreign_config_is_refused_on_read(client, collection_name, stored, problem):
    """A config another tool wrote, partial or not fitting the collection, stops writes and
    reads of the config with a PoolingConfigError naming the collection: never 'no pooling'
    (unpooled writes) nor a bare KeyError later. Replacing or removing it repairs it."""
    client.create_collection(collection_name, vectors_config(), metadata={"qdrant_tokenpool": stored})
    docs = make_docs(2)
    for attempt in (
        lambda: client.get_pooling(collection_name),
        lambda: client.upsert(collection_name, [point(d) for d in docs]),
        lambda: client.upload_points(collection_name, [point(d) for d in docs]),
        lambda: client.query_late_interaction(collection_name, docs[0]["colbert"], using="colbert"),
    ):
        with pytest.raises(PoolingConfigError, match=f"collection '{collection_name}'") as err:
            attempt()
        assert problem in str(err.value)
    assert client.count(collection_name).count == 0
    client.set_pooling(collection_name, {"colbert": PoolingConfig(pool_factor=2)}, replace=True)
    asyncio.run(w_upsert_points(client, collection_name, docs))
    asyncio.run(check_pooled(client, collection_name, docs, 2))
    client.update_collection(collection_name, metadata={"qdrant_tokenpool": stored})
    assert client.remove_pooling(collection_name) == {}
    assert client.get_pooling(collection_name) == {}


@pytest.mark.anyio
async def test_async_partial_config_is_refused_on_read(async_client, collection_name):
    await async_client.create_collection(
        collection_name, vectors_config(), metadata={"qdrant_tokenpool": {"format": 1}}
    )
    with pytest.raises(PoolingConfigError, match=f"collection '{collection_name}'.*'vectors' is missing"):
        await async_client.upsert(collection_name, [point(d) for d in make_docs(1)])
    assert (await async_client.count(collection_name)).count == 0


# -- upload_collection with ids / payload shorter than the vectors ------------------------------
def _short_columns(kind: str, docs: list[dict[str, Any]]) -> tuple[Any, Any, Any]:
    """(vectors, payload, ids) for one way of giving upload_collection too few ids/payloads."""
    ids = [d["id"] for d in docs]
    pays = [d["payload"] for d in docs]
    # arrays only: the parent's local mode cannot take a list of arrays in a column
    columns = {"colbert": np.stack([d["colbert"][:3] for d in docs]), "dense": np.stack([d["dense"] for d in docs])}
    return {
        "payload-list": (columns, pays[:2], ids),
        "ids-list": (columns, None, ids[:3]),
        "ids-array": (columns, pays, np.array(ids[:3])),
        "payload-tuple": ([{"colbert": d["colbert"]} for d in docs], tuple(pays[:1]), ids),
        "ids-generator": (columns, None, iter(ids[:3])),
        "vectors-generator": (({"colbert": d["colbert"]} for d in docs), None, ids[:3]),
    }[kind]


SHORT = ["payload-list", "ids-list", "ids-array", "payload-tuple", "ids-generator", "vectors-generator"]


def _outcome(call) -> str | None:
    try:
        call()
    except ValueError as exc:
        return str(exc)
    return None


async def check_short_columns(c, name, kind):
    """The pooled collection behaves as QdrantClient does on a collection without a config
    (same error, same count); list and array inputs write nothing."""
    plain = f"{name}_plain"
    await aw(c.create_collection(name, vectors_config(), pooling={"colbert": PoolingConfig(pool_factor=2)}))
    await aw(c.create_collection(plain, vectors_config()))
    try:
        docs = make_docs(5)
        got = _outcome(lambda: c.upload_collection(name, *_short_columns(kind, docs), wait=True))
        want = _outcome(lambda: c.upload_collection(plain, *_short_columns(kind, docs), wait=True))
        assert got == want
        if kind == "vectors-generator":  # a stream of vectors: the shortest input ends it
            assert got is None and (await aw(c.count(name))).count == 3
        else:
            field = "payload" if kind.startswith("payload") else "ids"
            assert got == f"{field} iterable is shorter than vectors iterable"
        if kind != "ids-generator":  # a stream of ids runs out mid-upload, as in the parent
            assert (await aw(c.count(name))).count == (await aw(c.count(plain))).count
        if kind.endswith(("list", "array", "tuple")):
            assert (await aw(c.count(name))).count == 0
    finally:
        await aw(c.delete_collection(plain))


@pytest.mark.parametrize("kind", SHORT)
def test_upload_collection_with_short_ids_or_payload_raises(client, collection_name, kind):
    asyncio.run(check_short_columns(client, collection_name, kind))


@pytest.mark.anyio
@pytest.mark.parametrize("kind", SHORT)
async def test_async_upload_collection_with_short_ids_or_payload_raises(async_client, collection_name, kind):
    await check_short_columns(async_client, collection_name, kind)


# -- pooling_disabled(): scoped to its own thread / asyncio task -----------------------------
def _n_tokens(c, name, pid) -> int:
    return len(c.retrieve(name, [pid], with_vectors=True)[0].vector["colbert"])


def test_overlapping_pooling_disabled_blocks_in_two_threads(client, collection_name):
    """Thread A opens a block, B opens one, A closes, B closes: each block's writes are
    unpooled, a third thread writing while both are open pools, and pooling is on after
    both (the old switch restored the value it saw on entry: B left it off for good)."""
    import threading

    asyncio.run(create(client, collection_name, pool_factor=2))
    doc = make_docs(1, seed=9)[0]["colbert"]
    doc = np.concatenate([doc, doc, doc])  # enough tokens that pooling shows
    pooled, unpooled = len(pool_tokens(doc, 2)), len(doc)

    def write(pid: int) -> None:
        client.upsert(collection_name, [models.PointStruct(id=pid, vector={"colbert": doc})])

    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def guard(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
                for event in (a_in, b_in, a_out):  # never leave the other thread waiting
                    event.set()
        return run

    @guard
    def thread_a():
        with client.pooling_disabled():
            a_in.set()
            assert b_in.wait(10)
            write(1)
        a_out.set()

    @guard
    def thread_b():
        assert a_in.wait(10)
        with client.pooling_disabled():
            b_in.set()
            assert a_out.wait(10)
            write(2)

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    assert b_in.wait(10)
    write(3)  # another thread, while both blocks are open
    for t in threads:
        t.join()
    assert not errors, errors
    write(4)  # after both blocks
    assert [_n_tokens(client, collection_name, i) for i in (1, 2, 3, 4)] == [unpooled, unpooled, pooled, pooled]


@pytest.mark.anyio
async def test_overlapping_pooling_disabled_blocks_in_two_tasks(async_client, collection_name):
    c = async_client
    await create(c, collection_name, pool_factor=2)
    doc = make_docs(1, seed=9)[0]["colbert"]
    doc = np.concatenate([doc, doc, doc])
    pooled, unpooled = len(pool_tokens(doc, 2)), len(doc)

    async def write(pid: int) -> None:
        await c.upsert(collection_name, [models.PointStruct(id=pid, vector={"colbert": doc})])

    a_in, b_in, a_out = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def task_a():
        with c.pooling_disabled():
            a_in.set()
            await b_in.wait()
            await write(1)
        a_out.set()

    async def task_b():
        await a_in.wait()
        with c.pooling_disabled():
            b_in.set()
            await a_out.wait()
            await write(2)

    async def task_c():
        await b_in.wait()
        await write(3)  # another task, while both blocks are open

    await asyncio.wait_for(asyncio.gather(task_a(), task_b(), task_c()), 20)
    await write(4)
    got = []
    for pid in (1, 2, 3, 4):
        rec = (await c.retrieve(collection_name, [pid], with_vectors=True))[0]
        got.append(len(rec.vector["colbert"]))
    assert got == [unpooled, unpooled, pooled, pooled]
