"""The recommender blueprints end to end against the built-in server: one score per product."""

from __future__ import annotations

import asyncio
import re

import pytest

from inferstream.cli.serve_process import ServedProcess
from inferstream.runtime.checks import check
from inferstream.runtime.runner import Runner
from inferstream.transports import load_transport

LINE = re.compile(r"^\[console\] products=\[(\d+), 1\]\[[^\]]*\] users=\[(\d+), 1\]\[[^\]]*\] -> (.*)$")


@pytest.mark.parametrize(
    ("blueprint", "transport"), [("recommender-rest", "rest"), ("recommender-grpc", "grpc")]
)
def test_one_score_per_product(
    blueprint: str, transport: str, model_server: ServedProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    target = model_server.rest_url if transport == "rest" else model_server.grpc_target
    conf = [
        f"model-serving.target={target}",
        "recommender-ingress.users=100",  # the fixture's model knows 100 users and 100 products
        "recommender-ingress.products=100",
        "recommender-ingress.frequency=0 ms",
        "recommender-ingress.max-records=40",
        "console.lines-per-second=0",  # print every record
        "console.values-shown=30",
    ]
    checked = check(blueprint, conf=conf)
    assert checked.plan is not None, checked.errors
    stats = asyncio.run(Runner(checked.plan, load_transport("memory"), run_for=120).run())
    assert stats.snapshot()["ok"]
    lines = [m for m in map(LINE.match, capsys.readouterr().out.splitlines()) if m]
    assert len(lines) == 40
    for match in lines:
        products, users, result = int(match[1]), int(match[2]), match[3]
        assert products == users
        scores = re.match(r"predictions=\[(\d+), 1\]\[([^\]]*)\]", result)
        assert scores is not None, f"not a scored record: {result}"
        assert int(scores[1]) == products
        assert len(scores[2].split(", ")) == products  # every score printed (values-shown 30 ≥ n)
