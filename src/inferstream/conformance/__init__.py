"""A conformance battery for model-server protocols: V2 (Open Inference Protocol), TF Serving, Seldon.

    report = await run_conformance("http://127.0.0.1:8080", "v2", "rest", model="fraud")
    report.ok            # no required check failed
    report.checks        # [CheckResult(name, status, reason, required), ...]

Checks: server health and metadata, model readiness and metadata, infer at several batch sizes
with inputs built from the metadata, and the status codes of bad requests (unknown model, wrong
shape or datatype, malformed body). Built on the executors (metadata, infer) plus raw HTTP and
gRPC for what an executor never sends.
"""

from inferstream.conformance.results import CheckResult, Report, Status
from inferstream.conformance.runner import ConformanceError, run_conformance
from inferstream.conformance.table import markdown_table, report_table, summary_line

__all__ = [
    "CheckResult",
    "ConformanceError",
    "Report",
    "Status",
    "markdown_table",
    "report_table",
    "run_conformance",
    "summary_line",
]
