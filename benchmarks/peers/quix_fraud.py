"""The fraud pipeline written the idiomatic Quix Streams way: the benchmark's peer baseline.

Two Quix applications, one per stage, like the inferstream blueprint:

* ``model-serving``: card-records (Avro SourceRequest) → per-message ``apply`` that calls the model
  server once per record (TF Serving Predict over gRPC, or its REST API) → ml-results (Avro ServingResult);
* ``decider``: ml-results → per-message ``apply`` computing the reconstruction error → one branch
  per outcome (normal, fraud, error) written to its own topic.

Runs in ``.venv-quix`` (``benchmarks/peers/install.sh``), not in inferstream's virtualenv, so it imports
nothing from inferstream: the Avro schemas are read from the project's .avsc files and the TF Serving
message classes come from stubs generated at install time. Stopped by SIGTERM (Quix exits cleanly).
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np
from fastavro.schema import load_schema
from quixstreams import Application
from quixstreams.models.serializers.avro import AvroDeserializer, AvroSerializer

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "src" / "inferstream" / "schemas"
STUBS = REPO / ".venv-quix" / "peer_stubs"


def schema(name: str) -> Any:
    # load_schema resolves the named types the file refers to from the sibling .avsc files.
    return load_schema(str(SCHEMAS / f"tensorflow.modelserving.avro.{name}.avsc"))


def float_tensor(values: np.ndarray) -> dict[str, Any]:
    return {
        "dtype": "DT_FLOAT",
        "tensorshape": {"dim": [{"size": int(s), "name": ""} for s in values.shape]},
        "float_data": [float(v) for v in values.ravel()],
    }


def tensor_values(tensor: dict[str, Any]) -> np.ndarray:
    shape = [d["size"] for d in tensor["tensorshape"]["dim"]]
    data = tensor.get("float_data") or tensor.get("double_data") or []
    return np.asarray(data, dtype=np.float32).reshape(shape)


class GrpcScorer:
    """One TF Serving Predict call per record over a shared channel."""

    def __init__(self, target: str, model: str) -> None:
        import grpc

        sys.path.insert(0, str(STUBS))
        from tensorflow_serving.apis import predict_pb2

        self._pb = predict_pb2
        self._model = model
        self._channel = grpc.insecure_channel(target)
        self._predict = self._channel.unary_unary(
            "/tensorflow.serving.PredictionService/Predict",
            request_serializer=predict_pb2.PredictRequest.SerializeToString,
            response_deserializer=predict_pb2.PredictResponse.FromString,
        )

    def __call__(self, name: str, values: np.ndarray) -> dict[str, np.ndarray]:
        request = self._pb.PredictRequest()
        request.model_spec.name = self._model
        proto = request.inputs[name]
        proto.dtype = 1  # DT_FLOAT
        for size in values.shape:
            proto.tensor_shape.dim.add().size = int(size)
        proto.tensor_content = values.astype("<f4").tobytes()
        response = self._predict(request, timeout=10.0)
        outputs = {}
        for key, tensor in response.outputs.items():
            shape = [d.size for d in tensor.tensor_shape.dim]
            if tensor.tensor_content:
                array = np.frombuffer(tensor.tensor_content, dtype="<f4")
            else:
                array = np.asarray(tensor.float_val, dtype=np.float32)
            outputs[key] = array.reshape(shape)
        return outputs


class RestScorer:
    """One TF Serving REST predict call per record (columnar format) over a keep-alive connection."""

    def __init__(self, base_url: str, model: str) -> None:
        parsed = urllib.parse.urlsplit(base_url if "://" in base_url else f"http://{base_url}")
        host = parsed.hostname or "127.0.0.1"
        self._connection = http.client.HTTPConnection(host, parsed.port, timeout=10.0)
        self._path = f"{parsed.path.rstrip('/')}/v1/models/{model}:predict"

    def __call__(self, name: str, values: np.ndarray) -> dict[str, np.ndarray]:
        body = json.dumps({"inputs": {name: values.tolist()}})
        self._connection.request("POST", self._path, body, {"Content-Type": "application/json"})
        response = self._connection.getresponse()
        answer = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {answer.get('error', answer)}")
        outputs = answer["outputs"]
        if not isinstance(outputs, dict):  # a single output may come back unnamed
            outputs = {"predictions": outputs}
        return {k: np.asarray(v, dtype=np.float32) for k, v in outputs.items()}


def new_application(args: argparse.Namespace) -> Application:
    return Application(
        broker_address=args.broker,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        loglevel="WARNING",
    )


def run_model_serving(args: argparse.Namespace) -> None:
    scorer_class = GrpcScorer if args.protocol == "grpc" else RestScorer
    scorer = scorer_class(args.server, args.model)
    app = new_application(args)
    source = app.topic(args.input, value_deserializer=AvroDeserializer(schema("SourceRequest")))
    results = app.topic(args.output, value_serializer=AvroSerializer(schema("ServingResult")))

    def score(request: dict[str, Any]) -> dict[str, Any]:
        inputs = request["inputRecords"]["inputs"]
        start = time.time()
        metadata = {"errors": "", "modelName": args.model, "source": args.server}
        metadata["startTime"] = int(start * 1000)
        try:
            name, tensor = next(iter(inputs.items()))
            outputs = {k: float_tensor(v) for k, v in scorer(name, tensor_values(tensor)).items()}
        except Exception as exc:  # errors are data: the record goes on with a reason
            outputs, metadata["errors"] = {}, f"{type(exc).__name__}: {exc}"
        metadata["duration"] = int((time.time() - start) * 1000)
        return {
            "inputRecord": request["inputRecords"],
            "modelResult": {"outputs": outputs},
            "modelResultMetadata": metadata,
            "datatype": request["datatype"],
        }

    app.dataframe(source).apply(score).to_topic(results)
    app.run()


def run_decider(args: argparse.Namespace) -> None:
    app = new_application(args)
    results = app.topic(args.input, value_deserializer=AvroDeserializer(schema("ServingResult")))
    serializer = AvroSerializer(schema("ServingResult"))
    outlets = {route: app.topic(name, value_serializer=serializer) for route, name in args.routes.items()}

    def decide(result: dict[str, Any]) -> dict[str, Any]:
        try:
            if result["modelResultMetadata"]["errors"]:
                raise ValueError(result["modelResultMetadata"]["errors"])
            outputs = result["modelResult"]["outputs"]
            if "reconstruction_error" in outputs:  # the exported model computes it itself
                mse = float(tensor_values(outputs["reconstruction_error"]).ravel()[0])
            else:  # compare in the model's feature space: Amount standardised
                x = tensor_values(result["inputRecord"]["inputs"]["transaction"]).copy()
                y = tensor_values(outputs["predictions"]).copy()
                for array in (x, y):
                    array[..., -1] = (array[..., -1] - args.amount_mean) / args.amount_scale
                mse = float(np.mean((x - y) ** 2))
            result["_route"] = "fraud" if mse >= args.threshold else "normal"
        except Exception:  # missing tensors or a failed call: the error outlet
            result["_route"] = "error"
        return result

    decided = app.dataframe(results).apply(decide)
    for route, topic in outlets.items():
        decided.filter(lambda r, route=route: r["_route"] == route).to_topic(topic)
    app.run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["model-serving", "decider"])
    parser.add_argument("--broker", required=True, help="bootstrap servers, host:port")
    parser.add_argument("--group", required=True, help="consumer group")
    parser.add_argument("--input", required=True, help="topic to read")
    parser.add_argument("--output", default="ml-results", help="model-serving: topic to write")
    parser.add_argument("--normal", default="normal", help="decider: topic for normal records")
    parser.add_argument("--fraud", default="fraud", help="decider: topic for fraud records")
    parser.add_argument("--error", default="error", help="decider: topic for error records")
    parser.add_argument("--protocol", choices=["grpc", "rest"], default="grpc")
    parser.add_argument("--server", default="127.0.0.1:8500", help="gRPC host:port or REST base URL")
    parser.add_argument("--model", default="fraud")
    parser.add_argument("--threshold", type=float, default=4.0)
    parser.add_argument("--amount-mean", type=float, default=0.0)
    parser.add_argument("--amount-scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    args.routes = {"normal": args.normal, "fraud": args.fraud, "error": args.error}
    if args.role == "model-serving":
        run_model_serving(args)
    else:
        run_decider(args)


if __name__ == "__main__":
    main()
