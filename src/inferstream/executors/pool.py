"""A remote model behind many replicas: load balancing, per-attempt timeouts, retries, ejection."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy.typing as npt

from inferstream.executors.balancer import EndpointState, LoadBalancer
from inferstream.executors.base import Arrays, ModelExecutor, ModelMetadata
from inferstream.executors.config import ExecutorConfig
from inferstream.executors.discovery import Discovery
from inferstream.executors.errors import ErrorKind, ExecutorError, NoEndpointsError
from inferstream.executors.retry import Backoff

T = TypeVar("T")
EndpointFactory = Callable[[str], ModelExecutor]
#: Called after every attempt: (endpoint, seconds, error or None).
AttemptObserver = Callable[[str, float, ExecutorError | None], None]


@dataclass(frozen=True)
class Prediction:
    """A successful call: the outputs, which endpoint answered, and how many attempts it took."""

    outputs: Arrays
    source: str
    attempts: int


class BalancedExecutor(ModelExecutor):
    """Spreads calls over the endpoints a Discovery reports, one single-endpoint executor each.

    A transient failure (refused, UNAVAILABLE, 503, timeout) is retried up to ``config.retries``
    times on another endpoint when there is one, after a jittered exponential backoff; anything
    else is final at once. Endpoints added or removed by discovery take effect on the next call.
    """

    def __init__(
        self,
        config: ExecutorConfig,
        make_endpoint: EndpointFactory,
        discovery: Discovery,
        observer: AttemptObserver | None = None,
    ) -> None:
        self.config = config
        self.source = config.target
        self.balancer = LoadBalancer(config.lb_policy, config.eject_after, config.eject_seconds)
        self.backoff = Backoff(config.backoff_initial, config.backoff_max)
        self.observer = observer
        self._make_endpoint = make_endpoint
        self._discovery = discovery
        self._executors: dict[str, ModelExecutor] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._retired: list[ModelExecutor] = []  # removed from discovery, closing after their calls

    async def start(self) -> BalancedExecutor:
        await self._discovery.start(self._on_endpoints)
        return self

    def _on_endpoints(self, addresses: list[str]) -> None:
        _, removed = self.balancer.set_endpoints(addresses)
        for address in removed:
            executor = self._executors.pop(address, None)
            if executor is not None:  # let its in-flight calls finish on their own connections
                self._retired.append(executor)
                task = asyncio.get_running_loop().create_task(self._close_later(executor))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)

    async def _close_later(self, executor: ModelExecutor) -> None:
        await asyncio.sleep(self.config.timeout)  # no call outlives one attempt's deadline
        if executor in self._retired:
            self._retired.remove(executor)
            await executor.close()

    def _executor(self, address: str) -> ModelExecutor:
        executor = self._executors.get(address)
        if executor is None:
            executor = self._executors[address] = self._make_endpoint(address)
        return executor

    async def _attempt(
        self, endpoint: EndpointState, op: Callable[[ModelExecutor], Awaitable[T]]
    ) -> T:
        executor = self._executor(endpoint.address)
        try:
            async with asyncio.timeout(self.config.timeout):
                return await op(executor)
        except TimeoutError:
            raise ExecutorError(
                ErrorKind.TIMEOUT, f"no answer within {self.config.timeout:g}s", executor.source
            ) from None

    async def _with_retries(self, op: Callable[[ModelExecutor], Awaitable[T]]) -> tuple[T, str, int]:
        tried: set[str] = set()
        attempt = 0
        while True:
            try:
                endpoint = self.balancer.acquire(frozenset(tried))
            except NoEndpointsError as exc:  # e.g. a watched service with no ready pod yet: wait a little
                if attempt >= self.config.retries:
                    exc.args = (f"{exc.args[0]} ({self.config.target})",)
                    raise
                await asyncio.sleep(self.backoff.delay(attempt))
                attempt += 1
                continue
            started = time.perf_counter()
            error: ExecutorError | None = None
            try:
                result = await self._attempt(endpoint, op)
            except ExecutorError as exc:
                error = exc
            except Exception as exc:  # a bug or an unexpected library error: final, but typed
                error = ExecutorError(ErrorKind.SERVER, f"{type(exc).__name__}: {exc}", endpoint.address)
            finally:
                transient = error is not None and error.transient
                self.balancer.release(endpoint, ok=error is None, transient_failure=transient)
            if self.observer is not None:
                self.observer(endpoint.address, time.perf_counter() - started, error)
            if error is None:
                return result, self._executor(endpoint.address).source, attempt + 1
            if not error.source:
                error.source = endpoint.address
            if not error.transient or attempt >= self.config.retries:
                if attempt:
                    error.args = (f"{error.args[0]} (after {attempt + 1} attempts)",)
                raise error
            tried.add(endpoint.address)
            await asyncio.sleep(self.backoff.delay(attempt))
            attempt += 1

    async def call(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Prediction:
        """Like ``predict`` but also says which endpoint answered and after how many attempts."""
        outputs, source, attempts = await self._with_retries(lambda ex: ex.predict(inputs))
        return Prediction(outputs, source, attempts)

    async def predict(self, inputs: Mapping[str, npt.NDArray[Any]]) -> Arrays:
        return (await self.call(inputs)).outputs

    async def metadata(self) -> ModelMetadata:
        result, _, _ = await self._with_retries(lambda ex: ex.metadata())
        return result

    async def close(self) -> None:
        await self._discovery.close()
        for task in list(self._closing):
            task.cancel()
        executors, self._executors = [*self._executors.values(), *self._retired], {}
        self._retired = []
        for executor in executors:
            with contextlib.suppress(Exception):
                await executor.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
