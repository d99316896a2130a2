import asyncio
from typing import Any

from inferstream.apps.examples import NUMBERED, CountingServerEgress, Doubler, NumberedIngress
from inferstream.runtime.streamlet import HTTP_PORT, InBatch, Inlet, MapProcessor, Outlet


class Evens(MapProcessor):
    inlet = Inlet("in", NUMBERED)
    outlet = Outlet("out", NUMBERED)

    def transform(self, record: Any) -> Any:
        return record if record["n"] % 2 == 0 else None  # a filter: odd records are dropped on purpose


class Collect:
    def __init__(self) -> None:
        self.emitted: list[tuple[str, Any]] = []

    async def emit(self, outlet: Outlet, batch: Any) -> None:
        self.emitted.append((outlet.name, batch))


def test_map_processor_applies_transform_per_record_and_emits_one_batch() -> None:
    records = [{"n": n, "key": ""} for n in range(5)]
    batch: InBatch[list[dict[str, Any]]] = InBatch(Evens.inlet, records, "t", 0, range(10, 15))
    out = Collect()
    asyncio.run(Evens().process(batch, out))
    assert out.emitted == [("out", [records[0], records[2], records[4]])]
    assert batch.position(1) == ("t", 0, 11)


def test_ports_and_parameters_are_declared_on_the_class() -> None:
    assert list(Doubler.inlets()) == ["in"] and list(Doubler.outlets()) == ["out"]
    assert [p.key for p in Doubler.declared_parameters()] == ["factor", "fail-on"]
    assert NumberedIngress.kind == "ingress" and not NumberedIngress.inlets()
    assert HTTP_PORT in CountingServerEgress.declared_parameters()  # server streamlets get http-port
