"""The benchmark run: one broker, one fleet of model servers (and the proxy), then each mode in turn.

Per mode, on fresh topics:
1. *saturate*: the harness (playing the ingress) keeps ~2 s of work in flight on the input topic
   for ``saturate_seconds``; the outlets' pace meanwhile is the sustained throughput;
2. *latency*: once the pipeline has caught up, input is paced at half that rate, and each record's
   time from its produce to its append on an outlet gives the end-to-end latency percentiles;
3. the pipeline stops, the harness reads every outlet back and checks the counts.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inferstream.bench import breakdown
from inferstream.bench.blueprints import app_name
from inferstream.bench.call_durations import model_call_durations_ms
from inferstream.bench.features import load_features
from inferstream.bench.kafka_probe import BrokerProbeError, Feeder, OffsetWatcher, create_topics, read_topic
from inferstream.bench.launchers import (
    REPO,
    RunContext,
    ServerFleet,
    Topology,
    endpoints_for,
    pipeline_unavailable,
    proxy_unavailable,
    start_pipeline,
    start_proxy,
)
from inferstream.bench.machine import describe_machine
from inferstream.bench.measure import latencies, percentiles_ms, rate_series, sustained_rate
from inferstream.bench.memory import RssWatcher, rss_growth
from inferstream.bench.model_setup import ensure_model
from inferstream.bench.modes import Mode
from inferstream.bench.nginx import NginxProxy
from inferstream.bench.procs import ManagedProcess, ProcessFailed, children_of
from inferstream.bench.records import RequestFactory
from inferstream.bench.results import BenchRun, ModeResult
from inferstream.bench.sweep import SweepStep, measure_steps, sweep_rates
from inferstream.bench.trace_collector import trace_collector
from inferstream.devtools.kafka_broker import start_broker

Status = Callable[[str], None]


@dataclass
class BenchSettings:
    modes: list[Mode]
    out: Path
    quick: bool = False
    models: Path = REPO / "models"
    data: Path = REPO / "data" / "creditcard-sample.csv"
    saturate_seconds: float = 20.0  # length of the saturated (max throughput) phase
    fast_in_flight: int = 5_000  # least records kept in flight for batched modes
    slow_in_flight: int = 300  # ... and for one-record-per-call modes
    drain_seconds: float = 30.0  # longest wait for the pipeline to catch up after saturation
    latency_seconds: float = 12.0  # length of the paced phase
    partitions: int = 4
    replicas: int = 2
    startup_seconds: float = 180.0  # imports and group joins; minutes on a crowded 2-core machine
    kafka_conf: list[str] = field(default_factory=list)  # KEY=VALUE librdkafka settings of the pipeline
    latency_sweep: bool = False  # after the paced phase: offered load from 1,000/s to saturation
    sweep_step_seconds: float = 6.0
    otlp_endpoint: str | None = None  # traced modes' collector; None: a Jaeger started by the harness
    notes: list[str] = field(default_factory=list)


def run_bench(settings: BenchSettings, status: Status = lambda _: None) -> BenchRun:
    """Run every mode of ``settings``; never raises for one mode's failure (it is reported)."""
    settings.out.mkdir(parents=True, exist_ok=True)
    work = settings.out / "work"
    run = BenchRun(
        command=shlex.join(["inferstream", *sys.argv[1:]]) if sys.argv[0].endswith("inferstream") else "",
        quick=settings.quick,
        machine=describe_machine(),
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        settings={
            k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items() if k != "modes"
        },
    )
    started = time.monotonic()
    features = load_features(settings.data)
    factory = RequestFactory(features)
    with ExitStack() as stack:
        status("starting the Kafka broker")
        broker = stack.enter_context(start_broker(heap="512m"))
        collector = stack.enter_context(trace_collector(settings.modes, settings.otlp_endpoint, work, status))
        status("finding the fraud model")
        model, note = ensure_model(settings.models, settings.data, work / "models")
        if note:
            run.notes.append(note)
        fleet_reason = ServerFleet.unavailable()
        fleet: ServerFleet | None = None
        proxy: NginxProxy | None = None
        if fleet_reason is None:
            status(f"starting {settings.replicas} model-server replicas")
            fleet = ServerFleet(model, settings.replicas, work / "servers", collector.server_env())
            stack.callback(fleet.stop)
            try:
                fleet.start(settings.startup_seconds)
            except ProcessFailed as exc:
                fleet_reason = f"the model server did not start: {_last_line(str(exc))}"
            if (
                fleet_reason is None
                and any(m.access == "proxy" for m in settings.modes)
                and not proxy_unavailable()
            ):
                status("starting the nginx proxy")
                proxy = start_proxy(fleet, work / "nginx")
                stack.callback(proxy.stop)
        for index, mode in enumerate(settings.modes):
            status(f"[{index + 1}/{len(settings.modes)}] {mode.name}")
            reason = fleet_reason or pipeline_unavailable(mode) or collector.unavailable(mode)
            if reason is None and mode.access == "proxy" and proxy is None:
                reason = proxy_unavailable() or "the proxy did not start"
            if reason is not None or fleet is None:
                run.modes.append(ModeResult(mode.name, available=False, reason=reason))
                continue
            ctx = RunContext(broker.bootstrap_servers, model, work / f"m{index:02d}-{mode.name}",
                             settings.kafka_conf, collector.endpoint)
            prefix = f"b{index:02d}-{mode.name}"
            try:
                with collector.traced(mode, app_name(prefix)) as seen:  # traced modes: spans to Jaeger
                    result = _run_mode(mode, prefix, ctx, fleet, proxy, factory, settings, status)
                result.tracing.update(seen)
            except (BrokerProbeError, ProcessFailed, OSError) as exc:
                # One mode's broken measurement must not lose the others' figures.
                result = ModeResult(mode.name, available=False, reason=f"measurement failed: {exc}")
            run.modes.append(result)
    run.seconds = round(time.monotonic() - started, 1)
    run.notes.extend(settings.notes)
    return run


def _run_mode(
    mode: Mode,
    prefix: str,
    ctx: RunContext,
    fleet: ServerFleet,
    proxy: NginxProxy | None,
    factory: RequestFactory,
    settings: BenchSettings,
    status: Status,
) -> ModeResult:
    result = ModeResult(mode.name)
    began = time.monotonic()
    topology = Topology.for_mode(mode, prefix)
    create_topics(ctx.bootstrap, [topology.input], topology.derived, settings.partitions)
    feeder = Feeder(ctx.bootstrap, topology.input, factory)
    min_in_flight = settings.slow_in_flight if mode.slow else settings.fast_in_flight
    sent = [feeder.send(0, min_in_flight)]  # produce times, chunk by chunk
    feeder.flush()
    saturated = min_in_flight  # records of the saturated phase: seqs [0, saturated)
    shared: list[ManagedProcess] = [*fleet.processes, *([proxy.process] if proxy and proxy.process else [])]
    cpu_before = {p.name: p.cpu_seconds() for p in shared}
    outlet_topics = list(topology.outlets.values())
    watcher = OffsetWatcher(
        ctx.bootstrap,
        [topology.input, topology.results, *outlet_topics],
        topology.group_topics,
        interval=0.25,
    )
    watcher.start()
    pipeline: list[ManagedProcess] = []
    paced_range = (saturated, saturated)
    steps: list[SweepStep] = []
    rss: RssWatcher | None = None
    saturate_window = (0.0, 0.0)  # seconds since the RSS watcher started
    try:
        pipeline = start_pipeline(mode, topology, endpoints_for(mode, fleet, proxy), ctx)
        rss = RssWatcher([(p.name, p.pid) for p in pipeline], children_of).start()
        status(f"{mode.name}: starting the pipeline")
        # Start-up (imports, consumer-group joins) is slow on a busy machine and is not measured.
        if not _wait_outlets(watcher, outlet_topics, 1, settings.startup_seconds, pipeline):
            raise ProcessFailed(
                f"no record reached an outlet within {settings.startup_seconds:.0f} s of start"
            )
        status(f"{mode.name}: saturating for {settings.saturate_seconds:.0f} s")
        saturate_window = (rss.elapsed(), 0.0)
        saturated = _saturate(
            feeder, sent, saturated, watcher, outlet_topics, min_in_flight, settings, pipeline
        )
        saturate_window = (saturate_window[0], rss.elapsed())
        result.drained = _wait_outlets(watcher, outlet_topics, saturated, settings.drain_seconds, pipeline)
        reads = {t: read_topic(ctx.bootstrap, t) for t in outlet_topics}
        out_times = np.concatenate([r.times[r.seqs < saturated] for r in reads.values()])
        rate_out = sustained_rate(out_times)
        result.sustained_rps = None if rate_out is None else round(rate_out, 1)
        if not result.drained:
            out = _outlet_total(watcher, outlet_topics)
            result.reason = (
                f"did not catch up within {settings.drain_seconds:.0f} s ({out:,} of {saturated:,} out)"
            )
        elif result.sustained_rps:
            rate = result.sustained_rps / 2
            paced = max(1, int(rate * settings.latency_seconds))
            result.latency_rate_rps = round(rate, 1)
            status(f"{mode.name}: pacing {paced:,} records at {rate:,.0f}/s for latency")
            sent.append(feeder.send(saturated, paced, rate=rate))
            feeder.flush()
            paced_range = (saturated, saturated + paced)
            _wait_outlets(watcher, outlet_topics, saturated + paced, settings.latency_seconds + 15, pipeline)
            if settings.latency_sweep:
                _sweep(mode, feeder, sent, saturated + paced, watcher, outlet_topics, result.sustained_rps,
                       settings, pipeline, steps, status)
    except ProcessFailed as exc:
        result.reason = str(exc).splitlines()[0]
    finally:
        for process in pipeline:
            process.stop()
        if rss is not None:
            rss.stop()
        watcher.stop()
        feeder.flush()
    produced_at = np.concatenate(sent)
    if mode.traced:
        result.tracing["sampled_records"] = feeder.sampled
    _collect(result, ctx, topology, watcher, produced_at, paced_range, pipeline, shared, cpu_before, steps)
    if rss is not None:
        result.rss_mib = rss.series
        if saturate_window[1] > saturate_window[0]:
            result.rss_growth = rss_growth(rss.series, saturate_window)
    result.seconds = round(time.monotonic() - began, 1)
    return result


def _sweep(
    mode: Mode,
    feeder: Feeder,
    sent: list[npt.NDArray[np.float64]],
    first_seq: int,
    watcher: OffsetWatcher,
    outlet_topics: list[str],
    max_rps: float,
    settings: BenchSettings,
    pipeline: list[ManagedProcess],
    steps: list[SweepStep],
    status: Status,
) -> None:
    """Pace each rate of the sweep for a step; stop after a step the pipeline could not keep up with."""
    seq = first_seq
    for rate in sweep_rates(max_rps):
        count = max(1, int(rate * settings.sweep_step_seconds))
        status(f"{mode.name}: latency sweep at {rate:,.0f}/s")
        step = SweepStep(rate, seq, count)
        sent.append(feeder.send(seq, count, rate=rate))
        feeder.flush()
        seq += count
        steps.append(step)
        wait = settings.sweep_step_seconds + 20
        step.caught_up = _wait_outlets(watcher, outlet_topics, seq, wait, pipeline)
        if not step.caught_up:
            break


def _saturate(
    feeder: Feeder,
    sent: list[npt.NDArray[np.float64]],
    produced: int,
    watcher: OffsetWatcher,
    outlet_topics: list[str],
    min_in_flight: int,
    settings: BenchSettings,
    pipeline: list[ManagedProcess],
) -> int:
    """Keep the pipeline busy for ``saturate_seconds``: top the input up whenever fewer than ~2 s of
    output (and at least ``min_in_flight``) records are in flight. Returns the records produced."""
    deadline = time.monotonic() + settings.saturate_seconds
    while time.monotonic() < deadline:
        for process in pipeline:
            if not process.alive():
                raise process.fail("exited while the pipeline was running")
        in_flight = produced - _outlet_total(watcher, outlet_topics)
        wanted = max(min_in_flight, int(2 * _recent_rate(watcher, outlet_topics)))
        if in_flight < wanted:
            count = min(wanted - in_flight, 50_000)
            sent.append(feeder.send(produced, count))
            produced += count
        else:
            time.sleep(0.05)
    feeder.flush()
    return produced


def _recent_rate(watcher: OffsetWatcher, outlet_topics: list[str], window: float = 1.0) -> float:
    """Outlet records/s over the last ``window`` seconds of samples."""
    samples = watcher.samples
    if len(samples) < 2:
        return 0.0
    last = samples[-1]
    first = next((s for s in reversed(samples) if last.t - s.t >= window), samples[0])
    dt = last.t - first.t
    if dt <= 0:
        return 0.0
    return (
        sum(last.ends.get(t, 0) for t in outlet_topics) - sum(first.ends.get(t, 0) for t in outlet_topics)
    ) / dt


def _collect(
    result: ModeResult,
    ctx: RunContext,
    topology: Topology,
    watcher: OffsetWatcher,
    produced_at: npt.NDArray[np.float64],
    paced_range: tuple[int, int],
    pipeline: list[ManagedProcess],
    shared: list[ManagedProcess],
    cpu_before: dict[str, float],
    steps: list[SweepStep],
) -> None:
    result.records_in = int(produced_at.size)
    reads = {name: read_topic(ctx.bootstrap, topic) for name, topic in topology.outlets.items()}
    result.outlets = {name: int(r.seqs.size + r.untagged) for name, r in reads.items()}
    result.records_out = sum(result.outlets.values())
    result.untagged_out = sum(r.untagged for r in reads.values())
    seqs = np.concatenate([r.seqs for r in reads.values()])
    times = np.concatenate([r.times for r in reads.values()])
    result.duplicates = int(seqs.size - np.unique(seqs).size)
    backlog, paced = paced_range[0], paced_range[1] - paced_range[0]
    if paced > 0:
        result.latency_ms = percentiles_ms(latencies(produced_at, seqs, times, backlog, paced))
    if steps:
        measure_steps(steps, produced_at, seqs, times)
        result.sweep = [step.to_json() for step in steps]
    results_read = read_topic(ctx.bootstrap, topology.results, sample_values=2000)
    traces = breakdown.load_traces(ctx.workdir / "stage-times")
    if traces and paced > 0:
        input_read = read_topic(ctx.bootstrap, topology.input)
        size = int(produced_at.size)
        stages = [
            breakdown.StageSpec("model-serving", breakdown.produce_times(produced_at),
                                breakdown.seq_times([results_read], size)),
            breakdown.StageSpec("fraud-decider", breakdown.seq_times([results_read], size),
                                breakdown.seq_times(list(reads.values()), size)),
        ]
        by_topic = {topology.input: input_read, topology.results: results_read}
        per_stage = breakdown.stage_breakdowns(traces, by_topic, stages, paced_range)
        result.breakdown = breakdown.summarize(per_stage)
    result.model_call_ms = percentiles_ms(model_call_durations_ms(results_read.values_sample) / 1000.0)
    result.cpu_seconds = {p.name: round(p.cpu_seconds(), 2) for p in pipeline}
    for process in pipeline:
        for label, seconds in process.child_cpu_seconds.items():
            result.cpu_seconds[f"{process.name}/{label}"] = round(seconds, 2)
    for process in shared:
        result.cpu_seconds[process.name] = round(process.cpu_seconds() - cpu_before.get(process.name, 0.0), 2)
    samples = watcher.samples
    t = [s.t for s in samples]
    outlet_topics = list(topology.outlets.values())
    result.throughput_series = {
        "model-serving": rate_series(t, [s.ends.get(topology.results, 0) for s in samples]),
        "outlets": rate_series(t, [sum(s.ends.get(o, 0) for o in outlet_topics) for s in samples]),
    }
    for stage, (group, _topics) in topology.groups.items():
        series = [(round(s.t, 3), s.lag[group]) for s in samples if group in s.lag]
        result.lag_series[stage] = series
        result.max_lag[stage] = max((lag for _, lag in series), default=0)


def _outlet_total(watcher: OffsetWatcher, outlet_topics: list[str]) -> int:
    latest = watcher.latest()
    return sum(latest.ends.get(t, 0) for t in outlet_topics) if latest else 0


def _wait_outlets(
    watcher: OffsetWatcher,
    outlet_topics: list[str],
    target: int,
    timeout: float,
    pipeline: list[ManagedProcess],
) -> bool:
    """Wait until the outlets hold ``target`` records; False on timeout. A dead stage fails the mode."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _outlet_total(watcher, outlet_topics) >= target:
            return True
        for process in pipeline:
            if not process.alive():
                raise process.fail("exited while the pipeline was running")
        time.sleep(0.2)
    return False


def _last_line(text: str) -> str:
    lines = [line.strip(" │") for line in text.splitlines() if line.strip(" │")]
    return lines[-1] if lines else text
