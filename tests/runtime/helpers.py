"""Build and run example pipelines on the memory transport."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from inferstream.runtime.blueprint import parse_yaml
from inferstream.runtime.config_sources import gather_settings
from inferstream.runtime.plan import Plan, build_plan
from inferstream.runtime.runner import Runner
from inferstream.transports.memory import MemoryTransport

NUMBERS = """
name: numbers
streamlets:
  source:
    class: inferstream.apps.examples:NumberedIngress
    config: {{batch-size: 100}}
  double:
    class: inferstream.apps.examples:Doubler
    instances: {instances}
  sink: inferstream.apps.examples:CollectingEgress
connections:
  source.out: [double.in]
  double.out: [sink.in]
"""


def numbers_plan(instances: int = 1, conf: list[str] | None = None, text: str | None = None) -> Plan:
    blueprint = parse_yaml(text or NUMBERS.format(instances=instances), name="numbers")
    plan, problems = build_plan(blueprint, gather_settings(conf_args=conf or []), environ={})
    assert plan is not None, problems
    return plan


def run_pipeline(
    plan: Plan,
    transport: MemoryTransport | None = None,
    during: Callable[[Runner], Awaitable[None]] | None = None,
    **runner_args: Any,
) -> Runner:
    """Run to the end (bounded by a 60 s timeout); ``during`` runs alongside, e.g. to stop it."""

    async def scenario() -> Runner:
        runner = Runner(plan, transport or MemoryTransport(), **runner_args)
        task = asyncio.create_task(runner.run())
        if during is not None:
            await during(runner)
        await task
        return runner

    return asyncio.run(asyncio.wait_for(scenario(), timeout=60))
