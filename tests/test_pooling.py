"""Pooling numerics: shapes, norms, protected tokens, determinism, exact Ward, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.cluster.hierarchy import fcluster, linkage

from qdrant_tokenpool.pooling import cluster_count, kernels, pool_batch, pool_tokens
from qdrant_tokenpool.pooling.common import cluster_means, normalise
from qdrant_tokenpool.pooling.hierarchical import (
    condensed_distances,
    cut_linkage,
    hierarchical_labels,
    ward_linkage,
)
from qdrant_tokenpool.pooling.kmeans import kmeans_labels
from qdrant_tokenpool.pooling.sequential import sequential_labels
from qdrant_tokenpool.pooling.validation import InvalidMultivectorError

METHODS = ("hierarchical", "kmeans", "sequential")


def doc(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def partition(labels: np.ndarray) -> tuple[int, ...]:
    """Labels renumbered by first occurrence: equal tuples <=> equal partitions."""
    first: dict[int, int] = {}
    return tuple(first.setdefault(int(v), len(first)) for v in labels)


def expected_rows(n: int, pool_factor: int, protected: int) -> int:
    free = n - protected
    if pool_factor == 1 or free <= 0:
        return n
    return protected + max(1, free // pool_factor)


# -- shapes, counts, norms, protected tokens ---------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("pool_factor", range(1, 9))
@pytest.mark.parametrize("protected", [0, 1, 2])
def test_shape_and_count(method: str, pool_factor: int, protected: int) -> None:
    for n in (1, 2, 3, 7, 16, 33):
        x = doc(n, seed=n)
        out = pool_tokens(x, pool_factor, method, protected_tokens=protected)
        assert out.dtype == np.float32
        assert out.shape == (expected_rows(n, pool_factor, protected), 16)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("pool_factor", [2, 3, 4, 8])
def test_pooled_rows_are_unit_and_protected_rows_untouched(method: str, pool_factor: int) -> None:
    x = doc(40, seed=pool_factor) * 3.0  # not unit length
    out = pool_tokens(x, pool_factor, method, protected_tokens=2)
    assert out[:2].tobytes() == x[:2].tobytes()
    np.testing.assert_allclose(np.linalg.norm(out[2:], axis=1), 1.0, atol=1e-6)


def test_protected_tokens_bitwise_for_float64_input() -> None:
    x = doc(20).astype(np.float64) / 7.0
    out = pool_tokens(x, 2, protected_tokens=3)
    assert out[:3].tobytes() == x[:3].astype(np.float32).tobytes()


def test_pool_factor_one_returns_the_input_as_float32_copy() -> None:
    x = doc(10)
    out = pool_tokens(x, 1)
    assert out.dtype == np.float32 and out.tobytes() == x.tobytes()
    assert out is not x and not np.shares_memory(out, x)
    np.testing.assert_array_equal(pool_tokens(x.astype(np.float64), 1), x)


@pytest.mark.parametrize("method", METHODS)
def test_output_never_aliases_input(method: str) -> None:
    x = doc(3)
    for out in (pool_tokens(x, 4, method, protected_tokens=3), pool_tokens(x, 4, method, 5)):
        assert not np.shares_memory(out, x)
        np.testing.assert_array_equal(out, x)


# -- documents shorter than 2 * pool_factor: the formula still holds ------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("n_free", "pool_factor", "clusters"),
    [(1, 4, 1), (3, 4, 1), (4, 4, 1), (5, 4, 1), (7, 4, 1), (8, 4, 2), (2, 2, 1), (3, 2, 1)],
)
def test_short_documents_follow_the_formula(
    method: str, n_free: int, pool_factor: int, clusters: int
) -> None:
    x = doc(n_free + 1, seed=n_free)
    out = pool_tokens(x, pool_factor, method, protected_tokens=1)
    assert cluster_count(n_free, pool_factor) == clusters
    assert out.shape[0] == 1 + clusters
    if clusters == 1:  # one cluster: the normalised mean of all unprotected tokens
        mean = normalise(x[1:]).sum(axis=0)
        np.testing.assert_allclose(out[1], mean / np.linalg.norm(mean), atol=1e-6)


def test_no_unprotected_tokens_returns_document_unchanged() -> None:
    x = doc(3)
    np.testing.assert_array_equal(pool_tokens(x, 2, protected_tokens=3), x)
    np.testing.assert_array_equal(pool_tokens(x, 2, protected_tokens=10), x)


# -- determinism -----------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_same_input_same_bytes(method: str) -> None:
    x = doc(77, d=32, seed=5)
    a = pool_tokens(x, 3, method)
    b = pool_tokens(x.copy(), 3, method)
    c = pool_tokens(x.tolist(), 3, method)
    assert a.tobytes() == b.tobytes() == c.tobytes()


def test_kmeans_seed_is_used_and_fixed() -> None:
    x = normalise(doc(60, seed=9))
    a = kmeans_labels(x, 20, seed=0)
    assert np.array_equal(a, kmeans_labels(x, 20, seed=0))
    assert len(np.unique(a)) == 20
    others = [partition(kmeans_labels(x, 20, seed=s)) for s in range(1, 6)]
    assert any(p != partition(a) for p in others)  # the seed matters


# -- input types -----------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_numpy_torch_and_nested_list_agree(method: str) -> None:
    torch = pytest.importorskip("torch")
    x = doc(25, seed=3)
    ref = pool_tokens(x, 2, method)
    assert pool_tokens(x.tolist(), 2, method).tobytes() == ref.tobytes()
    assert pool_tokens(torch.from_numpy(x), 2, method).tobytes() == ref.tobytes()
    assert pool_tokens(x.astype(np.float64), 2, method).tobytes() == ref.tobytes()
    half = torch.from_numpy(x).to(torch.bfloat16)
    assert pool_tokens(half, 2, method).shape == ref.shape


# -- hierarchical = Ward linkage of the unit vectors -------------------------------------


@pytest.mark.parametrize("n", [2, 3, 5, 17, 64, 130])
def test_ward_linkage_matches_scipy(n: int) -> None:
    u = normalise(doc(n, d=24, seed=n))
    ours = ward_linkage(u)
    ref = linkage(u.astype(np.float64), method="ward")
    np.testing.assert_array_equal(ours[:, [0, 1, 3]], ref[:, [0, 1, 3]])
    np.testing.assert_allclose(ours[:, 2], ref[:, 2], rtol=1e-12, atol=1e-12)


def test_condensed_distances_match_pdist() -> None:
    from scipy.spatial.distance import pdist

    u = normalise(doc(50, d=8, seed=1))
    np.testing.assert_allclose(
        condensed_distances(u), pdist(u.astype(np.float64)), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("n", [9, 40, 128, 257])
@pytest.mark.parametrize("pool_factor", [2, 3, 4, 8])
def test_hierarchical_is_scipy_ward_cut_at_k(n: int, pool_factor: int) -> None:
    """Our labels = scipy ``linkage(unit_vectors, "ward")`` cut at k, as partitions."""
    for seed in range(3):
        u = normalise(doc(n, d=32, seed=1000 * seed + n))
        k = cluster_count(n, pool_factor)
        ref = fcluster(linkage(u.astype(np.float64), method="ward"), k, criterion="maxclust")
        assert len(np.unique(ref)) == k  # no ties on random data: fcluster gives k too
        assert partition(hierarchical_labels(u, k)) == partition(ref)


def test_pool_tokens_hierarchical_end_to_end_against_scipy() -> None:
    x = doc(101, d=64, seed=11) * 2.5
    u = normalise(x[1:])
    k = 100 // 3
    ref_labels = fcluster(linkage(u.astype(np.float64), method="ward"), k, criterion="maxclust")
    firsts = sorted(
        {int(label): i for i, label in reversed(list(enumerate(ref_labels)))}.items(),
        key=lambda item: item[1],
    )
    expected = []
    for label, _ in firsts:
        mean = u[ref_labels == label].astype(np.float64).mean(axis=0)
        expected.append(mean / np.linalg.norm(mean))
    out = pool_tokens(x, 3, "hierarchical", protected_tokens=1)
    assert out.shape == (1 + k, 64)
    np.testing.assert_allclose(out[1:], np.array(expected), atol=2e-6)


@pytest.mark.parametrize("method", METHODS)
def test_duplicate_tokens_still_give_exactly_k_clusters(method: str) -> None:
    base = doc(6, seed=2)
    x = np.repeat(base, 5, axis=0)  # 30 tokens, every one 5 times: merge heights tie at 0
    for pf in (2, 3, 4, 6, 8):
        out = pool_tokens(x, pf, method, protected_tokens=0)
        assert out.shape[0] == 30 // pf
        assert np.isfinite(out).all()
    same = np.repeat(doc(1), 12, axis=0)  # all tokens identical
    out = pool_tokens(same, 4, method, protected_tokens=0)
    assert out.shape == (3, 16)
    np.testing.assert_allclose(out, np.repeat(normalise(doc(1)), 3, axis=0), atol=1e-6)


def test_cut_linkage_gives_k_clusters_on_tied_heights() -> None:
    x = np.repeat(np.eye(4, dtype=np.float64), 3, axis=0)  # 4 groups of 3 identical points
    z = linkage(x, method="ward")
    for k in range(1, 13):
        assert len(np.unique(cut_linkage(z, 12, k))) == k
    # fcluster cannot honour k when heights tie; the cut can
    assert len(np.unique(fcluster(z, 6, criterion="maxclust"))) != 6


def test_sequential_runs_are_contiguous_and_balanced() -> None:
    x = doc(23)
    for k in range(1, 24):
        labels = sequential_labels(x, k)
        assert np.all(np.diff(labels) >= 0) and labels[0] == 0 and labels[-1] == k - 1
        sizes = np.bincount(labels)
        assert sizes.max() - sizes.min() <= 1
    out = pool_tokens(x, 4, "sequential", protected_tokens=0)
    labels = sequential_labels(x, 5)
    np.testing.assert_allclose(out, cluster_means(normalise(x), labels), atol=1e-6)


def test_cluster_means_order_by_first_token() -> None:
    x = np.eye(5, dtype=np.float32)
    out = cluster_means(x, np.array([7, 3, 7, 9, 3]))
    s = 1 / np.sqrt(2)
    expected = np.array([[s, 0, s, 0, 0], [0, s, 0, 0, s], [0, 0, 0, 1, 0]], dtype=np.float32)
    np.testing.assert_allclose(out, expected, atol=1e-7)


def test_kmeans_refills_empty_clusters() -> None:
    # 10 identical tokens and 2 others: centres drawn among identical tokens collide
    x = normalise(np.vstack([np.repeat(doc(1, seed=1), 10, axis=0), doc(2, seed=2)]))
    for seed in range(5):
        labels = kmeans_labels(x, 6, seed=seed)
        assert len(np.unique(labels)) == 6


# -- quality: hierarchical keeps MaxSim closer to unpooled than sequential -------------------


def maxsim(q: np.ndarray, d: np.ndarray) -> float:
    q = normalise(q)
    d = normalise(d)
    return float((q @ d.T).max(axis=1).sum())


def test_hierarchical_keeps_maxsim_closer_than_sequential() -> None:
    rng = np.random.default_rng(0)
    dim, n_topics = 32, 12
    centres = normalise(rng.standard_normal((n_topics, dim)).astype(np.float32))
    errors = {"hierarchical": [], "sequential": []}
    for _ in range(20):
        topics = rng.integers(0, n_topics, 60)  # tokens of a few topics, in random order
        d = centres[topics] + 0.15 * rng.standard_normal((60, dim)).astype(np.float32)
        for _ in range(3):
            q_topics = rng.integers(0, n_topics, 8)
            q = centres[q_topics] + 0.15 * rng.standard_normal((8, dim)).astype(np.float32)
            full = maxsim(q, d)
            for method, errs in errors.items():
                pooled = pool_tokens(d, 4, method, protected_tokens=0)
                errs.append(abs(maxsim(q, pooled) - full))
    h, s = np.mean(errors["hierarchical"]), np.mean(errors["sequential"])
    assert h < 0.5 * s, (h, s)


# -- pool_batch ------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_pool_batch_equals_pool_tokens_serial(method: str) -> None:
    docs = [doc(n, seed=n) for n in (1, 2, 5, 9, 30, 64)]
    docs.append(doc(12).tolist())
    out = pool_batch(docs, 3, method, protected_tokens=1, workers=1)
    assert len(out) == len(docs)
    for got, d in zip(out, docs):
        assert got.tobytes() == pool_tokens(d, 3, method, protected_tokens=1).tobytes()


def test_pool_batch_processes_equal_pool_tokens_in_order() -> None:
    """The worker-process path: same bytes as one by one, input order kept."""
    rng = np.random.default_rng(4)
    docs = [doc(int(n), d=32, seed=i) for i, n in enumerate(rng.integers(3, 90, 24))]
    for method in METHODS:
        out = pool_batch(docs, 2, method, protected_tokens=1, workers=2)
        assert [o.tobytes() for o in out] == [
            pool_tokens(d, 2, method, protected_tokens=1).tobytes() for d in docs
        ]


def test_pool_batch_empty_and_generator() -> None:
    assert pool_batch([], 2) == []
    out = pool_batch((doc(n) for n in (4, 6)), 2, protected_tokens=0)
    assert [o.shape[0] for o in out] == [2, 3]


def test_pool_batch_checks_every_document_first() -> None:
    docs = [doc(5), doc(5), np.zeros((3, 16), dtype=np.float32)]
    with pytest.raises(InvalidMultivectorError, match="point 2: row 0 is a zero vector"):
        pool_batch(docs, 2)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=5),
    d=st.integers(1, 12),
    pool_factor=st.integers(1, 8),
    protected=st.integers(0, 3),
    method=st.sampled_from(METHODS),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_random_shapes(
    sizes: list[int], d: int, pool_factor: int, protected: int, method: str, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    docs = [rng.standard_normal((n, d)).astype(np.float32) + 0.01 for n in sizes]
    out = pool_batch(docs, pool_factor, method, protected_tokens=protected, workers=1)
    for x, y in zip(docs, out):
        assert y.shape == (expected_rows(x.shape[0], pool_factor, protected), d)
        assert y.dtype == np.float32 and np.isfinite(y).all()
        p = min(protected, x.shape[0])
        assert y[:p].tobytes() == x[:p].tobytes()
        if pool_factor > 1 and x.shape[0] > protected:
            np.testing.assert_allclose(np.linalg.norm(y[p:], axis=1), 1.0, atol=1e-5)
        assert y.tobytes() == pool_tokens(x, pool_factor, method, protected).tobytes()


# -- bad input -------------------------------------------------------------------------

BAD_DOCUMENTS = [
    ([], "empty multivector"),
    (np.zeros((0, 8), dtype=np.float32), "empty multivector"),
    ([[1.0, 2.0], [3.0]], "ragged multivector: row 1 has 1 values, row 0 has 2"),
    (np.ones(8, dtype=np.float32), "got a single vector of 8 values"),
    (np.ones((2, 3, 4), dtype=np.float32), r"got an array of shape \(2, 3, 4\)"),
    (np.array([[1.0, np.nan], [1.0, 1.0]]), "non-finite value nan at row 0, column 1"),
    (np.array([[1.0, 1.0], [np.inf, 1.0]]), "non-finite value inf at row 1, column 0"),
    (np.array([[1.0, 1.0], [0.0, 0.0]]), "row 1 is a zero vector"),
    (np.ones((3, 0), dtype=np.float32), r"no values \(d = 0\)"),
    ([["a", "b"]], "cannot read"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_DOCUMENTS)
@pytest.mark.parametrize("method", METHODS)
def test_bad_documents_raise_value_error_naming_the_problem(
    bad: object, message: str, method: str
) -> None:
    with pytest.raises(ValueError, match=message):
        pool_tokens(bad, 2, method)
    with pytest.raises(InvalidMultivectorError, match="point 1: .*" + message):
        pool_batch([doc(4), bad], 2, method)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pool_factor": 0}, "pool_factor must be a finite number >= 1, got 0"),
        ({"pool_factor": -2}, "pool_factor must be a finite number >= 1, got -2"),
        ({"pool_factor": 0.5}, "pool_factor must be a finite number >= 1, got 0.5"),
        ({"pool_factor": True}, "pool_factor must be a finite number >= 1, got True"),
        ({"method": "ward"}, "unknown pooling method 'ward'"),
        ({"method": None}, "unknown pooling method None"),
        ({"protected_tokens": -1}, "protected_tokens must be an integer >= 0, got -1"),
        ({"protected_tokens": 1.5}, "protected_tokens must be an integer >= 0, got 1.5"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict, message: str) -> None:
    args = {"pool_factor": 2, "method": "hierarchical", "protected_tokens": 1} | kwargs
    with pytest.raises(ValueError, match=message):
        pool_tokens(doc(6), **args)
    with pytest.raises(ValueError, match=message):
        pool_batch([doc(6)], **args)


@pytest.mark.parametrize(
    ("name", "value"),
    [("pool_factor", -(10**400)), ("distance_threshold", 10**400), ("distance_threshold", -(10**400))],
    ids=["pool_factor-negative", "threshold-positive", "threshold-negative"],
)
def test_integers_beyond_float_range_raise_value_error_naming_the_setting(
    name: str, value: int
) -> None:
    # float() of such an int raises OverflowError, which is no ValueError
    with pytest.raises(ValueError, match=f"{name} must be a finite number >= "):
        pool_tokens(doc(6), **{"pool_factor": 2, name: value})


def test_numpy_integer_arguments_accepted() -> None:
    out = pool_tokens(doc(9), np.int64(2), protected_tokens=np.int32(1))
    assert out.shape == (5, 16)


@pytest.mark.parametrize("method", METHODS)
def test_extreme_magnitudes_still_pool_to_unit_vectors(method: str) -> None:
    x = doc(12)
    for scale in (1e-30, 1e-20, 1e20, 1e30):
        out = pool_tokens(x * np.float32(scale), 2, method, protected_tokens=0)
        assert np.isfinite(out).all()
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_cluster_of_opposite_tokens_is_represented_by_its_first_token(method: str) -> None:
    x = np.array([[3.0, 4.0], [-3.0, -4.0]], dtype=np.float32)  # the sum of the units is 0
    out = pool_tokens(x, 2, method, protected_tokens=0)
    np.testing.assert_allclose(out, [[0.6, 0.8]], atol=1e-7)


def test_fast_ward_path_agrees_with_public_linkage() -> None:
    from qdrant_tokenpool.pooling import hierarchical

    impl = hierarchical._select_ward()
    try:
        from scipy.cluster._hierarchy import nn_chain  # noqa: F401
    except ImportError:  # pragma: no cover - a scipy without it: the fallback is used
        assert impl is hierarchical._public_ward
    else:
        assert impl is not hierarchical._public_ward  # this scipy: the fast path
    y = condensed_distances(normalise(doc(70, seed=8)))
    np.testing.assert_array_equal(impl(y, 70), linkage(y, method="ward"))
    np.testing.assert_array_equal(hierarchical._public_ward(y, 70), linkage(y, method="ward"))


def test_cluster_means_dense_path_for_one_big_cluster() -> None:
    x = normalise(doc(60, seed=6))
    labels = np.concatenate([np.zeros(40, dtype=np.intp), np.arange(1, 21)])  # 40 + 20 x 1
    out = cluster_means(x, labels)
    big = x[:40].astype(np.float64).sum(axis=0)
    np.testing.assert_allclose(out[0], big / np.linalg.norm(big), atol=1e-6)
    np.testing.assert_allclose(out[1:], x[40:], atol=1e-6)


def test_condensed_distances_by_blocks_equal_the_one_shot_version(monkeypatch) -> None:
    from qdrant_tokenpool.pooling import hierarchical

    u = normalise(doc(300, d=8, seed=3))
    whole = condensed_distances(u)
    monkeypatch.setattr(hierarchical, "_BLOCKED_ABOVE", 10)
    monkeypatch.setattr(hierarchical, "_BLOCK_ROWS", 64)
    np.testing.assert_allclose(condensed_distances(u), whole, rtol=1e-13, atol=1e-13)


def test_pool_batch_small_batches_do_not_start_worker_processes() -> None:
    from qdrant_tokenpool.pooling import batch

    batch.shutdown_pool()
    docs = [doc(20, seed=i) for i in range(50)]
    out = pool_batch(docs, 2)  # ~3 ms of work: not worth starting processes
    assert batch._executor is None
    assert [o.tobytes() for o in out] == [pool_tokens(d, 2).tobytes() for d in docs]
    assert batch.estimated_seconds(256, 128, "hierarchical") > 5 * batch.estimated_seconds(
        256, 128, "sequential"
    )


def test_pool_batch_falls_back_to_this_process_without_worker_processes(monkeypatch) -> None:
    from qdrant_tokenpool.pooling import batch

    def no_processes(n_workers: int) -> None:
        raise OSError("no processes in this sandbox")

    monkeypatch.setattr(batch, "_get_executor", no_processes)
    docs = [doc(30, seed=i) for i in range(5)]
    out = pool_batch(docs, 2, "kmeans", workers=2)  # k-means: a process-pool method
    assert [o.tobytes() for o in out] == [pool_tokens(d, 2, "kmeans").tobytes() for d in docs]


def test_pool_batch_runs_compiled_hierarchical_on_threads_and_the_rest_on_processes() -> None:
    from qdrant_tokenpool.pooling import batch, kernels

    batch.shutdown_pool()
    docs = [doc(n, d=32, seed=n) for n in range(40, 120, 3)]
    expected = [pool_tokens(d, 2).tobytes() for d in docs]
    assert [o.tobytes() for o in pool_batch(docs, 2, workers=2)] == expected
    assert ("pooling" in batch._pools) == kernels.compiled_kernels()
    assert batch._executor is None  # no process was needed
    with kernels.fallback_only():  # numpy/scipy Ward holds the GIL: processes
        out = pool_batch(docs, 2, workers=2)
    assert batch._executor is not None
    np.testing.assert_allclose(
        np.concatenate(out), np.concatenate([pool_tokens(d, 2) for d in docs]), atol=3e-7
    )
    batch.shutdown_pool()
    assert not batch._pools and batch._executor is None


# -- the one row normalisation (pooling, write path, maxsim, client rescoring) -------------------
@pytest.mark.parametrize("scale", [1e-42, 1e-38, 1e-30, 1e-20, 1.0, 1e19, 1e30, 3e38])
def test_normalise_gives_unit_rows_for_any_finite_scale(scale):
    x = doc(12, seed=3)
    x /= np.abs(x).max()  # |values| <= 1, so x * 3e38 stays finite
    scaled = (x.astype(np.float64) * scale).astype(np.float32)
    out = normalise(scaled)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_allclose(np.linalg.norm(out.astype(np.float64), axis=1), 1.0, atol=1e-6)
    if scale >= 1e-30:  # subnormal inputs keep only a few bits of their direction
        np.testing.assert_allclose(out, normalise(x), atol=1e-6)


def test_normalise_mixed_rows_keep_the_fast_path_bytes():
    """A normal row gives the same bytes whether or not an extreme row is next to it."""
    x = doc(5, seed=4)
    mixed = x.copy()
    mixed[2] *= np.float32(1e-30)
    a, b = normalise(x), normalise(mixed)
    assert a[[0, 1, 3, 4]].tobytes() == b[[0, 1, 3, 4]].tobytes()
    np.testing.assert_allclose(b[2], a[2], atol=1e-6)


def test_normalise_zero_rows_raise_keep_or_fall_back():
    x = doc(4, seed=5)
    x[2] = 0.0
    with pytest.raises(ValueError, match="row 2 is a zero vector"):
        normalise(x)
    kept = normalise(x, zero="keep")
    assert not kept[2].any() and np.isfinite(kept).all()
    fallback = normalise(doc(4, seed=6))
    np.testing.assert_allclose(normalise(x, fallback=fallback)[2], fallback[2], atol=1e-7)
    x[1, 3] = np.nan
    with pytest.raises(ValueError, match="row 1 holds a non-finite value"):
        normalise(x, zero="keep")


def test_pooling_tiny_and_huge_documents_gives_unit_rows():
    x = doc(20, seed=7)
    for method in ("hierarchical", "kmeans", "sequential"):
        want = pool_tokens(x, 2, method=method, protected_tokens=0)
        for scale in (1e-30, 1e30):
            s = np.float32(2.0 ** np.round(np.log2(scale)))  # exact scaling: same partitions
            got = pool_tokens(x * s, 2, method=method, protected_tokens=0)
            assert np.isfinite(got).all()
            np.testing.assert_allclose(got, want, atol=1e-6)
        with kernels.fallback_only():
            got = pool_tokens(x * np.float32(2.0**-100), 2, method=method, protected_tokens=0)
            np.testing.assert_allclose(got, want, atol=1e-6)
