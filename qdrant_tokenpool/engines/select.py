"""Choosing the embedded engine of a client: ``engine=`` of the constructors.

``QdrantClient`` builds its backend (a ``QdrantBase``) in its own ``__init__``: local mode
for ``":memory:"``/``path=``, a remote client otherwise. To put Qdrant Edge there instead,
the constructors here let ``QdrantClient.__init__`` build a throwaway in-memory local mode
(no files), then put the Edge backend in its place through the package's one seam to the
private attribute, :func:`qdrant_tokenpool._backend.install_backend`.

Edge is installed *without* the per-client lock that local mode gets: it is safe for
concurrent calls (Rust locks inside the shard; the backend's own state has its lock) and
releases the GIL, so threads sharing one client run queries in parallel
(``integration_tests/test_edge_engine.py::test_threads_share_one_client``).

Without ``engine`` the constructors keep ``QdrantClient``'s semantics, with one exception:
``path=`` naming a folder that holds a Qdrant Edge database opens it on Edge, its own engine
(as the CLI does), because local mode cannot read it and would write an empty database of
its own into it; ``engine="local"`` on such a folder is refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from qdrant_client import AsyncQdrantClient, QdrantClient
from qdrant_client.local.async_qdrant_local import AsyncQdrantLocal
from qdrant_client.local.qdrant_local import QdrantLocal

from .. import _backend
from . import check_engine
from .open import folder_engine

__all__ = [
    "AsyncEdgeQdrantClient",
    "EdgeQdrantClient",
    "borrowed_sync_client",
    "engine_of",
    "init_client",
    "install_backend",
    "split_engine_args",
]

_REMOTE_KEYS = ("url", "host")


def _location_arg(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    location = args[0] if args else kwargs.get("location")
    return location, kwargs.get("path")


def split_engine_args(
    engine: str | None, args: tuple[Any, ...], kwargs: dict[str, Any], *, asynchronous: bool
) -> tuple[tuple[Any, ...], dict[str, Any], Any]:
    """Constructor arguments for ``QdrantClient.__init__`` and the backend to install.

    ``engine=None``: the arguments unchanged and no backend (``QdrantClient``'s own
    choice), except for a ``path=`` folder that holds a Qdrant Edge database: that opens
    on Edge (local mode cannot read it, and would write an empty database of its own into
    it). ``"local"``: the same, after checking the arguments name an embedded database; an
    Edge folder is refused. ``"edge"``: an Edge backend on ``path``/``location`` and
    arguments that make ``QdrantClient`` build only a throwaway in-memory local mode.

    Raises:
        ValueError: unknown engine, or an engine with a server (``url=``/``host=``), or
            neither ``":memory:"`` nor ``path=``, or ``"local"`` on an Edge folder.
        EngineNotAvailableError: ``"edge"`` without ``qdrant-edge-py`` (says how to get it).
        StorageLockedError: the folder is open in another Edge client.
    """
    location, path = _location_arg(args, kwargs)
    remote = [k for k in _REMOTE_KEYS if kwargs.get(k) is not None]
    if engine is None or engine == "local":
        # local mode cannot read a Qdrant Edge folder, and would write an empty database
        # of its own into it (meta.json): open the folder's own engine, or refuse
        found = folder_engine(path) if path is not None and not remote and location is None else None
        if found == "edge":
            if engine == "local":
                raise ValueError(
                    f"{os.fspath(path)} holds a Qdrant Edge database, not one of qdrant-client's "
                    "local mode: open it with engine='edge' (or no engine), or copy it into a "
                    "new folder (qdrant-tokenpool copy-db, or copy_database)"
                )
            engine = "edge"  # the folder's own engine, as the CLI's choose_engine picks it
    if engine is None:
        return args, kwargs, None
    check_engine(engine)
    if remote or (location is not None and location != ":memory:"):
        raise ValueError(
            f"engine={engine!r} is for embedded databases (':memory:' or path=...); "
            "a server is reached with url=... and no engine"
        )
    if location is None and path is None:
        raise ValueError(f"engine={engine!r} needs ':memory:' or path=...")
    if location is not None and path is not None:
        raise ValueError("Only one of <location>, <url>, <host> or <path> should be specified.")
    if engine == "local":
        return args, kwargs, None
    from .edge import AsyncEdgeBackend, EdgeBackend

    target = path if path is not None else ":memory:"
    backend = AsyncEdgeBackend(target) if asynchronous else EdgeBackend(target)
    new_kwargs = {k: v for k, v in kwargs.items() if k not in ("location", "path")}
    new_kwargs["location"] = ":memory:"
    new_kwargs["_edge_target"] = os.fspath(target)
    return args[1:], new_kwargs, backend


def install_backend(client: Any, backend: Any, engine: str, kwargs: dict[str, Any]) -> None:
    """Put ``backend`` in place of the throwaway local mode ``client`` was built with, and
    record the real target in ``client.init_options``."""
    throwaway = _backend.backend(client)
    if not isinstance(throwaway, (QdrantLocal, AsyncQdrantLocal)) or throwaway.location != ":memory:":
        raise RuntimeError("install_backend: the client was not built on a throwaway ':memory:'")
    # the throwaway held nothing and no file: dropped; Edge needs no serialising lock
    _backend.install_backend(client, backend, in_process=False)
    target = kwargs.get("_edge_target", ":memory:")
    client._init_options.pop("_edge_target", None)
    if target == ":memory:":
        client._init_options["location"] = ":memory:"
    else:
        client._init_options["location"] = None
        client._init_options["path"] = target
    client._init_options["engine"] = engine


def engine_of(client: Any) -> str:
    """``"edge"``, ``"local"`` or ``"server"``: where ``client``'s calls land."""
    backend = _backend.backend(client)
    if getattr(backend, "engine_name", None) == "edge":
        return "edge"
    if isinstance(backend, (QdrantLocal, AsyncQdrantLocal)):
        return "local"
    return "server"


def init_client(
    cls: type,
    self: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    engine: str | None,
    asynchronous: bool,
) -> None:
    """``super(cls, self).__init__(*args, **kwargs)`` on the chosen engine (the body of
    every constructor that takes ``engine=``)."""
    args, kwargs, backend = split_engine_args(engine, args, kwargs, asynchronous=asynchronous)
    target = kwargs.pop("_edge_target", None)
    try:
        super(cls, self).__init__(*args, **kwargs)  # type: ignore[arg-type]
    except BaseException:
        if backend is not None:
            (backend.sync if asynchronous else backend).close()
        raise
    if backend is not None:
        install_backend(self, backend, engine or "", {"_edge_target": target})


def _check_sized_upload(
    backend: Any, collection_name: str, points: Any = None, vectors: Any = None, ids: Any = None
) -> None:
    """``QdrantClient.upload_points`` / ``upload_collection`` hand the engine a generator even
    for a list, so the engine cannot check it whole: check a sized input here, before the
    parent writes its first batch (``backend``: an :class:`~.edge.EdgeBackend`)."""
    if points is not None and isinstance(points, Sequence):
        backend.check_points(collection_name, points)
    if vectors is not None and isinstance(vectors, Sequence):  # dicts and arrays: the engine
        backend.check_columns(collection_name, vectors, ids)


class EdgeQdrantClient(QdrantClient):
    """A plain ``QdrantClient`` on Qdrant Edge (no pooling): ``EdgeQdrantClient(path=...)``
    or ``EdgeQdrantClient(":memory:")``. Same methods and models as ``QdrantClient``;
    what Edge lacks raises :class:`~qdrant_tokenpool.engines.edge.EdgeUnsupportedError`.
    Every write checks all its vectors before any is written; an upload of a list, an
    array or a dict of columns is checked whole before its first batch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        engine = kwargs.pop("engine", "edge")
        if engine != "edge":
            raise ValueError(f"EdgeQdrantClient runs on engine 'edge', not {engine!r}")
        init_client(EdgeQdrantClient, self, args, kwargs, "edge", asynchronous=False)

    def optimize(self, collection_name: str | None = None) -> bool:
        """Run Edge's optimizers now (see :meth:`EdgeBackend.optimize`)."""
        return bool(_backend.backend(self).optimize(collection_name))

    def upload_points(self, collection_name: str, points: Iterable[Any], *args: Any, **kwargs: Any) -> None:
        """``QdrantClient.upload_points``; a list or tuple is checked whole first."""
        _check_sized_upload(_backend.backend(self), collection_name, points=points)
        super().upload_points(collection_name, points, *args, **kwargs)

    def upload_collection(
        self, collection_name: str, vectors: Any, payload: Any = None, ids: Any = None, *args: Any, **kwargs: Any
    ) -> None:
        """``QdrantClient.upload_collection``; sized ``vectors`` are checked whole first."""
        _check_sized_upload(_backend.backend(self), collection_name, vectors=vectors, ids=ids)
        super().upload_collection(collection_name, vectors, payload, ids, *args, **kwargs)


class AsyncEdgeQdrantClient(AsyncQdrantClient):
    """Async twin of :class:`EdgeQdrantClient` (calls run in a worker thread)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        engine = kwargs.pop("engine", "edge")
        if engine != "edge":
            raise ValueError(f"AsyncEdgeQdrantClient runs on engine 'edge', not {engine!r}")
        init_client(AsyncEdgeQdrantClient, self, args, kwargs, "edge", asynchronous=True)

    async def optimize(self, collection_name: str | None = None) -> bool:
        """See :meth:`EdgeQdrantClient.optimize`."""
        return bool(await _backend.backend(self).optimize(collection_name))

    def upload_points(self, collection_name: str, points: Iterable[Any], *args: Any, **kwargs: Any) -> None:
        """See :meth:`EdgeQdrantClient.upload_points` (sync, as ``AsyncQdrantClient``'s)."""
        _check_sized_upload(_backend.backend(self).sync, collection_name, points=points)
        super().upload_points(collection_name, points, *args, **kwargs)

    def upload_collection(
        self, collection_name: str, vectors: Any, payload: Any = None, ids: Any = None, *args: Any, **kwargs: Any
    ) -> None:
        """See :meth:`EdgeQdrantClient.upload_collection` (sync, as ``AsyncQdrantClient``'s)."""
        _check_sized_upload(_backend.backend(self).sync, collection_name, vectors=vectors, ids=ids)
        super().upload_collection(collection_name, vectors, payload, ids, *args, **kwargs)


class _BorrowedClient(QdrantClient):
    """A sync ``QdrantClient`` on another client's Edge backend; closing it leaves the
    backend open (its owner closes it)."""

    def close(self, grpc_grace: float | None = None, **kwargs: Any) -> None:
        pass


def borrowed_sync_client(async_backend: Any) -> QdrantClient:
    """A sync ``QdrantClient`` over the sync side of an :class:`AsyncEdgeBackend`, for the
    methods that are sync in ``AsyncQdrantClient`` (``upload_points``,
    ``upload_collection``): they run in the caller's thread, on the same database."""
    client = _BorrowedClient(":memory:")
    install_backend(client, async_backend.sync, "edge", {"_edge_target": ":memory:"})
    return client
