"""Import streamlet classes named by blueprints, with errors that say what to fix."""

from __future__ import annotations

import difflib
import importlib
import inspect

from inferstream.runtime.moved_classes import current_module
from inferstream.runtime.streamlet import Streamlet


class StreamletLoadError(Exception):
    """The class path does not name an importable Streamlet subclass."""


def did_you_mean(name: str, candidates: list[str] | set[str]) -> str:
    """`` (did you mean 'x'?)`` when a close candidate exists, else ``""``."""
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def split_class_path(path: str) -> tuple[str, str]:
    """``pkg.mod:Class`` or Cloudflow's dotted ``pkg.mod.Class`` -> (module, class)."""
    module, colon, name = path.partition(":")
    if not colon:
        module, _, name = path.rpartition(".")
    if not module or not name:
        raise StreamletLoadError(f"{path!r} is not an import path; write pkg.module:ClassName")
    return module, name


def load_streamlet_class(path: str) -> type[Streamlet]:
    module_name, class_name = split_class_path(path)
    module_name = current_module(module_name, class_name)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise StreamletLoadError(f"cannot import module {module_name!r} for {path!r}: {exc}") from None
    except Exception as exc:  # the module itself is broken: say so rather than crash verify
        raise StreamletLoadError(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    found = getattr(module, class_name, None)
    if found is None:
        streamlets = {n for n, v in vars(module).items() if inspect.isclass(v) and issubclass(v, Streamlet)}
        hint = did_you_mean(class_name, streamlets)
        raise StreamletLoadError(f"module {module_name!r} has no class {class_name!r}{hint}")
    if not (inspect.isclass(found) and issubclass(found, Streamlet)):
        raise StreamletLoadError(f"{path!r} is not a Streamlet subclass (Ingress, Processor or Egress)")
    if not found.kind:
        raise StreamletLoadError(f"{path!r} does not derive from Ingress, Processor or Egress")
    return found
