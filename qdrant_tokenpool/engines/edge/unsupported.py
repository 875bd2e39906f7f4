"""What Qdrant Edge lacks: the ``QdrantBase`` methods with no counterpart in one process
(alias changes, groups, snapshots, ``search_matrix_*``, cluster and shard operations),
each raising :class:`~qdrant_tokenpool.EdgeUnsupportedError` naming it. docs/engines.md
lists them (``integration_tests/test_edge_conformance_writes.py`` checks the list against
these methods' docstrings)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from qdrant_client.client_base import QdrantBase

from .. import EdgeUnsupportedError

__all__ = ["EdgeLacks"]

_LACKED = (
    "cluster_collection_update", "cluster_status", "cluster_telemetry",
    "collection_cluster_info", "create_full_snapshot", "create_shard_key",
    "create_shard_snapshot", "create_snapshot", "delete_full_snapshot", "delete_shard_key",
    "delete_shard_snapshot", "delete_snapshot", "get_optimizations", "list_shard_keys",
    "list_shard_snapshots", "query_points_groups", "recover_current_peer",
    "recover_shard_snapshot", "recover_snapshot", "remove_peer", "search_matrix_offsets",
    "search_matrix_pairs", "update_collection_aliases",
)


def _lacks(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` raising :class:`EdgeUnsupportedError` that names it."""

    @functools.wraps(method)
    def unsupported(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise EdgeUnsupportedError(
            f"{method.__name__}()",
            "use a Qdrant server (url=...) for aliases, groups, snapshots and clusters",
        )

    unsupported.__doc__ = "Not available on Qdrant Edge: raises :class:`EdgeUnsupportedError`."
    return unsupported


class EdgeLacks(QdrantBase):
    """The base of :class:`~.backend.EdgeBackend`: the methods Edge lacks (``_LACKED``)."""


for _name in _LACKED:
    setattr(EdgeLacks, _name, _lacks(getattr(QdrantBase, _name)))
