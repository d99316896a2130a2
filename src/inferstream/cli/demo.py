"""``inferstream demo`` (``make demo``): train if needed, serve, stream the sample through fraud-grpc
for ~30 s with a live display, stop everything, and print what happened."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from inferstream.apps.common.model_folders import latest_version_dir
from inferstream.cli.main import app, console
from inferstream.cli.serve_process import ServedProcess, ServerStartError, serve_in_subprocess
from inferstream.cli.train import train_fraud_command
from inferstream.transports import TransportError

if TYPE_CHECKING:  # the pipeline's imports are heavy; every CLI verb loads this module
    from inferstream.apps.fraud.data import CardTransactions
    from inferstream.apps.fraud.pipeline import FraudPipeline, Progress, Summary

HOLDOUT_FILE = "holdout.csv"
DEMO_HOLDOUT = 0.3  # 300 of the sample's 1,000 rows (90 frauds) kept from every model

Transport = Annotated[str, typer.Option(help="Topics in 'memory' (one process) or 'kafka'.")]


@app.command("demo")
def demo(
    seconds: Annotated[float, typer.Option(min=1, help="How long to stream.")] = 30.0,
    rate: Annotated[
        float, typer.Option(min=0, help="Records per second from the ingress (0: max).")
    ] = 1000.0,
    data: Annotated[
        Path, typer.Option(help="Transactions to train on when no model has held-out rows (CSV or zip).")
    ] = Path("data/creditcard-sample.csv"),
    models: Annotated[Path, typer.Option(help="Model base folder (trained into if empty).")] = Path("models"),
    blueprint: Annotated[str, typer.Option(help="Shipped fraud blueprint served over gRPC.")] = "fraud-grpc",
    transport: Transport = "memory",
    bootstrap_servers: Annotated[
        str, typer.Option(help="Kafka brokers for --transport kafka (empty: start a local broker).")
    ] = "",
    console_at: Annotated[
        str, typer.Option("--console", metavar="[HOST:]PORT", help="The live web page (0: a free port).")
    ] = "0",
) -> None:
    """Train (if needed), serve and score the credit-card sample end to end, live."""
    from inferstream.apps.fraud.pipeline import FraudPipeline, PipelineSetupError

    version = _model_with_holdout(models, data)
    replay = version / HOLDOUT_FILE
    transactions = _load(replay)
    with _server(models) as server, _kafka(transport, bootstrap_servers) as transport_settings:
        conf = [
            f"model-serving.target={server.grpc_target}",
            f"card-ingress.data={replay}",
            f"card-ingress.rate={rate}",
            "card-ingress.loop=true",
            f"fraud-decider.threshold-from={models / 'fraud'}",
            "fraud-console.lines-per-second=0.5",
            "error-console.lines-per-second=0.5",
        ]
        try:
            pipeline = FraudPipeline(blueprint, conf, transport, transport_settings)
        except (PipelineSetupError, ValueError) as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
        console.print(
            f"Streaming {transactions.describe()} through [bold]{blueprint}[/] on {transport} "
            f"for {seconds:g} s "
            f"(model server {server.grpc_target}); Ctrl-C stops early."
        )
        with Live(_render(None), console=console, refresh_per_second=4, transient=False) as live:
            try:
                stats = asyncio.run(_run(pipeline, seconds, lambda p: live.update(_render(p)), console_at))
            except TransportError as exc:
                console.print(f"[red]The {transport} transport failed:[/] {exc}")
                raise typer.Exit(1) from None
            final = pipeline.progress(stats)
            seconds_run = max(final.elapsed_s, 1e-9)
            live.update(
                _render(
                    replace(final, in_per_s=final.ingested / seconds_run, out_per_s=final.out / seconds_run)
                )
            )
    console.print()
    _print_summary(pipeline.summary(stats, transactions), transactions)
    console.print(
        f"Training report (cross-validated figures, threshold trade-off): [bold]{version}/report/report.md[/]"
    )


def _model_with_holdout(models: Path, data: Path) -> Path:
    """The newest model version that kept rows from training (trained here when there is none)."""
    latest = latest_version_dir(models / "fraud")
    if latest is not None and (latest / HOLDOUT_FILE).is_file():
        return latest
    why = "no fraud model yet" if latest is None else f"{latest} was trained on every row"
    console.print(
        f"[bold]{why}: training one with {DEMO_HOLDOUT:.0%} of {data} held out[/] — no model sees those "
        "rows, and the demo streams and grades only them."
    )
    train_fraud_command(data=data, models=str(models), holdout=DEMO_HOLDOUT)
    trained = latest_version_dir(models / "fraud")
    if trained is None or not (trained / HOLDOUT_FILE).is_file():
        console.print(f"[red]training wrote no model with {HOLDOUT_FILE} under {models}/fraud[/]")
        raise typer.Exit(1)
    return trained


async def _run(pipeline: FraudPipeline, seconds: float, show: Any, console_at: str) -> Any:
    from inferstream.cli.run_options import console_address, with_console
    from inferstream.console import RunnerProbe

    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        import signal

        loop.add_signal_handler(signal.SIGINT, pipeline.stop)
    probe = RunnerProbe(pipeline.plan, pipeline.transport, lambda: pipeline.runner)  # opens nothing itself
    run = pipeline.run(seconds=seconds, on_progress=show)
    return await with_console(console_address(console_at), probe, pipeline.transport.name, run)


@contextlib.contextmanager
def _server(models: Path) -> Iterator[ServedProcess]:
    status = console.status("Starting the model server (inferstream serve)…")
    status.start()
    try:
        with serve_in_subprocess({"fraud": models / "fraud"}) as served:
            status.stop()
            yield served
            status.update("Stopping the model server…")
            status.start()
    except ServerStartError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    finally:
        status.stop()


@contextlib.contextmanager
def _kafka(transport: str, bootstrap_servers: str) -> Iterator[dict[str, Any]]:
    if transport != "kafka":
        yield {}
        return
    if bootstrap_servers:
        yield {"bootstrap_servers": bootstrap_servers}
        return
    from inferstream.apps.common.kafka_warmup import wait_for_group_coordinator
    from inferstream.devtools.kafka_broker import start_broker

    with console.status("Starting a local Kafka broker…"):
        broker = start_broker()
        wait_for_group_coordinator(broker.bootstrap_servers)
    try:
        yield {"bootstrap_servers": broker.bootstrap_servers}
    finally:
        broker.stop()


def _load(data: Path) -> CardTransactions:
    from inferstream.apps.fraud.data import CardDataError, load_transactions

    try:
        return load_transactions(data)
    except CardDataError as exc:
        console.print(f"[red]Cannot read the demo data:[/] {exc}")
        raise typer.Exit(2) from None


def _render(p: Progress | None) -> Table:
    table = Table(title="fraud pipeline (live)", min_width=60)
    for column in ("elapsed", "in", "in/s", "out/s", "normal", "fraud", "error", "call p50", "call p99"):
        table.add_column(column, justify="right")
    if p is None:
        table.add_row(*["…"] * 9)
        return table
    table.add_row(
        f"{p.elapsed_s:.1f} s",
        f"{p.ingested:,}",
        f"{p.in_per_s:,.0f}",
        f"{p.out_per_s:,.0f}",
        f"{p.decided['normal']:,}",
        f"[red]{p.decided['fraud']:,}[/]",
        f"[yellow]{p.decided['error']:,}[/]",
        f"{p.latency_p50_ms:.0f} ms",
        f"{p.latency_p99_ms:.0f} ms",
    )
    return table


def _print_summary(s: Summary, data: CardTransactions) -> None:
    table = Table(title="summary", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("records ingested", f"{s.ingested:,}")
    table.add_row("records scored (normal + fraud)", f"{s.scored:,}")
    table.add_row("errors", f"{s.decided['error']:,}")
    table.add_row(
        "frauds flagged / labelled frauds scored",
        f"{s.decided['fraud']:,} / {s.true_frauds_flagged + s.frauds_missed:,}",
    )
    table.add_row("precision on held-out rows", f"{s.precision:.3f}")
    table.add_row("recall on held-out rows", f"{s.recall:.3f}")
    table.add_row("throughput", f"{s.throughput:,.0f} records/s over {s.elapsed_s:.1f} s")
    table.add_row("model-call duration p50 / p99", f"{s.latency_p50_ms:.0f} ms / {s.latency_p99_ms:.0f} ms")
    console.print(table)
    console.print(
        f"Precision and recall count records against the labels of the {len(data):,} rows of "
        f"{data.source}: rows held out of training, which no model (no fold, not the final one) saw. "
        f"Their fraud share ({data.frauds / max(len(data), 1):.0%}) is not the full set's 0.17%, so "
        "precision here is far above what the same threshold gives on real traffic (see the report)."
    )
    for reason, n in s.error_reasons.items():
        console.print(f"[yellow]{n} error records:[/] {reason}")
    for failure in s.failures:
        console.print(f"[red]streamlet failure:[/] {failure}")
