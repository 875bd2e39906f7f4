"""Text queries against a collection :func:`~qdrant_tokenpool.index_corpus` wrote: one
search (:func:`search_documents`), or a BEIR data set's judged queries scored into nDCG@10
and recall (:func:`evaluate_collection`). Documents are named by the payload ``doc_id``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import _parent as parent
from .._flow import Flow, call
from ..candidates import TokenIndex
from ..client import TokenPoolingClient
from ..eval.beir import BeirDataset, load_beir
from ..eval.metrics import evaluate_run, top_k_run
from ..maxsim import PackedDocs
from ..pooling.validation import check_int, vector_label
from .common import (
    DOC_ID_PAYLOAD_KEY,
    OperationError,
    OperationUsageError,
    ProgressHook,
    Reporter,
    load_collection,
    operation,
    resolve_encoder,
    scroll_points,
)
from .index import indexed_multivector

__all__ = [
    "SCORINGS",
    "CollectionEvaluation",
    "DocumentHit",
    "aevaluate_collection",
    "asearch_documents",
    "evaluate_collection",
    "evaluate_collection_flow",
    "search_documents",
    "search_documents_flow",
]

SCORINGS = ("exact", "qdrant")
"""How :func:`evaluate_collection` scores the queries."""

Run = dict[str, dict[str, float]]
"""Retrieved documents per query: ``{query_id: {doc_id: score}}``."""


@dataclass(frozen=True)
class DocumentHit:
    """A document found by :func:`search_documents`: ``rank`` (1 is the best), MaxSim
    ``score``, ``doc_id`` and ``title`` (else the text; at most 200 characters)."""

    rank: int
    score: float
    doc_id: str
    title: str

    def to_dict(self) -> dict[str, Any]:
        """``{"rank", "score", "doc_id", "title"}`` (a row of ``search --json``)."""
        return asdict(self)


@dataclass(frozen=True)
class CollectionEvaluation:
    """What :func:`evaluate_collection` measured: ``data`` is the BEIR folder as given (or a
    loaded data set's name), ``queries`` the judged queries scored, ``metrics`` the mean
    ``"ndcg@10"`` and ``"recall@<k>"`` (``k = min(100, top_k)``), 0-1; ``run``: per query,
    the retrieved doc ids and MaxSim scores (the query's own id dropped, as BEIR does).
    """

    collection: str
    vector_name: str
    data: str
    split: str
    queries: int
    scoring: str
    metrics: dict[str, float]
    run: Run = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: collection, data, split, queries, scoring and the metrics."""
        head = {"collection": self.collection, "data": self.data, "split": self.split}
        return {**head, "queries": self.queries, "scoring": self.scoring, **self.metrics}

    def save(self, out_dir: str | Path) -> Path:
        """Write :meth:`to_dict` to ``out_dir/eval_<collection>.json``; returns the path."""
        path = Path(out_dir) / f"eval_{self.collection}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    def to_markdown(self) -> str:
        """A one-row Markdown table: collection, queries and the metrics (4 decimals)."""
        names = list(self.metrics)
        values = " | ".join(f"{self.metrics[n]:.4f}" for n in names)
        titles = " | ".join(n.replace("ndcg", "nDCG") for n in names)
        return (
            f"| collection | queries | {titles} |\n|---|---:|{'---:|' * len(names)}\n"
            f"| {self.collection} | {self.queries} | {values} |"
        )


def _doc_id(point: Any) -> str:
    """A point's payload ``doc_id``, else its id."""
    return str((point.payload or {}).get(DOC_ID_PAYLOAD_KEY, point.id))


def _prepare(
    collection_name: str, vector_name: str | None, encoder: Any
) -> Flow[tuple[str, str, Any]]:
    """The multivector to read, its distance and the query encoder, checked to fit. The
    token index's companion is opened before the encoder loads: Qdrant Edge's first load of
    it is slower after the encoder's (docs/funnel.md)."""
    cp = yield from load_collection(collection_name)
    try:
        using = indexed_multivector(cp, vector_name)
    except ValueError as exc:
        raise OperationUsageError(str(exc)) from None
    ti = TokenIndex.from_metadata(cp.metadata, collection_name)
    if ti is not None and ti.ready and ti.vector == using:
        yield call(parent.get_collection, ti.companion)
    encoder = resolve_encoder(encoder, "encode_queries")
    size = cp.vectors[using].size
    if int(encoder.dim) != size:
        raise OperationError(
            f"the encoder makes {encoder.dim}-d vectors but {vector_label(using)} of "
            f"{collection_name!r} holds {size}-d vectors (pick another model)"
        )
    return using, cp.vectors[using].distance.value, encoder


def search_documents_flow(
    collection_name: str,
    text: str,
    encoder: Any,
    *,
    vector_name: str | None = None,
    limit: int = 10,
) -> Flow[list[DocumentHit]]:
    """The ``limit`` best documents for a text query (never pooled), best first, by MaxSim
    through the collection's query funnel (``client.query_text``).

    Args:
        encoder: an object with ``encode_queries(texts, batch_size=, show_progress=)``
            (one ``(n, dim)`` array per text) and ``dim``; or a zero-argument callable
            returning one, called once the collection is known to exist.
        vector_name: the multivector to search (default: the one :func:`index_corpus`
            recorded, else the collection's only pooled multivector).

    Raises:
        UnknownCollectionError: the collection does not exist.
        OperationUsageError: no single multivector to pick.
        OperationError: the encoder's ``dim`` differs from the vector's size.
    """
    using, _, enc = yield from _prepare(collection_name, vector_name, encoder)
    response = yield call(
        TokenPoolingClient.query_text, collection_name, text, enc, using=using or None, limit=limit
    )
    hits = []
    for rank, p in enumerate(response.points, 1):
        title = (p.payload or {}).get("title") or (p.payload or {}).get("text") or ""
        hits.append(DocumentHit(rank, float(p.score), _doc_id(p), str(title)[:200]))
    return hits


def evaluate_collection_flow(
    collection_name: str,
    dataset: BeirDataset | str | Path,
    encoder: Any,
    *,
    split: str = "test",
    vector_name: str | None = None,
    top_k: int = 100,
    scoring: Literal["exact", "qdrant"] = "exact",
    batch_size: int = 32,
    progress: ProgressHook | None = None,
) -> Flow[CollectionEvaluation]:
    """nDCG@10 and recall@``min(100, top_k)`` of a collection on a BEIR split's judged
    queries, ``top_k`` documents retrieved per query.

    Args:
        dataset: a BEIR folder (read first) or a loaded
            :class:`~qdrant_tokenpool.eval.BeirDataset`; ``split``: its qrels split.
        encoder, vector_name: as for :func:`search_documents`.
        scoring: ``"exact"``: exact MaxSim on the client over every stored vector (Qdrant's
            scores on Cosine or Dot); ``"qdrant"``: one ``query_late_interaction`` per
            query, funnel included.

    Raises:
        FileNotFoundError, ValueError: a missing or malformed BEIR file (named).
        UnknownCollectionError: no such collection.
        OperationUsageError: a bad ``scoring``, no single multivector, or ``"exact"`` on a
            vector neither Cosine nor Dot.
        OperationError: the encoder's ``dim`` differs, or the collection stores no vectors.
    """
    rep = Reporter("evaluate_collection", progress)
    top_k = check_int("top_k", top_k)
    if scoring not in SCORINGS:
        raise OperationUsageError(f"scoring must be 'exact' or 'qdrant', got {scoring!r}")
    if isinstance(dataset, BeirDataset):
        ds, data = dataset, dataset.name
    else:
        ds, data = load_beir(dataset, split=split), str(dataset)
    using, distance, enc = yield from _prepare(collection_name, vector_name, encoder)
    if scoring == "exact" and distance not in ("Cosine", "Dot"):
        raise OperationUsageError(
            f"scoring 'exact' needs a Cosine or Dot vector, {vector_label(using)} is "
            f"{distance}; use scoring 'qdrant'"
        )
    queries = list(enc.encode_queries(ds.query_texts, batch_size=batch_size, show_progress=False))
    if scoring == "exact":
        cosine = distance == "Cosine"
        run = yield from _exact_run(collection_name, using, ds.query_ids, queries, top_k, cosine, rep)
    else:
        run = {}
        rep.start(f"queries {collection_name}", len(queries), "q")
        for qid, q in zip(ds.query_ids, queries):
            response = yield call(
                TokenPoolingClient.query_late_interaction,
                collection_name,
                q,
                using=using,
                limit=top_k,
                with_payload=[DOC_ID_PAYLOAD_KEY],
            )
            run[qid] = {_doc_id(p): float(p.score) for p in response.points}
            rep.advance(1)
        rep.end()
    for qid, hits in run.items():
        hits.pop(qid, None)  # as BEIR's evaluator (and the sweep) does
    k_recall = min(100, top_k)
    means, _ = evaluate_run(run, ds.qrels, ndcg_ks=(10,), recall_ks=(k_recall,))
    return CollectionEvaluation(
        collection_name, using, data, ds.split, len(ds.query_ids), scoring, means, run
    )


def _exact_run(
    collection_name: str,
    using: str,
    query_ids: list[str],
    queries: list[Any],
    top_k: int,
    cosine: bool,
    rep: Reporter,
) -> Flow[Run]:
    """Exact MaxSim top-``top_k`` of every query over the stored vectors ``using``, each
    point read once; ``cosine``: vectors taken at unit length, as Qdrant's Cosine MaxSim."""
    doc_ids: list[str] = []
    docs: list[np.ndarray] = []

    def keep(records: list[Any]) -> None:
        for r in records:
            vec = r.vector.get(using) if isinstance(r.vector, dict) else r.vector
            if vec is not None and len(vec):
                docs.append(np.asarray(vec, dtype=np.float32))
                doc_ids.append(_doc_id(r))

    yield from scroll_points(
        collection_name,
        keep,
        rep,
        f"read {collection_name}",
        with_payload=[DOC_ID_PAYLOAD_KEY],
        with_vectors=[using] if using else True,
    )
    if not docs:
        raise OperationError(
            f"collection {collection_name!r} holds no vectors in {vector_label(using)}"
        )
    corpus = PackedDocs(docs, normalize=cosine)
    docs.clear()  # the packed copy is what is scored
    rep.info(f"scoring {len(query_ids)} queries against {len(corpus)} documents (exact MaxSim)")
    scores, idx = corpus.top_indices(queries, top_k, chunk_tokens=1 << 16)
    return top_k_run(query_ids, doc_ids, scores, idx, drop_identical=False)


search_documents, asearch_documents = operation(
    search_documents_flow, "search_documents", pooling_client=True
)
evaluate_collection, aevaluate_collection = operation(
    evaluate_collection_flow, "evaluate_collection", pooling_client=True
)
