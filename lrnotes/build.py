"""Build the book: execute the chapters that changed, reuse the others, then run Jupyter Book.

The chapters are the notebooks listed in ``_toc.yml`` (:mod:`lrnotes.chapters`).
``BUILD/src`` holds a copy of the book's sources, updated file by file: only
files whose content changed are written, so an unchanged file keeps its
modification time. Each chapter is executed (:mod:`lrnotes.execute`) with the
chosen profile, two at a time by default and the slowest first (by the times
of the last build, :func:`longest_first`), unless the
notebook cache (:mod:`lrnotes.notebook_cache`) holds an execution of the same
code with the same profile, package, settings and software: then that
executed notebook is reused with the chapter's current Markdown and cell
metadata (``rerun=True``, ``lrnotes build --rerun``, executes every chapter).
The build writes the page "How this book was built" (:mod:`lrnotes.build_page`),
then Jupyter Book renders ``BUILD/src`` with ``execute_notebooks: off`` and
``-n -W --keep-going`` into ``BUILD/html`` (:func:`render_html`), keeping
Sphinx's environment between builds so that only changed pages are read again.
Any cell error, timeout or Sphinx warning fails the build with a message naming
the notebook and the cell.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from lrnotes import validation
from lrnotes.build_page import build_page
from lrnotes.chapters import Chapter, chapter_by_name, chapters, find_root
from lrnotes.execute import (BuildError, execute_notebook, finish_notebook, glued_values, kernel_environment,
                             write_if_changed)
from lrnotes.notebook_cache import NotebookCache, execution_environment, execution_key, merge_prose
from lrnotes.settings import PROFILES

__all__ = ["BUILD_PAGE", "RENDER_PACKAGES", "TIMEOUTS", "BuildReport", "build_book", "longest_first", "render_html"]

#: Per-notebook time limits (seconds) by profile.
TIMEOUTS = {"quick": 240, "full": 1800}

#: The page that the build writes its own report into.
BUILD_PAGE = "book/build.md"

#: Distributions that turn the executed sources into HTML: a change of any
#: of them (or of the package, whose Sphinx extension takes part) renders
#: every page from scratch.
RENDER_PACKAGES = ("jupyter-book", "sphinx", "myst-nb", "myst-parser", "sphinx-book-theme", "pydata-sphinx-theme",
                   "sphinxcontrib-bibtex", "sphinx-external-toc", "sphinx-mathjax-offline", "docutils", "nbformat")

#: Files and folders of the book that are not copied into ``BUILD/src``.
_IGNORED = (".ipynb_checkpoints", "__pycache__", "_build")


@dataclass
class BuildReport:
    """What a build did, for the terminal and the build page.

    ``seconds`` holds every chapter's execution time: this build's for the
    chapters executed now, the stored execution's for those reused
    (``reused`` maps them to when that execution ran, ISO 8601 UTC).
    """

    profile: str
    seconds: dict[str, float] = field(default_factory=dict)
    settings: dict[str, dict] = field(default_factory=dict)
    html: Path | None = None
    total_seconds: float = 0.0
    reused: dict[str, str] = field(default_factory=dict)

    @property
    def executed(self) -> dict[str, float]:
        """The chapters executed by this build, with their times."""
        return {name: seconds for name, seconds in self.seconds.items() if name not in self.reused}


def longest_first(names: Sequence[str], seconds: Mapping[str, float]) -> list[str]:
    """``names`` in the order to start them: unknown ones first (in their order), then the slowest.

    A chapter without a recorded time may be the slowest of all, so it starts
    at once; the others start longest first (ties in their given order), which
    keeps the slowest chapter off the end of the build.

    Examples
    --------
    >>> longest_first(["intro", "images", "momentum", "new"], {"intro": 15.0, "images": 181.0, "momentum": 50.0})
    ['new', 'images', 'momentum', 'intro']
    """
    known = [name for name in names if isinstance(seconds.get(name), (int, float))]
    unknown = [name for name in names if name not in known]
    return unknown + sorted(known, key=lambda name: -float(seconds[name]))


def _book_files(root: Path) -> dict[str, Path]:
    """The files ``BUILD/src`` mirrors, by path relative to the root."""
    files = {name: root / name for name in ("_config.yml", "_toc.yml")}
    book = root / "book"
    for path in sorted(book.rglob("*")):
        relative = path.relative_to(book)
        if path.is_file() and not any(part in _IGNORED or part.startswith(".") for part in relative.parts):
            files[f"book/{relative.as_posix()}"] = path
    return files


def _copy_if_changed(source: Path, target: Path) -> bool:
    """Copy ``source`` to ``target`` unless it holds the same bytes (a new copy gets a new mtime)."""
    data = source.read_bytes()
    try:
        if target.read_bytes() == data:
            return False
    except OSError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.copy")
    temporary.write_bytes(data)
    os.replace(temporary, target)
    return True


def _copy_sources(root: Path, source_dir: Path, keep: set[str] = frozenset(),
                  generated: set[str] = frozenset()) -> None:
    """Bring ``source_dir`` up to date with the book's sources, file by file.

    Only files whose content changed are written; unchanged ones keep their
    modification time (so Sphinx does not read them again), and files no
    longer in the book are removed (a removed or renamed page does not
    linger). Executed notebooks named in ``keep`` (chapters not executed this
    time) survive, so ``lrnotes run A`` then ``lrnotes run B`` leaves both
    executed; the files in ``generated`` (relative paths: the chapters this
    build executes and the build page) are left to the build to write.
    Jupyter Book's output (``source_dir/_build``) is kept.
    """
    source_dir.mkdir(parents=True, exist_ok=True)
    files = _book_files(root)
    kept = {f"book/{name}.ipynb" for name in keep}
    for relative, path in files.items():
        target = source_dir / relative
        if relative in generated or (relative in kept and target.is_file()):
            continue
        _copy_if_changed(path, target)
    wanted = set(files) | set(generated)
    for path in sorted(source_dir.rglob("*"), reverse=True):  # files before their folders
        relative = path.relative_to(source_dir)
        if relative.parts[0] == "_build":
            continue
        if path.is_file() or path.is_symlink():
            if relative.as_posix() not in wanted:
                path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def build_book(
    root: str | os.PathLike | None = None,
    *,
    profile: str = "full",
    build_dir: str | os.PathLike | None = None,
    jobs: int | None = None,
    timeout: float | None = None,
    only: list[str] | None = None,
    html: bool = True,
    rerun: bool = False,
    cache: NotebookCache | None = None,
    log=print,
) -> BuildReport:
    """Execute the chapters (or reuse their executions) and build the HTML book.

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
    rerun : bool, default False
        Execute every selected chapter even when the notebook cache holds an
        execution of the same code (the new executions are stored).
    cache : NotebookCache, optional
        The notebook cache (default: ``notebooks`` in the sweep cache,
        :func:`lrnotes.notebook_cache.default_notebook_cache_dir`).

    Raises
    ------
    ValueError
        For an unknown profile or chapter.
    BuildError
        When a notebook fails or times out, or Jupyter Book reports a warning.
    """
    validation.one_of("profile", profile, PROFILES)
    if not isinstance(rerun, bool):
        raise TypeError(f"rerun must be True or False, got {rerun!r}")
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
    store = cache if cache is not None else NotebookCache()
    report = BuildReport(profile=profile)
    not_executed = {chapter.name for chapter in chapter_list} - {chapter.name for chapter in selected}
    generated = {chapter.path.as_posix() for chapter in selected} | {BUILD_PAGE}
    _copy_sources(root, source_dir, keep=not_executed if only else set(), generated=generated)
    env = kernel_environment(jobs)
    start = time.perf_counter()
    environment = execution_environment(root / "book", env)
    keys: dict[str, str] = {}
    sources: dict[str, nbformat.NotebookNode] = {}
    finished: dict[str, str] = {}  # executed this build, as a reused execution would show them
    to_execute: list[Chapter] = []
    for chapter in selected:
        source = sources[chapter.name] = nbformat.read(chapter.source, as_version=4)
        keys[chapter.name] = execution_key(source, chapter=chapter.name, profile=profile, environment=environment)
        stored = None if rerun else store.get(keys[chapter.name])
        if stored is not None:
            try:
                merged = merge_prose(stored.notebook, source)
            except ValueError:
                stored = None
        if stored is None:
            to_execute.append(chapter)
            continue
        write_if_changed(source_dir / chapter.path, finish_notebook(merged, profile))
        report.seconds[chapter.name] = stored.seconds
        report.reused[chapter.name] = stored.executed_at
        _read_settings(report, chapter, source_dir)
    last = store.last_times(profile)
    by_name = {chapter.name: chapter for chapter in to_execute}
    order = longest_first([chapter.name for chapter in to_execute],
                          {name: last[by_name[name].path.as_posix()] for name in by_name
                           if by_name[name].path.as_posix() in last})
    log(f"lrnotes build: profile {profile}, {len(order)} notebook(s) to execute, {jobs} at a time, "
        f"limit {timeout:.0f} s each; {len(report.reused)} reused unchanged"
        + (" (--rerun: none reused)" if rerun else ""))
    chapter_of = {chapter.name: chapter for chapter in selected}
    for name in report.reused:
        log(f"  reused {chapter_of[name].path} "
            f"(executed {report.reused[name]} in {report.seconds[name]:.1f} s; its code, profile, package "
            f"and software are unchanged)")
    failures: list[str] = []
    executed_times: dict[str, float] = {}

    def storer(chapter: Chapter):
        def store_execution(text: str, seconds: float) -> None:
            # The page is the merge that a later reuse gives, to the byte: reusing it rewrites nothing.
            # An edit of the chapter's code, of the package (or its settings, the data) while the chapter
            # ran: the key, computed before, may not describe what ran. Such an execution is not stored.
            try:
                finished[chapter.name] = finish_notebook(merge_prose(nbformat.reads(text, as_version=4),
                                                                     sources[chapter.name]), profile)
            except ValueError:
                log(f"  not storing {chapter.path}: its code changed during the build")
                return
            if execution_environment(root / "book", env) != environment:
                log(f"  not storing {chapter.path}: the package, its settings or the data changed during the build")
                return
            store.put(keys[chapter.name], text, seconds=seconds, chapter=chapter.name, profile=profile)
        return store_execution

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {}
        for name in order:
            chapter = by_name[name]
            log(f"  executing {chapter.path} ...")
            futures[pool.submit(execute_notebook, root / chapter.path, source_dir / chapter.path,
                                profile=profile, timeout=timeout, env=env, on_success=storer(chapter))] = chapter
        for future in concurrent.futures.as_completed(futures):
            chapter = futures[future]
            try:
                report.seconds[chapter.name] = future.result()
                if chapter.name in finished:
                    write_if_changed(source_dir / chapter.path, finished[chapter.name])
            except BuildError as error:
                failures.append(str(error))
                log(f"  FAILED {chapter.path}: {str(error).splitlines()[0]}")
                continue
            executed_times[chapter.path.as_posix()] = report.seconds[chapter.name]
            _read_settings(report, chapter, source_dir)
            log(f"  done {chapter.path} in {report.seconds[chapter.name]:.1f} s")
    report.total_seconds = time.perf_counter() - start
    store.record_times(profile, executed_times)
    if failures:
        raise BuildError("notebook execution failed:\n" + "\n".join(failures))
    log(f"executed {len(order)} notebook(s) in {report.total_seconds:.1f} s"
        + (f", reused {len(report.reused)}" if report.reused else ""))
    report.seconds = {chapter.name: report.seconds[chapter.name] for chapter in chapter_list
                      if chapter.name in report.seconds}  # in the order of the book
    write_if_changed(source_dir / BUILD_PAGE, build_page(report, chapter_list))
    if html:
        report.html = render_html(source_dir, build_dir / "html", log=log)
    return report


def _read_settings(report: BuildReport, chapter: Chapter, source_dir: Path) -> None:
    settings_text = glued_values(source_dir / chapter.path).get("lrnotes_settings")
    if isinstance(settings_text, str):
        try:
            report.settings[chapter.name] = json.loads(settings_text)
        except json.JSONDecodeError:
            pass


def _render_fingerprint(source_dir: Path) -> str:
    """What every rendered page depends on besides its own source: tools, package, configuration."""
    from lrnotes.environment import package_revision, versions

    described = {
        "versions": versions(RENDER_PACKAGES),
        "package": package_revision(),
        "config": [hashlib.sha256((source_dir / name).read_bytes()).hexdigest() for name in ("_config.yml", "_toc.yml")],
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode("utf-8")).hexdigest()


def render_html(source_dir: Path, html_dir: Path, *, fresh: bool = False, log=print) -> Path:
    """Run Jupyter Book on the executed sources; move the HTML to ``html_dir``.

    Sphinx's environment (``source_dir/_build/.doctrees``) is kept between
    renders, so a page whose source did not change is not read again; every
    page is still written, into an empty folder, so cross-references, figure
    numbers and the navigation always reflect the whole book and a removed page
    leaves no HTML behind. The environment is discarded, and every page read
    again (Jupyter Book's ``--all``), when ``fresh`` is set, when the last
    render failed or did not finish (a warning of an unchanged page is then
    repeated, never hidden), or when Jupyter Book, Sphinx, their extensions,
    the package, ``_config.yml`` or ``_toc.yml`` changed.
    """
    output = source_dir / "_build"
    state = output / "lrnotes-render.json"
    fingerprint = _render_fingerprint(source_dir)
    try:
        previous = json.loads(state.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        previous = None
    incremental = not fresh and previous == fingerprint
    if not incremental and output.exists():
        shutil.rmtree(output)
    state.unlink(missing_ok=True)  # written back only after a render without warnings
    if (output / "html").exists():
        shutil.rmtree(output / "html")
    command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(source_dir),
               "--warningiserror", "--nitpick", "--keep-going", "--quiet"]
    if not incremental:
        command.append("--all")
    log("rendering HTML with Jupyter Book"
        + (" (pages unchanged since the last render are not read again) ..." if incremental else ", every page ..."))
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    output_text = (result.stdout + result.stderr).strip()
    built = output / "html"
    if result.returncode != 0:
        shutil.rmtree(output, ignore_errors=True)  # the next render reads every page and repeats every warning
        raise BuildError(f"Jupyter Book failed (warnings are errors):\n{output_text[-6000:]}")
    if not (built / "index.html").is_file():
        shutil.rmtree(output, ignore_errors=True)
        raise BuildError(f"Jupyter Book produced no index.html in {built}:\n{output_text[-3000:]}")
    # The root index.html is Jupyter Book's redirect page, which names no icon:
    # a browser then asks for /favicon.ico, and a 404 there is a console error.
    if (built / "_static" / "favicon.png").is_file() and not (built / "favicon.ico").exists():
        shutil.copyfile(built / "_static" / "favicon.png", built / "favicon.ico")
    if html_dir.exists():
        shutil.rmtree(html_dir)
    html_dir.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(built), str(html_dir))
    state.write_text(json.dumps({"fingerprint": fingerprint}), encoding="utf-8")
    log(f"HTML written to {html_dir} in {time.perf_counter() - start:.1f} s")
    return html_dir
