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

This module needs ``torch`` and ``transformers`` (``pip install 'qdrant-tokenpool[encoders]'``);
they are imported when an encoder is built, not when this module is imported. It never
imports ``qdrant_client``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import logging
import os
import string
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["LAYOUTS", "EncoderLoadError", "TokenEncoder", "detect_layout"]

logger = logging.getLogger(__name__)

Layout = Literal["stanford", "pylate", "hf"]
SpecialTokens = Literal["cls", "all", "none"]
LAYOUTS: tuple[str, ...] = ("stanford", "pylate", "hf")
_SPECIAL_MODES: tuple[str, ...] = ("cls", "all", "none")

#: Length of the tokenised chunk that is sorted by length before batching (in batches).
_CHUNK_BATCHES = 32

# colbert-ai 0.2.22 ColBERTConfig defaults (infra/config/settings.py).
_STANFORD_DEFAULTS: dict[str, Any] = {
    "query_token_id": "[unused0]",
    "doc_token_id": "[unused1]",
    "query_maxlen": 32,
    "doc_maxlen": 220,
    "dim": 128,
    "mask_punctuation": True,
    "attend_to_mask_tokens": False,
}
# PyLate 1.6 defaults (pylate/models/colbert.py).
_PYLATE_DEFAULTS: dict[str, Any] = {
    "query_prefix": "[Q] ",
    "document_prefix": "[D] ",
    "query_length": 32,
    "document_length": 180,
    "do_query_expansion": True,
    "attend_to_expansion_tokens": False,
}
# Defaults for plain encoders: the evaluation truncates queries at 32 tokens; documents
# default to the model's own max_seq_length (sentence_bert_config.json) or 512.
_HF_QUERY_LENGTH = 32
_HF_DOCUMENT_LENGTH = 512


class EncoderLoadError(OSError):
    """A checkpoint could not be found or is not in a layout this module can read."""


def _import_torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "qdrant_tokenpool.encoders needs torch and transformers: "
            "pip install torch==2.13.0 'qdrant-tokenpool[encoders]'"
        ) from exc
    return torch


# --------------------------------------------------------------------------------------
# Finding files: local directory or Hugging Face hub cache, like transformers does.
# --------------------------------------------------------------------------------------


def _env_offline() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE", os.environ.get("TRANSFORMERS_OFFLINE", ""))
    if value.strip().upper() in {"1", "ON", "YES", "TRUE"}:
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except Exception:  # noqa: BLE001 # pragma: no cover - any import problem: not offline
        return False


@dataclass
class _Source:
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


def detect_layout(source: _Source | str) -> Layout:
    """Which of :data:`LAYOUTS` a checkpoint uses.

    Rules, in order: a ``modules.json`` with Dense modules and no Pooling module, or a
    ``config_sentence_transformers.json`` naming ``model_type: "ColBERT"`` or carrying
    ``query_prefix``, is ``"pylate"`` (PyLate also saves converted Stanford models this
    way); a ``config.json`` whose ``architectures`` is ``HF_ColBERT``, or an
    ``artifact.metadata`` file, is ``"stanford"``; anything else is ``"hf"``.
    """
    if isinstance(source, str):
        source = _Source(source, local_files_only=_env_offline())
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


# --------------------------------------------------------------------------------------
# Per-side (query / document) tokenisation and selection rules.
# --------------------------------------------------------------------------------------


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


def _resolve_activation(name: str | None) -> Any:
    torch = _import_torch()
    if name in (None, "", "Identity"):
        return torch.nn.Identity()
    module_name, _, cls_name = str(name).rpartition(".")
    if not (module_name == "torch" or module_name.startswith("torch.")):
        raise EncoderLoadError(
            f"Dense activation_function {name!r} is not a torch.nn class; refusing to import it"
        )
    cls = getattr(importlib.import_module(module_name), cls_name, None)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, torch.nn.Module):
        raise EncoderLoadError(f"unknown Dense activation_function {name!r}")
    return cls()


def _load_state_dict(path: str) -> dict[str, Any]:
    torch = _import_torch()
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return dict(load_file(path))
    return dict(torch.load(path, map_location="cpu", weights_only=True))


def _find_weights(source: _Source, subfolder: str = "") -> list[str]:
    """Weight files of a checkpoint folder: single or sharded safetensors, else .bin."""
    for single, index in (
        ("model.safetensors", "model.safetensors.index.json"),
        ("pytorch_model.bin", "pytorch_model.bin.index.json"),
    ):
        path = source.file(single, subfolder)
        if path is not None:
            return [path]
        idx = source.json(index, subfolder)
        if isinstance(idx, dict) and "weight_map" in idx:
            shards = sorted(set(idx["weight_map"].values()))
            found = [source.file(s, subfolder) for s in shards]
            if all(found):
                return [p for p in found if p]
    return []


def _load_tensor(source: _Source, key: str, subfolder: str = "") -> Any:
    files = _find_weights(source, subfolder)
    for path in files:
        if path.endswith(".safetensors"):
            from safetensors import safe_open

            with safe_open(path, framework="pt", device="cpu") as fh:
                if key in fh.keys():  # noqa: SIM118 - safe_open is not a dict
                    return fh.get_tensor(key)
        else:
            state = _load_state_dict(path)
            if key in state:
                return state[key]
    raise EncoderLoadError(
        f"{source.name!r}: tensor {key!r} not found in {files or 'any weight file'}"
    )


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' load report; we check missing weights ourselves."""
    from transformers.utils import logging as tlogging

    old = tlogging.get_verbosity()
    bar = tlogging.is_progress_bar_enabled()
    tlogging.set_verbosity_error()
    tlogging.disable_progress_bar()
    try:
        yield
    finally:
        tlogging.set_verbosity(old)
        if bar:
            tlogging.enable_progress_bar()


def _load_backbone(source: _Source, subfolder: str, trust_remote_code: bool) -> Any:
    from transformers import AutoModel

    name, kwargs = source.hf_kwargs(subfolder)
    with _quiet_transformers(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, info = AutoModel.from_pretrained(
            name, output_loading_info=True, trust_remote_code=trust_remote_code, **kwargs
        )
    missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith("pooler."))
    if missing:
        n_params = len(list(model.state_dict()))
        if len(missing) * 2 > n_params:
            raise EncoderLoadError(
                f"{source.name!r}: {len(missing)} of {n_params} weights of the encoder are "
                f"missing from the checkpoint (e.g. {missing[:3]}); refusing a randomly "
                "initialised model"
            )
        warnings.warn(
            f"{source.name!r}: weights missing from the checkpoint, randomly initialised: "
            f"{missing[:10]}",
            stacklevel=3,
        )
    return model


def _load_tokenizer(source: _Source, subfolder: str, trust_remote_code: bool) -> Any:
    from transformers import AutoTokenizer

    name, kwargs = source.hf_kwargs(subfolder)
    with _quiet_transformers():
        return AutoTokenizer.from_pretrained(name, trust_remote_code=trust_remote_code, **kwargs)


def _token_id(tokenizer: Any, token: str, what: str) -> int:
    tid = tokenizer.convert_tokens_to_ids(token)
    if tid is None or (tid == tokenizer.unk_token_id and token != tokenizer.unk_token):
        raise EncoderLoadError(f"{what} {token!r} is not in the tokenizer's vocabulary")
    return int(tid)


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------------------
# The encoder.
# --------------------------------------------------------------------------------------


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


class TokenEncoder:
    """Turns texts into per-token unit vectors (documents and queries), batched.

    Build one with :meth:`from_pretrained`. Outputs are lists with one float32 array of
    shape ``(n_i, dim)`` per input text, in input order, every row L2-normalised (unit
    length; cosine similarity = dot product). ``n_i`` depends on the layout and side:

    * ColBERT queries (``"stanford"``, ``"pylate"`` with query expansion): exactly
      ``query_length`` rows (``[CLS]``, marker, tokens, ``[SEP]``, ``[MASK]`` padding).
    * ColBERT documents: ``[CLS]``, marker, tokens, ``[SEP]`` (at most
      ``document_length``), minus punctuation (the skiplist).
    * ``"hf"``: the tokens (at most ``query_length`` / ``document_length`` with specials),
      the leading ``[CLS]`` kept and ``[SEP]`` dropped by default.

    Attributes:
        name: the name or path it was loaded from.
        layout: ``"stanford"``, ``"pylate"`` or ``"hf"``.
        dim: vector dimension ``d`` of every output row.
        protected_tokens: how many leading rows of every *document* output are markers or
            ``[CLS]`` rather than content (ColBERT layouts: ``[CLS]`` and ``[D]`` = 2;
            ``"hf"``: 1 for a kept ``[CLS]``); pass it to ``PoolingConfig`` so pooling
            leaves them alone.
        query_length, document_length: token budgets (markers and specials included).
        device: the torch device the model runs on.
    """

    def __init__(self, parts: _Parts, *, name: str, layout: Layout, device: Any) -> None:
        self._parts = parts
        self.name = name
        self.layout: Layout = layout
        self.device = device
        self.dim = parts.dim
        self.protected_tokens = parts.protected_tokens
        self.query_length = parts.query.max_length
        self.document_length = parts.document.max_length

    def __repr__(self) -> str:
        return (
            f"TokenEncoder(name={self.name!r}, layout={self.layout!r}, dim={self.dim}, "
            f"query_length={self.query_length}, document_length={self.document_length}, "
            f"protected_tokens={self.protected_tokens}, device={str(self.device)!r})"
        )

    @property
    def settings(self) -> dict[str, Any]:
        """The layout settings in effect (lengths, markers, expansion, skiplist size)."""
        return dict(self._parts.settings)

    @property
    def tokenizer(self) -> Any:
        """The underlying transformers tokenizer."""
        return self._parts.tokenizer

    # ----------------------------------------------------------------- loading

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str],
        *,
        layout: Layout | None = None,
        device: str | Any | None = None,
        dtype: str | Any | None = None,
        query_length: int | None = None,
        document_length: int | None = None,
        special_tokens: SpecialTokens = "cls",
        revision: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool | None = None,
        token: str | bool | None = None,
        trust_remote_code: bool = False,
    ) -> TokenEncoder:
        """Load a checkpoint from a local directory or the Hugging Face hub (or its cache).

        Args:
            name_or_path: a local directory, or a hub repo id (``"colbert-ir/colbertv2.0"``)
                resolved through the Hugging Face cache like transformers does.
            layout: ``"stanford"``, ``"pylate"`` or ``"hf"``; detected when None
                (see :func:`detect_layout`).
            device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device``; default CUDA
                when available, else CPU.
            dtype: model weights' dtype (``"float32"``, ``"float16"``, ``"bfloat16"``);
                default float32. Outputs are always float32.
            query_length, document_length: token budgets including ``[CLS]``, marker and
                ``[SEP]``; default from the checkpoint (ColBERT) or 32 / the model's
                ``max_seq_length`` (``"hf"``).
            special_tokens: ``"hf"`` layout only: keep the leading ``[CLS]`` and drop other
                special tokens (``"cls"``, default), keep them all (``"all"``) or drop them
                all (``"none"``).
            revision, cache_dir, token, trust_remote_code: as in transformers.
            local_files_only: never download; default True when ``HF_HUB_OFFLINE`` (or
                ``TRANSFORMERS_OFFLINE``) is set.

        Raises:
            EncoderLoadError: the checkpoint is missing or unreadable.
            ValueError: a bad argument.
        """
        torch = _import_torch()
        if layout is not None and layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if special_tokens not in _SPECIAL_MODES:
            raise ValueError(
                f"special_tokens must be one of {_SPECIAL_MODES}, got {special_tokens!r}"
            )
        if query_length is not None:
            query_length = _positive_int(query_length, "query_length")
        if document_length is not None:
            document_length = _positive_int(document_length, "document_length")
        name = os.fspath(name_or_path)
        source = _Source(
            name,
            revision=revision,
            cache_dir=os.fspath(cache_dir) if cache_dir is not None else None,
            local_files_only=_env_offline() if local_files_only is None else bool(local_files_only),
            token=token,
        )
        detected = detect_layout(source)
        chosen: Layout = layout or detected
        builder = {"stanford": _build_stanford, "pylate": _build_pylate, "hf": _build_hf}[chosen]
        parts = builder(
            source,
            query_length=query_length,
            document_length=document_length,
            special_tokens=special_tokens,
            trust_remote_code=trust_remote_code,
        )
        _check_lengths(parts)

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        device = torch.device(device)
        torch_dtype = _torch_dtype(dtype)
        parts.model.to(device=device, dtype=torch_dtype).eval()
        if parts.projection is not None:
            parts.projection.to(device=device, dtype=torch_dtype).eval()
        return cls(parts, name=name, layout=chosen, device=device)

    # ----------------------------------------------------------------- encoding

    def encode_documents(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        show_progress: bool | None = None,
        as_torch: bool = False,
    ) -> list[Any]:
        """Encode documents: one ``(n_i, dim)`` float32 array of unit vectors per text.

        Texts are tokenised in chunks, sorted by token count so each batch pads little,
        run in batches of ``batch_size``, and returned in input order.

        Args:
            texts: the documents (a list or other sequence of ``str``).
            batch_size: texts per forward pass.
            show_progress: tqdm bar on stderr; None shows it for more than 1,000 texts.
            as_torch: return float32 ``torch.Tensor`` on the encoder's device instead of
                numpy arrays.
        """
        return list(self.iter_documents(texts, batch_size, show_progress, as_torch))

    def encode_queries(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        show_progress: bool | None = None,
        as_torch: bool = False,
    ) -> list[Any]:
        """Encode queries: one ``(n_i, dim)`` float32 array of unit vectors per text.

        With ColBERT query expansion every query has exactly ``query_length`` rows.
        Arguments as in :meth:`encode_documents`.
        """
        return list(
            self._iter(texts, self._parts.query, batch_size, show_progress, as_torch, "query")
        )

    def iter_documents(
        self,
        texts: Iterable[str],
        batch_size: int = 32,
        show_progress: bool | None = None,
        as_torch: bool = False,
    ) -> Iterator[Any]:
        """Like :meth:`encode_documents`, but streams: takes any iterable (a generator
        over a corpus file, say) and yields arrays in input order, holding only one chunk
        (``32 * batch_size`` texts) in memory at a time."""
        return self._iter(texts, self._parts.document, batch_size, show_progress, as_torch, "doc")

    def iter_queries(
        self,
        texts: Iterable[str],
        batch_size: int = 32,
        show_progress: bool | None = None,
        as_torch: bool = False,
    ) -> Iterator[Any]:
        """Streaming form of :meth:`encode_queries` (see :meth:`iter_documents`)."""
        return self._iter(texts, self._parts.query, batch_size, show_progress, as_torch, "query")

    # ----------------------------------------------------------------- internals

    def _iter(
        self,
        texts: Iterable[str],
        side: _Side,
        batch_size: int,
        show_progress: bool | None,
        as_torch: bool,
        unit: str,
    ) -> Iterator[Any]:
        if isinstance(texts, (str, bytes)):
            raise TypeError(
                "texts must be a list of strings, not a single string: wrap it in [...]"
            )
        batch_size = _positive_int(batch_size, "batch_size")
        total = len(texts) if hasattr(texts, "__len__") else None  # type: ignore[arg-type]
        if show_progress is None:
            show_progress = total is not None and total > 1000
        return self._generate(
            iter(texts), total, side, batch_size, bool(show_progress), as_torch, unit
        )

    def _generate(
        self,
        it: Iterator[str],
        total: int | None,
        side: _Side,
        batch_size: int,
        show_progress: bool,
        as_torch: bool,
        unit: str,
    ) -> Iterator[Any]:
        from tqdm.auto import tqdm

        chunk_size = batch_size * _CHUNK_BATCHES
        desc = "Encoding queries" if unit == "query" else "Encoding documents"
        position = 0
        with tqdm(total=total, disable=not show_progress, unit=unit, desc=desc) as bar:
            while True:
                chunk: list[str] = []
                for text in it:
                    if not isinstance(text, str):
                        raise TypeError(
                            f"text #{position + len(chunk)} is {type(text).__name__}, not str"
                        )
                    chunk.append(text)
                    if len(chunk) == chunk_size:
                        break
                if not chunk:
                    return
                ids = self._tokenize(chunk, side)
                order = np.argsort([-len(x) for x in ids], kind="stable")
                results: list[Any] = [None] * len(chunk)
                for start in range(0, len(order), batch_size):
                    idx = order[start : start + batch_size]
                    outs = self._forward([ids[i] for i in idx], side, as_torch)
                    for i, out in zip(idx, outs):
                        results[i] = out
                    bar.update(len(idx))
                position += len(chunk)
                yield from results

    def _tokenize(self, texts: list[str], side: _Side) -> list[list[int]]:
        """Token ids per text: specials added, truncated, marker inserted at position 1."""
        if side.strip:
            texts = [t.strip() for t in texts]
        if side.lowercase:
            texts = [t.lower() for t in texts]
        budget = side.max_length - (1 if side.prefix_id is not None else 0)
        enc = self._parts.tokenizer(
            texts,
            add_special_tokens=True,
            truncation=True,
            max_length=budget,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        ids = [list(x) for x in enc["input_ids"]]
        if side.prefix_id is not None:
            ids = [x[:1] + [side.prefix_id] + x[1:] for x in ids]
        return ids

    def _forward(self, ids: list[list[int]], side: _Side, as_torch: bool) -> list[Any]:
        """Run one batch; returns one float32 (n_i, dim) unit-vector block per text."""
        torch = _import_torch()
        with torch.inference_mode():
            return self._forward_batch(ids, side, as_torch, torch)

    def _forward_batch(
        self, ids: list[list[int]], side: _Side, as_torch: bool, torch: Any
    ) -> list[Any]:
        parts = self._parts
        n = len(ids)
        lengths = [len(x) for x in ids]
        width = side.max_length if side.expand else max(lengths)
        pad_id = side.expansion_id if side.expand else _pad_id(parts.tokenizer)
        input_ids = torch.full((n, width), pad_id, dtype=torch.long)
        real = torch.zeros((n, width), dtype=torch.bool)
        for row, seq in enumerate(ids):
            input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            real[row, : len(seq)] = True
        attention = torch.ones_like(real) if (side.expand and side.attend_expansion) else real
        if side.expand:
            keep = torch.ones_like(real)
        else:
            keep = real.clone()
            if side.skip_ids:
                skipped = torch.isin(input_ids, torch.tensor(side.skip_ids, dtype=torch.long))
                if side.keep_first:
                    skipped[:, 0] = False
                keep &= ~skipped
        input_ids = input_ids.to(self.device)
        hidden = parts.model(
            input_ids=input_ids, attention_mask=attention.to(self.device, dtype=torch.long)
        ).last_hidden_state
        if parts.projection is not None:
            hidden = parts.projection(hidden)
        keep_dev = keep.to(self.device)
        flat = torch.nn.functional.normalize(hidden[keep_dev].float(), p=2, dim=-1)
        counts = keep.sum(dim=1).tolist()
        if as_torch:
            return list(torch.split(flat, counts))
        flat_np = flat.cpu().numpy()
        return np.split(flat_np, np.cumsum(counts)[:-1])


# --------------------------------------------------------------------------------------
# Layout builders.
# --------------------------------------------------------------------------------------


def _pad_id(tokenizer: Any) -> int:
    pid = tokenizer.pad_token_id
    return int(pid) if pid is not None else 0


def _torch_dtype(dtype: Any) -> Any:
    torch = _import_torch()
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    table = {
        "float32": torch.float32,
        "fp32": torch.float32,
        "float16": torch.float16,
        "fp16": torch.float16,
        "half": torch.float16,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
    }
    if str(dtype) not in table:
        raise ValueError(f"dtype must be one of {sorted(table)} or a torch.dtype, got {dtype!r}")
    return table[str(dtype)]


def _check_lengths(parts: _Parts) -> None:
    limit = getattr(parts.model.config, "max_position_embeddings", None)
    for what, side in (("query_length", parts.query), ("document_length", parts.document)):
        minimum = 3 if side.prefix_id is not None else 2
        if side.max_length < minimum:
            raise ValueError(f"{what} must be at least {minimum} tokens, got {side.max_length}")
        if limit is not None and side.max_length > limit:
            raise ValueError(
                f"{what}={side.max_length} exceeds the model's max_position_embeddings ({limit})"
            )


def _build_stanford(
    source: _Source,
    *,
    query_length: int | None,
    document_length: int | None,
    special_tokens: str,
    trust_remote_code: bool,
) -> _Parts:
    """colbert-ai 0.2.22: Checkpoint.queryFromText / docFromText(keep_dims=False)."""
    torch = _import_torch()
    meta = source.json("artifact.metadata") or {}
    if isinstance(meta, dict) and isinstance(meta.get("config"), dict):
        meta = meta["config"]
    cfg = {**_STANFORD_DEFAULTS, **{k: v for k, v in dict(meta).items() if v is not None}}
    tokenizer = _load_tokenizer(source, "", trust_remote_code)
    model = _load_backbone(source, "", trust_remote_code)
    weight = _load_tensor(source, "linear.weight")
    hidden = model.config.hidden_size
    if weight.ndim != 2 or weight.shape[1] != hidden:
        raise EncoderLoadError(
            f"{source.name!r}: linear.weight has shape {tuple(weight.shape)}, "
            f"expected (dim, {hidden})"
        )
    linear = torch.nn.Linear(hidden, weight.shape[0], bias=False)
    with torch.no_grad():
        linear.weight.copy_(weight.float())

    q_marker = _token_id(tokenizer, str(cfg["query_token_id"]), "query marker")
    d_marker = _token_id(tokenizer, str(cfg["doc_token_id"]), "document marker")
    if tokenizer.mask_token_id is None:
        raise EncoderLoadError(f"{source.name!r}: tokenizer has no [MASK] token for query padding")
    skip: tuple[int, ...] = ()
    if cfg["mask_punctuation"]:
        # colbert/modeling/colbert.py: the first token id of every string.punctuation symbol.
        skip = tuple(
            sorted(
                {
                    int(tokenizer.encode(sym, add_special_tokens=False)[0])
                    for sym in string.punctuation
                    if tokenizer.encode(sym, add_special_tokens=False)
                }
            )
        )
    q_len = query_length or int(cfg["query_maxlen"])
    d_len = document_length or int(cfg["doc_maxlen"])
    query = _Side(
        max_length=q_len,
        prefix_id=q_marker,
        expand=True,
        expansion_id=int(tokenizer.mask_token_id),
        attend_expansion=bool(cfg["attend_to_mask_tokens"]),
    )
    document = _Side(max_length=d_len, prefix_id=d_marker, skip_ids=skip)
    settings = {
        "query_length": q_len,
        "document_length": d_len,
        "query_marker": str(cfg["query_token_id"]),
        "document_marker": str(cfg["doc_token_id"]),
        "query_expansion": True,
        "attend_to_expansion_tokens": bool(cfg["attend_to_mask_tokens"]),
        "skiplist_ids": list(skip),
    }
    return _Parts(model, tokenizer, linear, query, document, int(weight.shape[0]), 2, settings)


def _build_pylate(
    source: _Source,
    *,
    query_length: int | None,
    document_length: int | None,
    special_tokens: str,
    trust_remote_code: bool,
) -> _Parts:
    """PyLate 1.6: ColBERT.encode(is_query=True/False), normalize_embeddings=True."""
    torch = _import_torch()
    modules = source.json("modules.json") or []
    transformer_path = ""
    dense_paths: list[str] = []
    for entry in sorted(modules, key=lambda m: int(m.get("idx", 0))):
        kind = str(entry.get("type", ""))
        if kind.endswith("Transformer") or ".Transformer" in kind:
            transformer_path = str(entry.get("path", ""))
        elif kind.endswith("Dense") or ".Dense." in kind:
            dense_paths.append(str(entry.get("path", "")))
    st_cfg = source.json("config_sentence_transformers.json") or {}
    sbert_cfg = source.json("sentence_bert_config.json", transformer_path) or {}
    cfg = {**_PYLATE_DEFAULTS}
    for key in (
        "query_prefix",
        "document_prefix",
        "query_length",
        "document_length",
        "do_query_expansion",
        "attend_to_expansion_tokens",
        "skiplist_words",
    ):
        if isinstance(st_cfg, dict) and st_cfg.get(key) is not None:
            cfg[key] = st_cfg[key]

    tokenizer = _load_tokenizer(source, transformer_path, trust_remote_code)
    model = _load_backbone(source, transformer_path, trust_remote_code)

    layers: list[Any] = []
    in_dim = model.config.hidden_size
    for path in dense_paths:
        layers.append(_load_dense(source, path))
        if layers[-1].in_features != in_dim:
            raise EncoderLoadError(
                f"{source.name!r}: Dense module {path!r} expects {layers[-1].in_features} "
                f"inputs but receives {in_dim}"
            )
        in_dim = layers[-1].out_features
    projection = torch.nn.Sequential(*layers) if layers else None

    # Prefixes are tokens of their own (PyLate adds them to the tokenizer when missing).
    prefix_ids: dict[str, int | None] = {}
    for key in ("query_prefix", "document_prefix"):
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
    expand = bool(cfg["do_query_expansion"])
    attend = bool(cfg["attend_to_expansion_tokens"]) and expand
    lowercase = (
        bool(sbert_cfg.get("do_lower_case", False)) if isinstance(sbert_cfg, dict) else False
    )
    q_len = query_length or int(cfg["query_length"])
    d_len = document_length or int(cfg["document_length"])
    query = _Side(
        max_length=q_len,
        prefix_id=prefix_ids["query_prefix"],
        expand=expand,
        expansion_id=expansion_id,
        attend_expansion=attend,
        strip=True,
        lowercase=lowercase,
    )
    document = _Side(
        max_length=d_len,
        prefix_id=prefix_ids["document_prefix"],
        skip_ids=skip,
        strip=True,
        lowercase=lowercase,
    )
    protected = _leading_special(tokenizer) + (
        1 if prefix_ids["document_prefix"] is not None else 0
    )
    settings = {
        "query_length": q_len,
        "document_length": d_len,
        "query_marker": cfg["query_prefix"],
        "document_marker": cfg["document_prefix"],
        "query_expansion": expand,
        "attend_to_expansion_tokens": attend,
        "skiplist_ids": list(skip),
        "dense_modules": dense_paths,
    }
    return _Parts(model, tokenizer, projection, query, document, in_dim, protected, settings)


def _load_dense(source: _Source, path: str) -> Any:
    """A sentence-transformers / PyLate Dense module as a torch.nn.Module."""
    cfg = source.json("config.json", path)
    if not isinstance(cfg, dict):
        raise EncoderLoadError(f"{source.name!r}: Dense module {path!r} has no config.json")
    files = _find_weights(source, path)
    if not files:
        raise EncoderLoadError(f"{source.name!r}: Dense module {path!r} has no weights")
    state: dict[str, Any] = {}
    for f in files:
        state.update(_load_state_dict(f))
    return _dense_class()(
        int(cfg["in_features"]),
        int(cfg["out_features"]),
        bias=bool(cfg.get("bias", True)),
        activation=_resolve_activation(cfg.get("activation_function")),
        use_residual=bool(cfg.get("use_residual", False)),
        state=state,
        where=f"{source.name}/{path}",
    )


@functools.lru_cache(maxsize=1)
def _dense_class() -> Any:
    torch = _import_torch()

    class Dense(torch.nn.Module):  # type: ignore[name-defined,misc]
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

    return Dense


def _leading_special(tokenizer: Any) -> int:
    """1 when the tokenizer puts a special token ([CLS], <s>) in front of every text."""
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return int(bool(ids) and ids[0] in set(tokenizer.all_special_ids))


def _build_hf(
    source: _Source,
    *,
    query_length: int | None,
    document_length: int | None,
    special_tokens: str,
    trust_remote_code: bool,
) -> _Parts:
    """Plain encoder: last hidden states, padding removed, specials per ``special_tokens``."""
    modules = source.json("modules.json") or []
    transformer_path = ""
    for entry in modules if isinstance(modules, list) else []:
        kind = str(entry.get("type", ""))
        if kind.endswith("Transformer") or ".Transformer" in kind:
            transformer_path = str(entry.get("path", ""))
            break
    sbert_cfg = source.json("sentence_bert_config.json", transformer_path) or {}
    tokenizer = _load_tokenizer(source, transformer_path, trust_remote_code)
    model = _load_backbone(source, transformer_path, trust_remote_code)
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
    leading = _leading_special(tokenizer)
    if special_tokens == "all":
        skip: tuple[int, ...] = ()
        protected = leading
    elif special_tokens == "none":
        skip = tuple(sorted(specials))
        protected = 0
    else:  # "cls"
        skip = tuple(sorted(specials))
        protected = leading
    lowercase = (
        bool(sbert_cfg.get("do_lower_case", False)) if isinstance(sbert_cfg, dict) else False
    )
    q_len = query_length or min(_HF_QUERY_LENGTH, default_doc)
    d_len = document_length or default_doc
    keep_first = special_tokens == "cls" and leading == 1
    query = _Side(max_length=q_len, skip_ids=skip, keep_first=keep_first, lowercase=lowercase)
    document = _Side(max_length=d_len, skip_ids=skip, keep_first=keep_first, lowercase=lowercase)
    settings = {
        "query_length": q_len,
        "document_length": d_len,
        "special_tokens": special_tokens,
        "query_expansion": False,
    }
    return _Parts(
        model, tokenizer, None, query, document, int(model.config.hidden_size), protected, settings
    )
