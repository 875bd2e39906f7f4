"""Choosing the embedded engine of a client: ``engine=`` of the constructors.

``QdrantClient.__init__`` builds its own backend, so for Qdrant Edge it builds a throwaway
in-memory local mode that the Edge backend then replaces through
:func:`qdrant_tokenpool._backend.install_backend`, without the per-client lock (Edge locks
inside and releases the GIL).
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from qdrant_client import AsyncQdrantClient
from qdrant_client.local.async_qdrant_local import AsyncQdrantLocal
from qdrant_client.local.qdrant_local import QdrantLocal

from .. import _backend
from . import check_engine
from .folders import folder_engine

__all__ = ["EngineArgs", "engine_of", "init_client", "install_edge", "split_engine_args"]

_REMOTE_KEYS = ("url", "host")


class EngineArgs(NamedTuple):
    """What a constructor hands ``QdrantClient.__init__``, and the Edge backend to install
    (``None``: ``QdrantClient``'s own choice) on ``target`` (``":memory:"`` or a folder)."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    backend: Any = None
    target: str = ":memory:"


def split_engine_args(
    engine: str | None, args: tuple[Any, ...], kwargs: dict[str, Any], *, asynchronous: bool
) -> EngineArgs:
    """Constructor arguments for ``QdrantClient.__init__`` and the backend to install.

    ``engine=None``: the arguments unchanged (``QdrantClient``'s own choice), but a
    ``path=`` folder holding a Qdrant Edge database opens on Edge (local mode would write
    an empty database into it). ``"local"``: the same, an Edge folder refused. ``"edge"``:
    an Edge backend, and arguments for a throwaway in-memory local mode.

    Raises:
        ValueError: unknown engine, or an engine with a server (``url=``/``host=``), or
            neither ``":memory:"`` nor ``path=``, or ``"local"`` on an Edge folder.
        EngineNotAvailableError: ``"edge"`` without ``qdrant-edge-py`` (says how to get it).
        StorageLockedError: the folder is open in another Edge client.
    """
    location = args[0] if args else kwargs.get("location")
    path: Any = kwargs.get("path")
    remote = [k for k in _REMOTE_KEYS if kwargs.get(k) is not None]
    if engine is None or engine == "local":
        found = folder_engine(path) if path is not None and not remote and location is None else None
        if found == "edge":
            if engine == "local":
                raise ValueError(
                    f"{os.fspath(path)} holds a Qdrant Edge database, not one of qdrant-client's "
                    "local mode: open it with engine='edge' (or no engine), or copy it into a "
                    "new folder (qdrant-tokenpool copy-db, or copy_database)"
                )
            engine = "edge"
    if engine is None:
        return EngineArgs(args, kwargs)
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
        return EngineArgs(args, kwargs)
    from .edge import AsyncEdgeBackend, EdgeBackend

    target = os.fspath(path) if path is not None else ":memory:"
    backend = AsyncEdgeBackend(target) if asynchronous else EdgeBackend(target)
    new_kwargs = {k: v for k, v in kwargs.items() if k not in ("location", "path")}
    return EngineArgs(args[1:], {**new_kwargs, "location": ":memory:"}, backend, target)


def install_edge(client: Any, backend: Any, target: str = ":memory:") -> None:
    """Put the Edge ``backend`` in place of the throwaway local mode ``client`` was built
    with, and record the real ``target`` (``":memory:"`` or a folder) in its init options."""
    throwaway = _backend.backend(client)
    if not isinstance(throwaway, (QdrantLocal, AsyncQdrantLocal)) or throwaway.location != ":memory:":
        raise RuntimeError("install_edge: the client was not built on a throwaway ':memory:'")
    _backend.install_backend(client, backend, in_process=False)
    memory = target == ":memory:"
    client._init_options.update(
        location=":memory:" if memory else None, path=None if memory else target, engine="edge"
    )


def engine_of(client: Any) -> str:
    """``"edge"``, ``"local"`` or ``"server"``: where ``client``'s calls land."""
    backend = _backend.backend(client)
    if getattr(backend, "engine_name", None) == "edge":
        return "edge"
    if isinstance(backend, (QdrantLocal, AsyncQdrantLocal)):
        return "local"
    return "server"


def init_client(
    cls: type, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any], engine: str | None
) -> None:
    """``super(cls, client).__init__(*args, **kwargs)`` on the chosen engine: the body of
    every constructor that takes ``engine=``."""
    asynchronous = isinstance(client, AsyncQdrantClient)
    chosen = split_engine_args(engine, args, kwargs, asynchronous=asynchronous)
    try:
        super(cls, client).__init__(*chosen.args, **chosen.kwargs)  # type: ignore[arg-type]
    except BaseException:
        if chosen.backend is not None:
            (chosen.backend.sync if asynchronous else chosen.backend).close()
        raise
    if chosen.backend is not None:
        install_edge(client, chosen.backend, chosen.target)
