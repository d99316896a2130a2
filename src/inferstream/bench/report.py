"""The outputs of a run in ``--out DIR``: results.json, table.md and the PNG charts."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a display
import matplotlib.pyplot as plt

from inferstream.bench import breakdown, sweep
from inferstream.bench.goals import check_goals, goals_table
from inferstream.bench.results import BenchRun, ModeResult
from inferstream.bench.trace_collector import cost_markdown

CHARTS = ("throughput_over_time.png", "latency_percentiles.png", "throughput_vs_instances.png")


def write_outputs(run: BenchRun, out: Path) -> list[Path]:
    """Write everything and return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.json"
    data = run.to_json()
    data["goals"] = [asdict(check) for check in check_goals(run)]
    results.write_text(json.dumps(data, indent=2) + "\n")
    table = out / "table.md"
    table.write_text(markdown_table(run) + "\n")
    return [results, table, *write_charts(run, out), *_extra_charts(run, out)]


def _extra_charts(run: BenchRun, out: Path) -> list[Path]:
    measured = [r for r in run.modes if r.available]
    written = [
        breakdown.write_chart({r.mode: r.breakdown for r in measured if r.breakdown},
                              out / "latency_breakdown.png"),
        sweep.write_chart({r.mode: r.sweep for r in measured if r.sweep}, out / "latency_sweep.png"),
    ]
    return [p for p in written if p is not None]


def _details(run: BenchRun) -> list[str]:
    """Below the main table: each mode's latency breakdown, sweep and memory."""
    lines: list[str] = []
    for r in (m for m in run.modes if m.available):
        if r.breakdown:
            lines += ["", breakdown.markdown(r.breakdown, r.mode)]
        if r.sweep:
            lines += ["", f"Latency sweep — {r.mode}:", "",
                      "| offered records/s | p50 ms | p99 ms | kept up |", "|---:|---:|---:|---|"]
            lines += [f"| {s['offered_rps']:,.0f} | {_fmt(s['p50_ms'], 1)} | {_fmt(s['p99_ms'], 1)} "
                      f"| {'yes' if s['caught_up'] else 'no'} |" for s in r.sweep]
        if r.rss_growth:
            lines += ["", f"RSS over the saturated phase — {r.mode} (MiB; first vs last fifth):", "",
                      "| process | early | late | change | max |", "|---|---:|---:|---:|---:|"]
            lines += [f"| {name} | {g['early_mib']:,.1f} | {g['late_mib']:,.1f} | {g['change_pct']:+.1f} % "
                      f"| {g['max_mib']:,.1f} |" for name, g in r.rss_growth.items()]
    return lines


def _fmt(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def markdown_table(run: BenchRun) -> str:
    machine = run.machine
    lines = [
        f"Machine: {machine.get('cpu_model')}, {machine.get('cores')} cores; "
        f"run of {run.seconds:.0f} s started {run.started}" + (" (--quick)" if run.quick else ""),
        "",
        "| mode | records/s sustained | e2e p50 / p95 / p99 ms (at rate) | model call p50 / p99 ms "
        "| in → out (normal/fraud/error) | CPU s (pipeline / servers) | max lag |",
        "|---|---:|---|---|---|---|---:|",
    ]
    for r in run.modes:
        if not r.available:
            lines.append(f"| {r.mode} | not available: {r.reason} | | | | | |")
            continue
        lat = r.latency_ms
        latency = (
            f"{_fmt(lat.get('p50'), 1)} / {_fmt(lat.get('p95'), 1)} / {_fmt(lat.get('p99'), 1)}"
            f" (at {_fmt(r.latency_rate_rps)}/s)"
            if lat
            else "–"
        )
        call = f"{_fmt(r.model_call_ms.get('p50'), 1)} / {_fmt(r.model_call_ms.get('p99'), 1)}"
        outlets = "/".join(str(r.outlets.get(k, 0)) for k in ("normal", "fraud", "error"))
        counts = f"{r.records_in:,} → {r.records_out:,} ({outlets})"
        if r.duplicates:
            counts += f", {r.duplicates:,} redelivered"
        if not r.counts_add_up:
            counts += " ≠"
        pipeline_cpu = sum(
            v for k, v in r.cpu_seconds.items() if "/" not in k and not k.startswith(("server", "nginx"))
        )
        server_cpu = sum(v for k, v in r.cpu_seconds.items() if k.startswith(("server", "nginx")))
        rate = _fmt(r.sustained_rps) + ("" if r.reason is None else f" ({r.reason})")
        lag = max(r.max_lag.values(), default=0)
        lines.append(
            f"| {r.mode} | {rate} | {latency} | {call} | {counts} "
            f"| {pipeline_cpu:.1f} / {server_cpu:.1f} | {lag:,} |"
        )
    lines += [*cost_markdown(run), "", "Goals of the issue:", "", goals_table(run), *_details(run)]
    if run.notes:
        lines += ["", *[f"- {note}" for note in run.notes]]
    return "\n".join(lines)


def _measured(run: BenchRun) -> list[ModeResult]:
    return [r for r in run.modes if r.available and r.throughput_series]


def write_charts(run: BenchRun, out: Path) -> list[Path]:
    paths = [out / name for name in CHARTS]
    _throughput_over_time(_measured(run), paths[0])
    _latency_percentiles(_measured(run), paths[1])
    _throughput_vs_instances(_measured(run), paths[2])
    return paths


def _smoothed(points: list[tuple[float, float]], window: int = 4) -> tuple[list[float], list[float]]:
    """A moving average over ``window`` samples (1 s at the 0.25 s sampling): bursts of commits
    otherwise turn the line into a comb."""
    times = [t for t, _ in points]
    values = [v for _, v in points]
    smoothed = [
        sum(values[max(0, i - window + 1) : i + 1]) / len(values[max(0, i - window + 1) : i + 1])
        for i in range(len(values))
    ]
    return times, smoothed


def _throughput_over_time(results: list[ModeResult], path: Path) -> None:
    """One small panel per mode, like the original's per-deployment screenshots, same y scale."""
    cols = 3
    rows = max(1, -(-len(results) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(13, 2.6 * rows), sharey=True, squeeze=False)
    for ax, r in zip(axes.flat, results, strict=False):
        for stage, style in (("model-serving", ":"), ("outlets", "-")):
            points = r.throughput_series.get(stage, [])
            if points:
                times, values = _smoothed(points)
                ax.plot(times, values, style, linewidth=1.2, label=stage)
        ax.set_title(r.mode, fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(results) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("records/s", fontsize=8)
    for ax in axes[-1, :]:
        ax.set_xlabel("s since the pipeline started", fontsize=8)
    if results:
        axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.suptitle("Throughput over time per mode (1 s average): saturated, then paced at half the rate")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _latency_percentiles(results: list[ModeResult], path: Path) -> None:
    with_latency = [r for r in results if r.latency_ms.get("p50") is not None]
    fig, ax = plt.subplots(figsize=(10, 5))
    width = 0.27
    for offset, key in enumerate(("p50", "p95", "p99")):
        xs = [i + (offset - 1) * width for i in range(len(with_latency))]
        ax.bar(xs, [r.latency_ms[key] or 0.0 for r in with_latency], width, label=key)
    ax.set_xticks(
        range(len(with_latency)), [r.mode for r in with_latency], rotation=30, ha="right", fontsize=7
    )
    ax.set_ylabel("end-to-end latency, ms (log)")
    ax.set_yscale("log")
    ax.set_title("End-to-end latency at half the sustained rate (ingress produce → outlet)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _throughput_vs_instances(results: list[ModeResult], path: Path) -> None:
    series: dict[str, list[tuple[int, float]]] = {}
    for r in results:
        if r.sustained_rps is None:
            continue
        parts = r.mode.split("-")
        instances = next((int(p[:-1]) for p in parts if p.endswith("i") and p[:-1].isdigit()), 1)
        family = "-".join(p for p in parts if not (p.endswith("i") and p[:-1].isdigit()))
        series.setdefault(family, []).append((instances, r.sustained_rps))
    fig, ax = plt.subplots(figsize=(8, 5))
    for family, points in sorted(series.items()):
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=family)
    ax.set_xlabel("model-serving instances")
    ax.set_ylabel("records/s sustained (log)")
    ax.set_yscale("log")
    ax.set_xticks([1, 2, 4])
    ax.set_title("Throughput vs model-serving instances")
    ax.grid(True, alpha=0.3)
    if series:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
