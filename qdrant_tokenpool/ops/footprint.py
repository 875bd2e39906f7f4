"""The smallest footprint at a quality floor: pool factor x storage datatype x quantization
(docs/footprint.md).

:func:`footprint_sweep` measures every configuration of a BEIR data set on Qdrant Edge;
:func:`recommend_footprint` picks the smallest that keeps a quality floor relative to
unpooled float32; :func:`create_footprint_collection` creates a collection with it, the
choice stored in the metadata (:data:`FOOTPRINT_KEY`). Storages are named as
:mod:`qdrant_tokenpool.footprint` names them (``"float16+tq1"``).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import models

from .. import _parent as parent
from .._flow import Flow, call
from ..footprint import (
    DEFAULT_STORAGES,
    FOOTPRINT_FORMAT,
    FOOTPRINT_KEY,
    Storage,
    footprint_from_metadata,
    footprint_search_params,
    parse_storage,
)
from ..maxsim import PackedDocs
from .common import OperationError, OperationUsageError, operation
from .stats import folder_bytes

__all__ = [
    "ANCHORS",
    "DEFAULT_STORAGES",
    "FOOTPRINT_KEY",
    "FootprintRow",
    "FootprintSweep",
    "acreate_footprint_collection",
    "create_footprint_collection",
    "footprint_from_metadata",
    "footprint_search_params",
    "footprint_sweep",
    "parse_storage",
    "recommend_footprint",
]

# ---------------------------------------------------------------------------- measuring
def _rss() -> int:
    """This process's resident set size in bytes (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@dataclass
class FootprintRow:
    """One measured configuration; bytes are per document.

    ``ram_bytes``: the files a query keeps in RAM (the codes with a quantization, else the
    stored vectors) plus the id tracker and payload files; ``disk_bytes``: the collection
    folder but its write-ahead log (fixed 32 MiB segments; in ``files["wal"]``);
    ``rss_bytes``: the RSS growth of opening it and running every query.
    ``relative_ndcg``: nDCG@10 over unpooled float32's (exact MaxSim). ``ms_p50``: median
    ms per query (one thread); ``write_docs_per_s``: upload and optimize (codes built).
    """

    pool_factor: float
    storage: str
    rescore: bool
    ndcg10: float
    recall100: float
    relative_ndcg: float
    vectors_per_doc: float
    ram_bytes: float
    disk_bytes: float
    rss_bytes: float
    ms_p50: float
    write_docs_per_s: float
    bits: float
    files: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """``pf<factor>/<storage>[/rescore]``."""
        return f"pf{self.pool_factor:g}/{self.storage}" + ("/rescore" if self.rescore else "")


@dataclass
class FootprintSweep:
    """A sweep's rows and what they are relative to.

    ``base_ndcg``: unpooled float32 nDCG@10 (exact MaxSim on the client);
    ``base_bytes``: unpooled float32 vector bytes per document (tokens x dim x 4).
    """

    dataset: str
    documents: int
    queries: int
    dim: int
    tokens_per_doc: float
    base_ndcg: float
    base_recall100: float
    base_bytes: float
    rows: list[FootprintRow] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FootprintSweep:
        return cls(**{**data, "rows": [FootprintRow(**r) for r in data.get("rows", [])]})

    @classmethod
    def from_json(cls, path: str | Path) -> FootprintSweep:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_markdown(self) -> str:
        """One row per configuration: quality, bytes per document (and the fraction of
        unpooled float32's), ms/query, write throughput (the RSS is in the CSV and JSON)."""
        head = ("| pf | storage | rescore | nDCG@10 | % of unpooled | recall@100 | RAM B/doc | "
                "RAM frac | disk B/doc | disk frac | ms/query p50 | docs/s write |")
        lines = [head, "|" + "---|" * 12]
        for r in self.rows:
            lines.append(
                f"| {r.pool_factor:g} | {r.storage} | {'yes' if r.rescore else 'no'} | "
                f"{r.ndcg10:.4f} | {r.relative_ndcg * 100:.1f} | {r.recall100:.4f} | "
                f"{r.ram_bytes:,.0f} | 1/{self.base_bytes / r.ram_bytes:.0f} | {r.disk_bytes:,.0f} | "
                f"1/{self.base_bytes / r.disk_bytes:.1f} | {r.ms_p50:.1f} | "
                f"{r.write_docs_per_s:.0f} |"
            )
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        buf = io.StringIO()
        names = [k for k in asdict(self.rows[0]) if k != "files"] if self.rows else []
        w = csv.DictWriter(buf, fieldnames=names, extrasaction="ignore")
        w.writeheader()
        w.writerows(map(asdict, self.rows))
        return buf.getvalue()

    def save(self, out_dir: str | Path, plot: bool = True) -> dict[str, Path]:
        """Write ``footprint_table.txt`` (Markdown), ``footprint.csv``, ``footprint.json``
        and (``plot``) ``footprint.png`` to ``out_dir``; returns the paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"markdown": out / "footprint_table.txt", "csv": out / "footprint.csv", "json": out / "footprint.json"}
        paths["markdown"].write_text(self.to_markdown())
        paths["csv"].write_text(self.to_csv())
        paths["json"].write_text(json.dumps(self.to_dict(), indent=1))
        if plot and self.rows:
            paths["plot"] = plot_pareto(self, out / "footprint.png")
        return paths


ANCHORS: tuple[dict[str, Any], ...] = (
    {"label": "colsearch 1.58-bit (40 B/token, -1.37 nDCG pts)", "bytes_per_token": 40.0,
     "pool_factor": 1.0, "ndcg_points": -1.37},
    {"label": "NextPlaid pf=2, 4-bit residuals", "bits": 4, "pool_factor": 2.0, "ndcg_points": None},
    {"label": "NextPlaid pf=2, 2-bit residuals", "bits": 2, "pool_factor": 2.0, "ndcg_points": None},
    {"label": "Qdrant turbo4 (low single-digit recall cost)", "bits": 4, "pool_factor": 1.0,
     "ndcg_points": None},
)
"""Published points placed on the plot, sized for this corpus's tokens per document
(``bits`` per number, plus a 4-byte centroid id for NextPlaid's residual codes); those with
``ndcg_points`` (a change of nDCG@10) are a point, the others a vertical line."""


def anchor_bytes(anchor: Mapping[str, Any], tokens_per_doc: float, dim: int) -> float:
    """An anchor's bytes per document on a corpus of ``tokens_per_doc`` x ``dim``."""
    per_token = anchor.get("bytes_per_token")
    if per_token is None:
        per_token = dim * anchor["bits"] / 8 + (4 if anchor["label"].startswith("NextPlaid") else 0)
    return float(per_token) * tokens_per_doc / anchor["pool_factor"]


def pareto(rows: Sequence[FootprintRow], key: Callable[[FootprintRow], float]) -> list[FootprintRow]:
    """The rows no other row beats on both ``key`` (bytes, smaller) and nDCG@10 (larger)."""
    best: list[FootprintRow] = []
    for r in sorted(rows, key=lambda r: (key(r), -r.ndcg10)):
        if not best or r.ndcg10 > best[-1].ndcg10:
            best.append(r)
    return best


def plot_pareto(sweep: FootprintSweep, path: str | Path, what: str = "ram_bytes") -> Path:
    """Quality (% of unpooled float32 nDCG@10) against bytes per document (log x), every
    configuration a point (colour: pool factor; filled: codes only, hollow: rescored),
    the Pareto front as a line, the anchors placed on it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6))
    pfs = sorted({r.pool_factor for r in sweep.rows})
    cmap = plt.get_cmap("viridis", max(len(pfs), 2))
    for i, pf in enumerate(pfs):
        for resc in (False, True):
            rs = [r for r in sweep.rows if r.pool_factor == pf and r.rescore == resc]
            if rs:
                ax.scatter([getattr(r, what) for r in rs], [r.relative_ndcg * 100 for r in rs],
                           color=cmap(i), facecolors="none" if resc else cmap(i), s=28,
                           label=f"pf={pf:g}" if not resc else None)
    front = pareto(sweep.rows, key=lambda r: getattr(r, what))
    ax.plot([getattr(r, what) for r in front], [r.relative_ndcg * 100 for r in front], "k--", lw=0.8,
            label="Pareto front")
    for r in front:
        ax.annotate(f"pf{r.pool_factor:g} {r.storage}{' r' if r.rescore else ''}",
                    (getattr(r, what), r.relative_ndcg * 100), fontsize=6, xytext=(3, -8),
                    textcoords="offset points")
    for a in ANCHORS:
        x = anchor_bytes(a, sweep.tokens_per_doc, sweep.dim)
        if a["ndcg_points"] is not None:
            y = (sweep.base_ndcg + a["ndcg_points"] / 100) / sweep.base_ndcg * 100
            ax.scatter([x], [y], marker="*", s=120, color="red")
            ax.annotate(a["label"], (x, y), fontsize=7, color="red", xytext=(4, 4), textcoords="offset points")
        else:
            ax.axvline(x, color="red", lw=0.6, ls=":")
            ax.annotate(a["label"], (x, 0.02), xycoords=("data", "axes fraction"), fontsize=6,
                        color="red", rotation=90, xytext=(2, 0), textcoords="offset points")
    for frac in (8, 64, 128):
        ax.axvline(sweep.base_bytes / frac, color="grey", lw=0.5)
        ax.annotate(f"1/{frac}", (sweep.base_bytes / frac, 1.0), xycoords=("data", "axes fraction"),
                    fontsize=7, color="grey", xytext=(2, -10), textcoords="offset points")
    for level in (99, 98):
        ax.axhline(level, color="grey", lw=0.5, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel(f"{'RAM' if what == 'ram_bytes' else 'disk'} bytes per document (measured, log)")
    ax.set_ylabel("nDCG@10, % of unpooled float32")
    lo = min([r.relative_ndcg * 100 for r in sweep.rows] + [95.0])
    ax.set_ylim(max(lo - 1, 50), 101)
    ax.set_title(f"{sweep.dataset}: quality vs footprint on Qdrant Edge "
                 f"({sweep.documents} docs, {sweep.tokens_per_doc:.0f} tokens/doc, d={sweep.dim})")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(True, which="both", lw=0.2)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return Path(path)


# ------------------------------------------------------------------------------ sweeping
VECTOR = "tokens"
"""The multivector's name in the sweep's collections."""


def _write(client: Any, name: str, storage: Storage, docs: PackedDocs, batch: int = 64) -> float:
    """Create collection ``name`` stored as ``storage``, write ``docs`` (ids 0..n-1) and
    optimize it; returns the seconds taken."""
    t0 = time.perf_counter()
    client.create_collection(name, {VECTOR: storage.vector_params(docs.dim)})
    n = len(docs)
    for s in range(0, n, batch):
        client.upsert(name, [
            models.PointStruct.model_construct(id=i, vector={VECTOR: docs.item(i)}, payload=None)
            for i in range(s, min(s + batch, n))
        ], wait=True)
    client.optimize(name)
    return time.perf_counter() - t0


def _query(client: Any, name: str, queries: PackedDocs, limit: int, params: Any) -> tuple[list[list[tuple[int, float]]], float]:
    """Every query's top ``limit`` ``(id, score)`` and the median ms per query."""
    hits, times = [], []
    for qi in range(len(queries)):
        q = np.asarray(queries.item(qi), dtype=np.float32).tolist()
        t0 = time.perf_counter()
        res = client.query_points(name, q, using=VECTOR, limit=limit, search_params=params,
                                  with_payload=False).points
        times.append(time.perf_counter() - t0)
        hits.append([(int(p.id), float(p.score)) for p in res])
    return hits, float(np.median(times) * 1000)


def _metrics(hits: list[list[tuple[int, float]]], ds: Any) -> tuple[float, float]:
    from ..eval.metrics import evaluate_run

    run = {
        qid: {ds.doc_ids[i]: s for i, s in hs if ds.doc_ids[i] != qid}
        for qid, hs in zip(ds.query_ids, hits)
    }
    means, _ = evaluate_run(run, ds.qrels, ndcg_ks=(10,), recall_ks=(100,))
    return means["ndcg@10"], means["recall@100"]


def footprint_sweep(
    data_dir: str | Path | Any,
    encoder: Any,
    pool_factors: Iterable[float] = (1, 1.5, 2, 3, 4, 8),
    storages: Iterable[str] = DEFAULT_STORAGES,
    rescore: Iterable[bool] = (False, True),
    *,
    method: str = "hierarchical",
    oversampling: float | None = 2.0,
    limit: int = 100,
    split: str = "test",
    work_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    document_max_length: int = 256,
    query_max_length: int = 32,
    max_documents: int | None = None,
    configs: Iterable[tuple[float, str, bool]] | None = None,
    out_dir: str | Path | None = None,
    verbose: bool = True,
    on_row: Callable[[FootprintRow], None] | None = None,
) -> FootprintSweep:
    """Measure every ``pool factor x storage x rescore`` configuration on Qdrant Edge (the
    method: docs/footprint.md).

    Documents and queries are encoded once through the evaluation cache and pooled once
    per pool factor; each storage gets a fresh Edge collection in ``work_dir`` (default: a
    temporary folder), written, measured and queried by every judged query (top ``limit``),
    from the codes only (``rescore=False``) and rescored (``oversampling`` x ``limit``
    candidates); a storage without quantization gives one row.

    Args:
        data_dir: BEIR folder (or a loaded :class:`~qdrant_tokenpool.eval.beir.BeirDataset`).
        encoder: an encoder object or a model path / hub id (as ``run_evaluation``).
        pool_factors: pool factors (1: unpooled), each with ``method``.
        storages: storage specs (:func:`parse_storage`).
        max_documents: keep the first documents only (a quick run; the judged ones first).
        configs: ``(pool_factor, storage, rescore)`` triples to measure instead of the
            product of the three lists (a storage without quantization ignores rescore).
        out_dir: when given, the table, CSV, JSON are written after every row, the plot at
            the end.

    Raises:
        ValueError: a bad storage spec (before anything runs) or an empty data set.
    """
    from ..edge_client import EdgeQdrantClient
    from ..eval.beir import BeirDataset, load_beir
    from ..eval.cache import default_cache_dir
    from ..eval.encoding import encode_cached, load_encoder
    from ..eval.run import log, record_step
    from ..pooling import pool_batch

    plan: dict[float, dict[str, set[bool]]] = {}
    if configs is None:
        configs = [(pf, st, r) for pf in pool_factors for st in storages for r in rescore]
    for pf, spec, r in configs:
        plan.setdefault(float(pf), {}).setdefault(parse_storage(spec).name, set()).add(bool(r))
    ds = data_dir if isinstance(data_dir, BeirDataset) else load_beir(data_dir, split)
    if isinstance(encoder, (str, Path)):
        encoder = load_encoder(encoder, document_max_length, query_max_length, None)
    cdir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    corpus, _, _ = encode_cached(encoder, "documents", ds.doc_ids, ds.documents, cdir, verbose=verbose)
    queries, _, _ = encode_cached(encoder, "queries", ds.query_ids, ds.query_texts, cdir, verbose=verbose)
    if max_documents is not None and max_documents < len(corpus):
        judged = {d for q in ds.qrels.values() for d in q}
        order = sorted(range(len(corpus)), key=lambda i: ds.doc_ids[i] not in judged)[:max_documents]
        order.sort()
        corpus = PackedDocs.from_list([corpus.item(i) for i in order])
        ds = dataclasses.replace(ds, doc_ids=[ds.doc_ids[i] for i in order],
                                 titles=[ds.titles[i] for i in order], texts=[ds.texts[i] for i in order])
    prot = int(getattr(encoder, "protected_tokens", 0))
    scores, idx = corpus.top_indices(queries.items(), limit)
    base_hits = [list(zip(map(int, i), map(float, s))) for s, i in zip(scores, idx)]
    base_ndcg, base_r100 = _metrics(base_hits, ds)
    n, dim = len(corpus), corpus.dim
    tokens = float(corpus.lengths.mean())
    sweep = FootprintSweep(ds.name, n, len(queries), dim, tokens, base_ndcg, base_r100, tokens * dim * 4,
                           info={"method": method, "oversampling": oversampling, "limit": limit,
                                 "protected_tokens": prot, "encoder": getattr(encoder, "name", "")})
    if verbose:
        log("footprint", f"{ds.name}: {n} docs x {tokens:.1f} tokens x {dim}; "
            f"unpooled float32 exact nDCG@10 {base_ndcg:.4f}, recall@100 {base_r100:.4f}")
    root = Path(tempfile.mkdtemp(prefix="footprint-", dir=work_dir))
    try:
        for pf, by_storage in plan.items():
            pooled = corpus if pf == 1 else PackedDocs.from_list(
                pool_batch(corpus.items(), pf, method=method, protected_tokens=prot))
            vpd = float(pooled.lengths.mean())
            for st in map(parse_storage, by_storage):
                folder = root / f"pf{pf:g}-{st.name}"
                client = EdgeQdrantClient(path=str(folder))
                try:
                    secs = _write(client, "c", st, pooled)
                finally:
                    client.close()
                files = folder_bytes(folder / "collections" / "c")
                ram = files["codes"] if st.quantization else files["vectors"]
                ram += files["other"]
                for resc in sorted(by_storage[st.name]) if st.quantization else [False]:
                    rss0 = _rss()
                    client = EdgeQdrantClient(path=str(folder))
                    try:
                        hits, ms = _query(client, "c", queries, limit, st.search_params(resc, oversampling))
                        rss = _rss() - rss0
                    finally:
                        client.close()
                    ndcg, r100 = _metrics(hits, ds)
                    row = FootprintRow(
                        pf, st.name, resc, ndcg, r100, ndcg / base_ndcg if base_ndcg else float("nan"),
                        vpd, ram / n, (files["total"] - files["wal"]) / n, rss / n, ms, n / secs, st.bits,
                        {k: v / n for k, v in files.items()},
                    )
                    sweep.rows.append(row)
                    line = (
                        f"{row.key}: nDCG@10 {ndcg:.4f} ({row.relative_ndcg * 100:.1f}%), "
                        f"RAM {row.ram_bytes:,.0f} B/doc (1/{sweep.base_bytes / row.ram_bytes:.0f}), "
                        f"disk {row.disk_bytes:,.0f} B/doc, RSS {row.rss_bytes:,.0f} B/doc, "
                        f"{ms:.1f} ms/query, {row.write_docs_per_s:.0f} docs/s"
                    )
                    record_step(sweep, row, line, tag="footprint", verbose=verbose,
                                callback=on_row, out_dir=out_dir)
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if out_dir is not None:
        sweep.save(out_dir, plot=True)
    return sweep


# ------------------------------------------------------------------------------ choosing
def recommend_footprint(
    sweep: FootprintSweep,
    min_quality: float = 0.99,
    *,
    minimize: str = "ram",
    rescore: bool | None = None,
) -> FootprintRow:
    """The row of ``sweep`` with the fewest bytes per document (``minimize``: ``"ram"`` or
    ``"disk"``; ties: faster queries) that keeps ``min_quality`` of unpooled float32
    nDCG@10 (e.g. ``0.99``); ``rescore``: only rows with (``True``) or without rescoring.

    Raises:
        OperationUsageError: ``min_quality`` outside (0, 1.5] or ``minimize`` unknown.
        OperationError: no row reaches the floor (the best one is named).
    """
    if not 0 < min_quality <= 1.5:
        raise OperationUsageError(
            f"min_quality is a fraction of unpooled nDCG@10 (e.g. 0.99), got {min_quality}"
        )
    if minimize not in ("ram", "disk"):
        raise OperationUsageError(f"minimize must be 'ram' or 'disk', got {minimize!r}")
    rows = [r for r in sweep.rows if rescore is None or r.rescore == rescore]
    ok = [r for r in rows if r.relative_ndcg >= min_quality]
    if not ok:
        best = max(rows, key=lambda r: r.relative_ndcg, default=None)
        hint = f"; the best is {best.key} at {best.relative_ndcg:.2%}" if best else ""
        raise OperationError(
            f"no configuration keeps {min_quality:.2%} of unpooled nDCG@10{hint}"
        )
    attr = "ram_bytes" if minimize == "ram" else "disk_bytes"
    return min(ok, key=lambda r: (getattr(r, attr), r.ms_p50))


def footprint_entry(row: FootprintRow, sweep: FootprintSweep | None, vector_name: str,
                    min_quality: float | None, oversampling: float | None) -> dict[str, Any]:
    """The stored form of a chosen configuration (the value of :data:`FOOTPRINT_KEY`)."""
    st = parse_storage(row.storage)
    return {
        "format": FOOTPRINT_FORMAT,
        "vector": vector_name,
        "pool_factor": row.pool_factor,
        "storage": row.storage,
        "datatype": st.datatype,
        "quantization": st.quantization,
        "rescore": row.rescore,
        "oversampling": oversampling if row.rescore else None,
        "min_quality": min_quality,
        "measured": {
            "dataset": sweep.dataset if sweep else None,
            "relative_ndcg": row.relative_ndcg,
            "ndcg10": row.ndcg10,
            "ram_bytes_per_doc": row.ram_bytes,
            "disk_bytes_per_doc": row.disk_bytes,
            "ms_p50": row.ms_p50,
        },
    }


def create_footprint_collection_flow(
    collection_name: str,
    choice: FootprintRow,
    dim: int,
    *,
    vector_name: str = "colbert",
    sweep: FootprintSweep | None = None,
    min_quality: float | None = None,
    oversampling: float | None = 2.0,
    method: str = "hierarchical",
    protected_tokens: int = 0,
) -> Flow[dict[str, Any]]:
    """Create ``collection_name`` with the chosen configuration: the multivector
    ``vector_name`` (``dim`` numbers) pooled at its pool factor with ``method``, stored as
    its storage, the choice (returned) in the metadata under :data:`FOOTPRINT_KEY`, which
    ``query_late_interaction`` and ``stats`` read. No summary vector: the sweep measured
    MaxSim over every document, and a float summary would add ``4 * dim`` B/doc in RAM.

    Raises:
        OperationError: the collection exists. PoolingConfigError: a bad pooling config.
    """
    from ..config import PoolingConfig

    if (yield call(parent.collection_exists, collection_name)):
        raise OperationError(f"collection {collection_name!r} already exists")
    entry = footprint_entry(choice, sweep, vector_name, min_quality, oversampling)
    pooling = None
    if choice.pool_factor > 1:
        pooling = {vector_name: PoolingConfig(pool_factor=choice.pool_factor, method=method,  # type: ignore[arg-type]
                                              protected_tokens=protected_tokens)}
    yield call(
        parent.create_collection, collection_name,
        vectors_config={vector_name: parse_storage(choice.storage).vector_params(dim)},
        pooling=pooling, metadata={FOOTPRINT_KEY: entry},
    )
    return entry


create_footprint_collection, acreate_footprint_collection = operation(
    create_footprint_collection_flow, "create_footprint_collection", pooling_client=True
)
