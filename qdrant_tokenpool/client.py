"""``TokenPoolingClient``: a ``QdrantClient`` whose writes pool configured multivectors.

Thin by design: every method is made by :mod:`qdrant_tokenpool._methods` from one
definition shared with :mod:`async_client` (our methods take their flow's signature, the
overrides the parent's), and runs a flow from :mod:`store`, :mod:`write_path`,
:mod:`query` or :mod:`texts` with :func:`run_sync`.
"""

from __future__ import annotations

from typing import Any

from qdrant_client import QdrantClient

from . import _backend, query, store, texts
from ._flow import Flow, T, run_sync
from ._methods import PoolingClientMixin, install_overrides, sync_method, sync_override
from .engines.select import init_client

__all__ = ["TokenPoolingClient"]


class TokenPoolingClient(QdrantClient, PoolingClientMixin):
    """Drop-in ``QdrantClient`` that pools document multivectors on write.

    Construct it exactly like ``QdrantClient`` (``":memory:"``, ``path=...``,
    ``url=...``, ``api_key=...``). ``engine="edge"`` with ``":memory:"`` or ``path=``
    runs the embedded database on Qdrant Edge (Qdrant's engine in process, see
    :mod:`qdrant_tokenpool.engines`) instead of qdrant-client's local mode;
    ``engine="local"`` names local mode; without ``engine`` it is ``QdrantClient``
    exactly, except that ``path=`` naming a Qdrant Edge folder opens it on Edge (local
    mode cannot read it, and would write an empty database of its own into it). Collections get a pooling config per vector name with
    ``create_collection(..., pooling=...)`` or :meth:`set_pooling`; it is stored in the
    collection's metadata in Qdrant, so every process that opens the collection pools the
    same way. Vectors and collections with no config pass through untouched.
    :meth:`pooling_disabled` turns pooling off for a ``with`` block.

    The config is cached per client for :attr:`pooling_cache_ttl` seconds (default 60);
    changes made through this client are seen at once, another process's change after the
    TTL or at once after :meth:`refresh_pooling`.

    Thread safety: one client may be shared by many threads. On local mode (``":memory:"``
    / ``path=``) every call into the engine runs under one lock of this client, reads
    included (see :mod:`qdrant_tokenpool._backend`); Qdrant Edge and remote clients take
    concurrent calls as they are.
    """

    def __init__(
        self,
        *args: Any,
        engine: str | None = None,
        pooling_workers: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Arguments as for the parent client, plus ``engine`` (see :mod:`qdrant_tokenpool.engines`)
        and ``pooling_workers`` (see :attr:`pooling_workers`)."""
        init_client(TokenPoolingClient, self, args, kwargs, engine, asynchronous=False)
        self._init_pooling(pooling_workers)

    def optimize(self, collection_name: str | None = None) -> bool:
        """Build indexes now on a Qdrant Edge database, one collection or all (Edge has no
        background optimizer: see :doc:`the indexing policy <engines>`). A server optimizes
        by itself and local mode has no index: ``False`` there."""
        if self.engine != "edge":
            return False
        return bool(_backend.backend(self).optimize(collection_name))

    def _run(self, flow: Flow[T]) -> T:
        return run_sync(flow, super())

    # -- pooling config (see qdrant_tokenpool.store) --------------------------------------
    get_pooling = sync_method(store.get_pooling)
    set_pooling = sync_method(store.set_pooling)
    remove_pooling = sync_method(store.remove_pooling)

    # -- late-interaction queries, text in / text out (query, texts) -----------------------
    query_late_interaction = sync_method(query.query_late_interaction)
    add_texts = sync_method(texts.add_texts)
    query_text = sync_method(texts.query_text)


# parent methods: writes pooled, schema changes forget the cached config (see _methods)
install_overrides(TokenPoolingClient, QdrantClient, sync_override)
