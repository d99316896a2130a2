"""Pass-through pipeline throughput: fraud-sized Avro records, ingress -> processor -> egress.

    .venv/bin/python benchmarks/pipeline.py --records 1000000                     # memory, no decode
    .venv/bin/python benchmarks/pipeline.py --records 200000 --processor avro     # decode + re-encode
    .venv/bin/python benchmarks/pipeline.py --transport kafka \\
        --conf transports.kafka.bootstrap-servers=HOST:PORT

Prints records/s end to end (first record emitted to last record received by the egress, epoch
clocks, so comparable across processes) and the machine. ``--processor raw`` forwards the Avro
bytes untouched (measures the runtime and the transport); ``stacked`` decodes into stacked numpy
arrays and re-encodes (the tensors' batch codec); ``avro`` does it with generic fastavro dicts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from inferstream.bench.machine import describe_machine
from inferstream.runtime.blueprint import parse_yaml
from inferstream.runtime.config_sources import gather_settings
from inferstream.runtime.plan import build_plan
from inferstream.runtime.runner import Runner
from inferstream.transports.memory import MemoryTransport

PROCESSORS = {
    "raw": "inferstream.apps.examples:FraudPassThrough",
    "avro": "inferstream.apps.examples:FraudAvroPassThrough",
    "stacked": "inferstream.apps.examples:FraudStackedPassThrough",
}

BLUEPRINT = """
name: passthrough
streamlets:
  ingress:
    class: inferstream.apps.examples:FraudSizedIngress
    config: {{batch-size: {batch}}}
  processor:
    class: {processor}
    instances: {instances}
  egress: inferstream.apps.examples:CountingEgress
connections:
  ingress.out: [processor.in]
  processor.out: [egress.in]
"""


def blueprint_text(processor: str, instances: int, batch: int) -> str:
    return BLUEPRINT.format(processor=PROCESSORS[processor], instances=instances, batch=batch)


async def run_memory(text: str, records: int) -> dict[str, object]:
    plan, problems = build_plan(parse_yaml(text, name="passthrough"), gather_settings(), environ={})
    assert plan is not None, problems
    runner = Runner(plan, MemoryTransport(), records=records)
    stats = await runner.run()
    return stats.snapshot()


def run_cli(text: str, records: int, transport: str, conf: list[str]) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    blueprint = folder / "passthrough.yaml"
    blueprint.write_text(text)
    summary = folder / "summary.json"
    command = [sys.executable, "-m", "inferstream.cli.main", "run", str(blueprint), "--transport", transport]
    command += ["--records", str(records), "--summary-json", str(summary), "--no-progress"]
    command += [a for c in conf for a in ("--conf", c)]
    subprocess.run(command, check=True)
    result: dict[str, object] = json.loads(summary.read_text())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--transport", choices=["memory", "kafka"], default="memory")
    parser.add_argument("--processor", choices=sorted(PROCESSORS), default="raw")
    parser.add_argument("--instances", type=int, default=1, help="processor instances")
    parser.add_argument("--batch", type=int, default=1024, help="records per ingress batch")
    parser.add_argument("--conf", action="append", default=[], help="passed to inferstream run (kafka)")
    args = parser.parse_args()

    text = blueprint_text(args.processor, args.instances, args.batch)
    started = time.perf_counter()
    if args.transport == "memory":
        summary = asyncio.run(run_memory(text, args.records))
    else:
        summary = run_cli(text, args.records, args.transport, args.conf)
    wall = time.perf_counter() - started
    streamlets = summary["streamlets"]
    assert isinstance(streamlets, dict)
    counted = streamlets["egress"]["records_in"]
    flow = float(summary["flow_s"])  # type: ignore[arg-type]
    elapsed = float(summary["elapsed_s"])  # type: ignore[arg-type]
    machine = describe_machine()
    print(
        f"machine: {machine['cpu_model']}, {machine['cores']} cores, load {machine['load_average_at_start']}"
    )
    print(
        f"pass-through ({args.processor}) on {args.transport}, {args.instances} processor instance(s): "
        f"{counted:,} of {args.records:,} records flowed in {flow:.2f} s = {counted / flow:,.0f} records/s "
        f"(run incl. start and drain {elapsed:.2f} s; wall incl. setup {wall:.2f} s)"
    )
    cpu = float(summary["cpu_s"])  # type: ignore[arg-type]
    print(f"CPU of the pipeline's processes: {cpu:.2f} s = {counted / cpu:,.0f} records per CPU-second")
    if counted != args.records:
        raise SystemExit(f"lost records: counted {counted} of {args.records}")


if __name__ == "__main__":
    main()
