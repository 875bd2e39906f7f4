"""Token pooling numerics (no Qdrant): cluster a document's token vectors, keep the means.

:func:`pool_tokens` pools one document, :func:`pool_batch` many (on worker threads or
processes); :data:`METHODS`: exact Ward linkage, seeded spherical k-means, runs of
neighbouring tokens, an image's patch grid. Budgets and protected tokens: :mod:`.spec`.
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
