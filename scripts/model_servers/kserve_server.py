"""A KServe Python ModelServer for the executor tests: V1 (TF Serving row format) and V2, REST and gRPC.

    python kserve_server.py --model_name fraud --http_port 8080 --grpc_port 8081

The model doubles its input, keeping the shape, so clients can check values went there and back.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from kserve import InferRequest, InferResponse, Model, ModelServer
from kserve.utils.utils import get_predict_input, get_predict_response


class DoublingModel(Model):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.ready = True

    async def predict(
        self, payload: dict[str, Any] | InferRequest, headers: dict[str, str] | None = None, **_: Any
    ) -> dict[str, Any] | InferResponse:
        if isinstance(payload, InferRequest):
            array = np.asarray(get_predict_input(payload))
            return get_predict_response(payload, array * 2, self.name)
        instances = np.asarray(payload["instances"], dtype=np.float64)
        return {"predictions": (instances * 2).tolist()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_name", default="fraud")
    parser.add_argument("--http_port", type=int, required=True)
    parser.add_argument("--grpc_port", type=int, required=True)
    args = parser.parse_args()
    server = ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, workers=1)
    server.start([DoublingModel(args.model_name)])
