"""Load-balancer policies, ejection and re-admission, membership changes, backoff bounds."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from inferstream.executors.balancer import LoadBalancer
from inferstream.executors.errors import NoEndpointsError
from inferstream.executors.retry import Backoff


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_round_robin_spreads_evenly() -> None:
    lb = LoadBalancer("round_robin")
    lb.set_endpoints(["a:1", "b:1", "c:1"])
    picks = Counter()
    for _ in range(300):
        endpoint = lb.acquire()
        picks[endpoint.address] += 1
        lb.release(endpoint, ok=True)
    assert picks == {"a:1": 100, "b:1": 100, "c:1": 100}


def test_least_outstanding_prefers_idle_endpoints() -> None:
    lb = LoadBalancer("least_outstanding")
    lb.set_endpoints(["a:1", "b:1", "c:1"])
    busy = [lb.acquire(), lb.acquire()]  # two endpoints now have one call each
    third = lb.acquire()
    assert third.address not in {e.address for e in busy}
    lb.release(busy[0], ok=True)
    assert lb.acquire().address == busy[0].address  # the only idle one


def test_failing_endpoint_is_ejected_then_readmitted() -> None:
    clock = Clock()
    lb = LoadBalancer("round_robin", eject_after=2, eject_seconds=5.0, clock=clock)
    lb.set_endpoints(["a:1", "b:1"])
    a = lb.state("a:1")
    assert a is not None
    for _ in range(2):
        lb.release(lb.acquire(frozenset({"b:1"})), ok=False, transient_failure=True)
    assert not a.healthy(clock.now)
    assert {lb.acquire().address for _ in range(10)} == {"b:1"}
    clock.now += 5.1
    assert "a:1" in {lb.acquire().address for _ in range(4)}
    lb.release(a, ok=True)
    assert a.failures == 0 and a.healthy(clock.now)


def test_all_ejected_still_tries_the_longest_rested() -> None:
    clock = Clock()
    lb = LoadBalancer(eject_seconds=10.0, clock=clock)
    lb.set_endpoints(["a:1", "b:1"])
    lb.release(lb.acquire(frozenset({"b:1"})), ok=False, transient_failure=True)
    clock.now += 1
    lb.release(lb.acquire(frozenset({"a:1"})), ok=False, transient_failure=True)
    assert lb.acquire().address == "a:1"  # ejected first, so back first


def test_permanent_errors_do_not_eject() -> None:
    lb = LoadBalancer(eject_after=1)
    lb.set_endpoints(["a:1"])
    lb.release(lb.acquire(), ok=False, transient_failure=False)
    state = lb.state("a:1")
    assert state is not None and state.failures == 0 and state.ejected_until == 0.0


def test_membership_changes_keep_known_state() -> None:
    lb = LoadBalancer()
    assert lb.set_endpoints(["a:1", "b:1"]) == (["a:1", "b:1"], [])
    a = lb.acquire(frozenset({"b:1"}))
    assert lb.set_endpoints(["a:1", "c:1"]) == (["c:1"], ["b:1"])
    assert lb.state("a:1") is a and a.outstanding == 1
    assert {lb.acquire().address for _ in range(4)} == {"a:1", "c:1"}
    lb.set_endpoints([])
    with pytest.raises(NoEndpointsError):
        lb.acquire()


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    backoff = Backoff(initial=0.1, maximum=1.0)
    rng = random.Random(7)
    for attempt, ceiling in enumerate([0.1, 0.2, 0.4, 0.8, 1.0, 1.0]):
        delays = {backoff.delay(attempt, rng) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered
