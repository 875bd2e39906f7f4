"""Token pooling numerics (no Qdrant): cluster a document's token vectors, keep the means.

Entry points: :func:`pool_tokens` for one document, :func:`pool_batch` for many (worker
threads or processes for big batches; :func:`shutdown_pool` stops them). Methods:
``hierarchical`` (exact Ward linkage of the unit vectors; a compiled kernel, see
:mod:`.kernels`), ``kmeans`` (seeded spherical k-means), ``sequential`` (runs of
neighbouring tokens).
"""

from .batch import pool_batch, shutdown_pool
from .common import cluster_count, pooled_length
from .tokens import pool_tokens

__all__ = ["cluster_count", "pool_batch", "pool_tokens", "pooled_length", "shutdown_pool"]
