"""qdrant-tokenpool: token pooling for multi-vector retrieval in Qdrant.

- :class:`TokenPoolingClient` / :class:`AsyncTokenPoolingClient`: drop-in Qdrant clients
  that pool configured multivectors on write (``engine="edge"``: embedded Qdrant Edge);
  :class:`EdgeQdrantClient` / :class:`AsyncEdgeQdrantClient`: plain clients on Edge; the
  errors they raise.
- :class:`PoolingConfig` (stored in collection metadata), :class:`MuveraParams` /
  :class:`Muvera` (a MUVERA first stage).
- :func:`pool_tokens` / :func:`pool_batch`, :func:`maxsim_batch` / :class:`PackedDocs`:
  the numerics, usable alone.
- :func:`index_corpus`, :func:`repool`, :func:`collection_stats` (and ``a*`` twins): the
  CLI's operations (:mod:`qdrant_tokenpool.ops`).
- :class:`TokenEncoder`, :class:`OnnxTokenEncoder` (no torch), :class:`FastEmbedEncoder`:
  texts to token vectors, imported lazily (``import qdrant_tokenpool`` imports no torch).
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
