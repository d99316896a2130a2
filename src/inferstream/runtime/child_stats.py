"""How a child process of a multi-process run tells the parent its counts: a line on its output.

Every second (and once more at its end) a child prints ``inferstream: stats {json}`` alone on a
line; the parent keeps the latest one per child. So a child killed by a signal still has its
last known counts in the summary, and a run needs no temporary files (a killed run leaves none).
"""

from __future__ import annotations

import json
from typing import Any

from inferstream.runtime.run_stats import InstanceStats, PipelineStats

STATS_MARKER = "inferstream: stats "
#: How often a child reports its counts.
REPORT_INTERVAL = 1.0


def stats_line(stats: PipelineStats) -> str:
    """The line a child prints: its instances' counters and the CPU it used so far."""
    body = {"cpu_s": stats.cpu_s(), "instances": [i.to_dict() for i in stats.instances]}
    return STATS_MARKER + json.dumps(body, separators=(",", ":"))


def parse_stats_line(line: str) -> dict[str, Any] | None:
    """The report in ``line``, or None if it is an ordinary log line (or a torn report)."""
    if not line.startswith(STATS_MARKER):
        return None
    try:
        report = json.loads(line[len(STATS_MARKER) :])
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def instance_from_report(report: dict[str, Any] | None, streamlet: str, index: int) -> InstanceStats | None:
    """The counters of ``streamlet.index`` in a child's last report."""
    if report is None:
        return None
    for data in report.get("instances", []):
        if data.get("streamlet") == streamlet and data.get("instance") == index:
            try:
                return InstanceStats.from_dict(data)
            except (KeyError, TypeError, ValueError):
                return None
    return None
