"""The backend seam (qdrant_tokenpool._backend): in-process engines serialised per client.

Many threads share one client on qdrant-client's local mode (":memory:" and path=):
every point must be written and readable, and counts must be exact. Without the
serialising proxy local mode loses points and breaks (issue 9, item 3).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import models
from qdrant_client.local.async_qdrant_local import AsyncQdrantLocal
from qdrant_client.local.qdrant_local import QdrantLocal

from qdrant_tokenpool import AsyncTokenPoolingClient, PoolingConfig, TokenPoolingClient, _backend

DIM = 16
THREADS = 8
DOCS_PER_THREAD = 150
VECTORS = {
    "colbert": models.VectorParams(
        size=DIM,
        distance=models.Distance.COSINE,
        multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM),
    )
}


def _doc(pid: int) -> np.ndarray:
    n = 5 + pid % 11
    return np.random.default_rng(pid).normal(size=(n, DIM)).astype(np.float32)


def _pooled_len(pid: int) -> int:
    n = _doc(pid).shape[0]
    return 1 + max(1, (n - 1) // 2)  # pool_factor 2, one protected token


def _write_from_threads(client: TokenPoolingClient, name: str, chunk_size: int) -> None:
    """8 threads x 150 documents, ``chunk_size`` per write: odd threads upload_points, even
    threads upsert, and every thread reads (count, retrieve) between its writes."""

    def work(t: int) -> None:
        ids = range(t * DOCS_PER_THREAD, (t + 1) * DOCS_PER_THREAD)
        for start in range(0, DOCS_PER_THREAD, chunk_size):
            chunk = list(ids)[start : start + chunk_size]
            points = [
                models.PointStruct(id=i, vector={"colbert": _doc(i).tolist()}, payload={"t": t})
                for i in chunk
            ]
            if t % 2:
                client.upload_points(name, points, batch_size=5)
            else:
                client.upsert(name, points)
            client.count(name)
            assert len(client.retrieve(name, chunk)) == len(chunk)

    with ThreadPoolExecutor(THREADS) as pool:
        for f in [pool.submit(work, t) for t in range(THREADS)]:
            f.result()


def _check_all_there(client: TokenPoolingClient, name: str) -> None:
    total = THREADS * DOCS_PER_THREAD
    assert client.count(name, exact=True).count == total
    records = client.retrieve(name, list(range(total)), with_vectors=True)
    assert sorted(r.id for r in records) == list(range(total))
    for r in records:
        assert len(r.vector["colbert"]) == _pooled_len(int(r.id))


def test_threads_sharing_a_memory_client_lose_nothing():
    client = TokenPoolingClient(":memory:")
    client.create_collection("docs", VECTORS, pooling={"colbert": PoolingConfig(pool_factor=2)})
    _write_from_threads(client, "docs", chunk_size=10)
    _check_all_there(client, "docs")


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder in RAM where there is one (local mode commits to SQLite once per point)."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=shm, prefix="tokenpool-test-") as d:
        yield Path(d)


def test_threads_sharing_a_path_client_lose_nothing(fast_dir: Path):
    client = TokenPoolingClient(path=str(fast_dir))
    client.create_collection("docs", VECTORS, pooling={"colbert": PoolingConfig(pool_factor=2)})
    _write_from_threads(client, "docs", chunk_size=10)
    _check_all_there(client, "docs")
    client.close()
    reopened = TokenPoolingClient(path=str(fast_dir))
    _check_all_there(reopened, "docs")  # the same count after a reopen
    reopened.close()


def test_threads_sharing_an_async_memory_client_lose_nothing():
    client = AsyncTokenPoolingClient(":memory:")

    async def setup() -> None:
        await client.create_collection(
            "docs", VECTORS, pooling={"colbert": PoolingConfig(pool_factor=2)}
        )

    asyncio.run(setup())

    def work(t: int) -> None:
        async def run() -> None:
            ids = list(range(t * DOCS_PER_THREAD, (t + 1) * DOCS_PER_THREAD))
            for start in range(0, DOCS_PER_THREAD, 10):
                chunk = ids[start : start + 10]
                points = [
                    models.PointStruct(id=i, vector={"colbert": _doc(i).tolist()}) for i in chunk
                ]
                if t % 2:
                    await client.upsert("docs", points)
                else:
                    client.upload_points("docs", points, batch_size=5)  # sync, as the parent's
                await client.count("docs")
                assert len(await client.retrieve("docs", chunk)) == len(chunk)

        asyncio.run(run())

    with ThreadPoolExecutor(THREADS) as pool:
        for f in [pool.submit(work, t) for t in range(THREADS)]:
            f.result()

    async def check() -> None:
        total = THREADS * DOCS_PER_THREAD
        assert (await client.count("docs", exact=True)).count == total
        records = await client.retrieve("docs", list(range(total)), with_vectors=True)
        assert sorted(r.id for r in records) == list(range(total))
        assert all(len(r.vector["colbert"]) == _pooled_len(int(r.id)) for r in records)

    asyncio.run(check())


# -- the seam itself ---------------------------------------------------------------------------
def test_local_mode_is_serialised_and_remote_is_not():
    local = TokenPoolingClient(":memory:")
    assert _backend.is_serialised(local) and _backend.is_in_process(local)
    assert isinstance(_backend.backend(local), QdrantLocal)
    assert local.engine == "local"
    alocal = AsyncTokenPoolingClient(":memory:")
    assert _backend.is_serialised(alocal)
    assert isinstance(_backend.backend(alocal), AsyncQdrantLocal)
    assert alocal.engine == "local"
    remote = TokenPoolingClient(url="http://localhost:1", check_compatibility=False)
    assert not _backend.is_serialised(remote) and not _backend.is_in_process(remote)
    assert remote.engine == "server"
    _backend.serialise_in_process(local)  # idempotent: not wrapped twice
    assert not isinstance(_backend.backend(local), _backend.SerialisedBackend)


class _Engine:
    """A fake in-process engine that notices overlapping calls."""

    def __init__(self) -> None:
        self.inside = 0
        self.overlaps = 0
        self.calls = 0
        self.flag = "x"

    def close(self, **kwargs: Any) -> None:
        pass

    def _enter(self) -> None:
        self.inside += 1
        if self.inside > 1:
            self.overlaps += 1
        time.sleep(0.001)
        self.calls += 1
        self.inside -= 1

    def count(self, *args: Any, **kwargs: Any) -> int:
        self._enter()
        return self.calls

    async def acount(self) -> int:
        self._enter()
        return self.calls


def test_installed_engine_calls_run_one_at_a_time():
    client = TokenPoolingClient(":memory:")
    engine = _Engine()
    _backend.install_backend(client, engine, in_process=True)
    assert _backend.backend(client) is engine and _backend.is_in_process(client)

    def hammer(_: int) -> None:
        for _ in range(20):
            getattr(client, _backend.BACKEND_ATTR).count()
            asyncio.run(getattr(client, _backend.BACKEND_ATTR).acount())

    threads = [threading.Thread(target=hammer, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert engine.calls == 6 * 20 * 2
    assert engine.overlaps == 0
    proxy = getattr(client, _backend.BACKEND_ATTR)
    assert proxy.flag == "x"  # plain attributes read and written through
    proxy.flag = "y"
    assert engine.flag == "y"


def test_engine_installed_as_remote_is_not_wrapped():
    client = TokenPoolingClient(":memory:")
    engine = _Engine()
    _backend.install_backend(client, engine, in_process=False)
    assert getattr(client, _backend.BACKEND_ATTR) is engine
    assert not _backend.is_serialised(client)


@pytest.mark.parametrize("wrapped", [True, False])
def test_fake_engine_overlaps_without_the_proxy(wrapped: bool):
    """The overlap detector itself works: without the proxy, threads do overlap."""
    engine = _Engine()
    target: Any = _backend.SerialisedBackend(engine) if wrapped else engine
    threads = [
        threading.Thread(target=lambda: [target.count() for _ in range(20)]) for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (engine.overlaps == 0) is wrapped
