"""A small Sphinx extension for the book's HTML (loaded from ``_config.yml``).

- Jupyter Book 1.x registers sphinx-thebe's inline configuration script
  twice, and the second ``const THEBE_JS_URL = ...`` is a JavaScript error on
  every page. This extension drops repeated script entries from each page's
  context, keeping the first, so the pages load without console errors.
- The interactive figures (:mod:`lrnotes.explore`) need Plotly's script and
  ``lrnotes-explore.js``. They become two static files of the book, copied
  from the installed ``plotly`` wheel and from this package, and only the
  pages that show an explorer load them: no CDN, and no copy per page.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EXPLORER_MARK", "setup", "unique_scripts"]

#: Text that marks a page with an interactive figure (the class of its container).
EXPLORER_MARK = 'class="lrnotes-explorer"'



def _script_key(script: Any) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    filename = getattr(script, "filename", script) or ""  # inline scripts: None or ""
    return (str(filename), tuple(sorted((str(k), str(v)) for k, v in attributes.items())))


def unique_scripts(scripts: list[Any]) -> list[Any]:
    """``scripts`` without repeats (same file or same inline body and attributes), in order.

    Examples
    --------
    >>> unique_scripts(["a.js", "b.js", "a.js"])
    ['a.js', 'b.js']
    >>> from sphinx.builders.html._assets import _JavaScript
    >>> len(unique_scripts([_JavaScript(None, body="const x = 1"), _JavaScript("", body="const x = 1")]))
    1
    """
    seen: set[tuple] = set()
    kept = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    return kept


def _dedupe(app, pagename, templatename, context, doctree) -> None:  # noqa: ARG001 - Sphinx's signature
    if "script_files" in context:
        context["script_files"] = unique_scripts(context["script_files"])


def _explorer_scripts(app, pagename, templatename, context, doctree) -> None:  # noqa: ARG001
    if EXPLORER_MARK in context.get("body", ""):
        from lrnotes.explore import script_files

        for name in script_files():  # deferred: the page's text is parsed and shown while Plotly loads
            app.add_js_file(name, loading_method="defer")


def _copy_explorer_scripts(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    import shutil
    from pathlib import Path

    from lrnotes.explore import script_files

    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    for name, path in script_files().items():
        shutil.copyfile(path, static / name)


def setup(app) -> dict:
    app.connect("html-page-context", _explorer_scripts, priority=400)
    app.connect("html-page-context", _dedupe)
    app.connect("build-finished", _copy_explorer_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
