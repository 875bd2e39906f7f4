"""Storage footprint of a (pooled) corpus: stored vectors, bytes, reduction vs unpooled."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Footprint", "footprint"]


@dataclass(frozen=True)
class Footprint:
    """Footprint of one corpus setting.

    Attributes:
        documents: number of documents.
        stored_vectors: token vectors stored over all documents.
        dim: vector dimension.
        bytes_float32: raw vector bytes at float32 (``stored_vectors * dim * 4``); index
            and payload overheads are not counted.
        vectors_per_doc: mean stored vectors per document.
        reduction: fraction of vectors (and bytes) removed vs the unpooled corpus, in
            ``[0, 1)``; 0 for the unpooled corpus itself.
    """

    documents: int
    stored_vectors: int
    dim: int
    bytes_float32: int
    vectors_per_doc: float
    reduction: float


def footprint(lengths: np.ndarray, dim: int, unpooled_vectors: int | None = None) -> Footprint:
    """Footprint from per-document vector counts.

    Args:
        lengths: ``(n_docs,)`` stored vectors per document.
        dim: vector dimension.
        unpooled_vectors: total vectors of the unpooled corpus (``None``: this one).
    """
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
