"""Build the book: execute every chapter with papermill, then run Jupyter Book.

The chapters are the notebooks listed in ``_toc.yml`` (:mod:`lrnotes.chapters`).
Each is executed (:mod:`lrnotes.execute`) with the chosen profile into
``BUILD/src`` (a copy of the book's sources), two at a time by default. The
build writes the page "How this book was built" (:mod:`lrnotes.build_page`),
then Jupyter Book renders ``BUILD/src`` with ``execute_notebooks: off`` and
``-n -W --keep-going`` into ``BUILD/html``. Any cell error, timeout or Sphinx
warning fails the build with a message naming the notebook and the cell.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lrnotes import validation
from lrnotes.build_page import build_page
from lrnotes.chapters import chapter_by_name, chapters, find_root
from lrnotes.execute import BuildError, execute_notebook, glued_values, kernel_environment, write_atomically
from lrnotes.settings import PROFILES

__all__ = ["BUILD_PAGE", "TIMEOUTS", "BuildReport", "build_book", "render_html"]

#: Per-notebook time limits (seconds) by profile.
TIMEOUTS = {"quick": 240, "full": 1800}

#: The page that the build writes its own report into.
BUILD_PAGE = "book/build.md"


@dataclass
class BuildReport:
    """What a build did, for the terminal and the build page."""

    profile: str
    seconds: dict[str, float] = field(default_factory=dict)
    settings: dict[str, dict] = field(default_factory=dict)
    html: Path | None = None
    total_seconds: float = 0.0


def _copy_sources(root: Path, source_dir: Path, keep: set[str] = frozenset()) -> None:
    """Copy the book's sources into ``source_dir``.

    Executed notebooks named in ``keep`` (chapters not being executed this
    time) survive, so ``lrnotes run A`` then ``lrnotes run B`` leaves both
    executed; everything else is replaced.
    """
    kept: dict[str, str] = {}
    for name in keep:
        path = source_dir / "book" / f"{name}.ipynb"
        if path.is_file():
            kept[name] = path.read_text(encoding="utf-8")
    if source_dir.exists():
        shutil.rmtree(source_dir)
    source_dir.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, source_dir / name)
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "_build", ".*")
    shutil.copytree(root / "book", source_dir / "book", ignore=ignore)
    for name, text in kept.items():
        (source_dir / "book" / f"{name}.ipynb").write_text(text, encoding="utf-8")


def build_book(
    root: str | os.PathLike | None = None,
    *,
    profile: str = "full",
    build_dir: str | os.PathLike | None = None,
    jobs: int | None = None,
    timeout: float | None = None,
    only: list[str] | None = None,
    html: bool = True,
    log=print,
) -> BuildReport:
    """Execute the chapters and build the HTML book.

    Parameters
    ----------
    root : path, optional
        The project root (found from the current folder when omitted).
    profile : {"full", "quick"}
        The profile injected into every notebook.
    build_dir : path, optional
        Where the executed sources (``src``) and the
        HTML (``html``) go; default ``ROOT/_build``.
    jobs : int, optional
        Notebooks executed at once (default: the number of CPU cores, at most 2).
    timeout : float, optional
        Seconds allowed per notebook (default :data:`TIMEOUTS` of the profile).
    only : list of str, optional
        Execute only these chapters (the others are copied unexecuted).
    html : bool, default True
        Run Jupyter Book after executing.

    Raises
    ------
    ValueError
        For an unknown profile or chapter.
    BuildError
        When a notebook fails or times out, or Jupyter Book reports a warning.
    """
    validation.one_of("profile", profile, PROFILES)
    root = find_root(root)
    build_dir = Path(build_dir) if build_dir else root / "_build"
    build_dir = build_dir.resolve()
    source_dir = build_dir / "src"
    chapter_list = chapters(root)
    if only:
        selected = [chapter_by_name(name, root) for name in only]
    else:
        selected = chapter_list
    jobs = validation.integer("jobs", jobs if jobs is not None else min(2, os.cpu_count() or 1))
    timeout = timeout or TIMEOUTS[profile]
    report = BuildReport(profile=profile)
    not_executed = {chapter.name for chapter in chapter_list} - {chapter.name for chapter in selected}
    _copy_sources(root, source_dir, keep=not_executed if only else set())
    env = kernel_environment()
    log(f"lrnotes build: profile {profile}, {len(selected)} notebook(s), {jobs} at a time, "
        f"limit {timeout:.0f} s each")
    start = time.perf_counter()
    failures: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {}
        for chapter in selected:
            log(f"  executing {chapter.path} ...")
            futures[pool.submit(execute_notebook, root / chapter.path, source_dir / chapter.path,
                                profile=profile, timeout=timeout, env=env)] = chapter
        for future in concurrent.futures.as_completed(futures):
            chapter = futures[future]
            try:
                report.seconds[chapter.name] = future.result()
            except BuildError as error:
                failures.append(str(error))
                log(f"  FAILED {chapter.path}: {str(error).splitlines()[0]}")
                continue
            settings_text = glued_values(source_dir / chapter.path).get("lrnotes_settings")
            if isinstance(settings_text, str):
                try:
                    report.settings[chapter.name] = json.loads(settings_text)
                except json.JSONDecodeError:
                    pass
            log(f"  done {chapter.path} in {report.seconds[chapter.name]:.1f} s")
    report.total_seconds = time.perf_counter() - start
    if failures:
        raise BuildError("notebook execution failed:\n" + "\n".join(failures))
    log(f"executed {len(selected)} notebook(s) in {report.total_seconds:.1f} s")
    write_atomically(source_dir / BUILD_PAGE, build_page(report, chapter_list))
    if html:
        report.html = render_html(source_dir, build_dir / "html", log=log)
    return report


def render_html(source_dir: Path, html_dir: Path, *, log=print) -> Path:
    """Run Jupyter Book on the executed sources; move the HTML to ``html_dir``."""
    command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(source_dir), "--all",
               "--warningiserror", "--nitpick", "--keep-going", "--quiet"]
    log("rendering HTML with Jupyter Book ...")
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise BuildError(f"Jupyter Book failed (warnings are errors):\n{output[-6000:]}")
    built = source_dir / "_build" / "html"
    if not (built / "index.html").is_file():
        raise BuildError(f"Jupyter Book produced no index.html in {built}:\n{output[-3000:]}")
    # The root index.html is Jupyter Book's redirect page, which names no icon:
    # a browser then asks for /favicon.ico, and a 404 there is a console error.
    if (built / "_static" / "favicon.png").is_file() and not (built / "favicon.ico").exists():
        shutil.copyfile(built / "_static" / "favicon.png", built / "favicon.ico")
    if html_dir.exists():
        shutil.rmtree(html_dir)
    html_dir.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(built), str(html_dir))
    log(f"HTML written to {html_dir} in {time.perf_counter() - start:.1f} s")
    return html_dir
