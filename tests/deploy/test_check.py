"""``inferstream deploy --check DIR`` offline: official Kubernetes schemas for core kinds, the CRDs' schemas
for custom kinds; rendered manifests pass, broken ones fail with the field named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_cluster import KEDA_CRDS, ensure_installed
from typer.testing import CliRunner

from inferstream.cli.main import _register_verbs, app
from inferstream.deploy import MODEL_SERVER_KINDS, DeployOptions, render
from inferstream.deploy.check import KEDA_CRDS_ENV, check_dir, check_manifest, custom_schemas
from inferstream.runtime.lookup import packaged_blueprints

_register_verbs()


@pytest.fixture(scope="module")
def keda_crds(monkeypatch_module: pytest.MonkeyPatch) -> Path:
    ensure_installed()  # KEDA's CRDs come from its Go module (not committed)
    monkeypatch_module.setenv(KEDA_CRDS_ENV, str(KEDA_CRDS))
    custom_schemas.cache_clear()
    return KEDA_CRDS


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        yield patch
    custom_schemas.cache_clear()


# Each blueprint once and each kind at least once (the API server test applies the full cross product).
PAIRS = [
    (b, MODEL_SERVER_KINDS[i % len(MODEL_SERVER_KINDS)]) for i, b in enumerate(sorted(packaged_blueprints()))
]


@pytest.mark.slow
@pytest.mark.parametrize(("blueprint", "kind"), PAIRS)
def test_rendered_blueprints_pass(blueprint: str, kind: str, keda_crds: Path, tmp_path: Path) -> None:
    balancing = "service" if kind in ("seldon2", "kserve") else "auto"
    options = DeployOptions(
        namespace="apps",
        model_server=kind,  # type: ignore[arg-type]
        load_balancing=balancing,  # type: ignore[arg-type]
        keda=True,
        scale=("model-serving=2",),
    )
    render(blueprint, options).write(tmp_path)
    count, findings = check_dir(tmp_path)
    assert findings == [] and count > 10


def test_custom_kinds_have_schemas(keda_crds: Path) -> None:
    kinds = {kind for _, kind in custom_schemas()}
    assert {"KafkaTopic", "SeldonDeployment", "Model", "InferenceService", "ScaledObject"} <= kinds


def manifest(kind: str, blueprint: str = "fraud-grpc", **options: Any) -> dict[str, Any]:
    rendered = render(blueprint, DeployOptions(**options))
    return next(m for m in rendered.manifests if m["kind"] == kind)


def test_broken_core_kind_is_caught() -> None:
    deployment = manifest("Deployment")
    deployment["spec"]["replicas"] = "three"
    assert any("spec.replicas" in p for p in check_manifest(deployment))
    deployment["spec"]["replicas"] = 1
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Sometimes"
    deployment["spec"]["template"]["spec"]["containerz"] = []
    assert check_manifest(deployment), "an unknown field passed strict validation"


def test_broken_custom_kinds_are_caught() -> None:
    topic = manifest("KafkaTopic")
    topic["spec"]["partitions"] = 0
    assert any("spec.partitions" in p for p in check_manifest(topic))
    sdep = manifest("SeldonDeployment", model_server="seldon-rest")
    sdep["spec"]["transport"] = "http"
    sdep["spec"]["predictors"][0]["graph"]["endpoint"]["port"] = 1
    problems = check_manifest(sdep)
    assert any("spec.transport" in p for p in problems)
    assert any("'port' was unexpected" in p for p in problems)
    isvc = manifest("InferenceService", model_server="kserve")
    del isvc["spec"]["predictor"]["model"]["modelFormat"]
    assert any("modelFormat" in p for p in check_manifest(isvc))


def test_check_cli(tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "200"})
    out = tmp_path / "manifests"
    result = runner.invoke(
        app, ["deploy", "recommender-grpc", "--out", str(out), "--model-server", "seldon2"]
    )
    assert result.exit_code == 0, result.output
    ok = runner.invoke(app, ["deploy", "--check", str(out)])
    assert ok.exit_code == 0 and "are valid" in ok.output, ok.output
    broken = next(out.glob("[0-9][0-9][0-9]-model-*.yaml"))  # the Seldon Core 2 Model
    doc = yaml.safe_load(broken.read_text())
    doc["spec"]["replicas"] = -1
    broken.write_text(yaml.safe_dump(doc))
    bad = runner.invoke(app, ["deploy", "--check", str(out)])
    assert bad.exit_code == 1 and "spec.replicas" in bad.output, bad.output
