"""Opening a database, saying what is happening: the one place the CLI (and any caller
that wants the same messages) opens a client on a server or on a local folder.

Opening can be the longest step of a short command: qdrant-client's local mode loads
every stored point into memory before it answers (the demo's SciFact database: see
README.md for the time and memory). :func:`open_database` therefore reports, through the
operations' progress hook (:class:`~qdrant_tokenpool.ops.common.Progress`, kind
``"info"``), what it opens *before* it opens it, and how long that took afterwards when
it was slow. The messages name no engine: they hold for every backend.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .common import OperationError, ProgressHook, Reporter

__all__ = ["SLOW_OPEN_S", "open_database"]

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
    """A :class:`~qdrant_tokenpool.TokenPoolingClient` on the server at ``url``, else on
    the local database folder ``path``, with a message before and after.

    Args:
        path: a local database folder (created when missing, unless ``must_exist``).
        engine: the embedded engine for ``path`` (``"edge"``, ``"local"``); ``None``: the
            folder's own, Qdrant Edge for a new folder
            (:func:`qdrant_tokenpool.engines.open.choose_engine`, whose note, e.g. for a
            local-mode folder, is reported as a message).
        url, api_key: a Qdrant server instead; it is asked for its collections once, so an
            unreachable server is an error here rather than at the first command.
        must_exist: refuse a folder that holds no database.
        progress: the operations' progress hook (``"info"`` events); without one the
            messages go to the ``qdrant_tokenpool.ops`` logger.

    Raises:
        OperationError: no database at ``path`` (with ``must_exist``), ``path`` is not a
            folder, the folder is open in another process, or the server cannot be reached.
    """
    from ..client import TokenPoolingClient

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
    from ..engines import StorageLockedError
    from ..engines.open import choose_engine, database_exists

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
        client = TokenPoolingClient(path=str(folder), engine=choice.engine)
    except StorageLockedError:
        raise OperationError(
            f"the database at {folder} is open in another process (a local database "
            "allows one process at a time; use a server for more)"
        ) from None
    except RuntimeError as exc:
        if "already accessed" in str(exc):
            raise OperationError(
                f"the database at {folder} is open in another process (a local database "
                "allows one process at a time; use a server for more)"
            ) from None
        raise
    seconds = time.perf_counter() - start
    if seconds >= SLOW_OPEN_S:
        report.info(f"opened {folder} in {seconds:.1f} s")
    return client

