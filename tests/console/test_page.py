"""The live console in a real headless Chromium, against real runs of fraud-grpc and `inferstream serve`.

Each test takes 40-90 s on an idle 2-core machine (a model server, a pipeline process, a browser).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from console_run import RunWithConsole

from inferstream.cli.serve_process import serve_in_subprocess

pytestmark = pytest.mark.slow

STREAMLETS = ["card-ingress", "model-serving", "fraud-decider", "normal-counter", "fraud-counter",
              "error-counter", "fraud-console", "error-console"]


def _fraud_args(target: str, models: Path, repo_root: Path, rate: int, extra: list[str]) -> list[str]:
    conf = {
        "model-serving.target": target,
        "card-ingress.data": str(repo_root / "data/creditcard-sample.csv"),
        "card-ingress.rate": str(rate),
        "card-ingress.loop": "true",
        "fraud-decider.threshold-from": str(models / "fraud"),
        "fraud-console.lines-per-second": "0",
        "error-console.lines-per-second": "0",
    }
    return ["fraud-grpc", *[a for k, v in conf.items() for a in ("--conf", f"{k}={v}")], *extra]


def _value(page: Any, selector: str) -> int:
    found = page.locator(selector)
    if found.count() == 0:
        return -1
    text = found.first.get_attribute("data-value")
    return int(text) if text not in (None, "") else -1


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting until {what}")


def _row(streamlet: str, column: str) -> str:
    return f'#streamlets tr[data-streamlet="{streamlet}"] td.{column}'


def test_the_page_draws_the_blueprint_moves_live_and_ends_with_the_runs_summary(
    browser: Any, fraud_model_base: Path, repo_root: Path, tmp_path: Path
) -> None:
    summary_path = tmp_path / "summary.json"
    errors: list[str] = []
    with serve_in_subprocess({"fraud": fraud_model_base / "fraud"}) as served:
        args = _fraud_args(served.grpc_target, fraud_model_base, repo_root, 400,
                           ["--for", "25s", "--summary-json", str(summary_path)])
        run = RunWithConsole(args, tmp_path / "run.log")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(run.url)
            # every streamlet of the blueprint is drawn, with its topics and connections
            page.wait_for_selector('svg#graph g.streamlet[data-streamlet="model-serving"]', timeout=30_000)
            drawn = page.eval_on_selector_all("svg#graph g.streamlet", "g => g.map(n => n.dataset.streamlet)")
            assert sorted(drawn) == sorted(STREAMLETS)
            assert page.locator("svg#graph g.topic").count() == 5  # card records, results, 3 outcomes
            assert page.locator("svg#graph path.edge").count() == 12  # 5 produced + 7 consumed
            # the counts move while we watch (server-sent events, no reload)
            _wait(lambda: _value(page, _row("model-serving", "out")) > 0, 60, "records flow")
            first = _value(page, _row("card-ingress", "out"))
            _wait(lambda: _value(page, _row("card-ingress", "out")) > first + 100, 30, "the count grows")
            _wait(lambda: page.locator(".model-serving tr[data-endpoint] td.health.up").count() == 1, 20,
                  "the model server shows as up")
            assert page.locator(".model-serving .model").inner_text().startswith("serving fraud")
            assert _value(page, ".model-serving .card.calls .value") > 0
            link = page.locator(_row("model-serving", "state") + " a").first.get_attribute("href")
            assert link is not None and link.endswith("/state") and served.grpc_target not in link
            page.screenshot(path=str(tmp_path / "console-running.png"), full_page=True)
            # the run ends by itself (--for); the page's last view holds the run's final counts
            assert run.wait(timeout=120) == 0, run.log.read_text()[-3000:]
            _wait(lambda: page.locator("#status").inner_text().startswith("ended"), 15, "the page says ended")
            shown = {
                name: (_value(page, _row(name, "in")), _value(page, _row(name, "out")),
                       _value(page, _row(name, "errors")))
                for name in STREAMLETS
            }
            decided = {o: _value(page, f'.outlets .card[data-outlet="{o}"] .value')
                       for o in ("normal", "fraud", "error")}
            shot = tmp_path / "console.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"\nconsole screenshot: {shot}")
        finally:
            page.close()
            run.stop()
    assert errors == []
    summary = json.loads(summary_path.read_text())["streamlets"]
    for name in STREAMLETS:
        s = summary[name]
        assert shown[name] == (s["records_in"], s["records_out"], s["errors"]), name
    assert summary["card-ingress"]["records_out"] > 1000
    outlets = summary["fraud-decider"]["outlets"]
    assert decided == {o: outlets[o]["records"] if o in outlets else 0 for o in decided}
    assert decided["normal"] > 0 and decided["fraud"] > 0


def test_a_model_server_that_stops_shows_as_down_while_errors_rise(
    browser: Any, fraud_model_base: Path, repo_root: Path, tmp_path: Path
) -> None:
    errors: list[str] = []
    with serve_in_subprocess({"fraud": fraud_model_base / "fraud"}) as served:
        args = _fraud_args(served.grpc_target, fraud_model_base, repo_root, 200,
                           ["--for", "120s", "--conf", "model-serving.timeout=1s",
                            # error records after the retries (the default waits out an outage instead)
                            "--conf", "model-serving.on-unavailable=error"])
        run = RunWithConsole(args, tmp_path / "run.log")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(run.url)
            endpoint = f'.model-serving tr[data-endpoint="{served.grpc_target}"]'
            _wait(lambda: page.locator(endpoint + " td.health.up").count() == 1, 60, "the endpoint is up")
            _wait(lambda: _value(page, _row("fraud-decider", "out")) > 100, 60, "records are decided")
            assert _value(page, '.card[data-outlet="error"] .value') == 0
            served.process.terminate()  # the model server goes away mid-run
            served.process.wait(timeout=30)
            _wait(lambda: page.locator(endpoint + " td.health.down").count() == 1, 30, "the endpoint is down")
            _wait(lambda: _value(page, '.card[data-outlet="error"] .value') > 0, 60, "error records appear")
            error_card = '.card[data-outlet="error"] .value'
            before = _value(page, error_card)
            failed = _value(page, endpoint + " td.failed")
            _wait(lambda: _value(page, error_card) > before, 30, "the error count rises")
            _wait(lambda: _value(page, endpoint + " td.failed") > failed, 30, "failed calls rise")
            assert page.locator(endpoint + " td.health.down").count() == 1
            shot = tmp_path / "console-server-down.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"\nconsole screenshot: {shot}")
        finally:
            page.close()
            run.stop()
    assert errors == []
