"""Every package says what it offers: ``__all__`` exists, and every name in it resolves.

An empty ``__all__`` is an answer too: the package's modules are its API (``cli``, ``apps``...).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def _packages() -> list[str]:
    found = []
    for init in sorted((SRC / "inferstream").rglob("__init__.py")):
        parts = init.parent.relative_to(SRC).parts
        if parts[1:3] != ("protos", "gen"):  # generated stubs
            found.append(".".join(parts))
    return found


def test_the_packages_are_found() -> None:
    assert {"inferstream", "inferstream.runtime", "inferstream.serving", "inferstream.tensors.v2"} <= set(
        _packages()
    )


@pytest.mark.parametrize("name", _packages())
def test_a_package_declares_its_public_names_and_each_resolves(name: str) -> None:
    package = importlib.import_module(name)
    public = getattr(package, "__all__", None)
    assert isinstance(public, list | tuple), f"{name} has no __all__"
    assert len(set(public)) == len(public), f"{name}.__all__ names something twice"
    missing = [n for n in public if not hasattr(package, n)]
    assert missing == [], f"{name}.__all__ names what it does not have"
