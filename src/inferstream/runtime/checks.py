"""One call from a blueprint name and command-line settings to a checked plan (used by run and verify)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from inferstream.runtime.blueprint import Blueprint, Problem, load_blueprint
from inferstream.runtime.config_sources import Settings, gather_settings
from inferstream.runtime.lookup import BlueprintNotFound, find_blueprint
from inferstream.runtime.plan import Plan, build_plan


@dataclass
class Checked:
    blueprint: Blueprint | None
    settings: Settings
    plan: Plan | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != "error"]


def check(
    blueprint: str | Path,
    conf_files: Iterable[str | Path] = (),
    conf: Iterable[str] = (),
    scale: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Checked:
    """Find, parse and verify a blueprint with its settings: every problem at once."""
    settings = gather_settings(conf_files, conf, scale)
    try:
        path = find_blueprint(blueprint)
        parsed = load_blueprint(path)
    except (BlueprintNotFound, OSError) as exc:
        return Checked(None, settings, None, [Problem(str(blueprint), str(exc))])
    plan, problems = build_plan(parsed, settings, environ)
    return Checked(parsed, settings, plan, problems)
