"""Text -> per-token unit vectors for late-interaction retrieval (ColBERT-style multivectors).

:class:`TokenEncoder` loads a checkpoint (local folder or Hugging Face hub cache), detects
its layout and returns one ``(n_i, d)`` float32 array of unit vectors per text:

- ``"stanford"``: Stanford ColBERT (``colbert-ir/colbertv2.0``), as colbert-ai 0.2.22's
  ``Checkpoint``: ``[MASK]``-padded queries, documents without punctuation;
- ``"pylate"``: PyLate / sentence-transformers ColBERT (``modules.json`` with Dense
  projections), as ``pylate.models.ColBERT.encode`` (PyLate 1.6);
- ``"hf"``: any plain Hugging Face encoder (last-layer token states, ``[CLS]`` kept,
  ``[SEP]`` dropped by default).

:class:`OnnxTokenEncoder` gives the same vectors without torch (the CLI's searches use
it); :class:`FastEmbedEncoder` wraps fastembed's late-interaction models; :mod:`.protocol`
says what the package needs from any encoder. torch and transformers (the ``encoders``
extra) are imported when an encoder is built. Never imports ``qdrant_client``.
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
