"""What every executed chapter shows a reader: tables without NaN, no error output.

Runs on the build of the test profile (full in CI, quick on a smoke run), so
it checks the published pages, not only their numbers.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pytest

from lrnotes.chapters import chapters

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.DOTALL)
MISSING = {"nan", "none", "<na>", "nat"}


def _tables(notebook) -> list[tuple[int, list[str]]]:
    """The cells of every HTML table in the outputs, by code-cell number."""
    found = []
    number = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        number += 1
        for output in cell.get("outputs", []):
            text = output.get("data", {}).get("text/html", "")
            if isinstance(text, list):
                text = "".join(text)
            if "<table" in text:
                found.append((number, [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
                                       for cell in CELL.findall(text)]))
    return found


@pytest.mark.parametrize("chapter", [chapter.name for chapter in chapters(ROOT)])
def test_every_table_renders_without_nan(chapter, executed):
    notebook = nbformat.read(executed(chapter), as_version=4)
    for number, cells in _tables(notebook):
        missing = [text for text in cells if text.lower() in MISSING]
        assert not missing, f"{chapter}: a table in code cell {number} shows {missing[0]!r} (write '—' and say why)"


def test_the_table_check_can_fail():
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("table")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        "text/html": "<table><tr><th>()</th><td>NaN</td></tr></table>", "text/plain": "table"})]
    notebook.cells = [cell]
    assert _tables(notebook) == [(1, ["()", "NaN"])]


@pytest.mark.parametrize("chapter", [chapter.name for chapter in chapters(ROOT)])
def test_the_install_cell_is_a_no_op_and_the_settings_show_one_line(chapter, executed):
    notebook = nbformat.read(executed(chapter), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"
            and "injected-parameters" not in cell.metadata.get("tags", [])]
    assert code[0].outputs == [], f"{chapter}: the install cell printed something in the build"
    parameters = next(index for index, cell in enumerate(code) if "parameters" in cell.metadata.get("tags", []))
    shown = [output for output in code[parameters + 1].outputs if output.get("output_type") == "execute_result"]
    assert len(shown) == 1, f"{chapter}: the settings cell should show one result"
    line = shown[0]["data"].get("text/markdown", "")
    assert line.startswith("This run: the ") and "\n" not in line.strip(), line


def test_pages_with_explorers_stay_light_and_share_one_copy_of_the_scripts(book_build):
    """Each page's own weight (its HTML with the embedded data) stays under 3 MB; Plotly is one static file."""
    from lrnotes.explore import script_files

    if book_build.html is None:
        pytest.skip("the build rendered no HTML")
    static = book_build.html / "_static"
    signatures = {name: path.read_text(encoding="utf-8")[-300:] for name, path in script_files().items()}
    for name in signatures:
        assert (static / name).is_file(), f"_static/{name} is missing"
    with_explorers = []
    for page in sorted(book_build.html.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        assert page.stat().st_size < 3_000_000, f"{page.name}: {page.stat().st_size} bytes"
        assert not any(signature in text for signature in signatures.values()), f"{page.name} carries a script inline"
        if 'class="lrnotes-explorer"' in text:
            with_explorers.append(page.name)
            scripts = re.findall(r'<script[^>]*src="\.\./_static/(?:plotly\.min|lrnotes-explore)\.js[^>]*>', text)
            assert len(scripts) == 2 and all("defer" in tag for tag in scripts), scripts
        else:
            assert "plotly.min.js" not in text, f"{page.name} loads Plotly without an explorer"
    assert len(with_explorers) >= 5, with_explorers
