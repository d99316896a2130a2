"""``inferstream bench``: the original's serving comparison reproduced on this machine, with charts."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from inferstream.cli.main import app, console


def _terminated(signum: int, frame: object) -> None:
    # Python's default SIGTERM ends the process at once, skipping the harness's finally blocks and
    # orphaning its broker, servers and pipeline; as an interrupt, they stop them as Ctrl-C does.
    raise KeyboardInterrupt(f"signal {signum}")

DEFAULT_OUT = Path("results/bench")


@app.command("bench")
def bench(
    out: Annotated[
        Path, typer.Option(help="Folder for results.json, table.md and the PNG charts.")
    ] = DEFAULT_OUT,
    quick: Annotated[
        bool, typer.Option("--quick", help="Smoke run: 3 modes, short phases, under 2 minutes.")
    ] = False,
    mode: Annotated[
        list[str],
        typer.Option(
            "--mode",
            help="Only the modes whose name contains this text (repeatable), e.g. quix; 'traced' runs the "
            "tracing modes (1 %, 100 %) beside their untraced twin.",
        ),
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    seconds: Annotated[
        float | None,
        typer.Option(min=1.0, help="Length of the saturated phase per mode (default 6 quick, 15 full)."),
    ] = None,
    latency_seconds: Annotated[
        float | None, typer.Option(min=1.0, help="Length of the paced latency phase per mode.")
    ] = None,
    kafka_conf: Annotated[
        list[str],
        typer.Option(
            "--kafka-conf",
            help="A librdkafka setting of the pipeline under test, KEY=VALUE with a producer./consumer. "
            "prefix for one role, e.g. producer.linger.ms=0 (repeatable).",
        ),
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    latency_sweep: Annotated[
        bool,
        typer.Option(
            "--latency-sweep",
            help="After each mode's paced phase, pace from 1,000 records/s up to its saturation rate "
            "in steps; p50/p99 per step and latency_sweep.png.",
        ),
    ] = False,
    replicas: Annotated[
        int, typer.Option(min=1, help="Model-server replicas for balancing and proxy modes.")
    ] = 2,
    otlp_endpoint: Annotated[
        str | None,
        typer.Option(
            help="OTLP/gRPC collector (HOST:PORT) for the traced modes' spans. Default: a Jaeger the bench "
            "starts and stops (built by bash scripts/jaeger/install.sh).",
        ),
    ] = None,
    models: Annotated[Path, typer.Option(help="Model base folder holding fraud/<version>/.")] = Path(
        "models"
    ),
    data: Annotated[Path, typer.Option(help="Card transactions to replay.")] = Path(
        "data/creditcard-sample.csv"
    ),
) -> None:
    """Measure the fraud pipeline over Kafka in each access mode (direct, client-side load balancing,
    nginx proxy; gRPC and REST; one record per call as the original vs batched; 1/2/4 instances;
    tracing off / 1 % / 100 %) and the Quix Streams peer, all on 127.0.0.1. Writes results.json,
    table.md and charts to --out.
    """
    from inferstream.bench.harness import BenchSettings, run_bench
    from inferstream.bench.modes import full_modes, quick_modes, select_modes
    from inferstream.bench.report import write_outputs

    modes = quick_modes() if quick else full_modes(replicas)
    if mode:
        modes = select_modes(modes, mode)
        if not modes:
            raise typer.BadParameter(
                "no mode matches; names look like inferstream-grpc-direct-1i-batched", param_hint="--mode"
            )
    if not data.is_file():
        raise typer.BadParameter(
            f"{data} does not exist; pass --data path/to/creditcard.csv", param_hint="--data"
        )
    settings = BenchSettings(
        modes=modes,
        out=out,
        quick=quick,
        models=models,
        data=data,
        saturate_seconds=seconds or (6.0 if quick else 15.0),
        drain_seconds=20.0 if quick else 30.0,
        latency_seconds=latency_seconds or (4.0 if quick else 10.0),
        replicas=replicas,
        latency_sweep=latency_sweep,
        kafka_conf=list(kafka_conf),
        otlp_endpoint=otlp_endpoint,
    )
    started = time.monotonic()
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("starting", total=None)
        previous = signal.signal(signal.SIGTERM, _terminated)
        try:
            run = run_bench(settings, lambda text: bar.update(task, description=text))
        finally:
            signal.signal(signal.SIGTERM, previous)
    paths = write_outputs(run, out)
    console.print(paths[1].read_text(), markup=False, highlight=False, soft_wrap=True)
    console.print(f"Wrote {', '.join(str(p) for p in paths)} in {time.monotonic() - started:.0f} s")
