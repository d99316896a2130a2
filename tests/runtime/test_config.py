from datetime import timedelta

import pytest

from inferstream.runtime.config import (
    BoolParameter,
    ConfigError,
    DurationParameter,
    IntParameter,
    MemorySizeParameter,
    RegexParameter,
    StringParameter,
    parse_duration,
    parse_memory_size,
    resolve_parameters,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("3 millisecond", 0.003), ("10s", 10), ("1 minute", 60), ("250ms", 0.25), ("2 hours", 7200), (1.5, 1.5)],
)
def test_durations_parse_hocon_style(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "size"), [("64 MiB", 64 * 2**20), ("10M", 10 * 2**20), ("5 megabytes", 5_000_000), ("512", 512)]
)
def test_memory_sizes_parse(text: str, size: int) -> None:
    assert parse_memory_size(text) == size


def test_every_bad_value_is_reported_with_its_key() -> None:
    parameters = [
        IntParameter("batch-size", 64, "records per call", minimum=1),
        DurationParameter("linger", "3 ms"),
        MemorySizeParameter("buffer", "1M"),
        BoolParameter("enabled", True),
        RegexParameter("filter", ".*"),
        StringParameter("model"),  # required: no default
    ]
    raw = {"batch-size": "0", "linger": "3 fortnights", "buffer": "lots"}
    raw |= {"enabled": "maybe", "filter": "(", "x": 1}
    _, errors = resolve_parameters(parameters, raw)
    by_key = {e.key: e.reason for e in errors}
    assert set(by_key) == {"batch-size", "linger", "buffer", "enabled", "filter", "model", "x"}
    assert "minimum" in by_key["batch-size"]
    assert "not a duration" in by_key["linger"]
    assert "required" in by_key["model"]
    assert "not a parameter" in by_key["x"]


def test_valid_values_are_typed() -> None:
    batch = IntParameter("batch-size", 64)
    linger = DurationParameter("linger", "3 millisecond")
    config, errors = resolve_parameters([batch, linger], {"batch-size": "128"})
    assert errors == []
    assert config[batch] == 128
    assert config[linger] == timedelta(milliseconds=3)
    with pytest.raises(ConfigError, match="batch-size"):
        batch.parse("many")
