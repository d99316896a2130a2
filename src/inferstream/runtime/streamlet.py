"""The Streamlet API: ingresses, processors, egresses and server streamlets with typed ports.

A streamlet declares named inlets and outlets, each typed by an Avro schema (a full name from
:mod:`inferstream.schemas` or an inline schema dict) and carrying a batch codec (default: the
generic fastavro :class:`~inferstream.runtime.codecs.AvroCodec`, a batch is a list of dicts).
Processing is batch-first: ``process`` gets a decoded batch from one partition with the position
of every record, and emits whole batches to outlets. The runtime commits a consumed position only
after everything ``process`` emitted for it was acknowledged (at-least-once)::

    NUMBERS = {"type": "record", "name": "Numbered", "namespace": "demo",
               "fields": [{"name": "n", "type": "long"}]}

    class Doubler(Processor):
        inlet = Inlet("in", NUMBERS)          # "in" is a keyword: names are given explicitly
        outlet = Outlet("out", NUMBERS)
        FACTOR = IntParameter("factor", 2, "what to multiply by")
        parameters = (FACTOR,)

        async def on_start(self, ctx: StreamletContext) -> None:
            self.factor = ctx.config[self.FACTOR]

        async def process(self, batch: InBatch[list[dict]], out: Output) -> None:
            await out.emit(self.outlet, [{"n": r["n"] * self.factor} for r in batch.records])

    class Numbers(Ingress):
        outlet = Outlet("out", NUMBERS)
        async def run(self, ctx: StreamletContext, out: Output) -> None:
            n = 0
            while ctx.running:                # False once the runner stops (--for, --records, signal)
                await out.emit(self.outlet, [{"n": i} for i in range(n, n + 100)])
                n += 100

    class Printer(Egress):
        inlet = Inlet("in", NUMBERS)
        async def process(self, batch: InBatch[list[dict]]) -> None:
            print(batch.records)

Blueprints refer to streamlets by import path, ``my.module:Doubler``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping, Sequence, Sized
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, cast

from typing_extensions import TypeVar

from inferstream.runtime.codecs import AvroCodec, Codec
from inferstream.runtime.config import ConfigError, ConfigParameter, IntParameter, StreamletConfig
from inferstream.transports.base import Position

if TYPE_CHECKING:
    from aiohttp import web

# The batch type of a port's codec; Any unless given, e.g. ``Inlet[list[bytes]](...)``.
B = TypeVar("B", bound=Sized, default=Any)
KeyFunction = Callable[[Any], Sequence[bytes | None]]


class _Port(Generic[B]):
    def __init__(
        self, name: str | None, schema: str | Mapping[str, Any], codec: Codec[B] | None = None
    ) -> None:
        self._name = name
        self.schema = schema
        self._codec = codec

    def __set_name__(self, owner: type, attribute: str) -> None:
        if self._name is None:
            self._name = attribute.replace("_", "-")

    @property
    def name(self) -> str:
        if self._name is None:
            raise TypeError("a port needs a name, or must be assigned to a Streamlet class attribute")
        return self._name

    @property
    def codec(self) -> Codec[B]:
        """The batch codec; its batch type ``B`` is what ``process`` gets (``InBatch[B]``)."""
        if self._codec is None:  # built lazily: parsing a schema is not free and verify may not need it
            self._codec = cast("Codec[B]", AvroCodec(self.schema))
        return self._codec

    @property
    def schema_name(self) -> str:
        if isinstance(self.schema, str):
            return self.schema
        return f"{self.schema.get('namespace', '')}.{self.schema.get('name', '')}".lstrip(".")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r}, {self.schema_name!r})"


class Inlet(_Port[B]):
    """A named, typed input: ``Inlet("in", "tensorflow.modelserving.avro.SourceRequest")``."""


class Outlet(_Port[B]):
    """A named, typed output. ``key`` maps a batch to one key per record (the partitioner);
    without it records are spread evenly over the topic's partitions."""

    def __init__(
        self,
        name: str | None,
        schema: str | Mapping[str, Any],
        codec: Codec[B] | None = None,
        key: KeyFunction | None = None,
    ) -> None:
        super().__init__(name, schema, codec)
        self.key = key


def key_by_field(field: str) -> KeyFunction:
    """Key function for list-of-dict batches: the UTF-8 of ``record[field]`` (e.g. ``"datatype"``)."""

    def keys(batch: Sequence[Mapping[str, Any]]) -> list[bytes | None]:
        return [str(record[field]).encode() for record in batch]

    return keys


@dataclass(frozen=True, slots=True)
class InBatch(Generic[B]):
    """Decoded records consumed from one partition; ``offsets[i]`` is where ``records[i]`` came from.

    Records that failed to decode are not in ``records`` (they went to the dead-letter topic).
    """

    inlet: Inlet[B]
    records: B
    topic: str
    partition: int
    offsets: Sequence[int]

    def __len__(self) -> int:
        return len(self.offsets)

    def position(self, index: int) -> Position:
        return Position(self.topic, self.partition, self.offsets[index])


class Output(Protocol):
    """Where a streamlet emits batches. ``await`` applies backpressure (bounded topics)."""

    async def emit(self, outlet: Outlet, batch: Any) -> None: ...


class StreamletContext:
    """What a running streamlet instance knows about itself; given to ``on_start`` and ``run``."""

    def __init__(
        self,
        app: str,
        streamlet: str,
        instance: int,
        instances: int,
        config: StreamletConfig,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self.app = app
        self.streamlet = streamlet  # the name in the blueprint
        self.instance = instance  # 0 .. instances-1
        self.instances = instances
        self.config = config
        self.logger = logging.getLogger(f"inferstream.{streamlet}.{instance}")
        self.stopping = stopping or asyncio.Event()
        self.http_url: str | None = None  # set for server streamlets once their endpoint listens

    @property
    def running(self) -> bool:
        """False once the runner asked the pipeline to stop; ingress loops should end then."""
        return not self.stopping.is_set()

    async def sleep(self, seconds: float) -> bool:
        """Sleep, waking early if stopping; returns :attr:`running` (use it to rate-limit a source)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=max(seconds, 0.0))
        return self.running


class Streamlet:
    """Base of all streamlets. Subclass :class:`Ingress`, :class:`Processor` or :class:`Egress`."""

    #: Declared configuration parameters (validated before the pipeline starts).
    parameters: ClassVar[Sequence[ConfigParameter[Any]]] = ()
    #: Most records handed to one ``process`` call.
    max_batch_records: ClassVar[int] = 1024
    #: Batches being processed at the same time by one instance (outputs still leave in consumption
    #: order per partition: the runtime holds a batch's first emit until its predecessor emitted).
    max_in_flight: ClassVar[int] = 4
    #: One of "ingress", "processor", "egress" (set by the subclasses below).
    kind: ClassVar[str] = ""

    @classmethod
    def inlets(cls) -> dict[str, Inlet]:
        return {port.name: port for port in _ports(cls, Inlet)}

    @classmethod
    def outlets(cls) -> dict[str, Outlet]:
        return {port.name: port for port in _ports(cls, Outlet)}

    @classmethod
    def declared_parameters(cls) -> list[ConfigParameter[Any]]:
        return list(cls.parameters)

    @classmethod
    def check_config(cls, config: StreamletConfig) -> list[ConfigError]:
        """Problems of the parameter values taken together (each one alone is already valid).

        ``verify`` and ``run`` both ask, before anything starts; ``on_start`` may rely on it."""
        return []

    @classmethod
    async def preflight(cls, name: str, config: StreamletConfig) -> list[str]:
        """Before the first record of a run: is what this streamlet needs there (its model server,
        its files)? Returns warnings; raises :class:`~inferstream.runtime.preflight.PreflightError`
        with what is missing and what to do. Called once per streamlet of a blueprint."""
        return []

    async def on_start(self, ctx: StreamletContext) -> None:
        """Called once before any record flows; read ``ctx.config`` here."""

    async def on_stop(self) -> None:
        """Called once after the last record (also on errors); release resources here."""


class Ingress(Streamlet):
    """Outlets only: produces records until its source ends or ``ctx.running`` turns False."""

    kind = "ingress"

    async def run(self, ctx: StreamletContext, out: Output) -> None:
        raise NotImplementedError


class Processor(Streamlet):
    """Inlets and outlets: ``process`` each consumed batch, emitting to outlets."""

    kind = "processor"

    async def process(self, batch: InBatch[Any], out: Output) -> None:
        raise NotImplementedError


class Egress(Streamlet):
    """Inlets only: ``process`` each consumed batch (write it somewhere, collect it...)."""

    kind = "egress"

    async def process(self, batch: InBatch[Any]) -> None:
        raise NotImplementedError


class MapProcessor(Processor):
    """Per-record helper over the batch API: one inlet, one outlet, ``transform`` each dict record.

    ``transform`` returns the output record, or ``None`` to drop it on purpose (a filter).
    """

    def transform(self, record: Any) -> Any:
        raise NotImplementedError

    async def process(self, batch: InBatch[Any], out: Output) -> None:
        (outlet,) = self.outlets().values()
        results = [self.transform(record) for record in batch.records]
        await out.emit(outlet, [r for r in results if r is not None])


HTTP_PORT = IntParameter("http-port", 0, "port of the HTTP endpoint on 127.0.0.1 (0: a free port)", minimum=0)
# Loopback unless the environment opens it (a pod: probes and its Service reach the pod address).
HTTP_HOST = os.environ.get("INFERSTREAM_HTTP_HOST", "127.0.0.1")


class ServerStreamlet(Streamlet):
    """Mixin for a streamlet that also serves HTTP (statistics, health...). Combine with a kind::

    class Scorer(ServerStreamlet, Processor):
        def http_routes(self) -> list[web.RouteDef]:
            return [web.get("/state", self.state)]

    The runner serves the routes on ``127.0.0.1:<http-port>`` (0: a free port) before
    ``on_start`` and puts the address into ``ctx.http_url``.
    """

    @classmethod
    def declared_parameters(cls) -> list[ConfigParameter[Any]]:
        declared = super().declared_parameters()
        return declared if any(p.key == HTTP_PORT.key for p in declared) else [*declared, HTTP_PORT]

    def http_routes(self) -> Sequence[web.RouteDef]:
        raise NotImplementedError


def _ports(cls: type, port_type: type[_Port[Any]]) -> list[Any]:
    seen: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):  # subclasses override ports of the same attribute name
        for attribute, value in vars(klass).items():
            if isinstance(value, port_type):
                seen[attribute] = value
    return list(seen.values())


def port_names_by_attribute(cls: type) -> dict[str, list[str]]:
    """Port name -> attribute names declaring it (verify reports names used twice)."""
    names: dict[str, list[str]] = {}
    for klass in reversed(cls.__mro__):
        for attribute, value in vars(klass).items():
            if isinstance(value, _Port):
                names.setdefault(value.name, [])
                if attribute not in names[value.name]:
                    names[value.name].append(attribute)
    return names
