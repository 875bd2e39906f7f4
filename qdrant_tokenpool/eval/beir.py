"""BEIR-format data sets (as released by BEIR, e.g. SciFact)::

    corpus.jsonl        {"_id": str, "title": str, "text": str} per line
    queries.jsonl       {"_id": str, "text": str} per line
    qrels/test.tsv      query-id <TAB> corpus-id <TAB> score, with a header line
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BeirDataset", "file_sha256", "load_beir"]


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class BeirDataset:
    """One BEIR split in memory.

    Attributes:
        name, split: folder name (``"scifact"``) and qrels split (``"test"``).
        doc_ids: corpus ids in file order; titles, texts: aligned with them.
        query_ids: the queries judged in ``split`` (as BEIR's loader keeps), in file order.
        queries: query text per id in ``query_ids``.
        qrels: ``{query_id: {doc_id: relevance}}`` (integer grades).
        checksums: SHA-256 of ``corpus.jsonl``, ``queries.jsonl`` and the qrels file.
    """

    name: str
    split: str
    doc_ids: list[str]
    titles: list[str]
    texts: list[str]
    query_ids: list[str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    checksums: dict[str, str] = field(default_factory=dict)

    @property
    def documents(self) -> list[str]:
        """Document texts as BEIR's dense models join them: ``(title + " " + text).strip()``."""
        return [(t + " " + x).strip() for t, x in zip(self.titles, self.texts)]

    @property
    def query_texts(self) -> list[str]:
        """Query texts aligned with :attr:`query_ids`."""
        return [self.queries[q] for q in self.query_ids]

    def __repr__(self) -> str:  # keep it short: the corpus is big
        return (
            f"BeirDataset(name={self.name!r}, split={self.split!r}, docs={len(self.doc_ids)}, "
            f"queries={len(self.query_ids)}, judgments={sum(len(v) for v in self.qrels.values())})"
        )


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict) or "_id" not in row:
                raise ValueError(f"{path}:{lineno}: expected an object with an '_id' field")
            rows.append(row)
    return rows


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for lineno, row in enumerate(reader, 1):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) < 3:
                raise ValueError(
                    f"{path}:{lineno}: expected 'query-id<TAB>corpus-id<TAB>score', got {row!r}"
                )
            qid, did, score = row[0].strip(), row[1].strip(), row[2].strip()
            try:
                grade = int(float(score))
            except ValueError:
                if lineno == 1:  # header line
                    continue
                raise ValueError(f"{path}:{lineno}: score {score!r} is not a number") from None
            qrels.setdefault(qid, {})[did] = grade
    return qrels


def load_beir(data_dir: str | Path, split: str = "test") -> BeirDataset:
    """Load a BEIR folder with the qrels of ``split``: the judged queries only; judgments of
    documents missing from the corpus are kept (they count in recall and the ideal DCG, as
    in BEIR/pytrec_eval).

    Raises:
        FileNotFoundError: a file is missing (the message names it).
        ValueError: a malformed line (file and line number named), duplicate ids, or a
            judged query that is missing from ``queries.jsonl``.
    """
    root = Path(data_dir).expanduser()
    paths = {
        "corpus": root / "corpus.jsonl",
        "queries": root / "queries.jsonl",
        "qrels": root / "qrels" / f"{split}.tsv",
    }
    corpus_path, qrels_path = paths["corpus"], paths["qrels"]
    for p in paths.values():
        if not p.is_file():
            raise FileNotFoundError(f"BEIR folder {root}: missing {p.relative_to(root)}")

    doc_ids, titles, texts, seen = [], [], [], set()
    for row in _read_jsonl(corpus_path):
        did = str(row["_id"])
        if did in seen:
            raise ValueError(f"{corpus_path}: duplicate document id {did!r}")
        seen.add(did)
        doc_ids.append(did)
        titles.append(str(row.get("title") or ""))
        texts.append(str(row.get("text") or ""))

    rows = _read_jsonl(paths["queries"])
    all_queries = {str(row["_id"]): str(row.get("text") or "") for row in rows}

    qrels = _read_qrels(qrels_path)
    missing = [q for q in qrels if q not in all_queries]
    if missing:
        raise ValueError(
            f"{qrels_path}: {len(missing)} judged queries are missing from queries.jsonl "
            f"(e.g. {missing[:3]})"
        )
    query_ids = [q for q in all_queries if q in qrels]
    return BeirDataset(
        name=root.resolve().name,
        split=split,
        doc_ids=doc_ids,
        titles=titles,
        texts=texts,
        query_ids=query_ids,
        queries={q: all_queries[q] for q in query_ids},
        qrels=qrels,
        checksums={name: file_sha256(path) for name, path in paths.items()},
    )
