"""Encoding a data set for the evaluation through the on-disk cache (:func:`encode_cached`),
keyed by the encoder's fingerprint, what was encoded and the texts' checksum."""

from __future__ import annotations

import functools
import hashlib
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..encoders.loader import load_encoder
from ..maxsim import PackedDocs
from .cache import cache_key, load_packed, save_packed, texts_sha256

__all__ = [
    "encode_cached",
    "encoder_fingerprint",
    "load_encoder",
]


_SCALARS = (str, int, float, bool, type(None))

CACHE_VERSION = 2
"""Part of every cache key: raise it when an entry's content or the fingerprint changes."""


def model_digest(folder: str | Path) -> str:
    """SHA-256 of a model folder's files (relative paths and bytes), the same for two copies
    of one model; read once per process while sizes and modification times stay."""
    root = Path(folder)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    signature = tuple((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _digest(str(root.resolve()), signature)


@functools.lru_cache(maxsize=16)
def _digest(root: str, signature: tuple[tuple[str, int, int], ...]) -> str:
    h = hashlib.sha256()
    for rel, _size, _mtime in signature:
        h.update(rel.encode("utf-8") + b"\0")
        with open(Path(root) / rel, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


def encoder_fingerprint(encoder: Any) -> dict[str, Any]:
    """What identifies an encoder's output: its ``cache_key()`` if it has one, else its
    class, public scalar attributes and ``settings``, a local model folder ``name``
    replaced by its :func:`model_digest` (so a copy elsewhere shares the cache)."""
    if callable(getattr(encoder, "cache_key", None)):
        return {"cache_key": encoder.cache_key()}
    attrs: dict[str, Any] = {
        k: v
        for k, v in vars(encoder).items()
        if not k.startswith("_") and isinstance(v, _SCALARS) and k not in ("device", "verbose")
    }
    for k in ("name", "dim", "protected_tokens"):
        attrs.setdefault(k, getattr(encoder, k, None))
    settings = getattr(encoder, "settings", None)
    if isinstance(settings, Mapping):
        attrs["settings"] = {str(k): v for k, v in settings.items()}
    name = attrs.get("name")
    if isinstance(name, str) and Path(name).is_dir():
        attrs["name"] = {"model_sha256": model_digest(name)}
    return {"class": type(encoder).__qualname__, **attrs}


def _log(msg: str) -> None:
    print(f"[eval] {msg}", file=sys.stderr, flush=True)


def encode_cached(
    encoder: Any,
    kind: str,
    ids: list[str],
    texts: list[str],
    cache_dir: Path | None,
    batch_size: int = 32,
    chunk: int = 512,
    verbose: bool = True,
) -> tuple[PackedDocs, bool, float]:
    """Encode ``texts`` (``kind``: ``"documents"`` or ``"queries"``) through the cache, in
    chunks of similar length. Returns ``(packed, from_cache, seconds)``: the vectors
    aligned with ``ids``, whether they came from the cache, the encoding time (0 if so).
    """
    if kind not in ("documents", "queries"):
        raise ValueError(f"kind must be 'documents' or 'queries', got {kind!r}")
    key_parts = {
        "encoder": encoder_fingerprint(encoder),
        "kind": kind,
        "texts": texts_sha256(ids, texts),
        "version": CACHE_VERSION,
    }
    key = f"{kind}-{cache_key(key_parts)}"
    if cache_dir is not None:
        hit = load_packed(cache_dir, key, ids)
        if hit is not None:
            if verbose:
                _log(f"{kind}: {len(ids)} from cache {Path(cache_dir) / key}")
            return hit, True, 0.0
    fn = encoder.encode_documents if kind == "documents" else encoder.encode_queries
    order = np.argsort([len(t) for t in texts], kind="stable")
    items: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
    t0 = time.perf_counter()
    for s in range(0, len(texts), chunk):
        idx = order[s : s + chunk]
        try:
            got = fn([texts[i] for i in idx], batch_size=batch_size, show_progress=False)
        except TypeError:
            got = fn([texts[i] for i in idx])
        for i, a in zip(idx, got):
            items[i] = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
        if verbose:
            el = time.perf_counter() - t0
            _log(f"{kind}: encoded {min(s + chunk, len(texts))}/{len(texts)} ({el:.0f} s)")
    seconds = time.perf_counter() - t0
    info = {**key_parts, "seconds": seconds, "count": len(ids)}
    if cache_dir is None:
        return PackedDocs.from_list(items), False, seconds
    packed = save_packed(cache_dir, key, ids, items, info)
    if verbose:
        _log(f"{kind}: cached in {Path(cache_dir) / key}")
    return packed, False, seconds
