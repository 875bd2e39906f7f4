"""qdrant-tokenpool: token pooling for multi-vector retrieval in Qdrant.

Public API:

- :class:`TokenPoolingClient` / :class:`AsyncTokenPoolingClient`: drop-in Qdrant clients
  that pool configured multivectors on write.
- :class:`PoolingConfig`: per-vector pooling settings, stored in collection metadata.
- :func:`pool_tokens` / :func:`pool_batch`: the pooling numerics, usable alone.
- :func:`maxsim` / :func:`maxsim_batch` / :class:`PackedDocs`: exact MaxSim in numpy (or torch).
  ``qdrant_tokenpool.maxsim`` is the function; import the module's other names with
  ``from qdrant_tokenpool.maxsim import ...``.
- :class:`TokenEncoder`: texts to token vectors (needs the ``encoders`` extra; imported lazily,
  so ``import qdrant_tokenpool`` does not import torch). Clients take it in ``add_texts`` /
  ``query_text``.
"""

from .async_client import AsyncTokenPoolingClient
from .client import TokenPoolingClient
from .config import METHODS, PoolingConfig, PoolingConfigError
from .maxsim import PackedDocs, maxsim, maxsim_batch
from .pooling import pool_batch, pool_tokens
from .store import UnknownCollectionError
from .validation import InvalidMultivectorError

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # TokenEncoder needs torch/transformers: imported on first use, not with the package.
    if name == "TokenEncoder":
        from .encoders import TokenEncoder

        return TokenEncoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "TokenPoolingClient",
    "AsyncTokenPoolingClient",
    "PoolingConfig",
    "PoolingConfigError",
    "METHODS",
    "pool_tokens",
    "pool_batch",
    "maxsim",
    "maxsim_batch",
    "PackedDocs",
    "TokenEncoder",
    "InvalidMultivectorError",
    "UnknownCollectionError",
    "__version__",
]
