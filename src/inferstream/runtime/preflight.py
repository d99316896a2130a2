"""Pre-flight: before the first record, ask what a run depends on whether it is there.

The runner (in-process) or the parent of a multi-process run calls :func:`preflight` once,
before topics are created and instances start:

* the transport's ``check()`` (Kafka: a broker answers at the bootstrap address within seconds);
* each streamlet class's ``preflight(name, config)`` once per streamlet of the blueprint
  (model-serving: its server answers and serves the model).

A failed check raises :class:`PreflightError` with one line saying what is missing and what to
do; ``inferstream run --no-preflight`` skips the checks (servers that come up later).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from inferstream.runtime.streamlet import Streamlet
from inferstream.transports.base import Transport, TransportError

log = logging.getLogger("inferstream.runtime")

#: Longest a single check may take (a server that accepts but never answers must not hang a run).
CHECK_TIMEOUT = 15.0


class PreflightError(Exception):
    """A dependency of the run is missing; the message names it and says what to do."""


async def preflight(plan: Any, transport: Transport, timeout: float = CHECK_TIMEOUT) -> list[str]:
    """Run every check of ``plan`` on ``transport``; returns warnings, raises PreflightError."""
    try:
        await asyncio.wait_for(transport.check(), timeout)
    except TransportError as exc:
        raise PreflightError(str(exc)) from None
    except TimeoutError:
        raise PreflightError(f"the {transport.name} transport did not answer within {timeout:g} s") from None
    problems = await asyncio.gather(
        *(_streamlet(name, sp.cls, sp.config, timeout) for name, sp in plan.streamlets.items()),
        return_exceptions=True,
    )
    warnings: list[str] = []
    failures: list[str] = []
    for outcome in problems:
        if isinstance(outcome, PreflightError):
            failures.append(str(outcome))
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            warnings += outcome
    if failures:
        raise PreflightError("; ".join(failures))
    for warning in warnings:
        log.warning("pre-flight: %s", warning)
    return warnings


async def _streamlet(name: str, cls: type[Streamlet], config: Any, timeout: float) -> list[str]:
    try:
        warnings = await asyncio.wait_for(cls.preflight(name, config), timeout)
    except TimeoutError:
        raise PreflightError(f"{name}: its pre-flight check did not finish within {timeout:g} s") from None
    return warnings
