"""``inferstream run --progress``: the live table, per streamlet its counts and what it does right now.

The status column says ``running`` unless an instance tells otherwise: model-serving during a model
server outage answers ``/state`` with ``status: waiting for model server``, ``waiting_seconds`` and
``waiting_records`` (:mod:`inferstream.serving.outage`), shown as ``waiting for model server (12 s, 340
records held)``; an instance that failed shows ``failed``, one whose process was restarted
``restarted N x``. Where the answers come from depends on the transport:

* in-process runs (memory): :func:`in_process_states` asks each instance's streamlet object (its
  ``state()``, what its ``/state`` serves) on every progress tick;
* process-per-instance runs (kafka): :class:`StatePoller` asks every server instance's ``/state``
  over HTTP (the URLs the children announce), as the web console does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import aiohttp
from rich.live import Live
from rich.table import Table

from inferstream.cli.run_outcome import summary_table
from inferstream.runtime.run_stats import PipelineStats

Key = tuple[str, int]  # (streamlet, instance index)
States = Mapping[Key, Mapping[str, Any]]  # each instance's latest /state answer
RUNNING = "running"


def instance_status(state: Mapping[str, Any]) -> str | None:
    """What a ``/state`` answer says the instance does, when not simply running; else None."""
    status = state.get("status")
    if not isinstance(status, str) or not status or status == RUNNING:
        return None
    details = []
    seconds = state.get("waiting_seconds")
    if isinstance(seconds, int | float):
        details.append(f"{seconds:.0f} s")
    held = state.get("waiting_records")
    if isinstance(held, int):
        details.append(f"{held:,} records held")
    return f"{status} ({', '.join(details)})" if details else status


def streamlet_statuses(stats: PipelineStats, states: States) -> dict[str, str]:
    """One status per streamlet: its instances' unusual ones (by index when it has several), else running."""
    unusual: dict[str, list[tuple[int, str]]] = {}
    counts: dict[str, int] = {}
    for instance in stats.instances:
        name, index = instance.streamlet, instance.instance
        counts[name] = counts.get(name, 0) + 1
        found = instance_status(states.get((name, index), {}))
        if instance.failure:
            found = "failed"
        elif found is None and instance.restarted_after:
            found = f"restarted {len(instance.restarted_after)} x"
        if found is not None:
            unusual.setdefault(name, []).append((index, found))
    statuses = {}
    for name, count in counts.items():
        shown = unusual.get(name, [])
        if not shown:
            statuses[name] = RUNNING
        elif count == 1:
            statuses[name] = shown[0][1]
        else:
            statuses[name] = "; ".join(f"#{index}: {status}" for index, status in shown)
    return statuses


def live_table(stats: PipelineStats, states: States) -> Table:
    """The summary table with a status column (what ``--progress`` shows while the run goes on)."""
    return summary_table(stats, streamlet_statuses(stats, states))


def in_process_states(instances: Iterable[Any]) -> dict[Key, Mapping[str, Any]]:
    """``state()`` of every streamlet object that has one (model-serving), keyed by instance."""
    states: dict[Key, Mapping[str, Any]] = {}
    for instance in instances:
        state = getattr(instance.streamlet, "state", None)
        if not callable(state):
            continue
        with contextlib.suppress(Exception):  # a display must not stop the run
            answer = state()
            if isinstance(answer, Mapping):
                states[(instance.ctx.streamlet, instance.ctx.instance)] = answer
    return states


class StatePoller:
    """The latest ``/state`` answer of every server instance of a process-per-instance run."""

    def __init__(self, urls: Callable[[], Mapping[Key, str]]) -> None:
        """``urls``: (streamlet, index) -> base URL of the instance's endpoint, as known right now."""
        self._urls = urls
        self.states: dict[Key, Mapping[str, Any]] = {}

    async def poll(self, session: aiohttp.ClientSession) -> None:
        async def ask(key: Key, url: str) -> None:
            try:
                async with session.get(url + "/state") as response:
                    answer = await response.json()
            except (aiohttp.ClientError, TimeoutError, ValueError):
                self.states.pop(key, None)  # gone (killed, restarting): no stale status
                return
            if isinstance(answer, Mapping):
                self.states[key] = answer

        await asyncio.gather(*(ask(key, url) for key, url in dict(self._urls()).items()))


async def refresh_from_processes(
    live: Live,
    stats: Callable[[], PipelineStats],
    urls: Callable[[], Mapping[Key, str]],
    interval: float = 0.5,
) -> None:
    """Until cancelled: poll the instances' ``/state`` and redraw ``live`` every ``interval`` seconds."""
    poller = StatePoller(urls)
    timeout = aiohttp.ClientTimeout(total=max(0.5, interval * 2))
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            await poller.poll(session)
            live.update(live_table(stats(), poller.states))
            await asyncio.sleep(interval)
