"""Declared, typed configuration parameters of streamlets (Cloudflow's ``ConfigParameter``s).

A streamlet lists its parameters; values (from the blueprint, conf files, environment and
``--conf``) are parsed and validated before anything starts::

    BATCH = IntParameter("batch-size", 64, "records per model call", minimum=1)
    LINGER = DurationParameter("linger", "3 millisecond", "how long to wait to fill a batch")

    class Scorer(Processor):
        parameters = (BATCH, LINGER)
        async def on_start(self, ctx): self.batch = ctx.config[BATCH]   # -> int
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the key and says why."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


_DURATION_UNITS: dict[str, float] = {}
for _seconds, _names in (
    (1e-9, ("ns", "nano", "nanos", "nanosecond", "nanoseconds")),
    (1e-6, ("us", "µs", "micro", "micros", "microsecond", "microseconds")),
    (1e-3, ("ms", "milli", "millis", "millisecond", "milliseconds")),
    (1.0, ("s", "sec", "secs", "second", "seconds")),
    (60.0, ("m", "min", "mins", "minute", "minutes")),
    (3600.0, ("h", "hour", "hours")),
    (86400.0, ("d", "day", "days")),
):
    for _name in _names:
        _DURATION_UNITS[_name] = _seconds

_MEMORY_UNITS: dict[str, int] = {"": 1, "b": 1, "byte": 1, "bytes": 1}
for _power, _letter, _word in ((1, "k", "kilo"), (2, "m", "mega"), (3, "g", "giga"), (4, "t", "tera")):
    _MEMORY_UNITS[_letter] = _MEMORY_UNITS[_letter + "i"] = _MEMORY_UNITS[_letter + "ib"] = 1024**_power
    for _decimal in (_word + "bytes", _word + "byte", _letter + "b"):
        _MEMORY_UNITS[_decimal] = 1000**_power
    _MEMORY_UNITS[_word[:-1] + "ibytes"] = 1024**_power

_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-zµ]*)\s*$")


def parse_duration(text: str | float | timedelta) -> timedelta:
    """``"3 millisecond"``, ``"10s"``, ``"1 minute"``, ``"250ms"`` (HOCON style) or a number of seconds."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int | float) and not isinstance(text, bool):
        return timedelta(seconds=float(text))
    match = _QUANTITY.match(str(text))
    unit = match.group(2).lower() if match else ""
    if not match or (unit and unit not in _DURATION_UNITS):
        raise ValueError(f"{text!r} is not a duration; write e.g. '3 millisecond', '10s' or '1 minute'")
    return timedelta(seconds=float(match.group(1)) * _DURATION_UNITS.get(unit, 1.0))


def parse_memory_size(text: str | int) -> int:
    """Bytes in ``"64 MiB"``, ``"10M"`` (binary, as in HOCON), ``"5 megabytes"`` (decimal) or a number."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = _QUANTITY.match(str(text))
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _MEMORY_UNITS:
        raise ValueError(f"{text!r} is not a memory size; write e.g. '64 MiB', '10M' or '512k'")
    return int(float(match.group(1)) * _MEMORY_UNITS[unit])


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"{value!r} is not a boolean; write true or false")


def _parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not an integer") from None


def _parse_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number") from None


def _parse_regex(value: Any) -> re.Pattern[str]:
    if isinstance(value, re.Pattern):
        return value
    try:
        return re.compile(str(value))
    except re.error as exc:
        raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None


_MISSING: Any = object()


@dataclass(frozen=True)
class ConfigParameter(Generic[T]):
    """A declared parameter: ``key``, ``type_name``, default (``None``: required) and description."""

    key: str
    default: Any = None
    description: str = ""
    type_name: str = "string"
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = field(default=())

    @property
    def required(self) -> bool:
        return self.default is None

    def _convert(self, value: Any) -> T:
        return cast(T, str(value))

    def parse(self, value: Any) -> T:
        """The typed value of ``value``; :class:`ConfigError` naming the key if it is invalid."""
        try:
            parsed = self._convert(value)
        except ValueError as exc:
            raise ConfigError(self.key, str(exc)) from None
        number = parsed.total_seconds() if isinstance(parsed, timedelta) else parsed
        if isinstance(number, int | float) and not isinstance(number, bool):
            if self.minimum is not None and number < self.minimum:
                raise ConfigError(self.key, f"{value!r} is below the minimum {self.minimum:g}")
            if self.maximum is not None and number > self.maximum:
                raise ConfigError(self.key, f"{value!r} is above the maximum {self.maximum:g}")
        if self.choices and str(parsed) not in self.choices:
            raise ConfigError(self.key, f"{value!r} is not one of {', '.join(self.choices)}")
        return parsed


class StringParameter(ConfigParameter[str]):
    pass


class IntParameter(ConfigParameter[int]):
    def __init__(self, key: str, default: int | None = None, description: str = "", **kw: Any) -> None:
        super().__init__(key, default, description, "int", **kw)

    def _convert(self, value: Any) -> int:
        return _parse_int(value)


class FloatParameter(ConfigParameter[float]):
    def __init__(self, key: str, default: float | None = None, description: str = "", **kw: Any) -> None:
        super().__init__(key, default, description, "float", **kw)

    def _convert(self, value: Any) -> float:
        return _parse_float(value)


class BoolParameter(ConfigParameter[bool]):
    def __init__(self, key: str, default: bool | None = None, description: str = "") -> None:
        super().__init__(key, default, description, "bool")

    def _convert(self, value: Any) -> bool:
        return _parse_bool(value)


class DurationParameter(ConfigParameter[timedelta]):
    def __init__(
        self, key: str, default: str | float | None = None, description: str = "", **kw: Any
    ) -> None:
        super().__init__(key, default, description, "duration", **kw)

    def _convert(self, value: Any) -> timedelta:
        return parse_duration(value)


class MemorySizeParameter(ConfigParameter[int]):
    def __init__(self, key: str, default: str | int | None = None, description: str = "", **kw: Any) -> None:
        super().__init__(key, default, description, "memory-size", **kw)

    def _convert(self, value: Any) -> int:
        return parse_memory_size(value)


class RegexParameter(ConfigParameter[re.Pattern[str]]):
    def __init__(self, key: str, default: str | None = None, description: str = "") -> None:
        super().__init__(key, default, description, "regex")

    def _convert(self, value: Any) -> re.Pattern[str]:
        return _parse_regex(value)


class StreamletConfig:
    """Validated values of one streamlet's declared parameters; index with the parameter object."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getitem__(self, parameter: ConfigParameter[T]) -> T:
        return cast(T, self._values[parameter.key])

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)


def resolve_parameters(
    parameters: Iterable[ConfigParameter[Any]], raw: Mapping[str, Any]
) -> tuple[StreamletConfig, list[ConfigError]]:
    """Parse ``raw`` values against declared ``parameters``: (config, every problem found).

    Unknown keys are reported too (a typo would otherwise silently keep the default).
    """
    values: dict[str, Any] = {}
    errors: list[ConfigError] = []
    declared = {p.key: p for p in parameters}
    for key, parameter in declared.items():
        value = raw.get(key, _MISSING)
        if value is _MISSING or value is None:
            if parameter.required:
                what = parameter.description or parameter.type_name
                errors.append(ConfigError(key, f"is required ({what})"))
                continue
            value = parameter.default
        try:
            values[key] = parameter.parse(value)
        except ConfigError as exc:
            errors.append(exc)
    for key in raw:
        if key not in declared:
            known = ", ".join(sorted(declared)) or "none"
            errors.append(ConfigError(key, f"is not a parameter of this streamlet (parameters: {known})"))
    return StreamletConfig(values), errors
