"""Execution statistics as the original's ``/state`` endpoint reported them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ExecutionStatistics:
    """Records scored (``usage``) and model-call durations in ms (average/min/max over calls) since start."""

    name: str
    description: str = ""
    since: int = field(default_factory=lambda: int(time.time() * 1000))  # epoch millis
    usage: int = 0
    calls: int = 0
    total_ms: float = 0.0
    min_ms: float = 0.0
    max_ms: float = 0.0

    def record(self, duration_ms: float, records: int = 1) -> None:
        """Count ``records`` scored by one call that took ``duration_ms``."""
        if self.calls == 0:
            self.min_ms = self.max_ms = duration_ms
        else:
            self.min_ms = min(self.min_ms, duration_ms)
            self.max_ms = max(self.max_ms, duration_ms)
        self.usage += records
        self.calls += 1
        self.total_ms += duration_ms

    @property
    def average_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0

    def to_json(self) -> dict[str, Any]:
        """The original's shape: ``{name, description, since, usage, average, min, max}``."""
        return {
            "name": self.name,
            "description": self.description,
            "since": self.since,
            "usage": self.usage,
            "average": round(self.average_ms, 3),
            "min": round(self.min_ms, 3),
            "max": round(self.max_ms, 3),
        }
