"""The quality-vs-footprint evaluation (``qdrant-tokenpool eval``): BEIR folder + encoder ->
pooled settings -> metrics::

    result = run_evaluation("../shared/data/scifact", encoder, pool_factors=(1, 2, 4),
                            methods=("hierarchical",), out_dir="eval-out")
    result.ndcg_delta(result.get("hierarchical", 4))  # (diff vs unpooled, CI low, CI high)

The corpus and judged queries are encoded once (cached); each setting pools the corpus and
scores every query against all of it with exact MaxSim: no Qdrant, the pooling itself.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..maxsim import PackedDocs
from ..pooling import pool_batch
from ..pooling.spec import METHODS
from .beir import BeirDataset, load_beir
from .cache import default_cache_dir
from .encoding import encode_cached, encoder_fingerprint, load_encoder
from .footprint import Footprint, footprint
from .metrics import evaluate_run, paired_bootstrap, top_k_run

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["THRESHOLD", "UNPOOLED", "EvalResult", "SettingResult", "run_evaluation"]

UNPOOLED = "none"
"""Method name of the unpooled (``pool_factor=1``) setting."""

THRESHOLD = "threshold"
"""Method name of the adaptive settings: hierarchical pooling with ``pool_factor=1`` and a
``distance_threshold`` (see :mod:`qdrant_tokenpool.pooling.spec`)."""

NDCG, R100 = "ndcg@10", "recall@100"

EVAL_METHODS = tuple(m for m in METHODS if m != "grid")
"""Methods a text corpus can be evaluated with (a patch grid needs image documents)."""


@dataclass
class SettingResult:
    """Metrics and footprint of one ``(method, pool_factor)`` setting (method
    :data:`THRESHOLD`: a ``distance_threshold`` setting). ``relative_ndcg``: nDCG@10 over
    the unpooled one's; times in wall-clock seconds."""

    method: str
    pool_factor: float
    metrics: dict[str, float]
    footprint: Footprint
    relative_ndcg: float = 1.0
    pool_seconds: float = 0.0
    score_seconds: float = 0.0
    per_query: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)
    distance_threshold: float | None = None

    @property
    def key(self) -> str:
        """``method/pf<factor>`` (``threshold/t<t>`` for adaptive settings): the setting's id."""
        if self.distance_threshold is not None:
            return f"{self.method}/t{self.distance_threshold:g}"
        return f"{self.method}/pf{self.pool_factor:g}"

    @property
    def label(self) -> str:
        """``pf=<factor>`` or ``t=<threshold>`` (3 significant digits), for tables and plots."""
        if self.distance_threshold is not None:
            return f"t={self.distance_threshold:.3g}"
        return f"pf={self.pool_factor:g}"

    def row(self) -> dict[str, Any]:
        """Flat dict for CSV/JSON tables."""
        fp = self.footprint
        return {
            "method": self.method,
            "pool_factor": self.pool_factor,
            "distance_threshold": self.distance_threshold,
            "stored_vectors": fp.stored_vectors,
            "vectors_per_doc": round(fp.vectors_per_doc, 3),
            "bytes_float32": fp.bytes_float32,
            "reduction": round(fp.reduction, 6),
            **{k: round(v, 6) for k, v in self.metrics.items()},
            "ndcg@10_vs_unpooled": round(self.relative_ndcg, 6),
            "pool_seconds": round(self.pool_seconds, 2),
            "score_seconds": round(self.score_seconds, 2),
        }


@dataclass
class EvalResult:
    """Everything one evaluation run measured; ``settings[0]`` is the unpooled setting."""

    dataset: str
    split: str
    encoder: dict[str, Any]
    documents: int
    queries: int
    dim: int
    protected_tokens: int
    top_k: int
    settings: list[SettingResult]
    encode_seconds: dict[str, float] = field(default_factory=dict)
    from_cache: dict[str, bool] = field(default_factory=dict)

    @property
    def unpooled(self) -> SettingResult:
        return self.settings[0]

    def get(self, method: str, pool_factor: float) -> SettingResult:
        """The setting ``(method, pool_factor)``; ``pool_factor=1`` gives the unpooled one
        (or, with ``method=THRESHOLD``, ``pool_factor`` is the distance threshold)."""
        for s in self.settings:
            if method == THRESHOLD:
                if s.method == THRESHOLD and s.distance_threshold == pool_factor:
                    return s
            elif (
                s.distance_threshold is None
                and s.pool_factor == pool_factor
                and (pool_factor == 1 or s.method == method)
            ):
                return s
        raise KeyError(f"no setting method={method!r} pool_factor={pool_factor}")

    def ndcg_delta(self, setting: SettingResult) -> tuple[float, float, float] | None:
        """nDCG@10 of ``setting`` minus the unpooled one, with a 95% paired bootstrap
        interval over queries (:func:`~qdrant_tokenpool.eval.metrics.paired_bootstrap`);
        ``None`` without per-query values."""
        base = self.unpooled
        if not setting.per_query or not base.per_query:
            return None
        qids = sorted(base.per_query)
        return paired_bootstrap(
            [base.per_query[q][NDCG] for q in qids], [setting.per_query[q][NDCG] for q in qids]
        )

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per setting (CSV/JSON), with the nDCG@10 difference and its CI."""
        out = []
        for s in self.settings:
            row = s.row()
            delta = self.ndcg_delta(s)
            if delta is not None:
                row["ndcg@10_delta"], row["ndcg@10_delta_ci_low"], row["ndcg@10_delta_ci_high"] = (
                    round(v, 6) for v in delta
                )
            out.append(row)
        return out

    def to_markdown(self) -> str:
        """Markdown table, one row per setting, the last column the nDCG@10 change against
        unpooled with its 95% paired bootstrap interval."""
        head = (
            "| method | pool factor | stored vectors | vectors/doc | float32 MiB | reduction "
            "| nDCG@10 | % of unpooled nDCG@10 | recall@100 | ΔnDCG@10 [95% CI] |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        )
        lines = []
        for s in self.settings:
            fp = s.footprint
            delta = self.ndcg_delta(s) if s is not self.unpooled else None
            ci = f"{delta[0]:+.4f} [{delta[1]:+.4f}, {delta[2]:+.4f}]" if delta else "-"
            pf = s.label if s.distance_threshold is not None else f"{s.pool_factor:g}"
            lines.append(
                f"| {s.method} | {pf} | {fp.stored_vectors:,} | "
                f"{fp.vectors_per_doc:.1f} | {fp.bytes_float32 / 2**20:,.0f} | "
                f"{fp.reduction * 100:.1f}% | {s.metrics[NDCG]:.4f} | "
                f"{s.relative_ndcg * 100:.1f}% | {s.metrics.get(R100, float('nan')):.4f} | {ci} |"
            )
        return head + "\n".join(lines) + "\n"

    def to_dict(self, per_query: bool = False) -> dict[str, Any]:
        """JSON-ready dict (``per_query=True`` adds every query's metrics per setting)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "settings"}
        out["settings"] = self.rows()
        if per_query:
            out["per_query"] = {s.key: s.per_query for s in self.settings}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalResult:
        """Rebuild a result from :meth:`to_dict` output (e.g. to re-plot a saved run)."""
        per_query = data.get("per_query", {})
        settings = []
        for r in data["settings"]:
            metrics = {k: float(r[k]) for k in r if k.startswith(("ndcg@", "recall@"))
                       and "_" not in k}
            stored = int(r["stored_vectors"])
            fp = Footprint(
                documents=int(data["documents"]),
                stored_vectors=stored,
                dim=int(data["dim"]),
                bytes_float32=int(r["bytes_float32"]),
                vectors_per_doc=stored / int(data["documents"]),
                reduction=float(r["reduction"]),
            )
            pf = float(r["pool_factor"])
            t = r.get("distance_threshold")
            t = None if t in (None, "") else float(t)
            s = SettingResult(
                r["method"], int(pf) if pf.is_integer() else pf, metrics, fp,
                float(r["ndcg@10_vs_unpooled"]), float(r.get("pool_seconds", 0.0)),
                float(r.get("score_seconds", 0.0)), distance_threshold=t,
            )
            s.per_query = per_query.get(s.key, {})
            settings.append(s)
        given = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        return cls(**{**given, "settings": settings})

    @classmethod
    def from_json(cls, path: str | Path) -> EvalResult:
        """Load a ``results.json`` written by :meth:`to_json` / :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_csv(self, path: str | Path | None = None) -> str:
        """CSV text of the settings table; also written to ``path`` when given."""
        rows = self.rows()
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        if path is not None:
            Path(path).write_text(buf.getvalue())
        return buf.getvalue()

    def to_json(self, path: str | Path | None = None, per_query: bool = True) -> str:
        """JSON text (with per-query metrics by default); also written to ``path``."""
        text = json.dumps(self.to_dict(per_query=per_query), indent=1)
        if path is not None:
            Path(path).write_text(text)
        return text

    def plot(self, path: str | Path, title: str | None = None, intervals: bool = False) -> Path:
        """PNG of nDCG@10 against stored vectors, one line per method from the unpooled
        point, with 99% and 98% of the unpooled nDCG@10 marked; ``intervals=True`` adds
        :meth:`ndcg_delta`'s intervals as error bars."""
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt

        base = self.unpooled
        b_ndcg = base.metrics[NDCG]
        mib_per_vec = self.dim * 4 / 2**20
        fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=130)
        markers = {"hierarchical": "o", "kmeans": "s", "sequential": "^", THRESHOLD: "D"}
        methods = [m for m in dict.fromkeys(s.method for s in self.settings) if m != UNPOOLED]
        for m in methods:
            pts = [base] + sorted(
                (s for s in self.settings if s.method == m),
                key=lambda s: -s.footprint.stored_vectors,
            )
            x = [s.footprint.stored_vectors / 1e6 for s in pts]
            y = [s.metrics[NDCG] for s in pts]
            deltas = [self.ndcg_delta(s) if s is not base else None for s in pts]
            label = m if m != THRESHOLD else "hierarchical, distance threshold"
            if intervals and all(d is not None for d in deltas[1:]):
                lo = [0.0] + [yi - (b_ndcg + d[1]) for yi, d in zip(y[1:], deltas[1:]) if d]
                hi = [0.0] + [(b_ndcg + d[2]) - yi for yi, d in zip(y[1:], deltas[1:]) if d]
                ax.errorbar(x, y, yerr=[lo, hi], marker=markers.get(m, "o"), capsize=2.5,
                            label=label)
            else:
                ax.plot(x, y, marker=markers.get(m, "o"), label=label)
            if m == methods[0] or m == THRESHOLD:
                below = m == THRESHOLD and len(methods) > 1
                for s, xi, yi in zip(pts[1:], x[1:], y[1:]):
                    ax.annotate(s.label, (xi, yi), textcoords="offset points",
                                xytext=(4, -11 if below else 6), fontsize=7, color="0.35")
        for frac, style in ((0.99, "--"), (0.98, ":")):
            ax.axhline(b_ndcg * frac, color="0.5", linestyle=style, linewidth=0.8,
                       label=f"{frac:.0%} of unpooled")
        ax.set_xlabel("stored token vectors (millions)")
        ax.set_ylabel("nDCG@10")
        # matplotlib passes float arrays; its stubs type them as any ArrayLike (str, bytes, ...)
        sec = ax.secondary_xaxis(
            "top",
            functions=(
                lambda v: cast("NDArray[np.float64]", v) * 1e6 * mib_per_vec,
                lambda b: cast("NDArray[np.float64]", b) / mib_per_vec / 1e6,
            ),
        )
        sec.set_xlabel("float32 vector storage (MiB)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
        parts = Path(str(self.encoder.get("name", ""))).parts
        generic = {"model", "models", "snapshots"}
        model = next((p for p in reversed(parts) if p not in generic), "model")
        ax.set_title(title or f"{self.dataset} ({self.split}): nDCG@10 vs footprint, {model}",
                     fontsize=10)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
        plt.close(fig)
        return path

    def save(self, out_dir: str | Path, plot: bool = True) -> dict[str, Path]:
        """Write ``results.md``, ``results.csv``, ``results.json`` (and ``quality_vs_footprint.png``)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"markdown": out / "results.md", "csv": out / "results.csv", "json": out / "results.json"}
        paths["markdown"].write_text(self.to_markdown())
        self.to_csv(paths["csv"])
        self.to_json(paths["json"])
        if plot:
            paths["plot"] = self.plot(out / "quality_vs_footprint.png")
        return paths


def log(tag: str, message: str) -> None:
    """``[tag] HH:MM:SS message`` on stderr: a long run's progress line."""
    print(f"[{tag}] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def record_step(
    results: Any,
    step: Any,
    line: str,
    *,
    tag: str,
    verbose: bool,
    callback: Callable[[Any], None] | None,
    out_dir: str | Path | None,
) -> None:
    """One measured step of a sweep done: its ``line`` on stderr (``verbose``),
    ``callback(step)``, and the ``results`` so far saved in ``out_dir`` without the plot."""
    if verbose:
        log(tag, line)
    if callback is not None:
        callback(step)
    if out_dir is not None:
        results.save(out_dir, plot=False)


Setting = tuple[str, float, float | None]


def _settings(
    pool_factors: Iterable[float], methods: Sequence[str], thresholds: Iterable[float] = ()
) -> list[Setting]:
    """Settings ``(method, pool_factor, distance_threshold)`` in computing order: unpooled,
    each pool factor as given (all methods), then the thresholds."""
    pfs = list(dict.fromkeys(float(p) for p in pool_factors))
    if any(not p >= 1 for p in pfs):
        raise ValueError(f"pool factors must be >= 1, got {pfs}")
    for m in methods:
        if m not in EVAL_METHODS:
            raise ValueError(
                f"unknown pooling method {m!r}; expected one of {', '.join(EVAL_METHODS)}"
            )
    ts = list(dict.fromkeys(float(t) for t in thresholds))
    if any(not (0 <= t < float("inf")) for t in ts):
        raise ValueError(f"distance thresholds must be finite and >= 0, got {ts}")

    def num(p: float) -> float:
        return int(p) if p.is_integer() else p

    return (
        [(UNPOOLED, 1, None)]
        + [(m, num(p), None) for p in pfs if p > 1 for m in dict.fromkeys(methods)]
        + [(THRESHOLD, 1, t) for t in ts]
    )


def _report_order(methods: Sequence[str]) -> Callable[[SettingResult], tuple[int, float, float]]:
    rank = {m: i for i, m in enumerate(dict.fromkeys(methods))}
    rank[THRESHOLD] = len(rank)
    return lambda s: (
        -1 if s.method == UNPOOLED else rank[s.method],
        s.pool_factor,
        s.distance_threshold or 0.0,
    )


def run_evaluation(
    data_dir: str | Path | BeirDataset,
    encoder: Any,
    pool_factors: Iterable[float] = (1, 2, 3, 4, 6, 8),
    methods: Sequence[str] = ("hierarchical", "kmeans", "sequential"),
    *,
    distance_thresholds: Iterable[float] = (),
    split: str = "test",
    top_k: int = 100,
    protected_tokens: int | None = None,
    document_max_length: int = 256,
    query_max_length: int = 32,
    device: str | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    batch_size: int = 32,
    workers: int | None = None,
    ignore_identical_ids: bool = True,
    out_dir: str | Path | None = None,
    verbose: bool = True,
    on_setting: Callable[[SettingResult], None] | None = None,
) -> EvalResult:
    """Run the quality-vs-footprint evaluation on a BEIR folder.

    Args:
        data_dir: a BEIR folder or a loaded :class:`BeirDataset`.
        encoder: an encoder, or a model path / hub id for :func:`load_encoder` (with
            ``document_max_length``, ``query_max_length``, ``device``).
        pool_factors: pool factors (fractional allowed), computed in this order; 1
            (unpooled) always, first.
        methods: pooling methods for every pool factor > 1.
        distance_thresholds: Ward with ``pool_factor=1`` and each threshold (method
            :data:`THRESHOLD`), after those.
        split: qrels split; ``top_k``: documents per query (exact MaxSim over the corpus).
        protected_tokens: leading tokens kept unpooled (``None``: the encoder's).
        cache_dir, use_cache: the encoding cache (``use_cache=False``: nothing on disk).
        batch_size: encoder batch size; ``workers``: as for ``pool_batch``.
        ignore_identical_ids: drop a hit whose id is the query's (as BEIR does).
        out_dir: Markdown, CSV and JSON written after every setting, the plot at the end.
        verbose: progress on stderr; ``on_setting``: called with each :class:`SettingResult`.

    Returns:
        :class:`EvalResult`: unpooled first, then per method by increasing pool factor.
    """
    settings = _settings(pool_factors, methods, distance_thresholds)
    ds = data_dir if isinstance(data_dir, BeirDataset) else load_beir(data_dir, split)
    if not ds.doc_ids or not ds.query_ids:
        raise ValueError(f"{ds!r}: needs at least one document and one judged query")
    if isinstance(encoder, (str, Path)):
        encoder = load_encoder(encoder, document_max_length, query_max_length, device)
    prot = int(getattr(encoder, "protected_tokens", 0) if protected_tokens is None else protected_tokens)
    cdir = (Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()) if use_cache else None
    if verbose:
        log("eval", f"{ds!r}; encoder {getattr(encoder, 'name', type(encoder).__name__)}; cache {cdir}")

    corpus, doc_hit, doc_s = encode_cached(
        encoder, "documents", ds.doc_ids, ds.documents, cdir, batch_size, verbose=verbose
    )
    queries, q_hit, q_s = encode_cached(
        encoder, "queries", ds.query_ids, ds.query_texts, cdir, batch_size, verbose=verbose
    )
    if queries.dim != corpus.dim:
        raise ValueError(f"query vectors have dim {queries.dim}, documents {corpus.dim}")
    unpooled_vectors = int(corpus.offsets[-1])
    if verbose:
        log("eval", f"corpus: {len(corpus)} docs, {unpooled_vectors:,} vectors x {corpus.dim}; "
            f"queries: {len(queries)}, {int(queries.offsets[-1]):,} vectors")

    result = EvalResult(
        dataset=ds.name,
        split=ds.split,
        encoder=encoder_fingerprint(encoder),
        documents=len(corpus),
        queries=len(queries),
        dim=corpus.dim,
        protected_tokens=prot,
        top_k=top_k,
        settings=[],
        encode_seconds={"documents": doc_s, "queries": q_s},
        from_cache={"documents": doc_hit, "queries": q_hit},
    )
    base_ndcg = None
    for method, pf, threshold in settings:
        t0 = time.perf_counter()
        if method == UNPOOLED:
            pooled = corpus
        else:
            pooled = PackedDocs.from_list(
                pool_batch(
                    corpus.items(),
                    pf,
                    method="hierarchical" if method == THRESHOLD else method,
                    protected_tokens=prot,
                    workers=workers,
                    distance_threshold=threshold,
                )
            )
        t1 = time.perf_counter()
        scores, idx = pooled.top_indices(queries.items(), top_k)
        t2 = time.perf_counter()
        run = top_k_run(ds.query_ids, ds.doc_ids, scores, idx, drop_identical=ignore_identical_ids)
        means, per_query = evaluate_run(run, ds.qrels, ndcg_ks=(10,), recall_ks=(10, 100))
        fp = footprint(pooled.lengths, pooled.dim, unpooled_vectors)
        if base_ndcg is None:
            base_ndcg = means[NDCG]
        rel = means[NDCG] / base_ndcg if base_ndcg > 0 else float("nan")
        s = SettingResult(method, pf, means, fp, rel, t1 - t0, t2 - t1, per_query, threshold)
        result.settings.append(s)
        result.settings.sort(key=_report_order(methods))
        del pooled
        line = (
            f"{method:>12} {s.label}: nDCG@10 {means[NDCG]:.4f} ({rel * 100:.1f}%), "
            f"recall@100 {means[R100]:.4f}, vectors {fp.stored_vectors:,} "
            f"(-{fp.reduction * 100:.1f}%); pool {t1 - t0:.1f} s, score {t2 - t1:.1f} s"
        )
        record_step(
            result, s, line, tag="eval", verbose=verbose, callback=on_setting, out_dir=out_dir
        )
    if out_dir is not None:
        result.save(out_dir, plot=True)
    return result
