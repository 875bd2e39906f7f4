"""Finding a checkpoint's files (a local directory, or the Hugging Face hub and its
cache, as transformers does) and detecting its layout."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Literal

from ._common import EncoderLoadError, Layout

__all__ = ["COLBERT_SETTINGS", "Source", "detect_layout", "env_offline"]

COLBERT_SETTINGS: dict[str, tuple[tuple[str | None, Any], tuple[str | None, Any]]] = {
    # setting: ((PyLate's key, default), (colbert-ai's key, default)); key None: not stored
    "query_marker": (("query_prefix", "[Q] "), ("query_token_id", "[unused0]")),
    "document_marker": (("document_prefix", "[D] "), ("doc_token_id", "[unused1]")),
    "query_length": (("query_length", 32), ("query_maxlen", 32)),
    "document_length": (("document_length", 180), ("doc_maxlen", 220)),
    "query_expansion": (("do_query_expansion", True), (None, True)),
    "attend_to_expansion_tokens": (
        ("attend_to_expansion_tokens", False), ("attend_to_mask_tokens", False)
    ),
    "skiplist_words": (("skiplist_words", None), (None, None)),
    "mask_punctuation": ((None, False), ("mask_punctuation", True)),
}
"""The ColBERT settings a ``"pylate"`` and a ``"stanford"`` checkpoint store: each layout's
key and the default its library applies when it is missing or null (PyLate 1.6,
colbert-ai 0.2.22's ColBERTConfig)."""


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

    def modules(self) -> tuple[str, list[str]]:
        """The folders of a sentence-transformers checkpoint's Transformer module (``""``:
        the root; the first one listed) and of its Dense modules, from ``modules.json`` in
        ``idx`` order."""
        modules = self.json("modules.json")
        transformers, dense = [], []
        listed = modules if isinstance(modules, list) else []
        for entry in sorted(listed, key=lambda m: int(m.get("idx", 0))):
            kind = str(entry.get("type", ""))
            if kind.endswith("Transformer") or ".Transformer" in kind:
                transformers.append(str(entry.get("path", "")))
            elif kind.endswith("Dense") or ".Dense." in kind:
                dense.append(str(entry.get("path", "")))
        return (transformers[0] if transformers else ""), dense

    def sbert_config(self, subfolder: str) -> dict[str, Any]:
        """A module folder's ``sentence_bert_config.json`` (``{}`` when absent)."""
        cfg = self.json("sentence_bert_config.json", subfolder)
        return cfg if isinstance(cfg, dict) else {}

    def colbert_settings(self, layout: Literal["pylate", "stanford"]) -> dict[str, Any]:
        """The :data:`COLBERT_SETTINGS` of this checkpoint (PyLate's
        ``config_sentence_transformers.json``, colbert-ai's ``artifact.metadata``), each
        missing or null one at its library's default."""
        column = 0 if layout == "pylate" else 1
        if layout == "pylate":
            stored = self.json("config_sentence_transformers.json")
        else:
            stored = self.json("artifact.metadata")
            if isinstance(stored, dict) and isinstance(stored.get("config"), dict):
                stored = stored["config"]
        found = stored if isinstance(stored, dict) else {}
        settings = {}
        for name, keys in COLBERT_SETTINGS.items():
            key, default = keys[column]
            value = None if key is None else found.get(key)
            settings[name] = default if value is None else value
        return settings


def _is_pylate_modules(modules: Any) -> bool:
    """True for a sentence-transformers module list: Transformer, then Dense projection(s)."""
    if not isinstance(modules, list) or not modules:
        return False
    types = [str(m.get("type", "")) for m in modules if isinstance(m, dict)]
    has_dense = any(t.endswith("Dense") or ".Dense." in t for t in types)
    has_pooling = any(t.endswith("Pooling") or ".Pooling." in t for t in types)
    return has_dense and not has_pooling


def detect_layout(source: Source | str) -> Layout:
    """Which of :data:`LAYOUTS` a checkpoint uses, in order: ``"pylate"`` for Dense modules
    and no Pooling module in ``modules.json``, or ``model_type: "ColBERT"`` or
    ``query_prefix`` in ``config_sentence_transformers.json``; ``"stanford"`` for an
    ``HF_ColBERT`` architecture or an ``artifact.metadata`` file; else ``"hf"``.
    """
    if isinstance(source, str):
        source = Source(source, local_files_only=env_offline())
    config = source.json("config.json")
    if config is None:
        hint = ""
        if not source.is_local:
            hint = " (not a local directory; not in the Hugging Face cache"
            if source.local_files_only:
                hint += " and HF_HUB_OFFLINE/local_files_only forbids downloading"
            hint += ")"
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
