"""The package's one encoder loader: a model name or folder -> the encoder to use."""

from __future__ import annotations

import os
from typing import Any

from .encoder import TokenEncoder

__all__ = ["load_encoder"]


def load_encoder(
    model: str | os.PathLike[str],
    document_max_length: int = 256,
    query_max_length: int = 32,
    device: str | None = None,
    *,
    onnx: bool = False,
) -> Any:
    """A :class:`~qdrant_tokenpool.FastEmbedEncoder` for a fastembed model name (its own
    lengths), else :meth:`TokenEncoder.from_pretrained` with these token budgets; with
    ``onnx=True`` on the CPU, the model's cached ONNX export instead when there is one.
    """
    from .fastembed import fastembed_encoder_for

    fast = fastembed_encoder_for(os.fspath(model))
    if fast is not None:
        return fast
    use_onnx = onnx and device in (None, "cpu")
    if use_onnx:
        from .onnx import cached_onnx_encoder

        cached = cached_onnx_encoder(model, document_max_length, query_max_length)
        if cached is not None:
            return cached
    return TokenEncoder.from_pretrained(
        os.fspath(model),
        document_length=document_max_length,
        query_length=query_max_length,
        device=device,
    )
