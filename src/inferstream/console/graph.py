"""The blueprint as a graph the page can draw: streamlets and topics as nodes, outlets → inlets as edges.

Positions are computed here (columns by distance from the ingresses) so the page only draws.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inferstream.runtime.plan import Plan

STREAMLET_WIDTH, TOPIC_WIDTH, GAP = 160, 140, 34  # pixels: a streamlet column, a topic column, between
ROW_HEIGHT = 76


def blueprint_graph(plan: Plan) -> dict[str, Any]:
    """``{"streamlets": [...], "topics": [...], "edges": [...], "width", "height"}`` of ``plan``."""
    producers: dict[str, list[tuple[str, str]]] = {}  # topic -> (streamlet, outlet)
    consumers: dict[str, list[tuple[str, str]]] = {}  # topic -> (streamlet, inlet)
    for name, streamlet in plan.streamlets.items():
        for outlet, topics in streamlet.wiring.outlet_topics.items():
            for topic in topics:
                producers.setdefault(topic, []).append((name, outlet))
        for inlet, topic in streamlet.wiring.inlet_topics.items():
            consumers.setdefault(topic, []).append((name, inlet))
    depth = _depths(plan, producers)
    columns: dict[int, list[str]] = {}
    for name in plan.streamlets:  # blueprint order within a column
        columns.setdefault(2 * depth[name], []).append(name)
    topic_names = sorted(set(producers) | set(consumers), key=lambda t: list(plan.streamlets).index(
        (producers.get(t) or consumers[t])[0][0]))
    for topic in topic_names:
        sources = producers.get(topic, [])
        column = 2 * max((depth[s] for s, _ in sources), default=-1) + 1
        columns.setdefault(column, []).append("topic:" + topic)
    position: dict[str, tuple[int, int]] = {}
    tallest = max((len(c) for c in columns.values()), default=1)
    pair = STREAMLET_WIDTH + TOPIC_WIDTH + 2 * GAP
    for column, members in columns.items():
        offset = (tallest - len(members)) * ROW_HEIGHT // 2
        x = 20 + (column // 2) * pair + (STREAMLET_WIDTH + GAP if column % 2 else 0)
        for row, member in enumerate(members):
            position[member] = (x, 20 + offset + row * ROW_HEIGHT)
    streamlets = [
        {
            "name": name,
            "kind": streamlet.cls.kind,
            "class": f"{streamlet.cls.__module__}.{streamlet.cls.__qualname__}",
            "instances": streamlet.instances,
            "inlets": sorted(streamlet.wiring.inlet_topics),
            "outlets": sorted(streamlet.wiring.outlet_topics),
            "x": position[name][0],
            "y": position[name][1],
        }
        for name, streamlet in plan.streamlets.items()
    ]
    prefix = plan.app + "."
    topic_nodes = [
        {"name": t, "label": t.removeprefix(prefix), "x": position["topic:" + t][0],
         "y": position["topic:" + t][1]}
        for t in topic_names
    ]
    edges: list[dict[str, str]] = [
        {"from": s, "to": "topic:" + t, "port": o} for t, pairs in producers.items() for s, o in pairs
    ] + [{"from": "topic:" + t, "to": s, "port": i} for t, pairs in consumers.items() for s, i in pairs]
    last = max(columns, default=0)
    width = 40 + (last // 2) * pair + (STREAMLET_WIDTH + GAP + TOPIC_WIDTH if last % 2 else STREAMLET_WIDTH)
    return {
        "app": plan.app,
        "streamlets": streamlets,
        "topics": topic_nodes,
        "edges": edges,
        "width": width,
        "height": 30 + tallest * ROW_HEIGHT,
        "streamlet_width": STREAMLET_WIDTH,
        "topic_width": TOPIC_WIDTH,
    }


def _depths(plan: Plan, producers: dict[str, list[tuple[str, str]]]) -> dict[str, int]:
    """Longest distance from a streamlet without inlets; cycles are cut (a blueprint has none)."""
    depth: dict[str, int] = {}

    def visit(name: str, seen: frozenset[str]) -> int:
        if name in depth:
            return depth[name]
        upstream = [
            source
            for topic in plan.streamlets[name].wiring.inlet_topics.values()
            for source, _ in producers.get(topic, [])
            if source not in seen
        ]
        depth[name] = 1 + max((visit(s, seen | {name}) for s in upstream), default=-1)
        return depth[name]

    for name in plan.streamlets:
        visit(name, frozenset())
    return depth
