"""Exact MaxSim top-k over a whole corpus with big float32 matrix products.

Token vectors are kept *packed*: one ``(T, d)`` float32 array of all tokens and an
``offsets`` array ``(n + 1,)`` so that item ``i`` owns rows ``offsets[i]:offsets[i + 1]``.

:func:`exact_topk` walks the corpus in chunks of whole documents, scores each chunk
against all queries with :func:`qdrant_tokenpool.maxsim.maxsim_batch` (one matrix product
per block, a segment max per document, a sum per query) and merges the chunk's scores into
a running top-k. Memory stays bounded whatever the corpus size; no Python loop runs over
documents or tokens. Pure numpy, no Qdrant import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..maxsim import maxsim_batch

__all__ = ["PackedTokens", "exact_topk"]


@dataclass(frozen=True)
class PackedTokens:
    """Variable-length token matrices packed into one array.

    Attributes:
        tokens: ``(T, d)`` float32, all items' token vectors back to back.
        offsets: ``(n + 1,)`` int64; item ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``.
    """

    tokens: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        if self.tokens.ndim != 2:
            raise ValueError(f"tokens must be 2-D (T, d), got shape {self.tokens.shape}")
        off = self.offsets
        if off.ndim != 1 or off.size < 1 or off[0] != 0 or off[-1] != self.tokens.shape[0]:
            raise ValueError("offsets must be 1-D, start at 0 and end at the token count")
        if off.size > 1 and np.any(np.diff(off) <= 0):
            raise ValueError("every item must have at least one token (offsets strictly increase)")

    @classmethod
    def from_list(cls, items: Sequence[np.ndarray], dim: int | None = None) -> PackedTokens:
        """Pack a list of ``(n_i, d)`` arrays (copied into one float32 array)."""
        if not items:
            if dim is None:
                raise ValueError("cannot pack an empty list without a dimension")
            return cls(np.zeros((0, dim), np.float32), np.zeros(1, np.int64))
        lengths = np.fromiter((a.shape[0] for a in items), dtype=np.int64, count=len(items))
        offsets = np.zeros(len(items) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        d = items[0].shape[1]
        tokens = np.empty((int(offsets[-1]), d), np.float32)
        for a, start, stop in zip(items, offsets[:-1], offsets[1:]):
            tokens[start:stop] = a
        return cls(tokens, offsets)

    def __len__(self) -> int:
        return self.offsets.size - 1

    @property
    def dim(self) -> int:
        return int(self.tokens.shape[1])

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per item, ``(n,)`` int64."""
        return np.diff(self.offsets)

    def item(self, i: int) -> np.ndarray:
        """Token matrix of item ``i`` (a view)."""
        return self.tokens[self.offsets[i] : self.offsets[i + 1]]

    def items(self) -> list[np.ndarray]:
        """All items as a list of views."""
        return [self.tokens[a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:])]


def _blocks(offsets: np.ndarray, max_tokens: int) -> list[tuple[int, int]]:
    """Split items into consecutive ranges ``[i, j)`` of at most ``max_tokens`` tokens each
    (an item longer than that forms its own range)."""
    out, n, i = [], offsets.size - 1, 0
    while i < n:
        j = int(np.searchsorted(offsets, offsets[i] + max_tokens, side="right")) - 1
        j = max(j, i + 1)
        out.append((i, min(j, n)))
        i = min(j, n)
    return out


def exact_topk(
    queries: PackedTokens,
    corpus: PackedTokens,
    k: int = 100,
    chunk_tokens: int = 1 << 16,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact MaxSim top-``k`` documents of the whole corpus for every query.

    The corpus is scored ``chunk_tokens`` tokens (whole documents) at a time with
    :func:`qdrant_tokenpool.maxsim.maxsim_batch` (the project's one MaxSim), and each
    chunk's scores are merged into a running top-``k``; memory stays bounded whatever the
    corpus size, and a memory-mapped corpus is read one chunk at a time.

    Args:
        queries: packed query token vectors ``(Tq, d)``.
        corpus: packed document token vectors ``(Tc, d)``; may be a read-only memory map.
        k: results per query (capped at the corpus size).
        chunk_tokens: corpus tokens scored per step.

    Returns:
        ``(scores, indices)``, both ``(n_queries, k)``: float32 MaxSim scores
        (``sum over query tokens of the max dot product over document tokens``) and int64
        document positions, best first (ties: lower position first).
    """
    if queries.dim != corpus.dim:
        raise ValueError(f"query dim {queries.dim} != corpus dim {corpus.dim}")
    nq, nd = len(queries), len(corpus)
    k = min(int(k), nd)
    if k < 1 or nq < 1:
        raise ValueError("need k >= 1, at least one query and a non-empty corpus")
    query_list = queries.items()
    best_s = np.full((nq, k), -np.inf, np.float32)
    best_i = np.full((nq, k), np.iinfo(np.int64).max, np.int64)
    for ca, cb in _blocks(corpus.offsets, max(1, int(chunk_tokens))):
        t0, t1 = int(corpus.offsets[ca]), int(corpus.offsets[cb])
        scores = maxsim_batch(
            query_list, corpus.tokens[t0:t1], offsets=corpus.offsets[ca : cb + 1] - t0
        )  # (nq, cb - ca)
        ids = np.broadcast_to(np.arange(ca, cb, dtype=np.int64), scores.shape)
        cand_s = np.concatenate([best_s, scores], axis=1)
        cand_i = np.concatenate([best_i, ids], axis=1)
        if cand_s.shape[1] > k:  # cut to the k best before the exact ordering
            part = np.argpartition(-cand_s, k - 1, axis=1)[:, :k]
            cand_s = np.take_along_axis(cand_s, part, axis=1)
            cand_i = np.take_along_axis(cand_i, part, axis=1)
        order = np.lexsort((cand_i, -cand_s), axis=1)  # score desc, then position asc
        best_s = np.take_along_axis(cand_s, order, axis=1)
        best_i = np.take_along_axis(cand_i, order, axis=1)
    return best_s, best_i
