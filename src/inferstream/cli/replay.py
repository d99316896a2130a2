"""``inferstream replay APP --from dead-letters|errors``: send failed records back where they failed.

Each record is published again to the inlet it failed at, once: the replay commits its own
position, so running it again replays only what failed since.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from inferstream.cli.errors import FromOption, TransportOption, open_pipeline, sources_of
from inferstream.cli.main import app, console
from inferstream.cli.verify import ConfFileOption, ConfOption
from inferstream.runtime.config import parse_duration
from inferstream.runtime.failures import Source
from inferstream.runtime.plan import Plan
from inferstream.runtime.replay import ReplayReport, replay_failures
from inferstream.transports import Transport, TransportError


def since_millis(text: str | None, now: float | None = None) -> int:
    """Epoch millis of ``--since``: a duration back from now (``10m``, ``2 hours``) or an ISO time
    (``2026-12-06T17:00:00``, UTC unless it says otherwise)."""
    if not text:
        return 0
    try:
        back = parse_duration(text).total_seconds()
        return int(((now if now is not None else time.time()) - back) * 1000)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: write a duration back from now (10m, 2 hours) or a time (2026-12-06T17:00:00)",
            param_hint="--since",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


async def _replay(
    plan: Plan, transport: Transport, source: Source, streamlet: str | None, since: int, show: bool
) -> ReplayReport:
    columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, disable=not show, transient=True) as bar:
        task = bar.add_task("replay", total=None)

        def progress(read: int, total: int) -> None:
            bar.update(task, completed=read, total=total)

        try:
            return await replay_failures(
                plan, transport, source, streamlet=streamlet, since_ms=since, progress=progress
            )
        finally:
            await transport.close()


@app.command("replay")
def replay(
    blueprint: Annotated[str, typer.Argument(help="The pipeline: blueprint file or packaged name.")],
    source: FromOption = "errors",
    streamlet: Annotated[str | None, typer.Option(help="Only records this streamlet failed.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only failures newer than this: 10m, 2 hours, 2026-12-06T17:00:00.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
    transport: TransportOption = "kafka",
    conf: ConfOption = None,
    conf_file: ConfFileOption = None,
) -> None:
    """Publish failed records again to the inlet they failed at, each once (resumes where the last ended)."""
    (chosen_source,) = sources_of(source, allow_all=False)
    since_ms = since_millis(since)
    plan, chosen = open_pipeline(blueprint, transport, conf, conf_file)
    if streamlet is not None and streamlet not in plan.streamlets:
        known = ", ".join(plan.streamlets)
        raise typer.BadParameter(
            f"{streamlet!r} is not a streamlet of {plan.app} ({known})", param_hint="--streamlet"
        )
    show = console.is_terminal and not as_json
    try:
        report = asyncio.run(_replay(plan, chosen, chosen_source, streamlet, since_ms, show))
    except TransportError as exc:
        hint = "has the pipeline run on this broker? give the same --conf as to `inferstream run`"
        console.print(f"[red]cannot replay the failures of {plan.app}[/red]: {escape(str(exc))}; {hint}")
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(report.to_json()))
        return
    targets = ", ".join(f"{n:,} to {t}" for t, n in report.to_topics.items()) or "nothing to replay"
    console.print(
        f"replayed {report.replayed:,} record(s) from {plan.app}'s {chosen_source}: {targets} "
        f"(read {report.read:,}; skipped {report.skipped:,} by --streamlet/--since; "
        f"{report.unreplayable:,} not replayable)",
        soft_wrap=True,
    )
