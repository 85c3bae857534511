"""Shared fixtures: an isolated sweep cache, and the build of the book that the tests check.

The book is built once per test session, in the profile named by
``LRNOTES_TEST_PROFILE``: ``full`` (the default, and what ``make test`` and CI
use) is the published book, whose chapter claims the ``claims`` tests assert;
``quick`` (``make test PROFILE=quick``) is a smoke run that checks that every
chapter executes and renders, and skips the claims, which only the published
numbers carry.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The profile of the book the tests build and check.
PROFILE = os.environ.get("LRNOTES_TEST_PROFILE", "full")
if PROFILE not in ("full", "quick"):
    sys.exit(f"LRNOTES_TEST_PROFILE must be 'full' or 'quick', got {PROFILE!r}")

#: Seconds allowed per notebook (the slowest full-profile chapter takes about two minutes alone).
NOTEBOOK_TIMEOUT = {"full": 900, "quick": 240}


def pytest_collection_modifyitems(config, items):
    """Claims are the published book's: they are skipped on a quick-profile smoke run."""
    if PROFILE == "full":
        return
    skip = pytest.mark.skip(reason="chapter claims are checked on the full profile (LRNOTES_TEST_PROFILE=full)")
    for item in items:
        if "claims" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Sweeps in tests never read or write the user's cache, and train in the test's process.

    ``LRNOTES_WORKERS=1``: a pool for every small sweep would cost more than it
    saves (and the ``counting`` fixture sees only runs trained here);
    ``tests/test_workers.py`` passes ``workers=`` itself.
    """
    folder = tmp_path_factory.mktemp("sweep-cache")
    previous = os.environ.get("LRNOTES_CACHE_DIR")
    os.environ["LRNOTES_CACHE_DIR"] = str(folder)
    os.environ["LRNOTES_PROGRESS"] = "0"
    os.environ["LRNOTES_WORKERS"] = "1"
    yield folder
    if previous is None:
        os.environ.pop("LRNOTES_CACHE_DIR", None)
    else:
        os.environ["LRNOTES_CACHE_DIR"] = previous


@pytest.fixture
def counting(monkeypatch):
    """The runs that sweeps actually train (not read from the cache), one count per stack."""
    import lrnotes.sweeps as sweeps

    trained: list[int] = []
    original = sweeps.train_stacked

    def wrapper(configs, seeds, **kwargs):
        trained.append(len(configs) * len(seeds))
        return original(configs, seeds, **kwargs)

    monkeypatch.setattr(sweeps, "train_stacked", wrapper)
    return trained


@pytest.fixture(scope="session")
def book_build(tmp_path_factory):
    """The whole book executed in the test profile and rendered to HTML, once.

    Returns the build report; the executed notebooks are in
    ``report.build_dir / "src" / "book"`` and the HTML in ``report.html``.
    For development, ``LRNOTES_TEST_BUILD=PATH`` reuses a build folder made by
    ``lrnotes build --build-dir PATH`` (in the test profile) instead of
    building, and ``LRNOTES_TEST_CHAPTERS=momentum,plateau`` executes only
    those chapters and renders no HTML (the browser test then fails or skips).
    """
    from lrnotes.build import BuildReport, build_book
    from lrnotes.chapters import chapters

    reuse = os.environ.get("LRNOTES_TEST_BUILD")
    if reuse:
        build_dir = Path(reuse).resolve()
        report = BuildReport(profile=PROFILE, html=build_dir / "html" if (build_dir / "html").is_dir() else None)
        report.seconds = {chapter.name: 0.0 for chapter in chapters(ROOT)
                          if (build_dir / "src" / chapter.path).is_file()}
        report.build_dir, report.log = build_dir, [f"reused {build_dir}"]
        return report
    build_dir = tmp_path_factory.mktemp(f"{PROFILE}-book")
    messages: list[str] = []
    only = [name for name in os.environ.get("LRNOTES_TEST_CHAPTERS", "").split(",") if name]
    report = build_book(ROOT, profile=PROFILE, build_dir=build_dir, timeout=NOTEBOOK_TIMEOUT[PROFILE],
                        log=messages.append, only=only or None, html=not only)
    report.build_dir = build_dir
    report.log = messages
    return report


@pytest.fixture(scope="session")
def executed(book_build):
    """``executed(name)``: the path of a chapter executed in the test profile."""

    def path(name: str) -> Path:
        found = book_build.build_dir / "src" / "book" / f"{name}.ipynb"
        assert found.is_file(), f"{name} was not executed; chapters: {sorted(book_build.seconds)}"
        return found

    return path


@pytest.fixture(scope="session")
def glued(executed):
    """``glued(name)``: the numbers a chapter glued, from its execution in the test profile."""
    from lrnotes.execute import glued_values

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
