"""The access modes the harness compares, named the way the table and charts show them."""

from __future__ import annotations

from dataclasses import dataclass
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
        return "-".join(parts)

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


def full_modes(replicas: int = 2) -> list[Mode]:
    """The study: direct / client-side LB / proxy × REST / gRPC, the original's style, scaling, the peer."""
    modes: list[Mode] = []
    protocols: tuple[Protocol, ...] = ("grpc", "rest")
    modes.append(Mode("inferstream", "grpc", colocated=True))
    for protocol in protocols:
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
