"""The encoder: :class:`TokenEncoder` loads a checkpoint in any layout (a builder per
layout: :data:`BUILDERS`) and turns texts into per-token unit vectors, batched."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import wait
from typing import Any

import numpy as np

from ..pooling._blas import SharedHold
from ..pooling.validation import check_int
from . import hf, pylate, stanford
from ._common import (
    LAYOUTS,
    SPECIAL_MODES,
    Builder,
    BuildOptions,
    Layout,
    SpecialTokens,
    _Parts,
    _Side,
    import_torch,
)
from .source import Source, detect_layout, env_offline
from .weights import pad_id, torch_dtype

__all__ = ["BUILDERS", "TokenEncoder"]

_CHUNK_BATCHES = 32  # batches per chunk of texts sorted by length before batching

BUILDERS: dict[str, Builder] = {
    "stanford": stanford.build,
    "pylate": pylate.build,
    "hf": hf.build,
}
"""The builder of each layout (a module with a ``build`` function; keys: :data:`LAYOUTS`)."""
assert tuple(BUILDERS) == LAYOUTS


def _one_torch_thread() -> int:
    torch = import_torch()
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    return int(before)


def _restore_torch_threads(before: int) -> None:
    import_torch().set_num_threads(before)


_torch_one_thread = SharedHold(_one_torch_thread, _restore_torch_threads)  # process-wide


class _TokenEncoderBase:
    """What :class:`TokenEncoder` (torch) and :class:`~.onnx.OnnxTokenEncoder` share: the
    encode methods, tokenisation rules, length-sorted batching and a batch's inputs. A
    subclass gives :meth:`_token_ids` and :meth:`_forward` and sets the attributes below."""

    name: str
    layout: str
    dim: int
    protected_tokens: int
    query_length: int
    document_length: int
    _query: _Side
    _document: _Side
    _pad_id: int
    _settings: dict[str, Any]

    def __repr__(self) -> str:
        where, value = self._place()
        return (
            f"{type(self).__name__}(name={self.name!r}, layout={self.layout!r}, dim={self.dim}, "
            f"query_length={self.query_length}, document_length={self.document_length}, "
            f"protected_tokens={self.protected_tokens}, {where}={value!r})"
        )

    def _place(self) -> tuple[str, str]:
        """Where the network runs, for ``repr``: ``("device", "cpu")``, ``("folder", ...)``."""
        raise NotImplementedError

    @property
    def settings(self) -> dict[str, Any]:
        """The layout settings in effect (lengths, markers, expansion, skiplist size)."""
        return dict(self._settings)

    def encode_documents(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        show_progress: bool | None = None,
        as_torch: bool = False,
    ) -> list[Any]:
        """Encode documents: one ``(n_i, dim)`` float32 array of unit vectors per text, in
        input order (each chunk of texts sorted by token count, so batches pad little).

        Args:
            texts: the documents (a sequence of ``str``).
            batch_size: texts per forward pass.
            show_progress: tqdm bar on stderr; ``None``: for more than 1,000 texts.
            as_torch: float32 ``torch.Tensor`` on the encoder's device instead of numpy.
        """
        return list(self.iter_documents(texts, batch_size, show_progress, as_torch))

    def encode_queries(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        show_progress: bool | None = None,
        as_torch: bool = False,
    ) -> list[Any]:
        """Encode queries, as :meth:`encode_documents`; with ColBERT query expansion every
        query has exactly ``query_length`` rows."""
        return list(self.iter_queries(texts, batch_size, show_progress, as_torch))

    def iter_documents(
        self,
        texts: Iterable[str],
        batch_size: int = 32,
        show_progress: bool | None = None,
        as_torch: bool = False,
    ) -> Iterator[Any]:
        """:meth:`encode_documents` as a stream: any iterable of texts, one chunk
        (``32 * batch_size`` texts) in memory at a time."""
        return self._iter(texts, self._document, batch_size, show_progress, as_torch, "doc")

    def iter_queries(
        self,
        texts: Iterable[str],
        batch_size: int = 32,
        show_progress: bool | None = None,
        as_torch: bool = False,
    ) -> Iterator[Any]:
        """Streaming form of :meth:`encode_queries` (see :meth:`iter_documents`)."""
        return self._iter(texts, self._query, batch_size, show_progress, as_torch, "query")

    def _iter(
        self,
        texts: Iterable[str],
        side: _Side,
        batch_size: int,
        show_progress: bool | None,
        as_torch: bool,
        unit: str,
    ) -> Iterator[Any]:
        """The encode methods' generator (arguments checked at the call, not at ``next``)."""
        if isinstance(texts, (str, bytes)):
            raise TypeError(
                "texts must be a list of strings, not a single string: wrap it in [...]"
            )
        batch_size = check_int("batch_size", batch_size)
        total = len(texts) if hasattr(texts, "__len__") else None  # type: ignore[arg-type]
        if show_progress is None:
            show_progress = total is not None and total > 1000
        it = iter(texts)

        def generate() -> Iterator[Any]:
            from tqdm.auto import tqdm

            chunk_size = batch_size * _CHUNK_BATCHES
            desc = "Encoding queries" if unit == "query" else "Encoding documents"
            with tqdm(total=total, disable=not show_progress, unit=unit, desc=desc) as bar:
                for start in itertools.count(0, chunk_size):
                    chunk = list(itertools.islice(it, chunk_size))
                    if not chunk:
                        return
                    for j, text in enumerate(chunk):
                        if not isinstance(text, str):
                            raise TypeError(f"text #{start + j} is {type(text).__name__}, not str")
                    ids = self._tokenize(chunk, side)
                    order = np.argsort([-len(x) for x in ids], kind="stable")
                    results: list[Any] = [None] * len(chunk)
                    batches = [order[a : a + batch_size] for a in range(0, len(order), batch_size)]
                    for idx, outs in self._run_batches(ids, batches, side, as_torch):
                        for i, out in zip(idx, outs):
                            results[i] = out
                        bar.update(len(idx))
                    yield from results

        return generate()

    def _run_batches(
        self, ids: list[list[int]], batches: list[np.ndarray], side: _Side, as_torch: bool
    ) -> Iterator[tuple[np.ndarray, list[Any]]]:
        """``(batch, its outputs)`` for each batch of positions into ``ids``, in order."""
        for idx in batches:
            yield idx, self._forward([ids[i] for i in idx], side, as_torch)

    def _tokenize(self, texts: list[str], side: _Side) -> list[list[int]]:
        """Token ids per text: specials added, truncated, marker inserted at position 1."""
        if side.strip:
            texts = [t.strip() for t in texts]
        if side.lowercase:
            texts = [t.lower() for t in texts]
        budget = side.max_length - (1 if side.prefix_id is not None else 0)
        ids = self._token_ids(texts, budget)
        if side.prefix_id is not None:
            ids = [x[:1] + [side.prefix_id] + x[1:] for x in ids]
        return ids

    def _token_ids(self, texts: list[str], budget: int) -> list[list[int]]:
        """Token ids of each text with the tokenizer's specials, truncated to ``budget``."""
        raise NotImplementedError

    def _forward(self, ids: list[list[int]], side: _Side, as_torch: bool) -> list[Any]:
        """Run one batch; one float32 ``(n_i, dim)`` unit-vector block per text."""
        raise NotImplementedError

    def _inputs(
        self, ids: list[list[int]], side: _Side
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One batch as ``(input_ids, attention_mask, keep)``: ``(n, width)`` int64, int64
        and bool arrays; ``keep`` marks the positions whose vectors are returned."""
        n = len(ids)
        width = side.max_length if side.expand else max(len(x) for x in ids)
        fill_id = side.expansion_id if side.expand else self._pad_id
        input_ids = np.full((n, width), fill_id, dtype=np.int64)
        real = np.zeros((n, width), dtype=bool)
        for row, seq in enumerate(ids):
            input_ids[row, : len(seq)] = seq
            real[row, : len(seq)] = True
        attention = np.ones_like(real) if (side.expand and side.attend_expansion) else real
        if side.expand:
            keep = np.ones_like(real)
        else:
            keep = real.copy()
            if side.skip_ids:
                skipped = np.isin(input_ids, side.skip_ids)
                if side.keep_first:
                    skipped[:, 0] = False
                keep &= ~skipped
        return input_ids, attention.astype(np.int64), keep


class TokenEncoder(_TokenEncoderBase):
    """Turns texts into per-token unit vectors (documents and queries), batched.

    Build one with :meth:`from_pretrained`. ColBERT queries have exactly ``query_length``
    rows (``[MASK]`` padding); ColBERT documents ``[CLS]``, marker, tokens, ``[SEP]``
    without punctuation; ``"hf"`` the tokens with ``[CLS]`` kept and ``[SEP]`` dropped.

    Attributes:
        name, layout: where it was loaded from; one of :data:`LAYOUTS`.
        dim: the vector dimension ``d``.
        protected_tokens: leading document rows that are markers or ``[CLS]`` (for
            ``PoolingConfig``).
        query_length, document_length: token budgets (specials included).
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
        self._query = parts.query
        self._document = parts.document
        self._pad_id = pad_id(parts.tokenizer)
        self._settings = parts.settings

    def _place(self) -> tuple[str, str]:
        return "device", str(self.device)

    @property
    def tokenizer(self) -> Any:
        """The underlying transformers tokenizer."""
        return self._parts.tokenizer

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
            name_or_path: a local directory or a hub repo id (``"colbert-ir/colbertv2.0"``).
            layout: one of :data:`LAYOUTS`; ``None``: :func:`detect_layout`.
            device: a torch device; default CUDA when available, else CPU.
            dtype: the weights' dtype (default float32); outputs are always float32.
            query_length, document_length: token budgets including specials (default the
                checkpoint's; ``"hf"``: 32 and the model's ``max_seq_length``).
            special_tokens: ``"hf"`` only: keep the leading ``[CLS]`` (``"cls"``), ``"all"``
                or ``"none"``.
            revision, cache_dir, token, trust_remote_code: as in transformers.
            local_files_only: never download; default True when ``HF_HUB_OFFLINE`` is set.

        Raises:
            EncoderLoadError: the checkpoint is missing or unreadable. ValueError: a bad argument.
        """
        torch = import_torch()
        if layout is not None and layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if special_tokens not in SPECIAL_MODES:
            raise ValueError(
                f"special_tokens must be one of {SPECIAL_MODES}, got {special_tokens!r}"
            )
        if query_length is not None:
            query_length = check_int("query_length", query_length)
        if document_length is not None:
            document_length = check_int("document_length", document_length)
        name = os.fspath(name_or_path)
        source = Source(
            name,
            revision=revision,
            cache_dir=os.fspath(cache_dir) if cache_dir is not None else None,
            local_files_only=env_offline() if local_files_only is None else bool(local_files_only),
            token=token,
        )
        detected = detect_layout(source)  # also when a layout is given: checks config.json
        chosen: Layout = layout or detected
        options = BuildOptions(query_length, document_length, special_tokens, trust_remote_code)
        parts = BUILDERS[chosen](source, options)
        _check_lengths(parts)

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        device = torch.device(device)
        weights_dtype = torch_dtype(dtype)
        parts.model.to(device=device, dtype=weights_dtype).eval()
        if parts.projection is not None:
            parts.projection.to(device=device, dtype=weights_dtype).eval()
        return cls(parts, name=name, layout=chosen, device=device)

    def _run_batches(
        self, ids: list[list[int]], batches: list[np.ndarray], side: _Side, as_torch: bool
    ) -> Iterator[tuple[np.ndarray, list[Any]]]:
        """On the CPU, one batch per core, each on one torch thread, results in order: torch's
        own threads synchronise per operation on a batch's small products
        (docs/encoders.md). One batch, or a GPU: torch as usual."""
        workers = min(len(batches), os.cpu_count() or 1)
        if workers < 2 or str(self.device) != "cpu":
            yield from super()._run_batches(ids, batches, side, as_torch)
            return
        from ..pooling.batch import thread_pool

        with _torch_one_thread():
            pool = thread_pool(os.cpu_count() or 1, "encode")
            futures = [
                pool.submit(self._forward, [ids[i] for i in idx], side, as_torch)
                for idx in batches
            ]
            try:
                for idx, fut in zip(batches, futures):
                    yield idx, fut.result()
            finally:
                for fut in futures:
                    fut.cancel()
                wait(futures)  # torch keeps one thread until all are done

    def _token_ids(self, texts: list[str], budget: int) -> list[list[int]]:
        enc = self._parts.tokenizer(
            texts,
            add_special_tokens=True,
            truncation=True,
            max_length=budget,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        return [list(x) for x in enc["input_ids"]]

    def _forward(self, ids: list[list[int]], side: _Side, as_torch: bool) -> list[Any]:
        torch = import_torch()
        parts = self._parts
        input_ids, attention, keep = self._inputs(ids, side)
        with torch.inference_mode():
            hidden = parts.model(
                input_ids=torch.from_numpy(input_ids).to(self.device),
                attention_mask=torch.from_numpy(attention).to(self.device),
            ).last_hidden_state
            if parts.projection is not None:
                hidden = parts.projection(hidden)
            keep_dev = torch.from_numpy(keep).to(self.device)
            flat = torch.nn.functional.normalize(hidden[keep_dev].float(), p=2, dim=-1)
            counts = keep.sum(axis=1).tolist()
            if as_torch:
                return list(torch.split(flat, counts))
            return np.split(flat.cpu().numpy(), np.cumsum(counts)[:-1])


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

