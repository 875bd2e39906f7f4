import json

import pytest

from qdrant_tokenpool.config import (
    METADATA_KEY,
    PoolingConfig,
    PoolingConfigError,
    pooling_from_metadata,
    pooling_to_metadata,
)


def test_json_round_trip():
    cfg = PoolingConfig(pool_factor=3, method="kmeans", protected_tokens=0, summary_vector="s")
    assert PoolingConfig.from_json(cfg.to_json()) == cfg
    assert json.loads(cfg.to_json())["pool_factor"] == 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pool_factor": 0}, "pool_factor"),
        ({"pool_factor": 0.99}, "pool_factor"),
        ({"pool_factor": float("nan")}, "pool_factor"),
        ({"pool_factor": True}, "pool_factor"),
        ({"distance_threshold": -1.0}, "distance_threshold must be a finite number >= 0"),
        ({"distance_threshold": float("inf")}, "distance_threshold must be a finite number"),
        ({"distance_threshold": float("nan")}, "distance_threshold must be a finite number"),
        ({"distance_threshold": 0.5, "method": "sequential"}, "needs method='hierarchical'"),
        ({"max_vectors": 1}, "max_vectors must be an integer >= 2"),
        ({"max_vectors": 4, "protected_tail_tokens": 3}, "max_vectors must be an integer >= 5"),
        ({"protected_tail_tokens": 1.5}, "protected_tail_tokens"),
        ({"method": "grid"}, "needs grid_shape"),
        ({"method": "grid", "grid_shape": (32, 0)}, "grid_shape"),
        ({"grid_shape": (32, 32)}, "grid_shape needs method='grid'"),
        ({"method": "ward"}, "unknown pooling method"),
        ({"protected_tokens": -1}, "protected_tokens"),
        ({"summary_vector": ""}, "summary_vector"),
        ({"summary_vector": "x", "keep_original_vector": "x"}, "differ"),
    ],
)
def test_bad_config(kwargs, message):
    with pytest.raises(PoolingConfigError, match=message):
        PoolingConfig(**kwargs)


def test_immutable():
    cfg = PoolingConfig()
    with pytest.raises(AttributeError):
        cfg.pool_factor = 4  # type: ignore[misc]


def test_metadata_round_trip_and_version():
    pooling = {"colbert": PoolingConfig(pool_factor=2), "": PoolingConfig(pool_factor=4)}
    md = pooling_to_metadata(pooling)
    assert md[METADATA_KEY]["format"] == 2
    assert pooling_from_metadata(json.loads(json.dumps(md))) == pooling
    assert pooling_from_metadata({}) == {}
    assert pooling_from_metadata({METADATA_KEY: None}) == {}
    md[METADATA_KEY]["format"] = 99
    with pytest.raises(PoolingConfigError, match=r"format 99; .* \(upgrade the package\)"):
        pooling_from_metadata(md)


def test_unknown_field_refused():
    with pytest.raises(PoolingConfigError, match="unknown pooling config field"):
        PoolingConfig.from_dict({"pool_factor": 2, "colour": "red"})


@pytest.mark.parametrize(
    "entry, problem",
    [
        ({"format": 1}, "'vectors' is missing"),
        ({"format": 1, "vectors": {}}, "'vectors' is empty"),
        ({"format": 1, "vectors": []}, "'vectors' must be a mapping"),
        ({"format": True, "vectors": {"c": {}}}, "'format' must be an integer format version, got True"),
        ({"format": 1.0, "vectors": {"c": {}}}, "'format' must be an integer format version, got 1.0"),
        ({"format": "1", "vectors": {"c": {}}}, "'format' must be an integer format version, got '1'"),
        ({"vectors": {"c": {}}}, "'format' must be an integer format version, got None"),
        ({"format": 0, "vectors": {"c": {}}}, "has format 0; this version of qdrant-tokenpool reads"),
        ({"format": 1, "vectors": {"c": {}}, "extra": 1}, "unknown key"),
        ({"format": 1, "vectors": {"c": {"pool_factor": 0}}}, "pool_factor must be a finite number >= 1"),
        ({"format": 2, "vectors": {}}, "'vectors' is empty"),
        ({"format": 2, "vectors": {"c": {"max_vectors": 1}}}, "max_vectors must be an integer >= 2"),
        ([1], "must be a mapping, got list"),
    ],
)
def test_partial_or_foreign_stored_config_is_refused_naming_the_collection(entry, problem):
    """Nothing partial is read as 'no pooling', and nothing but an int is a format."""
    with pytest.raises(PoolingConfigError) as err:
        pooling_from_metadata({METADATA_KEY: entry}, "papers")
    assert str(err.value).startswith(f"collection 'papers': metadata[{METADATA_KEY!r}]: ")
    assert problem in str(err.value)


def test_an_empty_map_is_stored_as_no_config():
    """What the writer stores, the reader reads: no config is ``None``, never a partial entry."""
    assert pooling_to_metadata({}) == {METADATA_KEY: None}
    assert pooling_from_metadata(pooling_to_metadata({}), "papers") == {}


def test_new_fields_round_trip_through_metadata():
    pooling = {
        "a": PoolingConfig(pool_factor=1.5, max_vectors=64, protected_tail_tokens=2),
        "b": PoolingConfig(pool_factor=1, distance_threshold=0.75, protected_tokens=0),
        "c": PoolingConfig(
            pool_factor=1, method="grid", protected_tokens=0, protected_tail_tokens=6,
            grid_shape=(32, 32),
        ),
        "d": PoolingConfig(method="grid", grid_shape=[4, 8], grid_pool="blocks", grid_block=3),
    }
    md = json.loads(json.dumps(pooling_to_metadata(pooling)))
    back = pooling_from_metadata(md)
    assert back == pooling
    assert back["c"].grid_pool == "rows" and back["c"].grid_shape == (32, 32)
    assert back["d"].grid_shape == (4, 8) and back["d"].grid_block == 3
    assert md[METADATA_KEY]["vectors"]["a"] == {
        "pool_factor": 1.5, "method": "hierarchical", "protected_tokens": 1,
        "protected_tail_tokens": 2, "max_vectors": 64,
    }
    # a config using no new knob stores the same fields as format 1 did
    assert PoolingConfig(pool_factor=3).to_dict() == {
        "pool_factor": 3, "method": "hierarchical", "protected_tokens": 1,
    }
    assert PoolingConfig(pool_factor=2.0).pool_factor == 2


def test_format_1_is_read_exactly_as_before():
    v1 = {"colbert": {"pool_factor": 3, "method": "kmeans", "protected_tokens": 0,
                      "summary_vector": "s", "keep_original_vector": "full"},
          "": {"pool_factor": 2}}
    got = pooling_from_metadata({METADATA_KEY: {"format": 1, "vectors": v1}})
    assert got == {
        "colbert": PoolingConfig(3, "kmeans", 0, summary_vector="s", keep_original_vector="full"),
        "": PoolingConfig(2),
    }
    for bad, message in (
        ({"pool_factor": 1.5}, "pool_factor must be an integer in stored format 1"),
        ({"pool_factor": 2, "max_vectors": 10}, "max_vectors are not part of stored format 1"),
        ({"pool_factor": 2, "protected_tail_tokens": 1}, "not part of stored format 1"),
    ):
        with pytest.raises(PoolingConfigError, match=message):
            pooling_from_metadata({METADATA_KEY: {"format": 1, "vectors": {"v": bad}}})


@pytest.mark.parametrize("version", [0, 3, 99, "2", 2.0, 1.0, True, None, [2]])
def test_unknown_format_versions_are_refused(version):
    md = {METADATA_KEY: {"format": version, "vectors": {"v": {"pool_factor": 2}}}}
    with pytest.raises(PoolingConfigError, match=r"'format' must be an integer|reads format\(s\) 1, 2"):
        pooling_from_metadata(md)


# -- first-stage encoding: summary_method and muvera ----------------------------------------
def test_summary_method_defaults_and_round_trips():
    from qdrant_tokenpool.config import DEFAULT_SUMMARY_METHOD
    from qdrant_tokenpool.firststage import MuveraParams

    plain = PoolingConfig(summary_vector="s")
    assert plain.summary_method == DEFAULT_SUMMARY_METHOD
    assert PoolingConfig().summary_method is None and "summary_method" not in PoolingConfig().to_dict()
    cfg = PoolingConfig(summary_vector="fde", summary_method="muvera", muvera={"k_sim": 4, "final_dim": 512})
    assert cfg.muvera == MuveraParams(k_sim=4, final_dim=512)
    stored = json.loads(cfg.to_json())
    assert stored["summary_method"] == "muvera"
    assert stored["muvera"] == {"k_sim": 4, "dim_proj": 16, "r_reps": 20, "seed": 42, "final_dim": 512}
    assert PoolingConfig.from_json(cfg.to_json()) == cfg
    assert pooling_from_metadata(pooling_to_metadata({"v": cfg})) == {"v": cfg}
    assert PoolingConfig(summary_vector="f", summary_method="muvera").muvera == MuveraParams()
    assert cfg.summary_dim(128) == 512 and PoolingConfig(summary_vector="s").summary_dim(128) == 128
    assert hash(cfg) == hash(PoolingConfig.from_dict(cfg.to_dict()))


def test_stored_configs_without_summary_method_read_as_mean(monkeypatch):
    """A config stored before summary_method existed holds mean summaries: it reads as
    "mean" even if the constructor's default changes."""
    from qdrant_tokenpool import config

    old = {METADATA_KEY: {"format": 1, "vectors": {"colbert": {
        "pool_factor": 2, "method": "hierarchical", "protected_tokens": 1, "summary_vector": "s"}}}}
    monkeypatch.setattr(config, "DEFAULT_SUMMARY_METHOD", "muvera")
    assert PoolingConfig(summary_vector="s").summary_method == "muvera"
    assert pooling_from_metadata(old)["colbert"].summary_method == "mean"
    assert pooling_from_metadata(old)["colbert"].muvera is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"summary_method": "mean"}, "need a summary_vector"),
        ({"muvera": {"k_sim": 3}}, "need a summary_vector"),
        ({"summary_vector": "s", "summary_method": "max"}, "unknown summary_method 'max'"),
        ({"summary_vector": "s", "muvera": {"k_sim": 3}}, 'need summary_method="muvera"'),
        ({"summary_vector": "s", "summary_method": "muvera", "muvera": {"k": 3}}, "unknown muvera parameter"),
        ({"summary_vector": "s", "summary_method": "muvera", "muvera": {"k_sim": 30}}, "muvera: k_sim must be <= 8"),
        ({"summary_vector": "s", "summary_method": "muvera", "muvera": 5}, "muvera must be MuveraParams"),
    ],
)
def test_bad_summary_config(kwargs, message):
    with pytest.raises(PoolingConfigError, match=message):
        PoolingConfig(**kwargs)


def test_store_checks_and_creates_the_muvera_vector():
    from qdrant_client import models

    from qdrant_tokenpool.store import CollectionPooling, VectorSpec, extra_vectors_config

    cfg = PoolingConfig(summary_vector="fde", summary_method="muvera", muvera={"k_sim": 3, "dim_proj": 8, "r_reps": 2})
    mv = models.VectorParams(size=32, distance=models.Distance.COSINE,
                             multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM))
    extra = extra_vectors_config({"colbert": mv}, {"colbert": cfg})
    assert (extra["fde"].size, extra["fde"].distance) == (2 * 8 * 8, models.Distance.DOT)
    colbert = VectorSpec(32, models.Distance.COSINE, True)
    ok = CollectionPooling("c", {}, {"colbert": colbert, "fde": VectorSpec(128, models.Distance.DOT, False)}, {})
    ok.check({"colbert": cfg})
    wrong_size = CollectionPooling("c", {}, {"colbert": colbert, "fde": VectorSpec(32, models.Distance.DOT, False)}, {})
    with pytest.raises(PoolingConfigError, match="dense single vector of size 128 \\(its MUVERA encoding\\)"):
        wrong_size.check({"colbert": cfg})
    cosine = CollectionPooling("c", {}, {"colbert": colbert, "fde": VectorSpec(128, models.Distance.COSINE, False)}, {})
    with pytest.raises(PoolingConfigError, match="needs Dot distance, not Cosine"):
        cosine.check({"colbert": cfg})
