"""Every pooling knob on every write method, sync and async, on every backend.

Fractional factors, ``max_vectors`` with trailing protected tokens, the Ward distance
threshold, the patch grid, and Qdrant's multivector cap: what each backend stores is
exactly what :func:`pool_tokens` makes of the document with the collection's config
(read back from the collection, so the config round-trips through the metadata too).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import numpy as np
import pytest
from qdrant_client import models
from test_write_path_backends import (
    DIM,
    MAXSIM,
    WRITERS,
    aw,
    read_all,
    unit_rows,
    vectors_config,
    w_upsert_points,
)

from qdrant_tokenpool import InvalidMultivectorError, PoolingConfig, pool_tokens
from qdrant_tokenpool.pooling import max_rows

GRID = (3, 4)
CONFIGS = {
    "fractional": PoolingConfig(pool_factor=1.5),
    "max-vectors-tail": PoolingConfig(pool_factor=1, max_vectors=6, protected_tail_tokens=2),
    "threshold": PoolingConfig(pool_factor=1, distance_threshold=1.2),
    "threshold-pf": PoolingConfig(pool_factor=2, distance_threshold=1.3, max_vectors=5),
    "grid-rows": PoolingConfig(
        pool_factor=1, method="grid", protected_tokens=1, protected_tail_tokens=2, grid_shape=GRID
    ),
    "grid-blocks": PoolingConfig(
        pool_factor=1, method="grid", protected_tokens=1, protected_tail_tokens=2,
        grid_shape=GRID, grid_pool="blocks", grid_block=2,
    ),
}


def knob_docs(cfg: PoolingConfig, n: int, seed: int) -> list[dict[str, Any]]:
    """Documents for ``cfg``: random lengths, or the grid's exact length; some redundant."""
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(n):
        if cfg.grid_shape is not None:
            tokens = cfg.protected_tokens + GRID[0] * GRID[1] + cfg.protected_tail_tokens
        else:
            tokens = int(rng.integers(3, 24))
        colbert = rng.normal(size=(tokens, DIM))
        if i % 2:  # redundant: a few directions repeated, so the threshold merges more
            colbert = np.repeat(rng.normal(size=(3, DIM)), -(-tokens // 3), axis=0)[:tokens]
            colbert += 0.05 * rng.normal(size=colbert.shape)
        docs.append(
            {
                "id": i,
                "colbert": colbert.astype(np.float32),
                "plain_mv": rng.normal(size=(4, DIM)).astype(np.float32),
                "dense": rng.normal(size=8).astype(np.float32),
                "payload": {"i": i},
            }
        )
    return docs


def expected(x: np.ndarray, cfg: PoolingConfig) -> np.ndarray:
    return pool_tokens(x, **dataclasses.asdict(cfg.spec))


async def check_stored(c, name, docs, cfg: PoolingConfig) -> list[int]:
    got = await read_all(c, name, [d["id"] for d in docs])
    assert sorted(got) == sorted(d["id"] for d in docs)
    counts = []
    for d in docs:
        want = expected(d["colbert"], cfg)
        stored = np.asarray(got[d["id"]].vector["colbert"], dtype=np.float32)
        assert stored.shape == want.shape
        np.testing.assert_allclose(stored, unit_rows(want), atol=1e-5)
        np.testing.assert_array_equal(
            np.asarray(got[d["id"]].vector["plain_mv"], dtype=np.float32), d["plain_mv"]
        )
        counts.append(stored.shape[0])
    return counts


async def run_knob(c, name, knob: str, method: str, seed: int) -> None:
    cfg = CONFIGS[knob]
    await aw(c.create_collection(name, vectors_config(), pooling={"colbert": cfg}))
    assert (await aw(c.get_pooling(name))) == {"colbert": cfg}
    docs = knob_docs(cfg, 10, seed)
    await WRITERS[method](c, name, docs)
    counts = await check_stored(c, name, docs, cfg)
    if cfg.max_vectors is not None:
        assert max(counts) <= cfg.max_vectors
    if knob == "threshold":  # redundant documents (odd ids) keep fewer vectors
        lengths = [d["colbert"].shape[0] for d in docs]
        ratio = [k / n for k, n in zip(counts, lengths)]
        assert np.mean(ratio[1::2]) < np.mean(ratio[0::2])


@pytest.mark.parametrize("method", list(WRITERS))
@pytest.mark.parametrize("knob", list(CONFIGS))
def test_sync_every_knob_on_every_write_method(client, collection_name, knob, method):
    asyncio.run(run_knob(client, collection_name, knob, method, seed=3))


@pytest.mark.anyio
@pytest.mark.parametrize("method", list(WRITERS))
@pytest.mark.parametrize("knob", list(CONFIGS))
async def test_async_every_knob_on_every_write_method(async_client, collection_name, knob, method):
    await run_knob(async_client, collection_name, knob, method, seed=4)


# -- a document that does not fit the grid: named, nothing written ----------------------------
async def check_grid_mismatch(c, name, method):
    cfg = CONFIGS["grid-rows"]
    await aw(c.create_collection(name, vectors_config(), pooling={"colbert": cfg}))
    docs = knob_docs(cfg, 40, seed=5)
    docs[17]["colbert"] = docs[17]["colbert"][:-1]
    with pytest.raises(InvalidMultivectorError) as err:
        await WRITERS[method](c, name, docs)
    assert (err.value.point_id, err.value.vector_name) == (17, "colbert")
    assert "the pooling grid needs 15 (1 leading + 3 x 4 patches + 2 trailing)" in str(err.value)
    assert (await aw(c.count(name))).count == 0


@pytest.mark.parametrize("method", ["upsert-points", "upsert-batch", "upload_collection", "batch-upsert-list"])
def test_sync_grid_mismatch_writes_nothing(client, collection_name, method):
    asyncio.run(check_grid_mismatch(client, collection_name, method))


@pytest.mark.anyio
async def test_async_grid_mismatch_writes_nothing(async_client, collection_name):
    await check_grid_mismatch(async_client, collection_name, "upsert-points")


# -- Qdrant's cap: pooled further, never refused; an unpooled copy over it is refused ---------
BIG = 4096


def big_config(keep_original: bool = False) -> dict[str, models.VectorParams]:
    vc = {"colbert": models.VectorParams(size=BIG, distance=models.Distance.COSINE, multivector_config=MAXSIM)}
    if keep_original:
        vc["full"] = models.VectorParams(
            size=BIG, distance=models.Distance.COSINE, multivector_config=MAXSIM,
            hnsw_config=models.HnswConfigDiff(m=0),
        )
    return vc


async def check_cap(c, name):
    cfg = PoolingConfig(pool_factor=1, method="sequential")
    await aw(c.create_collection(name, big_config(), pooling={"colbert": cfg}))
    x = np.random.default_rng(0).normal(size=(max_rows(BIG) + 45, BIG)).astype(np.float32)
    await aw(c.upsert(name, [models.PointStruct(id=1, vector={"colbert": x})]))
    stored = np.asarray((await aw(c.retrieve(name, [1], with_vectors=True)))[0].vector["colbert"])
    assert stored.shape == (max_rows(BIG), BIG) == (255, 4096)
    np.testing.assert_allclose(stored, unit_rows(expected(x, cfg)), atol=1e-5)


def test_sync_over_the_cap_is_pooled_to_fit(client, collection_name):
    asyncio.run(check_cap(client, collection_name))


@pytest.mark.anyio
async def test_async_over_the_cap_is_pooled_to_fit(async_client, collection_name):
    await check_cap(async_client, collection_name)


def test_unpooled_copy_over_the_cap_is_refused_and_nothing_written(client, collection_name):
    cfg = PoolingConfig(pool_factor=2, keep_original_vector="full")
    client.create_collection(collection_name, big_config(keep_original=True), pooling={"colbert": cfg})
    rng = np.random.default_rng(1)
    ok = rng.normal(size=(20, BIG)).astype(np.float32)
    huge = rng.normal(size=(256, BIG)).astype(np.float32)
    points = [
        models.PointStruct(id=1, vector={"colbert": ok}),
        models.PointStruct(id=2, vector={"colbert": huge}),
    ]
    with pytest.raises(InvalidMultivectorError, match="too large to keep unpooled in 'full'") as err:
        client.upsert(collection_name, points)
    assert (err.value.point_id, err.value.vector_name) == (2, "colbert")
    assert "the pooled vector would be 128 x 4096 and fit" in str(err.value)
    assert client.count(collection_name).count == 0


# -- grid pooled vectors as the first stage, originals for rescoring ---------------------------
def test_grid_rows_as_first_stage_with_full_resolution_rescoring(client, collection_name):
    cfg = dataclasses.replace(CONFIGS["grid-rows"], keep_original_vector="full")
    vc = vectors_config()
    client.create_collection(collection_name, vc, pooling={"colbert": cfg})
    docs = knob_docs(cfg, 30, seed=9)
    asyncio.run(w_upsert_points(client, collection_name, docs))
    q = docs[7]["colbert"][1:5]  # patches of document 7's first row
    res = client.query_late_interaction(
        collection_name, q, limit=3, full_resolution=True, rescore_limit=10
    )
    assert res.points[0].id == 7
    rec = client.retrieve(collection_name, [7], with_vectors=True)[0]
    assert np.asarray(rec.vector["colbert"]).shape == (1 + GRID[0] + 2, DIM)
    assert np.asarray(rec.vector["full"]).shape == docs[7]["colbert"].shape
