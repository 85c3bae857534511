"""The ``lrnotes`` command: list, run and build the book's chapters.

Examples
--------
::

    lrnotes list
    lrnotes run learning_rate --profile quick
    lrnotes build --profile full
    lrnotes build --rerun    # execute every chapter, even those whose stored execution still holds
    lrnotes cache            # where the sweep and notebook caches are, and what they hold
    lrnotes cache --clear    # empty both
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lrnotes.settings import PROFILES

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lrnotes", description="Execute and build the lrnotes book.")
    parser.add_argument("--root", default=None, help="the book's repository (default: found from here)")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("list", help="list the chapters (notebooks) of the book")

    run = commands.add_parser("run", help="execute one chapter into the build folder")
    run.add_argument("chapter", help="chapter name, as printed by 'lrnotes list'")
    run.add_argument("--profile", default="quick", help=f"one of: {', '.join(PROFILES)} (default: quick)")
    run.add_argument("--build-dir", default=None, help="default: ROOT/_build")
    run.add_argument("--timeout", type=float, default=None, help="seconds allowed (default: by profile)")
    run.add_argument("--rerun", action="store_true",
                     help="execute it even if an execution of the same code, profile, package and software is stored")

    build = commands.add_parser("build", help="execute every chapter and build the HTML book")
    build.add_argument("--profile", default="full", help=f"one of: {', '.join(PROFILES)} (default: full)")
    build.add_argument("--build-dir", default=None, help="default: ROOT/_build (HTML in BUILD_DIR/html)")
    build.add_argument("--jobs", type=int, default=None, help="notebooks executed at once (default: up to 2)")
    build.add_argument("--timeout", type=float, default=None, help="seconds allowed per notebook")
    build.add_argument("--rerun", action="store_true",
                       help="execute every chapter; by default a chapter whose code cells, profile, package, "
                            "settings and software match a stored execution reuses it, with its current text")

    cache = commands.add_parser("cache", help="show where the sweep and notebook caches are and what they hold")
    cache.add_argument("--clear", action="store_true", help="remove every entry of both caches")
    return parser


def _cache_command(clear: bool) -> int:
    from lrnotes.cache import ResultCache, default_cache_dir
    from lrnotes.notebook_cache import NotebookCache

    store = ResultCache(default_cache_dir())
    notebooks = NotebookCache()
    entries, size = store.entries(), store.size()
    executions, executions_size = notebooks.entries(), notebooks.size()
    if clear:
        store.clear()
        notebooks.clear()
        print(f"removed {entries} entries ({size / 2**20:.1f} MiB) from {store.directory}")
        print(f"removed {executions} executed notebooks ({executions_size / 2**20:.1f} MiB) from {notebooks.directory}")
        return 0
    print(f"sweep cache: {store.directory}")
    print(f"  {entries} entries, {size / 2**20:.1f} MiB")
    print(f"notebook cache: {notebooks.directory}")
    print(f"  {executions} executed notebooks, {executions_size / 2**20:.1f} MiB")
    print("  (set LRNOTES_CACHE_DIR to move both; 'lrnotes cache --clear' empties both)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (0 success, 1 build failure, 2 bad usage)."""
    arguments = _parser().parse_args(argv)
    if arguments.command == "cache":
        return _cache_command(arguments.clear)
    # Import late: argument errors answer at once, without loading TensorFlow.
    from lrnotes.build import build_book
    from lrnotes.chapters import chapter_by_name, chapters, find_root
    from lrnotes.execute import BuildError

    try:
        root = find_root(arguments.root)
        if arguments.command == "list":
            for chapter in chapters(root):
                print(f"{chapter.name:28} {chapter.title}")
            return 0
        if getattr(arguments, "profile", None) not in PROFILES:
            raise ValueError(f"unknown profile {arguments.profile!r}; expected one of: {', '.join(PROFILES)}")
        if arguments.command == "run":
            chapter = chapter_by_name(arguments.chapter, root)
            build_book(root, profile=arguments.profile, build_dir=arguments.build_dir, jobs=1,
                       timeout=arguments.timeout, only=[chapter.name], html=False, rerun=arguments.rerun)
            build_dir = Path(arguments.build_dir) if arguments.build_dir else root / "_build"
            print(f"executed notebook: {build_dir / 'src' / chapter.path}")
            return 0
        report = build_book(root, profile=arguments.profile, build_dir=arguments.build_dir,
                            jobs=arguments.jobs, timeout=arguments.timeout, rerun=arguments.rerun)
        print(f"book built: {report.html / 'index.html'}")
        return 0
    except ValueError as error:
        print(f"lrnotes: error: {error}", file=sys.stderr)
        return 2
    except BuildError as error:
        print(f"lrnotes: build failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
