"""Profiles and notebook parameters: validated before any training."""

from __future__ import annotations

import pytest

import lrnotes as ln

FULL = {"seeds": [0, 1, 2], "epochs": 200, "learning_rates": [0.1, 0.01], "batch_size": 32}
QUICK = {"seeds": [0], "epochs": 5, "learning_rates": [0.1], "batch_size": 32}


def test_profiles_and_overrides():
    assert ln.choose("full", full=FULL, quick=QUICK).epochs == 200
    quick = ln.choose("quick", full=FULL, quick=QUICK, seeds=[3, 4], epochs=None)
    assert quick.seeds == [3, 4] and quick.epochs == 5 and quick.profile == "quick"
    assert dict(quick)["learning_rates"] == [0.1]
    with pytest.raises(AttributeError, match="read-only"):
        quick.epochs = 3
    with pytest.raises(AttributeError, match="no setting 'epoch'"):
        quick.epoch  # noqa: B018


@pytest.mark.parametrize(
    ("profile", "overrides", "message"),
    [
        ("fast", {}, "unknown profile 'fast'; expected one of: full, quick"),
        (None, {}, "unknown profile None"),
        ("full", {"seeds": "0,1"}, "seeds must be a non-empty list of non-negative integers"),
        ("full", {"seeds": []}, "seeds must be a non-empty list"),
        ("full", {"seeds": [0, 0]}, "seeds must be distinct"),
        ("full", {"seeds": [0.5]}, "seeds must be a non-empty list of non-negative integers"),
        ("full", {"epochs": 0}, "epochs must be a positive integer"),
        ("full", {"epochs": True}, "epochs must be a positive integer"),
        ("full", {"learning_rates": [0.1, -1]}, "learning_rates must be a positive number"),
        ("full", {"batch_size": -4}, "batch_size must be a positive integer or None"),
        ("full", {"momentum": 0.9}, "unknown parameter 'momentum'; this notebook accepts: profile, seeds"),
    ],
)
def test_bad_parameters_name_the_parameter(profile, overrides, message):
    with pytest.raises(ValueError, match=message):
        ln.choose(profile, full=FULL, quick=QUICK, **overrides)


def test_profiles_must_define_the_same_settings():
    with pytest.raises(ValueError, match="full and quick must define the same settings"):
        ln.choose("full", full=FULL, quick={"seeds": [0]})


def test_every_chapter_has_its_two_profiles_in_profiles_yml():
    from lrnotes.chapters import chapters
    from lrnotes.settings import chapter_profiles

    sections = chapter_profiles()
    assert set(sections) == {chapter.name for chapter in chapters()}
    for name, profiles in sections.items():
        assert set(profiles) == {"full", "quick"}, name
        assert set(profiles["full"]) == set(profiles["quick"]), name
        for profile in ("full", "quick"):
            ln.choose(profile, chapter=name)  # every value passes the checks


def test_choose_by_chapter_shows_one_line():
    settings = ln.choose("full", chapter="introduction", epochs=150)
    assert settings.epochs == 150
    line = settings.summary()
    assert "\n" not in line and line == settings._repr_markdown_()
    assert line.startswith("This run: the full profile, 5 seeds (0, 1, 2, 3, 4)")
    assert "epochs = 150" in line and "section `introduction` of `lrnotes/profiles.yml`" in line


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ln.choose("full", chapter="nope"), "unknown chapter 'nope'; profiles.yml has: "),
        (lambda: ln.choose("full", chapter="introduction", full={}, quick={}), "either chapter or full and quick"),
        (lambda: ln.choose("full"), "give the settings"),
    ],
)
def test_choose_by_chapter_rejects_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_the_profiles_file_is_not_part_of_the_package_revision():
    from lrnotes import environment

    names = {path.name for path in environment.package_files()}
    assert "profiles.yml" not in names and "settings.py" in names
