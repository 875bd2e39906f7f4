"""What the write path's modules share: a fast model copy."""

from __future__ import annotations

from typing import Any

__all__ = ["replace"]


def replace(model: Any, **update: Any) -> Any:
    """Shallow copy of a pydantic model with fields replaced (no re-validation: fast)."""
    return model.model_copy(update=update)
