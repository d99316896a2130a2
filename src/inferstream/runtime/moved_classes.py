"""Streamlet class paths that moved, so blueprints written for an earlier release keep loading.

A blueprint naming an old module gets the class from its new home and a DeprecationWarning that
says what to write instead. Each entry stays for one release after the move (moved after 0.1.0;
removed after 0.2).
"""

from __future__ import annotations

import logging
import warnings

log = logging.getLogger("inferstream.runtime")
_told: set[str] = set()

#: Old module -> the module that holds its streamlet classes now (same class names).
MOVED_MODULES: dict[str, str] = {
    "inferstream.executors.streamlet": "inferstream.serving",
    "inferstream.runtime.examples": "inferstream.apps.examples",
}


def current_module(module: str, class_name: str) -> str:
    """``module``, or the module it moved to (with a DeprecationWarning, and one log warning per path)."""
    moved = MOVED_MODULES.get(module)
    if moved is None:
        return module
    message = (
        f"streamlet class path {module}:{class_name} is deprecated; write {moved}:{class_name} "
        "(the old path stops working in the next release)"
    )
    warnings.warn(message, DeprecationWarning, stacklevel=3)
    if message not in _told:  # Python hides DeprecationWarnings outside __main__: say it in the log too
        _told.add(message)
        log.warning("%s", message)
    return moved
