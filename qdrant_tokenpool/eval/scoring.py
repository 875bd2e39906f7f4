"""Exact MaxSim top-k over a whole corpus: the evaluation's name for
:meth:`qdrant_tokenpool.maxsim.PackedDocs.top_indices` (the package's one packed layout
and one top-k). Pure numpy, no Qdrant import.
"""

from __future__ import annotations

import numpy as np

from ..maxsim import PackedDocs

__all__ = ["PackedTokens", "exact_topk"]

PackedTokens = PackedDocs
"""The evaluation's packed token matrices: :class:`~qdrant_tokenpool.maxsim.PackedDocs`."""


def exact_topk(
    queries: PackedDocs,
    corpus: PackedDocs,
    k: int = 100,
    chunk_tokens: int = 1 << 16,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact MaxSim top-``k`` documents of the whole corpus for every query:
    ``corpus.top_indices(queries.items(), k, chunk_tokens=chunk_tokens)``.

    Returns:
        ``(scores, indices)``, both ``(n_queries, min(k, n_docs))``: float32 MaxSim scores
        and int64 document positions, best first (ties: lower position first).
    """
    if queries.dim != corpus.dim:
        raise ValueError(f"query dim {queries.dim} != corpus dim {corpus.dim}")
    return corpus.top_indices(queries.items(), k, chunk_tokens=chunk_tokens)
