"""RestartPolicy: backoff grows per restart, restarts are due after their delay, a budget ends them."""

from __future__ import annotations

import logging

import pytest

from inferstream.runtime.supervision import RestartPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_restarts_back_off_and_give_up_after_the_budget(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    policy = RestartPolicy(initial_delay=1.0, max_delay=4.0, max_restarts=3, window=60.0, clock=clock)
    key = ("model-serving", 0)
    delays = []
    with caplog.at_level(logging.WARNING, logger="inferstream.runtime"):
        for _ in range(3):
            assert policy.failed(key, -9)
            assert policy.due() == [] and policy.pending(key)
            start = clock.now
            while not policy.due():
                clock.now += 0.05
            delays.append(clock.now - start)
        assert not policy.failed(key, -9)  # a 4th death within the window: give up
    assert 0.75 < delays[0] < 1.3 and 1.55 < delays[1] < 2.5 and 3.15 < delays[2] < 4.9
    assert "model-serving.0 killed by SIGKILL; restarting it" in caplog.text
    assert "giving up" in caplog.text and policy.restarts(key) == 3


def test_old_deaths_leave_the_window() -> None:
    clock = Clock()
    policy = RestartPolicy(max_restarts=1, window=10.0, clock=clock)
    assert policy.failed(("d", 0), 1)
    clock.now += 11
    assert policy.failed(("d", 0), 1)  # the first death is out of the window: restarted again
