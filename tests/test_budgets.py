"""Pooling budgets and layouts: fractional factors, max_vectors, Qdrant's cap, the Ward
distance threshold (against scipy's fcluster), trailing protected tokens, patch grids.

Where the compiled kernel is involved, the numpy/scipy fallback is checked against it.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.cluster.hierarchy import fcluster, linkage
from test_pooling import doc, partition

from qdrant_tokenpool.pooling import (
    QDRANT_MAX_MULTIVECTOR_FLOATS,
    PoolingSpec,
    cluster_count,
    kernels,
    max_rows,
    pool_batch,
    pool_tokens,
)
from qdrant_tokenpool.pooling.common import cluster_means, normalise
from qdrant_tokenpool.pooling.hierarchical import hierarchical_labels
from qdrant_tokenpool.pooling.validation import InvalidMultivectorError

METHODS = ("hierarchical", "kmeans", "sequential")
needs_kernels = pytest.mark.skipif(kernels.compiled is None, reason="compiled kernels not built")


def pooled_parts(out: np.ndarray, x: np.ndarray, lead: int, tail: int) -> np.ndarray:
    """Check the protected rows are the input's, to the bit; return the pooled middle."""
    assert out[:lead].tobytes() == x[:lead].tobytes()
    if tail:
        assert out[out.shape[0] - tail :].tobytes() == x[x.shape[0] - tail :].tobytes()
    return out[lead : out.shape[0] - tail]


# -- fractional pool factors ------------------------------------------------------------------
@given(n=st.integers(0, 10_000), pf=st.floats(1.0, 50.0, allow_nan=False))
def test_cluster_count_is_the_exact_floor_for_fractional_factors(n: int, pf: float) -> None:
    assert cluster_count(n, pf) == max(1, int(Fraction(n) / Fraction(pf)))


def test_cluster_count_examples() -> None:
    assert [cluster_count(n, 1.5) for n in (1, 2, 3, 4, 5, 6, 30)] == [1, 1, 2, 2, 3, 4, 20]
    assert cluster_count(6, 1.2) == 5  # 1.2 is 1.19999999999999995559: 6 / 1.2 > 5
    assert cluster_count(7, 2.0) == cluster_count(7, 2) == 3


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("pf", [1.25, 1.5, 2.5, 3.75])
def test_fractional_pool_factor_gives_floor_u_over_pf(method: str, pf: float) -> None:
    for n in (1, 2, 3, 10, 33, 100):
        x = doc(n, seed=n)
        out = pool_tokens(x, pf, method, protected_tokens=1)
        free = n - 1
        assert out.shape[0] == (n if free <= 0 else 1 + cluster_count(free, pf))
        pooled_parts(out, x, 1, 0)


def test_integral_float_factor_is_the_integer_factor() -> None:
    x = doc(50, seed=1)
    assert pool_tokens(x, 2.0).tobytes() == pool_tokens(x, 2).tobytes()
    assert PoolingSpec(pool_factor=3.0).pool_factor == 3
    assert isinstance(PoolingSpec(pool_factor=3.0).pool_factor, int)


# -- max_vectors ------------------------------------------------------------------------------
@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(1, 120),
    lead=st.integers(0, 3),
    tail=st.integers(0, 3),
    pf=st.sampled_from([1, 1.5, 2, 4]),
    extra=st.integers(1, 40),
    method=st.sampled_from(METHODS),
)
def test_max_vectors_caps_the_stored_count_protected_included(
    n: int, lead: int, tail: int, pf: float, extra: int, method: str
) -> None:
    m = lead + tail + extra
    x = doc(n, d=8, seed=n)
    out = pool_tokens(x, pf, method, lead, protected_tail_tokens=tail, max_vectors=m)
    a = min(lead, n)
    b = min(tail, n - a)
    free = n - a - b
    if free <= 0:
        assert out.tobytes() == x.tobytes()
        return
    by_pf = free if pf == 1 else cluster_count(free, pf)
    k = min(by_pf, max(1, m - a - b))
    assert out.shape == (a + b + k, 8)
    assert out.shape[0] <= max(m, n if n <= m else 0) or out.shape[0] <= m
    assert spec_count(pf, method, lead, tail, m, n) == out.shape[0]
    pooled_parts(out, x, a, b)


def spec_count(pf: float, method: str, lead: int, tail: int, m: int | None, n: int) -> int:
    spec = PoolingSpec(pf, method, lead, protected_tail_tokens=tail, max_vectors=m)
    return spec.stored_vectors(n, 8)


def test_max_vectors_with_pool_factor_one_pools_only_long_documents() -> None:
    short, long = doc(10, seed=1), doc(40, seed=2)
    assert pool_tokens(short, 1, max_vectors=16).tobytes() == short.tobytes()
    out = pool_tokens(long, 1, max_vectors=16)
    assert out.shape[0] == 16
    # pool factor 2 gives 20 for the long one: the smaller count (16) wins; for 25 tokens 12
    assert pool_tokens(long, 2, max_vectors=16).shape[0] == 16
    assert pool_tokens(doc(25), 2, max_vectors=16).shape[0] == 1 + 12


# -- Qdrant's cap, per dimension --------------------------------------------------------------
@pytest.mark.parametrize(
    ("dim", "rows"), [(128, 8191), (384, 2730), (768, 1365), (1024, 1023), (2048, 511), (4096, 255)]
)
def test_max_rows_per_dimension(dim: int, rows: int) -> None:
    assert max_rows(dim) == rows
    assert rows * dim < QDRANT_MAX_MULTIVECTOR_FLOATS <= (rows + 1) * dim


@pytest.mark.parametrize("dim", [128, 384, 768, 1024, 2048, 4096])
def test_over_the_cap_is_pooled_until_it_fits(dim: int) -> None:
    n = max_rows(dim) + 7
    x = doc(n, d=dim, seed=dim)
    # sequential keeps this fast at every size; hierarchical at the two smallest caps
    methods = ("sequential", "hierarchical") if dim >= 2048 else ("sequential",)
    for method in methods:
        for pf in (1, 1.5):
            out = pool_tokens(x, pf, method, protected_tokens=2, protected_tail_tokens=3)
            assert out.size < QDRANT_MAX_MULTIVECTOR_FLOATS
            want = min(n, 5 + cluster_count(n - 5, pf)) if pf != 1 else n
            assert out.shape[0] == min(want, max_rows(dim))
            pooled_parts(out, x, 2, 3)


def test_the_cap_also_bounds_max_vectors_and_counts_exactly() -> None:
    spec = PoolingSpec(1, protected_tokens=1, max_vectors=10_000)
    assert spec.stored_vectors(300, 4096) == 255
    assert spec.stored_vectors(200, 4096) == 200  # fits: unchanged
    assert PoolingSpec(2).stored_vectors(9000, 128) == 1 + 4499
    assert PoolingSpec(1).stored_vectors(9000, 128) == 8191


def test_protection_yields_only_when_protected_vectors_alone_fill_the_cap() -> None:
    dim = 65_536  # Qdrant's largest dimension: 15 rows fit
    x = doc(30, d=dim, seed=3)
    out = pool_tokens(x, 1, "sequential", protected_tokens=10, protected_tail_tokens=10)
    assert out.shape[0] == max_rows(dim) == 15
    # tail protection goes first (6 trailing lose it), then every leading one is kept
    assert out[:10].tobytes() == x[:10].tobytes()
    assert out[-4:].tobytes() == x[-4:].tobytes()


# -- distance threshold: the Ward dendrogram cut, against scipy -------------------------------
def scipy_distance_cut(u: np.ndarray, t: float) -> tuple[int, ...]:
    return partition(fcluster(linkage(u.astype(np.float64), "ward"), t, criterion="distance"))


def safe_thresholds(u: np.ndarray) -> list[float]:
    """Thresholds midway between distinct merge heights (never on a height), plus the ends."""
    h = np.unique(linkage(u.astype(np.float64), "ward")[:, 2])
    mids = [(a + b) / 2 for a, b in itertools.pairwise(h) if b - a > 1e-6 * max(1.0, b)]
    return [0.0, *mids, float(h[-1]) * 1.5 + 1.0]


@pytest.mark.parametrize("compiled", [True, False])
@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 70), d=st.integers(2, 24), seed=st.integers(0, 2**31), pick=st.data())
def test_threshold_partitions_equal_scipy_fcluster_distance(
    compiled: bool, n: int, d: int, seed: int, pick: st.DataObject
) -> None:
    u = normalise(np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32))
    ts = safe_thresholds(u)
    for t in (ts[0], ts[-1], pick.draw(st.sampled_from(ts))):
        labels = hierarchical_labels(u, n, threshold=t, compiled=compiled)
        assert partition(labels) == scipy_distance_cut(u, t)


@needs_kernels
@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 90), d=st.integers(2, 32), seed=st.integers(0, 2**31), pick=st.data())
def test_threshold_kernel_equals_fallback_with_fixed_bounds(
    n: int, d: int, seed: int, pick: st.DataObject
) -> None:
    """min(k, k_threshold) clusters: the lowest merges, the same on both paths."""
    u = normalise(np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32))
    t = pick.draw(st.sampled_from(safe_thresholds(u)))
    k = pick.draw(st.integers(1, n))
    fast = kernels.ward_labels(u, k, t)
    slow = hierarchical_labels(u, k, threshold=t, compiled=False)
    assert partition(fast) == partition(slow)
    k_t = len(set(scipy_distance_cut(u, t)))
    assert len(set(fast.tolist())) == min(k, k_t)


def test_threshold_examples_are_cosine_cuts() -> None:
    # three tight pairs far apart: a threshold between the pair distance and the rest
    # keeps 3 clusters; two tokens of cosine c are sqrt(2 - 2c) apart
    e = np.eye(6, dtype=np.float32)
    x = np.stack([v for j in range(3) for v in (e[2 * j], e[2 * j] + 0.1 * e[2 * j + 1])])
    pair = float(np.linalg.norm(normalise(x)[0] - normalise(x)[1]))
    assert pair == pytest.approx(np.sqrt(2 - 2 * (1 / np.sqrt(1.01))), rel=1e-6)
    out = pool_tokens(x, 1, protected_tokens=0, distance_threshold=pair * 1.01)
    assert out.shape[0] == 3
    assert pool_tokens(x, 1, protected_tokens=0, distance_threshold=pair * 0.99).shape[0] == 6
    assert pool_tokens(x, 1, protected_tokens=0, distance_threshold=0.0).shape[0] == 6
    assert pool_tokens(x, 1, protected_tokens=0, distance_threshold=100.0).shape[0] == 1
    # exact duplicates merge at threshold 0 (height 0)
    dup = np.repeat(doc(4, seed=5), 3, axis=0)
    assert pool_tokens(dup, 1, protected_tokens=0, distance_threshold=0.0).shape[0] == 4


def test_redundant_documents_compress_more_than_diverse_ones() -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4, 32))
    redundant = (np.repeat(centres, 25, axis=0) + 0.05 * rng.standard_normal((100, 32)))
    diverse = rng.standard_normal((100, 32))
    t = 0.8
    k_red = pool_tokens(redundant, 1, protected_tokens=0, distance_threshold=t).shape[0]
    k_div = pool_tokens(diverse, 1, protected_tokens=0, distance_threshold=t).shape[0]
    assert k_red == 4 and k_div > 50


@pytest.mark.parametrize("compiled", [True, False])
def test_pool_tokens_threshold_means_are_the_scipy_clusters(compiled: bool) -> None:
    x = doc(60, d=16, seed=21)
    u = normalise(x[1:])
    for t in safe_thresholds(u)[::7]:
        with kernels.fallback_only() if not compiled else _nothing():
            out = pool_tokens(x, 1, protected_tokens=1, distance_threshold=t)
        labels = np.asarray(scipy_distance_cut(u, t))
        np.testing.assert_allclose(out[1:], cluster_means(u, labels), atol=3e-7)
        assert out[:1].tobytes() == x[:1].tobytes()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None


@pytest.mark.parametrize("tail", [0, 2])
def test_threshold_with_pool_factor_and_max_vectors_the_smallest_count_wins(tail: int) -> None:
    x = doc(81, d=12, seed=8)
    u = normalise(x[1 : 81 - tail])
    hs = safe_thresholds(u)
    for t in (hs[3], hs[len(hs) // 2], hs[-2]):
        k_t = len(set(scipy_distance_cut(u, t)))
        for pf, m in ((1, None), (2, None), (4, None), (1, 30), (2, 12)):
            out = pool_tokens(
                x, pf, protected_tokens=1, protected_tail_tokens=tail, max_vectors=m,
                distance_threshold=t,
            )
            bounds = [k_t, u.shape[0] if pf == 1 else cluster_count(u.shape[0], pf)]
            if m is not None:
                bounds.append(m - 1 - tail)
            k = min(bounds)
            assert out.shape[0] == 1 + tail + k
            # nested dendrogram: the same partition as the plain k-cut
            want = cluster_means(u, hierarchical_labels(u, k, compiled=False))
            np.testing.assert_allclose(pooled_parts(out, x, 1, tail), want, atol=3e-7)


@needs_kernels
def test_threshold_pooling_kernel_equals_fallback() -> None:
    docs = [doc(n, d=24, seed=n) for n in (2, 5, 40, 130, 300)]
    for x in docs:
        for t in (0.0, 0.9, 1.3, 3.0):
            fast = pool_tokens(x, 1, protected_tokens=1, protected_tail_tokens=1, distance_threshold=t)
            with kernels.fallback_only():
                slow = pool_tokens(
                    x, 1, protected_tokens=1, protected_tail_tokens=1, distance_threshold=t
                )
            assert fast.shape == slow.shape
            np.testing.assert_allclose(fast, slow, atol=3e-7)


# -- trailing protected tokens ----------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_tail_tokens_are_kept_in_order_at_the_end(method: str) -> None:
    x = doc(40, seed=11)
    out = pool_tokens(x, 2, method, protected_tokens=2, protected_tail_tokens=5)
    assert out.shape[0] == 2 + 5 + (40 - 7) // 2
    middle = pooled_parts(out, x, 2, 5)
    np.testing.assert_allclose(np.linalg.norm(middle, axis=1), 1.0, atol=1e-6)
    # the middle is what pooling the middle alone gives
    alone = pool_tokens(x[2:35], 2, method, protected_tokens=0)
    np.testing.assert_allclose(middle, alone, atol=3e-7)


def test_short_documents_protect_leading_first() -> None:
    x = doc(6, seed=2)
    assert pool_tokens(x, 2, protected_tokens=4, protected_tail_tokens=4).tobytes() == x.tobytes()
    out = pool_tokens(doc(9, seed=3), 2, protected_tokens=4, protected_tail_tokens=4)
    assert out.shape[0] == 9  # one free token: one pooled vector, normalised
    np.testing.assert_allclose(np.linalg.norm(out[4]), 1.0, atol=1e-6)


# -- patch grids ------------------------------------------------------------------------------
def grid_doc(rows: int, cols: int, d: int, lead: int, tail: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((lead + rows * cols + tail, d)).astype(np.float32)


def unit_mean(v: np.ndarray) -> np.ndarray:
    m = normalise(v).sum(axis=0)
    return m / np.linalg.norm(m)


@pytest.mark.parametrize(("rows", "cols"), [(4, 6), (32, 32), (5, 3)])
def test_grid_rows_and_columns_are_the_means_of_each_row_and_column(rows: int, cols: int) -> None:
    lead, tail, d = 1, 6, 16
    x = grid_doc(rows, cols, d, lead, tail, seed=rows)
    patches = x[lead : lead + rows * cols].reshape(rows, cols, d)
    by_rows = pool_tokens(x, 1, "grid", lead, protected_tail_tokens=tail, grid_shape=(rows, cols))
    assert by_rows.shape == (lead + rows + tail, d)
    want = np.stack([unit_mean(patches[r]) for r in range(rows)])
    np.testing.assert_allclose(pooled_parts(by_rows, x, lead, tail), want, atol=2e-6)
    by_cols = pool_tokens(
        x, 1, "grid", lead, protected_tail_tokens=tail, grid_shape=(rows, cols), grid_pool="columns"
    )
    want = np.stack([unit_mean(patches[:, c]) for c in range(cols)])
    np.testing.assert_allclose(pooled_parts(by_cols, x, lead, tail), want, atol=2e-6)


@pytest.mark.parametrize(("rows", "cols", "k"), [(4, 4, 2), (5, 7, 2), (6, 6, 3), (3, 3, 1)])
def test_grid_blocks_cover_k_by_k_patches_in_row_major_order(rows: int, cols: int, k: int) -> None:
    d = 8
    x = grid_doc(rows, cols, d, 0, 2, seed=k)
    patches = x[: rows * cols].reshape(rows, cols, d)
    out = pool_tokens(
        x, 1, "grid", 0, protected_tail_tokens=2, grid_shape=(rows, cols), grid_pool="blocks",
        grid_block=k,
    )
    want = [
        unit_mean(patches[r : r + k, c : c + k].reshape(-1, d))
        for r in range(0, rows, k)
        for c in range(0, cols, k)
    ]
    np.testing.assert_allclose(pooled_parts(out, x, 0, 2), np.stack(want), atol=2e-6)


def test_grid_on_a_synthetic_image_recovers_its_rows() -> None:
    """Each grid row of a synthetic 'image' is one object (one direction plus noise): row
    pooling keeps one vector per object, close to its direction."""
    rng = np.random.default_rng(7)
    rows, cols, d = 8, 8, 64
    objects = normalise(rng.standard_normal((rows, d)).astype(np.float32))
    patches = np.repeat(objects, cols, axis=0) + 0.06 * rng.standard_normal((rows * cols, d))
    x = np.vstack([rng.standard_normal((1, d)), patches, rng.standard_normal((3, d))])
    out = pool_tokens(x, 1, "grid", 1, protected_tail_tokens=3, grid_shape=(rows, cols))
    sims = np.einsum("ij,ij->i", out[1:-3], objects)
    assert out.shape[0] == 1 + rows + 3 and sims.min() > 0.95
    # by columns every pooled vector mixes all eight objects: far from each of them
    cols_out = pool_tokens(
        x, 1, "grid", 1, protected_tail_tokens=3, grid_shape=(rows, cols), grid_pool="columns"
    )
    assert np.abs(cols_out[1:-3] @ objects.T).max() < 0.6


def test_grid_cells_over_the_budget_merge_neighbouring_cells() -> None:
    x = grid_doc(10, 4, 8, 1, 1, seed=3)
    out = pool_tokens(x, 1, "grid", 1, protected_tail_tokens=1, grid_shape=(10, 4), max_vectors=7)
    assert out.shape[0] == 7  # 10 rows -> 5 runs of 2 rows
    patches = x[1:41].reshape(5, 8, 8)
    want = np.stack([unit_mean(p) for p in patches])
    np.testing.assert_allclose(pooled_parts(out, x, 1, 1), want, atol=2e-6)


def test_grid_shape_must_match_the_token_count() -> None:
    x = grid_doc(4, 4, 8, 1, 2)
    with pytest.raises(InvalidMultivectorError, match=r"needs 20 \(1 leading \+ 4 x 4 patches \+ 3 trailing\)"):
        pool_tokens(x, 1, "grid", 1, protected_tail_tokens=3, grid_shape=(4, 4))
    with pytest.raises(InvalidMultivectorError, match="point 1: multivector has 18 token vectors"):
        pool_batch([x[:19], x[:18]], 1, "grid", 1, protected_tail_tokens=2, grid_shape=(4, 4))


def test_grid_batch_equals_one_by_one() -> None:
    docs = [grid_doc(6, 5, 8, 2, 4, seed=s) for s in range(5)]
    kw = {"protected_tail_tokens": 4, "grid_shape": (6, 5), "grid_pool": "blocks", "grid_block": 2}
    batch = pool_batch(docs, 1, "grid", 2, workers=2, **kw)
    for x, out in zip(docs, batch):
        assert out.tobytes() == pool_tokens(x, 1, "grid", 2, **kw).tobytes()


# -- pool_batch and every knob ----------------------------------------------------------------
@pytest.mark.parametrize("workers", [1, 2])
def test_pool_batch_equals_pool_tokens_for_every_knob(workers: int) -> None:
    docs = [doc(n, d=16, seed=n) for n in (3, 17, 64, 100, 150)]
    for kw in (
        {"pool_factor": 1.5},
        {"pool_factor": 1, "max_vectors": 20, "protected_tail_tokens": 2},
        {"pool_factor": 1, "distance_threshold": 1.1},
        {"pool_factor": 2, "distance_threshold": 1.4, "max_vectors": 30},
        {"pool_factor": 2.5, "method": "kmeans", "protected_tail_tokens": 1},
        {"pool_factor": 3, "method": "sequential", "max_vectors": 9},
    ):
        batch = pool_batch(docs, workers=workers, **kw)  # type: ignore[arg-type]
        for x, out in zip(docs, batch):
            assert out.tobytes() == pool_tokens(x, **kw).tobytes()  # type: ignore[arg-type]


# -- bad arguments ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pool_factor": 0.5}, "pool_factor must be a finite number >= 1"),
        ({"pool_factor": 0}, "pool_factor must be a finite number >= 1, got 0"),
        ({"pool_factor": float("nan")}, "pool_factor must be a finite number >= 1"),
        ({"pool_factor": float("inf")}, "pool_factor must be a finite number >= 1"),
        ({"pool_factor": True}, "pool_factor must be a finite number"),
        ({"pool_factor": "2"}, "pool_factor must be a finite number"),
        ({"distance_threshold": -0.1}, "distance_threshold must be a finite number >= 0"),
        ({"distance_threshold": float("nan")}, "distance_threshold must be a finite number"),
        ({"distance_threshold": float("inf")}, "distance_threshold must be a finite number"),
        ({"distance_threshold": 1.0, "method": "kmeans"}, "needs method='hierarchical'"),
        ({"max_vectors": 1}, "max_vectors must be an integer >= 2"),
        ({"max_vectors": 3, "protected_tail_tokens": 2}, "max_vectors must be an integer >= 4"),
        ({"protected_tail_tokens": -1}, "protected_tail_tokens must be an integer >= 0"),
        ({"method": "grid"}, r"method='grid' needs grid_shape"),
        ({"method": "grid", "grid_shape": (0, 3)}, "grid_shape rows and cols must be an integer >= 1"),
        ({"method": "grid", "grid_shape": (3,)}, r"grid_shape must be \(rows, cols\)"),
        ({"method": "grid", "grid_shape": (3, 3), "grid_pool": "diag"}, "grid_pool must be one of"),
        ({"method": "grid", "grid_shape": (3, 3), "grid_block": 2}, "grid_block needs grid_pool='blocks'"),
        ({"grid_shape": (3, 3)}, "grid_shape needs method='grid'"),
        ({"method": "nope"}, "unknown pooling method"),
    ],
)
def test_bad_arguments_are_refused_before_pooling(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pool_tokens(doc(10), **kwargs)
    with pytest.raises(ValueError, match=message):
        pool_batch([doc(10)], **kwargs)


def test_very_long_documents_average_runs_before_ward(monkeypatch: pytest.MonkeyPatch) -> None:
    """More pooled tokens than WARD_MAX_ROWS: runs of neighbours first, then exact Ward."""
    from qdrant_tokenpool.pooling import tokens
    from qdrant_tokenpool.pooling.common import run_means

    monkeypatch.setattr(tokens, "WARD_MAX_ROWS", 40)
    monkeypatch.setattr(tokens, "COMPILED_MAX_ROWS", 10)
    x = doc(101, d=8, seed=6)
    runs = run_means(normalise(x[1:]), 40)
    out = pool_tokens(x, 4)  # 25 clusters of the 40 runs
    want = cluster_means(runs, hierarchical_labels(runs, 25, compiled=False))
    np.testing.assert_allclose(out[1:], want, atol=3e-7)
    # more clusters than Ward may take: runs of neighbours only
    np.testing.assert_allclose(pool_tokens(x, 1.5)[1:], run_means(normalise(x[1:]), 66), atol=3e-7)


@needs_kernels
@pytest.mark.parametrize("n", [300, 1000])
def test_threshold_on_long_documents_equals_scipy(n: int) -> None:
    u = normalise(doc(n, d=64, seed=n))
    ts = safe_thresholds(u)
    for t in (ts[n // 4], ts[n // 2], ts[-3]):
        assert partition(kernels.ward_labels(u, n, t)) == scipy_distance_cut(u, t)


def test_adaptive_benchmark_footprint_solver_matches_pooling() -> None:
    """benchmarks/adaptive_quality.py picks thresholds from merge heights: its footprint
    count equals what pooling with that threshold stores."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "adaptive_quality.py"
    spec = importlib.util.spec_from_file_location("adaptive_quality", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    docs = [doc(n, d=16, seed=n) for n in (1, 2, 9, 40, 75)]
    lengths = [len(x) for x in docs]
    heights = bench.merge_heights(docs, 1)
    target = sum(len(pool_tokens(x, 3)) for x in docs)
    t = bench.solve_threshold(heights, lengths, 1, target)
    # t is a merge height itself: the compiled kernel compares squared heights, so that
    # one boundary merge may count differently (the SciFact run: within one vector)
    pooled = sum(len(pool_tokens(x, 1, distance_threshold=t)) for x in docs)
    assert abs(pooled - bench.stored_at(heights, lengths, 1, t)) <= 1
    assert bench.stored_at(heights, lengths, 1, t) <= target
    # off the boundary, the counts agree exactly
    above = min(h[h > t].min() for h in heights if (h > t).any())
    mid = (t + above) / 2
    pooled = sum(len(pool_tokens(x, 1, distance_threshold=mid)) for x in docs)
    assert pooled == bench.stored_at(heights, lengths, 1, mid)
