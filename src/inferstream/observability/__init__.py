"""Statistics and metrics of running streamlets: the original's ``/state`` JSON and Prometheus."""

from inferstream.observability.execution_stats import ExecutionStatistics
from inferstream.observability.http import StatsServer
from inferstream.observability.metrics import ServingMetrics

__all__ = ["ExecutionStatistics", "ServingMetrics", "StatsServer"]
