"""Storage footprint of a (pooled) corpus: stored vectors, bytes, reduction vs unpooled."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Footprint", "footprint"]


@dataclass(frozen=True)
class Footprint:
    """Footprint of one corpus setting: documents, stored token vectors, their dimension,
    raw float32 vector bytes (no index or payload), mean vectors per document, and the
    fraction of vectors removed vs the unpooled corpus (``[0, 1)``)."""

    documents: int
    stored_vectors: int
    dim: int
    bytes_float32: int
    vectors_per_doc: float
    reduction: float


def footprint(lengths: np.ndarray, dim: int, unpooled_vectors: int | None = None) -> Footprint:
    """Footprint from ``(n_docs,)`` stored vectors per document; ``unpooled_vectors``: the
    unpooled corpus' total (``None``: this one)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    base = total if unpooled_vectors is None else int(unpooled_vectors)
    if base <= 0:
        raise ValueError("the unpooled corpus must hold at least one vector")
    return Footprint(
        documents=int(lengths.size),
        stored_vectors=total,
        dim=int(dim),
        bytes_float32=total * int(dim) * 4,
        vectors_per_doc=total / lengths.size if lengths.size else 0.0,
        reduction=1.0 - total / base,
    )
