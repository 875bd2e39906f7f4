"""Finding a checkpoint's files (a local directory, or the Hugging Face hub and its
cache, as transformers does) and detecting its layout."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from ._common import EncoderLoadError, Layout

__all__ = ["Source", "detect_layout", "env_offline"]


def env_offline() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE", os.environ.get("TRANSFORMERS_OFFLINE", ""))
    if value.strip().upper() in {"1", "ON", "YES", "TRUE"}:
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except Exception:  # noqa: BLE001 # pragma: no cover - any import problem: not offline
        return False


@dataclass
class Source:
    """Where a checkpoint lives: a local directory or a hub repo id (with its cache)."""

    name: str
    revision: str | None = None
    cache_dir: str | None = None
    local_files_only: bool = False
    token: str | bool | None = None

    @property
    def is_local(self) -> bool:
        return os.path.isdir(self.name)

    def file(self, filename: str, subfolder: str = "") -> str | None:
        """Path of ``subfolder/filename`` (downloaded or cached for hub ids), or None."""
        if self.is_local:
            path = os.path.join(self.name, subfolder, filename)
            return path if os.path.isfile(path) else None
        from huggingface_hub import errors as hf_errors
        from huggingface_hub import hf_hub_download

        try:
            return hf_hub_download(
                repo_id=self.name,
                filename=filename,
                subfolder=subfolder or None,
                revision=self.revision,
                cache_dir=self.cache_dir,
                local_files_only=self.local_files_only,
                token=self.token,
            )
        except hf_errors.HFValidationError as exc:
            raise EncoderLoadError(
                f"{self.name!r} is neither a local directory nor a valid Hugging Face repo id"
            ) from exc
        except (hf_errors.EntryNotFoundError, hf_errors.LocalEntryNotFoundError):
            return None

    def hf_kwargs(self, subfolder: str = "") -> tuple[str, dict[str, Any]]:
        """(name_or_path, kwargs) for transformers' ``from_pretrained``."""
        if self.is_local:
            return os.path.join(self.name, subfolder) if subfolder else self.name, {}
        kwargs: dict[str, Any] = {
            "revision": self.revision,
            "cache_dir": self.cache_dir,
            "local_files_only": self.local_files_only,
            "token": self.token,
        }
        if subfolder:
            kwargs["subfolder"] = subfolder
        return self.name, kwargs

    def json(self, filename: str, subfolder: str = "") -> dict[str, Any] | list[Any] | None:
        path = self.file(filename, subfolder)
        if path is None:
            return None
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)


def _is_pylate_modules(modules: Any) -> bool:
    """True for a sentence-transformers module list: Transformer, then Dense projection(s)."""
    if not isinstance(modules, list) or not modules:
        return False
    types = [str(m.get("type", "")) for m in modules if isinstance(m, dict)]
    has_dense = any(t.endswith("Dense") or ".Dense." in t for t in types)
    has_pooling = any(t.endswith("Pooling") or ".Pooling." in t for t in types)
    return has_dense and not has_pooling


def detect_layout(source: Source | str) -> Layout:
    """Which of :data:`LAYOUTS` a checkpoint uses.

    Rules, in order: a ``modules.json`` with Dense modules and no Pooling module, or a
    ``config_sentence_transformers.json`` naming ``model_type: "ColBERT"`` or carrying
    ``query_prefix``, is ``"pylate"`` (PyLate also saves converted Stanford models this
    way); a ``config.json`` whose ``architectures`` is ``HF_ColBERT``, or an
    ``artifact.metadata`` file, is ``"stanford"``; anything else is ``"hf"``.
    """
    if isinstance(source, str):
        source = Source(source, local_files_only=env_offline())
    config = source.json("config.json")
    if config is None:
        hint = ""
        if not source.is_local:
            hint = (
                " (not a local directory; not in the Hugging Face cache"
                + (
                    " and HF_HUB_OFFLINE/local_files_only forbids downloading"
                    if source.local_files_only
                    else ""
                )
                + ")"
            )
        raise EncoderLoadError(f"no config.json found for model {source.name!r}{hint}")
    modules = source.json("modules.json")
    st_config = source.json("config_sentence_transformers.json") or {}
    if _is_pylate_modules(modules):
        return "pylate"
    if (
        isinstance(st_config, dict)
        and (st_config.get("model_type") == "ColBERT" or "query_prefix" in st_config)
        and modules is not None
    ):
        return "pylate"
    architectures = (config.get("architectures") if isinstance(config, dict) else None) or []
    if "HF_ColBERT" in architectures or source.file("artifact.metadata") is not None:
        return "stanford"
    return "hf"
