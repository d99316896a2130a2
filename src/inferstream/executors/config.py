"""How a model-serving stage reaches its model: one validated settings object for every executor."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Protocol = Literal["tfserving", "seldon", "v2", "embedded"]
Transport = Literal["rest", "grpc"]
LbPolicy = Literal["round_robin", "least_outstanding"]


class TlsConfig(BaseModel):
    """TLS for remote executors; with no files set, the system trust store verifies the server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None  # client certificate (mutual TLS)
    key_file: Path | None = None
    verify: bool = True  # REST only: False accepts any server certificate (testing)
    server_name: str | None = None  # gRPC only: override the name checked against the certificate


class ExecutorConfig(BaseModel):
    """Everything an executor needs; blueprints and ``inferstream predict`` both build one of these.

    ``target`` names the endpoints: ``host:port`` or a URL, a comma-separated static list,
    ``dns:///headless-service:port`` (every A record is a replica) or
    ``kubernetes:///namespace/service/port`` (the Endpoints object, watched for changes).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: Protocol = "tfserving"
    transport: Transport = "grpc"
    target: str = ""
    model: str = Field("", description="model name on the server")
    version: int | None = None
    version_label: str | None = None
    signature: str = Field("", description="TF Serving signature_name; empty means the server default")
    rest_format: Literal["row", "columnar"] = "columnar"
    path_prefix: str = Field("", description="REST path prefix, e.g. /seldon/<namespace>/<deployment>")
    seldon_deployment: str = Field("", description="gRPC metadata 'seldon' for routing through Ambassador")
    seldon_namespace: str = Field("", description="gRPC metadata 'namespace' for routing through Ambassador")
    headers: dict[str, str] = Field(default_factory=dict, description="HTTP headers / gRPC metadata")
    tls: TlsConfig = Field(default_factory=TlsConfig)
    json_float_dtype: Literal["float32", "float64"] = Field(
        "float32", description="dtype of JSON numbers in untyped answers (TF Serving, Seldon REST)"
    )
    output_names: tuple[str, ...] = Field((), description="outputs to ask for; empty means all")
    binary_data: bool = Field(
        False, description="V2 REST: tensors as raw bytes (Triton's binary tensor data extension), not JSON"
    )
    model_path: Path | str | None = Field(
        None, description="embedded: model file, SavedModel folder, model base (highest version) or s3:// URI"
    )
    timeout: float = Field(5.0, gt=0, description="seconds per call attempt")
    retries: int = Field(3, ge=0, description="extra attempts after a transient failure")
    backoff_initial: float = Field(0.05, ge=0, description="seconds before the first retry")
    backoff_max: float = Field(2.0, ge=0, description="cap on the delay between retries")
    lb_policy: LbPolicy = "round_robin"
    eject_after: int = Field(1, ge=1, description="consecutive transient failures that eject an endpoint")
    eject_seconds: float = Field(2.0, gt=0, description="how long an ejected endpoint rests before a retry")
    refresh_seconds: float = Field(5.0, gt=0, description="DNS re-resolution period")
    max_message_bytes: int = Field(64 * 1024 * 1024, gt=0, description="gRPC message size limit")
    connections_per_endpoint: int = Field(64, ge=1, description="REST keep-alive pool size per endpoint")

    @field_validator("model_path", mode="before")
    @classmethod
    def _model_uri(cls, value: object) -> object:
        """A URI (``s3://...``) stays text; anything else is a local path."""
        if isinstance(value, str):
            return value if "://" in value else Path(value)
        return value

    @model_validator(mode="after")
    def _check(self) -> ExecutorConfig:
        if self.protocol == "embedded":
            if self.model_path is None:
                raise ValueError("protocol 'embedded' needs model_path (.onnx, .joblib, SavedModel dir)")
            return self
        if not self.target:
            raise ValueError(f"protocol {self.protocol!r} needs a target (host:port, URL list, dns:/// or kubernetes:///)")
        if self.protocol in ("tfserving", "v2") and not self.model:
            raise ValueError(f"protocol {self.protocol!r} needs a model name")
        if self.version is not None and self.version_label:
            raise ValueError("give either version or version_label, not both")
        return self

    @property
    def remote(self) -> bool:
        return self.protocol != "embedded"
