"""The ``"stanford"`` layout: Stanford ColBERT (``colbert-ir/colbertv2.0``), a BERT
checkpoint saved as ``HF_ColBERT`` (``bert.*`` weights plus a bias-free ``linear.weight``
projection), settings in ``artifact.metadata``. Reproduces colbert-ai 0.2.22's
``Checkpoint.queryFromText`` / ``docFromText``."""

from __future__ import annotations

import string

from ._common import BuildOptions, EncoderLoadError, _Parts, _Side, import_torch
from .source import Source
from .weights import load_backbone, load_tensor, load_tokenizer, token_id

__all__ = ["build"]

def build(source: Source, opts: BuildOptions) -> _Parts:
    """colbert-ai 0.2.22: Checkpoint.queryFromText / docFromText(keep_dims=False)."""
    torch = import_torch()
    cfg = source.colbert_settings("stanford")
    tokenizer = load_tokenizer(source, "", opts.trust_remote_code)
    model = load_backbone(source, "", opts.trust_remote_code)
    weight = load_tensor(source, "linear.weight")
    hidden = model.config.hidden_size
    if weight.ndim != 2 or weight.shape[1] != hidden:
        raise EncoderLoadError(
            f"{source.name!r}: linear.weight has shape {tuple(weight.shape)}, "
            f"expected (dim, {hidden})"
        )
    linear = torch.nn.Linear(hidden, weight.shape[0], bias=False)
    with torch.no_grad():
        linear.weight.copy_(weight.float())

    q_marker = token_id(tokenizer, str(cfg["query_marker"]), "query marker")
    d_marker = token_id(tokenizer, str(cfg["document_marker"]), "document marker")
    if tokenizer.mask_token_id is None:
        raise EncoderLoadError(f"{source.name!r}: tokenizer has no [MASK] token for query padding")
    skip: tuple[int, ...] = ()
    if cfg["mask_punctuation"]:  # as colbert/modeling/colbert.py: each symbol's first token
        encoded = (tokenizer.encode(sym, add_special_tokens=False) for sym in string.punctuation)
        skip = tuple(sorted({int(ids[0]) for ids in encoded if ids}))
    q_len = opts.query_length or int(cfg["query_length"])
    d_len = opts.document_length or int(cfg["document_length"])
    query = _Side(
        max_length=q_len,
        prefix_id=q_marker,
        expand=True,
        expansion_id=int(tokenizer.mask_token_id),
        attend_expansion=bool(cfg["attend_to_expansion_tokens"]),
    )
    document = _Side(max_length=d_len, prefix_id=d_marker, skip_ids=skip)
    settings = {
        "query_length": q_len,
        "document_length": d_len,
        "query_marker": str(cfg["query_marker"]),
        "document_marker": str(cfg["document_marker"]),
        "query_expansion": True,
        "attend_to_expansion_tokens": bool(cfg["attend_to_expansion_tokens"]),
        "skiplist_ids": list(skip),
    }
    return _Parts(model, tokenizer, linear, query, document, int(weight.shape[0]), 2, settings)
