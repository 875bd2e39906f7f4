"""Text -> per-token unit vectors for late-interaction retrieval (ColBERT-style multivectors).

:class:`TokenEncoder` loads a checkpoint in one of :data:`LAYOUTS` (``"stanford"``: Stanford
ColBERT as colbert-ai 0.2.22; ``"pylate"``: PyLate 1.6 ColBERT; ``"hf"``: any plain Hugging
Face encoder) and returns one ``(n_i, d)`` float32 array of unit vectors per text.
:class:`OnnxTokenEncoder` gives the same vectors without torch; :class:`FastEmbedEncoder`
wraps fastembed's models; :class:`TextEncoder` is what the package needs from any encoder.
torch and transformers (the ``encoders`` extra) are imported when an encoder is built.
"""

from __future__ import annotations

from ._common import LAYOUTS, EncoderLoadError, Layout, SpecialTokens
from .encoder import BUILDERS, TokenEncoder
from .fastembed import FastEmbedEncoder, register_local_model
from .loader import load_encoder
from .onnx import OnnxTokenEncoder, export_onnx
from .protocol import TextEncoder
from .source import detect_layout

__all__ = [
    "BUILDERS",
    "LAYOUTS",
    "EncoderLoadError",
    "FastEmbedEncoder",
    "Layout",
    "OnnxTokenEncoder",
    "SpecialTokens",
    "TextEncoder",
    "TokenEncoder",
    "detect_layout",
    "export_onnx",
    "load_encoder",
    "register_local_model",
]
