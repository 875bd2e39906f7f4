"""The ``"hf"`` layout: any plain Hugging Face encoder (e.g. all-MiniLM-L6-v2): last-layer
token states, padding removed, L2-normalised; the leading ``[CLS]`` kept and the other
special tokens dropped by default (``special_tokens="cls"``)."""

from __future__ import annotations

from ._common import BuildOptions, _Parts, _Side
from .source import Source
from .weights import leading_special, load_backbone, load_tokenizer

__all__ = ["build"]

# Defaults for plain encoders: the evaluation truncates queries at 32 tokens; documents
# default to the model's own max_seq_length (sentence_bert_config.json) or 512.
_HF_QUERY_LENGTH = 32
_HF_DOCUMENT_LENGTH = 512



def build(source: Source, opts: BuildOptions) -> _Parts:
    """Plain encoder: last hidden states, padding removed, specials per ``special_tokens``."""
    modules = source.json("modules.json") or []
    transformer_path = ""
    for entry in modules if isinstance(modules, list) else []:
        kind = str(entry.get("type", ""))
        if kind.endswith("Transformer") or ".Transformer" in kind:
            transformer_path = str(entry.get("path", ""))
            break
    sbert_cfg = source.json("sentence_bert_config.json", transformer_path) or {}
    tokenizer = load_tokenizer(source, transformer_path, opts.trust_remote_code)
    model = load_backbone(source, transformer_path, opts.trust_remote_code)
    default_doc = _HF_DOCUMENT_LENGTH
    if isinstance(sbert_cfg, dict) and sbert_cfg.get("max_seq_length"):
        default_doc = int(sbert_cfg["max_seq_length"])
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
    if opts.special_tokens == "all":
        skip: tuple[int, ...] = ()
        protected = leading
    elif opts.special_tokens == "none":
        skip = tuple(sorted(specials))
        protected = 0
    else:  # "cls"
        skip = tuple(sorted(specials))
        protected = leading
    lowercase = (
        bool(sbert_cfg.get("do_lower_case", False)) if isinstance(sbert_cfg, dict) else False
    )
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
