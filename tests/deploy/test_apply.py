"""Every packaged blueprint × every model-server kind, applied to a real kube-apiserver: first a server-side
dry run, then for real, with the custom kinds' CRDs installed (ours and KEDA's own). A refusal fails."""

from __future__ import annotations

from typing import Any

import pytest
from kube_cluster import KubeCluster

from inferstream.deploy import MODEL_SERVER_KINDS, DeployError, DeployOptions, render
from inferstream.deploy.cluster import apply
from inferstream.runtime.lookup import packaged_blueprints

pytestmark = pytest.mark.slow
BLUEPRINTS = sorted(packaged_blueprints())


def _namespace(blueprint: str, kind: str) -> str:
    return f"{blueprint}-{kind}"[:63]


@pytest.fixture(scope="module")
def dynamic(kube_api: Any) -> Any:
    from kubernetes.dynamic import DynamicClient

    return DynamicClient(kube_api)  # one API discovery for the module


def _get(dynamic: Any, manifest: dict[str, Any]) -> Any:
    from kubernetes.dynamic.exceptions import NotFoundError

    resource = dynamic.resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
    meta = manifest["metadata"]
    try:
        return resource.get(
            name=meta["name"], namespace=meta.get("namespace") if resource.namespaced else None
        )
    except NotFoundError:
        return None


@pytest.mark.parametrize("kind", MODEL_SERVER_KINDS)
def test_every_blueprint_is_accepted_dry_run_then_stored(
    kind: str, crds_installed: KubeCluster, kube_api: Any, dynamic: Any
) -> None:
    balancing = "service" if kind in ("seldon2", "kserve") else "auto"
    for blueprint in BLUEPRINTS:
        options = DeployOptions(
            namespace=_namespace(blueprint, kind),
            model_server=kind,  # type: ignore[arg-type]
            load_balancing=balancing,  # type: ignore[arg-type]
            keda=True,
            scale=("model-serving=2",),
            kafka_secret="kafka-credentials",
        )
        manifests = render(blueprint, options).manifests
        namespace, rest = manifests[0], manifests[1:]
        assert namespace["kind"] == "Namespace"
        apply([namespace], kube_api)
        dry = apply(rest, kube_api, dry_run=True)
        assert len(dry) == len(rest)
        assert all(_get(dynamic, m) is None for m in rest), "a dry run stored something"
        apply(rest, kube_api)
        for manifest in rest:
            stored = _get(dynamic, manifest)
            assert stored is not None, f"{manifest['kind']} {manifest['metadata']['name']} not stored"
            if "spec" in manifest:
                assert (
                    stored.spec.to_dict().items()
                    >= {k: v for k, v in manifest["spec"].items() if not isinstance(v, dict | list)}.items()
                )


def test_the_controller_manager_makes_replica_sets(crds_installed: KubeCluster, kube_api: Any) -> None:
    from kubernetes import client

    options = DeployOptions(namespace="replicas", scale=("fraud-decider=2",))
    apply(render("fraud-rest", options).manifests, kube_api)
    apps = client.AppsV1Api(kube_api)
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sets = apps.list_namespaced_replica_set(
            "replicas", label_selector="inferstream.dev/streamlet=fraud-decider"
        )
        if sets.items and sets.items[0].spec.replicas == 2:
            break
        time.sleep(0.5)
    assert sets.items and sets.items[0].spec.replicas == 2


def test_a_refusal_names_the_object_and_the_servers_reason(
    crds_installed: KubeCluster, kube_api: Any
) -> None:
    manifests = render("recommender-rest", DeployOptions(namespace="refused")).manifests
    apply(manifests[:1], kube_api)
    topic = next(m for m in manifests if m["kind"] == "KafkaTopic")
    topic["spec"]["partitions"] = 0  # the CRD says minimum 1
    with pytest.raises(DeployError) as caught:
        apply([topic], kube_api, dry_run=True)
    assert f"KafkaTopic {topic['metadata']['name']}" in str(caught.value)
    assert "spec.partitions" in str(caught.value)
    unknown = {
        "apiVersion": "example.com/v1",
        "kind": "Nothing",
        "metadata": {"name": "x", "namespace": "refused"},
    }
    with pytest.raises(DeployError, match="does not serve Nothing"):
        apply([unknown], kube_api)


def test_dry_run_into_a_missing_namespace_says_so(crds_installed: KubeCluster, kube_api: Any) -> None:
    manifests = render("recommender-grpc", DeployOptions(namespace="not-made-yet")).manifests
    with pytest.raises(DeployError, match="namespace 'not-made-yet' does not exist"):
        apply(manifests[1:], kube_api, dry_run=True)
