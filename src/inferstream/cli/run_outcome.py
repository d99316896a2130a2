"""``inferstream run``'s checks before the first record and its verdict after the last one.

* :func:`preflight_or_exit`: the transport and every streamlet's pre-flight check; one line and
  exit code 2 when something is missing (``--no-preflight`` skips it);
* :func:`report_outcome`: the summary table, the verdict (failed instances, ``--max-error-ratio``)
  in the summary JSON under ``outcome``, and exit code 1 when the run failed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from inferstream.cli.main import console
from inferstream.runtime.outcome import DEFAULT_MAX_ERROR_RATIO, judge
from inferstream.runtime.plan import Plan
from inferstream.runtime.preflight import PreflightError, preflight
from inferstream.runtime.run_stats import PipelineStats
from inferstream.transports import Transport, TransportError

MaxErrorRatioOption = Annotated[
    float,
    typer.Option(
        min=0.0,
        max=1.0,
        help="Exit 1 when more than this share of the records failed (error results + dead letters).",
    ),
]
PreflightOption = Annotated[
    bool,
    typer.Option(
        help="Check the broker, model servers and models before the first record; --no-preflight "
        "starts anyway (servers that come up later)."
    ),
]
DEFAULT_RATIO = DEFAULT_MAX_ERROR_RATIO


def preflight_or_exit(plan: Plan, transport: Transport) -> None:
    """Run the pre-flight checks; on a failure print one line and exit 2."""

    try:
        asyncio.run(preflight(plan, transport))
    except (PreflightError, TransportError) as exc:
        console.print(
            f"[red]pre-flight failed[/red]: {escape(str(exc))} (--no-preflight starts anyway and waits)",
            soft_wrap=True,
        )
        raise typer.Exit(2) from None


def summary_table(stats: PipelineStats, statuses: Mapping[str, str] | None = None) -> Table:
    """Per streamlet: records in/out, rate, error results, dead letters, processing failures; with
    ``statuses`` (the live table, :mod:`~inferstream.cli.run_display`) also what each does now."""
    columns = ["streamlet", "in", "out", "records/s", "error results", "dead letters", "failures"]
    table = Table(*columns, title=stats.app)
    if statuses is not None:
        table.add_column("status")
    for name, summary in stats.snapshot()["streamlets"].items():
        cells = [
            name,
            f"{summary['records_in']:,}",
            f"{summary['records_out']:,}",
            f"{summary['records_per_s']:,.0f}",
            f"{summary.get('error_results', 0):,}",
            f"{summary['dead_letters']:,}",
            f"{summary['errors']:,}",
        ]
        if statuses is not None:
            status = statuses.get(name, "running")
            cells.append(status if status == "running" else f"[yellow]{escape(status)}[/yellow]")
        table.add_row(*cells)
    return table


def report_outcome(
    stats: PipelineStats,
    summary: dict[str, Any],
    max_error_ratio: float,
    summary_json: Path | None,
    failed_codes: dict[str, int],
    show_table: bool,
    run_errors: list[str] | None = None,
) -> None:
    """Write the summary (with ``outcome``), show the table and the verdict; exit 1 if the run failed."""
    outcome = judge(summary, max_error_ratio)
    named = {entry.split(":")[0] for entry in outcome.failed_instances}
    missing = sorted(k for k in failed_codes if k not in named)
    outcome.failed_instances += [f"{k}: exit code {failed_codes[k]}" for k in missing]
    outcome.run_errors += run_errors or []
    summary["outcome"] = outcome.to_json()
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary, indent=2))
    if show_table:
        console.print(summary_table(stats))
        for instance in stats.instances:
            if instance.failure:
                counts = (
                    ", ".join(f"{n}: {p.records:,} in" for n, p in instance.inlets.items())
                    or "no records counted"
                )
                line = f"{instance.streamlet}.{instance.instance}: {instance.failure} (last known: {counts})"
                console.print(f"[red]{escape(line)}[/red]", soft_wrap=True)
            if instance.restarted_after:  # counts are every process's of the instance, summed
                line = (
                    f"{instance.streamlet}.{instance.instance}: restarted after: "
                    f"{'; '.join(instance.restarted_after)} (counts add up all its processes)"
                )
                console.print(f"[yellow]{escape(line)}[/yellow]", soft_wrap=True)
    for reason in outcome.reasons():
        console.print(f"[red]run failed[/red]: {escape(reason)}", soft_wrap=True)
    if not outcome.ok:
        raise typer.Exit(1)
