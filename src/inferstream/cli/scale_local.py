"""The local target of ``inferstream scale APP STREAMLET N``: a running ``inferstream run --control-port``.

It reads ``GET /stats`` to check that the run is APP, asks ``POST /scale?streamlet=S&instances=N``
(the run starts or stops instances: tasks on memory, processes on Kafka) and reads the live
instances back. The token for a control port bound beyond loopback comes from
``INFERSTREAM_CONTROL_TOKEN`` (never a command-line argument: it would show in ``ps``).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from inferstream.runtime.control_guard import TOKEN_ENV

#: Where the local run's control endpoint is when ``--control`` is not given.
CONTROL_URL_ENV = "INFERSTREAM_CONTROL_URL"
MAX_ANSWER = 4 * 1024 * 1024  # a /stats answer is a few kB; never read an unbounded body


class ScaleError(Exception):
    """The control endpoint could not be reached or refused; the message says why and what to do."""


def _ask(url: str, method: str, timeout: float) -> dict[str, Any]:
    headers = {}
    token = os.environ.get(TOKEN_ENV)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = b"" if method == "POST" else None
    request = urllib.request.Request(url, method=method, headers=headers, data=data)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body: dict[str, Any] = json.loads(answer.read(MAX_ANSWER))
            return body
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read(MAX_ANSWER)).get("error", exc.reason)
        except ValueError:
            reason = exc.reason
        raise ScaleError(f"the run refused ({exc.code}): {reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ScaleError(
            f"cannot reach the control endpoint {url.split('?')[0]}: {getattr(exc, 'reason', exc)}; "
            "is `inferstream run ... --control-port PORT` running? It prints its URL at start."
        ) from None


def scale_local(
    control: str, app: str, streamlet: str, instances: int, timeout: float = 120.0
) -> tuple[int, list[str]]:
    """Scale ``streamlet`` of the run at ``control``; returns the instances it had and the live ones now."""
    parts = urllib.parse.urlsplit(control)
    if parts.scheme != "http" or not parts.netloc:
        raise ScaleError(f"--control {control!r}: give the run's control URL, e.g. http://127.0.0.1:8090")
    base = f"http://{parts.netloc}"
    before = _ask(f"{base}/stats", "GET", 10.0)
    if before.get("app") != app:
        raise ScaleError(f"the run at {base} is app {before.get('app')!r}, not {app!r}")
    query = urllib.parse.urlencode({"streamlet": streamlet, "instances": instances})
    _ask(f"{base}/scale?{query}", "POST", timeout)  # returns once the instances are up (or stopped)
    after = _ask(f"{base}/stats", "GET", 10.0)
    return len(_live(before, streamlet)), _live(after, streamlet)


def _instances(stats: dict[str, Any], streamlet: str) -> list[dict[str, Any]]:
    return [i for i in stats.get("instances", []) if i.get("streamlet") == streamlet]


def _live(stats: dict[str, Any], streamlet: str) -> list[str]:
    """``streamlet.i`` of the instances still running (a process runner says "still running")."""
    running = (None, "still running")
    return [f"{streamlet}.{i['instance']}" for i in _instances(stats, streamlet) if i.get("ended") in running]
