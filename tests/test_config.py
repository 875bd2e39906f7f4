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
        ({"pool_factor": 2.0}, "pool_factor"),
        ({"pool_factor": True}, "pool_factor"),
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
    assert md[METADATA_KEY]["format"] == 1
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
        ({"format": 1, "vectors": {"c": {"pool_factor": 0}}}, "pool_factor must be an integer"),
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
