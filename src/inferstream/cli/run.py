"""``inferstream run BLUEPRINT``: run a whole pipeline on this machine (memory: one process; kafka:
one process per streamlet instance)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live

from inferstream.cli.main import app, console
from inferstream.cli.run_display import in_process_states, live_table, refresh_from_processes
from inferstream.cli.run_options import (
    ConsoleOption,
    OtlpEndpointOption,
    TraceRatioOption,
    console_address,
    start_tracing,
    with_console,
)
from inferstream.cli.run_outcome import (
    DEFAULT_RATIO,
    MaxErrorRatioOption,
    PreflightOption,
    preflight_or_exit,
    report_outcome,
)
from inferstream.cli.verify import ConfFileOption, ConfOption, ScaleOption, print_problems
from inferstream.console import ProcessProbe, RunnerProbe
from inferstream.observability.tracing import shutdown_tracing
from inferstream.runtime.checks import check
from inferstream.runtime.config import parse_duration
from inferstream.runtime.control import ControlServer
from inferstream.runtime.processes import READY_MARKER, ProcessRunner
from inferstream.runtime.run_stats import PipelineStats
from inferstream.runtime.runner import Runner
from inferstream.runtime.transactional import EXACTLY_ONCE, parse_guarantees
from inferstream.transports import TransportError, load_transport


def _seconds(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def _colocated(values: list[str], streamlets: dict[str, Any]) -> list[list[str]]:
    """``--colocate a,b,c`` (repeatable) -> groups of streamlet names that share one process each."""
    groups = [[name.strip() for name in value.split(",") if name.strip()] for value in values]
    for name in (n for group in groups for n in group):
        if name not in streamlets:
            raise typer.BadParameter(f"{name!r} is not a streamlet of the blueprint", param_hint="--colocate")
        if streamlets[name].cls.kind == "ingress":
            raise typer.BadParameter(f"{name!r} is an ingress (own process)", param_hint="--colocate")
    return groups


def _instances(values: list[str]) -> list[tuple[str, int]]:
    chosen = []
    for value in values:
        name, _, index = value.partition(":")
        if not index.isdigit():
            raise typer.BadParameter(f"{value!r}: write <streamlet>:<index>", param_hint="--instance")
        chosen.append((name, int(index)))
    return chosen


async def _run_here(
    runner: Runner, live: Live | None, control_port: int | None, at: tuple[str, int] | None, transport: str
) -> PipelineStats:
    runner.install_signal_handlers()
    if live is not None:  # counts and each streamlet's status (e.g. waiting for model server)
        runner.on_progress = lambda stats: live.update(live_table(stats, in_process_states(runner.instances)))
    control = ControlServer(runner, control_port) if control_port is not None else None
    if control is not None:
        url = await control.start()
        usage = "GET /stats, POST /scale?streamlet=S&instances=N"
        console.print(f"control endpoint: {url} ({usage})", soft_wrap=True)
    try:
        probe = RunnerProbe(runner.plan, runner.transport, lambda: runner)
        return await with_console(at, probe, transport, runner.run())
    finally:
        if control is not None:
            await control.stop()


@app.command("run")
def run(
    blueprint: Annotated[
        str, typer.Argument(help="Blueprint file (YAML or HOCON) or packaged blueprint name.")
    ],
    transport: Annotated[
        str, typer.Option(help="memory (one process) or kafka (a process per instance).")
    ] = ("memory"),
    scale: ScaleOption = None,
    conf: ConfOption = None,
    conf_file: ConfFileOption = None,
    run_for: Annotated[
        str | None, typer.Option("--for", help="Stop after this long, e.g. 30s, 2 minutes.")
    ] = None,
    records: Annotated[
        int | None, typer.Option(min=0, help="Stop once the ingresses emitted N records.")
    ] = None,
    summary_json: Annotated[
        Path | None, typer.Option(help="Write per-streamlet counts and rates here.")
    ] = None,
    drain_timeout: Annotated[
        str, typer.Option(help="Longest wait for in-flight records at the end.")
    ] = "60s",
    instance: Annotated[
        list[str] | None, typer.Option(help="Run only <streamlet>:<index> (repeatable; used per process).")
    ] = None,
    drain: Annotated[bool, typer.Option(help="Wait for every topic to be consumed before stopping.")] = True,
    colocate: Annotated[
        list[str] | None,
        typer.Option(
            help="kafka: these streamlets' instances share one process, e.g. "
            "--colocate fraud-decider,normal-counter (repeatable; topics stay between them)."
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Live table of counts (on a terminal).")] = True,
    max_error_ratio: MaxErrorRatioOption = DEFAULT_RATIO,
    preflight: PreflightOption = True,
    control_port: Annotated[
        int | None, typer.Option(min=0, help="Serve GET /stats and POST /scale on 127.0.0.1 (0: free port).")
    ] = None,
    restart: Annotated[
        bool, typer.Option(help="kafka: restart an instance process that dies (kill -9, a crash).")
    ] = True,
    guarantee: Annotated[
        list[str] | None,
        typer.Option(
            help="at-least-once (default) or exactly-once (Kafka transactions), for every streamlet or "
            "one: --guarantee exactly-once, --guarantee model-serving=exactly-once (repeatable).",
        ),
    ] = None,
    console_at: ConsoleOption = None,
    trace_ratio: TraceRatioOption = None,
    otlp_endpoint: OtlpEndpointOption = None,
) -> None:
    """Run a pipeline until its sources end, --for passes, --records are emitted or Ctrl-C; then drain."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    checked = check(blueprint, conf_file or (), conf or (), scale or ())
    if checked.errors:
        print_problems(checked.problems)
        console.print("[red]the blueprint has errors[/red]; `inferstream verify` lists them too.")
        raise typer.Exit(2)
    plan = checked.plan
    assert plan is not None
    try:
        chosen = load_transport(transport, checked.settings.transport_settings(transport))
    except (TransportError, TypeError) as exc:
        console.print(f"[red]cannot use transport {transport!r}[/red]: {exc}")
        raise typer.Exit(2) from None
    try:
        guarantees = parse_guarantees(guarantee or [], list(plan.streamlets))
        if EXACTLY_ONCE in guarantees.values() and not chosen.transactions:
            raise ValueError(f"exactly-once needs Kafka transactions: use --transport kafka, not {transport}")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--guarantee") from None
    at = console_address(console_at)
    tracing = start_tracing(plan.app, trace_ratio, otlp_endpoint)
    seconds = _seconds(run_for, "--for")
    drain_seconds = _seconds(drain_timeout, "--drain-timeout") or 60.0
    only = _instances(instance or [])
    for name, index in only:
        if name not in plan.streamlets or index >= plan.streamlets[name].instances:
            known = ", ".join(f"{n}:0..{s.instances - 1}" for n, s in plan.streamlets.items())
            raise typer.BadParameter(
                f"{name}:{index} is not an instance of {plan.app} ({known})", param_hint="--instance"
            )
    if preflight and not only:  # once, by the parent: before topics, processes and records
        preflight_or_exit(plan, chosen)
    if chosen.multiprocess and not only:
        options = ["--drain-timeout", drain_timeout]
        options += [a for c in conf or [] for a in ("--conf", c)]
        options += [a for c in conf_file or [] for a in ("--conf-file", str(c))]
        options += [a for s in scale or [] for a in ("--scale", s)]
        if records is not None:
            options += ["--records", str(records)]
        options += tracing
        options += [a for g in guarantee or [] for a in ("--guarantee", g)]
        children = ProcessRunner(
            plan,
            chosen,
            blueprint,
            transport,
            options,
            run_for=seconds,
            drain_timeout=drain_seconds,
            control=at is not None,
            colocate=_colocated(colocate or [], plan.streamlets),
            restart=restart,
        )
        if progress and console.is_terminal:
            with Live(live_table(children.stats, {}), console=console, refresh_per_second=4) as live:
                stats, codes = asyncio.run(
                    _run_processes(children, chosen, at, transport, control_port, live)
                )
        else:
            stats, codes = asyncio.run(_run_processes(children, chosen, at, transport, control_port))
        failed = {k: v for k, v in codes.items() if v != 0}
        run_errors = children.run_errors
    else:
        runner = Runner(
            plan,
            chosen,
            run_for=seconds,
            records=records,
            drain_timeout=drain_seconds,
            only=only or None,
            drain=drain,
            on_ready=(lambda: print(READY_MARKER, flush=True)) if only else None,
            guarantees=guarantees,
        )
        show = progress and console.is_terminal
        if show:
            with Live(live_table(runner.stats, {}), console=console, refresh_per_second=4) as live:
                stats = asyncio.run(_run_here(runner, live, control_port, at, transport))
        else:
            stats = asyncio.run(_run_here(runner, None, control_port, at, transport))
        failed = {f"{i.streamlet}.{i.instance}": 1 for i in stats.instances if i.failure}
        run_errors = []
    shutdown_tracing()  # export the spans still buffered
    summary: dict[str, Any] = stats.snapshot()
    summary["transport"] = transport
    report_outcome(
        stats, summary, max_error_ratio, summary_json, failed, show_table=not only, run_errors=run_errors
    )


async def _run_processes(
    runner: ProcessRunner,
    transport: Any,
    at: tuple[str, int] | None,
    name: str,
    control_port: int | None,
    live: Live | None = None,
) -> tuple[PipelineStats, dict[str, int]]:
    runner.install_signal_handlers()
    codes: dict[str, int] = {}
    # the live table: the children's merged counts, and their /state (e.g. waiting for model server)
    display = (
        asyncio.create_task(refresh_from_processes(live, lambda: runner.stats, lambda: runner.http_urls))
        if live is not None else None
    )  # fmt: skip
    # POST /scale starts and stops instance processes (bounded by the inlet topics' partitions)
    control = ControlServer(runner, control_port) if control_port is not None else None
    if control is not None:
        url = await control.start()
        usage = "GET /stats, POST /scale?streamlet=S&instances=N; or: inferstream scale APP S N --control URL"
        console.print(f"control endpoint: {url} ({usage})", soft_wrap=True)

    async def run() -> PipelineStats:
        stats, found = await runner.run()
        codes.update(found)
        return stats

    try:
        return await with_console(at, ProcessProbe(runner.plan, transport, runner), name, run()), codes
    finally:
        if display is not None:
            display.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await display
        if control is not None:
            await control.stop()
        await transport.close()
