"""``inferstream deploy --apply``, ``scale --kubernetes`` and ``status`` against the real API server: what the
server stored is read back; refusals carry the server's reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kube_cluster import KubeCluster
from typer.testing import CliRunner

from inferstream.cli.main import _register_verbs, app

pytestmark = pytest.mark.slow
_register_verbs()
NS = "cli"


@pytest.fixture(scope="module")
def deployed(crds_installed: KubeCluster) -> KubeCluster:
    result = invoke(crds_installed, "deploy", "fraud-grpc", "-n", NS, "--apply")
    assert result.exit_code == 0, result.output
    assert "applied" in result.output
    return crds_installed


def invoke(cluster: KubeCluster, *args: str) -> Any:
    verb, *rest = args  # options before any "--" (after it, "-1" is a value)
    return CliRunner().invoke(
        app, [verb, "--kubeconfig", str(cluster.kubeconfig), *rest], env={"COLUMNS": "200"}
    )


def replicas(kube_api: Any, name: str) -> int:
    from kubernetes import client

    return int(client.AppsV1Api(kube_api).read_namespaced_deployment_scale(name, NS).spec.replicas)


def test_status_lists_streamlets_replicas_and_topics(deployed: KubeCluster) -> None:
    result = invoke(deployed, "status", "fraud-grpc", "-n", NS, "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    streamlets = {s["name"]: s for s in found["streamlets"]}
    assert set(streamlets) >= {"card-ingress", "model-serving", "fraud-decider", "normal-counter"}
    assert streamlets["card-ingress"]["kind"] == "ingress" and streamlets["model-serving"]["replicas"] == 1
    assert [s["deployment"] for s in found["model_servers"]] == ["fraud-grpc-model-serving-server"]
    topics = {t["topic"]: t for t in found["topics"]}
    assert topics["fraud-grpc.card-ingress.out"]["consumers"] == "model-serving"
    assert topics["fraud-grpc.card-ingress.out"]["retention.ms"] == 7 * 24 * 3600 * 1000
    table = invoke(deployed, "status", "fraud-grpc", "-n", NS)
    assert table.exit_code == 0 and "model-serving" in table.output and "retention.ms" in table.output


def test_scale_patches_the_scale_subresource_and_grows_partitions(
    deployed: KubeCluster, kube_api: Any
) -> None:
    result = invoke(deployed, "scale", "fraud-grpc", "model-serving", "3", "--kubernetes", "-n", NS)
    assert result.exit_code == 0, result.output
    assert "1 → 3 replicas" in result.output
    assert replicas(kube_api, "fraud-grpc-model-serving") == 3
    status = json.loads(invoke(deployed, "status", "fraud-grpc", "-n", NS, "--json").output)
    topics = {t["topic"]: t for t in status["topics"]}
    assert topics["fraud-grpc.card-ingress.out"]["partitions"] == 3
    assert topics["fraud-grpc.model-serving.out"]["partitions"] == 1  # not read by model-serving
    down = invoke(deployed, "scale", "fraud-grpc", "model-serving", "1", "--kubernetes", "-n", NS)
    assert down.exit_code == 0 and replicas(kube_api, "fraud-grpc-model-serving") == 1


def test_a_negative_scale_is_refused_with_the_servers_reason(deployed: KubeCluster, kube_api: Any) -> None:
    result = invoke(deployed, "scale", "fraud-grpc", "fraud-decider", "--kubernetes", "-n", NS, "--", "-1")
    assert result.exit_code == 1
    assert "the server refused to scale" in result.output
    assert "greater than or equal to 0" in result.output
    assert replicas(kube_api, "fraud-grpc-fraud-decider") == 1


def test_scale_bad_targets(deployed: KubeCluster) -> None:
    ingress = invoke(deployed, "scale", "fraud-grpc", "card-ingress", "2", "--kubernetes", "-n", NS)
    assert ingress.exit_code == 1 and "card-ingress is an ingress" in ingress.output
    unknown = invoke(deployed, "scale", "fraud-grpc", "model-servin", "2", "--kubernetes", "-n", NS)
    assert unknown.exit_code == 1 and "no streamlet 'model-servin'" in unknown.output
    assert "model-serving" in unknown.output
    no_app = invoke(deployed, "scale", "fraud-nope", "model-serving", "2", "--kubernetes", "-n", NS)
    assert no_app.exit_code == 1 and "no app 'fraud-nope'" in no_app.output
    local = CliRunner().invoke(app, ["scale", "fraud-grpc", "model-serving", "2"])
    assert local.exit_code == 2 and "--kubernetes" in local.output


def test_deploy_dry_run_stores_nothing(crds_installed: KubeCluster, kube_api: Any) -> None:
    from kubernetes import client

    client.CoreV1Api(kube_api).create_namespace({"metadata": {"name": "dry"}})
    result = invoke(crds_installed, "deploy", "recommender-rest", "-n", "dry", "--apply", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output
    assert client.AppsV1Api(kube_api).list_namespaced_deployment("dry").items == []


def test_no_cluster_is_a_clear_error(tmp_path: Any) -> None:
    missing = tmp_path / "no-such-kubeconfig"
    result = CliRunner().invoke(app, ["status", "fraud-grpc", "--kubeconfig", str(missing)])
    assert result.exit_code == 1 and f"cannot use kubeconfig {missing}" in result.output.replace("\n", "")
