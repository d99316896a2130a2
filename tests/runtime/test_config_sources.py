from pathlib import Path

from inferstream.runtime.config_sources import env_var, gather_settings


def test_transport_settings_pass_through_with_client_properties(tmp_path: Path) -> None:
    conf = tmp_path / "kafka.yaml"
    conf.write_text(
        "transports:\n  kafka:\n    bootstrap-servers: a:9092\n    client-config: {security.protocol: SSL}\n"
    )
    settings = gather_settings(
        [conf], ["transports.kafka.sasl.mechanism=PLAIN", "transports.kafka.bootstrap-servers=b:1"]
    )
    assert settings.problems == []
    assert settings.transport_settings("kafka") == {
        "bootstrap_servers": "b:1",
        "client_config": {"security.protocol": "SSL", "sasl.mechanism": "PLAIN"},
    }


def test_instances_and_bad_arguments_are_collected_not_raised(tmp_path: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text("streamlets.double.instances = 4\nstreamlets.double.config.factor = 3\n")
    settings = gather_settings([conf, tmp_path / "missing.conf"], ["oops", "=1"], ["double=x", "sink=2"])
    assert settings.instances == {"double": 4, "sink": 2}
    assert settings.streamlet_config == {"double": {"factor": 3}}
    wheres = [p.where for p in settings.problems]
    assert any(w.endswith("missing.conf") for w in wheres)
    assert "--conf oops" in wheres and "--conf =1" in wheres and "--scale double=x" in wheres


def test_environment_variable_names() -> None:
    assert env_var("model-serving", "batch-size") == "INFERSTREAM_MODEL_SERVING_BATCH_SIZE"
