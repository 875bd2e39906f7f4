"""Compiled pooling kernels: built, exact (scipy's Ward), equal to the numpy/scipy fallback."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.cluster.hierarchy import fcluster, linkage
from test_pooling import doc, partition

from qdrant_tokenpool.pooling import cluster_count, kernels, pool_tokens
from qdrant_tokenpool.pooling.common import cluster_means, normalise
from qdrant_tokenpool.pooling.hierarchical import hierarchical_labels

compiled = kernels.compiled


def test_compiled_kernels_are_built() -> None:
    """The install builds them (setup.py, Cython); without them pooling is ~3x slower."""
    assert kernels.compiled_kernels(), (
        "qdrant_tokenpool.pooling._kernels is missing: reinstall with a C compiler "
        "(pip install -e .) to build it"
    )


def test_compiled_kernels_are_current() -> None:
    """An extension built from an older checkout lacks the newer kernels (their callers
    fall back, slower): rebuild it."""
    if compiled is None:
        pytest.skip("compiled kernels not built")
    for name in ("nested_float32", "ward_pool_many", "load_blas", "ward_merges", "gram_stats"):
        assert kernels.has(name), f"_kernels has no {name}: reinstall (pip install -e .) to rebuild it"


needs_kernels = pytest.mark.skipif(compiled is None, reason="compiled kernels not built")


def scipy_cut(u: np.ndarray, k: int) -> tuple[int, ...]:
    return partition(fcluster(linkage(u.astype(np.float64), "ward"), k, criterion="maxclust"))


@needs_kernels
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 9, 33, 128, 255, 300])
@pytest.mark.parametrize("pool_factor", [1, 2, 3, 4, 8])
def test_ward_labels_are_scipy_ward_cut_numbered_by_first_row(n: int, pool_factor: int) -> None:
    for seed in range(2):
        u = normalise(doc(n, d=48, seed=7 * n + seed))
        k = cluster_count(n, pool_factor)
        labels = kernels.ward_labels(u, k)
        assert labels.dtype == np.intp and labels.shape == (n,)
        assert tuple(labels.tolist()) == partition(labels)  # 0..k-1 by first row
        if n >= 2:
            assert partition(labels) == scipy_cut(u, k)


@needs_kernels
@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 90),
    d=st.integers(1, 40),
    pool_factor=st.integers(2, 6),
    seed=st.integers(0, 2**31),
)
def test_property_ward_labels_equal_scipy(n: int, d: int, pool_factor: int, seed: int) -> None:
    u = normalise(np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32))
    k = cluster_count(n, pool_factor)
    ref = scipy_cut(u, k)
    if len(set(ref)) != k:  # tied heights (tiny d): scipy's maxclust gives fewer clusters
        assert len(set(kernels.ward_labels(u, k).tolist())) == k
    else:
        assert partition(kernels.ward_labels(u, k)) == ref


@needs_kernels
@pytest.mark.parametrize("protected", [0, 1, 3])
@pytest.mark.parametrize("pool_factor", [2, 3, 4])
def test_ward_pool_equals_the_numpy_scipy_fallback(protected: int, pool_factor: int) -> None:
    for n, d in ((protected + 1, 8), (20, 8), (129, 64), (257, 128)):
        x = doc(n, d=d, seed=n + pool_factor) * 3.0
        u = normalise(x[protected:])
        k = cluster_count(n - protected, pool_factor)
        out = kernels.ward_pool(x, protected, k)
        assert out.dtype == np.float32 and out.shape == (protected + k, d)
        assert out[:protected].tobytes() == x[:protected].tobytes()
        fallback = cluster_means(u, hierarchical_labels(u, k, compiled=False))
        np.testing.assert_allclose(out[protected:], fallback, atol=3e-7)


@needs_kernels
def test_pool_tokens_with_and_without_kernels_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = [doc(n, d=32, seed=n) for n in (2, 7, 64, 200)]
    with_kernels = {
        (i, m, pf): pool_tokens(x, pf, m)
        for i, x in enumerate(docs)
        for m in ("hierarchical", "kmeans")
        for pf in (2, 4)
    }
    monkeypatch.setattr(kernels, "compiled", None)
    assert not kernels.compiled_kernels()
    for (i, m, pf), out in with_kernels.items():
        np.testing.assert_allclose(pool_tokens(docs[i], pf, m), out, atol=3e-7)


@needs_kernels
def test_cluster_sums_are_the_gathered_sums_to_the_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    x = normalise(doc(50, d=24, seed=4))
    labels = np.random.default_rng(0).integers(0, 9, size=50) * 5  # sparse arbitrary ids
    fast = cluster_means(x, labels)
    monkeypatch.setattr(kernels, "compiled", None)
    assert fast.tobytes() == cluster_means(x, labels).tobytes()


@needs_kernels
def test_kernels_reject_bad_arguments() -> None:
    x = doc(10)
    with pytest.raises(ValueError, match="1 <= k"):
        kernels.ward_pool(x, 1, 10)  # k > n - protected
    with pytest.raises(ValueError, match="protected"):
        kernels.ward_pool(x, 10, 1)
    for bad in (0.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="zero, NaN or infinite vector"):
            kernels.ward_pool(np.vstack([x, np.full((1, 16), bad, np.float32)]), 0, 3)
    with pytest.raises(ValueError, match="NaN or infinite"):
        kernels.ward_labels(np.vstack([normalise(x), np.full((1, 16), np.nan, np.float32)]), 3)
    with pytest.raises(ValueError, match="work_size"):
        compiled.ward_labels(normalise(x), 3, np.empty(10))
    with pytest.raises(ValueError, match="labels must be >= 0"):
        kernels.cluster_sums(x, np.full(10, -1))


@needs_kernels
def test_ties_and_duplicates_give_exactly_k_clusters() -> None:
    u = normalise(np.repeat(doc(5, seed=3), 6, axis=0))  # 30 tokens in 5 groups of 6 equal
    for k in range(1, 31):
        labels = kernels.ward_labels(u, k)
        assert len(set(labels.tolist())) == k
        assert tuple(labels.tolist()) == partition(labels)
    # k = 5: the five groups of identical tokens
    assert partition(kernels.ward_labels(u, 5)) == partition(np.repeat(np.arange(5), 6))


@needs_kernels
def test_threads_pool_concurrently_with_their_own_workspace() -> None:
    docs = [doc(n, d=64, seed=n) for n in range(60, 300, 7)]
    expected = [pool_tokens(x, 2) for x in docs]
    results: dict[int, list[np.ndarray]] = {}

    def work(t: int) -> None:
        results[t] = [pool_tokens(x, 2) for x in docs[t % 3 :] + docs[: t % 3]]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t, outs in results.items():
        rotated = expected[t % 3 :] + expected[: t % 3]
        assert all(a.tobytes() == b.tobytes() for a, b in zip(outs, rotated))
    assert len(results) == 4


@needs_kernels
def test_long_documents_use_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    from qdrant_tokenpool.pooling import hierarchical, tokens

    x = doc(80, d=16, seed=9)
    fast = pool_tokens(x, 4)
    monkeypatch.setattr(hierarchical, "COMPILED_MAX_ROWS", 50)
    monkeypatch.setattr(tokens, "COMPILED_MAX_ROWS", 50)
    calls: list[int] = []
    real = hierarchical.cut_linkage
    monkeypatch.setattr(
        hierarchical, "cut_linkage", lambda z, n, k: calls.append(n) or real(z, n, k)
    )
    np.testing.assert_allclose(pool_tokens(x, 4), fast, atol=3e-7)
    assert calls == [79]


@needs_kernels
def test_workspace_is_reused_up_to_the_kept_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "_local", threading.local())  # start with no buffer
    first = kernels._workspace(100, 32)
    assert kernels._workspace(50, 32) is first  # smaller: the same buffer
    monkeypatch.setattr(kernels, "KEEP_BYTES", 1024)
    big = kernels._workspace(400, 32)
    assert big.size >= compiled.work_size(400, 32)
    assert kernels._workspace(400, 32) is not big  # too big to keep


@needs_kernels
def test_fallback_only_switches_pooling_to_numpy_scipy_for_the_block() -> None:
    x = doc(90, d=32, seed=12)
    with kernels.fallback_only():
        assert not kernels.compiled_kernels()
        with kernels.fallback_only():  # nests
            assert not kernels.compiled_kernels()
        assert not kernels.compiled_kernels()
        slow = pool_tokens(x, 3)
    assert kernels.compiled_kernels()
    np.testing.assert_allclose(pool_tokens(x, 3), slow, atol=3e-7)


@needs_kernels
@pytest.mark.parametrize("threshold", [None, 0.0, 0.6, 5.0])
def test_ward_pool_many_is_ward_pool_on_each_to_the_bit(threshold: float | None) -> None:
    """One call for a chunk of documents (GIL held only to start and finish): the same
    bytes as ward_pool on each, whatever the sizes, dims, protected rows and k."""
    shapes = [(1, 8, 0, 1), (2, 8, 1, 1), (20, 8, 1, 10), (129, 64, 3, 40), (257, 128, 0, 129), (5, 3, 0, 5)]
    xs = [doc(n, d=d, seed=n + d) * 2.0 for n, d, _, _ in shapes]
    protected = [p for _, _, p, _ in shapes]
    ks = [k for _, _, _, k in shapes]
    many = kernels.ward_pool_many(xs, protected, ks, threshold)
    for x, p, k, out in zip(xs, protected, ks, many):
        one = kernels.ward_pool(x, p, k, threshold)
        assert out.dtype == np.float32 and out.flags.c_contiguous
        assert out.shape == one.shape and out.tobytes() == one.tobytes()


@needs_kernels
def test_ward_pool_many_refuses_like_ward_pool() -> None:
    good = doc(10, d=4)
    bad = good.copy()
    bad[4] = 0.0
    with pytest.raises(ValueError, match="zero, NaN or infinite vector"):
        kernels.ward_pool_many([good, bad], [0, 0], [5, 5])
    with pytest.raises(ValueError, match=r"1 <= k <= n - protected.*document 1"):
        kernels.ward_pool_many([good, good], [0, 1], [5, 10])
    with pytest.raises(ValueError, match="same length"):
        compiled.ward_pool_many([good], [0, 0], [5], np.empty(1000))
    with pytest.raises(ValueError, match="work has"):
        compiled.ward_pool_many([good], [0], [5], np.empty(10))
    with pytest.raises(ValueError, match="threshold"):
        kernels.ward_pool_many([good], [0], [5], float("nan"))


@needs_kernels
def test_pool_checked_many_is_pool_checked_on_each_to_the_bit() -> None:
    """The chunk path of the pooling threads: compiled Ward documents in one call, the
    others (protected tails, nothing to pool, more rows than the kernel takes) one by one."""
    from qdrant_tokenpool.pooling.hierarchical import COMPILED_MAX_ROWS
    from qdrant_tokenpool.pooling.spec import PoolingSpec
    from qdrant_tokenpool.pooling.tokens import pool_checked, pool_checked_many

    sizes = [1, 2, 3, 9, 40, 180, COMPILED_MAX_ROWS + 40]
    arrays = [doc(n, d=16, seed=n) for n in sizes]
    for spec in (
        PoolingSpec(2, "hierarchical", 1),
        PoolingSpec(3, "hierarchical", 0, protected_tail_tokens=2),
        PoolingSpec(2, "hierarchical", 1, distance_threshold=0.9),
        PoolingSpec(2, "hierarchical", 1, max_vectors=8),
        PoolingSpec(1, "hierarchical", 1),
        PoolingSpec(2, "sequential", 1),
    ):
        many = pool_checked_many(arrays, spec)
        for x, out in zip(arrays, many):
            one = pool_checked(x, spec)
            assert out.shape == one.shape and out.tobytes() == one.tobytes(), (spec, x.shape)


def run_in_a_fresh_process(code: str) -> None:
    """Run ``code`` in a new interpreter (nothing imported or looked up yet); it must pass."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


@needs_kernels
def test_ward_pool_many_as_the_first_kernel_call_of_a_process() -> None:
    """The BLAS routine is looked up on first use (scipy loads lazily): a chunk call that
    comes first must look it up too (a fresh process, so nothing looked it up before)."""
    run_in_a_fresh_process(
        "import numpy as np\n"
        "from qdrant_tokenpool.pooling import kernels\n"
        "x = np.random.default_rng(0).standard_normal((40, 8)).astype(np.float32)\n"
        "out = kernels.ward_pool_many([x, x], [1, 1], [10, 10])\n"
        "assert out[0].tobytes() == kernels.ward_pool(x, 1, 10).tobytes()\n"
    )


@needs_kernels
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the OpenBLAS scan reads /proc/self/maps")
def test_first_pooling_keeps_the_kernels_openblas_on_one_thread() -> None:
    """scipy (and its OpenBLAS, which the Ward kernel's dsyrk runs on) loads on first use:
    the first pooling of a process must still find that OpenBLAS and hold it to one
    thread (a 180-token document pooled on many BLAS threads took ~6x longer)."""
    run_in_a_fresh_process(
        "import re, numpy as np\n"
        "from qdrant_tokenpool import pool_batch\n"
        "from qdrant_tokenpool.pooling import _blas\n"
        "pool_batch([np.random.default_rng(0).random((60, 16), dtype=np.float32)] * 4, 2)\n"
        "maps = open('/proc/self/maps').read()\n"
        "loaded = set(re.findall(r'(/\\S*openblas\\S*\\.so\\S*)', maps))\n"
        "assert len(_blas._libs) == len(loaded), (len(_blas._libs), loaded)\n"
    )


def near_duplicates(n: int, d: int, seed: int) -> np.ndarray:
    """Token vectors with the near ties real text has: repeated tokens, some exact copies
    and some off by one float32 step, among random ones."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    src = rng.integers(0, n, size=n // 3)
    dst = rng.integers(0, n, size=n // 3)
    x[dst] = x[src]
    x[dst[::2]] = np.nextafter(x[dst[::2]], np.float32(np.inf))
    return x


@needs_kernels
@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 300),
    d=st.sampled_from([3, 16, 64, 128, 384]),
    pool_factor=st.sampled_from([1.5, 2, 4]),
    threshold=st.sampled_from([None, 0.0, 0.4, 1.2]),
    kind=st.sampled_from(["random", "near_duplicates"]),
    seed=st.integers(0, 2**31),
)
def test_float32_gram_gives_the_float64_bytes(
    n: int, d: int, pool_factor: float, threshold: float | None, kind: str, seed: int
) -> None:
    """The float32 Gram matrix is used only where it provably takes the float64 decisions
    (near ties are settled on float64 cluster means, true ties go to float64): the pooled
    bytes are those of the float64 path, with and without a threshold."""
    x = doc(n, d=d, seed=seed) if kind == "random" else near_duplicates(n, d, seed)
    k = cluster_count(n - 1, pool_factor) if n > 1 else 1
    fast = kernels.ward_pool(x, 1, k, threshold) if n > 1 else None
    with kernels.float64_gram():
        slow = kernels.ward_pool(x, 1, k, threshold) if n > 1 else None
    if fast is not None:
        assert fast.tobytes() == slow.tobytes()


@needs_kernels
def test_exact_copies_go_to_the_float64_gram() -> None:
    """A tie between exact copies cannot be settled in float32: the document is clustered
    on the float64 Gram matrix (counted), with scipy's partition."""
    u = normalise(np.repeat(doc(12, d=32, seed=5), 3, axis=0))
    kernels.gram_stats(reset=True)
    labels = kernels.ward_labels(u, 12)
    stats = kernels.gram_stats()
    assert stats["float64"] == 1 and stats["float32"] == 0
    assert partition(labels) == partition(np.repeat(np.arange(12), 3))


@needs_kernels
def test_random_documents_stay_on_the_float32_gram() -> None:
    kernels.gram_stats(reset=True)
    for seed in range(20):
        kernels.ward_labels(normalise(doc(200, d=128, seed=seed)), 100)
    stats = kernels.gram_stats(reset=True)
    assert stats["float32"] == 20 and stats["float64"] == 0


@needs_kernels
@pytest.mark.parametrize("n", [2, 3, 17, 120])
def test_ward_merges_is_scipys_chain_and_stops_once_the_cut_is_known(n: int) -> None:
    from scipy.spatial.distance import pdist, squareform

    x = doc(n, d=8, seed=n).astype(np.float64)
    merges = kernels.ward_merges(squareform(pdist(x)) ** 2)
    assert merges.shape == (n - 1, 3)
    z = linkage(x, "ward")
    np.testing.assert_allclose(np.sort(np.sqrt(merges[:, 2])), z[:, 2], rtol=1e-9)
    for k in range(1, n + 1):
        part = kernels.ward_merges(squareform(pdist(x)) ** 2, k)
        assert part.shape[0] >= n - k
        # the n - k lowest of the merges made are the n - k lowest of the dendrogram
        lowest = np.sort(part[:, 2])[: n - k]
        np.testing.assert_allclose(np.sqrt(lowest), z[: n - k, 2], rtol=1e-9)


@needs_kernels
def test_rows_ok_is_the_validation_fast_check() -> None:
    """Finite non-zero rows pass (huge and tiny values too: float64 sums); NaN, inf and an
    all-zero row fail (zero allowed on request); validation then names the problem as
    without the kernels."""
    from qdrant_tokenpool.pooling.validation import InvalidMultivectorError, as_multivector

    good = doc(20, d=7, seed=1)
    for scale in (1.0, 1e30, 1e-30, 1e-42):
        assert kernels.rows_ok(good * np.float32(scale)) is True
    for bad_value in (np.nan, np.inf, -np.inf):
        x = good.copy()
        x[3, 2] = bad_value
        assert kernels.rows_ok(x) is False
    zero = good.copy()
    zero[5] = 0.0
    assert kernels.rows_ok(zero) is False and kernels.rows_ok(zero, allow_zero=True) is True
    assert kernels.rows_ok(np.asfortranarray(good)) is None  # not C-contiguous: numpy checks
    for x in (zero, np.where(np.arange(7) == 2, np.float32(np.nan), good)):
        with pytest.raises(InvalidMultivectorError) as fast:
            as_multivector(x, point_id=9)
        with kernels.fallback_only(), pytest.raises(InvalidMultivectorError) as slow:
            as_multivector(x, point_id=9)
        assert str(fast.value) == str(slow.value)
