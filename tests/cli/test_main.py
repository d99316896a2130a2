from typer.testing import CliRunner

from inferstream import __version__
from inferstream.cli.main import _register_verbs, app


def test_version_prints_package_version() -> None:
    _register_verbs()
    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_lists_version_verb() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "version" in result.output


def test_every_verb_is_listed_in_help() -> None:
    from inferstream.cli.main import VERBS

    _register_verbs()
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for verb in VERBS:
        assert verb in result.output
