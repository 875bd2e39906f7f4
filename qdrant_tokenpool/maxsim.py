"""Exact MaxSim (late-interaction) scoring: numpy, or torch on any device.

``MaxSim(Q, D) = sum_i max_j <q_i, d_j>`` for a query ``(q, d)`` and a document ``(n, d)``:
Qdrant's ``max_sim``; ``normalize=True`` gives a Cosine collection's numbers. numpy scores
packed documents a chunk of tokens at a time (the compiled kernel without a similarity
matrix); torch pads documents in length buckets with their own last token (exact, no mask).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from ._budget import budget_ranges
from .pooling import kernels
from .pooling.batch import thread_pool
from .pooling.common import normalise
from .pooling.validation import (
    InvalidMultivectorError,
    as_multivector,
    check_int,
    is_array,
    is_tensor,
    to_numpy,
)

__all__ = ["PackedDocs", "check_documents", "maxsim", "maxsim_batch", "normalize_rows", "pack"]

DEFAULT_BLOCK_TOKENS = 8192
"""Document tokens per numpy block (a 32-token query's similarities: 1 MiB, in cache)."""

DEFAULT_TORCH_SIM_BYTES = 256 << 20
"""torch path: bytes of one chunk's ``(padded tokens, T)`` float32 similarity matrix."""

DEFAULT_BUCKET_PADDING = 0.125
"""torch path: a length bucket's padding adds at most this share of its real tokens (plus
one document)."""

DEFAULT_MAX_QUERY_TOKENS = 1024
"""Query tokens scored together (a group of queries): bounds a block's similarity matrix."""


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows of a float32 ``(n, d)`` array scaled to unit L2 norm (zero rows stay zero, as
    on a Cosine collection; tiny or huge values too)."""
    return normalise(x, zero="keep")


def _resolve_device(device: str | None, *inputs: Any) -> str | None:
    """``None`` for the numpy path, else a torch device string."""
    if device == "numpy":
        return None
    if device == "auto":
        try:
            import torch
        except ImportError:  # pragma: no cover - torch is optional
            return None
        return "cuda" if torch.cuda.is_available() else None
    if device is not None:
        return str(device)
    for x in inputs:
        if is_tensor(x):
            return str(x.device)
        if isinstance(x, (list, tuple)) and x and is_tensor(x[0]):
            return str(x[0].device)
    return None


class PackedDocs:
    """A corpus of multivectors packed once for exact MaxSim and top-k over all of it.

    An ``(N, d)`` float32 token matrix (:attr:`tokens`, never copied when given packed: a
    memory-mapped corpus stays on disk) and ``(n_docs + 1,)`` :attr:`offsets`; torch keeps
    them on the device, plus at most 12.5% padding.

    Args:
        documents: ``(n_i, d)`` arrays (numpy, torch or lists, ``n_i >= 1``); or, with
            ``offsets``, one ``(N, d)`` token matrix (document ``i`` is
            ``tokens[offsets[i]:offsets[i+1]]``).
        ids: ids returned by :meth:`search` (default ``0 .. n_docs - 1``).
        normalize: scale every token vector to unit length (Cosine semantics).
        device: ``None``/``"numpy"``, a torch device, or ``"auto"`` (CUDA when available).
        block_tokens: tokens scored per chunk (default 8,192 for numpy; torch: chunks of
            ``DEFAULT_TORCH_SIM_BYTES`` of similarities).
    """

    def __init__(
        self,
        documents: Any,
        offsets: Any = None,
        *,
        ids: Sequence[Any] | None = None,
        normalize: bool = False,
        device: str | None = None,
        block_tokens: int | None = None,
    ) -> None:
        if block_tokens is not None and block_tokens < 1:
            raise ValueError(f"block_tokens must be >= 1, got {block_tokens}")
        self.device = _resolve_device(device, documents)
        tokens, offs = pack(documents, offsets)
        if normalize:
            # a list was packed into a new array: normalise it in place (no second copy)
            shared = isinstance(documents, np.ndarray) and np.shares_memory(tokens, documents)
            owned = offsets is None and tokens.base is None and not shared
            tokens = normalise(tokens, zero="keep", out=tokens if owned else None)
        lengths = np.diff(offs)
        self.n_docs = int(lengths.shape[0])
        self.dim = int(tokens.shape[1])
        self.lengths = lengths
        self.n_tokens = int(tokens.shape[0])
        self.normalized = normalize
        if ids is not None and len(ids) != self.n_docs:
            raise ValueError(f"got {len(ids)} ids for {self.n_docs} documents")
        self.ids: list[Any] = list(range(self.n_docs) if ids is None else ids)
        self._tokens = tokens
        self._offsets = offs
        self._block_tokens = block_tokens  # None: DEFAULT_BLOCK_TOKENS / DEFAULT_TORCH_SIM_BYTES
        self._buckets: list[_Bucket] = []
        if self.device is None:
            return  # numpy streams over the packed tokens (segment max, no padding)
        torch = _torch()
        for idx, width in _length_buckets(lengths, DEFAULT_BUCKET_PADDING):
            pos = np.minimum(np.arange(width)[None, :], lengths[idx][:, None] - 1)
            block = tokens[offs[idx][:, None] + pos]  # (b, width, d), pads repeat the last token
            on_device = torch.from_numpy(block).to(self.device)
            self._buckets.append(_Bucket(on_device, torch.from_numpy(idx).to(self.device), width))

    # -- the packed layout --------------------------------------------------------------
    @classmethod
    def from_list(cls, items: Sequence[Any], **kwargs: Any) -> PackedDocs:
        """Pack a list of ``(n_i, d)`` matrices (copied into one float32 array)."""
        return cls(items, **kwargs)

    @property
    def tokens(self) -> np.ndarray:
        """``(N, d)`` float32: every document's token vectors, back to back."""
        return self._tokens

    @property
    def offsets(self) -> np.ndarray:
        """``(n_docs + 1,)`` int64: document ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``."""
        return self._offsets

    def __len__(self) -> int:
        return self.n_docs

    def item(self, i: int) -> np.ndarray:
        """Token matrix of document ``i`` (a view)."""
        return self._tokens[self._offsets[i] : self._offsets[i + 1]]

    def items(self) -> list[np.ndarray]:
        """All documents' token matrices, as views."""
        return [self._tokens[a:b] for a, b in zip(self._offsets[:-1], self._offsets[1:])]

    # -- scoring ------------------------------------------------------------------------
    def _queries(self, queries: Any, normalize: bool | None) -> list[np.ndarray]:
        norm = self.normalized if normalize is None else normalize
        return _prepare_queries(queries, self.dim, norm)

    def scores_batch(self, queries: Any, *, normalize: bool | None = None) -> np.ndarray:
        """MaxSim of every query against every document.

        Args:
            queries: sequence of ``(q_j, d)`` matrices (lengths may differ) or one
                ``(n_queries, q, d)`` array.
            normalize: normalise the query vectors; default: as the documents were.

        Returns:
            float32 ``(n_queries, n_docs)``, documents in input order.
        """
        qs = self._queries(queries, normalize)
        return self._score_group_all(qs)

    def scores(self, query: Any, *, normalize: bool | None = None) -> np.ndarray:
        """MaxSim of one ``(q, d)`` query against every document: float32 ``(n_docs,)``."""
        return self.scores_batch([query], normalize=normalize)[0]

    def _score_group_torch(self, qs: list[np.ndarray]) -> Any:
        """torch ``(n_queries, n_docs)`` float32 on the device, documents in input order:
        per length bucket ``(b, L, d)``, chunked products with all ``T`` query tokens, a
        max over ``L`` and a sum per query, with no host round trip."""
        torch = _torch()
        qlens = np.array([q.shape[0] for q in qs])
        n_q = len(qs)
        same = bool((qlens == qlens[0]).all())
        QT = torch.from_numpy(np.concatenate(qs, axis=0)).to(self.device).T.contiguous()  # (d, T)
        seg = None if same else torch.from_numpy(np.repeat(np.arange(n_q), qlens)).to(self.device)
        out = torch.empty((self.n_docs, n_q), dtype=torch.float32, device=self.device)
        for bucket in self._buckets:
            block, idx, width = bucket.block, bucket.index, bucket.width
            b, d = block.shape[0], block.shape[2]
            if self._block_tokens is None:
                rows = max(1, DEFAULT_TORCH_SIM_BYTES // (4 * width * QT.shape[1]))
            else:
                rows = max(1, self._block_tokens // width)
            for lo in range(0, b, rows):
                part = block[lo : lo + rows]
                n = part.shape[0]
                best = (part.reshape(n * width, d) @ QT).reshape(n, width, -1).amax(dim=1)
                if seg is None:
                    s = best.reshape(n, n_q, int(qlens[0])).sum(dim=2)
                else:
                    s = torch.zeros((n, n_q), dtype=best.dtype, device=best.device)
                    s.index_add_(1, seg, best)
                out.index_copy_(0, idx[lo : lo + rows], s)
        return out.T

    # -- top-k --------------------------------------------------------------------------
    def search(
        self, queries: Any, k: int = 10, *, normalize: bool | None = None
    ) -> tuple[list[list[Any]], np.ndarray]:
        """Exact top-``k`` documents of each query by MaxSim.

        Returns:
            ``(ids, scores)``: ``ids[j]`` the ``min(k, n_docs)`` best document ids of query
            ``j``, best first; ``scores`` float32 ``(n_queries, min(k, n_docs))``.
            Ties are broken by document index (lower first).
        """
        scores, top = self.top_indices(queries, k, normalize=normalize)
        return [[self.ids[i] for i in row] for row in top], scores

    def top_indices(
        self,
        queries: Any,
        k: int = 10,
        *,
        normalize: bool | None = None,
        chunk_tokens: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-``k`` of each query as ``(scores, indices)``, both
        ``(n_queries, min(k, n_docs))``: float32 scores and int64 document positions, best
        first (ties: lower position first). numpy scores ``chunk_tokens`` tokens (default
        ``block_tokens``) at a time into a running top-``k``: bounded memory, and a
        memory-mapped corpus is read one chunk at a time.
        """
        k = min(check_int("k", k), self.n_docs)
        qs = self._queries(queries, normalize)
        best = _TopK(len(qs), k)
        if self.device is not None:
            best.merge(self._score_group_all(qs), np.arange(self.n_docs, dtype=np.int64))
            return best.scores, best.indices
        default = self._block_tokens or DEFAULT_BLOCK_TOKENS
        step = default if chunk_tokens is None else max(1, int(chunk_tokens))
        offs = self._offsets
        for ca, cb in budget_ranges(np.diff(offs), step):
            t0 = int(offs[ca])
            scores = _stream_scores(
                qs, self._tokens[t0 : int(offs[cb])], offs[ca : cb + 1] - t0,
                normalize=False, chunk_tokens=step,
            )
            best.merge(scores, np.arange(ca, cb, dtype=np.int64))
        return best.scores, best.indices

    def _score_group_all(self, qs: list[np.ndarray]) -> np.ndarray:
        """float32 ``(n_queries, n_docs)``; torch scores groups of queries of at most
        :data:`DEFAULT_MAX_QUERY_TOKENS` tokens (numpy groups them itself)."""
        if self.device is None:
            chunk = self._block_tokens or DEFAULT_BLOCK_TOKENS
            return _stream_scores(
                qs, self._tokens, self._offsets, normalize=False, chunk_tokens=chunk
            )
        out = np.empty((len(qs), self.n_docs), dtype=np.float32)
        for lo, hi in budget_ranges([q.shape[0] for q in qs], DEFAULT_MAX_QUERY_TOKENS):
            out[lo:hi] = self._score_group_torch(qs[lo:hi]).cpu().numpy()
        return out

    def topk(
        self, query: Any, k: int = 10, *, normalize: bool | None = None
    ) -> tuple[list[Any], np.ndarray]:
        """Exact top-``k`` of one query: ``(ids, scores)``, best first."""
        ids, scores = self.search([query], k, normalize=normalize)
        return ids[0], scores[0]


@dataclass(frozen=True)
class _Bucket:
    """Documents of similar length padded to one width on the torch device."""

    block: Any  # (b, width, d) float32 tensor; padding repeats each document's last token
    index: Any  # (b,) int64 tensor: the documents' positions in input order
    width: int


def _length_buckets(lengths: np.ndarray, padding: float) -> list[tuple[np.ndarray, int]]:
    """Documents grouped by length: ``[(indices, width)]``, each group padded to its
    longest document, the padded size of a group at most ``1 + padding`` times its real
    size plus one document's worth (greedy over the documents sorted by length)."""
    order = np.argsort(lengths, kind="stable")
    sorted_len = lengths[order]
    csum = np.concatenate([[0], np.cumsum(sorted_len)])
    out = []
    start = 0
    n = len(order)
    while start < n:
        # extend the group while (count * width) <= (1 + padding) * real tokens + width
        end = start + 1
        lo, hi = end, n
        while lo < hi:  # largest end with the padding bound (monotone in end)
            mid = (lo + hi + 1) // 2
            width = sorted_len[mid - 1]
            if (mid - start) * width <= (1 + padding) * (csum[mid] - csum[start]) + width:
                lo = mid
            else:
                hi = mid - 1
        end = max(end, lo)
        out.append((order[start:end], int(sorted_len[end - 1])))
        start = end
    return out


class _TopK:
    """A running exact top-``k`` per query: merge score columns in, any order; ties go to
    the lower document position. The package's one top-k."""

    def __init__(self, n_queries: int, k: int) -> None:
        self.k = k
        self.scores = np.full((n_queries, 0), -np.inf, np.float32)
        self.indices = np.zeros((n_queries, 0), np.int64)

    def merge(self, scores: np.ndarray, positions: np.ndarray) -> None:
        """Merge ``scores`` ``(n_queries, m)`` of documents at ``positions`` ``(m,)``."""
        cand_s = np.concatenate([self.scores, scores], axis=1)
        ids = np.broadcast_to(positions, scores.shape)
        cand_i = np.concatenate([self.indices, ids], axis=1)
        # score desc, then position asc; the k best
        order = np.lexsort((cand_i, -cand_s), axis=1)[:, : self.k]
        self.scores = np.take_along_axis(cand_s, order, axis=1)
        self.indices = np.take_along_axis(cand_i, order, axis=1)


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is optional
        raise ImportError(
            "the torch MaxSim path needs torch: pip install 'qdrant-tokenpool[torch]'"
        ) from exc
    return torch


def _offsets_of(lengths: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(lengths, dtype=np.int64)])


def check_documents(documents: Any, offsets: Any) -> tuple[Any, np.ndarray, int]:
    """``(tokens (N, d) array or list of (n_i, d) arrays, offsets (n_docs + 1,), d)``, with
    shapes checked (non-empty documents, one dimension); values are not (NaN gives NaN)."""
    if offsets is not None:
        tokens = to_numpy(documents)
        if tokens.ndim != 2 or tokens.shape[1] == 0:
            raise ValueError(f"packed tokens must be an (N, d) matrix, got shape {tokens.shape}")
        offs = np.asarray(to_numpy(offsets), dtype=np.int64)
        if offs.ndim != 1 or offs.shape[0] < 2:
            raise ValueError("offsets must be a 1-D array of n_docs + 1 >= 2 values")
        if offs[0] != 0 or offs[-1] != tokens.shape[0]:
            raise ValueError(
                f"offsets must start at 0 and end at the token count {tokens.shape[0]}, "
                f"got {offs[0]} .. {offs[-1]}"
            )
        lengths = np.diff(offs)
        if (lengths <= 0).any():
            i = int(np.argmax(lengths <= 0))
            raise ValueError(
                f"document {i} is empty: every document needs at least one token "
                "(offsets must strictly increase)"
            )
        return np.asarray(tokens, dtype=np.float32), offs, int(tokens.shape[1])
    if is_array(documents) and documents.ndim == 3:
        arr = to_numpy(documents)
        n, t, d = arr.shape
        if n == 0 or t == 0 or d == 0:
            raise ValueError(f"no documents (or documents with no tokens): shape {arr.shape}")
        return (
            np.asarray(arr, dtype=np.float32).reshape(n * t, d),
            np.arange(0, (n + 1) * t, t, dtype=np.int64),
            d,
        )
    docs = [to_numpy(doc) for doc in documents]
    if not docs:
        raise ValueError("no documents")
    dims = {doc.shape[1] if doc.ndim == 2 else -1 for doc in docs}
    if len(dims) != 1 or -1 in dims or any(doc.shape[0] == 0 for doc in docs):
        for i, doc in enumerate(docs):
            if doc.ndim != 2 or doc.shape[0] == 0 or doc.shape[1] == 0:
                raise ValueError(
                    f"document {i}: expected a non-empty (n, d) matrix, got shape {doc.shape}"
                )
            if doc.shape[1] != docs[0].shape[1]:
                raise ValueError(
                    f"document {i} has dimension {doc.shape[1]}, document 0 has {docs[0].shape[1]}"
                )
    lengths = np.fromiter((doc.shape[0] for doc in docs), dtype=np.int64, count=len(docs))
    return docs, _offsets_of(lengths), int(docs[0].shape[1])


def pack(documents: Any, offsets: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Documents as ``(tokens (N, d) float32, offsets (n + 1,) int64)``. ``documents``:
    ``(n_i, d)`` arrays (numpy, torch or lists), a ``(n, t, d)`` array, or (with
    ``offsets``) an ``(N, d)`` token matrix; checked as :func:`check_documents`."""
    tokens, offs, _ = check_documents(documents, offsets)
    if isinstance(tokens, list):
        tokens = np.concatenate(tokens, axis=0)
    return np.ascontiguousarray(tokens, dtype=np.float32), offs


def _stream_scores(
    qs: list[np.ndarray],
    tokens: Any,
    offs: np.ndarray,
    *,
    normalize: bool,
    chunk_tokens: int = DEFAULT_BLOCK_TOKENS,
) -> np.ndarray:
    """numpy MaxSim ``(n_queries, n_docs)`` of ``qs`` against documents in input order, a
    chunk of consecutive documents at a time: the compiled kernel (no similarity matrix),
    else a product, a segment max and a sum per query. A packed corpus is never copied."""
    n_docs = offs.shape[0] - 1
    out = np.empty((len(qs), n_docs), dtype=np.float32)
    compiled = kernels.maxsim_available()
    if compiled:
        chunk_tokens = max(chunk_tokens, KERNEL_CHUNK_TOKENS)
    for lo, hi in budget_ranges([q.shape[0] for q in qs], DEFAULT_MAX_QUERY_TOKENS):
        group = qs[lo:hi]
        qlens = np.array([q.shape[0] for q in group])
        same = bool((qlens == qlens[0]).all())
        qstarts = _offsets_of(qlens)[:-1]
        Q = np.ascontiguousarray(np.concatenate(group, axis=0))  # (T, d)
        blocks = _query_blocks(Q) if compiled else None
        for i, j in budget_ranges(np.diff(offs), chunk_tokens):
            if isinstance(tokens, list):
                chunk = np.concatenate(tokens[i:j], axis=0).astype(np.float32, copy=False)
            else:
                chunk = tokens[offs[i] : offs[j]]
            if normalize:
                chunk = normalize_rows(chunk)
            if blocks is not None:
                rel = offs[i : j + 1] - offs[i]
                out[lo:hi, i:j] = _kernel_scores(blocks, Q.shape[0], qlens, chunk, rel)
                continue
            # (T, chunk tokens): the segment max runs along the contiguous axis
            best = np.maximum.reduceat(Q @ chunk.T, offs[i:j] - offs[i], axis=1)  # (T, j - i)
            if same:
                out[lo:hi, i:j] = best.reshape(len(group), qlens[0], j - i).sum(axis=1)
            else:
                out[lo:hi, i:j] = np.add.reduceat(best, qstarts, axis=0)
    return out


KERNEL_CHUNK_TOKENS = 1 << 20
"""Document tokens per call of the compiled MaxSim kernel (bounds the memory-mapped corpus
read in one go)."""

KERNEL_THREAD_MACS = 1 << 22
"""Multiply-adds of one call from which the compiled MaxSim kernel uses all cores."""


def _query_blocks(q: np.ndarray) -> np.ndarray:
    """Query tokens ``(T, d)`` laid out for the compiled kernel (blocks of 16, padded)."""
    assert kernels.compiled is not None
    q = np.ascontiguousarray(q, dtype=np.float32)
    return kernels.compiled.maxsim_query_blocks(q)  # type: ignore[no-any-return]


def _kernel_scores(
    blocks: np.ndarray, n_query_tokens: int, qlens: np.ndarray, chunk: np.ndarray, offs: np.ndarray
) -> np.ndarray:
    """Compiled MaxSim of the queries (tokens as ``blocks``, ``qlens`` each) against the
    documents of ``chunk`` at ``offs``: float32 ``(n_queries, n_docs)``; large calls split
    the documents into ranges of about equal tokens on the thread pool (GIL released)."""
    assert kernels.compiled is not None
    score = kernels.compiled.maxsim_scores
    chunk = np.ascontiguousarray(chunk, dtype=np.float32)
    offs = np.ascontiguousarray(offs, dtype=np.int64)
    qstarts = _offsets_of(qlens)
    n_docs = offs.shape[0] - 1
    out = np.empty((len(qlens), n_docs), dtype=np.float32)
    cores = os.cpu_count() or 1
    macs = chunk.shape[0] * n_query_tokens * chunk.shape[1]
    if cores == 1 or n_docs < 2 or macs < KERNEL_THREAD_MACS:
        score(blocks, n_query_tokens, qstarts, chunk, offs, 0, n_docs, out)
        return out
    parts = min(n_docs, 4 * cores)
    cuts = np.searchsorted(offs, np.linspace(0, offs[-1], parts + 1)[1:-1])
    edges = [0, *sorted({int(c) for c in cuts} - {0, n_docs}), n_docs]
    pool = thread_pool(cores)
    futures = [
        pool.submit(score, blocks, n_query_tokens, qstarts, chunk, offs, a, b, out)
        for a, b in pairwise(edges)
    ]
    for f in futures:
        f.result()
    return out


def _prepare_queries(queries: Any, dim: int, normalize: bool) -> list[np.ndarray]:
    if is_array(queries) and queries.ndim == 3:
        qs = [to_numpy(q) for q in queries]
    else:
        if is_array(queries) and queries.ndim == 2:
            raise ValueError("queries must be a sequence of (q, d) matrices, or a (n, q, d) array")
        qs = list(queries)
    out = []
    for i, q in enumerate(qs):
        try:
            arr = as_multivector(q, dim=dim, allow_zero=True)
        except InvalidMultivectorError as exc:
            raise InvalidMultivectorError(f"query {i}: {exc.problem}") from None
        out.append(normalize_rows(arr) if normalize else arr)
    if not out:
        raise ValueError("no queries")
    return out


def maxsim_batch(
    queries: Any,
    documents: Any,
    *,
    offsets: Any = None,
    normalize: bool | None = None,
    device: str | None = None,
) -> np.ndarray:
    """MaxSim of each query against each document, without Python loops over documents.

    Args:
        queries: ``(q_j, d)`` matrices (numpy, torch or lists) or one ``(n_queries, q, d)`` array.
        documents: ``(n_i, d)`` matrices, a ``(n_docs, n, d)`` array, a :class:`PackedDocs`,
            or (with ``offsets``, ``(n_docs + 1,)``) one packed ``(N, d)`` token matrix.
        normalize: L2-normalise queries and documents first (a Cosine collection); for a
            :class:`PackedDocs`, the queries only, default what its documents got.
        device: ``None`` numpy (torch for torch inputs), a torch device, ``"auto"`` (CUDA
            when available) or ``"numpy"``.

    Returns:
        float32 ``(n_queries, n_docs)`` scores, documents in input order.

    Raises:
        ValueError: no queries or documents, an empty document, mismatched dimensions, or a
            malformed query (:class:`InvalidMultivectorError`).
    """
    if isinstance(documents, PackedDocs):
        return documents.scores_batch(queries, normalize=normalize)
    normalize = bool(normalize)
    dev = _resolve_device(device, queries, documents)
    if dev is not None:
        packed = PackedDocs(documents, offsets=offsets, normalize=normalize, device=dev)
        return packed.scores_batch(queries, normalize=normalize)
    tokens, offs, dim = check_documents(documents, offsets)
    qs = _prepare_queries(queries, dim, normalize)
    return _stream_scores(qs, tokens, offs, normalize=normalize)


def maxsim(
    query: Any,
    documents: Any,
    *,
    offsets: Any = None,
    normalize: bool | None = None,
    device: str | None = None,
) -> np.ndarray:
    """MaxSim of one ``(q, d)`` query against many documents: float32 ``(n_docs,)``.

    Same arguments as :func:`maxsim_batch`; ``query`` is one ``(q, d)`` matrix.
    """
    return maxsim_batch([query], documents, offsets=offsets, normalize=normalize, device=device)[0]
