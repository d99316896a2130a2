"""Protocol sources and their generated stubs, behind one import.

``proto/`` holds the .proto files (original packages, message names and field numbers of
TensorFlow, TF Serving, Seldon Core v1 and the Open Inference Protocol V2); ``gen/`` holds the
stubs that ``scripts/gen_protos.py`` (``make protos``) generates from them. Import the modules
from here::

    from inferstream.protos import predict_pb2, prediction_service_pb2_grpc

Each name is typed ``Any`` (``gen/`` is generated code and outside mypy), so messages built
from them are ``Any`` too: keep them at the edges, in codecs and adapters.

The stubs live in a private descriptor pool (``POOL``), not protobuf's default pool, so they
import alongside TensorFlow's own ``tensorflow.TensorProto``. Messages are wire-compatible with
TensorFlow's but are different Python classes: convert with ``SerializeToString`` /
``FromString``, never ``CopyFrom`` across the two. Pass ``descriptor_pool=POOL`` to
``json_format`` when a ``google.protobuf.Any`` must be resolved.
"""

from typing import Any

from inferstream.protos.gen import _pool
from inferstream.protos.gen.inference import grpc_service_pb2, grpc_service_pb2_grpc
from inferstream.protos.gen.seldon_core.proto import prediction_pb2, prediction_pb2_grpc
from inferstream.protos.gen.tensorflow.core.example import example_pb2 as _example_pb2
from inferstream.protos.gen.tensorflow.core.example import feature_pb2 as _feature_pb2
from inferstream.protos.gen.tensorflow.core.framework import (
    resource_handle_pb2 as _resource_handle_pb2,
)
from inferstream.protos.gen.tensorflow.core.framework import tensor_pb2 as _tensor_pb2
from inferstream.protos.gen.tensorflow.core.framework import tensor_shape_pb2 as _tensor_shape_pb2
from inferstream.protos.gen.tensorflow.core.framework import types_pb2 as _types_pb2
from inferstream.protos.gen.tensorflow.core.protobuf import error_codes_pb2 as _error_codes_pb2
from inferstream.protos.gen.tensorflow.core.protobuf import meta_graph_pb2 as _meta_graph_pb2
from inferstream.protos.gen.tensorflow_serving.apis import classification_pb2 as _classification_pb2
from inferstream.protos.gen.tensorflow_serving.apis import (
    get_model_metadata_pb2 as _get_model_metadata_pb2,
)
from inferstream.protos.gen.tensorflow_serving.apis import get_model_status_pb2 as _get_model_status_pb2
from inferstream.protos.gen.tensorflow_serving.apis import inference_pb2 as _inference_pb2
from inferstream.protos.gen.tensorflow_serving.apis import input_pb2 as _input_pb2
from inferstream.protos.gen.tensorflow_serving.apis import model_pb2 as _model_pb2
from inferstream.protos.gen.tensorflow_serving.apis import model_service_pb2 as _model_service_pb2
from inferstream.protos.gen.tensorflow_serving.apis import (
    model_service_pb2_grpc as _model_service_pb2_grpc,
)
from inferstream.protos.gen.tensorflow_serving.apis import predict_pb2 as _predict_pb2
from inferstream.protos.gen.tensorflow_serving.apis import (
    prediction_service_pb2 as _prediction_service_pb2,
)
from inferstream.protos.gen.tensorflow_serving.apis import (
    prediction_service_pb2_grpc as _prediction_service_pb2_grpc,
)
from inferstream.protos.gen.tensorflow_serving.apis import regression_pb2 as _regression_pb2
from inferstream.protos.gen.tensorflow_serving.config import (
    model_server_config_pb2 as _model_server_config_pb2,
)
from inferstream.protos.gen.tensorflow_serving.util import status_pb2 as _status_pb2

POOL: Any = _pool.POOL
"""The descriptor pool holding every message of these stubs."""

# TensorFlow core (package ``tensorflow``)
types_pb2: Any = _types_pb2
tensor_shape_pb2: Any = _tensor_shape_pb2
resource_handle_pb2: Any = _resource_handle_pb2
tensor_pb2: Any = _tensor_pb2
meta_graph_pb2: Any = _meta_graph_pb2
error_codes_pb2: Any = _error_codes_pb2
feature_pb2: Any = _feature_pb2
example_pb2: Any = _example_pb2

# TensorFlow Serving (package ``tensorflow.serving``)
status_pb2: Any = _status_pb2
model_pb2: Any = _model_pb2
predict_pb2: Any = _predict_pb2
get_model_metadata_pb2: Any = _get_model_metadata_pb2
get_model_status_pb2: Any = _get_model_status_pb2
input_pb2: Any = _input_pb2
classification_pb2: Any = _classification_pb2
regression_pb2: Any = _regression_pb2
inference_pb2: Any = _inference_pb2
model_service_pb2: Any = _model_service_pb2
model_service_pb2_grpc: Any = _model_service_pb2_grpc
prediction_service_pb2: Any = _prediction_service_pb2
prediction_service_pb2_grpc: Any = _prediction_service_pb2_grpc
model_server_config_pb2: Any = _model_server_config_pb2

# Seldon Core v1 (package ``seldon.protos``)
seldon_pb2: Any = prediction_pb2
seldon_pb2_grpc: Any = prediction_pb2_grpc

# Open Inference Protocol V2 (package ``inference``)
v2_pb2: Any = grpc_service_pb2
v2_pb2_grpc: Any = grpc_service_pb2_grpc

__all__ = [
    "POOL",
    "classification_pb2",
    "error_codes_pb2",
    "example_pb2",
    "feature_pb2",
    "get_model_metadata_pb2",
    "get_model_status_pb2",
    "inference_pb2",
    "input_pb2",
    "meta_graph_pb2",
    "model_pb2",
    "model_server_config_pb2",
    "model_service_pb2",
    "model_service_pb2_grpc",
    "predict_pb2",
    "prediction_service_pb2",
    "prediction_service_pb2_grpc",
    "regression_pb2",
    "resource_handle_pb2",
    "seldon_pb2",
    "seldon_pb2_grpc",
    "status_pb2",
    "tensor_pb2",
    "tensor_shape_pb2",
    "types_pb2",
    "v2_pb2",
    "v2_pb2_grpc",
]
