"""The ``inferstream`` command: one typer app; each verb lives in its own module."""

from __future__ import annotations

import typer
from rich.console import Console

from inferstream import __version__

app = typer.Typer(
    name="inferstream",
    help="Streaming model serving: run pipelines of streamlets that score event streams against models.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.callback()
def _root() -> None:
    """Streaming model serving: run pipelines of streamlets that score event streams against models."""


@app.command()
def version() -> None:
    """Print the inferstream version."""
    console.print(f"inferstream {__version__}")


VERBS = (
    "run",
    "verify",
    "serve",
    "predict",
    "train",
    "demo",
    "bench",
    "kafka",
    "deploy",
    "scale",
    "status",
    "errors",
    "replay",
    "conformance",
    "models",
)


def _register_verbs() -> None:
    # Verb modules register themselves on `app`; importing them here keeps main.py free of their code.
    import importlib

    for module in VERBS:
        importlib.import_module(f"inferstream.cli.{module}")


def main() -> None:
    _register_verbs()
    app()


if __name__ == "__main__":
    # `python -m inferstream.cli.main` (the runner's child processes): verbs register on the app of the
    # importable module `inferstream.cli.main`, not on this `__main__` copy, so run that one.
    from inferstream.cli.main import main as _main

    _main()
