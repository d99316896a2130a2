"""Modules stay small enough to read in one sitting: at most 400 lines, generated stubs aside."""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "inferstream"
LIMIT = 400


def test_no_module_is_over_the_limit() -> None:
    sizes = {
        str(path.relative_to(SRC)): len(path.read_text().splitlines())
        for path in SRC.rglob("*.py")
        if path.relative_to(SRC).parts[:2] != ("protos", "gen")  # generated from the .proto sources
    }
    assert len(sizes) > 100  # the scan saw the package
    assert {name: n for name, n in sizes.items() if n > LIMIT} == {}, f"split modules over {LIMIT} lines"
