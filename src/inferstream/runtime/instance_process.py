"""The entry point of one process of a multi-process run (what :class:`ProcessRunner` starts).

    python -m inferstream.runtime.instance_process BLUEPRINT --transport kafka \\
        --instance model-serving:0 [--summary-json F] [--conf k=v ...]

It checks the blueprint with the same settings as the parent, runs only the named instances,
prints :data:`READY_MARKER` once they consume, finishes in-flight batches on SIGTERM without
draining (the parent drains), and prints its counters every second as a stats line
(:mod:`~inferstream.runtime.child_stats`) for the parent to merge: no files. Exit
codes: 0 done, 1 an instance failed, 2 the blueprint or transport cannot be used. The runtime
starts its children here rather than through the CLI, so it never imports the layer above it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inferstream.observability.tracing import configure_tracing, shutdown_tracing
from inferstream.runtime.checks import check
from inferstream.runtime.child_stats import REPORT_INTERVAL, stats_line
from inferstream.runtime.config import parse_duration
from inferstream.runtime.control import ControlServer
from inferstream.runtime.runner import Runner
from inferstream.runtime.transactional import parse_guarantees
from inferstream.transports import TransportError, load_transport

MODULE = "inferstream.runtime.instance_process"

#: What a child prints (alone on a line) once its instances are set up and consuming starts.
READY_MARKER = "inferstream: instance ready"
#: Followed by the URL of the child's live counters (``GET /stats``), with ``--control-port``.
CONTROL_MARKER = "inferstream: control endpoint "
#: Followed by the base URL of a server streamlet's endpoint (``/state``, ``/metrics``).
HTTP_MARKER = "inferstream: http endpoint "


def child_command(blueprint: str, transport: str, options: Sequence[str]) -> list[str]:
    """The argv of a child process, before its ``--instance`` and ``--summary-json``; ``options``:
    ``--conf``, ``--conf-file``, ``--scale``, ``--records``, ``--drain-timeout`` as the parent got them."""
    return [sys.executable, "-m", MODULE, blueprint, "--transport", transport, *options]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description="One process of a run.")
    parser.add_argument("blueprint")
    parser.add_argument("--transport", default="memory")
    parser.add_argument("--instance", action="append", required=True, help="<streamlet>:<index>")
    parser.add_argument("--summary-json", type=Path, default=None)  # counts also go to stdout, every second
    parser.add_argument("--conf", action="append", default=[])
    parser.add_argument("--conf-file", action="append", default=[], type=Path)
    parser.add_argument("--scale", action="append", default=[])
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--drain-timeout", default="60s")
    parser.add_argument("--guarantee", action="append", default=[])
    parser.add_argument("--control-port", type=int, default=None, help="serve GET /stats (0: free port)")
    parser.add_argument("--trace-ratio", type=float, default=None)
    parser.add_argument("--otlp-endpoint", default=None)
    return parser


def _instances(values: list[str]) -> list[tuple[str, int]]:
    chosen = []
    for value in values:
        name, _, index = value.partition(":")
        if not index.isdigit():
            raise SystemExit(f"--instance {value!r}: write <streamlet>:<index>")
        chosen.append((name, int(index)))
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    checked = check(args.blueprint, args.conf_file, args.conf, args.scale)
    if checked.errors or checked.plan is None:
        for problem in checked.problems:
            print(problem, file=sys.stderr)
        return 2
    try:
        transport = load_transport(args.transport, checked.settings.transport_settings(args.transport))
    except (TransportError, TypeError) as exc:
        print(f"cannot use transport {args.transport!r}: {exc}", file=sys.stderr)
        return 2
    only = _instances(args.instance)
    configure_tracing(f"{checked.plan.app}/{only[0][0]}", args.trace_ratio, args.otlp_endpoint)
    runner = Runner(
        checked.plan,
        transport,
        records=args.records,
        drain_timeout=parse_duration(args.drain_timeout).total_seconds(),
        only=only,
        drain=False,
        on_progress=lambda stats: print(stats_line(stats), flush=True),  # the parent keeps the last one
        progress_interval=REPORT_INTERVAL,
        on_ready=lambda: _ready(runner),
        guarantees=parse_guarantees(args.guarantee, list(checked.plan.streamlets)),
    )

    async def run() -> Any:
        runner.install_signal_handlers()
        control = ControlServer(runner, args.control_port) if args.control_port is not None else None
        if control is not None:
            print(CONTROL_MARKER + await control.start(), flush=True)
        try:
            return await runner.run()
        finally:
            if control is not None:
                await control.stop()

    try:
        stats = asyncio.run(run())
    finally:
        shutdown_tracing()  # export the spans still buffered
    summary: dict[str, Any] = stats.snapshot()
    summary["transport"] = args.transport
    if args.summary_json is not None:
        args.summary_json.write_text(json.dumps(summary, indent=2))
    return 1 if any(i.failure for i in stats.instances) else 0


def _ready(runner: Runner) -> None:
    for instance in runner.instances:
        if instance.ctx.http_url:
            print(HTTP_MARKER + instance.ctx.http_url, flush=True)
    print(READY_MARKER, flush=True)


if __name__ == "__main__":
    sys.exit(main())
