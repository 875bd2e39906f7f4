"""PyLate's Dense projection as a torch module, and its loader (imports torch: only the
PyLate builder imports this module)."""

from __future__ import annotations

from typing import Any

import torch

from ._common import EncoderLoadError
from .source import Source
from .weights import find_weights, load_state_dict, resolve_activation

__all__ = ["Dense", "load_dense"]


class Dense(torch.nn.Module):
    """activation(linear(x)) (+ residual(x) or x when use_residual), as PyLate's Dense."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool,
        activation: Any,
        use_residual: bool,
        state: dict[str, Any],
        where: str,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.linear = torch.nn.Linear(in_features, out_features, bias=bias)
        self.activation_function = activation
        self.use_residual = use_residual
        if use_residual and in_features != out_features:
            self.residual = torch.nn.Linear(in_features, out_features, bias=False)
        wanted = {k for k in self.state_dict()}
        got = {k: v for k, v in state.items() if k in wanted}
        missing = wanted - set(got)
        if missing:
            raise EncoderLoadError(f"{where}: Dense weights missing {sorted(missing)}")
        self.load_state_dict({k: v.float() for k, v in got.items()})

    def forward(self, x: Any) -> Any:
        y = self.activation_function(self.linear(x))
        if self.use_residual:
            y = y + (self.residual(x) if self.in_features != self.out_features else x)
        return y


def load_dense(source: Source, path: str) -> Any:
    """A sentence-transformers / PyLate Dense module as a torch.nn.Module."""
    cfg = source.json("config.json", path)
    if not isinstance(cfg, dict):
        raise EncoderLoadError(f"{source.name!r}: Dense module {path!r} has no config.json")
    files = find_weights(source, path)
    if not files:
        raise EncoderLoadError(f"{source.name!r}: Dense module {path!r} has no weights")
    state: dict[str, Any] = {}
    for f in files:
        state.update(load_state_dict(f))
    return Dense(
        int(cfg["in_features"]),
        int(cfg["out_features"]),
        bias=bool(cfg.get("bias", True)),
        activation=resolve_activation(cfg.get("activation_function")),
        use_residual=bool(cfg.get("use_residual", False)),
        state=state,
        where=f"{source.name}/{path}",
    )
