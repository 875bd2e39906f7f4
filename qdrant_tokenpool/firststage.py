"""First-stage encodings: one dense vector per document and per query for the HNSW stage of
the query funnel (both sides here, so they are always encoded the same way): ``"mean"``, the
normalised mean of the unit token vectors ``(d,)``, Cosine; ``"muvera"``, a MUVERA fixed
dimensional encoding (Dhulipala et al. 2024, arXiv:2405.19504), Dot, whose inner product
approximates MaxSim. Every random number comes from PCG64's raw output through fixed
transforms, so a stored seed gives the same matrices on every numpy version (why ours and
not fastembed's: docs/funnel.md). Never imports qdrant_client.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .maxsim import check_documents, normalize_rows
from .pooling.validation import check_int

__all__ = [
    "SUMMARY_METHODS",
    "Muvera",
    "MuveraParams",
    "document_summaries",
    "mean_summary",
    "query_summary",
    "summary_dim",
]

SUMMARY_METHODS: tuple[str, ...] = ("mean", "muvera")
"""First-stage encodings of ``PoolingConfig.summary_method``."""

DEFAULT_CHUNK_TOKENS = 16384
"""Tokens encoded together: bounds the per-chunk arrays (projected tokens, Hamming
distances to every partition) to a few tens of MiB with the reference parameters."""

_MAX_K_SIM = 8  # 256 partitions per repetition: past any useful FDE (the paper: <= 7)
_LEAST = {"k_sim": 0, "r_reps": 1, "seed": 0, "dim_proj": 1, "final_dim": 1}  # parameters' minima


@dataclass(frozen=True)
class MuveraParams:
    """Parameters of a MUVERA fixed dimensional encoding (defaults: the paper's reference);
    :meth:`output_dim`: ``final_dim`` or ``r_reps * 2**k_sim * (dim_proj or d)``.

    Attributes:
        k_sim: SimHash hyperplanes per repetition; ``2**k_sim`` partitions (0..8).
        dim_proj: dimensions of each partition's projected vector; ``None`` keeps the
            token dimension ``d`` (no projection). Must be <= ``d``.
        r_reps: independent repetitions, concatenated.
        seed: seed of every random matrix (an integer >= 0); stored in the config, so
            documents and queries use the same matrices.
        final_dim: optional Count Sketch of the concatenated vector to this many
            dimensions; ``None`` for none.
    """

    k_sim: int = 5
    dim_proj: int | None = 16
    r_reps: int = 20
    seed: int = 42
    final_dim: int | None = None

    def __post_init__(self) -> None:
        for name, minimum in _LEAST.items():
            value = getattr(self, name)
            if value is not None or name not in ("dim_proj", "final_dim"):  # optional
                object.__setattr__(self, name, check_int(name, value, minimum))
        if self.k_sim > _MAX_K_SIM:
            raise ValueError(f"k_sim must be <= {_MAX_K_SIM}, got {self.k_sim}")

    @property
    def partitions(self) -> int:
        """Partitions per repetition, ``2**k_sim``."""
        return 1 << self.k_sim

    def projected_dim(self, dim: int) -> int:
        """Dimensions of one partition's block for ``dim``-dimensional tokens."""
        if self.dim_proj is not None and self.dim_proj > dim:
            raise ValueError(
                f"dim_proj ({self.dim_proj}) must be <= the token dimension ({dim})"
            )
        return dim if self.dim_proj is None else self.dim_proj

    def output_dim(self, dim: int) -> int:
        """Dimensions of the encoding of ``dim``-dimensional tokens."""
        blocks = self.r_reps * self.partitions * self.projected_dim(dim)
        return blocks if self.final_dim is None else self.final_dim

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (every field, ``None`` included: explicit is stable)."""
        return asdict(self)


# -- version-stable random numbers: PCG64's raw stream through our own transforms --------
_STREAM_HYPERPLANES, _STREAM_PROJECTION, _STREAM_FINAL = 1, 2, 3


def _raw(seed: int, stream: int, n: int) -> np.ndarray:
    """``n`` raw uint64 outputs of PCG64 seeded with ``[seed, stream]`` (stable output)."""
    bitgen = np.random.PCG64(np.random.SeedSequence([seed, stream]))
    return bitgen.random_raw(n).astype(np.uint64, copy=False)


def _gaussians(seed: int, stream: int, n: int) -> np.ndarray:
    """``n`` standard normal float64 values (Box-Muller on pairs of raw outputs)."""
    raw = _raw(seed, stream, 2 * n)
    u1 = ((raw[0::2] >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0**-53  # (0, 1]
    u2 = (raw[1::2] >> np.uint64(11)).astype(np.float64) * 2.0**-53  # [0, 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _signs(raw: np.ndarray) -> np.ndarray:
    """+-1 (float64) from the top bit of each raw output."""
    return 1.0 - 2.0 * (raw >> np.uint64(63)).astype(np.float64)


def _popcounts(n: int) -> np.ndarray:
    """Number of set bits of ``0 .. n - 1``, uint8."""
    counts = np.zeros(n, dtype=np.uint8)
    for bit in range(max(1, n.bit_length())):
        counts += ((np.arange(n) >> bit) & 1).astype(np.uint8)
    return counts


class Muvera:
    """A MUVERA encoder for ``dim``-dimensional tokens, its random matrices drawn once
    (:meth:`for_dim`: a cached one). Documents/queries are ``(n_i, dim)`` arrays (numpy,
    torch or lists), or one packed ``(N, dim)`` token matrix with ``offsets``; encodings are
    float32 ``(n, output_dim)``. Tokens are encoded as given: pass unit rows (or
    ``normalize=True``) to approximate a Cosine collection's MaxSim.
    """

    def __init__(self, dim: int, params: MuveraParams | None = None) -> None:
        self.dim = check_int("dim", dim, 1)
        self.params = params or MuveraParams()
        p = self.params
        self.dim_proj = p.projected_dim(self.dim)
        self.output_dim = p.output_dim(self.dim)
        self._blocks_dim = p.r_reps * p.partitions * self.dim_proj
        n_h = p.r_reps * self.dim * p.k_sim
        self.hyperplanes = self._per_rep(_gaussians(p.seed, _STREAM_HYPERPLANES, n_h), p.k_sim)
        # repetition r's AMS sketch, +-1/sqrt(dim_proj)
        self.projection: np.ndarray | None = None
        if not (self.dim_proj == self.dim and p.dim_proj is None):
            s = _signs(_raw(p.seed, _STREAM_PROJECTION, p.r_reps * self.dim * self.dim_proj))
            self.projection = self._per_rep(s / math.sqrt(self.dim_proj), self.dim_proj)
        # Count Sketch (blocks_dim -> final_dim) as a sparse matrix with one +-1 per row
        self.final: Any = None  # scipy.sparse.csr_matrix
        if p.final_dim is not None:
            import scipy.sparse as sp  # on first use: importing this module stays light

            raw = _raw(p.seed, _STREAM_FINAL, 2 * self._blocks_dim)
            rows = (raw[0::2] % np.uint64(p.final_dim)).astype(np.int64)
            self.final = sp.csr_matrix(
                (_signs(raw[1::2]).astype(np.float32), (np.arange(self._blocks_dim), rows)),
                shape=(self._blocks_dim, p.final_dim),
            )
        part = np.arange(p.partitions)
        self._hamming = _popcounts(p.partitions)[part[:, None] ^ part[None, :]].astype(np.int64)
        self._bit_weights = (1 << np.arange(p.k_sim)).astype(np.int64)

    def _per_rep(self, values: np.ndarray, k: int) -> np.ndarray:
        """``r_reps * dim * k`` values as float32 ``(dim, r_reps * k)``: repetition ``r``'s
        matrix in columns ``r*k .. (r+1)*k - 1``."""
        reps = self.params.r_reps
        by_rep = values.reshape(reps, self.dim, k).transpose(1, 0, 2)
        return by_rep.reshape(self.dim, reps * k).astype(np.float32)

    @classmethod
    def for_dim(cls, dim: int, params: MuveraParams | None = None) -> Muvera:
        """A cached encoder for ``(dim, params)`` (the matrices are drawn once per process)."""
        return _cached_muvera(int(dim), params or MuveraParams())

    # -- public encoders ------------------------------------------------------------------
    def encode_documents(
        self, documents: Any, *, offsets: Any = None, normalize: bool = False,
        chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    ) -> np.ndarray:
        """Document FDEs (partition averages, empty partitions filled): float32 ``(n, output_dim)``."""
        return self._encode(documents, offsets, normalize, True, chunk_tokens)

    def encode_queries(
        self, queries: Any, *, offsets: Any = None, normalize: bool = False,
        chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    ) -> np.ndarray:
        """Query FDEs (partition sums, no fill): float32 ``(n, output_dim)``."""
        return self._encode(queries, offsets, normalize, False, chunk_tokens)

    def encode_document(self, tokens: Any, *, normalize: bool = False) -> np.ndarray:
        """FDE of one ``(n, dim)`` document: float32 ``(output_dim,)``."""
        return self.encode_documents([tokens], normalize=normalize)[0]

    def encode_query(self, tokens: Any, *, normalize: bool = False) -> np.ndarray:
        """FDE of one ``(q, dim)`` query: float32 ``(output_dim,)``."""
        return self.encode_queries([tokens], normalize=normalize)[0]

    # -- internals ------------------------------------------------------------------------
    def _encode(
        self, items: Any, offsets: Any, normalize: bool, document: bool, chunk_tokens: int
    ) -> np.ndarray:
        # a list of documents is concatenated one chunk at a time (never the whole corpus)
        tokens, offs, dim = check_documents(items, offsets)
        if dim != self.dim:
            raise ValueError(
                f"token vectors have dimension {dim}, this encoder takes {self.dim}"
            )
        n = offs.shape[0] - 1
        out = np.empty((n, self._blocks_dim), dtype=np.float32)
        p = self.params
        # chunks: the projected tokens (t, r_reps, dim_proj) near 32 MiB, the documents'
        # fill keys (docs, r_reps, partitions, partitions) int64 at most 64 MiB
        budget = min(max(int(chunk_tokens), 1), max(64, (32 << 20) // (4 * p.r_reps * self.dim_proj)))
        max_docs = max(1, (64 << 20) // (8 * p.r_reps * p.partitions**2)) if document else n
        i = 0
        while i < n:
            j = int(np.searchsorted(offs, offs[i] + budget, side="right")) - 1
            j = min(max(j, i + 1), n, i + max_docs)
            if isinstance(tokens, list):
                chunk = np.concatenate(tokens[i:j], axis=0).astype(np.float32, copy=False)
            else:
                chunk = np.asarray(tokens[offs[i] : offs[j]], dtype=np.float32)
            bad = ~np.isfinite(chunk).all(axis=1)
            if bad.any():
                row = int(offs[i]) + int(np.argmax(bad))
                item = int(np.searchsorted(offs, row, side="right")) - 1
                raise ValueError(
                    f"{'document' if document else 'query'} {item}: token vector "
                    f"{row - int(offs[item])} holds NaN or inf"
                )
            if normalize:
                chunk = normalize_rows(chunk)
            out[i:j] = self._encode_chunk(chunk, offs[i : j + 1] - offs[i], document)
            i = j
        if self.final is not None:
            out = np.asarray(self.final.T @ out.T, dtype=np.float32).T
        return np.ascontiguousarray(out, dtype=np.float32)

    def _encode_chunk(self, x: np.ndarray, offs: np.ndarray, document: bool) -> np.ndarray:
        """FDE blocks of the documents of one chunk: ``x`` ``(t, dim)``, local offsets."""
        p = self.params
        R, B, dp = p.r_reps, p.partitions, self.dim_proj
        t = x.shape[0]
        n = offs.shape[0] - 1
        lengths = np.diff(offs)
        doc_of = np.repeat(np.arange(n), lengths)  # (t,)
        # partition index of every token in every repetition: (t, R)
        if p.k_sim:
            bits = (x @ self.hyperplanes > 0).reshape(t, R, p.k_sim)
            codes = bits.astype(np.int64) @ self._bit_weights
        else:
            codes = np.zeros((t, R), dtype=np.int64)
        # projected tokens: (t, R, dp)
        if self.projection is None:
            proj = np.broadcast_to(x[:, None, :], (t, R, dp))
        else:
            proj = (x @ self.projection).reshape(t, R, dp)
        # partition sums with one sparse product: row (doc, r, partition) <- token (t, r)
        keys = (doc_of[:, None] * R + np.arange(R)[None, :]) * B + codes  # (t, R)
        import scipy.sparse as sp

        agg = sp.csr_matrix(
            (np.ones(t * R, dtype=np.float32), (keys.ravel(), np.arange(t * R))),
            shape=(n * R * B, t * R),
        )
        sums = np.asarray(agg @ proj.reshape(t * R, dp), dtype=np.float32)  # (n*R*B, dp)
        if not document:
            return sums.reshape(n, R * B * dp)
        counts = np.bincount(keys.ravel(), minlength=n * R * B)
        filled = counts > 0
        sums[filled] /= counts[filled, None].astype(np.float32)
        empty = ~filled
        if empty.any():
            # nearest token by Hamming distance of its sign bits to the empty partition's
            # bits, earliest token on ties. The nearest tokens sit in the nearest occupied
            # partitions, so: the first token of every occupied partition, then per empty
            # partition the occupied one minimising (distance, first token).
            local = np.repeat(np.arange(t) - offs[doc_of], R)  # token index inside its doc
            # an empty partition's "first token" is past any key: (k_sim + 1) * (t + 1)
            first = np.full(n * R * B, (p.k_sim + 1) * (t + 1), dtype=np.int64)
            np.minimum.at(first, keys.ravel(), local)
            first = first.reshape(n * R, B)
            key = self._hamming[None, :, :] * (t + 1) + first[:, None, :]  # (n*R, B, B)
            best = key.min(axis=2) % (t + 1)  # (n*R, B): token of the nearest occupied one
            idx = np.flatnonzero(empty)
            doc, rep = idx // (R * B), (idx // B) % R
            sums[idx] = proj[offs[doc] + best.reshape(-1)[idx], rep]
        return sums.reshape(n, R * B * dp)


@functools.lru_cache(maxsize=32)
def _cached_muvera(dim: int, params: MuveraParams) -> Muvera:
    return Muvera(dim, params)


# -- the mean summary, and the entry points of the write path and the query side ---------
def mean_summary(tokens: Any) -> np.ndarray:
    """Normalised mean of the L2-normalised rows of ``tokens`` ``(n, d)``; float32 ``(d,)``.
    A mean that is (numerically) zero, opposite tokens cancelling out, gives the normalised
    first token instead, so the summary always has a direction."""
    x = np.asarray(tokens, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"expected a non-empty (n, d) matrix, got shape {x.shape}")
    unit = normalize_rows(x)
    mean = unit.mean(axis=0, dtype=np.float64)
    norm = float(np.linalg.norm(mean))
    if not np.isfinite(norm) or norm < 1e-12:
        return unit[0].astype(np.float32)
    return (mean / norm).astype(np.float32)


def _method(method: str) -> str:
    if method not in SUMMARY_METHODS:
        raise ValueError(
            f"unknown summary method {method!r}; expected one of {', '.join(SUMMARY_METHODS)}"
        )
    return method


def summary_dim(method: str, dim: int, muvera: MuveraParams | None = None) -> int:
    """Dimensions of the first-stage vector of ``dim``-dimensional tokens."""
    if _method(method) == "mean":
        return int(dim)
    return (muvera or MuveraParams()).output_dim(int(dim))


def document_summaries(
    method: str,
    documents: Sequence[Any],
    *,
    muvera: MuveraParams | None = None,
    normalize: bool = True,
) -> np.ndarray:
    """First-stage vectors of a batch of ``(n_i, d)`` documents: float32 ``(n, summary_dim)``.
    ``normalize``: encode unit token vectors (a Cosine collection); ``"mean"`` always does."""
    if _method(method) == "mean":
        return np.stack([mean_summary(doc) for doc in documents]).astype(np.float32)
    _, _, dim = check_documents(documents, None)
    return Muvera.for_dim(dim, muvera).encode_documents(documents, normalize=normalize)


def query_summary(
    method: str, query: Any, *, muvera: MuveraParams | None = None, normalize: bool = True
) -> np.ndarray:
    """First-stage vector of one ``(q, d)`` query: float32 ``(summary_dim,)``."""
    if _method(method) == "mean":
        return mean_summary(query)
    q = np.asarray(query, dtype=np.float32)
    return Muvera.for_dim(q.shape[1], muvera).encode_query(q, normalize=normalize)
