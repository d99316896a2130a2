"""What a benchmark run produces: one ModeResult per mode and the run around them (results.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ModeResult:
    mode: str
    available: bool = True
    reason: str | None = None  # why the mode did not run (or failed)
    records_in: int = 0
    records_out: int = 0
    outlets: dict[str, int] = field(default_factory=dict)
    untagged_out: int = 0  # outlet records the harness could not match to an input
    duplicates: int = 0  # at-least-once redeliveries seen on the outlets
    drained: bool = False  # every input reached an outlet within the time budget
    sustained_rps: float | None = None  # records/s at the outlets while draining a backlog
    latency_rate_rps: float | None = None  # the paced input rate of the latency phase
    latency_ms: dict[str, float | None] = field(default_factory=dict)  # end-to-end p50/p95/p99
    model_call_ms: dict[str, float | None] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    max_lag: dict[str, int] = field(default_factory=dict)
    throughput_series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    lag_series: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    breakdown: dict[str, Any] = field(default_factory=dict)  # per-stage latency of sampled records
    sweep: list[dict[str, Any]] = field(default_factory=list)  # --latency-sweep steps
    rss_mib: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # per process
    rss_growth: dict[str, dict[str, float]] = field(default_factory=dict)  # over the saturated phase
    tracing: dict[str, Any] = field(default_factory=dict)  # traced modes: sampled, spans, traces checked
    seconds: float = 0.0

    @property
    def counts_add_up(self) -> bool:
        """Every input record reached exactly one outlet (duplicates aside)."""
        return self.records_in == self.records_out - self.duplicates


@dataclass
class BenchRun:
    command: str
    quick: bool
    machine: dict[str, Any]
    started: str
    seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)
    modes: list[ModeResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for mode, result in zip(data["modes"], self.modes, strict=True):
            mode["counts_add_up"] = result.counts_add_up
        return data
