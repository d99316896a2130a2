"""Client-side load balancing over model-server replicas: pick, eject on failure, re-admit later."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from inferstream.executors.config import LbPolicy
from inferstream.executors.errors import NoEndpointsError


@dataclass
class EndpointState:
    """Book-keeping of one replica; ``address`` is host:port or a base URL."""

    address: str
    outstanding: int = 0
    calls: int = 0
    failures: int = 0  # consecutive transient failures
    ejected_until: float = 0.0

    def healthy(self, now: float) -> bool:
        return self.ejected_until <= now


class LoadBalancer:
    """Chooses an endpoint per call by policy; endpoints may change at any time without a restart.

    An endpoint that fails ``eject_after`` times in a row rests for ``eject_seconds``; afterwards it
    is tried again (one success re-admits it fully). When every endpoint is resting, the one that
    has rested longest is tried anyway: failing fast without trying would turn a short outage of
    a single server into lost records.
    """

    def __init__(
        self,
        policy: LbPolicy = "round_robin",
        eject_after: int = 1,
        eject_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy: LbPolicy = policy
        self.eject_after = eject_after
        self.eject_seconds = eject_seconds
        self._clock = clock
        self._endpoints: dict[str, EndpointState] = {}
        self._rr = itertools.count()

    # -- membership -------------------------------------------------------------------------------
    def set_endpoints(self, addresses: Iterable[str]) -> tuple[list[str], list[str]]:
        """Replace the membership; returns (added, removed). Known endpoints keep their state."""
        wanted = list(dict.fromkeys(addresses))
        removed = [a for a in self._endpoints if a not in wanted]
        added = [a for a in wanted if a not in self._endpoints]
        for address in removed:
            del self._endpoints[address]
        for address in added:
            self._endpoints[address] = EndpointState(address)
        return added, removed

    @property
    def addresses(self) -> list[str]:
        return list(self._endpoints)

    def state(self, address: str) -> EndpointState | None:
        return self._endpoints.get(address)

    def snapshot(self) -> list[EndpointState]:
        return [EndpointState(**vars(s)) for s in self._endpoints.values()]

    # -- per call ---------------------------------------------------------------------------------
    def acquire(self, exclude: frozenset[str] = frozenset()) -> EndpointState:
        """Pick an endpoint for one call and count it outstanding; pair with ``release``."""
        if not self._endpoints:
            raise NoEndpointsError("no endpoints known (yet) for this target")
        now = self._clock()
        everyone = list(self._endpoints.values())
        candidates = [s for s in everyone if s.healthy(now) and s.address not in exclude]
        if not candidates:
            rested = min(everyone, key=lambda s: s.ejected_until)
            candidates = [s for s in everyone if s.healthy(now)] or [rested]
        if self.policy == "least_outstanding" and len(candidates) > 1:
            low = min(s.outstanding for s in candidates)
            tied = [s for s in candidates if s.outstanding == low]
            chosen = tied[next(self._rr) % len(tied)]
        else:
            chosen = candidates[next(self._rr) % len(candidates)]
        chosen.outstanding += 1
        chosen.calls += 1
        return chosen

    def release(self, endpoint: EndpointState, ok: bool, transient_failure: bool = False) -> None:
        """End a call; a transient failure counts towards ejection, any answer resets the count."""
        endpoint.outstanding = max(0, endpoint.outstanding - 1)
        if ok or not transient_failure:
            endpoint.failures = 0
            endpoint.ejected_until = 0.0
            return
        endpoint.failures += 1
        if endpoint.failures >= self.eject_after:
            endpoint.ejected_until = self._clock() + self.eject_seconds
