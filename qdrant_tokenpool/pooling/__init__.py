"""Token pooling numerics (no Qdrant): cluster a document's token vectors, keep the means.

Entry points: :func:`pool_tokens` for one document, :func:`pool_batch` for many.
"""

from .batch import pool_batch
from .common import cluster_count
from .tokens import pool_tokens

__all__ = ["pool_tokens", "pool_batch", "cluster_count"]
