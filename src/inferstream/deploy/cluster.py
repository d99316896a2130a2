"""Talk to a cluster with the ``kubernetes`` client: server-side apply of rendered manifests, ``scale``
(the Deployment's scale subresource, as ``kubectl cloudflow scale`` did) and ``status``.

Credentials come from the kubeconfig (``--kubeconfig`` / ``KUBECONFIG`` / ``~/.kube/config``) or, inside a
pod, from its service account. Every refusal of the server is raised as a DeployError with its reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from inferstream.deploy.names import (
    APP_LABEL,
    COMPONENT_LABEL,
    CONSUMERS_ANNOTATION,
    STREAMLET_LABEL,
    DeployError,
)

FIELD_MANAGER = "inferstream"
KIND_ANNOTATION = "inferstream.dev/streamlet-kind"
TOPIC_API = ("kafka.strimzi.io/v1beta2", "KafkaTopic")


def api_client(kubeconfig: str | None = None, context: str | None = None) -> Any:
    """An ApiClient for the kubeconfig's current (or given) context, or the pod's service account."""
    from kubernetes import client
    from kubernetes import config as kube_config

    config: Any = kube_config  # the client's loaders are untyped
    # Read KUBECONFIG now: the client reads it once, when first imported.
    path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    try:
        return config.new_client_from_config(config_file=path, context=context)
    except (config.ConfigException, OSError) as exc:
        if kubeconfig is not None or context is not None or "KUBECONFIG" in os.environ:
            raise DeployError(f"cannot use kubeconfig {path}: {exc}") from None
    try:  # no kubeconfig: inside a pod, its service account
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration)
    except config.ConfigException as exc:
        raise DeployError(
            f"no cluster to talk to: {exc} (give --kubeconfig, set KUBECONFIG, or run in a pod)"
        ) from None


def reason(exc: Exception) -> str:
    """The server's own message of a refusal (its Status body), else the exception's text."""
    body = getattr(exc, "body", None)
    if body:
        try:
            status = json.loads(body)
            return str(status.get("message") or body)
        except (TypeError, ValueError):
            return str(body)
    return str(getattr(exc, "summary", "") or exc)


@dataclass
class Applied:
    kind: str
    name: str
    namespace: str | None
    dry_run: bool


def apply(
    manifests: Sequence[dict[str, Any]],
    api: Any,
    dry_run: bool = False,
    on_applied: Callable[[Applied], None] | None = None,
) -> list[Applied]:
    """Server-side apply every manifest in order (strict field validation; ``dry_run``: the server checks
    and admits but stores nothing)."""
    from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError

    dynamic = _dynamic(api)
    done: list[Applied] = []
    namespaces_seen: set[str] = set()
    for manifest in manifests:
        api_version, kind = manifest["apiVersion"], manifest["kind"]
        meta = manifest["metadata"]
        try:
            resource = dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            raise DeployError(_missing_kind(api_version, kind)) from None
        namespace = meta.get("namespace") if resource.namespaced else None
        if dry_run and namespace and namespace not in namespaces_seen:
            _need_namespace(dynamic, namespace)
            namespaces_seen.add(namespace)
        try:
            dynamic.server_side_apply(
                resource,
                body=manifest,
                name=meta["name"],
                namespace=namespace,
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
                dry_run="All" if dry_run else None,
                query_params=[("fieldValidation", "Strict")],
            )
        except DynamicApiError as exc:
            raise DeployError(f"the server refused {kind} {meta['name']}: {reason(exc)}") from None
        applied = Applied(kind, meta["name"], namespace, dry_run)
        done.append(applied)
        if on_applied is not None:
            on_applied(applied)
    return done


@lru_cache(maxsize=4)
def _dynamic(api: Any) -> Any:
    """One dynamic client (one API discovery) per ApiClient."""
    from kubernetes.dynamic import DynamicClient

    return DynamicClient(api)  # type: ignore[no-untyped-call]


def _missing_kind(api_version: str, kind: str) -> str:
    hints = {
        "KafkaTopic": "install Strimzi's operator (its CRDs), or deploy with --no-topics (a managed Kafka)",
        "SeldonDeployment": "install Seldon Core 1, or choose another --model-server",
        "Model": "install Seldon Core 2, or choose another --model-server",
        "InferenceService": "install KServe, or choose another --model-server",
        "ScaledObject": "install KEDA, or deploy without --keda",
    }
    return f"the cluster does not serve {kind} ({api_version}): {hints.get(kind, 'install its CRD first')}"


def _need_namespace(dynamic: Any, namespace: str) -> None:
    from kubernetes.dynamic.exceptions import NotFoundError

    try:
        dynamic.resources.get(api_version="v1", kind="Namespace").get(name=namespace)
    except NotFoundError:
        raise DeployError(
            f"namespace {namespace!r} does not exist, and a server-side dry run of what goes in it needs it: "
            f"create it first (kubectl create namespace {namespace}) or apply without --dry-run"
        ) from None


@dataclass
class Scaled:
    deployment: str
    replicas: int
    previous: int
    topics_grown: dict[str, int] = field(default_factory=dict)  # topic -> new partition count


def scale(app: str, streamlet: str, replicas: int, api: Any, namespace: str = "default") -> Scaled:
    """Set the streamlet's Deployment replicas through its scale subresource; grow the partitions of the
    KafkaTopics it consumes to at least ``replicas`` (a replica without a partition sits idle)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    apps: Any = client.AppsV1Api(api)  # its models' Optional fields: read as the server sends them
    name = f"{app}-{streamlet}"
    try:
        deployment = apps.read_namespaced_deployment(name, namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise DeployError(f"cannot read deployment {namespace}/{name}: {reason(exc)}") from None
        deployed = _streamlets(apps, app, namespace)
        if not deployed:
            raise DeployError(
                f"no app {app!r} deployed in namespace {namespace!r} (inferstream deploy BLUEPRINT --apply)"
            ) from None
        raise DeployError(
            f"{app} has no streamlet {streamlet!r} in namespace {namespace!r} "
            f"(streamlets: {', '.join(sorted(deployed))})"
        ) from None
    annotations = deployment.metadata.annotations or {}
    if annotations.get(KIND_ANNOTATION) == "ingress" and replicas > 1:
        raise DeployError(
            f"{streamlet} is an ingress and runs as one replica (two would emit every record "
            f"twice); scale the streamlets that consume its topic instead"
        )
    previous = deployment.spec.replicas or 0
    grown = _grow_topics(api, app, streamlet, replicas, namespace) if replicas > 0 else {}
    try:
        apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": replicas}})
    except ApiException as exc:
        raise DeployError(
            f"the server refused to scale {namespace}/{name} to {replicas}: {reason(exc)}"
        ) from None
    result = apps.read_namespaced_deployment_scale(name, namespace)
    return Scaled(name, result.spec.replicas, previous, grown)


def _streamlets(apps: Any, app: str, namespace: str) -> dict[str, Any]:
    found = apps.list_namespaced_deployment(
        namespace, label_selector=f"{APP_LABEL}={app},{COMPONENT_LABEL}=streamlet"
    )
    return {d.metadata.labels.get(STREAMLET_LABEL, d.metadata.name): d for d in found.items}


def _topic_resource(api: Any) -> Any | None:
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    try:
        return _dynamic(api).resources.get(api_version=TOPIC_API[0], kind=TOPIC_API[1])
    except ResourceNotFoundError:
        return None  # no Strimzi here: the runtime grows topics itself (it did at start)


def _topics(api: Any, app: str, namespace: str) -> list[dict[str, Any]] | None:
    """The app's KafkaTopics as plain dicts (None: the cluster has no KafkaTopic kind)."""
    resource = _topic_resource(api)
    if resource is None:
        return None
    listed = resource.get(namespace=namespace, label_selector=f"{APP_LABEL}={app}")
    return [dict(item.to_dict()) for item in listed.items]


def _consumers(topic: dict[str, Any]) -> list[str]:
    return str((topic["metadata"].get("annotations") or {}).get(CONSUMERS_ANNOTATION, "")).split(",")


def _grow_topics(api: Any, app: str, streamlet: str, replicas: int, namespace: str) -> dict[str, int]:
    grown: dict[str, int] = {}
    resource: Any = _topic_resource(api)
    for topic in _topics(api, app, namespace) or []:
        spec, name = topic.get("spec") or {}, topic["metadata"]["name"]
        if streamlet in _consumers(topic) and int(spec.get("partitions") or 1) < replicas:
            resource.patch(
                name=name,
                namespace=namespace,
                body={"spec": {"partitions": replicas}},
                content_type="application/merge-patch+json",
            )
            grown[spec.get("topicName") or name] = replicas
    return grown


@dataclass
class Status:
    app: str
    namespace: str
    streamlets: list[dict[str, Any]] = field(default_factory=list)  # name, kind, replicas, ready
    model_servers: list[dict[str, Any]] = field(default_factory=list)
    topics: list[dict[str, Any]] | None = None  # None: the cluster has no KafkaTopic kind


def status(app: str, api: Any, namespace: str = "default") -> Status:
    from kubernetes import client

    apps: Any = client.AppsV1Api(api)
    found = Status(app, namespace)
    listed = apps.list_namespaced_deployment(namespace, label_selector=f"{APP_LABEL}={app}")
    for d in sorted(listed.items, key=lambda d: d.metadata.name):
        labels = d.metadata.labels or {}
        row = {
            "name": labels.get(STREAMLET_LABEL, d.metadata.name),
            "deployment": d.metadata.name,
            "kind": (d.metadata.annotations or {}).get(KIND_ANNOTATION, ""),
            "replicas": d.spec.replicas or 0,
            "ready": (d.status.ready_replicas or 0) if d.status else 0,
        }
        if labels.get(COMPONENT_LABEL) == "streamlet":
            found.streamlets.append(row)
        else:
            found.model_servers.append(row)
    topics = _topics(api, app, namespace)
    if topics is not None:
        found.topics = []
        for topic in topics:
            spec = topic.get("spec") or {}
            found.topics.append(
                {
                    "topic": spec.get("topicName") or topic["metadata"]["name"],
                    "partitions": spec.get("partitions"),
                    "replicas": spec.get("replicas"),
                    "retention.ms": (spec.get("config") or {}).get("retention.ms"),
                    "consumers": ",".join(_consumers(topic)),
                }
            )
    if not found.streamlets and not found.model_servers and not found.topics:
        raise DeployError(
            f"no app {app!r} deployed in namespace {namespace!r} (inferstream deploy BLUEPRINT --apply)"
        )
    return found
