"""qdrant-tokenpool: token pooling for multi-vector retrieval in Qdrant.

Public API:

- :class:`TokenPoolingClient` / :class:`AsyncTokenPoolingClient`: drop-in Qdrant clients
  that pool configured multivectors on write; ``engine="edge"`` runs an embedded database
  on Qdrant Edge (:mod:`qdrant_tokenpool.engines`).
- :class:`EdgeQdrantClient` / :class:`AsyncEdgeQdrantClient`: plain ``QdrantClient`` /
  ``AsyncQdrantClient`` on Qdrant Edge (no pooling); :class:`EdgeUnsupportedError`,
  :class:`StorageLockedError`, :class:`StorageFullError`, :class:`DamagedCollectionError`,
  :class:`EngineNotAvailableError`: what they raise.
- :class:`PoolingConfig`: per-vector pooling settings, stored in collection metadata;
  :class:`MuveraParams` for a MUVERA first stage (``summary_method="muvera"``), encoded
  by :class:`Muvera` (:mod:`qdrant_tokenpool.firststage`, pure numpy).
- :func:`pool_tokens` / :func:`pool_batch`: the pooling numerics, usable alone.
- :func:`maxsim_batch` / :class:`PackedDocs`: exact MaxSim in numpy (or torch); the module
  :mod:`qdrant_tokenpool.maxsim` also has ``maxsim(query, documents)`` for one query.
- :func:`index_corpus` / :func:`repool` / :func:`collection_stats` (and async twins
  ``aindex_corpus``, ``arepool``, ``acollection_stats``): the CLI's operations as library
  calls (:mod:`qdrant_tokenpool.ops`).
- :class:`TokenEncoder`: texts to token vectors (needs the ``encoders`` extra; imported lazily,
  so ``import qdrant_tokenpool`` does not import torch). Clients take it in ``add_texts`` /
  ``query_text``.
- :class:`OnnxTokenEncoder`: a :class:`TokenEncoder` exported to ONNX
  (``qdrant_tokenpool.encoders.export_onnx``): the same vectors, loaded in ~0.5 s without
  torch (what the CLI's ``search`` encodes queries with).
- :class:`FastEmbedEncoder`: a fastembed late-interaction model (ONNX, no torch; the
  ``fastembed`` extra) taken wherever ``TokenEncoder`` is. With fastembed installed the
  clients also embed ``models.Document`` / ``models.Image`` on pooled vectors themselves
  (qdrant-client's local inference), then pool.
"""

from importlib import import_module
from typing import TYPE_CHECKING

from .config import PoolingConfig, PoolingConfigError
from .firststage import MuveraParams
from .pooling import METHODS, pool_batch, pool_tokens
from .pooling.validation import InvalidMultivectorError, InvalidVectorError

__version__ = "0.1.0"

# Imported on first use, so that the numerics (and pool_batch's workers) load
# without qdrant_client, and ``import qdrant_tokenpool`` never imports torch.
_LAZY = {
    "TokenPoolingClient": ".client",
    "AsyncTokenPoolingClient": ".async_client",
    "UnknownCollectionError": ".store",
    "maxsim_batch": ".maxsim",
    "PackedDocs": ".maxsim",
    "Muvera": ".firststage",
    "TokenEncoder": ".encoders",
    "FastEmbedEncoder": ".encoders",
    "OnnxTokenEncoder": ".encoders",
    "index_corpus": ".ops",
    "aindex_corpus": ".ops",
    "repool": ".ops",
    "arepool": ".ops",
    "collection_stats": ".ops",
    "acollection_stats": ".ops",
    "CollectionStats": ".ops",
    "OperationError": ".ops",
    "OperationUsageError": ".ops",
    "EdgeQdrantClient": ".edge_client",
    "AsyncEdgeQdrantClient": ".edge_client",
    "EdgeUnsupportedError": ".engines",
    "EngineNotAvailableError": ".engines",
    "StorageLockedError": ".engines",
    "StorageFullError": ".engines",
    "DamagedCollectionError": ".engines",
}

if TYPE_CHECKING:
    from .async_client import AsyncTokenPoolingClient
    from .client import TokenPoolingClient
    from .edge_client import AsyncEdgeQdrantClient, EdgeQdrantClient
    from .encoders import FastEmbedEncoder, OnnxTokenEncoder, TokenEncoder
    from .engines import (
        DamagedCollectionError,
        EdgeUnsupportedError,
        EngineNotAvailableError,
        StorageFullError,
        StorageLockedError,
    )
    from .firststage import Muvera
    from .maxsim import PackedDocs, maxsim_batch
    from .ops import (
        CollectionStats,
        OperationError,
        OperationUsageError,
        acollection_stats,
        aindex_corpus,
        arepool,
        collection_stats,
        index_corpus,
        repool,
    )
    from .store import UnknownCollectionError


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "METHODS",
    "AsyncEdgeQdrantClient",
    "AsyncTokenPoolingClient",
    "CollectionStats",
    "DamagedCollectionError",
    "EdgeQdrantClient",
    "EdgeUnsupportedError",
    "EngineNotAvailableError",
    "FastEmbedEncoder",
    "InvalidMultivectorError",
    "InvalidVectorError",
    "Muvera",
    "MuveraParams",
    "OnnxTokenEncoder",
    "OperationError",
    "OperationUsageError",
    "PackedDocs",
    "PoolingConfig",
    "PoolingConfigError",
    "StorageFullError",
    "StorageLockedError",
    "TokenEncoder",
    "TokenPoolingClient",
    "UnknownCollectionError",
    "__version__",
    "acollection_stats",
    "aindex_corpus",
    "arepool",
    "collection_stats",
    "index_corpus",
    "maxsim_batch",
    "pool_batch",
    "pool_tokens",
    "repool",
]
