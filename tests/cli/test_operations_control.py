"""The control port answers only its own address, within bounds, with a token beyond loopback (issue 21).

A real ``inferstream run --control-port 0`` (memory transport) asked over HTTP the way a browser
page or a rebound DNS name would ask; the token rule is checked on the guard itself (binding a
test server beyond loopback is not something a test should do). Budget: ~10 s.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from aiohttp.test_utils import make_mocked_request
from operations_helpers import cli_command, stop

from inferstream.runtime.control_guard import ControlGuard

BLUEPRINT = """\
name: numbers-control
streamlets:
  source: {class: inferstream.apps.examples:NumberedIngress, config: {rate: 200}}
  double: inferstream.apps.examples:Doubler
  sink: inferstream.apps.examples:CollectingEgress
connections:
  source.out: [double.in]
  double.out: [sink.in]
"""


@pytest.fixture(scope="module")
def control(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    folder = tmp_path_factory.mktemp("control")
    (folder / "numbers.yaml").write_text(BLUEPRINT)
    run = subprocess.Popen(
        cli_command("run", "numbers.yaml", "--control-port", "0", "--for", "120s", "--no-progress"),
        cwd=folder,
        env={**os.environ, "COLUMNS": "250"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(run.stdout or []), daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        found = None
        while found is None:
            assert run.poll() is None and time.monotonic() < deadline, "".join(lines)
            found = next(
                (re.search(r"http://(127\.0\.0\.1):(\d+)", x) for x in list(lines) if "control" in x), None
            )
            time.sleep(0.2)
        yield found.group(1), int(found.group(2))
    finally:
        run.send_signal(signal.SIGINT)
        stop(run)


def _ask(where: tuple[str, int], method: str, path: str, headers: dict[str, str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    connection = http.client.HTTPConnection(*where, timeout=10)
    try:
        connection.request(method, path, headers=headers)
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read() or b"{}")
    finally:
        connection.close()


def test_the_bound_address_may_read_and_scale(control: tuple[str, int]) -> None:
    own = {"Host": f"{control[0]}:{control[1]}"}
    status, stats = _ask(control, "GET", "/stats", own)
    assert status == 200 and stats["app"] == "numbers-control"
    status, body = _ask(
        control, "POST", "/scale?streamlet=double&instances=2", {**own, "Origin": f"http://{own['Host']}"}
    )
    assert (status, body) == (200, {"streamlet": "double", "instances": 2})


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},  # a web page the user visits
        {"Origin": "null"},  # a sandboxed frame or a file:// page
        {"Host": "attacker.example"},  # DNS rebinding: the page's own name, resolved to 127.0.0.1
    ],
)
def test_a_foreign_host_or_origin_is_refused(control: tuple[str, int], headers: dict[str, str]) -> None:
    own = {"Host": f"{control[0]}:{control[1]}"}
    status, body = _ask(control, "POST", "/scale?streamlet=double&instances=25", {**own, **headers})
    assert status == 403, body
    status, _ = _ask(control, "GET", "/stats", {**own, **headers})
    assert status == 403


def test_instances_are_bounded(control: tuple[str, int]) -> None:
    own = {"Host": f"{control[0]}:{control[1]}"}
    status, body = _ask(control, "POST", "/scale?streamlet=double&instances=1000", own)
    assert status == 400 and "at most 32 instances" in body["error"], body


def test_beyond_loopback_a_token_is_required() -> None:
    with pytest.raises(ValueError, match="INFERSTREAM_CONTROL_TOKEN"):
        ControlGuard("0.0.0.0")
    guard = ControlGuard("0.0.0.0", token="s3cret")
    guard.port = 8080
    bare = make_mocked_request("POST", "/scale", headers={"Host": "10.0.0.5:8080"})
    assert guard.refusal(bare) == "a valid token is required (Authorization: Bearer <token>)"
    wrong = make_mocked_request(
        "POST", "/scale", headers={"Host": "10.0.0.5:8080", "Authorization": "Bearer x"}
    )
    assert guard.refusal(wrong) is not None
    right = make_mocked_request(
        "POST", "/scale", headers={"Host": "10.0.0.5:8080", "Authorization": "Bearer s3cret"}
    )
    assert guard.refusal(right) is None
