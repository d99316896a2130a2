"""``inferstream train ... --models s3://...``: trained locally, uploaded as the next version."""

from __future__ import annotations

import secrets

import numpy as np
import pytest
from typer.testing import CliRunner

from inferstream.cli.main import _register_verbs, app
from inferstream.devtools.seaweedfs import S3Server
from inferstream.models import load_model
from inferstream.models.s3 import s3_client
from inferstream.models.store import fetch_version, list_versions

_register_verbs()


def test_train_recommender_uploads_versions_to_s3(s3_env: S3Server) -> None:
    bucket = f"train-{secrets.token_hex(4)}"
    s3_client().create_bucket(Bucket=bucket)
    args = ["train", "recommender", "--models", f"s3://{bucket}/models", "--users", "40", "--products", "30"]
    for expected in (1, 2):  # the second run becomes version 2, next to the first
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert f"Uploaded recommender version {expected} to s3://{bucket}/models/recommender/{expected}" in (
            " ".join(result.output.split())
        )
    uri = f"s3://{bucket}/models/recommender"
    assert sorted(list_versions(uri)) == [1, 2]
    model = load_model(fetch_version(uri, 2))
    inputs = {spec.name: np.zeros((1, 1), spec.dtype) for spec in model.inputs}
    assert set(model.predict(inputs)) == {spec.name for spec in model.outputs}


def test_train_with_a_wrong_secret_is_a_clear_error(
    s3_env: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    s3_client.cache_clear()
    args = ["train", "recommender", "--models", "s3://models-x/m", "--users", "20", "--products", "20"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "Cannot upload the model" in result.output and "SignatureDoesNotMatch" in result.output
    assert "not-the-secret" not in result.output
