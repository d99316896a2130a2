"""Every problem ``verify`` reports, with its message; and the blueprint formats it reads."""

from pathlib import Path

from inferstream.runtime.blueprint import Problem, parse_hocon, parse_yaml
from inferstream.runtime.checks import check
from inferstream.runtime.plan import build_plan

EX = "inferstream.apps.examples"


def problems_of(text: str) -> list[Problem]:
    _, problems = build_plan(parse_yaml(text, name="t"), environ={})
    return problems


def messages(text: str, severity: str = "error") -> str:
    return "\n".join(f"{p.where}: {p.message}" for p in problems_of(text) if p.severity == severity)


GOOD = f"""
streamlets:
  source: {EX}:NumberedIngress
  double: {EX}:Doubler
  sink: {EX}:CollectingEgress
connections:
  source.out: [double.in]
  double.out: [sink.in]
"""


def test_a_good_blueprint_has_no_problem() -> None:
    assert problems_of(GOOD) == []


def test_unknown_streamlet_class_with_suggestion() -> None:
    text = GOOD.replace(f"{EX}:Doubler", f"{EX}:Dobler").replace(f"{EX}:CollectingEgress", "no.such.module:X")
    found = messages(text)
    assert (
        "streamlets.double: unknown streamlet class: module 'inferstream.apps.examples' has no class "
        in found
    )
    assert "'Dobler' (did you mean 'Doubler'?)" in found
    assert "streamlets.sink: unknown streamlet class: cannot import module 'no.such.module'" in found


def test_unknown_outlet_and_inlet_with_did_you_mean() -> None:
    found = messages(GOOD.replace("source.out:", "source.outt:").replace("[sink.in]", "[sink.inn]"))
    assert "unknown outlet source.outt of NumberedIngress (did you mean 'out'?)" in found
    assert "unknown inlet sink.inn of CollectingEgress (did you mean 'in'?)" in found
    assert "connections.double.out: " in found  # where: the connection that names it


def test_unknown_streamlet_in_a_connection() -> None:
    found = messages(GOOD.replace("[sink.in]", "[sinc.in]"))
    assert "inlet sinc.in: unknown streamlet 'sinc' (did you mean 'sink'?)" in found


def test_unconnected_inlet_is_an_error_and_unconnected_outlet_a_warning() -> None:
    text = GOOD.replace("  double.out: [sink.in]\n", "")
    assert "inlet sink.in is not connected" in messages(text)
    assert "outlet double.out is not connected" in messages(text, "warning")


def test_inlet_fed_by_two_topics() -> None:
    text = GOOD.replace("connections:\n", "connections:\n  other.out: [sink.in]\n")
    text = text.replace("streamlets:\n", f"streamlets:\n  other: {EX}:NumberedIngress\n")
    assert "inlet sink.in is fed by more than one topic: t.other.out, t.double.out" in messages(text)


def test_avro_schema_incompatibility_between_outlet_and_inlet() -> None:
    found = messages(GOOD.replace(f"double: {EX}:Doubler", f"double: {EX}:FraudAvroPassThrough"))
    assert (
        "double.in (tensorflow.modelserving.avro.SourceRequest) cannot read what source.out "
        "(inferstream.examples.Numbered) writes: name_mismatch" in found
    )


def test_duplicate_and_invalid_names() -> None:
    text = GOOD.replace("  sink: ", f"  sink: {EX}:CollectingEgress\n  sink: ").replace("double", "Dou_ble")
    found = messages(text)
    assert "line 6: duplicate key 'sink'" in found
    assert "'Dou_ble' is not a valid streamlet name" in found


def test_bad_and_unknown_config_values_name_their_key() -> None:
    text = GOOD.replace(
        f"double: {EX}:Doubler", f"double:\n    class: {EX}:Doubler\n    config: {{factor: lots}}"
    )
    text = text.replace(
        f"sink: {EX}:CollectingEgress", f"sink:\n    class: {EX}:CollectingEgress\n    config: {{x: 1}}"
    )
    found = messages(text)
    assert "streamlets.double.config.factor: bad config value: 'lots' is not an integer" in found
    assert "streamlets.sink.config.x: bad config value: is not a parameter of this streamlet" in found


def test_every_problem_is_reported_at_once() -> None:
    text = GOOD.replace("source.out:", "source.outt:").replace(f"{EX}:CollectingEgress", f"{EX}:Colecting")
    text = text.replace("double.out: [sink.in]", "double.out: [sink.in]\n  double.ot: [sink.in]")
    assert len([p for p in problems_of(text) if p.severity == "error"]) >= 3


HOCON_CONNECTIONS = f"""
blueprint {{
  streamlets {{
    source = {EX}.NumberedIngress
    double = "{EX}:Doubler"
    sink = {EX}.CollectingEgress
  }}
  connections {{
    source.out = [double.in]
    double.out = [sink.in]
  }}
}}
"""

HOCON_TOPICS = f"""
blueprint {{
  streamlets {{
    source = {EX}.NumberedIngress
    sink = {EX}.CollectingEgress
  }}
  topics {{
    numbers {{
      producers = [source.out]
      consumers = [sink.in]
      partitions = 2
    }}
  }}
}}
"""


def test_cloudflow_hocon_blueprints_in_both_forms() -> None:
    plan, problems = build_plan(parse_hocon(HOCON_CONNECTIONS, name="cdr"), environ={})
    assert problems == [] and plan is not None
    assert plan.streamlets["double"].wiring.inlet_topics == {"in": "cdr.source.out"}
    plan, problems = build_plan(parse_hocon(HOCON_TOPICS, name="cdr"), environ={})
    assert problems == [] and plan is not None
    assert (plan.topics[0].name, plan.topics[0].partitions) == ("numbers", 2)


def test_config_precedence_blueprint_conf_file_environment_command_line(tmp_path: Path) -> None:
    blueprint = tmp_path / "numbers.yaml"
    blueprint.write_text(
        GOOD.replace(f"double: {EX}:Doubler", f"double:\n    class: {EX}:Doubler\n    config: {{factor: 3}}")
    )

    def factor(conf_files: list[Path], environ: dict[str, str], conf: list[str]) -> int:
        checked = check(blueprint, conf_files, conf, environ=environ)
        assert checked.plan is not None, checked.problems
        return int(checked.plan.streamlets["double"].config.get("factor"))

    conf = tmp_path / "app.conf"
    conf.write_text("cloudflow.streamlets.double.config-parameters.factor = 4\n")
    env = {"INFERSTREAM_DOUBLE_FACTOR": "5"}
    assert factor([], {}, []) == 3
    assert factor([conf], {}, []) == 4
    assert factor([conf], env, []) == 5
    assert factor([conf], env, ["double.factor=6"]) == 6


def test_a_port_name_used_twice_in_a_class() -> None:
    from inferstream.apps.examples import NUMBERED
    from inferstream.runtime.plan import _class_problems
    from inferstream.runtime.streamlet import Inlet, Outlet, Processor

    class Twice(Processor):
        first = Inlet("in", NUMBERED)
        second = Inlet("in", NUMBERED)
        out = Outlet("out", NUMBERED)

    (problem,) = _class_problems("streamlets.twice", Twice)
    assert problem.message == "port name 'in' is used twice (first, second) in Twice"

    class BadPort(Processor):
        inlet = Inlet("In_Put", NUMBERED)
        out = Outlet("out", NUMBERED)

    (problem,) = _class_problems("streamlets.bad", BadPort)
    assert problem.message == "port name 'In_Put' of BadPort is not valid (lowercase letters, digits, '-')"


def test_topic_defaults_and_topic_settings_from_blueprint_and_command_line(tmp_path: Path) -> None:
    text = GOOD + "topic-defaults: {retention: 2 days, partitions: 2}\n"
    text += "topics:\n  extra:\n    producers: [source.out]\n    consumers: []\n    retention: 1 hour\n"
    blueprint = tmp_path / "t.yaml"
    blueprint.write_text(text)
    conf = ["topics.t.double.out.partitions=5", "topic-defaults.replication=3"]
    checked = check(blueprint, conf=conf, environ={})
    assert checked.plan is not None, checked.problems
    specs = {t.name: t for t in checked.plan.topics}
    day = 24 * 3600 * 1000
    assert (specs["t.source.out"].partitions, specs["t.source.out"].retention_ms) == (2, 2 * day)
    assert specs["t.double.out"].partitions == 5
    assert specs["extra"].retention_ms == 3600 * 1000
    assert {specs[n].replication for n in ("t.source.out", "t.double.out", "extra")} == {3}
    checked = check(blueprint, conf=["topics.t.source.outt.retention=1 day"], environ={})
    assert any(
        "no topic 't.source.outt' in the blueprint (did you mean 't.source.out'?)" in p.message
        for p in checked.problems
    )
