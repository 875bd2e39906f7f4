"""On-disk cache of encoded token vectors (packed float32 ``.npy`` files, memory-mapped),
under :func:`default_cache_dir`. Entries are written to a temporary folder and renamed
into place, so a killed run never leaves a half-written one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._cachedir import default_cache_dir
from ..maxsim import PackedDocs

__all__ = ["cache_key", "default_cache_dir", "load_packed", "save_packed", "texts_sha256"]


def texts_sha256(ids: list[str], texts: list[str]) -> str:
    """SHA-256 over ``(id, text)`` pairs in order: the checksum of what gets encoded."""
    h = hashlib.sha256()
    for i, t in zip(ids, texts):
        for s in (i, t):
            b = s.encode("utf-8")
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
    return h.hexdigest()


def cache_key(parts: Mapping[str, Any]) -> str:
    """Stable 24-hex-digit key of a JSON-serialisable mapping."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:24]


def load_packed(
    cache_dir: Path, key: str, ids: list[str]
) -> PackedDocs | None:
    """The cached entry ``key`` (memory-mapped, read-only), or ``None`` if absent or stale."""
    entry = Path(cache_dir) / key
    try:
        meta = json.loads((entry / "meta.json").read_text())
        if meta.get("ids") != ids:
            return None
        tokens = np.load(entry / "tokens.npy", mmap_mode="r")
        offsets = np.load(entry / "offsets.npy")
        return PackedDocs(tokens, offsets)
    except (OSError, ValueError, json.JSONDecodeError):
        return None


def save_packed(
    cache_dir: Path,
    key: str,
    ids: list[str],
    items: list[np.ndarray],
    info: Mapping[str, Any],
) -> PackedDocs:
    """Write ``items`` (``(n_i, d)`` arrays aligned with ``ids``) as entry ``key`` (``info``
    in its ``meta.json``, for humans); return it memory-mapped."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=cache_dir))
    try:
        lengths = np.fromiter((a.shape[0] for a in items), dtype=np.int64, count=len(items))
        offsets = np.zeros(len(items) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        d = items[0].shape[1]
        out = np.lib.format.open_memmap(
            tmp / "tokens.npy", mode="w+", dtype=np.float32, shape=(int(offsets[-1]), d)
        )
        for a, s, e in zip(items, offsets[:-1], offsets[1:]):
            out[s:e] = a
        out.flush()
        del out
        np.save(tmp / "offsets.npy", offsets)
        (tmp / "meta.json").write_text(json.dumps({**dict(info), "ids": ids}, default=str))
        final = cache_dir / key
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    packed = load_packed(cache_dir, key, ids)
    assert packed is not None
    return packed
