"""The access modes the harness compares, named the way the table and charts show them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

Engine = Literal["inferstream", "quix", "handwritten"]
Protocol = Literal["grpc", "rest"]
Access = Literal["direct", "client-lb", "proxy"]
Style = Literal["batched", "original"]
Guarantee = Literal["at-least-once", "exactly-once"]


@dataclass(frozen=True)
class Mode:
    """One configuration of the fraud pipeline to measure."""

    engine: Engine
    protocol: Protocol
    access: Access = "direct"
    replicas: int = 1  # model-server replicas behind the access path
    instances: int = 1  # model-serving streamlet instances (one consumer group)
    style: Style = "batched"  # "original": one record per call, one call in flight per instance
    colocated: bool = False  # inferstream: the decider and the egresses share one process (--colocate)
    guarantee: Guarantee = "at-least-once"  # exactly-once: Kafka transactions (inferstream only)
    trace_ratio: float = 0.0  # > 0: that share of records traced (OTLP to Jaeger); inferstream only

    @property
    def name(self) -> str:
        parts: list[str] = [self.engine, self.protocol, self.access]
        if self.access != "direct":
            parts.append(f"{self.replicas}r")
        parts.append(f"{self.instances}i")
        if self.engine == "inferstream":
            parts.append(self.style)
        if self.colocated:
            parts.append("colocated")
        if self.guarantee == "exactly-once":
            parts.append("exactly-once")
        if self.traced:
            parts.append(f"traced-{self.trace_ratio * 100:g}pct")
        return "-".join(parts)

    @property
    def traced(self) -> bool:
        return self.trace_ratio > 0

    @property
    def untraced(self) -> Mode:
        """The same mode with tracing off: the baseline its tracing cost is measured against."""
        return replace(self, trace_ratio=0.0)

    @property
    def slow(self) -> bool:
        """One record per call: expect hundreds, not tens of thousands, of records per second."""
        return self.engine == "quix" or self.style == "original"

    @property
    def peer(self) -> bool:
        """Not inferstream: the same pipeline written another way (``benchmarks/peers/``)."""
        return self.engine != "inferstream"


def quick_modes() -> list[Mode]:
    """A smoke run: the headline mode, the original's style and the peer."""
    return [
        Mode("inferstream", "grpc"),
        Mode("inferstream", "grpc", style="original"),
        Mode("quix", "grpc"),
        Mode("handwritten", "grpc"),
    ]


TRACE_RATIOS = (0.01, 1.0)  # the 1 % (aim: ≤ 5 % cost) and 100 % (debugging)


def traced_modes(base: Mode) -> list[Mode]:
    """``base`` with tracing off, at 1 % and at 100 %, side by side."""
    return [base, *(replace(base, trace_ratio=ratio) for ratio in TRACE_RATIOS)]


def select_modes(modes: Sequence[Mode], texts: Sequence[str]) -> list[Mode]:
    """The modes whose name contains one of ``texts``; a traced mode brings its untraced twin along
    (its cost is a ratio to it), placed just before it."""
    chosen = [m for m in modes if any(text in m.name for text in texts)]
    wanted = set(chosen) | {m.untraced for m in chosen if m.traced}
    return [m for m in modes if m in wanted]


def full_modes(replicas: int = 2) -> list[Mode]:
    """The study: direct / client-side LB / proxy × REST / gRPC, the original's style, scaling, the peer."""
    modes: list[Mode] = []
    protocols: tuple[Protocol, ...] = ("grpc", "rest")
    modes.append(Mode("inferstream", "grpc", colocated=True))
    for protocol in protocols:
        if protocol == "grpc":  # the headline mode, untraced and traced: what tracing costs
            modes.extend(traced_modes(Mode("inferstream", protocol)))
        else:
            modes.append(Mode("inferstream", protocol))
        modes.append(Mode("inferstream", protocol, guarantee="exactly-once"))  # its cost, side by side
        modes.append(Mode("inferstream", protocol, "client-lb", replicas))
        modes.append(Mode("inferstream", protocol, "proxy", replicas))
        modes.append(Mode("inferstream", protocol, style="original"))
    for instances in (2, 4):
        modes.append(Mode("inferstream", "grpc", "client-lb", replicas, instances))
    modes.append(Mode("quix", "grpc"))
    modes.append(Mode("quix", "rest"))
    modes.append(Mode("handwritten", "grpc"))
    return modes
