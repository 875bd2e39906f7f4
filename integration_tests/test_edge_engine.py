"""Qdrant Edge as the embedded engine (``engine="edge"``): parity with qdrant-client's local
mode, and what only an engine with files and threads has (reopen, locks, threads, the
sidecar, unsupported methods).

Parity: the same operations on a local-mode client and an Edge client give the same ids
(same order) and scores within 1e-4, for plain queries, filters, prefetch funnels,
fusion, thresholds, offsets, batches, each funnel shape of ``query_late_interaction``,
and after a reopen; point reads, payload and vector selectors, metadata agree exactly.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from qdrant_tokenpool import (
    AsyncTokenPoolingClient,
    InvalidVectorError,
    PoolingConfig,
    TokenPoolingClient,
)

pytest.importorskip("qdrant_edge", reason="needs qdrant-edge-py (scripts/setup.sh installs it)")

from qdrant_tokenpool.edge_client import AsyncEdgeQdrantClient, EdgeQdrantClient
from qdrant_tokenpool.engines import (
    DamagedCollectionError,
    EdgeUnsupportedError,
    StorageLockedError,
)
from qdrant_tokenpool.engines.edge import EdgeBackend
from qdrant_tokenpool.engines.edge import backend as edge_mod
from qdrant_tokenpool.engines.edge import config as edge_config

D = 16
N = 80
TOL = 1e-4
MAXSIM = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
SHAPES = [(False, False), (True, False), (False, True), (True, True)]


def docs(seed: int = 5, n: int = N) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((int(rng.integers(3, 20)), D)).astype(np.float32) for _ in range(n)]


def ids_of(i: int) -> int | str:
    """Half the points have UUID ids (Edge returns them as uuid.UUID: we return str)."""
    return i if i % 2 == 0 else str(uuid.UUID(int=i + 1))


def vectors_config(summary: bool = True, full: bool = True) -> dict[str, models.VectorParams]:
    v = {"colbert": models.VectorParams(size=D, distance=models.Distance.COSINE, multivector_config=MAXSIM)}
    if summary:
        v["summary"] = models.VectorParams(size=D, distance=models.Distance.COSINE)
    if full:
        v["full"] = models.VectorParams(size=D, distance=models.Distance.COSINE, multivector_config=MAXSIM)
    return v


def fill(client: QdrantClient, name: str, summary: bool = True, full: bool = True, pooled: bool = True) -> None:
    """A collection with pooling config and points written through the pooling client."""
    cfg = PoolingConfig(
        pool_factor=2,
        summary_vector="summary" if summary else None,
        keep_original_vector="full" if full else None,
    )
    client.create_collection(name, {"colbert": vectors_config(False, False)["colbert"]},
                             pooling={"colbert": cfg} if pooled else None)
    points = [
        models.PointStruct(
            id=ids_of(i),
            vector={"colbert": d},
            payload={"group": i % 3, "i": i, "tag": f"t{i % 5}", "nested": {"x": i % 4}},
        )
        for i, d in enumerate(docs())
    ]
    client.upsert(name, points)


@pytest.fixture
def pair(tmp_path):
    """(local-mode client, Edge client), both pooling clients, each on its own folder."""
    local = TokenPoolingClient(path=str(tmp_path / "local"))
    edge = TokenPoolingClient(path=str(tmp_path / "edge"), engine="edge")
    yield local, edge
    local.close()
    edge.close()


def assert_same_points(a, b, ties: bool = False) -> None:
    """Same scores (within TOL) and the same ids in order. With ``ties`` (RRF: scores are
    sums of rank terms), tied points may come in any order and the last group may be cut
    by the limit at a different member."""
    np.testing.assert_allclose([p.score for p in a], [p.score for p in b], atol=TOL, rtol=0)
    if not ties:
        assert [p.id for p in a] == [p.id for p in b]
        assert [p.payload for p in a] == [p.payload for p in b]
        return
    groups: list[list[int]] = []
    for k in range(len(a)):
        if groups and abs(a[k].score - a[groups[-1][0]].score) <= 1e-9:
            groups[-1].append(k)
        else:
            groups.append([k])
    for g in groups[:-1]:
        assert {str(a[k].id) for k in g} == {str(b[k].id) for k in g}
        assert sorted(map(repr, (a[k].payload for k in g))) == sorted(map(repr, (b[k].payload for k in g)))


QUERY = np.random.default_rng(99).standard_normal((4, D)).astype(np.float32)
FILTER = models.Filter(
    must=[models.FieldCondition(key="group", match=models.MatchAny(any=[0, 2]))],
    must_not=[models.FieldCondition(key="i", range=models.Range(gt=60))],
    should=[
        models.FieldCondition(key="tag", match=models.MatchValue(value="t1")),
        models.FieldCondition(key="nested.x", match=models.MatchValue(value=2)),
        models.HasIdCondition(has_id=[0, 2, 4, 6, ids_of(7)]),
    ],
)

QUERIES = {
    "plain maxsim": {"query": QUERY, "using": "colbert", "limit": 10},
    "maxsim filter": {"query": QUERY, "using": "colbert", "limit": 10, "query_filter": FILTER},
    "dense": {"query": QUERY[0], "using": "summary", "limit": 7},
    "offset+threshold": {"query": QUERY, "using": "colbert", "limit": 5, "offset": 3, "score_threshold": 0.5},
    "two-stage funnel": {
        "prefetch": models.Prefetch(query=QUERY.mean(0), using="summary", limit=30),
        "query": QUERY, "using": "colbert", "limit": 10,
    },
    "three-stage funnel + filters": {
        "prefetch": models.Prefetch(
            prefetch=models.Prefetch(query=QUERY.mean(0), using="summary", limit=40, filter=FILTER),
            query=QUERY, using="colbert", limit=20,
        ),
        "query": QUERY, "using": "full", "limit": 8, "query_filter": FILTER,
    },
    "rrf fusion": {
        "prefetch": [
            models.Prefetch(query=QUERY.mean(0), using="summary", limit=20),
            models.Prefetch(query=QUERY, using="colbert", limit=20),
        ],
        "query": models.FusionQuery(fusion=models.Fusion.RRF), "limit": 10,
    },
    "by point id": {"query": 4, "using": "summary", "limit": 5},
    "nearest model + payload include": {
        "query": models.NearestQuery(nearest=QUERY.tolist()), "using": "colbert", "limit": 4,
        "with_payload": models.PayloadSelectorInclude(include=["group", "nested.x"]),
    },
    "payload exclude": {"query": QUERY, "using": "colbert", "limit": 4,
                            "with_payload": models.PayloadSelectorExclude(exclude=["tag"])},
    "no payload": {"query": QUERY, "using": "colbert", "limit": 4, "with_payload": False},
}


@pytest.mark.parametrize("case", list(QUERIES))
def test_query_points_parity(pair, case):
    local, edge = pair
    for c in pair:
        fill(c, "docs")
    kwargs = QUERIES[case]
    assert_same_points(
        local.query_points("docs", **kwargs).points,
        edge.query_points("docs", **kwargs).points,
        ties="fusion" in case,
    )


@pytest.mark.parametrize("summary,full", SHAPES)
@pytest.mark.parametrize("rescore", [None, "client"])
def test_query_late_interaction_parity_every_funnel(pair, summary, full, rescore):
    for c in pair:
        fill(c, "docs", summary=summary, full=full)
    local, edge = pair
    kw = {"limit": 7, "prefetch_limit": 25, "rescore_limit": 12, "rescore": rescore}
    a = local.query_late_interaction("docs", QUERY, **kw).points
    b = edge.query_late_interaction("docs", QUERY, **kw).points
    assert len(a) == 7
    assert_same_points(a, b)
    fa = local.query_late_interaction("docs", QUERY, query_filter=FILTER, **kw).points
    fb = edge.query_late_interaction("docs", QUERY, query_filter=FILTER, **kw).points
    assert fa and all(p.payload["group"] in (0, 2) for p in fb)
    assert_same_points(fa, fb)


def test_reads_vectors_metadata_and_writes_parity(pair):
    for c in pair:
        fill(c, "docs")
    local, edge = pair
    ids = [ids_of(i) for i in (3, 0, 9, 4)]
    ra = local.retrieve("docs", ids, with_vectors=["colbert", "summary"])
    rb = edge.retrieve("docs", ids, with_vectors=["colbert", "summary"])
    assert sorted(map(str, (r.id for r in ra))) == sorted(map(str, (r.id for r in rb)))
    by_id = {r.id: r for r in ra}
    for r in rb:
        assert isinstance(r.id, (int, str))  # never uuid.UUID
        assert r.payload == by_id[r.id].payload
        assert set(r.vector) == {"colbert", "summary"}
        np.testing.assert_allclose(r.vector["colbert"], by_id[r.id].vector["colbert"], atol=1e-6)
    assert local.get_collection("docs").config.metadata == edge.get_collection("docs").config.metadata
    assert local.get_collection("docs").config.params.vectors == edge.get_collection("docs").config.params.vectors
    assert local.get_pooling("docs") == edge.get_pooling("docs")
    for c in pair:
        c.set_payload("docs", {"new": 1}, points=models.Filter(must=[models.FieldCondition(key="group", match=models.MatchValue(value=1))]))
        c.overwrite_payload("docs", {"only": True}, points=[ids_of(5)])
        c.delete_payload("docs", ["tag"], points=[ids_of(6), ids_of(8)])
        c.clear_payload("docs", [ids_of(10)])
        c.delete("docs", models.FilterSelector(filter=models.Filter(must=[models.FieldCondition(key="i", range=models.Range(gte=70))])))
        c.delete_vectors("docs", ["summary"], [ids_of(12)])
        c.batch_update_points("docs", [
            models.SetPayloadOperation(set_payload=models.SetPayload(payload={"b": 2}, points=[ids_of(1)])),
            models.DeleteOperation(delete=models.PointIdsList(points=[ids_of(2)])),
        ])
    sa, _ = local.scroll("docs", limit=200, with_vectors=["summary"])
    sb, _ = edge.scroll("docs", limit=200, with_vectors=["summary"])
    key = lambda r: str(r.id)
    sa, sb = sorted(sa, key=key), sorted(sb, key=key)
    assert [r.id for r in sa] == [r.id for r in sb]
    assert [r.payload for r in sa] == [r.payload for r in sb]
    assert [sorted(r.vector) for r in sa] == [sorted(r.vector) for r in sb]
    for f in (None, FILTER):
        assert local.count("docs", count_filter=f).count == edge.count("docs", count_filter=f).count


def test_query_batch_points_parity(pair):
    for c in pair:
        fill(c, "docs")
    reqs = [
        models.QueryRequest(query=QUERY.tolist(), using="colbert", limit=5, with_payload=True),
        models.QueryRequest(query=QUERY[1].tolist(), using="summary", limit=3, filter=FILTER, with_payload=True),
    ]
    a = pair[0].query_batch_points("docs", reqs)
    b = pair[1].query_batch_points("docs", reqs)
    for ra, rb in zip(a, b):
        assert_same_points(ra.points, rb.points)


def test_reopen_keeps_points_config_metadata_and_answers(tmp_path):
    path = str(tmp_path / "db")
    first = TokenPoolingClient(path=path, engine="edge")
    fill(first, "docs")
    first.update_collection("docs", metadata={"owner": "me"})
    before = first.query_late_interaction("docs", QUERY, limit=6).points
    first.close()
    second = TokenPoolingClient(path=path, engine="edge")
    try:
        info = second.get_collection("docs")
        assert info.points_count == N
        assert info.config.metadata["owner"] == "me"
        assert second.get_pooling("docs")["colbert"].pool_factor == 2
        assert_same_points(before, second.query_late_interaction("docs", QUERY, limit=6).points)
    finally:
        second.close()


def test_threads_share_one_client(tmp_path):
    """8 threads write and query one Edge client at once: every point lands, every query
    answers (Edge is thread-safe and releases the GIL; no client-side lock is needed)."""
    client = TokenPoolingClient(path=str(tmp_path / "db"), engine="edge")
    try:
        fill(client, "docs")
        errors: list[BaseException] = []
        rng = np.random.default_rng(1)
        extra = [rng.standard_normal((8, D)).astype(np.float32) for _ in range(8 * 40)]

        def work(t: int) -> None:
            try:
                for j in range(40):
                    k = t * 40 + j
                    client.upsert("docs", [models.PointStruct(id=1000 + k, vector={"colbert": extra[k]}, payload={"t": t})])
                    assert len(client.query_late_interaction("docs", QUERY, limit=3).points) == 3
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors
        assert client.count("docs").count == N + 320
        got = client.retrieve("docs", [1000 + k for k in range(320)], with_vectors=["colbert"])
        assert len(got) == 320
        assert all(len(r.vector["colbert"]) < 8 for r in got)  # pooled (8 tokens -> 4 at pf=2)
    finally:
        client.close()


def test_second_client_on_the_same_folder_gets_a_clear_error(tmp_path):
    path = tmp_path / "db"
    client = TokenPoolingClient(path=str(path), engine="edge")
    try:
        with pytest.raises(StorageLockedError, match="already accessed by another instance of Qdrant client"):
            TokenPoolingClient(path=str(path), engine="edge")
        script = textwrap.dedent(f"""
            from qdrant_tokenpool import TokenPoolingClient
            try:
                TokenPoolingClient(path={str(path)!r}, engine="edge")
            except Exception as exc:
                print(type(exc).__name__, exc)
            else:
                print("opened")
        """)
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
        assert out.stdout.startswith("StorageLockedError"), out.stdout + out.stderr
        assert f"pid {os.getpid()}" in out.stdout
    finally:
        client.close()
    TokenPoolingClient(path=str(path), engine="edge").close()  # free again after close


def test_memory_is_a_temporary_folder_removed_on_close():
    client = TokenPoolingClient(":memory:", engine="edge")
    root = client._client.root
    fill(client, "docs", pooled=False)
    assert root.is_dir()
    client.close()
    assert not root.exists()


def test_sidecar_is_atomic_and_a_folder_without_one_is_damage(tmp_path):
    """The sidecar is replaced atomically (no temp file stays). A collection folder without
    one is never an unfinished creation (those are built elsewhere and renamed into
    place): it is reported and kept (integration_tests/test_edge_safety.py has the rest)."""
    path = tmp_path / "db"
    client = TokenPoolingClient(path=str(path), engine="edge")
    fill(client, "docs", pooled=False)
    client.update_collection("docs", metadata={"k": [1, 2]})
    client.close()
    folder = path / "collections" / "docs"
    assert (folder / "collection.json").is_file()
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    (path / "collections" / "half").mkdir()
    with pytest.warns(RuntimeWarning, match="collection 'half' is damaged"):
        client = TokenPoolingClient(path=str(path), engine="edge")
    try:
        assert [c.name for c in client.get_collections().collections] == ["docs", "half"]
        with pytest.raises(DamagedCollectionError, match="collection.json' .* is missing"):
            client.create_collection("half", vectors_config(False, False))
        assert (path / "collections" / "half").is_dir()  # a create never deletes it
        assert client.delete_collection("half") and not (path / "collections" / "half").exists()
        assert not client.delete_collection("half")
        client.create_collection("half", vectors_config(False, False))
        assert client.collection_exists("half")
    finally:
        client.close()


def test_backends_write_out_every_method_of_their_base():
    """No method is attached at import time: every ``QdrantBase`` method has a ``def`` in
    the Edge backend's package (what Edge lacks in ``unsupported.py``), every
    ``AsyncQdrantBase`` method one in ``AsyncEdgeBackend``, sync where the base's is."""
    from qdrant_client.async_client_base import AsyncQdrantBase
    from qdrant_client.client_base import QdrantBase

    from qdrant_tokenpool.engines.edge import AsyncEdgeBackend

    package = Path(edge_mod.__file__).parent
    for base, backend in ((QdrantBase, EdgeBackend), (AsyncQdrantBase, AsyncEdgeBackend)):
        for name, fn in inspect.getmembers(base, inspect.isfunction):
            if name.startswith("_") or (backend is EdgeBackend and name == "migrate"):
                continue  # migrate: QdrantClient runs it over the other methods
            ours = getattr(backend, name)
            assert ours is not fn and Path(inspect.getsourcefile(ours)).parent == package, name
            assert inspect.iscoroutinefunction(ours) == inspect.iscoroutinefunction(fn), name


def test_unsupported_methods_name_the_method_and_the_engine():
    client = EdgeQdrantClient(":memory:")
    try:
        client.create_collection("c", models.VectorParams(size=4, distance=models.Distance.DOT))
        calls = {
            "query_points_groups": lambda: client.query_points_groups("c", group_by="g", query=[1, 0, 0, 0]),
            "update_collection_aliases": lambda: client.update_collection_aliases(
                change_aliases_operations=[models.CreateAliasOperation(
                    create_alias=models.CreateAlias(collection_name="c", alias_name="a"))]),
            "create_snapshot": lambda: client.create_snapshot("c"),
            "search_matrix_pairs": lambda: client.search_matrix_pairs("c"),
        }
        for name, call in calls.items():
            with pytest.raises(EdgeUnsupportedError, match=rf"{name}\(\) is not supported by the Qdrant Edge engine"):
                call()
        with pytest.raises(EdgeUnsupportedError, match=r"update_collection\(hnsw_config=\.\.\.\)"):
            client.update_collection("c", hnsw_config=models.HnswConfigDiff(m=8))
        assert client.get_aliases().aliases == []
    finally:
        client.close()


def test_plain_edge_clients_and_engine_selection(tmp_path):
    with pytest.raises(ValueError, match="unknown engine 'edg'"):
        TokenPoolingClient(":memory:", engine="edg")
    with pytest.raises(ValueError, match="is for embedded databases"):
        TokenPoolingClient(url="http://localhost:6333", engine="edge")
    with pytest.raises(ValueError, match="needs ':memory:' or path="):
        AsyncTokenPoolingClient(engine="edge")
    local = TokenPoolingClient(":memory:", engine="local")
    assert local.engine == "local" and TokenPoolingClient(":memory:").engine == "local"
    local.close()
    plain = EdgeQdrantClient(path=str(tmp_path / "p"))
    assert type(plain).__mro__[1] is QdrantClient and plain._client.engine_name == "edge"
    assert plain.init_options["path"] == str(tmp_path / "p")
    plain.create_collection("c", models.VectorParams(size=4, distance=models.Distance.DOT))
    plain.upsert("c", [models.PointStruct(id=1, vector=[1, 0, 0, 0])])
    assert plain.query_points("c", query=[1, 0, 0, 0]).points[0].id == 1
    plain.close()

    async def run() -> None:
        client = AsyncEdgeQdrantClient(path=str(tmp_path / "p"))
        try:
            assert (await client.count("c")).count == 1
            assert (await client.query_points("c", query=[1, 0, 0, 0])).points[0].score == 1.0
        finally:
            await client.close()

    asyncio.run(run())


def test_edge_missing_says_how_to_get_it(monkeypatch):
    import importlib

    from qdrant_tokenpool import engines

    real = importlib.import_module

    def fake(name, *a, **k):
        if name == "qdrant_edge":
            raise ImportError("No module named 'qdrant_edge'")
        return real(name, *a, **k)

    monkeypatch.setattr(engines, "import_module", fake)
    with pytest.raises(engines.EngineNotAvailableError, match=r"pip install 'qdrant-edge-py>=0.9,<0.10'"):
        engines.require_edge()


def test_local_mode_folder_is_refused_with_a_hint(tmp_path):
    QdrantClient(path=str(tmp_path / "lm")).close()
    with pytest.raises(ValueError, match="local-mode database.*engine='local'"):
        TokenPoolingClient(path=str(tmp_path / "lm"), engine="edge")


def test_bulk_upload_optimizes_and_multivectors_keep_no_graph(tmp_path, monkeypatch):
    """Indexing policy: a bulk upload ends with optimize(); multivectors get m=0."""
    monkeypatch.setattr(edge_mod, "BULK_OPTIMIZE_POINTS", 50)
    calls = []
    real = EdgeBackend.optimize
    monkeypatch.setattr(EdgeBackend, "optimize", lambda self, name=None: calls.append(name) or real(self, name))
    client = TokenPoolingClient(path=str(tmp_path / "db"), engine="edge")
    try:
        fill(client, "docs", pooled=True)
        assert calls == []  # plain upserts do not optimize
        client.upload_points("docs", [models.PointStruct(id=5000 + i, vector={"colbert": d}) for i, d in enumerate(docs(7, 60))])
        assert calls == ["docs"]
        vp = edge_config.vector_params(vectors_config()["colbert"], "colbert")
        assert vp.hnsw_config.m == 0
        assert edge_config.vector_params(vectors_config()["summary"], "summary").hnsw_config is None
        assert client.optimize("docs") in (True, False) and calls[-1] == "docs"
    finally:
        client.close()


def test_choose_engine_by_folder_and_copy_database(tmp_path, monkeypatch):
    """New folders open on Edge; a local-mode folder keeps local mode with a note; an
    explicit engine that does not match the folder is refused; copy_database moves a
    local-mode database to Edge with its pooling config, and the copy answers the same."""
    from qdrant_tokenpool.engines import folders as eo
    from qdrant_tokenpool.ops import database as od

    local_path, edge_path = tmp_path / "lm", tmp_path / "ed"
    assert eo.choose_engine(tmp_path / "new") == eo.EngineChoice("edge")
    local, choice = od.open_embedded(local_path, "local")
    assert choice.engine == "local" and local.engine == "local"
    fill(local, "docs")
    before = local.query_late_interaction("docs", QUERY, limit=5).points
    local.close()
    auto = eo.choose_engine(local_path)
    assert auto.engine == "local" and "copy-db" in auto.note
    with pytest.raises(ValueError, match="not one of Qdrant Edge"):
        eo.choose_engine(local_path, "edge")
    assert od.copy_database(local_path, edge_path) == ["docs"]
    assert eo.folder_engine(edge_path) == "edge" and eo.database_exists(edge_path)
    edge, choice = od.open_embedded(edge_path)
    try:
        assert choice == eo.EngineChoice("edge") and edge.engine == "edge"
        assert edge.get_pooling("docs")["colbert"].pool_factor == 2
        assert edge.count("docs").count == N
        assert_same_points(before, edge.query_late_interaction("docs", QUERY, limit=5).points)
    finally:
        edge.close()
    plain, _ = od.open_embedded(edge_path, pooling=False)
    assert type(plain) is EdgeQdrantClient
    plain.close()
    with pytest.raises(ValueError, match="same folder"):
        od.copy_database(edge_path, edge_path)

    def missing() -> None:
        raise eo.EngineNotAvailableError("no qdrant-edge-py")

    monkeypatch.setattr(eo, "require_edge", missing)
    fallback = eo.choose_engine(tmp_path / "other")
    assert fallback.engine == "local" and "qdrant-edge-py is not installed" in fallback.note


def test_points_given_as_arrays_store_the_same_float32_values(tmp_path):
    """Edge gets numpy/tensor vectors of points as float32 memoryviews (one per row of a
    multivector) and other array-likes through numpy: what is stored is the float32 value
    of what was given, exactly, whatever the input's dtype, layout or type."""
    rng = np.random.default_rng(3)
    mv = rng.standard_normal((7, D))
    dense = rng.standard_normal(D).astype(np.float32)

    class ArrayLike:
        def __init__(self, a: np.ndarray) -> None:
            self.a = a

        def __array__(self, dtype=None, copy=None):
            return self.a

    inputs = {
        1: mv.astype(np.float32),
        2: mv,  # float64: rounded to float32
        3: np.asfortranarray(mv.astype(np.float32)),  # not C-contiguous
        4: mv.astype(np.float32)[:, ::-1][:, ::-1],  # a strided view
        5: ArrayLike(mv.astype(np.float32)),
        6: mv.astype(np.float32).tolist(),
    }
    torch = None
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is installed by setup.sh
        pass
    if torch is not None:
        inputs[7] = torch.from_numpy(mv.astype(np.float32))
    client = TokenPoolingClient(path=str(tmp_path / "db"), engine="edge")
    try:
        client.create_collection(
            "c",
            {
                "mv": models.VectorParams(size=D, distance=models.Distance.DOT, multivector_config=MAXSIM),
                "d": models.VectorParams(size=D, distance=models.Distance.DOT),
            },
        )
        points = [
            models.PointStruct.model_construct(id=i, vector={"mv": v, "d": dense}, payload=None)
            for i, v in inputs.items()
        ]
        client.upsert("c", points)
        for r in client.retrieve("c", list(inputs), with_vectors=True):
            stored = np.asarray(r.vector["mv"], dtype=np.float32)
            assert stored.tobytes() == mv.astype(np.float32).tobytes(), r.id
            assert np.asarray(r.vector["d"], dtype=np.float32).tobytes() == dense.tobytes()
    finally:
        client.close()


def test_a_batch_of_array_columns_is_checked_whole_and_written_column_by_column(tmp_path):
    """A ``Batch`` whose vectors are numpy columns (what the token index writes) is read
    row by row from the arrays: the float32 values given, each point its own payload
    (one dict shared by many points included); a bad row is named by its point id and
    nothing of the batch is written; columns of the wrong length are refused."""
    rng = np.random.default_rng(5)
    n = 50
    dense = rng.standard_normal((n, D))  # float64: stored as float32
    other = rng.standard_normal((n, 4)).astype(np.float32)
    shared = {"doc": "7"}
    payloads = [shared if i % 3 else None for i in range(n)]
    client = EdgeQdrantClient(path=str(tmp_path / "db"))
    try:
        client.create_collection("c", {
            "d": models.VectorParams(size=D, distance=models.Distance.DOT),
            "o": models.VectorParams(size=4, distance=models.Distance.EUCLID),
        })
        batch = models.Batch.model_construct(
            ids=list(range(100, 100 + n)), vectors={"d": dense, "o": other}, payloads=payloads
        )
        client.upsert("c", batch)
        got = {r.id: r for r in client.retrieve("c", list(range(100, 100 + n)), with_vectors=True)}
        assert sorted(got) == list(range(100, 100 + n))
        for i in range(n):
            r = got[100 + i]
            assert np.asarray(r.vector["d"], dtype=np.float32).tobytes() == dense[i].astype(np.float32).tobytes()
            assert np.asarray(r.vector["o"], dtype=np.float32).tobytes() == other[i].tobytes()
            assert r.payload == (shared if i % 3 else {})
        bad = other.copy()
        bad[17, 2] = np.nan
        with pytest.raises(InvalidVectorError, match="point 217, vector 'o': non-finite"):
            client.upsert("c", models.Batch.model_construct(
                ids=list(range(200, 200 + n)), vectors={"d": dense, "o": bad}, payloads=None))
        with pytest.raises(ValueError, match="vector 'o' has 49 rows for 50 ids"):
            client.upsert("c", models.Batch.model_construct(
                ids=list(range(200, 200 + n)), vectors={"d": dense, "o": other[:-1]}, payloads=None))
        with pytest.raises(InvalidVectorError, match="point 200, vector 'd': wrong dimension"):
            client.upsert("c", models.Batch.model_construct(
                ids=list(range(200, 200 + n)), vectors={"d": dense[:, :-1], "o": other}, payloads=None))
        assert client.count("c").count == n  # nothing of the bad batches
    finally:
        client.close()
