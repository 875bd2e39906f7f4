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
    with pytest.raises(PoolingConfigError, match="format 99"):
        pooling_from_metadata(md)


def test_unknown_field_refused():
    with pytest.raises(PoolingConfigError, match="unknown pooling config field"):
        PoolingConfig.from_dict({"pool_factor": 2, "colour": "red"})
