"""Write path: pool the configured multivectors of any write request before it reaches Qdrant.

:mod:`.plan` (no I/O) validates every configured multivector of the *whole* request,
pools them and rebuilds the request (anything unconfigured passes as the same objects);
:mod:`.split` cuts a rewritten request under a server's REST body limit (32 MiB);
:mod:`.flows` are the ``upsert``, ``update_vectors``, ``batch_update_points``,
``upload_points`` and ``upload_collection`` flows of both clients. A pooled multivector is
always pooled under :data:`MAX_MULTIVECTOR_FLOATS` floats; a kept unpooled copy that large
is refused.
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
    InferenceScan,
    PoolingJob,
    plan_batch,
    plan_operations,
    plan_points,
    pool_batch_request,
    pool_operations,
    pool_points,
    pool_request,
)
from .split import (
    JSON_BYTES_PER_FLOAT,
    MAX_REQUEST_BYTES,
    REQUEST_FLOAT_BUDGET,
    count_floats,
    split_batch,
    split_operations,
    split_points,
)

__all__ = [
    "JSON_BYTES_PER_FLOAT",
    "MAX_MULTIVECTOR_FLOATS",
    "MAX_REQUEST_BYTES",
    "REQUEST_FLOAT_BUDGET",
    "InferenceScan",
    "PoolingJob",
    "batch_update_points",
    "count_floats",
    "plan_batch",
    "plan_operations",
    "plan_points",
    "pool_batch_request",
    "pool_operations",
    "pool_points",
    "pool_request",
    "pooled_stream",
    "split_batch",
    "split_operations",
    "split_points",
    "update_vectors",
    "upload_collection",
    "upload_points",
    "upsert",
]
