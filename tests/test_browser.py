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
