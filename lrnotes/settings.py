"""Notebook parameters: the ``full`` and ``quick`` profiles, validated before any training.

Every chapter has a papermill ``parameters`` cell (``profile`` and a few
optional overrides) followed by one call of :func:`choose`, which reads the
chapter's two profiles from ``lrnotes/profiles.yml`` (one section per
chapter, out of the reader's way) and checks every value, so a bad parameter
fails at once with a message naming it. The page shows one line: what this
run uses.
"""

from __future__ import annotations

import functools
import json
import numbers
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType
from typing import Any

__all__ = ["PROFILES", "Settings", "choose"]

#: The profiles every notebook accepts.
PROFILES = ("full", "quick")


class Settings(Mapping):
    """Read-only settings with attribute access (``settings.epochs``).

    Examples
    --------
    >>> settings = choose("quick", full={"epochs": 200}, quick={"epochs": 20})
    >>> settings.epochs, settings.profile
    (20, 'quick')
    """

    def __init__(self, profile: str, values: dict[str, Any], *, chapter: str | None = None,
                 overridden: tuple[str, ...] = ()):
        object.__setattr__(self, "_values", MappingProxyType(dict(values, profile=profile)))
        object.__setattr__(self, "_chapter", chapter)
        object.__setattr__(self, "_overridden", tuple(overridden))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no setting {name!r}; settings are: {', '.join(self._values)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("settings are read-only")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{key}={value!r}" for key, value in self._values.items()) + ")"

    def summary(self) -> str:
        """One line: the profile, the seeds, what was overridden and where the rest is.

        Examples
        --------
        >>> choose("full", full={"seeds": [0, 1, 2], "epochs": 200}, quick={"seeds": [0], "epochs": 5},
        ...        epochs=50).summary()
        'This run: the full profile, 3 seeds (0, 1, 2); set by its parameters: epochs = 50.'
        """
        profile = self._values["profile"]
        parts = [f"This run: the {profile} profile"]
        seeds = self._values.get("seeds")
        if isinstance(seeds, list):
            parts[0] += f", {len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({', '.join(map(str, seeds))})"
        if self._overridden:
            parts.append("set by its parameters: " + ", ".join(
                f"{name} = {self._values[name]!r}" for name in self._overridden))
        if self._chapter:
            parts.append(f"every setting is in section `{self._chapter}` of `lrnotes/profiles.yml`")
        return "; ".join(parts) + "."

    def _repr_markdown_(self) -> str:
        return self.summary()


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_positive_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value > 0 and value != float("inf")


def _check(name: str, value: Any) -> Any:
    """Validate one setting by its name; returns it (lists as lists)."""
    items = list(value) if isinstance(value, (list, tuple)) else None
    if name == "seeds":
        if items is None or not items or not all(_is_int(seed) and seed >= 0 for seed in items):
            raise ValueError(f"seeds must be a non-empty list of non-negative integers, got {value!r}")
        if len(set(items)) != len(items):
            raise ValueError(f"seeds must be distinct, got {value!r}")
        return [int(seed) for seed in items]
    values = items if items is not None else [value]
    if items is not None and not items:
        raise ValueError(f"{name} must not be an empty list")
    if "epoch" in name:
        if not all(_is_int(v) and v > 0 for v in values):
            raise ValueError(f"{name} must be a positive integer (or a list of them), got {value!r}")
    elif "learning_rate" in name or name.endswith("_lr") or name.endswith("_lrs") or name in ("lr", "lrs"):
        if not all(_is_positive_number(v) for v in values):
            raise ValueError(f"{name} must be a positive number (or a list of them), got {value!r}")
    elif "batch_size" in name:
        if not all(v is None or (_is_int(v) and v > 0) for v in values):
            raise ValueError(f"{name} must be a positive integer or None (or a list of them), got {value!r}")
    return items if items is not None else value


@functools.lru_cache(maxsize=1)
def chapter_profiles() -> dict[str, dict[str, dict[str, Any]]]:
    """Every chapter's ``full`` and ``quick`` settings, from ``lrnotes/profiles.yml``.

    Examples
    --------
    >>> sorted(chapter_profiles()["learning_rate"])
    ['full', 'quick']
    """
    import yaml

    text = resources.files("lrnotes").joinpath("profiles.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def choose(
    profile: str,
    *,
    chapter: str | None = None,
    full: Mapping[str, Any] | None = None,
    quick: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> Settings:
    """The settings of ``profile``, with overrides, validated.

    Parameters
    ----------
    profile : {"full", "quick"}
        ``"full"`` gives the book's settings; ``"quick"`` a smoke test that runs
        in seconds (fewer seeds, epochs and sweep points).
    chapter : str, optional
        A section of ``lrnotes/profiles.yml``, whose ``full`` and ``quick``
        settings are used (the chapters of the book pass their name).
    full, quick : mapping, optional
        The settings of each profile, given directly instead of ``chapter``;
        both must have the same names.
    **overrides
        Values that replace the profile's (``None`` keeps the profile's value),
        typically the notebook's own parameters such as ``seeds`` or ``epochs``.

    Validation, by name: ``seeds`` is a non-empty list of distinct
    non-negative integers; names containing ``epoch`` are positive integers;
    names containing ``learning_rate`` (or ending in ``_lr``) positive numbers;
    names containing ``batch_size`` positive integers or None. Lists are
    checked element by element.

    Raises
    ------
    ValueError
        For an unknown profile, an unknown override or an invalid value; the
        message names the parameter and what it accepts.

    Examples
    --------
    >>> choose("full", full={"seeds": [0, 1, 2], "epochs": 200}, quick={"seeds": [0], "epochs": 5}).seeds
    [0, 1, 2]
    >>> choose("fast", full={}, quick={})
    Traceback (most recent call last):
    ...
    ValueError: unknown profile 'fast'; expected one of: full, quick
    >>> choose("full", full={"epochs": 200}, quick={"epochs": 5}, epochs=-3)
    Traceback (most recent call last):
    ...
    ValueError: epochs must be a positive integer (or a list of them), got -3
    """
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of: {', '.join(PROFILES)}")
    if chapter is not None:
        if full is not None or quick is not None:
            raise ValueError("give either chapter or full and quick, not both")
        sections = chapter_profiles()
        if chapter not in sections:
            raise ValueError(f"unknown chapter {chapter!r}; profiles.yml has: {', '.join(sorted(sections))}")
        full, quick = sections[chapter]["full"], sections[chapter]["quick"]
    if full is None or quick is None:
        raise ValueError("give the settings: chapter (a section of profiles.yml), or full and quick")
    if set(full) != set(quick):
        raise ValueError(f"full and quick must define the same settings; they differ in {sorted(set(full) ^ set(quick))}")
    values = dict(full if profile == "full" else quick)
    for name, value in overrides.items():
        if name not in values:
            raise ValueError(f"unknown parameter {name!r}; this notebook accepts: profile, {', '.join(values)}")
        if value is not None:
            values[name] = value
    checked = {name: _check(name, value) for name, value in values.items()}
    overridden = tuple(name for name, value in overrides.items() if value is not None)
    settings = Settings(profile, checked, chapter=chapter, overridden=overridden)
    _record(settings)
    return settings


def _record(settings: Settings) -> None:
    """Inside a notebook kernel, glue the settings (hidden) for the build report."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return
    if shell is None or not hasattr(shell, "kernel"):
        return
    from myst_nb import glue

    glue("lrnotes_settings", json.dumps(dict(settings), default=str), display=False)
