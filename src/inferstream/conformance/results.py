"""What a conformance run found: one result per check, and the report of a whole battery."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Status(enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "n/a"  # the protocol (or the model) has no such thing; never a failure


@dataclass(frozen=True)
class CheckResult:
    """One check: ``required`` ones make the run fail; the others are reported (what servers differ on)."""

    name: str
    status: Status
    reason: str = ""
    required: bool = True

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status.value}


@dataclass
class Report:
    target: str
    protocol: str
    transport: str
    model: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def failed_required(self) -> list[CheckResult]:
        return [c for c in self.checks if c.required and c.status is Status.FAIL]

    @property
    def ok(self) -> bool:
        return not self.failed_required

    def counts(self) -> dict[str, int]:
        return {s.value: sum(1 for c in self.checks if c.status is s) for s in Status}

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target, "protocol": self.protocol, "transport": self.transport,
            "model": self.model, "ok": self.ok, "counts": self.counts(),
            "checks": [c.to_json() for c in self.checks],
        }


class CheckFailed(Exception):
    """Raised inside a check: the message is the reason shown in the table."""


class NotApplicable(Exception):
    """Raised inside a check: the server or the model has nothing to check here (reason given)."""
