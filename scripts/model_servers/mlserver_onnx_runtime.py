"""An MLServer runtime for ONNX models (MLServer ships none): every input decoded by name, every
output (or those asked for) encoded by name — so a fraud model trained by ``inferstream train
fraud`` answers MLServer's V2 API with ``score`` / ``reconstruction_error`` as it does elsewhere.

Copy this file beside ``model-settings.json`` (``mlserver start <folder>`` puts the folder on the
path) and set ``"implementation": "mlserver_onnx_runtime.OnnxRuntimeModel"``, ``parameters.uri``
to the ``model.onnx``. Runs in ``.venv-mlserver`` (onnxruntime is installed there by install.sh).
"""

from __future__ import annotations

import numpy as np
import onnxruntime
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri

_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64}


class OnnxRuntimeModel(MLModel):
    async def load(self) -> bool:
        uri = await get_model_uri(self._settings)
        self._session = onnxruntime.InferenceSession(uri, providers=["CPUExecutionProvider"])
        self._input_types = {i.name: _NUMPY_TYPES.get(i.type, np.float32) for i in self._session.get_inputs()}
        self._outputs = [o.name for o in self._session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        feeds = {}
        for request_input in payload.inputs:
            if request_input.name not in self._input_types:
                raise ValueError(
                    f"unknown input {request_input.name!r}; the model takes {list(self._input_types)}"
                )
            array = NumpyCodec.decode_input(request_input)
            feeds[request_input.name] = np.asarray(array, dtype=self._input_types[request_input.name])
        wanted = [o.name for o in payload.outputs] if payload.outputs else self._outputs
        results = self._session.run(wanted, feeds)
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[
                NumpyCodec.encode_output(name, np.asarray(r)) for name, r in zip(wanted, results, strict=True)
            ],
        )
