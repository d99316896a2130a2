"""Fixtures of the observability tests: a real Jaeger for the tracing tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from inferstream.devtools.jaeger import Jaeger, jaeger_binary, start_jaeger, stop_jaeger


@pytest.fixture(scope="session")
def jaeger(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jaeger]:
    """Jaeger v1.75.0 on free loopback ports (memory storage), stopped at the end of the session."""
    server = start_jaeger(jaeger_binary(repo_root), tmp_path_factory.mktemp("jaeger"))
    try:
        yield server
    finally:
        stop_jaeger(server)
