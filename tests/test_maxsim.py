"""qdrant_tokenpool.maxsim against a naive per-document loop."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

from qdrant_tokenpool.maxsim import PackedDocs, maxsim, maxsim_batch, normalize_rows
from qdrant_tokenpool.pooling.validation import InvalidMultivectorError


def naive(query: np.ndarray, docs: list[np.ndarray]) -> np.ndarray:
    return np.array([float((query @ d.T).max(axis=1).sum()) for d in docs], dtype=np.float64)


def ragged(rng: np.random.Generator, n: int, d: int, lo: int = 1, hi: int = 40) -> list[np.ndarray]:
    return [rng.standard_normal((int(rng.integers(lo, hi)), d)).astype(np.float32) for _ in range(n)]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_one_query_matches_naive_loop_on_ragged_documents(rng):
    docs = ragged(rng, 200, 16)
    q = rng.standard_normal((5, 16)).astype(np.float32)
    got = maxsim(q, docs)
    assert got.shape == (200,) and got.dtype == np.float32
    np.testing.assert_allclose(got, naive(q, docs), rtol=1e-5, atol=1e-4)


def test_batch_of_queries_of_different_lengths(rng):
    docs = ragged(rng, 150, 8)
    queries = [rng.standard_normal((int(k), 8)).astype(np.float32) for k in (1, 3, 7, 32)]
    got = maxsim_batch(queries, docs)
    assert got.shape == (4, 150)
    for j, q in enumerate(queries):
        np.testing.assert_allclose(got[j], naive(q, docs), rtol=1e-5, atol=1e-4)


def test_packed_tokens_with_offsets_equal_list_input(rng):
    docs = ragged(rng, 50, 8)
    tokens = np.concatenate(docs)
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])])
    q = rng.standard_normal((4, 8)).astype(np.float32)
    np.testing.assert_allclose(maxsim(q, tokens, offsets=offsets), maxsim(q, docs), rtol=1e-6)


def test_3d_array_of_equal_length_documents(rng):
    docs = rng.standard_normal((30, 6, 8)).astype(np.float32)
    q = rng.standard_normal((3, 8)).astype(np.float32)
    np.testing.assert_allclose(maxsim(q, docs), naive(q, list(docs)), rtol=1e-5, atol=1e-4)


def test_single_token_documents_and_single_token_query(rng):
    docs = [rng.standard_normal((1, 4)).astype(np.float32) for _ in range(10)]
    q = rng.standard_normal((1, 4)).astype(np.float32)
    np.testing.assert_allclose(maxsim(q, docs), [float(q[0] @ d[0]) for d in docs], rtol=1e-5)


def test_normalize_gives_sum_of_best_cosines(rng):
    docs = ragged(rng, 40, 8)
    q = rng.standard_normal((3, 8)).astype(np.float32) * 5
    want = naive(normalize_rows(q), [normalize_rows(d) for d in docs])
    np.testing.assert_allclose(maxsim(q, docs, normalize=True), want, rtol=1e-5, atol=1e-5)
    assert not np.allclose(maxsim(q, docs), want)


@pytest.mark.parametrize("block_tokens", [1, 7, 64, 100_000])
@pytest.mark.parametrize("device", [None, "cpu"])
def test_packed_docs_any_block_size(rng, block_tokens, device):
    if device is not None:
        pytest.importorskip("torch")
    docs = ragged(rng, 60, 8)
    queries = [rng.standard_normal((k, 8)).astype(np.float32) for k in (2, 5)]
    packed = PackedDocs(docs, block_tokens=block_tokens, device=device)
    got = packed.scores_batch(queries)
    for j, q in enumerate(queries):
        np.testing.assert_allclose(got[j], naive(q, docs), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(packed.scores(queries[0]), got[0], rtol=1e-6, atol=1e-6)


def test_chunked_streaming_path_crosses_chunks(rng, monkeypatch):
    # the package exports the maxsim *function* under the same name: get the module itself
    m = importlib.import_module("qdrant_tokenpool.maxsim")

    docs = ragged(rng, 80, 8)
    q = rng.standard_normal((3, 8)).astype(np.float32)
    monkeypatch.setattr(m, "DEFAULT_MAX_QUERY_TOKENS", 2)  # one query per group
    got = m._stream_scores([q, q[:1]], docs, m.check_documents(docs, None)[1], normalize=False, chunk_tokens=13)
    np.testing.assert_allclose(got[0], naive(q, docs), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(got[1], naive(q[:1], docs), rtol=1e-5, atol=1e-4)


def test_search_topk_ids_and_order(rng):
    docs = ragged(rng, 120, 8)
    ids = [f"doc-{i}" for i in range(120)]
    queries = [rng.standard_normal((4, 8)).astype(np.float32) for _ in range(3)]
    packed = PackedDocs(docs, ids=ids)
    got_ids, got_scores = packed.search(queries, k=7)
    for j, q in enumerate(queries):
        s = naive(q, docs)
        want = np.argsort(-s, kind="stable")[:7]
        assert got_ids[j] == [ids[i] for i in want]
        np.testing.assert_allclose(got_scores[j], s[want], rtol=1e-5, atol=1e-4)
    top_ids, top_scores = packed.topk(queries[0], k=500)  # k larger than the corpus
    assert len(top_ids) == 120 and np.all(np.diff(top_scores) <= 0)


def test_packed_docs_normalise_queries_like_their_documents(rng):
    docs = ragged(rng, 20, 8)
    q = rng.standard_normal((3, 8)).astype(np.float32) * 4
    want = naive(normalize_rows(q), [normalize_rows(d) for d in docs])
    packed = PackedDocs(docs, normalize=True)
    np.testing.assert_allclose(maxsim(q, packed), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(packed.scores(q), want, rtol=1e-5, atol=1e-5)
    raw_q = naive(q, [normalize_rows(d) for d in docs])
    np.testing.assert_allclose(maxsim(q, packed, normalize=False), raw_q, rtol=1e-5, atol=1e-4)


def test_topk_ties_break_by_document_index():
    docs = [np.eye(2, dtype=np.float32)[:1]] * 5
    ids, scores = PackedDocs(docs).topk(np.eye(2, dtype=np.float32)[:1], k=3)
    assert ids == [0, 1, 2] and np.all(scores == 1.0)


def test_padding_never_changes_the_max():
    # a long and a short document in one block: the short one is padded with its own
    # last token, so its score is its own and not the long document's
    long = np.array([[1.0, 0.0]] * 5 + [[0.0, 1.0]], dtype=np.float32)
    short = np.array([[-1.0, 0.0]], dtype=np.float32)
    q = np.array([[0.0, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(PackedDocs([long, short]).scores(q), [1.0, 0.0])


def test_torch_tensors_and_torch_device_give_numpy_scores(rng):
    torch = pytest.importorskip("torch")
    docs = ragged(rng, 70, 8)
    q = rng.standard_normal((3, 8)).astype(np.float32)
    want = naive(q, docs)
    got = maxsim(torch.from_numpy(q), [torch.from_numpy(d) for d in docs])
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(maxsim(q, docs, device="cpu"), want, rtol=1e-5, atol=1e-4)
    packed = PackedDocs(docs, device="cpu", block_tokens=32)
    assert packed.device == "cpu"
    got_b = packed.scores_batch([q, q[:2]])  # different query lengths: index_add path
    np.testing.assert_allclose(got_b[1], naive(q[:2], docs), rtol=1e-5, atol=1e-4)


def test_auto_device_without_cuda_uses_numpy(rng):
    torch = pytest.importorskip("torch")
    packed = PackedDocs(ragged(rng, 3, 4), device="auto")
    assert packed.device == ("cuda" if torch.cuda.is_available() else None)


def test_module_does_not_import_qdrant_client():
    import subprocess
    from pathlib import Path

    import qdrant_tokenpool

    # importing the package imports the clients; load the module under a bare package
    pkg_dir = str(Path(qdrant_tokenpool.__file__).parent)
    code = (
        "import sys, types;"
        f"pkg = types.ModuleType('qdrant_tokenpool'); pkg.__path__ = [{pkg_dir!r}];"
        "sys.modules['qdrant_tokenpool'] = pkg;"
        "import qdrant_tokenpool.maxsim;"
        "print('qdrant_client' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "query, match",
    [
        (np.zeros((0, 4), np.float32), "empty"),
        (np.ones(4, np.float32), "single vector"),
        (np.ones((2, 5), np.float32), "wrong dimension"),
        (np.array([[1, np.nan, 0, 0]], np.float32), "non-finite"),
        (np.ones((2, 2, 4), np.float32), "shape"),
    ],
)
def test_bad_query(query, match):
    docs = [np.ones((3, 4), np.float32)]
    with pytest.raises(InvalidMultivectorError, match=match):
        maxsim(query, docs)


def test_bad_documents():
    q = np.ones((2, 4), np.float32)
    with pytest.raises(ValueError, match="no documents"):
        maxsim(q, [])
    with pytest.raises(ValueError, match="document 1"):
        maxsim(q, [np.ones((2, 4)), np.ones((0, 4))])
    with pytest.raises(ValueError, match="document 1 has dimension 3"):
        maxsim(q, [np.ones((2, 4)), np.ones((2, 3))])
    with pytest.raises(ValueError, match="document 1 is empty"):
        maxsim(q, np.ones((4, 4)), offsets=[0, 2, 2, 4])
    with pytest.raises(ValueError, match="offsets must start at 0"):
        maxsim(q, np.ones((4, 4)), offsets=[0, 3])
    with pytest.raises(ValueError, match="ids"):
        PackedDocs([np.ones((2, 4))], ids=["a", "b"])


@pytest.mark.parametrize("scale", [1e20, 1e-25, 1e30])
def test_normalize_true_is_scale_free_for_huge_and_tiny_values(rng, scale):
    """Squares of 1e20 overflow float32 and of 1e-25 underflow: the Cosine scores must not
    collapse to 0.0 (or NaN) for every document."""
    docs = ragged(rng, 30, 8)
    q = rng.standard_normal((4, 8)).astype(np.float32)
    want = maxsim(q, docs, normalize=True)
    s = np.float32(scale)
    np.testing.assert_allclose(maxsim(q * s, docs, normalize=True), want, atol=1e-5)
    np.testing.assert_allclose(maxsim(q, [d * s for d in docs], normalize=True), want, atol=1e-5)
    packed = PackedDocs([d * s for d in docs], normalize=True)
    np.testing.assert_allclose(packed.scores(q * s), want, atol=1e-5)


def test_normalize_rows_keeps_zero_rows_zero():
    x = np.array([[0.0, 0.0], [3e30, 4e30], [3e-30, -4e-30]], dtype=np.float32)
    np.testing.assert_allclose(normalize_rows(x), [[0, 0], [0.6, 0.8], [0.6, -0.8]], atol=1e-7)


def test_length_buckets_cover_every_document_once_with_bounded_padding(rng):
    from qdrant_tokenpool.maxsim import _length_buckets

    lengths = rng.integers(1, 300, 2000)
    buckets = _length_buckets(lengths, 0.125)
    seen = np.concatenate([idx for idx, _ in buckets])
    assert sorted(seen.tolist()) == list(range(2000))
    for idx, width in buckets:
        real = int(lengths[idx].sum())
        assert width == lengths[idx].max()
        assert len(idx) * width <= 1.125 * real + width
    assert len(buckets) < 60  # few large buckets, not one per length
    padded = sum(len(idx) * w for idx, w in buckets)
    assert padded <= 1.13 * lengths.sum()


@pytest.mark.parametrize("block_tokens", [None, 5, 300])
def test_torch_buckets_match_numpy_within_1e5(rng, block_tokens):
    """The torch path (CPU torch here; the same code runs on CUDA) equals numpy's scores
    to 1e-5, single queries and batches of mixed lengths, documents in input order."""
    pytest.importorskip("torch")
    docs = [normalize_rows(rng.standard_normal((int(n), 16)).astype(np.float32))
            for n in rng.integers(1, 90, 150)]
    qs = [normalize_rows(rng.standard_normal((int(n), 16)).astype(np.float32)) for n in (32, 32, 7, 32)]
    want = PackedDocs(docs).scores_batch(qs)
    packed = PackedDocs(docs, device="cpu", block_tokens=block_tokens)
    assert len(packed._buckets) < len({len(d) for d in docs})  # lengths share buckets
    np.testing.assert_allclose(packed.scores_batch(qs), want, rtol=0, atol=1e-5)
    np.testing.assert_allclose(packed.scores(qs[2]), want[2], rtol=0, atol=1e-5)
    np.testing.assert_allclose(packed.scores_batch(qs[:2]), want[:2], rtol=0, atol=1e-5)  # same lengths
    _, top = packed.search(qs, k=5)
    np.testing.assert_allclose(top, np.sort(want, axis=1)[:, ::-1][:, :5], rtol=0, atol=1e-5)


needs_kernel = pytest.mark.skipif(
    not __import__("qdrant_tokenpool.pooling.kernels", fromlist=["x"]).maxsim_available(),
    reason="the compiled MaxSim kernel needs x86-64 with AVX2 and FMA and the built kernels",
)


@needs_kernel
@pytest.mark.parametrize("d", [1, 3, 16, 17, 128])
@pytest.mark.parametrize("qlens", [[1], [15, 16, 17], [32] * 5])
def test_compiled_kernel_equals_the_numpy_path(rng, d, qlens):
    """Any dimension, query lengths off the 16-token blocks, one-token documents: the
    compiled kernel gives the numpy path's scores within float32 rounding."""
    from qdrant_tokenpool.pooling import kernels

    docs = ragged(rng, 150, d, lo=1, hi=30)
    queries = [rng.standard_normal((n, d)).astype(np.float32) for n in qlens]
    fast = maxsim_batch(queries, docs)
    with kernels.fallback_only():
        assert not kernels.maxsim_available()
        slow = maxsim_batch(queries, docs)
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-5)
    for q, row in zip(queries, fast):
        np.testing.assert_allclose(row, naive(q, docs), rtol=1e-5, atol=1e-4)


@needs_kernel
def test_compiled_kernel_splits_documents_over_threads(rng, monkeypatch):
    """Above KERNEL_THREAD_MACS the documents are scored in ranges on the thread pool:
    every document exactly once, in input order (packed and top-k paths)."""
    m = importlib.import_module("qdrant_tokenpool.maxsim")

    monkeypatch.setattr(m, "KERNEL_THREAD_MACS", 1)
    docs = ragged(rng, 301, 24, lo=1, hi=60)
    q = rng.standard_normal((20, 24)).astype(np.float32)
    packed = PackedDocs(docs)
    np.testing.assert_allclose(packed.scores(q), naive(q, docs), rtol=1e-5, atol=1e-4)
    _, idx = packed.top_indices([q], k=10)
    want = np.argsort(-naive(q, docs), kind="stable")[:10]
    assert set(idx[0].tolist()) == set(want.tolist())


def test_normalize_never_touches_the_callers_arrays(rng):
    """A list is packed into a new array and normalised in place (one copy of the corpus);
    a packed matrix or a 3-D array given by the caller is left as it was."""
    docs = ragged(rng, 30, 8)
    before = [d.copy() for d in docs]
    packed = PackedDocs(docs, normalize=True)
    assert all(np.array_equal(a, b) for a, b in zip(docs, before))
    np.testing.assert_allclose(np.linalg.norm(packed.tokens, axis=1), 1.0, rtol=1e-6)
    tokens, offsets = PackedDocs(docs).tokens.copy(), PackedDocs(docs).offsets
    kept = tokens.copy()
    PackedDocs(tokens, offsets, normalize=True)
    cube = rng.standard_normal((4, 5, 8)).astype(np.float32)
    cube_before = cube.copy()
    PackedDocs(cube, normalize=True)
    assert np.array_equal(tokens, kept) and np.array_equal(cube, cube_before)
