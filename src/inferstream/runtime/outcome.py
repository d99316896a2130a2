"""How a run ended, judged for a script or a scheduler: failed records against a bound, failed instances.

A run *failed* when the run itself failed (e.g. its parent process could not stop it cleanly), any
instance ended abnormally (an exit code, a signal it did not ask for,
an exception) or when more than ``max_error_ratio`` of the records that entered the pipeline
failed: error results (records on an :class:`~inferstream.runtime.failures.ErrorOutlet`) plus
dead letters, over the records the ingresses emitted. The verdict goes into the summary JSON
(``outcome``) and decides ``inferstream run``'s exit code.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import Any

#: Default of ``--max-error-ratio``: more than 1 % failed records fails the run.
DEFAULT_MAX_ERROR_RATIO = 0.01


def describe_exit(code: int | None) -> str:
    """``exited with code 3``, ``killed by SIGKILL``, ``still running``."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


@dataclass
class Outcome:
    records: int  # records that entered the pipeline (emitted by the ingresses)
    error_results: int
    dead_letters: int
    max_error_ratio: float
    failed_instances: list[str] = field(default_factory=list)  # "name.i: how it ended"
    run_errors: list[str] = field(default_factory=list)  # the run itself (not an instance) failed

    @property
    def failed_records(self) -> int:
        return self.error_results + self.dead_letters

    @property
    def error_ratio(self) -> float:
        return self.failed_records / self.records if self.records else (1.0 if self.failed_records else 0.0)

    @property
    def too_many_errors(self) -> bool:
        return self.failed_records > 0 and self.error_ratio > self.max_error_ratio

    @property
    def ok(self) -> bool:
        return not self.failed_instances and not self.too_many_errors and not self.run_errors

    def reasons(self) -> list[str]:
        """One line per reason the run failed (empty when it did not)."""
        lines = []
        if self.too_many_errors:
            lines.append(
                f"{self.failed_records:,} of {self.records:,} records failed ({self.error_ratio:.1%}: "
                f"{self.error_results:,} error results, {self.dead_letters:,} dead letters), above "
                f"--max-error-ratio {self.max_error_ratio:g}; `inferstream errors` lists them"
            )
        if self.failed_instances:
            lines.append("instances ended abnormally: " + ", ".join(self.failed_instances))
        lines += self.run_errors
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "error_results": self.error_results,
            "dead_letters": self.dead_letters,
            "failed_records": self.failed_records,
            "error_ratio": self.error_ratio,
            "max_error_ratio": self.max_error_ratio,
            "failed_instances": self.failed_instances,
            "run_errors": self.run_errors,
            "reasons": self.reasons(),
        }


def judge(summary: dict[str, Any], max_error_ratio: float = DEFAULT_MAX_ERROR_RATIO) -> Outcome:
    """The verdict on a run's summary (``PipelineStats.snapshot()``)."""
    streamlets: dict[str, Any] = summary.get("streamlets", {})
    ingress = [s for s in streamlets.values() if not s.get("inlets") and s.get("outlets")]  # no inlet
    if ingress:
        records = sum(int(s["records_out"]) for s in ingress)
    else:  # no ingress known: the busiest inlet saw every record at least once
        records = max((int(s["records_in"]) for s in streamlets.values()), default=0)
    failed = [
        f"{i['streamlet']}.{i['instance']}: {i['failure']}"
        for i in summary.get("instances", [])
        if i.get("failure")
    ]
    return Outcome(
        records=records,
        error_results=sum(int(s.get("error_results", 0)) for s in streamlets.values()),
        dead_letters=sum(int(s.get("dead_letters", 0)) for s in streamlets.values()),
        max_error_ratio=max_error_ratio,
        failed_instances=failed,
    )
