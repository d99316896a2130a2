"""Bad input over REST: clear {"error": ...} bodies with the right status; the server keeps serving."""

from __future__ import annotations

import pytest

from .conftest import HttpCall, ServerThread

GOOD = {"inputs": {"X": [[1.0, 2.0, 3.0, 4.0]]}}


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("/v1/models/nope:predict", GOOD, 404, "nope"),
        ("/v1/models/linear/versions/9:predict", GOOD, 404, "version 9"),
        ("/v1/models/linear/labels/stable:predict", GOOD, 404, "label"),
        ("/v1/models/linear:predict", {"signature_name": "other", **GOOD}, 404, "other"),
        ("/v1/models/linear:predict", {"inputs": {"Y": [[1.0, 2.0, 3.0, 4.0]]}}, 400, "'Y'"),
        ("/v1/models/linear:predict", {"inputs": {"X": [[1.0, 2.0, 3.0]]}}, 400, "expected size 4"),
        ("/v1/models/linear:predict", {"inputs": {"X": [["a", "b", "c", "d"]]}}, 400, "float32"),
        ("/v1/models/linear:predict", {"inputs": {"X": [[1.0, 2.0], [1.0]]}}, 400, "rectangular"),
        ("/v1/models/linear:predict", {"instances": [[1.0] * 4], **GOOD}, 400, "cannot be mixed"),
        ("/v1/models/linear:predict", {"signature_name": ""}, 400, "neither"),
        (
            "/v2/models/linear/infer",
            {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32"}]},
            400,
            "data: missing",
        ),
        (
            "/v2/models/linear/infer",
            {"inputs": [{"name": "X", "shape": [2, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]},
            400,
            "fill shape",
        ),
        (
            "/v2/models/linear/infer",
            {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP99", "data": [1, 2, 3, 4]}]},
            400,
            "FP99",
        ),
        (
            "/v2/models/linear/infer",
            {"inputs": [{"name": "X", "shape": [1, 5], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}]},
            400,
            "'X'",
        ),
        ("/v2/models/nope/infer", {"inputs": []}, 404, "nope"),
    ],
)
def test_bad_request_answers_with_reason(
    server: ServerThread, http: HttpCall, path: str, body: object, status: int, needle: str
) -> None:
    got_status, got = http("POST", server.rest + path, body)
    assert got_status == status, got
    assert needle in got["error"]


def test_malformed_json_and_oversized_body(server: ServerThread, http: HttpCall) -> None:
    status, body = http("POST", f"{server.rest}/v1/models/linear:predict", raw=b'{"inputs": [[1.0, 2.0')
    assert status == 400 and "JSON Parse error" in body["error"]
    status, body = http("POST", f"{server.rest}/v2/models/linear/infer", raw=b"\xff\xfe not json")
    assert status == 400 and "JSON" in body["error"]
    huge = b'{"instances": [' + b"[1.0, 2.0, 3.0, 4.0]," * 20_000 + b"[1.0, 2.0, 3.0, 4.0]]}"
    status, body = http("POST", f"{server.rest}/v1/models/linear:predict", raw=huge)
    assert status == 413 and "size" in body["error"]
    # ... and the server still answers
    status, body = http("POST", f"{server.rest}/v1/models/linear:predict", GOOD)
    assert status == 200 and len(body["outputs"]) == 1


def test_unknown_path_and_method(server: ServerThread, http: HttpCall) -> None:
    status, body = http("GET", f"{server.rest}/v1/nothing")
    assert status == 404 and "error" in body
    status, body = http("GET", f"{server.rest}/v1/models/linear:predict")
    assert status == 405 and "POST" in body["error"]
