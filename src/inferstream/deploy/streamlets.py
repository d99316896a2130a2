"""Per streamlet: a Deployment (non-root, read-only root filesystem, probes on its HTTP endpoint), and for
streamlets that serve HTTP (``/state`` and ``/metrics``) a Service and an Ingress; a PodDisruptionBudget
when it runs more than one replica; the ServiceAccount and Role a ``kubernetes:///`` target watches with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inferstream.deploy.names import APP_LABEL, COMPONENT_LABEL, STREAMLET_LABEL
from inferstream.deploy.options import DeployOptions

Manifest = dict[str, Any]

CONFIG_DIR = "/etc/inferstream/app"
KAFKA_SECRET_DIR = "/etc/inferstream/kafka"
KAFKA_SECRET_FILE = "kafka.yaml"
HTTP_PORT = 8080
RUN_AS = 10001  # the Dockerfile's user
BOOTSTRAP_ENV = "INFERSTREAM_KAFKA_BOOTSTRAP_SERVERS"  # the kafka transport's default bootstrap
HTTP_HOST_ENV = "INFERSTREAM_HTTP_HOST"  # probes and the Service reach the pod's address, not loopback


@dataclass
class StreamletSpec:
    """What the renderer decided for one streamlet."""

    name: str
    kind: str  # ingress | processor | egress
    replicas: int
    serves_http: bool
    model_serving: bool = False
    service_account: bool = False  # needs API access (kubernetes:/// endpoint watch)
    conf: dict[str, Any] = field(default_factory=dict)


def labels(app: str, streamlet: str | None = None, component: str = "streamlet") -> dict[str, str]:
    found = {
        "app.kubernetes.io/name": "inferstream",
        "app.kubernetes.io/part-of": app,
        APP_LABEL: app,
        COMPONENT_LABEL: component,
        "app.kubernetes.io/managed-by": "inferstream",
    }
    if streamlet is not None:
        found[STREAMLET_LABEL] = streamlet
    return found


def selector(app: str, streamlet: str, component: str = "streamlet") -> dict[str, str]:
    return {APP_LABEL: app, STREAMLET_LABEL: streamlet, COMPONENT_LABEL: component}


def meta(name: str, namespace: str, label_set: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": label_set, **extra}


def resource_name(app: str, streamlet: str) -> str:
    return f"{app}-{streamlet}"


def pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def tracing_env(service: str, opts: DeployOptions) -> list[dict[str, Any]]:
    """The standard OpenTelemetry variables that turn tracing on (nothing when no endpoint is given)."""
    if not opts.otlp_endpoint:
        return []
    return [
        {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": opts.otlp_endpoint},
        {"name": "OTEL_SERVICE_NAME", "value": service},
    ]


def _resources(spec: StreamletSpec) -> dict[str, Any]:
    # The model-serving streamlet encodes and decodes batches: more CPU than a decider or a counter.
    cpu = "500m" if spec.model_serving else "100m"
    return {
        "requests": {"cpu": cpu, "memory": "256Mi"},
        "limits": {"cpu": "2" if spec.model_serving else "1", "memory": "1Gi"},
    }


def _probes(path: str, port: str) -> dict[str, Any]:
    return {
        "readinessProbe": {
            "httpGet": {"path": path, "port": port},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": path, "port": port},
            "initialDelaySeconds": 15,
            "periodSeconds": 10,
            "failureThreshold": 6,
        },
    }


def deployment(
    app: str, blueprint_file: str, spec: StreamletSpec, config_map: str, config_hash: str, opts: DeployOptions
) -> Manifest:
    args = [
        "run",
        f"{CONFIG_DIR}/{blueprint_file}",
        "--transport",
        "kafka",
        "--instance",
        f"{spec.name}:0",
        "--no-progress",
        "--no-drain",
        "--conf-file",
        f"{CONFIG_DIR}/conf.yaml",
    ]
    env: list[dict[str, Any]] = [
        {
            "name": BOOTSTRAP_ENV,
            "valueFrom": {"configMapKeyRef": {"name": config_map, "key": "kafka.bootstrap"}},
        },
        {"name": "HOME", "value": "/tmp"},
        *tracing_env(f"{app}-{spec.name}", opts),
    ]
    mounts = [
        {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "config", "configMap": {"name": config_map}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
    ]
    if opts.kafka_secret:
        # SASL/SSL settings as a conf file from the Secret: never in env or argv, where logs and ps see them.
        args += ["--conf-file", f"{KAFKA_SECRET_DIR}/{KAFKA_SECRET_FILE}"]
        mounts.append({"name": "kafka-credentials", "mountPath": KAFKA_SECRET_DIR, "readOnly": True})
        volumes.append({"name": "kafka-credentials", "secret": {"secretName": opts.kafka_secret}})
    container: dict[str, Any] = {
        "name": "streamlet",
        "image": opts.image,
        "imagePullPolicy": "IfNotPresent",
        "args": args,
        "env": env,
        "resources": _resources(spec),
        "securityContext": container_security(),
        "volumeMounts": mounts,
    }
    if spec.serves_http:
        env.append({"name": HTTP_HOST_ENV, "value": "0.0.0.0"})
        container["ports"] = [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}]
        container.update(_probes("/state", "http"))
    pod: dict[str, Any] = {
        "securityContext": pod_security(),
        "containers": [container],
        "volumes": volumes,
        "terminationGracePeriodSeconds": 60,
    }
    if spec.service_account:
        pod["serviceAccountName"] = resource_name(app, spec.name)
    else:
        pod["automountServiceAccountToken"] = False
    name = resource_name(app, spec.name)
    # An ingress runs alone (two would emit every record twice): replace it, never run old and new at once.
    strategy = (
        {"type": "Recreate"}
        if spec.kind == "ingress"
        else {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(
            name,
            opts.namespace,
            labels(app, spec.name),
            annotations={"inferstream.dev/streamlet-kind": spec.kind},
        ),
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": selector(app, spec.name)},
            "strategy": strategy,
            "template": {
                "metadata": {
                    "labels": labels(app, spec.name),
                    "annotations": {"inferstream.dev/config-hash": config_hash},
                },
                "spec": pod,
            },
        },
    }


def service(app: str, spec: StreamletSpec, opts: DeployOptions) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(resource_name(app, spec.name), opts.namespace, labels(app, spec.name)),
        "spec": {
            "selector": selector(app, spec.name),
            "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def ingress(app: str, spec: StreamletSpec, opts: DeployOptions) -> Manifest:
    """``/state`` and ``/metrics`` of the streamlet at ``<streamlet>.<app>.<domain>`` (what the original's
    model-server statistics Ingress exposed)."""
    name = resource_name(app, spec.name)
    backend = {"service": {"name": name, "port": {"name": "http"}}}
    paths = [{"path": p, "pathType": "Exact", "backend": backend} for p in ("/state", "/metrics")]
    body: dict[str, Any] = {
        "rules": [{"host": f"{spec.name}.{app}.{opts.ingress_domain}", "http": {"paths": paths}}]
    }
    if opts.ingress_class:
        body["ingressClassName"] = opts.ingress_class
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": meta(name, opts.namespace, labels(app, spec.name)),
        "spec": body,
    }


def disruption_budget(app: str, spec: StreamletSpec, opts: DeployOptions) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(resource_name(app, spec.name), opts.namespace, labels(app, spec.name)),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(app, spec.name)}},
    }


def endpoint_watch_access(app: str, spec: StreamletSpec, opts: DeployOptions) -> list[Manifest]:
    """ServiceAccount + Role + RoleBinding: list and watch Endpoints (client-side load balancing)."""
    name = resource_name(app, spec.name)
    lab = labels(app, spec.name)
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name, opts.namespace, lab)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta(f"{name}-endpoints", opts.namespace, lab),
            "rules": [{"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get", "list", "watch"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta(f"{name}-endpoints", opts.namespace, lab),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"{name}-endpoints"},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": opts.namespace}],
        },
    ]
