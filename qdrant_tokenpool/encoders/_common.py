"""What the encoder modules share: layout names, the load error, the lazy torch import, the
per-side rules (:class:`_Side`) and what a layout builder returns (:class:`_Parts`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "LAYOUTS",
    "SPECIAL_MODES",
    "Builder",
    "EncoderLoadError",
    "Layout",
    "SpecialTokens",
    "import_torch",
]

Layout = Literal["stanford", "pylate", "hf"]
SpecialTokens = Literal["cls", "all", "none"]
LAYOUTS: tuple[str, ...] = ("stanford", "pylate", "hf")
SPECIAL_MODES: tuple[str, ...] = ("cls", "all", "none")


class EncoderLoadError(OSError):
    """A checkpoint could not be found or is not in a layout this package can read."""


def import_torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "qdrant_tokenpool.encoders needs torch and transformers: "
            "pip install torch==2.13.0 'qdrant-tokenpool[encoders]'"
        ) from exc
    return torch


@dataclass(frozen=True)
class _Side:
    """How one side (queries or documents) is tokenised, run and selected.

    ``max_length`` counts every token fed to the model, markers and specials included.
    """

    max_length: int
    prefix_id: int | None = None
    expand: bool = False  # pad to max_length with expansion_id and keep every position
    expansion_id: int | None = None
    attend_expansion: bool = False
    skip_ids: tuple[int, ...] = ()  # ids removed from the output (punctuation, specials)
    keep_first: bool = False  # position 0 is kept even if its id is in skip_ids
    strip: bool = False
    lowercase: bool = False


@dataclass
class _Parts:
    model: Any
    tokenizer: Any
    projection: Any  # torch.nn.Module or None
    query: _Side
    document: _Side
    dim: int
    protected_tokens: int
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildOptions:
    """What :meth:`~qdrant_tokenpool.encoders.TokenEncoder.from_pretrained` asks of a
    layout builder (token budgets ``None``: the checkpoint's own)."""

    query_length: int | None
    document_length: int | None
    special_tokens: str
    trust_remote_code: bool


Builder = Callable[[Any, BuildOptions], _Parts]
"""A layout builder: ``build(source, options) -> _Parts``."""
