"""The backend fixtures themselves: drop-in types, config persistence across clients."""

from __future__ import annotations

import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient, models

from qdrant_tokenpool import PoolingConfig

VEC = {"colbert": models.VectorParams(
    size=16,
    distance=models.Distance.COSINE,
    multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM),
)}


def test_client_is_a_qdrant_client(client):
    assert isinstance(client, QdrantClient)


@pytest.mark.anyio
async def test_async_client_is_an_async_qdrant_client(async_client, collection_name):
    assert isinstance(async_client, AsyncQdrantClient)
    await async_client.create_collection(
        collection_name, VEC, pooling={"colbert": PoolingConfig(pool_factor=3)}
    )
    assert await async_client.get_pooling(collection_name) == {"colbert": PoolingConfig(3)}


def test_config_survives_a_new_client(reopen, collection_name):
    first = reopen()
    first.create_collection(collection_name, VEC, pooling={"colbert": PoolingConfig(pool_factor=3)})
    first.close()
    second = reopen()
    try:
        assert second.get_pooling(collection_name) == {"colbert": PoolingConfig(pool_factor=3)}
    finally:
        second.close()
