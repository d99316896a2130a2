"""The layers of the README's Architecture section: which package may import which.

Every module under ``src/inferstream`` is scanned with ``ast``: its imports, and every string
that names an inferstream module or class (a blueprint class path, a ``python -m`` argv, an
``import_module`` argument) — docstrings excepted, they are prose. A package may use itself,
the root ``inferstream`` (its version) and the packages in its row of :data:`MAY_IMPORT`.
A new package needs a row here: that is where its place in the layers is decided.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "inferstream"

ALL = frozenset({
    "apps", "bench", "cli", "conformance", "console", "deploy", "devtools", "executors", "models",
    "observability", "protos", "runtime", "schemas", "server", "serving", "tensors", "transports",
})

#: Package -> the inferstream packages it may import (downward only). Top to bottom as in the README.
MAY_IMPORT: dict[str, frozenset[str]] = {
    # thin verbs over everything below; bench is the performance harness: it drives the whole
    # product, including the CLI's verbs as child processes
    "cli": ALL,
    "bench": ALL,
    # users of the layers below: streamlets, training, blueprints
    "apps": frozenset({
        "serving", "runtime", "executors", "transports", "models", "tensors", "schemas", "protos",
        "observability",
    }),
    "console": frozenset({"runtime", "transports", "observability", "schemas"}),
    "deploy": frozenset({"runtime", "models", "schemas", "observability"}),
    "conformance": frozenset({"executors", "tensors", "protos", "models", "observability"}),
    # the model-serving streamlet: on the runtime and the executors' client library
    "serving": frozenset({"runtime", "executors", "models", "tensors", "schemas", "protos", "observability"}),
    # the runtime knows streamlets, blueprints and transports; nothing of tensors or model servers
    "runtime": frozenset({"transports", "schemas", "observability"}),
    "transports": frozenset({"observability"}),
    # client library: model servers over REST/gRPC and in-process models
    "executors": frozenset({"models", "tensors", "protos", "observability"}),
    "server": frozenset({"models", "tensors", "protos", "schemas", "observability"}),
    "models": frozenset({"observability"}),
    "tensors": frozenset({"protos", "schemas"}),
    "devtools": frozenset(),
    "observability": frozenset(),
    "protos": frozenset(),
    "schemas": frozenset(),
}

#: Modules allowed to name upper layers in strings, and why.
EXEMPT: dict[str, str] = {
    "runtime/moved_classes.py": "old blueprint class paths and their new homes, kept one release",
}

_NAMED = re.compile(r"\binferstream\.([a-z_]+)\b")


def _modules() -> Iterator[Path]:
    for path in sorted(SRC.rglob("*.py")):
        if path.relative_to(SRC).parts[:2] != ("protos", "gen"):  # generated stubs
            yield path


def _package(path: Path) -> str:
    parts = path.relative_to(SRC).parts
    return parts[0] if len(parts) > 1 else ""


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def used_packages(path: Path) -> dict[str, int]:
    """inferstream packages a module imports or names in a string -> the first line doing so."""
    tree = ast.parse(path.read_text(), str(path))
    docs = _docstrings(tree)
    used: dict[str, int] = {}

    def note(name: str, line: int) -> None:
        parts = name.split(".")
        if parts[0] == "inferstream" and len(parts) > 1 and parts[1] in ALL:
            used.setdefault(parts[1], line)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                note(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            note(node.module, node.lineno)
            if node.module == "inferstream":
                for alias in node.names:
                    note(f"inferstream.{alias.name}", node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            for match in _NAMED.finditer(node.value):
                note(match.group(0), node.lineno)
    return used


def test_every_package_has_a_row() -> None:
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert packages - set(MAY_IMPORT) == set(), "add a row to MAY_IMPORT for each new package"
    assert set(MAY_IMPORT) <= ALL


def test_imports_point_downward_only() -> None:
    wrong = []
    for path in _modules():
        package = _package(path)
        rel = str(path.relative_to(SRC))
        if not package or rel in EXEMPT:
            continue
        for used, line in sorted(used_packages(path).items()):
            if used != package and used not in MAY_IMPORT[package]:
                wrong.append(f"{rel}:{line}: {package} may not use inferstream.{used}")
    assert wrong == []


def test_the_scan_sees_imports_and_names_in_strings(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        '"""Docstrings may mention inferstream.cli freely."""\n'
        "import inferstream.transports.kafka\n"
        "from inferstream.executors import open_executor\n"
        "from inferstream import serving\n"
        'ARGV = ["python", "-m", "inferstream.cli.main"]\n'
        'CLASS = "inferstream.apps.examples:Doubler"\n'
        'GROUP = "inferstream.blueprints"  # an entry-point group, not a package\n'
    )
    assert used_packages(module) == {"transports": 2, "executors": 3, "serving": 4, "cli": 5, "apps": 6}


def test_the_readme_architecture_names_every_package() -> None:
    readme = (SRC.parents[1] / "README.md").read_text()
    section = readme.split("## Architecture", 1)[1].split("```")[1]
    named = set(re.findall(r"^(?:\S+/ +)?([a-z_]+)/ ", section, re.M)) | set(
        re.findall(r"^([a-z_]+)/ ", section, re.M)
    )
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert packages - named == set(), "README's Architecture section: add a line for each package"
    assert named - packages == set(), "README's Architecture section names a folder that is not there"
