"""Settings of the built-in model server, with the defaults of TensorFlow Serving's ports."""

from __future__ import annotations

from pydantic import BaseModel, Field


class BatchingSettings(BaseModel):
    """Adaptive batching: concurrent requests to one model are merged into one inference call.

    A free worker takes every queued request (up to ``max_batch_size`` rows) at once, so batches
    grow with load by themselves; ``max_wait_ms`` > 0 additionally holds a batch open that long.
    """

    enabled: bool = True
    max_batch_size: int = Field(256, ge=1)
    max_wait_ms: float = Field(0.0, ge=0)
    workers_per_model: int = Field(1, ge=1, description="inference calls in flight per model version")
    max_queued_rows: int = Field(65_536, ge=1, description="rows waiting per model before 503/UNAVAILABLE")


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    rest_port: int = Field(8501, ge=0, le=65535)
    grpc_port: int | None = Field(8500, ge=0, le=65535, description="None: no gRPC server")
    max_request_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    inference_threads: int = Field(2, ge=1, description="threads running model calls off the event loop")
    onnx_threads: int = Field(1, ge=1, description="ONNX Runtime intra-op threads per call")
    poll_seconds: float = Field(0.0, ge=0, description="look for new version folders this often (0: never)")
    batching: BatchingSettings = BatchingSettings()
