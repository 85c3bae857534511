"""The build runner and the command line, on a tiny book of their own."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from lrnotes.build import BuildReport
from lrnotes.build_page import build_page
from lrnotes.chapters import chapters
from lrnotes.execute import BuildError, execute_notebook, glued_values


def _notebook(path, *sources, parameters="profile = 'full'"):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# A page\n\nText.")]
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    notebook.cells.append(cell)
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


@pytest.fixture
def tiny(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "_config.yml").write_text("title: tiny\nexecute:\n  execute_notebooks: 'off'\n")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/index\nchapters:\n  - file: book/good\n  - file: book/bad\n  - file: book/slow\n"
    )
    (tmp_path / "book" / "index.md").write_text("# Tiny\n")
    _notebook(tmp_path / "book" / "good.ipynb",
              "from myst_nb import glue\nglue('answer', 6 * 7, display=False)\nglue('mode', profile, display=False)")
    _notebook(tmp_path / "book" / "bad.ipynb", "x = 1", "y = 1 / 0", "z = 2")
    _notebook(tmp_path / "book" / "slow.ipynb", "import time\ntime.sleep(60)")
    return tmp_path


def test_chapters_follow_the_table_of_contents(tiny):
    assert [chapter.name for chapter in chapters(tiny)] == ["good", "bad", "slow"]
    assert chapters(tiny)[0].title == "A page"


def test_executed_notebook_is_tagged_and_noted(tiny, tmp_path):
    output = tmp_path / "out" / "good.ipynb"
    seconds = execute_notebook(tiny / "book" / "good.ipynb", output, profile="quick", timeout=120)
    assert seconds > 0 and glued_values(output) == {"answer": 42, "mode": "quick"}
    notebook = nbformat.read(output, as_version=4)
    injected = [cell for cell in notebook.cells if "injected-parameters" in cell.metadata.get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata["tags"]
    assert "quick** profile" in notebook.cells[1].source  # the note follows the title


def test_failing_cell_is_named_and_nothing_is_left(tiny, tmp_path):
    output = tmp_path / "out" / "bad.ipynb"
    with pytest.raises(BuildError, match=r"bad: code cell 3 \('y = 1 / 0'\) raised ZeroDivisionError"):
        execute_notebook(tiny / "book" / "bad.ipynb", output, profile="quick", timeout=120)
    assert not output.exists() and list(output.parent.iterdir()) == []


def test_timeout_stops_the_notebook_and_leaves_nothing(tiny, tmp_path):
    output = tmp_path / "out" / "slow.ipynb"
    with pytest.raises(BuildError, match="slow: did not finish within 8 s"):
        execute_notebook(tiny / "book" / "slow.ipynb", output, profile="quick", timeout=8)
    assert list(output.parent.iterdir()) == []


def test_unknown_profile_is_refused_before_anything_runs(tiny, tmp_path):
    with pytest.raises(ValueError, match="unknown profile 'fast'; expected one of: full, quick"):
        execute_notebook(tiny / "book" / "good.ipynb", tmp_path / "x.ipynb", profile="fast", timeout=10)


def test_build_page_reports_profile_seeds_and_times(tiny):
    report = BuildReport(profile="quick", seconds={"good": 1.5, "bad": 40.25}, settings={"good": {"seeds": [0, 1]}},
                         total_seconds=2.0, reused={"bad": "2026-05-01T09:30:00+00:00"})
    page = build_page(report, chapters(tiny))
    assert "`quick`" in page and "| {doc}`good` | 0, 1 | executed | 1.5 s |" in page
    assert "| {doc}`bad` | — | reused: executed 2026-05-01 09:30 UTC | 40.2 s |" in page
    assert "| {doc}`slow` | — | not executed | — |" in page
    # the totals are the sums of the rows: all, executed now, reused
    assert "all chapters:** 42 s of kernel time" in page
    assert "1 chapter executed by this build: 2 s" in page and "1 chapter reused from an earlier build: 40 s" in page
    assert "| tensorflow | 2.21" in page and "| cores |" in page


def _cli(*arguments, cwd):
    return subprocess.run([sys.executable, "-m", "lrnotes.cli", *arguments], capture_output=True, text=True, cwd=cwd)


def test_cli_lists_chapters(tiny):
    result = _cli("list", cwd=tiny)
    assert result.returncode == 0 and result.stdout.split()[:3] == ["good", "A", "page"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("run", "nope"), "unknown chapter 'nope'; expected one of: good, bad, slow"),
        (("run", "good", "--profile", "fast"), "unknown profile 'fast'; expected one of: full, quick"),
        (("build", "--profile", "medium"), "unknown profile 'medium'; expected one of: full, quick"),
    ],
)
def test_cli_rejects_unknown_names_with_the_valid_ones(tiny, arguments, message):
    result = _cli(*arguments, cwd=tiny)
    assert result.returncode == 2 and message in result.stderr


def test_cli_reports_a_failed_chapter(tiny):
    result = _cli("run", "bad", "--build-dir", str(tiny / "_build"), cwd=tiny)
    assert result.returncode == 1
    assert "bad: code cell 3" in result.stderr and "ZeroDivisionError" in result.stderr


def test_cli_outside_a_book(tmp_path):
    result = _cli("list", cwd=tmp_path)
    assert result.returncode == 2 and "no _toc.yml" in result.stderr


@pytest.mark.book
def test_every_chapter_of_the_table_of_contents_executes_without_error(book_build):
    """The smoke check of both profiles: every chapter ran to its end, no cell raised."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    expected = {chapter.name for chapter in chapters(root)}
    assert set(book_build.seconds) == expected
    for name in expected:
        notebook = nbformat.read(book_build.build_dir / "src" / "book" / f"{name}.ipynb", as_version=4)
        errors = [output for cell in notebook.cells for output in cell.get("outputs", [])
                  if output.get("output_type") == "error"]
        assert not errors, f"{name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
        assert all(cell.get("execution_count") for cell in notebook.cells if cell.cell_type == "code"
                   and cell.source.strip()), f"{name}: a code cell was not executed"
