"""Getting an encoder for the evaluation, and encoding a data set through the cache.

:func:`load_encoder` uses ``qdrant_tokenpool.encoders.TokenEncoder`` when that module is
available and falls back to :class:`PlainHFTokenEncoder`, a minimal plain Hugging Face
encoder (last-layer token states, padding dropped, rows L2-normalised; ``[CLS]`` first and
protected). Any object with the encoder interface works with :func:`encode_cached` and
``run_evaluation``:

- ``encode_documents(texts, batch_size=..., show_progress=...) -> list[(n_i, d) float32]``
- ``encode_queries(texts, batch_size=..., show_progress=...) -> list[(n_i, d) float32]``
- attributes ``name`` (str), ``dim`` (int), ``protected_tokens`` (int)

torch/transformers are imported lazily, only when a model is loaded.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .cache import cache_key, load_packed, save_packed, texts_sha256
from .scoring import PackedTokens

__all__ = [
    "Encoder",
    "PlainHFTokenEncoder",
    "encode_cached",
    "encoder_fingerprint",
    "load_encoder",
]


class Encoder(Protocol):
    """What the evaluation needs from an encoder."""

    name: str
    dim: int
    protected_tokens: int

    def encode_documents(self, texts: list[str], **kwargs: Any) -> list[np.ndarray]: ...

    def encode_queries(self, texts: list[str], **kwargs: Any) -> list[np.ndarray]: ...


class PlainHFTokenEncoder:
    """Plain Hugging Face encoder: normalised last-layer token states, special tokens kept.

    Fallback used by :func:`load_encoder` when ``qdrant_tokenpool.encoders`` is missing.

    Args:
        model: local folder (or hub id, loaded as transformers loads it) of a BERT-like model.
        document_max_length / query_max_length: truncation in tokens, special tokens included.
        device: torch device string (``None``: CUDA if available, else CPU).
    """

    protected_tokens = 1  # [CLS]

    def __init__(
        self,
        model: str | Path,
        document_max_length: int = 256,
        query_max_length: int = 32,
        device: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(str(model))
        self.model = AutoModel.from_pretrained(str(model)).to(self.device).eval()
        self.name = str(model)
        self.dim = int(self.model.config.hidden_size)
        self.document_max_length = int(document_max_length)
        self.query_max_length = int(query_max_length)

    def _encode(self, texts: list[str], max_length: int, batch_size: int) -> list[np.ndarray]:
        torch = self._torch
        out: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
        order = np.argsort([len(t) for t in texts], kind="stable")  # less padding per batch
        with torch.inference_mode():
            for s in range(0, len(texts), batch_size):
                idx = order[s : s + batch_size]
                enc = self.tokenizer(
                    [texts[i] for i in idx],
                    truncation=True,
                    max_length=max_length,
                    padding=True,
                    return_tensors="pt",
                ).to(self.device)
                h = self.model(**enc).last_hidden_state
                h = torch.nn.functional.normalize(h.float(), dim=-1).cpu().numpy()
                lengths = enc["attention_mask"].sum(dim=1).cpu().numpy()
                for row, i in enumerate(idx):
                    out[i] = np.ascontiguousarray(h[row, : lengths[row]], dtype=np.float32)
        return out

    def encode_documents(
        self, texts: list[str], batch_size: int = 32, show_progress: bool = False
    ) -> list[np.ndarray]:
        """``(n_i, dim)`` float32 unit rows per text, ``n_i <= document_max_length``."""
        return self._encode(list(texts), self.document_max_length, batch_size)

    def encode_queries(
        self, texts: list[str], batch_size: int = 32, show_progress: bool = False
    ) -> list[np.ndarray]:
        """``(n_i, dim)`` float32 unit rows per text, ``n_i <= query_max_length``."""
        return self._encode(list(texts), self.query_max_length, batch_size)


def load_encoder(
    model: str | Path,
    document_max_length: int = 256,
    query_max_length: int = 32,
    device: str | None = None,
) -> Any:
    """An encoder for ``model``: a fastembed late-interaction model name selects
    :class:`~qdrant_tokenpool.FastEmbedEncoder` (its own lengths); otherwise
    ``qdrant_tokenpool.encoders.TokenEncoder`` if present, else :class:`PlainHFTokenEncoder`."""
    from ..fastembed_encoder import fastembed_encoder_for

    fast = fastembed_encoder_for(model)
    if fast is not None:
        return fast
    encoder_cls: type[Any] | None
    try:
        from ..encoders import TokenEncoder
    except ImportError:
        encoder_cls = None
    else:
        encoder_cls = TokenEncoder
    if encoder_cls is not None and hasattr(encoder_cls, "from_pretrained"):
        return encoder_cls.from_pretrained(
            str(model),
            document_length=document_max_length,
            query_length=query_max_length,
            device=device,
        )
    return PlainHFTokenEncoder(model, document_max_length, query_max_length, device)


_SCALARS = (str, int, float, bool, type(None))


def encoder_fingerprint(encoder: Any) -> dict[str, Any]:
    """What identifies an encoder's output: its ``cache_key()`` if it has one, else its
    class, its public scalar attributes (name, dim, max lengths, ...) and its ``settings``
    mapping when it has one (``TokenEncoder``: lengths, special-token mode, expansion).
    Mutable public counters on an encoder would defeat the cache: keep them private."""
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
    cls = type(encoder)
    return {"class": f"{cls.__module__}.{cls.__qualname__}", **attrs}


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
) -> tuple[PackedTokens, bool, float]:
    """Encode ``texts`` (``kind`` = ``"documents"`` or ``"queries"``) through the cache.

    Texts are encoded in chunks, longest-similar together (sorted by length) to waste
    little on padding, then put back in input order.

    Returns:
        ``(packed, from_cache, seconds)``: the token vectors aligned with ``ids``, whether
        they came from the cache, and the encoding time (0 on a cache hit).
    """
    if kind not in ("documents", "queries"):
        raise ValueError(f"kind must be 'documents' or 'queries', got {kind!r}")
    key_parts = {
        "encoder": encoder_fingerprint(encoder),
        "kind": kind,
        "texts": texts_sha256(ids, texts),
        "format": 1,
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
        return PackedTokens.from_list(items), False, seconds
    packed = save_packed(cache_dir, key, ids, items, info)
    if verbose:
        _log(f"{kind}: cached in {Path(cache_dir) / key}")
    return packed, False, seconds
