"""The REST API against its own OpenAPI description, fuzzed by schemathesis: no 5xx, every answer documented.

Budget: ~40 examples per operation (valid and invalid bodies, paths and parameters), about 30-60 s
on a 2-core machine, so the test is marked slow.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from inferstream.server.openapi import openapi_document

from .conftest import ServerThread

pytestmark = pytest.mark.slow


def test_serve_publishes_its_openapi_description(server: ServerThread) -> None:
    with urllib.request.urlopen(f"{server.rest}/openapi.json", timeout=30) as response:
        document = json.loads(response.read())
    assert document == json.loads(json.dumps(openapi_document()))
    for path in ("/v1/models/{model_name}:predict", "/v2/models/{model_name}/infer", "/v2/health/ready"):
        assert path in document["paths"]


# The same document the server publishes (checked above); loaded eagerly so each operation is a test.
schema = schemathesis.openapi.from_dict(openapi_document())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_rest_api_answers_every_request_as_documented(case: Any, server: ServerThread) -> None:
    response = case.call_and_validate(base_url=server.rest, checks=CHECKS, timeout=30)
    if response.status_code >= 400:  # every refusal says why
        assert response.json()["error"]
