"""Embedded engines: where a client's calls land when there is no server.

``"local"`` is qdrant-client's local mode (pure Python, the constructors' default);
``"edge"`` is Qdrant Edge, Qdrant's Rust engine in process (:mod:`.edge`). ``qdrant_edge``
is imported only when the Edge engine is used, so the package works on local mode where
Edge has no wheel.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "EDGE_INSTALL_HINT",
    "EDGE_MARKER",
    "ENGINES",
    "DamagedCollectionError",
    "EdgeUnsupportedError",
    "EngineNotAvailableError",
    "StorageFullError",
    "StorageLockedError",
    "check_engine",
    "require_edge",
]

EDGE_MARKER = "qdrant-tokenpool-edge.json"
"""File that marks a folder written by the Edge engine (its layout version inside)."""

ENGINES = ("local", "edge")
"""Embedded engines a client can be opened on (``engine=`` of the constructors)."""

EDGE_INSTALL_HINT = (
    "engine='edge' needs the qdrant-edge-py package (Qdrant Edge, Qdrant's engine in "
    "process): pip install 'qdrant-edge-py>=0.9,<0.10' (installed with qdrant-tokenpool "
    "where wheels exist: Linux x86_64/aarch64 with glibc >= 2.28, macOS, Windows amd64; "
    "Python 3.10-3.14; there is no source build). Without it use engine='local' or a "
    "Qdrant server (url=...)."
)


class EngineNotAvailableError(ImportError):
    """The engine's package is not installed (the message says how to get it)."""


class EdgeUnsupportedError(NotImplementedError):
    """A qdrant-client method or feature that the Qdrant Edge engine does not have
    (docs/engines.md lists them); the message names it and the engine."""

    def __init__(self, what: str, hint: str = "") -> None:
        msg = f"{what} is not supported by the Qdrant Edge engine (engine='edge')"
        super().__init__(msg + (f"; {hint}" if hint else ""))


class StorageLockedError(RuntimeError):
    """The database folder is open in another client (of this or another process)."""


class DamagedCollectionError(RuntimeError):
    """A collection's files in an embedded database folder are damaged (the message names
    the file and says what to do). Raised on every use of that collection; the others stay
    usable, and nothing of it is deleted unless ``delete_collection`` asks for it."""


class StorageFullError(OSError):
    """Not enough free disk space for an embedded engine's write, optimization or open
    (the message names the folder, the free and the needed bytes); nothing was written.
    Qdrant Edge would end the process (SIGBUS) there."""


def check_engine(engine: str) -> str:
    """``engine`` if it names an embedded engine, else a ``ValueError`` listing them."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: expected one of {', '.join(map(repr, ENGINES))}")
    return engine


def require_edge() -> Any:
    """The ``qdrant_edge`` module, or :class:`EngineNotAvailableError` saying how to get it."""
    try:
        return import_module("qdrant_edge")
    except ImportError as exc:
        raise EngineNotAvailableError(EDGE_INSTALL_HINT) from exc
