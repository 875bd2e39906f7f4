"""Opening a database: the one place a client is opened on a server or a local folder
(:func:`open_database`, :func:`open_embedded`), and :func:`copy_database` between engines.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from qdrant_client import AsyncQdrantClient, QdrantClient

from ..async_client import AsyncTokenPoolingClient
from ..client import TokenPoolingClient
from ..edge_client import AsyncEdgeQdrantClient, EdgeQdrantClient
from ..engines import StorageLockedError
from ..engines.folders import EngineChoice, choose_engine, database_exists
from .common import OperationError, ProgressHook, Reporter

__all__ = ["SLOW_OPEN_S", "copy_database", "open_database", "open_embedded"]

SLOW_OPEN_S = 1.0
"""Opening that took at least this many seconds is reported with its duration."""


def open_database(
    path: str | Path | None = None,
    *,
    url: str | None = None,
    api_key: str | None = None,
    engine: str | None = None,
    must_exist: bool = False,
    progress: ProgressHook | None = None,
) -> Any:
    """A :class:`~qdrant_tokenpool.TokenPoolingClient` on the server at ``url`` (asked for
    its collections once, so an unreachable server fails here), else on the database folder
    ``path`` (created when missing, unless ``must_exist``) on ``engine`` (``"edge"``,
    ``"local"``; ``None``: :func:`~qdrant_tokenpool.engines.folders.choose_engine`).

    Opening can be a command's longest step (local mode loads every point), so what is
    opened is reported before, and the time after when slow (``"info"`` events).

    Raises:
        OperationError: no database at ``path`` (with ``must_exist``), ``path`` is not a
            folder, the folder is open in another process, or the server cannot be reached.
    """
    report = Reporter("open", progress)
    if url:
        report.info(f"connecting to Qdrant at {url} ...")
        # qdrant-client's version check runs in a background thread and only warns;
        # reachability is checked here instead, with a clear error
        client = TokenPoolingClient(url=url, api_key=api_key, check_compatibility=False)
        try:
            client.get_collections()
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot reach"
            client.close()
            reason = str(exc).strip() or type(exc).__name__
            raise OperationError(f"cannot reach Qdrant at {url}: {reason}") from None
        return client
    if path is None:
        raise OperationError("give a database folder (path) or a server (url)")
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise OperationError(f"{folder} is not a folder")
    if must_exist and not database_exists(folder):
        raise OperationError(
            f"no Qdrant database at {folder} (index something first, or give another "
            "path, or a server url)"
        )
    try:
        choice = choose_engine(folder, engine)
    except ValueError as exc:
        raise OperationError(str(exc)) from None
    if choice.note:
        report.info(f"note: {choice.note}")
    report.info(
        f"opening the database at {folder} ..."
        if database_exists(folder)
        else f"creating a database at {folder} ..."
    )
    start = time.perf_counter()
    try:
        client = TokenPoolingClient(path=os.fspath(folder), engine=choice.engine)
    except (StorageLockedError, RuntimeError) as exc:
        # local mode says "already accessed by another instance" in a RuntimeError
        if not isinstance(exc, StorageLockedError) and "already accessed" not in str(exc):
            raise
        raise OperationError(
            f"the database at {folder} is open in another process (a local database "
            "allows one process at a time; use a server for more)"
        ) from None
    seconds = time.perf_counter() - start
    if seconds >= SLOW_OPEN_S:
        report.info(f"opened {folder} in {seconds:.1f} s")
    return client


def open_embedded(
    path: str | os.PathLike[str],
    engine: str | None = None,
    *,
    pooling: bool = True,
    asynchronous: bool = False,
) -> tuple[Any, EngineChoice]:
    """A client on the embedded database in ``path`` (created when missing) on the engine
    :func:`~qdrant_tokenpool.engines.folders.choose_engine` picks, and that choice (its
    ``note`` is for the user). ``pooling``: a :class:`~qdrant_tokenpool.TokenPoolingClient`,
    else a plain ``QdrantClient``-compatible one; ``asynchronous``: the async twin.
    """
    choice = choose_engine(path, engine)
    if pooling:
        cls: type = AsyncTokenPoolingClient if asynchronous else TokenPoolingClient
        return cls(path=os.fspath(path), engine=choice.engine), choice
    if choice.engine == "edge":
        cls = AsyncEdgeQdrantClient if asynchronous else EdgeQdrantClient
    else:
        cls = AsyncQdrantClient if asynchronous else QdrantClient
    return cls(path=os.fspath(path)), choice


def copy_database(
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    source_engine: str | None = None,
    dest_engine: str = "edge",
    collections: list[str] | None = None,
    batch_size: int = 256,
) -> list[str]:
    """Copy the collections of one embedded database folder into another (e.g. local mode
    into Qdrant Edge) with ``QdrantClient.migrate``: config, metadata (the pooling config),
    payload indexes, vectors as stored (not pooled again). ``dest`` must not hold them yet.
    Returns the names copied.
    """
    if Path(source).resolve() == Path(dest).resolve():
        raise ValueError("copy_database: source and destination are the same folder")
    if not database_exists(source):
        raise ValueError(f"copy_database: no embedded database at {os.fspath(source)}")
    src, _ = open_embedded(source, source_engine, pooling=False)
    try:
        dst, _ = open_embedded(dest, dest_engine, pooling=False)
        try:
            names = collections or [c.name for c in src.get_collections().collections]
            src.migrate(dst, collection_names=names, batch_size=batch_size)
        finally:
            dst.close()
    finally:
        src.close()
    return names
