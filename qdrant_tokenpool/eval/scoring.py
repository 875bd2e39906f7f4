"""Exact MaxSim top-k over a whole corpus with big float32 matrix products.

Token vectors are kept *packed*: one ``(T, d)`` float32 array of all tokens and an
``offsets`` array ``(n + 1,)`` so that item ``i`` owns rows ``offsets[i]:offsets[i + 1]``.

:func:`exact_topk` walks the corpus in chunks of whole documents; per chunk it computes one
``(chunk tokens, query tokens)`` product per block of queries, takes each document's
maximum per query token (``np.maximum.reduceat``), sums those per query
(``np.add.reduceat``) and merges the chunk's scores into a running top-k. Memory stays
bounded by ``block_floats`` whatever the corpus size; no Python loop runs over documents
or tokens. Pure numpy, no Qdrant import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["PackedTokens", "exact_topk", "maxsim_scores"]


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


def maxsim_scores(
    queries: PackedTokens, corpus: PackedTokens, doc_range: tuple[int, int] | None = None
) -> np.ndarray:
    """Dense MaxSim scores ``(n_queries, n_docs)`` (float32), for small inputs and tests.

    ``score(q, D) = sum over query tokens t of max over document tokens u of <t, u>``.
    """
    a, b = doc_range if doc_range is not None else (0, len(corpus))
    t0, t1 = int(corpus.offsets[a]), int(corpus.offsets[b])
    sims = corpus.tokens[t0:t1] @ queries.tokens.T  # (doc tokens, query tokens)
    per_doc = np.maximum.reduceat(sims, corpus.offsets[a:b] - t0, axis=0)  # (docs, q tokens)
    return np.add.reduceat(per_doc, queries.offsets[:-1], axis=1).T.copy()  # (queries, docs)


def exact_topk(
    queries: PackedTokens,
    corpus: PackedTokens,
    k: int = 100,
    block_floats: int = 1 << 25,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact MaxSim top-``k`` documents of the whole corpus for every query.

    Args:
        queries: packed query token vectors ``(Tq, d)``.
        corpus: packed document token vectors ``(Tc, d)``; may be a read-only memory map.
        k: results per query (capped at the corpus size).
        block_floats: size of the largest similarity block held at once, in float32
            values (default 2^25 = 128 MiB).

    Returns:
        ``(scores, indices)``, both ``(n_queries, k)``: float32 MaxSim scores and int64
        document positions, best first (ties: lower position first).
    """
    if queries.dim != corpus.dim:
        raise ValueError(f"query dim {queries.dim} != corpus dim {corpus.dim}")
    nq, nd = len(queries), len(corpus)
    k = min(int(k), nd)
    if k < 1:
        raise ValueError("k must be >= 1 and the corpus non-empty")
    q_blocks = _blocks(queries.offsets, max(1, min(int(queries.offsets[-1]), 4096)))
    q_block_tokens = max(int(queries.offsets[b] - queries.offsets[a]) for a, b in q_blocks)
    c_blocks = _blocks(corpus.offsets, max(1, block_floats // q_block_tokens))

    best_s = np.full((nq, k), -np.inf, np.float32)
    best_i = np.full((nq, k), np.iinfo(np.int64).max, np.int64)
    for ca, cb in c_blocks:
        t0, t1 = int(corpus.offsets[ca]), int(corpus.offsets[cb])
        chunk = np.ascontiguousarray(corpus.tokens[t0:t1], dtype=np.float32)
        starts = corpus.offsets[ca:cb] - t0
        for qa, qb in q_blocks:
            u0, u1 = int(queries.offsets[qa]), int(queries.offsets[qb])
            sims = chunk @ queries.tokens[u0:u1].T  # (chunk tokens, block query tokens)
            per_doc = np.maximum.reduceat(sims, starts, axis=0)  # (docs, query tokens)
            del sims
            scores = np.add.reduceat(per_doc, queries.offsets[qa:qb] - u0, axis=1).T
            ids = np.broadcast_to(np.arange(ca, cb, dtype=np.int64), scores.shape)
            cand_s = np.concatenate([best_s[qa:qb], scores], axis=1)
            cand_i = np.concatenate([best_i[qa:qb], ids], axis=1)
            # order by score desc, then position asc; keep the first k
            order = np.lexsort((cand_i, -cand_s), axis=1)[:, :k]
            best_s[qa:qb] = np.take_along_axis(cand_s, order, axis=1)
            best_i[qa:qb] = np.take_along_axis(cand_i, order, axis=1)
    return best_s, best_i
