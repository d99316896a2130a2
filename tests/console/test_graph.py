"""The blueprint graph the console draws: every streamlet and topic, outlets → topics → inlets, no overlap."""

from __future__ import annotations

from inferstream.console import blueprint_graph
from inferstream.runtime.checks import check

CONF = ["model-serving.target=127.0.0.1:1", "card-ingress.data=data/creditcard-sample.csv"]


def _plan(blueprint: str, *conf: str):  # type: ignore[no-untyped-def]
    checked = check(blueprint, conf=list(conf))
    assert checked.plan is not None, checked.errors
    return checked.plan


def test_every_streamlet_and_connection_of_the_fraud_blueprint_is_in_the_graph() -> None:
    plan = _plan("fraud-grpc", *CONF)
    graph = blueprint_graph(plan)
    assert [s["name"] for s in graph["streamlets"]] == list(plan.streamlets)
    kinds = {s["name"]: (s["kind"], s["instances"]) for s in graph["streamlets"]}
    assert kinds["card-ingress"] == ("ingress", 1) and kinds["model-serving"] == ("processor", 1)
    edges = {(e["from"], e["to"]) for e in graph["edges"]}
    for name, streamlet in plan.streamlets.items():
        for topics in streamlet.wiring.outlet_topics.values():
            assert all((name, "topic:" + t) in edges for t in topics)
        for topic in streamlet.wiring.inlet_topics.values():
            assert ("topic:" + topic, name) in edges
    # left to right along the flow: every edge points rightwards
    x = {s["name"]: s["x"] for s in graph["streamlets"]}
    x |= {"topic:" + t["name"]: t["x"] for t in graph["topics"]}
    assert all(x[a] < x[b] for a, b in edges)
    # no two nodes share a place, and everything fits the drawing
    places = [(n["x"], n["y"]) for n in graph["streamlets"] + graph["topics"]]
    assert len(set(places)) == len(places)
    assert all(0 <= px < graph["width"] and 0 <= py < graph["height"] for px, py in places)


def test_scaled_instances_are_shown() -> None:
    plan = _plan("fraud-grpc", *CONF)
    plan.streamlets["model-serving"].instances = 3
    graph = blueprint_graph(plan)
    assert next(s for s in graph["streamlets"] if s["name"] == "model-serving")["instances"] == 3
