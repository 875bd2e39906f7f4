"""The ``"hf"`` layout: any plain Hugging Face encoder (e.g. all-MiniLM-L6-v2): last-layer
token states, padding removed, L2-normalised; the leading ``[CLS]`` kept and the other
special tokens dropped by default (``special_tokens="cls"``)."""

from __future__ import annotations

from ._common import BuildOptions, _Parts, _Side
from .source import Source
from .weights import leading_special, load_backbone, load_tokenizer

__all__ = ["build"]

# Default budgets: queries 32 tokens; documents the model's max_seq_length, else 512.
_HF_QUERY_LENGTH = 32
_HF_DOCUMENT_LENGTH = 512


def build(source: Source, opts: BuildOptions) -> _Parts:
    """Plain encoder: last hidden states, padding removed, specials per ``special_tokens``."""
    transformer_path, _ = source.modules()
    sbert_cfg = source.sbert_config(transformer_path)
    tokenizer = load_tokenizer(source, transformer_path, opts.trust_remote_code)
    model = load_backbone(source, transformer_path, opts.trust_remote_code)
    default_doc = int(sbert_cfg.get("max_seq_length") or _HF_DOCUMENT_LENGTH)
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None:
        default_doc = min(default_doc, int(limit))
    specials = {
        int(t)
        for t in (
            tokenizer.cls_token_id,
            tokenizer.sep_token_id,
            tokenizer.bos_token_id,
            tokenizer.eos_token_id,
            tokenizer.pad_token_id,
        )
        if t is not None
    }
    leading = leading_special(tokenizer)
    skip = () if opts.special_tokens == "all" else tuple(sorted(specials))
    protected = 0 if opts.special_tokens == "none" else leading
    lowercase = bool(sbert_cfg.get("do_lower_case", False))
    q_len = opts.query_length or min(_HF_QUERY_LENGTH, default_doc)
    d_len = opts.document_length or default_doc
    keep_first = opts.special_tokens == "cls" and leading == 1
    query = _Side(max_length=q_len, skip_ids=skip, keep_first=keep_first, lowercase=lowercase)
    document = _Side(max_length=d_len, skip_ids=skip, keep_first=keep_first, lowercase=lowercase)
    settings = {
        "query_length": q_len,
        "document_length": d_len,
        "special_tokens": opts.special_tokens,
        "query_expansion": False,
    }
    return _Parts(
        model, tokenizer, None, query, document, int(model.config.hidden_size), protected, settings
    )
