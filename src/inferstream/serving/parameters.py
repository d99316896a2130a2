"""The model-serving streamlet's declared parameters, and the ExecutorConfig they describe.

Every key a blueprint or ``--conf model-serving.<key>=...`` may set is declared here once (type,
default, help); :func:`executor_config` turns the resolved values into the client library's
:class:`~inferstream.executors.ExecutorConfig`.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from inferstream.executors.config import ExecutorConfig, TlsConfig
from inferstream.runtime import (
    BoolParameter,
    ConfigError,
    DurationParameter,
    IntParameter,
    StringParameter,
    parse_duration,
)

PROTOCOL = StringParameter("protocol", "tfserving", "tfserving | seldon | v2 | embedded",
                           choices=("tfserving", "seldon", "v2", "embedded"))
TRANSPORT = StringParameter("transport", "grpc", "rest | grpc", choices=("rest", "grpc"))
TARGET = StringParameter(
    "target", "", "host:port or URL, a comma-separated list, dns:///host:port or kubernetes:///ns/service/port"
)
MODEL = StringParameter("model", "", "model name on the server")
MODEL_PATH = StringParameter("model-path", "", "embedded: .onnx, .joblib or SavedModel folder")
VERSION = IntParameter("version", -1, "model version (-1: the server's latest)", minimum=-1)
VERSION_LABEL = StringParameter("version-label", "", "TF Serving version label (instead of version)")
SIGNATURE = StringParameter("signature", "", "signature name (empty: serving_default)")
REST_FORMAT = StringParameter("rest-format", "columnar", "TF Serving REST body: row | columnar",
                              choices=("row", "columnar"))
PATH_PREFIX = StringParameter("path-prefix", "", "REST path prefix, e.g. /seldon/<namespace>/<deployment>")
SELDON_DEPLOYMENT = StringParameter("seldon-deployment", "", "gRPC metadata 'seldon' (Ambassador routing)")
SELDON_NAMESPACE = StringParameter("seldon-namespace", "", "gRPC metadata 'namespace' (Ambassador routing)")
HEADERS = StringParameter("headers", "", "extra HTTP headers / gRPC metadata: 'key=value,key2=value2'")
TLS = BoolParameter("tls", False, "use TLS to the model servers")
TLS_CA = StringParameter("tls-ca-file", "", "CA bundle that signs the servers' certificates")
TLS_CERT = StringParameter("tls-cert-file", "", "client certificate (mutual TLS)")
TLS_KEY = StringParameter("tls-key-file", "", "client key (mutual TLS)")
OUTPUT_NAMES = StringParameter("output-names", "", "outputs to ask for, comma-separated (empty: all)")
RENAME_OUTPUTS = StringParameter(
    "rename-outputs", "", "rename server outputs in results: 'predict=predictions,...'"
)
MAX_BATCH_SIZE = IntParameter("max-batch-size", 64, "most records per model call", minimum=1)
MAX_BATCH_LATENCY = DurationParameter("max-batch-latency", "5 milliseconds",
                                      "longest a record waits for a batch to fill")
PARALLELISM = IntParameter("parallelism", 4, "model calls in flight per instance", minimum=1)
TIMEOUT = DurationParameter("timeout", "5 seconds", "deadline of one call attempt")
RETRIES = IntParameter("retries", 3, "extra attempts after a transient failure", minimum=0)
BACKOFF = DurationParameter("backoff", "50 milliseconds", "first retry delay (doubles, jittered)")
BACKOFF_MAX = DurationParameter("backoff-max", "2 seconds", "cap on the retry delay")
LB_POLICY = StringParameter("lb-policy", "round_robin", "round_robin | least_outstanding",
                            choices=("round_robin", "least_outstanding"))
EJECT_AFTER = IntParameter("eject-after", 1, "consecutive failures that eject an endpoint", minimum=1)
EJECT_FOR = DurationParameter("eject-for", "2 seconds", "how long an ejected endpoint rests")
DNS_REFRESH = DurationParameter("dns-refresh", "5 seconds", "how often dns:/// targets are re-resolved")
ON_UNAVAILABLE = StringParameter(
    "on-unavailable", "wait", "server unreachable: wait (keep the records, consume nothing more) | error "
    "(error records after the retries, as the original)", choices=("wait", "error"),
)  # fmt: skip
MAX_WAIT = DurationParameter("max-wait", "0s", "how long records may wait out an outage (0: no limit)")

PARAMETERS = (
    PROTOCOL, TRANSPORT, TARGET, MODEL, MODEL_PATH, VERSION, VERSION_LABEL, SIGNATURE, REST_FORMAT,
    PATH_PREFIX, SELDON_DEPLOYMENT, SELDON_NAMESPACE, HEADERS, TLS, TLS_CA, TLS_CERT, TLS_KEY,
    OUTPUT_NAMES, RENAME_OUTPUTS, MAX_BATCH_SIZE, MAX_BATCH_LATENCY, PARALLELISM, TIMEOUT, RETRIES,
    BACKOFF, BACKOFF_MAX, LB_POLICY, EJECT_AFTER, EJECT_FOR, DNS_REFRESH, ON_UNAVAILABLE, MAX_WAIT,
)


def pairs(text: str, key: str) -> dict[str, str]:
    """``'a=1,b=2'`` -> ``{"a": "1", "b": "2"}``; ConfigError naming ``key`` for an item without ``=``."""
    found: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(key, f"{item!r} is not key=value")
        found[name.strip()] = value.strip()
    return found


def seconds(values: dict[str, Any], parameter: DurationParameter) -> float:
    """The value of a duration parameter in seconds (its default when unset)."""
    value = values.get(parameter.key)
    return float((value if value is not None else parse_duration(parameter.default)).total_seconds())


def executor_config(values: dict[str, Any]) -> ExecutorConfig:
    """The ExecutorConfig of a model-serving streamlet's parameter values (ConfigError if invalid)."""
    get = values.get
    try:
        return ExecutorConfig(
            protocol=get(PROTOCOL.key, "tfserving"),
            transport=get(TRANSPORT.key, "grpc"),
            target=get(TARGET.key, ""),
            model=get(MODEL.key, ""),
            model_path=get(MODEL_PATH.key) or None,
            version=None if get(VERSION.key, -1) < 0 else get(VERSION.key),
            version_label=get(VERSION_LABEL.key) or None,
            signature=get(SIGNATURE.key, ""),
            rest_format=get(REST_FORMAT.key, "columnar"),
            path_prefix=get(PATH_PREFIX.key, ""),
            seldon_deployment=get(SELDON_DEPLOYMENT.key, ""),
            seldon_namespace=get(SELDON_NAMESPACE.key, ""),
            headers=pairs(get(HEADERS.key, ""), HEADERS.key),
            tls=TlsConfig(
                enabled=get(TLS.key, False),
                ca_file=get(TLS_CA.key) or None,
                cert_file=get(TLS_CERT.key) or None,
                key_file=get(TLS_KEY.key) or None,
            ),
            output_names=tuple(n.strip() for n in get(OUTPUT_NAMES.key, "").split(",") if n.strip()),
            timeout=seconds(values, TIMEOUT),
            retries=get(RETRIES.key, 3),
            backoff_initial=seconds(values, BACKOFF),
            backoff_max=seconds(values, BACKOFF_MAX),
            lb_policy=get(LB_POLICY.key, "round_robin"),
            eject_after=get(EJECT_AFTER.key, 1),
            eject_seconds=seconds(values, EJECT_FOR),
            refresh_seconds=seconds(values, DNS_REFRESH),
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())
        raise ConfigError("model-serving", problems) from None
