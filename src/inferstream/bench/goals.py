"""The issue's goals, checked against a run: met or missed, and by how much."""

from __future__ import annotations

from dataclasses import dataclass

from inferstream.bench.results import BenchRun, ModeResult

HEADLINE = "inferstream-grpc-direct-1i-batched"
ORIGINAL = "inferstream-grpc-direct-1i-original"
PEER = "quix-grpc-direct-1i"


@dataclass(frozen=True)
class GoalCheck:
    goal: str
    target: str
    measured: str
    met: bool | None  # None: not measurable in this run

    def line(self) -> str:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[self.met]
        return f"| {self.goal} | {self.target} | {self.measured} | {verdict} |"


def _by_name(run: BenchRun) -> dict[str, ModeResult]:
    return {r.mode: r for r in run.modes if r.available and r.sustained_rps}


def check_goals(run: BenchRun) -> list[GoalCheck]:
    modes = _by_name(run)
    checks = []
    grpc_batched = [
        r for r in modes.values() if r.mode.startswith("inferstream-grpc") and "batched" in r.mode
    ]
    best = max(grpc_batched, key=lambda r: r.sustained_rps or 0.0, default=None)
    if best is not None and best.sustained_rps:
        checks.append(
            GoalCheck(
                "Kafka pipeline, gRPC model calls",
                "≥ 50,000 records/s",
                f"{best.sustained_rps:,.0f}/s ({best.mode}; {best.sustained_rps / 50_000:.2f}× the goal)",
                best.sustained_rps >= 50_000,
            )
        )
    else:
        checks.append(GoalCheck("Kafka pipeline, gRPC model calls", "≥ 50,000 records/s", "–", None))
    checks.append(_ratio(modes, HEADLINE, ORIGINAL, 20.0, "batched + concurrent vs one record per call"))
    checks.append(_ratio(modes, HEADLINE, PEER, 3.0, "vs the Quix Streams peer"))
    head = modes.get(HEADLINE)
    p99 = head.latency_ms.get("p99") if head else None
    if head is not None and p99 is not None:
        checks.append(
            GoalCheck(
                "p99 end-to-end latency at half the max rate",
                "≤ 50 ms",
                f"{p99:,.1f} ms at {head.latency_rate_rps or 0:,.0f}/s ({p99 / 50:.2f}× the limit)",
                p99 <= 50.0,
            )
        )
    else:
        checks.append(GoalCheck("p99 end-to-end latency at half the max rate", "≤ 50 ms", "–", None))
    return checks


def _ratio(modes: dict[str, ModeResult], fast: str, slow: str, factor: float, goal: str) -> GoalCheck:
    a, b = modes.get(fast), modes.get(slow)
    if a is None or b is None or not a.sustained_rps or not b.sustained_rps:
        return GoalCheck(goal, f"≥ {factor:g}×", "–", None)
    ratio = a.sustained_rps / b.sustained_rps
    measured = f"{ratio:,.1f}× ({a.sustained_rps:,.0f} vs {b.sustained_rps:,.0f}/s)"
    return GoalCheck(goal, f"≥ {factor:g}×", measured, ratio >= factor)


def goals_table(run: BenchRun) -> str:
    lines = ["| goal | target | measured | verdict |", "|---|---|---|---|"]
    return "\n".join(lines + [c.line() for c in check_goals(run)])
