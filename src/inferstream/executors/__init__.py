"""Model executors: one interface for TF Serving, Seldon and V2 servers (REST, gRPC) and in-process models.

    config = ExecutorConfig(protocol="tfserving", transport="grpc", target="localhost:8500", model="fraud")
    executor = await open_executor(config)                 # a BalancedExecutor over the target's endpoints
    outputs = await executor.predict({"transaction": x})  # {"predictions": ndarray}
    await executor.close()

``MicroBatcher`` stacks records of many callers into calls with bounded concurrency; the
model-serving streamlet (``inferstream.serving:ModelServing``) is built on it; this package
is a client library and imports nothing of the runtime.
"""

from inferstream.executors.base import Arrays, ModelExecutor, ModelMetadata, TensorSpec
from inferstream.executors.config import ExecutorConfig, TlsConfig
from inferstream.executors.errors import ErrorKind, ExecutorError, NoEndpointsError
from inferstream.executors.factory import endpoint_factory, open_executor
from inferstream.executors.micro_batching import MicroBatcher, RecordOutcome
from inferstream.executors.pool import BalancedExecutor, Prediction

__all__ = [
    "Arrays",
    "BalancedExecutor",
    "ErrorKind",
    "ExecutorConfig",
    "ExecutorError",
    "MicroBatcher",
    "ModelExecutor",
    "ModelMetadata",
    "NoEndpointsError",
    "Prediction",
    "RecordOutcome",
    "TensorSpec",
    "TlsConfig",
    "endpoint_factory",
    "open_executor",
]
