"""Signatures: the sync and async clients agree, and every overridden method accepts every
call its qdrant-client parent accepts (positional arguments included)."""

from __future__ import annotations

import asyncio
import inspect

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient, models

from qdrant_tokenpool import AsyncTokenPoolingClient, PoolingConfig, TokenPoolingClient


def public_methods(cls: type) -> set[str]:
    """Public callables the class itself (or our mixin) defines, not inherited from Qdrant."""
    parents = (QdrantClient, AsyncQdrantClient)
    names = set()
    for klass in cls.__mro__:
        if klass in parents or klass is object or klass.__module__.startswith("qdrant_client"):
            continue
        names |= {n for n, v in vars(klass).items() if not n.startswith("_") and callable(v)}
    return names


def shape(fn) -> list[tuple[str, object, object]]:
    """Parameters as (name, kind, default): what a caller can rely on."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


OURS = sorted(public_methods(TokenPoolingClient) | public_methods(AsyncTokenPoolingClient))


def test_both_clients_have_every_public_method_of_either():
    for name in OURS:
        assert hasattr(TokenPoolingClient, name) and hasattr(AsyncTokenPoolingClient, name), name
    assert {"query_late_interaction", "add_texts", "upsert", "create_collection"} <= set(OURS)


@pytest.mark.parametrize("name", OURS)
def test_sync_and_async_signatures_match(name):
    sync, async_ = getattr(TokenPoolingClient, name), getattr(AsyncTokenPoolingClient, name)
    assert shape(sync) == shape(async_), name
    parent_async = getattr(AsyncQdrantClient, name, None)
    # async where the async parent is async (or it is ours), sync where the parent is sync
    want_async = parent_async is None or inspect.iscoroutinefunction(parent_async)
    if name in ("pooling_disabled", "refresh_pooling"):
        want_async = False
    assert inspect.iscoroutinefunction(async_) == want_async, name
    assert not inspect.iscoroutinefunction(sync), name


OVERRIDDEN = [n for n in OURS if hasattr(QdrantClient, n)]


def accepts_like(ours, parent) -> None:
    """Every parameter of ``parent`` is one of ``ours`` at the same position, of the same
    kind, with the same default (so every call of the parent binds alike)."""
    mine = inspect.signature(ours).parameters
    mine_list = list(mine.values())
    for i, p in enumerate(inspect.signature(parent).parameters.values()):
        if p.kind is p.VAR_KEYWORD:
            assert any(q.kind is q.VAR_KEYWORD for q in mine_list), p.name
            continue
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            assert mine_list[i].name == p.name, (i, p.name, mine_list[i].name)
        q = mine[p.name]
        assert (q.kind, q.default) == (p.kind, p.default), p.name


@pytest.mark.parametrize("name", OVERRIDDEN)
def test_overrides_accept_every_call_of_their_parent(name):
    assert OVERRIDDEN  # the parametrisation found the overrides
    accepts_like(getattr(TokenPoolingClient, name), getattr(QdrantClient, name))
    accepts_like(getattr(AsyncTokenPoolingClient, name), getattr(AsyncQdrantClient, name))


def test_the_parity_checks_can_fail():
    def parent(self, collection_name, vectors_config=None, sparse_vectors_config=None, **kw):
        pass

    def narrow(self, collection_name, vectors_config=None, *, pooling=None, **kw):
        pass

    with pytest.raises(AssertionError):
        accepts_like(narrow, parent)


# -- the calls of the issue, run ---------------------------------------------------------
MULTI = models.VectorParams(
    size=4,
    distance=models.Distance.COSINE,
    multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM),
)


def test_positional_calls_the_parent_accepts_work_on_the_sync_client():
    client = TokenPoolingClient(":memory:")
    sparse = {"s": models.SparseVectorParams()}
    assert client.create_collection("c", {"m": MULTI}, sparse)
    assert "s" in client.get_collection("c").config.params.sparse_vectors
    with pytest.warns(DeprecationWarning):
        assert client.recreate_collection("c", {"m": MULTI}, sparse, pooling={"m": PoolingConfig(2)})
    assert "s" in client.get_collection("c").config.params.sparse_vectors
    assert client.get_pooling("c")["m"].pool_factor == 2
    rng = np.random.default_rng(0)
    vectors = {"m": [rng.normal(size=(9, 4)).tolist() for _ in range(3)]}
    # collection_name, vectors, payload, ids, batch_size, parallel, method, max_retries, wait
    client.upload_collection("c", vectors, [{"k": 1}] * 3, [1, 2, 3], 2, 1, None, 3, True)
    recs = client.retrieve("c", [1, 2, 3], with_vectors=True)
    assert [len(r.vector["m"]) for r in recs] == [1 + 4] * 3  # pooled: 1 protected + 8 // 2
    client.upload_points(
        "c", [models.PointStruct(id=4, vector={"m": vectors["m"][0]})], 64, 1, None, 3, True
    )
    assert client.count("c").count == 4
    with pytest.raises(TypeError):
        client.create_collection("d", {"m": MULTI}, sparse, None, None, None, None, None, None,
                                 None, None, None, None, None, None, None, None, "one too many")


def test_positional_calls_the_parent_accepts_work_on_the_async_client():
    async def run():
        client = AsyncTokenPoolingClient(":memory:")
        sparse = {"s": models.SparseVectorParams()}
        assert await client.create_collection("c", {"m": MULTI}, sparse, pooling={"m": PoolingConfig(2)})
        info = await client.get_collection("c")
        vectors = {"m": [np.random.default_rng(1).normal(size=(9, 4)).tolist()]}
        client.upload_collection("c", vectors, None, [7], 1, 1, None, 3, True)
        recs = await client.retrieve("c", [7], with_vectors=True)
        await client.close()
        return info, recs

    info, recs = asyncio.run(run())
    assert "s" in info.config.params.sparse_vectors
    assert len(recs[0].vector["m"]) == 5
