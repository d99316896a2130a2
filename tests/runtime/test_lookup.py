from pathlib import Path

import pytest

from inferstream.runtime.lookup import BlueprintNotFound, find_blueprint, packaged_blueprints


def test_a_path_wins_and_packaged_blueprints_are_found_by_name(tmp_path: Path) -> None:
    own = tmp_path / "mine.yaml"
    own.write_text("name: mine\n")
    assert find_blueprint(own) == own
    shipped = packaged_blueprints()
    assert shipped, "the apps ship blueprints in inferstream/apps/*/blueprints"
    for name, path in shipped.items():
        assert find_blueprint(name) == path and path.stem == name and path.parent.name == "blueprints"


def test_an_unknown_name_lists_what_is_packaged() -> None:
    with pytest.raises(
        BlueprintNotFound, match=r"no blueprint file or packaged blueprint named 'nope' \(packaged: "
    ):
        find_blueprint("nope")


def test_packaged_blueprints_come_from_the_entry_point_group() -> None:
    from importlib import metadata

    registered = {e.value for e in metadata.entry_points(group="inferstream.blueprints")}
    assert {"inferstream.apps.fraud", "inferstream.apps.recommender"} <= registered
    assert {"fraud-grpc", "fraud-embedded", "recommender-rest"} <= set(packaged_blueprints())
