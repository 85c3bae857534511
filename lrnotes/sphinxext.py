"""A small Sphinx extension for the book's HTML (loaded from ``_config.yml``).

Jupyter Book 1.x registers sphinx-thebe's inline configuration script twice,
and the second ``const THEBE_JS_URL = ...`` is a JavaScript error on every
page. This extension drops repeated script entries from each page's context,
keeping the first, so the pages load without console errors.
"""

from __future__ import annotations

from typing import Any

__all__ = ["setup", "unique_scripts"]


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


def setup(app) -> dict:
    app.connect("html-page-context", _dedupe)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
