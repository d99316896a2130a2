"""Transports move records between streamlets: ``memory`` (embedded default) and ``kafka``.

``load_transport(name, settings)`` builds one by name; a transport module registers its class
here in ``TRANSPORTS`` as ``"module:Class"`` so that only the chosen one is imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from inferstream.transports.base import (
    DEFAULT_RETENTION_MS,
    Consumer,
    MessageBatch,
    Position,
    Producer,
    TopicPartition,
    TopicSpec,
    Transport,
    TransportError,
)

#: Transport name -> "module:Class"; the class is built with ``Class(**settings)``.
TRANSPORTS: dict[str, str] = {
    "memory": "inferstream.transports.memory:MemoryTransport",
    "kafka": "inferstream.transports.kafka:KafkaTransport",
}


def load_transport(name: str, settings: Mapping[str, Any] | None = None) -> Transport:
    """The transport called ``name`` built from ``settings`` (e.g. ``bootstrap_servers`` for kafka)."""
    try:
        module_name, class_name = TRANSPORTS[name].split(":")
    except KeyError:
        raise TransportError(f"unknown transport {name!r}; choose one of {', '.join(TRANSPORTS)}") from None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise TransportError(f"transport {name!r} is not available: {exc}") from None
    transport: Transport = getattr(module, class_name)(**dict(settings or {}))
    return transport


__all__ = [
    "DEFAULT_RETENTION_MS",
    "TRANSPORTS",
    "Consumer",
    "MessageBatch",
    "Position",
    "Producer",
    "TopicPartition",
    "TopicSpec",
    "Transport",
    "TransportError",
    "load_transport",
]
