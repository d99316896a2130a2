"""inferstream deploy's rendering, offline: what every packaged blueprint becomes with every model server,
and the clear errors of bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from inferstream.deploy import MODEL_SERVER_KINDS, DeployError, DeployOptions, render
from inferstream.runtime.lookup import packaged_blueprints

BLUEPRINTS = sorted(packaged_blueprints())


def by_kind(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def conf_of(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    (config_map,) = by_kind(manifests, "ConfigMap").values()
    loaded: dict[str, Any] = yaml.safe_load(config_map["data"]["conf.yaml"])
    return loaded


@pytest.mark.parametrize("kind", MODEL_SERVER_KINDS)
@pytest.mark.parametrize("blueprint", BLUEPRINTS)
def test_every_streamlet_gets_a_locked_down_deployment(blueprint: str, kind: str) -> None:
    balancing = "service" if kind in ("seldon2", "kserve") else "auto"
    rendered = render(blueprint, DeployOptions(model_server=kind, load_balancing=balancing))  # type: ignore[arg-type]
    streamlets = {
        d["metadata"]["labels"]["inferstream.dev/streamlet"]: d
        for d in by_kind(rendered.manifests, "Deployment").values()
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == "streamlet"
    }
    assert set(streamlets) == set(yaml.safe_load(packaged_blueprints()[blueprint].read_text())["streamlets"])
    for name, deployment in streamlets.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["args"][container["args"].index("--instance") + 1] == f"{name}:0"
        assert container["resources"]["limits"]["memory"]
    topics = by_kind(rendered.manifests, "KafkaTopic").values()
    assert topics, "no KafkaTopic rendered"
    for topic in topics:
        assert 0 < topic["spec"]["config"]["retention.ms"] <= 7 * 24 * 3600 * 1000


def test_model_serving_serves_state_and_metrics_behind_probes_service_and_ingress() -> None:
    rendered = render("fraud-grpc", DeployOptions(namespace="fraud"))
    deployment = by_kind(rendered.manifests, "Deployment")["fraud-grpc-model-serving"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/state", "port": "http"}
    assert {"name": "INFERSTREAM_HTTP_HOST", "value": "0.0.0.0"} in container["env"]
    assert conf_of(rendered.manifests)["model-serving.http-port"] == container["ports"][0]["containerPort"]
    service = by_kind(rendered.manifests, "Service")["fraud-grpc-model-serving"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    ingress = by_kind(rendered.manifests, "Ingress")["fraud-grpc-model-serving"]
    paths = {p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {"/state", "/metrics"}
    # A counter serves no HTTP: no probes, no Service.
    assert "fraud-grpc-normal-counter" not in by_kind(rendered.manifests, "Service")


def test_target_is_the_model_server_service() -> None:
    rendered = render("fraud-grpc", DeployOptions(namespace="fraud"))
    service = by_kind(rendered.manifests, "Service")["fraud-grpc-model-serving-server"]
    grpc = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "grpc")
    conf = conf_of(rendered.manifests)
    assert conf["model-serving.target"] == f"fraud-grpc-model-serving-server.fraud.svc.cluster.local:{grpc}"
    server = by_kind(rendered.manifests, "Deployment")["fraud-grpc-model-serving-server"]
    assert service["spec"]["selector"] == server["spec"]["selector"]["matchLabels"]
    assert (
        service["spec"]["selector"]
        != by_kind(rendered.manifests, "Service")["fraud-grpc-model-serving"]["spec"]["selector"]
    )


def test_client_side_balancing_watches_endpoints_with_its_own_role() -> None:
    rendered = render("fraud-grpc-lb", DeployOptions(namespace="fraud", model_server="seldon-grpc"))
    conf = conf_of(rendered.manifests)
    sdep = by_kind(rendered.manifests, "SeldonDeployment")["fraud-grpc-lb-model-serving-server"]
    assert sdep["spec"]["annotations"]["seldon.io/headless-svc"] == "true"
    assert (
        conf["model-serving.target"] == "kubernetes:///fraud/fraud-grpc-lb-model-serving-server-default/grpc"
    )
    pod = by_kind(rendered.manifests, "Deployment")["fraud-grpc-lb-model-serving"]["spec"]["template"]["spec"]
    account = pod["serviceAccountName"]
    role = by_kind(rendered.manifests, "Role")[f"{account}-endpoints"]
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get", "list", "watch"]}
    ]
    binding = by_kind(rendered.manifests, "RoleBinding")[f"{account}-endpoints"]
    assert binding["subjects"][0]["name"] == account
    # Without client-side balancing no pod gets API credentials.
    plain = render("fraud-grpc", DeployOptions(model_server="seldon-grpc"))
    assert not by_kind(plain.manifests, "Role")
    for deployment in by_kind(plain.manifests, "Deployment").values():
        assert deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_scale_sets_replicas_partitions_budget_and_keda_bounds() -> None:
    rendered = render("fraud-grpc", DeployOptions(scale=("model-serving=3",), keda=True))
    assert by_kind(rendered.manifests, "Deployment")["fraud-grpc-model-serving"]["spec"]["replicas"] == 3
    topic = by_kind(rendered.manifests, "KafkaTopic")["fraud-grpc.card-ingress.out"]
    assert topic["spec"]["partitions"] == 3
    assert set(by_kind(rendered.manifests, "PodDisruptionBudget")) == {"fraud-grpc-model-serving"}
    scaled = by_kind(rendered.manifests, "ScaledObject")["fraud-grpc-model-serving"]
    assert scaled["spec"]["maxReplicaCount"] == 3  # never more replicas than partitions
    assert scaled["spec"]["triggers"][0]["metadata"]["consumerGroup"] == "fraud-grpc.model-serving.in"


def test_kafka_secret_is_mounted_never_in_env() -> None:
    rendered = render("fraud-rest", DeployOptions(kafka_secret="kafka-credentials"))
    for deployment in by_kind(rendered.manifests, "Deployment").values():
        pod = deployment["spec"]["template"]["spec"]
        if deployment["metadata"]["labels"]["app.kubernetes.io/component"] != "streamlet":
            continue
        assert {"name": "kafka-credentials", "secret": {"secretName": "kafka-credentials"}} in pod["volumes"]
        assert "/etc/inferstream/kafka/kafka.yaml" in pod["containers"][0]["args"]
        assert "secretKeyRef" not in str(pod["containers"][0]["env"])


def test_manifests_are_written_in_apply_order(tmp_path: Path) -> None:
    written = render("recommender-rest", DeployOptions(namespace="recs")).write(tmp_path)
    kinds = [yaml.safe_load(p.read_text())["kind"] for p in written]
    assert kinds[0] == "Namespace" and kinds.index("ConfigMap") < kinds.index("Deployment")
    assert sorted(tmp_path.iterdir()) == written


# -- bad input ---------------------------------------------------------------------------------------


def error_of(blueprint: str | Path, **options: Any) -> str:
    with pytest.raises(DeployError) as caught:
        render(blueprint, DeployOptions(**options))
    return str(caught.value)


def test_unknown_streamlet_in_scale_names_the_streamlets() -> None:
    message = error_of("fraud-grpc", scale=("model-servin=2",))
    assert "no streamlet 'model-servin'" in message and "model-serving" in message


def test_scaling_an_ingress_is_refused_with_the_reason() -> None:
    message = error_of("fraud-grpc", scale=("card-ingress=2",))
    assert "card-ingress is an ingress" in message and "twice" in message


def test_a_blueprint_that_does_not_verify_lists_its_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nstreamlets:\n  src: inferstream.apps.nowhere:Nothing\nconnections: {}\n")
    message = error_of(bad)
    assert "does not verify" in message and "unknown streamlet class" in message


def test_invalid_names_say_what_they_would_become(tmp_path: Path) -> None:
    assert "it would become 'fraud-ns'" in error_of("fraud-grpc", namespace="Fraud_NS")
    long_app = tmp_path / "long.yaml"
    name = "a" * 60
    long_app.write_text(
        f"name: {name}\nstreamlets:\n  src: inferstream.apps.examples:NumberedIngress\n"
        f"  sink: inferstream.apps.examples:CollectingEgress\nconnections:\n  src.out: [sink.in]\n"
    )
    message = error_of(long_app)
    assert f"{name}-src" in message and "longer than 63" in message
    assert f"it would become '{(name + '-src')[:63]}'" in message


def test_unbounded_retention_is_refused(tmp_path: Path) -> None:
    forever = tmp_path / "forever.yaml"
    forever.write_text(
        "name: forever\nstreamlets:\n  src: inferstream.apps.examples:NumberedIngress\n"
        "  sink: inferstream.apps.examples:CollectingEgress\n"
        "topics:\n  numbers:\n    producers: [src.out]\n    consumers: [sink.in]\n"
        "    config: {retention.ms: -1}\n"
    )
    assert "keeps records forever" in error_of(forever)


def test_client_side_balancing_through_a_gateway_is_refused() -> None:
    assert "seldon-mesh" not in error_of("fraud-grpc-lb", model_server="seldon2")
    assert "--load-balancing service" in error_of("fraud-grpc-lb", model_server="kserve")
