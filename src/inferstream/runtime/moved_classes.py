"""Streamlet class paths that moved, so blueprints written for an earlier release keep loading.

A blueprint naming an old module gets the class from its new home and a DeprecationWarning that
says what to write instead. Each entry stays for one release after the move (moved after 0.1.0;
removed after 0.2).
"""

from __future__ import annotations

import warnings

#: Old module -> the module that holds its streamlet classes now (same class names).
MOVED_MODULES: dict[str, str] = {
    "inferstream.executors.streamlet": "inferstream.serving",
    "inferstream.runtime.examples": "inferstream.apps.examples",
}


def current_module(module: str, class_name: str) -> str:
    """``module``, or the module it moved to (warning once per call site that the path is deprecated)."""
    moved = MOVED_MODULES.get(module)
    if moved is None:
        return module
    warnings.warn(
        f"streamlet class path {module}:{class_name} is deprecated; write {moved}:{class_name} "
        "(the old path stops working in the next release)",
        DeprecationWarning,
        stacklevel=3,
    )
    return moved
