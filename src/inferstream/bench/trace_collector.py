"""The bench's tracing modes: where their spans go (a real Jaeger), and what reached it.

A traced mode (``Mode.trace_ratio`` > 0) runs the pipeline with ``--trace-ratio R --otlp-endpoint E``
and the model servers with ``OTEL_EXPORTER_OTLP_ENDPOINT``. The harness plays the ingress, so it
decides sampling as the fraud app's ingress does, with the same code: ``tracing.ingress_headers``
gives each sampled record a ``bench-ingress produce`` span and its ``traceparent`` header (the feeder
pays that cost on the same cores, as an ingress would). Downstream, parent-based sampling follows.

Unless ``--otlp-endpoint`` names the user's own collector, the harness starts the Jaeger that
``scripts/jaeger/install.sh`` built (memory storage, free loopback ports) before the servers and
stops it at the end; without one, traced modes are "not available" with the command to install it.
After each traced mode it counts the spans Jaeger accepted and checks the traces of the sampled
records: each must hold the ingress, model-serving (process, batch wait), the decider and an egress.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferstream.bench.modes import Mode
from inferstream.bench.results import BenchRun, ModeResult
from inferstream.devtools.jaeger import INSTALL_HINT, Jaeger, JaegerError, installed_binary, start_jaeger
from inferstream.observability import tracing

INGRESS = "bench-ingress"  # the harness's feeder, as a streamlet name in spans and service names
WHOLE = ("model-serving process", "batch wait", "fraud-decider process")  # + ingress produce, an egress
EGRESSES = tuple(f"{o}-counter process" for o in ("normal", "fraud", "error"))
CHECK_ALL_UP_TO = 2_000  # sampled records whose traces are all fetched; beyond, a sample is checked
SAMPLE = 300


@dataclass
class TraceCollector:
    """The OTLP/gRPC endpoint of this run's traced modes (None: they cannot run, ``reason`` says why)."""

    endpoint: str | None = None
    jaeger: Jaeger | None = None
    reason: str | None = None

    def server_env(self) -> dict[str, str]:
        """The model servers continue traced calls' contexts and export their spans here."""
        if self.endpoint is None:
            return {}
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{self.endpoint}", "OTEL_SERVICE_NAME": "bench-server"}

    def unavailable(self, mode: Mode) -> str | None:
        if not mode.traced:
            return None
        if mode.peer:
            return "tracing modes are inferstream's"
        return self.reason if self.endpoint is None else None

    @contextmanager
    def traced(self, mode: Mode, app: str) -> Iterator[dict[str, Any]]:
        """While the mode runs, the harness's feeder traces as its ingress; afterwards the yielded dict
        holds what reached the collector (spans accepted, traces checked and whole)."""
        seen: dict[str, Any] = {}
        if not mode.traced or self.endpoint is None:
            yield seen
            return
        before = self.jaeger.accepted_spans() if self.jaeger else None
        tracing.configure_tracing(f"{app}/{INGRESS}", mode.trace_ratio, self.endpoint)
        try:
            yield seen
        finally:
            tracing.shutdown_tracing()  # the feeder's last spans; the pipeline flushed its own on stop
        seen.update(ratio=mode.trace_ratio, endpoint=self.endpoint)
        if self.jaeger is not None:
            seen.update(_what_jaeger_holds(self.jaeger, app, before))


@contextmanager
def trace_collector(
    modes: list[Mode], endpoint: str | None, workdir: Path, status: Callable[[str], None]
) -> Iterator[TraceCollector]:
    """The run's collector: ``endpoint`` if given, else a Jaeger started here (when a mode is traced)."""
    if endpoint or not any(m.traced and not m.peer for m in modes):
        yield TraceCollector(endpoint)
        return
    binary = installed_binary()
    if binary is None:
        yield TraceCollector(reason=f"Jaeger is not installed: run {INSTALL_HINT}, or pass "
                                    "--otlp-endpoint HOST:PORT of your own OTLP/gRPC collector")
        return
    status("starting Jaeger for the traced modes")
    try:
        jaeger = start_jaeger(binary, workdir)
    except JaegerError as exc:
        yield TraceCollector(reason=f"Jaeger did not start: {str(exc).splitlines()[0]} (log: {workdir})")
        return
    try:
        yield TraceCollector(jaeger.otlp_grpc, jaeger)
    finally:
        jaeger.stop()


def _settled_spans(jaeger: Jaeger, timeout: float = 30.0) -> int | None:
    """Spans accepted so far, once the count has stopped moving for a second (exports in flight)."""
    deadline = time.monotonic() + timeout
    last = jaeger.accepted_spans()
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = jaeger.accepted_spans()
        if now == last:
            return now
        last = now
    return last


def _what_jaeger_holds(jaeger: Jaeger, app: str, before: int | None) -> dict[str, Any]:
    after = _settled_spans(jaeger)
    found: dict[str, Any] = {"spans_accepted": None if after is None or before is None else after - before}
    time.sleep(0.5)  # the collector's batch processor hands spans to storage within 200 ms
    service = f"{app}/{INGRESS}"
    try:
        traces = jaeger.traces(service, limit=CHECK_ALL_UP_TO + 1, timeout=120)
        if len(traces) > CHECK_ALL_UP_TO:  # the 100 % mode: check a sample, count the rest by spans
            traces = jaeger.traces(service, limit=SAMPLE, timeout=60)
            found["traces_found"] = f"> {CHECK_ALL_UP_TO:,}"
        else:
            found["traces_found"] = len(traces)
    except OSError as exc:
        found["query_error"] = str(exc)
        return found
    names = [{s["operationName"] for s in t["spans"]} for t in traces]
    whole = [n for n in names if f"{INGRESS} produce" in n and set(WHOLE) <= n and n & set(EGRESSES)]
    found.update(traces_checked=len(traces), traces_whole=len(whole),
                 traces_with_model_call=sum(1 for n in names if "model call" in n))
    return found


@dataclass
class CostRow:
    mode: str
    ratio: float
    rps: float | None
    vs_untraced: float | None  # records/s of this mode / of its untraced twin in the same run
    tracing: dict[str, Any] = field(default_factory=dict)


def cost_rows(run: BenchRun) -> list[CostRow]:
    """Each traced mode of the run beside its untraced twin (the cost ratio), when both were measured."""
    by_name = {r.mode: r for r in run.modes}
    rows: list[CostRow] = []
    for result in run.modes:
        if "-traced-" not in result.mode:
            continue
        base = by_name.get(result.mode.split("-traced-")[0])
        ratio = float(result.tracing.get("ratio", 0.0)) or _ratio_of(result.mode)
        if base is not None and not any(r.mode == base.mode for r in rows):
            rows.append(CostRow(base.mode, 0.0, base.sustained_rps, 1.0 if base.sustained_rps else None))
        vs = _ratio(result, base)
        rows.append(CostRow(result.mode, ratio, result.sustained_rps, vs, result.tracing))
    return rows


def _ratio_of(name: str) -> float:
    return float(name.rsplit("-traced-", 1)[1].removesuffix("pct")) / 100


def _ratio(result: ModeResult, base: ModeResult | None) -> float | None:
    if base is None or not base.sustained_rps or not result.sustained_rps:
        return None
    return result.sustained_rps / base.sustained_rps


def cost_markdown(run: BenchRun) -> list[str]:
    """The table's "Tracing cost" section (empty when no traced mode ran)."""
    rows = cost_rows(run)
    if not rows:
        return []
    lines = ["", "Tracing cost — records/s of each traced mode vs the untraced mode of this run "
                 "(spans over OTLP/gRPC; the harness's feeder samples as the ingress):", "",
             "| mode | ratio | records/s | vs untraced | sampled records | spans to the collector "
             "| traces checked: whole (with the model call) |", "|---|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        t = row.tracing
        rps = "–" if row.rps is None else f"{row.rps:,.0f}"
        vs = _fmt_vs(row.vs_untraced)
        spans = t.get("spans_accepted")
        checked = (f"{t['traces_checked']:,}: {t['traces_whole']:,} ({t['traces_with_model_call']:,})"
                   if "traces_checked" in t else "–")
        sampled = t.get("sampled_records")
        lines.append(f"| {row.mode} | {row.ratio * 100:g} % | {rps} | {vs} | {_count(sampled)} "
                     f"| {_count(spans)} | {checked} |")
    return lines


def _fmt_vs(vs: float | None) -> str:
    return "–" if vs is None else f"{vs:.3f} ({100 * (vs - 1):+.1f} %)"


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else ("–" if value is None else str(value))
