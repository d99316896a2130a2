"""Blueprints written for 0.1 name streamlet classes at their old paths: they still load, with a warning."""

from __future__ import annotations

import pytest

from inferstream.apps.examples import Doubler
from inferstream.runtime import moved_classes
from inferstream.runtime.loading import load_streamlet_class
from inferstream.serving import ModelServing


@pytest.mark.parametrize(
    ("old", "new", "cls"),
    [
        ("inferstream.executors.streamlet:ModelServing", "inferstream.serving:ModelServing", ModelServing),
        ("inferstream.runtime.examples.Doubler", "inferstream.apps.examples:Doubler", Doubler),
    ],
)
def test_an_old_class_path_loads_the_moved_class_with_a_hint(
    old: str, new: str, cls: type, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(moved_classes, "_told", set())
    with pytest.warns(DeprecationWarning, match=new):
        assert load_streamlet_class(old) is cls
    assert new in caplog.text  # also in the log: Python hides DeprecationWarnings from a user's run


def test_current_class_paths_load_without_a_warning(recwarn: pytest.WarningsRecorder) -> None:
    assert load_streamlet_class("inferstream.serving:ModelServing") is ModelServing
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]
