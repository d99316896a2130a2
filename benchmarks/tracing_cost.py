"""What tracing costs: the fraud pipeline's throughput with tracing off, at 1 % and at 100 % sampling.

    .venv/bin/python benchmarks/tracing_cost.py --otlp-endpoint 127.0.0.1:4317 --models models \\
        --records 20000 --rounds 3

Runs ``inferstream run fraud-embedded`` (in-process ONNX model, memory transport, the ingress at
full speed) once per mode per round, alternating modes so that load on a shared machine hits each
alike, and prints the median records/s (first record in to last record out, from the run's summary)
and each mode's cost relative to tracing off. Spans go to the OTLP/gRPC collector given (a real
Jaeger: ``bash scripts/jaeger/install.sh`` builds one; the tests' config starts it on free ports).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from inferstream.bench.machine import describe_machine

LAUNCH = "from inferstream.cli.main import main; main()"
MODES = {"off": None, "1%": 0.01, "100%": 1.0}


def _latest(base: Path) -> Path:
    return max((p for p in base.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def one_run(records: int, models: Path, data: Path, ratio: float | None, endpoint: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "summary.json"
        command = [sys.executable, "-c", LAUNCH, "run", "fraud-embedded", "--records", str(records),
                   "--no-progress", "--summary-json", str(summary),
                   "--conf", "card-ingress.rate=0", "--conf", "card-ingress.frequency=0 millisecond",
                   "--conf", f"card-ingress.data={data}",
                   "--conf", f"model-serving.model-path={_latest(models / 'fraud')}",
                   "--conf", f"fraud-decider.threshold-from={models / 'fraud'}",
                   "--conf", "fraud-console.lines-per-second=0", "--conf", "error-console.lines-per-second=0"]
        if ratio is not None:
            command += ["--trace-ratio", str(ratio), "--otlp-endpoint", endpoint]
        subprocess.run(command, check=True, capture_output=True, timeout=900)
        result = json.loads(summary.read_text())
        decided = sum(p["records"] for p in result["streamlets"]["fraud-decider"]["outlets"].values())
        return float(decided / result["flow_s"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--otlp-endpoint", required=True, help="OTLP/gRPC collector, e.g. 127.0.0.1:4317")
    parser.add_argument("--models", type=Path, default=Path("models"), help="holds fraud/<version>/")
    parser.add_argument("--data", type=Path, default=Path("data/creditcard-sample.csv"))
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    for round_ in range(args.rounds):
        for mode, ratio in MODES.items():
            rate = one_run(args.records, args.models, args.data, ratio, args.otlp_endpoint)
            rates[mode].append(rate)
            print(f"round {round_ + 1} {mode:>5}: {rate:,.0f} records/s", flush=True)
    base = statistics.median(rates["off"])
    print(describe_machine())
    print(f"| tracing | records/s (median of {args.rounds}) | runs | cost vs off |")
    print("| --- | --- | --- | --- |")
    for mode, values in rates.items():
        median = statistics.median(values)
        runs = ", ".join(f"{v:,.0f}" for v in values)
        print(f"| {mode} | {median:,.0f} | {runs} | {100 * (1 - median / base):+.1f} % |")


if __name__ == "__main__":
    main()
