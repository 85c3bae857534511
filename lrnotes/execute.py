"""Execute one chapter with papermill, atomically, and read the numbers it glued.

Each notebook runs in a fresh kernel (a subprocess, so a per-notebook timeout
can stop it) with the profile injected as a papermill parameter. The output
is written to a temporary file and renamed into place only on success; a
failure names the notebook and the cell, counted as in the source notebook.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat

from lrnotes import validation
from lrnotes.settings import PROFILES
from lrnotes.workers import workers_for_jobs

__all__ = ["BuildError", "execute_notebook", "finish_notebook", "glued_values", "kernel_environment",
           "write_atomically", "write_if_changed"]

_QUICK_NOTE = """:::{{note}}
This page was executed with the **{profile}** profile: fewer seeds, epochs and
sweep points than the published book, so its figures are noisier and its
numbers differ. See {{doc}}`build`.
:::
"""


class BuildError(RuntimeError):
    """A chapter failed to execute, timed out, or the HTML build failed."""


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
    write_atomically(notebook_path, finish_notebook(nbformat.read(notebook_path, as_version=4), profile))


def finish_notebook(notebook: nbformat.NotebookNode, profile: str) -> str:
    """The text of an executed notebook as the book shows it (changes ``notebook`` in place).

    Papermill's injected parameters cell is hidden, and a page executed with a
    profile other than ``full`` gets a note under its title.
    """
    validation.one_of("profile", profile, PROFILES)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    if profile != "full":
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
                note = nbformat.v4.new_markdown_cell(_QUICK_NOTE.format(profile=profile))
                note.id = f"lrnotes-{profile}-note"  # a fixed id: the same notebook gives the same text
                notebook.cells.insert(index + 1, note)
                break
    return nbformat.writes(notebook)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` (atomically) unless the file holds it already; True if written.

    An unchanged file keeps its modification time, so Sphinx does not read it again.
    """
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    write_atomically(path, text)
    return True


def kernel_environment(jobs: int | None = None) -> dict[str, str]:
    """The environment of the kernels: quiet progress bars, explorers without inline scripts.

    The kernels use the sweep cache of :func:`lrnotes.cache.default_cache_dir`
    (``$LRNOTES_CACHE_DIR``, else the user's cache folder), the same one that
    notebooks run by hand use; ``lrnotes cache`` shows it. With ``jobs``
    kernels at once, each kernel's sweeps get ``LRNOTES_WORKERS`` =
    ``max(1, cores // jobs)`` worker processes
    (:func:`lrnotes.workers.workers_for_jobs`), so jobs x workers never
    exceeds the cores.

    Examples
    --------
    >>> kernel_environment(jobs=os.cpu_count() or 1)["LRNOTES_WORKERS"]
    '1'
    """
    env = dict(os.environ)
    if jobs is not None:
        env["LRNOTES_WORKERS"] = str(workers_for_jobs(jobs))
    env["LRNOTES_PROGRESS"] = "0"
    env.setdefault("PYTHONHASHSEED", "0")
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    env["LRNOTES_EXPLORE_SCRIPTS"] = "site"  # the book's pages load the explorers' scripts themselves
    return env


def execute_notebook(
    source: Path, output: Path, *, profile: str, timeout: float, env: dict[str, str] | None = None,
    on_success: Callable[[str, float], None] | None = None,
) -> float:
    """Execute ``source`` into ``output`` with papermill; return the seconds it took.

    The output is written to a temporary file and renamed into place only on
    success, so a failed or interrupted run leaves no half-executed notebook.
    ``on_success(text, seconds)``, when given, receives papermill's executed
    notebook (before :func:`finish_notebook`) after a run without error, and
    only then: the build stores it in the notebook cache.

    Raises
    ------
    BuildError
        Naming the notebook and the cell that failed, or the timeout.
    """
    validation.one_of("profile", profile, PROFILES)
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
        if on_success is not None:
            on_success(temporary.read_text(encoding="utf-8"), elapsed)
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
