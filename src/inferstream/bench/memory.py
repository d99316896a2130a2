"""Resident memory of the pipeline's processes over a run, sampled from /proc (issue: RSS stays flat).

Each process of a pipeline (the runner and every instance it started, labelled by its
``--instance`` argument) is sampled every ``interval`` seconds; a series per label goes to
results.json, and :func:`rss_growth` says how far each one moved between the first and the last
fifth of the measured window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_PAGE = 4096


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return 0
    return int(fields[1]) * _PAGE


def labelled_tree(pid: int, label: str, children: Callable[[int], list[int]]) -> dict[str, int]:
    """{label: pid} of ``pid`` and its descendants, each labelled by ``--instance`` or its command."""
    found = {label: pid}
    for child in children(pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "--instance" in argv[:-1]:
            name = ",".join(argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--instance")
        else:
            name = f"{label}/{Path(argv[0]).name}"
        found.update(labelled_tree(child, name, children))
    return found


@dataclass
class RssWatcher:
    """Samples the RSS (MiB) of each labelled process in a background thread."""

    roots: Sequence[tuple[str, int]]  # (label, pid) of each top-level pipeline process
    children: Callable[[int], list[int]]
    interval: float = 1.0
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: float = field(default_factory=time.time)

    def start(self) -> RssWatcher:
        self._thread = threading.Thread(target=self._loop, name="rss-watcher", daemon=True)
        self._thread.start()
        return self

    def elapsed(self) -> float:
        """Seconds since :meth:`start` (the time axis of :attr:`series`)."""
        return time.time() - self._started

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = round(time.time() - self._started, 2)
            for label, pid in self.roots:
                for name, member in labelled_tree(pid, label, self.children).items():
                    rss = rss_bytes(member)
                    if rss:
                        self.series.setdefault(name, []).append((now, round(rss / 2**20, 1)))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def rss_growth(
    series: dict[str, list[tuple[float, float]]], window: tuple[float, float]
) -> dict[str, dict[str, float]]:
    """Per process, the mean RSS (MiB) of the first and last fifth of ``window`` (seconds since the
    watcher started) and the change between them in percent."""
    found: dict[str, dict[str, float]] = {}
    start, end = window
    fifth = (end - start) / 5
    for name, points in series.items():
        early = [v for t, v in points if start <= t < start + fifth]
        late = [v for t, v in points if end - fifth <= t <= end]
        if not early or not late:
            continue
        a, b = sum(early) / len(early), sum(late) / len(late)
        found[name] = {"early_mib": round(a, 1), "late_mib": round(b, 1),
                       "change_pct": round(100.0 * (b - a) / a, 1) if a else 0.0,
                       "max_mib": max(v for _, v in points)}
    return found
