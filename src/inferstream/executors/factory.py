"""Build the executor a configuration asks for: embedded, or a balanced pool of remote endpoints."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from inferstream.executors.base import ModelExecutor
from inferstream.executors.config import ExecutorConfig
from inferstream.executors.discovery import parse_target
from inferstream.executors.embedded import EmbeddedExecutor
from inferstream.executors.errors import ErrorKind, ExecutorError
from inferstream.executors.pool import AttemptObserver, BalancedExecutor

# (protocol, transport) → "module:Class" of the single-endpoint executor; imported on first use so
# a REST-only user never loads grpc and the other way round.
ENDPOINT_EXECUTORS: dict[tuple[str, str], str] = {
    ("tfserving", "rest"): "inferstream.executors.tfserving_rest:TfServingRestExecutor",
    ("tfserving", "grpc"): "inferstream.executors.tfserving_grpc:TfServingGrpcExecutor",
    ("seldon", "rest"): "inferstream.executors.seldon_rest:SeldonRestExecutor",
    ("seldon", "grpc"): "inferstream.executors.seldon_grpc:SeldonGrpcExecutor",
    ("v2", "rest"): "inferstream.executors.v2_rest:V2RestExecutor",
    ("v2", "grpc"): "inferstream.executors.v2_grpc:V2GrpcExecutor",
}


def endpoint_factory(config: ExecutorConfig) -> Callable[[str], ModelExecutor]:
    """A function making the single-endpoint executor of ``config``'s protocol for one address."""
    try:
        module_name, class_name = ENDPOINT_EXECUTORS[(config.protocol, config.transport)].split(":")
    except KeyError:
        raise ExecutorError(
            ErrorKind.CONFIG, f"no executor for protocol {config.protocol!r} over {config.transport!r}"
        ) from None
    cls = getattr(importlib.import_module(module_name), class_name)

    def make(address: str) -> ModelExecutor:
        executor: ModelExecutor = cls(address, config)
        return executor

    return make


async def open_executor(config: ExecutorConfig, observer: AttemptObserver | None = None) -> ModelExecutor:
    """The executor for ``config``, started (discovery running); close it when done."""
    if config.protocol == "embedded":
        assert config.model_path is not None  # checked by ExecutorConfig
        return EmbeddedExecutor.load(config.model_path, config.signature, config.model)
    try:
        discovery = parse_target(config.target, config.refresh_seconds)
    except (ValueError, RuntimeError) as exc:
        raise ExecutorError(ErrorKind.CONFIG, str(exc)) from None
    executor = BalancedExecutor(config, endpoint_factory(config), discovery, observer)
    try:
        return await executor.start()
    except Exception as exc:  # e.g. the Kubernetes API refuses us: say which target and why
        await executor.close()
        raise ExecutorError(
            ErrorKind.CONFIG, f"cannot find the endpoints of {config.target}: {type(exc).__name__}: {exc}"
        ) from exc
