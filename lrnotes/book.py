"""Build the book: execute every chapter with papermill, then run Jupyter Book.

The chapters are the notebooks listed in ``_toc.yml``. Each is executed in a
fresh kernel (a subprocess, so a per-notebook timeout can stop it) with the
chosen profile injected as a papermill parameter, into ``BUILD/src`` (a copy of
the book's sources), written atomically. Jupyter Book then renders
``BUILD/src`` with ``execute_notebooks: off`` and ``-n -W --keep-going`` into
``BUILD/html``. Any cell error, timeout or Sphinx warning fails the build with
a message naming the notebook and the cell.
"""

from __future__ import annotations

import concurrent.futures
import datetime as _dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import nbformat
import yaml

from lrnotes.settings import PROFILES

__all__ = [
    "BuildError",
    "Chapter",
    "build_book",
    "chapters",
    "execute_notebook",
    "find_root",
    "glued_values",
]

#: Per-notebook time limits (seconds) by profile.
TIMEOUTS = {"quick": 240, "full": 1800}

#: The page that the build writes its own report into.
BUILD_PAGE = "book/build.md"

_QUICK_NOTE = """:::{{note}}
This page was executed with the **{profile}** profile: fewer seeds, epochs and
sweep points than the published book, so its figures are noisier and its
numbers differ. See {{doc}}`build`.
:::
"""


class BuildError(RuntimeError):
    """A chapter failed to execute, timed out, or the HTML build failed."""


@dataclass(frozen=True)
class Chapter:
    """A notebook of the book."""

    name: str
    path: Path  # relative to the project root
    root: Path

    @property
    def source(self) -> Path:
        """The notebook's absolute path."""
        return self.root / self.path

    @property
    def title(self) -> str:
        notebook = nbformat.read(self.source, as_version=4) if self.source.exists() else None
        for cell in (notebook.cells if notebook else []):
            if cell.cell_type == "markdown":
                for line in cell.source.splitlines():
                    if line.startswith("# "):
                        return line[2:].strip()
        return self.name


@dataclass
class BuildReport:
    """What a build did, for the terminal and the build page."""

    profile: str
    seconds: dict[str, float] = field(default_factory=dict)
    settings: dict[str, dict] = field(default_factory=dict)
    html: Path | None = None
    total_seconds: float = 0.0


def find_root(start: str | os.PathLike | None = None) -> Path:
    """The project root: the nearest folder, from ``start`` upwards, with ``_toc.yml``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "_config.yml").is_file():
            return folder
    raise ValueError(f"no _toc.yml and _config.yml found in {here} or its parents: run this in the book's repository")


def _toc_files(entry) -> list[str]:
    files = []
    if isinstance(entry, dict):
        for key, value in entry.items():
            if key in ("file", "root") and isinstance(value, str):
                files.append(value)
            else:
                files.extend(_toc_files(value))
    elif isinstance(entry, list):
        for item in entry:
            files.extend(_toc_files(item))
    return files


def toc_documents(root: Path) -> list[str]:
    """Every document of ``_toc.yml``, in order, without suffixes."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    return _toc_files(toc)


def chapters(root: str | os.PathLike | None = None) -> list[Chapter]:
    """The notebooks of the book, in table-of-contents order."""
    root = find_root(root)
    found = []
    for document in toc_documents(root):
        path = Path(document)
        if path.suffix == "":
            path = path.with_suffix(".ipynb")
        if path.suffix == ".ipynb" and (root / path).is_file():
            found.append(Chapter(name=path.stem, path=path, root=root))
    return found


def chapter_by_name(name: str, root: Path) -> Chapter:
    """The chapter called ``name``; a ``ValueError`` lists the valid names otherwise."""
    known = chapters(root)
    for chapter in known:
        if chapter.name == name:
            return chapter
    raise ValueError(f"unknown chapter {name!r}; expected one of: {', '.join(c.name for c in known)}")


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of: {', '.join(PROFILES)}")


def _failure_message(notebook_path: Path, name: str) -> str:
    """Name the first cell that raised, with its error."""
    try:
        notebook = nbformat.read(notebook_path, as_version=4)
    except Exception:  # noqa: BLE001 - no notebook written at all
        return f"{name}: the notebook could not be executed (no output was written)"
    code_index = 0  # counted as in the source notebook: papermill's injected cell is not
    for cell in notebook.cells:
        if cell.cell_type != "code" or "injected-parameters" in cell.metadata.get("tags", []):
            continue
        code_index += 1
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                return (
                    f"{name}: code cell {code_index} ({first_line!r}) raised "
                    f"{output.get('ename')}: {output.get('evalue')}"
                )
    return f"{name}: execution failed before any cell raised (see the log above)"


def _postprocess(notebook_path: Path, profile: str) -> None:
    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    if profile != "full":
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
                notebook.cells.insert(index + 1, nbformat.v4.new_markdown_cell(_QUICK_NOTE.format(profile=profile)))
                break
    _write_atomically(notebook_path, nbformat.writes(notebook))


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def kernel_environment() -> dict[str, str]:
    """The environment of the kernels: quiet progress bars.

    The kernels use the sweep cache of :func:`lrnotes.cache.default_cache_dir`
    (``$LRNOTES_CACHE_DIR``, else the user's cache folder), the same one that
    notebooks run by hand use; ``lrnotes cache`` shows it.
    """
    env = dict(os.environ)
    env["LRNOTES_PROGRESS"] = "0"
    env.setdefault("PYTHONHASHSEED", "0")
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return env


def execute_notebook(
    source: Path, output: Path, *, profile: str, timeout: float, env: dict[str, str] | None = None
) -> float:
    """Execute ``source`` into ``output`` with papermill; return the seconds it took.

    The output is written to a temporary file and renamed into place only on
    success, so a failed or interrupted run leaves no half-executed notebook.

    Raises
    ------
    BuildError
        Naming the notebook and the cell that failed, or the timeout.
    """
    _check_profile(profile)
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.stem}-", suffix=".ipynb")
    os.close(handle)
    temporary = Path(temporary)
    command = [
        sys.executable, "-m", "papermill", str(source), str(temporary),
        "-r", "profile", profile,
        "--cwd", str(source.parent),
        "--kernel", "python3",
        "--no-progress-bar",
        "--no-log-output",
        "--execution-timeout", str(int(timeout)),
    ]
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
    )
    try:
        log, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        temporary.unlink(missing_ok=True)
        raise BuildError(f"{source.stem}: did not finish within {timeout:.0f} s (the per-notebook limit)") from None
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        temporary.unlink(missing_ok=True)
        raise
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        message = _failure_message(temporary, source.stem)
        temporary.unlink(missing_ok=True)
        tail = "\n".join(log.strip().splitlines()[-15:])
        raise BuildError(f"{message}\n--- papermill said (last lines) ---\n{tail}")
    try:
        _postprocess(temporary, profile)
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)
    return elapsed


def glued_values(notebook_path: str | os.PathLike) -> dict[str, object]:
    """The values glued with ``myst_nb.glue`` in an executed notebook.

    Plain values come back as Python objects (parsed from their ``repr``),
    anything else as its ``text/plain`` representation.
    """
    import ast

    notebook = nbformat.read(notebook_path, as_version=4)
    values: dict[str, object] = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            scrapbook = output.get("metadata", {}).get("scrapbook")
            if not scrapbook:
                continue
            prefix = scrapbook.get("mime_prefix", "")
            text = output.get("data", {}).get(f"{prefix}text/plain", "")
            if text in ("nan", "inf", "-inf"):
                values[scrapbook["name"]] = float(text)
                continue
            try:
                values[scrapbook["name"]] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                values[scrapbook["name"]] = text
    return values


def _versions() -> dict[str, str]:
    packages = ["tensorflow", "keras", "numpy", "pandas", "scikit-learn", "matplotlib", "papermill",
                "jupyter-book", "myst-nb", "sphinx"]
    found = {"python": platform.python_version()}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def _machine() -> dict[str, str]:
    processor = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                processor = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f"{pages / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        pass
    return {"system": platform.platform(), "processor": processor, "cores": str(os.cpu_count()), "memory": memory}


def build_page(report: BuildReport, chapter_list: list[Chapter]) -> str:
    """The Markdown of "How this book was built"."""
    lines = [
        "# How this book was built",
        "",
        "This page is written by the build itself (`lrnotes build`), so it always describes the",
        "pages you are reading.",
        "",
        f"- **Profile:** `{report.profile}`"
        + (" (the book's settings)." if report.profile == "full" else
           " (a smoke test: fewer seeds, epochs and sweep points than the published book)."),
        f"- **Built:** {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- **Notebook execution, all chapters:** {sum(report.seconds.values()):.0f} s of kernel time "
        f"({report.total_seconds:.0f} s of wall time).",
        "",
        "## Chapters",
        "",
        "| chapter | seeds | execution time |",
        "|---|---|---|",
    ]
    for chapter in chapter_list:
        settings = report.settings.get(chapter.name, {})
        seeds = settings.get("seeds", "—")
        seeds_text = ", ".join(str(seed) for seed in seeds) if isinstance(seeds, list) else str(seeds)
        lines.append(f"| {{doc}}`{chapter.path.with_suffix('').name}` | {seeds_text} | "
                     f"{report.seconds.get(chapter.name, float('nan')):.1f} s |")
    lines += ["", "## Software", "", "| package | version |", "|---|---|"]
    lines += [f"| {name} | {version} |" for name, version in _versions().items()]
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in _machine().items()]
    lines += [
        "",
        "TensorFlow runs on one CPU thread per kernel (`LRNOTES_THREADS`), with op determinism on,",
        "so the same seeds give the same numbers on the same software.",
        "",
    ]
    return "\n".join(lines)


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
    _check_profile(profile)
    root = find_root(root)
    build_dir = Path(build_dir) if build_dir else root / "_build"
    build_dir = build_dir.resolve()
    source_dir = build_dir / "src"
    chapter_list = chapters(root)
    if only:
        selected = [chapter_by_name(name, root) for name in only]
    else:
        selected = chapter_list
    jobs = jobs or min(2, os.cpu_count() or 1)
    if jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
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
    _write_atomically(source_dir / BUILD_PAGE, build_page(report, chapter_list))
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
