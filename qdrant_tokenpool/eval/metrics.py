"""Retrieval metrics as BEIR reports them (pytrec_eval / trec_eval definitions).

- ``ndcg@k``: DCG with linear gain (the relevance grade itself, no ``2^rel - 1``) and
  ``log2(rank + 1)`` discount, over the top ``k`` of the ranking; divided by the ideal DCG of
  the query's judged grades. Grades ``<= 0`` give no gain. A query with no relevant
  document scores 0.
- ``recall@k``: relevant documents (grade ``> 0``) in the top ``k``, divided by all relevant
  documents judged for the query (also those absent from the corpus, as trec_eval does).

Rankings are ordered as trec_eval orders them: score descending, then document id
descending. Means are over every judged query (one missing from the run scores 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["evaluate_run", "ndcg_at_k", "paired_bootstrap", "rank", "recall_at_k", "top_k_run"]

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]


def top_k_run(
    query_ids: Sequence[str], doc_ids: Sequence[str], scores: Any, indices: Any, *,
    drop_identical: bool = True,
) -> dict[str, dict[str, float]]:
    """``{query_id: {doc_id: score}}`` from top-k ``scores`` and document ``indices``
    (``(n_queries, k)``); ``drop_identical`` drops a document whose id is the query's (as
    BEIR's evaluator does)."""
    run = {}
    for qi, qid in enumerate(query_ids):
        hits = {doc_ids[j]: float(s) for s, j in zip(scores[qi], indices[qi])}
        if drop_identical:
            hits.pop(qid, None)
        run[qid] = hits
    return run


def rank(scores: Mapping[str, float]) -> list[str]:
    """Document ids ordered like trec_eval: score descending, then id descending."""
    by_id = sorted(scores, reverse=True)  # stable second key: id descending
    return sorted(by_id, key=lambda d: -scores[d])


def ndcg_at_k(ranking: list[str], judged: Mapping[str, int], k: int) -> float:
    """nDCG@k (in ``[0, 1]``) of one ranked list of document ids against ``{doc_id: grade}``."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    dcg = 0.0
    for i, did in enumerate(ranking[:k]):
        g = judged.get(did, 0)
        if g > 0:
            dcg += g / math.log2(i + 2)
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranking: list[str], judged: Mapping[str, int], k: int) -> float:
    """Fraction of the relevant (grade > 0) judged documents found in the top ``k``."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    relevant = {d for d, g in judged.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def evaluate_run(
    run: Run,
    qrels: Qrels,
    ndcg_ks: Iterable[int] = (10,),
    recall_ks: Iterable[int] = (10, 100),
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Score a run (``{query_id: {doc_id: score}}``) against qrels.

    Returns:
        ``(means, per_query)``: ``means`` maps metric names (``"ndcg@10"``, ``"recall@100"``)
        to the mean over all judged queries; ``per_query[query_id][metric]`` holds each
        query's value.
    """
    ndcg_ks, recall_ks = list(ndcg_ks), list(recall_ks)
    per_query: dict[str, dict[str, float]] = {}
    for qid, judged in qrels.items():
        ranking = rank(run.get(qid, {}))
        per_query[qid] = {
            **{f"ndcg@{k}": ndcg_at_k(ranking, judged, k) for k in ndcg_ks},
            **{f"recall@{k}": recall_at_k(ranking, judged, k) for k in recall_ks},
        }
    names = [f"ndcg@{k}" for k in ndcg_ks] + [f"recall@{k}" for k in recall_ks]
    n = len(per_query)
    means = {name: (sum(v[name] for v in per_query.values()) / n if n else 0.0) for name in names}
    return means, per_query


def paired_bootstrap(
    a: Iterable[float], b: Iterable[float], n_resamples: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of ``b - a`` over paired per-query values and its 95%
    bootstrap interval (queries resampled ``n_resamples`` times, seeded), to tell a real
    change of a mean metric from query-sampling noise."""
    import numpy as np

    d = np.asarray(list(b), dtype=np.float64) - np.asarray(list(a), dtype=np.float64)
    if d.size == 0:
        raise ValueError("no paired values")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, d.size, size=(n_resamples, d.size))
    means = d[idx].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(d.mean()), float(lo), float(hi)
