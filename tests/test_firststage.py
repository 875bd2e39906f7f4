"""First-stage encodings: MUVERA FDEs against a per-token loop transcription of the
algorithm, against their guarantee (FDE inner products bound and track Chamfer/MaxSim),
stable random matrices, and the mean summary."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy.stats import spearmanr

from qdrant_tokenpool.firststage import (
    Muvera,
    MuveraParams,
    document_summaries,
    mean_summary,
    query_summary,
    summary_dim,
)
from qdrant_tokenpool.maxsim import maxsim, normalize_rows


def _oracle(enc: Muvera, tokens: np.ndarray, document: bool) -> np.ndarray:
    """The FDE of one point cloud, written as the paper describes it: per repetition, per
    partition, per token (no vectorisation), with the encoder's own random matrices."""
    p = enc.params
    k, dp, d = p.k_sim, enc.dim_proj, enc.dim
    blocks = []
    for r in range(p.r_reps):
        H = enc.hyperplanes[:, r * k : (r + 1) * k].astype(np.float64)
        S = (
            np.eye(d)
            if enc.projection is None
            else enc.projection[:, r * dp : (r + 1) * dp].astype(np.float64)
        )
        codes = [sum(1 << i for i in range(k) if float(x @ H[:, i]) > 0) for x in tokens]
        for b in range(p.partitions):
            members = [i for i, c in enumerate(codes) if c == b]
            if members:
                v = sum(tokens[i].astype(np.float64) for i in members)
                if document:
                    v = v / len(members)
            elif document:  # nearest token by Hamming distance, earliest on ties
                dist = [(c ^ b).bit_count() for c in codes]
                v = tokens[int(np.argmin(dist))].astype(np.float64)
            else:
                v = np.zeros(d)
            blocks.append(v @ S)
    fde = np.concatenate(blocks)
    if enc.final is not None:
        fde = enc.final.T.toarray().astype(np.float64) @ fde
    return fde


def _cloud(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return normalize_rows(rng.standard_normal((n, d)).astype(np.float32))


@pytest.mark.parametrize(
    "params",
    [
        MuveraParams(k_sim=3, dim_proj=None, r_reps=3, seed=1),
        MuveraParams(k_sim=3, dim_proj=4, r_reps=4, seed=2),
        MuveraParams(k_sim=2, dim_proj=8, r_reps=2, seed=3, final_dim=20),
        MuveraParams(k_sim=0, dim_proj=None, r_reps=2, seed=4),
    ],
)
def test_vectorised_equals_the_per_token_loop(params: MuveraParams) -> None:
    rng = np.random.default_rng(0)
    d = 8
    docs = [_cloud(rng, n, d) for n in (1, 2, 5, 13, 3)]  # 1-2 tokens: most partitions empty
    enc = Muvera(d, params)
    got_d = enc.encode_documents(docs, chunk_tokens=6)  # several chunks
    got_q = enc.encode_queries(docs)
    for i, doc in enumerate(docs):
        np.testing.assert_allclose(got_d[i], _oracle(enc, doc, True), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got_q[i], _oracle(enc, doc, False), rtol=1e-5, atol=1e-5)
    assert got_d.shape == (len(docs), params.output_dim(d)) == (len(docs), enc.output_dim)
    assert got_d.dtype == np.float32


def test_unprojected_fde_never_exceeds_chamfer_and_equals_it_for_one_token_documents() -> None:
    """Without projections each query token meets the mean of some document tokens (or
    one filled token), never more than its best match: FDE / r_reps <= Chamfer."""
    rng = np.random.default_rng(1)
    d = 16
    params = MuveraParams(k_sim=4, dim_proj=None, r_reps=6, seed=7)
    enc = Muvera(d, params)
    docs = [_cloud(rng, int(n), d) for n in rng.integers(1, 30, 60)]
    queries = [_cloud(rng, int(n), d) for n in rng.integers(1, 10, 12)]
    fde = enc.encode_queries(queries) @ enc.encode_documents(docs).T / params.r_reps
    for qi, q in enumerate(queries):
        chamfer = maxsim(q, docs)
        assert (fde[qi] <= chamfer + 1e-4).all()
    singles = [_cloud(rng, 1, d) for _ in range(10)]  # one token: every partition is it
    fde1 = enc.encode_queries(queries) @ enc.encode_documents(singles).T / params.r_reps
    for qi, q in enumerate(queries):
        np.testing.assert_allclose(fde1[qi], maxsim(q, singles), rtol=1e-4, atol=1e-4)


def _clustered(seed: int, d: int = 64) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Documents mixing 4 of 40 topics; each query takes 8 noisy tokens of document i."""
    rng = np.random.default_rng(seed)
    centers = _cloud(rng, 40, d)
    docs = []
    for _ in range(300):
        n = int(rng.integers(20, 60))
        topics = rng.choice(40, 4, replace=False)
        x = centers[rng.choice(topics, n)] + 1.5 / np.sqrt(d) * rng.standard_normal((n, d))
        docs.append(normalize_rows(x.astype(np.float32)))
    queries = []
    for i in range(40):
        x = docs[i][rng.choice(len(docs[i]), 8)]
        x = x + 0.9 / np.sqrt(d) * rng.standard_normal(x.shape)
        queries.append(normalize_rows(x.astype(np.float32)))
    return docs, queries


def test_reference_fde_tracks_maxsim_on_clustered_clouds() -> None:
    """The paper's reference parameters: FDE scores rank documents like Chamfer/MaxSim
    (Spearman) and the FDE top-10 holds the MaxSim top-1 of every query."""
    docs, queries = _clustered(2)
    enc = Muvera.for_dim(64)  # k_sim=5, dim_proj=16, r_reps=20
    assert enc.output_dim == 10240
    scores = enc.encode_queries(queries) @ enc.encode_documents(docs).T
    rhos, hits = [], 0
    for qi, q in enumerate(queries):
        exact = maxsim(q, docs)
        rhos.append(spearmanr(scores[qi], exact).statistic)
        hits += int(np.argmax(exact) in np.argsort(-scores[qi])[:10])
    assert np.mean(rhos) > 0.45
    assert hits == len(queries)


def test_projection_is_unbiased_over_seeds() -> None:
    """The AMS sketch keeps inner products in expectation: averaged over seeds (same
    partitions per seed), the projected FDE score matches the unprojected one."""
    rng = np.random.default_rng(3)
    d = 32
    doc, q = _cloud(rng, 20, d), _cloud(rng, 6, d)
    diffs, base = [], []
    for seed in range(60):
        full = Muvera(d, MuveraParams(k_sim=2, dim_proj=None, r_reps=4, seed=seed))
        proj = Muvera(d, MuveraParams(k_sim=2, dim_proj=8, r_reps=4, seed=seed))
        np.testing.assert_array_equal(full.hyperplanes, proj.hyperplanes)  # same partitions
        exact = float(full.encode_query(q) @ full.encode_document(doc))
        approx = float(proj.encode_query(q) @ proj.encode_document(doc))
        diffs.append(approx - exact)
        base.append(exact)
    assert abs(np.mean(diffs)) < 0.15 * np.mean(base)
    assert np.std(diffs) > 0  # the projection does change single values


def test_random_matrices_are_pinned_and_deterministic() -> None:
    """Same seed, same matrices in every process and numpy version: the values come from
    PCG64's raw stream through our own transforms (pinned here)."""
    a = Muvera(4, MuveraParams(k_sim=2, dim_proj=2, r_reps=2, seed=42))
    b = Muvera(4, MuveraParams(k_sim=2, dim_proj=2, r_reps=2, seed=42))
    np.testing.assert_array_equal(a.hyperplanes, b.hyperplanes)
    assert a.projection is not None and b.projection is not None
    np.testing.assert_array_equal(a.projection, b.projection)
    c = Muvera(4, MuveraParams(k_sim=2, dim_proj=2, r_reps=2, seed=43))
    assert not np.array_equal(a.hyperplanes, c.hyperplanes)
    assert set(np.unique(a.projection * np.sqrt(2)).round(6)) == {-1.0, 1.0}
    pinned = np.array(PINNED_HYPERPLANES, dtype=np.float32)
    np.testing.assert_allclose(a.hyperplanes[:2], pinned, rtol=1e-5, atol=1e-6)
    assert (a.projection * np.sqrt(2)).round().astype(int).tolist() == PINNED_SIGNS
    assert Muvera.for_dim(4, a.params) is Muvera.for_dim(4, b.params)


PINNED_SIGNS = [[1, -1, -1, -1], [1, 1, -1, -1], [1, -1, -1, 1], [1, -1, 1, -1]]
PINNED_HYPERPLANES = [
    [0.01726872, -0.90399176, 0.4324192, 0.55090564],
    [-0.5633558, 0.34127668, -0.97225845, -1.3009287],
]


def test_encoding_is_deterministic_and_batch_independent() -> None:
    rng = np.random.default_rng(4)
    docs = [_cloud(rng, int(n), 24) for n in rng.integers(1, 40, 30)]
    enc = Muvera.for_dim(24, MuveraParams(k_sim=3, dim_proj=8, r_reps=5))
    whole = enc.encode_documents(docs)
    np.testing.assert_allclose(whole, enc.encode_documents(docs), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(whole, enc.encode_documents(docs, chunk_tokens=1), atol=1e-5)
    np.testing.assert_allclose(whole[7], enc.encode_document(docs[7]), atol=1e-5)
    packed = np.concatenate(docs)
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in docs])])
    np.testing.assert_allclose(whole, enc.encode_documents(packed, offsets=offsets), atol=1e-5)
    scaled = [3.0 * x for x in docs]
    np.testing.assert_allclose(whole, enc.encode_documents(scaled, normalize=True), atol=1e-5)


def test_bad_input_and_parameters_are_refused_clearly() -> None:
    enc = Muvera.for_dim(8, MuveraParams(k_sim=2, dim_proj=4, r_reps=2))
    good = np.ones((3, 8), np.float32)
    bad = good.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"document 1: token vector 1 holds NaN or inf"):
        enc.encode_documents([good, bad])
    with pytest.raises(ValueError, match="dimension 7"):
        enc.encode_query(np.ones((2, 7), np.float32))
    with pytest.raises(ValueError, match="empty"):
        enc.encode_documents([good, np.zeros((0, 8), np.float32)])
    with pytest.raises(ValueError, match=r"dim_proj \(16\) must be <= the token dimension \(8\)"):
        Muvera(8)
    for kwargs, msg in [
        ({"k_sim": 9}, "k_sim must be <= 8"),
        ({"k_sim": -1}, "k_sim must be an integer >= 0"),
        ({"r_reps": 0}, "r_reps must be an integer >= 1"),
        ({"dim_proj": 0}, "dim_proj must be an integer >= 1"),
        ({"seed": -3}, "seed must be an integer >= 0"),
        ({"final_dim": 1.5}, "final_dim must be an integer"),
    ]:
        with pytest.raises(ValueError, match=msg):
            MuveraParams(**kwargs)


def test_mean_summary_and_the_shared_entry_points() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((7, 12)).astype(np.float32)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    want = unit.mean(axis=0) / np.linalg.norm(unit.mean(axis=0))
    np.testing.assert_allclose(mean_summary(x), want, rtol=1e-5, atol=1e-6)
    cancel = np.array([[1.0, 0.0], [-1.0, 0.0]], np.float32)  # the mean is zero
    np.testing.assert_array_equal(mean_summary(cancel), [1.0, 0.0])
    # queries and documents go through the same function
    np.testing.assert_array_equal(query_summary("mean", cancel), mean_summary(cancel))
    docs = [x, x[:3]]
    np.testing.assert_allclose(document_summaries("mean", docs)[1], mean_summary(x[:3]))
    params = MuveraParams(k_sim=2, dim_proj=4, r_reps=3)
    fde = document_summaries("muvera", docs, muvera=params)
    assert fde.shape == (2, summary_dim("muvera", 12, params)) == (2, 3 * 4 * 4)
    np.testing.assert_allclose(
        fde[0], Muvera.for_dim(12, params).encode_document(unit), atol=1e-6
    )
    q = query_summary("muvera", x[:2], muvera=params)
    np.testing.assert_allclose(
        q, Muvera.for_dim(12, params).encode_query(unit[:2]), atol=1e-6
    )
    assert summary_dim("mean", 12) == 12
    with pytest.raises(ValueError, match="unknown summary method 'max'"):
        query_summary("max", x)


def test_no_qdrant_client_import() -> None:
    assert "qdrant_tokenpool.firststage" in sys.modules
    import subprocess

    code = (
        "import sys, qdrant_tokenpool.firststage; "
        "assert 'qdrant_client' not in sys.modules, 'qdrant_client imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_same_encoding_as_fastembed_given_the_same_random_matrices() -> None:
    """fastembed's ``Muvera`` (a well-kept reference; installed by the test extra) computes
    the same encodings when it is given our hyperplanes and projections: partitions,
    document averages, query sums, the projection and the block layout agree. (Its random
    matrices differ by design: ours come from a version-stable stream. An empty
    partition is filled with the earliest nearest token, as the paper's reference code
    does; fastembed takes the lowest nearest partition's first token, the same token
    whenever there is no tie, so the documents here fill no partition.)"""
    fm = pytest.importorskip("fastembed.postprocess.muvera")
    rng = np.random.default_rng(6)
    d, params = 24, MuveraParams(k_sim=2, dim_proj=8, r_reps=5, seed=11)
    ours = Muvera(d, params)
    ref = fm.Muvera(d, k_sim=2, dim_proj=8, r_reps=5)
    k, dp = params.k_sim, params.dim_proj
    for r, sh in enumerate(ref.simhash_projections):
        sh.simhash_vectors = ours.hyperplanes[:, r * k : (r + 1) * k].astype(np.float64)
    assert ours.projection is not None
    proj = ours.projection * np.sqrt(dp)  # fastembed scales by 1/sqrt(dim_proj) itself
    ref.dim_reduction_projections = np.stack(
        [proj[:, r * dp : (r + 1) * dp] for r in range(params.r_reps)]
    ).astype(np.float64)
    docs = [_cloud(rng, 60, d) for _ in range(5)]  # 60 tokens: all 4 partitions occupied
    queries = [_cloud(rng, n, d) for n in (1, 3, 9)]
    for doc, got in zip(docs, ours.encode_documents(docs)):
        np.testing.assert_allclose(got, ref.process_document(doc), rtol=1e-4, atol=1e-5)
    for q, got in zip(queries, ours.encode_queries(queries)):
        np.testing.assert_allclose(got, ref.process_query(q), rtol=1e-4, atol=1e-5)
