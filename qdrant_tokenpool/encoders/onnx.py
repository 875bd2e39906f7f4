"""The encoder on ONNX Runtime: the same token vectors as :class:`TokenEncoder`, no torch
(a search encodes one short query, yet loading torch costs seconds).

:func:`export_onnx` writes a loaded encoder's network, fast tokenizer and rules into a
folder, checked against the torch encoder; :class:`OnnxTokenEncoder` loads it. Exports are
cached under ``<cache>/onnx/``, keyed by the model folder's files and the token budgets.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np

from .._cachedir import default_cache_dir
from ..pooling.common import normalise
from ._common import EncoderLoadError, _Side, import_torch
from .encoder import TokenEncoder, _TokenEncoderBase

__all__ = [
    "EXPORT_FORMAT",
    "OnnxTokenEncoder",
    "cached_onnx_encoder",
    "ensure_onnx_export",
    "export_onnx",
    "onnx_cache_folder",
]

logger = logging.getLogger(__name__)

EXPORT_FORMAT = 1
"""Version of an export folder's ``encoder.json``; a folder of another version is not read."""

_MODEL = "model.onnx"
_TOKENIZER = "tokenizer.json"
_CONFIG = "encoder.json"
_TOLERANCE = 1e-4
"""Largest difference from the torch encoder an export may show on its self-check."""


class OnnxTokenEncoder(_TokenEncoderBase):
    """Texts -> per-token unit vectors on ONNX Runtime, from a folder :func:`export_onnx` wrote:
    the interface and outputs of :class:`~qdrant_tokenpool.encoders.TokenEncoder`, on the CPU.

    Args:
        folder: the export folder.
        threads: ONNX Runtime intra-op threads (``None``: its default, all cores).

    Raises:
        EncoderLoadError: the folder is missing, incomplete or of another format.
    """

    def __init__(self, folder: str | os.PathLike[str], *, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        try:
            config = json.loads((self.folder / _CONFIG).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EncoderLoadError(f"no ONNX encoder export in {self.folder}: {exc}") from None
        if config.get("format") != EXPORT_FORMAT:
            raise EncoderLoadError(
                f"ONNX encoder export {self.folder} has format {config.get('format')!r}; "
                f"this version reads format {EXPORT_FORMAT}"
            )
        self.name: str = config["name"]
        self.layout = config["layout"]
        self.dim = int(config["dim"])
        self.protected_tokens = int(config["protected_tokens"])
        self._query = _side(config["query"])
        self._document = _side(config["document"])
        self.query_length = self._query.max_length
        self.document_length = self._document.max_length
        self._pad_id = int(config["pad_id"])
        self._settings = dict(config.get("settings") or {})
        self._tokenizer = Tokenizer.from_file(str(self.folder / _TOKENIZER))
        self._tokenizer.no_padding()
        self._truncation_side = str(config.get("truncation_side") or "right")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        self._session = ort.InferenceSession(
            str(self.folder / _MODEL), options, providers=["CPUExecutionProvider"]
        )

    def _place(self) -> tuple[str, str]:
        return "folder", str(self.folder)

    def _token_ids(self, texts: list[str], budget: int) -> list[list[int]]:
        self._tokenizer.enable_truncation(max_length=budget, direction=self._truncation_side)
        return [list(e.ids) for e in self._tokenizer.encode_batch(texts, add_special_tokens=True)]

    def _forward(self, ids: list[list[int]], side: _Side, as_torch: bool) -> list[Any]:
        if as_torch:
            raise ValueError("OnnxTokenEncoder returns numpy arrays (as_torch=False)")
        input_ids, attention, keep = self._inputs(ids, side)
        (hidden,) = self._session.run(
            ["hidden"], {"input_ids": input_ids, "attention_mask": attention}
        )
        flat = normalise(np.asarray(hidden, dtype=np.float32)[keep], zero="keep")
        counts = keep.sum(axis=1)
        return np.split(flat, np.cumsum(counts)[:-1])


def _side(entry: dict[str, Any]) -> _Side:
    known = {f.name for f in fields(_Side)}
    values = {k: v for k, v in entry.items() if k in known}
    values["skip_ids"] = tuple(int(i) for i in values.get("skip_ids", ()))
    return _Side(**values)


def _network(model: Any, projection: Any) -> Any:
    """Backbone (+ projection) as one torch module: ``(input_ids, attention_mask) -> hidden``."""
    torch = import_torch()

    class Network(torch.nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.projection = projection

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return hidden if self.projection is None else self.projection(hidden)

    return Network().eval()


def export_onnx(
    encoder: TokenEncoder, folder: str | os.PathLike[str], *, opset: int = 17
) -> Path:
    """Write ``encoder`` (with a fast tokenizer) as an :class:`OnnxTokenEncoder` folder,
    replacing ``folder``, and return it.

    The network is exported on the CPU in float32, batch and sequence length dynamic.
    Before the folder is kept, both encoders encode a few texts: the vectors must agree
    within ``1e-4``. Written to a temporary folder and renamed into place.

    Raises:
        EncoderLoadError: the tokenizer is not a fast one, the network cannot be
            exported, or the export does not give the torch encoder's vectors.
    """
    torch = import_torch()
    backend = getattr(encoder.tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise EncoderLoadError(f"{encoder.name}: ONNX export needs a fast (Rust) tokenizer")
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        parts = encoder._parts
        network = _network(
            copy.deepcopy(parts.model).to("cpu", torch.float32),
            None
            if parts.projection is None
            else copy.deepcopy(parts.projection).to("cpu", torch.float32),
        )
        sample = torch.full((2, 8), encoder._pad_id, dtype=torch.long)
        mask = torch.ones_like(sample)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            with contextlib.redirect_stdout(None):
                torch.onnx.export(
                    network,
                    (sample, mask),
                    str(tmp / _MODEL),
                    input_names=["input_ids", "attention_mask"],
                    output_names=["hidden"],
                    dynamic_axes={
                        name: {0: "batch", 1: "tokens"}
                        for name in ("input_ids", "attention_mask", "hidden")
                    },
                    opset_version=opset,
                    dynamo=False,
                )
        backend.save(str(tmp / _TOKENIZER))
        config = {
            "format": EXPORT_FORMAT,
            "name": encoder.name,
            "layout": encoder.layout,
            "dim": int(encoder.dim),
            "protected_tokens": int(encoder.protected_tokens),
            "pad_id": int(encoder._pad_id),
            "truncation_side": str(getattr(encoder.tokenizer, "truncation_side", "right")),
            "query": asdict(encoder._query),
            "document": asdict(encoder._document),
            "settings": encoder.settings,
            "exported_with": {"torch": str(torch.__version__)},
        }
        (tmp / _CONFIG).write_text(json.dumps(config, indent=1, default=str), encoding="utf-8")
        _self_check(encoder, OnnxTokenEncoder(tmp))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except EncoderLoadError:
        raise
    except Exception as exc:  # any exporter failure: one clear error
        raise EncoderLoadError(f"{encoder.name}: ONNX export failed: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


_CHECK_TEXTS = [
    "What is token pooling?",
    "A longer text, with punctuation; numbers 1, 2 and 3: and " + "words repeated " * 12,
    "x",
]


def _self_check(torch_encoder: TokenEncoder, onnx_encoder: OnnxTokenEncoder) -> None:
    for side in ("queries", "documents"):
        a = getattr(torch_encoder, f"encode_{side}")(_CHECK_TEXTS, batch_size=2)
        b = getattr(onnx_encoder, f"encode_{side}")(_CHECK_TEXTS, batch_size=2)
        for text, x, y in zip(_CHECK_TEXTS, a, b):
            if x.shape != y.shape:
                raise EncoderLoadError(
                    f"{torch_encoder.name}: ONNX export gives {y.shape[0]} vectors for a "
                    f"{side[:-1]} where torch gives {x.shape[0]} ({text[:30]!r})"
                )
            diff = float(np.abs(x - y).max()) if x.size else 0.0
            if not diff <= _TOLERANCE:
                raise EncoderLoadError(
                    f"{torch_encoder.name}: ONNX export differs from torch by {diff:.2e} "
                    f"(> {_TOLERANCE}) on {side}"
                )


def _model_folder(model: str | os.PathLike[str]) -> Path | None:
    """A local model directory, or a hub id's snapshot in the Hugging Face cache (no
    network); ``None`` when not there."""
    name = os.fspath(model)
    if os.path.isdir(name):
        return Path(name).resolve()
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers/tokenizers
        return None
    try:
        found = try_to_load_from_cache(name, "config.json")
    except Exception:  # noqa: BLE001 - not a valid repo id
        return None
    return Path(found).parent if isinstance(found, str) else None


def onnx_cache_folder(
    model: str | os.PathLike[str],
    document_length: int,
    query_length: int,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path | None:
    """Where the cache keeps the ONNX export of ``model`` with these token budgets:
    ``<cache>/onnx/<key>``, keyed by the model folder's path and files (relative paths,
    sizes, modification times), the budgets and :data:`EXPORT_FORMAT`. ``None`` when the
    model's folder is not on this machine."""
    root = _model_folder(model)
    if root is None:
        return None
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    signature = [
        (str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in files
    ]
    blob = json.dumps(
        {
            "format": EXPORT_FORMAT,
            "model": str(root),
            "files": signature,
            "document_length": int(document_length),
            "query_length": int(query_length),
        },
        sort_keys=True,
    ).encode("utf-8")
    base = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return base / "onnx" / hashlib.sha256(blob).hexdigest()[:24]


def cached_onnx_encoder(
    model: str | os.PathLike[str],
    document_length: int = 256,
    query_length: int = 32,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> OnnxTokenEncoder | None:
    """The cached ONNX export of ``model`` as an :class:`OnnxTokenEncoder`, or ``None``
    (none, ``onnxruntime`` / ``tokenizers`` missing, or unreadable)."""
    folder = onnx_cache_folder(model, document_length, query_length, cache_dir=cache_dir)
    if folder is None or not (folder / _CONFIG).is_file():
        return None
    try:
        return OnnxTokenEncoder(folder)
    except ImportError:
        return None
    except Exception as exc:  # noqa: BLE001 - a bad cache entry: use the torch encoder
        logger.warning("ignoring the ONNX encoder cache entry %s: %s", folder, exc)
        return None


def ensure_onnx_export(
    encoder: Any,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    announce: Callable[[str], None] | None = None,
) -> Path | None:
    """Export a :class:`TokenEncoder` into the cache unless it is there; the folder, or
    ``None`` (no ``TokenEncoder``, no model folder here, or the export failed: logged as a
    warning). ``announce`` gets a message before an export starts."""
    if not isinstance(encoder, TokenEncoder):
        return None
    folder = onnx_cache_folder(
        encoder.name, encoder.document_length, encoder.query_length, cache_dir=cache_dir
    )
    if folder is None:
        return None
    if (folder / _CONFIG).is_file():
        return folder
    if announce is not None:
        announce(f"saving an ONNX copy of {encoder.name} for fast query encoding ...")
    try:
        return export_onnx(encoder, folder)
    except (EncoderLoadError, ImportError) as exc:
        logger.warning("no ONNX copy of the encoder (searches load torch): %s", exc)
        return None

