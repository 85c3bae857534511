"""Every notebook validates its parameters right after the parameters cell, before any training.

The test runs, in this process, a notebook's imports cell, its parameters
cell, papermill-style injected values, and the cell after the parameters; the
bad value must raise a ValueError that names the parameter there.
"""

from __future__ import annotations

import ast
from pathlib import Path

import matplotlib
import nbformat
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def _run_until_validation(path: Path, **injected):
    code = [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    index = next(i for i, cell in enumerate(code) if "parameters" in cell.metadata.get("tags", []))
    namespace: dict = {"__name__": "__notebook__"}
    exec(compile(code[0].source, f"{path.stem}[imports]", "exec"), namespace)  # noqa: S102
    exec(compile(code[index].source, f"{path.stem}[parameters]", "exec"), namespace)  # noqa: S102
    namespace.update(injected)
    exec(compile(code[index + 1].source, f"{path.stem}[validation]", "exec"), namespace)  # noqa: S102
    return namespace


def _parameters(path: Path) -> set[str]:
    namespace = _run_until_validation(path)
    return {name for name in namespace if not name.startswith("_")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_unknown_profile_fails_before_training(path):
    with pytest.raises(ValueError, match="unknown profile 'medium'; expected one of: full, quick"):
        _run_until_validation(path, profile="medium")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_bad_seeds_fail_before_training(path):
    if "seeds" not in _run_until_validation(path, profile="quick"):
        pytest.skip(f"{path.stem} has no seeds parameter (deterministic)")
    with pytest.raises(ValueError, match="seeds must be"):
        _run_until_validation(path, seeds="0,1")


def _parameter_names(path: Path) -> list[str]:
    code = [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    cell = next(cell for cell in code if "parameters" in cell.metadata.get("tags", []))
    return [target.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_non_positive_epochs_and_rates_fail_before_training(path):
    numeric = [name for name in _parameter_names(path)
               if "epoch" in name or "learning_rate" in name or name.endswith("_lr")]
    if not numeric:
        pytest.skip(f"{path.stem} has no epoch or learning-rate parameter")
    for name in numeric:
        bad = 0 if "epoch" in name else -0.1
        with pytest.raises(ValueError, match=f"{name} must be a positive"):
            _run_until_validation(path, **{name: bad})


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_default_parameters_are_valid(path):
    namespace = _run_until_validation(path)
    assert namespace["settings"].profile == "full"
