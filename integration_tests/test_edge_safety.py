"""Qdrant Edge keeps Qdrant's guarantees (issue 18, items 11 and 13-20): a client dropped
without ``close()`` frees its folder; a bad request writes nothing; a full disk is an
error, not a crash; damaged or foreign folders are refused or reported, never deleted.
Crash tests kill a writer with SIGKILL in a subprocess, reopen the folder and check that
no half request is served and no acknowledged write is lost."""

from __future__ import annotations

import asyncio
import gc
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from qdrant_client import models

from qdrant_tokenpool import AsyncTokenPoolingClient, PoolingConfig, TokenPoolingClient

pytest.importorskip("qdrant_edge", reason="needs qdrant-edge-py (scripts/setup.sh installs it)")

from qdrant_tokenpool import _backend
from qdrant_tokenpool.edge_client import AsyncEdgeQdrantClient, EdgeQdrantClient
from qdrant_tokenpool.engines import DamagedCollectionError, StorageFullError
from qdrant_tokenpool.engines.edge import storage as edge_storage


def edge_backend(client):
    return _backend.backend(client)

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
N_POINTS, BAD_AT, BATCH = 80, 70, 16


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
    for bad in ("dense wrong size", "ragged multivector", "NaN sparse value")
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


@pytest.mark.parametrize("kind", ["plain", "pooling"])
@pytest.mark.parametrize("bad_id", ["not-a-uuid", -1, 1.5])
def test_a_bad_id_anywhere_writes_nothing(kind, bad_id):
    client = _client(kind)
    _create(client)
    points = _points()
    points[BAD_AT] = models.PointStruct.model_construct(id=bad_id, vector=_vectors(BAD_AT), payload=None)
    with pytest.raises(ValueError, match=f"Point id {bad_id!r}"):
        client.upsert("c", points)
    assert client.count("c").count == 0
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


def test_a_vector_added_while_a_write_reads_the_vectors_is_checked_by_the_next_write(
    tmp_path, monkeypatch
):
    """Writes are not serialised with ``create_vector_name``: one that reads the
    collection's vectors while another thread adds one must not leave the old vectors in
    use for the writes after it (they would refuse the new vector)."""
    client = EdgeQdrantClient(path=str(tmp_path / "db"))
    client.create_collection("c", {"a": _dense()})
    real = edge_storage.VectorsSchema

    class RacingSchema:
        """The collection's vectors are read, then ``"b"`` is added before they are kept."""

        raced = False

        @classmethod
        def from_config(cls, vectors, sparse):
            if not cls.raced:
                cls.raced = True
                dense = models.DenseVectorConfig(size=D, distance=models.Distance.COSINE)
                client.create_vector_name("c", "b", models.DenseVectorNameConfig(dense=dense))
            return real.from_config(vectors, sparse)

    monkeypatch.setattr(edge_storage, "VectorsSchema", RacingSchema)
    client.upsert("c", [models.PointStruct(id=1, vector={"a": [1.0] * D})])
    assert RacingSchema.raced
    client.upsert("c", [models.PointStruct(id=2, vector={"b": [1.0] * D})])
    assert client.count("c").count == 2
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


# -- items 17, 19: damage is reported, never deleted; the other collections stay usable -----------
def _fill_folder(path, names=("a", "b"), n: int = 30) -> None:
    client = EdgeQdrantClient(path=str(path))
    for name in names:
        client.create_collection(name, {"d": _dense()}, metadata={"keep": name})
        client.upsert(name, [models.PointStruct(id=i, vector={"d": [1.0 + i] * D}) for i in range(n)])
    client.close()


DAMAGE = {
    "missing": (lambda side: side.unlink(), "collection.json' \\(its config and metadata\\) is missing"),
    "invalid JSON": (lambda side: side.write_text('{"vectors": '), "is not readable JSON"),
    "a list": (lambda side: side.write_text("[1, 2]"), "is not a collection's config: a JSON list"),
    "bad vectors": (
        lambda side: side.write_text('{"vectors": {"d": {"size": "big"}}}'),
        "is not a collection's config: .*size",
    ),
    "shard missing": (lambda side: shutil.rmtree(side.parent / "shard"), "shard folder .* is missing"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_collection_is_reported_kept_and_the_others_work(tmp_path, damage):
    path = tmp_path / "db"
    _fill_folder(path)
    side = path / "collections" / "a" / "collection.json"
    DAMAGE[damage][0](side)
    before = {p.relative_to(path): p.read_bytes() for p in (path / "collections" / "a").rglob("*") if p.is_file()}
    problem = DAMAGE[damage][1]
    with pytest.warns(RuntimeWarning, match=f"collection 'a' is damaged: .*{problem}"):
        client = TokenPoolingClient(path=str(path), engine="edge")
    try:
        assert client.count("b").count == 30  # the healthy collection works, reads and writes
        client.upsert("b", [models.PointStruct(id=99, vector={"d": [1.0] * D})])
        assert sorted(c.name for c in client.get_collections().collections) == ["a", "b"]
        assert client.collection_exists("a")
        for use in (
            lambda: client.get_collection("a"),
            lambda: client.count("a"),
            lambda: client.upsert("a", [models.PointStruct(id=1, vector={"d": [1.0] * D})]),
            lambda: client.create_collection("a", {"d": _dense()}),  # what `index` would call
            lambda: client.get_pooling("a"),
        ):
            with pytest.raises(DamagedCollectionError, match=f"collection 'a' is damaged: .*{problem}") as exc:
                use()
            assert str(path / "collections" / "a") in str(exc.value)
            assert "delete_collection('a')" in str(exc.value) or "backup" in str(exc.value)
        assert edge_backend(client).damaged.keys() == {"a"}
    finally:
        client.close()
    # nothing of it was deleted or rewritten, through all of that and a close
    after = {p.relative_to(path): p.read_bytes() for p in (path / "collections" / "a").rglob("*") if p.is_file()}
    assert after == before


def test_a_missing_sidecar_restored_gives_every_point_back(tmp_path):
    """Item 17: 300 points did become 0 (create_collection deleted the shard); now the
    collection is refused until its sidecar is back, and then has all its points."""
    path = tmp_path / "db"
    _fill_folder(path, ("a",), n=300)
    side = path / "collections" / "a" / "collection.json"
    saved = side.read_bytes()
    side.unlink()
    with pytest.warns(RuntimeWarning):
        client = TokenPoolingClient(path=str(path), engine="edge")
    with pytest.raises(DamagedCollectionError):
        client.create_collection("a", {"d": _dense()})
    client.close()
    side.write_bytes(saved)
    client = TokenPoolingClient(path=str(path), engine="edge")
    assert client.count("a").count == 300
    assert client.get_collection("a").config.metadata == {"keep": "a"}
    client.close()


def test_a_damaged_collection_can_be_deleted_by_name(tmp_path):
    path = tmp_path / "db"
    _fill_folder(path)
    (path / "collections" / "a" / "collection.json").write_text("{")
    with pytest.warns(RuntimeWarning):
        client = EdgeQdrantClient(path=str(path))
    assert client.delete_collection("a")
    assert not (path / "collections" / "a").exists()
    client.create_collection("a", {"d": _dense()})
    assert client.count("a").count == 0 and client.count("b").count == 30
    client.close()


def test_a_damaged_marker_is_named_and_nothing_changes(tmp_path):
    path = tmp_path / "db"
    _fill_folder(path)
    marker = path / "qdrant-tokenpool-edge.json"
    marker.write_text("not json")
    with pytest.raises(ValueError, match="qdrant-tokenpool-edge.json', the marker of a Qdrant Edge database folder, is damaged"):
        EdgeQdrantClient(path=str(path))
    assert marker.read_text() == "not json"
    marker.write_text('{"engine": "qdrant-edge", "format": 1}')
    client = EdgeQdrantClient(path=str(path))  # the lock was released by the failed open
    assert client.count("a").count == 30
    client.close()


# -- item 20: what a killed writer left is removed on open, and only that ------------------------
def test_leftovers_of_killed_writers_are_removed_on_open_and_nothing_else(tmp_path):
    path = tmp_path / "db"
    _fill_folder(path)
    hex32 = "0123456789abcdef" * 2
    ours = [
        path / f".deleted-{hex32}",  # a delete_collection killed after its rename
        path / f".creating-{hex32}",  # a create_collection killed before its rename
    ]
    for folder in ours:
        (folder / "shard" / "segments").mkdir(parents=True)
        (folder / "shard" / "segments" / "x.dat").write_bytes(b"x" * 1000)
    tmp_files = [
        path / "collections" / "a" / f".collection.json.{hex32}.tmp",
        path / f".qdrant-tokenpool-edge.json.{hex32}.tmp",
    ]
    for f in tmp_files:
        f.write_text("{")
    not_ours = [path / ".deleted-mine", path / f".deleted-{hex32}x", path / "collections" / "a" / "notes.tmp"]
    not_ours[0].mkdir()
    not_ours[1].mkdir()
    not_ours[2].write_text("user file")
    client = EdgeQdrantClient(path=str(path))
    client.close()
    assert not any(p.exists() for p in ours + tmp_files)
    assert all(p.exists() for p in not_ours)


# -- item 18: an Edge folder opened without engine= opens on Edge; local mode never writes there ---
def test_an_edge_folder_opens_on_edge_without_engine_and_local_mode_is_refused(tmp_path):
    path = tmp_path / "db"
    _fill_folder(path)
    before = sorted(p.name for p in path.iterdir())
    client = TokenPoolingClient(path=str(path))  # the drop-in default: no engine
    assert client.engine == "edge" and client.count("a").count == 30
    client.create_collection("new", {"d": _dense()})
    client.close()

    async def read() -> tuple[str, int]:
        aclient = AsyncTokenPoolingClient(path=str(path))
        try:
            return aclient.engine, (await aclient.count("new")).count
        finally:
            await aclient.close()

    assert asyncio.run(read()) == ("edge", 0)  # the collection created without engine= is there
    for cls in (TokenPoolingClient, AsyncTokenPoolingClient):
        with pytest.raises(ValueError, match="holds a Qdrant Edge database, not one of qdrant-client's local mode"):
            cls(path=str(path), engine="local")
    assert sorted(p.name for p in path.iterdir()) == before  # no meta.json, nothing of local mode
    again = EdgeQdrantClient(path=str(path))
    assert sorted(c.name for c in again.get_collections().collections) == ["a", "b", "new"]
    again.close()


# -- item 16: a full disk is an error naming the folder and the bytes, not SIGBUS ----------------
def test_writes_opens_and_creations_check_free_space_first(tmp_path, monkeypatch):
    """With the free-space function patched (any machine): see the tmpfs test for a real
    full disk."""
    path = tmp_path / "db"
    _fill_folder(path, ("a",))
    client = EdgeQdrantClient(path=str(path))
    assert client.count("a").count == 30  # opened while there is room
    stored = client.retrieve("a", [1], with_vectors=True)[0].vector["d"]
    monkeypatch.setattr(edge_storage, "free_bytes", lambda p: 5 * edge_storage.MiB)
    big = [models.PointStruct(id=100 + i, vector={"d": [1.0] * D}) for i in range(10)]
    for write in (
        lambda: client.upsert("a", big),
        lambda: client.upload_points("a", big),
        lambda: client.upload_points("a", iter(big)),
        lambda: client.upload_collection("a", {"d": np.ones((10, D))}),
        lambda: client.update_vectors("a", [models.PointVectors(id=1, vector={"d": [2.0] * D})]),
        lambda: client.set_payload("a", {"k": 1}, points=[1]),
        lambda: client.create_collection("c", {"d": _dense()}),
    ):
        with pytest.raises(StorageFullError, match=rf"not enough free disk space for .* in '{path}.*': 5,242,880 bytes free, [0-9,]+ needed") as exc:
            write()
        assert exc.value.errno == 28
    monkeypatch.undo()
    assert client.count("a").count == 30 and not client.collection_exists("c")
    assert client.retrieve("a", [1], with_vectors=True)[0].vector["d"] == stored  # unchanged
    client.close()
    monkeypatch.setattr(edge_storage, "free_bytes", lambda p: 1 * edge_storage.MiB)
    client = EdgeQdrantClient(path=str(path))  # the folder opens; a collection's shard does not
    with pytest.raises(StorageFullError, match="not enough free disk space for opening collection 'a'"):
        client.count("a")
    client.close()


def test_optimizer_refusal_is_a_storage_full_error_and_close_still_flushes(tmp_path, monkeypatch):
    path = tmp_path / "db"
    _fill_folder(path, ("a",))
    client = EdgeQdrantClient(path=str(path))
    client.upsert("a", [models.PointStruct(id=500, vector={"d": [1.0] * D})])
    coll = edge_backend(client)._collections["a"]
    shard = coll.shard()

    class NoRoom:
        def __getattr__(self, name):
            return getattr(shard, name)

        def optimize(self):  # what Edge's optimizer raises when the disk lacks room
            raise Exception("Service runtime error: Not enough space available for optimization, needed: 142.21 MiB, available: 38.61 MiB")  # noqa: TRY002

    coll._shard = NoRoom()
    with pytest.raises(StorageFullError, match=r"optimizing collection 'a' .* 149,117,99[0-9] needed \(Qdrant Edge's estimate\)"):
        client.optimize("a")
    with pytest.warns(RuntimeWarning, match="closing without optimizing"):
        client.close()
    client = EdgeQdrantClient(path=str(path))
    assert client.count("a").count == 31  # flushed: the acknowledged write is there
    client.close()


# -- subprocesses: a real full disk, and kill -9 ---------------------------------------------------
def _run(script: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter (a SIGBUS or SIGKILL ends it, not pytest)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )


@pytest.fixture
def tmpfs(tmp_path):
    """A 64 MiB tmpfs (root only); ``resize(mib)`` grows it."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root: the free-space checks are covered by "
                    "test_writes_opens_and_creations_check_free_space_first (patched free space)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}): the free-space "
                    "checks are covered by test_writes_opens_and_creations_check_free_space_first")

    def resize(mib: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={mib}m", str(mnt)], check=True)

    yield mnt, resize
    subprocess.run(["umount", "-l", str(mnt)], check=False)


FULL_DISK_WRITER = """
    import sys, numpy as np
    from qdrant_client import models
    from qdrant_tokenpool import StorageFullError
    from qdrant_tokenpool.edge_client import EdgeQdrantClient
    client = EdgeQdrantClient(path=sys.argv[1])
    mv = models.MultiVectorConfig(comparator="max_sim")
    client.create_collection("c", {"m": models.VectorParams(size=128, distance="Dot", multivector_config=mv)})
    rng = np.random.default_rng(0)
    for b in range(1000):
        points = [models.PointStruct(id=b * 64 + i, vector={"m": rng.standard_normal((50, 128)).tolist()},
                                     payload={"batch": b}) for i in range(64)]
        try:
            client.upsert("c", points)  # 1.6 MiB of vectors
        except StorageFullError as exc:
            print("full", exc, flush=True)
            break
        print("ack", b, flush=True)
    import os, signal
    os.kill(os.getpid(), signal.SIGKILL)  # a crash on a full disk: no close, no flush
"""

READER = """
    import sys
    from qdrant_tokenpool import StorageFullError
    from qdrant_tokenpool.edge_client import EdgeQdrantClient
    client = EdgeQdrantClient(path=sys.argv[1])
    try:
        records, _ = client.scroll("c", limit=100000, with_payload=True)
        print("count", len(records))
        batches = {}
        for r in records:
            batches[r.payload["batch"]] = batches.get(r.payload["batch"], 0) + 1
        print("batches", sorted(batches.items()))
    except StorageFullError as exc:
        print("full", exc)
    client.close()
"""


def test_a_full_disk_is_a_clear_error_on_write_and_on_reopen_not_sigbus(tmpfs):
    mnt, resize = tmpfs
    db = mnt / "db"
    out = _run(FULL_DISK_WRITER, str(db))
    assert out.returncode == -9, out.stderr[-2000:]  # killed by itself: not SIGBUS (-7, exit 135)
    acked = [int(line.split()[1]) for line in out.stdout.splitlines() if line.startswith("ack")]
    full = [line for line in out.stdout.splitlines() if line.startswith("full")]
    assert acked and len(full) == 1, out.stdout
    assert f"not enough free disk space for upsert on collection 'c' in '{db}" in full[0]
    assert re.search(r"[0-9,]+ bytes free, [0-9,]+ needed", full[0])
    # reopening while full: Edge replays its log there (SIGBUS before); now a clear error
    (mnt / "filler").write_bytes(b"\0" * (edge_storage.free_bytes(mnt) - 2 * edge_storage.MiB))
    out = _run(READER, str(db))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("full [Errno 28] not enough free disk space for opening collection 'c'"), out.stdout
    # space freed: every acknowledged write is there, whole, and nothing else
    (mnt / "filler").unlink()
    resize(256)
    out = _run(READER, str(db))
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"batches {[(b, 64) for b in acked]}" in out.stdout, out.stdout


def _kill_after(script: str, args: list[str], lines: int, delay: float) -> list[str]:
    """Start ``script``, SIGKILL it ``delay`` s after it printed ``lines`` lines; its output."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out: list[str] = []
    assert proc.stdout is not None
    while len(out) < lines:
        line = proc.stdout.readline()
        if not line:
            break
        out.append(line.strip())
    time.sleep(delay)
    proc.kill()
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == -9, err[-2000:]  # killed by us, not ended by an error
    return out + rest.split()


KILLED_UPSERTS = """
    import sys, numpy as np
    from qdrant_client import models
    from qdrant_tokenpool.edge_client import EdgeQdrantClient
    client = EdgeQdrantClient(path=sys.argv[1])
    if not client.collection_exists("c"):
        client.create_collection("c", {"d": models.VectorParams(size=16, distance="Dot"),
            "m": models.VectorParams(size=64, distance="Dot", multivector_config=models.MultiVectorConfig(comparator="max_sim"))})
    rng = np.random.default_rng(int(sys.argv[2]))
    start = int(sys.argv[2]) * 1000
    for r in range(start, start + 1000):  # requests of 200 points (1.6 MB): the kill may land inside one
        client.upsert("c", [models.PointStruct(id=r * 200 + i, payload={"req": r},
            vector={"d": rng.standard_normal(16).tolist(), "m": rng.standard_normal((30, 64)).tolist()}) for i in range(200)])
        print("ack", r, flush=True)
"""


def _requests(path) -> dict[int, int]:
    client = EdgeQdrantClient(path=str(path))
    try:
        records, _ = client.scroll("c", limit=10**6, with_payload=True)
        assert not edge_backend(client).damaged
    finally:
        client.close()
    counts: dict[int, int] = {}
    for r in records:
        counts[r.payload["req"]] = counts.get(r.payload["req"], 0) + 1
    return counts


def test_killed_writers_lose_no_acknowledged_upsert_and_serve_no_half_request(tmp_path):
    path = tmp_path / "db"
    acked: set[int] = set()
    for run, delay in enumerate((0.02, 0.11)):  # two kills, each reopened after
        out = _kill_after(KILLED_UPSERTS, [str(path), str(run)], lines=2 + run, delay=delay)
        acked |= {int(w) for w, prev in zip(out[1:], out) if prev == "ack"}
        counts = _requests(path)
        assert acked <= set(counts), "an acknowledged write was lost"
        assert set(counts.values()) == {200}, f"half a request is served: {counts}"


KILLED_UPLOAD = """
    import sys, numpy as np
    from qdrant_client import models
    from qdrant_tokenpool.edge_client import EdgeQdrantClient
    client = EdgeQdrantClient(path=sys.argv[1])
    client.create_collection("c", {"d": models.VectorParams(size=256, distance="Dot")})
    rng = np.random.default_rng(0)
    def points():
        for i in range(10**6):
            if i % 500 == 0:
                print("yielded", i, flush=True)
            yield models.PointStruct(id=i, vector={"d": rng.standard_normal(256).tolist()}, payload={"req": i // 50})
    client.upload_points("c", points(), batch_size=50)
"""


def test_a_killed_upload_leaves_whole_batches_in_order(tmp_path):
    path = tmp_path / "db"
    _kill_after(KILLED_UPLOAD, [str(path)], lines=3, delay=0.05)
    counts = _requests(path)
    assert counts and sorted(counts) == list(range(len(counts)))  # a prefix of the stream
    assert set(counts.values()) == {50}  # each batch whole


KILLED_CREATE_DELETE = """
    import os, signal, sys
    from qdrant_client import models
    from qdrant_tokenpool.engines.edge import storage as edge_storage
    from qdrant_tokenpool.edge_client import EdgeQdrantClient
    where = sys.argv[2]
    client = EdgeQdrantClient(path=sys.argv[1])

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    if where == "create: before the commit rename":
        edge_storage.commit_collection_folder = die
    elif where == "create: after the commit rename":
        real = edge_storage.commit_collection_folder
        edge_storage.commit_collection_folder = lambda tmp, folder: (real(tmp, folder), die())
    elif where == "delete: half of the trash removed":
        real_rmtree = edge_storage.shutil.rmtree
        def half(path, ignore_errors=False):
            for f in sorted(p for p in __import__("pathlib").Path(path).rglob("*") if p.is_file())[::2]:
                f.unlink()
            die()
        edge_storage.shutil.rmtree = half
    name = "victim"
    if where.startswith("delete"):
        client.delete_collection(name)
    else:
        client.create_collection(name, {"d": models.VectorParams(size=4, distance="Dot")})
    print("survived", flush=True)
"""


@pytest.mark.parametrize(
    "where",
    ["create: before the commit rename", "create: after the commit rename", "delete: half of the trash removed"],
)
def test_killed_create_or_delete_leaves_a_whole_collection_or_none(tmp_path, where):
    path = tmp_path / "db"
    _fill_folder(path, ("keep",) + (("victim",) if where.startswith("delete") else ()))
    out = _run(KILLED_CREATE_DELETE, str(path), where)
    assert out.returncode == -9 and "survived" not in out.stdout, out.stderr[-2000:]
    client = EdgeQdrantClient(path=str(path))
    try:
        names = sorted(c.name for c in client.get_collections().collections)
        assert not edge_backend(client).damaged
        assert client.count("keep").count == 30
        if where == "create: after the commit rename":
            assert names == ["keep", "victim"] and client.count("victim").count == 0
        else:
            assert names == ["keep"]
    finally:
        client.close()
    leftovers = [p.name for p in path.iterdir() if p.name.startswith((".creating-", ".deleted-"))]
    assert leftovers == []  # removed by the open
