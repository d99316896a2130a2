"""The issue's goals, checked against a run: met or missed, and by how much."""

from __future__ import annotations

from dataclasses import dataclass

from inferstream.bench.results import BenchRun, ModeResult

HEADLINE = "inferstream-grpc-direct-1i-batched"
ORIGINAL = "inferstream-grpc-direct-1i-original"
PEER = "quix-grpc-direct-1i"
HANDWRITTEN = "handwritten-grpc-direct-1i"


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
        r for r in modes.values()
        if r.mode.startswith("inferstream-grpc") and "batched" in r.mode and "-traced-" not in r.mode
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
    checks.append(_versus_handwritten(modes))
    checks.append(_tracing_cost(modes))
    head = modes.get(HEADLINE)
    for key, limit in (("p99", 50.0), ("p50", 15.0)):
        value = head.latency_ms.get(key) if head else None
        goal = f"{key} end-to-end latency at half the max rate"
        if head is None or value is None:
            checks.append(GoalCheck(goal, f"≤ {limit:g} ms", "–", None))
            continue
        measured = f"{value:,.1f} ms at {head.latency_rate_rps or 0:,.0f}/s ({value / limit:.2f}× the limit)"
        checks.append(GoalCheck(goal, f"≤ {limit:g} ms", measured, value <= limit))
    low = next((s for s in (head.sweep if head else []) if s["offered_rps"] == 1_000), None)
    if low is None or low.get("p99_ms") is None:
        checks.append(GoalCheck("p99 at 1,000 records/s (--latency-sweep)", "≤ 20 ms", "–", None))
    else:
        p99 = float(low["p99_ms"])
        checks.append(GoalCheck("p99 at 1,000 records/s (--latency-sweep)", "≤ 20 ms",
                                f"{p99:,.1f} ms ({p99 / 20:.2f}× the limit)", p99 <= 20.0))
    return checks


def _versus_handwritten(modes: dict[str, ModeResult]) -> GoalCheck:
    """≥ 4× the hand-written peer's throughput at an equal or better p99 (the best inferstream gRPC mode)."""
    goal, target = "vs the hand-written peer (throughput, p99)", "≥ 4×, p99 ≤ the peer's"
    peer = modes.get(HANDWRITTEN)
    ours = [r for r in modes.values()
            if r.mode.startswith("inferstream-grpc") and "batched" in r.mode and "-traced-" not in r.mode]
    best = max(ours, key=lambda r: r.sustained_rps or 0.0, default=None)
    if peer is None or best is None or not peer.sustained_rps or not best.sustained_rps:
        return GoalCheck(goal, target, "–", None)
    ratio = best.sustained_rps / peer.sustained_rps
    p99, peer_p99 = best.latency_ms.get("p99"), peer.latency_ms.get("p99")
    latency = f"p99 {p99 or 0:,.1f} vs {peer_p99 or 0:,.1f} ms"
    rates = f"{best.sustained_rps:,.0f} vs {peer.sustained_rps:,.0f}/s, {best.mode}"
    measured = f"{ratio:,.1f}× ({rates}); {latency}"
    met = ratio >= 4.0 and p99 is not None and peer_p99 is not None and p99 <= peer_p99
    return GoalCheck(goal, target, measured, met)


def _tracing_cost(modes: dict[str, ModeResult]) -> GoalCheck:
    """Tracing at 1 % keeps ≥ 95 % of the untraced headline mode's throughput (same run)."""
    goal, target = "tracing at 1 %: cost vs untraced", "≤ 5 % of throughput"
    base, traced = modes.get(HEADLINE), modes.get(f"{HEADLINE}-traced-1pct")
    if base is None or traced is None or not base.sustained_rps or not traced.sustained_rps:
        return GoalCheck(goal, target, "–", None)
    share = traced.sustained_rps / base.sustained_rps
    measured = f"{100 * (1 - share):+.1f} % ({traced.sustained_rps:,.0f} vs {base.sustained_rps:,.0f}/s)"
    return GoalCheck(goal, target, measured, share >= 0.95)


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
