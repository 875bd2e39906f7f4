"""The ``"pylate"`` layout: PyLate ColBERT (``answerdotai/answerai-colbert-small-v1``): a
Transformer module and Dense projections, settings in
``config_sentence_transformers.json``. Reproduces ``pylate.models.ColBERT.encode`` (1.6)."""

from __future__ import annotations

import string
import warnings
from functools import partial
from typing import Any

from ._common import BuildOptions, EncoderLoadError, _Parts, _Side, import_torch
from .source import Source
from .weights import leading_special, load_backbone, load_tokenizer

__all__ = ["build"]

def build(source: Source, opts: BuildOptions) -> _Parts:
    """PyLate 1.6: ColBERT.encode(is_query=True/False), normalize_embeddings=True."""
    torch = import_torch()
    transformer_path, dense_paths = source.modules()
    cfg = source.colbert_settings("pylate")

    tokenizer = load_tokenizer(source, transformer_path, opts.trust_remote_code)
    model = load_backbone(source, transformer_path, opts.trust_remote_code)

    layers: list[Any] = []
    in_dim = model.config.hidden_size
    for path in dense_paths:
        from .dense import load_dense

        layers.append(load_dense(source, path))
        if layers[-1].in_features != in_dim:
            raise EncoderLoadError(
                f"{source.name!r}: Dense module {path!r} expects {layers[-1].in_features} "
                f"inputs but receives {in_dim}"
            )
        in_dim = layers[-1].out_features
    projection = torch.nn.Sequential(*layers) if layers else None

    # Prefixes are tokens of their own (PyLate adds them to the tokenizer when missing).
    prefix_ids: dict[str, int | None] = {}
    for key in ("query_marker", "document_marker"):
        prefix = cfg[key]
        if not prefix:
            prefix_ids[key] = None
            continue
        tid = tokenizer.convert_tokens_to_ids(prefix)
        if tid is None or tid == tokenizer.unk_token_id:
            warnings.warn(
                f"{source.name!r}: prefix {prefix!r} is not in the vocabulary; adding it with a "
                "new, untrained embedding (as PyLate does)",
                stacklevel=3,
            )
            tokenizer.add_tokens([prefix])
            model.resize_token_embeddings(len(tokenizer))
            tid = tokenizer.convert_tokens_to_ids(prefix)
        prefix_ids[key] = int(tid)

    # Query expansion pads with [MASK] (masked LMs), else EOS, else the pad token.
    for candidate in (tokenizer.mask_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id):
        if candidate is not None:
            expansion_id = int(candidate)
            break
    else:
        raise EncoderLoadError(f"{source.name!r}: no [MASK], EOS or pad token for query expansion")

    skip_words = cfg.get("skiplist_words")
    if skip_words is None:
        skip_words = list(string.punctuation)
    skip = tuple(sorted({int(tokenizer.convert_tokens_to_ids(w)) for w in skip_words}))
    expand = bool(cfg["query_expansion"])
    attend = bool(cfg["attend_to_expansion_tokens"]) and expand
    lowercase = bool(source.sbert_config(transformer_path).get("do_lower_case", False))
    q_len = opts.query_length or int(cfg["query_length"])
    d_len = opts.document_length or int(cfg["document_length"])
    side = partial(_Side, strip=True, lowercase=lowercase)  # what both sides share
    query = side(
        max_length=q_len,
        prefix_id=prefix_ids["query_marker"],
        expand=expand,
        expansion_id=expansion_id,
        attend_expansion=attend,
    )
    document = side(max_length=d_len, prefix_id=prefix_ids["document_marker"], skip_ids=skip)
    protected = leading_special(tokenizer) + (
        1 if prefix_ids["document_marker"] is not None else 0
    )
    settings = {
        "query_length": q_len,
        "document_length": d_len,
        "query_marker": cfg["query_marker"],
        "document_marker": cfg["document_marker"],
        "query_expansion": expand,
        "attend_to_expansion_tokens": attend,
        "skiplist_ids": list(skip),
        "dense_modules": dense_paths,
    }
    return _Parts(model, tokenizer, projection, query, document, in_dim, protected, settings)
