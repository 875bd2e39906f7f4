"""qdrant-tokenpool: token pooling for multi-vector retrieval in Qdrant.

Public API:

- :class:`TokenPoolingClient` / :class:`AsyncTokenPoolingClient`: drop-in Qdrant clients
  that pool configured multivectors on write.
- :class:`PoolingConfig`: per-vector pooling settings, stored in collection metadata.
- :func:`pool_tokens` / :func:`pool_batch`: the pooling numerics, usable alone.
"""

from .async_client import AsyncTokenPoolingClient
from .client import TokenPoolingClient
from .config import METHODS, PoolingConfig, PoolingConfigError
from .pooling import pool_batch, pool_tokens
from .store import UnknownCollectionError
from .validation import InvalidMultivectorError

__version__ = "0.1.0"

__all__ = [
    "TokenPoolingClient",
    "AsyncTokenPoolingClient",
    "PoolingConfig",
    "PoolingConfigError",
    "METHODS",
    "pool_tokens",
    "pool_batch",
    "InvalidMultivectorError",
    "UnknownCollectionError",
    "__version__",
]
