"""Token pooling numerics (no Qdrant): cluster a document's token vectors, keep the means.

Entry points: :func:`pool_tokens` for one document, :func:`pool_batch` for many (worker
threads or processes for big batches; :func:`shutdown_pool` stops them). Methods:
``hierarchical`` (exact Ward linkage of the unit vectors; a compiled kernel, see
:mod:`.kernels`), ``kmeans`` (seeded spherical k-means), ``sequential`` (runs of
neighbouring tokens), ``grid`` (an image's patch grid by rows, columns or blocks).
Budgets (fractional pool factor, ``max_vectors``, Ward ``distance_threshold``, Qdrant's
multivector cap) and protected leading/trailing tokens: :mod:`.spec`.
"""

from .batch import pool_arrays, pool_batch, shutdown_pool
from .spec import (
    GRID_POOLS,
    METHODS,
    QDRANT_MAX_MULTIVECTOR_FLOATS,
    PoolingSpec,
    cluster_count,
    max_rows,
    pooled_length,
)
from .tokens import pool_tokens

__all__ = [
    "GRID_POOLS",
    "METHODS",
    "QDRANT_MAX_MULTIVECTOR_FLOATS",
    "PoolingSpec",
    "cluster_count",
    "max_rows",
    "pool_arrays",
    "pool_batch",
    "pool_tokens",
    "pooled_length",
    "shutdown_pool",
]
