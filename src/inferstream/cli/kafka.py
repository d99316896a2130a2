"""``inferstream kafka install|start|stop|status``: a local Apache Kafka broker for ``--transport kafka``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inferstream.cli.main import app, console
from inferstream.devtools.detached_broker import detached_broker, start_detached, stop_detached
from inferstream.devtools.kafka_install import KafkaBrokerError, install_kafka
from inferstream.transports.kafka import BOOTSTRAP_ENV

kafka = typer.Typer(
    help="A local single-node Apache Kafka broker (KRaft, 127.0.0.1) for `run --transport kafka`.",
    no_args_is_help=True,
)
app.add_typer(kafka, name="kafka")


def _fail(exc: KafkaBrokerError) -> typer.Exit:
    console.print(f"[red]error[/red]: {exc}", soft_wrap=True)
    return typer.Exit(1)


@kafka.command("install")
def install() -> None:
    """Copy the broker's jars from Maven Central (needs Java 17+ and Maven); skipped when present."""
    try:
        with console.status("installing Apache Kafka from Maven Central..."):
            libs = install_kafka()
    except KafkaBrokerError as exc:
        raise _fail(exc) from None
    console.print(f"Kafka jars in {libs}")


@kafka.command("start")
def start(
    port: Annotated[int, typer.Option(help="Listener port (0: a free one).")] = 0,
    data_dir: Annotated[Path | None, typer.Option(help="Data dir (default .cache/kafka/run/data).")] = None,
    heap: Annotated[str, typer.Option(help="JVM max heap.")] = "512m",
) -> None:
    """Start a broker in the background (or show the running one) and print how to use it."""
    try:
        with console.status("starting the Kafka broker..."):
            record = start_detached(port, data_dir, heap)
    except KafkaBrokerError as exc:
        raise _fail(exc) from None
    bootstrap = record["bootstrap_servers"]
    where = f"pid {record['pid']}, data in {record['data_dir']}"
    console.print(f"Kafka broker on [bold]{bootstrap}[/bold] ({where})", soft_wrap=True)
    console.print(f"use it with: export {BOOTSTRAP_ENV}={bootstrap}", soft_wrap=True)
    console.print("stop it with: inferstream kafka stop")


@kafka.command("stop")
def stop(
    purge: Annotated[bool, typer.Option(help="Also delete the broker's data.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait before SIGKILL.")] = 30.0,
) -> None:
    """Stop the broker started by `inferstream kafka start` (SIGTERM, then SIGKILL)."""
    if stop_detached(timeout, purge):
        console.print("Kafka broker stopped")
    else:
        console.print("no broker started by `inferstream kafka start` is running")


@kafka.command("status")
def status() -> None:
    """Show whether a broker started by `inferstream kafka start` is running; exit 1 if not."""
    record = detached_broker()
    if record is None:
        console.print("no broker is running (start one with: inferstream kafka start)")
        raise typer.Exit(1)
    console.print(f"Kafka broker on {record['bootstrap_servers']} (pid {record['pid']})")
