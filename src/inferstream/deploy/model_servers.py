"""The model server of a model-serving streamlet, as the chosen kind, and the streamlet's settings that
reach it: protocol, transport, target (a Service, or ``kubernetes:///ns/service/port`` for client-side
load balancing), model name and headers.

Kinds: ``inferstream`` (Deployment + Service of ``inferstream serve``), ``seldon-rest`` / ``seldon-grpc``
(a SeldonDeployment wrapping TensorFlow Serving, like the original's two), ``seldon2`` (a Seldon Core 2
Model, reached through the namespace's ``seldon-mesh``), ``kserve`` (an InferenceService, raw deployment),
``none`` (the blueprint's own settings: an embedded model, or a server you run yourself).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inferstream.deploy.names import DeployError
from inferstream.deploy.options import DeployOptions
from inferstream.deploy.streamlets import (
    Manifest,
    container_security,
    labels,
    meta,
    pod_security,
    resource_name,
    selector,
    tracing_env,
)

TF_SERVING_IMAGE = "tensorflow/serving:2.19.1"
GRPC_PORT, REST_PORT = 8500, 8501  # TF Serving's and inferstream serve's
SELDON_PREDICTOR = "default"
SELDON_HTTP_PORT, SELDON_GRPC_PORT = 8000, 5001  # Seldon Core 1's executor in front of the model


@dataclass
class ServerWiring:
    manifests: list[Manifest] = field(default_factory=list)
    conf: dict[str, Any] = field(default_factory=dict)  # model-serving parameters that point at the server
    client_side: bool = False  # the streamlet watches Endpoints: needs a ServiceAccount and a Role


def _dns(service: str, opts: DeployOptions) -> str:
    return f"{service}.{opts.namespace}.svc.cluster.local"


def _client_side(config: Mapping[str, Any], opts: DeployOptions) -> bool:
    if opts.load_balancing != "auto":
        return opts.load_balancing == "client"
    target = str(config.get("target") or "")
    return "," in target or target.startswith(("kubernetes:///", "dns:///"))


def _target(service: str, port: int, port_name: str, rest: bool, client: bool, opts: DeployOptions) -> str:
    if client:
        return f"kubernetes:///{opts.namespace}/{service}/{port_name}"
    return f"http://{_dns(service, opts)}:{port}" if rest else f"{_dns(service, opts)}:{port}"


def wire(app: str, streamlet: str, config: Mapping[str, Any], opts: DeployOptions) -> ServerWiring:
    """Model server manifests for ``streamlet`` and the settings that point it there."""
    kind = opts.model_server
    if kind == "none":
        return ServerWiring()
    model = str(config.get("model") or "") or app
    transport = str(config.get("transport") or "grpc")
    client = _client_side(config, opts)
    if client and kind in ("seldon2", "kserve"):
        raise DeployError(
            f"client-side load balancing needs one Service over the model server pods; {kind} routes "
            f"through its own gateway: use --load-balancing service (or another --model-server)"
        )
    if kind in ("seldon-rest", "seldon-grpc"):
        return _seldon(app, streamlet, model, kind == "seldon-rest", client, opts)
    if kind == "seldon2":
        return _seldon2(app, streamlet, model, transport, opts)
    if kind == "kserve":
        return _kserve(app, streamlet, model, opts)
    protocol = "v2" if config.get("protocol") == "v2" else "tfserving"
    return _inferstream(app, streamlet, model, protocol, transport, client, opts)


def _model_uri(model: str, opts: DeployOptions) -> str:
    return opts.model_uri or f"s3://models/{model}"


def _s3_env(opts: DeployOptions) -> list[dict[str, Any]]:
    # The original's s3-credentials Secret: keys accessKey and secretKey.
    def ref(key: str) -> dict[str, Any]:
        return {"secretKeyRef": {"name": opts.model_secret, "key": key}}

    return [
        {"name": "AWS_ACCESS_KEY_ID", "valueFrom": ref("accessKey")},
        {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": ref("secretKey")},
    ]


def _seldon(
    app: str, streamlet: str, model: str, rest: bool, client: bool, opts: DeployOptions
) -> ServerWiring:
    name = f"{resource_name(app, streamlet)}-server"
    endpoint = {"type": "REST", "httpPort": REST_PORT} if rest else {"type": "GRPC", "grpcPort": GRPC_PORT}
    container = {
        "name": "tfserving",
        "image": TF_SERVING_IMAGE,
        "args": [
            f"--port={GRPC_PORT}",
            f"--rest_api_port={REST_PORT}",
            f"--model_name={model}",
            f"--model_base_path={_model_uri(model, opts)}",
        ],
        "ports": [{"name": "http", "containerPort": REST_PORT}, {"name": "grpc", "containerPort": GRPC_PORT}],
        "env": _s3_env(opts),
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        "securityContext": container_security(),
    }
    annotations = {"seldon.io/headless-svc": "true"} if client else {}
    sdep = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": meta(name, opts.namespace, labels(app, streamlet, "model-server")),
        "spec": {
            "name": name,
            "protocol": "tensorflow",
            "transport": "rest" if rest else "grpc",
            "annotations": annotations,
            "predictors": [
                {
                    "name": SELDON_PREDICTOR,
                    "replicas": 1,
                    "graph": {"name": "tfserving", "type": "MODEL", "endpoint": endpoint, "children": []},
                    "componentSpecs": [
                        {"spec": {"containers": [container], "securityContext": pod_security()}}
                    ],
                }
            ],
        },
    }
    service = f"{name}-{SELDON_PREDICTOR}"  # the Service Seldon Core makes per predictor
    port, port_name = (SELDON_HTTP_PORT, "http") if rest else (SELDON_GRPC_PORT, "grpc")
    conf = {
        "protocol": "tfserving",
        "transport": "rest" if rest else "grpc",
        "model": model,
        "target": _target(service, port, port_name, rest, client, opts),
    }
    return ServerWiring([sdep], conf, client)


def _seldon2(app: str, streamlet: str, model: str, transport: str, opts: DeployOptions) -> ServerWiring:
    name = f"{app}-{model}"
    resource = {
        "apiVersion": "mlops.seldon.io/v1alpha1",
        "kind": "Model",
        "metadata": meta(name, opts.namespace, labels(app, streamlet, "model-server")),
        "spec": {
            "storageUri": _model_uri(model, opts),
            "requirements": [opts.model_format or "onnx"],
            "memory": "1Gi",
            "replicas": 1,
        },
    }
    rest = transport == "rest"
    # Every Seldon Core 2 model answers V2 at the namespace's seldon-mesh gateway, routed by this header.
    conf = {
        "protocol": "v2",
        "transport": transport,
        "model": name,
        "headers": f"seldon-model={name}",
        "target": _target("seldon-mesh", 80, "http", rest, False, opts),
    }
    return ServerWiring([resource], conf)


def _kserve(app: str, streamlet: str, model: str, opts: DeployOptions) -> ServerWiring:
    name = f"{app}-{model}"
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": meta(
            name,
            opts.namespace,
            labels(app, streamlet, "model-server"),
            annotations={"serving.kserve.io/deploymentMode": "RawDeployment"},
        ),
        "spec": {
            "predictor": {
                "minReplicas": 1,
                "model": {
                    "modelFormat": {"name": opts.model_format or "onnx"},
                    "protocolVersion": "v2",
                    "storageUri": _model_uri(model, opts),
                    "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
                },
            }
        },
    }
    # RawDeployment: a Service <name>-predictor on port 80 answers V2 REST.
    conf = {
        "protocol": "v2",
        "transport": "rest",
        "model": name,
        "target": _target(f"{name}-predictor", 80, "http", True, False, opts),
    }
    return ServerWiring([isvc], conf)


def _inferstream(
    app: str, streamlet: str, model: str, protocol: str, transport: str, client: bool, opts: DeployOptions
) -> ServerWiring:
    name = f"{resource_name(app, streamlet)}-server"
    lab = labels(app, streamlet, "model-server")
    sel = selector(app, streamlet, "model-server")
    health = "/v2/health/ready" if protocol == "v2" else f"/v1/models/{model}"
    container = {
        "name": "server",
        "image": opts.image,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "serve",
            "--model-root",
            "/models",
            "--host",
            "0.0.0.0",
            "--port",
            str(REST_PORT),
            "--grpc-port",
            str(GRPC_PORT),
        ],
        "ports": [{"name": "http", "containerPort": REST_PORT}, {"name": "grpc", "containerPort": GRPC_PORT}],
        "env": [{"name": "HOME", "value": "/tmp"}, *tracing_env(name, opts)],
        "resources": {"requests": {"cpu": "1", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
        "securityContext": container_security(),
        "readinessProbe": {"httpGet": {"path": health, "port": "http"}, "periodSeconds": 5},
        "livenessProbe": {"tcpSocket": {"port": "grpc"}, "initialDelaySeconds": 15, "periodSeconds": 10},
        "volumeMounts": [
            {"name": "models", "mountPath": "/models", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, opts.namespace, lab),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": sel},
            "template": {
                "metadata": {"labels": lab},
                "spec": {
                    "securityContext": pod_security(),
                    "automountServiceAccountToken": False,
                    "containers": [container],
                    "volumes": [
                        {
                            "name": "models",
                            "persistentVolumeClaim": {"claimName": opts.model_pvc, "readOnly": True},
                        },
                        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                    ],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name, opts.namespace, lab),
        "spec": {
            "selector": sel,
            "ports": [
                {"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc", "appProtocol": "grpc"},
                {"name": "http", "port": REST_PORT, "targetPort": "http"},
            ],
        },
    }
    rest = transport == "rest"
    port, port_name = (REST_PORT, "http") if rest else (GRPC_PORT, "grpc")
    conf = {
        "protocol": protocol,
        "transport": transport,
        "model": model,
        "target": _target(name, port, port_name, rest, client, opts),
    }
    return ServerWiring([deployment, service], conf, client)
