"""Write path: pool the configured multivectors of any write request before it reaches Qdrant.

:mod:`.plan` (no I/O) validates every configured multivector of the *whole* request, pools
them and rebuilds the request; :mod:`.split` cuts it under a server's REST body limit;
:mod:`.flows` are the write flows of both clients.
"""

from __future__ import annotations

from .flows import (
    batch_update_points,
    pooled_stream,
    update_vectors,
    upload_collection,
    upload_points,
    upsert,
)
from .plan import (
    MAX_MULTIVECTOR_FLOATS,
    PoolingJob,
    pool_batch_request,
    pool_operations,
    pool_points,
)
from .split import count_floats, split_batch, split_operations, split_points

__all__ = [
    "MAX_MULTIVECTOR_FLOATS",
    "PoolingJob",
    "batch_update_points",
    "count_floats",
    "pool_batch_request",
    "pool_operations",
    "pool_points",
    "pooled_stream",
    "split_batch",
    "split_operations",
    "split_points",
    "update_vectors",
    "upload_collection",
    "upload_points",
    "upsert",
]
