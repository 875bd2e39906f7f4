"""Unit tests of qdrant_tokenpool.write_path: request shapes, validation, splitting, flows.

No database: flows run against a fake parent client that records the calls it gets.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from qdrant_tokenpool import InvalidMultivectorError, InvalidVectorError, PoolingConfig, pool_tokens
from qdrant_tokenpool import write_path as wp
from qdrant_tokenpool._flow import call, run_blocking, run_sync
from qdrant_tokenpool.store import CollectionPooling, PoolingState, VectorSpec

DIM = 8
COS = models.Distance.COSINE


def cp(pooling: dict[str, PoolingConfig] | None = None, *, unnamed: bool = False) -> CollectionPooling:
    if unnamed:
        vectors = {"": VectorSpec(DIM, COS, True)}
        pooling = pooling if pooling is not None else {"": PoolingConfig(pool_factor=2)}
    else:
        vectors = {
            "colbert": VectorSpec(DIM, COS, True),
            "other": VectorSpec(DIM, COS, True),
            "dense": VectorSpec(4, COS, False),
            "summary": VectorSpec(DIM, COS, False),
            "full": VectorSpec(DIM, COS, True),
        }
        pooling = pooling if pooling is not None else {"colbert": PoolingConfig(pool_factor=2)}
    return CollectionPooling("c", pooling, vectors, {})


def doc(n: int = 9, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def unit(x: np.ndarray) -> np.ndarray:
    """What a Cosine collection stores: unit rows (pooling leaves protected tokens as given)."""
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def ps(i: int, **vectors: Any) -> models.PointStruct:
    return models.PointStruct(id=i, vector=vectors, payload={"i": i})


# -- shapes ---------------------------------------------------------------------------------
def test_points_are_pooled_and_untouched_objects_kept():
    other = doc(4, 1).tolist()
    dense = [0.1, 0.2, 0.3, 0.4]
    points = [ps(1, colbert=doc(9, 0).tolist(), other=other, dense=dense), ps(2, dense=dense)]
    out = wp.pool_points(points, cp())
    assert out[1] is points[1]  # nothing configured in it: the same object
    np.testing.assert_allclose(out[0].vector["colbert"], unit(pool_tokens(doc(9, 0), 2)), atol=1e-6)
    assert out[0].vector["other"] is points[0].vector["other"]
    assert out[0].vector["dense"] is points[0].vector["dense"]
    assert out[0].payload is points[0].payload
    assert points[0].vector["colbert"] == doc(9, 0).tolist()  # the input is not modified


def test_request_without_configured_vectors_is_returned_as_is():
    points = [ps(1, other=doc(3).tolist())]
    assert wp.pool_points(points, cp()) is points
    batch = models.Batch(ids=[1], vectors={"other": [doc(3).tolist()]})
    assert wp.pool_batch_request(batch, cp()) is batch
    ops = [models.DeleteOperation(delete=models.PointIdsList(points=[1]))]
    assert wp.pool_operations(ops, cp()) is ops


def test_numpy_and_torch_inputs():
    torch = pytest.importorskip("torch")
    x = doc(12, 3)
    for raw in (x, torch.from_numpy(x), x.astype(np.float64), x.tolist()):
        p = models.PointStruct.model_construct(id=5, vector={"colbert": raw}, payload=None)
        out = wp.pool_points([p], cp())
        np.testing.assert_allclose(out[0].vector["colbert"], unit(pool_tokens(x, 2)), atol=1e-6)
        assert isinstance(out[0].vector["colbert"], list)


def test_batch_named_and_unnamed():
    docs = [doc(9, s) for s in range(3)]
    batch = models.Batch(ids=[1, 2, 3], vectors={"colbert": [d.tolist() for d in docs], "dense": [[1.0] * 4] * 3})
    out = wp.pool_batch_request(batch, cp())
    for got, d in zip(out.vectors["colbert"], docs):
        np.testing.assert_allclose(got, unit(pool_tokens(d, 2)), atol=1e-6)
    assert out.vectors["dense"] is batch.vectors["dense"]
    unnamed = models.Batch(ids=[1, 2, 3], vectors=[d.tolist() for d in docs])
    out = wp.pool_batch_request(unnamed, cp(unnamed=True))
    assert [len(v) for v in out.vectors] == [len(pool_tokens(d, 2)) for d in docs]


def test_operations_all_variants():
    d = doc(9)
    ops = [
        models.UpsertOperation(upsert=models.PointsList(points=[ps(1, colbert=d.tolist())])),
        models.UpsertOperation(upsert=models.PointsBatch(batch=models.Batch(ids=[2], vectors={"colbert": [d.tolist()]}))),
        models.UpdateVectorsOperation(update_vectors=models.UpdateVectors(points=[models.PointVectors(id=3, vector={"colbert": d.tolist()})])),
        models.DeleteOperation(delete=models.PointIdsList(points=[9])),
    ]
    out = wp.pool_operations(ops, cp())
    m = len(pool_tokens(d, 2))
    assert len(out[0].upsert.points[0].vector["colbert"]) == m
    assert len(out[1].upsert.batch.vectors["colbert"][0]) == m
    assert len(out[2].update_vectors.points[0].vector["colbert"]) == m
    assert out[3] is ops[3]


def test_one_pool_arrays_call_per_config(monkeypatch):
    calls = []
    real = wp.plan.pool_arrays

    def spy(docs, spec, **kw):
        calls.append((len(docs), spec.pool_factor))
        return real(docs, spec, **kw)

    monkeypatch.setattr(wp.plan, "pool_arrays", spy)  # pooling lives in write_path.plan
    conf = cp({"colbert": PoolingConfig(pool_factor=2), "other": PoolingConfig(pool_factor=3)})
    points = [ps(i, colbert=doc(9, i).tolist(), other=doc(7, i).tolist()) for i in range(10)]
    wp.pool_points(points, conf)
    assert sorted(calls) == [(10, 2), (10, 3)]


def test_pooling_starts_while_reading_and_gives_the_same_bytes(monkeypatch):
    """Validated documents go to the pooling threads while the next ones are read
    (STREAM_CHUNK_SECONDS of work at a time, forced to one document here); the pooled
    vectors are the bytes of pooling in the calling thread."""
    from qdrant_tokenpool.pooling import kernels

    monkeypatch.setattr(wp.plan, "STREAM_CHUNK_SECONDS", 0.0)
    started = []
    real = wp.plan.pool_soon
    monkeypatch.setattr(wp.plan, "pool_soon", lambda a, s, w=None: started.append(len(a)) or real(a, s, w))
    points = [ps(i, colbert=doc(30, i).tolist(), dense=[1.0] * 4) for i in range(10)]
    streamed = wp.pool_points(points, cp(), workers=2, arrays=True)
    assert started == ([1] * 10 if kernels.compiled_kernels() else [1])  # no kernel: run() pools
    serial = wp.pool_points(points, cp(), workers=1, arrays=True)
    for a, b in zip(streamed, serial):
        assert a.vector["colbert"].tobytes() == b.vector["colbert"].tobytes()
    started.clear()
    wp.pool_points(points, cp(), workers=1)
    assert started == []  # workers=1: the calling thread only


def test_pending_arrays_wait_for_their_pooling_and_raise_its_errors(monkeypatch):
    from concurrent.futures import Future

    monkeypatch.setattr(wp.plan, "STREAM_CHUNK_SECONDS", 0.0)
    futures: list[Future] = []

    def soon(arrays, spec, workers=None):
        futures.append(Future())
        return futures[-1]

    monkeypatch.setattr(wp.plan, "pool_soon", soon)
    points = [ps(i, colbert=doc(12, i).tolist()) for i in range(3)]
    out = wp.pool_points(points, cp(), arrays=True, pending=True)  # returns before pooling ends
    pending = [p.vector["colbert"] for p in out]
    assert all(isinstance(v, wp.plan.PendingArray) for v in pending)
    futures[0].set_result([pool_tokens(doc(12, 0), 2)])
    np.testing.assert_allclose(np.asarray(pending[0]), unit(pool_tokens(doc(12, 0), 2)), atol=1e-6)
    futures[1].set_exception(MemoryError("no memory to pool"))
    with pytest.raises(MemoryError, match="no memory to pool"):
        np.asarray(pending[1])
    # without arrays (a server) or without pending (local mode): waited for, never pending
    for kwargs in ({"pending": True}, {"arrays": True}):
        futures.clear()
        threads = wp.plan.PoolingJob(cp(), **kwargs)
        for i, p in enumerate(points):
            threads.add(p.vector["colbert"], point_id=p.id, vector_name="colbert")
            futures[-1].set_result([pool_tokens(doc(12, i), 2)])
        threads.run()
        assert not isinstance(threads.pooled(2), wp.plan.PendingArray)


def test_last_documents_of_an_edge_request_are_pooled_on_threads_too(monkeypatch):
    """Chunks of two documents go to the threads while reading; for Edge (``pending``)
    the leftover goes there too at run(), else the calling thread pools it; the bytes are
    those of pooling serially either way."""
    from qdrant_tokenpool.pooling import kernels

    two = 2 * wp.plan.estimated_seconds(29, DIM, "hierarchical")
    monkeypatch.setattr(wp.plan, "STREAM_CHUNK_SECONDS", two * 0.99)
    handed = []
    real = wp.plan.pool_soon
    monkeypatch.setattr(wp.plan, "pool_soon", lambda a, s, w=None: handed.append(len(a)) or real(a, s, w))
    points = [ps(i, colbert=doc(30, i).tolist()) for i in range(5)]
    serial = wp.pool_points(points, cp(), workers=1, arrays=True)
    for pending, leftover in ((False, []), (True, [1])):
        handed.clear()
        out = wp.pool_points(points, cp(), workers=2, arrays=True, pending=pending)
        if kernels.compiled_kernels():
            assert handed == [2, 2, *leftover]
        for a, b in zip(out, serial):
            assert np.asarray(a.vector["colbert"]).tobytes() == b.vector["colbert"].tobytes()
    handed.clear()
    wp.pool_points(points[:1], cp(), workers=2, arrays=True, pending=True)
    assert handed == []  # a small request stays in the calling thread


def test_extras_filled_and_explicit_ones_kept():
    conf = cp({"colbert": PoolingConfig(pool_factor=2, summary_vector="summary", keep_original_vector="full")})
    d = doc(9)
    given = [0.5] * DIM
    out = wp.pool_points([ps(1, colbert=d.tolist()), ps(2, colbert=d.tolist(), summary=given)], conf)
    rows = unit(d)
    mean = rows.mean(0)
    np.testing.assert_allclose(out[0].vector["summary"], mean / np.linalg.norm(mean), atol=1e-6)
    np.testing.assert_allclose(out[0].vector["full"], rows, atol=1e-6)  # Cosine: unit rows
    assert out[1].vector["summary"] == given


def test_dot_collections_get_pool_tokens_exactly_and_arrays_on_request():
    conf = CollectionPooling(
        "c",
        {"colbert": PoolingConfig(pool_factor=2, keep_original_vector="full")},
        {"colbert": VectorSpec(DIM, models.Distance.DOT, True), "full": VectorSpec(DIM, models.Distance.DOT, True)},
        {},
    )
    d = doc(9)
    out = wp.pool_points([ps(1, colbert=d.tolist())], conf)
    np.testing.assert_array_equal(np.asarray(out[0].vector["colbert"], np.float32), pool_tokens(d, 2))
    np.testing.assert_array_equal(np.asarray(out[0].vector["full"], np.float32), d)
    as_arrays = wp.pool_points([ps(1, colbert=d.tolist())], conf, arrays=True)
    assert isinstance(as_arrays[0].vector["colbert"], np.ndarray)
    assert as_arrays[0].vector["colbert"].dtype == np.float32


def test_summary_vectors_are_the_first_stage_encodings_of_the_unpooled_tokens():
    from qdrant_tokenpool.firststage import Muvera, MuveraParams, mean_summary

    params = MuveraParams(k_sim=2, dim_proj=4, r_reps=2, seed=3)
    fde_dim = params.output_dim(DIM)
    conf = CollectionPooling(
        "c",
        {
            "a": PoolingConfig(pool_factor=2, summary_vector="a_mean"),
            "b": PoolingConfig(pool_factor=2, summary_vector="b_fde", summary_method="muvera",
                               muvera=params),
        },
        {
            "a": VectorSpec(DIM, models.Distance.COSINE, True),
            "a_mean": VectorSpec(DIM, models.Distance.COSINE, False),
            "b": VectorSpec(DIM, models.Distance.COSINE, True),
            "b_fde": VectorSpec(fde_dim, models.Distance.DOT, False),
        },
        {},
    )
    d1, d2 = 3.0 * doc(9), doc(14)
    out = wp.pool_points([ps(1, a=d1.tolist(), b=d1.tolist()), ps(2, a=d2, b=d2)], conf)
    unit = [x / np.linalg.norm(x, axis=1, keepdims=True) for x in (d1, d2)]
    for p, x, u in zip(out, (d1, d2), unit):
        np.testing.assert_allclose(p.vector["a_mean"], mean_summary(x), rtol=1e-5, atol=1e-6)
        want = Muvera.for_dim(DIM, params).encode_document(u)  # Cosine: unit token vectors
        assert len(p.vector["b_fde"]) == fde_dim
        np.testing.assert_allclose(p.vector["b_fde"], want, rtol=1e-5, atol=1e-6)
    batch = wp.pool_batch_request(
        models.Batch(ids=[1, 2], vectors={"b": [d1.tolist(), d2.tolist()]}), conf
    )
    np.testing.assert_allclose(batch.vectors["b_fde"], [p.vector["b_fde"] for p in out], atol=1e-5)


# -- validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw, problem",
    [
        ([0.1] * DIM, "expected a multivector"),
        ([[0.1] * (DIM - 1)] * 3, "wrong dimension"),
        ([[0.1] * DIM, [0.1] * (DIM - 1)], "ragged"),
        ([], "empty multivector"),
        ([[float("nan")] * DIM], "non-finite"),
        ([[float("inf")] * DIM], "non-finite"),
        (models.Document(text="x", model="m"), "inference object"),
    ],
)
def test_bad_point_is_named_and_nothing_pooled(raw, problem, monkeypatch):
    monkeypatch.setattr(wp.plan, "pool_arrays", lambda *a, **k: pytest.fail("pooled before validating"))
    points = [ps(i, colbert=doc(9, i).tolist()) for i in range(100)]
    points[63] = models.PointStruct.model_construct(id=63, vector={"colbert": raw}, payload=None)
    with pytest.raises(InvalidMultivectorError, match=problem) as err:
        wp.pool_points(points, cp())
    assert (err.value.point_id, err.value.vector_name) == (63, "colbert")


def test_over_the_cap_is_pooled_to_fit_and_only_an_unpooled_copy_is_refused():
    n = wp.MAX_MULTIVECTOR_FLOATS // DIM  # n x DIM == the cap: one row too many
    big = np.random.default_rng(0).normal(size=(n, DIM)).astype(np.float32)
    p = models.PointStruct.model_construct(id=1, vector={"colbert": big}, payload=None)
    for pf in (1, 2):
        out = wp.pool_points([p], cp({"colbert": PoolingConfig(pool_factor=pf)}))
        stored = np.asarray(out[0].vector["colbert"])
        assert stored.size < wp.MAX_MULTIVECTOR_FLOATS
        assert stored.shape[0] == (n - 1 if pf == 1 else 1 + (n - 1) // 2)
    keep = cp({"colbert": PoolingConfig(pool_factor=2, keep_original_vector="full")})
    with pytest.raises(InvalidMultivectorError, match="too large to keep unpooled in 'full'") as err:
        wp.pool_points([p], keep)
    assert (err.value.point_id, err.value.vector_name) == (1, "colbert")
    assert f"{n} x {DIM} = {n * DIM} floats" in str(err.value)
    assert f"the pooled vector would be {1 + (n - 1) // 2} x {DIM} and fit" in str(err.value)
    job = wp.PoolingJob(keep)
    job.add(big[1:], point_id=1, vector_name="colbert")  # just under the limit
    # a request that brings its own keep-original vector stores no unpooled copy of ours
    given = {"colbert": big, "full": [[0.5] * DIM]}
    wp.PoolingJob(keep, keep=False).add(big, point_id=1, vector_name="colbert", given=given)


def test_grpc_points_are_refused_clearly():
    with pytest.raises(TypeError, match="PointStruct"):
        wp.pool_points([object()], cp())


# -- splitting ------------------------------------------------------------------------------
def test_split_points_respects_budget_and_order():
    points = [ps(i, colbert=[[0.0] * DIM] * (i + 1)) for i in range(10)]
    parts = wp.split_points(points, budget=4 * DIM)
    assert [p.id for part in parts for p in part] == list(range(10))
    for part in parts:
        assert len(part) == 1 or sum(wp.count_floats(p.vector) for p in part) <= 4 * DIM


def test_split_batch_and_operations():
    batch = models.Batch(ids=list(range(6)), vectors={"colbert": [[[0.0] * DIM] * 2] * 6}, payloads=[{"i": i} for i in range(6)])
    parts = wp.split_batch(batch, budget=2 * 2 * DIM)
    assert [b.ids for b in parts] == [[0, 1], [2, 3], [4, 5]]
    assert [p["i"] for b in parts for p in b.payloads] == list(range(6))
    ops = [
        models.UpsertOperation(upsert=models.PointsBatch(batch=batch)),
        models.DeleteOperation(delete=models.PointIdsList(points=[1])),
        models.UpsertOperation(upsert=models.PointsList(points=[ps(9, colbert=[[0.0] * DIM])])),
    ]
    reqs = wp.split_operations(ops, budget=2 * 2 * DIM)
    flat = [op for r in reqs for op in r]
    assert isinstance(flat[3], models.DeleteOperation)  # order kept
    assert [op.upsert.batch.ids for op in flat[:3]] == [[0, 1], [2, 3], [4, 5]]
    assert len(reqs) == 4  # three batch parts of 32 floats, the delete joins the last one


# -- flows against a fake parent ------------------------------------------------------------
class FakeParent:
    """Records calls; ``get_collection`` is answered from a CollectionPooling."""

    def __init__(self, conf: CollectionPooling):
        self.conf = conf
        self.calls: list[tuple[str, tuple, dict]] = []
        self.info_reads = 0

    def get_collection(self, name):
        self.info_reads += 1
        from qdrant_tokenpool.config import pooling_to_metadata

        vectors = {
            k: models.VectorParams(
                size=v.size,
                distance=v.distance,
                multivector_config=models.MultiVectorConfig(comparator="max_sim") if v.multivector else None,
            )
            for k, v in self.conf.vectors.items()
        }
        return models.CollectionInfo.model_construct(
            config=models.CollectionConfig.model_construct(
                params=models.CollectionParams.model_construct(vectors=vectors),
                metadata=pooling_to_metadata(self.conf.pooling),
            )
        )

    def __getattr__(self, method):
        def record(*args, **kwargs):
            if method in ("upload_points",):
                args = (args[0], list(args[1]), *args[2:])  # consume the stream like the parent
            self.calls.append((method, args, kwargs))
            return [f"{method}-result"] if method == "batch_update_points" else f"{method}-result"

        return record


def test_upsert_flow_remote_splits_after_validating_everything():
    parent = FakeParent(cp())
    points = [ps(i, colbert=doc(40, i).tolist()) for i in range(6)]
    flow = wp.upsert(PoolingState.for_engine("server"), "c", points, {"wait": True}, budget=2 * 20 * DIM)
    assert run_sync(flow, parent) == "upsert-result"
    ids = [[p.id for p in c[1][1]] for c in parent.calls]
    assert len(ids) == 3 and [i for part in ids for i in part] == list(range(6))
    assert all(c[2] == {"wait": True} for c in parent.calls)

    parent = FakeParent(cp())
    points[5] = ps(5, colbert=[[0.0] * DIM])  # a zero row: refused
    with pytest.raises(InvalidMultivectorError, match="point 5"):
        run_sync(wp.upsert(PoolingState.for_engine("server"), "c", points, {}, budget=2 * 20 * DIM), parent)
    assert parent.calls == []  # nothing sent, not even the first part


def test_embedded_upsert_is_one_call_and_passthrough_keeps_the_object():
    parent = FakeParent(cp())
    points = [ps(i, colbert=doc(40, i).tolist()) for i in range(6)]
    run_sync(wp.upsert(PoolingState.for_engine("local"), "c", points, {}, budget=10), parent)
    assert len(parent.calls) == 1
    parent = FakeParent(cp({}))
    run_sync(wp.upsert(PoolingState.for_engine("server"), "c", points, {}, budget=10), parent)
    assert parent.calls[0][1][1] is points


def test_disabled_state_skips_config_and_pooling():
    parent = FakeParent(cp())
    state = PoolingState()
    points = [ps(1, colbert=doc(9).tolist())]
    with state.disabled():
        run_sync(wp.upsert(state, "c", points, {}), parent)
    assert parent.info_reads == 0 and parent.calls[0][1][1] is points
    assert state.enabled


def test_disabled_is_per_state_nested_and_per_context():
    import contextvars
    import threading

    a, b = PoolingState(), PoolingState()
    with a.disabled():
        assert not a.enabled and b.enabled  # one client's block does not touch another's
        with a.disabled():
            assert not a.enabled
        assert not a.enabled  # the outer block still holds
        seen: list[bool] = []
        t = threading.Thread(target=lambda: seen.append(a.enabled))
        t.start()
        t.join()
        assert seen == [True]  # another thread pools
        assert contextvars.copy_context().run(lambda: a.enabled) is False
    assert a.enabled and b.enabled


def test_config_is_cached_between_writes():
    parent = FakeParent(cp())
    state = PoolingState()
    for _ in range(3):
        run_sync(wp.upsert(state, "c", [ps(1, colbert=doc(9).tolist())], {}), parent)
    assert parent.info_reads == 1


def test_upload_points_remote_prevalidates_sized_input():
    parent = FakeParent(cp())
    points = [ps(i, colbert=doc(9, i).tolist()) for i in range(10)]
    points[8] = ps(8, colbert=[[1.0] * (DIM + 1)])
    with pytest.raises(InvalidMultivectorError, match="point 8"):
        run_sync(wp.upload_points(PoolingState.for_engine("server"), "c", points, 4, {}), parent)
    assert parent.calls == []


def test_server_requests_check_every_vector_before_the_first_part_is_sent():
    """A server gets a rewritten request in parts (and an upload in batches): every vector,
    configured or not, is checked against the collection before the first part."""
    points = [ps(i, colbert=doc(40, i).tolist(), dense=[0.1] * 4) for i in range(6)]
    points[5] = ps(5, colbert=doc(40, 5).tolist(), dense=[float("nan")] * 4)
    for flow in (
        lambda: wp.upsert(PoolingState.for_engine("server"), "c", points, {}, budget=2 * 20 * DIM),
        lambda: wp.update_vectors(PoolingState.for_engine("server"), "c", points, {}, budget=2 * 20 * DIM),
        lambda: wp.batch_update_points(
            PoolingState.for_engine("server"), "c",
            [models.UpsertOperation(upsert=models.PointsList(points=points))], {}, budget=2 * 20 * DIM,
        ),
        lambda: wp.upload_points(PoolingState.for_engine("server"), "c", points, 2, {}),
    ):
        parent = FakeParent(cp())
        with pytest.raises(InvalidVectorError, match="point 5, vector 'dense': non-finite value nan"):
            run_sync(flow(), parent)
        assert parent.calls == []
    batch = models.Batch(ids=[1, 2], vectors={"colbert": [doc(9).tolist()] * 2, "nope": [[1.0], [1.0]]})
    parent = FakeParent(cp())
    with pytest.raises(InvalidVectorError, match="point 1, vector 'nope': the collection has no such vector"):
        run_sync(wp.upsert(PoolingState.for_engine("server"), "c", batch, {}), parent)
    assert parent.calls == []
    # an embedded engine checks each call whole itself: not checked twice here
    parent = FakeParent(cp())
    run_sync(wp.upsert(PoolingState.for_engine("local"), "c", points, {}), parent)
    assert len(parent.calls) == 1


@pytest.mark.parametrize("pooled", [True, False])
def test_sized_uploads_are_checked_whole_whether_the_collection_pools_or_not(pooled):
    conf = cp() if pooled else cp({})
    points = [ps(i, colbert=doc(9, i).tolist(), dense=[0.1] * 4) for i in range(10)]
    points[8] = ps(8, colbert=doc(9, 8).tolist(), dense=[0.1] * 5)
    state = PoolingState()
    for streams in (True, False):
        parent = FakeParent(conf)
        state.streams = streams
        flow = wp.upload_points(state, "c", points, 4, {})
        if streams:  # Qdrant Edge, or a server: batch by batch, so checked whole first
            with pytest.raises(InvalidVectorError, match="point 8, vector 'dense': wrong dimension"):
                run_sync(flow, parent)
            assert parent.calls == []
        else:  # local mode collects the whole upload and checks it itself
            run_sync(flow, parent)
            assert parent.calls[0][0] == "upload_points"
    columns = {"colbert": [doc(9, i) for i in range(10)], "dense": np.ones((10, 4), np.float32)}
    columns["dense"][7, 1] = np.inf
    state.remote = state.streams = True
    parent = FakeParent(conf)
    with pytest.raises(InvalidVectorError, match="point 17, vector 'dense': non-finite value inf at position 1"):
        run_sync(wp.upload_collection(state, "c", columns, None, list(range(10, 20)), 4, {}), parent)
    assert parent.calls == []
    # pooling switched off does not switch the checks off
    parent = FakeParent(conf)
    with state.disabled(), pytest.raises(InvalidVectorError, match="point 8"):
        run_sync(wp.upload_points(state, "c", points, 4, {}), parent)
    assert parent.calls == []


def test_upload_collection_streams_in_batches():
    parent = FakeParent(cp())
    pulled = []

    def rows():
        for i in itertools.count():
            if i == 10:
                return
            pulled.append(i)
            yield {"colbert": doc(9, i), "dense": np.ones(4, np.float32)}

    run_sync(wp.upload_collection(PoolingState.for_engine("server"), "c", rows(), None, range(10), 4, {}), parent)
    method, args, kwargs = parent.calls[0]
    assert method == "upload_points" and kwargs["batch_size"] == 4
    sent = args[1]
    assert [p.id for p in sent] == list(range(10))
    assert isinstance(sent[0].vector["dense"], list)  # numpy left over became lists
    assert len(sent[0].vector["colbert"]) == len(pool_tokens(doc(9, 0), 2))


@pytest.mark.parametrize("remote", [True, False])
def test_uploads_hand_arrays_to_embedded_engines_and_lists_to_servers(remote):
    """Streamed uploads as upsert: pooled (and leftover named) vectors stay float32 arrays
    for an embedded engine (Edge converts per point), lists for a server; an unnamed
    vector is always a list (local mode tests a point's vector for truth)."""
    conf = cp({"colbert": PoolingConfig(pool_factor=2, summary_vector="summary", keep_original_vector="full")})
    kind = np.ndarray if not remote else list
    rows = [{"colbert": doc(9, i), "dense": np.ones(4, np.float32)} for i in range(5)]

    parent = FakeParent(conf)
    run_sync(wp.upload_collection(PoolingState.for_engine("server" if remote else "local"), "c", rows, None, range(5), 2, {}), parent)
    (method, args, _), = parent.calls
    assert method == "upload_points" and [p.id for p in args[1]] == list(range(5))
    for p in args[1]:
        for name in ("colbert", "summary", "full", "dense"):
            assert isinstance(p.vector[name], kind), name
        np.testing.assert_allclose(
            np.asarray(p.vector["colbert"]), unit(pool_tokens(doc(9, p.id), 2)), atol=1e-6
        )

    parent = FakeParent(conf)
    points = [ps(i, colbert=doc(9, i)) for i in range(5)]  # PointStruct: lists inside
    run_sync(wp.upload_points(PoolingState.for_engine("server" if remote else "local"), "c", points, 2, {}), parent)
    for p in parent.calls[0][1][1]:
        assert isinstance(p.vector["colbert"], kind) and isinstance(p.vector["full"], kind)

    parent = FakeParent(cp(unnamed=True))
    run_sync(wp.upload_collection(PoolingState.for_engine("server" if remote else "local"), "c", [doc(9, 1)], None, [1], 2, {}), parent)
    assert isinstance(parent.calls[0][1][1][0].vector, list)


def test_pooled_stream_holds_one_batch():
    seen = []

    def points():
        for i in range(9):
            seen.append(i)
            yield ps(i, colbert=doc(9, i).tolist())

    stream = wp.pooled_stream(points(), cp(), batch_size=4)
    first = next(stream)
    assert first.id == 0 and seen == [0, 1, 2, 3]


def test_run_blocking_finishes_non_suspending_awaitables_and_uses_fallback():
    class AsyncParent:
        async def get_collection(self, name):
            return "info"

        def upload_points(self, *a):
            return "uploaded"

    def flow():
        info = yield call(QdrantClient.get_collection, "c")
        up = yield call(QdrantClient.upload_points, info)
        return info, up

    assert run_blocking(flow(), AsyncParent()) == ("info", "uploaded")

    class SyncTwin:
        def get_collection(self, name):
            return "sync-info"

    assert run_blocking(flow(), AsyncParent(), lambda: SyncTwin()) == ("sync-info", "uploaded")


def test_async_client_sync_uploads_read_config_through_a_sync_twin_on_a_server(monkeypatch):
    """AsyncQdrantClient.upload_points is a sync method: on a server, the flow's reads go
    through a sync QdrantClient made with the async client's own options."""
    from qdrant_client import QdrantClient

    from qdrant_tokenpool import AsyncTokenPoolingClient

    made = []

    class Twin:
        def __init__(self, **options):
            made.append(options)

        def get_collection(self, name):
            return FakeParent(cp()).get_collection(name)

        def close(self):
            pass

    monkeypatch.setattr("qdrant_tokenpool._async_base.QdrantClient", Twin)
    client = AsyncTokenPoolingClient(url="http://127.0.0.1:9", check_compatibility=False)
    sent = []
    monkeypatch.setattr(
        type(client).__mro__[1], "upload_points", lambda self, name, points, *a, **k: sent.extend(points)
    )
    points = [ps(i, colbert=doc(9, i).tolist()) for i in range(3)]
    client.upload_points("c", points, batch_size=2)
    assert made and made[0]["url"] == "http://127.0.0.1:9"
    assert [len(p.vector["colbert"]) for p in sent] == [len(pool_tokens(doc(9, i), 2)) for i in range(3)]
    assert isinstance(sent[0].vector["colbert"], list)  # a server gets lists
    assert QdrantClient is not Twin
