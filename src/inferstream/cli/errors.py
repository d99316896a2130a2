"""``inferstream errors APP``: what failed in a pipeline — its error outlets and dead letters.

One line per failed record (time, where it is kept, the streamlet that failed it, the reason, a
short view), ``--json`` for one JSON object per line, ``--follow`` to keep listing new ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated, Any

import typer
from rich.markup import escape

from inferstream.cli.main import app, console
from inferstream.cli.verify import ConfFileOption, ConfOption, print_problems
from inferstream.runtime.checks import check
from inferstream.runtime.failures import SOURCES, FailedRecord, Source, read_failures
from inferstream.runtime.plan import Plan
from inferstream.transports import Transport, TransportError, load_transport

FromOption = Annotated[str, typer.Option("--from", help="dead-letters, errors (the error outlets) or all.")]
TransportOption = Annotated[str, typer.Option(help="Where the pipeline's topics are (kafka).")]


def open_pipeline(
    blueprint: str, transport: str, conf: list[str] | None, conf_file: Any
) -> tuple[Plan, Transport]:
    """The checked plan of ``blueprint`` and its transport, or a one-line error and exit 2."""
    checked = check(blueprint, conf_file or (), conf or (), ())
    if checked.errors or checked.plan is None:
        print_problems(checked.errors)
        raise typer.Exit(2)
    try:
        chosen = load_transport(transport, checked.settings.transport_settings(transport))
    except (TransportError, TypeError) as exc:
        console.print(f"[red]cannot use transport {transport!r}[/red]: {escape(str(exc))}")
        raise typer.Exit(2) from None
    return checked.plan, chosen


def sources_of(choice: str, allow_all: bool = True) -> list[Source]:
    if choice == "all" and allow_all:
        return list(SOURCES)
    if choice in SOURCES:
        return [choice]
    allowed = ", ".join([*SOURCES, "all"] if allow_all else SOURCES)
    raise typer.BadParameter(f"{choice!r}: write one of {allowed}", param_hint="--from")


def _line(record: FailedRecord) -> str:
    kind = "dead letter" if record.source == "dead-letters" else "error"
    when = record.to_json()["time"] or "(time unknown)"
    where = escape(record.streamlet or "?")
    reason, view = escape(record.reason), escape(record.view)
    return f"{when}  {kind:<11}  [bold]{where}[/bold]  {reason}  [dim]| {view}[/dim]"


async def _list(
    plan: Plan, transport: Transport, sources: list[Source], follow: bool, as_json: bool, listed: list[int]
) -> None:
    """Print each failed record; ``listed[0]`` counts them (still right when Ctrl-C ends --follow)."""
    try:
        async for record in read_failures(plan, transport, sources, follow=follow):
            listed[0] += 1
            if as_json:
                print(json.dumps(record.to_json()), flush=True)
            else:
                console.print(_line(record), soft_wrap=True)
    finally:
        await transport.close()


@app.command("errors")
def errors(
    blueprint: Annotated[str, typer.Argument(help="The pipeline: blueprint file or packaged name.")],
    source: FromOption = "all",
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep listing new failures (Ctrl-C ends).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    transport: TransportOption = "kafka",
    conf: ConfOption = None,
    conf_file: ConfFileOption = None,
) -> None:
    """List the records a pipeline failed: its error outlets and its dead-letter topic."""
    sources = sources_of(source)
    plan, chosen = open_pipeline(blueprint, transport, conf, conf_file)
    listed = [0]
    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(_list(plan, chosen, sources, follow, as_json, listed))
        except TransportError as exc:
            hint = "has the pipeline run on this broker? give the same --conf as to `inferstream run`"
            console.print(f"[red]cannot read the failures of {plan.app}[/red]: {escape(str(exc))}; {hint}")
            raise typer.Exit(2) from None
    if not as_json:
        what = " and ".join("dead letters" if s == "dead-letters" else "error outlets" for s in sources)
        console.print(f"{listed[0]:,} failed record(s) in {plan.app}'s {what}", soft_wrap=True)
