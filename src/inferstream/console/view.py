"""The console's model of a run: one view (JSON) per tick, built from a probe, with a rate history.

Every ``interval`` seconds the collector reads the probe (counters, lag) and each instance's
``/state`` and ``/metrics``; the page receives the view over server-sent events.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from typing import Any

import aiohttp

from inferstream.console.graph import blueprint_graph
from inferstream.console.probes import RunProbe
from inferstream.console.serving import ServingReading, parse_metrics, serving_view

log = logging.getLogger("inferstream.console")
HISTORY_SECONDS = 300  # the charts show the last five minutes


class ViewCollector:
    """Builds views of a run; keeps ``HISTORY_SECONDS`` of per-streamlet rates."""

    def __init__(self, probe: RunProbe, transport_name: str = "", interval: float = 1.0) -> None:
        self.probe = probe
        self.transport_name = transport_name
        self.interval = interval
        self.graph = blueprint_graph(probe.plan)
        self.view: dict[str, Any] = {}
        self.state: dict[str, list[Any]] = {}  # streamlet -> its instances' /state answers
        self.version = 0
        self.changed = asyncio.Condition()
        self._counts: deque[tuple[float, dict[str, tuple[int, int]]]] = deque()
        self._serving: dict[str, tuple[float, ServingReading]] = {}  # previous reading per streamlet
        self._started = time.time()

    async def collect(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        """Read the run once and publish the new view to every waiting page."""
        final = self.probe.final
        snapshot = final if final is not None else await self.probe.snapshot(session)
        now = time.time()
        counts = {n: (s["records_in"], s["records_out"]) for n, s in snapshot["streamlets"].items()}
        self._counts.append((now, counts))
        while self._counts and self._counts[0][0] < now - HISTORY_SECONDS - self.interval:
            self._counts.popleft()
        urls = self.probe.instance_urls()
        serving, states = await self._read_instances(session, urls)
        self.state = states
        self.view = {
            "app": self.probe.plan.app,
            "transport": self.transport_name,
            "ended": final is not None,
            "ok": snapshot.get("ok", True),
            "time": now,
            "elapsed_s": snapshot["elapsed_s"],
            "graph": self.graph,
            "streamlets": {
                name: self._streamlet_view(name, snapshot["streamlets"].get(name), urls.get(name, []))
                for name in self.probe.plan.streamlets
            },
            "serving": serving,
            "lags": await self.probe.lags() if final is None else [],
        }
        async with self.changed:
            self.version += 1
            self.changed.notify_all()
        return self.view

    def _streamlet_view(self, name: str, summary: dict[str, Any] | None, urls: list[str]) -> dict[str, Any]:
        summary = summary or {"records_in": 0, "records_out": 0, "errors": 0, "dead_letters": 0,
                              "instances": 0, "failures": [], "outlets": {}, "inlets": {}}
        series = []
        samples = list(self._counts)
        for (t0, before), (t1, after) in itertools.pairwise(samples):
            if name in after and t1 > t0:
                b_in, b_out = before.get(name, (0, 0))
                a_in, a_out = after[name]
                series.append([round(t1, 3), (a_in - b_in) / (t1 - t0), (a_out - b_out) / (t1 - t0)])
        return {
            "records_in": summary["records_in"],
            "records_out": summary["records_out"],
            "errors": summary["errors"],
            "dead_letters": summary["dead_letters"],
            "instances_running": summary["instances"],
            "failures": summary["failures"],
            "outlets": {o: p["records"] for o, p in summary["outlets"].items()},
            "rate_in": series[-1][1] if series else 0.0,
            "rate_out": series[-1][2] if series else 0.0,
            "series": series,
            "state_urls": [u + "/state" for u in urls],
        }

    async def _read_instances(
        self, session: aiohttp.ClientSession, urls: dict[str, list[str]]
    ) -> tuple[dict[str, Any], dict[str, list[Any]]]:
        async def get(url: str, path: str) -> str | None:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url + path) as response:
                    if response.status == 200:
                        return await response.text()
            return None

        serving: dict[str, Any] = {}
        states: dict[str, list[Any]] = {}
        for name, bases in urls.items():
            answers = await asyncio.gather(*(get(b, p) for b in bases for p in ("/state", "/metrics")))
            states[name] = [_json(a) for a in answers[0::2]]
            texts = [t for t in answers[1::2] if t]
            if not texts:
                continue
            reading = ServingReading()
            for text in texts:
                with contextlib.suppress(ValueError):
                    reading.add(parse_metrics(text))
            now = time.time()
            previous = self._serving.get(name)
            # compare with a reading a few seconds old, so "recent" spans more than one tick
            if previous is None or now - previous[0] >= 5 * self.interval:
                self._serving[name] = (now, reading)
            serving[name] = serving_view(reading, previous[1] if previous else None)
            serving[name]["state"] = [s for s in states[name] if s is not None]
        return serving, states

    async def run(self, session: aiohttp.ClientSession) -> None:
        """Collect every ``interval`` seconds until cancelled."""
        while True:
            started = time.monotonic()
            try:
                await self.collect(session)
            except (aiohttp.ClientError, TimeoutError):
                pass  # an instance between start and stop: the next tick reads it again
            except Exception:  # a bug here must not freeze the page: say so, keep serving
                log.exception("the console could not read the run")
            await asyncio.sleep(max(0.05, self.interval - (time.monotonic() - started)))


def _json(text: str | None) -> Any:
    import json

    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
