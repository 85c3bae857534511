"""How long does an author wait for the book? Four builds of the real book, measured side by side.

    python benchmarks/build.py                   # the quick profile, several minutes
    python benchmarks/build.py --profile full    # the published book, a quarter of an hour or more
    python benchmarks/build.py --no-rerun        # leave out the second full execution

A copy of the book (``book/``, ``_config.yml``, ``_toc.yml``) is built with
``lrnotes.build_book`` into a temporary folder, with sweep and notebook caches
of its own (``LRNOTES_CACHE_DIR``), four times:

1. cold: both caches empty, every chapter executed and every page rendered;
2. rerun: ``rerun=True`` (``lrnotes build --rerun``), every chapter executed
   again with the sweep cache warm: what a rebuild cost before the notebook cache;
3. no change: the same sources again;
4. prose only: one Markdown sentence of one chapter edited.

It prints each build's seconds (executing, rendering, total), how many
chapters it executed and reused, and the ratios to the cold build. Times on a
shared machine are noisy: compare the ratios of builds made in the same
invocation.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

import lrnotes as ln
from lrnotes.build import build_book
from lrnotes.chapters import chapters

ROOT = Path(__file__).resolve().parents[1]

#: The chapter whose prose the prose-only build edits, and the target of that build (seconds).
EDITED_CHAPTER = "learning_rate"
PROSE_TARGET = 30.0
#: The target of the cold build of the published (full) book: seconds of execution wall time.
COLD_TARGET = 150.0


def copy_book(target: Path) -> Path:
    """The book's sources (not its build or caches) copied into ``target``."""
    target.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "book", target / "book",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "_build", ".*"))
    return target


def edit_one_sentence(root: Path, chapter: str) -> None:
    """Append a sentence to the first paragraph after the title of ``chapter``."""
    path = root / "book" / f"{chapter}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    cell = next(cell for cell in notebook.cells if cell.cell_type == "markdown")
    cell.source = cell.source.rstrip() + "\n\nThis sentence was added by the build benchmark.\n"
    nbformat.write(notebook, path)


def timed_build(root: Path, build_dir: Path, profile: str, **options) -> dict:
    """One build; its seconds split into executing (incl. reuse) and the rest (mostly rendering)."""
    messages: list[str] = []
    start = time.perf_counter()
    report = build_book(root, profile=profile, build_dir=build_dir, log=messages.append, **options)
    total = time.perf_counter() - start
    return {"total": total, "executing": report.total_seconds, "rendering": total - report.total_seconds,
            "executed": len(report.executed), "reused": len(report.reused),
            "kernel": sum(report.executed.values())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=ln.PROFILES, help="default: quick")
    parser.add_argument("--no-rerun", action="store_true", help="skip build 2 (every chapter executed again)")
    arguments = parser.parse_args(argv)

    print(f"lrnotes {ln.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPU cores, "
          f"profile {arguments.profile}, {len(chapters(ROOT))} chapters, 2 notebooks at a time\n")
    rows = []
    with tempfile.TemporaryDirectory(prefix="lrnotes-build-benchmark-") as folder:
        folder = Path(folder)
        os.environ["LRNOTES_CACHE_DIR"] = str(folder / "cache")  # empty: the cold build starts from nothing
        root, build_dir = copy_book(folder / "project"), folder / "build"
        rows.append(("cold: empty caches", timed_build(root, build_dir, arguments.profile)))
        if not arguments.no_rerun:
            rows.append(("rerun: every chapter executed, sweeps cached",
                         timed_build(root, build_dir, arguments.profile, rerun=True)))
        rows.append(("no change", timed_build(root, build_dir, arguments.profile)))
        edit_one_sentence(root, EDITED_CHAPTER)
        rows.append((f"prose only: one sentence of {EDITED_CHAPTER}", timed_build(root, build_dir, arguments.profile)))

    cold = rows[0][1]["total"]
    print(f"{'build':48} {'executed':>8} {'reused':>6} {'kernel s':>9} {'executing s':>12} {'rendering s':>12} "
          f"{'total s':>8} {'/cold':>6}")
    for name, row in rows:
        print(f"{name:48} {row['executed']:8d} {row['reused']:6d} {row['kernel']:9.1f} {row['executing']:12.1f} "
              f"{row['rendering']:12.1f} {row['total']:8.1f} {row['total'] / cold:6.2f}")
    print()
    figures = dict(rows)
    no_change = figures["no change"]["total"]
    prose = rows[-1][1]["total"]
    print(f"no-change rebuild: {no_change:.1f} s, {cold / no_change:.1f}x faster than cold (target: at most "
          f"{PROSE_TARGET:.0f} s) {'OK' if no_change <= PROSE_TARGET else 'MISSED'}")
    print(f"prose-only rebuild: {prose:.1f} s, {cold / prose:.1f}x faster than cold (target: at most "
          f"{PROSE_TARGET:.0f} s) {'OK' if prose <= PROSE_TARGET else 'MISSED'}")
    executing = rows[0][1]["executing"]
    if arguments.profile == "full":
        print(f"cold build, executing the full profile: {executing:.1f} s of wall time, "
              f"{rows[0][1]['kernel']:.1f} s of kernel time (target: at most {COLD_TARGET:.0f} s of wall time) "
              f"{'OK' if executing <= COLD_TARGET else 'MISSED'}")
    if not arguments.no_rerun:
        rerun = rows[1][1]["total"]
        print(f"prose-only rebuild against executing every chapter again: {rerun / prose:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
