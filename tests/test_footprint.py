"""Storage specs, the stored footprint choice, choosing at a quality floor, the sweep's
files measured and its table, CSV, JSON and plot (qdrant_tokenpool.footprint and
qdrant_tokenpool.ops.footprint; the sweep on Qdrant Edge: integration_tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qdrant_client import models

from qdrant_tokenpool.footprint import (
    DEFAULT_STORAGES,
    FOOTPRINT_KEY,
    footprint_from_metadata,
    footprint_search_params,
    footprint_text,
    parse_storage,
    quantization_text,
)
from qdrant_tokenpool.ops.footprint import (
    ANCHORS,
    FootprintRow,
    FootprintSweep,
    anchor_bytes,
    folder_bytes,
    footprint_entry,
    pareto,
    recommend_footprint,
)


def test_parse_storage_parts_and_bits() -> None:
    assert parse_storage("float32").quantization is None and parse_storage("float32").bits == 32
    s = parse_storage("float16+tq1.5")
    assert (s.datatype, s.quantization, s.bits) == ("float16", "tq1.5", 1.5)
    assert parse_storage("pq16").bits == 2 and parse_storage("int8").bits == 8
    assert parse_storage("turbo4").bits == 4 and parse_storage("bq2").datatype == "float32"
    for bad in ("float8", "tq3", "bq4", "float16+float32", "tq1+bq1", ""):
        with pytest.raises(ValueError, match="unknown or repeated part"):
            parse_storage(bad)
    with pytest.raises(ValueError, match="unit vectors become zeros"):
        parse_storage("uint8")
    assert [parse_storage(x).bits for x in DEFAULT_STORAGES] == [32, 16, 8, 4, 8, 4, 2, 1.5, 1, 2, 1.5, 1]


def test_storage_configs() -> None:
    vp = parse_storage("turbo8").vector_params(128)
    assert vp.datatype == models.Datatype.TURBO8 and vp.on_disk is False and vp.quantization_config is None
    assert vp.multivector_config.comparator == models.MultiVectorComparator.MAX_SIM and vp.hnsw_config.m == 0
    q = parse_storage("bq1.5").vector_params(128)
    assert q.on_disk is True and q.datatype is None
    assert q.quantization_config.binary.encoding == models.BinaryQuantizationEncoding.ONE_AND_HALF_BITS
    assert q.quantization_config.binary.always_ram is True
    assert parse_storage("tq2").quantization_config().turbo.bits == models.TurboQuantBitSize.BITS2
    assert parse_storage("int8").quantization_config().scalar.type == models.ScalarType.INT8
    assert parse_storage("pq32").quantization_config().product.compression == models.CompressionRatio.X32
    sp = parse_storage("tq1").search_params(True, 3.0)
    assert sp.quantization.rescore is True and sp.quantization.oversampling == 3.0
    assert parse_storage("tq1").search_params(False, 3.0).quantization.oversampling is None
    assert parse_storage("float16").search_params(True) is None
    assert quantization_text(parse_storage("tq1").quantization_config()) == "turbo bits1, always_ram=True"
    assert quantization_text(None) is None


def row(pf: float, storage: str, rel: float, ram: float, disk: float, rescore: bool = False, ms: float = 1.0) -> FootprintRow:
    return FootprintRow(pf, storage, rescore, rel * 0.7, 0.9, rel, 100 / pf, ram, disk, ram, ms, 100.0,
                        parse_storage(storage).bits)


SWEEP = FootprintSweep(
    "toy", 10, 3, 8, 100.0, 0.7, 0.9, 3200.0,
    rows=[
        row(1, "float32", 1.0, 3200, 3300),
        row(2, "float16", 0.995, 800, 900),
        row(4, "tq1", 0.991, 30, 900),
        row(4, "tq1", 0.999, 30, 900, rescore=True, ms=3.0),
        row(8, "tq1", 0.97, 15, 500),
        row(4, "turbo4", 0.985, 100, 120),
    ],
)


def test_recommend_smallest_at_the_floor() -> None:
    assert recommend_footprint(SWEEP, 0.99).key == "pf4/tq1"  # ties on bytes: the faster
    assert recommend_footprint(SWEEP, 0.995).key == "pf4/tq1/rescore"
    assert recommend_footprint(SWEEP, 0.995, rescore=False).key == "pf2/float16"
    assert recommend_footprint(SWEEP, 0.96).key == "pf8/tq1"
    assert recommend_footprint(SWEEP, 0.98, minimize="disk").key == "pf4/turbo4"
    with pytest.raises(ValueError, match="no configuration keeps 100.10%.*best is pf1/float32"):
        recommend_footprint(SWEEP, 1.001)
    for bad in (0, -1, 2):
        with pytest.raises(ValueError, match="fraction"):
            recommend_footprint(SWEEP, bad)
    with pytest.raises(ValueError, match="minimize"):
        recommend_footprint(SWEEP, 0.99, minimize="cpu")


def test_pareto_front() -> None:
    front = pareto(SWEEP.rows, key=lambda r: r.ram_bytes)
    assert [r.key for r in front] == ["pf8/tq1", "pf4/tq1/rescore", "pf1/float32"]


def test_stored_entry_round_trip_and_search_params() -> None:
    entry = footprint_entry(SWEEP.rows[3], SWEEP, "colbert", 0.99, 2.0)
    assert entry["format"] == 1 and entry["quantization"] == "tq1" and entry["oversampling"] == 2.0
    meta = json.loads(json.dumps({FOOTPRINT_KEY: entry, "other": 1}))
    assert footprint_from_metadata(meta) == entry
    sp = footprint_search_params(entry)
    assert sp.quantization.rescore is True and sp.quantization.oversampling == 2.0
    assert "pf=4, tq1, rescored; measured on toy: 99.9%" in footprint_text(entry)
    assert footprint_from_metadata({}) is None and footprint_from_metadata(None) is None
    assert footprint_search_params(footprint_entry(SWEEP.rows[1], None, "c", None, 2.0)) is None
    with pytest.raises(ValueError, match="format 2; this version reads format 1"):
        footprint_from_metadata({FOOTPRINT_KEY: {**entry, "format": 2}})


def test_sweep_files_round_trip(tmp_path: Path) -> None:
    paths = SWEEP.save(tmp_path)
    assert set(paths) == {"markdown", "csv", "json", "plot"} and paths["plot"].stat().st_size > 10_000
    again = FootprintSweep.from_json(paths["json"])
    assert again == SWEEP
    table = paths["markdown"].read_text()
    assert "| 4 | tq1 | no | 0.6937 | 99.1 |" in table and "1/107" in table
    assert paths["csv"].read_text().splitlines()[0].startswith("pool_factor,storage,rescore,ndcg10")


def test_anchor_bytes() -> None:
    by_label = {a["label"].split(" ")[0] + str(a.get("bits", "")): a for a in ANCHORS}
    assert anchor_bytes(by_label["colsearch"], 100, 128) == 4000
    assert anchor_bytes(by_label["NextPlaid2"], 100, 128) == (128 * 2 / 8 + 4) * 50


def test_folder_bytes_counts_allocated_blocks(tmp_path: Path) -> None:
    seg = tmp_path / "shard" / "segments" / "s" / "vector_storage-t"
    (seg / "vectors").mkdir(parents=True)
    (tmp_path / "shard" / "wal").mkdir()
    (seg / "quantized.data").write_bytes(b"x" * 10000)
    (seg / "vectors" / "chunk_0.mmap").write_bytes(b"y" * 40000)
    (tmp_path / "shard" / "wal" / "open-1").write_bytes(b"z" * 5000)
    with open(tmp_path / "shard" / "segments" / "s" / "sparse.dat", "wb") as fh:
        fh.truncate(1 << 24)  # 16 MiB apparent, no block written
    got = folder_bytes(tmp_path)
    assert got["codes"] >= 10000 and got["vectors"] >= 40000 and got["wal"] >= 5000
    assert got["other"] < 1 << 16 and got["total"] == sum(v for k, v in got.items() if k != "total")
