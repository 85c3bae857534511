"""The book's chapters: the notebooks of ``_toc.yml``, in order."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

from lrnotes import validation

__all__ = ["Chapter", "chapter_by_name", "chapters", "find_root", "toc_documents"]


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
    known = {chapter.name: chapter for chapter in chapters(root)}
    return known[validation.one_of("chapter", name, known)]
