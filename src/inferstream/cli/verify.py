"""``inferstream verify BLUEPRINT``: report every problem of a blueprint at once; non-zero exit on errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from inferstream.cli.main import app, console
from inferstream.runtime.blueprint import Problem
from inferstream.runtime.checks import check

ConfFileOption = Annotated[
    list[Path] | None, typer.Option("--conf-file", help="HOCON or YAML conf file (repeatable, later wins).")
]
ConfOption = Annotated[
    list[str] | None, typer.Option("--conf", help="<streamlet>.<parameter>=<value> (repeatable, beats all).")
]
ScaleOption = Annotated[
    list[str] | None, typer.Option("--scale", help="<streamlet>=<instances> (repeatable).")
]


def print_problems(problems: list[Problem]) -> None:
    # One line per problem (not a table): whole messages stay greppable and copyable at any width.
    for problem in problems:
        style = "red" if problem.severity == "error" else "yellow"
        where, message = escape(problem.where), escape(problem.message)
        line = f"[{style}]{problem.severity}[/{style}] [bold]{where}[/bold]: {message}"
        console.print(line, soft_wrap=True)


@app.command("verify")
def verify(
    blueprint: Annotated[
        str, typer.Argument(help="Blueprint file (YAML or HOCON) or packaged blueprint name.")
    ],
    conf_file: ConfFileOption = None,
    conf: ConfOption = None,
    scale: ScaleOption = None,
) -> None:
    """Check a blueprint: classes, ports, connections, Avro schema compatibility and config values."""
    checked = check(blueprint, conf_file or (), conf or (), scale or ())
    if checked.problems:
        print_problems(checked.problems)
    errors, warnings = len(checked.errors), len(checked.warnings)
    if errors:
        console.print(f"[red]{errors} error(s)[/red], {warnings} warning(s): fix the errors above to run it.")
        raise typer.Exit(1)
    plan = checked.plan
    assert plan is not None
    streamlets = ", ".join(f"{n}×{s.instances}" for n, s in plan.streamlets.items())
    console.print(
        f"[green]ok[/green]: {plan.app}: {streamlets}; {len(plan.topics)} topics, {warnings} warning(s)"
    )
