"""``inferstream verify``: every problem of a blueprint at once, exit 1; a good one lists its plan."""

from __future__ import annotations

from pathlib import Path

from runtime.test_verify import GOOD
from typer.testing import CliRunner

from inferstream.cli.main import _register_verbs, app


def test_cli_verify_exits_non_zero_and_lists_problems(tmp_path: Path) -> None:
    _register_verbs()
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("source.out:", "source.outt:"))
    result = CliRunner().invoke(app, ["verify", str(bad)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "did you mean 'out'" in result.output
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    result = CliRunner().invoke(app, ["verify", str(good), "--scale", "double=3"])
    assert result.exit_code == 0, result.output
    assert "double×3" in result.output
    result = CliRunner().invoke(app, ["verify", "no-such-blueprint"])
    assert result.exit_code == 1
    assert "no blueprint file or packaged blueprint named 'no-such-blueprint'" in result.output
