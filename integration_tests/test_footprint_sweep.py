"""The footprint sweep on Qdrant Edge, end to end on a small synthetic BEIR folder: rows
measured from the engine's files, quality against exact MaxSim, the choice at a floor, a
collection created with it (library and CLI), shown by ``stats``, filled by ``index``."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from qdrant_tokenpool import TokenPoolingClient
from qdrant_tokenpool.cli import app
from qdrant_tokenpool.footprint import FOOTPRINT_KEY
from qdrant_tokenpool.ops import (
    FootprintSweep,
    collection_stats,
    create_footprint_collection,
    footprint_sweep,
    recommend_footprint,
)

pytest.importorskip("qdrant_edge")

WORDS = ["apple", "tree", "car", "battery", "fruit", "forest", "phone", "energy", "banana", "motor", "pine", "grape", "salad", "yellow", "red"]


class Words:
    """Toy encoder: a word -> a fixed random unit vector (crc32 seed), [CLS] first."""

    name, dim, protected_tokens = "toy-words", 32, 1

    def _vec(self, w: str) -> np.ndarray:
        v = np.random.default_rng(zlib.crc32(w.encode())).standard_normal(self.dim)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def _enc(self, texts: list[str]) -> list[np.ndarray]:
        return [np.stack([self._vec("[CLS]")] + [self._vec(w) for w in t.lower().split()]) for t in texts]

    def encode_documents(self, texts, batch_size=32, show_progress=False):
        return self._enc(texts)

    def encode_queries(self, texts, batch_size=32, show_progress=False):
        return self._enc(texts)


def beir(root: Path, n_docs: int = 60, n_queries: int = 12) -> Path:
    rng = np.random.default_rng(0)
    (root / "qrels").mkdir(parents=True)
    docs = [" ".join(rng.choice(WORDS, size=int(rng.integers(8, 20)))) for _ in range(n_docs)]
    with open(root / "corpus.jsonl", "w") as fh:
        fh.writelines(json.dumps({"_id": f"d{i}", "title": "", "text": d}) + "\n" for i, d in enumerate(docs))
    qrels = ["query-id\tcorpus-id\tscore"]
    with open(root / "queries.jsonl", "w") as fh:
        for q in range(n_queries):
            target = int(rng.integers(n_docs))
            words = docs[target].split()[:4]
            fh.write(json.dumps({"_id": f"q{q}", "text": " ".join(words)}) + "\n")
            qrels.append(f"q{q}\td{target}\t1")
    (root / "qrels" / "test.tsv").write_text("\n".join(qrels) + "\n")
    return root


def test_sweep_recommend_create(tmp_path: Path) -> None:
    data = beir(tmp_path / "data")
    seen = []
    sweep = footprint_sweep(
        data, Words(), pool_factors=(1, 2), storages=("float32", "float16", "tq1", "bq2"),
        cache_dir=tmp_path / "cache", work_dir=tmp_path, out_dir=tmp_path / "out", verbose=False,
        on_row=seen.append,
    )
    assert [r.key for r in sweep.rows] == [
        "pf1/float32", "pf1/float16", "pf1/tq1", "pf1/tq1/rescore", "pf1/bq2", "pf1/bq2/rescore",
        "pf2/float32", "pf2/float16", "pf2/tq1", "pf2/tq1/rescore", "pf2/bq2", "pf2/bq2/rescore",
    ] == [r.key for r in seen]
    by = {r.key: r for r in sweep.rows}
    # Edge float32 at pf=1 gives the exact MaxSim quality; rescoring from float32 too
    assert by["pf1/float32"].relative_ndcg == pytest.approx(1.0, abs=1e-6)
    assert by["pf1/tq1/rescore"].relative_ndcg == pytest.approx(1.0, abs=0.02)
    # bytes measured from the files: float16 vectors take about half of float32's; the
    # 1-bit codes in RAM far less; quantized storages keep float32 vectors on disk
    assert by["pf1/float16"].files["vectors"] < 0.75 * by["pf1/float32"].files["vectors"]  # 4 KiB blocks
    assert by["pf1/tq1"].ram_bytes < by["pf1/float16"].ram_bytes
    assert by["pf1/tq1"].files["vectors"] >= by["pf1/float32"].files["vectors"] * 0.9
    assert by["pf2/float32"].vectors_per_doc < by["pf1/float32"].vectors_per_doc
    assert all(r.ms_p50 > 0 and r.write_docs_per_s > 0 and r.disk_bytes > 0 for r in sweep.rows)
    assert not list(tmp_path.glob("footprint-*"))  # the Edge folders are removed
    assert FootprintSweep.from_json(tmp_path / "out" / "footprint.json") == sweep
    assert (tmp_path / "out" / "footprint.png").stat().st_size > 10_000

    choice = recommend_footprint(sweep, 0.5)
    client = TokenPoolingClient(path=str(tmp_path / "db"), engine="edge")
    entry = create_footprint_collection(client, "fp", choice, sweep.dim, vector_name="tokens",
                                        sweep=sweep, min_quality=0.5)
    assert client.get_collection("fp").config.metadata[FOOTPRINT_KEY] == entry
    assert collection_stats(client, "fp").footprint == entry
    client.close()


def test_cli_footprint_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`eval --sweep` writes the sweep; `footprint --from-sweep -c` chooses from it and
    creates the collection; `stats` shows the choice."""
    data = beir(tmp_path / "data")
    sweep = footprint_sweep(data, Words(), pool_factors=(2,), storages=("float16", "tq1"),
                            cache_dir=tmp_path / "cache", verbose=False)
    sweep.save(tmp_path / "out", plot=False)
    runner = CliRunner()
    db = str(tmp_path / "db")
    res = runner.invoke(app, ["--path", db, "footprint", str(data), "--min-quality", "0.5",
                              "--from-sweep", str(tmp_path / "out" / "footprint.json"), "-c", "fp"])
    assert res.exit_code == 0, res.output
    assert "chosen: pf2/tq1" in res.output and "created collection 'fp'" in res.output
    res = runner.invoke(app, ["--path", db, "stats", "-c", "fp"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "footprint choice:" in res.output and "quantization turbo bits1" in res.output
    shown = json.loads(runner.invoke(app, ["--path", db, "-q", "stats", "-c", "fp", "--json"]).stdout)
    assert shown["footprint"]["storage"] == "tq1" and shown["vectors"]["tokens"]["quantization"].startswith("turbo")
    low = json.loads((tmp_path / "out" / "footprint.json").read_text())
    for r in low["rows"]:
        r["relative_ndcg"] = 0.5
    (tmp_path / "low.json").write_text(json.dumps(low))
    res = runner.invoke(app, ["--path", db, "footprint", str(data), "--min-quality", "0.9",
                              "--from-sweep", str(tmp_path / "low.json")])
    assert res.exit_code != 0 and "no configuration keeps 90.00%" in res.output
    res = runner.invoke(app, ["--path", db, "eval", str(data), "--sweep", "--storages", "uint8"])
    assert res.exit_code != 0 and "unit vectors become zeros" in res.output


def test_cli_eval_sweep_real_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`eval --sweep` with the bundled MiniLM: the table printed, the files written."""
    monkeypatch.setenv("QDRANT_TOKENPOOL_CACHE", str(tmp_path / "cache"))
    data = beir(tmp_path / "data", n_docs=20, n_queries=5)
    out = tmp_path / "sweep"
    res = CliRunner().invoke(app, ["-q", "eval", str(data), "--sweep", "--pool-factors", "2",
                                   "--storages", "float16,tq1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "| 2 | float16 | no |" in res.output and "| 2 | tq1 | yes |" in res.output
    sweep = FootprintSweep.from_json(out / "footprint.json")
    assert [r.key for r in sweep.rows] == ["pf2/float16", "pf2/tq1", "pf2/tq1/rescore"]
    assert sweep.dim == 384 and (out / "footprint.png").is_file() and (out / "footprint_table.txt").is_file()
