"""Shared fixtures: an isolated sweep cache, and the quick-profile build of the book."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Sweeps in tests never read or write the user's cache."""
    folder = tmp_path_factory.mktemp("sweep-cache")
    previous = os.environ.get("LRNOTES_CACHE_DIR")
    os.environ["LRNOTES_CACHE_DIR"] = str(folder)
    os.environ["LRNOTES_PROGRESS"] = "0"
    yield folder
    if previous is None:
        os.environ.pop("LRNOTES_CACHE_DIR", None)
    else:
        os.environ["LRNOTES_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def quick_book(tmp_path_factory):
    """The whole book executed with the quick profile and rendered to HTML, once.

    Returns the build report; the executed notebooks are in
    ``report.build_dir / "src" / "book"`` and the HTML in ``report.html``.
    """
    from lrnotes.book import build_book

    build_dir = tmp_path_factory.mktemp("quick-book")
    messages: list[str] = []
    # For development: LRNOTES_TEST_CHAPTERS=momentum,plateau executes only those
    # chapters and renders no HTML (the browser test then fails or skips).
    only = [name for name in os.environ.get("LRNOTES_TEST_CHAPTERS", "").split(",") if name]
    report = build_book(ROOT, profile="quick", build_dir=build_dir, timeout=150, log=messages.append,
                        only=only or None, html=not only)
    report.build_dir = build_dir
    report.log = messages
    return report


@pytest.fixture(scope="session")
def executed(quick_book):
    """``executed(name)``: the path of a chapter executed in the quick profile."""

    def path(name: str) -> Path:
        found = quick_book.build_dir / "src" / "book" / f"{name}.ipynb"
        assert found.is_file(), f"{name} was not executed; chapters: {sorted(quick_book.seconds)}"
        return found

    return path


@pytest.fixture(scope="session")
def glued(executed):
    """``glued(name)``: the numbers a chapter glued, from its quick-profile execution."""
    from lrnotes.book import glued_values

    cache: dict[str, dict] = {}

    def values(name: str) -> dict:
        if name not in cache:
            cache[name] = glued_values(executed(name))
        return cache[name]

    return values


@pytest.fixture(scope="module")
def values(request, glued):
    """The glued numbers of the chapter named by the test module's ``CHAPTER``."""
    return glued(request.module.CHAPTER)


@pytest.fixture(scope="session")
def as_epochs():
    """Read a glued epoch count; a threshold never reached (glued as NaN) counts as infinitely late."""

    def convert(value) -> float:
        number = float(value)
        return math.inf if math.isnan(number) else number

    return convert
