"""Open Inference Protocol (V2: MLServer, KServe, Triton) requests and responses to and from tensors.

- :mod:`~inferstream.tensors.v2.datatypes`: V2 datatypes, ``InferBody`` (a parsed request or response);
- :mod:`~inferstream.tensors.v2.json_bodies`: the JSON bodies of the REST API;
- :mod:`~inferstream.tensors.v2.proto_messages`: the gRPC messages.
"""

from inferstream.tensors.v2.datatypes import (
    CONTENTS_FIELD,
    DATATYPE,
    NUMPY_OF_DATATYPE,
    InferBody,
    Parameters,
    Tensors,
    datatype_of,
    datatype_of_numpy,
    dtype_from_datatype,
    numpy_of_datatype,
)
from inferstream.tensors.v2.json_bodies import (
    array_from_json_tensor,
    infer_request_json,
    infer_response_json,
    parse_infer_request_json,
    parse_infer_response_json,
    tensor_from_json,
    tensor_to_json,
)
from inferstream.tensors.v2.proto_messages import (
    array_raw_bytes,
    arrays_from_infer_response_proto,
    infer_request_proto,
    infer_response_proto,
    parse_infer_request_proto,
    parse_infer_response_proto,
    raw_bytes,
)

__all__ = [
    "CONTENTS_FIELD",
    "DATATYPE",
    "NUMPY_OF_DATATYPE",
    "InferBody",
    "Parameters",
    "Tensors",
    "array_from_json_tensor",
    "array_raw_bytes",
    "arrays_from_infer_response_proto",
    "datatype_of",
    "datatype_of_numpy",
    "dtype_from_datatype",
    "infer_request_json",
    "infer_request_proto",
    "infer_response_json",
    "infer_response_proto",
    "numpy_of_datatype",
    "parse_infer_request_json",
    "parse_infer_request_proto",
    "parse_infer_response_json",
    "parse_infer_response_proto",
    "raw_bytes",
    "tensor_from_json",
    "tensor_to_json",
]
