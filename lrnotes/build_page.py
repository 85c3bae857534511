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
