"""Text -> per-token unit vectors for late-interaction retrieval (ColBERT-style multivectors).

:class:`TokenEncoder` loads a checkpoint from a local directory or the Hugging Face hub
(cache), detects its layout and turns texts into one ``(n_i, d)`` float32 array of unit
vectors per text, for documents and for queries:

``"stanford"``
    Stanford ColBERT (``colbert-ir/colbertv2.0``): a BERT checkpoint saved as ``HF_ColBERT``
    (``bert.*`` weights plus a bias-free ``linear.weight`` projection), settings in
    ``artifact.metadata``. Reproduces ``colbert.modeling.checkpoint.Checkpoint``
    (colbert-ai 0.2.22): ``[CLS] [Q] ... [SEP]`` queries padded with ``[MASK]`` to
    ``query_maxlen`` (query augmentation; every position kept), ``[CLS] [D] ... [SEP]``
    documents with punctuation and padding removed.
``"pylate"``
    PyLate / sentence-transformers ColBERT (``answerdotai/answerai-colbert-small-v1``,
    ``lightonai/GTE-ModernColBERT-v1``): ``modules.json`` with a Transformer module and one or
    more Dense projections, prefixes and lengths in ``config_sentence_transformers.json``.
    Reproduces ``pylate.models.ColBERT.encode`` (PyLate 1.6).
``"hf"``
    Any plain Hugging Face encoder (e.g. all-MiniLM-L6-v2): last-layer token states,
    padding removed, L2-normalised. The leading ``[CLS]`` is kept and trailing ``[SEP]``
    dropped by default (``special_tokens="cls"``).

This package needs ``torch`` and ``transformers`` (``pip install 'qdrant-tokenpool[encoders]'``);
they are imported when an encoder is built, not when the package is imported. It never
imports ``qdrant_client``.

Layout of the package: :mod:`.source` (finding files: local folder or hub cache; layout
detection), :mod:`.weights` (weights, backbone, tokenizer), one module per layout
(:mod:`.stanford`, :mod:`.pylate` with :mod:`.dense`, :mod:`.hf`), :mod:`.encoder`
(:class:`TokenEncoder`), :mod:`.loader` (:func:`load_encoder`), :mod:`.protocol` (:class:`TextEncoder`, what the rest of the
package needs from any encoder), :mod:`.fastembed` (:class:`FastEmbedEncoder`: fastembed's
late-interaction models on ONNX Runtime, no torch; the ``fastembed`` extra), :mod:`.onnx`
(:class:`OnnxTokenEncoder`: a :class:`TokenEncoder` exported to ONNX, the same vectors
without torch; the CLI's searches use it).
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
