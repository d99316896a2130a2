"""The report as a rich table: one row per check, its verdict and the reason."""

from __future__ import annotations

from rich.table import Table

from inferstream.conformance.results import Report, Status

STYLE = {Status.PASS: "green", Status.FAIL: "red", Status.NOT_APPLICABLE: "dim"}


def report_table(report: Report) -> Table:
    title = f"{report.protocol} over {report.transport} at {report.target}"
    table = Table(title=title + (f" (model {report.model})" if report.model else ""))
    table.add_column("check")
    table.add_column("required")
    table.add_column("result")
    table.add_column("detail / reason", overflow="fold")
    for check in report.checks:
        style = STYLE[check.status]
        table.add_row(check.name, "yes" if check.required else "no",
                      f"[{style}]{check.status.value}[/{style}]", check.reason)
    return table


def summary_line(report: Report) -> str:
    counts = report.counts()
    verdict = "conforms" if report.ok else f"{len(report.failed_required)} required check(s) failed"
    return f"{counts['pass']} passed, {counts['fail']} failed, {counts['n/a']} not applicable: {verdict}"


def markdown_table(report: Report) -> str:
    """The same table in Markdown (docs/conformance.md)."""
    lines = ["| check | required | result | detail / reason |", "| --- | --- | --- | --- |"]
    for c in report.checks:
        reason = c.reason.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {c.name} | {'yes' if c.required else 'no'} | {c.status.value} | {reason} |")
    return "\n".join(lines)
