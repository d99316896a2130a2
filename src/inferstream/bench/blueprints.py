"""The blueprint a mode runs: the fraud pipeline minus its ingress, on the harness's own topics.

The harness itself plays the ingress (it produces tagged SourceRequests at a known time), so the
blueprint starts at model-serving: its input topic has no producer in the blueprint, which the
runtime accepts. Everything downstream — model-serving, fraud-decider, the counting egresses — is
the fraud application's own streamlets with only the model-serving settings changed per mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inferstream.bench.modes import Mode

MODEL_SERVING = "inferstream.serving:ModelServing"
DECIDER = "inferstream.apps.fraud.decider:FraudDecider"
COUNTER = "inferstream.apps.common.egress:CountingEgress"
OUTLETS = ("normal", "fraud", "error")


def app_name(prefix: str) -> str:
    """A DNS-1123 label, as blueprints require."""
    return "".join(c if c.isalnum() else "-" for c in prefix.lower()).strip("-")[:63]


def model_serving_config(mode: Mode, targets: list[str], model: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "protocol": "tfserving",
        "transport": mode.protocol,
        "target": ",".join(targets),
        "model": model,
    }
    if mode.access == "client-lb":
        config["lb-policy"] = "least_outstanding"
    if mode.style == "original":
        # As the original: one record per call, one call in flight per instance.
        config["max-batch-size"] = 1
        config["parallelism"] = 1
    return config


def fraud_blueprint(
    mode: Mode, prefix: str, topics: dict[str, str], targets: list[str], model: str, model_base: Path
) -> dict[str, Any]:
    """``topics`` maps input, results, normal, fraud, error to topic names."""
    streamlets: dict[str, Any] = {
        "model-serving": {
            "class": MODEL_SERVING,
            "instances": mode.instances,
            "config": model_serving_config(mode, targets, model),
        },
        "fraud-decider": {"class": DECIDER, "config": {"threshold-from": str(model_base)}},
    }
    blueprint_topics: dict[str, Any] = {
        topics["input"]: {"consumers": ["model-serving.in"]},
        topics["results"]: {"producers": ["model-serving.out"], "consumers": ["fraud-decider.in"]},
    }
    for outlet in OUTLETS:
        streamlets[f"{outlet}-counter"] = {"class": COUNTER}
        blueprint_topics[topics[outlet]] = {
            "producers": [f"fraud-decider.{outlet}"],
            "consumers": [f"{outlet}-counter.in"],
        }
    return {"name": app_name(prefix), "streamlets": streamlets, "topics": blueprint_topics}


def write_blueprint(path: Path, blueprint: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(blueprint, sort_keys=False))
    return path
