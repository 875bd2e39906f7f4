"""fastembed late-interaction models as token encoders (the ``fastembed`` extra).

:class:`FastEmbedEncoder` wraps a fastembed ColBERT (ONNX Runtime, no torch) in the encoder
protocol. :func:`register_local_model` makes an ONNX model in a local folder known to
fastembed under a name, so ``models.Document(model=name)`` works too (fastembed 0.9
registers custom dense models only: this adds a class to its late-interaction registry).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..pooling.common import normalise

if TYPE_CHECKING:
    from fastembed import LateInteractionTextEmbedding

__all__ = [
    "FastEmbedEncoder",
    "fastembed_encoder_for",
    "is_fastembed_model",
    "register_local_model",
]

PROTECTED_TOKENS = 2
"""Leading rows of every fastembed document (``[CLS] [D] text``) that pooling keeps."""


def _fastembed() -> Any:
    try:
        import fastembed
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "fastembed models need the fastembed package: pip install 'qdrant-tokenpool[fastembed]'"
        ) from exc
    return fastembed


def is_fastembed_model(name: str) -> bool:
    """Whether ``name`` is a late-interaction text model fastembed knows (with those of
    :func:`register_local_model`); ``False`` without fastembed."""
    try:
        known = _known("colbert")
    except ImportError:
        return False
    return any(name.lower() == d.model.lower() for d in known)


def fastembed_encoder_for(model: str | Path) -> FastEmbedEncoder | None:
    """A :class:`FastEmbedEncoder` when ``model`` is not a local path and names a fastembed
    late-interaction model (fastembed installed), else ``None``."""
    text = str(model)
    if Path(text).expanduser().exists() or not is_fastembed_model(text):
        return None
    return FastEmbedEncoder(text)


_LOCAL_CLASSES: dict[str, Any] = {}

KINDS = ("colbert", "colpali")
"""What :func:`register_local_model` can register: a ColBERT (text) or a ColPali-style
model (text and images)."""


def _embedding_class(kind: str) -> Any:
    """fastembed's class for models of ``kind``: text or multimodal late interaction."""
    fastembed = _fastembed()
    if kind == "colbert":
        return fastembed.LateInteractionTextEmbedding
    return fastembed.LateInteractionMultimodalEmbedding


def _known(kind: str) -> list[Any]:
    return list(_embedding_class(kind)._list_supported_models())


def _local_class(kind: str) -> Any:
    """The fastembed model class serving registered local folders of ``kind`` (made, and
    added to fastembed's registry, once)."""
    if kind in _LOCAL_CLASSES:
        return _LOCAL_CLASSES[kind]
    registry = _embedding_class(kind).EMBEDDINGS_REGISTRY
    from fastembed.late_interaction.colbert import Colbert
    from fastembed.late_interaction_multimodal.colpali import ColPali

    base: Any = Colbert if kind == "colbert" else ColPali

    class Local(base):  # type: ignore[misc,valid-type]  # fastembed's own model class
        """A model in a local folder (see :func:`register_local_model`)."""

        descriptions: ClassVar[list[Any]] = []
        paths: ClassVar[dict[str, str]] = {}

        @classmethod
        def _list_supported_models(cls) -> list[Any]:
            return list(cls.descriptions)

        def __init__(self, model_name: str, *args: Any, **kwargs: Any) -> None:
            if not kwargs.get("specific_model_path"):
                kwargs["specific_model_path"] = self.paths[model_name.lower()]
            super().__init__(model_name, *args, **kwargs)

    Local.__name__ = Local.__qualname__ = f"Local{base.__name__}"
    registry.append(Local)
    _LOCAL_CLASSES[kind] = Local
    return Local


def register_local_model(
    name: str,
    path: str | Path,
    *,
    dim: int,
    kind: str = "colbert",
    model_file: str = "model.onnx",
    description: str = "local late-interaction model",
) -> None:
    """Make the ONNX late-interaction model in folder ``path`` a fastembed model ``name``.

    ``kind="colbert"`` (as fastembed's ``colbert-ir/colbertv2.0``): ``model_file`` (inputs
    ``input_ids``, ``attention_mask``; output ``(batch, tokens, dim)``), ``tokenizer.json``
    and ``tokenizer_config.json``, a vocabulary with ``[MASK]`` and the markers at ids 1 and
    2. ``kind="colpali"`` (as ``Qdrant/colpali-v1.3-fp16``): ``model_file`` also takes
    ``pixel_values`` ``(batch, 3, 448, 448)``, and ``preprocessor_config.json``. Texts and
    images are processed as fastembed's own model of that kind does; registering a name
    again points it to ``path``.

    Raises:
        ValueError: unknown ``kind``, ``name`` is one of fastembed's own models, ``dim``
            is not positive, or ``path`` lacks a file the kind needs.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    folder = Path(path).expanduser()
    needed = [model_file, "tokenizer.json", "tokenizer_config.json"]
    if kind == "colpali":
        needed.append("preprocessor_config.json")
    for file in needed:
        if not (folder / file).is_file():
            raise ValueError(f"{folder} has no {file}: not a fastembed {kind} folder")
    if int(dim) < 1:
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    cls = _local_class(kind)
    from fastembed.common.model_description import DenseModelDescription, ModelSource

    key = name.lower()
    if key not in cls.paths and any(key == d.model.lower() for d in _known(kind)):
        raise ValueError(f"{name!r} is one of fastembed's own models: pick another name")
    cls.descriptions[:] = [d for d in cls.descriptions if d.model.lower() != key]
    cls.descriptions.append(
        DenseModelDescription(
            model=name,
            dim=int(dim),
            description=description,
            license="local",
            size_in_GB=0.0,
            sources=ModelSource(hf=name),  # never fetched: the folder is given
            model_file=model_file,
        )
    )
    cls.paths[key] = str(folder)


class FastEmbedEncoder:
    """A fastembed late-interaction text model as a token encoder.

    Args:
        model: a name from ``LateInteractionTextEmbedding.list_supported_models()`` (or
            :func:`register_local_model`), or a ``LateInteractionTextEmbedding``.
        **kwargs: for ``LateInteractionTextEmbedding`` when ``model`` is a name.

    Attributes:
        name, dim, model: the model name, its vector size, the fastembed model.
        protected_tokens: 2 (``[CLS]`` and the document marker).

    Outputs: float32 ``(n_i, dim)`` unit rows per text, in order (queries normalised here).
    """

    layout = "fastembed"

    def __init__(self, model: str | LateInteractionTextEmbedding, **kwargs: Any) -> None:
        fastembed = _fastembed()
        if isinstance(model, str):
            built = fastembed.LateInteractionTextEmbedding(model, **kwargs)
        elif kwargs:
            raise TypeError("options are for a model name; this model is already built")
        else:
            built = model
        self.model: LateInteractionTextEmbedding = built
        self.name: str = built.model_name
        self.dim: int = int(built.embedding_size)
        self.protected_tokens: int = PROTECTED_TOKENS

    def __repr__(self) -> str:
        return f"FastEmbedEncoder(name={self.name!r}, dim={self.dim})"

    def cache_key(self) -> dict[str, Any]:
        """What identifies this encoder's output (for the evaluation cache)."""
        return {"class": "FastEmbedEncoder", "name": self.name, "dim": self.dim}

    def _arrays(self, rows: Iterable[Any], n: int, show_progress: bool | None) -> list[np.ndarray]:
        if show_progress or (show_progress is None and n > 1000):
            from tqdm.auto import tqdm

            rows = tqdm(rows, total=n, unit="text", desc=f"encoding with {self.name}")
        return [normalise(np.asarray(r, dtype=np.float32), zero="keep") for r in rows]

    def encode_documents(
        self, texts: Sequence[str], batch_size: int = 32, show_progress: bool | None = None
    ) -> list[np.ndarray]:
        """One ``(n_i, dim)`` float32 array of unit token vectors per text, in order."""
        texts = list(texts)
        rows = self.model.embed(texts, batch_size=batch_size)
        return self._arrays(rows, len(texts), show_progress)

    def encode_queries(
        self, texts: Sequence[str], batch_size: int = 32, show_progress: bool | None = None
    ) -> list[np.ndarray]:
        """One ``(q, dim)`` float32 array of unit query token vectors per text, in order."""
        texts = list(texts)
        return self._arrays(self.model.query_embed(texts), len(texts), show_progress)

    def iter_documents(self, texts: Iterable[str], batch_size: int = 32) -> Iterator[np.ndarray]:
        """Stream: one array per text of any iterable, in order (fastembed batches lazily)."""
        for r in self.model.embed(texts, batch_size=batch_size):
            yield normalise(np.asarray(r, dtype=np.float32), zero="keep")
