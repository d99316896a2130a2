"""The fraud pipeline as a user would write it without any framework: the benchmark's second peer.

Two plain loops, one per stage, like the inferstream blueprint:

* ``model-serving``: consume a batch of card-records (Avro SourceRequest) with confluent-kafka,
  decode each record with fastavro, stack the transactions and make **one** batched TF Serving
  Predict call (gRPC, ``tensor_content``) for the whole consumed batch, encode a ServingResult per
  record with fastavro, produce them to ml-results, ``flush()``, then commit the consumed
  positions (at-least-once: a crash re-reads what was not flushed);
* ``decider``: consume ml-results, decode each record, compute the reconstruction error, produce
  to normal / fraud / error, ``flush()``, commit.

It imports nothing from inferstream (the Avro schemas come from the project's .avsc files, the TF
Serving messages from stubs generated at install time) and runs in ``.venv-quix``
(``benchmarks/peers/install.sh``). SIGTERM ends the loop after the batch at hand: flushed and committed.
"""

from __future__ import annotations

import argparse
import io
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from confluent_kafka import Consumer, Producer
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import load_schema

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "src" / "inferstream" / "schemas"
STUBS = REPO / ".venv-quix" / "peer_stubs"
BATCH = 1000  # records per consume() call: the batch scored by one Predict
POLL_SECONDS = 0.1

running = True


def _stop(*_: object) -> None:
    global running
    running = False


def schema(name: str) -> Any:
    # load_schema resolves the named types the file refers to from the sibling .avsc files.
    return parse_schema(load_schema(str(SCHEMAS / f"tensorflow.modelserving.avro.{name}.avsc")))


def float_tensor(values: np.ndarray) -> dict[str, Any]:
    return {
        "dtype": "DT_FLOAT",
        "tensorshape": {"dim": [{"size": int(s), "name": ""} for s in values.shape]},
        "float_data": values.ravel().tolist(),
    }


def tensor_values(tensor: dict[str, Any]) -> np.ndarray:
    shape = [d["size"] for d in tensor["tensorshape"]["dim"]]
    data = tensor.get("float_data") or tensor.get("double_data") or []
    return np.asarray(data, dtype=np.float32).reshape(shape)


def decode(raw: bytes, parsed: Any) -> dict[str, Any]:
    return schemaless_reader(io.BytesIO(raw), parsed, None)  # type: ignore[return-value]


def encode(record: dict[str, Any], parsed: Any) -> bytes:
    buffer = io.BytesIO()
    schemaless_writer(buffer, parsed, record)
    return buffer.getvalue()


class Predictor:
    """One TF Serving Predict call per batch over a shared gRPC channel."""

    def __init__(self, target: str, model: str) -> None:
        import grpc

        sys.path.insert(0, str(STUBS))
        from tensorflow_serving.apis import predict_pb2

        self._pb = predict_pb2
        self._model = model
        self._predict = grpc.insecure_channel(target).unary_unary(
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


def clients(args: argparse.Namespace) -> tuple[Consumer, Producer]:
    consumer = Consumer({
        "bootstrap.servers": args.broker,
        "group.id": args.group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    consumer.subscribe([args.input])
    producer = Producer({"bootstrap.servers": args.broker, "linger.ms": 5, "enable.idempotence": True})
    return consumer, producer


def deliver(consumer: Consumer, producer: Producer) -> None:
    """At-least-once: everything derived from the batch is on the broker before its commit."""
    if producer.flush(30.0):
        raise RuntimeError("records still unacknowledged after 30 s; not committing")
    consumer.commit(asynchronous=False)


def run_model_serving(args: argparse.Namespace) -> None:
    predict = Predictor(args.server, args.model)
    requests, results = schema("SourceRequest"), schema("ServingResult")
    consumer, producer = clients(args)
    try:
        while running:
            messages = [m for m in consumer.consume(BATCH, POLL_SECONDS) if m.error() is None]
            if not messages:
                continue
            records = [decode(m.value(), requests) for m in messages]
            name = next(iter(records[0]["inputRecords"]["inputs"]))
            rows = [tensor_values(r["inputRecords"]["inputs"][name]) for r in records]
            metadata = {"errors": "", "modelName": args.model, "source": args.server}
            start = time.time()
            metadata["startTime"] = int(start * 1000)
            try:
                outputs = predict(name, np.concatenate(rows))
            except Exception as exc:  # errors are data: every record goes on with the reason
                outputs, metadata["errors"] = {}, f"{type(exc).__name__}: {exc}"
            metadata["duration"] = int((time.time() - start) * 1000)
            row = 0
            for record, inputs in zip(records, rows, strict=True):
                count = len(inputs)
                mine = {k: float_tensor(v[row : row + count]) for k, v in outputs.items()}
                row += count
                result = {
                    "inputRecord": record["inputRecords"],
                    "modelResult": {"outputs": mine},
                    "modelResultMetadata": metadata,
                    "datatype": record["datatype"],
                }
                producer.produce(args.output, encode(result, results))
                producer.poll(0)
            deliver(consumer, producer)
    finally:
        producer.flush(30.0)
        consumer.close()


def route(result: dict[str, Any], args: argparse.Namespace) -> str:
    try:
        if result["modelResultMetadata"]["errors"]:
            return "error"
        outputs = result["modelResult"]["outputs"]
        if "reconstruction_error" in outputs:  # the exported model computes it itself
            mse = float(tensor_values(outputs["reconstruction_error"]).ravel()[0])
        else:  # compare in the model's feature space: Amount standardised
            x = tensor_values(result["inputRecord"]["inputs"]["transaction"]).copy()
            y = tensor_values(outputs["predictions"]).copy()
            for array in (x, y):
                array[..., -1] = (array[..., -1] - args.amount_mean) / args.amount_scale
            mse = float(np.mean((x - y) ** 2))
        return "fraud" if mse >= args.threshold else "normal"
    except (KeyError, ValueError, StopIteration):  # missing tensors: the error outlet
        return "error"


def run_decider(args: argparse.Namespace) -> None:
    results = schema("ServingResult")
    consumer, producer = clients(args)
    try:
        while running:
            messages = [m for m in consumer.consume(BATCH, POLL_SECONDS) if m.error() is None]
            if not messages:
                continue
            for message in messages:
                raw = message.value()
                producer.produce(args.routes[route(decode(raw, results), args)], raw)
                producer.poll(0)
            deliver(consumer, producer)
    finally:
        producer.flush(30.0)
        consumer.close()


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
    parser.add_argument("--server", default="127.0.0.1:8500", help="TF Serving gRPC host:port")
    parser.add_argument("--model", default="fraud")
    parser.add_argument("--threshold", type=float, default=4.0)
    parser.add_argument("--amount-mean", type=float, default=0.0)
    parser.add_argument("--amount-scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    args.routes = {"normal": args.normal, "fraud": args.fraud, "error": args.error}
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if args.role == "model-serving":
        run_model_serving(args)
    else:
        run_decider(args)


if __name__ == "__main__":
    main()
