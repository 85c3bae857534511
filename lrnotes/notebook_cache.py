"""Executed chapters, kept so that a rebuild re-executes only the chapters whose results can change.

A chapter's executed notebook is a function of its code cells (their source,
in order, and the tags that change how papermill runs them), of the profile
injected into it, of the package (its whole source), of the chapter's
settings in ``profiles.yml``, of the software that runs it (the arithmetic
packages of the sweep cache and those that shape its outputs: pandas,
matplotlib, myst-nb, papermill, the kernel), of the numeric environment of
the kernel (the variables the sweep cache keys on, and the hash seed), of the
processor, and of the data files next to the chapters. :func:`execution_key`
hashes all of it; its Markdown cells and cell metadata (captions, tags such
as ``hide-input``) are left out, so a change to the prose reuses the
executed notebook and :func:`merge_prose` puts the new prose into it.

Entries live in ``<sweep cache>/notebooks`` (:func:`default_notebook_cache_dir`),
one JSON file each with a sha256 of the notebook it holds, written to a
temporary file and renamed into place, as :class:`lrnotes.cache.ResultCache`
does: a damaged or half-written entry counts as missing and is recomputed.
Only successful executions are stored (:mod:`lrnotes.build` stores them after
papermill returned without error). The same folder holds the last execution
time of every chapter (:meth:`NotebookCache.last_times`): the build starts
the slowest chapters first.

This is the idea of Jupyter Book's own execution cache, ``jupyter-cache``, in
a small module: ``jupyter-cache`` keys a notebook on its code cells and
kernel only (not the profile, package or software), keeps its entries in one
SQLite database, and knows nothing of papermill's injected parameters cell.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import nbformat

from lrnotes import environment

__all__ = [
    "EXECUTION_TAGS",
    "KERNEL_VARIABLES",
    "OUTPUT_PACKAGES",
    "CachedExecution",
    "NotebookCache",
    "default_notebook_cache_dir",
    "execution_environment",
    "execution_key",
    "merge_prose",
]

_FORMAT = 1

#: Cell tags that change how a code cell is executed: they enter the key (other tags only change the display).
EXECUTION_TAGS = frozenset({"parameters", "raises-exception", "skip-execution"})

#: Distributions that shape a notebook's outputs besides :data:`lrnotes.environment.ARITHMETIC_PACKAGES`.
OUTPUT_PACKAGES = ("scipy", "pandas", "matplotlib", "myst-nb", "papermill", "ipykernel", "ipython", "nbformat",
                   "nbclient", "jupyter-client", "pyyaml", "plotly")

#: The kernel's environment variables that can change what a chapter computes or prints.
KERNEL_VARIABLES = (*environment.NUMERIC_VARIABLES, "PYTHONHASHSEED", "MPLBACKEND", "TF_CPP_MIN_LOG_LEVEL",
                    "LRNOTES_PROGRESS", "LRNOTES_EXPLORE_SCRIPTS")

#: Files next to the chapters that are the book's text, not data a chapter can read.
_TEXT_SUFFIXES = frozenset({".ipynb", ".md", ".bib"})


def default_notebook_cache_dir() -> Path:
    """``notebooks`` inside the sweep cache (:func:`lrnotes.cache.default_cache_dir`).

    Examples
    --------
    >>> import os
    >>> os.environ["LRNOTES_CACHE_DIR"] = "/tmp/my-cache"
    >>> str(default_notebook_cache_dir())
    '/tmp/my-cache/notebooks'
    >>> del os.environ["LRNOTES_CACHE_DIR"]
    """
    from lrnotes.cache import default_cache_dir

    return default_cache_dir() / "notebooks"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _profile_sections() -> dict[str, Any]:
    """Every section of the package's ``profiles.yml``, read now (not the kernel's cached copy)."""
    import yaml

    text = resources.files("lrnotes").joinpath("profiles.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}


def _data_files(book_dir: Path) -> dict[str, str]:
    """sha256 of every file under ``book_dir`` that is not text of the book (``_static`` aside)."""
    found = {}
    if book_dir.is_dir():
        for path in sorted(book_dir.rglob("*")):
            relative = path.relative_to(book_dir)
            if (not path.is_file() or path.suffix in _TEXT_SUFFIXES or relative.parts[0] == "_static"
                    or any(part.startswith(".") or part in ("_build", "__pycache__") for part in relative.parts)):
                continue
            found[relative.as_posix()] = _sha256(path.read_bytes())
    return found


def execution_environment(book_dir: str | os.PathLike, kernel_env: Mapping[str, str] | None = None) -> dict:
    """Everything besides a chapter's code and profile that its executed notebook depends on.

    Computed once per build, without TensorFlow: the kernel's numeric settings
    follow from the package and the variables of :data:`KERNEL_VARIABLES`.

    Parameters
    ----------
    book_dir : path
        The folder of the chapters (its data files enter the environment).
    kernel_env : mapping, optional
        The kernels' environment variables (default: this process's).

    Examples
    --------
    >>> import tempfile
    >>> sorted(execution_environment(tempfile.mkdtemp()))
    ['data', 'devices', 'package', 'processor', 'profiles', 'python', 'software', 'variables']
    """
    kernel_env = os.environ if kernel_env is None else kernel_env
    return {
        "package": environment.package_revision(),
        "profiles": _profile_sections(),
        "software": environment.versions(environment.ARITHMETIC_PACKAGES + OUTPUT_PACKAGES),
        "python": sys.version,
        "variables": {name: kernel_env.get(name) for name in KERNEL_VARIABLES},
        "processor": environment.processor(),
        "devices": sorted(path.name for path in Path("/dev").glob("nvidia[0-9]*")),
        "data": _data_files(Path(book_dir)),
    }


def _code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"
            and "injected-parameters" not in cell.get("metadata", {}).get("tags", [])]


def execution_key(notebook: nbformat.NotebookNode, *, chapter: str, profile: str, environment: Mapping) -> str:
    """The sha256 that names a chapter's executed notebook.

    Parameters
    ----------
    notebook : NotebookNode
        The chapter's source notebook.
    chapter : str
        Its name (the section of ``profiles.yml`` it reads, by the book's convention).
    profile : str
        The profile injected into it.
    environment : mapping
        :func:`execution_environment`.

    Its ``profiles.yml`` part is the section named like the chapter and any
    other section whose name the code quotes; a chapter that names none gets
    the whole file.

    Examples
    --------
    >>> import nbformat
    >>> notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title"),
    ...                                            nbformat.v4.new_code_cell("x = 1")])
    >>> env = {"profiles": {}, "package": "abc"}
    >>> key = execution_key(notebook, chapter="demo", profile="quick", environment=env)
    >>> notebook.cells[0].source = "# Another title"
    >>> execution_key(notebook, chapter="demo", profile="quick", environment=env) == key
    True
    >>> notebook.cells[1].source = "x = 2"
    >>> execution_key(notebook, chapter="demo", profile="quick", environment=env) == key
    False
    """
    cells = _code_cells(notebook)
    code = [[cell.source, sorted(EXECUTION_TAGS.intersection(cell.get("metadata", {}).get("tags", [])))]
            for cell in cells]
    text = "\n".join(cell.source for cell in cells)
    sections = dict(environment.get("profiles") or {})
    used = {name: value.get(profile) if isinstance(value, Mapping) else value for name, value in sections.items()
            if name == chapter or f'"{name}"' in text or f"'{name}'" in text}
    described = {
        "format": _FORMAT,
        "code": code,
        "kernel": notebook.get("metadata", {}).get("kernelspec", {}).get("name"),
        "profile": profile,
        "profiles": used if used else sections,
        "environment": {name: value for name, value in environment.items() if name != "profiles"},
    }
    text = json.dumps(described, sort_keys=True, separators=(",", ":"), default=str)
    return _sha256(text.encode("utf-8"))


def merge_prose(executed: nbformat.NotebookNode, source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The source notebook with the outputs of an execution of the same code.

    Markdown and raw cells, cell metadata (tags, captions) and the notebook's
    own metadata come from ``source``; outputs, execution counts, papermill's
    injected parameters cell and the kernel's metadata from ``executed``.

    Raises
    ------
    ValueError
        When the two do not have the same code cells.

    Examples
    --------
    >>> import nbformat
    >>> source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("New text."),
    ...                                          nbformat.v4.new_code_cell("print(1)")])
    >>> executed = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Old text."),
    ...     nbformat.v4.new_code_cell("print(1)", execution_count=1,
    ...                               outputs=[nbformat.v4.new_output("stream", text="1\\n")])])
    >>> merged = merge_prose(executed, source)
    >>> merged.cells[0].source, merged.cells[1].outputs[0].text
    ('New text.', '1\\n')
    """
    executed_code = _code_cells(executed)
    source_code = [cell for cell in source.cells if cell.cell_type == "code"]
    if [cell.source for cell in executed_code] != [cell.source for cell in source_code]:
        raise ValueError("the executed notebook does not have the source notebook's code cells")
    injected_at = None  # the injected cell follows this many code cells of the source
    seen = 0
    for cell in executed.cells:
        if cell.cell_type != "code":
            continue
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            injected_at = seen
            injected = copy.deepcopy(cell)
        else:
            seen += 1
    merged = copy.deepcopy(source)
    for name in ("kernelspec", "language_info", "papermill"):
        if name in executed.metadata:
            merged.metadata[name] = copy.deepcopy(executed.metadata[name])
    cells = []
    if injected_at == 0:
        cells.append(injected)
    code_index = 0
    for cell in merged.cells:
        if cell.cell_type == "code":
            done = executed_code[code_index]
            code_index += 1
            metadata = {name: copy.deepcopy(done.metadata[name]) for name in ("papermill", "execution")
                        if name in done.get("metadata", {})}
            metadata.update(cell.metadata)
            cell.metadata = nbformat.from_dict(metadata)
            cell.outputs = copy.deepcopy(done.get("outputs", []))
            cell.execution_count = done.get("execution_count")
            cells.append(cell)
            if injected_at is not None and injected_at == code_index:
                cells.append(injected)
        else:
            cells.append(cell)
    merged.cells = cells
    return merged


@dataclass(frozen=True)
class CachedExecution:
    """A stored execution: the executed notebook, its time and when it ran."""

    notebook: nbformat.NotebookNode
    seconds: float
    executed_at: str  # ISO 8601, UTC
    chapter: str
    profile: str


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:8]}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class NotebookCache:
    """Executed notebooks on disk, keyed by :func:`execution_key`.

    Parameters
    ----------
    directory : str or Path
        Where entries live (default :func:`default_notebook_cache_dir`); created on the first write.

    Examples
    --------
    >>> import tempfile, nbformat
    >>> store = NotebookCache(tempfile.mkdtemp())
    >>> notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    >>> store.put("ab" * 32, nbformat.writes(notebook), seconds=2.5, chapter="demo", profile="quick")
    >>> entry = store.get("ab" * 32)
    >>> entry.seconds, entry.notebook.cells[0].source
    (2.5, '1 + 1')
    >>> store.get("cd" * 32) is None
    True
    """

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory) if directory is not None else default_notebook_cache_dir()

    def path(self, key: str) -> Path:
        """The file of entry ``key``."""
        if not isinstance(key, str) or len(key) < 8 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"notebook cache keys are lowercase hex digests, got {key!r}")
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedExecution | None:
        """The execution stored under ``key``, or ``None`` when missing or damaged (then removed)."""
        path = self.path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            if entry.get("format") != _FORMAT or entry.get("key") != key:
                raise ValueError("wrong format or key")
            text = entry["notebook"]
            if entry.get("sha256") != _sha256(text.encode("utf-8")):
                raise ValueError("checksum mismatch")
            return CachedExecution(notebook=nbformat.reads(text, as_version=4), seconds=float(entry["seconds"]),
                                   executed_at=str(entry["executed_at"]), chapter=str(entry["chapter"]),
                                   profile=str(entry["profile"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            path.unlink(missing_ok=True)  # damaged: drop it, the build executes the chapter again
            return None

    def put(self, key: str, notebook_text: str, *, seconds: float, chapter: str, profile: str,
            executed_at: str | None = None) -> None:
        """Store a successful execution under ``key``, atomically."""
        if not isinstance(notebook_text, str):
            raise TypeError(f"notebook_text must be the notebook's JSON text, got {type(notebook_text).__name__}")
        executed_at = executed_at or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        entry = {
            "format": _FORMAT,
            "key": key,
            "chapter": chapter,
            "profile": profile,
            "seconds": float(seconds),
            "executed_at": executed_at,
            "sha256": _sha256(notebook_text.encode("utf-8")),
            "notebook": notebook_text,
        }
        _write_atomically(self.path(key), json.dumps(entry).encode("utf-8"))

    def _times_path(self) -> Path:
        return self.directory / "last-execution-times"  # JSON; no .json suffix: not an entry

    def last_times(self, profile: str) -> dict[str, float]:
        """The last execution time of every chapter executed in ``profile`` (seconds, by chapter path)."""
        try:
            times = json.loads(self._times_path().read_text(encoding="utf-8")).get(profile, {})
            return {str(name): float(value) for name, value in times.items()}
        except (OSError, ValueError, AttributeError, TypeError):
            return {}

    def record_times(self, profile: str, seconds: Mapping[str, float]) -> None:
        """Remember these execution times (read, update and replace the file under a lock)."""
        if not seconds:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with _locked(self.directory / ".times.lock"):
            try:
                times = json.loads(self._times_path().read_text(encoding="utf-8"))
                if not isinstance(times, dict):
                    raise ValueError("not a mapping")
            except (OSError, ValueError):
                times = {}
            section = times.setdefault(profile, {})
            section.update({str(name): round(float(value), 3) for name, value in seconds.items()})
            _write_atomically(self._times_path(), json.dumps(times, sort_keys=True, indent=1).encode("utf-8"))

    def _entry_files(self) -> Iterable[Path]:
        return self.directory.glob("*/*.json") if self.directory.exists() else []

    def entries(self) -> int:
        """The number of stored executions."""
        return sum(1 for _ in self._entry_files())

    def size(self) -> int:
        """The bytes the entries take on disk."""
        return sum(path.stat().st_size for path in self._entry_files())

    def clear(self) -> None:
        """Remove every entry, the recorded times and leftover temporary files."""
        if not self.directory.exists():
            return
        for path in [*self._entry_files(), *self.directory.glob("*/.*.tmp"), *self.directory.glob(".*.tmp"),
                     self._times_path()]:
            path.unlink(missing_ok=True)
        for folder in self.directory.iterdir():
            if folder.is_dir():
                with contextlib.suppress(OSError):
                    folder.rmdir()


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive advisory lock on ``path`` (a no-op where ``fcntl`` is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
