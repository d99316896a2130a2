"""``inferstream deploy --check DIR``: validate manifests offline.

Core kinds against the official OpenAPI schemas of Kubernetes (the ``kubernetes-validate`` package, strict:
unknown fields are errors); custom kinds (KafkaTopic, SeldonDeployment, Model, InferenceService,
ScaledObject) against the JSON Schema of their CRD's ``openAPIV3Schema``, closed like a structural schema
(a field the CRD does not declare is an error, as the API server's strict field validation says).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

KUBERNETES_VERSION = "1.37.0"  # schemas kubernetes-validate ships; the test API server is v1.37.2
CRD_DIR = Path(__file__).parent / "crds"
KEDA_CRDS_ENV = "INFERSTREAM_KEDA_CRDS"  # a folder of KEDA's CRDs (scripts/kubernetes/install.sh copies them)
_REPO_KEDA = Path(__file__).resolve().parents[3] / ".cache" / "kubernetes" / "crds" / "keda"


@dataclass(frozen=True)
class Finding:
    where: str  # file: Kind/name
    message: str
    severity: str = "error"


def crd_folders() -> list[Path]:
    folders = [CRD_DIR]
    keda = Path(os.environ.get(KEDA_CRDS_ENV, str(_REPO_KEDA)))
    if keda.is_dir():
        folders.append(keda)
    return folders


def _closed(schema: Any) -> Any:
    """A CRD schema as JSON Schema: objects with declared properties accept nothing else."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _closed(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def custom_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON Schema, from every CRD file found."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for folder in crd_folders():
        for path in sorted(folder.glob("*.yaml")):
            for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if not crd or crd.get("kind") != "CustomResourceDefinition":
                    continue
                group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
                for version in crd["spec"]["versions"]:
                    schema = version.get("schema", {}).get("openAPIV3Schema")
                    if schema:
                        found[(f"{group}/{version['name']}", kind)] = _closed(schema)
    return found


def load_manifests(paths: Iterable[Path]) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                yield path, doc


def check_manifest(doc: dict[str, Any]) -> list[str]:
    """Every problem of one manifest ([] if valid)."""
    import jsonschema
    import kubernetes_validate  # type: ignore[import-untyped]

    api_version, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
    schema = custom_schemas().get((api_version, kind))
    if schema is not None:
        validator = jsonschema.Draft7Validator(schema)
        return [
            f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
        ]
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [
            f"no schema for {kind} ({api_version}): neither a Kubernetes {KUBERNETES_VERSION} kind nor a "
            f"CRD in {', '.join(map(str, crd_folders()))}"
        ]
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(map(str, exc.path)) or "(root)"
        return [f"{path}: {exc.message}"]
    return []


def check_dir(folder: Path) -> tuple[int, list[Finding]]:
    """(manifests checked, findings) for every ``*.yaml`` / ``*.yml`` file in ``folder``."""
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    if not files:
        return 0, [
            Finding(str(folder), "no *.yaml manifests here (render them with inferstream deploy --out)")
        ]
    findings: list[Finding] = []
    count = 0
    for path, doc in load_manifests(files):
        count += 1
        where = f"{path.name}: {doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
        findings += [Finding(where, message) for message in check_manifest(doc)]
    return count, findings
