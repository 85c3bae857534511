"""Project rules that can be checked without executing anything."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement

from lrnotes.chapters import chapters, toc_documents

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def _requirements(strings):
    parsed = {}
    for text in strings:
        requirement = Requirement(text)
        parsed[requirement.name.lower()] = str(requirement.specifier)
    return parsed


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _requirements(project["dependencies"] + project["optional-dependencies"]["test"])
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    listed = _requirements(entry for entry in pip_section if not entry.startswith("-e"))
    assert listed == declared
    assert "python=3.11" in environment["dependencies"]


def test_table_of_contents_and_book_folder_agree():
    documents = toc_documents(ROOT)
    for document in documents:
        assert any((ROOT / f"{document}{suffix}").is_file() for suffix in (".ipynb", ".md")), document
    listed = {f"{chapter.path}" for chapter in chapters(ROOT)}
    on_disk = {f"book/{path.name}" for path in NOTEBOOKS}
    assert listed == on_disk


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_follows_the_book_rules(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    # committed without outputs
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    # a title, then a parameters cell validated by the very next code cell
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    tagged = [index for index, cell in enumerate(code) if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    parameters = code[tagged[0]]
    assert re.search(r'^profile = "full"', parameters.source, re.M)
    assert "ln.choose(" in code[tagged[0] + 1].source, "the cell after the parameters must validate them"
    # one imports cell, at the top
    importing = [index for index, cell in enumerate(code)
                 if any(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.walk(ast.parse(cell.source)))]
    assert importing == [0], f"imports belong in the first code cell only (found in code cells {importing})"
    for cell in code:
        assert not re.search(r"^\s*def\s+fit\w*\(", cell.source, re.M), "chapters never define a fit function"
        assert not re.search(r"\blr\s*=\s*[0-9.]", cell.source), "Keras 2 'lr=' spelling"
        if "plt.show()" in cell.source:
            figure = cell.metadata.get("mystnb", {}).get("figure", {})
            assert figure.get("name", "").startswith("fig-") and len(figure.get("caption", "")) > 20, cell.source


def test_figure_names_are_unique_across_the_book():
    names = []
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            name = cell.metadata.get("mystnb", {}).get("figure", {}).get("name")
            if name:
                names.append(name)
    assert len(names) == len(set(names)), sorted(name for name in names if names.count(name) > 1)


def test_vendored_data_ships_with_its_licence_and_checksum():
    readme = (ROOT / "lrnotes" / "datasets" / "README.md").read_text()
    assert "CC BY 4.0" in readme and "10.24432/C5W01B" in readme
    from lrnotes.data import IONOSPHERE_SHA256

    assert IONOSPHERE_SHA256 in readme


def _python(code: str) -> str:
    """Run ``code`` in a fresh interpreter at the repository root; return what it printed."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_command_line_and_the_sphinx_extension_start_without_tensorflow():
    code = (
        "import sys\n"
        "import lrnotes.cli, lrnotes.sphinxext\n"
        "from lrnotes.cli import main\n"
        "assert main(['list']) == 0\n"
        "print('TENSORFLOW', 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    printed = _python(code)
    assert "TENSORFLOW False False" in printed
    assert "learning_rate" in printed  # it did list the chapters


def test_the_package_is_one_import_that_loads_what_is_used():
    code = (
        "import sys\n"
        "import lrnotes as ln\n"
        "assert 'tensorflow' not in sys.modules\n"
        "names = set(ln.__all__)\n"
        "assert {'RunConfig', 'sweep', 'train', 'difference', 'plot_runs', 'record'} <= names\n"
        "for name in sorted(names - {'__version__'}):\n"
        "    getattr(ln, name)\n"
        "print('LOADED', 'tensorflow' in sys.modules)\n"
    )
    assert "LOADED True" in _python(code)


def test_every_public_function_has_a_numpydoc_docstring_with_an_example():
    import inspect

    import lrnotes as ln

    missing = []
    for name in ln.__all__:
        value = getattr(ln, name)
        if not (inspect.isfunction(value) or inspect.isclass(value)):
            continue
        doc = inspect.getdoc(value) or ""
        if ">>>" not in doc:
            missing.append(name)
    assert not missing, f"public names without a runnable example: {missing}"


def test_no_module_imports_another_modules_private_name():
    import ast

    offenders = []
    for path in sorted((ROOT / "lrnotes").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lrnotes"):
                offenders += [f"{path.name}: {alias.name}" for alias in node.names
                              if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert not offenders, offenders


def test_modules_stay_small():
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in (ROOT / "lrnotes").glob("*.py")}
    assert max(sizes.values()) <= 430, {name: size for name, size in sizes.items() if size > 400}


# --------------------------------------------------------------------------
# The reader's page (issue 12)

INSTALL_LINE = re.compile(r'get_ipython\(\)\.run_line_magic\("pip", "install --quiet git\+(?P<url>[^"]+)"\)')
#: What a visible cell may do besides ending with a displayed expression: train (through lrnotes or a
#: chapter's own run function), draw, or print what the prose reads.
TRAINS_OR_DRAWS = re.compile(r"\b(sweep|train\w*|optimizer_paths?|range_test\w*|plot_\w+)\(|plt\.|\.plot\(|"
                             r"\bax\.|\bfig\b|\bprint\(|display\(")


def _repository_url() -> str:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["url"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_first_code_cell_installs_lrnotes_where_it_is_missing_from_the_configured_repository(path):
    first = next(cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    assert 'if importlib.util.find_spec("lrnotes") is None:' in first.source
    match = INSTALL_LINE.search(first.source)
    assert match, "the first code cell must pip-install lrnotes when it is missing (for Colab)"
    assert match["url"] == _repository_url(), "the install address and _config.yml's repository.url differ"
    assert first.source.index("find_spec") < first.source.index("import lrnotes"), "install before importing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_page_shows_ideas_and_hides_plumbing(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    parameters = next(index for index, cell in enumerate(code) if "parameters" in cell.metadata.get("tags", []))
    settings = code[parameters + 1]
    assert "full=" not in settings.source and "chapter=" in settings.source, "profiles live in lrnotes/profiles.yml"
    assert settings.source.rstrip().endswith("settings"), "the settings cell shows its one line"
    # the first screen: the title and the idea in prose come before any code
    first_code = notebook.cells.index(code[0])
    prose = " ".join(cell.source for cell in notebook.cells[:first_code] if cell.cell_type == "markdown")
    assert len(prose.split()) >= 60, "the chapter's idea comes before the Setup section"
    for index, cell in enumerate(code):
        tags = set(cell.metadata.get("tags", []))
        hidden = bool(tags & {"hide-input", "remove-input", "remove-cell"})
        if "ln.record(" in cell.source:
            assert hidden, f"code cell {index} glues numbers: plumbing, hide its input"
        if hidden or index in (0, parameters, parameters + 1):
            continue
        shows = bool(TRAINS_OR_DRAWS.search(cell.source)) or isinstance(ast.parse(cell.source).body[-1], ast.Expr)
        assert shows, f"code cell {index} neither trains, draws nor displays: plumbing, hide its input\n{cell.source}"


def test_no_notebook_defines_a_helper_another_notebook_defines():
    defined: dict[str, list[str]] = {}
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                for node in ast.parse(cell.source).body:
                    if isinstance(node, ast.FunctionDef):
                        defined.setdefault(node.name, []).append(path.stem)
    shared = {name: chapters for name, chapters in defined.items() if len(chapters) > 1}
    assert not shared, f"helpers defined in several chapters belong in the package: {shared}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_first_cell_sets_lrnotes_up_before_importing_keras(path):
    # TensorFlow writes its C++ start-up notices to descriptor 2 whatever TF_CPP_MIN_LOG_LEVEL says;
    # loaded by ln.setup_notebook(), it starts with them filtered, so the page shows no stderr.
    first = next(cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code").source
    setup = first.index("ln.setup_notebook()")
    for module in ("import keras", "from keras", "import tensorflow", "from tensorflow"):
        assert module not in first[:setup], f"{module!r} comes before ln.setup_notebook()"
