"""The search page and the widget in a real browser (Debian chromium via Playwright) against a real server."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.test_api import EGOV_FORUM, running
from thaigov_search.api.app import create_app
from thaigov_search.core.settings import Settings
from thaigov_search.search.searcher import Searcher

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[1] / "docs"
THAI_DATE = re.compile(r"^\d{1,2} (มกราคม|กุมภาพันธ์|มีนาคม|เมษายน|พฤษภาคม|มิถุนายน|กรกฎาคม|สิงหาคม|กันยายน|ตุลาคม|พฤศจิกายน|ธันวาคม) 25\d\d$")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium: apt-get install -y chromium fonts-thai-tlwg"),
]


class PortalHandler(BaseHTTPRequestHandler):
    """Another site (another origin) embedding the widget: answers every GET with ``server.html``."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = self.server.html.encode("utf-8")  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def portal() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), PortalHandler)
    server.html = ""  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def base_url(sample_index: Path, settings: Settings, embedder, portal: ThreadingHTTPServer) -> Iterator[str]:
    """The search server; it allows CORS from the portal's origin http://127.0.0.1:<portal port> only."""
    searcher = Searcher(sample_index, settings, embedder=embedder)
    origin = f"http://127.0.0.1:{portal.server_port}"
    app_settings = settings.model_copy(update={"cors_origins": [origin], "api_key": None})
    with running(create_app(sample_index, app_settings, searcher)) as url:
        portal.html = (  # type: ignore[attr-defined]
            '<!doctype html><html lang="th"><meta charset="utf-8"><title>Portal</title><h1>Portal</h1>'
            f'<div id="thaigov-search"></div><script src="{url}/widget.js" data-target="#thaigov-search" data-k="3"></script>'
        )
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@contextmanager
def page_at(browser, url: str) -> Iterator:
    """A desktop-sized Thai page opened at ``url``; any JavaScript error on it fails the test."""
    context = browser.new_context(locale="th-TH", viewport={"width": 1200, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture()
def page(browser, base_url: str):
    with page_at(browser, base_url + "/") as page:
        yield page


def screenshot(page, name: str, **options) -> None:
    """Save docs/<name> only when THAIGOV_SEARCH_SCREENSHOTS=1: an ordinary test run leaves the tree clean.

    Refresh the committed screenshots with
    ``THAIGOV_SEARCH_SCREENSHOTS=1 pytest tests/test_web_page.py tests/test_archive_page.py``."""
    if os.environ.get("THAIGOV_SEARCH_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / name), **options)


def search(page, query: str) -> None:
    page.fill("#q", query)
    page.click("#submit")
    wait_for_answer(page)


def wait_for_answer(page) -> None:
    """Until the page shows results, the empty state or an error (not 'searching')."""
    page.wait_for_function(
        "() => !document.getElementById('status').textContent.includes('กำลังค้นหา')"
        " && (document.querySelector('.result') || !document.getElementById('error').hidden"
        " || document.getElementById('status').textContent.length > 0)"
    )


def result_ids(page) -> list[str]:
    return page.eval_on_selector_all(".result", "items => items.map(i => i.dataset.id)")


def url_params(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def test_thai_query_shows_results_with_thai_dates_and_marked_snippets(page) -> None:
    search(page, "การประชุมรัฐบาลดิจิทัล")
    assert EGOV_FORUM in result_ids(page)
    hit = page.locator(f'.result[data-id="{EGOV_FORUM}"]')
    assert hit.locator("time").inner_text() == "29 สิงหาคม 2561"
    assert hit.locator("time").get_attribute("datetime") == "2018-08-29"
    assert "(2018-08-29)" in hit.locator(".meta").inner_text()
    title = hit.locator("h3 a")
    assert "eGovernment Forum 2018" in title.inner_text()
    assert title.get_attribute("href") == "http://www.thaigov.go.th/news/contents/details/15018"
    assert hit.locator(".related").inner_text() == "ข่าวที่เกี่ยวข้อง (related)"
    for date in page.locator(".result time").all_inner_texts():
        assert THAI_DATE.match(date), date
    assert page.locator(".result .snippet mark").count() > 0
    assert url_params(page)["q"] == ["การประชุมรัฐบาลดิจิทัล"]
    assert "พบ" in page.inner_text("#status")
    screenshot(page, "screenshot-search.png")


def test_english_query_finds_the_egov_forum_release(page) -> None:
    search(page, "digital government seminar 2018")
    assert EGOV_FORUM in result_ids(page)[:3]


def test_enter_submits_and_everything_is_reachable_by_keyboard(page) -> None:
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("รัฐบาลดิจิทัล")
    page.keyboard.press("Enter")
    wait_for_answer(page)
    assert page.locator(".result").count() > 0
    assert url_params(page)["q"] == ["รัฐบาลดิจิทัล"]
    focusable = page.eval_on_selector_all(".result a", "links => links.every(a => a.tabIndex >= 0 && a.href)")
    assert focusable
    assert page.locator("label[for=q]").count() == 1 and page.locator("label[for=date_from]").count() == 1


def test_date_filter_restricts_the_results(page) -> None:
    search(page, "รัฐบาล")
    before = result_ids(page)
    page.fill("#date_from", "2018-08-01")
    page.fill("#date_to", "2018-08-31")
    page.press("#q", "Enter")
    wait_for_answer(page)
    dates = page.eval_on_selector_all(".result time", "ts => ts.map(t => t.getAttribute('datetime'))")
    assert dates and all("2018-08-01" <= d <= "2018-08-31" for d in dates)
    assert result_ids(page) != before
    assert url_params(page)["date_from"] == ["2018-08-01"]
    page.go_back()  # the URL keeps the state: back shows the unfiltered results again
    wait_for_answer(page)
    assert result_ids(page) == before


def test_category_select_is_filled_from_the_index(page) -> None:
    page.wait_for_function("() => document.querySelectorAll('#category option').length > 1")
    options = page.eval_on_selector_all("#category option", "os => os.map(o => o.value)")
    assert options[0] == "" and len(options) > 1
    page.select_option("#category", options[1])
    search(page, "รัฐบาล")
    categories = set(page.locator(".result .category").all_inner_texts())
    assert categories == {options[1]}


def test_filters_that_match_nothing_show_the_empty_state(page) -> None:
    page.fill("#date_to", "1990-01-01")
    search(page, "รัฐบาล")
    assert page.locator(".result").count() == 0
    assert "ไม่พบข่าว" in page.inner_text("#status")


def test_related_link_shows_similar_releases(page) -> None:
    search(page, "digital government seminar 2018")
    page.locator(f'.result[data-id="{EGOV_FORUM}"] .related').click()
    page.wait_for_function("() => document.getElementById('status').textContent.includes('ข่าวที่เกี่ยวข้องกับ')")
    ids = result_ids(page)
    assert ids and EGOV_FORUM not in ids
    assert url_params(page)["related"] == [EGOV_FORUM]
    assert "eGovernment Forum 2018" in page.inner_text("#status")
    page.click("#back")
    wait_for_answer(page)
    assert EGOV_FORUM in result_ids(page)


def test_pagination_moves_through_the_ranking(page) -> None:
    search(page, "รัฐบาล")
    first = result_ids(page)
    assert len(first) == 10 and page.is_hidden("#prev")
    page.click("#next")
    wait_for_answer(page)
    second = result_ids(page)
    assert url_params(page)["page"] == ["2"] and second and not set(first) & set(second)
    assert page.get_attribute("#result-list", "start") == "11"
    page.click("#prev")
    wait_for_answer(page)
    assert result_ids(page) == first


def test_api_errors_are_shown_with_their_reason(page, base_url: str) -> None:
    page.goto(base_url + "/?q=" + "ก" * 1001)
    page.wait_for_selector("#error:not([hidden])")
    message = page.inner_text("#error")
    assert "422" in message and "the limit is 1000" in message
    assert page.locator(".result").count() == 0


def test_snippet_html_other_than_mark_is_neutralised(page) -> None:
    html = page.evaluate(
        """() => { const d = document.createElement('div');
        d.append(sanitizeSnippet('<img src=x onerror="window.hacked=1"><mark>ดิจิทัล</mark> &lt;b&gt; <b>bold</b><script>window.hacked=2</script>'));
        return d.innerHTML; }"""
    )
    assert html == "<mark>ดิจิทัล</mark> &lt;b&gt; bold"
    assert page.evaluate("window.hacked") is None


def test_widget_searches_from_a_configured_portal(page, portal: ThreadingHTTPServer, base_url: str) -> None:
    page.goto(f"http://127.0.0.1:{portal.server_port}/")
    page.fill("#thaigov-search input", "digital government seminar 2018")
    page.press("#thaigov-search input", "Enter")
    page.wait_for_selector("#thaigov-search ol li")
    total = httpx.get(base_url + "/search", params={"q": "digital government seminar 2018"}).json()["total"]
    assert page.locator("#thaigov-search ol li").count() == min(3, total)  # data-k="3", at most the result set
    assert "eGovernment Forum 2018" in page.inner_text("#thaigov-search ol")
    assert page.locator("#thaigov-search mark").count() > 0


def test_widget_on_a_portal_not_allowed_by_cors_reports_the_failure(page, portal: ThreadingHTTPServer) -> None:
    page.goto(f"http://localhost:{portal.server_port}/")  # same page, another origin: not in cors_origins
    page.fill("#thaigov-search input", "รัฐบาล")
    page.press("#thaigov-search input", "Enter")
    page.wait_for_selector("#thaigov-search .err")
    assert "ค้นหาไม่สำเร็จ" in page.inner_text("#thaigov-search .err")
    assert page.locator("#thaigov-search li").count() == 0
