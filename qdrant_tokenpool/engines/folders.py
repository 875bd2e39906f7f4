"""Folder facts: which engine wrote an embedded database folder, and which engine opens it
(opening a client on it is :func:`qdrant_tokenpool.ops.database.open_embedded`'s)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import EDGE_MARKER, EngineNotAvailableError, check_engine, require_edge

__all__ = ["EngineChoice", "choose_engine", "database_exists", "folder_engine"]


def folder_engine(path: str | os.PathLike[str]) -> str | None:
    """``"edge"`` or ``"local"`` for a folder holding a database of that engine, else
    ``None`` (missing or empty folder)."""
    p = Path(path)
    if (p / EDGE_MARKER).is_file():
        return "edge"
    if (p / "meta.json").is_file() or (p / "collection").is_dir():
        return "local"
    return None


def database_exists(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds an embedded database of either engine."""
    return folder_engine(path) is not None


@dataclass(frozen=True)
class EngineChoice:
    """The engine to open a folder with, and a note for the user (``""`` when none)."""

    engine: str
    note: str = ""


def choose_engine(path: str | os.PathLike[str], engine: str | None = None) -> EngineChoice:
    """Which engine opens the folder ``path``.

    ``engine=None`` (automatic): the folder's own engine when it holds a database; else Qdrant
    Edge, or local mode (with a note) when ``qdrant-edge-py`` is not installed.
    ``"edge"`` / ``"local"``: that engine; a folder of the other engine is a ``ValueError``.
    """
    found = folder_engine(path)
    if engine is not None:
        check_engine(engine)
        if found is not None and found != engine:
            raise ValueError(
                f"{os.fspath(path)} holds a {_NAMES[found]} database, not one of "
                f"{_NAMES[engine]}: open it with engine {found!r}, or copy it into a new "
                f"folder on {_NAMES[engine]} (qdrant-tokenpool copy-db, or copy_database)"
            )
        return EngineChoice(engine)
    if found == "local":
        return EngineChoice(
            "local",
            f"{os.fspath(path)} holds a qdrant-client local-mode database: opened with local "
            "mode (pure Python: slow to open and to search when large). To move it to Qdrant "
            f"Edge: qdrant-tokenpool copy-db {os.fspath(path)} NEW_FOLDER (then --path "
            "NEW_FOLDER); --engine local silences this note.",
        )
    if found == "edge":
        return EngineChoice("edge")
    try:
        require_edge()
    except EngineNotAvailableError:
        return EngineChoice(
            "local",
            "qdrant-edge-py is not installed: using qdrant-client's local mode (slow for "
            "large data). pip install 'qdrant-edge-py>=0.9,<0.10' for Qdrant Edge.",
        )
    return EngineChoice("edge")


_NAMES = {"edge": "Qdrant Edge", "local": "qdrant-client local mode"}

