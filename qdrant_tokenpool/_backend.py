"""The one seam to a client's backend (``QdrantClient``'s private ``_client``): where its
calls land, read or replaced only here, so an upstream change is fixed once.

Local mode is not thread-safe: :func:`install_backend` wraps an in-process backend in a
:class:`SerialisedBackend`, one re-entrant lock per client around every backend call (for a
coroutine, while it runs: ``AsyncQdrantLocal`` never suspends inside a call). Remote
backends and Qdrant Edge (which locks inside) are not wrapped. Two clients on the same
data are not coordinated.
"""

from __future__ import annotations

import functools
import inspect
import threading
from typing import Any

__all__ = [
    "BACKEND_ATTR",
    "SerialisedBackend",
    "backend",
    "install_backend",
    "is_in_process",
    "is_serialised",
    "serialise_in_process",
]

BACKEND_ATTR = "_client"
"""The attribute of ``QdrantClient`` / ``AsyncQdrantClient`` that holds the backend."""


def _local_mode_types() -> tuple[type, ...]:
    from qdrant_client.local.async_qdrant_local import AsyncQdrantLocal
    from qdrant_client.local.qdrant_local import QdrantLocal

    return (QdrantLocal, AsyncQdrantLocal)


class SerialisedBackend:
    """A backend whose methods run one at a time, under one ``threading.RLock``
    (re-entrant: a method that calls the client again in its thread does not deadlock);
    other attributes are read and written through."""

    __slots__ = ("_inner", "_lock")

    def __init__(self, inner: Any) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_lock", threading.RLock())

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value) or name.startswith("__"):
            return value
        return self._wrap(value)

    def _wrap(self, method: Any) -> Any:
        lock = self._lock
        if inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            async def locked_async(*args: Any, **kwargs: Any) -> Any:
                with lock:
                    return await method(*args, **kwargs)

            return locked_async

        @functools.wraps(method)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)

        return locked

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._inner, name, value)

    def __repr__(self) -> str:
        return f"SerialisedBackend({self._inner!r})"


def backend(client: Any) -> Any:
    """The engine behind ``client`` (a ``QdrantBase``), without a :class:`SerialisedBackend`."""
    inner = getattr(client, BACKEND_ATTR)
    return inner._inner if isinstance(inner, SerialisedBackend) else inner


def is_serialised(client: Any) -> bool:
    """Whether ``client``'s backend calls are serialised by :class:`SerialisedBackend`."""
    return isinstance(getattr(client, BACKEND_ATTR, None), SerialisedBackend)


def is_in_process(client: Any) -> bool:
    """Whether ``client``'s engine runs in this process (local mode, or one installed with
    ``in_process=True``), as opposed to a server reached over the network."""
    return is_serialised(client) or isinstance(backend(client), _local_mode_types())


def install_backend(client: Any, engine: Any, *, in_process: bool) -> None:
    """Make ``engine`` (a ``QdrantBase`` / ``AsyncQdrantBase``) the backend of ``client``,
    wrapped in a :class:`SerialisedBackend` when ``in_process`` (an engine in this process
    not safe for concurrent calls). The previous backend is not closed."""
    if isinstance(engine, SerialisedBackend):
        engine = engine._inner
    setattr(client, BACKEND_ATTR, SerialisedBackend(engine) if in_process else engine)


def serialise_in_process(client: Any) -> None:
    """Wrap ``client``'s backend in a :class:`SerialisedBackend` when it is qdrant-client's
    local mode; idempotent. The clients of this package call it on construction."""
    engine = getattr(client, BACKEND_ATTR, None)
    if engine is None or isinstance(engine, SerialisedBackend):
        return
    if isinstance(engine, _local_mode_types()):
        install_backend(client, engine, in_process=True)
