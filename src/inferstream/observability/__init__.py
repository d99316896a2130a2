"""Statistics and metrics of running streamlets: the original's ``/state`` JSON and Prometheus."""

from inferstream.observability.http import StatsServer
from inferstream.observability.metrics import ServingMetrics
from inferstream.observability.stats import ExecutionStatistics

__all__ = ["ExecutionStatistics", "ServingMetrics", "StatsServer"]
