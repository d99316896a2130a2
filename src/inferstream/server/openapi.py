"""The OpenAPI 3.0 description of the built-in server's REST API, served at ``GET /openapi.json``.

It covers TF Serving's REST API (predict, model status, metadata; also under Seldon's
``/seldon/<namespace>/<deployment>`` prefix, which the server answers too but this description
leaves out) and the Open Inference Protocol (V2) REST API, with every error the server answers
(``{"error": "<reason>"}``). Clients and API fuzzers (schemathesis in the tests) read it.
"""

from __future__ import annotations

from typing import Any

from inferstream import __version__

_JSON = "application/json"
_ERROR = {"$ref": "#/components/schemas/Error"}
_ERRORS = {
    "400": "the request is malformed: bad JSON, unknown input, wrong type or shape (the reason says which)",
    "404": "no such model, version, signature or path",
    "405": "wrong method for this path",
    "413": "the request body is larger than the server accepts (serve --max-request-mb)",
    "503": "the server is stopping, or the model's queue is full: retry later",
}
_NAME = {"name": "model_name", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1},
         "description": "a model served by this server"}  # fmt: skip
_VERSION = {"name": "version", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0},
            "description": "a version folder's number"}  # fmt: skip
# V2 names the path parameter model_version; a string of digits.
_V2_VERSION = {"name": "model_version", "in": "path", "required": True,
               "schema": {"type": "string", "pattern": "^[0-9]+$"}}  # fmt: skip


def _responses(ok: str, schema: dict[str, Any], *errors: str) -> dict[str, Any]:
    answers: dict[str, Any] = {"200": {"description": ok, "content": {_JSON: {"schema": schema}}}}
    for code in errors:
        answers[code] = {"description": _ERRORS[code], "content": {_JSON: {"schema": _ERROR}}}
    return answers


def _get(summary: str, params: list[dict[str, Any]], schema: dict[str, Any], *errors: str) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params,
                    "responses": _responses("OK", schema, "404", *errors)}}  # fmt: skip


def _post(summary: str, params: list[dict[str, Any]], body: str, result: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{body}"}
    return {"post": {
        "summary": summary, "parameters": params,
        "requestBody": {"required": True, "content": {_JSON: {"schema": ref}}},
        "responses": _responses("the model's outputs", {"$ref": f"#/components/schemas/{result}"},
                                "400", "404", "413", "503"),
    }}  # fmt: skip


_OBJECT: dict[str, Any] = {"type": "object"}
_SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"],
              "properties": {"error": {"type": "string", "minLength": 1}}},
    "PredictRequest": {
        "type": "object",
        "description": "row format (instances) or columnar format (inputs), never both",
        "properties": {
            "signature_name": {"type": "string"},
            "instances": {"type": "array", "items": {}},
            "inputs": {},
        },
    },
    "PredictResponse": {"type": "object", "properties": {"predictions": {}, "outputs": {}}},
    "ModelStatus": {"type": "object", "required": ["model_version_status"],
                    "properties": {"model_version_status": {"type": "array", "items": _OBJECT}}},
    "ModelMetadata": {"type": "object", "required": ["model_spec", "metadata"],
                      "properties": {"model_spec": _OBJECT, "metadata": _OBJECT}},
    "V2Tensor": {
        "type": "object", "required": ["name", "shape", "datatype"],
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "datatype": {"type": "string", "enum": ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8",
                                                    "INT16", "INT32", "INT64", "FP16", "FP32", "FP64",
                                                    "BYTES"]},
            "parameters": _OBJECT,
            "data": {},
        },
    },
    "InferRequest": {
        "type": "object", "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": _OBJECT,
            "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/V2Tensor"}},
            "outputs": {"type": "array", "items": {"type": "object", "required": ["name"],
                                                   "properties": {"name": {"type": "string"},
                                                                  "parameters": _OBJECT}}},
        },
    },
    "InferResponse": {
        "type": "object", "required": ["model_name", "outputs"],
        "properties": {"model_name": {"type": "string"}, "model_version": {"type": "string"},
                       "id": {"type": "string"},
                       "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/V2Tensor"}}},
    },
    "ServerMetadata": {"type": "object", "required": ["name", "version"],
                       "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                                      "extensions": {"type": "array", "items": {"type": "string"}}}},
    "V2ModelMetadata": {"type": "object", "required": ["name", "platform", "inputs", "outputs"],
                        "properties": {"name": {"type": "string"}, "platform": {"type": "string"},
                                       "versions": {"type": "array", "items": {"type": "string"}},
                                       "inputs": {"type": "array", "items": _OBJECT},
                                       "outputs": {"type": "array", "items": _OBJECT}}},
    "Live": {"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}},
    "Ready": {"type": "object", "required": ["ready"], "properties": {"ready": {"type": "boolean"}}},
    "ModelReady": {"type": "object", "required": ["name", "ready"],
                   "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}}},
}  # fmt: skip


def _health(summary: str, schema: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    responses = {
        "200": {"description": "yes", "content": {_JSON: {"schema": ref}}},
        "503": {"description": "no (starting or stopping)", "content": {_JSON: {"schema": ref}}},
    }
    return {"get": {"summary": summary, "responses": responses}}


def openapi_document() -> dict[str, Any]:
    """The description as a JSON-ready dict (OpenAPI 3.0.3)."""
    named, versioned = [_NAME], [_NAME, _VERSION]
    v2_named = [{**_NAME, "name": "model_name"}]
    v2_versioned = [*v2_named, _V2_VERSION]
    ref = "#/components/schemas/"
    paths: dict[str, Any] = {
        "/v1/models/{model_name}:predict": _post("TF Serving predict", named, "PredictRequest",
                                                 "PredictResponse"),
        "/v1/models/{model_name}/versions/{version}:predict": _post(
            "TF Serving predict on one version", versioned, "PredictRequest", "PredictResponse"),
        "/v1/models/{model_name}": _get("TF Serving model status", named, {"$ref": ref + "ModelStatus"}),
        "/v1/models/{model_name}/versions/{version}": _get(
            "TF Serving status of one version", versioned, {"$ref": ref + "ModelStatus"}),
        "/v1/models/{model_name}/metadata": _get(
            "TF Serving signatures", named, {"$ref": ref + "ModelMetadata"}),
        "/v1/models/{model_name}/versions/{version}/metadata": _get(
            "TF Serving signatures of one version", versioned, {"$ref": ref + "ModelMetadata"}),
        "/v2": {"get": {"summary": "V2 server metadata",
                        "responses": _responses("OK", {"$ref": ref + "ServerMetadata"})}},
        "/v2/health/live": _health("V2 server liveness", "Live"),
        "/v2/health/ready": _health("V2 server readiness", "Ready"),
        "/v2/models/{model_name}": _get("V2 model metadata", v2_named, {"$ref": ref + "V2ModelMetadata"}),
        "/v2/models/{model_name}/ready": _get("V2 model readiness", v2_named, {"$ref": ref + "ModelReady"}),
        "/v2/models/{model_name}/infer": _post("V2 inference", v2_named, "InferRequest", "InferResponse"),
        "/v2/models/{model_name}/versions/{model_version}": _get(
            "V2 metadata of one version", v2_versioned, {"$ref": ref + "V2ModelMetadata"}),
        "/v2/models/{model_name}/versions/{model_version}/ready": _get(
            "V2 readiness of one version", v2_versioned, {"$ref": ref + "ModelReady"}),
        "/v2/models/{model_name}/versions/{model_version}/infer": _post(
            "V2 inference on one version", v2_versioned, "InferRequest", "InferResponse"),
        "/healthz": _health("readiness (any model loaded)", "Ready"),
        "/readyz": _health("readiness (any model loaded)", "Ready"),
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
            "200": {"description": "text exposition format", "content": {"text/plain": {"schema": {
                "type": "string"}}}}}}},
        "/openapi.json": {"get": {"summary": "this description", "responses": _responses("OK", _OBJECT)}},
    }  # fmt: skip
    return {
        "openapi": "3.0.3",
        "info": {"title": "inferstream model server", "version": __version__,
                 "description": "TensorFlow Serving REST API and Open Inference Protocol (V2) REST API"},
        "paths": paths,
        "components": {"schemas": _SCHEMAS},
    }  # fmt: skip
