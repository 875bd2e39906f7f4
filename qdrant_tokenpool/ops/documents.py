"""Documents to index: the :class:`Document` record, deterministic point ids, and JSONL /
BEIR corpus files read with errors that name the file and line.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import OperationError

__all__ = [
    "ID_NAMESPACE",
    "Document",
    "DocumentError",
    "as_document",
    "corpus_file",
    "count_documents",
    "iter_documents",
    "point_id",
]

ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/qdrant-tokenpool/doc-id")
"""Namespace of the point ids: ``uuid5(ID_NAMESPACE, doc_id)``."""


class DocumentError(OperationError):
    """A document (or a corpus file line) is malformed; the message names where."""


@dataclass(frozen=True)
class Document:
    """One document: its original id, an optional title and the text."""

    doc_id: str
    title: str
    text: str

    @property
    def content(self) -> str:
        """Text to encode, joined as BEIR does: ``(title + " " + text).strip()``."""
        return (self.title + " " + self.text).strip()


def point_id(doc_id: str) -> str:
    """Qdrant point id of a document id: ``uuid5(ID_NAMESPACE, doc_id)`` (deterministic)."""
    return str(uuid.uuid5(ID_NAMESPACE, str(doc_id)))


def as_document(item: Any, where: str = "document") -> Document:
    """A :class:`Document` from a ``Document`` or a BEIR corpus row (``_id`` or ``id``,
    optional ``title`` and ``text``); ``DocumentError`` starting with ``where`` for no id,
    non-string title / text, or neither title nor text."""
    if isinstance(item, Document):
        row: Mapping[str, Any] = {"_id": item.doc_id, "title": item.title, "text": item.text}
    elif isinstance(item, Mapping):
        row = item
    else:
        raise DocumentError(f"{where}: expected a JSON object (or a Document)")
    doc_id = row.get("_id", row.get("id"))
    if doc_id is None or str(doc_id) == "":
        raise DocumentError(f"{where}: document has no '_id' (or 'id') field")
    title, text = row.get("title") or "", row.get("text") or ""
    if not isinstance(title, str) or not isinstance(text, str):
        raise DocumentError(f"{where}: 'title' and 'text' must be strings")
    if not (title + text).strip():
        raise DocumentError(f"{where}: document {doc_id!r} has no title and no text")
    return Document(str(doc_id), title, text)


def corpus_file(source: str | Path) -> Path:
    """The documents file of ``source``: a BEIR folder's ``corpus.jsonl``, or a JSONL file;
    ``DocumentError`` when neither exists."""
    path = Path(source).expanduser()
    if path.is_dir():
        f = path / "corpus.jsonl"
        if not f.is_file():
            raise DocumentError(
                f"{path} is a folder without corpus.jsonl (expected a BEIR-style folder)"
            )
        return f
    if not path.is_file():
        raise DocumentError(f"source {path} does not exist (give a BEIR folder or a .jsonl file)")
    return path


def iter_documents(path: str | Path) -> Iterator[Document]:
    """Documents of a JSONL file, one per non-empty line (see :func:`as_document`);
    errors name ``path:line``."""
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DocumentError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            yield as_document(row, f"{path}:{lineno}")


def count_documents(path: str | Path) -> int:
    """Number of documents in a JSONL file, after checking every line (bad JSON, missing
    or duplicate ids fail here, before anything is written)."""
    seen: set[str] = set()
    for n, doc in enumerate(iter_documents(path), 1):
        if doc.doc_id in seen:
            raise DocumentError(f"{path}: duplicate document id {doc.doc_id!r} (document {n})")
        seen.add(doc.doc_id)
    return len(seen)
