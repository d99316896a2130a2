"""Run a fraud blueprint and account for every record: the engine of ``inferstream demo`` and the
end-to-end tests. Counts come from the runner's statistics and the blueprint's counting egresses
(``normal-counter``, ``fraud-counter``, ``error-counter``); labels from the replayed data set."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inferstream.apps.common.egress import Counts, counts, reset_counts
from inferstream.apps.fraud.data import CardTransactions
from inferstream.runtime.checks import check
from inferstream.runtime.run_stats import PipelineStats
from inferstream.runtime.runner import Runner
from inferstream.transports import load_transport

OUTCOMES = ("normal", "fraud", "error")


class PipelineSetupError(ValueError):
    """The blueprint or its configuration has errors; the message lists every one."""


@dataclass(frozen=True)
class Progress:
    """A moment of a running fraud pipeline, for a live display."""

    elapsed_s: float
    ingested: int
    decided: dict[str, int]
    in_per_s: float
    out_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float

    @property
    def out(self) -> int:
        return sum(self.decided.values())


@dataclass(frozen=True)
class Summary:
    """The account of a finished run."""

    elapsed_s: float
    ingested: int
    decided: dict[str, int]
    true_frauds_flagged: int
    normals_flagged: int
    frauds_missed: int
    latency_p50_ms: float
    latency_p99_ms: float
    error_reasons: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def scored(self) -> int:
        return self.decided["normal"] + self.decided["fraud"]

    @property
    def precision(self) -> float:
        flagged = self.true_frauds_flagged + self.normals_flagged
        return self.true_frauds_flagged / flagged if flagged else float("nan")

    @property
    def recall(self) -> float:
        frauds = self.true_frauds_flagged + self.frauds_missed
        return self.true_frauds_flagged / frauds if frauds else float("nan")

    @property
    def throughput(self) -> float:
        return sum(self.decided.values()) / self.elapsed_s if self.elapsed_s > 0 else 0.0


class FraudPipeline:
    """A fraud blueprint ready to run: ``await FraudPipeline("fraud-grpc", conf=[...]).run(30)``."""

    def __init__(
        self,
        blueprint: str | Path,
        conf: list[str] | None = None,
        transport: str = "memory",
        transport_settings: dict[str, Any] | None = None,
    ) -> None:
        checked = check(blueprint, conf=conf or [])
        if checked.plan is None or checked.errors:
            problems = "\n  ".join(str(p) for p in checked.errors)
            raise PipelineSetupError(f"the pipeline cannot start:\n  {problems}")
        plan = checked.plan
        self.plan = plan
        self.app = plan.app
        self.transport = load_transport(transport, transport_settings or {})
        self.runner: Runner | None = None
        self._last: tuple[float, int, int] = (0.0, 0, 0)
        reset_counts(*(self.counter_name(o) for o in OUTCOMES))

    def counter_name(self, outcome: str) -> str:
        return f"{self.app}.{outcome}-counter"

    def counter(self, outcome: str) -> Counts:
        return counts(self.counter_name(outcome))

    async def run(
        self,
        seconds: float | None = None,
        records: int | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        progress_interval: float = 0.5,
    ) -> PipelineStats:
        hook = (lambda stats: on_progress(self.progress(stats))) if on_progress else None
        self.runner = Runner(
            self.plan,
            self.transport,
            run_for=seconds,
            records=records,
            on_progress=hook,
            progress_interval=progress_interval,
        )
        try:
            return await self.runner.run()
        finally:
            await self.transport.close()

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()

    def progress(self, stats: PipelineStats) -> Progress:
        elapsed = stats.elapsed()
        ingested = _outlet_records(stats, "card-ingress", "out")
        decided = {o: _outlet_records(stats, "fraud-decider", o) for o in OUTCOMES}
        out = sum(decided.values())
        last_t, last_in, last_out = self._last
        dt = elapsed - last_t
        self._last = (elapsed, ingested, out)
        durations = self._durations()
        return Progress(
            elapsed,
            ingested,
            decided,
            (ingested - last_in) / dt if dt > 0 else 0.0,
            (out - last_out) / dt if dt > 0 else 0.0,
            *_quantiles(durations),
        )

    def summary(self, stats: PipelineStats, data: CardTransactions | None = None) -> Summary:
        """Counts, and precision/recall of the flags against ``data``'s labels (by transaction row)."""
        decided = {o: _outlet_records(stats, "fraud-decider", o) for o in OUTCOMES}
        flagged_true = flagged_false = missed = 0
        if data is not None:
            labels = {
                row.tobytes(): int(label) for row, label in zip(data.features, data.labels, strict=True)
            }
            for key, n in self.counter("fraud").keys.items():
                if labels.get(key) == 1:
                    flagged_true += n
                else:
                    flagged_false += n
            missed = sum(n for key, n in self.counter("normal").keys.items() if labels.get(key) == 1)
        errors = self.counter("error")
        return Summary(
            stats.elapsed(),
            _outlet_records(stats, "card-ingress", "out"),
            decided,
            flagged_true,
            flagged_false,
            missed,
            *_quantiles(self._durations()),
            error_reasons=dict(errors.reasons.most_common(5)),
            failures=[s.failure for s in stats.instances if s.failure],
        )

    def _durations(self) -> np.ndarray:
        # Calls that answered: an error record's duration may be a timeout, not a model call.
        return np.concatenate([self.counter(outcome).durations() for outcome in ("normal", "fraud")])


def _quantiles(durations: np.ndarray) -> tuple[float, float]:
    if durations.size == 0:
        return float("nan"), float("nan")
    p50, p99 = np.quantile(durations, [0.5, 0.99])
    return float(p50), float(p99)


def _outlet_records(stats: PipelineStats, streamlet: str, outlet: str) -> int:
    return sum(
        s.outlets[outlet].records for s in stats.instances if s.streamlet == streamlet and outlet in s.outlets
    )
