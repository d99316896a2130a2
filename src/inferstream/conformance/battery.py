"""Running checks: each is a named coroutine that returns a detail, or raises why it failed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from inferstream.conformance.results import CheckFailed, CheckResult, NotApplicable, Status
from inferstream.executors.errors import ExecutorError

CheckFn = Callable[[], Awaitable[str]]


@dataclass(frozen=True)
class Check:
    name: str
    run: CheckFn
    required: bool = True


async def run_checks(checks: list[Check]) -> list[CheckResult]:
    """Every check runs, one after the other (a failing one never stops the battery)."""
    results = []
    for check in checks:
        try:
            detail = await check.run()
            results.append(CheckResult(check.name, Status.PASS, detail, check.required))
        except NotApplicable as exc:
            results.append(CheckResult(check.name, Status.NOT_APPLICABLE, str(exc), check.required))
        except (CheckFailed, ExecutorError) as exc:
            results.append(CheckResult(check.name, Status.FAIL, str(exc), check.required))
        except Exception as exc:  # a check that crashes is a failed check, with its reason
            reason = f"{type(exc).__name__}: {exc}"
            results.append(CheckResult(check.name, Status.FAIL, reason, check.required))
    return results


def expect(condition: bool, reason: str) -> None:
    if not condition:
        raise CheckFailed(reason)
