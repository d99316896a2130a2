"""In-process models through the executor interface; names and shapes come from the model itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from inferstream.executors.config import ExecutorConfig
from inferstream.executors.embedded import EmbeddedExecutor
from inferstream.executors.errors import ErrorKind, ExecutorError
from inferstream.executors.factory import open_executor

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "models"


def test_tf_savedmodel_matches_the_reference() -> None:
    reference = np.load(ASSETS / "tf-autoencoder" / "reference.npz")

    async def body() -> tuple[dict[str, np.ndarray], list[str], list[str]]:
        path = ASSETS / "tf-autoencoder" / "1"
        config = ExecutorConfig(protocol="embedded", model_path=path, model="fraud")
        executor = await open_executor(config)
        try:
            meta = await executor.metadata()
            outputs = await executor.predict({"transaction": reference["transaction"]})
            return outputs, [s.name for s in meta.inputs], [s.name for s in meta.outputs]
        finally:
            await executor.close()

    outputs, inputs, output_names = asyncio.run(body())
    assert inputs == ["transaction"] and output_names == ["predictions"]
    np.testing.assert_allclose(outputs["predictions"], reference["predictions"], atol=1e-5, rtol=0)


def test_onnx_wrong_input_is_rejected_with_the_expected_signature(doubler_model: Path) -> None:
    executor = EmbeddedExecutor.load(doubler_model / "1")

    async def body() -> ExecutorError:
        with pytest.raises(ExecutorError) as info:
            await executor.predict({"transaction": np.zeros((2, 28), dtype=np.float32)})
        return info.value

    error = asyncio.run(body())
    assert error.kind is ErrorKind.REJECTED
    assert "transaction" in str(error) and "29" in str(error)


def test_missing_model_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ExecutorError) as info:
        EmbeddedExecutor.load(tmp_path / "nothing-here")
    assert info.value.kind is ErrorKind.CONFIG
