"""Live counters of a running pipeline, and the summary written by ``--summary-json``.

The runner owns one :class:`PipelineStats`; every instance updates its :class:`InstanceStats`.
A live display (``make demo``) reads ``runner.stats.snapshot()`` or passes ``on_progress`` to the
runner, which calls it with the stats every ``progress_interval`` seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PortStats:
    """Counters of one inlet or outlet of one instance."""

    records: int = 0
    batches: int = 0
    # inlets: records whose processing raised (they went to the dead letters);
    # outlets: error results, records emitted on an ErrorOutlet (the streamlet failed them)
    errors: int = 0
    dead_letters: int = 0  # records that went to the dead-letter topic (decode or processing failure)
    busy_seconds: float = 0.0  # inlets: time spent in ``process``; latency = busy_seconds / batches
    first_at: float = 0.0  # epoch seconds of the first batch (0: none yet); comparable across processes
    last_at: float = 0.0  # epoch seconds of the latest batch

    def count(self, records: int) -> None:
        """Count one batch of ``records``."""
        now = time.time()
        self.records += records
        self.batches += 1
        self.first_at = self.first_at or now
        self.last_at = now

    def add(self, other: PortStats) -> None:
        self.records += other.records
        self.batches += other.batches
        self.errors += other.errors
        self.dead_letters += other.dead_letters
        self.busy_seconds += other.busy_seconds
        firsts = [t for t in (self.first_at, other.first_at) if t]
        self.first_at = min(firsts) if firsts else 0.0
        self.last_at = max(self.last_at, other.last_at)


@dataclass
class InstanceStats:
    streamlet: str
    instance: int
    inlets: dict[str, PortStats] = field(default_factory=dict)
    outlets: dict[str, PortStats] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    failure: str | None = None  # why the instance ended abnormally
    ended_how: str | None = None  # multi-process runs: "exited with code 0", "killed by SIGKILL"
    # multi-process runs: how each earlier process of a restarted instance ended (its counts are added)
    restarted_after: list[str] = field(default_factory=list)

    def inlet(self, name: str) -> PortStats:
        return self.inlets.setdefault(name, PortStats())

    def outlet(self, name: str) -> PortStats:
        return self.outlets.setdefault(name, PortStats())

    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def to_dict(self) -> dict[str, Any]:
        return {
            "streamlet": self.streamlet,
            "instance": self.instance,
            "elapsed_s": self.elapsed(),
            "failure": self.failure,
            "ended": self.ended_how,
            "restarted_after": self.restarted_after,
            "inlets": {k: vars(v) for k, v in self.inlets.items()},
            "outlets": {k: vars(v) for k, v in self.outlets.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InstanceStats:
        stats = cls(data["streamlet"], data["instance"], failure=data.get("failure"))
        stats.ended_how = data.get("ended")
        stats.restarted_after = list(data.get("restarted_after") or [])
        stats.inlets = {k: PortStats(**v) for k, v in data["inlets"].items()}
        stats.outlets = {k: PortStats(**v) for k, v in data["outlets"].items()}
        stats.ended = stats.started + float(data["elapsed_s"])
        return stats


def _rate(records: int, seconds: float) -> float:
    return records / seconds if seconds > 0 else 0.0


def _port_summary(port: PortStats, seconds: float) -> dict[str, Any]:
    return {
        "records": port.records,
        "batches": port.batches,
        "errors": port.errors,
        "dead_letters": port.dead_letters,
        "records_per_s": _rate(port.records, seconds),
        "mean_batch_latency_s": port.busy_seconds / port.batches if port.batches else 0.0,
        "first_at": port.first_at,
        "last_at": port.last_at,
    }


class PipelineStats:
    """Every instance's counters, summed per streamlet and per port on demand."""

    def __init__(self, app: str) -> None:
        self.app = app
        self.instances: list[InstanceStats] = []
        self.started = time.monotonic()
        self.ended: float | None = None  # set by runners whose instances ran elsewhere
        self.cpu_started = time.process_time()
        self.child_cpu_s: float | None = None  # multi-process runs: the children's CPU, summed

    def instance(self, streamlet: str, index: int) -> InstanceStats:
        stats = InstanceStats(streamlet, index)
        self.instances.append(stats)
        return stats

    def elapsed(self) -> float:
        if self.ended is not None:
            return self.ended - self.started
        ends = [s.ended for s in self.instances]
        if self.instances and all(end is not None for end in ends):
            return max(end for end in ends if end is not None) - self.started
        return time.monotonic() - self.started

    def cpu_s(self) -> float:
        if self.child_cpu_s is not None:
            return self.child_cpu_s
        return time.process_time() - self.cpu_started

    def streamlet_summary(self, streamlet: str) -> dict[str, Any]:
        mine = [s for s in self.instances if s.streamlet == streamlet]
        inlets: dict[str, PortStats] = {}
        outlets: dict[str, PortStats] = {}
        for stats in mine:
            for name, port in stats.inlets.items():
                inlets.setdefault(name, PortStats()).add(port)
            for name, port in stats.outlets.items():
                outlets.setdefault(name, PortStats()).add(port)
        seconds = max((s.elapsed() for s in mine), default=0.0)
        records_in = sum(p.records for p in inlets.values())
        records_out = sum(p.records for p in outlets.values())
        return {
            "instances": len(mine),
            "records_in": records_in,
            "records_out": records_out,
            "errors": sum(p.errors for p in inlets.values()),
            "error_results": sum(p.errors for p in outlets.values()),
            "dead_letters": sum(p.dead_letters for p in inlets.values()),
            "elapsed_s": seconds,
            "records_per_s": _rate(max(records_in, records_out), seconds),
            "failures": [s.failure for s in mine if s.failure],
            "inlets": {name: _port_summary(port, seconds) for name, port in inlets.items()},
            "outlets": {name: _port_summary(port, seconds) for name, port in outlets.items()},
        }

    def snapshot(self) -> dict[str, Any]:
        """The machine-readable account: per streamlet and per inlet/outlet (``--summary-json``)."""
        names = list(dict.fromkeys(s.streamlet for s in self.instances))
        streamlets = {name: self.streamlet_summary(name) for name in names}
        ports = [p for s in self.instances for p in (*s.inlets.values(), *s.outlets.values()) if p.first_at]
        return {
            "app": self.app,
            "elapsed_s": self.elapsed(),
            # first record emitted anywhere to last record consumed anywhere (epoch clocks)
            "flow_s": max(p.last_at for p in ports) - min(p.first_at for p in ports) if ports else 0.0,
            # CPU seconds the pipeline's processes used (not a broker's): load-independent cost
            "cpu_s": self.cpu_s(),
            "ok": not any(s.failure for s in self.instances),
            "streamlets": streamlets,
            "instances": [s.to_dict() for s in self.instances],
        }
