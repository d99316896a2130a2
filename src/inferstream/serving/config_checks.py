"""What ``verify`` and pre-flight ask of a model-serving streamlet, before any record.

* :func:`config_problems`: the parameter values taken together (an empty ``target``, ``headers``
  that are not ``key=value``, what :class:`~inferstream.executors.config.ExecutorConfig`
  refuses) — the same checks ``on_start`` would otherwise fail on after the processes started;
* :func:`serving_preflight`: the server answers and serves the model (or the embedded model's
  file exists), through :func:`~inferstream.executors.readiness.check_ready`.
"""

from __future__ import annotations

from typing import Any

from inferstream.executors.readiness import NotReady, check_ready
from inferstream.runtime.config import ConfigError
from inferstream.runtime.preflight import PreflightError
from inferstream.serving.parameters import (
    HEADERS,
    MODEL_PATH,
    PROTOCOL,
    RENAME_OUTPUTS,
    TARGET,
    executor_config,
    pairs,
)


def config_problems(values: dict[str, Any]) -> list[ConfigError]:
    """Every problem of a model-serving streamlet's values (empty: ``on_start`` will accept them)."""
    problems: list[ConfigError] = []
    embedded = values.get(PROTOCOL.key) == "embedded"
    if not embedded and not str(values.get(TARGET.key, "")).strip():
        problems.append(
            ConfigError(
                TARGET.key, "is empty: give host:port, a URL list, dns:///host:port or kubernetes:///…"
            )
        )
    if embedded and not str(values.get(MODEL_PATH.key, "")).strip():
        problems.append(ConfigError(MODEL_PATH.key, "is empty: give the .onnx, .joblib or SavedModel folder"))
    for parameter in (HEADERS, RENAME_OUTPUTS):
        try:
            pairs(str(values.get(parameter.key, "")), parameter.key)
        except ConfigError as exc:
            problems.append(exc)
    if not problems:
        try:
            executor_config(values)
        except ConfigError as exc:
            problems.append(exc)
    return problems


async def serving_preflight(name: str, values: dict[str, Any]) -> list[str]:
    """Warnings; :class:`PreflightError` naming the streamlet when its server or model is missing."""
    try:
        return await check_ready(executor_config(values))
    except NotReady as exc:
        raise PreflightError(f"{name}: {exc}") from None
