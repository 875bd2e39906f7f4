"""Issue 11 item 6: a ``pooling_workers`` setting on both clients, and worker pools that
start without touching process-global state."""

from __future__ import annotations

import asyncio
import os
import sys

import numpy as np
import pytest
from qdrant_client import models

from qdrant_tokenpool import AsyncTokenPoolingClient, PoolingConfig, TokenPoolingClient
from qdrant_tokenpool.pooling import batch
from qdrant_tokenpool.write_path import plan

MULTI = models.VectorParams(
    size=8,
    distance=models.Distance.COSINE,
    multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM),
)


def points(n=6):
    rng = np.random.default_rng(0)
    return [models.PointStruct(id=i, vector={"m": rng.normal(size=(12, 8)).tolist()}) for i in range(n)]


def test_pooling_workers_reach_pool_arrays_on_both_clients(monkeypatch):
    seen = []
    real = plan.pool_arrays

    def spy(arrays, spec, workers=None):
        seen.append(workers)
        return real(arrays, spec, workers=workers)

    monkeypatch.setattr(plan, "pool_arrays", spy)
    client = TokenPoolingClient(":memory:")
    assert client.pooling_workers is None  # the default: as before this setting
    client.create_collection("c", {"m": MULTI}, pooling={"m": PoolingConfig(2)})
    client.upsert("c", points())
    client.pooling_workers = 1
    client.upsert("c", points())
    client.upload_points("c", points(), batch_size=3)
    assert seen == [None, 1, 1, 1]
    with pytest.raises(ValueError, match="pooling_workers must be an integer >= 1"):
        client.pooling_workers = 0

    async def run():
        aclient = AsyncTokenPoolingClient(":memory:", pooling_workers=2)
        await aclient.create_collection("c", {"m": MULTI}, pooling={"m": PoolingConfig(2)})
        await aclient.upsert("c", points())
        await aclient.close()
        return aclient.pooling_workers

    seen.clear()
    assert asyncio.run(run()) == 2 and seen == [2]


class RecordingEnviron(dict):
    """Stands in for os.environ and records writes."""

    def __init__(self, *a):
        super().__init__(*a)
        self.writes = []

    def __setitem__(self, key, value):
        self.writes.append(key)
        super().__setitem__(key, value)

    def __delitem__(self, key):
        self.writes.append(key)
        super().__delitem__(key)

    def pop(self, key, *default):
        self.writes.append(key)
        return super().pop(key, *default)


def test_starting_worker_processes_changes_no_global_state(monkeypatch):
    """No environment variable is set and sys.modules['__main__'] is never swapped while
    the workers start (a thread watches it the whole time)."""
    import threading

    environ = RecordingEnviron(os.environ)
    monkeypatch.setattr(os, "environ", environ)
    main, swapped, done = sys.modules["__main__"], [], threading.Event()

    def watch():
        while not done.is_set():
            if sys.modules.get("__main__") is not main:
                swapped.append(True)

    watcher = threading.Thread(target=watch, daemon=True)
    batch.shutdown_pool()
    watcher.start()
    try:
        ex = batch._get_executor(2)
        assert {f.result() for f in [ex.submit(batch._worker_ready) for _ in range(4)]}
    finally:
        done.set()
        watcher.join()
        monkeypatch.undo()
        batch.shutdown_pool()
    assert environ.writes == [] and not swapped


def test_scripts_get_threads_not_processes(monkeypatch):
    import types

    script = types.ModuleType("__main__")
    script.__file__ = "/tmp/some_script.py"
    script.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", script)
    assert batch.spawn_reimports_main()
    module_run = types.ModuleType("__main__")
    module_run.__spec__ = types.SimpleNamespace(name="pkg.__main__")
    monkeypatch.setitem(sys.modules, "__main__", module_run)
    assert not batch.spawn_reimports_main()
