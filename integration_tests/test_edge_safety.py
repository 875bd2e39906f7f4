"""Qdrant Edge keeps Qdrant's guarantees (issue 18, items 11 and 13-20): a client dropped
without ``close()`` frees its folder; a bad request writes nothing; a full disk is an
error, not a crash; damaged or foreign folders are refused or reported, never deleted.
Crash tests kill a writer with SIGKILL in a subprocess, reopen the folder and check that
no half request is served and no acknowledged write is lost."""

from __future__ import annotations

import asyncio
import gc

import pytest
from qdrant_client import models

from qdrant_tokenpool import AsyncTokenPoolingClient, TokenPoolingClient

pytest.importorskip("qdrant_edge", reason="needs qdrant-edge-py (scripts/setup.sh installs it)")

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
