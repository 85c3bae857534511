"""The built book as a reader meets it, in headless Chromium.

Visits every page of the test build (full profile, or quick on a smoke run): no JavaScript console errors,
every image loaded, no traceback or stderr/warning output, math rendered; the
search finds a chapter; previous/next links walk the whole table of contents.
A screenshot of each page goes to the build's ``report`` folder.

Needs Debian's ``chromium`` (``apt-get install chromium``). Without it the
test is skipped, unless ``LRNOTES_REQUIRE_BROWSER=1`` (set by ``.ci/run``),
which makes it fail instead.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socketserver
import threading
from pathlib import Path

import pytest

from lrnotes.chapters import toc_documents

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("LRNOTES_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def site(book_build):
    if book_build.html is None:
        pytest.fail("the build rendered no HTML (LRNOTES_TEST_CHAPTERS restricts it)")
    handler = functools.partial(_QuietHandler, directory=str(book_build.html))
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", book_build
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _pages() -> list[str]:
    return [f"{document}.html" if document != "book/index" else "book/index.html" for document in toc_documents(ROOT)]


def test_every_page_loads_cleanly(site, browser):
    base, report = site
    shots = report.build_dir / "report"
    shots.mkdir(exist_ok=True)
    problems = []
    for address in ["index.html", *_pages()]:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda message, errors=errors: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
        failed: list[str] = []
        page.on("requestfailed", lambda request, failed=failed: failed.append(request.url))
        response = page.goto(f"{base}/{address}", wait_until="networkidle")
        if response is None or response.status != 200:
            problems.append(f"{address}: HTTP {response.status if response else 'no response'}")
            continue
        images = page.evaluate("Array.from(document.images).map(image => [image.src, image.naturalWidth])")
        broken = [source for source, width in images if width == 0]
        text = page.inner_text("article") if page.query_selector("article") else page.inner_text("body")
        stderr_blocks = page.evaluate("document.querySelectorAll('.stderr, .output.stderr, .cell_output .stderr').length")
        page.screenshot(path=str(shots / (address.replace("/", "_").replace(".html", ".png"))), full_page=True)
        if errors:
            problems.append(f"{address}: console errors {errors}")
        if failed:
            problems.append(f"{address}: failed requests {failed}")
        if broken:
            problems.append(f"{address}: images not loaded {broken}")
        if "Traceback (most recent call last)" in text:
            problems.append(f"{address}: a Python traceback is shown")
        if stderr_blocks:
            problems.append(f"{address}: {stderr_blocks} stderr output block(s)")
        # A warning a cell raises reaches stderr, and the build fails on stderr
        # (stderr_output: error); pages that print a caught warning on purpose
        # (the Keras 2 -> 3 demonstrations) show it as ordinary output.
        logged = page.evaluate("Array.from(document.querySelectorAll('.cell_output')).filter("
                               "o => /^(WARNING|E0000|I0000|W0000)/m.test(o.innerText)).length")
        if logged:
            problems.append(f"{address}: {logged} output(s) with TensorFlow or logging lines")
        page.close()
    assert not problems, "\n".join(problems)


def test_chapters_show_figures_math_and_reader_buttons(site, browser):
    base, _ = site
    page = browser.new_page()
    page.goto(f"{base}/book/learning_rate.html", wait_until="networkidle")
    figures = page.evaluate("document.querySelectorAll('figure img').length")
    assert figures >= 4
    captions = page.evaluate("Array.from(document.querySelectorAll('figcaption')).map(c => c.innerText)")
    assert all("Fig." in caption for caption in captions) and len(captions) == figures
    page.wait_for_selector("mjx-container", timeout=15000)  # MathJax (served with the book) rendered
    html = page.content()
    assert "binder" in html.lower() and "colab.research.google.com" in html  # launch buttons
    assert ".ipynb" in html  # download of the notebook
    assert page.title().endswith("lrnotes: learning rates and friends, in Keras")
    icon = page.evaluate("document.querySelector('link[rel=\"icon\"]').href")
    assert icon.endswith("favicon.png")
    page.goto(f"{base}/book/bibliography.html", wait_until="networkidle")
    assert "Kingma" in page.inner_text("article")
    page.close()


def test_search_finds_a_chapter_by_a_word_in_it(site, browser):
    base, _ = site
    page = browser.new_page()
    page.goto(f"{base}/search.html?q=overshoots", wait_until="networkidle")
    page.wait_for_selector("#search-results ul li a", timeout=20000)
    links = page.evaluate("Array.from(document.querySelectorAll('#search-results ul li a')).map(a => a.href)")
    assert any("learning_rate.html" in link for link in links), links
    page.close()


def test_previous_and_next_links_walk_the_table_of_contents(site, browser):
    base, _ = site
    expected = _pages()
    page = browser.new_page()
    page.goto(f"{base}/{expected[0]}", wait_until="domcontentloaded")
    visited = [expected[0]]
    while True:
        link = page.query_selector("a.right-next")
        if link is None:
            break
        page.goto(link.evaluate("element => element.href"), wait_until="domcontentloaded")
        visited.append(page.url.split(base + "/", 1)[1].split("#")[0])
        assert len(visited) <= len(expected) + 1, visited
    assert visited == expected
    backwards = [visited[-1]]
    while (link := page.query_selector("a.left-prev")) is not None:
        page.goto(link.evaluate("element => element.href"), wait_until="domcontentloaded")
        backwards.append(page.url.split(base + "/", 1)[1].split("#")[0])
        assert len(backwards) <= len(expected) + 1, backwards
    assert backwards == expected[::-1]
    page.close()


def test_build_page_describes_this_build(site, browser):
    base, report = site
    page = browser.new_page()
    page.goto(f"{base}/book/build.html", wait_until="networkidle")
    text = page.inner_text("article")
    assert f"`{report.profile}`" in page.inner_html("article") or report.profile in text
    assert "tensorflow" in text.lower() and "execution time" in text
    for name in report.seconds:
        assert f"{report.seconds[name]:.1f} s" in text
    page.close()


#: The pages with interactive figures (lrnotes.explore), and how many each shows.
EXPLORER_PAGES = {
    "book/learning_rate.html": 1,
    "book/momentum.html": 1,
    "book/batch_size.html": 1,
    "book/modern_schedules.html": 1,
    "book/optimizer_paths.html": 1,
}

#: In the page: the explorer's current key, and every drawn trace that differs from its setting's embedded data.
_DRAWN_AGAINST_EMBEDDED = """root => {
  const spec = JSON.parse(root.querySelector("script[type='application/json']").textContent);
  const key = root.getAttribute("data-key");
  const state = spec.states[key];
  const drawn = root.querySelector(".lrnotes-explorer-plot").data;
  const same = (a, b) => JSON.stringify(a === undefined ? null : a) === JSON.stringify(b === undefined ? null : b);
  const wrong = [];
  if (!state) return {key: key, wrong: ["no state for the key"], status: ""};
  if (drawn.length !== spec.figure.data.length) wrong.push(`${drawn.length} traces drawn, ${spec.figure.data.length} embedded`);
  spec.figure.data.forEach((style, t) => {
    const want = state.traces[t];
    const trace = drawn[t];
    if (want === false) { if (trace.visible !== false) wrong.push(`trace ${t} shown`); return; }
    const x = want === null ? style.x : spec.xs[want[0]];
    const y = want === null ? style.y : want[1];
    if (!same(trace.x, x) || !same(trace.y, y)) wrong.push(`trace ${t} (${style.name})`);
  });
  return {key: key, wrong: wrong, status: root.querySelector(".lrnotes-explorer-status").innerText};
}"""


def _block_network(page, base: str) -> list[str]:
    """Let the page load only from the book's own server; record every other request (and abort it)."""
    outside: list[str] = []

    def handle(route):
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    return outside


def test_explorers_follow_their_controls_offline(site, browser):
    """Every control of every explorer, moved by keyboard (sliders) or by picking (menus), redraws that setting's data."""
    base, _ = site
    problems = []
    for address, count in EXPLORER_PAGES.items():
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda message, errors=errors: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
        outside = _block_network(page, base)
        page.goto(f"{base}/{address}", wait_until="networkidle")
        roots = page.query_selector_all(".lrnotes-explorer")
        if len(roots) != count:
            problems.append(f"{address}: {len(roots)} explorers, expected {count}")
        for root in roots:
            page.wait_for_function("root => root.getAttribute('data-mounted') === '1'", arg=root, timeout=20000)
            first = root.evaluate(_DRAWN_AGAINST_EMBEDDED)
            if first["wrong"]:
                problems.append(f"{address}: at the start, drawn data differ: {first['wrong'][:5]}")
            seen = {first["key"]}
            controls = root.query_selector_all(".lrnotes-explorer-control input, .lrnotes-explorer-control select")
            if not controls:
                problems.append(f"{address}: an explorer without controls")
            for control in controls:
                label = root.evaluate("(root, id) => (root.querySelector(`label[for='${id}']`) || {}).innerText || ''",
                                      control.get_attribute("id"))
                if not label.strip():
                    problems.append(f"{address}: control {control.get_attribute('id')} has no label")
                control.focus()
                if not control.evaluate("element => document.activeElement === element"):
                    problems.append(f"{address}: control {label!r} takes no keyboard focus")
                if control.is_disabled():
                    continue
                before = root.get_attribute("data-key")
                if control.evaluate("element => element.tagName") == "INPUT":
                    at_end = control.evaluate("element => Number(element.value) === Number(element.max)")
                    page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
                else:
                    options = control.evaluate("element => Array.from(element.options).map(o => o.value)")
                    current = control.evaluate("element => element.value")
                    control.select_option(next(value for value in options if value != current))
                after = root.evaluate(_DRAWN_AGAINST_EMBEDDED)
                if after["key"] == before:
                    problems.append(f"{address}: moving {label!r} did not change the setting ({before})")
                if after["wrong"]:
                    problems.append(f"{address}: after moving {label!r} to {after['key']}, drawn data differ: "
                                    f"{after['wrong'][:5]}")
                if not after["status"].strip():
                    problems.append(f"{address}: no status line after moving {label!r}")
                seen.add(after["key"])
            if len(seen) < 2:
                problems.append(f"{address}: the explorer never changed its setting")
        if outside:
            problems.append(f"{address}: requests outside the book {outside[:3]}")
        if errors:
            problems.append(f"{address}: console errors {errors}")
        page.close()
    assert not problems, "\n".join(problems)


def test_explorers_work_from_the_file_system(site, browser):
    """Opened as a file (file://), a page loads its scripts from the book's folder and draws its explorer."""
    _, report = site
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((report.html / "book" / "optimizer_paths.html").as_uri(), wait_until="load")
    root = page.wait_for_selector(".lrnotes-explorer[data-mounted='1']", timeout=20000)
    assert not root.evaluate(_DRAWN_AGAINST_EMBEDDED)["wrong"]
    assert not errors
    page.close()


def test_an_explorer_works_as_a_jupyterlab_output(browser):
    """Run by hand, the first explorer of a kernel carries Plotly and its script inline, and mounts as JupyterLab
    renders an HTML output: the fragment set as innerHTML, then each script re-created so that it runs."""
    import pandas as pd

    from lrnotes.run_explorer import explore_runs

    records = pd.DataFrame({"lr": [0.1] * 4 + [0.01] * 4, "seed": [0, 0, 1, 1] * 2, "epoch": [0, 1] * 4,
                            "test_accuracy": [0.3, 0.8, 0.4, 0.7, 0.3, 0.5, 0.4, 0.6]})
    fragment = explore_runs(records, "lr", metrics=["test_accuracy"], summary="test_accuracy").to_html(scripts="inline")
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    outside = _block_network(page, "http://jupyterlab.invalid")
    page.set_content("<html><body><div id='output'></div></body></html>")
    page.evaluate("""html => {
      const output = document.getElementById("output");
      output.innerHTML = html;
      output.querySelectorAll("script").forEach(old => {
        if (old.type === "application/json") return;
        const fresh = document.createElement("script");
        fresh.textContent = old.textContent;
        old.replaceWith(fresh);
      });
    }""", fragment)
    root = page.wait_for_selector(".lrnotes-explorer[data-mounted='1']", timeout=20000)
    assert not root.evaluate(_DRAWN_AGAINST_EMBEDDED)["wrong"]
    page.focus(".lrnotes-explorer-control input")
    before = root.get_attribute("data-key")
    page.keyboard.press("ArrowLeft")
    after = root.evaluate(_DRAWN_AGAINST_EMBEDDED)
    assert after["key"] != before and not after["wrong"]
    assert not errors and not outside
    page.close()
