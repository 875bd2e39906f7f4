"""The package's cache folder (encodings, downloaded data sets, ONNX encoder exports): one
home, so every part of the package agrees on it."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_cache_dir"]


def default_cache_dir() -> Path:
    """``$QDRANT_TOKENPOOL_CACHE``, ``$XDG_CACHE_HOME/qdrant-tokenpool`` or ``~/.cache/qdrant-tokenpool``."""
    env = os.environ.get("QDRANT_TOKENPOOL_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "qdrant-tokenpool"
