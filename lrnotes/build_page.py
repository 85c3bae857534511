"""The page "How this book was built": profile, per-chapter times, software, machine."""

from __future__ import annotations

import datetime as _dt
import os
import platform
from typing import TYPE_CHECKING

from lrnotes.chapters import Chapter
from lrnotes.environment import processor, versions

if TYPE_CHECKING:
    from lrnotes.build import BuildReport

__all__ = ["build_page"]


#: Distributions whose versions the build page lists.
PAGE_PACKAGES = ("tensorflow", "keras", "numpy", "pandas", "scikit-learn", "matplotlib", "papermill", "jupyter-book",
                 "myst-nb", "sphinx")


def _machine() -> dict[str, str]:
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f"{pages / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        pass
    return {"system": platform.platform(), "processor": processor()["model"] or platform.machine(),
            "cores": str(os.cpu_count()), "memory": memory}


def _when(executed_at: str) -> str:
    """An ISO 8601 time as ``2026-05-01 12:00 UTC`` (as given when it does not parse)."""
    try:
        moment = _dt.datetime.fromisoformat(executed_at)
    except (TypeError, ValueError):
        return str(executed_at)
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def build_page(report: BuildReport, chapter_list: list[Chapter]) -> str:
    """The Markdown of "How this book was built".

    Every chapter's row says whether this build executed it (and in how long)
    or reused an earlier execution of the same code, profile, package and
    software (its time, and when it ran); the totals are the sums of the rows.

    Examples
    --------
    >>> from pathlib import Path
    >>> from lrnotes.build import BuildReport
    >>> from lrnotes.chapters import Chapter
    >>> report = BuildReport(profile="quick", seconds={"a": 2.0, "b": 30.0}, total_seconds=2.5,
    ...                      reused={"b": "2026-05-01T12:00:00+00:00"})
    >>> page = build_page(report, [Chapter("a", Path("book/a.ipynb"), Path(".")),
    ...                            Chapter("b", Path("book/b.ipynb"), Path("."))])
    >>> "| {doc}`b` | — | reused: executed 2026-05-01 12:00 UTC | 30.0 s |" in page
    True
    >>> "1 chapter executed by this build: 2 s of kernel time" in page
    True
    """
    executed = {name: seconds for name, seconds in report.seconds.items() if name not in report.reused}
    reused = {name: seconds for name, seconds in report.seconds.items() if name in report.reused}

    def chapters_text(count: int) -> str:
        return f"{count} chapter{'s' if count != 1 else ''}"

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
        f"- **Notebook execution, all chapters:** {sum(report.seconds.values()):.0f} s of kernel time.",
        f"  - {chapters_text(len(executed))} executed by this build: {sum(executed.values()):.0f} s of kernel "
        f"time ({report.total_seconds:.0f} s of wall time, reuse included).",
        f"  - {chapters_text(len(reused))} reused from an earlier build: {sum(reused.values()):.0f} s of kernel "
        "time when they ran. A chapter is reused when its code cells, its profile, the package, its settings",
        "    and the software are those of a stored execution; its text is always this build's.",
        "",
        "## Chapters",
        "",
        "| chapter | seeds | this build | execution time |",
        "|---|---|---|---|",
    ]
    for chapter in chapter_list:
        settings = report.settings.get(chapter.name, {})
        seeds = settings.get("seeds", "—")
        seeds_text = ", ".join(str(seed) for seed in seeds) if isinstance(seeds, list) else str(seeds)
        if chapter.name in report.reused:
            status = f"reused: executed {_when(report.reused[chapter.name])}"
        elif chapter.name in report.seconds:
            status = "executed"
        else:
            status = "not executed"
        seconds = report.seconds.get(chapter.name)
        lines.append(f"| {{doc}}`{chapter.path.with_suffix('').name}` | {seeds_text} | {status} | "
                     + (f"{seconds:.1f} s |" if seconds is not None else "— |"))
    lines += ["", "## Software", "", "| package | version |", "|---|---|"]
    lines += [f"| {name} | {version} |" for name, version in versions(PAGE_PACKAGES).items()]
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in _machine().items()]
    lines += [
        "",
        "TensorFlow runs on one CPU thread per kernel (`LRNOTES_THREADS`), with op determinism on,",
        "so the same seeds give the same numbers on the same software.",
        "",
    ]
    return "\n".join(lines)
